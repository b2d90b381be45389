"""The OpenAPI 3.1 document of the API, and a plain HTML page listing it (no external resources).

Generated, not written: its paths, methods, headers and per-route error statuses from the route
table (:mod:`.routes`); its error codes, statuses and headers (Retry-After, Allow) from the error
table (:mod:`hometax_decrypt.errors`); its format enums and media types from the format registry;
the records' schema from docs/document.schema.json (the packaged copy, records/document.schema.json,
is kept equal to it by a test). OpenAPI 3.1, not 3.0: its schemas are JSON Schema 2020-12, the
dialect of docs/document.schema.json, so that schema goes in unchanged and responses validate
against the document with a plain JSON Schema validator.
"""

from __future__ import annotations

import html
import json
import sys
from importlib import resources

from .. import errors, formats
from ..service import deductions as deductions_service
from ..service import operations as service
from ..service.archive import SKIP_REASONS
from . import routes
from .inputs import FLAG_VALUES

FORMAT_NAMES = list(formats.NAMES)
ERROR_CODES = errors.http_codes()
_REF = "#/components/schemas/"


def _packaged_schemas(package: str, file: str, root_name: str, prefix: str) -> dict:
    """A packaged JSON Schema as components: the root as ``root_name``, each ``$defs`` entry as
    ``prefix.NAME`` (its references rewritten to them)."""
    text = resources.files(package).joinpath(file).read_text(encoding="utf-8")
    text = text.replace('"#/$defs/', f'"{_REF}{prefix}.')
    root = json.loads(text)
    defs = root.pop("$defs", {})
    root.pop("$schema", None)
    root.pop("$id", None)
    return {root_name: root, **{f"{prefix}.{name}": schema for name, schema in defs.items()}}


_STR = {"type": "string"}


def _records_schemas() -> dict:
    """docs/document.schema.json (packaged: records/document.schema.json) as ``Records`` and
    ``records.NAME``."""
    return _packaged_schemas("hometax_decrypt.records", "document.schema.json", "Records", "records")


def _deductions_schemas() -> dict:
    """docs/deductions.schema.json (packaged: deductions/deductions.schema.json), a return, as
    ``DeductionReturn`` and ``deductions.NAME``; around it the answer of service.deductions
    (``Deductions``: format, version, notice, returns)."""
    out = _packaged_schemas(
        "hometax_decrypt.deductions", "deductions.schema.json", "DeductionReturn", "deductions"
    )
    out["Deductions"] = {
        "type": "object",
        "required": ["format", "version", "notice", "returns"],
        "additionalProperties": False,
        "properties": {
            "format": {"const": deductions_service.FORMAT},
            "version": {"const": deductions_service.VERSION},
            "notice": {
                "type": "object",
                "required": ["en", "ko"],
                "additionalProperties": False,
                "properties": {"en": _STR, "ko": _STR},
                "description": "an estimate, not the 연말정산 result: show it with the figures",
            },
            "returns": {
                "type": "array",
                "description": "one per taxpayer and tax year",
                "items": {
                    "allOf": [
                        {"$ref": _REF + "DeductionReturn"},
                        {
                            "required": [
                                "taxpayer",
                                "att_year",
                                "lines",
                                "salary",
                                "figures",
                                "not_computed",
                                "warnings",
                            ]
                        },
                    ]
                },
            },
        },
    }
    return out


def _nullable(schema: dict) -> dict:
    return {"anyOf": [schema, {"type": "null"}]}


_ERROR_OBJECT = {
    "type": "object",
    "required": ["code", "nts_code", "message", "message_ko"],
    "additionalProperties": False,
    "properties": {
        "code": {"type": "string", "enum": ERROR_CODES},
        "nts_code": {
            "type": ["integer", "null"],
            "description": "the NTS API's return code (0, -1, -2), or null",
        },
        "message": _STR,
        "message_ko": _STR,
    },
}

