"""One JSON line per request, and a JSON formatter for the app servers' own messages.

What a line holds is fixed here: request id, method, the matched route (never the raw URL, which could
carry anything a client typed), status, duration, sizes and the error code. No query string, no
header values, no file names, no body.

Where the lines go: standard error, or the file ``HOMETAX_APP_LOG`` names (``make up`` sets one per
instance). A file is cheaper under load: a line written into a pipe wakes the process reading it
(supervisord, journald) on another core on every request (docs/performance.md)."""

from __future__ import annotations

import json
import logging
import logging.handlers
import os
import sys
import time

REQUEST_LOGGER = "hometax.request"
LOG_FILE_MODE = 0o640  # the lines hold no personal data, but they are nobody else's business


class JsonFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        if isinstance(record.msg, dict):
            data = dict(record.msg)
        else:
            data = {"message": record.getMessage()}
        out = {
            "time": time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(record.created))
            + f".{int(record.msecs):03d}Z",
            "level": record.levelname.lower(),
            "logger": record.name,
            "pid": os.getpid(),
        }
        out.update(data)
        if record.exc_info and record.levelno >= logging.ERROR:
            # the type only: exception text can carry user data
            out["exception"] = record.exc_info[0].__name__ if record.exc_info[0] else None
        return json.dumps(out, ensure_ascii=False, separators=(",", ":"))


class AppLogFile(logging.handlers.WatchedFileHandler):
    """Appends to the log file (O_APPEND: the workers' lines never interleave within a line), creates
    it mode 0640 whatever the process's umask (gunicorn runs with umask 000 for its socket), and
    reopens it when logrotate or an operator has moved it away."""

    def __init__(self, path: str):
        super().__init__(path, mode="a", encoding="utf-8")

    def _open(self):
        return open(
            self.baseFilename,
            self.mode,
            encoding=self.encoding,
            errors=self.errors,
            opener=lambda name, flags: os.open(name, flags, LOG_FILE_MODE),
        )


def log_handler(path: str | None) -> logging.Handler:
    """The handler every JSON line goes through: the file ``path``, or standard error."""
    handler = AppLogFile(path) if path else logging.StreamHandler(sys.stderr)
    handler.setFormatter(JsonFormatter())
    return handler


def configure_request_logger(path: str | None = None) -> logging.Logger:
    logger = logging.getLogger(REQUEST_LOGGER)
    for h in [h for h in logger.handlers if getattr(h, "_hometax", None) not in (None, path or "")]:
        logger.removeHandler(h)  # another destination was configured before (tests, a reload)
        h.close()
    if not any(getattr(h, "_hometax", None) == (path or "") for h in logger.handlers):
        handler = log_handler(path)
        handler._hometax = path or ""  # type: ignore[attr-defined]
        logger.addHandler(handler)
    logger.setLevel(logging.INFO)
    logger.propagate = False
    return logger


def gunicorn_logconfig(path: str | None) -> dict:
    """gunicorn's ``logconfig_dict`` (deploy/gunicorn.conf.py): its messages as JSON lines too, to the
    same place as the request lines; its access log off (the app writes its own lines)."""
    handler = (
        {"()": "hometax_decrypt.web.logs.AppLogFile", "path": path, "formatter": "json"}
        if path
        else {"class": "logging.StreamHandler", "formatter": "json", "stream": "ext://sys.stderr"}
    )
    return {
        "version": 1,
        "disable_existing_loggers": False,
        "formatters": {"json": {"()": "hometax_decrypt.web.logs.JsonFormatter"}},
        "handlers": {"app": handler},
        "loggers": {
            "gunicorn.error": {"level": "INFO", "handlers": ["app"], "propagate": False},
            "gunicorn.access": {"level": "CRITICAL", "handlers": [], "propagate": False},
        },
        "root": {"level": "WARNING", "handlers": ["app"]},
    }
