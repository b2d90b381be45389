"""Open an NTS document and read its data parts (docs/format.md §1, §2, §5).

The data lives in the catalog's non-standard ``/CustomFiles`` array (streams named ``/XML`` and
``/SAM``) or, in the legacy layout, directly under the catalog keys ``/XML`` / ``/SAM`` with the
digit encoding. Streams are inflated here, not by pikepdf, so that a decompression bomb is stopped
while inflating, in memory bounded by the part limit.
"""

from __future__ import annotations

import io
import re
import zlib
from dataclasses import dataclass
from typing import Any

import pikepdf

from .. import errors
from ..timestamp import TrustStore, Verification, verify_bytes
from .limits import Deadline, Limits, resolve
from .source import Source, read_source  # read_source stays importable from here for callers

PARTS = ("XML", "SAM")
ENCODINGS = ("utf-8", "euc-kr")
_CHUNK = 64 * 1024


def normalize_part(part: str) -> str:
    name = (part or "").strip().upper()
    if name not in PARTS:
        raise errors.UsageError("part must be xml or sam")
    return name


def normalize_encoding(encoding: str) -> str:
    enc = (encoding or "").strip().lower().replace("_", "-")
    if enc in ("utf8", "utf-8"):
        return "utf-8"
    if enc in ("euc-kr", "euckr", "cp949", "ansi"):
        return "euc-kr"
    raise errors.UsageError("encoding must be utf-8 or euc-kr")


def _password_candidates(password: str | bytes) -> list[str | bytes]:
    """UTF-8 first (what pikepdf/qpdf do for str); then CP949 bytes, the Korean Windows code page,
    which is what a Korean password becomes in a writer that encodes with the system's ANSI page."""
    if isinstance(password, bytes):
        return [password]
    out: list[str | bytes] = [password]
    try:
        cp = password.encode("cp949")
        if cp != password.encode("utf-8"):
            out.append(cp)
    except UnicodeEncodeError:
        pass
    return out


_WS = rb"[ \t\r\n\f\x00]"
_STARTXREF = re.compile(rb"startxref" + _WS + rb"+([0-9]{1,12})")
_SUBSECTION = re.compile(_WS + rb"*([0-9]{1,12})" + _WS + rb"+([0-9]{1,12})" + _WS + rb"*(?=[0-9])")
_DICT_INT = {key: re.compile(rb"/" + key + _WS + rb"*([0-9]{1,12})") for key in (b"Size", b"Prev")}
_INDEX = re.compile(rb"/Index" + _WS + rb"*\[([0-9 \t\r\n\f\x00]{0,4096})\]")
_XREF_SECTIONS = 64  # incremental updates followed through /Prev; more is not a real document
_XREF_ENTRY = 20  # bytes per row of a classic xref table


def _startxref(data: bytes) -> int | None:
    found = list(_STARTXREF.finditer(data, max(0, len(data) - 4096)))
    return int(found[-1].group(1)) if found else None


def _xref_sections(data: bytes):
    """Each cross-reference section from ``startxref`` back through every ``/Prev``, the latest
    first: (the entries it lists, its trailer dictionary's text up to ``>>``, where that starts)."""
    offset = _startxref(data)
    if offset is None:
        return  # no xref to read: qpdf reconstructs it
    seen: set[int] = set()
    while offset not in seen and 0 <= offset < len(data) and len(seen) < _XREF_SECTIONS:
        seen.add(offset)
        head = data[offset : offset + 64].lstrip(b" \t\r\n\f\x00")
        entries = 0
        if head.startswith(b"xref"):
            pos = data.index(b"xref", offset) + 4
            while (m := _SUBSECTION.match(data, pos)) is not None:
                count = int(m.group(2))
                entries += count
                pos = m.end() + count * _XREF_ENTRY
            end = data.find(b">>", pos, pos + 8192)  # the trailer dictionary
            section, at = data[pos : end if end >= 0 else pos + 8192], pos
        else:  # an xref stream: its dictionary, up to the stream keyword
            end = data.find(b"stream", offset, offset + 8192)
            section, at = data[offset : end if end >= 0 else offset + 8192], offset
            index = _INDEX.search(section)
            if index:
                numbers = index.group(1).split()
                entries = sum(int(n) for n in numbers[1::2])
        yield entries, section, at
        prev = _DICT_INT[b"Prev"].search(section)
        if prev is None:
            break
        offset = int(prev.group(1))


