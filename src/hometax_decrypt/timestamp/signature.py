"""The signer and the signature: the signer's certificate in the token's set, the signed attributes
(content type, message digest, ESS signing certificate) and the signature over them; the imprint
over the document's bytes."""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field

from asn1crypto import cms
from cryptography import x509
from cryptography.exceptions import InvalidSignature, UnsupportedAlgorithm
from cryptography.hazmat.primitives.asymmetric import ec, padding, rsa

from .der import (
    _ESS_HASHES,
    _SIGNERS,
    HASHES,
    MAX_TOKEN_CERTS,
    _algorithm,
    _attribute_type,
    _content_type,
    _ess_cert_id,
    _octets,
    _signature_algorithm,
    _SignatureAlgorithm,
)
from .result import Failure, fail
from .token import Stamp, Token, _no_certificate


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
