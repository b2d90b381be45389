"""App servers side by side, interleaved: CPU per request of each, on the same load, in one run.

    .venv/bin/python bench/app_servers.py [--seconds 3] [--rounds 3] [--workers 4]

Each server runs the app with a stack instance's environment (``ops/stack.py``: trust store,
limits, metrics directory, allocator setting) on a loopback TCP port, no nginx, no TLS (``hey``
speaks TCP only). The servers run at the same time and are loaded in turn, ``rounds`` times each
(A B C A B C …), so that whatever else runs on a shared machine weighs on all of them alike; the
figure per server is the median over its rounds of its CPU time per answered request (all its
processes), next to the library's CPU time per document measured in the same rounds.

Servers: ``gunicorn`` (deploy/gunicorn.conf.py, sync workers: the default), ``uwsgi``
(deploy/uwsgi.ini's settings, HTTP on TCP), ``granian`` (WSGI, when installed: it has no per-request
time limit that replaces a stuck worker, so it is measured, not offered), and ``flask-dev``.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import statistics
import sys
import tempfile
from contextlib import ExitStack, contextmanager
from pathlib import Path

BENCH = Path(__file__).resolve().parent
sys.path.insert(0, str(BENCH))

import http_load  # noqa: E402  (first: it sets the trust configuration the app servers get)
import library  # noqa: E402

from hometax_decrypt.ops import stack  # noqa: E402


def _env(run_dir: Path, workers: int) -> tuple[stack.StackConfig, dict]:
    cfg = stack.StackConfig.from_env(
        http_load._env(
            {"HOMETAX_RUN_DIR": str(run_dir), "HOMETAX_WORKERS": str(workers), "HOMETAX_LISTEN": "127.0.0.1"}
        )
    )
    for d in (cfg.run_dir, cfg.log_dir, cfg.tmp_dir, cfg.metrics_dir):
        d.mkdir(parents=True, exist_ok=True)
    return cfg, stack._app_env(cfg, 1)


@contextmanager
def uwsgi_direct(run_dir: Path, workers: int):
    """deploy/uwsgi.ini with its HTTP socket on a TCP port instead of the Unix socket."""
    port = http_load.free_port()
    cfg, env = _env(run_dir, workers)
    env["HOMETAX_SOCKET"] = f"127.0.0.1:{port}"
    command = stack._app_command(dataclasses.replace(cfg, app_server="uwsgi"))
    with http_load._serving(command, env, cfg.log_dir / "uwsgi.log", port) as served:
        yield served


@contextmanager
def granian_direct(run_dir: Path, workers: int):
    port = http_load.free_port()
    cfg, env = _env(run_dir, workers)
    exe = Path(sys.executable).parent / "granian"
    cmd = [
        str(exe),
        "--interface",
        "wsgi",
        "--host",
        "127.0.0.1",
        "--port",
        str(port),
        "--workers",
        str(workers),
        "--blocking-threads",
        "1",
        "--no-ws",
        "hometax_decrypt.web.wsgi:app",
    ]
    with http_load._serving(cmd, env, cfg.log_dir / "granian.log", port) as served:
        yield served


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--seconds", type=float, default=3.0)
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--workers", type=int, default=4)
    ap.add_argument("--concurrency", type=int, default=8)
    ap.add_argument("--output", type=Path, default=None, help="also write the figures as JSON")
    args = ap.parse_args(argv)
    data = http_load.DOCUMENT.read_bytes()
    expected = http_load.h.extract(data)
    lib = {"cpu_ms_per_doc": []}
    per: dict[str, list[dict]] = {}
    with tempfile.TemporaryDirectory(prefix="hometax-appservers-") as tmp, ExitStack() as es:
        tmp = Path(tmp)
        body = tmp / "body.pdf"
        body.write_bytes(data)
        servers = {
            "gunicorn": es.enter_context(http_load.direct_gunicorn(tmp / "g", args.workers)),
            "uwsgi": es.enter_context(uwsgi_direct(tmp / "u", args.workers)),
        }
        if (Path(sys.executable).parent / "granian").exists():
            servers["granian"] = es.enter_context(granian_direct(tmp / "r", args.workers))
        servers["flask-dev"] = es.enter_context(http_load.flask_dev(tmp / "f"))
        for url, _pid in servers.values():
            http_load.check_answer(url, data, "application/pdf", expected)
            http_load.hey(url + http_load.ENDPOINT, body, "application/pdf", args.concurrency, 1.0)
        for _ in range(args.rounds):
            lib["cpu_ms_per_doc"].append(library.rate(library.extract_verify, data, 0.5)["cpu_ms_per_doc"])
            for name, (url, pid) in servers.items():
                r = http_load.hey(
                    url + http_load.ENDPOINT,
                    body,
                    "application/pdf",
                    args.concurrency,
                    args.seconds,
                    {name: pid},
                )
                per.setdefault(name, []).append(r)
    lib_ms = statistics.median(lib["cpu_ms_per_doc"])
    out = {
        "library_cpu_ms_per_doc": lib_ms,
        "concurrency": args.concurrency,
        "workers": args.workers,
        "seconds": args.seconds,
        "rounds": args.rounds,
        "servers": {},
    }
    print(f"library extract+verify: {lib_ms:.2f} ms CPU per document (median of {args.rounds})")
    print(
        f"{'server':10} {'cpu ms/req':>10} {'vs library':>10} {'docs/s':>8} {'p50 ms':>8} "
        f"{'p99 ms':>8}  (medians of {args.rounds} interleaved rounds; docs/s and latency are "
        f"wall clock)"
    )
    for name, runs in per.items():
        cpu = statistics.median(r["app_cpu_ms_per_request"] for r in runs)
        row = {
            "app_cpu_ms_per_request": round(cpu, 3),
            "vs_library": round(cpu / lib_ms, 2),
            "docs_per_s": statistics.median(r["docs_per_s"] for r in runs),
            "p50_ms": statistics.median(r["p50_ms"] for r in runs),
            "p99_ms": statistics.median(r["p99_ms"] for r in runs),
        }
        out["servers"][name] = row
        print(
            f"{name:10} {cpu:10.2f} {row['vs_library']:10.2f} {row['docs_per_s']:8.1f} "
            f"{row['p50_ms']:8.1f} {row['p99_ms']:8.1f}"
        )
    if args.output:
        args.output.write_text(json.dumps(out, indent=1) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