def declared_objects(data: bytes) -> int:
    """How many objects the file's cross-reference sections declare, read from its bytes before
    qpdf builds anything: from ``startxref`` back through every ``/Prev``, the largest ``/Size`` and
    the entries each section lists (a classic table's subsections, an xref stream's ``/Index``,
    which covers the objects inside object streams). Costs a few small reads whatever the file's
    size. A file can lie low; qpdf's own count (:func:`_check_object_count`, on the first probe)
    stays the second gate."""
    most = 0
    for entries, section, _at in _xref_sections(data):
        size = _DICT_INT[b"Size"].search(section)
        most = max(most, entries, int(size.group(1)) if size else 0)
    return most  # 0: no xref to read; qpdf reconstructs it, and the second gate counts


_ENCRYPT_REF = re.compile(rb"/Encrypt" + _WS + rb"*([0-9]{1,10})" + _WS + rb"+([0-9]{1,5})" + _WS + rb"+R")
_ID = re.compile(rb"/ID" + _WS + rb"*\[")
_ID_MAX = 2048  # two strings of a few dozen bytes in every writer's files


def _id_array(data: bytes, start: int) -> bytes | None:
    """The text of the ``/ID [...]`` array that starts at ``start`` in ``data``, literal strings
    (with their escapes and balanced parentheses) read as strings; None if it does not end within
    ``_ID_MAX`` bytes."""
    depth, escaped = 0, False
    for i in range(start, min(len(data), start + _ID_MAX)):
        c = data[i]
        if escaped:
            escaped = False
        elif depth and c == 0x5C:  # backslash
            escaped = True
        elif c == 0x28:  # (
            depth += 1
        elif c == 0x29 and depth:  # )
            depth -= 1
        elif c == 0x5D and not depth:  # ]
            return data[start : i + 1]
    return None


def _encryption_ref(latest: bytes) -> tuple[int, int] | None:
    """The object the latest trailer names as ``/Encrypt`` (None: not encrypted)."""
    if b"/Encrypt" not in latest:
        return None
    ref = _ENCRYPT_REF.search(latest)
    if ref is None:  # a direct dictionary: no writer of NTS documents makes one
        raise errors.Damaged("the encryption dictionary cannot be located")
    return int(ref.group(1)), int(ref.group(2))


def _runs(numbers: list[int]):
    """(first, count) of each run of consecutive numbers in the sorted ``numbers``."""
    first = previous = None
    for n in numbers:
        if previous is not None and n == previous + 1:
            previous = n
            continue
        if first is not None and previous is not None:
            yield first, previous - first + 1
        first = previous = n
    if first is not None and previous is not None:
        yield first, previous - first + 1


def _probe(data: bytes, encrypted: bool, hidden: list[int] | None = None) -> bytes:
    """``data`` with an incremental update appended whose trailer names an empty catalog: qpdf reads
    the catalog while it opens a file, and builds every object of the object stream that holds it;
    opening this copy builds none of them, so that the object streams are counted
    (:func:`_check_object_streams`) before qpdf builds any. Only the catalog's place changes; every
    other object is the file's own. ``encrypted``: with the file's ``/Encrypt`` and ``/ID`` (for
    its key; qpdf reads the encryption dictionary while it opens the file), else without: a copy
    that opens without a password and reads nothing but the cross-reference sections. ``hidden``:
    objects the update places where they are not (the objects inside object streams): whatever
    asks for one of them while the object streams are read, such as an indirect /Length, finds no
    object instead of the whole object stream built, and a reference to one stays a reference (a
    free object would be dropped from its dictionary, unseen)."""
    _entries, latest, at = next(_xref_sections(data), (0, b"", 0))
    extra = b""
    ref = _encryption_ref(latest)
    if encrypted and ref is not None:
        extra += b" /Encrypt %d %d R" % ref
        ident = _ID.search(latest)
        if ident is not None:
            array = _id_array(data, at + ident.start())
            if array is None:  # the key depends on it: no copy, no open
                raise errors.Damaged("the file identifier cannot be read")
            extra += b" " + array
    start = _startxref(data)
    if start is not None:
        extra += b" /Prev %d" % start
    number = declared_objects(data) + 1
    tail = bytearray(b"\n")
    catalog = len(data) + len(tail)
    tail += b"%d 0 obj\n<< /Type /Catalog /Pages %d 0 R >>\nendobj\n" % (number, number + 1)
    pages = len(data) + len(tail)
    tail += b"%d 0 obj\n<< /Type /Pages /Kids [] /Count 0 >>\nendobj\n" % (number + 1)
    xref = len(data) + len(tail)
    tail += b"xref\n0 1\n0000000000 65535 f \n%d 2\n%010d 00000 n \n%010d 00000 n \n" % (
        number,
        catalog,
        pages,
    )
    row = b"%010d 00000 n \n" % pages  # at the pages object's offset: not there for qpdf
    for first, count in _runs(hidden or []):
        tail += b"%d %d\n" % (first, count) + row * count
    tail += b"trailer\n<< /Size %d /Root %d 0 R%s >>\nstartxref\n%d\n%%%%EOF\n" % (
        number + 2,
        number,
        extra,
        xref,
    )
    return data + bytes(tail)


