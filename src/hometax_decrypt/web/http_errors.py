"""The JSON error shape of the API, from the one error table (:mod:`hometax_decrypt.errors`).

Every code, status and text is the table's; this module only shapes them for HTTP: the body
``{"error": {"code", "nts_code", "message", "message_ko"}}``, the Retry-After header of a code whose
remedy is waiting, and which table rows nginx answers itself (``NGINX_ERRORS``, rendered into
deploy/nginx.conf.in by ops/stack.py).
"""

from __future__ import annotations

import warnings

from .. import errors


def body_for_code(code: str, message: str | None = None) -> tuple[int, dict]:
    """(HTTP status, JSON body) of a code of the table."""
    spec = errors.SPECS[code]
    body = spec.to_dict()
    if message:
        body["message"] = message
    return spec.http_status, {"error": body}


def body_for_exception(exc: errors.HometaxError) -> tuple[int, dict]:
    return exc.http_status, {"error": exc.to_dict()}


def headers_for_code(code: str) -> dict[str, str]:
    """The headers an error answer of ``code`` carries besides its body (app and nginx alike)."""
    spec = errors.SPECS[code]
    return {"Retry-After": str(spec.retry_after)} if spec.retry_after is not None else {}


def messages_ko() -> dict[str, str]:
    """code -> Korean message, for every code an HTTP answer can carry (the upload page's
    messages: GET /api/v1/messages)."""
    return {code: errors.SPECS[code].message_ko for code in errors.http_codes()}


# The errors nginx answers itself (deploy/nginx.conf.in), as data for rendering the template: each
# named location catches ``statuses`` and answers ``status`` (one of the code's statuses in the table)
# with the body and headers of ``code``; ``detail`` says what nginx refused (``body_limit``: the
# configured body limit and the alternatives, errors.body_limit_detail), and ``variants`` are refusals
# of nginx's own rewrite rules (locations of their own, which the template rewrites to).
NGINX_ERRORS: tuple[dict, ...] = (
    {
        "name": "bad_request",
        "statuses": (400,),
        "status": 400,
        "code": "usage",
        "detail": "the request is malformed: its URI, a header or the framing of its body",
        "variants": {
            "bad_query": "only the query parameters of the API are accepted; a password "
            "never goes in the URL",
            "bad_header": "a request header holds a control character",
        },
    },
    {
        "name": "header_too_large",
        "statuses": (494,),
        "status": 400,
        "code": "too_large",
        "detail": "the request headers are too large",
    },
    {
        "name": "uri_too_long",
        "statuses": (414,),
        "status": 414,
        "code": "too_large",
        "detail": "the URL is too long",
    },
    {
        "name": "too_large",
        "statuses": (413,),
        "status": 413,
        "code": "too_large",
        "detail": None,
        "body_limit": True,
    },
    {
        "name": "not_implemented",
        "statuses": (501,),
        "status": 501,
        "code": "usage",
        "detail": "the request's Transfer-Encoding is not supported",
    },
    {"name": "rate_limited", "statuses": (429,), "status": 429, "code": "rate_limited", "detail": None},
    {
        "name": "unavailable",
        "statuses": (502, 503, 504),
        "status": 503,
        "code": "unavailable",
        "detail": None,
    },
    {"name": "internal", "statuses": (500,), "status": 500, "code": "internal", "detail": None},
    {"name": "forbidden", "statuses": (403,), "status": 403, "code": "forbidden", "detail": None},
    {"name": "not_found", "statuses": (404,), "status": 404, "code": "not_found", "detail": None},
    {
        "name": "method_not_allowed",
        "statuses": (405,),
        "status": 405,
        "code": "method_not_allowed",
        "detail": None,
    },
)


def error_body(code: str, detail: str | None = None, detail_ko: str | None = None) -> dict:
    """The JSON body of ``code`` with an optional detail, as HometaxError.message words it."""
    return {"error": errors.SPECS[code].to_dict(detail, detail_ko)}


def __getattr__(name: str):
    """The 0.2 names of the second table, derived from the one table for one release."""
    if name == "HTTP_ONLY":
        warnings.warn(
            "http_errors.HTTP_ONLY is deprecated: every code is in errors.SPECS",
            DeprecationWarning,
            stacklevel=2,
        )
        return {
            c: (s.http_status, s.message, s.message_ko)
            for c, s in errors.SPECS.items()
            if (s.exit_code is None and s.http_status is not None) or c == "internal"
        }
    if name == "STATUS_TO_CODE":
        warnings.warn(
            "http_errors.STATUS_TO_CODE is deprecated: use errors.code_for_status",
            DeprecationWarning,
            stacklevel=2,
        )
        return {st: errors.code_for_status(st) for s in errors.SPECS.values() for st in s.http_statuses}
    raise AttributeError(name)


def error_response(
    code: str, status: int | None = None, detail: str | None = None, detail_ko: str | None = None
):
    """The Flask answer of ``code``: its JSON body, its status (or ``status``: a Werkzeug status
    the table gives the code), its headers; the code is noted for the log line and X-Error-Code."""
    from flask import g, jsonify

    g.error_code = code
    resp = jsonify(error_body(code, detail, detail_ko))
    resp.status_code = status or errors.SPECS[code].http_status
    resp.headers.update(headers_for_code(code))
    return resp
