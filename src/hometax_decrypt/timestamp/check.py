"""The verification, in order: locate the signature (:mod:`.locate`), check the token
(:mod:`.cms`), compare the hash, judge the signer (:mod:`.trust`), and say it in one
:class:`~.result.Verification`."""

from __future__ import annotations

import datetime as _dt

from .. import errors
from ..document.limits import Limits, resolve
from ..document.source import Source, read_source
from . import cms, locate
from .result import ASN1_ERRORS, OK, TRUSTED, Failure, Verification
from .trust import TrustStore, default_trust
from .verdicts import verdict


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
        return _Facts().result("byte_range_more_than_one")
    return v


def _iso(t: _dt.datetime) -> str:
    t = t.astimezone(_dt.UTC)
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

    def result(self, reason_code: str, matches: bool = False) -> Verification:
        """The verdict ``reason_code`` of :data:`.verdicts.VERDICTS` (its code and sentences) with the
        facts established so far; ``matches``: the file matches the stamp it carries (whoever made
        it). Only a vouched stamp (``trust`` chain or pinned) makes the file ``intact``, and only a
        vouched stamp's signer is reported as ``tsa``: a stamp nobody vouches for proves nothing about
        the contents, and the name in its certificate is a claim (``tsa_claimed``)."""
        v = verdict(reason_code)
        code = v.verifier_code
        vouched = self.trust in TRUSTED
        intact = matches and vouched
        authentic = intact and code == OK
        if authentic:
            status = "authentic"
        elif matches:
            status = "untrusted_issuer"
        elif self.unsigned:
            status = "unsigned"
        else:
            status = "tampered"
        return Verification(
            authentic=authentic,
            intact=intact,
            trust=self.trust,
            verifier_code=code,
            reason=v.reason,
            reason_ko=v.reason_ko,
            reason_code=reason_code,
            gen_time=_iso(self.gen_time) if self.gen_time else None,
            hash_alg=self.hash_alg,
            hash_value=self.hash_value,
            tsa=self.tsa if vouched else None,
            tsa_claimed=self.tsa,
            matches_stamp=matches,
            covers_whole_file=self.covers,
            status=status,
            trust_anchor=self.anchor,
        )


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
        return facts.result(f.reason_code)
    except Failure as f:
        return facts.result(f.reason_code)
    except ASN1_ERRORS:  # asn1crypto parses lazily: a malformed field fails where it is read
        return facts.result("token_unparseable")
    # The token is sound and ``signer`` signed it. Whose certificate is it? Asked even when the file
    # no longer matches, so that "NTS-issued, then changed" reads differently from a forgery.
    imprint_ok = cms.imprint_matches(data, loc.segments, stamp)
    decision = store.evaluate(signer, stamp.gen_time)
    facts.trust, facts.anchor = decision.trust, decision.anchor
    if not imprint_ok:
        return facts.result("hash_mismatch")
    if not loc.covers_whole_file:
        return facts.result("byte_range_not_whole_file")
    if decision.trust == "chain":
        return facts.result("authentic_chain", matches=True)
    if decision.trust == "pinned":
        return facts.result("authentic_pinned", matches=True)
    assert decision.reason is not None  # neither trusted nor pinned: the store says why
    return facts.result(decision.reason, matches=True)