def _check_declared_objects(data: bytes, limits: Limits) -> None:
    """The first gate on the object count, before qpdf reads the file (docs/format.md §1: an NTS
    document has a few dozen objects)."""
    if declared_objects(data) > limits.max_objects:
        raise errors.TooLarge("too many objects in the PDF")


# PDF's white-space and delimiter characters (ISO 32000-1, 7.2.2). Two tokens that follow each other
# are separated by at least one of them, or one of them is one, so a run of bytes holding n of them
# holds at most 2n + 1 tokens: whatever qpdf builds from the bytes (about 140 bytes of memory for
# each array element or dictionary value) is bounded by that count, whichever objects it parses, in
# whatever order, and however the file's cross-reference sections point into it.
_SYNTAX = b"\x00\t\n\x0c\r ()<>[]{}/%"
_NOT_SYNTAX = bytes(c for c in range(256) if c not in _SYNTAX)
_SYNTAX_CHUNK = 1024 * 1024


def syntax_count(data: bytes, stop: int | None = None) -> int:
    """How many of ``data``'s bytes are PDF white space or delimiters, counted a MiB at a time
    (~2 ms a MiB, memory a fraction of one), up to the first MiB that takes the count past ``stop``."""
    total = 0
    for start in range(0, len(data), _SYNTAX_CHUNK):
        total += len(data[start : start + _SYNTAX_CHUNK].translate(None, _NOT_SYNTAX))
        if stop is not None and total > stop:
            break
    return total


_TOO_MUCH_SYNTAX = "the PDF's structure is too large (too many syntax tokens)"


def _check_syntax(data: bytes, limits: Limits) -> int | None:
    """The gate on what qpdf can build, before it reads the file: one direct array of 20 million
    empty names (a 20 MB catalog in a file of three objects, which no object count sees) costs qpdf
    2.8 GiB and 15 s to build; an NTS document counts ~1000 a page. The count includes stream data
    (qpdf never parses it, but telling it apart needs a parser, and a file's xref can point into
    it): an overcount by ~7% of the binary bytes (~2 ms a MB). A file no longer than the bound
    cannot count more: not counted. Returns the count, or None where it was not needed."""
    if len(data) <= limits.max_pdf_tokens:
        return None
    count = syntax_count(data, stop=limits.max_pdf_tokens)
    if count > limits.max_pdf_tokens:
        raise errors.TooLarge(_TOO_MUCH_SYNTAX)
    return count


def _check_object_count(pdf: pikepdf.Pdf, limits: Limits) -> dict:
    """Objects as qpdf found them in the xref (a file's own /Size may lie). Returns the xref."""
    try:
        table = pdf.get_xref_table()
    except (pikepdf.PdfError, ValueError, RuntimeError):
        raise errors.Damaged("the cross-reference table cannot be read") from None
    if len(table) > limits.max_objects:
        raise errors.TooLarge("too many objects in the PDF")
    return table


