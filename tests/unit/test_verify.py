"""NTS timestamp verification (issue 3): the real samples, generated stamps from the suite's own TSA,
and every way a file can fail to be authentic, including the forgeries a naive check passes."""

from __future__ import annotations

import ast
import datetime as dt
import hashlib
import io
import itertools
import json
import os
import re
import subprocess
import sys
from pathlib import Path

import pikepdf
import pytest
from asn1crypto import cms, tsp
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization

import hometax_decrypt as h
from hometax_decrypt import errors
from hometax_decrypt.timestamp import TrustStore, Verification, verify, verify_bytes
from hometax_decrypt.timestamp import cms as cms_module
from hometax_decrypt.timestamp import trust as trust_module
from hometax_decrypt.timestamp.trust import PINNED_FILE, load_pinned
from tests.support import builder, tsa
from tests.support.paths import GPKI_DIR, SAMPLES, sample_files

ALL = SAMPLES / "nts-2020" / "all.pdf"
ALL_PW = SAMPLES / "nts-2020" / "all-password-1234567.pdf"
ALL_2022 = SAMPLES / "nts-2022" / "all.pdf"
EXE = Path(sys.executable).parent / "hometax-decrypt"
FIELDS = {
    "authentic",
    "intact",
    "matches_stamp",
    "trust",
    "trust_anchor",
    "verifier_code",
    "nts_code",
    "reason",
    "reason_ko",
    "gen_time",
    "hash_alg",
    "hash_value",
    "tsa",
    "tsa_claimed",
    "covers_whole_file",
}
NO_TRUST = TrustStore.empty()
SHIPPED_PINS = frozenset(load_pinned(PINNED_FILE))
PINS_ONLY = TrustStore(pinned=SHIPPED_PINS)  # the shipped pins without any anchor
SHIPPED_ANCHORS = Path(h.__file__).parent / "data" / "trust" / "anchors"


# -- independent readings of a file, written here without the library --------------------------------
def independent(data: bytes) -> dict:
    """SHA-512 over the ByteRange segments and the token's genTime, by our own small code."""
    m = re.search(rb"/ByteRange\s*\[\s*(\d+)\s+(\d+)\s+(\d+)\s+(\d+)\s*\]", data)
    a, b, c, d = map(int, m.groups())
    digest = hashlib.sha512(data[a : a + b] + data[c : c + d]).hexdigest()
    token = bytes.fromhex(data[b + 1 : c - 1].decode())
    signed = cms.ContentInfo.load(token)["content"]
    tst = tsp.TSTInfo.load(signed["encap_content_info"]["content"].contents)
    return {
        "hash": digest,
        "gen_time": tst["gen_time"].native,
        "imprint": tst["message_imprint"]["hashed_message"].native.hex(),
        "range": (a, b, c, d),
    }


def independent_fingerprint(data: bytes) -> str:
    """SHA-256 of the first certificate in the token's set (the NTS tokens carry the TSA's alone)."""
    m = re.search(rb"/ByteRange\s*\[\s*(\d+)\s+(\d+)\s+(\d+)\s+(\d+)\s*\]", data)
    b, c = int(m.group(2)), int(m.group(3))
    signed = cms.ContentInfo.load(bytes.fromhex(data[b + 1 : c - 1].decode()))["content"]
    cert = next(ch.chosen for ch in signed["certificates"] if ch.name == "certificate")
    return hashlib.sha256(cert.dump()).hexdigest()


def as_utc(iso: str) -> dt.datetime:
    return dt.datetime.fromisoformat(iso.replace("Z", "+00:00"))


@pytest.fixture(scope="session")
def gpki_trust() -> TrustStore:
    return TrustStore.from_dir(GPKI_DIR)


@pytest.fixture(scope="session")
def test_trust(tmp_path_factory) -> TrustStore:
    d = tmp_path_factory.mktemp("anchors")
    tsa.test_authority().write_anchor(d)
    return TrustStore.from_dir(d)


@pytest.fixture(scope="session")
def generated() -> bytes:
    return tsa.stamp(builder.build_nts_pdf(), tsa.test_authority())


def assert_verdict(v: Verification, *, authentic, intact, trust, nts_code, status=None, matches=None):
    """``matches``: the file matches its stamp (by default: as ``intact``). Only a vouched stamp
    (chain, pinned) makes a file intact and names its TSA (issue 22)."""
    got = (v.authentic, v.intact, v.trust, v.nts_code, v.matches_stamp)
    want = (authentic, intact, trust, nts_code, intact if matches is None else matches)
    assert got == want, (got, v.reason)
    vouched = v.trust in ("chain", "pinned")
    assert v.intact == (v.matches_stamp and vouched)
    assert v.tsa == (v.tsa_claimed if vouched else None)
    if status:
        assert v.status == status
    assert v.reason and v.reason.endswith(".")
    assert_korean_reason(v)


HANGUL = re.compile(r"[\uac00-\ud7a3]")


def assert_korean_reason(v: Verification) -> None:
    """Every verdict carries a Korean sentence for the HR page, and ``nts_code`` is the deprecated
    alias of ``verifier_code``."""
    assert HANGUL.search(v.reason_ko) and v.reason_ko.endswith("."), v.reason_ko
    assert v.nts_code == v.verifier_code
    d = v.to_dict()
    assert d["verifier_code"] == d["nts_code"] == v.verifier_code and d["reason_ko"] == v.reason_ko


