"""Where the timestamp sits in the PDF (docs/format.md §3): the signature's ``/ByteRange`` and the
``/Contents <hex>`` string in its gap, read from the raw bytes without a PDF parser.

The NTS stamps after encryption and a signature's ``/Contents`` string is never encrypted, so the same
code serves plain and encrypted files.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from .result import Failure, fail

MAX_TOKEN_BYTES = 256 * 1024  # the NTS reserves 8000 bytes and uses ~3200
MAX_DICT_SPAN = 64 * 1024  # /ByteRange and /Contents must sit this close, in one object

_BYTE_RANGE_NAME = b"/ByteRange"
_NAME_CHARS = frozenset(b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789#_.-")
_BYTE_RANGE = re.compile(rb"/ByteRange\s*\[\s*(\d{1,12})\s+(\d{1,12})\s+(\d{1,12})\s+(\d{1,12})\s*\]")
_CONTENTS_KEY_BEFORE = re.compile(rb"/Contents\s{0,16}\Z")
_OBJ_BOUNDARY = re.compile(rb"\bendobj\b|\bstream\b|\d+\s+\d+\s+obj\b")


@dataclass(frozen=True)
class Location:
    """The signed segments ``[0, b)`` and ``[c, c + d)`` and the hex string between them."""

    b: int
    c: int
    d: int
    covers_whole_file: bool  # c + d == len(file): nothing after the signed range

    @property
    def segments(self) -> tuple[tuple[int, int], tuple[int, int]]:
        return (0, self.b), (self.c, self.d)


def _next_name(data: bytes, name: bytes, start: int = 0) -> int:
    """The next place at or after ``start`` where the PDF name ``name`` stands (not as the start of a
    longer name), or -1. A plain substring search: a regular expression costs ten times as much."""
    end = len(name)
    i = data.find(name, start)
    while i != -1:
        if i + end >= len(data) or data[i + end] not in _NAME_CHARS:
            return i
        i = data.find(name, i + 1)
    return -1


def more_than_one_byte_range(data: bytes) -> bool:
    """Whether a second ``/ByteRange`` follows the first. Asked only for a file that is not authentic
    (see :func:`locate`): it scans the whole file, as long as a third of the hash takes."""
    first = _next_name(data, _BYTE_RANGE_NAME)
    return first != -1 and _next_name(data, _BYTE_RANGE_NAME, first + 1) != -1


class Unsigned(Failure):
    """The file has no signature at all (as opposed to a broken one)."""


def locate(data: bytes) -> Location:
    """The first signature ``/ByteRange`` and its gap, checked to be exactly one dictionary's
    ``/Contents <hex>``.

    An NTS document carries exactly one ``/ByteRange``. Whether a second one follows is not asked
    here: a file is authentic only when the range covers the whole file and its hash is the one the
    NTS signed, and then every byte outside the hex gap was signed by the NTS, a second
    ``/ByteRange`` included. The verifier asks :func:`more_than_one_byte_range` for every other
    verdict, so that its reason names the second one.
    """
    first = _next_name(data, _BYTE_RANGE_NAME)
    if first == -1:
        raise fail("unsigned", Unsigned)
    m = _BYTE_RANGE.match(data, first)
    if not m:
        raise fail("byte_range_malformed")
    a, b, c, d = (int(x) for x in m.groups())
    if a != 0 or b <= 0 or c <= b + 1 or d <= 0:
        raise fail("byte_range_inconsistent")
    if c + d > len(data):
        raise fail("byte_range_past_end")
    if (
        data[b : b + 1] != b"<"
        or data[c - 1 : c] != b">"
        or not _CONTENTS_KEY_BEFORE.search(data, max(0, b - 32), b)
    ):
        raise fail("byte_range_gap")
    # The /ByteRange and the /Contents must belong to one dictionary: nothing that ends or starts an
    # object between them, and they sit close together.
    if m.start() < c and m.end() > b:
        raise fail("byte_range_overlaps_gap")
    lo, hi = (m.end(), b) if m.end() <= b else (c, m.start())
    if hi - lo > MAX_DICT_SPAN or _OBJ_BOUNDARY.search(data, lo, hi):
        raise fail("byte_range_apart")
    return Location(b, c, d, c + d == len(data))


def token_bytes(data: bytes, loc: Location) -> bytes:
    """The decoded ``/Contents`` hex string (the token, then the NTS's zero padding)."""
    hex_len = loc.c - loc.b - 2
    if hex_len > 2 * MAX_TOKEN_BYTES:
        raise fail("contents_too_large")
    not_hex = fail("contents_not_hex")
    if hex_len % 2:
        raise not_hex
    try:
        raw = bytes.fromhex(data[loc.b + 1 : loc.c - 1].decode("ascii"))
    except (UnicodeDecodeError, ValueError):
        raise not_hex from None
    if 2 * len(raw) != hex_len:  # fromhex skips whitespace; the NTS writes none
        raise not_hex
    return raw
