"""JSON that a user hands in (a lines file, facts, a password map): an object or a refusal from the
error table, never a traceback. ``json.loads`` recurses into ``[[[[…`` until ``RecursionError``, and
undecodable bytes raise ``UnicodeDecodeError``: both become the caller's error, as bad JSON does."""

from __future__ import annotations

import json
from collections.abc import Callable

from .. import errors


def json_object(
    raw: str | bytes,
    error: Callable[[str], errors.HometaxError],
    not_object: str,
    not_json: str | None = None,
) -> dict:
    """``raw`` (UTF-8 bytes, a BOM allowed, or text) as a JSON object; otherwise ``error(detail)``
    with ``not_object`` (not an object) or ``not_json`` (not JSON at all; default ``not_object``).
    The details are the caller's fixed phrases: never the content, which may be personal data."""
    not_json = not_json or not_object
    try:
        text = raw.decode("utf-8-sig") if isinstance(raw, bytes) else raw
    except UnicodeDecodeError:
        raise error(not_json) from None
    if not text.lstrip().startswith("{"):  # an array or a scalar is no object: refused before parsing
        raise error(not_object)
    try:
        value = json.loads(text)
    except (ValueError, RecursionError):
        raise error(not_json) from None
    if not isinstance(value, dict):
        raise error(not_object)
    return value
