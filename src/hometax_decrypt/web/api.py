"""The API blueprint: /api/v1/extract, verify, documents, decrypt, batch. Thin: every decision about a
document is the core's; this module only moves bytes in and out of HTTP."""

from __future__ import annotations

import dataclasses
import functools
import json
import time
from collections import Counter
from urllib.parse import quote

from flask import Blueprint, Response, current_app, jsonify

from .. import errors
from ..limits import Deadline, Limits
from ..pdf import normalize_encoding, normalize_part, open_document
from . import batch as batch_mod
from . import inputs
from .metrics import DOCUMENTS

bp = Blueprint("api", __name__, url_prefix="/api/v1")

NTS_OK = 1  # the NTS API's return code for success (Java NTS_GetLastError)


def _config():
    return current_app.config["HOMETAX"]


def _limits():
    return current_app.config["HOMETAX_LIMITS"]


def _limits_within(deadline: Deadline) -> Limits:
    """The per-document limits, with no more time than the request has left."""
    lim = _limits()
    left = max(0.0, deadline.end - time.monotonic())
    return dataclasses.replace(lim, max_seconds=min(lim.max_seconds, left))


def _document_headers(resp: Response, v, attachment: str | None) -> None:
    """What every answer built from one document carries: the NTS return code, the verification, and
    the file name to save it under."""
    resp.headers["X-NTS-Return-Code"] = str(NTS_OK)
    resp.headers.update(_verification_headers(v))
    if attachment:
        resp.headers["Content-Disposition"] = _attachment(attachment)


def _verification_headers(v) -> dict[str, str]:
    headers = {
        "X-Verification-Status": str(v.status),
        "X-Verification-Authentic": "true" if v.authentic else "false",
        "X-Verification-Intact": "true" if v.intact else "false",
    }
    if v.nts_code is not None:
        headers["X-Verification-NTS-Code"] = str(v.nts_code)
    return headers


ATTACHMENT_NAME_MAX = 100  # characters: the header stays well inside nginx's proxy_buffer_size


def _attachment(name: str) -> str:
    if len(name) > ATTACHMENT_NAME_MAX:  # keep the suffix (.xml, .csv ...), shorten the stem
        stem, dot, suffix = name.rpartition(".")
        suffix = dot + suffix if stem and len(suffix) <= 10 else ""
        name = name[:ATTACHMENT_NAME_MAX - len(suffix)] + suffix
    ascii_name = "".join(c if c.isascii() and (c.isalnum() or c in "._-") else "_" for c in name)
    return f"attachment; filename=\"{ascii_name}\"; filename*=UTF-8''{quote(name)}"


def _stem(name: str) -> str:
    base = name.replace("\\", "/").rsplit("/", 1)[-1]
    return base[:-4] if base.lower().endswith(".pdf") else (base or "document")


def _counted(operation: str):
    def wrap(fn):
        @functools.wraps(fn)
        def inner(*a, **kw):
            try:
                out = fn(*a, **kw)
            except errors.HometaxError as exc:
                DOCUMENTS.labels(operation, exc.code).inc()
                raise
            DOCUMENTS.labels(operation, "ok").inc()
            return out
        return inner
    return wrap


@bp.post("/extract")
@_counted("extract")
def extract():
    upload = inputs.single_upload()
    part = normalize_part(inputs.option("part", "xml", check=normalize_part) or "xml")
    enc = normalize_encoding(inputs.option("encoding", "utf-8", check=normalize_encoding) or "utf-8")
    with open_document(upload.data, inputs.password(), _limits()) as doc:
        data = doc.extract(part, enc)
        v = doc.verification()
    kind = "application/xml" if part == "XML" else "text/plain"
    resp = Response(data, content_type=f"{kind}; charset={enc}")
    _document_headers(resp, v, f"{_stem(upload.name)}.{part.lower()}")
    return resp


@bp.post("/verify")
@_counted("verify")
def verify():
    from ..timestamp import verify as verify_source  # trust anchors: HOMETAX_TRUST_DIR

    v = verify_source(inputs.single_upload().data, limits=_limits())
    resp = jsonify(v.to_dict())
    resp.headers.update(_verification_headers(v))
    return resp


def _export(docs: list, fmt: str, mask: bool, deadline: Deadline | None = None) -> Response:
    from .. import export

    if fmt == "json":
        return Response(export.to_json(docs, mask=mask, deadline=deadline),
                        content_type="application/json")
    if fmt == "csv":
        return Response(export.to_csv(docs, mask=mask, deadline=deadline),
                        content_type="text/csv; charset=utf-8")
    if fmt == "xlsx":
        return Response(export.to_xlsx(docs, mask=mask, deadline=deadline),
                        content_type="application/vnd.openxmlformats-officedocument."
                                     "spreadsheetml.sheet")
    raise errors.UsageError("format must be json, csv or xlsx")


def _check_format(value: str | None) -> str:
    fmt = (value or "json").strip().lower()
    if fmt not in ("json", "csv", "xlsx"):
        raise errors.UsageError("format must be json, csv or xlsx")
    return fmt


def _format() -> str:
    return _check_format(inputs.option("format", "json", check=_check_format))


