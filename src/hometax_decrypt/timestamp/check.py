"""The verification, in order: locate the signature (:mod:`.locate`), check the token
(:mod:`.cms`), compare the hash, judge the signer (:mod:`.trust`), and say it in one
:class:`~.result.Verification`."""

from __future__ import annotations

import datetime as _dt

from .. import errors
from ..document.limits import Limits, resolve
from ..document.source import Source, read_source
from . import cms, locate
from .result import (ASN1_ERRORS, BYTE_RANGE, CERTIFICATE, HASH_MISMATCH, OK, TOKEN_PARSE_ERROR,
                     TRUSTED, Failure, Verification)
from .trust import TrustStore, default_trust


def verify(source: Source, limits: Limits | None = None, trust: TrustStore | None = None) -> Verification:
    """Verify ``source`` (bytes, path or binary file object). Unreadable input raises as the error table
    says (``Damaged`` for a non-PDF, ``TooLarge``); every verdict on a PDF is a :class:`Verification`."""
    return verify_bytes(read_source(source, resolve(limits)), trust=trust)


def verify_bytes(data: bytes, trust: TrustStore | None = None) -> Verification:
    if b"%PDF-" not in data[:1024]:
        raise errors.Damaged("no PDF header")
    data = bytes(data)
    v = _verify(data, trust if trust is not None else default_trust())
    if not v.authentic and v.status != "unsigned" and locate.more_than_one_byte_range(data):
        return _Facts().result(BYTE_RANGE, *_MORE_THAN_ONE)
    return v


_MORE_THAN_ONE = ("The file has more than one signature /ByteRange; an NTS document carries exactly one.",
                  "서명 영역(/ByteRange)이 둘 이상 있습니다. 국세청 문서에는 하나만 있습니다.")


def _iso(t: _dt.datetime) -> str:
    t = t.astimezone(_dt.timezone.utc)
    s = t.strftime("%Y-%m-%dT%H:%M:%S")
    if t.microsecond:
        s += ("." + f"{t.microsecond:06d}").rstrip("0")
    return s + "Z"


class _Facts:
    """What one verification has established so far: reported even when a later check fails."""

    def __init__(self):
        self.gen_time: _dt.datetime | None = None
        self.hash_alg: str | None = None
        self.hash_value: str | None = None
        self.tsa: str | None = None
        self.covers = False
        self.trust = "unknown"
        self.anchor: str | None = None
        self.unsigned = False

    def result(self, code: int, reason: str, reason_ko: str, intact: bool = False) -> Verification:
        authentic = intact and self.trust in TRUSTED and code == OK
        if authentic:
            status = "authentic"
        elif intact:
            status = "untrusted_issuer"
        elif self.unsigned:
            status = "unsigned"
        else:
            status = "tampered"
        return Verification(
            authentic=authentic, intact=intact, trust=self.trust, verifier_code=code, reason=reason,
            reason_ko=reason_ko, gen_time=_iso(self.gen_time) if self.gen_time else None,
            hash_alg=self.hash_alg, hash_value=self.hash_value, tsa=self.tsa,
            covers_whole_file=self.covers, status=status, trust_anchor=self.anchor)


def _verify(data: bytes, store: TrustStore) -> Verification:
    facts = _Facts()
    try:
        loc = locate.locate(data)
        facts.covers = loc.covers_whole_file
        token = cms.parse_token(locate.token_bytes(data, loc))
        stamp = cms.read_stamp(token)
        facts.gen_time, facts.hash_alg, facts.hash_value = stamp.gen_time, stamp.hash_alg, stamp.imprint.hex()
        if stamp.hash_name not in cms.HASHES:
            raise cms.unsupported_imprint_hash()
        signer = cms.signer_of(token)
        facts.tsa = signer.subject
        cms.check_signature(token, signer)
    except locate.Unsigned as f:
        facts.unsigned = True
        return facts.result(f.code, f.reason, f.reason_ko)
    except Failure as f:
        return facts.result(f.code, f.reason, f.reason_ko)
    except ASN1_ERRORS:  # asn1crypto parses lazily: a malformed field fails where it is read
        return facts.result(TOKEN_PARSE_ERROR, "The timestamp token cannot be parsed.",
                            "타임스탬프 토큰을 해석할 수 없습니다.")
    # The token is sound and ``signer`` signed it. Whose certificate is it? Asked even when the file
    # no longer matches, so that "NTS-issued, then changed" reads differently from a forgery.
    imprint_ok = cms.imprint_matches(data, loc.segments, stamp)
    decision = store.evaluate(signer, stamp.gen_time)
    facts.trust, facts.anchor = decision.trust, decision.anchor
    if not imprint_ok:
        return facts.result(HASH_MISMATCH, "The signed bytes do not match the hash in the timestamp: "
                                           "the file was changed after it was stamped.",
                            "문서 내용이 타임스탬프와 맞지 않습니다: 발급 후 문서가 바뀌었습니다.")
    if not loc.covers_whole_file:
        return facts.result(BYTE_RANGE, "The signed byte range does not reach the end of the file: bytes "
                                        "after it (for example an appended revision) are not covered by "
                                        "the timestamp.",
                            "타임스탬프가 문서 끝까지 덮지 않습니다: 그 뒤에 덧붙은 내용(예: 추가 수정본)은 "
                            "타임스탬프로 보증되지 않습니다.")
    if decision.trust == "chain":
        return facts.result(OK, "The file is intact and the timestamp was issued by a trusted timestamp "
                                "authority (its certificate chains, valid at genTime, to a trust anchor: "
                                "the GPKI CAs the package ships, or one added).",
                            "국세청 타임스탬프가 맞고, 발급 이후 바뀐 곳이 없습니다(타임스탬프 인증서가 발급 "
                            "시각에 신뢰하는 인증기관으로 이어집니다).", intact=True)
    if decision.trust == "pinned":
        return facts.result(OK, "The file is intact and the timestamp was issued by a trusted timestamp "
                                "authority (its certificate is a pinned NTS TSA certificate).",
                            "국세청 타임스탬프가 맞고, 발급 이후 바뀐 곳이 없습니다(등록된 국세청 타임스탬프 "
                            "인증서입니다).", intact=True)
    assert decision.reason is not None  # neither trusted nor pinned: the store says why
    return facts.result(CERTIFICATE, *decision.reason, intact=True)
