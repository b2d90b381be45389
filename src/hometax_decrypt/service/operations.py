"""The service layer: every operation on documents, Flask-free, with one result type.

The CLI, the HTTP API and (later) other adapters call these functions and only translate what they
return: a :class:`Result` for one document (its bytes, its records, its typed verification), a
stream of :class:`FileResult` for a batch (each file's failure isolated), and bytes of an export in
a format of the registry (:mod:`hometax_decrypt.formats`). Many documents: :mod:`.engine` (the one
batch engine).

Names: ``nts_code`` is always the NTS API's return code (1 ok, 0, -1, -2: Java
``NTS_GetLastError``); the timestamp verifier's code (0 or 21xx, DSTSPDFSig) is ``verifier_code``.
"""

from __future__ import annotations

import dataclasses
import logging
import time
from dataclasses import dataclass

from .. import errors
from ..document.limits import Deadline, Limits, resolve
from ..document.pdf import normalize_encoding, normalize_part, open_document
from ..formats import Format
from ..records import parse_document, parse_xml
from ..records.model import Document
from ..timestamp import TrustStore, Verification
from ..timestamp import verify as verify_source
from ..timestamp.verdicts import STATUS_LABELS_KO

__all__ = [
    "Result",
    "FileResult",
    "extract",
    "verify",
    "parse",
    "parse_part",
    "decrypt",
    "export",
    "limits_within",
    "NTS_OK",
]

log = logging.getLogger(__name__)

NTS_OK = 1  # the NTS API's return code for success (Java NTS_GetLastError)


@dataclass(frozen=True)
class Result:
    """What the core tells about one document. ``verification`` is None only when it was not
    asked for (``verify=False``) or there was no PDF to verify (an XML data part)."""

    verification: Verification | None = None
    data: bytes | None = None  # the extracted part, or the decrypted PDF
    document: Document | None = None  # the parsed records
    part: str | None = None  # XML | SAM, for extract
    encoding: str | None = None  # utf-8 | euc-kr, for extract
    was_encrypted: bool | None = None  # for decrypt


# -- one document ---------------------------------------------------------------------------------


def extract(
    source,
    password=None,
    part: str = "xml",
    encoding: str = "utf-8",
    limits: Limits | None = None,
    verify: bool = True,
    trust: TrustStore | None = None,
) -> Result:
    """The XML or SAM data part byte for byte as the NTS API returns it, with the verification of
    the file (unless ``verify=False``)."""
    name, enc = normalize_part(part), normalize_encoding(encoding)
    with open_document(source, password, limits, trust) as doc:
        data = doc.extract(name, enc)
        v = doc.verification() if verify else None
    return Result(verification=v, data=data, part=name, encoding=enc)


def verify(source, limits: Limits | None = None, trust: TrustStore | None = None) -> Result:
    """The timestamp verification of the file's bytes (``trust``: default the shipped store)."""
    return Result(verification=verify_source(source, limits=limits, trust=trust))


def parse(
    source,
    password=None,
    limits: Limits | None = None,
    trust: TrustStore | None = None,
    name: str | None = None,
) -> Result:
    """The document's records and its verification, from one opening of the PDF under one time
    budget (opening, inflating, parsing). ``name``: the file as the caller names it, kept as the
    document's ``source_file`` for the exports (default: ``source`` itself when it is a path)."""
    doc = parse_document(source, password=password, limits=limits, trust=trust)
    if name is not None:
        doc.source_file = name
    return Result(verification=doc.verification, document=doc)


CLAIMABLE_STATUSES = tuple(STATUS_LABELS_KO)  # the verdict table's statuses


def check_claimed_status(status: str) -> str:
    """``status`` when it is a status of the verdict table (what a client may say its own
    verification of a document gave); otherwise a usage error."""
    if status not in CLAIMABLE_STATUSES:
        raise errors.UsageError(f"a claimed status is one of {', '.join(CLAIMABLE_STATUSES)}")
    return status


