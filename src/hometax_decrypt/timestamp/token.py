"""The token: the CMS SignedData and its TSTInfo (RFC 3161 §2.4.2, RFC 5652 §5) taken from the
DER index by position, and the stamp a verification reads (imprint, genTime)."""

from __future__ import annotations

import datetime as _dt
import re
from dataclasses import dataclass

from asn1crypto import core

from .der import (
    _CTX0,
    _CTX1,
    _GENERALIZED_TIME,
    _INTEGER,
    _OCTET_STRING,
    _OID,
    _SEQUENCE,
    _SET,
    _SIGNED_DATA,
    _TST_INFO,
    HASHES,
    TOKEN,
    TST_INFO,
    DerIndex,
    _algorithm,
    _parse_error,
    der_index,
)
from .result import Failure, fail


# == the token =========================================================================================
@dataclass(frozen=True)
class Token:
    """The parts of a token a verification reads, as DER bytes."""

    tst_der: bytes  # the TSTInfo, as signed
    tst: DerIndex
    certificates: bytes  # the SignedData's [0] certificate set
    sid: bytes  # the SignerInfo's signer identifier
    digest_algorithm: bytes
    signed_attrs: bytes | None  # the [0] signed attributes, None when absent
    attributes: tuple[tuple[bytes, tuple[bytes, ...]], ...]  # (type, values) of each signed attribute
    signature_algorithm: bytes
    signature: bytes


@dataclass(frozen=True)
class Stamp:
    """What the TSTInfo says: when, and the hash of the document."""

    gen_time: _dt.datetime
    hash_name: str  # asn1crypto's name: sha512, sha1, ...
    imprint: bytes

    @property
    def hash_alg(self) -> str:
        """The display name (SHA-512) for an accepted algorithm, else the raw name."""
        return HASHES[self.hash_name][2] if self.hash_name in HASHES else str(self.hash_name)


def parse_token(raw: bytes) -> Token:
    """The token out of the decoded ``/Contents`` (which the NTS pads with zero bytes): ContentInfo
    (RFC 5652 §3) with SignedData (§5.1) of an encapsulated TSTInfo (RFC 3161 §2.4.2)."""
    ix = der_index(raw, kind=TOKEN)  # raises Failure(2106) on anything but bounded, definite-length DER
    if raw[ix.end(0) :].strip(b"\0"):
        raise fail("token_trailing_data")
    content_type, explicit = ix.expect(0, _SEQUENCE, (2, 2))
    ix.expect(content_type, _OID)
    if ix.der(content_type) != _SIGNED_DATA:
        raise fail("token_not_signed_data")
    (signed_data,) = ix.expect(explicit, _CTX0, (1, 1))
    sd = ix.expect(signed_data, _SEQUENCE, (3, 6))
    ix.expect(sd[0], _INTEGER)
    ix.expect(sd[1], _SET)
    eci = ix.expect(sd[2], _SEQUENCE, (1, 2))
    ix.expect(eci[0], _OID)
    if ix.der(eci[0]) != _TST_INFO:
        raise fail("token_not_tst_info")
    octets = ix.children(eci[1]) if len(eci) == 2 and ix.tag(eci[1]) == _CTX0 else []
    if len(octets) != 1 or ix.tag(octets[0]) != _OCTET_STRING or ix.is_empty(octets[0]):
        raise fail("token_detached")
    tst_der = ix.content(octets[0])
    tst = der_index(tst_der, whole=True, kind=TST_INFO)
    ix.expect(sd[-1], _SET)
    signer_infos = ix.children(sd[-1])
    if len(signer_infos) != 1:
        raise fail("token_signer_count")
    certificates = [i for i in sd[3:-1] if ix.tag(i) == _CTX0]
    if len(certificates) != 1 or ix.is_empty(certificates[0]):
        raise _no_certificate()
    si = ix.expect(signer_infos[0], _SEQUENCE, (5, 7))
    ix.expect(si[0], _INTEGER)
    ix.expect(si[2], _SEQUENCE)
    if ix.tag(si[3]) == _CTX0:  # signed attributes
        signed_attrs = si[3]
        rest = si[4:]
    else:
        signed_attrs = None
        rest = si[3:]
    if len(rest) not in (2, 3) or (len(rest) == 3 and ix.tag(rest[2]) != _CTX1):
        raise _parse_error()
    ix.expect(rest[0], _SEQUENCE)
    ix.expect(rest[1], _OCTET_STRING)
    attributes = []
    if signed_attrs is not None:
        for attr in ix.children(signed_attrs):
            attr_type, values = ix.expect(attr, _SEQUENCE, (2, 2))
            ix.expect(attr_type, _OID)
            ix.expect(values, _SET)
            attributes.append((ix.der(attr_type), tuple(ix.der(v) for v in ix.children(values))))
    return Token(
        tst_der,
        tst,
        ix.der(certificates[0]),
        ix.der(si[1]),
        ix.der(si[2]),
        ix.der(signed_attrs) if signed_attrs is not None else None,
        tuple(attributes),
        ix.der(rest[0]),
        ix.content(rest[1]),
    )


def _no_certificate() -> Failure:
    return fail("token_no_certificate")


def read_stamp(token: Token) -> Stamp:
    """TSTInfo (RFC 3161 §2.4.2): version, policy, messageImprint, serialNumber, genTime, …"""
    tst = token.tst
    fields = tst.expect(0, _SEQUENCE, (5, 10))
    tst.expect(fields[0], _INTEGER)
    if tst.content(fields[0]) != b"\x01":
        raise fail("tst_info_version")
    tst.expect(fields[1], _OID)
    alg, hashed = tst.expect(fields[2], _SEQUENCE, (2, 2))
    tst.expect(alg, _SEQUENCE)
    tst.expect(hashed, _OCTET_STRING)
    tst.expect(fields[3], _INTEGER)
    tst.expect(fields[4], _GENERALIZED_TIME)
    gen_time = _generalized_time(tst.der(fields[4]))
    return Stamp(gen_time, _algorithm(tst.der(alg)), tst.content(hashed))


_DER_TIME = re.compile(rb"(\d{4})(\d\d)(\d\d)(\d\d)(\d\d)(\d\d)(?:\.(\d{1,6}))?Z")


def _generalized_time(der: bytes) -> _dt.datetime:
    """genTime as an aware UTC datetime. RFC 3161 §2.4.2 fixes its DER form, YYYYMMDDhhmmss[.s…]Z,
    read here directly; anything else (more than microseconds, an offset) goes to asn1crypto."""
    m = _DER_TIME.fullmatch(der, 2) if len(der) < 0x80 and der[1] == len(der) - 2 else None
    if m is None:
        t = core.GeneralizedTime.load(der).native
        return t if t.tzinfo is not None else t.replace(tzinfo=_dt.UTC)
    fraction = m.group(7) or b""
    year, month, day, hour, minute, second = (int(g) for g in m.groups()[:6])
    return _dt.datetime(
        year,
        month,
        day,
        hour,
        minute,
        second,
        int(fraction.ljust(6, b"0")) if fraction else 0,
        tzinfo=_dt.UTC,
    )


def unsupported_imprint_hash() -> Failure:
    return fail("imprint_hash_unsupported")