# == the real samples =================================================================================
@pytest.mark.parametrize("path", sample_files(), ids=lambda p: str(p.relative_to(SAMPLES)))
def test_real_samples_verify(path, gpki_trust):
    data = path.read_bytes()
    ref = independent(data)
    assert ref["hash"] == ref["imprint"]  # the sample itself is sound, by our own reading

    chained = verify(path, trust=gpki_trust)  # the GPKI root and issuing CA as anchors
    assert_verdict(chained, authentic=True, intact=True, trust="chain", nts_code=0, status="authentic")
    assert chained.hash_alg == "SHA-512"
    assert chained.hash_value == ref["hash"]
    assert as_utc(chained.gen_time) == ref["gen_time"]
    assert chained.covers_whole_file is True
    assert chained.tsa.endswith("OU=Group of Server,O=Government of Korea,C=KR")
    assert re.match(r"CN=GTSA\d{10},", chained.tsa)

    ca = {
        a.fingerprint(hashes.SHA256()).hex(): a
        for a in gpki_trust.anchors
        if a.subject.rfc4514_string().startswith("CN=CA131100001,")
    }
    assert chained.trust_anchor.split()[0].removeprefix("anchor:") in ca  # the chain ends at the CA

    pinned = verify(data, trust=PINS_ONLY)  # no anchors: the shipped pins
    assert_verdict(pinned, authentic=True, intact=True, trust="pinned", nts_code=0)
    assert (pinned.hash_value, pinned.gen_time, pinned.tsa) == (
        chained.hash_value,
        chained.gen_time,
        chained.tsa,
    )
    assert pinned.trust_anchor == "pinned:" + independent_fingerprint(data)
    assert pinned.trust_anchor.removeprefix("pinned:") in SHIPPED_PINS

    bare = verify(data, trust=NO_TRUST)  # neither: intact, issuer not recognised
    assert_verdict(
        bare,
        authentic=False,
        intact=False,
        matches=True,
        trust="unknown",
        nts_code=2109,
        status="untrusted_issuer",
    )
    assert bare.trust_anchor is None


@pytest.mark.parametrize("path", sample_files(), ids=lambda p: str(p.relative_to(SAMPLES)))
def test_real_samples_are_authentic_with_no_configuration(path, monkeypatch):
    """Out of the box: the shipped GPKI anchors decide, with no HOMETAX_TRUST_* set."""
    for name in list(os.environ):
        if name.startswith("HOMETAX_TRUST"):
            monkeypatch.delenv(name)
    v = verify(path)
    assert_verdict(v, authentic=True, intact=True, trust="chain", nts_code=0, status="authentic")
    fp, subject = v.trust_anchor.removeprefix("anchor:").split(" ", 1)
    assert subject == "CN=CA131100001,OU=GPKI,O=Government of Korea,C=KR"
    shipped = {
        hashlib.sha256(
            x509.load_pem_x509_certificate(p.read_bytes()).public_bytes(serialization.Encoding.DER)
        ).hexdigest()
        for p in SHIPPED_ANCHORS.glob("*.pem")
    }
    assert fp in shipped
    assert verify(path, trust=TrustStore.default(environ={})) == v


def test_known_gen_times_and_signers():
    """Two values read by hand with `openssl asn1parse` on the token, for a check outside Python."""
    v = verify(ALL_PW, trust=NO_TRUST)
    assert v.gen_time == "2020-12-22T12:24:46.189Z"
    assert v.tsa is None and v.tsa_claimed.startswith("CN=GTSA1311000005,")
    v = verify(ALL_2022, trust=NO_TRUST)
    assert v.gen_time == "2022-12-29T01:41:29Z"


def test_verification_needs_no_password_and_reads_encrypted_bytes():
    v = h.verify(ALL_PW, trust=PINS_ONLY)
    assert v.authentic and v.trust == "pinned"
    with pytest.raises(errors.PasswordRequired):
        h.extract(ALL_PW)


def test_pinned_list_is_exactly_the_sample_tsa_certificates():
    found = {}
    for path in sample_files():
        signed = cms.ContentInfo.load(
            bytes.fromhex(re.search(rb"/Contents <([0-9a-f]+)>", path.read_bytes()).group(1).decode())
        )["content"]
        for choice in signed["certificates"]:
            if choice.name == "certificate":
                cert = x509.load_der_x509_certificate(choice.chosen.dump())
                found[cert.fingerprint(hashes.SHA256()).hex()] = cert
    assert len(found) == 7
    assert TrustStore.default(environ={}).pinned == frozenset(found) == SHIPPED_PINS
    issuers = {c.issuer.rfc4514_string() for c in found.values()}
    assert issuers == {"CN=CA131100001,OU=GPKI,O=Government of Korea,C=KR"}


def test_gpki_anchor_fingerprints_match_the_published_ones(gpki_trust):
    """The shared GPKI files are the certificates whose fingerprints docs/verification.md lists."""
    fps = {a.fingerprint(hashes.SHA256()).hex() for a in gpki_trust.anchors}
    assert fps == {
        "407c276bead2e4af0661ef6697341dec0a1f9434e4eafb2d3d32a90549d9de4a",
        "610fa5edc0ce722e18e0b11e84748c390949152a74db6460f838694ec6e76407",
        "5c39223083ef3c8cc50b74970ea9c135f3c1c7293725dd9eec961b27d4695547",
    }


