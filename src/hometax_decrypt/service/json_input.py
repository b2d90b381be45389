"""JSON that a user hands in (a lines file, facts, a password map, claimed statuses): an object (or
an array) or a refusal from the error table, never a traceback. ``json.loads`` recurses into
``[[[[…`` until ``RecursionError``, and undecodable bytes raise ``UnicodeDecodeError``: both become
the caller's error, as bad JSON does."""

from __future__ import annotations

import json
from collections.abc import Callable

from .. import errors


def _json_value(
    raw: str | bytes,
    kind: type,
    error: Callable[[str], errors.HometaxError],
    not_shape: str,
    not_json: str | None,
):
    not_json = not_json or not_shape
    try:
        text = raw.decode("utf-8-sig") if isinstance(raw, bytes) else raw
    except UnicodeDecodeError:
        raise error(not_json) from None
    # another shape is refused before parsing
    if not text.lstrip().startswith("{" if kind is dict else "["):
        raise error(not_shape)
    try:
        value = json.loads(text)
    except (ValueError, RecursionError):
        raise error(not_json) from None
    if not isinstance(value, kind):
        raise error(not_shape)
    return value


def json_object(
    raw: str | bytes,
    error: Callable[[str], errors.HometaxError],
    not_object: str,
    not_json: str | None = None,
) -> dict:
    """``raw`` (UTF-8 bytes, a BOM allowed, or text) as a JSON object; otherwise ``error(detail)``
    with ``not_object`` (not an object) or ``not_json`` (not JSON at all; default ``not_object``).
    The details are the caller's fixed phrases: never the content, which may be personal data."""
    return _json_value(raw, dict, error, not_object, not_json)


def json_array(
    raw: str | bytes,
    error: Callable[[str], errors.HometaxError],
    not_array: str,
    not_json: str | None = None,
) -> list:
    """:func:`json_object` for a JSON array."""
    return _json_value(raw, list, error, not_array, not_json)
