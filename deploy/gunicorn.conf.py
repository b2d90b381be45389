"""gunicorn settings for one app server instance of hometax-decrypt.

Every value comes from the one settings object (hometax_decrypt.settings, read from the
environment) so that ``make up`` (ops/stack.py) and the systemd units
(deploy/systemd/hometax-app@.service, hometax-app-tcp@.service) share this file. The app server
listens on a Unix socket, or on an app host on TCP with TLS and a required client certificate from the
project CA (HOMETAX_MTLS_*), never plain TCP; nginx in front terminates the clients' TLS, buffers
uploads and balances over the instances."""

import gc
import logging
import os
import ssl

from gunicorn.glogging import Logger as _GunicornLogger

from hometax_decrypt.settings import Settings
from hometax_decrypt.web.logs import gunicorn_logconfig

_s = Settings.from_env()

bind = [_s.effective_bind]
if not bind[0].startswith("unix:"):
    # Between hosts: TLS, and only a client with a certificate from the project CA (nginx) gets in.
    _problem = (
        _s.tcp_problem()
        if _s.app_listen
        else (
            "a TCP bind is for an app host, with TLS and client certificates, never plain TCP: set "
            "HOMETAX_APP_LISTEN and HOMETAX_MTLS_* (docs/deployment.md)"
        )
    )
    if _problem:
        raise SystemExit(_problem)
    certfile, keyfile, ca_certs = _s.mtls_cert, _s.mtls_key, _s.mtls_ca
    cert_reqs = ssl.CERT_REQUIRED
    # One context, made here in the master when the config is read (and again on HUP), that every
    # worker inherits: gunicorn would otherwise build one per connection (reading the files each
    # time), and all workers share its session-ticket keys, so nginx's resumed TLS sessions work
    # whichever worker accepts the connection.
    _context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH, cafile=ca_certs)
    _context.load_cert_chain(certfile=certfile, keyfile=keyfile)
    _context.verify_mode = cert_reqs
    _context.minimum_version = ssl.TLSVersion.TLSv1_2

    def ssl_context(conf, default_ssl_context_factory):
        return _context


workers = _s.effective_workers
worker_class = "sync"  # nginx buffers whole requests and responses: slow clients never hold a worker
timeout = _s.timeout  # a stuck worker is killed and replaced
graceful_timeout = _s.graceful_timeout
keepalive = 5
max_requests = _s.max_requests  # recycle workers: bounded memory growth
max_requests_jitter = _s.max_requests_jitter  # ...not all at once
preload_app = True  # import once in the master; a replaced worker starts in milliseconds
pidfile = _s.pidfile
proc_name = "hometax-app-" + (_s.instance or "1")
# The socket's mode: the directory holding it (owned by the nginx group, mode 0750) is the gate.
umask = 0o000
limit_request_line = 8190
limit_request_fields = 100
forwarded_allow_ips = "*"  # only nginx reaches the Unix socket (on TCP: only nginx's certificate)
accesslog = None  # the app logs one JSON line per request itself (no query strings)
errorlog = "-"
loglevel = _s.log_level
logconfig_dict = gunicorn_logconfig(_s.app_log)  # HOMETAX_APP_LOG, or standard error


class QuietAccessLogger(_GunicornLogger):
    """gunicorn's logger, without the access line nobody reads: with a ``logconfig_dict`` gunicorn
    builds every request's access-log fields (all headers and the whole WSGI environ into a dict)
    before its ``gunicorn.access`` logger, off in gunicorn_logconfig(), drops them: 4 % of a loaded
    worker's time in a py-spy profile (docs/performance.md)."""

    def access(self, resp, req, environ, request_time):
        if not self.access_log.isEnabledFor(logging.INFO):
            return
        super().access(resp, req, environ, request_time)


logger_class = QuietAccessLogger
# Uploads stay in memory; anything that would still reach a temp file lands under TMPDIR, which
# the stack points at an empty directory of its own (and tests that it stays empty).
worker_tmp_dir = _s.worker_tmp_dir or ("/dev/shm" if os.path.isdir("/dev/shm") else None)


def pre_fork(server, worker):
    """Right before each worker is forked: everything the master imported and built (the app, Flask,
    lxml, pikepdf, the catalog; preload_app) moves to the collector's permanent generation. A
    worker's collections then never scan those ~50 000 long-lived objects again, nor write to their
    headers (which would copy the shared pages into the worker: PSS). In process: `parse` and
    `/api/v1/documents` 3-6 % less CPU (docs/performance.md)."""
    gc.freeze()


def child_exit(server, worker):
    from hometax_decrypt.web.metrics import worker_exit

    worker_exit(worker.pid)


# gunicorn 24+ opens a control socket under $HOME by default: the app server keeps to its one
# socket and writes nothing outside the run directory.
control_socket_disable = True


# -- one write per answer -------------------------------------------------------------------------
# gunicorn writes an answer's header and its body in two sendall() calls. A worker killed between
# them (kill -9, the OOM killer, its timeout; under CPU contention the header's write wakes nginx
# and the worker waits its turn) leaves nginx holding a complete header, which it has already
# passed to the client: the client gets a cut answer, and nginx can no longer try another instance
# (docs/deployment.md, "A dying worker or instance costs no request"; seen in
# tests/stack/test_stack.py test_killing_an_instance_under_load_costs_no_request). So the header
# leaves with the first body bytes, in one write: a worker killed before it has answered nothing,
# and nginx passes the request on. Only gunicorn's public pieces are used (Response.write,
# headers_sent, sock), the same in every gunicorn of pyproject's range.
sendfile = False  # every answer goes through Response.write (the app serves no files anyway)


class _Held:
    """A stand-in socket that keeps what is written to it."""

    def __init__(self):
        self.parts = []

    def sendall(self, data):
        self.parts.append(bytes(data))


def _one_write_per_answer():
    from gunicorn.http import wsgi

    if getattr(wsgi.Response.write, "_hometax_one_write", False):
        return
    first_write = wsgi.Response.write

    def write(self, arg):
        if self.headers_sent:
            return first_write(self, arg)
        real, held = self.sock, _Held()
        self.sock = held
        try:
            first_write(self, arg)
        finally:
            self.sock = real
        if held.parts:
            real.sendall(b"".join(held.parts))

    write._hometax_one_write = True
    wsgi.Response.write = write


_one_write_per_answer()