def _check_object_streams(
    pdf: pikepdf.Pdf, table: dict, data: bytes, used: int | None, limits: Limits, deadline: Deadline
) -> None:
    """The syntax gate for objects inside object streams, whose bytes the file holds compressed (and
    encrypted): qpdf builds every object of an object stream as soon as one of them is asked for
    (the catalog, while it opens the file; all of them, for a re-save). ``pdf`` is the probe
    (:func:`_probe`), which asks for none. Each object stream is inflated here, piece by piece,
    all of them together within ``max_structure_bytes``, and its syntax
    counted with the file's own (``used``; None: not counted yet) against ``max_pdf_tokens``. Only
    Flate (what every writer of object streams uses) or no filter: qpdf's other decoders (LZW among
    them) have no memory bound."""
    numbers = sorted({entry.obj_stream_number for entry in table.values() if entry.type == 2})
    if not numbers:
        return
    budget = limits.max_pdf_tokens - (syntax_count(data) if used is None else used)
    inflated = limits.max_structure_bytes
    for number in numbers:
        deadline.check()
        try:
            # qpdf would build a whole other object stream to find this one in it
            if getattr(table.get((number, 0)), "type", None) != 1:
                raise errors.Damaged("an object stream is not where an object stream can be")
            stream = pdf.get_object(number, 0)
            if not isinstance(stream, pikepdf.Stream):
                raise errors.Damaged("an object stream is not a stream")
            found = stream.stream_dict.get("/Filter")
            filters = list(found) if isinstance(found, pikepdf.Array) else [] if found is None else [found]
            if len(filters) > 1 or any(str(f) not in ("/FlateDecode", "/Fl") for f in filters):
                raise errors.Damaged("unsupported object stream filter")
            if "/DecodeParms" in stream.stream_dict:
                raise errors.Damaged("unsupported object stream parameters")
            raw = bytes(stream.read_raw_bytes())  # decrypted, still compressed
            if pdf.get_warnings():  # it asked for an object the probe hides (_probe): one inside
                raise errors.Damaged("an object stream's dictionary refers into an object stream")
        except errors.HometaxError:
            raise
        except (pikepdf.PdfError, ValueError, RuntimeError, TypeError):
            raise errors.Damaged("an object stream cannot be read") from None
        pieces = iter([raw]) if not filters else inflate_chunks(raw, inflated, deadline, "object stream data")
        try:
            for piece in pieces:
                inflated -= len(piece)
                if inflated < 0:
                    raise errors.TooLarge("object stream data exceeds its size limit")
                budget -= syntax_count(piece)
                if budget < 0:
                    raise errors.TooLarge(_TOO_MUCH_SYNTAX)
        except zlib.error:
            raise errors.Damaged("an object stream is corrupt") from None


# Page attributes are never read here; pushing inherited ones down the page tree at open time costs
# ~1.6 ms of the ~1.8 ms open of a 24-form document (bench/run_all.py) and walks a tree that hostile
# input controls.
# And no recovery: qpdf rebuilds a cross-reference table it cannot read (at open, or later when an
# object is not at its offset) by scanning the file, and may then take objects from any
# cross-reference stream it finds, object streams nobody counted (_check_object_streams) among
# them. An NTS document's table is intact: a file that needs rebuilding is damaged.
_OPEN_OPTIONS: dict[str, Any] = dict(inherit_page_attributes=False, attempt_recovery=False)


def _open_pikepdf(data: bytes, password: str | bytes | None) -> pikepdf.Pdf:
    if b"%PDF-" not in data[:1024]:
        raise errors.Damaged("no PDF header")
    try:
        if password in (None, "", b""):
            try:
                return pikepdf.open(io.BytesIO(data), **_OPEN_OPTIONS)
            except pikepdf.PasswordError:
                raise errors.PasswordRequired() from None
        for candidate in _password_candidates(password):
            try:
                return pikepdf.open(io.BytesIO(data), password=candidate, **_OPEN_OPTIONS)
            except pikepdf.PasswordError:
                continue
        raise errors.WrongPassword()
    except errors.HometaxError:
        raise
    except MemoryError:
        raise errors.TooLarge("the PDF structure needs too much memory") from None
    except (pikepdf.PdfError, ValueError, RuntimeError, OSError):
        raise errors.Damaged("the PDF structure cannot be read") from None


# An NTS document's /CustomFiles holds its XML and SAM parts (docs/format.md §1); room for more.
_CUSTOM_FILES_MAX = 64


