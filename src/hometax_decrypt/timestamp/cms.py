"""The token's integrity (RFC 3161 / RFC 5652): a bounded DER scan before any parser sees hostile
bytes, the CMS SignedData and its TSTInfo, the signer's certificate, the signed attributes (content
type, message digest, ESS signing certificate) and the signature.

The scan indexes every element of the token as it checks it (:class:`DerIndex`); the fields a
verification reads are then taken from that index by position, as RFC 5652 §5 and RFC 3161 §2.4.2
lay them out. What each field *means* (an algorithm identifier, an attribute type, an ESS
certificate identifier, a time) is read by asn1crypto, and the meaning of the same bytes is cached:
apart from the hash, a token differs from the previous one of the same TSA only in its TSTInfo, its
message digest and its signature. The signer certificate found in a certificate set is cached by the
set's exact bytes, and a set once scanned sound is not scanned again. Nothing here depends on time;
validity at genTime is judged in :mod:`.trust` for each document.
"""

from __future__ import annotations

import datetime as _dt
import functools
import hashlib
import re
import threading
from dataclasses import dataclass, field

from asn1crypto import algos, cms, core, tsp
from cryptography import x509
from cryptography.exceptions import InvalidSignature, UnsupportedAlgorithm
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec, padding, rsa

from .result import Failure, fail

# -- hard limits on hostile input ---------------------------------------------------------------------
MAX_DER_DEPTH = 32  # a real token nests ~12 deep
MAX_DER_ELEMENTS = 20_000  # a real token has ~600 TLVs
MAX_TOKEN_CERTS = 16
CACHE_ENTRIES = 64  # per cache: certificate sets and signers seen (a handful of NTS TSAs in practice)
MEANING_ENTRIES = 256  # per cache of what small DER values (algorithms, attribute types) mean

HASHES = {  # accepted digest algorithms; SHA-1 and MD5 are refused as unsupported (2103)
    "sha256": (hashlib.sha256, hashes.SHA256, "SHA-256"),
    "sha384": (hashlib.sha384, hashes.SHA384, "SHA-384"),
    "sha512": (hashlib.sha512, hashes.SHA512, "SHA-512"),
}
_ESS_HASHES = {
    "sha1": hashlib.sha1,
    "sha256": hashlib.sha256,
    "sha384": hashlib.sha384,
    "sha512": hashlib.sha512,
}  # a certificate *identifier* may use SHA-1 (RFC 2634)

# DER tags (universal class and the context-specific ones CMS uses)
_INTEGER, _OCTET_STRING, _OID, _GENERALIZED_TIME = 0x02, 0x04, 0x06, 0x18
_SEQUENCE, _SET, _CTX0, _CTX1 = 0x30, 0x31, 0xA0, 0xA1
_SIGNED_DATA = cms.ContentType("signed_data").dump()
_TST_INFO = cms.ContentType("tst_info").dump()


class BoundedCache:
    """A dict that forgets everything when full: hostile input cannot grow it, and the few real
    entries come back on the next document."""

    def __init__(self, size: int = CACHE_ENTRIES):
        self._size = size
        self._data: dict = {}
        self._lock = threading.Lock()

    def get(self, key):
        return self._data.get(key)

    def put(self, key, value) -> None:
        with self._lock:
            if len(self._data) >= self._size:
                self._data.clear()
            self._data[key] = value

    def clear(self) -> None:
        with self._lock:
            self._data.clear()


_SCANNED = BoundedCache()  # (depth, certificate set or attribute value DER) -> element count (sound)
_SIGNERS = BoundedCache()  # (certificate-set DER, sid DER) -> Signer


def clear_caches() -> None:
    """Forget what was learnt about certificates and DER values (to measure a cold start)."""
    _SCANNED.clear()
    _SIGNERS.clear()
    for fn in (_algorithm, _signature_algorithm, _attribute_type, _content_type, _ess_cert_id):
        fn.cache_clear()


def _parse_error() -> Failure:
    return fail("token_unparseable")


