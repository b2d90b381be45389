"""Who may stamp: pinned TSA certificates, trust anchors, and the chain from a TSA certificate to an
anchor, judged at the document's genTime (RFC 3161 §2.3, RFC 5280 §6 in the subset a timestamp
chain needs).

Default trust, with no configuration: the pinned NTS TSA certificates (``data/trust/pinned.txt``) and
the public GPKI anchors shipped in ``data/trust/anchors/`` (GPKIRootCA1 and both issues of the issuing
CA CA131100001). ``HOMETAX_TRUST_DIR`` (and ``--trust-dir``) add anchors, ``HOMETAX_TRUST_PINNED``
adds pins; ``HOMETAX_TRUST_REPLACE=1`` (``--trust-only-dir``) drops the shipped pins and anchors so
that only the configured ones count.

What a certificate is does not change with the document: the signature of each issuer over each
certificate and each certificate's profile are checked once per store and leaf certificate and
cached; validity periods are compared with every document's own genTime.
"""

from __future__ import annotations

import datetime as _dt
import functools
import os
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Iterable

from cryptography import x509
from cryptography.exceptions import InvalidSignature, UnsupportedAlgorithm
from cryptography.hazmat.primitives import hashes
from cryptography.x509.oid import ExtendedKeyUsageOID, ExtensionOID

from .. import errors
from ..settings import Settings
from .cms import BoundedCache, Signer

DATA_DIR = Path(__file__).resolve().parent.parent / "data" / "trust"
PINNED_FILE = DATA_DIR / "pinned.txt"
ANCHORS_DIR = DATA_DIR / "anchors"
ENV_TRUST_DIR = "HOMETAX_TRUST_DIR"
ENV_TRUST_PINNED = "HOMETAX_TRUST_PINNED"
ENV_TRUST_REPLACE = "HOMETAX_TRUST_REPLACE"

MAX_PATH_LEN = 6  # certificates in a chain, leaf to anchor
MAX_PATHS = 16

Problem = tuple[str, str]  # (English, Korean)


def _fp(cert: x509.Certificate) -> str:
    return cert.fingerprint(hashes.SHA256()).hex()


def anchor_label(cert: x509.Certificate) -> str:
    return f"anchor:{_fp(cert)} {cert.subject.rfc4514_string()}"


# == the store =========================================================================================
@dataclass(frozen=True)
class TrustStore:
    """What makes a TSA certificate trusted: pinned SHA-256 fingerprints of the TSA certificates
    themselves, and trust anchors (roots and issuing CAs) to which a TSA certificate must chain at
    genTime."""

    pinned: frozenset[str] = frozenset()
    anchors: tuple[x509.Certificate, ...] = ()
    _anchor_fps: frozenset[bytes] = field(default=frozenset(), init=False, repr=False, compare=False)
    _by_subject: dict = field(default_factory=dict, init=False, repr=False, compare=False)
    _decisions: BoundedCache = field(default_factory=BoundedCache, init=False, repr=False,
                                      compare=False)

    def __post_init__(self):
        object.__setattr__(self, "_anchor_fps",
                           frozenset(a.fingerprint(hashes.SHA256()) for a in self.anchors))
        for a in self.anchors:
            self._by_subject.setdefault(a.subject, []).append(a)

    @classmethod
    def empty(cls) -> "TrustStore":
        return cls()

    @classmethod
    def shipped(cls) -> "TrustStore":
        """The shipped pins and GPKI anchors alone (what :meth:`default` gives without configuration)."""
        return cls(frozenset(load_pinned(PINNED_FILE)), _dedupe(load_anchor_dir(ANCHORS_DIR)))

    @classmethod
    def default(cls, extra_dir: str | os.PathLike | None = None, environ: dict | None = None,
                replace: bool | None = None) -> "TrustStore":
        """The shipped pins and anchors, plus pins from ``HOMETAX_TRUST_PINNED`` (comma-separated
        SHA-256 hex), plus anchors from ``HOMETAX_TRUST_DIR`` and ``extra_dir`` (PEM or DER files).
        ``replace`` (default: ``HOMETAX_TRUST_REPLACE``) leaves the shipped ones out; then something
        must be configured."""
        st = _settings(environ)
        if replace is None:
            replace = st.trust_replace
        pins = set(parse_fingerprints(",".join(st.trust_pinned)))
        anchors: list[x509.Certificate] = []
        if not replace:
            shipped = _shipped()
            pins.update(shipped.pinned)
            anchors.extend(shipped.anchors)
        for d in (st.trust_dir, extra_dir):
            if d:
                anchors.extend(load_anchor_dir(d))
        if replace and not anchors and not pins:
            raise errors.UsageError("replacing the shipped trust needs a trust directory or pins")
        return cls(frozenset(pins), _dedupe(anchors))

    @classmethod
    def only(cls, directory: str | os.PathLike, environ: dict | None = None) -> "TrustStore":
        """The anchors in ``directory`` and the pins of ``HOMETAX_TRUST_PINNED``, nothing shipped:
        ``--trust-only-dir``."""
        return cls.from_dir(directory, _settings(environ).trust_pinned)

    @classmethod
    def from_dir(cls, directory: str | os.PathLike, pinned: Iterable[str] = ()) -> "TrustStore":
        """Anchors from ``directory`` only (and the given pins): no shipped defaults."""
        return cls(frozenset(parse_fingerprints(",".join(pinned))), _dedupe(load_anchor_dir(directory)))

    def is_anchor(self, cert: x509.Certificate) -> bool:
        return cert.fingerprint(hashes.SHA256()) in self._anchor_fps

    def issuers_of(self, cert: x509.Certificate) -> list[x509.Certificate]:
        return self._by_subject.get(cert.issuer, [])

    # -- the decision ------------------------------------------------------------------------------
    def evaluate(self, signer: Signer, when: _dt.datetime) -> "Decision":
        """Is ``signer`` trusted at ``when``? A chain to an anchor first, then a pin."""
        plan = self._decisions.get(signer.fingerprint)
        if plan is None:
            try:
                plan = _Plan.of(signer, self)
            except ValueError:  # a certificate extension cryptography cannot parse
                return Decision("failed", None, ("The file is intact, but the TSA certificate's "
                                                 "extensions cannot be read.",
                                                 "내용은 발급 당시 그대로지만, 타임스탬프 인증서의 확장을 "
                                                 "읽을 수 없습니다."))
            self._decisions.put(signer.fingerprint, plan)
        return plan.decide(when)


