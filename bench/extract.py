"""Documents per second for `extract`, against pypdf doing the same job, measured in one run.

    .venv/bin/python bench/extract.py [--seconds 2]

Prints a table and the ratio ours / pypdf for each document.
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

from library import pypdf_extract  # bench/ is on sys.path when this script runs

import hometax_decrypt as h

SAMPLES = Path(__file__).resolve().parents[1] / "tests" / "fixtures" / "samples"
DOCS = {
    "nts-2020/all.pdf (790 KB)": SAMPLES / "nts-2020" / "all.pdf",
    "nts-2020/basic/medical.pdf (187 KB)": SAMPLES / "nts-2020" / "basic" / "medical.pdf",
}


def ours(data: bytes) -> bytes:
    return h.extract(data)


with_pypdf = pypdf_extract  # the same job written with pypdf (bench/library.py)


def rate(fn, data: bytes, seconds: float) -> float:
    fn(data)  # warm up
    n, start = 0, time.perf_counter()
    while True:
        fn(data)
        n += 1
        elapsed = time.perf_counter() - start
        if elapsed >= seconds:
            return n / elapsed


def main() -> dict:
    ap = argparse.ArgumentParser()
    ap.add_argument("--seconds", type=float, default=2.0)
    args = ap.parse_args()
    results = {}
    print(f"{'document':40} {'ours doc/s':>12} {'pypdf doc/s':>12} {'ratio':>8}")
    for label, path in DOCS.items():
        data = path.read_bytes()
        assert ours(data) == with_pypdf(data)
        a, b = rate(ours, data, args.seconds), rate(with_pypdf, data, args.seconds)
        results[label] = {
            "ours_docs_per_s": round(a, 1),
            "pypdf_docs_per_s": round(b, 1),
            "ratio": round(a / b, 2),
        }
        print(f"{label:40} {a:12.1f} {b:12.1f} {a / b:8.2f}")
    return results


if __name__ == "__main__":
    print(json.dumps(main(), indent=2))
