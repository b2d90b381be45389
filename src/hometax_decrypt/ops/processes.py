"""The stack's processes: pids and children, probes over Unix sockets and TLS, the app servers'
environment and command, supervisord."""

from __future__ import annotations

import os
import pwd
import socket
import ssl
import subprocess
import sys
import time
from pathlib import Path

from ..settings import APP_TLS_NAME
from .config import DEPLOY, REPO, StackConfig
from .rundir import own_file, read_small, write_file

# -- helpers --------------------------------------------------------------------------------------


def _alive(pid: int | None) -> bool:
    if not pid:
        return False
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    try:  # a zombie is not alive
        with open(f"/proc/{pid}/stat") as fh:
            return fh.read().rsplit(")", 1)[1].split()[0] != "Z"
    except OSError:
        return False


def children(pid: int) -> list[int]:
    out = []
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            with open(f"/proc/{entry}/stat") as fh:
                fields = fh.read().rsplit(")", 1)[1].split()
        except OSError:
            continue
        if int(fields[1]) == pid and fields[0] != "Z":
            out.append(int(entry))
    return sorted(out)


def _read_pid(path: Path) -> int | None:
    """The pid in a pid file: a regular file, not followed if it is a symbolic link."""
    text = read_small(path)
    try:
        return int(text.strip()) if text else None
    except ValueError:
        return None


def unix_get(sock_path: Path, path: str, timeout: float = 2.0) -> int | None:
    """Status of ``GET path`` over an app server's Unix socket, or None when it does not answer."""
    try:
        with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as s:
            s.settimeout(timeout)
            s.connect(str(sock_path))
            s.sendall(f"GET {path} HTTP/1.0\r\nHost: localhost\r\n\r\n".encode())
            head = s.recv(64)
        return int(head.split()[1])
    except (OSError, ValueError, IndexError):
        return None


def tls_get(cfg: StackConfig, host: str, port: int, path: str, timeout: float = 2.0) -> int | None:
    """Status of ``GET path`` from an app server on TCP, over TLS with this host's certificate
    (checked against the project CA), or None when it does not answer."""
    try:
        context = ssl.create_default_context(cafile=str(cfg.mtls_ca))
        context.load_cert_chain(str(cfg.mtls_cert), str(cfg.mtls_key))
        with (
            socket.create_connection((host, port), timeout=timeout) as raw,
            context.wrap_socket(raw, server_hostname=APP_TLS_NAME) as s,
        ):
            s.sendall(f"GET {path} HTTP/1.0\r\nHost: {APP_TLS_NAME}\r\n\r\n".encode())
            head = s.recv(64)
        return int(head.split()[1])
    except (OSError, ValueError, IndexError):
        return None


def app_get(cfg: StackConfig, i: int, path: str) -> int | None:
    """Status of ``GET path`` from local instance ``i``, on its Unix socket or its TLS port."""
    address = cfg.app_address(i)
    if address:
        return tls_get(cfg, *address, path)
    return unix_get(cfg.socket(i), path) if cfg.socket(i).exists() else None


def _port_open(host: str, port: int) -> bool:
    try:
        with socket.create_connection((host, port), timeout=0.5):
            return True
    except OSError:
        return False


def _nginx_user(cfg: StackConfig) -> tuple[str | None, int | None]:
    """(user directive, group id for the socket directory). Not root: nginx runs as us, no directive.
    As root: nginx workers run as www-data when it can reach the web root, else as root (a dev stack
    only; documented)."""
    if os.geteuid() != 0:
        return None, None
    name = cfg.nginx_user
    if name is None:
        name = "www-data"
        try:
            pwd.getpwnam(name)
        except KeyError:
            return "root", None
        # the run directory itself is not asked: prepare_run_dir gives it the workers' group
        for start in (cfg.web_root, cfg.run_dir.parent):
            p = start
            while p != p.parent:  # every parent must let "others" through
                try:
                    if not os.stat(p).st_mode & 0o001:
                        return "root", None
                except OSError:
                    break
                p = p.parent
    if name == "root":
        return "root", None
    entry = pwd.getpwnam(name)
    return name, entry.pw_gid


def _tail(path: Path, n: int = 20) -> str:
    try:
        return "\n".join(path.read_text(errors="replace").splitlines()[-n:])
    except OSError:
        return ""


# -- app servers ----------------------------------------------------------------------------------

