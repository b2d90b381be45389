"""Settings of the HTTP service, from ``HOMETAX_*`` environment variables (documented defaults in
docs/deployment.md). The same variables configure ``make up`` (scripts/stack.py), so nginx and the app
servers always agree on limits."""

from __future__ import annotations

import hashlib
import hmac
import ipaddress
import os
from dataclasses import dataclass, field

MiB = 1024 * 1024


def _int(env, name: str, default: int) -> int:
    raw = env.get(name)
    return int(raw) if raw not in (None, "") else default


def _flag(env, name: str) -> bool:
    return (env.get(name) or "").strip().lower() in ("1", "true", "yes", "on")


def is_loopback(address: str) -> bool:
    """True for 127.0.0.0/8, ::1 and "localhost"; a wildcard (0.0.0.0, ::) is not loopback."""
    host = address.strip().strip("[]")
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False  # a host name: assume it is reachable from outside


def hash_key(key: str) -> str:
    """The SHA-256 hex digest stored in ``HOMETAX_API_KEYS`` for an API key."""
    return hashlib.sha256(key.encode("utf-8")).hexdigest()


@dataclass(frozen=True)
class WebConfig:
    listen: str = "127.0.0.1"  # the address nginx listens on (HOMETAX_LISTEN)
    api_key_hashes: tuple[str, ...] = ()  # HOMETAX_API_KEYS: SHA-256 hex digests, comma-separated
    api_keys_disabled: bool = False  # HOMETAX_API_KEYS_DISABLED=1
    max_body_bytes: int = 25 * MiB  # HOMETAX_MAX_BODY_BYTES (nginx client_max_body_size too)
    batch_max_files: int = 100  # HOMETAX_BATCH_MAX_FILES: documents in one batch request
    batch_max_total_bytes: int = 100 * MiB  # HOMETAX_BATCH_MAX_TOTAL_BYTES: inflated ZIP content
    zip_max_ratio: int = 50  # HOMETAX_ZIP_MAX_RATIO: inflated/compressed size of a ZIP and its entries
    export_max_files: int = 1000  # HOMETAX_EXPORT_MAX_FILES: data parts in one /export request
    # HOMETAX_REQUEST_SECONDS: the time budget of one many-document request (/batch, /export), below
    # the app server's worker timeout (HOMETAX_TIMEOUT, 30 s), so that a slow batch ends as too_large
    # instead of a killed worker
    request_seconds: float = 20.0
    instance: str = field(default="")  # HOMETAX_INSTANCE: which app server instance, for logs

    @classmethod
    def from_env(cls, environ=None) -> "WebConfig":
        env = os.environ if environ is None else environ
        keys = tuple(k.strip().lower() for k in (env.get("HOMETAX_API_KEYS") or "").split(",")
                     if k.strip())
        for k in keys:
            if len(k) != 64 or any(c not in "0123456789abcdef" for c in k):
                raise ValueError("HOMETAX_API_KEYS must hold SHA-256 hex digests "
                                 "(python -m hometax_decrypt.web.keys NEW-KEY)")
        return cls(
            listen=env.get("HOMETAX_LISTEN") or "127.0.0.1",
            api_key_hashes=keys,
            api_keys_disabled=_flag(env, "HOMETAX_API_KEYS_DISABLED"),
            max_body_bytes=_int(env, "HOMETAX_MAX_BODY_BYTES", 25 * MiB),
            batch_max_files=_int(env, "HOMETAX_BATCH_MAX_FILES", 100),
            batch_max_total_bytes=_int(env, "HOMETAX_BATCH_MAX_TOTAL_BYTES", 100 * MiB),
            zip_max_ratio=_int(env, "HOMETAX_ZIP_MAX_RATIO", 50),
            export_max_files=_int(env, "HOMETAX_EXPORT_MAX_FILES", 1000),
            request_seconds=float(env.get("HOMETAX_REQUEST_SECONDS") or 20.0),
            instance=env.get("HOMETAX_INSTANCE") or "",
        )

    @property
    def keys_required(self) -> bool:
        """Keys are checked when some are configured, and required (fail closed: every protected
        request is refused) when listening beyond loopback, unless explicitly turned off."""
        if self.api_keys_disabled:
            return False
        return bool(self.api_key_hashes) or not is_loopback(self.listen)

    def check_startup(self) -> None:
        """Refuse a configuration that would serve beyond loopback with no API key."""
        if self.keys_required and not self.api_key_hashes:
            raise ValueError(f"listening on {self.listen} (beyond loopback) needs API keys: set "
                             "HOMETAX_API_KEYS to SHA-256 digests of the keys, or "
                             "HOMETAX_API_KEYS_DISABLED=1 to serve without keys")

    def key_ok(self, presented: str | None) -> bool:
        if not self.keys_required:
            return True
        if not presented:
            return False
        digest = hash_key(presented)
        ok = False
        for stored in self.api_key_hashes:  # no early exit: the time does not tell which matched
            ok |= hmac.compare_digest(digest, stored)
        return ok
