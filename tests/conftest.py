"""Shared fixtures: where the real NTS samples are, and the suite's own generated documents."""

from __future__ import annotations

import contextlib
import os
import sys
from pathlib import Path

import pytest

TESTS = Path(__file__).resolve().parent
ROOT = TESTS.parent
# the shared material beside the checkout; HOMETAX_SHARED names it when the checkout is elsewhere
# (a git worktree)
SHARED = Path(os.environ.get("HOMETAX_SHARED") or ROOT.parent / "shared")
SAMPLES = SHARED / "samples"
GPKI_DIR = SHARED / "reference" / "gpki"
SAMPLE_PASSWORD = "1234567"

sys.path.insert(0, str(TESTS))  # tests import builder / tsa as plain modules


# Python source that prints the process's own peak resident memory in KiB: VmHWM belongs to the
# process's memory map, which exec replaces; getrusage's ru_maxrss would carry over the peak of the
# pytest process that started it (Linux keeps it across fork and exec).
PRINT_PEAK_RSS_KIB = (
    "print([int(line.split()[1]) for line in open('/proc/self/status')"
    " if line.startswith('VmHWM:')][0])\n"
)


def sample_files() -> list[Path]:
    files = sorted(SAMPLES.rglob("*.pdf"))
    # The real samples are part of the test material; a missing ../shared is an error, not a skip.
    assert len(files) == 27, f"expected the 27 NTS samples under {SAMPLES}, found {len(files)}"
    return files


def password_for(path: Path) -> str | None:
    return SAMPLE_PASSWORD if "password" in path.name else None


@pytest.fixture(scope="session")
def all_2020() -> bytes:
    return (SAMPLES / "nts-2020" / "all.pdf").read_bytes()


@pytest.fixture(scope="session")
def all_2020_password() -> bytes:
    return (SAMPLES / "nts-2020" / "all-password-1234567.pdf").read_bytes()


@pytest.fixture(scope="session")
def bomb() -> bytes:
    import builder

    return builder.bomb_pdf(1 << 30)


# The real nginx + app server stack, shared by the stack and browser tests (tests/stack.py).
from stack import stack  # noqa: E402,F401


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
