"""gunicorn settings for one app server instance of hometax-decrypt.

Every value comes from the environment so that ``make up`` (scripts/stack.py) and the systemd unit
(deploy/systemd/hometax-app@.service) share this file. The app server listens only on a Unix socket;
nginx in front terminates TLS, buffers uploads and balances over the instances."""

import os

from hometax_decrypt.web.logs import GUNICORN_LOGCONFIG


def _int(name, default):
    raw = os.environ.get(name)
    return int(raw) if raw else default


bind = [os.environ.get("HOMETAX_BIND", "unix:/run/hometax/app-1.sock")]
workers = _int("HOMETAX_WORKERS", os.cpu_count() or 2)
worker_class = "sync"  # nginx buffers whole requests and responses: slow clients never hold a worker
timeout = _int("HOMETAX_TIMEOUT", 30)  # a stuck worker is killed and replaced
graceful_timeout = _int("HOMETAX_GRACEFUL_TIMEOUT", 20)
keepalive = 5
max_requests = _int("HOMETAX_MAX_REQUESTS", 1000)  # recycle workers: bounded memory growth
max_requests_jitter = _int("HOMETAX_MAX_REQUESTS_JITTER", 100)  # ...not all at once
preload_app = True  # import once in the master; a replaced worker starts in milliseconds
pidfile = os.environ.get("HOMETAX_PIDFILE") or None
proc_name = "hometax-app-" + os.environ.get("HOMETAX_INSTANCE", "1")
# The socket's mode: the directory holding it (owned by the nginx group, mode 0750) is the gate.
umask = 0o000
limit_request_line = 8190
limit_request_fields = 100
forwarded_allow_ips = "*"  # only nginx can reach the Unix socket
accesslog = None  # the app logs one JSON line per request itself (no query strings)
errorlog = "-"
loglevel = os.environ.get("HOMETAX_LOG_LEVEL", "info")
logconfig_dict = GUNICORN_LOGCONFIG
# Uploads stay in memory; anything that would still reach a temp file lands under TMPDIR, which
# the stack points at an empty directory of its own (and tests that it stays empty).
worker_tmp_dir = os.environ.get("HOMETAX_WORKER_TMP_DIR") or ("/dev/shm" if os.path.isdir("/dev/shm") else None)


def child_exit(server, worker):
    from hometax_decrypt.web.metrics import worker_exit

    worker_exit(worker.pid)


# gunicorn 24+ opens a control socket under $HOME by default: the app server keeps to its one
# socket and writes nothing outside the run directory.
control_socket_disable = True
