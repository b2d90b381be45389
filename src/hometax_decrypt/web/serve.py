"""The app under waitress (``APP_SERVER=waitress``): the app server where gunicorn and uWSGI cannot
run (Windows Server; they need ``fork``). ``python -m hometax_decrypt.web.serve``.

One process with ``HOMETAX_WORKERS`` threads (default: the number of cores), listening where
``HOMETAX_BIND`` says: ``unix:PATH`` (Linux, as ``make up`` runs it) or ``HOST:PORT`` (Windows:
``127.0.0.1:8001``, loopback only, nginx or IIS in front). Every value comes from the one settings
object. More processes means more instances (``HOMETAX_INSTANCES`` under ``make up``; one Windows
service each), each on its own socket or port, balanced by the proxy in front.

What waitress does not do, unlike gunicorn/uWSGI: kill a stuck request (``HOMETAX_TIMEOUT``; the
app's own time budgets, ``HOMETAX_MAX_SECONDS`` and ``HOMETAX_REQUEST_SECONDS``, still end every
document and batch) or recycle workers (``HOMETAX_MAX_REQUESTS``); a process that dies is started
again by its supervisor (supervisord under ``make up``, the Windows service wrapper in production).
"""

from __future__ import annotations

import logging
import sys

from ..settings import Settings
from .logs import log_handler


def listen_options(settings: Settings) -> dict:
    """waitress's listening options for ``HOMETAX_BIND``."""
    bind = settings.bind.strip()
    if bind.startswith("unix:"):
        # the socket's directory (group of nginx, mode 0750) is the gate, as for gunicorn and uWSGI
        return {"unix_socket": bind[len("unix:") :], "unix_socket_perms": "666"}
    return {"listen": bind}


def options(settings: Settings) -> dict:
    return {
        **listen_options(settings),
        "threads": settings.effective_workers,
        "ident": "hometax-decrypt",  # the Server header; no version
        "max_request_body_size": settings.max_body_bytes,
        "channel_timeout": settings.timeout,  # an idle connection is closed
        "clear_untrusted_proxy_headers": False,  # nginx sets X-Forwarded-*; the app reads them
        "expose_tracebacks": False,
        "log_untrusted_proxy_headers": False,
    }


class _Collect:
    """A waitress channel seen by one Task.write call: what it would write is kept, the rest is the
    channel's."""

    def __init__(self, channel):
        self._channel = channel
        self.parts: list = []

    def write_soon(self, data) -> None:
        self.parts.append(data)

    def __getattr__(self, name):
        return getattr(self._channel, name)


def one_write_per_answer() -> None:
    """waitress queues an answer's header and its first body bytes separately; its main loop may
    send the header alone. A process killed then (kill -9, the OOM killer) leaves nginx holding a
    header it has already passed to the client: a cut answer that nginx can no longer try on
    another instance (docs/deployment.md, "A dying worker or instance costs no request"). So the
    header is queued with the first body bytes, as one piece; killed before that, the instance has
    answered nothing, and nginx passes the request on."""
    from waitress.task import Task

    if getattr(Task.write, "_hometax_one_write", False):
        return
    first_write = Task.write

    def write(self, data):
        if self.wrote_header:
            return first_write(self, data)
        channel = self.channel
        held = _Collect(channel)
        self.channel = held
        try:
            first_write(self, data)
        finally:
            self.channel = channel
        if all(isinstance(p, bytes) for p in held.parts):
            if held.parts:
                channel.write_soon(b"".join(held.parts))
        else:  # a file wrapper's buffer: passed on as it is
            for p in held.parts:
                channel.write_soon(p)

    write._hometax_one_write = True  # type: ignore[attr-defined]
    Task.write = write  # type: ignore[method-assign]


def main() -> int:
    from waitress import serve

    from .wsgi import app

    settings = Settings.from_env()
    handler = log_handler(settings.app_log)  # waitress's own messages as JSON lines too
    logging.getLogger("waitress").handlers[:] = [handler]
    logging.getLogger("waitress").setLevel(logging.INFO)
    logging.getLogger("waitress").propagate = False
    one_write_per_answer()
    serve(app, **options(settings))
    return 0


if __name__ == "__main__":
    sys.exit(main())
