"""Who may stamp: pinned TSA certificates, trust anchors, and the chain from a TSA certificate to an
anchor, judged at the document's genTime (RFC 3161 §2.3, RFC 5280 §6 in the subset a timestamp
chain needs).

Default trust, with no configuration: the pinned NTS TSA certificates (``data/trust/pinned.txt``) and
the public GPKI anchors shipped in ``data/trust/anchors/`` (GPKIRootCA1 and both issues of the issuing
CA CA131100001). That is what a verification without ``trust=`` uses; the library never reads the
environment by itself. An adapter builds the configured store once, at start, with
:meth:`TrustStore.from_env`: ``HOMETAX_TRUST_DIR`` (and ``--trust-dir``) add anchors,
``HOMETAX_TRUST_PINNED`` adds pins; ``HOMETAX_TRUST_REPLACE=1`` (``--trust-only-dir``) drops the
shipped pins and anchors so that only the configured ones count.

What a certificate is does not change with the document: the signature of each issuer over each
certificate and each certificate's profile are checked once per store and leaf certificate and
cached; validity periods are compared with every document's own genTime.
"""

from __future__ import annotations

import datetime as _dt
import functools
import os
import re
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path

from cryptography import x509
from cryptography.exceptions import InvalidSignature, UnsupportedAlgorithm
from cryptography.hazmat.primitives import hashes
from cryptography.x509.oid import ExtendedKeyUsageOID, ExtensionOID

from .. import errors
from ..settings import parse_env
from .cms import BoundedCache, Signer

DATA_DIR = Path(__file__).resolve().parent.parent / "data" / "trust"
PINNED_FILE = DATA_DIR / "pinned.txt"
ANCHORS_DIR = DATA_DIR / "anchors"
ENV_TRUST_DIR = "HOMETAX_TRUST_DIR"
ENV_TRUST_PINNED = "HOMETAX_TRUST_PINNED"
ENV_TRUST_REPLACE = "HOMETAX_TRUST_REPLACE"

MAX_PATH_LEN = 6  # certificates in a chain, leaf to anchor
MAX_PATHS = 16

Problem = str  # what a certificate fails: a key of verdicts.TSA_PROBLEMS


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
    _decisions: BoundedCache = field(default_factory=BoundedCache, init=False, repr=False, compare=False)

    def __post_init__(self):
        object.__setattr__(
            self, "_anchor_fps", frozenset(a.fingerprint(hashes.SHA256()) for a in self.anchors)
        )
        for a in self.anchors:
            self._by_subject.setdefault(a.subject, []).append(a)

    @classmethod
    def empty(cls) -> TrustStore:
        return cls()

    @classmethod
    def shipped(cls) -> TrustStore:
        """The shipped pins and GPKI anchors alone (what :meth:`default` gives without configuration)."""
        return cls(frozenset(load_pinned(PINNED_FILE)), _dedupe(load_anchor_dir(ANCHORS_DIR)))

    @classmethod
    def configured(
        cls,
        trust_dir: str | os.PathLike | None = None,
        pinned: Iterable[str] = (),
        replace: bool = False,
        extra_dir: str | os.PathLike | None = None,
    ) -> TrustStore:
        """The shipped pins and anchors (unless ``replace``), plus ``pinned`` (SHA-256 hex) and the
        anchors in ``trust_dir`` and ``extra_dir`` (PEM or DER files). With ``replace`` something
        must be configured."""
        pins = set(parse_fingerprints(",".join(pinned)))
        anchors: list[x509.Certificate] = []
        if not replace:
            shipped = _shipped()
            pins.update(shipped.pinned)
            anchors.extend(shipped.anchors)
        for d in (trust_dir, extra_dir):
            if d:
                anchors.extend(load_anchor_dir(d))
        if replace and not anchors and not pins:
            raise errors.UsageError("replacing the shipped trust needs a trust directory or pins")
        return cls(frozenset(pins), _dedupe(anchors))

    @classmethod
    def from_env(
        cls,
        environ: dict | None = None,
        extra_dir: str | os.PathLike | None = None,
        replace: bool | None = None,
    ) -> TrustStore:
        """:meth:`configured` from ``HOMETAX_TRUST_DIR``, ``HOMETAX_TRUST_PINNED`` and
        ``HOMETAX_TRUST_REPLACE`` of ``environ`` (default: the process environment; no other
        variable is read), for an adapter to call once at start. ``replace`` overrides the
        variable. A bad value is a usage error naming the variable."""
        st = _trust_env(environ)
        if st["trust_dir"] and not os.path.isdir(st["trust_dir"]):  # named: --trust-dir is another
            raise errors.UsageError("HOMETAX_TRUST_DIR: the trust directory does not exist")
        return cls.configured(
            st["trust_dir"],
            st["trust_pinned"],
            st["trust_replace"] if replace is None else replace,
            extra_dir,
        )

    @classmethod
    def default(
        cls,
        extra_dir: str | os.PathLike | None = None,
        environ: dict | None = None,
        replace: bool | None = None,
    ) -> TrustStore:
        """The 0.2 name of :meth:`from_env` (it reads the environment: call it where an adapter
        starts, not per document)."""
        return cls.from_env(environ, extra_dir=extra_dir, replace=replace)

    @classmethod
    def only(cls, directory: str | os.PathLike, environ: dict | None = None) -> TrustStore:
        """The anchors in ``directory`` and the pins of ``HOMETAX_TRUST_PINNED``, nothing shipped:
        ``--trust-only-dir``."""
        return cls.from_dir(directory, _trust_env(environ)["trust_pinned"])

    @classmethod
    def from_dir(cls, directory: str | os.PathLike, pinned: Iterable[str] = ()) -> TrustStore:
        """Anchors from ``directory`` only (and the given pins): no shipped defaults."""
        return cls(frozenset(parse_fingerprints(",".join(pinned))), _dedupe(load_anchor_dir(directory)))

    def __reduce__(self):
        """Pickled as its pins and the anchors' DER (a certificate object does not pickle): the
        batch engine sends the adapter's store to its worker processes once."""
        from cryptography.hazmat.primitives.serialization import Encoding

        return _rebuild, (self.pinned, tuple(a.public_bytes(Encoding.DER) for a in self.anchors))

    def is_anchor(self, cert: x509.Certificate) -> bool:
        return cert.fingerprint(hashes.SHA256()) in self._anchor_fps

    def issuers_of(self, cert: x509.Certificate) -> list[x509.Certificate]:
        return self._by_subject.get(cert.issuer, [])

    # -- the decision ------------------------------------------------------------------------------
    def evaluate(self, signer: Signer, when: _dt.datetime) -> Decision:
        """Is ``signer`` trusted at ``when``? A chain to an anchor first, then a pin."""
        plan = self._decisions.get(signer.fingerprint)
        if plan is None:
            try:
                plan = _Plan.of(signer, self)
            except ValueError:  # a certificate extension cryptography cannot parse
                return Decision("failed", None, "tsa_extensions_unreadable")
            self._decisions.put(signer.fingerprint, plan)
        return plan.decide(when)


