"""The OpenAPI 3 document of the API, and a plain HTML page listing it (no external resources).

Its error codes and error statuses come from the error tables (errors.py, http_errors.py); its
format enums and media types from the format registry (formats.py)."""

from __future__ import annotations

import html

from .. import errors, formats
from .http_errors import HTTP_ONLY
from .inputs import FLAG_VALUES

_ERR = {"$ref": "#/components/responses/Error"}
FORMAT_NAMES = list(formats.NAMES)
ERROR_CODES = list(errors.SPECS) + [c for c in HTTP_ONLY if c not in errors.SPECS]
# Every status a document can fail with (the error table), and the HTTP-only ones of every request
DOCUMENT_STATUSES = sorted({s.http_status for s in errors.SPECS.values()} | {401, 429})
_EXPORT_CONTENT = {f.media_type.split(";")[0]: {} for f in formats.FORMATS.values()}
_PDF_FIELDS = {
    "file": {"type": "string", "format": "binary", "description": "the NTS PDF"},
    "password": {"type": "string", "description": "document-open password (문서열기암호)"},
    "part": {"type": "string", "enum": ["xml", "sam"], "default": "xml"},
    "encoding": {"type": "string", "enum": ["utf-8", "euc-kr"], "default": "utf-8"},
    "format": {"type": "string", "enum": FORMAT_NAMES, "default": formats.DEFAULT},
    "mask": {"type": "string", "enum": list(FLAG_VALUES), "default": "false"},
}


def _pdf_body(*fields: str) -> dict:
    """One PDF as a multipart 'file' part with the form fields the operation reads, or as the body."""
    return {"required": True, "content": {
        "multipart/form-data": {"schema": {"type": "object", "required": ["file"], "properties": {
            name: _PDF_FIELDS[name] for name in ("file", *fields)}}},
        "application/pdf": {"schema": {"type": "string", "format": "binary"}}}}


# A password map: file name -> password, sent as JSON text.
_PASSWORD_MAP = {"type": "object", "additionalProperties": {"type": "string"}}


_PW_HEADER = {"name": "X-Document-Password", "in": "header", "required": False,
              "description": "password for a raw-body upload (UTF-8); never put it in the URL",
              "schema": {"type": "string"}}
_KEY = [{"apiKey": []}, {}]


def _q(name, enum, default):
    return {"name": name, "in": "query", "required": False,
            "description": "for raw-body uploads (multipart uses the form field)",
            "schema": {"type": "string", "enum": enum, "default": default}}


def _errors(*statuses):
    """Error responses of an operation: the ones named, and those every route can answer (405 for
    another method, with Allow; 503 from nginx when no app server instance answers)."""
    out = {str(s): _ERR for s in statuses}
    out["405"] = {"$ref": "#/components/responses/MethodNotAllowed"}
    out["503"] = _ERR
    return out


VERIFICATION_HEADERS = {
    "X-NTS-Return-Code": {"schema": {"type": "integer"}, "description": "1: success (NTS API)"},
    "X-Verification-Status": {"schema": {"type": "string"}},
    "X-Verification-Authentic": {"schema": {"type": "string", "enum": ["true", "false"]}},
}