SCHEMAS: dict = {
    "ErrorObject": _ERROR_OBJECT,
    "Error": {
        "type": "object",
        "required": ["error"],
        "additionalProperties": False,
        "properties": {"error": {"$ref": _REF + "ErrorObject"}},
    },
    # one source: docs/document.schema.json's $defs/verification (its reason_code enum is the
    # verdict table, timestamp/verdicts.py), as the component records.verification
    "Verification": {"$ref": _REF + "records.verification"},
    "BatchResult": {
        "type": "object",
        "required": ["files", "ok", "failed", "skipped"],
        "additionalProperties": False,
        "properties": {
            "files": {
                "type": "array",
                "items": {
                    "oneOf": [
                        {
                            "type": "object",
                            "required": ["file", "ok", "nts_code", "verification", "document"],
                            "additionalProperties": False,
                            "properties": {
                                "file": _STR,
                                "ok": {"const": True},
                                "nts_code": {"const": 1},
                                "verification": {"$ref": _REF + "Verification"},
                                "document": {"$ref": _REF + "records.document"},
                            },
                        },
                        {
                            "type": "object",
                            "required": ["file", "ok", "nts_code", "error"],
                            "additionalProperties": False,
                            "properties": {
                                "file": _STR,
                                "ok": {"const": False},
                                "nts_code": {"type": ["integer", "null"]},
                                "error": {"$ref": _REF + "ErrorObject"},
                            },
                        },
                    ]
                },
            },
            "ok": {"type": "integer", "minimum": 0},
            "failed": {"type": "integer", "minimum": 0},
            "skipped": {
                "type": "array",
                "items": {
                    "type": "object",
                    "required": ["file", "reason", "message"],
                    "additionalProperties": False,
                    "properties": {"file": _STR, "reason": {"enum": list(SKIP_REASONS)}, "message": _STR},
                },
            },
        },
    },
    "Formats": {
        "type": "object",
        "required": ["default", "formats"],
        "additionalProperties": False,
        "properties": {
            "default": {"enum": FORMAT_NAMES},
            "formats": {
                "type": "array",
                "items": {
                    "type": "object",
                    "required": ["name", "media_type", "suffix", "label_ko"],
                    "additionalProperties": False,
                    "properties": {
                        "name": {"enum": FORMAT_NAMES},
                        "media_type": _STR,
                        "suffix": _STR,
                        "label_ko": _STR,
                    },
                },
            },
        },
    },
    "Messages": {
        "type": "object",
        "required": ["messages"],
        "additionalProperties": False,
        "properties": {
            "messages": {
                "type": "object",
                "propertyNames": {"enum": ERROR_CODES},
                "required": ERROR_CODES,
                "additionalProperties": _STR,
            }
        },
    },
    "Health": {
        "type": "object",
        "required": ["status"],
        "additionalProperties": False,
        "properties": {"status": {"const": "ok"}},
    },
    "Ready": {
        "type": "object",
        "required": ["status"],
        "additionalProperties": False,
        "properties": {"status": {"const": "ready"}},
    },
    "OpenAPI": {"type": "object", "required": ["openapi", "info", "paths"]},
    **_records_schemas(),
    **_deductions_schemas(),
}

_PDF_FIELDS = {
    "file": {"type": "string", "format": "binary", "description": "the NTS PDF"},
    "password": {"type": "string", "description": "document-open password (문서열기암호)"},
    "part": {"type": "string", "enum": ["xml", "sam"], "default": "xml"},
    "encoding": {"type": "string", "enum": ["utf-8", "euc-kr"], "default": "utf-8"},
    "format": {"type": "string", "enum": FORMAT_NAMES, "default": formats.DEFAULT},
    "mask": {"type": "string", "enum": list(FLAG_VALUES), "default": "false"},
}
_PASSWORD_MAP = {"type": "object", "additionalProperties": {"type": "string"}}


def _pdf_body(*fields: str) -> dict:
    """One PDF as a multipart 'file' part with the form fields the operation reads, or as the body."""
    return {
        "required": True,
        "content": {
            "multipart/form-data": {
                "schema": {
                    "type": "object",
                    "required": ["file"],
                    "properties": {name: _PDF_FIELDS[name] for name in ("file", *fields)},
                }
            },
            "application/pdf": {"schema": {"type": "string", "format": "binary"}},
        },
    }


def _files(description: str) -> dict:
    # format: binary (an OpenAPI annotation 3.1 keeps): fuzzers send it as a file part
    return {
        "type": "array",
        "minItems": 1,
        "description": description,
        "items": {"type": "string", "format": "binary"},
    }


