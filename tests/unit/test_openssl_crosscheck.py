"""A verifier nobody here wrote agrees with ``verify``: Debian's OpenSSL (``/usr/bin/openssl``).

For every real sample and every stamped file the suite makes (tsa.cases: sound stamps of its own
TSAs and every forgery), OpenSSL's ``cms -verify`` checks the token's signature and message digest
(``-noverify``), then also the TSA certificate's chain at genTime for the timestamping purpose
(``-purpose timestampsign -attime``), with the GPKI anchors (and the case's test CAs) as CAfile. This
file's own code compares the TSTInfo messageImprint OpenSSL hands out with the hash over the
ByteRange and checks that the range reaches the end of the file. That must give ``verify``'s
``matches_stamp`` and, for trust by chain, its ``trust``/``authentic`` verdict. docs/verification.md says
why ``openssl ts -verify`` is not the comparison (the last tests here measure it).
"""

from __future__ import annotations

import hashlib
import re
import shutil
import subprocess
from pathlib import Path

import pytest
from asn1crypto import cms, tsp
from cryptography import x509
from cryptography.hazmat.primitives import serialization

from hometax_decrypt.timestamp import TrustStore, verify_bytes
from tests.support import tsa
from tests.support.paths import GPKI_DIR, SAMPLES, sample_files

OPENSSL = shutil.which("openssl") or "/usr/bin/openssl"
SHIPPED_ANCHORS = (
    Path(__file__).resolve().parents[2] / "src" / "hometax_decrypt" / "data" / "trust" / "anchors"
)
ALL = SAMPLES / "nts-2020" / "all.pdf"
_BYTE_RANGE = re.compile(rb"/ByteRange\s*\[\s*(\d+)\s+(\d+)\s+(\d+)\s+(\d+)\s*\]")
_DIGESTS = {
    "sha256": hashlib.sha256,
    "sha384": hashlib.sha384,
    "sha512": hashlib.sha512,
    "sha1": hashlib.sha1,
}


def _pem(certs) -> bytes:
    return b"".join(c.public_bytes(serialization.Encoding.PEM) for c in certs)


GPKI = tuple(x509.load_pem_x509_certificate(p.read_bytes()) for p in sorted(SHIPPED_ANCHORS.glob("*.pem")))


# -- this file's own reading of a stamped PDF (no hometax_decrypt code) --------------------------------
def read_stamp(data: bytes):
    """(ByteRange, token DER, genTime) by the first /ByteRange, as a reader of docs/format.md §3 would."""
    a, b, c, d = (int(x) for x in _BYTE_RANGE.search(data).groups())
    info = cms.ContentInfo.load(bytes.fromhex(data[b + 1 : c - 1].decode()))
    token = info.dump()
    tst = tsp.TSTInfo.load(info["content"]["encap_content_info"]["content"].contents)
    return (a, b, c, d), token, tst["gen_time"].native


def without_attribute_certificates(token: bytes) -> bytes:
    """The token with only X.509 certificates in its certificate set. The set is outside what the
    signature covers (RFC 5652 §5.4: the signed attributes), so the signature stays valid."""
    info = cms.ContentInfo.load(token)
    sd = info["content"]
    certs = [ch for ch in sd["certificates"] if ch.name == "certificate"]
    new = cms.SignedData(
        {
            "version": sd["version"],
            "digest_algorithms": sd["digest_algorithms"],
            "encap_content_info": sd["encap_content_info"],
            "certificates": certs,
            "signer_infos": sd["signer_infos"],
        }
    )
    return cms.ContentInfo({"content_type": "signed_data", "content": new}).dump()


def openssl_cms(token: bytes, tmp: Path, *, chain: bool, gen_time=None, anchors=()) -> tuple[bool, bytes]:
    """``openssl cms -verify``: (exit status 0, the eContent it hands out)."""
    tok, out, ca = tmp / "token.der", tmp / "tstinfo.der", tmp / "anchors.pem"
    tok.write_bytes(token)
    out.unlink(missing_ok=True)
    args = [OPENSSL, "cms", "-verify", "-inform", "DER", "-in", str(tok), "-binary", "-out", str(out)]
    if chain:
        ca.write_bytes(_pem(GPKI + tuple(anchors)))
        args += ["-CAfile", str(ca), "-purpose", "timestampsign", "-attime", str(int(gen_time.timestamp()))]
    else:
        args += ["-noverify"]  # the signature and message digest only, no certificate chain
    r = subprocess.run(args, capture_output=True, timeout=60)
    return r.returncode == 0, out.read_bytes() if r.returncode == 0 and out.exists() else b""


def openssl_verdict(data: bytes, tmp: Path, anchors=()) -> dict:
    try:
        (a, b, c, d), token, gen_time = read_stamp(data)
    except (ValueError, UnicodeDecodeError):  # the ByteRange gap holds no token: nothing to verify
        return {"matches_stamp": False, "chain": False, "authentic": False}
    token = without_attribute_certificates(token)
    signature_ok, tst_der = openssl_cms(token, tmp, chain=False)
    chain_ok, _tst_chain = openssl_cms(token, tmp, chain=True, gen_time=gen_time, anchors=anchors)
    imprint_ok = False
    if signature_ok:
        imprint = tsp.TSTInfo.load(tst_der)["message_imprint"]
        h = _DIGESTS[imprint["hash_algorithm"]["algorithm"].native]()
        h.update(data[a : a + b])
        h.update(data[c : c + d])
        imprint_ok = h.digest() == imprint["hashed_message"].native
    covers = c + d == len(data)
    return {
        "matches_stamp": signature_ok and imprint_ok and covers,
        "chain": signature_ok and chain_ok,
        "authentic": signature_ok and chain_ok and imprint_ok and covers,
    }


