"""A test timestamp authority: its own CA and TSA certificates, RFC 3161 tokens, and NTS-style stamps.

``stamp`` lays the signature out as the NTS does (docs/format.md §3): one revision, a ``/Type /Sig``
dictionary with ``/Filter /ePapyrus.ThirdParty.DreamSecurityTimeStamp /SubFilter /adbe.pkcs7.detached``
in a widget field ``/T (Signature)``, the catalog's ``/Perms /DocMDP``, and a ``/Contents`` RFC 3161
token (policy 1.2.410.100001.2.1.7.2, SHA-512 imprint) over a ``/ByteRange`` covering the whole file.
It saves with placeholders and patches them in place. qpdf never encrypts a signature's ``/Contents``,
so encrypted stamps come out as the NTS makes them.

``forger()`` is an authority whose certificates only *claim* the NTS names; everything it makes is
cryptographically valid and must still not be authentic.
"""

from __future__ import annotations

import datetime as dt
import functools
import hashlib
import io
import re
import zlib
from dataclasses import dataclass
from pathlib import Path

import pikepdf
from asn1crypto import cms, tsp
from asn1crypto import x509 as ax509
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, padding, rsa
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

NTS_POLICY = "1.2.410.100001.2.1.7.2"
NTS_FILTER = "/ePapyrus.ThirdParty.DreamSecurityTimeStamp"
CONTENTS_BYTES = 8000  # what the NTS reserves
_PLACEHOLDER_RANGE = b"/ByteRange [ 0 9999999999 9999999999 9999999999 ]"

_HASH = {"sha1": hashes.SHA1, "sha256": hashes.SHA256, "sha384": hashes.SHA384, "sha512": hashes.SHA512}


def _name(**attrs: str) -> x509.Name:
    oids = {
        "C": NameOID.COUNTRY_NAME,
        "O": NameOID.ORGANIZATION_NAME,
        "OU": NameOID.ORGANIZATIONAL_UNIT_NAME,
        "CN": NameOID.COMMON_NAME,
    }
    return x509.Name([x509.NameAttribute(oids[k], v) for k, v in attrs.items()])


@dataclass(frozen=True)
class Authority:
    ca_cert: x509.Certificate
    ca_key: object
    tsa_cert: x509.Certificate
    tsa_key: object

    def write_anchor(self, directory: Path) -> Path:
        """The CA certificate as a PEM trust anchor in ``directory``."""
        directory.mkdir(parents=True, exist_ok=True)
        path = directory / f"ca-{self.ca_cert.serial_number:x}.pem"
        path.write_bytes(self.ca_cert.public_bytes(serialization.Encoding.PEM))
        return path

    def tsa_fingerprint(self) -> str:
        return self.tsa_cert.fingerprint(hashes.SHA256()).hex()


def _key(kind: str):
    if kind == "ec":
        return ec.generate_private_key(ec.SECP256R1())
    return rsa.generate_private_key(public_exponent=65537, key_size=2048)