def test_shipped_anchors_are_the_published_gpki_certificates():
    """The package's default anchors are GPKIRootCA1 and both CA131100001 issues: their SHA-256
    fingerprints are the ones ../shared/reference/gpki/README.md publishes, file by file."""
    readme = (GPKI_DIR / "README.md").read_text(encoding="utf-8")
    published = {}  # file name -> fingerprint, as the README pairs them
    for item in re.split(r"\n- ", readme):
        name = re.search(r"`([^`]+\.pem)`", item)
        fp = re.search(r"SHA-256\s+`([0-9a-f]{64})`", item)
        if name and fp:
            published[name.group(1)] = fp.group(1)
    assert len(published) == 3
    shipped = {}
    for path in SHIPPED_ANCHORS.glob("*.pem"):
        der = x509.load_pem_x509_certificate(path.read_bytes()).public_bytes(serialization.Encoding.DER)
        shipped[path.name] = hashlib.sha256(der).hexdigest()
    assert sorted(shipped.values()) == sorted(published.values())
    for name, fp in published.items():  # the same certificate as the reference file of that name
        ref = x509.load_pem_x509_certificate((GPKI_DIR / name).read_bytes())
        assert ref.fingerprint(hashes.SHA256()).hex() == fp
    default = TrustStore.default(environ={})
    assert {a.fingerprint(hashes.SHA256()).hex() for a in default.anchors} == set(published.values())
    assert default.pinned == SHIPPED_PINS


def test_2022_token_needs_the_renewed_ca_issue(tmp_path):
    """Judged at genTime: the 2021-expiring CA issue cannot vouch for a 2022 stamp, the 2030 one can."""
    for name in ("GPKIRootCA1.pem", "CA131100001_valid-2011-09-22_to_2021-09-22.pem"):
        (tmp_path / name).write_bytes((GPKI_DIR / name).read_bytes())
    old = TrustStore.from_dir(tmp_path)
    assert_verdict(
        verify(ALL_2022, trust=old),
        authentic=False,
        intact=False,
        matches=True,
        trust="failed",
        nts_code=2109,
        status="untrusted_issuer",
    )
    assert "genTime" in verify(ALL_2022, trust=old).reason
    assert_verdict(verify(ALL, trust=old), authentic=True, intact=True, trust="chain", nts_code=0)


def test_root_alone_cannot_build_the_chain(tmp_path):
    """The token carries only the TSA certificate: the issuing CA must be configured too."""
    (tmp_path / "root.pem").write_bytes((GPKI_DIR / "GPKIRootCA1.pem").read_bytes())
    v = verify(ALL, trust=TrustStore.from_dir(tmp_path))
    assert (v.trust, v.authentic) == ("unknown", False)


def test_nts_document_and_extract_verified_report_the_verification(all_2020):
    with h.open_document(all_2020) as doc:
        v = doc.verification()
        assert v.authentic and v.covers_whole_file
        assert doc.verification() is v  # computed once
    result = h.extract_verified(ALL_PW, password="1234567", part="xml")
    assert result.verification.authentic is True
    assert result.data.startswith(b"<?xml")


# == generated documents from the test TSA ============================================================
def test_generated_stamp_is_authentic_with_the_test_ca_as_anchor(generated, test_trust):
    ref = independent(generated)
    v = verify_bytes(generated, trust=test_trust)
    assert_verdict(v, authentic=True, intact=True, trust="chain", nts_code=0, status="authentic")
    assert v.hash_value == ref["hash"] and as_utc(v.gen_time) == ref["gen_time"]
    assert v.tsa == "CN=Hometax Test TSA,OU=Test TSA,O=hometax-decrypt tests,C=KR"
    assert ref["range"][1] + ref["range"][3] + (ref["range"][2] - ref["range"][1]) == len(generated)


def test_generated_stamp_without_the_anchor_is_an_unrecognised_issuer(generated):
    v = verify_bytes(generated, trust=TrustStore.default(environ={}))
    assert_verdict(
        v,
        authentic=False,
        intact=False,
        matches=True,
        trust="unknown",
        nts_code=2109,
        status="untrusted_issuer",
    )
    assert "not recognised" in v.reason


def test_generated_stamp_trusted_by_an_extra_pin(generated):
    fp = tsa.test_authority().tsa_fingerprint()
    v = verify_bytes(generated, trust=TrustStore.default(environ={"HOMETAX_TRUST_PINNED": fp.upper()}))
    assert_verdict(v, authentic=True, intact=True, trust="pinned", nts_code=0)


@pytest.mark.parametrize("encryption", ["rc4-40", "rc4-128", "aes-128", "aes-256"])
def test_generated_encrypted_stamp_verifies_without_password(encryption, test_trust):
    pdf = tsa.stamp(builder.build_nts_pdf(), encryption=encryption, user_password="pw-2020")
    v = verify_bytes(pdf, trust=test_trust)
    assert_verdict(v, authentic=True, intact=True, trust="chain", nts_code=0)
    assert h.extract(pdf, password="pw-2020") == builder.SAMPLE_XML


@pytest.mark.parametrize(
    "kwargs",
    [
        dict(ess="v1"),
        dict(pss=True),
        dict(digest_alg="sha256", imprint_alg="sha256"),
        dict(digest_alg="sha384", imprint_alg="sha384"),
    ],
    ids=["ess-v1", "rsa-pss", "sha256", "sha384"],
)
def test_other_sound_token_profiles(kwargs, test_trust):
    v = verify_bytes(tsa.stamp(builder.build_nts_pdf(), **kwargs), trust=test_trust)
    assert_verdict(v, authentic=True, intact=True, trust="chain", nts_code=0)


def test_ecdsa_tsa(tmp_path):
    auth = tsa.make_authority(tsa._name(CN="EC Root"), tsa._name(CN="EC TSA"), key_kind="ec")
    auth.write_anchor(tmp_path)
    v = verify_bytes(tsa.stamp(builder.build_nts_pdf(), auth), trust=TrustStore.from_dir(tmp_path))
    assert_verdict(v, authentic=True, intact=True, trust="chain", nts_code=0)


