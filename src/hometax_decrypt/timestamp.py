"""Verify the NTS RFC 3161 timestamp over the file's bytes (FORMAT.md §3), as DSTSPDFSig does, and
catch the forgeries a naive check passes.

Verification reads raw bytes only: no password, no PDF parser. The NTS stamps after encryption and a
signature's ``/Contents`` string is never encrypted, so the same code serves plain and encrypted files.

What "authentic" means here (docs/verification.md has the long form):

1. exactly one ``/ByteRange [0 a b c]`` in the file; the gap ``a..b`` is exactly the ``/Contents <hex>``
   string of the same dictionary, delimiters included, as Adobe and the NTS lay it out;
2. the hex decodes to one DER CMS SignedData (then only zero padding), with eContentType TSTInfo;
3. the TSTInfo messageImprint equals the hash of the two signed segments;
4. the SignerInfo signature verifies with the TSA certificate in the token, over the signed attributes,
   whose messageDigest is the hash of the TSTInfo, whose content-type is TSTInfo and whose ESS
   signing-certificate names that certificate;
5. the signed range covers the whole file (``b + c == len``): bytes after it, such as an appended
   revision that a PDF reader and ``extract`` would honour, are not covered;
6. the TSA certificate is trusted at genTime: it chains to a configured trust anchor, or it is one of the
   pinned NTS TSA certificates.

1–5 make ``intact``; ``authentic`` is ``intact`` and 6.
"""

from __future__ import annotations

import datetime as _dt
import hashlib
import os
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Iterable

from asn1crypto import cms, core, tsp
from cryptography import x509
from cryptography.exceptions import InvalidSignature, UnsupportedAlgorithm
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec, padding, rsa
from cryptography.x509.oid import ExtendedKeyUsageOID, ExtensionOID

from . import errors
from .limits import Limits, resolve

# -- NTS result codes (DSTSPDFSig / DSTSPdfSigVerifyF) -----------------------------------------------
OK = 0
HASH_MISMATCH = 2101
SIGNATURE_INVALID = 2102
UNSUPPORTED_HASH = 2103
TOKEN_PARSE_ERROR = 2106
CERTIFICATE = 2109
BYTE_RANGE = 2110

# -- hard limits on hostile input ---------------------------------------------------------------------
MAX_TOKEN_BYTES = 256 * 1024  # the NTS reserves 8000 bytes and uses ~3200
MAX_DER_DEPTH = 32  # a real token nests ~12 deep
MAX_DER_ELEMENTS = 20_000  # a real token has ~600 TLVs
MAX_TOKEN_CERTS = 16
MAX_PATH_LEN = 6  # certificates in a chain, leaf to anchor
MAX_DICT_SPAN = 64 * 1024  # /ByteRange and /Contents must sit this close, in one object

_HASHES = {  # accepted digest algorithms; SHA-1 and MD5 are refused as unsupported (2103)
    "sha256": (hashlib.sha256, hashes.SHA256, "SHA-256"),
    "sha384": (hashlib.sha384, hashes.SHA384, "SHA-384"),
    "sha512": (hashlib.sha512, hashes.SHA512, "SHA-512"),
}
_ESS_HASHES = {"sha1": hashlib.sha1, "sha256": hashlib.sha256, "sha384": hashlib.sha384,
               "sha512": hashlib.sha512}  # a certificate *identifier* may use SHA-1 (RFC 2634)