def make_authority(
    ca_name: x509.Name,
    tsa_name: x509.Name,
    *,
    key_kind: str = "rsa",
    not_before: dt.datetime = dt.datetime(2020, 1, 1, tzinfo=dt.UTC),
    not_after: dt.datetime = dt.datetime(2040, 1, 1, tzinfo=dt.UTC),
    tsa_not_after: dt.datetime | None = None,
    eku: bool = True,
    ca_is_ca: bool = True,
    tsa_not_before: dt.datetime | None = None,
    ca_path_length: int | None = 0,
) -> Authority:
    ca_key, tsa_key = _key("rsa"), _key(key_kind)
    ca_cert = (
        x509.CertificateBuilder()
        .subject_name(ca_name)
        .issuer_name(ca_name)
        .public_key(ca_key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(not_before)
        .not_valid_after(not_after)
        .add_extension(
            x509.BasicConstraints(ca=ca_is_ca, path_length=ca_path_length if ca_is_ca else None),
            critical=True,
        )
        .add_extension(
            x509.KeyUsage(
                digital_signature=False,
                content_commitment=False,
                key_encipherment=False,
                data_encipherment=False,
                key_agreement=False,
                key_cert_sign=True,
                crl_sign=True,
                encipher_only=False,
                decipher_only=False,
            ),
            critical=True,
        )
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(ca_key.public_key()), critical=False)
        .sign(ca_key, hashes.SHA256())
    )
    b = (
        x509.CertificateBuilder()
        .subject_name(tsa_name)
        .issuer_name(ca_name)
        .public_key(tsa_key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(tsa_not_before or not_before)
        .not_valid_after(tsa_not_after or not_after)
        .add_extension(
            x509.KeyUsage(
                digital_signature=True,
                content_commitment=True,
                key_encipherment=False,
                data_encipherment=False,
                key_agreement=False,
                key_cert_sign=False,
                crl_sign=False,
                encipher_only=False,
                decipher_only=False,
            ),
            critical=True,
        )
        .add_extension(
            x509.AuthorityKeyIdentifier.from_issuer_public_key(ca_key.public_key()), critical=False
        )
    )
    if eku:
        b = b.add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.TIME_STAMPING]), critical=True)
    tsa_cert = b.sign(ca_key, hashes.SHA256())
    return Authority(ca_cert, ca_key, tsa_cert, tsa_key)