# == failure modes ====================================================================================
def flip(data: bytes, offset: int) -> bytes:
    return data[:offset] + bytes([data[offset] ^ 0x01]) + data[offset + 1 :]


def test_one_byte_changed_inside_the_signed_range():
    data = ALL.read_bytes()
    _a, b, c, d = independent(data)["range"]
    for offset in (b // 2, c + d // 2, c + d - 3):
        v = verify_bytes(flip(data, offset), trust=PINS_ONLY)
        # the token is still the NTS's own: trusted issuer, but the file changed after stamping
        assert_verdict(v, authentic=False, intact=False, trust="pinned", nts_code=2101, status="tampered")


def test_one_byte_changed_in_a_generated_document(generated, test_trust):
    v = verify_bytes(flip(generated, 200), trust=test_trust)
    assert_verdict(v, authentic=False, intact=False, trust="chain", nts_code=2101, status="tampered")


def _gap(data: bytes) -> tuple[int, int]:
    _, b, c, _ = independent(data)["range"]
    return b, c


@pytest.mark.parametrize(
    "where,code",
    [
        ("der_header", 2106),
        ("not_hex", 2106),
        ("signature", 2102),
        ("tst_info", 2102),
        ("padding", 2106),
        ("empty", 2106),
    ],
)
def test_broken_token(where, code):
    data = bytearray(ALL.read_bytes())
    b, c = _gap(bytes(data))
    der_len = len(cms.ContentInfo.load(bytes.fromhex(data[b + 1 : c - 1].decode())).dump())
    if where == "der_header":
        data[b + 1 : b + 3] = b"31"  # SEQUENCE → SET: not a ContentInfo
    elif where == "not_hex":
        data[b + 101] = ord("g")
    elif where == "signature":  # the last bytes of the DER are the RSA signature
        pos = b + 1 + 2 * der_len - 10
        data[pos] = ord("0") if data[pos] != ord("0") else ord("1")
    elif where == "tst_info":  # a digit of the imprint inside the TSTInfo: its messageDigest breaks
        pos = bytes(data).index(independent(bytes(data))["imprint"].encode(), b, c) + 6
        data[pos] = ord("0") if data[pos] != ord("0") else ord("1")
    elif where == "padding":  # something after the token in the reserved space
        data[b + 1 + 2 * der_len + 4] = ord("7")
    elif where == "empty":
        data[b + 1 : c - 1] = b"0" * (c - b - 2)
    v = verify_bytes(bytes(data), trust=PINS_ONLY)
    assert_verdict(v, authentic=False, intact=False, trust="unknown", nts_code=code, status="tampered")


def test_unsigned_pdf():
    v = verify_bytes(builder.build_nts_pdf(), trust=PINS_ONLY)
    assert_verdict(v, authentic=False, intact=False, trust="unknown", nts_code=2110, status="unsigned")
    assert v.covers_whole_file is False and v.hash_value is None and v.gen_time is None


@pytest.mark.parametrize(
    "edit", ["shifted_gap", "past_end", "nonzero_start", "short_second", "second_signature", "not_numbers"]
)
def test_byte_range_that_does_not_add_up(edit):
    data = ALL.read_bytes()
    _a, b, c, d = independent(data)["range"]
    old = f"[0 {b} {c} {d} ]".encode()
    assert data.count(old) == 1

    def put(new: bytes) -> bytes:
        new = new.ljust(len(old))
        assert len(new) == len(old)
        return data.replace(old, new)

    if edit == "shifted_gap":
        bad = put(f"[0 {b + 1} {c} {d - 1}]".encode())
    elif edit == "past_end":
        bad = put(f"[0 {b} {c} {d + 1}]".encode())
    elif edit == "nonzero_start":
        bad = put(f"[1 {b - 1} {c} {d}]".encode())
    elif edit == "short_second":  # gap right, but the second segment is cut short and the hash…
        bad = put(f"[0 {b} {c} {d - 100}]".encode())  # …cannot match a range the TSA never saw
    elif edit == "second_signature":
        bad = data + b"% /ByteRange [0 1 2 3]\n"
    else:
        bad = put(f"[0 {b} {c} R]".encode())
    v = verify_bytes(bad, trust=PINS_ONLY)
    code = 2101 if edit == "short_second" else 2110
    assert (v.authentic, v.intact, v.nts_code) == (False, False, code), v.reason
    assert_korean_reason(v)
    assert v.status == "tampered"


append_revision = tsa.append_revision


def test_appended_revision_that_changes_an_amount():
    data = ALL.read_bytes()
    xml = h.extract(data)
    assert xml.count(b">2191550</sum>") == 1
    forged = append_revision(data, xml.replace(b">2191550</sum>", b">9191550</sum>"))
    # the reader (and extract) now see the new amount…
    assert b">9191550</sum>" in h.extract(forged)
    # …and the timestamp still checks out over its range, which no longer covers the file
    ref = independent(forged)
    v = verify_bytes(forged, trust=PINS_ONLY)
    assert v.hash_value == ref["hash"]
    assert_verdict(v, authentic=False, intact=False, trust="pinned", nts_code=2110, status="tampered")
    assert v.covers_whole_file is False
    assert "appended" in v.reason
    result = h.extract_verified(forged)
    assert b">9191550</sum>" in result.data and result.verification.authentic is False


def test_trailing_bytes_alone_break_coverage():
    v = verify_bytes(ALL.read_bytes() + b"\n", trust=PINS_ONLY)
    assert (v.authentic, v.intact, v.covers_whole_file, v.nts_code) == (False, False, False, 2110)


_edit_amount = tsa.edit_amount


@pytest.mark.parametrize("anchors", ["none", "gpki", "default"])
def test_edited_file_restamped_by_a_forger_claiming_the_nts_names(anchors, gpki_trust):
    edited = _edit_amount(ALL.read_bytes())
    forged = tsa.stamp(edited, tsa.forger(), gen_time=dt.datetime(2020, 12, 22, 12, 26, 39, tzinfo=dt.UTC))
    assert b">9191550</sum>" in h.extract(forged)
    ref = independent(forged)
    trust = {"gpki": gpki_trust, "none": PINS_ONLY, "default": TrustStore.default(environ={})}[anchors]
    v = verify_bytes(forged, trust=trust)
    # hash, signature and coverage all hold: a naive check passes. Only trust tells it apart, and
    # then the file is not "intact" and the NTS name is only what the certificate claims (issue 22).
    assert_verdict(
        v,
        authentic=False,
        intact=False,
        matches=True,
        trust="unknown",
        nts_code=2109,
        status="untrusted_issuer",
    )
    assert v.hash_value == ref["hash"] and v.covers_whole_file
    assert v.tsa is None
    assert v.tsa_claimed == "CN=GTSA1740000003,OU=Group of Server,O=Government of Korea,C=KR"


def _unstamped(data: bytes) -> bytes:
    """``data`` re-saved without its signature: the same file as a forger's, minus the stamp."""
    pdf = pikepdf.open(io.BytesIO(data))
    tsa._remove_signatures(pdf)
    out = io.BytesIO()
    pdf.save(out)
    return out.getvalue()


@pytest.mark.parametrize("anchors", ["gpki", "default"])
def test_a_look_alike_restamp_reads_no_milder_than_the_same_edit_without_a_stamp(anchors, gpki_trust):
    """Issue 22: an edited sample re-stamped by a self-made TSA carrying the NTS names proves no
    more than the same edit without a stamp. Its verdict wears the same badge and asks for the same
    thing; it is not ``intact`` (only ``matches_stamp``), its TSA's name is only claimed, and none of
    its sentences says the contents are as issued."""
    from tests.unit.test_verdicts import contents_claims

    edited = _edit_amount(ALL.read_bytes())
    forged = tsa.stamp(edited, tsa.forger(), gen_time=dt.datetime(2020, 12, 22, 12, 26, 39, tzinfo=dt.UTC))
    bare = _unstamped(edited)
    assert b">9191550</sum>" in h.extract(forged) and b">9191550</sum>" in h.extract(bare)
    trust = {"gpki": gpki_trust, "default": TrustStore.default(environ={})}[anchors]
    v, none = verify_bytes(forged, trust=trust).to_dict(), verify_bytes(bare, trust=trust).to_dict()
    assert none["status"] == "unsigned"
    assert (v["label_ko"], v["advice_ko"]) == (none["label_ko"], none["advice_ko"])
    assert (v["authentic"], v["intact"], v.get("matches_stamp")) == (False, False, True)
    assert v["tsa"] is None
    assert v["tsa_claimed"] == "CN=GTSA1740000003,OU=Group of Server,O=Government of Korea,C=KR"
    texts = {k: x for k, x in v.items() if isinstance(x, str) and k not in ("tsa_claimed", "hash_value")}
    assert {"reason", "reason_ko", "label_ko", "summary_ko", "advice_ko"} <= set(texts)
    for key, text in texts.items():
        assert contents_claims(text) == [], (key, text)


@pytest.mark.parametrize("how", ["aes-256", "object-streams", "plain"])
def test_resaved_sample_is_not_authentic(how):
    if how == "aes-256":
        pdf = pikepdf.open(ALL_PW, password="1234567")
        kwargs = {"encryption": pikepdf.Encryption(user="1234567", owner="o", R=6)}
    elif how == "object-streams":
        pdf = pikepdf.open(ALL)
        kwargs = {"object_stream_mode": pikepdf.ObjectStreamMode.generate}
    else:
        pdf = pikepdf.open(ALL)
        kwargs = {}
    out = io.BytesIO()
    pdf.save(out, **kwargs)
    resaved = out.getvalue()
    assert h.extract(resaved, password="1234567" if how == "aes-256" else None).startswith(b"<?xml")
    v = verify_bytes(resaved, trust=PINS_ONLY)
    assert (v.authentic, v.intact) == (False, False), v.reason
    assert v.nts_code in (2101, 2106, 2110)


def test_tsa_certificate_expired_at_gen_time(tmp_path):
    auth = tsa.make_authority(
        tsa._name(CN="Old Root"),
        tsa._name(CN="Old TSA"),
        tsa_not_after=dt.datetime(2021, 1, 1, tzinfo=dt.UTC),
    )
    auth.write_anchor(tmp_path)
    pdf = tsa.stamp(builder.build_nts_pdf(), auth, gen_time=dt.datetime(2022, 6, 1, tzinfo=dt.UTC))
    v = verify_bytes(pdf, trust=TrustStore.from_dir(tmp_path))
    assert_verdict(v, authentic=False, intact=False, matches=True, trust="failed", nts_code=2109)
    pdf = tsa.stamp(builder.build_nts_pdf(), auth, gen_time=dt.datetime(2020, 6, 1, tzinfo=dt.UTC))
    assert verify_bytes(pdf, trust=TrustStore.from_dir(tmp_path)).authentic is True


def _utc(*args) -> dt.datetime:
    return dt.datetime(*args, tzinfo=dt.UTC)


@pytest.fixture(scope="module")
def hierarchy(tmp_path_factory):
    """A test root, an issuing CA valid 2020–2024 and a TSA valid 2021–2030 (neither pinned), with
    stamps made before, while and after the chain holds."""
    auth, root = tsa.make_hierarchy(
        "genTime",
        ca_not_after=_utc(2024, 1, 1),
        tsa_not_before=_utc(2021, 1, 1),
        tsa_not_after=_utc(2030, 1, 1),
    )
    anchors = tmp_path_factory.mktemp("hierarchy")
    tsa.write_certificate(root, anchors, "root")
    tsa.write_certificate(auth.ca_cert, anchors, "issuing-ca")
    base = builder.build_nts_pdf()
    docs = {
        "valid": tsa.stamp(base, auth, gen_time=_utc(2022, 6, 1)),
        "tsa_not_yet_valid": tsa.stamp(base, auth, gen_time=_utc(2020, 6, 1)),
        "ca_expired": tsa.stamp(base, auth, gen_time=_utc(2025, 6, 1)),
    }
    return auth, anchors, docs


HIERARCHY_VERDICTS = {  # document -> (authentic, trust, what fails at its genTime)
    "valid": (True, "chain", None),
    "tsa_not_yet_valid": (False, "failed", "the TSA certificate was not valid at genTime."),
    "ca_expired": (False, "failed", "an issuing CA certificate was not valid at genTime."),
}


def _check_hierarchy_verdict(name: str, v: Verification, auth) -> None:
    authentic, trust, problem = HIERARCHY_VERDICTS[name]
    assert_verdict(
        v, authentic=authentic, intact=authentic, matches=True, trust=trust, nts_code=0 if authentic else 2109
    )
    if problem:
        assert v.reason.endswith(problem) and v.trust_anchor is None
    else:
        ca_fp = auth.ca_cert.fingerprint(hashes.SHA256()).hex()
        assert v.trust_anchor == f"anchor:{ca_fp} {auth.ca_cert.subject.rfc4514_string()}"


def test_unpinned_tsa_chaining_to_a_test_root_is_authentic_only_while_every_link_is_valid(hierarchy):
    """Not pinned, chained through an issuing CA: authentic at a genTime inside every validity
    period; a TSA certificate not yet valid, or an issuing CA expired, at genTime fails."""
    auth, anchors, docs = hierarchy
    store = TrustStore.from_dir(anchors)
    assert auth.tsa_fingerprint() not in store.pinned
    for name, pdf in docs.items():
        _check_hierarchy_verdict(name, verify_bytes(pdf, trust=store), auth)
    # the same through the defaults plus the directory (what HOMETAX_TRUST_DIR gives)
    added = TrustStore.default(environ={"HOMETAX_TRUST_DIR": str(anchors)})
    _check_hierarchy_verdict("valid", verify_bytes(docs["valid"], trust=added), auth)


def test_cached_certificate_decisions_are_judged_at_each_documents_gen_time(hierarchy, monkeypatch):
    """One store, one TSA certificate, documents of different genTimes in every order: the path and
    its signatures are worked out once, the validity periods every time."""
    auth, anchors, docs = hierarchy
    store = TrustStore.from_dir(anchors)
    built = []
    real = trust_module._candidate_paths
    monkeypatch.setattr(trust_module, "_candidate_paths", lambda *a: built.append(1) or real(*a))
    for order in itertools.permutations(docs):
        for name in order:
            _check_hierarchy_verdict(name, verify_bytes(docs[name], trust=store), auth)
    assert len(built) == 1  # cached per store and leaf certificate
    cold = {name: verify_bytes(pdf, trust=TrustStore.from_dir(anchors)) for name, pdf in docs.items()}
    assert cold == {name: verify_bytes(pdf, trust=store) for name, pdf in docs.items()}


def test_caches_do_not_change_verdicts(hierarchy):
    """A cold start (every cache emptied before each document) and a warm one agree, field by field."""
    _, _, docs = hierarchy
    store = TrustStore.default(environ={})
    files = [p.read_bytes() for p in sample_files()] + list(docs.values())
    warm = [verify_bytes(d, trust=store) for d in files]
    cold = []
    for d in files:
        cms_module.clear_caches()
        cold.append(verify_bytes(d, trust=TrustStore.default(environ={})))
    assert cold == warm


def test_a_second_byte_range_is_named():
    """An NTS document carries one /ByteRange; a file with another one after it is not authentic,
    and the reason says why (asked only once the file is not authentic: see locate.locate)."""
    data = ALL.read_bytes() + b"\n%% /ByteRange [0 10 20 30] /Contents <00>\n"
    v = verify_bytes(data, trust=TrustStore.default(environ={}))
    assert_verdict(v, authentic=False, intact=False, trust="unknown", nts_code=2110, status="tampered")
    assert "more than one signature /ByteRange" in v.reason


@pytest.mark.parametrize("flaw", ["no_eku", "issuer_not_ca"])
def test_certificate_profile_is_checked(flaw, tmp_path):
    auth = tsa.make_authority(
        tsa._name(CN=f"Root {flaw}"),
        tsa._name(CN=f"TSA {flaw}"),
        eku=flaw != "no_eku",
        ca_is_ca=flaw != "issuer_not_ca",
    )
    auth.write_anchor(tmp_path)
    v = verify_bytes(tsa.stamp(builder.build_nts_pdf(), auth), trust=TrustStore.from_dir(tmp_path))
    assert_verdict(v, authentic=False, intact=False, matches=True, trust="failed", nts_code=2109)


def test_token_signed_by_another_key_than_its_certificate(test_trust):
    """The token names the test TSA's certificate but the forger's key signed it."""
    real, other = tsa.test_authority(), tsa.forger()
    mixed = tsa.Authority(real.ca_cert, real.ca_key, real.tsa_cert, other.tsa_key)
    v = verify_bytes(tsa.stamp(builder.build_nts_pdf(), mixed), trust=test_trust)
    assert_verdict(v, authentic=False, intact=False, trust="unknown", nts_code=2102, status="tampered")


@pytest.mark.parametrize(
    "kwargs,code",
    [(dict(imprint_alg="sha1"), 2103), (dict(digest_alg="sha1"), 2103), (dict(ess=None), 2102)],
    ids=["sha1-imprint", "sha1-signature", "no-ess"],
)
def test_weak_or_incomplete_tokens(kwargs, code, test_trust):
    v = verify_bytes(tsa.stamp(builder.build_nts_pdf(), **kwargs), trust=test_trust)
    assert_verdict(v, authentic=False, intact=False, trust="unknown", nts_code=code)


# == hostile input: fail fast with 2106 ===============================================================
def _raw_signed_pdf(hex_contents: bytes) -> bytes:
    head = b"%PDF-1.7\n1 0 obj\n<< /Type /Sig /ByteRange [0 0000000000 0000000000 0000000000] /Contents "
    tail = b" >>\nendobj\ntrailer\n<< /Root 1 0 R >>\n%%EOF\n"
    b = len(head)
    c = b + len(hex_contents) + 2
    rng = f"[0 {b:010d} {c:010d} {len(tail):010d}]".encode()
    head = head.replace(b"[0 0000000000 0000000000 0000000000]", rng)
    return head + b"<" + hex_contents + b">" + tail


def test_absurd_contents_size_fails_fast():
    v = verify_bytes(_raw_signed_pdf(b"30" * (2 * 1024 * 1024)), trust=NO_TRUST)
    assert (v.nts_code, v.intact) == (2106, False)


def test_deeply_nested_asn1_fails_fast():
    der = b"\x05\x00"
    for _ in range(5000):
        n = len(der)
        der = b"\x30" + (bytes([n]) if n < 128 else b"\x82" + n.to_bytes(2, "big")) + der
        if n > 60000:
            break
    v = verify_bytes(_raw_signed_pdf(der.hex().encode()), trust=NO_TRUST)
    assert (v.nts_code, v.intact) == (2106, False)
    assert "deeply" in v.reason


def test_huge_element_count_fails_fast():
    inner = b"\x05\x00" * 30000
    der = b"\x30\x83" + len(inner).to_bytes(3, "big") + inner
    v = verify_bytes(_raw_signed_pdf(der.hex().encode()), trust=NO_TRUST)
    assert (v.nts_code, v.intact) == (2106, False)


def test_indefinite_length_ber_is_refused():
    v = verify_bytes(_raw_signed_pdf(b"3080050000000000"), trust=NO_TRUST)
    assert v.nts_code == 2106


def test_non_pdf_and_oversized_input_raise_the_error_table():
    with pytest.raises(errors.Damaged):
        verify(builder.random_bytes())
    with pytest.raises(errors.TooLarge):
        verify(ALL, limits=h.Limits(max_input_bytes=1000))


def test_trust_dir_must_exist_and_hold_certificates(tmp_path):
    with pytest.raises(errors.UsageError):
        TrustStore.from_dir(tmp_path / "missing")
    (tmp_path / "junk.pem").write_bytes(b"not a certificate")
    with pytest.raises(errors.UsageError):
        TrustStore.from_dir(tmp_path)
    with pytest.raises(errors.UsageError):
        TrustStore.default(environ={"HOMETAX_TRUST_PINNED": "abc"})


def test_der_anchor_and_env_trust_dir(tmp_path, generated):
    from cryptography.hazmat.primitives.serialization import Encoding

    ca = tsa.test_authority().ca_cert
    (tmp_path / "ca.der").write_bytes(ca.public_bytes(Encoding.DER))
    v = verify_bytes(generated, trust=TrustStore.default(environ={"HOMETAX_TRUST_DIR": str(tmp_path)}))
    assert (v.authentic, v.trust) == (True, "chain")


def test_to_dict_is_json_with_every_field(generated, test_trust):
    d = verify_bytes(generated, trust=test_trust).to_dict()
    assert FIELDS | {"status", "reason_code", "label_ko", "summary_ko", "advice_ko"} == set(d)
    assert json.loads(json.dumps(d)) == d


# == CLI ==============================================================================================
def run(*args, env: dict | None = None):
    full = {k: v for k, v in os.environ.items() if not k.startswith("HOMETAX_TRUST")}
    full.update(env or {})
    return subprocess.run([str(EXE), *map(str, args)], capture_output=True, env=full, timeout=60)


def test_cli_verify_authentic_sample():
    r = run("verify", ALL_PW)
    assert r.returncode == 0, r.stderr
    out = json.loads(r.stdout)
    assert set(out) >= FIELDS
    # no configuration: the shipped GPKI anchors decide
    assert (out["authentic"], out["trust"], out["verifier_code"], out["nts_code"]) == (True, "chain", 0, 0)
    assert out["trust_anchor"].endswith(" CN=CA131100001,OU=GPKI,O=Government of Korea,C=KR")
    assert out["hash_value"] == independent(ALL_PW.read_bytes())["hash"]
    r = run("verify", ALL, "--trust-dir", GPKI_DIR)
    assert r.returncode == 0 and json.loads(r.stdout)["trust"] == "chain"


def test_cli_trust_only_dir_replaces_the_shipped_trust(tmp_path, generated):
    """--trust-only-dir / HOMETAX_TRUST_REPLACE=1: an operator's own anchors and nothing else."""
    own = tmp_path / "own"
    tsa.test_authority().write_anchor(own)
    doc = tmp_path / "generated.pdf"
    doc.write_bytes(generated)
    for args, env in (
        (("--trust-only-dir", own), {}),
        ((), {"HOMETAX_TRUST_DIR": str(own), "HOMETAX_TRUST_REPLACE": "1"}),
    ):
        sample = json.loads(run("verify", ALL, *args, env=env).stdout)
        assert (sample["authentic"], sample["trust"]) == (False, "unknown")  # GPKI and pins dropped
        ours = json.loads(run("verify", doc, *args, env=env).stdout)
        assert (ours["authentic"], ours["trust"]) == (True, "chain")
    only = json.loads(
        run("verify", ALL, "--trust-only-dir", own, env={"HOMETAX_TRUST_DIR": str(GPKI_DIR)}).stdout
    )
    assert only["trust"] == "unknown"  # --trust-only-dir: not HOMETAX_TRUST_DIR either
    added = json.loads(run("verify", ALL, "--trust-dir", own).stdout)  # adding keeps the defaults
    assert (added["authentic"], added["trust"]) == (True, "chain")
    r = run("verify", ALL, env={"HOMETAX_TRUST_REPLACE": "1"})  # replacing with nothing: usage error
    assert r.returncode == 2 and r.stdout == b""
    r = run("verify", ALL, "--trust-dir", own, "--trust-only-dir", own)
    assert r.returncode == 2


def test_cli_verify_tampered_and_unreadable(tmp_path):
    bad = tmp_path / "tampered.pdf"
    bad.write_bytes(flip(ALL.read_bytes(), 5000))
    r = run("verify", bad)
    assert r.returncode == 7
    out = json.loads(r.stdout)
    assert (out["authentic"], out["intact"], out["nts_code"], out["status"]) == (
        False,
        False,
        2101,
        "tampered",
    )
    junk = tmp_path / "junk.pdf"
    junk.write_bytes(builder.random_bytes())
    r = run("verify", junk)
    assert r.returncode == 5 and r.stdout == b"" and r.stderr.startswith(b"damaged:")
    r = run("verify", ALL, "--trust-dir", tmp_path / "missing")
    assert r.returncode == 2


def test_cli_verify_forgery_is_exit_7(tmp_path):
    forged = tmp_path / "forged.pdf"
    forged.write_bytes(tsa.stamp(_edit_amount(ALL.read_bytes()), tsa.forger()))
    r = run("verify", forged, "--trust-dir", GPKI_DIR)
    assert r.returncode == 7
    out = json.loads(r.stdout)
    assert (out["intact"], out["matches_stamp"], out["trust"], out["status"]) == (
        False,
        True,
        "unknown",
        "untrusted_issuer",
    )
    assert out["tsa"] is None and out["tsa_claimed"].startswith("CN=GTSA")


# == robustness: any edit to the token is a verdict, never an exception ===============================
from hypothesis import HealthCheck, given, settings  # noqa: E402
from hypothesis import strategies as st  # noqa: E402

_ALL_BYTES = ALL.read_bytes()
_B, _C = _gap(_ALL_BYTES)
_DER_HEX = 2 * len(cms.ContentInfo.load(bytes.fromhex(_ALL_BYTES[_B + 1 : _C - 1].decode())).dump())


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    edits=st.lists(
        st.tuples(st.integers(0, _DER_HEX - 1), st.sampled_from(b"0123456789abcdef")), min_size=1, max_size=4
    )
)
def test_token_edits_never_raise(edits):
    data = bytearray(_ALL_BYTES)
    for pos, digit in edits:
        data[_B + 1 + pos] = digit
    v = verify_bytes(bytes(data), trust=NO_TRUST)
    assert isinstance(v, Verification) and v.authentic is False
    assert_korean_reason(v)
    assert not v.intact  # nothing vouches for a stamp under NO_TRUST
    if v.matches_stamp:  # only unsigned parts of the token (its certificate bag) may change and still hold
        assert v.hash_value == independent(_ALL_BYTES)["hash"] and v.nts_code == 2109


