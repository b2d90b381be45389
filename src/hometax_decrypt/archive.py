"""Opening a batch: a ZIP's entries with limits on count, total inflated size and compression ratio
(a ZIP bomb is refused before it is inflated), or the list of uploaded files.

Flask-free (the HTTP API's /batch and the CLI's ``batch`` both use it; moved here from web/batch.py).
``config``: anything with ``batch_max_files``, ``batch_max_total_bytes`` and ``zip_max_ratio`` (the
settings object, or the web config)."""

from __future__ import annotations

import io
import posixpath
import zipfile
from dataclasses import dataclass

from . import errors


@dataclass
class Upload:
    name: str  # the client's file name (never logged)
    data: bytes


# Entries (and archives) smaller than this are not judged by their ratio: a tiny file may compress
# very well and costs nothing to inflate.
RATIO_FLOOR = 64 * 1024


def _skip(name: str) -> bool:
    base = posixpath.basename(name)
    return (name.endswith("/") or name.startswith("__MACOSX/") or base.startswith(".")
            or not base)


def zip_file(source) -> zipfile.ZipFile:
    """The archive of ``source`` (bytes, a path or a binary file), or ``damaged``."""
    try:
        return zipfile.ZipFile(io.BytesIO(source) if isinstance(source, bytes) else source)
    except (zipfile.BadZipFile, zipfile.LargeZipFile, ValueError, OSError):
        raise errors.Damaged("the ZIP archive cannot be read") from None


def open_zip(data: bytes, config) -> list[Upload]:
    with zip_file(data) as zf:
        return [Upload(info.filename, read_entry(zf, info)) for info in checked_entries(zf, config)]


def checked_entries(zf: zipfile.ZipFile, config) -> list[zipfile.ZipInfo]:
    """The archive's document entries, once the limits allow inflating them all."""
    infos = [i for i in zf.infolist() if not _skip(i.filename)]
    if len(infos) > config.batch_max_files:
        raise errors.TooLarge("too many files in the batch")
    total = compressed = 0
    for info in infos:
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
    return infos


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
