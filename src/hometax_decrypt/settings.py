"""Every setting of the project in one typed object, read from ``HOMETAX_*`` environment variables.

One dataclass (each field: its variable, kind, default and meaning) parses the environment for the
library's limits (:mod:`hometax_decrypt.document.limits`), the web app (:mod:`hometax_decrypt.web.config`),
``make up`` (ops/stack.py) and the app-server configurations (deploy/gunicorn.conf.py; uWSGI
gets the same values through the environment ops/stack.py or the systemd unit gives it).
docs/deployment.md's settings table is generated from it (``python -m hometax_decrypt.settings``)
and a test keeps the two equal.

This module imports nothing of the project: everything else may import it.
"""

from __future__ import annotations

import math
import os
import re
import sys
from collections.abc import Mapping
from dataclasses import dataclass, field, fields
from functools import lru_cache
from typing import Any

MiB = 1024 * 1024
# The largest share of the worker timeout (HOMETAX_TIMEOUT) a many-document request's time budget
# may take (Settings.effective_request_seconds): the rest is the margin for writing the answer.
REQUEST_SHARE = 2 / 3


# The largest whole number any setting takes (a C API takes what fits in 64 bits).
INT_MAX = 2**63 - 1
# A number as the settings take it: ASCII digits (no sign, no exponent, no "_", no other script's
# digits), a float with an optional decimal part. Python's int()/float() accept all of those and
# "nan"/"inf", which would silently disable a limit.
_WHOLE = re.compile(r"[0-9]+")
_DECIMAL = re.compile(r"[0-9]+(?:\.[0-9]*)?|\.[0-9]+")
_SHA256_HEX = re.compile(r"[0-9a-f]{64}")


def _s(
    env: str,
    kind: str,
    default,
    meaning: str,
    shown: str | None = None,
    low: int = 0,
    high: int = INT_MAX,
):
    """A field of :class:`Settings` with its variable, its kind (int, float, str, path, flag, list,
    fingerprints, keys), its documentation and, for an int, its range (``low``..``high``)."""
    return field(
        default=default,
        metadata={"env": env, "kind": kind, "meaning": meaning, "shown": shown, "low": low, "high": high},
    )


