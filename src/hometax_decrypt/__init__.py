"""hometax-decrypt: NTS year-end settlement (연말정산 간소화) PDF documents on Linux.

Public API: :func:`open_document`, :func:`extract`, :func:`verify`, :func:`parse`.

The library reads no environment variable and changes nothing process-wide by itself: pass
``limits=`` (:class:`Limits`) and ``trust=`` (:class:`TrustStore`) to change the documented defaults
(``Limits.from_env()`` / ``TrustStore.from_env()`` read the ``HOMETAX_MAX_*`` / ``HOMETAX_TRUST_*``
variables when you want them), and call :func:`configure_process` once at start to bound qpdf's
decoders (process-wide) and quiet pikepdf's "password not needed" warning.
"""

from __future__ import annotations

from . import _compat
from ._version import __version__
from .document.limits import Limits
from .document.pdf import Extraction, NtsDocument, extract, extract_verified, open_document
from .document.setup import configure_process
from .errors import (
    BY_CODE,
    Damaged,
    HometaxError,
    NotNtsDocument,
    PasswordRequired,
    Timeout,
    TooLarge,
    UsageError,
    WrongPassword,
)
from .records import Document, parse_document
from .timestamp import TrustStore, Verification
from .timestamp import verify as _verify

_compat.install()  # 0.1's module names (hometax_decrypt.document.pdf, .yesone, …) still import, with a warning


def verify(source, limits: Limits | None = None, trust=None) -> Verification:
    """Verify the NTS timestamp over the file's bytes; see :mod:`hometax_decrypt.timestamp`."""
    return _verify(source, limits=limits, trust=trust)


def parse(source, password=None, limits: Limits | None = None, trust: TrustStore | None = None) -> Document:
    """Parse the document into typed records; see :mod:`hometax_decrypt.records`."""
    return parse_document(source, password=password, limits=limits, trust=trust)


__all__ = [
    "open_document",
    "extract",
    "extract_verified",
    "verify",
    "parse",
    "Extraction",
    "NtsDocument",
    "Limits",
    "TrustStore",
    "configure_process",
    "Verification",
    "Document",
    "HometaxError",
    "PasswordRequired",
    "WrongPassword",
    "NotNtsDocument",
    "Damaged",
    "TooLarge",
    "Timeout",
    "UsageError",
    "BY_CODE",
    "__version__",
]