BODIES = {
    "extract": _pdf_body("password", "part", "encoding"),
    "verify": _pdf_body(),
    "documents": _pdf_body("password", "format", "mask"),
    "decrypt": _pdf_body("password"),
    "batch": {
        "required": True,
        "content": {
            "multipart/form-data": {
                "schema": {
                    "type": "object",
                    "required": ["file"],
                    "properties": {
                        "file": _files("the PDFs, or one ZIP of them"),
                        "password": {"type": "string", "description": "one password for all files"},
                        "passwords": {**_PASSWORD_MAP, "description": "JSON object: file name -> password"},
                        "format": {"type": "string", "enum": FORMAT_NAMES},
                        "mask": _PDF_FIELDS["mask"],
                    },
                },
                "encoding": {"passwords": {"contentType": "application/json"}},
            },
            "application/zip": {"schema": {"type": "string", "format": "binary"}},
        },
    },
    "deductions": {
        "required": True,
        "content": {
            "multipart/form-data": {
                "schema": {
                    "type": "object",
                    "description": "the documents ('file' parts, or one ZIP) or one 'lines' part, not both",
                    "oneOf": [{"required": ["file"]}, {"required": ["lines"]}],
                    "properties": {
                        "file": _files(
                            "the NTS PDFs (of one or more taxpayers and years), or one ZIP of them"
                        ),
                        "lines": {
                            "type": "string",
                            "format": "binary",
                            "description": "instead of files: a lines file (JSON: att_year and lines; "
                            "docs/deductions.md §3, docs/deductions.schema.json), or an answer given back",
                        },
                        "password": {"type": "string", "description": "one password for all files"},
                        "passwords": {**_PASSWORD_MAP, "description": "JSON object: file name -> password"},
                        "salary": {
                            "type": "string",
                            "description": "총급여: a whole, non-negative number of 원 (48000000 or "
                            "48,000,000; else 422 bad_salary). With it the estimate; without it (or "
                            "empty) no figures, and not_computed says the salary is missing",
                        },
                        "facts": {
                            **deductions_service.FACTS_SCHEMA,
                            "description": "JSON object of what 간소화 does not carry (docs/deductions.md §7): "
                            "disabled, special_case, children, births, age_50_plus, "
                            "homeless_householder, mortgage_loan_type",
                        },
                        "mask": _PDF_FIELDS["mask"],
                    },
                },
                "encoding": {
                    "passwords": {"contentType": "application/json"},
                    "lines": {"contentType": "application/json"},
                    "facts": {"contentType": "application/json"},
                },
            }
        },
    },
    "export": {
        "required": True,
        "content": {
            "multipart/form-data": {
                "schema": {
                    "type": "object",
                    "required": ["file"],
                    "properties": {
                        "file": _files(
                            "one XML data part per document (POST /extract, part=xml), in the "
                            "order wanted in the output"
                        ),
                        "format": _PDF_FIELDS["format"],
                        "mask": _PDF_FIELDS["mask"],
                        "statuses": {
                            "type": "array",
                            "items": {"enum": [*service.CLAIMABLE_STATUSES, None]},
                            "description": "optional JSON array, one entry per file part in their "
                            "order: the X-Verification-Status the client's own /extract call "
                            "reported for that document, or null. Ranks duplicates in the totals "
                            "only (see the operation's description); a malformed array, a length "
                            "other than the parts', or another status: 400 usage",
                        },
                    },
                },
                "encoding": {"statuses": {"contentType": "application/json"}},
            }
        },
    },
}


def _query(name: str) -> dict:
    return {
        "name": name,
        "in": "query",
        "required": False,
        "description": "for raw-body uploads (multipart uses the form field)",
        "schema": {k: v for k, v in _PDF_FIELDS[name].items() if k != "description"},
    }


PARAMETERS = {
    "X-Document-Password": {
        "name": "X-Document-Password",
        "in": "header",
        "required": False,
        "description": "password for a raw-body upload (UTF-8); never put it in the URL",
        "schema": {"type": "string"},
    },
    "X-Document-Passwords": {
        "name": "X-Document-Passwords",
        "in": "header",
        "required": False,
        "description": "JSON object: file name -> password",
        "content": {"application/json": {"schema": _PASSWORD_MAP}},
    },
    **{name: _query(name) for name in ("part", "encoding", "format", "mask")},
}


def _export_content(json_schema: str) -> dict:
    """A format of the registry per media type: JSON by its schema, the others as bytes."""
    out = {}
    for f in formats.FORMATS.values():
        media = f.media_type.split(";")[0]
        out[media] = {
            "schema": {"$ref": _REF + json_schema}
            if f.name == "json"
            else {"type": "string", "contentMediaType": media}
        }
    return out


def _content(route: routes.Route) -> dict:
    if route.ok == "EXPORT":
        return _export_content("Records")
    if route.ok == "BATCH":
        return _export_content("BatchResult")
    return {
        media: {"schema": {"$ref": _REF + name} if name else {"type": "string", "contentMediaType": media}}
        for media, name in route.ok.items()
    }


