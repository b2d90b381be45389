"""The service layer: every operation on documents, Flask-free, with one result type.

The CLI, the HTTP API and (later) other adapters call these functions and only translate what they
return: a :class:`Result` for one document (its bytes, its records, its typed verification), a
stream of :class:`FileResult` for a batch (each file's failure isolated), and bytes of an export in
a format of the registry (:mod:`hometax_decrypt.formats`).

Names: ``nts_code`` is always the NTS API's return code (1 ok, 0, -1, -2: Java
``NTS_GetLastError``); the timestamp verifier's code (0 or 21xx, DSTSPDFSig) is ``verifier_code``.
"""

from __future__ import annotations

import dataclasses
import logging
import time
from dataclasses import dataclass
from typing import Callable, Iterable, Iterator

from .. import errors
from ..formats import Format
from ..document.limits import Deadline, Limits, resolve
from ..document.pdf import normalize_encoding, normalize_part, open_document
from ..timestamp import TrustStore, Verification, verify as verify_source
from ..records import parse_document, parse_xml
from ..records.model import Document

__all__ = ["Result", "FileResult", "extract", "verify", "parse", "parse_part", "decrypt", "export",
           "batch", "export_batch", "limits_within", "NTS_OK", "INTERNAL_ERROR"]

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

def extract(source, password=None, part: str = "xml", encoding: str = "utf-8",
            limits: Limits | None = None, verify: bool = True) -> Result:
    """The XML or SAM data part byte for byte as the NTS API returns it, with the verification of
    the file (unless ``verify=False``)."""
    name, enc = normalize_part(part), normalize_encoding(encoding)
    with open_document(source, password, limits) as doc:
        data = doc.extract(name, enc)
        v = doc.verification() if verify else None
    return Result(verification=v, data=data, part=name, encoding=enc)


def verify(source, limits: Limits | None = None, trust: TrustStore | None = None) -> Result:
    """The timestamp verification of the file's bytes (trust anchors: ``HOMETAX_TRUST_DIR``)."""
    return Result(verification=verify_source(source, limits=limits, trust=trust))


def parse(source, password=None, limits: Limits | None = None) -> Result:
    """The document's records and its verification, from one opening of the PDF under one time
    budget (opening, inflating, parsing)."""
    doc = parse_document(source, password=password, limits=limits)
    return Result(verification=doc.verification, document=doc)


def parse_part(data: bytes, limits: Limits | None = None) -> Result:
    """The records of an XML data part (as :func:`extract` returns it): no PDF, no verification."""
    lim = resolve(limits)
    if len(data) > lim.max_part_bytes:
        raise errors.TooLarge("a data part exceeds the part size limit")
    return Result(document=parse_xml(data, lim))


def decrypt(source, password=None, limits: Limits | None = None) -> Result:
    """The PDF with its password removed (re-saved: its timestamp no longer verifies)."""
    with open_document(source, password, limits) as doc:
        return Result(data=doc.decrypted_pdf(), was_encrypted=doc.encrypted)


def export(fmt: Format, docs: list[Document], mask: bool = False,
           deadline: Deadline | None = None) -> bytes:
    return fmt.write(docs, mask=mask, deadline=deadline)


# -- many documents -------------------------------------------------------------------------------

INTERNAL_ERROR = {"code": "internal", "nts_code": None, "message": "Internal error."}


@dataclass(frozen=True)
class FileResult:
    """One file of a batch: its result, or the error that stopped it (``error`` a table error;
    ``internal`` a bug, whose text is never shown: it could quote the input)."""

    name: str
    result: Result | None = None
    record: dict | None = None  # the per-document JSON record, when the batch asked for it
    error: errors.HometaxError | None = None
    internal: bool = False

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
    def nts_code(self) -> int | None:
        """The NTS API's return code for this file (1 when it was read)."""
        if self.ok:
            return NTS_OK
        return None if self.error is None else self.error.nts_code

    def failed(self, exc: BaseException) -> "FileResult":
        """This file, failed by ``exc`` after all."""
        if isinstance(exc, errors.HometaxError):
            return FileResult(self.name, error=exc)
        return FileResult(self.name, internal=True)

    def to_dict(self) -> dict:
        """The /batch JSON entry: ``nts_code`` the NTS API's return code, and inside
        ``verification`` the verifier's ``verifier_code``."""
        if self.result is None:  # not ok
            err = dict(INTERNAL_ERROR) if self.error is None else self.error.to_dict()
            return {"file": self.name, "ok": False, "nts_code": self.nts_code, "error": err}
        v = self.result.verification  # a batch parses, and parse() always verifies
        return {"file": self.name, "ok": True, "nts_code": NTS_OK,
                "verification": v.to_dict() if v is not None else None,
                "document": self.record}

    @property
    def document(self) -> Document | None:
        """The parsed document of a file that succeeded."""
        return self.result.document if self.result is not None else None


def limits_within(limits: Limits, deadline: Deadline) -> Limits:
    """The per-document limits, with no more time than ``deadline`` has left."""
    left = max(0.0, deadline.end - time.monotonic())
    return dataclasses.replace(limits, max_seconds=min(limits.max_seconds, left))


def batch(files: Iterable[tuple[str, bytes]], password_for: Callable[[str], str | None],
          limits: Limits | None = None, deadline: Deadline | None = None,
          record: Callable[[Document, Deadline], dict] | None = None) -> Iterator[FileResult]:
    """Parse every file, one at a time; a file that fails (an error of the table, or a bug) fails
    alone. ``deadline``: one budget for the whole batch (each document gets at most what is left
    of it). ``record``: per-document work to do inside the file's isolation (the JSON record)."""
    lim = resolve(limits)
    for name, data in files:
        try:
            doc_limits = limits_within(lim, deadline) if deadline is not None else lim
            result = parse(data, password_for(name), doc_limits)
            rec = None
            if record is not None and result.document is not None:  # parse() always has one
                rec = record(result.document, deadline or Deadline(doc_limits.max_seconds))
        except errors.HometaxError as exc:
            yield FileResult(name, error=exc)
            continue
        except Exception as exc:  # a bug must not cost the other files their results
            log.error("batch entry failed: %s", type(exc).__name__)
            yield FileResult(name, internal=True)
            continue
        yield FileResult(name, result=result, record=rec)


def export_batch(fmt: Format, results: list[FileResult], mask: bool = False,
                 deadline: Deadline | None = None) -> tuple[bytes, list[FileResult]]:
    """The combined export of a batch's documents, written once. Should the writer fail, each
    document is written alone to find those it fails on; they fail alone (their results are
    replaced) and the others are written again. A time budget that ran out fails the whole."""
    docs = [d for r in results if (d := r.document) is not None]
    try:
        return fmt.write(docs, mask=mask, deadline=deadline), results
    except errors.Timeout:
        raise
    except Exception as first:
        log.error("combined %s export failed (%s): isolating the documents", fmt.name,
                  type(first).__name__)
    checked = []
    for r in results:
        if (d := r.document) is not None:
            try:
                fmt.write([d], mask=mask, deadline=deadline)
            except errors.Timeout:
                raise
            except Exception as exc:
                r = r.failed(exc)
        checked.append(r)
    docs = [d for r in checked if (d := r.document) is not None]
    return fmt.write(docs, mask=mask, deadline=deadline), checked
