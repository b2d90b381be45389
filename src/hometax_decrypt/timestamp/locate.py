"""Where the timestamp sits in the PDF (docs/format.md §3): the signature's ``/ByteRange`` and the
``/Contents <hex>`` string in its gap, read from the raw bytes without a PDF parser.

The NTS stamps after encryption and a signature's ``/Contents`` string is never encrypted, so the same
code serves plain and encrypted files.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from .result import BYTE_RANGE, TOKEN_PARSE_ERROR, Failure

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
        raise Unsigned(BYTE_RANGE, "The file carries no NTS timestamp (no signature /ByteRange).",
                       "국세청 타임스탬프가 없는 문서입니다.")
    m = _BYTE_RANGE.match(data, first)
    if not m:
        raise Failure(BYTE_RANGE, "The /ByteRange is not an array of four non-negative integers.",
                      "서명 범위(/ByteRange)의 형식이 올바르지 않습니다.")
    a, b, c, d = (int(x) for x in m.groups())
    if a != 0 or b <= 0 or c <= b + 1 or d <= 0:
        raise Failure(BYTE_RANGE, "The /ByteRange does not add up: it must start at 0 and leave one "
                                  "gap between its two segments.",
                      "서명 범위(/ByteRange)가 맞지 않습니다: 0에서 시작하고 두 구간 사이에 빈 곳이 "
                      "하나만 있어야 합니다.")
    if c + d > len(data):
        raise Failure(BYTE_RANGE, "The /ByteRange reaches past the end of the file.",
                      "서명 범위(/ByteRange)가 파일 끝을 넘어갑니다.")
    if data[b:b + 1] != b"<" or data[c - 1:c] != b">" or not _CONTENTS_KEY_BEFORE.search(
            data, max(0, b - 32), b):
        raise Failure(BYTE_RANGE, "The gap in the /ByteRange is not exactly the signature's "
                                  "/Contents <hex> string.",
                      "서명 범위에서 빠진 부분이 정확히 타임스탬프 자리(/Contents)가 아닙니다.")
    # The /ByteRange and the /Contents must belong to one dictionary: nothing that ends or starts an
    # object between them, and they sit close together.
    if m.start() < c and m.end() > b:
        raise Failure(BYTE_RANGE, "The /ByteRange overlaps the signature gap.",
                      "서명 범위(/ByteRange)가 타임스탬프 자리와 겹칩니다.")
    lo, hi = (m.end(), b) if m.end() <= b else (c, m.start())
    if hi - lo > MAX_DICT_SPAN or _OBJ_BOUNDARY.search(data, lo, hi):
        raise Failure(BYTE_RANGE, "The /ByteRange and the /Contents it points at are not in the same "
                                  "signature dictionary.",
                      "서명 범위와 타임스탬프가 같은 서명 정보에 들어 있지 않습니다.")
    return Location(b, c, d, c + d == len(data))


def token_bytes(data: bytes, loc: Location) -> bytes:
    """The decoded ``/Contents`` hex string (the token, then the NTS's zero padding)."""
    hex_len = loc.c - loc.b - 2
    if hex_len > 2 * MAX_TOKEN_BYTES:
        raise Failure(TOKEN_PARSE_ERROR, "The signature /Contents is larger than any timestamp token.",
                      "타임스탬프 자리가 어떤 타임스탬프 토큰보다도 큽니다.")
    not_hex = Failure(TOKEN_PARSE_ERROR, "The signature /Contents is not a hex string.",
                      "타임스탬프 자리의 값이 16진수 문자열이 아닙니다.")
    if hex_len % 2:
        raise not_hex
    try:
        raw = bytes.fromhex(data[loc.b + 1:loc.c - 1].decode("ascii"))
    except (UnicodeDecodeError, ValueError):
        raise not_hex from None
    if 2 * len(raw) != hex_len:  # fromhex skips whitespace; the NTS writes none
        raise not_hex
    return raw
