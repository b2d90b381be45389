"""The one table of the HTTP routes.

Each :class:`Route` says what the route is (path, methods, the view that answers it, whether it needs
an API key) and what it answers (its request, its 200 with content types, schemas and headers, the
error codes it can fail with). From this table: the Flask routes are registered (:func:`register`),
the OpenAPI document's paths are built (:mod:`.openapi`), nginx's Allow header per path is rendered
(ops/stack.py), and docs/api.md's route table is written (:func:`.openapi.markdown_table`; a test
keeps the file equal). Tests prove the rest: the app's url_map equals the table, and the headers each route
really sends equal the ones it documents.

Schemas are named by their key in the OpenAPI document's ``components.schemas``; headers by their
key in :data:`HEADERS`; error codes are the error table's (:mod:`hometax_decrypt.errors`).
"""

from __future__ import annotations

import importlib
from dataclasses import dataclass, field

from .. import errors

# Headers the app sends, with what they mean. Every answer carries COMMON_HEADERS; an error answer
# also ERROR_HEADERS (and a code's own: Retry-After, Allow).
HEADERS: dict[str, dict] = {
    "X-Request-ID": {
        "schema": {"type": "string"},
        "description": "the request's id (the client's X-Request-ID when it is 8-64 "
        "plain characters, else a new one): in every log line of it",
    },
    "Cache-Control": {"schema": {"type": "string"}, "description": "no-store"},
    "X-Error-Code": {"schema": {"type": "string"}, "description": "the error code of the body"},
    "X-NTS-Return-Code": {
        "schema": {"type": "string", "enum": ["1"]},
        "description": "the NTS API's return code: 1, success",
    },
    "X-Verification-Status": {
        "schema": {"type": "string"},
        "description": "authentic, untrusted_issuer, tampered or unsigned",
    },
    "X-Verification-Authentic": {
        "schema": {"type": "string", "enum": ["true", "false"]},
        "description": "a trusted timestamp (GPKI: the Korean government's shared TSA, or a configured "
        "anchor or pin) proves the file unchanged since it was stamped",
    },
    "X-Verification-Intact": {
        "schema": {"type": "string", "enum": ["true", "false"]},
        "description": "the file is unchanged since a vouched timestamp (trust chain or pinned); false for "
        "a stamp nobody vouches for, even when the file matches it",
    },
    "X-Verification-Code": {
        "schema": {"type": "string"},
        "description": "the NTS verifier's code: 0 or 21xx",
    },
    "X-Verification-NTS-Code": {
        "schema": {"type": "string"},
        "deprecated": True,
        "description": "the old name of X-Verification-Code (same value), for one release",
    },
    "X-Was-Encrypted": {
        "schema": {"type": "string", "enum": ["true", "false"]},
        "description": "the PDF had a document-open password",
    },
    "Content-Disposition": {
        "schema": {"type": "string"},
        "description": "attachment; the file name to save it under (ASCII and RFC 5987 UTF-8)",
    },
    "X-Batch-OK": {"schema": {"type": "string"}, "description": "files read"},
    "X-Batch-Failed": {"schema": {"type": "string"}, "description": "files that failed"},
    "X-Batch-Skipped": {
        "schema": {"type": "string"},
        "description": "ZIP entries not processed (format=json: which and why)",
    },
    "X-Batch-Errors": {
        "schema": {"type": "string"},
        "description": "formats other than json, when files failed: a JSON object "
        "error code -> number of files",
    },
    "Retry-After": {"schema": {"type": "string"}, "description": "seconds to wait before the next request"},
    "Allow": {"schema": {"type": "string"}, "description": "the methods the route answers"},
}
COMMON_HEADERS = ("X-Request-ID", "Cache-Control")
ERROR_HEADERS = ("X-Error-Code",)
_VERIFICATION = (
    "X-Verification-Status",
    "X-Verification-Authentic",
    "X-Verification-Intact",
    "X-Verification-Code",
    "X-Verification-NTS-Code",
)

# The error codes of the table every route can answer: the query allowlist (usage, from nginx and
# the app), another method, and no app server answering (nginx).
ANY_ROUTE = ("usage", "method_not_allowed", "unavailable")
API_ROUTE = ANY_ROUTE + ("rate_limited",)  # under /api/: nginx's rate and connection limits
DOCUMENT = API_ROUTE + (
    "unauthorized",
    "password_required",
    "wrong_password",
    "not_nts_document",
    "damaged",
    "too_large",
    "timeout",
)


