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
from . import rundir
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
from .rundir import UnsafeDirectory
from .tls import ensure_certificate

# -- commands -------------------------------------------------------------------------------------


def _state(cfg: StackConfig) -> dict | None:
    text = rundir.read_small(cfg.state_file, 1 << 20)
    try:
        return json.loads(text) if text else None
    except ValueError:
        return None


# Inside the run directory: (name, mode). The run directory itself is 0700, or 0750 with the group
# of nginx's workers when they run as another user (they reach sock/ and nginx-tmp/ through it).
SUBDIRS = (("tmp", 0o700), ("metrics", 0o700), ("sock", 0o750), ("nginx-tmp", 0o750))
NGINX_TEMP = ("body", "proxy", "fastcgi", "uwsgi", "scgi")  # deploy/nginx.conf.in's *_temp_path
LOG_MODE = 0o640


def prepare_run_dir(cfg: StackConfig, gid: int | None = None) -> None:
    """The run directory and what is inside, made safe before anything is started (ops/rundir.py):
    the directory created by us or refused (another user's, writable by others, a symbolic link);
    its subdirectories, log files and stale sockets and pid files handled without following a
    symbolic link; the metrics of the last run removed. ``gid``: the group of nginx's workers when
    they run as another user (given the run, socket and nginx temp directories, mode 0750)."""
    rundir.secure_top_dir(cfg.run_dir, 0o750 if gid is not None else 0o700, gid)
    if cfg.log_dir.parent == cfg.run_dir:
        rundir.own_subdir(cfg.log_dir, 0o750)
    else:  # HOMETAX_LOG_DIR elsewhere: held to the same rules as the run directory
        rundir.secure_top_dir(cfg.log_dir, 0o750)
    for name, mode in SUBDIRS:
        rundir.own_subdir(cfg.run_dir / name, mode, gid if mode == 0o750 else None)
    for name in NGINX_TEMP:  # nginx (as root) makes these and gives them to its workers' user:
        rundir.remove_link(cfg.run_dir / "nginx-tmp" / name)  # never through a link
    rundir.empty_dir(cfg.metrics_dir)  # counters start from zero with each start
    # Every file a process opens by name here (supervisord's, nginx's master as root): a regular
    # file of ours, so none of them writes through a planted link.
    logs = ["supervisord.log", "supervisord.out", "nginx-access.log", "nginx-error.log"]
    logs += [f"app-{i}.log" for i in range(1, cfg.instances + 1)] if cfg.runs_apps else []
    for name in logs:
        rundir.own_file(cfg.log_dir / name, LOG_MODE)
    # what a crashed run left behind: sockets, and pid files (gunicorn refuses to start while the
    # pid it names exists, a zombie of the killed master included: "Already running on PID …")
    pidfiles = [cfg.pidfile(i) for i in range(1, cfg.instances + 1)]
    pidfiles += [cfg.run_dir / "nginx.pid", cfg.run_dir / "supervisord.pid"]
    for pidfile in pidfiles:  # a link or anything but a pid file of ours reads as no pid
        if not _alive(_read_pid(pidfile)):
            rundir.remove(pidfile)
    for i in range(1, cfg.instances + 1):
        rundir.remove(cfg.socket(i))


def _trusted(cfg: StackConfig) -> bool:
    """The run directory is ours (or missing): only then are the pids it names read, let alone
    signalled."""
    try:
        rundir.check_own_dir(cfg.run_dir)
    except FileNotFoundError:
        return True
    except UnsafeDirectory as exc:
        print(exc, file=sys.stderr)
        return False
    return True


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
    if not _trusted(cfg):
        return 1
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
    try:
        prepare_run_dir(cfg, gid)
    except (UnsafeDirectory, OSError) as exc:
        print(exc, file=sys.stderr)
        return 1
    if cfg.runs_nginx:
        ensure_certificate(cfg)
        rundir.write_file(cfg.run_dir / "nginx.conf", render_nginx(cfg, user))

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
        if cfg.runs_apps:
            state["supervisord_pid"] = start_supervisor(cfg)
        rundir.write_file(cfg.state_file, json.dumps(state, indent=1))
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
        rundir.write_file(cfg.state_file, json.dumps(state, indent=1))
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
    if not _trusted(cfg):
        return 1
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
        rundir.remove(cfg.socket(i))
        rundir.remove(cfg.pidfile(i))
    for p in (cfg.state_file, cfg.run_dir / "nginx.pid", _supervisor_socket(cfg)):
        rundir.remove(p)
    if not quiet:
        print(f"stopped ({cfg.run_dir})")
    return 0


def status(cfg: StackConfig) -> int:
    if not _trusted(cfg):
        return 1
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