@dataclass(frozen=True)
class Settings:
    """The parsed environment. Build it with :meth:`from_env`; change a copy with
    ``dataclasses.replace``. ``None`` means the documented default that depends on where the code
    runs (the repository's run/ and web/, the number of cores)."""

    # -- the core's per-document limits (hometax_decrypt.document.limits) -----------------------------------
    max_input_bytes: int = _s(
        "HOMETAX_MAX_INPUT_BYTES", "int", 20 * MiB, "largest PDF the core reads", shown="`20971520` (20 MiB)"
    )
    max_part_bytes: int = _s(
        "HOMETAX_MAX_PART_BYTES",
        "int",
        16 * MiB,
        "largest inflated data part (XML or SAM)",
        shown="`16777216` (16 MiB)",
    )
    max_objects: int = _s("HOMETAX_MAX_OBJECTS", "int", 200000, "indirect objects in one PDF")
    max_pdf_tokens: int = _s(
        "HOMETAX_MAX_PDF_TOKENS",
        "int",
        500000,
        "PDF syntax in one PDF, counted as its delimiter and white-space bytes before qpdf reads it "
        "(object streams: their inflated bytes): bounds the arrays and dictionaries qpdf builds, "
        "about 140 bytes an element (the largest NTS sample counts 76000, ~1000 a page)",
    )
    max_structure_bytes: int = _s(
        "HOMETAX_MAX_STRUCTURE_BYTES",
        "int",
        64 * MiB,
        "one inflated xref/object stream (process-wide, qpdf); the object streams of one PDF "
        "together, inflated to count their syntax",
        shown="`67108864` (64 MiB)",
        low=1,  # qpdf reads 0 as "no limit"
        high=2**32 - 1,  # qpdf's largest
    )
    max_xml_elements: int = _s(
        "HOMETAX_MAX_XML_ELEMENTS",
        "int",
        100000,
        "elements + attributes of one XML part (columns of a SAM part)",
    )
    max_seconds: float = _s(
        "HOMETAX_MAX_SECONDS", "float", 10.0, "wall time for one document's work; past it the `timeout` error"
    )
    trust_dir: str | None = _s(
        "HOMETAX_TRUST_DIR",
        "path",
        None,
        "trust anchors for timestamp verification, added to the GPKI ones the package ships; "
        "read when the app starts: a "
        "directory that is missing or holds a non-certificate stops the app server at "
        "start-up (and `/readyz` answers 503 if it stops loading)",
        shown="none",
    )
    trust_pinned: tuple[str, ...] = _s(
        "HOMETAX_TRUST_PINNED",
        "fingerprints",
        (),
        "extra pinned TSA certificates: comma-separated SHA-256 hex fingerprints",
        shown="none",
    )
    trust_replace: bool = _s(
        "HOMETAX_TRUST_REPLACE",
        "flag",
        False,
        "`1`: trust only `HOMETAX_TRUST_DIR` and `HOMETAX_TRUST_PINNED`, not the GPKI "
        "anchors and NTS pins the package ships (docs/verification.md)",
        shown="off",
    )
    # -- the web app (hometax_decrypt.web.config) --------------------------------------------------
    listen: str = _s("HOMETAX_LISTEN", "str", "127.0.0.1", "address nginx listens on")
    api_key_hashes: tuple[str, ...] = _s(
        "HOMETAX_API_KEYS",
        "keys",
        (),
        "comma-separated SHA-256 hex digests of the accepted `X-API-Key` values",
        shown="none",
    )
    api_keys_disabled: bool = _s(
        "HOMETAX_API_KEYS_DISABLED",
        "flag",
        False,
        "`1`: serve beyond loopback without keys (behind another gate)",
        shown="off",
    )
    max_body_bytes: int = _s(
        "HOMETAX_MAX_BODY_BYTES",
        "int",
        25 * MiB,
        "largest request body (nginx and the app)",
        shown="`26214400` (25 MiB)",
    )
    batch_max_files: int = _s("HOMETAX_BATCH_MAX_FILES", "int", 100, "documents in one batch")
    batch_max_total_bytes: int = _s(
        "HOMETAX_BATCH_MAX_TOTAL_BYTES",
        "int",
        100 * MiB,
        "inflated size of a batch's ZIP",
        shown="`104857600` (100 MiB)",
    )
    zip_max_ratio: int = _s(
        "HOMETAX_ZIP_MAX_RATIO",
        "int",
        50,
        "largest inflated/compressed ratio of a ZIP entry over 64 KiB, and of the whole archive",
    )
    export_max_files: int = _s(
        "HOMETAX_EXPORT_MAX_FILES",
        "int",
        1000,
        'XML data parts in one `/api/v1/export` request (the page\'s "download everything")',
    )
    request_seconds: float = _s(
        "HOMETAX_REQUEST_SECONDS",
        "float",
        20.0,
        "time budget of one `/batch` or `/export` request as a whole; at most two thirds of "
        "`HOMETAX_TIMEOUT` are used (a larger value is lowered to that), so that a slow request "
        "ends as the JSON `timeout`, not as a killed worker",
    )
    # -- the app servers (deploy/gunicorn.conf.py, deploy/uwsgi.ini) -------------------------------
    instance: str = _s(
        "HOMETAX_INSTANCE",
        "str",
        "",
        "which app-server instance this is (logs, process name); set by the stack",
        shown="set per instance",
    )
    # -- the stack (make up: ops/stack.py) -----------------------------------------------------
    app_server: str = _s(
        "APP_SERVER",
        "str",
        "gunicorn",
        "`gunicorn`, `uwsgi` or `waitress` (one process of `HOMETAX_WORKERS` threads; runs on Windows)",
    )
    https_port: int = _s("HOMETAX_HTTPS_PORT", "int", 8443, "HTTPS port", low=1, high=65535)
    http_port: int = _s("HOMETAX_HTTP_PORT", "int", 8080, "HTTP port (redirects to HTTPS)", low=1, high=65535)
    server_name: str = _s(
        "HOMETAX_SERVER_NAME",
        "str",
        "localhost",
        "nginx `server_name` (and the self-signed certificate's name); the HTTP port redirects "
        "to its first name, whatever `Host` a client sends",
    )
    tls_cert: str | None = _s(
        "HOMETAX_TLS_CERT",
        "path",
        None,
        "certificate chain (PEM); set with `HOMETAX_TLS_KEY`",
        shown="self-signed in `run/tls/`",
    )
    tls_key: str | None = _s(
        "HOMETAX_TLS_KEY",
        "path",
        None,
        "private key (PEM) of `HOMETAX_TLS_CERT`",
        shown="self-signed in `run/tls/`",
    )
    instances: int = _s("HOMETAX_INSTANCES", "int", 2, "app server instances, each on its own socket")
    upstreams: tuple[str, ...] = _s(
        "HOMETAX_UPSTREAMS",
        "list",
        (),
        "app servers on other hosts (`host:port`, comma- or space-separated), reached "
        "over TLS with a client certificate (`HOMETAX_MTLS_*`); when set, nginx balances "
        "over these instead of local Unix sockets and `make up` starts no local app "
        "server unless `HOMETAX_APP_LISTEN` is set too",
        shown="none (local Unix sockets)",
    )
    app_listen: str = _s(
        "HOMETAX_APP_LISTEN",
        "str",
        "",
        "`host:port`: on an app host, the app server listens here on TCP with TLS and "
        "required client certificates (`HOMETAX_MTLS_*`; instance N on port + N - 1), "
        "never plain TCP; `make up` then starts no nginx unless `HOMETAX_UPSTREAMS` is set",
        shown="none (Unix sockets)",
    )
    mtls_ca: str | None = _s(
        "HOMETAX_MTLS_CA",
        "path",
        None,
        "the project CA (PEM, `python -m hometax_decrypt.ops.certs ca`): the only issuer nginx and the app "
        "hosts accept from each other",
    )
    mtls_cert: str | None = _s(
        "HOMETAX_MTLS_CERT",
        "path",
        None,
        "this host's certificate from the project CA (`python -m hometax_decrypt.ops.certs host`): nginx "
        "presents it to the app hosts, an app host presents it to nginx",
    )
    mtls_key: str | None = _s("HOMETAX_MTLS_KEY", "path", None, "the private key of `HOMETAX_MTLS_CERT`")
    # -- the app servers (deploy/gunicorn.conf.py, deploy/uwsgi.ini) -------------------------------
    workers: int | None = _s(
        "HOMETAX_WORKERS",
        "int",
        None,
        "worker processes per instance (waitress: threads)",
        shown="number of cores",
    )
    timeout: int = _s("HOMETAX_TIMEOUT", "int", 30, "seconds before a stuck worker is killed and replaced")
    graceful_timeout: int = _s(
        "HOMETAX_GRACEFUL_TIMEOUT", "int", 20, "seconds a stopping worker gets to finish its request"
    )
    max_requests: int = _s(
        "HOMETAX_MAX_REQUESTS", "int", 1000, "recycle a worker after about this many requests"
    )
    max_requests_jitter: int = _s(
        "HOMETAX_MAX_REQUESTS_JITTER",
        "int",
        100,
        "random spread of `HOMETAX_MAX_REQUESTS` (not all workers at once)",
    )
    # -- the stack (make up: ops/stack.py) -----------------------------------------------------
    rate_limit: int = _s("HOMETAX_RATE_LIMIT", "int", 10, "API requests per second per client")
    rate_burst: int = _s("HOMETAX_RATE_BURST", "int", 20, "burst of API requests allowed per client")
    conn_per_client: int = _s(
        "HOMETAX_CONN_PER_CLIENT",
        "int",
        8,
        "API requests in nginx at once per client address (each may hold a body buffer)",
    )
    conn_total: int = _s(
        "HOMETAX_CONN_TOTAL",
        "int",
        32,
        "API requests in nginx at once in all (bounds nginx's memory: docs/deployment.md)",
    )
    body_timeout: int = _s(
        "HOMETAX_BODY_TIMEOUT", "int", 10, "seconds nginx waits between two reads of a request body"
    )
    trusted_proxies: tuple[str, ...] = _s(
        "HOMETAX_TRUSTED_PROXIES",
        "list",
        (),
        "addresses/CIDRs of proxies whose `X-Forwarded-For` names the client (rate limits, metrics access)",
        shown="none",
    )
    metrics_allow: tuple[str, ...] = _s(
        "HOMETAX_METRICS_ALLOW",
        "list",
        ("127.0.0.1", "::1"),
        "who may read `/metrics`",
        shown="`127.0.0.1 ::1`",
    )
    run_dir: str | None = _s(
        "HOMETAX_RUN_DIR", "path", None, "where runtime files go", shown="`run/` in the repository"
    )
    log_dir: str | None = _s("HOMETAX_LOG_DIR", "path", None, "where logs go", shown="`RUN_DIR/logs`")
    web_root: str | None = _s(
        "HOMETAX_WEB_ROOT", "path", None, "the static upload page", shown="`web/` in the repository"
    )
    nginx: str | None = _s("HOMETAX_NGINX", "path", "/usr/sbin/nginx", "the nginx binary")
    nginx_user: str | None = _s(
        "HOMETAX_NGINX_USER",
        "str",
        None,
        "user of nginx's workers when `make up` runs as root",
        shown="`www-data` when it can read the web root",
    )
    # -- the app servers (deploy/gunicorn.conf.py, deploy/uwsgi.ini) -------------------------------
    bind: str = _s(
        "HOMETAX_BIND",
        "str",
        "unix:/run/hometax/app-1.sock",
        "the gunicorn/waitress instance's socket (`unix:PATH`, or waitress on Windows: "
        "`127.0.0.1:PORT`); set per instance by the stack or the unit (an app host's "
        "`HOMETAX_APP_LISTEN` takes its place)",
    )
    pidfile: str | None = _s(
        "HOMETAX_PIDFILE", "path", None, "the app server's pid file; set per instance", shown="none"
    )
    log_level: str = _s("HOMETAX_LOG_LEVEL", "str", "info", "the app server's log level")
    app_log: str | None = _s(
        "HOMETAX_APP_LOG",
        "path",
        None,
        "file the app server appends its JSON log lines to (one per request, and its "
        "own messages), created mode 0640 and reopened when rotated away; unset: "
        "standard error (supervisord or journald). `make up` sets it per instance to "
        "`LOG_DIR/app-N.log`: a line written to a file costs no wake-up of the process "
        "reading a pipe (docs/performance.md)",
        shown="standard error",
    )
    worker_tmp_dir: str | None = _s(
        "HOMETAX_WORKER_TMP_DIR", "path", None, "gunicorn's heartbeat files", shown="`/dev/shm` when present"
    )

    @classmethod
    def from_env(cls, environ: Mapping[str, str] | None = None) -> Settings:
        """Every setting of ``environ`` (default: the process environment), parsed now. For the
        server adapters, which call it once at start; the library never does (it reads only its own
        variables, through :func:`parse_env`, when an adapter asks: ``Limits.from_env()``,
        ``TrustStore.from_env()``), so a bad server variable cannot break a library call."""
        return cls(**parse_env([s.name for s in specs()], environ))

    @property
    def effective_request_seconds(self) -> float:
        """The time budget of one ``/batch`` or ``/export`` request: ``HOMETAX_REQUEST_SECONDS``,
        at most :data:`REQUEST_SHARE` of ``HOMETAX_TIMEOUT`` (gunicorn's ``timeout`` and uWSGI's
        ``harakiri``, the same setting). The budget is checked between steps, and what follows
        its last check (writing the answer) takes time too: the rest of the worker timeout is that
        margin, so a slow request always ends as the JSON ``timeout``, never as a killed worker
        and its app server's HTML page."""
        return min(self.request_seconds, self.timeout * REQUEST_SHARE)

    @property
    def effective_workers(self) -> int:
        return max(1, self.workers or os.cpu_count() or 2)

    @property
    def effective_bind(self) -> str:
        """Where this app-server instance listens: ``HOMETAX_BIND``, or on an app host
        ``HOMETAX_APP_LISTEN`` with the port moved by the instance number."""
        if not self.app_listen:
            return self.bind
        host, port = tcp_address(self.app_listen, int(self.instance or 1))
        return f"[{host}]:{port}" if ":" in host else f"{host}:{port}"

    def tcp_problem(self) -> str | None:
        """Why this configuration may not put an app server or nginx on TCP between hosts, or None.
        Across hosts everything is TLS with client certificates, and an app host (which checks the
        API keys itself) needs the keys or their explicit absence."""
        if not (self.upstreams or self.app_listen):
            return None
        missing = [
            s.env
            for s in specs()
            if s.name in ("mtls_ca", "mtls_cert", "mtls_key") and not getattr(self, s.name)
        ]
        if missing:
            return (
                "app servers on TCP talk TLS with client certificates only, never plain TCP: "
                "set " + ", ".join(missing) + " (ops/certs.py makes them)"
            )
        for address in self.upstreams + ((self.app_listen,) if self.app_listen else ()):
            host, _, port = address.rpartition(":")
            if not host or not port.isdigit() or not 0 < int(port) < 65536:
                return f"not a host:port address: {address!r}"
        if self.app_listen and not (self.api_key_hashes or self.api_keys_disabled):
            return (
                "an app server on TCP answers whatever nginx passes on: set HOMETAX_API_KEYS "
                "(the same on every host) or HOMETAX_API_KEYS_DISABLED=1"
            )
        return None


