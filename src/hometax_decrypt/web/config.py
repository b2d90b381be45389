"""Settings of the HTTP service: the web part of the one settings object
(:mod:`hometax_decrypt.settings`, documented in docs/deployment.md). The same object configures
``make up`` (ops/stack.py), so nginx and the app servers always agree on limits."""

from __future__ import annotations

import hashlib
import hmac
import ipaddress
from dataclasses import dataclass, fields

from ..settings import Settings

MiB = 1024 * 1024
_D = Settings()


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
    # defaults: the settings' (one source); meanings in docs/deployment.md
    listen: str = _D.listen  # the address nginx listens on
    api_key_hashes: tuple[str, ...] = _D.api_key_hashes  # SHA-256 hex digests
    api_keys_disabled: bool = _D.api_keys_disabled
    max_body_bytes: int = _D.max_body_bytes  # nginx client_max_body_size too
    batch_max_files: int = _D.batch_max_files  # documents in one batch request
    batch_max_total_bytes: int = _D.batch_max_total_bytes  # inflated ZIP content
    zip_max_ratio: int = _D.zip_max_ratio  # inflated/compressed size of a ZIP and its entries
    export_max_files: int = _D.export_max_files  # data parts in one /export request
    # the time budget of one many-document request (/batch, /export), below the app server's
    # worker timeout (from_settings: Settings.effective_request_seconds), so that a slow batch
    # ends as ``timeout`` instead of a killed worker
    request_seconds: float = _D.request_seconds
    instance: str = _D.instance  # which app server instance, for logs

    @classmethod
    def from_settings(cls, settings: Settings) -> WebConfig:
        values = {f.name: getattr(settings, f.name) for f in fields(cls)}
        # the budget ends with a third of the app server's worker timeout to spare (one source:
        # Settings.effective_request_seconds)
        values["request_seconds"] = settings.effective_request_seconds
        return cls(**values)

    @classmethod
    def from_env(cls, environ=None) -> WebConfig:
        return cls.from_settings(Settings.from_env(environ))

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
            raise ValueError(
                f"listening on {self.listen} (beyond loopback) needs API keys: set "
                "HOMETAX_API_KEYS to SHA-256 digests of the keys, or "
                "HOMETAX_API_KEYS_DISABLED=1 to serve without keys"
            )

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
