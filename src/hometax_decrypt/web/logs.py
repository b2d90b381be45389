"""One JSON line per request, and a JSON formatter for the app servers' own messages.

What a line holds is fixed here: request id, method, the matched route (never the raw URL, which could
carry anything a client typed), status, duration, sizes and the error code. No query string, no
header values, no file names, no body."""

from __future__ import annotations

import json
import logging
import os
import sys
import time

REQUEST_LOGGER = "hometax.request"


class JsonFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        if isinstance(record.msg, dict):
            data = dict(record.msg)
        else:
            data = {"message": record.getMessage()}
        out = {"time": time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(record.created))
               + f".{int(record.msecs):03d}Z", "level": record.levelname.lower(),
               "logger": record.name, "pid": os.getpid()}
        out.update(data)
        if record.exc_info and record.levelno >= logging.ERROR:
            # the type only: exception text can carry user data
            out["exception"] = record.exc_info[0].__name__ if record.exc_info[0] else None
        return json.dumps(out, ensure_ascii=False, separators=(",", ":"))


def configure_request_logger() -> logging.Logger:
    logger = logging.getLogger(REQUEST_LOGGER)
    if not any(getattr(h, "_hometax", False) for h in logger.handlers):
        handler = logging.StreamHandler(sys.stderr)
        handler.setFormatter(JsonFormatter())
        handler._hometax = True  # type: ignore[attr-defined]
        logger.addHandler(handler)
    logger.setLevel(logging.INFO)
    logger.propagate = False
    return logger


# For gunicorn's ``logconfig_dict`` (deploy/gunicorn.conf.py): its messages as JSON lines too.
GUNICORN_LOGCONFIG = {
    "version": 1,
    "disable_existing_loggers": False,
    "formatters": {"json": {"()": "hometax_decrypt.web.logs.JsonFormatter"}},
    "handlers": {"stderr": {"class": "logging.StreamHandler", "formatter": "json",
                            "stream": "ext://sys.stderr"}},
    "loggers": {
        "gunicorn.error": {"level": "INFO", "handlers": ["stderr"], "propagate": False},
        "gunicorn.access": {"level": "CRITICAL", "handlers": [], "propagate": False},
    },
    "root": {"level": "WARNING", "handlers": ["stderr"]},
}
