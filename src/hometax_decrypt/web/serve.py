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


def main() -> int:
    from waitress import serve

    from .wsgi import app

    settings = Settings.from_env()
    handler = log_handler(settings.app_log)  # waitress's own messages as JSON lines too
    logging.getLogger("waitress").handlers[:] = [handler]
    logging.getLogger("waitress").setLevel(logging.INFO)
    logging.getLogger("waitress").propagate = False
    serve(app, **options(settings))
    return 0


if __name__ == "__main__":
    sys.exit(main())