# == the DER scan ======================================================================================
_CERT_SET_DEPTH = 4  # ContentInfo > [0] > SignedData > certificates [0] IMPLICIT
# Below ContentInfo > [0] > SignedData > signerInfos > SignerInfo > signedAttrs > Attribute > values,
# an element is only ever read whole (an attribute value: the ESS signing certificate, the same in
# every token of a TSA); so from there on, bytes once scanned sound are stepped over too.
_OPAQUE_DEPTH = 9
_SIGNER_INFO_FIELD_DEPTH = 6  # a SignerInfo's SEQUENCE fields (sid, algorithms): read whole as well
_OPAQUE_MIN = 48  # bytes: smaller elements cost less to scan than to look up


class DerIndex:
    """Every element of a DER value in document order, as ``(tag byte, start, content start, end)``,
    and the index after each one's subtree (to step over it)."""

    __slots__ = ("raw", "nodes", "skip")

    def __init__(self, raw: bytes):
        self.raw = raw
        self.nodes: list[tuple[int, int, int, int]] = []
        self.skip: list[int] = []

    def tag(self, i: int) -> int:
        return self.nodes[i][0]

    def end(self, i: int) -> int:
        return self.nodes[i][3]

    def is_empty(self, i: int) -> bool:
        return self.nodes[i][2] == self.nodes[i][3]

    def children(self, i: int) -> list[int]:
        out, j, stop, skip = [], i + 1, self.skip[i], self.skip
        while j < stop:
            out.append(j)
            j = skip[j]
        return out

    def der(self, i: int) -> bytes:
        node = self.nodes[i]
        return self.raw[node[1] : node[3]]

    def content(self, i: int) -> bytes:
        node = self.nodes[i]
        return self.raw[node[2] : node[3]]

    def expect(self, i: int, tag: int, children: tuple[int, int] | None = None) -> list[int]:
        """The children of element ``i`` after checking its tag (and how many children it has:
        ``(least, most)``); anything else is a token that cannot be parsed."""
        if self.nodes[i][0] != tag:
            raise _parse_error()
        if children is None:
            return []
        kids = self.children(i)
        if not children[0] <= len(kids) <= children[1]:
            raise _parse_error()
        return kids


# What the scan may step over once it has found the same bytes sound, at the same depth (``len`` of
# the scan's stack when the element is read: the outermost element is read at 1):
TOKEN = "token"  # a ContentInfo: the certificate set, a SignerInfo's SEQUENCE fields, attribute values
TST_INFO = "tst_info"  # a TSTInfo: its [0] tsa name
_TST_NAME_DEPTH = 2


