"""The API's views: /api/v1/extract, verify, documents, decrypt, batch, export, deductions, formats,
messages.
Their paths, methods and what they answer are declared once, in the route table (:mod:`.routes`),
which registers them. Thin: every decision about a document is the core's
(:mod:`hometax_decrypt.service`); this module only moves bytes in and out of HTTP."""

from __future__ import annotations

import functools
import json
from collections import Counter
from urllib.parse import quote

from flask import Response, current_app, jsonify, request

from .. import errors, formats
from ..document.limits import Deadline
from ..document.pdf import normalize_encoding, normalize_part
from ..service import archive as batch_mod
from ..service import deductions as deductions_service
from ..service import engine
from ..service import operations as service
from ..service.json_input import json_object
from . import http_errors, inputs
from .metrics import DOCUMENTS

NTS_OK = service.NTS_OK  # the NTS API's return code for success (Java NTS_GetLastError)


def _config():
    return current_app.config["HOMETAX"]


def _limits():
    return current_app.config["HOMETAX_LIMITS"]


def _trust():
    """The app's trust store, built once by the factory from ``HOMETAX_TRUST_*``."""
    return current_app.config["HOMETAX_TRUST"]


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
    code = v.verifier_code
    if code is not None:
        headers["X-Verification-Code"] = str(code)
        headers["X-Verification-NTS-Code"] = str(code)  # the old name, for one release
    return headers


ATTACHMENT_NAME_MAX = 100  # characters: the header stays well inside nginx's proxy_buffer_size


def _attachment(name: str) -> str:
    if len(name) > ATTACHMENT_NAME_MAX:  # keep the suffix (.xml, .csv ...), shorten the stem
        stem, dot, suffix = name.rpartition(".")
        suffix = dot + suffix if stem and len(suffix) <= 10 else ""
        name = name[: ATTACHMENT_NAME_MAX - len(suffix)] + suffix
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


def _format() -> formats.Format:
    return formats.get(inputs.option("format", formats.DEFAULT, check=formats.get))


def _export(fmt: formats.Format, data: bytes) -> Response:
    return Response(data, content_type=fmt.media_type)


def formats_list():
    """The output formats of the registry (the page's download buttons)."""
    return jsonify({"default": formats.DEFAULT, "formats": [f.describe() for f in formats.FORMATS.values()]})


def messages():
    """The Korean message of every error code (the page's messages: the one error table)."""
    return jsonify({"messages": http_errors.messages_ko()})


@_counted("extract")
def extract():
    upload = inputs.single_upload()
    part = inputs.option("part", "xml", check=normalize_part) or "xml"
    encoding = inputs.option("encoding", "utf-8", check=normalize_encoding) or "utf-8"
    r = service.extract(upload.data, inputs.password(), part, encoding, _limits(), trust=_trust())
    kind = "application/xml" if r.part == "XML" else "text/plain"
    resp = Response(r.data, content_type=f"{kind}; charset={r.encoding}")
    _document_headers(resp, r.verification, f"{_stem(upload.name)}.{r.part.lower()}")
    return resp


@_counted("verify")
def verify():
    v = service.verify(inputs.single_upload().data, limits=_limits(), trust=_trust()).verification
    resp = jsonify(v.to_dict())
    resp.headers.update(_verification_headers(v))
    return resp


@_counted("documents")
def documents():
    upload = inputs.single_upload()
    fmt = _format()
    mask = inputs.flag("mask")
    # the exports' source_file: the multipart file name (a raw body has none)
    name = upload.name if inputs.is_multipart() else None
    r = service.parse(upload.data, password=inputs.password(), limits=_limits(), trust=_trust(), name=name)
    resp = _export(fmt, service.export(fmt, [r.document], mask))
    _document_headers(
        resp, r.verification, f"{_stem(upload.name)}.{fmt.suffix}" if fmt.name != "json" else None
    )
    return resp


@_counted("decrypt")
def decrypt():
    upload = inputs.single_upload()
    r = service.decrypt(upload.data, inputs.password(), _limits())
    resp = Response(r.data, content_type="application/pdf")
    resp.headers["X-NTS-Return-Code"] = str(NTS_OK)
    resp.headers["X-Was-Encrypted"] = "true" if r.was_encrypted else "false"
    resp.headers["Content-Disposition"] = _attachment(f"{_stem(upload.name)}-decrypted.pdf")
    return resp