class NtsDocument:
    """An opened NTS PDF. Use as a context manager, or call :meth:`close`."""

    def __init__(
        self,
        data: bytes,
        pdf: pikepdf.Pdf,
        limits: Limits,
        deadline: Deadline | None = None,
        trust: TrustStore | None = None,
    ):
        self.data = data
        self.pdf = pdf
        self.limits = limits
        self.trust = trust  # None: the shipped pins and anchors
        self.deadline = deadline or Deadline(limits.max_seconds)
        self._verification: Verification | None = None

    # -- lifecycle ------------------------------------------------------------------------------
    def __enter__(self) -> NtsDocument:
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    def close(self) -> None:
        self.pdf.close()

    # -- facts ----------------------------------------------------------------------------------
    @property
    def encrypted(self) -> bool:
        return bool(self.pdf.is_encrypted)

    @property
    def layout(self) -> str:
        """``custom_files`` (current), ``legacy`` (catalog /XML) or ``none``."""
        root = self.pdf.Root
        if "/CustomFiles" in root:
            return "custom_files"
        if "/XML" in root or "/SAM" in root:
            return "legacy"
        return "none"

    # -- reading --------------------------------------------------------------------------------
    def _find_stream(self, name: str) -> tuple[pikepdf.Stream, bool]:
        """The stream holding part ``name`` and whether it uses the legacy digit encoding."""
        root = self.pdf.Root
        try:
            if "/CustomFiles" in root:
                files = root["/CustomFiles"]
                if not isinstance(files, pikepdf.Array):
                    raise errors.Damaged("/CustomFiles is not an array")
                if len(files) > _CUSTOM_FILES_MAX:  # each item costs a Python step: not 500 000 of them
                    raise errors.Damaged("/CustomFiles holds more entries than an NTS document")
                for item in files:
                    if not isinstance(item, pikepdf.Stream):
                        continue
                    item_name = item.stream_dict.get("/Name")
                    if isinstance(item_name, pikepdf.Name) and str(item_name)[1:].upper() == name:
                        return item, False
                raise errors.NotNtsDocument(f"no {name} part in /CustomFiles")
            legacy = root.get("/" + name)
            if isinstance(legacy, pikepdf.Stream):
                return legacy, True
        except errors.HometaxError:
            raise
        except (pikepdf.PdfError, ValueError, RuntimeError):
            raise errors.Damaged("the data part cannot be located") from None
        raise errors.NotNtsDocument("no NTS data in the document")

    def read_part(self, part: str = "xml") -> bytes:
        """The part's text as UTF-8 bytes (legacy digit encoding already decoded)."""
        name = normalize_part(part)
        stream, legacy = self._find_stream(name)
        raw = self._inflate(stream)
        if legacy:
            return decode_legacy(raw).encode("utf-8")
        return raw

    def extract(self, part: str = "xml", encoding: str = "utf-8") -> bytes:
        return convert(self.read_part(part), normalize_encoding(encoding))

    def _inflate(self, stream: pikepdf.Stream) -> bytes:
        try:
            found = stream.stream_dict.get("/Filter")
            if isinstance(found, pikepdf.Array):
                filters = list(found)
            elif found is None:
                filters = []
            else:
                filters = [found]
            if any(str(f) not in ("/FlateDecode", "/Fl") for f in filters) or len(filters) > 1:
                raise errors.Damaged("unsupported stream filter")
            if "/DecodeParms" in stream.stream_dict:
                parms = stream.stream_dict["/DecodeParms"]
                if isinstance(parms, pikepdf.Dictionary) and int(parms.get("/Predictor", 1)) > 1:
                    raise errors.Damaged("unsupported stream predictor")
            raw = stream.read_raw_bytes()  # decrypted, still compressed
        except errors.HometaxError:
            raise
        except (pikepdf.PdfError, ValueError, RuntimeError, TypeError):
            raise errors.Damaged("the data stream cannot be read") from None
        if not filters:
            if len(raw) > self.limits.max_part_bytes:
                raise errors.TooLarge("data part exceeds the part size limit")
            return bytes(raw)
        self.deadline.check()
        return inflate(bytes(raw), self.limits.max_part_bytes, self.deadline)

    # -- other outputs --------------------------------------------------------------------------
    def decrypted_pdf(self) -> bytes:
        """The PDF with its password removed (for archives). Not authentic any more: re-saved.

        Streams are written as they are stored (decrypted, never inflated or recompressed): a
        re-save that decodes streams turns a 240-byte stream with a doubled Flate filter into 60 MiB
        of work, and costs time no deadline can interrupt. So the save is linear in the file's size
        (bounded by the input limit), and the deadline is checked on both sides of it."""
        self.deadline.check()
        out = io.BytesIO()
        try:
            self.pdf.save(
                out,
                encryption=False,
                compress_streams=False,
                stream_decode_level=pikepdf.StreamDecodeLevel.none,
            )
        except MemoryError:
            raise errors.TooLarge("the re-saved PDF needs too much memory") from None
        except (pikepdf.PdfError, ValueError, RuntimeError):
            raise errors.Damaged("the document cannot be re-saved") from None
        self.deadline.check()
        return out.getvalue()

    def verification(self) -> Verification:
        """The timestamp verification of the file's bytes (computed once)."""
        if self._verification is None:
            self._verification = verify_bytes(self.data, trust=self.trust)
        return self._verification


