"""Verify the NTS RFC 3161 timestamp over the file's bytes (docs/format.md §3), as DSTSPDFSig does, and
catch the forgeries a naive check passes. Split by concern, as pyHanko's validation package is:

- :mod:`.locate` — the signature in the PDF: ``/ByteRange`` and the ``/Contents`` hex in its gap;
- :mod:`.cms` — the token: bounded DER scan, CMS SignedData, TSTInfo, signed attributes, signature;
- :mod:`.trust` — pins, anchors (shipped GPKI by default) and the chain at genTime;
- :mod:`.result` — the typed :class:`Verification` and the NTS verifier's codes;
- :mod:`.check` — the checks in order.

What "authentic" means here (docs/verification.md has the long form):

1. a signature ``/ByteRange [0 a b c]`` whose gap ``a..b`` is exactly the ``/Contents <hex>`` string of
   the same dictionary, delimiters included, as Adobe and the NTS lay it out; an NTS document
   carries exactly one;
2. the hex decodes to one DER CMS SignedData (then only zero padding), with eContentType TSTInfo;
3. the TSTInfo messageImprint equals the hash of the two signed segments;
4. the SignerInfo signature verifies with the TSA certificate in the token, over the signed attributes,
   whose messageDigest is the hash of the TSTInfo, whose content-type is TSTInfo and whose ESS
   signing-certificate names that certificate;
5. the signed range covers the whole file (``b + c == len``): bytes after it, such as an appended
   revision that a PDF reader and ``extract`` would honour, are not covered;
6. the TSA certificate is trusted at genTime: it chains to a trust anchor (the shipped GPKI
   certificates, or configured ones), or it is one of the pinned TSA certificates of the NTS samples.

1–5 make ``matches_stamp`` (the file matches the stamp it carries, whoever made it); ``intact`` and
``authentic`` are 1–5 and 6: only a vouched stamp says the contents are unchanged. With the shipped
anchors, 6 proves a Korean government TSA (GPKI's GTSA, shared by government agencies), not the NTS in
particular. Verification reads raw bytes only: no password, no PDF parser.
"""

from __future__ import annotations

from .check import verify, verify_bytes
from .result import (
    BYTE_RANGE,
    CERTIFICATE,
    HASH_MISMATCH,
    OK,
    SIGNATURE_INVALID,
    TOKEN_PARSE_ERROR,
    UNSUPPORTED_HASH,
    Verification,
)
from .trust import (
    ENV_TRUST_DIR,
    ENV_TRUST_PINNED,
    ENV_TRUST_REPLACE,
    TrustStore,
    load_anchor_dir,
    parse_fingerprints,
)

__all__ = [
    "verify",
    "verify_bytes",
    "Verification",
    "TrustStore",
    "load_anchor_dir",
    "parse_fingerprints",
    "ENV_TRUST_DIR",
    "ENV_TRUST_PINNED",
    "ENV_TRUST_REPLACE",
    "OK",
    "HASH_MISMATCH",
    "SIGNATURE_INVALID",
    "UNSUPPORTED_HASH",
    "TOKEN_PARSE_ERROR",
    "CERTIFICATE",
    "BYTE_RANGE",
]
