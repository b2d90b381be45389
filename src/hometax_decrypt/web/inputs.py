"""Reading what a client sent: the document, its password and options, from multipart form data or
from a raw body with headers and query parameters. Passwords are accepted in a form field or a header,
never in the URL."""

from __future__ import annotations

import re

from flask import request

from .. import errors
from ..service.archive import Upload
from ..service.json_input import json_array, json_object

PDF_TYPES = ("application/pdf", "application/octet-stream")
ZIP_TYPES = ("application/zip", "application/x-zip-compressed", "application/x-zip")
SECRET_PARAMS = ("password", "passwords")
# The only query parameters the API reads (raw-body uploads); anything else in a URL is refused, so
# that no spelling of a password (percent-encoded, after a ';', ...) can ride in one. nginx applies
# the same allowlist, rendered from these two (query_regex), before anything could log the request
# line; the app applies it again (refuse_secrets_in_url) for a request that did not pass nginx.
QUERY_PARAMS = ("part", "encoding", "format", "mask")
QUERY_VALUE_CHARS = "A-Za-z0-9_.-"  # a value is one plain word (xml, euc-kr, csv, true)
PASSWORD_MAP_MAX_CHARS = 256 * 1024  # ~1000 entries of long Korean file names


def query_regex() -> str:
    """The whole query string nginx lets through: only QUERY_PARAMS with plain values, or nothing."""
    return f"^(({'|'.join(QUERY_PARAMS)})=[{QUERY_VALUE_CHARS}]*(&|$))*$"


def refuse_secrets_in_url() -> None:
    """Refuse a password in the URL, and any query parameter the API does not read (a password under
    another spelling, or after a ';' that WSGI does not split on)."""
    keys = [k.lower() for k in request.args]
    if any(k in SECRET_PARAMS for k in keys):
        raise errors.UsageError(
            "passwords are not accepted in the URL; use the password form "
            "field or the X-Document-Password header"
        )
    query = request.query_string.decode("latin-1")
    if any(k not in QUERY_PARAMS for k in keys) or not re.fullmatch(query_regex(), query):
        raise errors.UsageError("unknown query parameter; the URL takes only part, encoding, format and mask")


def _header_text(name: str) -> str | None:
    """A header value as text. HTTP headers travel as bytes; WSGI hands them over as Latin-1, so a
    UTF-8 password (Korean) is recovered by re-encoding."""
    raw = request.headers.get(name)
    if raw is None:
        return None
    try:
        return raw.encode("latin-1").decode("utf-8")
    except (UnicodeEncodeError, UnicodeDecodeError):
        return raw


def is_multipart() -> bool:
    return request.mimetype == "multipart/form-data"


def option(name: str, default: str | None = None, check=None) -> str | None:
    """An option from the form (multipart; it wins) or the URL. ``check`` (raising UsageError for a
    bad value) is applied to both, so that a bad value in the URL is never silently ignored."""
    if check is not None and name in request.args:
        check(request.args.get(name))
    if is_multipart() and name in request.form:
        value = request.form.get(name)
    else:
        value = request.args.get(name, default)
    if check is not None and value is not None:
        check(value)
    return value


# The spellings of a true/false option (the OpenAPI document lists exactly these).
FLAG_VALUES = {"true": True, "false": False, "1": True, "0": False}


def _flag_value(name: str, value: str | None) -> bool:
    if value is None:
        return False
    if value not in FLAG_VALUES:
        raise errors.UsageError(f"{name} must be true or false")
    return FLAG_VALUES[value]


def flag(name: str) -> bool:
    return _flag_value(name, option(name, check=lambda v: _flag_value(name, v)))


def password() -> str | None:
    if is_multipart() and "password" in request.form:
        value = request.form.get("password")
    else:
        value = _header_text("X-Document-Password")
    return value or None


PASSWORD_MAP_SHAPE = "passwords must be a JSON object of file name to password"


def password_map() -> dict[str, str]:
    if is_multipart() and "passwords" in request.form:
        raw = request.form.get("passwords")
    else:
        raw = _header_text("X-Document-Passwords")
    if not raw:
        return {}
    if len(raw) > PASSWORD_MAP_MAX_CHARS:
        raise errors.UsageError(PASSWORD_MAP_SHAPE)
    value = json_object(raw, errors.UsageError, PASSWORD_MAP_SHAPE)
    if not all(isinstance(k, str) and isinstance(v, str) for k, v in value.items()):
        raise errors.UsageError(PASSWORD_MAP_SHAPE)
    return value


STATUSES_SHAPE = (
    "statuses must be a JSON array with one entry per file part, in their order: the verification "
    "status the client's /extract reported for that document, or null"
)


def status_claims(count: int, check) -> list[str | None]:
    """The ``statuses`` form field of /export: a JSON array, one entry per ``file`` part in the
    order sent, each the status the client's own /extract call reported for that document (``check``,
    the core's, refuses one outside the verdict table) or null (no claim). By place, not by file
    name: two parts may share a name, and browsers rewrite some characters of a part's name. No
    field: no claims."""
    raw = request.form.get("statuses") if is_multipart() else None
    if not raw:
        return [None] * count
    if len(raw) > PASSWORD_MAP_MAX_CHARS:
        raise errors.UsageError(STATUSES_SHAPE)
    value = json_array(raw, errors.UsageError, STATUSES_SHAPE)
    if len(value) != count or not all(v is None or isinstance(v, str) for v in value):
        raise errors.UsageError(STATUSES_SHAPE)
    for v in value:
        if v is not None:
            check(v)
    return value


def single_upload() -> Upload:
    """The one document of an extract/verify/documents/decrypt request."""
    if is_multipart():
        files = request.files.getlist("file")
        if len(files) != 1:
            raise errors.UsageError("send exactly one file part named 'file'")
        return Upload(files[0].filename or "document.pdf", files[0].read())
    if request.mimetype in PDF_TYPES:
        return Upload("document.pdf", request.get_data(cache=False))
    raise errors.UsageError(
        "send multipart/form-data with a 'file' part, or the PDF as the body "
        "with Content-Type: application/pdf"
    )


def batch_uploads() -> tuple[list[Upload], bool]:
    """The files of a batch request and whether they came as one ZIP (still to be opened)."""
    if is_multipart():
        files = request.files.getlist("file")
        if not files:
            raise errors.UsageError("send one or more file parts named 'file'")
        uploads = [Upload(f.filename or f"file-{i + 1}.pdf", f.read()) for i, f in enumerate(files)]
        if len(uploads) == 1 and (
            files[0].mimetype in ZIP_TYPES
            or uploads[0].name.lower().endswith(".zip")
            or uploads[0].data[:4] == b"PK\x03\x04"
        ):
            return uploads, True
        return uploads, False
    if request.mimetype in ZIP_TYPES:
        return [Upload("batch.zip", request.get_data(cache=False))], True
    raise errors.UsageError(
        "send multipart/form-data with 'file' parts, or a ZIP as the body with Content-Type: application/zip"
    )