# == structure ========================================================================================
def _project_imports(path: Path) -> list[tuple[str, bool]]:
    """(module imported, whether inside a function) for every import of a hometax_decrypt module."""
    tree = ast.parse(path.read_text(encoding="utf-8"))
    out = []

    def visit(node, in_function: bool) -> None:
        for child in ast.iter_child_nodes(node):
            inner = in_function or isinstance(child, (ast.FunctionDef, ast.AsyncFunctionDef))
            if isinstance(child, ast.ImportFrom) and (
                child.level or (child.module or "").startswith("hometax_decrypt")
            ):
                out.append(("." * child.level + (child.module or ""), in_function))
            elif isinstance(child, ast.Import):
                out.extend((a.name, in_function) for a in child.names if a.name.startswith("hometax_decrypt"))
            visit(child, inner)

    visit(tree, False)
    return out


def test_timestamp_and_pdf_import_each_other_one_way_only():
    """Issue 12: the pdf <-> timestamp cycle is gone. timestamp (and source.py, the one module that
    reads input) never import pdf, and neither pdf nor they hide an import of the project inside a
    function."""
    src = Path(h.__file__).parent
    files = [
        src / "document" / "pdf.py",
        src / "document" / "source.py",
        *sorted((src / "timestamp").glob("*.py")),
    ]
    for path in files:
        imports = _project_imports(path)
        assert not [m for m, inside in imports if inside], path
        if path.name != "pdf.py":
            assert not [m for m, _ in imports if m.endswith("pdf")], path
    assert ("source", False) in [(m.lstrip("."), i) for m, i in _project_imports(src / "document" / "pdf.py")]
    assert (
        h.document.pdf.read_source is h.document.source.read_source
    )  # still importable from pdf for callers
