"""Where the test material is, and small helpers over it.

The NTS sample documents (the fictional 고길동, published by the NTS for developers) and their expected
outputs are committed under ``tests/fixtures/samples`` (copied from ``shared/samples``), the public GPKI
certificates and the NTS XML definition v1.70 under ``tests/fixtures/reference``: a clone tests itself
on any machine.
"""

from __future__ import annotations

import contextlib
import os
import sys
from pathlib import Path

TESTS = Path(__file__).resolve().parents[1]
ROOT = TESTS.parent
FIXTURES = TESTS / "fixtures"
SAMPLES = FIXTURES / "samples"
REFERENCE = FIXTURES / "reference"
GPKI_DIR = REFERENCE / "gpki"
SAMPLE_PASSWORD = "1234567"
SAMPLE_COUNT = 27

# Python source that prints the process's own peak resident memory in KiB: VmHWM belongs to the
# process's memory map, which exec replaces; getrusage's ru_maxrss would carry over the peak of the
# pytest process that started it (Linux keeps it across fork and exec).
PRINT_PEAK_RSS_KIB = (
    "print([int(line.split()[1]) for line in open('/proc/self/status') if line.startswith('VmHWM:')][0])\n"
)


def sample_files() -> list[Path]:
    files = sorted(SAMPLES.rglob("*.pdf"))
    assert len(files) == SAMPLE_COUNT, (
        f"expected the {SAMPLE_COUNT} NTS samples under {SAMPLES}, found {len(files)}"
    )
    return files


def password_for(path: Path) -> str | None:
    return SAMPLE_PASSWORD if "password" in path.name else None


# -- files opened for writing (privacy: uploads and their data stay in memory) ------------------------
_WRITES: list | None = None


def _audit(event, args):
    if _WRITES is not None and event == "open" and len(args) > 1:
        mode, flags = args[1], (args[2] if len(args) > 2 else 0) or 0
        if (isinstance(mode, str) and any(c in mode for c in "wax+")) or flags & (os.O_WRONLY | os.O_RDWR):
            _WRITES.append(args[0])


sys.addaudithook(_audit)  # Python's audit hook sees every open() for writing, whichever module asks


@contextlib.contextmanager
def files_written():
    """Yields the list of paths opened for writing in this process while the block runs."""
    global _WRITES
    seen: list = []
    _WRITES = seen
    try:
        yield seen
        with open(os.devnull, "w"):  # the hook is live: this one must be seen
            pass
        assert seen and seen[-1] == os.devnull, "the audit hook saw nothing"
        seen.pop()
    finally:
        _WRITES = None