def our_verdict(data: bytes, anchors=()) -> dict:
    """``verify`` with anchors only (GPKI and the case's test CAs, no pins): OpenSSL knows no pins."""
    v = verify_bytes(data, trust=TrustStore(anchors=GPKI + tuple(anchors)))
    return {"matches_stamp": v.matches_stamp, "chain": v.trust == "chain", "authentic": v.authentic}


# == the comparison ===================================================================================
@pytest.mark.parametrize("path", sample_files(), ids=lambda p: str(p.relative_to(SAMPLES)))
def test_openssl_agrees_on_every_real_sample(path, tmp_path):
    data = path.read_bytes()
    ours = our_verdict(data)
    assert ours == openssl_verdict(data, tmp_path)
    assert ours == {"matches_stamp": True, "chain": True, "authentic": True}


@pytest.mark.parametrize("name", [c.name for c in tsa.cases(ALL)])
def test_openssl_agrees_on_every_stamp_and_forgery_of_the_suite(name, tmp_path):
    case = next(c for c in tsa.cases(ALL) if c.name == name)
    ours = our_verdict(case.data, case.anchors)
    assert ours == openssl_verdict(case.data, tmp_path, case.anchors), case.name
    assert ours["authentic"] is not case.forgery
    # the default trust (shipped pins and anchors, and the case's CAs added) says the same
    default = TrustStore.default(environ={})
    trusted = TrustStore(pinned=default.pinned, anchors=default.anchors + case.anchors)
    assert verify_bytes(case.data, trust=trusted).authentic is not case.forgery


# == the facts docs/verification.md states =============================================================
def test_dropping_the_attribute_certificate_keeps_the_signature(tmp_path):
    """The NTS tokens carry an obsolete v1 attribute certificate ([1] in the certificate set) besides
    the TSA certificate. OpenSSL's CMS parser accepts it; dropping it changes nothing that is signed:
    ``cms -verify`` succeeds with and without it, on every sample."""
    for path in sample_files():
        _, token, gen_time = read_stamp(path.read_bytes())
        choices = [ch.name for ch in cms.ContentInfo.load(token)["content"]["certificates"]]
        assert choices[0] == "certificate" and len(choices) == 2 and choices[1] != "certificate"
        assert token.count(b"\xa1\x82", 0, 2000) >= 1  # the [1] IMPLICIT (v1AttrCert) tag
        for tok in (token, without_attribute_certificates(token)):
            assert openssl_cms(tok, tmp_path, chain=True, gen_time=gen_time)[0], path


def test_openssl_ts_verify_cannot_check_the_nts_tokens(tmp_path):
    """``openssl ts -verify`` reads the token as PKCS#7, whose parser refuses the attribute
    certificate; without it, the ESS signing-certificate attribute names a second certificate (a CA
    certificate by its SHA-1) that is none of the published GPKI certificates, and ``ts -verify``
    insists on finding every listed certificate."""
    data = ALL.read_bytes()
    (a, b, c, d), token, gen_time = read_stamp(data)
    (tmp_path / "data.bin").write_bytes(data[a : a + b] + data[c : c + d])
    (tmp_path / "anchors.pem").write_bytes(_pem(GPKI))

    def ts_verify(tok: bytes) -> subprocess.CompletedProcess:
        (tmp_path / "token.der").write_bytes(tok)
        return subprocess.run(
            [
                OPENSSL,
                "ts",
                "-verify",
                "-token_in",
                "-in",
                str(tmp_path / "token.der"),
                "-data",
                str(tmp_path / "data.bin"),
                "-CAfile",
                str(tmp_path / "anchors.pem"),
                "-untrusted",
                str(tmp_path / "anchors.pem"),
                "-attime",
                str(int(gen_time.timestamp())),
            ],
            capture_output=True,
            timeout=60,
        )

    as_is = ts_verify(token)
    assert as_is.returncode != 0 and b"PKCS7" in as_is.stderr  # a parse error, not a verdict
    dropped = ts_verify(without_attribute_certificates(token))
    assert dropped.returncode != 0 and b"ess cert id not found" in dropped.stderr

    si = cms.ContentInfo.load(token)["content"]["signer_infos"][0]
    ess = next(at for at in si["signed_attrs"] if at["type"].native == "signing_certificate")
    listed = [cid["cert_hash"].native for cid in ess["values"][0]["certs"]]
    published = {hashlib.sha1(c.public_bytes(serialization.Encoding.DER)).digest() for c in GPKI}
    published |= {
        hashlib.sha1(
            x509.load_pem_x509_certificate(p.read_bytes()).public_bytes(serialization.Encoding.DER)
        ).digest()
        for p in GPKI_DIR.glob("*.pem")
    }
    tsa_cert = cms.ContentInfo.load(token)["content"]["certificates"][0].chosen.dump()
    assert len(listed) == 2 and listed[0] == hashlib.sha1(tsa_cert).digest()
    assert listed[1] not in published