def tcp_address(listen: str, instance: int = 1) -> tuple[str, int]:
    """(host, port) of app-server instance ``instance`` on an app host listening at ``listen``
    (``host:port``, ``[v6]:port``): instance N takes port + N - 1."""
    host, _, port = listen.rpartition(":")
    return host.strip("[]"), int(port) + instance - 1


# The name nginx checks in every app host's certificate (proxy_ssl_name); ops/certs.py puts it
# in each host certificate besides the host's own names.
APP_TLS_NAME = "hometax-app"


@dataclass(frozen=True)
class SettingSpec:
    env: str
    name: str
    kind: str
    default: Any
    meaning: str
    shown: str | None
    low: int = 0
    high: int = INT_MAX


@lru_cache(maxsize=1)
def specs() -> tuple[SettingSpec, ...]:
    """One entry per setting, in the order of :class:`Settings`."""
    return tuple(
        SettingSpec(
            f.metadata["env"],
            f.name,
            f.metadata["kind"],
            f.default,
            f.metadata["meaning"],
            f.metadata["shown"],
            f.metadata["low"],
            f.metadata["high"],
        )
        for f in fields(Settings)
    )


def parse_env(names, environ: Mapping[str, str] | None = None) -> dict[str, Any]:
    """The settings called ``names`` (field names), parsed from ``environ`` (default: the process
    environment); no other variable is read. A bad value (not a plain number where one is wanted,
    out of its range, a switch that is not 1 or 0) is a ``ValueError`` naming the variable, never
    quoting its value. Nothing is cached: adapters parse once, at start."""
    env = os.environ if environ is None else environ
    wanted = set(names)
    return {s.name: _parse(s, env.get(s.env)) for s in specs() if s.name in wanted}


