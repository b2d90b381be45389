"""What the CLI shows on a terminal: text with every control character escaped.

A file name comes from whoever made the file or the ZIP: an entry name can carry ``ESC[8m``
(conceal what follows), a carriage return or a line feed (overwrite a line, add fake table rows),
C1 controls (``U+009B`` is an 8-bit CSI) or a bidi override (``U+202E`` reverses a line as drawn).
Every line the CLI prints — the batch table and counts, warnings, errors — goes through
:func:`line`, and every other text it shows (the JSON of ``verify``) through :func:`shown` or
:func:`json_text`.

Escapes: C0 and DEL as ``\\x1b``, everything else that is not printable (C1, format characters
such as bidi controls and zero-width ones, line and paragraph separators, undecodable bytes of a
file name (surrogates), unassigned code points) as ``\\u202e`` or ``\\U000e0001``. Ordinary spaces
of any width stay. Escaping is idempotent (its output holds printable characters only), so text
escaped twice reads the same; a name that really holds a backslash followed by ``x1b`` reads like
one holding ESC — what matters is that neither controls the terminal.

The exported files (JSON, CSV, XLSX, the extracted XML) are data, not terminal output: their
content is written as it is.
"""

from __future__ import annotations

import json
import unicodedata
from typing import IO, Any


def _safe(ch: str) -> bool:
    return ch.isprintable() or unicodedata.category(ch) == "Zs"


def _escape(ch: str) -> str:
    n = ord(ch)
    if n < 0x20 or n == 0x7F:
        return f"\\x{n:02x}"
    if n <= 0xFFFF:
        return f"\\u{n:04x}"
    return f"\\U{n:08x}"


def shown(text: str) -> str:
    """``text`` with every character that could control or reorder a terminal escaped."""
    if text.isprintable():  # the usual case, in one pass in C
        return text
    return "".join(ch if _safe(ch) else _escape(ch) for ch in text)


def line(stream: IO[str], text: str) -> None:
    """Write ``text`` as one line of ``stream`` (escaped: it cannot become two lines)."""
    stream.write(shown(text) + "\n")


def _json_escape(ch: str) -> str:
    n = ord(ch)
    if n <= 0xFFFF:
        return f"\\u{n:04x}"
    n -= 0x10000  # outside the BMP: JSON writes a surrogate pair
    return f"\\u{0xD800 + (n >> 10):04x}\\u{0xDC00 + (n & 0x3FF):04x}"


def json_text(value: Any) -> str:
    """``value`` as indented JSON (Korean as it is) in which every unsafe character is a JSON
    ``\\u`` escape: it parses back to exactly ``value``, and shows safely on a terminal."""
    text = json.dumps(value, ensure_ascii=False, indent=2)  # escapes C0 inside strings itself
    return "".join(ch if ch == "\n" or _safe(ch) else _json_escape(ch) for ch in text)