_BYTE_RANGE_NAME = b"/ByteRange"
_NAME_CHARS = frozenset(b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789#_.-")
_BYTE_RANGE = re.compile(rb"/ByteRange\s*\[\s*(\d{1,12})\s+(\d{1,12})\s+(\d{1,12})\s+(\d{1,12})\s*\]")
_CONTENTS_KEY_BEFORE = re.compile(rb"/Contents\s{0,16}\Z")
_HEX = re.compile(rb"\A[0-9A-Fa-f]*\Z")
_OBJ_BOUNDARY = re.compile(rb"\bendobj\b|\bstream\b|\d+\s+\d+\s+obj\b")

PINNED_FILE = Path(__file__).with_name("data") / "trust" / "pinned.txt"
ENV_TRUST_DIR = "HOMETAX_TRUST_DIR"
ENV_TRUST_PINNED = "HOMETAX_TRUST_PINNED"


def _name_positions(data: bytes, name: bytes) -> list[int]:
    """Where the PDF name ``name`` stands in ``data`` (not as the start of a longer name). A plain
    substring search: a regular expression over the whole file costs ten times as much."""
    out, end = [], len(name)
    i = data.find(name)
    while i != -1:
        if i + end >= len(data) or data[i + end] not in _NAME_CHARS:
            out.append(i)
        i = data.find(name, i + 1)
    return out


# == result ===========================================================================================
@dataclass(frozen=True)
class Verification:
    """The outcome of one verification: plain data, never a bare bool.

    ``status`` tells UIs the states apart: ``authentic``; ``untrusted_issuer`` (intact, but the TSA is
    neither pinned nor chained to an anchor, or its certificate fails at genTime); ``tampered`` (a
    timestamp is there but the file, the range or the token do not check out); ``unsigned`` (no NTS
    timestamp at all).
    """

    authentic: bool
    intact: bool
    trust: str  # chain | pinned | unknown | failed
    verifier_code: int  # the NTS verifier's (DSTSPDFSig) result code: 0 or 21xx
    reason: str  # one English sentence
    reason_ko: str  # the same, in Korean, for HR staff
    gen_time: str | None = None  # ISO 8601, UTC, "Z"
    hash_alg: str | None = None  # SHA-256 | SHA-384 | SHA-512
    hash_value: str | None = None  # hex, the messageImprint in the token
    tsa: str | None = None  # RFC 4514 DN of the TSA certificate
    covers_whole_file: bool = False
    status: str = "tampered"  # authentic | untrusted_issuer | tampered | unsigned

    @property
    def nts_code(self) -> int:
        """Deprecated alias of :attr:`verifier_code` (kept for one release): not the NTS API's -2…1."""
        return self.verifier_code

    def to_dict(self) -> dict:
        return {
            "authentic": self.authentic,
            "intact": self.intact,
            "trust": self.trust,
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


_ASN1_ERRORS = (ValueError, TypeError, KeyError, IndexError, OverflowError, RecursionError)


class _Fail(Exception):
    """Internal: stop verification with an NTS code and a fixed English sentence."""

    def __init__(self, code: int, reason: str, reason_ko: str):
        super().__init__(reason)
        self.code = code
        self.reason = reason
        self.reason_ko = reason_ko


# == trust ============================================================================================
@dataclass(frozen=True)
class TrustStore:
    """What makes a TSA certificate trusted: pinned SHA-256 fingerprints of the TSA certificates
    themselves, and trust anchors (any certificate placed in the trust directory: roots and issuing
    CAs) to which a TSA certificate must chain at genTime."""

    pinned: frozenset[str] = frozenset()
    anchors: tuple[x509.Certificate, ...] = ()
    _anchor_fps: frozenset[bytes] = field(default=frozenset(), init=False, repr=False, compare=False)

    def __post_init__(self):
        object.__setattr__(self, "_anchor_fps",
                           frozenset(a.fingerprint(hashes.SHA256()) for a in self.anchors))

    @classmethod
    def empty(cls) -> "TrustStore":
        return cls()

    @classmethod
    def default(cls, extra_dir: str | os.PathLike | None = None,
                environ: dict | None = None) -> "TrustStore":
        """The shipped pins, plus pins from ``HOMETAX_TRUST_PINNED`` (comma-separated SHA-256 hex), plus
        anchors from ``HOMETAX_TRUST_DIR`` and ``extra_dir`` (PEM or DER files)."""
        env = os.environ if environ is None else environ
        pins = set(load_pinned(PINNED_FILE))
        pins.update(parse_fingerprints(env.get(ENV_TRUST_PINNED, "")))
        anchors: list[x509.Certificate] = []
        for d in (env.get(ENV_TRUST_DIR) or None, extra_dir):
            if d:
                anchors.extend(load_anchor_dir(d))
        return cls(frozenset(pins), _dedupe(anchors))

    @classmethod
    def from_dir(cls, directory: str | os.PathLike, pinned: Iterable[str] = ()) -> "TrustStore":
        """Anchors from ``directory`` only (and the given pins): no shipped defaults."""
        return cls(frozenset(parse_fingerprints(",".join(pinned))), _dedupe(load_anchor_dir(directory)))

    def is_anchor(self, cert: x509.Certificate) -> bool:
        return cert.fingerprint(hashes.SHA256()) in self._anchor_fps


def parse_fingerprints(text: str) -> list[str]:
    out = []
    for item in text.split(","):
        fp = item.strip().lower().replace(":", "")
        if not fp:
            continue
        if not re.fullmatch(r"[0-9a-f]{64}", fp):
            raise errors.UsageError("a pinned fingerprint must be 64 hex digits (SHA-256)")
        out.append(fp)
    return out


def load_pinned(path: Path) -> list[str]:
    """First column of each non-comment line of a pin file."""
    out = []
    for line in path.read_text(encoding="utf-8").splitlines():
        line = line.split("#", 1)[0].strip()
        if line:
            out.extend(parse_fingerprints(line.split()[0]))
    return out


_PEM_CERT = re.compile(rb"-----BEGIN CERTIFICATE-----.+?-----END CERTIFICATE-----", re.S)


def load_anchor_dir(directory: str | os.PathLike) -> list[x509.Certificate]:
    """Every certificate in the files of ``directory`` (PEM, possibly several per file, or DER).
    A configured directory that cannot be read is an error, not an empty trust list."""
    path = Path(directory)
    if not path.is_dir():
        raise errors.UsageError("the trust directory does not exist")
    certs: list[x509.Certificate] = []
    for entry in sorted(path.iterdir()):
        if not entry.is_file() or entry.name.startswith(".") or entry.suffix.lower() in (".md", ".txt"):
            continue
        raw = entry.read_bytes()
        try:
            if b"-----BEGIN CERTIFICATE-----" in raw:
                certs.extend(x509.load_pem_x509_certificate(m.group(0)) for m in _PEM_CERT.finditer(raw))
            else:
                certs.append(x509.load_der_x509_certificate(raw))
        except ValueError:
            raise errors.UsageError("a file in the trust directory is not a certificate") from None
    return certs


def _dedupe(certs: Iterable[x509.Certificate]) -> tuple[x509.Certificate, ...]:
    seen, out = set(), []
    for c in certs:
        fp = c.fingerprint(hashes.SHA256())
        if fp not in seen:
            seen.add(fp)
            out.append(c)
    return tuple(out)


_DEFAULT_CACHE: dict[tuple, TrustStore] = {}


def _default_trust() -> TrustStore:
    key = (os.environ.get(ENV_TRUST_DIR), os.environ.get(ENV_TRUST_PINNED))
    store = _DEFAULT_CACHE.get(key)
    if store is None:
        store = _DEFAULT_CACHE[key] = TrustStore.default()
    return store


# == entry points =====================================================================================
def verify(source, limits: Limits | None = None, trust: TrustStore | None = None) -> Verification:
    """Verify ``source`` (bytes, path or binary file object). Unreadable input raises as the error table
    says (``Damaged`` for a non-PDF, ``TooLarge``); every verdict on a PDF is a :class:`Verification`."""
    from .pdf import read_source

    data = read_source(source, resolve(limits))
    return verify_bytes(data, trust=trust)


def verify_bytes(data: bytes, trust: TrustStore | None = None) -> Verification:
    if b"%PDF-" not in data[:1024]:
        raise errors.Damaged("no PDF header")
    return _Verifier(bytes(data), trust if trust is not None else _default_trust()).run()


# == the verifier =====================================================================================
def _iso(t: _dt.datetime) -> str:
    t = t.astimezone(_dt.timezone.utc)
    s = t.strftime("%Y-%m-%dT%H:%M:%S")
    if t.microsecond:
        s += ("." + f"{t.microsecond:06d}").rstrip("0")
    return s + "Z"


class _Verifier:
    def __init__(self, data: bytes, trust: TrustStore):
        self.data = data
        self.trust_store = trust
        self.gen_time: _dt.datetime | None = None
        self.hash_alg: str | None = None
        self.hash_value: str | None = None
        self.tsa: str | None = None
        self.cert: x509.Certificate | None = None
        self.covers = False
        self.trust = "unknown"
        self.unsigned = False

    def result(self, code: int, reason: str, reason_ko: str, intact: bool = False) -> Verification:
        authentic = intact and self.trust in ("chain", "pinned") and code == OK
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
            reason_ko=reason_ko,
            gen_time=_iso(self.gen_time) if self.gen_time else None, hash_alg=self.hash_alg,
            hash_value=self.hash_value, tsa=self.tsa, covers_whole_file=self.covers, status=status)

    def run(self) -> Verification:
        try:
            a, b, c, d = self._byte_range()
            self.covers = c + d == len(self.data)
            token = self._token_bytes(a + b, c)
            signed_data, tst_info, tst_der = self._parse_token(token)
            self._read_tst(tst_info)
            self._check_signature(signed_data, tst_der)
        except _Fail as f:
            return self.result(f.code, f.reason, f.reason_ko)
        except _ASN1_ERRORS:  # asn1crypto parses lazily: a malformed field fails where it is read
            return self.result(TOKEN_PARSE_ERROR, "The timestamp token cannot be parsed.",
                               "타임스탬프 토큰을 해석할 수 없습니다.")
        # The token is sound and self.cert signed it. Whose certificate is it? Asked even when the
        # file no longer matches, so that "NTS-issued, then changed" reads differently from a forgery.
        imprint_ok = self._imprint_matches(tst_info, (a, b), (c, d))
        try:
            trust_reason = self._evaluate_trust()
        except ValueError:  # a certificate extension cryptography cannot parse
            self.trust = "failed"
            trust_reason = ("The TSA certificate's extensions cannot be read.",
                            "타임스탬프 인증서의 확장을 읽을 수 없습니다.")
        if not imprint_ok:
            return self.result(HASH_MISMATCH, "The signed bytes do not match the hash in the timestamp: "
                                              "the file was changed after it was stamped.",
                               "문서 내용이 타임스탬프와 맞지 않습니다: 발급 후 문서가 바뀌었습니다.")
        if not self.covers:
            return self.result(BYTE_RANGE, "The signed byte range does not reach the end of the file: "
                                            "bytes after it (for example an appended revision) are not "
                                            "covered by the timestamp.",
                               "타임스탬프가 문서 끝까지 덮지 않습니다: 그 뒤에 덧붙은 내용(예: 추가 수정본)은 "
                               "타임스탬프로 보증되지 않습니다.")
        if self.trust in ("chain", "pinned"):
            if self.trust == "chain":
                how = "its certificate chains to a configured trust anchor at genTime"
                how_ko = "인증서가 발급 시각에 신뢰하는 인증기관(GPKI)으로 이어집니다"
            else:
                how = "its certificate is a pinned NTS TSA certificate"
                how_ko = "등록된 국세청 타임스탬프 인증서입니다"
            return self.result(OK, f"The file is intact and the timestamp was issued by a trusted "
                                   f"timestamp authority ({how}).",
                               f"국세청 타임스탬프가 맞고, 발급 이후 바뀐 곳이 없습니다({how_ko}).",
                               intact=True)
        return self.result(CERTIFICATE, *trust_reason, intact=True)

    # -- 1. the byte range -------------------------------------------------------------------------
    def _byte_range(self) -> tuple[int, int, int, int]:
        data = self.data
        keys = _name_positions(data, _BYTE_RANGE_NAME)
        if not keys:
            self.unsigned = True
            raise _Fail(BYTE_RANGE, "The file carries no NTS timestamp (no signature /ByteRange).", "국세청 타임스탬프가 없는 문서입니다.")
        if len(keys) > 1:
            raise _Fail(BYTE_RANGE, "The file has more than one signature /ByteRange; an NTS document "
                                    "carries exactly one.", "서명 영역이 둘 이상 있습니다. 국세청 문서에는 하나만 있습니다.")
        m = _BYTE_RANGE.match(data, keys[0])
        if not m:
            raise _Fail(BYTE_RANGE, "The /ByteRange is not an array of four non-negative integers.", "서명 범위(/ByteRange)의 형식이 올바르지 않습니다.")
        a, b, c, d = (int(x) for x in m.groups())
        if a != 0 or b <= 0 or c <= b + 1 or d <= 0:
            raise _Fail(BYTE_RANGE, "The /ByteRange does not add up: it must start at 0 and leave one "
                                    "gap between its two segments.", "서명 범위(/ByteRange)가 맞지 않습니다.")
        if c + d > len(data):
            raise _Fail(BYTE_RANGE, "The /ByteRange reaches past the end of the file.", "서명 범위(/ByteRange)가 파일 끝을 넘어갑니다.")
        if data[b:b + 1] != b"<" or data[c - 1:c] != b">" or not _CONTENTS_KEY_BEFORE.search(
                data, max(0, b - 32), b):
            raise _Fail(BYTE_RANGE, "The gap in the /ByteRange is not exactly the signature's "
                                    "/Contents <hex> string.", "서명 범위에서 빠진 부분이 정확히 타임스탬프 자리가 아닙니다.")
        # The /ByteRange and the /Contents must belong to one dictionary: nothing that ends or
        # starts an object between them, and they sit close together.
        lo, hi = (m.end(), b) if m.end() <= b else (c, m.start())
        if m.start() < c and m.end() > b:
            raise _Fail(BYTE_RANGE, "The /ByteRange overlaps the signature gap.", "서명 범위(/ByteRange)가 타임스탬프 자리와 겹칩니다.")
        if hi - lo > MAX_DICT_SPAN or _OBJ_BOUNDARY.search(data, lo, hi):
            raise _Fail(BYTE_RANGE, "The /ByteRange and the /Contents it points at are not in the same "
                                    "signature dictionary.", "서명 범위와 타임스탬프가 같은 서명 정보에 들어 있지 않습니다.")
        return a, b, c, d

    # -- 2. the token ------------------------------------------------------------------------------
    def _token_bytes(self, start: int, end: int) -> bytes:
        hex_len = end - start - 2
        if hex_len > 2 * MAX_TOKEN_BYTES:
            raise _Fail(TOKEN_PARSE_ERROR, "The signature /Contents is larger than any timestamp token.", "타임스탬프 자리가 타임스탬프 토큰보다 지나치게 큽니다.")
        hexs = self.data[start + 1:end - 1]
        if hex_len % 2 or not _HEX.match(hexs):
            raise _Fail(TOKEN_PARSE_ERROR, "The signature /Contents is not a hex string.", "타임스탬프 자리의 값이 16진수 문자열이 아닙니다.")
        raw = bytes.fromhex(hexs.decode("ascii"))
        size = _der_scan(raw)  # raises _Fail(2106) on anything but bounded, definite-length DER
        if raw[size:].strip(b"\0"):
            raise _Fail(TOKEN_PARSE_ERROR, "The signature /Contents holds data after the timestamp token.", "타임스탬프 토큰 뒤에 다른 데이터가 붙어 있습니다.")
        return raw[:size]

    def _parse_token(self, token: bytes):
        try:
            info = cms.ContentInfo.load(token)
            if info["content_type"].native != "signed_data":
                raise _Fail(TOKEN_PARSE_ERROR, "The timestamp token is not CMS SignedData.", "타임스탬프 토큰이 CMS 서명 데이터가 아닙니다.")
            sd = info["content"]
            eci = sd["encap_content_info"]
            if eci["content_type"].native != "tst_info":
                raise _Fail(TOKEN_PARSE_ERROR, "The signed content is not an RFC 3161 TSTInfo.", "서명된 내용이 RFC 3161 타임스탬프 정보가 아닙니다.")
            if not isinstance(eci["content"], cms.ParsableOctetString) or not eci["content"].contents:
                raise _Fail(TOKEN_PARSE_ERROR, "The timestamp token has no TSTInfo (detached content).", "타임스탬프 토큰에 타임스탬프 정보(TSTInfo)가 없습니다.")
            tst_der = eci["content"].contents
            _der_scan(tst_der, whole=True)
            tst_info = tsp.TSTInfo.load(tst_der)
            if len(sd["signer_infos"]) != 1:
                raise _Fail(TOKEN_PARSE_ERROR, "The timestamp token must have exactly one signer.", "타임스탬프 토큰의 서명자가 하나가 아닙니다.")
            certs = sd["certificates"]
            if isinstance(certs, core.Void) or len(certs) == 0 or len(certs) > MAX_TOKEN_CERTS:
                raise _Fail(TOKEN_PARSE_ERROR, "The timestamp token carries no TSA certificate.", "타임스탬프 토큰에 타임스탬프 인증서가 없습니다.")
        except _Fail:
            raise
        except _ASN1_ERRORS:
            raise _Fail(TOKEN_PARSE_ERROR, "The timestamp token cannot be parsed.", "타임스탬프 토큰을 해석할 수 없습니다.") from None
        return sd, tst_info, tst_der

    def _read_tst(self, tst_info) -> None:
        if tst_info["version"].native != "v1":
            raise _Fail(TOKEN_PARSE_ERROR, "The TSTInfo version is not 1.", "타임스탬프 정보(TSTInfo)의 버전이 1이 아닙니다.")
        self.gen_time = tst_info["gen_time"].native
        if self.gen_time.tzinfo is None:
            self.gen_time = self.gen_time.replace(tzinfo=_dt.timezone.utc)
        imprint = tst_info["message_imprint"]
        alg = imprint["hash_algorithm"]["algorithm"].native
        self.hash_value = imprint["hashed_message"].native.hex()
        if alg not in _HASHES:
            self.hash_alg = str(alg)
            raise _Fail(UNSUPPORTED_HASH, "The timestamp uses a hash algorithm that is not accepted "
                                          "(SHA-256, SHA-384 or SHA-512 only).", "타임스탬프가 허용하지 않는 해시 알고리즘을 씁니다(SHA-256, SHA-384, SHA-512만 허용).")
        self.hash_alg = _HASHES[alg][2]

    # -- 3. the imprint (checked after the signature, see run) ----------------------------------------------------------------------------
    def _imprint_matches(self, tst_info, seg1: tuple[int, int], seg2: tuple[int, int]) -> bool:
        alg = tst_info["message_imprint"]["hash_algorithm"]["algorithm"].native
        h = _HASHES[alg][0]()
        view = memoryview(self.data)
        h.update(view[seg1[0]:seg1[0] + seg1[1]])
        h.update(view[seg2[0]:seg2[0] + seg2[1]])
        return h.hexdigest() == self.hash_value

    # -- 4. the CMS signature ----------------------------------------------------------------------
    def _check_signature(self, sd, tst_der: bytes) -> None:
        si = sd["signer_infos"][0]
        cert_asn1 = _find_signer_cert(sd, si)
        try:
            self.cert = x509.load_der_x509_certificate(cert_asn1.dump())
            self.tsa = self.cert.subject.rfc4514_string()
        except ValueError:
            raise _Fail(TOKEN_PARSE_ERROR, "The TSA certificate in the token cannot be parsed.", "타임스탬프 토큰의 인증서를 해석할 수 없습니다.") from None

        digest_alg = si["digest_algorithm"]["algorithm"].native
        if digest_alg not in _HASHES:
            raise _Fail(UNSUPPORTED_HASH, "The token's signature uses a hash algorithm that is not "
                                          "accepted (SHA-256, SHA-384 or SHA-512 only).", "타임스탬프 서명이 허용하지 않는 해시 알고리즘을 씁니다(SHA-256, SHA-384, SHA-512만 허용).")
        signed_attrs = si["signed_attrs"]
        if isinstance(signed_attrs, core.Void) or len(signed_attrs) == 0:  # not .native: deep copy
            raise _Fail(SIGNATURE_INVALID, "The token's signature has no signed attributes (RFC 3161 "
                                           "requires them).", "타임스탬프 서명에 서명 속성이 없습니다.")
        attrs: dict[str, list] = {}
        for attr in signed_attrs:
            attrs.setdefault(attr["type"].native, []).append(attr["values"])
        for name in ("content_type", "message_digest"):
            if len(attrs.get(name, [])) != 1 or len(attrs[name][0]) != 1:
                raise _Fail(SIGNATURE_INVALID, "The token's signed attributes lack a single "
                                               "content-type and message-digest.", "타임스탬프 서명 속성에 내용 유형과 메시지 다이제스트가 하나씩 있지 않습니다.")
        if attrs["content_type"][0][0].native != "tst_info":
            raise _Fail(SIGNATURE_INVALID, "The token's signed content-type is not TSTInfo.", "타임스탬프 서명의 내용 유형이 TSTInfo가 아닙니다.")
        if attrs["message_digest"][0][0].native != _HASHES[digest_alg][0](tst_der).digest():
            raise _Fail(SIGNATURE_INVALID, "The token's message digest does not match its TSTInfo: the "
                                           "token was altered.", "타임스탬프 토큰이 변경되었습니다(메시지 다이제스트 불일치).")
        self._check_ess(attrs, cert_asn1)

        signature = si["signature"].native
        to_verify = b"\x31" + signed_attrs.dump()[1:]  # the SET OF as signed, not the [0] tag
        sig_alg = si["signature_algorithm"]
        try:
            _verify_signature(self.cert.public_key(), sig_alg, digest_alg, signature, to_verify)
        except _Fail:
            raise
        except (InvalidSignature, ValueError, TypeError, UnsupportedAlgorithm):
            raise _Fail(SIGNATURE_INVALID, "The token's signature does not verify with the TSA "
                                           "certificate it carries.", "타임스탬프 서명이 들어 있는 인증서로 검증되지 않습니다.") from None

    def _check_ess(self, attrs: dict, cert_asn1) -> None:
        """RFC 3161 §2.4.1 / RFC 5816: the ESS signing-certificate attribute names the signer's
        certificate, so that it cannot be swapped for another one with the same key."""
        ess = attrs.get("signing_certificate_v2") or attrs.get("signing_certificate")
        if not ess or len(ess) != 1 or len(ess[0]) != 1:
            raise _Fail(SIGNATURE_INVALID, "The token lacks the signing-certificate attribute.", "타임스탬프 서명에 서명 인증서 속성이 없습니다.")
        der = cert_asn1.dump()
        try:
            first = ess[0][0]["certs"][0]
            # ESSCertIDv2 names its hash (default SHA-256); ESSCertID is always SHA-1
            alg = (first["hash_algorithm"]["algorithm"].native
                   if isinstance(first, tsp.ESSCertIDv2) else "sha1")
            want = first["cert_hash"].native
        except (KeyError, IndexError, ValueError, TypeError):
            raise _Fail(SIGNATURE_INVALID, "The token's signing-certificate attribute cannot be "
                                           "read.", "서명 인증서 속성을 읽을 수 없습니다.") from None
        if alg not in _ESS_HASHES:
            raise _Fail(UNSUPPORTED_HASH, "The signing-certificate attribute uses an unsupported hash.", "서명 인증서 속성이 지원하지 않는 해시를 씁니다.")
        if _ESS_HASHES[alg](der).digest() != want:
            raise _Fail(SIGNATURE_INVALID, "The token's signing-certificate attribute does not name the "
                                           "certificate that signed it.", "서명 인증서 속성이 실제로 서명한 인증서를 가리키지 않습니다.")

    # -- 6. trust ----------------------------------------------------------------------------------
    def _evaluate_trust(self) -> tuple[str, str]:
        """Set ``self.trust`` and return the sentences (English, Korean) to show when it is not
        trusted."""
        cert, gt, store = self.cert, self.gen_time, self.trust_store
        problems: list[tuple[str, str]] = []
        for path in _candidate_paths(cert, store):
            problem = _check_path(path, gt)
            if problem is None:
                self.trust = "chain"
                return "", ""
            problems.append(problem)
        if cert.fingerprint(hashes.SHA256()).hex() in store.pinned:
            problem = _check_leaf(cert, gt)
            if problem is None:
                self.trust = "pinned"
                return "", ""
            problems.append(problem)
        if problems:
            self.trust = "failed"
            return ("The file is intact and its TSA certificate is recognised, but it fails at "
                    f"genTime: {problems[0][0]}",
                    f"내용은 발급 당시 그대로지만, 타임스탬프 인증서에 문제가 있습니다: {problems[0][1]}")
        self.trust = "unknown"
        return ("The file is intact, but the timestamp authority is not recognised: its certificate is "
                "neither a pinned NTS TSA certificate nor chained to a configured trust anchor. "
                "Anyone can make a certificate with the NTS names.",
                "내용은 발급 당시 그대로지만, 타임스탬프를 찍은 기관을 확인할 수 없습니다: 인증서가 등록된 "
                "국세청 타임스탬프 인증서도 아니고 신뢰하는 인증기관(GPKI)에서 발급된 것도 아닙니다. 국세청 "
                "이름을 단 인증서는 누구나 만들 수 있습니다.")


# == helpers ==========================================================================================
def _der_scan(raw: bytes, whole: bool = False) -> int:
    """Walk the DER structure iteratively and return the size of the first element. Refuses indefinite
    lengths, nesting deeper than MAX_DER_DEPTH and more than MAX_DER_ELEMENTS elements, so that a
    hostile token fails fast here instead of deep inside a recursive parser."""
    bad = _Fail(TOKEN_PARSE_ERROR, "The timestamp token is not well-formed DER.", "타임스탬프 토큰의 형식(DER)이 올바르지 않습니다.")
    n = len(raw)
    count = 0
    stack = [n]  # end offsets of the open constructed elements
    pos = 0
    first_end = None
    while True:
        while stack and pos == stack[-1]:
            stack.pop()
        if not stack or (first_end is not None and len(stack) == 1):
            break
        if pos >= n:
            raise bad
        count += 1
        if count > MAX_DER_ELEMENTS:
            raise _Fail(TOKEN_PARSE_ERROR, "The timestamp token has too many ASN.1 elements.", "타임스탬프 토큰의 구성 요소가 너무 많습니다.")
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
            length = int.from_bytes(raw[pos:pos + k], "big")
            pos += k
        end = pos + length
        if end > stack[-1]:
            raise bad
        if first_end is None:
            first_end = end
            stack[0] = end if not whole else n
            if whole and end != n:
                raise bad
        if tag & 0x20:  # constructed: descend
            if len(stack) > MAX_DER_DEPTH:
                raise _Fail(TOKEN_PARSE_ERROR, "The timestamp token nests too deeply.", "타임스탬프 토큰의 구조가 너무 깊게 중첩되어 있습니다.")
            stack.append(end)
        else:
            pos = end
    return first_end if first_end is not None else 0


def _find_signer_cert(sd, si):
    sid = si["sid"]
    for choice in sd["certificates"]:
        if choice.name != "certificate":
            continue  # attribute certificates (the NTS tokens carry one) are not signers
        cert = choice.chosen
        try:
            if sid.name == "issuer_and_serial_number":
                issuer = sid.chosen["issuer"]
                if (cert.serial_number == sid.chosen["serial_number"].native
                        and (cert.issuer.dump() == issuer.dump() or cert.issuer == issuer)):
                    return cert
            elif sid.name == "subject_key_identifier":
                if cert.key_identifier == sid.chosen.native:
                    return cert
        except (ValueError, TypeError, KeyError):
            continue
    raise _Fail(TOKEN_PARSE_ERROR, "The timestamp token does not carry the certificate of its signer.", "타임스탬프 토큰에 서명한 기관의 인증서가 들어 있지 않습니다.")


def _verify_signature(pub, sig_alg, digest_alg: str, signature: bytes, message: bytes) -> None:
    algo = sig_alg.signature_algo  # rsassa_pkcs1v15 | rsassa_pss | ecdsa | dsa | ed25519 ...
    try:
        hash_name = sig_alg.hash_algo
    except ValueError:  # plain rsaEncryption / ecPublicKey: the SignerInfo digest algorithm applies
        hash_name = digest_alg
    if hash_name not in _HASHES:
        raise _Fail(UNSUPPORTED_HASH, "The token's signature uses a hash algorithm that is not accepted.", "타임스탬프 서명이 허용하지 않는 해시 알고리즘을 씁니다.")
    h = _HASHES[hash_name][1]()
    if algo == "rsassa_pkcs1v15" and isinstance(pub, rsa.RSAPublicKey):
        pub.verify(signature, message, padding.PKCS1v15(), h)
    elif algo == "rsassa_pss" and isinstance(pub, rsa.RSAPublicKey):
        params = sig_alg["parameters"]
        mgf = params["mask_gen_algorithm"]
        mgf_hash = mgf["parameters"]["algorithm"].native
        if mgf["algorithm"].native != "mgf1" or mgf_hash not in _HASHES:
            raise _Fail(UNSUPPORTED_HASH, "The token's RSA-PSS parameters are not supported.", "타임스탬프 서명의 RSA-PSS 설정을 지원하지 않습니다.")
        pub.verify(signature, message,
                   padding.PSS(mgf=padding.MGF1(_HASHES[mgf_hash][1]()),
                               salt_length=params["salt_length"].native), h)
    elif algo == "ecdsa" and isinstance(pub, ec.EllipticCurvePublicKey):
        pub.verify(signature, message, ec.ECDSA(h))
    else:
        raise _Fail(SIGNATURE_INVALID, "The token's signature algorithm does not match its "
                                       "certificate's key or is not supported.", "타임스탬프 서명 알고리즘이 인증서의 키와 맞지 않거나 지원하지 않는 알고리즘입니다.")


def _issued_by(cert: x509.Certificate, issuer: x509.Certificate) -> bool:
    try:
        cert.verify_directly_issued_by(issuer)
        return True
    except (ValueError, TypeError, InvalidSignature, UnsupportedAlgorithm):
        return False


def _candidate_paths(leaf: x509.Certificate, store: TrustStore) -> list[list[x509.Certificate]]:
    """Every path leaf → … → anchor in which each certificate's signature verifies with the next
    one's key (names must match too). Only configured anchors serve as issuers: the NTS tokens carry
    the TSA certificate alone, and a token's own extra certificates must not vouch for it."""
    paths: list[list[x509.Certificate]] = []

    def walk(path: list[x509.Certificate]) -> None:
        cur = path[-1]
        if store.is_anchor(cur):
            paths.append(list(path))
            return
        if len(path) >= MAX_PATH_LEN or len(paths) >= 16:
            return
        for cand in store.anchors:
            if cand.subject != cur.issuer or any(cand == p for p in path):
                continue
            if _issued_by(cur, cand):
                walk(path + [cand])

    walk([leaf])
    return paths


_KNOWN_CRITICAL = {ExtensionOID.BASIC_CONSTRAINTS, ExtensionOID.KEY_USAGE,
                   ExtensionOID.EXTENDED_KEY_USAGE, ExtensionOID.CERTIFICATE_POLICIES,
                   ExtensionOID.POLICY_CONSTRAINTS, ExtensionOID.SUBJECT_ALTERNATIVE_NAME,
                   ExtensionOID.INHIBIT_ANY_POLICY, ExtensionOID.POLICY_MAPPINGS}


def _valid_at(cert: x509.Certificate, when: _dt.datetime) -> bool:
    return cert.not_valid_before_utc <= when <= cert.not_valid_after_utc


def _unknown_critical(cert: x509.Certificate) -> bool:
    return any(e.critical and e.oid not in _KNOWN_CRITICAL for e in cert.extensions)


def _check_leaf(cert: x509.Certificate, when: _dt.datetime) -> tuple[str, str] | None:
    """RFC 3161 §2.3: the TSA certificate is valid at genTime and has a critical extendedKeyUsage with
    id-kp-timeStamping."""
    if not _valid_at(cert, when):
        return ("the TSA certificate was not valid at genTime.", "타임스탬프 인증서가 발급 시각에 유효하지 않았습니다.")
    try:
        eku = cert.extensions.get_extension_for_oid(ExtensionOID.EXTENDED_KEY_USAGE)
    except x509.ExtensionNotFound:
        return ("the TSA certificate is not for timestamping (no extendedKeyUsage).", "타임스탬프용 인증서가 아닙니다(확장 키 용도 없음).")
    if ExtendedKeyUsageOID.TIME_STAMPING not in eku.value or not eku.critical:
        return ("the TSA certificate is not for timestamping (extendedKeyUsage).", "타임스탬프용 인증서가 아닙니다(확장 키 용도).")
    try:
        ku = cert.extensions.get_extension_for_oid(ExtensionOID.KEY_USAGE).value
        if not (ku.digital_signature or ku.content_commitment):
            return ("the TSA certificate's key usage does not allow signing.", "타임스탬프 인증서의 키 용도가 서명을 허용하지 않습니다.")
    except x509.ExtensionNotFound:
        pass
    if _unknown_critical(cert):
        return ("the TSA certificate has an unrecognised critical extension.", "타임스탬프 인증서에 알 수 없는 필수 확장이 있습니다.")
    return None


def _check_path(path: list[x509.Certificate], when: _dt.datetime) -> tuple[str, str] | None:
    problem = _check_leaf(path[0], when)
    if problem:
        return problem
    for depth, ca in enumerate(path[1:]):  # depth = CA certificates between this one and the leaf
        if not _valid_at(ca, when):
            return ("an issuing CA certificate was not valid at genTime.", "발급 인증기관의 인증서가 발급 시각에 유효하지 않았습니다.")
        try:
            bc = ca.extensions.get_extension_for_oid(ExtensionOID.BASIC_CONSTRAINTS).value
        except x509.ExtensionNotFound:
            return ("an issuing certificate is not a CA (no basicConstraints).", "발급자 인증서가 인증기관(CA) 인증서가 아닙니다(기본 제약 없음).")
        if not bc.ca:
            return ("an issuing certificate is not a CA.", "발급자 인증서가 인증기관(CA) 인증서가 아닙니다.")
        if bc.path_length is not None and depth > bc.path_length:
            return ("a CA's path length constraint is exceeded.", "인증기관의 경로 길이 제한을 넘었습니다.")
        try:
            ku = ca.extensions.get_extension_for_oid(ExtensionOID.KEY_USAGE).value
            if not ku.key_cert_sign:
                return ("an issuing CA's key usage does not allow certificate signing.", "발급 인증기관의 키 용도가 인증서 서명을 허용하지 않습니다.")
        except x509.ExtensionNotFound:
            pass
        if _unknown_critical(ca):
            return ("an issuing CA certificate has an unrecognised critical extension.", "발급 인증기관의 인증서에 알 수 없는 필수 확장이 있습니다.")
    return None
