"""Read a document's bytes: the one module that reads input (bytes, a path or a binary file object).

Both the PDF reader (:mod:`hometax_decrypt.document.pdf`) and the timestamp verifier
(:mod:`hometax_decrypt.timestamp`) start here, so neither needs the other to read a file.
"""

from __future__ import annotations

import os
import stat
from typing import BinaryIO

from .. import errors
from .limits import Limits, resolve

Source = bytes | bytearray | memoryview | str | os.PathLike | BinaryIO


def read_source(source: Source, limits: Limits | None = None) -> bytes:
    """Return the document's bytes, refusing more than the input limit without reading it all."""
    lim = resolve(limits)
    if isinstance(source, (bytes, bytearray, memoryview)):
        data = bytes(source)
    elif isinstance(source, (str, os.PathLike)):
        try:
            with open(source, "rb") as fh:
                data = fh.read(lim.max_input_bytes + 1)
        except (FileNotFoundError, IsADirectoryError):  # the caller's mistake, not a damaged file
            raise errors.UsageError("no such file") from None
        except OSError:  # the path is the caller's own; the OS message may echo it
            raise errors.Damaged("cannot read the file") from None
    elif hasattr(source, "read"):
        data = source.read(lim.max_input_bytes + 1)
        if not isinstance(data, (bytes, bytearray)):
            raise errors.UsageError("the file object must be opened in binary mode")
        data = bytes(data)
    else:
        raise errors.UsageError("source must be bytes, a path or a binary file object")
    if len(data) > lim.max_input_bytes:
        raise errors.TooLarge("input exceeds the input size limit")
    return data


# Opening a file on disk that a batch found (a folder's files are not the caller's own choice): never
# blocking (a FIFO), never a device, never through a symbolic link unless asked; the checks are made
# on the open descriptor, so a file swapped for a link or a FIFO after it was listed is refused too.
# (getattr: Windows has neither flag; there a batch's listing decides, bulk.collect.)
_OPEN_FLAGS = (
    os.O_RDONLY | getattr(os, "O_BINARY", 0) | getattr(os, "O_NONBLOCK", 0) | getattr(os, "O_NOCTTY", 0)
)
_NOFOLLOW = getattr(os, "O_NOFOLLOW", 0)


def open_regular(path: str | os.PathLike, follow_symlinks: bool = False) -> BinaryIO:
    """``path`` open for reading if it is a regular file: a device, FIFO or socket is refused
    without waiting on it or reading it, and so is a symbolic link (its last component) unless
    ``follow_symlinks``. Refusals are ``usage`` errors with a fixed detail; a missing file is
    :class:`FileNotFoundError`."""
    try:
        fd = os.open(path, _OPEN_FLAGS | (0 if follow_symlinks else _NOFOLLOW))
    except OSError as exc:
        if os.path.islink(path) and not follow_symlinks:  # ELOOP (Linux), EMLINK (FreeBSD), …
            raise errors.UsageError("a symbolic link: not followed") from None
        raise exc from None
    try:
        if not stat.S_ISREG(os.fstat(fd).st_mode):
            raise errors.UsageError("not a regular file (a device, FIFO or socket)")
        return os.fdopen(fd, "rb")
    except BaseException:
        os.close(fd)
        raise


def read_regular(
    path: str | os.PathLike, limits: Limits | None = None, follow_symlinks: bool = False
) -> bytes:
    """The bytes of the regular file ``path`` (:func:`open_regular`), reading at most one byte over
    the input limit: a file that grows while it is read is refused like one that was too large."""
    lim = resolve(limits)
    with open_regular(path, follow_symlinks) as fh:
        if os.fstat(fh.fileno()).st_size > lim.max_input_bytes:
            raise errors.TooLarge("input exceeds the input size limit")
        data = fh.read(lim.max_input_bytes + 1)
    if len(data) > lim.max_input_bytes:
        raise errors.TooLarge("input exceeds the input size limit")
    return data