@functools.lru_cache(maxsize=1)
def _shipped() -> TrustStore:
    return TrustStore.shipped()


_DEFAULT_CACHE: dict[tuple, TrustStore] = {}


def default_trust() -> TrustStore:
    """The store for verifications that name none: :meth:`TrustStore.default` for the current
    environment, built once per distinct configuration."""
    key = tuple(os.environ.get(k) for k in (ENV_TRUST_DIR, ENV_TRUST_PINNED, ENV_TRUST_REPLACE))
    store = _DEFAULT_CACHE.get(key)
    if store is None:
        store = _DEFAULT_CACHE[key] = TrustStore.default()
    return store


def _settings(environ: dict | None) -> Settings:
    """The trust settings, parsed by the one settings object; a bad value is a usage error."""
    try:
        return Settings.from_env(environ)
    except ValueError as exc:  # the message names the variable, never its value
        raise errors.UsageError(str(exc)) from None


# == configuration =====================================================================================
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


# == the chain =========================================================================================
@dataclass(frozen=True)
class Decision:
    trust: str  # chain | pinned | unknown | failed
    anchor: str | None  # anchor:<sha256> <subject> | pinned:<sha256>
    reason: Problem | None  # why not trusted, in English and Korean


_NOT_VALID_LEAF: Problem = ("the TSA certificate was not valid at genTime.",
                            "타임스탬프 인증서가 발급 시각에 유효하지 않았습니다.")
_NOT_VALID_CA: Problem = ("an issuing CA certificate was not valid at genTime.",
                          "발급 인증기관의 인증서가 발급 시각에 유효하지 않았습니다.")


_UNKNOWN_ISSUER: Problem = (
    "The file is intact, but the timestamp authority is not recognised: its certificate is neither a "
    "pinned NTS TSA certificate nor chained to a trust anchor (shipped or added). Anyone can make a "
    "certificate with the NTS names.",
    "내용은 발급 당시 그대로지만, 타임스탬프를 찍은 기관을 확인할 수 없습니다: 인증서가 등록된 국세청 "
    "타임스탬프 인증서도 아니고 신뢰하는 인증기관(GPKI)으로 이어지지도 않습니다. 국세청 이름을 단 인증서는 "
    "누구나 만들 수 있습니다.")


@dataclass(frozen=True)
class _Step:
    """One certificate of a path: its validity period (judged per document) and what its profile
    lacks (judged once)."""

    not_before: _dt.datetime
    not_after: _dt.datetime
    expired: Problem
    profile: Problem | None

    def problem(self, when: _dt.datetime) -> Problem | None:
        if not self.not_before <= when <= self.not_after:
            return self.expired
        return self.profile


