"""The result of a verification: the NTS verifier's codes, the typed :class:`Verification`, and the
internal :class:`Failure` with which every check stops (one English and one Korean sentence)."""

from __future__ import annotations

from dataclasses import dataclass

# -- the NTS verifier's result codes (DSTSPDFSig / DSTSPdfSigVerifyF) -------------------------------
OK = 0
HASH_MISMATCH = 2101
SIGNATURE_INVALID = 2102
UNSUPPORTED_HASH = 2103
TOKEN_PARSE_ERROR = 2106
CERTIFICATE = 2109
BYTE_RANGE = 2110

TRUSTED = ("chain", "pinned")


@dataclass(frozen=True)
class Verification:
    """The outcome of one verification: plain data, never a bare bool.

    ``status`` tells UIs the states apart: ``authentic``; ``untrusted_issuer`` (intact, but the TSA is
    neither pinned nor chained to an anchor, or its certificate fails at genTime); ``tampered`` (a
    timestamp is there but the file, the range or the token do not check out); ``unsigned`` (no NTS
    timestamp at all).

    ``verifier_code`` is the NTS verifier's code (0, 21xx). ``nts_code`` is its deprecated alias, kept
    for one release (``to_dict`` carries both keys with the same value); it is *not* the NTS API's
    return code (−2…1) that errors carry.

    ``trust_anchor`` says what decided trust: ``"anchor:<sha256> <subject>"`` for the trust anchor a
    chain ended at, ``"pinned:<sha256>"`` for a pinned TSA certificate, else ``None``.
    """

    authentic: bool
    intact: bool
    trust: str  # chain | pinned | unknown | failed
    verifier_code: int  # the NTS verifier's result code: 0 or 21xx
    reason: str  # one English sentence
    reason_ko: str  # the same verdict in one Korean sentence, for HR staff
    gen_time: str | None = None  # ISO 8601, UTC, "Z"
    hash_alg: str | None = None  # SHA-256 | SHA-384 | SHA-512
    hash_value: str | None = None  # hex, the messageImprint in the token
    tsa: str | None = None  # RFC 4514 DN of the TSA certificate
    covers_whole_file: bool = False
    status: str = "tampered"  # authentic | untrusted_issuer | tampered | unsigned
    trust_anchor: str | None = None  # anchor:<sha256> <subject> | pinned:<sha256>

    @property
    def nts_code(self) -> int:
        """Deprecated alias of :attr:`verifier_code`, kept for one release."""
        return self.verifier_code

    def to_dict(self) -> dict:
        return {
            "authentic": self.authentic,
            "intact": self.intact,
            "trust": self.trust,
            "trust_anchor": self.trust_anchor,
            "verifier_code": self.verifier_code,
            "nts_code": self.verifier_code,  # deprecated alias of verifier_code, for one release
            "status": self.status,
            "reason": self.reason,
            "reason_ko": self.reason_ko,
            "gen_time": self.gen_time,
            "hash_alg": self.hash_alg,
            "hash_value": self.hash_value,
            "tsa": self.tsa,
            "covers_whole_file": self.covers_whole_file,
        }


class Failure(Exception):
    """Stop verification with an NTS verifier code and a fixed sentence in English and Korean."""

    def __init__(self, code: int, reason: str, reason_ko: str):
        super().__init__(reason)
        self.code = code
        self.reason = reason
        self.reason_ko = reason_ko


# Exceptions asn1crypto raises on malformed input (it parses lazily: where a field is first read).
ASN1_ERRORS = (ValueError, TypeError, KeyError, IndexError, OverflowError, RecursionError)