@dataclass(frozen=True)
class Route:
    path: str
    methods: tuple[str, ...]
    endpoint: str  # the Flask endpoint name
    view: str  # "module:function" under hometax_decrypt.web
    summary: str
    ok: dict  # the 200's media type -> schema name (None: bytes), in the order of preference
    ok_description: str
    headers: tuple[str, ...] = ()  # the 200's own headers (keys of HEADERS), besides COMMON_HEADERS
    errors: tuple[str, ...] = ANY_ROUTE  # codes of the error table
    auth: bool = True  # needs X-API-Key (when the server requires keys)
    parameters: tuple[str, ...] = ()  # names of openapi.PARAMETERS
    body: str | None = None  # name of openapi.BODIES
    description: str = ""
    extra: dict = field(default_factory=dict)  # OpenAPI operation fields of this route only

    @property
    def statuses(self) -> dict[int, list[str]]:
        """HTTP status -> the codes of this route's errors answered with it."""
        out: dict[int, list[str]] = {}
        for code in self.errors:
            for st in errors.SPECS[code].http_statuses:
                out.setdefault(st, []).append(code)
        return dict(sorted(out.items()))


_DOC_HEADERS = ("X-NTS-Return-Code", *_VERIFICATION)

ROUTES: tuple[Route, ...] = (
    Route(
        "/api/v1/extract",
        ("POST",),
        "extract",
        "api:extract",
        "The XML or SAM data part, byte for byte as the NTS API returns it",
        {"application/xml": None, "text/plain": None},
        "the part's bytes (charset utf-8 or euc-kr)",
        headers=(*_DOC_HEADERS, "Content-Disposition"),
        errors=DOCUMENT,
        parameters=("X-Document-Password", "part", "encoding"),
        body="extract",
    ),
    Route(
        "/api/v1/verify",
        ("POST",),
        "verify",
        "api:verify",
        "Verify the NTS timestamp (same JSON as the CLI's verify)",
        {"application/json": "Verification"},
        "the verification (no password needed)",
        headers=_VERIFICATION,
        errors=DOCUMENT,
        body="verify",
    ),
    Route(
        "/api/v1/documents",
        ("POST",),
        "documents",
        "api:documents",
        "The parsed document in a format of the registry (GET /api/v1/formats)",
        "EXPORT",
        "the document: format=json the records export (docs/document.schema.json)",
        headers=(*_DOC_HEADERS, "Content-Disposition"),
        errors=DOCUMENT,
        parameters=("X-Document-Password", "format", "mask"),
        body="documents",
    ),
    Route(
        "/api/v1/decrypt",
        ("POST",),
        "decrypt",
        "api:decrypt",
        "The PDF with its password removed (for HR archives; re-saved, so its timestamp no longer verifies)",
        {"application/pdf": None},
        "the PDF",
        headers=("X-NTS-Return-Code", "X-Was-Encrypted", "Content-Disposition"),
        errors=DOCUMENT,
        parameters=("X-Document-Password",),
        body="decrypt",
    ),
    Route(
        "/api/v1/batch",
        ("POST",),
        "batch",
        "api:batch",
        "Many documents: several 'file' parts or one ZIP; per-file results or one combined "
        "export in any other format of the registry",
        "BATCH",
        "format=json: each file's result (nts_code: the NTS API's return code, 1 ok, "
        "0, -1, -2; verification.verifier_code the verifier's) and the ZIP entries skipped; any "
        "other format: the combined export of the files read",
        headers=("X-Batch-OK", "X-Batch-Failed", "X-Batch-Skipped", "X-Batch-Errors", "Content-Disposition"),
        errors=DOCUMENT,
        parameters=("X-Document-Password", "X-Document-Passwords", "format", "mask"),
        body="batch",
    ),
    Route(
        "/api/v1/export",
        ("POST",),
        "export_parts",
        "api:export_parts",
        "The combined export (any format of the registry) of many documents from their XML data "
        "parts (as /extract returns them); no PDF, no password. The upload page's 'download "
        "everything'",
        "EXPORT",
        "the combined export, documents in the order sent; JSON as /documents "
        "(verification null: no PDF was sent); with statuses, the totals rank duplicates by the "
        "claimed statuses and list them beside the server's (doc_claimed_status, counted_claimed_status)",
        headers=("Content-Disposition",),
        errors=DOCUMENT,
        body="export",
        description="The parts carry no proof of where they come from: every one is `unverified` to the "
        "server. `statuses` lets the client say, per part, what its own /extract call reported "
        "(X-Verification-Status). The server uses such a claim ONLY to rank duplicates in the totals "
        "(the same form of the same person and year in two parts: a part claimed authentic counts over "
        "one that is not, whatever their seq) and never reports it as its own verification: each "
        "document's verification_status stays unverified, unverified_documents and unverified_items "
        "still flag it, and the duplicates name each claim beside the server's status. This lets a "
        "client do nothing it could not already do (it could leave the other part out); the server "
        "does not vouch for a claim. Without statuses, the newest seq counts.",
    ),
    Route(
        "/api/v1/deductions",
        ("POST",),
        "deductions",
        "api:deductions",
        "The 공제신고서 lines per taxpayer and tax year from the documents (or a lines file), and "
        "with salary (총급여) an estimate of each deduction — an estimate, not the 연말정산 result",
        {"application/json": "Deductions"},
        "service.deductions' answer (docs/deductions.md, docs/deductions.schema.json): per return "
        "the lines and, with salary, the figures and what was not computed",
        errors=DOCUMENT + ("bad_lines", "bad_salary"),
        parameters=("X-Document-Password", "X-Document-Passwords", "mask"),
        body="deductions",
    ),
    Route(
        "/api/v1/formats",
        ("GET",),
        "formats_list",
        "api:formats_list",
        "The output formats (name, media type, file suffix, Korean label)",
        {"application/json": "Formats"},
        "the format registry",
        errors=API_ROUTE,
        auth=False,
    ),
    Route(
        "/api/v1/messages",
        ("GET",),
        "messages",
        "api:messages",
        "The Korean message of every error code (the one error table)",
        {"application/json": "Messages"},
        "code -> message_ko",
        errors=API_ROUTE,
        auth=False,
    ),
    Route(
        "/api/v1/openapi.json",
        ("GET",),
        "openapi",
        "meta:openapi",
        "This OpenAPI document",
        {"application/json": "OpenAPI"},
        "the OpenAPI 3.1 document",
        errors=API_ROUTE,
        auth=False,
    ),
    Route(
        "/api/v1/docs",
        ("GET",),
        "api_docs",
        "meta:api_docs",
        "A plain HTML list of the routes (no external resources)",
        {"text/html": None},
        "an HTML page",
        errors=API_ROUTE,
        auth=False,
    ),
    Route(
        "/healthz",
        ("GET",),
        "healthz",
        "meta:healthz",
        "The process is alive",
        {"application/json": "Health"},
        "alive",
        auth=False,
    ),
    Route(
        "/readyz",
        ("GET",),
        "readyz",
        "meta:readyz",
        "Can extract a built-in document and load the timestamp trust store",
        {"application/json": "Ready"},
        "ready (503 unavailable otherwise)",
        auth=False,
    ),
    Route(
        "/metrics",
        ("GET",),
        "metrics",
        "meta:metrics",
        "Prometheus metrics (counts, latency, error codes); only from the addresses of HOMETAX_METRICS_ALLOW",
        {"text/plain": None},
        "Prometheus text exposition format",
        errors=ANY_ROUTE + ("unauthorized", "forbidden"),
    ),
)

BY_ENDPOINT = {r.endpoint: r for r in ROUTES}
OPEN_ENDPOINTS = frozenset(r.endpoint for r in ROUTES if not r.auth)


def view(route: Route):
    module, name = route.view.split(":")
    return getattr(importlib.import_module(f"{__package__}.{module}"), name)


def register(app) -> None:
    """Every route of the table on ``app`` (Flask adds HEAD to GET, and OPTIONS)."""
    for r in ROUTES:
        app.add_url_rule(r.path, r.endpoint, view(r), methods=list(r.methods))


def allow(route: Route) -> str:
    """The Allow header of a 405 on ``route``: its methods, and what Flask adds (HEAD to GET,
    OPTIONS) — the same from the app and from nginx."""
    methods = set(route.methods) | {"OPTIONS"}
    if "GET" in methods:
        methods.add("HEAD")
    return ", ".join(sorted(methods))