def inflate_chunks(raw: bytes, max_out: int, deadline: Deadline | None = None, what: str = "data part"):
    """Yield the zlib-inflated output of ``raw`` in pieces, raising TooLarge as soon as the total
    would pass ``max_out`` bytes: memory stays bounded by one piece, whatever the stream claims.
    Returns (as the generator's value) whether the stream reached its end marker."""
    d = zlib.decompressobj()
    total = 0
    pos = 0
    while True:
        if d.unconsumed_tail:
            chunk = d.unconsumed_tail
        else:
            if pos >= len(raw):
                break
            chunk = raw[pos : pos + _CHUNK]
            pos += len(chunk)
        piece = d.decompress(chunk, max_out + 1 - total)
        total += len(piece)
        if total > max_out:
            raise errors.TooLarge(f"{what} exceeds its size limit")
        yield piece
        if d.eof:
            break
        if deadline is not None:
            deadline.check()
    return d.eof


def inflate(raw: bytes, max_out: int, deadline: Deadline | None = None) -> bytes:
    """zlib-inflate ``raw``, stopping as soon as the output would pass ``max_out`` bytes."""
    out = bytearray()
    pieces = inflate_chunks(raw, max_out, deadline)
    try:
        while True:
            out += next(pieces)
    except StopIteration as stop:
        complete = stop.value
    except zlib.error:
        raise errors.Damaged("the data stream is corrupt") from None
    if not complete:  # the Flate data ends before its end marker: cut short
        raise errors.Damaged("the data stream is truncated")
    return bytes(out)


_LEGACY_WS = re.compile(rb"\s+")


def decode_legacy(raw: bytes) -> str:
    """Legacy digit encoding: groups of one digit L followed by L digits, the code point."""
    s = _LEGACY_WS.sub(b"", raw)
    out = []
    i, n = 0, len(s)
    try:
        while i < n:
            width = s[i] - 48
            if not 1 <= width <= 9 or i + 1 + width > n:
                raise ValueError
            digits = s[i + 1 : i + 1 + width]
            if not digits.isdigit():
                raise ValueError
            point = int(digits)
            if 0xD800 <= point <= 0xDFFF:  # a lone surrogate is no character: no UTF-8 form
                raise ValueError
            out.append(chr(point))
            i += 1 + width
    except (ValueError, OverflowError):
        raise errors.Damaged("the legacy data is not digit-encoded") from None
    return "".join(out)


def encode_legacy(text: str) -> bytes:
    """The inverse of :func:`decode_legacy` (for building test documents)."""
    return "".join(f"{len(str(ord(c)))}{ord(c)}" for c in text).encode("ascii")


_XML_DECL_ENCODING = re.compile(r'\A(\s*<\?xml[^>]*?encoding\s*=\s*["\'])utf-8(["\'])', re.IGNORECASE)


def convert(utf8: bytes, encoding: str) -> bytes:
    """The NTS API's ``bAnsi`` switch. ``utf-8``: bytes as stored. ``euc-kr``: the text in the Korean
    ANSI code page (CP949, the superset of EUC-KR that the Windows API uses), with the XML
    declaration's ``encoding="utf-8"`` replaced by ``encoding="euc-kr"``. A character that has no
    CP949 form becomes ``?``, as the Windows and Java converters do."""
    if encoding == "utf-8":
        return utf8
    try:
        text = utf8.decode("utf-8")
    except UnicodeDecodeError:
        raise errors.Damaged("the data part is not valid UTF-8") from None
    text = _XML_DECL_ENCODING.sub(r"\1euc-kr\2", text, count=1)
    return text.encode("cp949", errors="replace")


