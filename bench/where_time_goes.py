"""Where the time of one document goes: cProfile of the library and of the app's request handling.

    .venv/bin/python bench/where_time_goes.py [--n 300] [--top 15]

Profiles ``extract_verified`` of nts-2020/all.pdf (what ``/api/v1/extract`` computes) and the same
request through the Flask app in process (the test client: the WSGI app without nginx, TLS or the
socket), then attributes the time to a few buckets by the module of each function, so the figures in
docs/performance.md can say what bounds them. cProfile inflates Python-level costs; the buckets'
shares, not their absolute times, are what to read.
"""

from __future__ import annotations

import argparse
import cProfile
import logging
import os
import pstats
import sys
from pathlib import Path

BENCH = Path(__file__).resolve().parent
sys.path.insert(0, str(BENCH))

import http_load  # noqa: E402  (the trust configuration the app servers get)

import hometax_decrypt as h  # noqa: E402

DOCUMENT = http_load.DOCUMENT

BUCKETS = (  # first match wins: (bucket, substring of "file:function")
    ("sha512 (hash of the signed bytes)", "HASH' objects"),
    ("sha512 (hash of the signed bytes)", "openssl_sha"),
    ("pikepdf open (qpdf parses the xref)", "_methods.py:"),
    ("pikepdf open (qpdf parses the xref)", "pikepdf"),
    ("inflate", "zlib"),
    ("asn1crypto (token parsing)", "asn1crypto"),
    ("cryptography (signature, certificates)", "cryptography"),
    ("timestamp/ (byte range, DER scan, trust)", "/timestamp/"),
    ("pdf.py", "pdf.py"),
    ("Flask / Werkzeug", "werkzeug"),
    ("Flask / Werkzeug", "flask"),
    ("hometax_decrypt.web", "/web/"),
    ("regular expressions", "re.Pattern"),
    ("regular expressions", "'re'"),
)


def bucket_of(key: tuple) -> str:
    filename, _, name = key
    text = f"{filename}:{name}"
    for bucket, needle in BUCKETS:
        if needle in text:
            return bucket
    return "other"


def buckets(stats: pstats.Stats) -> dict[str, float]:
    out: dict[str, float] = {}
    for key, (_cc, _nc, tottime, _ct, _callers) in stats.stats.items():
        b = bucket_of(key)
        out[b] = out.get(b, 0.0) + tottime
    return dict(sorted(out.items(), key=lambda kv: -kv[1]))


def profile(fn, n: int) -> pstats.Stats:
    fn()
    pr = cProfile.Profile()
    pr.enable()
    for _ in range(n):
        fn()
    pr.disable()
    return pstats.Stats(pr)


def report(title: str, stats: pstats.Stats, n: int, top: int) -> dict:
    total = sum(buckets(stats).values())
    print(f"\n{title}: {1000 * total / n:.2f} ms per document under cProfile")
    shares = {}
    for b, t in buckets(stats).items():
        shares[b] = round(100 * t / total, 1)
        print(f"  {100 * t / total:5.1f} %  {1000 * t / n:6.3f} ms  {b}")
    if top:
        other = sorted(((v[2], k) for k, v in stats.stats.items() if bucket_of(k) == "other"), reverse=True)
        print("  largest in 'other':")
        for t, (filename, line, name) in other[:top]:
            print(f"    {1000 * t / n:6.3f} ms  {Path(filename).name}:{line} {name}")
    return shares


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--n", type=int, default=300, help="documents per profile")
    ap.add_argument("--top", type=int, default=0, help="also print the top functions")
    args = ap.parse_args()
    data = DOCUMENT.read_bytes()
    report(
        "library: extract_verified(all.pdf)",
        profile(lambda: h.extract_verified(data), args.n),
        args.n,
        args.top,
    )

    os.environ.setdefault("HOMETAX_LISTEN", "127.0.0.1")
    from hometax_decrypt.web import create_app

    app = create_app()
    logging.getLogger("hometax.request").disabled = True  # one JSON line per request: not measured here
    client = app.test_client()

    def request():
        r = client.post("/api/v1/extract", data=data, headers={"Content-Type": "application/pdf"})
        assert r.status_code == 200

    report(
        "app in process: POST /api/v1/extract (Flask test client)", profile(request, args.n), args.n, args.top
    )


if __name__ == "__main__":
    main()
