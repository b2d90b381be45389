"""The stack's configuration: :class:`StackConfig`, read from the one settings object."""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path

from ..settings import Settings, tcp_address

# The checkout this package runs from (src/hometax_decrypt/ops/ -> the repository): the nginx and
# app-server templates (deploy/) and the page (web/) are files of the checkout, not package data.
REPO = Path(__file__).resolve().parents[3]
DEPLOY = REPO / "deploy"

MiB = 1024 * 1024
APP_SERVERS = ("gunicorn", "uwsgi", "waitress")


def _unresolved_leaf(path: Path) -> Path:
    """``path`` absolute, its parents' symbolic links resolved, its last name kept as it is: a run
    or log directory that is itself a symbolic link must be seen as one (and refused, ops/rundir.py),
    not silently replaced by its target."""
    path = Path(os.path.abspath(path))
    return path.parent.resolve() / path.name


@dataclass
class StackConfig:
    """What the stack runs with, built only by :meth:`from_env` from the one settings object
    (:class:`hometax_decrypt.settings.Settings`): no field has a default of its own, so no value is
    declared twice."""

    run_dir: Path
    app_server: str
    listen: str
    https_port: int
    http_port: int
    server_name: str
    tls_cert: Path | None
    tls_key: Path | None
    instances: int
    workers: int
    timeout: int
    max_requests: int
    max_requests_jitter: int
    max_body_bytes: int
    rate: int
    burst: int
    conn_per_client: int  # API requests in nginx at once per client address
    conn_total: int  # ...and in all (each may hold a body buffer: docs/deployment.md)
    body_timeout: int  # seconds between two reads of a request body
    trusted_proxies: list[str]
    metrics_allow: list[str]
    web_root: Path
    nginx: str
    nginx_user: str | None
    log_dir_setting: str | None
    upstreams: list[str]  # app servers on other hosts (host:port)
    app_listen: str  # host:port of this app host's TLS listener
    mtls_ca: Path | None
    mtls_cert: Path | None
    mtls_key: Path | None
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
            run_dir=_unresolved_leaf(Path(st.run_dir or REPO / "run")),
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
        return _unresolved_leaf(Path(self.log_dir_setting)) if self.log_dir_setting else self.run_dir / "logs"

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