# qpdf rebuilds a cross-reference table it cannot read (no startxref, an offset that points
# nowhere) by scanning the file, and then may take the catalog from any cross-reference stream it
# finds, and build the object stream that holds it while it opens the file: before any count. An
# NTS document's table is intact; such a file is refused, before qpdf opens it.
_REBUILT = "the cross-reference table is damaged"


def _check_before_qpdf_builds(
    data: bytes, password: str | bytes | None, used: int | None, lim: Limits, deadline: Deadline
) -> None:
    """What qpdf would build while it opens ``data`` (its catalog, its encryption dictionary and the
    object streams holding them), checked on probes (:func:`_probe`) that build none of it: the
    cross-reference table must not need rebuilding, the encryption dictionary must lie in the file
    itself (qpdf would build the object stream holding it before any count; the PDF standard
    forbids it there), and the object streams are counted. A file without object streams costs one
    probe (no password: it reads only the cross-reference sections); one with object streams a
    second, where the objects inside them are free, which reads and decrypts the object streams."""
    if _startxref(data) is None:
        raise errors.Damaged(_REBUILT)
    probe = _open_pikepdf(_probe(data, encrypted=False), None)
    try:
        if probe.get_warnings():
            raise errors.Damaged(_REBUILT)
        table = _check_object_count(probe, lim)
        ref = _encryption_ref(next(_xref_sections(data), (0, b"", 0))[1])
        if ref is not None and getattr(table.get(ref), "type", None) != 1:
            raise errors.Damaged("the encryption dictionary is not where it can be")
        hidden = sorted(number for (number, _gen), entry in table.items() if entry.type == 2)
        if not hidden:
            return
    finally:
        probe.close()
    probe = _open_pikepdf(_probe(data, ref is not None, hidden), password)
    try:
        _check_object_streams(probe, table, data, used, lim, deadline)
    finally:
        probe.close()


def open_document(
    source: Source,
    password: str | bytes | None = None,
    limits: Limits | None = None,
    trust: TrustStore | None = None,
) -> NtsDocument:
    """Open ``source`` (bytes, path or binary file object) with ``password``. ``limits``: default
    :data:`~hometax_decrypt.document.limits.DEFAULT`; ``trust``: the store its verification uses
    (default: the shipped pins and anchors). Neither default reads the environment."""
    lim = resolve(limits)
    deadline = Deadline(lim.max_seconds)
    data = read_source(source, lim)
    _check_declared_objects(data, lim)
    used = _check_syntax(data, lim)
    _check_before_qpdf_builds(data, password, used, lim, deadline)
    pdf = _open_pikepdf(data, password)  # its objects were counted on the probe: the same xref
    try:
        try:  # qpdf looks for the catalog only when asked; a file without one is damaged, say so here
            if not isinstance(pdf.Root, pikepdf.Dictionary):
                raise ValueError
        except (pikepdf.PdfError, ValueError, RuntimeError, AttributeError):
            raise errors.Damaged("the PDF has no catalog") from None
        deadline.check()
    except BaseException:
        pdf.close()
        raise
    return NtsDocument(data, pdf, lim, deadline, trust)


def extract(
    source: Source,
    password: str | bytes | None = None,
    part: str = "xml",
    encoding: str = "utf-8",
    limits: Limits | None = None,
) -> bytes:
    """The part's bytes exactly as the NTS API returns them."""
    name = normalize_part(part)
    enc = normalize_encoding(encoding)
    with open_document(source, password, limits) as doc:
        return doc.extract(name, enc)


@dataclass(frozen=True)
class Extraction:
    """A part's bytes together with the document's verification, for callers that must not get NTS
    data without knowing whether it is authentic."""

    data: bytes
    part: str
    encoding: str
    verification: Verification


def extract_verified(
    source: Source,
    password: str | bytes | None = None,
    part: str = "xml",
    encoding: str = "utf-8",
    limits: Limits | None = None,
    trust: TrustStore | None = None,
) -> Extraction:
    name = normalize_part(part)
    enc = normalize_encoding(encoding)
    with open_document(source, password, limits, trust) as doc:
        return Extraction(doc.extract(name, enc), name, enc, doc.verification())