# glibc hands every allocation of 128 KiB and more to a fresh mmap and returns it at free: each copy
# of a 790 KB upload then page-faults ~200 pages (0.8 ms a request). Keeping such buffers in the heap
# cuts the app's CPU per request by 10-20 % (docs/performance.md); a worker then keeps up to its peak
# heap, which worker recycling (max_requests) bounds.
MALLOC_ENV = {
    "MALLOC_MMAP_THRESHOLD_": str(64 * 1024 * 1024),
    "MALLOC_TRIM_THRESHOLD_": str(128 * 1024 * 1024),
}


def _app_env(cfg: StackConfig, i: int) -> dict:
    env = dict(cfg.env)
    env.update(
        {
            "HOMETAX_INSTANCE": str(i),
            "HOMETAX_LISTEN": cfg.listen,
            "HOMETAX_BIND": (f"[{a[0]}]:{a[1]}" if ":" in a[0] else f"{a[0]}:{a[1]}")
            if (a := cfg.app_address(i))
            else f"unix:{cfg.socket(i)}",
            "HOMETAX_SOCKET": str(cfg.socket(i)),
            "HOMETAX_PIDFILE": str(cfg.pidfile(i)),
            # the app server appends its JSON lines itself; supervisord's capture of the same file
            # keeps what is printed outside the logger (a traceback at start-up)
            "HOMETAX_APP_LOG": str(cfg.log_dir / f"app-{i}.log"),
            "HOMETAX_WORKERS": str(cfg.workers),
            "HOMETAX_TIMEOUT": str(cfg.timeout),
            "HOMETAX_MAX_REQUESTS": str(cfg.max_requests),
            "HOMETAX_MAX_REQUESTS_JITTER": str(cfg.max_requests_jitter),
            "HOMETAX_MAX_REQUESTS_DELTA": str(max(1, cfg.max_requests_jitter // max(cfg.workers, 1))),
            "HOMETAX_MAX_BODY_BYTES": str(cfg.max_body_bytes),
            "PROMETHEUS_MULTIPROC_DIR": str(cfg.metrics_dir),
            # anything that still asked for a temp file would land here; the suite checks it stays empty
            "TMPDIR": str(cfg.tmp_dir),
            "PYTHONUNBUFFERED": "1",
            "PYTHONDONTWRITEBYTECODE": "1",
        }
    )
    env.update({k: v for k, v in MALLOC_ENV.items() if k not in env})
    src = str(REPO / "src")
    if src not in env.get("PYTHONPATH", "").split(os.pathsep):
        env["PYTHONPATH"] = src + (os.pathsep + env["PYTHONPATH"] if env.get("PYTHONPATH") else "")
    return env


def _app_command(cfg: StackConfig) -> list[str]:
    bindir = Path(sys.executable).parent
    if cfg.app_server == "uwsgi":
        exe = bindir / "uwsgi"
        if not exe.exists():
            raise SystemExit("uwsgi not found in the virtualenv: make install (pyuwsgi, the 'uwsgi' extra)")
        venv = str(Path(sys.prefix))
        return [str(exe), "--ini", str(DEPLOY / "uwsgi.ini"), "--virtualenv", venv]
    if cfg.app_server == "waitress":  # one process, HOMETAX_WORKERS threads (web/serve.py)
        return [sys.executable, "-m", "hometax_decrypt.web.serve"]
    exe = bindir / "gunicorn"
    cmd = [str(exe)] if exe.exists() else [sys.executable, "-m", "gunicorn"]
    return cmd + ["-c", str(DEPLOY / "gunicorn.conf.py"), "hometax_decrypt.web.wsgi:app"]


# The per-instance variables; everything else of _app_env is the same for every instance and is
# supervisord's own environment, which its programs inherit.
_PER_INSTANCE = ("HOMETAX_INSTANCE", "HOMETAX_BIND", "HOMETAX_SOCKET", "HOMETAX_PIDFILE", "HOMETAX_APP_LOG")


def _supervisor_socket(cfg: StackConfig) -> Path:
    return cfg.run_dir / "supervisor.sock"


def _conf_value(value: str) -> str:
    """A value for supervisord's INI file: it expands %(name)s, so a literal % is doubled."""
    return str(value).replace("%", "%%")


def render_supervisor(cfg: StackConfig) -> str:
    """supervisord's configuration: one program per app-server instance, restarted when it dies
    (``autorestart``), stopped with its workers (``stopasgroup``), its output in logs/app-N.log."""
    import shlex

    sock = _supervisor_socket(cfg)
    lines = [
        "[unix_http_server]",
        f"file={_conf_value(sock)}",
        "chmod=0700",
        "",
        "[supervisord]",
        f"logfile={_conf_value(cfg.log_dir / 'supervisord.log')}",
        "logfile_maxbytes=0",
        f"pidfile={_conf_value(cfg.run_dir / 'supervisord.pid')}",
        "nodaemon=true",
        "silent=true",
        f"childlogdir={_conf_value(cfg.log_dir)}",
        "",
        "[rpcinterface:supervisor]",
        "supervisor.rpcinterface_factory = supervisor.rpcinterface:make_main_rpcinterface",
        "",
        "[supervisorctl]",
        f"serverurl=unix://{_conf_value(sock)}",
        "",
    ]
    command = " ".join(shlex.quote(c) for c in _app_command(cfg))
    for i in range(1, cfg.instances + 1):
        env = _app_env(cfg, i)
        pairs = ",".join(f'{k}="{_conf_value(env[k])}"' for k in _PER_INSTANCE)
        lines += [
            f"[program:app-{i}]",
            f"command={_conf_value(command)}",
            f"directory={_conf_value(REPO)}",
            f"environment={pairs}",
            "autostart=true",
            "autorestart=true",
            "startsecs=1",
            "startretries=10",
            "stopsignal=TERM",
            f"stopwaitsecs={cfg.timeout + 5}",
            "stopasgroup=true",
            "killasgroup=true",
            "redirect_stderr=true",
            f"stdout_logfile={_conf_value(cfg.log_dir / f'app-{i}.log')}",
            "stdout_logfile_maxbytes=0",
            "",
        ]
    return "\n".join(lines)


def supervisor(cfg: StackConfig):
    """An XML-RPC client of the stack's supervisord (its Unix socket in the run directory)."""
    import xmlrpc.client

    from supervisor.xmlrpc import SupervisorTransport

    transport = SupervisorTransport(None, None, f"unix://{_supervisor_socket(cfg)}")
    return xmlrpc.client.ServerProxy("http://127.0.0.1", transport=transport)


def app_processes(cfg: StackConfig) -> dict[int, dict]:
    """instance -> supervisord's view of it ({"statename", "pid", …}); {} when it does not answer."""
    try:
        infos = supervisor(cfg).supervisor.getAllProcessInfo()
    except (OSError, Exception):  # not running, or going away
        return {}
    return {int(p["name"].split("-", 1)[1]): p for p in infos if p["name"].startswith("app-")}


def app_pids(cfg: StackConfig) -> dict[int, int]:
    """instance -> master pid of the app servers running now (a restarted one has a new pid)."""
    return {i: p["pid"] for i, p in app_processes(cfg).items() if p["statename"] == "RUNNING" and p["pid"]}


def start_supervisor(cfg: StackConfig) -> int:
    conf = cfg.run_dir / "supervisord.conf"
    write_file(conf, render_supervisor(cfg))
    env = {k: v for k, v in _app_env(cfg, 1).items() if k not in _PER_INSTANCE}
    exe = Path(sys.executable).parent / "supervisord"
    if not exe.exists():
        raise RuntimeError("supervisord not found in the virtualenv: make install (the 'stack' extra)")
    out = cfg.log_dir / "supervisord.out"
    own_file(out, 0o640)  # a regular file of ours (ops/stack.py prepare_run_dir), not a planted link
    with os.fdopen(os.open(out, os.O_WRONLY | os.O_APPEND | os.O_NOFOLLOW | os.O_CLOEXEC), "ab") as log:
        # the child keeps its own copy
        proc = subprocess.Popen(
            [str(exe), "-c", str(conf)],
            cwd=str(REPO),
            env=env,
            stdin=subprocess.DEVNULL,
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
            close_fds=True,
        )
    return proc.pid


def wait_app(
    cfg: StackConfig, i: int, timeout: float = 60, not_pid: int | None = None, fail_fast: bool = True
) -> int:
    """Wait until instance ``i`` runs (under a pid other than ``not_pid``) and answers /readyz;
    its pid. ``fail_fast`` (start-up): fail at once when it exits instead of waiting for
    supervisord to start it again."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        p = app_processes(cfg).get(i)
        if p and (p["statename"] == "FATAL" or (fail_fast and p["statename"] in ("BACKOFF", "EXITED"))):
            raise RuntimeError(
                f"app server {i} exited during start-up:\n" + _tail(cfg.log_dir / f"app-{i}.log")
            )
        if (
            p
            and p["statename"] == "RUNNING"
            and p["pid"]
            and p["pid"] != not_pid
            and app_get(cfg, i, "/readyz") == 200
        ):
            return p["pid"]
        time.sleep(0.1)
    raise RuntimeError(
        f"app server {i} not ready after {timeout:.0f}s:\n" + _tail(cfg.log_dir / f"app-{i}.log")
    )