def batch():
    """Several files or one ZIP: format=json answers per-file results; any other format of the
    registry, the combined export of the documents that were read."""
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

    deadline = Deadline(config.request_seconds)
    per_file = fmt.name == "json"
    results = list(
        engine.batch(
            ((u.name, u.data) for u in uploads),
            lambda name: batch_mod.password_for(name, default_password, mapping),
            _limits(),
            deadline,
            fmt=None if per_file else fmt,
            mask=mask,
            record=per_file,
            trust=_trust(),
        )
    )
    # the totals that close JSON and XLSX are made under the same budget (503 timeout past it)
    data = None if per_file else engine.combine(fmt, results, mask, deadline)
    for r in results:
        DOCUMENTS.labels("batch", r.code).inc()
    failures = [r.code for r in results if not r.ok]
    ok = len(results) - len(failures)
    if per_file:
        resp = jsonify(
            {"files": [r.to_dict() for r in results], "ok": ok, "failed": len(failures), "skipped": skipped}
        )
    else:
        resp = _export(fmt, data)
        resp.headers["Content-Disposition"] = _attachment(f"batch.{fmt.suffix}")
    resp.headers["X-Batch-OK"] = str(ok)
    resp.headers["X-Batch-Failed"] = str(len(failures))
    resp.headers["X-Batch-Skipped"] = str(len(skipped))  # ZIP entries not processed (JSON: why)
    if failures and not per_file:
        # Counts per error code only: a list of file names grows without bound (nginx refuses an
        # upstream header past its buffer). The names are in the JSON answer (format=json).
        resp.headers["X-Batch-Errors"] = json.dumps(dict(Counter(failures)), sort_keys=True)
    return resp


@_counted("export")
def export_parts():
    """The combined export (any format of the registry) of many documents from their XML data
    parts (as /extract returns them): the upload page's "download everything", past the batch
    limits. No PDF and no password: the data parts are already open."""
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
    # what the client's own /extract said of each part: ranks duplicates only (service.parse_part)
    claims = inputs.status_claims(len(files), service.check_claimed_status)
    deadline = Deadline(config.request_seconds)
    docs = [
        service.parse_part(
            f.read(),
            service.limits_within(_limits(), deadline),
            name=f.filename or None,
            claimed_status=claim,
        ).document
        for f, claim in zip(files, claims)
    ]
    resp = _export(fmt, service.export(fmt, docs, mask, deadline))
    if fmt.name != "json":
        resp.headers["Content-Disposition"] = _attachment(f"export.{fmt.suffix}")
    return resp


LINES_MAX_BYTES = 4 * 1024 * 1024  # a lines file of 10 000 lines with persons and facts fits


def _lines_part() -> bytes | None:
    """The ``lines`` part (a file part or a text field), or None when the request sends documents."""
    part = request.files.get("lines")
    if part is not None:
        return part.read()
    text = request.form.get("lines")
    return None if text is None else text.encode("utf-8")


def _lines_json(raw: bytes):
    if len(raw) > LINES_MAX_BYTES:
        raise errors.TooLarge("the lines file exceeds 4 MiB")
    return json_object(
        raw,
        errors.BadLines,
        "the lines file must be a JSON object with att_year and lines",
        "the lines file is not UTF-8 JSON",
    )


@_counted("deductions")
def deductions():
    """The 공제신고서 lines per taxpayer and tax year, from PDFs (or one ZIP of them) or from a lines
    file, and with ``salary`` the estimate: service.deductions' answer, unchanged (an estimate, not
    the 연말정산 result; its notice says so)."""
    config = _config()
    if not inputs.is_multipart():
        raise errors.UsageError(
            "send multipart/form-data with 'file' parts (the PDFs) or one 'lines' part (a JSON lines file)"
        )
    mask = inputs.flag("mask")
    # read before any document is opened: a bad salary or facts costs no decryption
    salary = deductions_service.parse_salary(request.form.get("salary"))
    facts = deductions_service.parse_facts(request.form.get("facts"))
    lines = _lines_part()
    if lines is not None:
        if request.files.getlist("file"):
            # a lines file replaces the documents; with them it would be read as neither
            raise errors.BadLines("a lines file is sent instead of documents, not with them")
        return jsonify(deductions_service.from_lines(_lines_json(lines), salary, facts, mask))

    default_password = inputs.password()
    mapping = inputs.password_map()
    uploads, is_zip = inputs.batch_uploads()
    if is_zip:
        uploads = batch_mod.open_zip(uploads[0].data, config).uploads
    batch_mod.check_files(uploads, config)
    if not uploads:
        raise errors.UsageError("the ZIP holds no PDF")
    deadline = Deadline(config.request_seconds)
    docs = []
    for i, u in enumerate(uploads, 1):
        try:
            r = service.parse(
                u.data,
                password=batch_mod.password_for(u.name, default_password, mapping),
                limits=service.limits_within(_limits(), deadline),
                trust=_trust(),
                name=u.name,
            )
        except errors.HometaxError as exc:
            # which file, by its place in the request (a file name may hold a person's name)
            where = f"file {i} of {len(uploads)}"
            raise type(exc)(
                f"{where}: {exc.detail}" if exc.detail else where,
                f"{i}번째 파일" + (f": {exc.detail_ko}" if exc.detail_ko else ""),
            ) from None
        docs.append(r.document)
    return jsonify(deductions_service.from_documents(docs, salary, facts, mask))