@dataclass(frozen=True)
class _Plan:
    """Everything about one leaf certificate under one store that does not depend on time."""

    paths: tuple[tuple[tuple[_Step, ...], str], ...]  # (steps leaf→anchor, anchor label)
    pinned: tuple[_Step, ...] | None  # the leaf alone, when it is pinned
    pin_label: str

    @classmethod
    def of(cls, signer: Signer, store: TrustStore) -> "_Plan":
        paths = []
        for path in _candidate_paths(signer.cert, store):
            steps = [_Step(path[0].not_valid_before_utc, path[0].not_valid_after_utc, _NOT_VALID_LEAF,
                           _leaf_profile(path[0]))]
            for depth, ca in enumerate(path[1:]):  # depth = CA certificates between this one and the leaf
                steps.append(_Step(ca.not_valid_before_utc, ca.not_valid_after_utc, _NOT_VALID_CA,
                                   _ca_profile(ca, depth)))
            paths.append((tuple(steps), anchor_label(path[-1])))
        pinned = None
        if signer.fingerprint in store.pinned:
            pinned = (_Step(signer.cert.not_valid_before_utc, signer.cert.not_valid_after_utc,
                            _NOT_VALID_LEAF, _leaf_profile(signer.cert)),)
        return cls(tuple(paths), pinned, f"pinned:{signer.fingerprint}")

    def decide(self, when: _dt.datetime) -> Decision:
        problems: list[Problem] = []
        for steps, label in self.paths:
            problem = _first_problem(steps, when)
            if problem is None:
                return Decision("chain", label, None)
            problems.append(problem)
        if self.pinned is not None:
            problem = _first_problem(self.pinned, when)
            if problem is None:
                return Decision("pinned", self.pin_label, None)
            problems.append(problem)
        if problems:
            en, ko = problems[0]
            return Decision("failed", None, (
                f"The file is intact and its TSA certificate is recognised, but it fails at genTime: {en}",
                f"내용은 발급 당시 그대로지만, 타임스탬프 인증서에 문제가 있습니다: {ko}"))
        return Decision("unknown", None, _UNKNOWN_ISSUER)


def _first_problem(steps: tuple[_Step, ...], when: _dt.datetime) -> Problem | None:
    for step in steps:
        problem = step.problem(when)
        if problem is not None:
            return problem
    return None


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
        if len(path) >= MAX_PATH_LEN or len(paths) >= MAX_PATHS:
            return
        for cand in store.issuers_of(cur):
            if any(cand == p for p in path):
                continue
            if _issued_by(cur, cand):
                walk(path + [cand])

    walk([leaf])
    return paths


_KNOWN_CRITICAL = {ExtensionOID.BASIC_CONSTRAINTS, ExtensionOID.KEY_USAGE,
                   ExtensionOID.EXTENDED_KEY_USAGE, ExtensionOID.CERTIFICATE_POLICIES,
                   ExtensionOID.POLICY_CONSTRAINTS, ExtensionOID.SUBJECT_ALTERNATIVE_NAME,
                   ExtensionOID.INHIBIT_ANY_POLICY, ExtensionOID.POLICY_MAPPINGS}


def _unknown_critical(cert: x509.Certificate) -> bool:
    return any(e.critical and e.oid not in _KNOWN_CRITICAL for e in cert.extensions)


def _leaf_profile(cert: x509.Certificate) -> Problem | None:
    """RFC 3161 §2.3: the TSA certificate has a critical extendedKeyUsage with id-kp-timeStamping
    (its validity at genTime is the other half of a :class:`_Step`)."""
    try:
        eku = cert.extensions.get_extension_for_class(x509.ExtendedKeyUsage)
    except x509.ExtensionNotFound:
        return ("the TSA certificate is not for timestamping (no extendedKeyUsage).",
                "타임스탬프용 인증서가 아닙니다(확장 키 용도 없음).")
    if ExtendedKeyUsageOID.TIME_STAMPING not in eku.value or not eku.critical:
        return ("the TSA certificate is not for timestamping (extendedKeyUsage).",
                "타임스탬프용 인증서가 아닙니다(확장 키 용도).")
    try:
        ku = cert.extensions.get_extension_for_class(x509.KeyUsage).value
        if not (ku.digital_signature or ku.content_commitment):
            return ("the TSA certificate's key usage does not allow signing.",
                    "타임스탬프 인증서의 키 용도가 서명을 허용하지 않습니다.")
    except x509.ExtensionNotFound:
        pass
    if _unknown_critical(cert):
        return ("the TSA certificate has an unrecognised critical extension.",
                "타임스탬프 인증서에 알 수 없는 필수 확장이 있습니다.")
    return None


def _ca_profile(ca: x509.Certificate, depth: int) -> Problem | None:
    try:
        bc = ca.extensions.get_extension_for_class(x509.BasicConstraints).value
    except x509.ExtensionNotFound:
        return ("an issuing certificate is not a CA (no basicConstraints).",
                "발급자 인증서가 인증기관(CA) 인증서가 아닙니다(기본 제약 없음).")
    if not bc.ca:
        return ("an issuing certificate is not a CA.", "발급자 인증서가 인증기관(CA) 인증서가 아닙니다.")
    if bc.path_length is not None and depth > bc.path_length:
        return ("a CA's path length constraint is exceeded.", "인증기관의 경로 길이 제한을 넘었습니다.")
    try:
        ku = ca.extensions.get_extension_for_class(x509.KeyUsage).value
        if not ku.key_cert_sign:
            return ("an issuing CA's key usage does not allow certificate signing.",
                    "발급 인증기관의 키 용도가 인증서 서명을 허용하지 않습니다.")
    except x509.ExtensionNotFound:
        pass
    if _unknown_critical(ca):
        return ("an issuing CA certificate has an unrecognised critical extension.",
                "발급 인증기관의 인증서에 알 수 없는 필수 확장이 있습니다.")
    return None