def der_index(raw: bytes, whole: bool = False, kind: str | None = None) -> DerIndex:
    """Walk the DER structure iteratively and index it. Refuses indefinite lengths, nesting deeper
    than MAX_DER_DEPTH and more than MAX_DER_ELEMENTS elements, so that a hostile token fails fast here
    instead of deep inside a recursive parser. The first element ends at ``index.end(0)``; with
    ``whole`` it must fill ``raw``.

    Much of a token is the same in every token of one TSA certificate: the certificate set (the
    ``[0]`` element four levels down, two thirds of an NTS token), the signer identifier, the
    algorithm identifiers, the ESS signing-certificate value, the TSTInfo's TSA name. With ``kind``
    (:data:`TOKEN`, :data:`TST_INFO`), such an element once scanned and found sound is stepped over
    the next time the same bytes stand at the same depth, with its element count, and not indexed:
    these are only ever read whole (the signer is looked up by the set's bytes, see
    :func:`signer_of`)."""
    bad = fail("token_not_der")
    ix = DerIndex(raw)
    nodes, skips = ix.nodes, ix.skip
    token, tst_info = kind == TOKEN, kind == TST_INFO
    n = len(raw)
    count = 0
    stack = [n]  # end offsets of the open constructed elements
    open_nodes: list[int] = []  # their indexes (stack[1:])
    pending = None  # (end, count before, start, depth) of the element being scanned for the cache
    pos = 0
    first_end = None
    while True:
        while stack and pos == stack[-1]:
            stack.pop()
            if open_nodes:
                skips[open_nodes.pop()] = len(nodes)
            if pending is not None and pending[0] == pos and len(stack) == pending[3]:
                _SCANNED.put((kind, pending[3], raw[pending[2] : pos]), count - pending[1])
                pending = None
        if not stack or (first_end is not None and len(stack) == 1):
            break
        if pos >= n:
            raise bad
        count += 1
        if count > MAX_DER_ELEMENTS:
            raise fail("token_too_many_elements")
        start = pos
        tag = raw[pos]
        pos += 1
        if tag & 0x1F == 0x1F:  # high tag number
            for _ in range(4):
                if pos >= n:
                    raise bad
                pos += 1
                if not raw[pos - 1] & 0x80:
                    break
            else:
                raise bad
        if pos >= n:
            raise bad
        first = raw[pos]
        pos += 1
        if first < 0x80:
            length = first
        elif first == 0x80 or first > 0x84:
            raise bad  # indefinite length (BER) or an absurd length field
        else:
            k = first & 0x7F
            if pos + k > n:
                raise bad
            length = int.from_bytes(raw[pos : pos + k], "big")
            pos += k
        end = pos + length
        if end > stack[-1]:
            raise bad
        if first_end is None:
            first_end = end
            stack[0] = end if not whole else n
            if whole and end != n:
                raise bad
        node = len(nodes)
        nodes.append((tag, start, pos, end))
        skips.append(node + 1)
        if tag & 0x20:  # constructed: descend
            depth = len(stack)
            if depth > MAX_DER_DEPTH:
                raise fail("token_too_deep")
            if (
                pending is None
                and kind is not None
                and (
                    (
                        token
                        and (
                            (tag == _CTX0 and depth == _CERT_SET_DEPTH)
                            or (
                                end - start >= _OPAQUE_MIN
                                and (
                                    depth >= _OPAQUE_DEPTH
                                    or (depth == _SIGNER_INFO_FIELD_DEPTH and tag == _SEQUENCE)
                                )
                            )
                        )
                    )
                    or (tst_info and tag == _CTX0 and depth == _TST_NAME_DEPTH)
                )
            ):
                known = _SCANNED.get((kind, depth, raw[start:end]))  # the depth bounds its nesting
                if known is not None:
                    count += known - 1
                    pos = end
                    continue
                pending = (end, count - 1, start, depth)
            stack.append(end)
            open_nodes.append(node)
        else:
            pos = end
    if first_end is None:
        raise bad
    return ix


# == what small DER values mean (asn1crypto, cached by the exact bytes) =================================
@functools.lru_cache(maxsize=MEANING_ENTRIES)
def _algorithm(der: bytes) -> str:
    """A DigestAlgorithm's name (sha512, sha1, …; a dotted OID when unknown)."""
    return algos.DigestAlgorithm.load(der)["algorithm"].native


@dataclass(frozen=True)
class _SignatureAlgorithm:
    algo: str  # rsassa_pkcs1v15 | rsassa_pss | ecdsa | dsa | ed25519 ...
    hash_name: str | None  # None: plain rsaEncryption / ecPublicKey, the SignerInfo's digest applies
    mgf: str | None = None  # RSA-PSS only
    mgf_hash: str | None = None
    salt_length: int | None = None


@functools.lru_cache(maxsize=MEANING_ENTRIES)
def _signature_algorithm(der: bytes) -> _SignatureAlgorithm:
    alg = algos.SignedDigestAlgorithm.load(der)
    try:
        hash_name = alg.hash_algo
    except ValueError:
        hash_name = None
    if alg.signature_algo != "rsassa_pss":
        return _SignatureAlgorithm(alg.signature_algo, hash_name)
    params = alg["parameters"]
    mgf = params["mask_gen_algorithm"]
    return _SignatureAlgorithm(
        "rsassa_pss",
        hash_name,
        mgf["algorithm"].native,
        mgf["parameters"]["algorithm"].native,
        params["salt_length"].native,
    )


