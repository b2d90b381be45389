"""The result of a verification: the NTS verifier's codes, the typed :class:`Verification`, and the
internal :class:`Failure` with which every check stops (a reason code of :mod:`.verdicts`, whose
table holds every sentence)."""

from __future__ import annotations

from dataclasses import dataclass

# the NTS verifier's result codes (DSTSPDFSig / DSTSPdfSigVerifyF) live with the verdict table
from .verdicts import (  # noqa: F401
    BYTE_RANGE,
    CERTIFICATE,
    HASH_MISMATCH,
    OK,
    SIGNATURE_INVALID,
    STATUS_LABELS_KO,
    TOKEN_PARSE_ERROR,
    UNSUPPORTED_HASH,
    VERDICTS,
)

TRUSTED = ("chain", "pinned")


@dataclass(frozen=True)
class Verification:
    """The outcome of one verification: plain data, never a bare bool.

    ``status`` tells UIs the states apart: ``authentic``; ``untrusted_issuer`` (the file matches its
    timestamp, but the TSA is neither pinned nor chained to an anchor, or its certificate fails at
    genTime: nobody vouches for the stamp, so it proves no more than none — the same badge as
    ``unsigned``); ``tampered`` (a timestamp is there but the file, the range or the token do not
    check out); ``unsigned`` (no NTS timestamp at all).

    What is proven (issue 22): ``matches_stamp`` — the file matches the timestamp it carries, whoever
    made it (hash, token, signature, coverage); ``intact`` — unchanged since a *vouched* timestamp
    (``matches_stamp`` and ``trust`` is ``chain`` or ``pinned``; in 0.1 it meant
    ``matches_stamp``). ``tsa`` is the TSA's name only when an anchor or pin vouches for its
    certificate; ``tsa_claimed`` is the name the certificate claims, vouched or not.

    ``verifier_code`` is the NTS verifier's code (0, 21xx). ``nts_code`` is its deprecated alias, kept
    for one release (``to_dict`` carries both keys with the same value); it is *not* the NTS API's
    return code (−2…1) that errors carry.

    ``trust_anchor`` says what decided trust: ``"anchor:<sha256> <subject>"`` for the trust anchor a
    chain ended at, ``"pinned:<sha256>"`` for a pinned TSA certificate, else ``None``.

    ``reason_code`` names the row of :data:`.verdicts.VERDICTS` the verdict is: ``reason`` and
    ``reason_ko`` are its sentences, and ``to_dict`` adds what HR reads (``label_ko``, ``summary_ko``,
    ``advice_ko``) from the same row, so that no UI keeps sentences of its own.
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
    tsa: str | None = None  # RFC 4514 DN of the TSA certificate, when trust vouches for it (chain, pinned)
    covers_whole_file: bool = False
    status: str = "tampered"  # authentic | untrusted_issuer | tampered | unsigned
    trust_anchor: str | None = None  # anchor:<sha256> <subject> | pinned:<sha256>
    reason_code: str | None = None  # the row of verdicts.VERDICTS: reason, reason_ko and HR's sentences
    matches_stamp: bool = False  # the file matches the timestamp it carries, vouched for or not
    tsa_claimed: str | None = None  # RFC 4514 DN the TSA certificate claims, vouched for or not

    def _verdict(self):
        return VERDICTS.get(self.reason_code) if self.reason_code else None

    @property
    def label_ko(self) -> str:
        """The badge HR sees (진본 확인, 위변조 의심)."""
        return STATUS_LABELS_KO[self.status]

    @property
    def summary_ko(self) -> str:
        """What the verdict means, in one plain Korean sentence for HR staff."""
        v = self._verdict()
        return v.summary_ko if v is not None else self.reason_ko

    @property
    def advice_ko(self) -> str | None:
        """What HR staff should do next, in one Korean sentence."""
        v = self._verdict()
        return v.advice_ko if v is not None else None

    @property
    def nts_code(self) -> int:
        """Deprecated alias of :attr:`verifier_code`, kept for one release."""
        return self.verifier_code

    def to_dict(self) -> dict:
        return {
            "authentic": self.authentic,
            "intact": self.intact,
            "matches_stamp": self.matches_stamp,
            "trust": self.trust,
            "trust_anchor": self.trust_anchor,
            "verifier_code": self.verifier_code,
            "nts_code": self.verifier_code,  # deprecated alias of verifier_code, for one release
            "status": self.status,
            "reason": self.reason,
            "reason_ko": self.reason_ko,
            "reason_code": self.reason_code,
            "label_ko": self.label_ko,
            "summary_ko": self.summary_ko,
            "advice_ko": self.advice_ko,
            "gen_time": self.gen_time,
            "hash_alg": self.hash_alg,
            "hash_value": self.hash_value,
            "tsa": self.tsa,
            "tsa_claimed": self.tsa_claimed,
            "covers_whole_file": self.covers_whole_file,
        }


class Failure(Exception):
    """Stop verification with a reason code of :data:`.verdicts.VERDICTS` (``raise fail(code)``): its
    NTS verifier code and sentences come from the table."""

    def __init__(self, reason_code: str):
        v = VERDICTS[reason_code]
        super().__init__(v.reason)
        self.reason_code = reason_code
        self.code = v.verifier_code
        self.reason = v.reason
        self.reason_ko = v.reason_ko


def fail(code: str, cls: type[Failure] = Failure) -> Failure:
    """The :class:`Failure` (or subclass ``cls``) that stops verification with the verdict ``code``:
    ``raise fail("hash_mismatch")``. A code missing from the table is a KeyError (a bug)."""
    return cls(code)


# Exceptions asn1crypto raises on malformed input (it parses lazily: where a field is first read).
ASN1_ERRORS = (ValueError, TypeError, KeyError, IndexError, OverflowError, RecursionError)
