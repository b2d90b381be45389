"""Writing an output file that holds resident numbers: private, whole or not at all, never through
a planted link.

Every file the CLI writes (``parse -o``, ``extract -o``, ``deductions -o``, ``batch -o``) goes
through :func:`replacing` (or :func:`write`, its one-shot form):

- the content goes to a new temporary file beside the target (``.hometax-XXXXXXXX.part``, made by
  :func:`tempfile.mkstemp`: ``O_CREAT | O_EXCL | O_NOFOLLOW``, mode 0600 whatever the umask), is
  flushed to disk (``fsync``) and renamed over the target: the result is mode 0600, and a reader
  sees the old file or the whole new one, never a part;
- on any failure (an error, Ctrl-C, a signal turned into an exception) the temporary file is
  removed and the target is left as it was;
- a target that is a symbolic link is refused (usage error): the link is neither followed (its
  target file is never written) nor replaced (``-o /dev/stdout`` as root must not turn a system
  link into a file). The rename never follows a link either, so a link planted after the check
  is replaced, not followed. A folder or another special file (a device, a FIFO) is refused too.
"""

from __future__ import annotations

import contextlib
import os
import stat
import tempfile
from collections.abc import Iterator
from typing import BinaryIO

from .. import errors

PREFIX, SUFFIX = ".hometax-", ".part"


def _cannot_write() -> errors.UsageError:
    return errors.UsageError("cannot write the output file")


def check_target(path: str | os.PathLike) -> None:
    """A usage error unless ``path`` is absent or a regular file (not followed if a link)."""
    try:
        mode = os.lstat(path).st_mode
    except FileNotFoundError:
        return
    except OSError:
        raise _cannot_write() from None
    if stat.S_ISLNK(mode):
        raise errors.UsageError("the output file is a symbolic link; name the file itself")
    if stat.S_ISDIR(mode):
        raise errors.UsageError("the output is a folder; name a file")
    if not stat.S_ISREG(mode):
        raise errors.UsageError("the output is not a regular file")


def _sync_folder(folder: str) -> None:
    """Make the rename durable (POSIX; a folder cannot be opened this way on Windows)."""
    if os.name != "posix":
        return
    try:
        fd = os.open(folder, os.O_RDONLY | getattr(os, "O_DIRECTORY", 0))
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)


@contextlib.contextmanager
def replacing(path: str | os.PathLike) -> Iterator[BinaryIO]:
    """A binary file to write the new content of ``path`` into; at the end of the ``with`` block
    it replaces ``path`` (mode 0600), or, if the block raised, it is removed and ``path`` is left
    as it was. Errors of the file itself are the usage error "cannot write the output file"."""
    check_target(path)
    folder = os.path.dirname(os.path.abspath(path))
    try:
        fd, tmp = tempfile.mkstemp(prefix=PREFIX, suffix=SUFFIX, dir=folder)
    except OSError:
        raise _cannot_write() from None
    try:
        with os.fdopen(fd, "wb") as fh:
            yield fh
            try:
                fh.flush()
                os.fsync(fh.fileno())
            except OSError:
                raise _cannot_write() from None
        check_target(path)  # a folder or device put there meanwhile: refused, not replaced
        try:
            os.replace(tmp, path)
        except OSError:  # e.g. the file is open in Excel (Windows)
            raise _cannot_write() from None
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(tmp)
        raise
    _sync_folder(folder)


def write(path: str | os.PathLike, data: bytes) -> None:
    """``data`` as the new content of ``path`` (see :func:`replacing`)."""
    with replacing(path) as fh:
        try:
            fh.write(data)
        except OSError:  # the disk is full
            raise _cannot_write() from None