def _octets(der: bytes) -> bytes:
    """The content of a DER OCTET STRING that the scan has already checked."""
    if der[0] != _OCTET_STRING:
        raise _parse_error()
    first = der[1]
    if first < 0x80:
        return der[2:]
    return der[2 + (first & 0x7F) :]


@functools.lru_cache(maxsize=MEANING_ENTRIES)
def _attribute_type(der: bytes) -> str:
    return cms.CMSAttributeType.load(der).native


@functools.lru_cache(maxsize=MEANING_ENTRIES)
def _content_type(der: bytes) -> str:
    return cms.ContentType.load(der).native


@functools.lru_cache(maxsize=MEANING_ENTRIES)
def _ess_cert_id(der: bytes, v2: bool) -> tuple[str, bytes]:
    """The first ESSCertID(v2) of a SigningCertificate(V2) value: its hash algorithm and hash."""
    spec = tsp.SigningCertificateV2 if v2 else tsp.SigningCertificate
    first = spec.load(der)["certs"][0]
    # ESSCertIDv2 names its hash (default SHA-256); ESSCertID is always SHA-1
    alg = first["hash_algorithm"]["algorithm"].native if v2 else "sha1"
    return alg, first["cert_hash"].native


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


# == the signer ========================================================================================
@dataclass(frozen=True)
class Signer:
    """The TSA certificate that signed a token, with what every document asks of it computed once."""

    cert: x509.Certificate
    der: bytes
    subject: str  # RFC 4514
    fingerprint: str  # SHA-256 hex of the DER
    public_key: object = field(repr=False, compare=False)  # None: a key cryptography cannot load
    _digests: dict = field(default_factory=dict, repr=False, compare=False)

    @classmethod
    def from_der(cls, der: bytes) -> Signer:
        cert = x509.load_der_x509_certificate(der)
        try:
            key = cert.public_key()
        except (ValueError, TypeError, UnsupportedAlgorithm):
            key = None  # the signature cannot verify with it: 2102, as a wrong key
        return cls(
            cert,
            der,
            cert.subject.rfc4514_string(),
            hashlib.sha256(der).hexdigest(),
            key,
            {name: fn(der).digest() for name, fn in _ESS_HASHES.items()},
        )

    def digest(self, alg: str) -> bytes:
        return self._digests[alg]


def signer_of(token: Token) -> Signer:
    """The certificate in the token's set that the SignerInfo names (attribute certificates, which
    the NTS tokens carry one of, are never signers). Cached by the set's and the identifier's bytes."""
    key = (token.certificates, token.sid)
    signer = _SIGNERS.get(key)
    if signer is None:
        certs = cms.CertificateSet.load(b"\x31" + token.certificates[1:])  # [0] IMPLICIT SET OF
        if len(certs) == 0 or len(certs) > MAX_TOKEN_CERTS:
            raise _no_certificate()
        cert_asn1 = _find_signer_cert(certs, cms.SignerIdentifier.load(token.sid))
        try:
            signer = Signer.from_der(cert_asn1.dump())
        except (ValueError, x509.InvalidVersion):
            raise fail("signer_certificate_unparseable") from None
        _SIGNERS.put(key, signer)
    return signer


def _find_signer_cert(certs, sid):
    for choice in certs:
        if choice.name != "certificate":
            continue
        cert = choice.chosen
        try:
            if sid.name == "issuer_and_serial_number":
                issuer = sid.chosen["issuer"]
                if cert.serial_number == sid.chosen["serial_number"].native and (
                    cert.issuer.dump() == issuer.dump() or cert.issuer == issuer
                ):
                    return cert
            elif sid.name == "subject_key_identifier" and cert.key_identifier == sid.chosen.native:
                return cert
        except (ValueError, TypeError, KeyError):
            continue
    raise fail("signer_certificate_missing")


