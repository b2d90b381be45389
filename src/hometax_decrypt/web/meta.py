"""The service's own routes: liveness and readiness probes, metrics, and the API's description.
Registered from the route table (:mod:`.routes`) like the API's."""

from __future__ import annotations

import functools
import json

from flask import Response, current_app, jsonify

from .. import errors
from ..timestamp import TrustStore
from . import http_errors, selftest
from . import metrics as _metrics


def _trust_ready(trust) -> None:
    """Verify the built-in (unsigned) self-test document with ``trust`` exactly as every
    verification does; raises when it cannot."""
    from ..timestamp import verify_bytes

    verify_bytes(selftest.selftest_pdf(), trust=trust)


def healthz():
    return jsonify({"status": "ok"})


def readyz():
    try:
        ready = selftest.check()
        # the configured trust still loads (a trust directory removed or spoiled since start)
        settings = current_app.config["HOMETAX_SETTINGS"]
        _trust_ready(TrustStore.configured(settings.trust_dir, settings.trust_pinned, settings.trust_replace))
    except errors.HometaxError:
        ready = False
    if not ready:
        return http_errors.error_response("unavailable")
    return jsonify({"status": "ready"})


def metrics():
    data, ctype = _metrics.render()
    return Response(data, content_type=ctype)


@functools.lru_cache(maxsize=1)
def _openapi_bytes() -> bytes:
    """The document serialized once (~100 KB of JSON: the records schema is in it)."""
    from .openapi import OPENAPI

    return json.dumps(OPENAPI, ensure_ascii=False, separators=(",", ":")).encode("utf-8")


def openapi():
    return Response(_openapi_bytes(), content_type="application/json")


def api_docs():
    from .openapi import docs_html

    return Response(docs_html(), content_type="text/html; charset=utf-8")