OPENAPI: dict = {
    "openapi": "3.0.3",
    "info": {"title": "hometax-decrypt", "version": "1",
             "description": "Extract, verify and parse NTS year-end settlement (연말정산 간소화) PDF "
                            "documents. Errors: {\"error\": {\"code\", \"nts_code\", \"message\"}}."},
    "servers": [{"url": "/"}],
    "security": _KEY,
    "paths": {
        "/api/v1/extract": {"post": {
            "summary": "The XML or SAM data part, byte for byte as the NTS API returns it",
            "parameters": [_PW_HEADER, _q("part", ["xml", "sam"], "xml"),
                           _q("encoding", ["utf-8", "euc-kr"], "utf-8")],
            "requestBody": _pdf_body("password", "part", "encoding"),
            "responses": {"200": {"description": "the part's bytes", "headers": VERIFICATION_HEADERS,
                                  "content": {"application/xml": {}, "text/plain": {}}},
                          **_errors(*DOCUMENT_STATUSES)}}},
        "/api/v1/verify": {"post": {
            "summary": "Verify the NTS timestamp (same JSON as the CLI's verify)",
            "requestBody": _pdf_body(),
            "responses": {"200": {"description": "verification result",
                                  "content": {"application/json": {}}},
                          **_errors(*DOCUMENT_STATUSES)}}},
        "/api/v1/documents": {"post": {
            "summary": "The parsed document in a format of the registry (GET /api/v1/formats)",
            "parameters": [_PW_HEADER, _q("format", FORMAT_NAMES, formats.DEFAULT),
                           _q("mask", list(FLAG_VALUES), "false")],
            "requestBody": _pdf_body("password", "format", "mask"),
            "responses": {"200": {"description": "the document",
                                  "content": _EXPORT_CONTENT},
                          **_errors(*DOCUMENT_STATUSES)}}},
        "/api/v1/decrypt": {"post": {
            "summary": "The PDF with its password removed (for HR archives; re-saved, so its "
                       "timestamp no longer verifies)",
            "parameters": [_PW_HEADER],
            "requestBody": _pdf_body("password"),
            "responses": {"200": {"description": "the PDF", "content": {"application/pdf": {}}},
                          **_errors(*DOCUMENT_STATUSES)}}},
        "/api/v1/batch": {"post": {
            "summary": "Many documents: several 'file' parts or one ZIP; per-file results or one "
                       "combined export in any other format of the registry",
            "parameters": [_PW_HEADER, _q("format", FORMAT_NAMES, formats.DEFAULT),
                           _q("mask", list(FLAG_VALUES), "false"),
                           {"name": "X-Document-Passwords", "in": "header", "required": False,
                            "description": "JSON object: file name -> password",
                            "content": {"application/json": {"schema": _PASSWORD_MAP}}}],
            "requestBody": {"required": True, "content": {
                "multipart/form-data": {"schema": {"type": "object", "required": ["file"],
                                                   "properties": {
                    "file": {"type": "array", "minItems": 1,
                             "items": {"type": "string", "format": "binary"}},
                    "password": {"type": "string", "description": "one password for all files"},
                    "passwords": {**_PASSWORD_MAP,
                                  "description": "JSON object: file name -> password"},
                    "format": {"type": "string", "enum": FORMAT_NAMES},
                    "mask": _PDF_FIELDS["mask"]}},
                    "encoding": {"passwords": {"contentType": "application/json"}}},
                "application/zip": {"schema": {"type": "string", "format": "binary"}}}},
            "responses": {"200": {"description": "per-file results (JSON) or the combined export; "
                                                 "X-Batch-OK / X-Batch-Failed headers, and for "
                                                 "csv/xlsx X-Batch-Errors: a JSON object of error "
                                                 "code -> number of files (the names are in the "
                                                 "JSON answer); in JSON, 'skipped' lists the "
                                                 "ZIP entries not processed and why. Per file, "
                                                 "nts_code is the NTS API's return code (1 ok, 0, "
                                                 "-1, -2) and verification.verifier_code the "
                                                 "verifier's (0 or 21xx; verification.nts_code is "
                                                 "its old name, kept for one release)"},
                          **_errors(*DOCUMENT_STATUSES)}}},
        "/api/v1/export": {"post": {
            "summary": "The combined export (any format of the registry) of many documents from "
                       "their XML data parts "
                       "(as /extract returns them); no PDF, no password. The upload page's "
                       "'download everything'",
            "requestBody": {"required": True, "content": {
                "multipart/form-data": {"schema": {"type": "object", "required": ["file"],
                                                   "properties": {
                    "file": {"type": "array", "minItems": 1,
                             "items": {"type": "string", "format": "binary"},
                             "description": "one XML data part per document (POST /extract, "
                                            "part=xml), in the order wanted in the output"},
                    "format": {"type": "string", "enum": FORMAT_NAMES,
                               "default": formats.DEFAULT},
                    "mask": _PDF_FIELDS["mask"]}}}}},
            "responses": {"200": {"description": "the combined export, documents in the order "
                                                 "sent; JSON as /documents (verification null: "
                                                 "no PDF was sent)",
                                  "content": _EXPORT_CONTENT},
                          **_errors(*DOCUMENT_STATUSES)}}},
        "/api/v1/formats": {"get": {
            "summary": "The output formats (name, media type, file suffix, Korean label)",
            "security": [], "responses": {"200": {"description": "the format registry",
                                                  "content": {"application/json": {}}},
                                                  **_errors(429)}}},
        "/api/v1/messages": {"get": {
            "summary": "The Korean message of every error code (the one error table)",
            "security": [], "responses": {"200": {"description": "code -> message_ko",
                                                  "content": {"application/json": {}}},
                                                  **_errors(429)}}},
        "/healthz": {"get": {"summary": "The process is alive", "security": [],
                             "responses": {"200": {"description": "alive"}, **_errors()}}},
        "/readyz": {"get": {"summary": "Can extract a built-in document", "security": [],
                            "responses": {"200": {"description": "ready"}, **_errors()}}},
        "/metrics": {"get": {"summary": "Prometheus metrics (counts, latency, error codes); only "
                                        "from the addresses of HOMETAX_METRICS_ALLOW",
                             "responses": {"200": {"description": "text exposition format"},
                                           **_errors(401, 403)}}},
    },
    "components": {
        "securitySchemes": {"apiKey": {"type": "apiKey", "in": "header", "name": "X-API-Key"}},
        "responses": {
            "MethodNotAllowed": {
                "description": "the route does not answer this method",
                "headers": {"Allow": {"required": True, "schema": {"type": "string"},
                                      "description": "the methods the route answers"}},
                "content": {"application/json": {"schema": {"$ref": "#/components/schemas/Error"}}}},
            "Error": {"description": "an error (422: the file is not an NTS document, is damaged, "
                                     "or its password is missing or wrong)",
                      "content": {"application/json": {"schema": {"$ref": "#/components/schemas/Error"}}}}},
        "schemas": {"Error": {"type": "object", "properties": {"error": {"type": "object", "properties": {
            "code": {"type": "string", "enum": ERROR_CODES},
            "nts_code": {"type": "integer", "nullable": True},
            "message": {"type": "string"},
            "message_ko": {"type": "string"}}}}}},
    },
}


def docs_html() -> str:
    rows = []
    for path, ops in OPENAPI["paths"].items():
        for method, op in ops.items():
            rows.append(f"<tr><td><code>{method.upper()}</code></td><td><code>{html.escape(path)}"
                        f"</code></td><td>{html.escape(op['summary'])}</td></tr>")
    return ("<!doctype html><html lang=\"en\"><head><meta charset=\"utf-8\">"
            "<title>hometax-decrypt API</title><style>body{font-family:sans-serif;margin:2em}"
            "td{padding:.3em .8em;border-bottom:1px solid #ddd}</style></head><body>"
            "<h1>hometax-decrypt API</h1><p>OpenAPI document: "
            "<a href=\"/api/v1/openapi.json\">/api/v1/openapi.json</a>. Authentication: "
            "<code>X-API-Key</code> header when the server requires it. Passwords go in the "
            "<code>password</code> form field or the <code>X-Document-Password</code> header, "
            "never in the URL.</p><table>" + "".join(rows) + "</table></body></html>")
