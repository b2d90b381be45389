#!/usr/bin/env python3
"""Start, stop and inspect the hometax-decrypt stack: nginx in front of app server instances.

    python -m hometax_decrypt.ops.stack up | down | status | render   (make up / down / status)

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
import pwd
import shutil
import signal
import socket
import ssl
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

from ..settings import APP_TLS_NAME, Settings, tcp_address
from ..web.config import WebConfig

# The checkout this package runs from (src/hometax_decrypt/ops/ -> the repository): the nginx and
# app-server templates (deploy/) and the page (web/) are files of the checkout, not package data.
REPO = Path(__file__).resolve().parents[3]
DEPLOY = REPO / "deploy"

MiB = 1024 * 1024
APP_SERVERS = ("gunicorn", "uwsgi", "waitress")


@dataclass
class StackConfig:
    run_dir: Path
    app_server: str = "gunicorn"
    listen: str = "127.0.0.1"
    https_port: int = 8443
    http_port: int = 8080
    server_name: str = "localhost"
    tls_cert: Path | None = None
    tls_key: Path | None = None
    instances: int = 2
    workers: int = 2
    timeout: int = 30
    max_requests: int = 1000
    max_requests_jitter: int = 100
    max_body_bytes: int = 25 * MiB
    rate: int = 10
    burst: int = 20
    conn_per_client: int = 8  # API requests in nginx at once per client address
    conn_total: int = 32  # ...and in all (each may hold a body buffer: docs/deployment.md)
    body_timeout: int = 10  # seconds between two reads of a request body
    trusted_proxies: list[str] = field(default_factory=list)
    metrics_allow: list[str] = field(default_factory=lambda: ["127.0.0.1", "::1"])
    web_root: Path = REPO / "web"
    nginx: str = "/usr/sbin/nginx"
    nginx_user: str | None = None
    log_dir_setting: str | None = None
    upstreams: list[str] = field(default_factory=list)  # app servers on other hosts (host:port)
    app_listen: str = ""  # host:port of this app host's TLS listener
    mtls_ca: Path | None = None
    mtls_cert: Path | None = None
    mtls_key: Path | None = None
    env: dict = field(default_factory=dict)

    @classmethod
    def from_env(cls, env=None) -> StackConfig:
        env = dict(os.environ if env is None else env)
        st = Settings.from_env(env)
        cert, key = st.tls_cert, st.tls_key
        if bool(cert) != bool(key):
            raise SystemExit("set both HOMETAX_TLS_CERT and HOMETAX_TLS_KEY, or neither")
        server = st.app_server.strip().lower()
        if server not in APP_SERVERS:
            raise SystemExit("APP_SERVER must be one of " + ", ".join(APP_SERVERS))
        problem = st.tcp_problem()
        if problem:
            raise SystemExit(problem)
        if st.app_listen and server != "gunicorn":
            raise SystemExit(
                "HOMETAX_APP_LISTEN needs APP_SERVER=gunicorn: the uWSGI of PyPI "
                "(pyuwsgi) has no TLS (docs/deployment.md)"
            )
        return cls(
            run_dir=Path(st.run_dir or REPO / "run").resolve(),
            app_server=server,
            listen=st.listen,
            https_port=st.https_port,
            http_port=st.http_port,
            server_name=st.server_name,
            tls_cert=Path(cert).resolve() if cert else None,
            tls_key=Path(key).resolve() if key else None,
            instances=max(1, st.instances),
            workers=st.effective_workers,
            timeout=st.timeout,
            max_requests=st.max_requests,
            max_requests_jitter=st.max_requests_jitter,
            max_body_bytes=st.max_body_bytes,
            rate=st.rate_limit,
            burst=st.rate_burst,
            conn_per_client=st.conn_per_client,
            conn_total=st.conn_total,
            body_timeout=st.body_timeout,
            trusted_proxies=list(st.trusted_proxies),
            metrics_allow=list(st.metrics_allow),
            web_root=Path(st.web_root or REPO / "web").resolve(),
            nginx=st.nginx,
            nginx_user=st.nginx_user or None,
            log_dir_setting=st.log_dir,
            upstreams=list(st.upstreams),
            app_listen=st.app_listen,
            mtls_ca=Path(st.mtls_ca).resolve() if st.mtls_ca else None,
            mtls_cert=Path(st.mtls_cert).resolve() if st.mtls_cert else None,
            mtls_key=Path(st.mtls_key).resolve() if st.mtls_key else None,
            env=env,
        )

    # -- roles ------------------------------------------------------------------------------------
    @property
    def runs_apps(self) -> bool:
        """App servers here: always, except on an nginx host whose app servers are elsewhere."""
        return bool(self.app_listen) or not self.upstreams

    @property
    def runs_nginx(self) -> bool:
        """nginx here: always, except on an app host (HOMETAX_APP_LISTEN without HOMETAX_UPSTREAMS)."""
        return bool(self.upstreams) or not self.app_listen

    def app_address(self, i: int) -> tuple[str, int] | None:
        """(host, port) of instance ``i`` on TCP (an app host), None on a Unix socket."""
        return tcp_address(self.app_listen, i) if self.app_listen else None

    # -- paths ------------------------------------------------------------------------------------
    @property
    def sock_dir(self) -> Path:
        return self.run_dir / "sock"

    @property
    def log_dir(self) -> Path:
        return Path(self.log_dir_setting or self.run_dir / "logs").resolve()

    @property
    def tmp_dir(self) -> Path:
        return self.run_dir / "tmp"

    @property
    def metrics_dir(self) -> Path:
        return self.run_dir / "metrics"

    @property
    def state_file(self) -> Path:
        return self.run_dir / "stack.json"

    def socket(self, i: int) -> Path:
        return self.sock_dir / f"app-{i}.sock"

    def pidfile(self, i: int) -> Path:
        return self.run_dir / f"app-{i}.pid"

    def cert_paths(self) -> tuple[Path, Path]:
        if self.tls_cert and self.tls_key:
            return self.tls_cert, self.tls_key
        return self.run_dir / "tls" / "selfsigned.crt", self.run_dir / "tls" / "selfsigned.key"

    @property
    def https_url(self) -> str:
        host = self.listen if self.listen not in ("0.0.0.0", "::", "*") else "127.0.0.1"
        host = f"[{host}]" if ":" in host else host
        return f"https://{host}" + ("" if self.https_port == 443 else f":{self.https_port}")


# -- rendering ------------------------------------------------------------------------------------


def _listen(address: str) -> str:
    return f"[{address}]" if ":" in address and not address.startswith("[") else address


def _nginx_string(text: str) -> str:
    """``text`` inside a single-quoted nginx string (no $: nginx would read a variable)."""
    if "$" in text:
        raise ValueError("a $ in an nginx error body")
    return text.replace("\\", "\\\\").replace("'", "\\'")


def _error_pages(max_body_bytes: int) -> list[dict]:
    """nginx's own error answers, generated from the one error table (errors.py, shaped by
    web/http_errors.py): body, status (one the table gives the code) and headers (Retry-After)."""
    from hometax_decrypt import errors
    from hometax_decrypt.web import http_errors

    def page(name, e, detail, statuses=()):
        spec = errors.SPECS[e["code"]]
        if e["status"] not in spec.http_statuses:
            raise ValueError(
                f"nginx answers {e['code']} with {e['status']}, which the error table does not give it"
            )
        detail_ko = None
        if e.get("body_limit"):
            detail, detail_ko = errors.body_limit_detail(max_body_bytes)
        body = json.dumps(
            http_errors.error_body(e["code"], detail, detail_ko), ensure_ascii=False, separators=(",", ":")
        )
        return {
            "name": name,
            "statuses": statuses,
            "status": e["status"],
            "body": _nginx_string(body),
            "headers": http_errors.headers_for_code(e["code"]),
        }

    pages = []
    for e in http_errors.NGINX_ERRORS:
        pages.append(page(e["name"], e, e["detail"], e["statuses"]))
        pages += [page(name, e, d) for name, d in e.get("variants", {}).items()]
    return pages


def _allow_map() -> dict[str, str]:
    """Path -> the Allow header of a 405 nginx answers itself, from the route table (the same
    methods the app's own 405 names: Flask adds HEAD to GET, and OPTIONS)."""
    from hometax_decrypt.web import routes

    return {r.path: routes.allow(r) for r in routes.ROUTES}


def _jinja():
    import jinja2

    return jinja2.Environment(
        loader=jinja2.FileSystemLoader(str(DEPLOY)),
        trim_blocks=True,
        lstrip_blocks=True,
        keep_trailing_newline=True,
        undefined=jinja2.StrictUndefined,
        autoescape=False,
    )


def render_nginx(cfg: StackConfig, user: str | None) -> str:
    from hometax_decrypt.web.inputs import query_regex

    cert, key = cfg.cert_paths()
    env = _jinja()
    params = env.get_template("proxy_params.conf.in").render(proxy_read_timeout=cfg.timeout + 5)
    redirect_host = cfg.server_name.split()[0] if cfg.server_name.split() else "localhost"
    if redirect_host in ("_", "") or "*" in redirect_host or redirect_host.startswith("~"):
        redirect_host = cfg.https_url.split("://", 1)[1].rsplit(":", 1)[0]
    return env.get_template("nginx.conf.in").render(
        user=user,
        run_dir=cfg.run_dir,
        log_dir=cfg.log_dir,
        max_body_bytes=cfg.max_body_bytes,
        body_timeout=cfg.body_timeout,
        rate=cfg.rate,
        burst=cfg.burst,
        trusted_proxies=cfg.trusted_proxies,
        conn_per_client=cfg.conn_per_client,
        conn_total=cfg.conn_total,
        sockets=[cfg.socket(i) for i in range(1, cfg.instances + 1)],
        listen=_listen(cfg.listen),
        http_port=cfg.http_port,
        https_port=cfg.https_port,
        https_port_suffix="" if cfg.https_port == 443 else f":{cfg.https_port}",
        server_name=cfg.server_name,
        redirect_host=redirect_host,
        tls_cert=cert,
        tls_key=key,
        web_root=cfg.web_root,
        metrics_allow=cfg.metrics_allow,
        proxy_params=params.strip(),
        query_regex=query_regex(),
        error_pages=_error_pages(cfg.max_body_bytes),
        allow=_allow_map(),
        upstreams=cfg.upstreams,
        upstream_scheme="https" if cfg.upstreams else "http",
        mtls_ca=cfg.mtls_ca,
        mtls_cert=cfg.mtls_cert,
        mtls_key=cfg.mtls_key,
        app_tls_name=APP_TLS_NAME,
    )


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
    try:
        return int(path.read_text().strip())
    except (OSError, ValueError):
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
        for start in (cfg.web_root, cfg.run_dir):
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


# -- certificate ----------------------------------------------------------------------------------


def ensure_certificate(cfg: StackConfig) -> None:
    cert, key = cfg.cert_paths()
    if cfg.tls_cert:
        for p in (cert, key):
            if not p.is_file():
                raise SystemExit(f"configured TLS file not found: {p}")
        return
    if cert.is_file() and key.is_file():
        return
    cert.parent.mkdir(parents=True, exist_ok=True)
    os.chmod(cert.parent, 0o700)
    names = {"localhost", cfg.server_name}
    ips = {"127.0.0.1", "::1"}
    if cfg.listen not in ("0.0.0.0", "::", "*"):
        ips.add(cfg.listen)
    san = ",".join([f"DNS:{n}" for n in sorted(names) if n and n != "_"] + [f"IP:{i}" for i in sorted(ips)])
    openssl = shutil.which("openssl")
    if openssl:
        subprocess.run(
            [
                openssl,
                "req",
                "-x509",
                "-newkey",
                "ec",
                "-pkeyopt",
                "ec_paramgen_curve:prime256v1",
                "-nodes",
                "-days",
                "825",
                "-subj",
                "/CN=hometax-decrypt self-signed",
                "-addext",
                f"subjectAltName={san}",
                "-addext",
                "basicConstraints=critical,CA:TRUE",
                "-keyout",
                str(key),
                "-out",
                str(cert),
            ],
            check=True,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
    else:
        _certificate_with_cryptography(cert, key, names, ips)
    os.chmod(key, 0o600)


def _certificate_with_cryptography(cert: Path, key: Path, names, ips) -> None:
    import datetime
    import ipaddress

    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import NameOID

    k = ec.generate_private_key(ec.SECP256R1())
    subject = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "hometax-decrypt self-signed")])
    now = datetime.datetime.now(datetime.UTC)
    alt = [x509.DNSName(n) for n in sorted(names) if n and n != "_"]
    alt += [x509.IPAddress(ipaddress.ip_address(i)) for i in sorted(ips)]
    c = (
        x509.CertificateBuilder()
        .subject_name(subject)
        .issuer_name(subject)
        .public_key(k.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(minutes=5))
        .not_valid_after(now + datetime.timedelta(days=825))
        .add_extension(x509.SubjectAlternativeName(alt), critical=False)
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .sign(k, hashes.SHA256())
    )
    key.write_bytes(
        k.private_bytes(
            serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
        )
    )
    cert.write_bytes(c.public_bytes(serialization.Encoding.PEM))


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
    conf.write_text(render_supervisor(cfg))
    env = {k: v for k, v in _app_env(cfg, 1).items() if k not in _PER_INSTANCE}
    exe = Path(sys.executable).parent / "supervisord"
    if not exe.exists():
        raise RuntimeError("supervisord not found in the virtualenv: make install (the 'stack' extra)")
    with open(cfg.log_dir / "supervisord.out", "ab") as log:  # the child keeps its own copy
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
