"""``python -m hometax_decrypt.web.keys [KEY]``: print the SHA-256 digest to put in HOMETAX_API_KEYS.

Without KEY a new random key is made and printed with its digest; give the key to the client and keep
only the digest in the server's configuration."""

from __future__ import annotations

import secrets
import sys

from .config import hash_key


def main(argv: list[str] | None = None) -> int:
    args = sys.argv[1:] if argv is None else argv
    if args:
        print(hash_key(args[0]))
    else:
        key = secrets.token_urlsafe(32)
        print(f"key:    {key}\nsha256: {hash_key(key)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
