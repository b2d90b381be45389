"""Time and peak memory of opening a hostile PDF whose catalog holds huge arrays, against a sample
(issue 22 #1): each case in a fresh process set up as every adapter sets it up (configure_process).

    .venv/bin/python bench/hostile_pdf.py [--elements 20000000] [--opens 200]

Prints one line a case (outcome, seconds, peak RSS in MiB), then the cost of opening each NTS sample
(the syntax count and the probe open included), in milliseconds.
"""

from __future__ import annotations

import argparse
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))  # tests.support.builder

import hometax_decrypt as h  # noqa: E402
from tests.support import builder  # noqa: E402

CHILD = """
import sys, time
import hometax_decrypt as h
h.configure_process()
data = open(sys.argv[1], "rb").read()
start = time.perf_counter()
try:
    h.extract(data)
    outcome = "ok"
except h.HometaxError as exc:
    outcome = exc.code
took = time.perf_counter() - start
peak = [int(line.split()[1]) for line in open("/proc/self/status") if line.startswith("VmHWM:")][0]
print(outcome, took, peak)
"""


def run_case(data: bytes) -> tuple[str, float, float]:
    with tempfile.NamedTemporaryFile(suffix=".pdf") as fh:
        fh.write(data)
        fh.flush()
        out = subprocess.run(
            [sys.executable, "-c", CHILD, fh.name], capture_output=True, text=True, timeout=600, check=True
        ).stdout.split()
    return out[0], float(out[1]), int(out[2]) / 1024


def _no_startxref(data: bytes) -> bytes:
    """qpdf rebuilds the xref of such a file, and takes the catalog from its xref stream."""
    return data[: data.rindex(b"startxref")] + b"%%EOF\n"


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--elements", type=int, default=20_000_000, help="array elements of the hostile files")
    ap.add_argument("--opens", type=int, default=200, help="opens of each sample to time")
    args = ap.parse_args()
    n = args.elements
    under = h.Limits().max_pdf_tokens - 10_000
    cases = {
        "sample nts-2020/all.pdf": (ROOT / "tests/fixtures/samples/nts-2020/all.pdf").read_bytes(),
        f"one direct array of {n:,} names": builder.huge_array_pdf(n),
        f"200 direct arrays, {n:,} names": builder.huge_array_pdf(n, arrays=200),
        f"an object stream, {n:,} names": builder.huge_array_pdf(n, object_stream=True),
        f"an object stream, {n:,} names, no startxref": _no_startxref(
            builder.huge_array_pdf(n, object_stream=True)
        ),
        f"one direct array of {under:,} names (just under the bound)": builder.huge_array_pdf(under),
    }
    print(f"{'case':<62} {'file':>10} {'outcome':<18} {'seconds':>8} {'peak MiB':>9}")
    for name, data in cases.items():
        outcome, took, peak = run_case(data)
        print(f"{name:<62} {len(data):>10,} {outcome:<18} {took:>8.3f} {peak:>9.0f}")
    print()
    print(f"{'sample':<50} {'syntax count':>12} {'open ms':>8}")
    for path in sorted((ROOT / "tests/fixtures/samples").rglob("all*.pdf")):
        data = path.read_bytes()
        password = "1234567" if "password" in path.name else None
        h.open_document(data, password).close()
        start = time.perf_counter()
        for _ in range(args.opens):
            h.open_document(data, password).close()
        ms = (time.perf_counter() - start) / args.opens * 1000
        from hometax_decrypt.document.pdf import syntax_count

        print(
            f"{path.relative_to(ROOT / 'tests/fixtures/samples')!s:<50} {syntax_count(data):>12,} {ms:>8.2f}"
        )


if __name__ == "__main__":
    main()