def _parse(spec: SettingSpec, raw: str | None) -> Any:
    if raw is None or raw.strip() == "":
        if spec.kind == "flag":
            return False
        return spec.default
    raw = raw.strip()
    if spec.kind == "int":
        if not _WHOLE.fullmatch(raw):
            raise ValueError(f"{spec.env} must be a whole number (digits only)")
        value = int(raw)
        if not spec.low <= value <= spec.high:
            raise ValueError(f"{spec.env} must be from {spec.low} to {spec.high}")
        return value
    if spec.kind == "float":
        number = float(raw) if _DECIMAL.fullmatch(raw) else math.nan
        if not math.isfinite(number):  # not digits, or too many of them
            raise ValueError(f"{spec.env} must be a number (digits and a decimal point)")
        return number
    if spec.kind == "flag":  # strict: a misspelt switch must not silently mean "off"
        if raw.lower() in ("1", "true", "yes", "on"):
            return True
        if raw.lower() in ("0", "false", "no", "off"):
            return False
        raise ValueError(f"{spec.env} must be 1 or 0")
    if spec.kind == "list":
        return tuple(raw.replace(",", " ").split())
    if spec.kind == "fingerprints":  # SHA-256 hex, colons allowed (as openssl prints them)
        prints = tuple(p.lower().replace(":", "") for p in raw.replace(",", " ").split())
        if not all(_SHA256_HEX.fullmatch(p) for p in prints):
            raise ValueError(f"{spec.env} must hold SHA-256 fingerprints (64 hex digits each)")
        return prints
    if spec.kind == "keys":
        keys = tuple(k.strip().lower() for k in raw.split(",") if k.strip())
        for k in keys:
            if len(k) != 64 or any(c not in "0123456789abcdef" for c in k):
                raise ValueError(
                    "HOMETAX_API_KEYS must hold SHA-256 hex digests "
                    "(python -m hometax_decrypt.web.keys NEW-KEY)"
                )
        return keys
    return raw  # str, path


def markdown_table() -> str:
    """docs/deployment.md's settings table."""
    lines = ["| variable | default | meaning |", "| --- | --- | --- |"]
    for s in specs():
        if s.shown is not None:
            shown = s.shown
        elif s.default in ((), None, ""):
            shown = "none"
        else:
            shown = f"`{s.default:g}`" if isinstance(s.default, float) else f"`{s.default}`"
        lines.append(f"| `{s.env}` | {shown} | {s.meaning} |")
    return "\n".join(lines) + "\n"


if __name__ == "__main__":  # python -m hometax_decrypt.settings: print the docs table
    sys.stdout.write(markdown_table())