# == the signature =====================================================================================
def check_signature(token: Token, signer: Signer) -> None:
    """RFC 5652 §5.4 and RFC 3161 §2.4.1: the signed attributes hold one content type (TSTInfo), one
    message digest (of the TSTInfo) and the ESS signing certificate naming ``signer``; the signature
    over them verifies with the signer's key."""
    digest_alg = _algorithm(token.digest_algorithm)
    if digest_alg not in HASHES:
        raise fail("digest_hash_unsupported")
    if token.signed_attrs is None or not token.attributes:
        raise fail("signed_attributes_missing")
    attrs: dict[str, list[tuple[bytes, ...]]] = {}
    for attr_type, values in token.attributes:
        attrs.setdefault(_attribute_type(attr_type), []).append(values)
    for name in ("content_type", "message_digest"):
        if len(attrs.get(name, [])) != 1 or len(attrs[name][0]) != 1:
            raise fail("signed_attributes_incomplete")
    if _content_type(attrs["content_type"][0][0]) != "tst_info":
        raise fail("signed_content_type")
    if _octets(attrs["message_digest"][0][0]) != HASHES[digest_alg][0](token.tst_der).digest():
        raise fail("message_digest_mismatch")
    _check_ess(attrs, signer)

    to_verify = b"\x31" + token.signed_attrs[1:]  # the SET OF as signed, not the [0] tag
    try:
        if signer.public_key is None:
            raise ValueError("no usable public key")
        _verify_signature(
            signer.public_key,
            _signature_algorithm(token.signature_algorithm),
            digest_alg,
            token.signature,
            to_verify,
        )
    except Failure:
        raise
    except (InvalidSignature, ValueError, TypeError, UnsupportedAlgorithm):
        raise fail("signature_invalid") from None


def _check_ess(attrs: dict, signer: Signer) -> None:
    """RFC 3161 §2.4.1 / RFC 5816: the ESS signing-certificate attribute names the signer's
    certificate, so that it cannot be swapped for another one with the same key."""
    v2 = bool(attrs.get("signing_certificate_v2"))
    ess = attrs.get("signing_certificate_v2") or attrs.get("signing_certificate")
    if not ess or len(ess) != 1 or len(ess[0]) != 1:
        raise fail("ess_missing")
    try:
        alg, want = _ess_cert_id(ess[0][0], v2)
    except (KeyError, IndexError, ValueError, TypeError):
        raise fail("ess_unreadable") from None
    if alg not in _ESS_HASHES:
        raise fail("ess_hash_unsupported")
    if signer.digest(alg) != want:
        raise fail("ess_mismatch")


def _verify_signature(
    pub, sig_alg: _SignatureAlgorithm, digest_alg: str, signature: bytes, message: bytes
) -> None:
    algo = sig_alg.algo
    hash_name = sig_alg.hash_name or digest_alg
    if hash_name not in HASHES:
        raise fail("signature_hash_unsupported")
    h = HASHES[hash_name][1]()
    if algo == "rsassa_pkcs1v15" and isinstance(pub, rsa.RSAPublicKey):
        pub.verify(signature, message, padding.PKCS1v15(), h)
    elif algo == "rsassa_pss" and isinstance(pub, rsa.RSAPublicKey):
        if sig_alg.mgf != "mgf1" or sig_alg.mgf_hash not in HASHES or sig_alg.salt_length is None:
            raise fail("pss_unsupported")
        pub.verify(
            signature,
            message,
            padding.PSS(mgf=padding.MGF1(HASHES[sig_alg.mgf_hash][1]()), salt_length=sig_alg.salt_length),
            h,
        )
    elif algo == "ecdsa" and isinstance(pub, ec.EllipticCurvePublicKey):
        pub.verify(signature, message, ec.ECDSA(h))
    else:
        raise fail("signature_algorithm_mismatch")


def imprint_matches(data: bytes, segments, stamp: Stamp) -> bool:
    """The TSTInfo's messageImprint equals the hash of the signed segments (an accepted hash)."""
    h = HASHES[stamp.hash_name][0]()
    view = memoryview(data)
    for start, length in segments:
        h.update(view[start : start + length])
    return h.digest() == stamp.imprint