@functools.lru_cache(maxsize=1)
def _shipped() -> TrustStore:
    return TrustStore.shipped()


def default_trust() -> TrustStore:
    """The store for verifications that name none: the shipped pins and anchors only (documented
    defaults; no environment is read here)."""
    return _shipped()


def _rebuild(pinned: frozenset[str], anchors_der: tuple[bytes, ...]) -> TrustStore:
    return TrustStore(pinned, tuple(x509.load_der_x509_certificate(d) for d in anchors_der))


def _trust_env(environ: dict | None) -> dict:
    """The three trust variables, parsed by the settings table; a bad value is a usage error."""
    try:
        return parse_env(("trust_dir", "trust_pinned", "trust_replace"), environ)
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
    reason: str | None  # why not trusted: a reason code of verdicts.VERDICTS


_NOT_VALID_LEAF: Problem = "leaf_not_valid"
_NOT_VALID_CA: Problem = "ca_not_valid"


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
    def of(cls, signer: Signer, store: TrustStore) -> _Plan:
        paths = []
        for path in _candidate_paths(signer.cert, store):
            steps = [
                _Step(
                    path[0].not_valid_before_utc,
                    path[0].not_valid_after_utc,
                    _NOT_VALID_LEAF,
                    _leaf_profile(path[0]),
                )
            ]
            for depth, ca in enumerate(path[1:]):  # depth = CA certificates between this one and the leaf
                steps.append(
                    _Step(
                        ca.not_valid_before_utc, ca.not_valid_after_utc, _NOT_VALID_CA, _ca_profile(ca, depth)
                    )
                )
            paths.append((tuple(steps), anchor_label(path[-1])))
        pinned = None
        if signer.fingerprint in store.pinned:
            pinned = (
                _Step(
                    signer.cert.not_valid_before_utc,
                    signer.cert.not_valid_after_utc,
                    _NOT_VALID_LEAF,
                    _leaf_profile(signer.cert),
                ),
            )
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
            return Decision("failed", None, f"tsa_failed_{problems[0]}")
        return Decision("unknown", None, "issuer_unknown")


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


_KNOWN_CRITICAL = {
    ExtensionOID.BASIC_CONSTRAINTS,
    ExtensionOID.KEY_USAGE,
    ExtensionOID.EXTENDED_KEY_USAGE,
    ExtensionOID.CERTIFICATE_POLICIES,
    ExtensionOID.POLICY_CONSTRAINTS,
    ExtensionOID.SUBJECT_ALTERNATIVE_NAME,
    ExtensionOID.INHIBIT_ANY_POLICY,
    ExtensionOID.POLICY_MAPPINGS,
}


def _unknown_critical(cert: x509.Certificate) -> bool:
    return any(e.critical and e.oid not in _KNOWN_CRITICAL for e in cert.extensions)


def _leaf_profile(cert: x509.Certificate) -> Problem | None:
    """RFC 3161 §2.3: the TSA certificate has a critical extendedKeyUsage with id-kp-timeStamping
    (its validity at genTime is the other half of a :class:`_Step`)."""
    try:
        eku = cert.extensions.get_extension_for_class(x509.ExtendedKeyUsage)
    except x509.ExtensionNotFound:
        return "leaf_no_eku"
    if ExtendedKeyUsageOID.TIME_STAMPING not in eku.value or not eku.critical:
        return "leaf_eku"
    try:
        ku = cert.extensions.get_extension_for_class(x509.KeyUsage).value
        if not (ku.digital_signature or ku.content_commitment):
            return "leaf_key_usage"
    except x509.ExtensionNotFound:
        pass
    if _unknown_critical(cert):
        return "leaf_unknown_critical"
    return None


def _ca_profile(ca: x509.Certificate, depth: int) -> Problem | None:
    try:
        bc = ca.extensions.get_extension_for_class(x509.BasicConstraints).value
    except x509.ExtensionNotFound:
        return "ca_no_basic_constraints"
    if not bc.ca:
        return "ca_not_ca"
    if bc.path_length is not None and depth > bc.path_length:
        return "ca_path_length"
    try:
        ku = ca.extensions.get_extension_for_class(x509.KeyUsage).value
        if not ku.key_cert_sign:
            return "ca_key_usage"
    except x509.ExtensionNotFound:
        pass
    if _unknown_critical(ca):
        return "ca_unknown_critical"
    return None
