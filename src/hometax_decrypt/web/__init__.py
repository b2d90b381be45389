"""The HTTP API: a Flask application factory.

``create_app(config)`` builds the app; ``hometax_decrypt.web.wsgi:app`` is the WSGI entry point for
gunicorn and uWSGI. Errors of every kind become ``{"error": {"code", "nts_code", "message"}}`` in one
handler; every request leaves one JSON log line and its metrics.
"""

from __future__ import annotations

import re
import time
import uuid

from flask import Flask, Response, g, request
from werkzeug.exceptions import HTTPException

from .. import errors
from ..document.limits import Limits
from ..document.setup import configure_process
from ..settings import Settings
from ..timestamp import TrustStore
from . import http_errors, inmemory, memory, metrics, routes
from .config import WebConfig
from .inmemory import InMemoryRequest
from .inputs import refuse_secrets_in_url
from .logs import configure_request_logger
from .meta import _trust_ready

_REQUEST_ID = re.compile(r"^[A-Za-z0-9._-]{8,64}$")
# Endpoints that need no API key (the route table's auth=False): liveness/readiness probes, the API
# description, and what the page loads before any key is typed (the format registry, the messages).
OPEN_ENDPOINTS = routes.OPEN_ENDPOINTS


def _drain_body() -> None:
    """Read what is left of the request body before answering. A request refused early (a password
    in the URL, no API key) leaves its body unread; the app server would close the connection while
    nginx is still sending it, and nginx would answer 502 instead of our error. Bounded by the
    Content-Length, which nginx and MAX_CONTENT_LENGTH cap."""
    try:
        stream = request.stream
        while stream.read(256 * 1024):
            pass
    except Exception:  # a body too large or a client gone: nothing left to protect
        pass


def _load_trust_store(settings: Settings) -> TrustStore:
    """The app's trust store (the shipped anchors and pins, ``HOMETAX_TRUST_DIR``,
    ``HOMETAX_TRUST_PINNED``, ``HOMETAX_TRUST_REPLACE``), built once; fail at start-up, not on every
    request, when it cannot be read."""
    try:
        trust = TrustStore.configured(settings.trust_dir, settings.trust_pinned, settings.trust_replace)
        _trust_ready(trust)
    except errors.HometaxError as exc:
        raise ValueError(
            f"HOMETAX_TRUST_DIR (or HOMETAX_TRUST_PINNED, HOMETAX_TRUST_REPLACE) cannot be "
            f"used as the timestamp trust store: "
            f"{exc.detail or exc.message}"
        ) from None
    return trust


def create_app(config: WebConfig | dict | None = None, limits: Limits | None = None) -> Flask:
    settings = Settings.from_env()  # the environment, read once for this app
    if config is None:
        config = WebConfig.from_settings(settings)
    elif isinstance(config, dict):
        config = WebConfig(**config)
    config.check_startup()
    trust = _load_trust_store(settings)
    limits = limits or Limits.from_settings(settings)
    configure_process(limits)  # process-wide: qpdf's decoder bounds, the warning filter
    inmemory.install()  # process-wide: CP949 multipart part headers

    app = Flask(__name__, static_folder=None)
    app.request_class = InMemoryRequest
    app.config.update(
        HOMETAX=config,
        HOMETAX_LIMITS=limits,
        HOMETAX_TRUST=trust,
        HOMETAX_SETTINGS=settings,  # /readyz re-loads the trust configured at start
        MAX_CONTENT_LENGTH=config.max_body_bytes,
        MAX_FORM_MEMORY_SIZE=1024 * 1024,  # text fields (password map); files are separate
        MAX_FORM_PARTS=config.batch_max_files + 16,
        JSON_AS_ASCII=False,
    )
    app.json.ensure_ascii = False
    app.json.sort_keys = False
    log = configure_request_logger(settings.app_log)

    routes.register(app)

    @app.before_request
    def _start():
        memory.note_baseline()
        g.t0 = time.perf_counter()
        rid = request.headers.get("X-Request-ID", "")
        g.request_id = rid if _REQUEST_ID.match(rid) else uuid.uuid4().hex
        g.error_code = None
        refuse_secrets_in_url()
        if (
            request.endpoint not in OPEN_ENDPOINTS
            and request.endpoint is not None
            and not config.key_ok(request.headers.get("X-API-Key"))
        ):
            return http_errors.error_response("unauthorized")
        return None

    @app.after_request
    def _finish(resp: Response):
        _drain_body()
        resp.call_on_close(memory.release_after_request)  # after the answer is sent
        endpoint = request.url_rule.rule if request.url_rule is not None else "(unmatched)"
        seconds = time.perf_counter() - getattr(g, "t0", time.perf_counter())
        code = getattr(g, "error_code", None)
        resp.headers["X-Request-ID"] = getattr(g, "request_id", "")
        resp.headers.setdefault("Cache-Control", "no-store")
        if code:
            resp.headers["X-Error-Code"] = code
        metrics.observe(endpoint, request.method, resp.status_code, seconds, code)
        log.info(
            {
                "id": getattr(g, "request_id", None),
                "instance": config.instance or None,
                "method": request.method,
                "path": endpoint,
                "status": resp.status_code,
                "duration_ms": round(seconds * 1000, 2),
                "request_size": request.content_length or 0,
                "size": resp.calculate_content_length() or 0,
                "error": code,
            }
        )
        return resp

    @app.errorhandler(errors.HometaxError)
    def _hometax_error(exc: errors.HometaxError):
        g.error_code = exc.code
        status, body = http_errors.body_for_exception(exc)
        resp = app.json.response(body)
        resp.status_code = status
        resp.headers.update(http_errors.headers_for_code(exc.code))
        return resp

    @app.errorhandler(HTTPException)
    def _http_error(exc: HTTPException):
        status = exc.code or 500
        code = errors.code_for_status(status)
        detail = detail_ko = None
        if status == 413 and (request.content_length or 0) > config.max_body_bytes:
            # the body limit (not the form's part or field limits): name it, and what to do instead
            detail, detail_ko = errors.body_limit_detail(config.max_body_bytes)
        resp = http_errors.error_response(code, status=status, detail=detail, detail_ko=detail_ko)
        if exc.code == 405 and hasattr(exc, "valid_methods") and exc.valid_methods:
            resp.headers["Allow"] = ", ".join(exc.valid_methods)
        return resp

    @app.errorhandler(Exception)
    def _unexpected(exc: Exception):
        # the type only: an exception's text may quote user data
        app.logger.error("unhandled %s", type(exc).__name__)
        return http_errors.error_response("internal")

    return app
