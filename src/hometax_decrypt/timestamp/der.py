"""DER: a bounded scan of the token before any parser sees hostile bytes (:class:`DerIndex`), and
what small DER values mean (algorithm identifiers, attribute types, ESS certificate identifiers),
read by asn1crypto and cached by their exact bytes."""

from __future__ import annotations

import functools
import hashlib
import threading
from dataclasses import dataclass

from asn1crypto import algos, cms, tsp
from cryptography.hazmat.primitives import hashes

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