def parse_part(
    data: bytes, limits: Limits | None = None, name: str | None = None, claimed_status: str | None = None
) -> Result:
    """The records of an XML data part (as :func:`extract` returns it): no PDF, no verification.
    ``name``: kept as the document's ``source_file``. ``claimed_status``: what the caller says its
    own verification of the document's PDF gave (a status of the verdict table): it ranks the
    document among duplicates in the totals and is never reported as a verification
    (:attr:`Document.claimed_status <hometax_decrypt.records.model.Document.claimed_status>`)."""
    if claimed_status is not None:
        check_claimed_status(claimed_status)
    lim = resolve(limits)
    if len(data) > lim.max_part_bytes:
        raise errors.TooLarge("a data part exceeds the part size limit")
    doc = parse_xml(data, lim)
    doc.source_file = name
    doc.claimed_status = claimed_status
    return Result(document=doc)


def decrypt(source, password=None, limits: Limits | None = None) -> Result:
    """The PDF with its password removed (re-saved: its timestamp no longer verifies)."""
    with open_document(source, password, limits) as doc:
        return Result(data=doc.decrypted_pdf(), was_encrypted=doc.encrypted)


def export(fmt: Format, docs: list[Document], mask: bool = False, deadline: Deadline | None = None) -> bytes:
    return fmt.write(docs, mask=mask, deadline=deadline)


# -- many documents -------------------------------------------------------------------------------


def __getattr__(name: str):
    if name == "INTERNAL_ERROR":  # the 0.2 copy of the table's row, for one release
        import warnings

        warnings.warn(
            "service.INTERNAL_ERROR is deprecated: errors.SPECS['internal'].to_dict()",
            DeprecationWarning,
            stacklevel=2,
        )
        return errors.SPECS["internal"].to_dict()
    raise AttributeError(name)


@dataclass(frozen=True)
class FileResult:
    """One file of a batch: its result, or the error that stopped it (``error`` a table error;
    ``internal`` a bug, whose text is never shown: it could quote the input)."""

    name: str
    result: Result | None = None
    record: dict | None = None  # the per-document JSON record, when the batch asked for it
    error: errors.HometaxError | None = None
    internal: bool = False
    piece: object = None  # the document's share of the batch's format (formats.streaming)

    @property
    def ok(self) -> bool:
        return self.result is not None

    @property
    def code(self) -> str:
        """``ok``, a code of the error table, or ``internal``."""
        if self.ok:
            return "ok"
        return "internal" if self.error is None else self.error.code

    @property
    def status(self) -> str | None:
        """The verification's status of a file read (authentic, untrusted_issuer, …)."""
        v = self.result.verification if self.result is not None else None
        return v.status if v is not None else None

    @property
    def nts_code(self) -> int | None:
        """The NTS API's return code for this file (1 when it was read)."""
        if self.ok:
            return NTS_OK
        return None if self.error is None else self.error.nts_code

    def failed(self, exc: BaseException) -> FileResult:
        """This file, failed by ``exc`` after all."""
        if isinstance(exc, errors.HometaxError):
            return FileResult(self.name, error=exc)
        return FileResult(self.name, internal=True)

    def to_dict(self) -> dict:
        """The /batch JSON entry: ``nts_code`` the NTS API's return code, and inside
        ``verification`` the verifier's ``verifier_code``."""
        if self.result is None:
            err = errors.SPECS["internal"].to_dict() if self.error is None else self.error.to_dict()
            return {"file": self.name, "ok": False, "nts_code": self.nts_code, "error": err}
        v = self.result.verification  # a batch parses, and parse() always verifies
        return {
            "file": self.name,
            "ok": True,
            "nts_code": NTS_OK,
            "verification": v.to_dict() if v is not None else None,
            "document": self.record,
        }

    @property
    def document(self) -> Document | None:
        """The parsed document of a file that succeeded."""
        return self.result.document if self.result is not None else None


def limits_within(limits: Limits, deadline: Deadline) -> Limits:
    """The per-document limits, with no more time than ``deadline`` has left."""
    left = max(0.0, deadline.end - time.monotonic())
    return dataclasses.replace(limits, max_seconds=min(limits.max_seconds, left))
