"""What the hop to an app server on another host costs: nginx → Unix sockets against nginx → TCP with
mutual TLS (a new connection per request, TLS session resumed), on this one machine.

    .venv/bin/python bench/remote_hop.py [--seconds 5] [--concurrency 8]

Both set-ups run the same app servers (2 instances × 2 gunicorn workers) started by
``ops/stack.py`` (the code ``make up`` runs): ``unix`` is the ordinary stack; ``mtls`` is an "app
host" (HOMETAX_APP_LISTEN on loopback, certificates from ops/certs.py) and an "nginx host"
(HOMETAX_UPSTREAMS) on the same machine. Load: ``hey`` posting nts-2020/all.pdf, as bench/http_load.py.
It prints docs/s, p99 and CPU per request of nginx and of the app servers, and the ratio mtls/unix.
It cannot show what more hosts bring (they would share these cores): docs/deployment.md.
"""

from __future__ import annotations

import argparse
import os
import socket
import subprocess
import sys
import tempfile
from pathlib import Path

import hometax_decrypt as h

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO / "bench"))

import http_load  # noqa: E402

from hometax_decrypt.ops import stack  # noqa: E402

COMMON = {
    "HOMETAX_INSTANCES": "2",
    "HOMETAX_WORKERS": "2",
    "HOMETAX_RATE_LIMIT": "100000",
    "HOMETAX_RATE_BURST": "100000",
    "HOMETAX_LISTEN": "127.0.0.1",
    "HOMETAX_MAX_REQUESTS": "100000",
}


def two_free_ports() -> int:
    """A loopback port p such that p and p + 1 are both free now."""
    for _ in range(100):
        p = http_load.free_port()
        with socket.socket() as a, socket.socket() as b:
            try:
                a.bind(("127.0.0.1", p))
                b.bind(("127.0.0.1", p + 1))
            except OSError:
                continue
        return p
    raise SystemExit("no two consecutive free ports")


def _up(env: dict) -> stack.StackConfig:
    cfg = stack.StackConfig.from_env(http_load._env(env))
    if stack.up(cfg) != 0:
        raise SystemExit("did not start; see " + str(cfg.log_dir))
    return cfg


def measure(
    name: str,
    cfg: stack.StackConfig,
    app_cfg: stack.StackConfig,
    body: Path,
    expected: bytes,
    seconds: float,
    concurrency: int,
) -> dict:
    data = body.read_bytes()
    http_load.check_answer(cfg.https_url, data, "application/pdf", expected)
    url = cfg.https_url + http_load.ENDPOINT
    http_load.hey(url, body, "application/pdf", concurrency, min(2.0, seconds))  # warm up
    nginx_pid = int((cfg.run_dir / "nginx.pid").read_text())
    watch = {"nginx": nginx_pid, **{f"app{i}": p for i, p in stack.app_pids(app_cfg).items()}}
    r = http_load.hey(url, body, "application/pdf", concurrency, seconds, watch)
    n = sum(r["status"].values()) or 1
    app_cpu = sum(v for k, v in r["cpu_s"].items() if k.startswith("app"))
    out = {
        "name": name,
        "docs_per_s": r["docs_per_s"],
        "p99_ms": r["p99_ms"],
        "non_200": n - r["status"].get(200, 0),
        "status": r["status"],
        "nginx_ms_per_req": round(r["cpu_s"]["nginx"] / n * 1000, 2),
        "app_ms_per_req": round(app_cpu / n * 1000, 2),
    }
    print(
        f"{name:5} docs/s {out['docs_per_s']:7.1f}  p99 {out['p99_ms']:6.1f} ms  "
        f"non-200 {out['non_200']} {out['status']}  CPU per request: nginx {out['nginx_ms_per_req']} ms, "
        f"app servers {out['app_ms_per_req']} ms"
    )
    return out


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--seconds", type=float, default=5.0)
    ap.add_argument("--concurrency", type=int, default=8)
    args = ap.parse_args()
    data = http_load.DOCUMENT.read_bytes()
    expected = h.extract(data)
    with tempfile.TemporaryDirectory(prefix="hometax-hop-") as tmp:
        tmp = Path(tmp)
        os.chmod(tmp, 0o755)
        body = tmp / "body.pdf"
        body.write_bytes(data)
        # hey sends no API key: keys are off on both, as on the loopback stack (the point of
        # comparison); the app host still refuses any client without the project certificate.
        results = []
        cfg = _up(
            {
                **COMMON,
                "HOMETAX_RUN_DIR": str(tmp / "unix"),
                "HOMETAX_HTTPS_PORT": str(http_load.free_port()),
                "HOMETAX_HTTP_PORT": str(http_load.free_port()),
            }
        )
        try:
            results.append(measure("unix", cfg, cfg, body, expected, args.seconds, args.concurrency))
        finally:
            stack.down(cfg, quiet=True)

        pki = tmp / "pki"
        certs = [sys.executable, "-m", "hometax_decrypt.ops.certs"]
        subprocess.run(certs + ["ca", str(pki)], check=True, capture_output=True)
        for host in ("web", "app"):
            subprocess.run(
                certs + ["host", str(pki), host, "--ip", "127.0.0.1"], check=True, capture_output=True
            )
        port = two_free_ports()  # the second instance takes port + 1
        mtls = {"HOMETAX_MTLS_CA": str(pki / "ca.crt")}
        app = _up(
            {
                **COMMON,
                **mtls,
                "HOMETAX_API_KEYS_DISABLED": "1",
                "HOMETAX_RUN_DIR": str(tmp / "app"),
                "HOMETAX_APP_LISTEN": f"127.0.0.1:{port}",
                "HOMETAX_MTLS_CERT": str(pki / "app.crt"),
                "HOMETAX_MTLS_KEY": str(pki / "app.key"),
            }
        )
        try:
            web = _up(
                {
                    **COMMON,
                    **mtls,
                    "HOMETAX_RUN_DIR": str(tmp / "web"),
                    "HOMETAX_HTTPS_PORT": str(http_load.free_port()),
                    "HOMETAX_HTTP_PORT": str(http_load.free_port()),
                    "HOMETAX_UPSTREAMS": f"127.0.0.1:{port},127.0.0.1:{port + 1}",
                    "HOMETAX_MTLS_CERT": str(pki / "web.crt"),
                    "HOMETAX_MTLS_KEY": str(pki / "web.key"),
                }
            )
            try:
                results.append(measure("mtls", web, app, body, expected, args.seconds, args.concurrency))
            finally:
                stack.down(web, quiet=True)
        finally:
            stack.down(app, quiet=True)
    unix, remote = results
    print(
        f"ratio mtls/unix: docs/s {remote['docs_per_s'] / unix['docs_per_s']:.2f}, "
        f"nginx CPU per request {remote['nginx_ms_per_req'] / unix['nginx_ms_per_req']:.2f}, "
        f"app CPU per request {remote['app_ms_per_req'] / unix['app_ms_per_req']:.2f}"
    )


if __name__ == "__main__":
    main()