def content_types(route: routes.Route) -> list[str]:
    return list(_content(route))


def _headers(names) -> dict:
    return {name: routes.HEADERS[name] for name in names}


def _error_response(route: routes.Route, status: int, codes: list[str]) -> dict:
    headers = _headers(routes.COMMON_HEADERS + routes.ERROR_HEADERS)
    for code in codes:
        spec = errors.SPECS[code]
        if spec.retry_after is not None:
            headers["Retry-After"] = {**routes.HEADERS["Retry-After"], "required": True}
    if status == 405:
        headers["Allow"] = {**routes.HEADERS["Allow"], "required": True}
    return {
        "description": "; ".join(f"{c}: {errors.SPECS[c].when}" for c in codes),
        "headers": headers,
        "content": {"application/json": {"schema": {"$ref": _REF + "Error"}}},
    }


def _operation(route: routes.Route) -> dict:
    op: dict = {"operationId": route.endpoint, "summary": route.summary}
    if not route.auth:
        op["security"] = []
    if route.parameters:
        op["parameters"] = [PARAMETERS[p] for p in route.parameters]
    if route.description:
        op["description"] = route.description
    if route.body:
        op["requestBody"] = BODIES[route.body]
    op["responses"] = {
        "200": {
            "description": route.ok_description,
            "headers": _headers(routes.COMMON_HEADERS + route.headers),
            "content": _content(route),
        }
    }
    for status, codes in route.statuses.items():
        op["responses"][str(status)] = _error_response(route, status, codes)
    return op


def build() -> dict:
    paths: dict = {}
    for r in routes.ROUTES:
        for method in r.methods:
            paths.setdefault(r.path, {})[method.lower()] = _operation(r)
    return {
        "openapi": "3.1.0",
        "info": {
            "title": "hometax-decrypt",
            "version": "1",
            "description": "Extract, verify and parse NTS year-end settlement (연말정산 간소화) "
            'PDF documents. Errors: {"error": {"code", "nts_code", '
            '"message", "message_ko"}}; a 429 carries Retry-After.',
        },
        "servers": [{"url": "/"}],
        "security": [{"apiKey": []}, {}],
        "paths": paths,
        "components": {
            "securitySchemes": {"apiKey": {"type": "apiKey", "in": "header", "name": "X-API-Key"}},
            "schemas": SCHEMAS,
        },
    }


OPENAPI: dict = build()


def docs_html() -> str:
    rows = []
    for path, ops in OPENAPI["paths"].items():
        for method, op in ops.items():
            rows.append(
                f"<tr><td><code>{method.upper()}</code></td><td><code>{html.escape(path)}"
                f"</code></td><td>{html.escape(op['summary'])}</td></tr>"
            )
    return (
        '<!doctype html><html lang="en"><head><meta charset="utf-8">'
        "<title>hometax-decrypt API</title><style>body{font-family:sans-serif;margin:2em}"
        "td{padding:.3em .8em;border-bottom:1px solid #ddd}</style></head><body>"
        "<h1>hometax-decrypt API</h1><p>OpenAPI document: "
        '<a href="/api/v1/openapi.json">/api/v1/openapi.json</a>. Authentication: '
        "<code>X-API-Key</code> header when the server requires it. Passwords go in the "
        "<code>password</code> form field or the <code>X-Document-Password</code> header, "
        "never in the URL.</p><table>" + "".join(rows) + "</table></body></html>"
    )


def markdown_table() -> str:
    """docs/api.md's route table, from the route table (``python -m hometax_decrypt.web.openapi``)."""
    lines = [
        "| route | API key | 200 | headers (besides `X-Request-ID`, `Cache-Control`) | errors |",
        "| --- | --- | --- | --- | --- |",
    ]
    for r in routes.ROUTES:
        types = ", ".join(f"`{t}`" for t in content_types(r))
        heads = ", ".join(f"`{h}`" for h in r.headers) or "—"
        errs = ", ".join(f"{st} `{'`/`'.join(codes)}`" for st, codes in r.statuses.items())
        lines.append(
            f"| `{' '.join(r.methods)} {r.path}` | {'yes' if r.auth else 'no'} | "
            f"{types}: {r.ok_description} | {heads} | {errs} |"
        )
    return "\n".join(lines) + "\n"


if __name__ == "__main__":  # python -m hometax_decrypt.web.openapi: print docs/api.md's route table
    sys.stdout.write(markdown_table())
