"""The token's integrity (RFC 3161 / RFC 5652), in three concerns, each its own module:

- :mod:`.der`: a bounded DER scan before any parser sees hostile bytes (:class:`DerIndex`), and what
  small DER values mean (cached by their exact bytes);
- :mod:`.token`: the CMS SignedData and its TSTInfo, taken from that index by position, and the
  stamp a verification reads;
- :mod:`.signature`: the signer's certificate, the signed attributes and the signature; the
  imprint over the document's bytes.

Nothing here depends on time; validity at genTime is judged in :mod:`.trust` for each document. This
module is the façade :mod:`.check` and :mod:`.trust` use (and 0.1 callers imported).
"""

from __future__ import annotations

from .der import HASHES, MAX_TOKEN_CERTS, BoundedCache, DerIndex, clear_caches, der_index
from .signature import Signer, check_signature, imprint_matches, signer_of
from .token import Stamp, Token, parse_token, read_stamp, unsupported_imprint_hash

__all__ = [
    "HASHES",
    "MAX_TOKEN_CERTS",
    "BoundedCache",
    "DerIndex",
    "clear_caches",
    "der_index",
    "Signer",
    "check_signature",
    "imprint_matches",
    "signer_of",
    "Stamp",
    "Token",
    "parse_token",
    "read_stamp",
    "unsupported_imprint_hash",
]
