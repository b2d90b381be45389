"""The JSON error shape of the API and the few failures that exist only over HTTP.

Document failures come from the one table in :mod:`hometax_decrypt.errors` (code, NTS return code,
HTTP status). The codes here have no NTS return code and no CLI exit: a missing API key, an unknown
endpoint, a rate limit. nginx answers 413/429/502-504 itself with the same shape (deploy/nginx.conf.in).
"""

from __future__ import annotations

from .. import errors

# code -> (HTTP status, English message, Korean message)
HTTP_ONLY: dict[str, tuple[int, str, str]] = {
    "unauthorized": (401, "A valid X-API-Key header is required.", "API 키가 필요합니다."),
    "forbidden": (403, "Access denied.", "접근이 거부되었습니다."),
    "not_found": (404, "No such endpoint.", "요청한 주소가 없습니다."),
    "method_not_allowed": (405, "Method not allowed.", "허용되지 않는 요청 방식입니다."),
    "rate_limited": (429, "Too many requests; retry later.",
                     "요청이 너무 많습니다. 잠시 후 다시 시도하세요."),
    "internal": (500, "Internal error.", "내부 오류가 발생했습니다."),
    "unavailable": (503, "The service is unavailable; retry later.",
                    "서비스를 일시적으로 사용할 수 없습니다. 잠시 후 다시 시도하세요."),
}

STATUS_TO_CODE = {400: "usage", 401: "unauthorized", 403: "forbidden", 404: "not_found",
                  405: "method_not_allowed", 413: "too_large", 429: "rate_limited",
                  500: "internal", 502: "unavailable", 503: "unavailable", 504: "unavailable"}


def body_for_code(code: str, message: str | None = None) -> tuple[int, dict]:
    """(HTTP status, JSON body) for a code of either table."""
    if code in errors.SPECS:
        spec = errors.SPECS[code]
        return spec.http_status, {"error": {"code": code, "nts_code": spec.nts_code,
                                            "message": message or spec.message,
                                            "message_ko": spec.message_ko}}
    status, msg, msg_ko = HTTP_ONLY[code]
    return status, {"error": {"code": code, "nts_code": None, "message": message or msg,
                              "message_ko": msg_ko}}


def body_for_exception(exc: errors.HometaxError) -> tuple[int, dict]:
    return exc.http_status, {"error": exc.to_dict()}


def messages_ko() -> dict[str, str]:
    """code -> Korean message, for every code of both tables (the upload page's messages:
    GET /api/v1/messages)."""
    out = {code: spec.message_ko for code, spec in errors.SPECS.items()}
    out.update({code: msg_ko for code, (_, _, msg_ko) in HTTP_ONLY.items()})
    return out
# The errors nginx answers itself (deploy/nginx.conf.in), as data for rendering the template: each
# named location catches ``statuses`` and answers ``status`` with the body of ``code`` from the tables
# above; ``detail`` says what nginx refused, and ``variants`` are refusals of nginx's own rewrite rules
# (locations of their own, which the template rewrites to).
NGINX_ERRORS: tuple[dict, ...] = (
    {"name": "bad_request", "statuses": (400,), "status": 400, "code": "usage",
     "detail": "the request is malformed: its URI, a header or the framing of its body",
     "variants": {"bad_query": "only the query parameters of the API are accepted; a password "
                               "never goes in the URL",
                  "bad_header": "a request header holds a control character"}},
    {"name": "header_too_large", "statuses": (494,), "status": 400, "code": "too_large",
     "detail": "the request headers are too large"},
    {"name": "uri_too_long", "statuses": (414,), "status": 414, "code": "too_large",
     "detail": "the URL is too long"},
    {"name": "too_large", "statuses": (413,), "status": 413, "code": "too_large", "detail": None},
    {"name": "not_implemented", "statuses": (501,), "status": 501, "code": "usage",
     "detail": "the request's Transfer-Encoding is not supported"},
    {"name": "rate_limited", "statuses": (429,), "status": 429, "code": "rate_limited",
     "detail": None},
    {"name": "unavailable", "statuses": (502, 503, 504), "status": 503, "code": "unavailable",
     "detail": None},
    {"name": "internal", "statuses": (500,), "status": 500, "code": "internal", "detail": None},
    {"name": "forbidden", "statuses": (403,), "status": 403, "code": "forbidden", "detail": None},
    {"name": "not_found", "statuses": (404,), "status": 404, "code": "not_found", "detail": None},
    {"name": "method_not_allowed", "statuses": (405,), "status": 405,
     "code": "method_not_allowed", "detail": None},
)


def error_body(code: str, detail: str | None = None) -> dict:
    """The JSON body of ``code`` with an optional detail, as HometaxError.message words it."""
    _, body = body_for_code(code)
    if detail:
        body["error"]["message"] = f"{body['error']['message']} ({detail})"
    return body
