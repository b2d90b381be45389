#!/usr/bin/env python3
"""Start, stop and inspect the hometax-decrypt stack: nginx in front of app server instances.

    python -m hometax_decrypt.ops.stack up | down | status | render   (make up / down / status)

The package in its concerns: :mod:`.config` (StackConfig from the settings), :mod:`.render` (nginx),
:mod:`.processes` (pids, probes, the app servers and supervisord), :mod:`.tls` (the certificate),
:mod:`.certs` (the project CA for app hosts); this module holds the commands.

``up`` makes a self-signed certificate unless HOMETAX_TLS_CERT/HOMETAX_TLS_KEY name one, starts
supervisord (PyPI ``supervisor``), which runs HOMETAX_INSTANCES app servers (gunicorn, uWSGI with
APP_SERVER=uwsgi, or waitress with APP_SERVER=waitress), each on its own Unix socket and none on a TCP port, and restarts one that dies, as
systemd's ``Restart=always`` does in production; then nginx with a config rendered from
deploy/nginx.conf.in, and prints the URL. Everything it writes (rendered config, sockets, pids, logs, certificate, metrics) lives under the
run directory (HOMETAX_RUN_DIR, default ``run/`` in the repository); the system nginx, /etc/nginx and
its service are never touched. ``down`` stops what ``up`` started (supervisord stops the app servers).
``render`` prints the nginx config for the current environment (for a production install).
App servers on other hosts (docs/deployment.md): on an app host, HOMETAX_APP_LISTEN makes ``up`` start
only the app servers, on TCP with TLS and required client certificates (HOMETAX_MTLS_*); on the nginx
host, HOMETAX_UPSTREAMS makes ``up`` start only nginx, balancing over those hosts with its own
client certificate.
Settings: the one settings object (src/hometax_decrypt/settings.py, docs/deployment.md).
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

from ..web.config import WebConfig
from .config import APP_SERVERS, DEPLOY, REPO, StackConfig  # noqa: F401
from .processes import (  # noqa: F401  (the public API of ops.stack)
    MALLOC_ENV,
    _alive,
    _app_command,
    _app_env,
    _nginx_user,
    _port_open,
    _read_pid,
    _supervisor_socket,
    _tail,
    app_get,
    app_pids,
    app_processes,
    children,
    start_supervisor,
    supervisor,
    tls_get,
    wait_app,
)
from .render import render_nginx
from .tls import ensure_certificate

# -- commands -------------------------------------------------------------------------------------


def _state(cfg: StackConfig) -> dict | None:
    try:
        return json.loads(cfg.state_file.read_text())
    except (OSError, ValueError):
        return None


def running(cfg: StackConfig) -> bool:
    st = _state(cfg)
    if not st:
        return False
    return _alive(_read_pid(cfg.run_dir / "nginx.pid")) or _alive(st.get("supervisord_pid"))


def up(cfg: StackConfig) -> int:
    web = WebConfig.from_env({**cfg.env, "HOMETAX_LISTEN": cfg.listen})
    try:
        web.check_startup()
    except ValueError as exc:
        print(f"refusing to start: {exc}", file=sys.stderr)
        return 2
    if running(cfg):
        print(f"already running ({cfg.run_dir}); `make down` first. {cfg.https_url}/")
        return 0
    if not Path(cfg.nginx).exists():
        print(f"nginx not found at {cfg.nginx}: run scripts/ensure-system.sh (make system)", file=sys.stderr)
        return 1
    if not (cfg.web_root / "index.html").is_file():
        print(f"no index.html in {cfg.web_root}", file=sys.stderr)
        return 1
    for p in (cfg.mtls_ca, cfg.mtls_cert, cfg.mtls_key):
        if p and not p.is_file():
            print(f"configured TLS file not found: {p}", file=sys.stderr)
            return 1
    ports = [(cfg.listen, port) for port in (cfg.https_port, cfg.http_port) if cfg.runs_nginx]
    ports += [cfg.app_address(i) for i in range(1, cfg.instances + 1) if cfg.runs_apps and cfg.app_address(i)]
    for address, port in ports:
        host = "127.0.0.1" if address in ("0.0.0.0", "*") else ("::1" if address == "::" else address)
        if _port_open(host, port):
            print(f"port {port} on {address} is already in use", file=sys.stderr)
            return 1

    user, gid = _nginx_user(cfg)
    cfg.run_dir.mkdir(parents=True, exist_ok=True)
    os.chmod(cfg.run_dir, 0o755)
    for d, mode in (
        (cfg.log_dir, 0o750),
        (cfg.tmp_dir, 0o700),
        (cfg.metrics_dir, 0o700),
        (cfg.sock_dir, 0o750),
        (cfg.run_dir / "nginx-tmp", 0o755),
    ):
        d.mkdir(parents=True, exist_ok=True)
        os.chmod(d, mode)
    if gid is not None:
        os.chown(cfg.sock_dir, 0, gid)
    if cfg.runs_apps:  # the app servers' logs: created here, mode 0640, before anyone appends
        for i in range(1, cfg.instances + 1):
            log = cfg.log_dir / f"app-{i}.log"
            os.close(os.open(log, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o640))
            os.chmod(log, 0o640)
    for f in cfg.metrics_dir.iterdir():  # counters start from zero with each start
        f.unlink()
    if cfg.runs_nginx:
        ensure_certificate(cfg)
        (cfg.run_dir / "nginx.conf").write_text(render_nginx(cfg, user))

    def where(i: int) -> str:
        a = cfg.app_address(i)
        return f"tls://{a[0]}:{a[1]}" if a else str(cfg.socket(i))

    state = {
        "app_server": cfg.app_server,
        "run_dir": str(cfg.run_dir),
        "url": cfg.https_url,
        "http_url": f"http://{cfg.https_url.split('://', 1)[1].rsplit(':', 1)[0]}:{cfg.http_port}",
        "nginx": cfg.runs_nginx,
        "upstreams": cfg.upstreams,
        "apps": [
            {"instance": i, "socket": where(i), "log": str(cfg.log_dir / f"app-{i}.log")}
            for i in range(1, cfg.instances + 1)
        ]
        if cfg.runs_apps
        else [],
    }
    try:
        for i in range(1, cfg.instances + 1):  # what a crashed run left behind
            if cfg.socket(i).exists():
                cfg.socket(i).unlink()
            pidfile = cfg.pidfile(i)
            if pidfile.exists() and not _alive(_read_pid(pidfile)):
                # gunicorn refuses to start while the pid it names exists, a zombie of the killed
                # master included ("Already running on PID …")
                pidfile.unlink()
        if cfg.runs_apps:
            state["supervisord_pid"] = start_supervisor(cfg)
        cfg.state_file.write_text(json.dumps(state, indent=1))
        for a in state["apps"]:
            wait_app(cfg, a["instance"])
        if not cfg.runs_nginx:
            print(
                f"hometax-decrypt app host is up: {cfg.instances} × {cfg.app_server} on "
                f"{', '.join(a['socket'] for a in state['apps'])} (TLS, client certificates "
                f"required), {cfg.workers} workers each; run dir {cfg.run_dir}"
            )
            return 0
        nginx_cmd = [
            cfg.nginx,
            "-p",
            str(cfg.run_dir),
            "-c",
            str(cfg.run_dir / "nginx.conf"),
            "-e",
            str(cfg.log_dir / "nginx-error.log"),
        ]
        test = subprocess.run(nginx_cmd + ["-t", "-q"], capture_output=True, text=True)
        if test.returncode != 0:
            raise RuntimeError("nginx rejected its configuration:\n" + test.stderr)
        started = subprocess.run(nginx_cmd, capture_output=True, text=True)
        if started.returncode != 0:
            raise RuntimeError(
                "nginx failed to start:\n" + started.stderr + _tail(cfg.log_dir / "nginx-error.log")
            )
        deadline = time.monotonic() + 10
        probe = "127.0.0.1" if cfg.listen in ("0.0.0.0", "*") else cfg.listen
        while not _port_open(probe.strip("[]"), cfg.https_port):
            if time.monotonic() > deadline:
                raise RuntimeError("nginx does not listen:\n" + _tail(cfg.log_dir / "nginx-error.log"))
            time.sleep(0.05)
        state["nginx_pid"] = _read_pid(cfg.run_dir / "nginx.pid")
        cfg.state_file.write_text(json.dumps(state, indent=1))
    except (RuntimeError, subprocess.CalledProcessError, OSError) as exc:
        print(f"start failed: {exc}", file=sys.stderr)
        down(cfg, quiet=True)
        return 1
    apps = (
        f"app servers on {', '.join(cfg.upstreams)} over TLS"
        if not cfg.runs_apps
        else f"{cfg.instances} × {cfg.app_server}, {cfg.workers} workers each, kept running by supervisord"
    )
    print(
        f"hometax-decrypt is up: {cfg.https_url}/  (http://…:{cfg.http_port} redirects; "
        f"{apps}; run dir {cfg.run_dir})"
    )
    return 0


def _stop(pid: int | None, sig: int, wait: float) -> None:
    if not _alive(pid):
        return
    try:
        os.kill(pid, sig)
    except ProcessLookupError:
        return
    deadline = time.monotonic() + wait
    while _alive(pid) and time.monotonic() < deadline:
        time.sleep(0.05)
    if _alive(pid):
        try:
            os.killpg(pid, signal.SIGKILL)  # started in its own session
        except (ProcessLookupError, PermissionError):
            try:
                os.kill(pid, signal.SIGKILL)
            except ProcessLookupError:
                pass


def down(cfg: StackConfig, quiet: bool = False) -> int:
    st = _state(cfg) or {"apps": []}
    nginx_pid = _read_pid(cfg.run_dir / "nginx.pid") or st.get("nginx_pid")
    _stop(nginx_pid, signal.SIGQUIT, 10)  # graceful: finish in-flight requests
    masters = list(app_pids(cfg).values())
    sup_pid = st.get("supervisord_pid") or _read_pid(cfg.run_dir / "supervisord.pid")
    # supervisord stops its programs (SIGTERM to each group, SIGKILL after stopwaitsecs), then exits
    _stop(sup_pid, signal.SIGTERM, cfg.timeout + 15)
    for pid in masters:  # anything supervisord could not stop
        _stop(pid, signal.SIGKILL, 5)
    for i in range(1, cfg.instances + 1):
        for p in (cfg.socket(i), cfg.pidfile(i)):
            if p.exists():
                p.unlink()
    for p in (cfg.state_file, cfg.run_dir / "nginx.pid", _supervisor_socket(cfg)):
        if p.exists():
            p.unlink()
    if not quiet:
        print(f"stopped ({cfg.run_dir})")
    return 0


def status(cfg: StackConfig) -> int:
    st = _state(cfg)
    if not st:
        print(f"not running (no state in {cfg.run_dir})")
        return 3
    ok = True
    if st.get("nginx", True):
        nginx_pid = _read_pid(cfg.run_dir / "nginx.pid")
        alive = _alive(nginx_pid)
        ok &= alive
        print(
            f"nginx       pid {nginx_pid}: {'running' if alive else 'NOT running'}, "
            f"workers {children(nginx_pid) if alive else []}; {st['url']}/"
        )
    for u in st.get("upstreams", []):  # app servers on other hosts: their readiness, over mTLS
        host, _, port = u.rpartition(":")
        ready = tls_get(cfg, host.strip("[]"), int(port), "/readyz")
        ok &= ready == 200
        print(f"upstream    {u}: readyz {ready}")
    if not st["apps"]:
        return 0 if ok else 1
    sup_pid = st.get("supervisord_pid")
    sup_alive = _alive(sup_pid)
    ok &= sup_alive
    print(f"supervisord pid {sup_pid}: {'running' if sup_alive else 'NOT running'}")
    procs = app_processes(cfg)
    for a in st["apps"]:
        p = procs.get(a["instance"], {})
        pid = p.get("pid") or None
        alive = p.get("statename") == "RUNNING" and _alive(pid)
        ready = app_get(cfg, a["instance"], "/readyz") if alive else None
        ok &= alive and ready == 200
        print(
            f"{st['app_server']:<11} instance {a['instance']} pid {pid}: "
            f"{'running' if alive else 'NOT running (' + p.get('statename', 'unknown') + ')'}, "
            f"workers {children(pid) if alive else []}, readyz {ready}, socket {a['socket']}"
        )
    return 0 if ok else 1


def main(argv: list[str] | None = None) -> int:
    args = sys.argv[1:] if argv is None else argv
    if len(args) != 1 or args[0] not in ("up", "down", "status", "render"):
        print(__doc__, file=sys.stderr)
        return 2
    cfg = StackConfig.from_env()
    if args[0] == "render":
        user, _ = _nginx_user(cfg)
        sys.stdout.write(render_nginx(cfg, user))
        return 0
    return {"up": up, "down": down, "status": status}[args[0]](cfg)


if __name__ == "__main__":
    sys.exit(main())