def make_hierarchy(
    tag: str,
    *,
    ca_not_before: dt.datetime = dt.datetime(2020, 1, 1, tzinfo=dt.UTC),
    ca_not_after: dt.datetime = dt.datetime(2040, 1, 1, tzinfo=dt.UTC),
    tsa_not_before: dt.datetime = dt.datetime(2020, 1, 1, tzinfo=dt.UTC),
    tsa_not_after: dt.datetime = dt.datetime(2040, 1, 1, tzinfo=dt.UTC),
) -> tuple[Authority, x509.Certificate]:
    """GPKI's shape: a root (2010–2050), an issuing CA it signs (``ca_not_before``–``ca_not_after``)
    and a TSA certificate the issuing CA signs. Returns the TSA's authority (``ca_cert`` = the issuing
    CA) and the root certificate."""
    wide = (dt.datetime(2010, 1, 1, tzinfo=dt.UTC), dt.datetime(2050, 1, 1, tzinfo=dt.UTC))
    root = make_authority(
        _name(C="KR", O="hometax-decrypt tests", CN=f"Root {tag}"),
        _name(C="KR", O="hometax-decrypt tests", CN=f"unused {tag}"),
        not_before=wide[0],
        not_after=wide[1],
        ca_path_length=1,
    )
    issuing = make_authority(
        _name(C="KR", O="hometax-decrypt tests", OU="CA", CN=f"CA {tag}"),
        _name(C="KR", O="hometax-decrypt tests", OU="Group of Server", CN=f"TSA {tag}"),
        tsa_not_before=tsa_not_before,
        tsa_not_after=tsa_not_after,
        not_before=ca_not_before,
        not_after=ca_not_after,
    )
    # the issuing CA again, with the same name and key, but signed by the root
    ca_cert = (
        x509.CertificateBuilder()
        .subject_name(issuing.ca_cert.subject)
        .issuer_name(root.ca_cert.subject)
        .public_key(issuing.ca_key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(ca_not_before)
        .not_valid_after(ca_not_after)
        .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
        .add_extension(
            x509.KeyUsage(
                digital_signature=False,
                content_commitment=False,
                key_encipherment=False,
                data_encipherment=False,
                key_agreement=False,
                key_cert_sign=True,
                crl_sign=True,
                encipher_only=False,
                decipher_only=False,
            ),
            critical=True,
        )
        .sign(root.ca_key, hashes.SHA256())
    )
    return Authority(ca_cert, issuing.ca_key, issuing.tsa_cert, issuing.tsa_key), root.ca_cert


def write_certificate(cert: x509.Certificate, directory: Path, name: str) -> Path:
    directory.mkdir(parents=True, exist_ok=True)
    path = directory / f"{name}.pem"
    path.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    return path


@functools.cache
def test_authority() -> Authority:
    """The suite's own TSA, trusted when its CA is configured as an anchor."""
    return make_authority(
        _name(C="KR", O="hometax-decrypt tests", CN="Hometax Test Root CA"),
        _name(C="KR", O="hometax-decrypt tests", OU="Test TSA", CN="Hometax Test TSA"),
    )


@functools.cache
def forger() -> Authority:
    """A TSA that only claims to be the NTS: the NTS TSA and GPKI CA names, its own keys."""
    return make_authority(
        _name(C="KR", O="Government of Korea", OU="GPKI", CN="CA131100001"),
        _name(C="KR", O="Government of Korea", OU="Group of Server", CN="GTSA1740000003"),
    )


def now_ms() -> dt.datetime:
    t = dt.datetime.now(dt.UTC)
    return t.replace(microsecond=t.microsecond // 1000 * 1000)


# == RFC 3161 token ===================================================================================
def make_token(
    digest: bytes,
    authority: Authority,
    *,
    imprint_alg: str = "sha512",
    digest_alg: str = "sha512",
    gen_time: dt.datetime | None = None,
    policy: str = NTS_POLICY,
    ess: str = "v2",
    pss: bool = False,
    serial: int = 0x5EE437E32FBE,
) -> bytes:
    """A DER TimeStampToken (CMS SignedData over a TSTInfo) for ``digest``."""
    cert_der = authority.tsa_cert.public_bytes(serialization.Encoding.DER)
    cert = ax509.Certificate.load(cert_der)
    tst = tsp.TSTInfo(
        {
            "version": "v1",
            "policy": policy,
            "message_imprint": {"hash_algorithm": {"algorithm": imprint_alg}, "hashed_message": digest},
            "serial_number": serial,
            "gen_time": gen_time or now_ms(),
            "accuracy": {"millis": 500},
            "nonce": 78943332394223870258228103016905635912,
            "tsa": ax509.GeneralName(name="directory_name", value=cert.subject),
        }
    )
    tst_der = tst.dump()
    attrs = [
        {"type": "content_type", "values": ["tst_info"]},
        {"type": "message_digest", "values": [hashlib.new(digest_alg, tst_der).digest()]},
    ]
    if ess == "v2":
        attrs.append(
            {
                "type": "signing_certificate_v2",
                "values": [
                    {
                        "certs": [
                            {
                                "hash_algorithm": {"algorithm": "sha256"},
                                "cert_hash": hashlib.sha256(cert_der).digest(),
                            }
                        ]
                    }
                ],
            }
        )
    elif ess == "v1":
        attrs.append(
            {
                "type": "signing_certificate",
                "values": [{"certs": [{"cert_hash": hashlib.sha1(cert_der).digest()}]}],
            }
        )
    signed_attrs = cms.CMSAttributes(attrs)
    to_sign = signed_attrs.dump()
    key = authority.tsa_key
    h = _HASH[digest_alg]()
    if isinstance(key, ec.EllipticCurvePrivateKey):
        signature = key.sign(to_sign, ec.ECDSA(h))
        sig_alg = {"algorithm": f"{digest_alg}_ecdsa"}
    elif pss:
        signature = key.sign(to_sign, padding.PSS(mgf=padding.MGF1(h), salt_length=64), h)
        sig_alg = {
            "algorithm": "rsassa_pss",
            "parameters": {
                "hash_algorithm": {"algorithm": digest_alg},
                "mask_gen_algorithm": {"algorithm": "mgf1", "parameters": {"algorithm": digest_alg}},
                "salt_length": 64,
            },
        }
    else:
        signature = key.sign(to_sign, padding.PKCS1v15(), h)
        sig_alg = {"algorithm": f"{digest_alg}_rsa"}
    signer = cms.SignerInfo(
        {
            "version": "v1",
            "sid": cms.SignerIdentifier(
                name="issuer_and_serial_number",
                value={"issuer": cert.issuer, "serial_number": cert.serial_number},
            ),
            "digest_algorithm": {"algorithm": digest_alg},
            "signed_attrs": signed_attrs,
            "signature_algorithm": sig_alg,
            "signature": signature,
        }
    )
    signed_data = cms.SignedData(
        {
            "version": "v3",
            "digest_algorithms": [{"algorithm": digest_alg}],
            "encap_content_info": {"content_type": "tst_info", "content": cms.ParsableOctetString(tst_der)},
            "certificates": [cert],
            "signer_infos": [signer],
        }
    )
    return cms.ContentInfo({"content_type": "signed_data", "content": signed_data}).dump()


# == stamping a PDF ===================================================================================
def _remove_signatures(pdf: pikepdf.Pdf) -> None:
    """What a forger does first: drop the NTS signature field, its widget and /Perms."""
    root = pdf.Root
    if "/Perms" in root:
        del root["/Perms"]
    if "/AcroForm" in root:
        del root["/AcroForm"]
    for page in pdf.pages:
        if "/Annots" in page.obj:
            keep = pikepdf.Array([a for a in page.obj.Annots if a.get("/FT") != pikepdf.Name.Sig])
            page.obj.Annots = keep


def stamp(
    pdf_bytes: bytes,
    authority: Authority | None = None,
    *,
    password: str | None = None,
    encryption: str | None = None,
    user_password: str = "",
    owner_password: str = "owner-secret",
    contents_bytes: int = CONTENTS_BYTES,
    token=None,
    **token_kwargs,
) -> bytes:
    """``pdf_bytes`` re-saved with an NTS-style timestamp signature over the whole file.

    ``password`` opens an encrypted input; ``encryption`` (a ``builder.ENCRYPTIONS`` name) encrypts the
    output, as the NTS does before stamping. ``token`` may replace token making: a function of the
    digest (SHA-512 unless ``imprint_alg`` says otherwise) returning DER bytes. Other keywords go to
    :func:`make_token`."""
    from tests.support import builder

    authority = authority or test_authority()
    pdf = pikepdf.open(io.BytesIO(pdf_bytes), password=password or "")
    _remove_signatures(pdf)
    sig = pdf.make_indirect(
        pikepdf.Dictionary(
            Type=pikepdf.Name.Sig,
            Filter=pikepdf.Name(NTS_FILTER),
            SubFilter=pikepdf.Name("/adbe.pkcs7.detached"),
            ByteRange=pikepdf.Array([0, 9999999999, 9999999999, 9999999999]),
            Contents=pikepdf.String(bytes(contents_bytes)),
            Reference=pikepdf.Array(
                [
                    pikepdf.Dictionary(
                        Type=pikepdf.Name.SigRef,
                        TransformMethod=pikepdf.Name.DocMDP,
                        TransformParams=pikepdf.Dictionary(
                            Type=pikepdf.Name.TransformParams, P=3, V=pikepdf.Name("/1.2")
                        ),
                    )
                ]
            ),
        )
    )
    page = pdf.pages[0]
    widget = pdf.make_indirect(
        pikepdf.Dictionary(
            Type=pikepdf.Name.Annot,
            Subtype=pikepdf.Name.Widget,
            FT=pikepdf.Name.Sig,
            T=pikepdf.String("Signature"),
            V=sig,
            F=132,
            P=page.obj,
            Rect=pikepdf.Array([20, 762, 80, 822]),
        )
    )
    annots = page.obj.get("/Annots", pikepdf.Array())
    annots.append(widget)
    page.obj.Annots = annots
    pdf.Root.AcroForm = pikepdf.Dictionary(Fields=pikepdf.Array([widget]), SigFlags=3)
    pdf.Root.Perms = pikepdf.Dictionary(DocMDP=sig)

    kwargs: dict = {"object_stream_mode": pikepdf.ObjectStreamMode.disable}
    if encryption:
        kwargs["encryption"] = pikepdf.Encryption(
            user=user_password, owner=owner_password, **builder.ENCRYPTIONS[encryption]
        )
    else:
        kwargs["encryption"] = False
        kwargs["deterministic_id"] = True
    out = io.BytesIO()
    pdf.save(out, **kwargs)
    data = bytearray(out.getvalue())

    placeholder = b"<" + b"0" * (2 * contents_bytes) + b">"
    b = bytes(data).index(placeholder)
    c = b + len(placeholder)
    r = re.search(re.escape(_PLACEHOLDER_RANGE).replace(rb"\ ", rb"\s+"), data)
    assert r and r.end() <= b, "signature placeholder not found"
    byte_range = f"/ByteRange [0 {b} {c} {len(data) - c}".encode()
    byte_range += b" " * (r.end() - r.start() - len(byte_range) - 1) + b"]"
    data[r.start() : r.end()] = byte_range

    digest = hashlib.new(
        token_kwargs.get("imprint_alg", "sha512"), bytes(data[:b]) + bytes(data[c:])
    ).digest()
    der = token(digest) if token else make_token(digest, authority, **token_kwargs)
    hexs = der.hex().encode()
    assert len(hexs) <= 2 * contents_bytes, "token larger than the reserved /Contents"
    data[b + 1 : c - 1] = hexs + b"0" * (2 * contents_bytes - len(hexs))
    return bytes(data)


# == forgeries ========================================================================================
def edit_amount(data: bytes, password: str | None = None) -> bytes:
    """The 2020 sample re-saved with one amount changed (2191550 → 9191550) in its XML."""
    pdf = pikepdf.open(io.BytesIO(data), password=password or "")
    for s in pdf.Root.CustomFiles:
        if s.stream_dict.Name == pikepdf.Name.XML:
            xml = zlib.decompress(s.read_raw_bytes())
            s.write(
                zlib.compress(xml.replace(b">2191550</sum>", b">9191550</sum>")),
                filter=pikepdf.Name.FlateDecode,
            )
    out = io.BytesIO()
    pdf.save(out)
    return out.getvalue()


def append_revision(data: bytes, new_xml: bytes) -> bytes:
    """An incremental update replacing the /XML stream: what a PDF reader and ``extract`` honour."""
    pdf = pikepdf.open(io.BytesIO(data))
    xml_obj = next(s for s in pdf.Root.CustomFiles if s.stream_dict.Name == pikepdf.Name.XML)
    num, gen = xml_obj.objgen
    root, info = pdf.Root.objgen, pdf.trailer.Info.objgen
    ids = [bytes(x).hex() for x in pdf.trailer.ID]
    size = int(pdf.trailer.Size)
    pdf.close()
    prev = int(re.findall(rb"startxref\s+(\d+)", data)[-1])
    comp = zlib.compress(new_xml)
    body = (
        (
            f"{num} {gen} obj\n<< /Type /EmbeddedFile /Name /XML /Filter /FlateDecode "
            f"/Length {len(comp)} >>\nstream\n"
        ).encode()
        + comp
        + b"\nendstream\nendobj\n"
    )
    off = len(data)
    xref = (
        f"xref\n0 1\n0000000000 65535 f \n{num} 1\n{off:010d} {gen:05d} n \n"
        f"trailer\n<< /Size {size} /Root {root[0]} {root[1]} R /Info {info[0]} {info[1]} R "
        f"/ID [<{ids[0]}><{ids[1]}>] /Prev {prev} >>\nstartxref\n{off + len(body)}\n%%EOF\n"
    )
    return data + body + xref.encode()


def _flip_hex_digit(data: bytes, pos: int) -> bytes:
    out = bytearray(data)
    out[pos] = ord("0") if out[pos] != ord("0") else ord("1")
    return bytes(out)


@dataclass(frozen=True)
class Case:
    """A stamped file for the cross-checks: ``anchors`` are the test CAs to trust besides GPKI;
    ``forgery`` says the file must not be authentic."""

    name: str
    data: bytes
    anchors: tuple[x509.Certificate, ...]
    forgery: bool


def _utc(*args) -> dt.datetime:
    return dt.datetime(*args, tzinfo=dt.UTC)


@functools.cache
def cases(sample: Path) -> tuple[Case, ...]:
    """Every kind of stamped file the suite makes: sound stamps of its own TSAs, and forgeries of the
    real ``sample`` (an NTS-stamped file) and of generated ones. Cached: keys are slow to make."""
    from tests.support import builder

    base = builder.build_nts_pdf()
    real = sample.read_bytes()
    test = test_authority()
    out = [Case("generated", stamp(base, test), (test.ca_cert,), False)]
    for label, kwargs in (
        ("ess-v1", dict(ess="v1")),
        ("rsa-pss", dict(pss=True)),
        ("sha256", dict(digest_alg="sha256", imprint_alg="sha256")),
    ):
        out.append(Case(f"generated-{label}", stamp(base, test, **kwargs), (test.ca_cert,), False))
    ec_auth = make_authority(_name(CN="EC Root"), _name(CN="EC TSA"), key_kind="ec")
    out.append(Case("generated-ecdsa", stamp(base, ec_auth), (ec_auth.ca_cert,), False))

    auth, root = make_hierarchy(
        "cases",
        ca_not_after=_utc(2024, 1, 1),
        tsa_not_before=_utc(2021, 1, 1),
        tsa_not_after=_utc(2030, 1, 1),
    )
    chain = (root, auth.ca_cert)
    out += [
        Case("hierarchy-valid", stamp(base, auth, gen_time=_utc(2022, 6, 1)), chain, False),
        Case("hierarchy-tsa-not-yet-valid", stamp(base, auth, gen_time=_utc(2020, 6, 1)), chain, True),
        Case("hierarchy-ca-expired", stamp(base, auth, gen_time=_utc(2025, 6, 1)), chain, True),
    ]

    old = make_authority(_name(CN="Old Root"), _name(CN="Old TSA"), tsa_not_after=_utc(2021, 1, 1))
    no_eku = make_authority(_name(CN="Root no EKU"), _name(CN="TSA no EKU"), eku=False)
    not_ca = make_authority(_name(CN="Root not CA"), _name(CN="TSA under not-CA"), ca_is_ca=False)
    mixed = Authority(test.ca_cert, test.ca_key, test.tsa_cert, forger().tsa_key)
    out += [
        Case("tsa-expired-at-gen-time", stamp(base, old, gen_time=_utc(2022, 6, 1)), (old.ca_cert,), True),
        Case("tsa-without-timestamping-eku", stamp(base, no_eku), (no_eku.ca_cert,), True),
        Case("tsa-issuer-not-a-ca", stamp(base, not_ca), (not_ca.ca_cert,), True),
        Case("signed-by-another-key", stamp(base, mixed), (test.ca_cert,), True),
        Case(
            "look-alike-restamp",
            stamp(edit_amount(real), forger(), gen_time=_utc(2020, 12, 22, 12, 26, 39)),
            (),
            True,
        ),
        Case("sample-edited-in-place", real[:5000] + bytes([real[5000] ^ 1]) + real[5001:], (), True),
        Case("sample-appended-revision", append_revision(real, b"<?xml version='1.0'?><x/>"), (), True),
        Case("sample-trailing-bytes", real + b"\n", (), True),
        Case("sample-resaved", _resave(real), (), True),
    ]
    generated = stamp(base, test)
    b, c = _gap(generated)
    der_len = len(cms.ContentInfo.load(bytes.fromhex(generated[b + 1 : c - 1].decode())).dump())
    out += [
        Case(
            "token-signature-changed",
            _flip_hex_digit(generated, b + 1 + 2 * der_len - 10),
            (test.ca_cert,),
            True,
        ),
        Case(
            "token-tstinfo-changed",
            _flip_hex_digit(generated, _imprint_hex_pos(generated, b, c) + 6),
            (test.ca_cert,),
            True,
        ),
    ]
    return tuple(out)


def _gap(data: bytes) -> tuple[int, int]:
    m = re.search(rb"/ByteRange\s*\[\s*(\d+)\s+(\d+)\s+(\d+)\s+(\d+)\s*\]", data)
    return int(m.group(2)), int(m.group(3))


def _imprint_hex_pos(data: bytes, b: int, c: int) -> int:
    signed = cms.ContentInfo.load(bytes.fromhex(data[b + 1 : c - 1].decode()))["content"]
    tst = tsp.TSTInfo.load(signed["encap_content_info"]["content"].contents)
    return data.index(tst["message_imprint"]["hashed_message"].native.hex().encode(), b, c)


def _resave(data: bytes) -> bytes:
    out = io.BytesIO()
    with pikepdf.open(io.BytesIO(data)) as pdf:
        pdf.save(out)
    return out.getvalue()
