"""Opening a batch: a ZIP's entries with limits on count, total inflated size and compression ratio
(a ZIP bomb is refused before it is inflated), or the list of uploaded files. Every entry of a ZIP
that is not processed (a folder, macOS metadata, a hidden file) is reported with the reason.

Flask-free (the HTTP API's /batch and the CLI's ``batch`` both use it; moved here from web/batch.py).
``config``: anything with ``batch_max_files``, ``batch_max_total_bytes`` and ``zip_max_ratio`` (the
settings object, the web config, or the bulk command's :class:`hometax_decrypt.service.batch.ZipLimits`)."""

from __future__ import annotations

import io
import posixpath
import zipfile
from dataclasses import dataclass, field

from .. import errors


@dataclass
class Upload:
    name: str  # the client's file name (never logged)
    data: bytes


# Entries (and archives) smaller than this are not judged by their ratio: a tiny file may compress
# very well and costs nothing to inflate.
RATIO_FLOOR = 64 * 1024


# Why an entry is not processed: reason code -> English text (the code goes in the JSON answer).
SKIP_REASONS = {
    "folder": "a folder, not a file",
    "macos_metadata": "macOS metadata (__MACOSX/ or ._ file), not a document",
    "hidden": "a hidden file (its name starts with a dot)",
}


@dataclass
class ZipBatch:
    uploads: list[Upload]
    skipped: list[dict] = field(default_factory=list)  # {"file", "reason", "message"}


def entry_name(info: zipfile.ZipInfo) -> str:
    """The entry's name as its writer meant it. Without the UTF-8 flag (bit 11) zipfile reads the
    name as CP437; Korean Windows writes CP949 there (and some tools UTF-8 without the flag)."""
    if info.flag_bits & 0x800:
        return info.filename
    try:
        raw = info.filename.encode("cp437")
    except UnicodeEncodeError:
        return info.filename
    for encoding in ("utf-8", "cp949"):
        try:
            return raw.decode(encoding)
        except UnicodeDecodeError:
            continue
    return info.filename


def skip_reason(name: str) -> str | None:
    """Why the entry ``name`` is not a document to process, or None. Windows separators count as
    separators: ``..\\..\\win.pdf`` is the file win.pdf, not a hidden one."""
    path = name.replace("\\", "/")
    base = posixpath.basename(path)
    if path.endswith("/") or not base:
        return "folder"
    if path.startswith("__MACOSX/") or "/__MACOSX/" in path or base.startswith("._"):
        return "macos_metadata"
    if base.startswith("."):
        return "hidden"
    return None


def zip_file(source) -> zipfile.ZipFile:
    """The archive of ``source`` (bytes, a path or a binary file), or ``damaged``."""
    try:
        return zipfile.ZipFile(io.BytesIO(source) if isinstance(source, bytes) else source)
    except (zipfile.BadZipFile, zipfile.LargeZipFile, ValueError, OSError):
        raise errors.Damaged("the ZIP archive cannot be read") from None


def open_zip(data: bytes, config) -> ZipBatch:
    with zip_file(data) as zf:
        entries, skipped = checked_entries(zf, config)
        return ZipBatch([Upload(name, read_entry(zf, info)) for info, name in entries], skipped)


def checked_entries(zf: zipfile.ZipFile, config) -> tuple[list[tuple[zipfile.ZipInfo, str]], list[dict]]:
    """The archive's document entries with their names, once the limits allow inflating them all,
    and the entries skipped with the reason (nothing is inflated here)."""
    infos, skipped = [], []
    for info in zf.infolist():
        name = entry_name(info)
        reason = skip_reason(name)
        if reason is None:
            infos.append((info, name))
        else:
            skipped.append({"file": name, "reason": reason, "message": SKIP_REASONS[reason]})
    if len(infos) > config.batch_max_files:
        raise errors.TooLarge("too many files in the batch")
    total = compressed = 0
    for info, _ in infos:
        if info.flag_bits & 0x1:
            raise errors.UsageError("encrypted ZIP archives are not supported")
        ratio = info.file_size / max(info.compress_size, 1)
        if ratio > config.zip_max_ratio and info.file_size > RATIO_FLOOR:
            raise errors.TooLarge("a ZIP entry's compression ratio exceeds the limit")
        total += info.file_size
        compressed += info.compress_size
        if total > config.batch_max_total_bytes:
            raise errors.TooLarge("the batch's total size exceeds the limit")
    # The whole archive too: many small entries, each under the floor, add up like one big one.
    if total > RATIO_FLOOR and total / max(compressed, 1) > config.zip_max_ratio:
        raise errors.TooLarge("the ZIP archive's compression ratio exceeds the limit")
    return infos, skipped


def read_entry(zf: zipfile.ZipFile, info: zipfile.ZipInfo) -> bytes:
    try:
        with zf.open(info) as fh:  # inflates at most the declared size, checks the CRC
            content = fh.read(info.file_size + 1)
    except (zipfile.BadZipFile, NotImplementedError, ValueError, OSError, EOFError):
        raise errors.Damaged("a ZIP entry cannot be read") from None
    if len(content) > info.file_size:
        raise errors.TooLarge("a ZIP entry is larger than declared")
    return content


def check_files(uploads: list[Upload], config) -> None:
    if len(uploads) > config.batch_max_files:
        raise errors.TooLarge("too many files in the batch")
    if sum(len(u.data) for u in uploads) > config.batch_max_total_bytes:
        raise errors.TooLarge("the batch's total size exceeds the limit")


def password_for(name: str, default: str | None, mapping: dict[str, str]) -> str | None:
    if name in mapping:
        return mapping[name] or None
    base = posixpath.basename(name.replace("\\", "/"))
    if base in mapping:
        return mapping[base] or None
    return default