@bp.post("/documents")
@_counted("documents")
def documents():
    from ..yesone import parse_document

    upload = inputs.single_upload()
    fmt = _format()
    mask = inputs.flag("mask")
    doc = parse_document(upload.data, password=inputs.password(), limits=_limits())
    resp = _export([doc], fmt, mask)
    v = doc.verification  # parse_document verified the same bytes
    _document_headers(resp, v, f"{_stem(upload.name)}.{fmt}" if fmt != "json" else None)
    return resp


@bp.post("/decrypt")
@_counted("decrypt")
def decrypt():
    upload = inputs.single_upload()
    with open_document(upload.data, inputs.password(), _limits()) as doc:
        was_encrypted = doc.encrypted
        data = doc.decrypted_pdf()
    resp = Response(data, content_type="application/pdf")
    resp.headers["X-NTS-Return-Code"] = str(NTS_OK)
    resp.headers["X-Was-Encrypted"] = "true" if was_encrypted else "false"
    resp.headers["Content-Disposition"] = _attachment(f"{_stem(upload.name)}-decrypted.pdf")
    return resp


@bp.post("/batch")
def batch():
    from ..yesone import parse_document

    config = _config()
    fmt = _format()
    mask = inputs.flag("mask")
    default_password = inputs.password()
    mapping = inputs.password_map()
    uploads, is_zip = inputs.batch_uploads()
    skipped: list[dict] = []
    if is_zip:
        opened = batch_mod.open_zip(uploads[0].data, config)
        uploads, skipped = opened.uploads, opened.skipped
    batch_mod.check_files(uploads, config)
    if not uploads:
        raise errors.UsageError("the batch holds no files")

    request_deadline = Deadline(config.request_seconds)
    results, docs, failures = [], [], []
    for up in uploads:
        pw = batch_mod.password_for(up.name, default_password, mapping)
        try:
            doc = parse_document(up.data, password=pw, limits=_limits_within(request_deadline))
            v = doc.verification
            # Everything this document adds to the answer is made here, inside the per-file try, so
            # that a document the exporters choke on fails alone instead of failing the batch.
            record = _document_output(doc, fmt, mask, request_deadline)
        except errors.HometaxError as exc:  # one bad file does not fail the batch
            DOCUMENTS.labels("batch", exc.code).inc()
            failures.append(exc.code)
            results.append({"file": up.name, "ok": False, "nts_code": exc.nts_code,
                            "error": exc.to_dict()})
            continue
        except Exception as exc:  # a bug must not cost the other files their results
            current_app.logger.error("batch entry failed: %s", type(exc).__name__)
            DOCUMENTS.labels("batch", "internal").inc()
            failures.append("internal")
            results.append({"file": up.name, "ok": False, "nts_code": None,
                            "error": {"code": "internal", "nts_code": None,
                                      "message": "Internal error."}})
            continue
        DOCUMENTS.labels("batch", "ok").inc()
        docs.append(doc)
        results.append({"file": up.name, "ok": True, "nts_code": NTS_OK,
                        "verification": v.to_dict(), "document": record})

    if fmt == "json":
        resp = jsonify({"files": results, "ok": len(docs), "failed": len(failures),
                        "skipped": skipped})
    else:
        resp = _export(docs, fmt, mask, request_deadline)
        resp.headers["Content-Disposition"] = _attachment(f"batch.{fmt}")
    resp.headers["X-Batch-OK"] = str(len(docs))
    resp.headers["X-Batch-Failed"] = str(len(failures))
    resp.headers["X-Batch-Skipped"] = str(len(skipped))  # ZIP entries not processed (JSON: why)
    if failures and fmt != "json":
        # Counts per error code only: a list of file names grows without bound (nginx refuses an
        # upstream header past its buffer). The names are in the JSON answer (format=json).
        resp.headers["X-Batch-Errors"] = json.dumps(dict(Counter(failures)), sort_keys=True)
    return resp


def _document_output(doc, fmt: str, mask: bool, deadline: Deadline):
    """The per-document part of a combined answer: the JSON record, or (csv/xlsx) a dry run of the
    rows the combined export will write for this document."""
    from .. import export

    if fmt == "json":
        return doc.to_dict(mask=mask, deadline=deadline)
    export.rows([doc], mask, deadline=deadline)
    if fmt == "xlsx":
        export.summary_rows([doc], mask, deadline=deadline)
    return None


@bp.post("/export")
@_counted("export")
def export_parts():
    """The combined JSON, CSV or XLSX of many documents from their XML data parts (as /extract
    returns them): the upload page's "download everything", past the batch limits. No PDF and no
    password: the data parts are already open."""
    from ..yesone import parse_xml
    from flask import request

    config = _config()
    request.max_form_parts = config.export_max_files + 16  # before the form is parsed
    if not inputs.is_multipart():
        raise errors.UsageError("send multipart/form-data with one 'file' part per XML data part")
    fmt = _format()
    mask = inputs.flag("mask")
    files = request.files.getlist("file")
    if not files:
        raise errors.UsageError("send one or more file parts named 'file'")
    if len(files) > config.export_max_files:
        raise errors.TooLarge("too many files in the export")
    request_deadline = Deadline(config.request_seconds)
    docs = []
    for f in files:
        data = f.read()
        lim = _limits_within(request_deadline)
        if len(data) > lim.max_part_bytes:
            raise errors.TooLarge("a data part exceeds the part size limit")
        docs.append(parse_xml(data, lim))
    resp = _export(docs, fmt, mask, request_deadline)
    if fmt != "json":
        resp.headers["Content-Disposition"] = _attachment(f"export.{fmt}")
    return resp
