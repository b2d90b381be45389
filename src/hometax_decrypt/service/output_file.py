"""Writing an output file that holds resident numbers: private, whole or not at all, never through
a planted link.

Every file the CLI writes (``parse -o``, ``extract -o``, ``deductions -o``, ``batch -o``) goes
through :func:`replacing` (or :func:`write`, its one-shot form):

- the content goes to a new file in the target's folder, mode 0600 whatever the umask: on Linux a
  file without a name (``O_TMPFILE``) until it is complete, so that a process killed outright
  (SIGKILL, the OOM killer) leaves nothing behind; elsewhere, or where the file system has no
  unnamed files, a hidden temporary file (``.hometax-XXXXXXXX.part``, made by
  :func:`tempfile.mkstemp`: ``O_CREAT | O_EXCL | O_NOFOLLOW``). Complete, it is flushed to disk
  (``fsync``), given a temporary name (``linkat`` through ``/proc``; a copy where that is refused)
  and renamed over the target: a reader sees the old file or the whole new one, never a part;
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
import secrets
import shutil
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


_PROC_FD = "/proc/self/fd"


def _new_file(folder: str) -> tuple[int, str | None]:
    """A new file in ``folder`` readable by its owner alone, and its name: ``None`` for a Linux
    file without a name (O_TMPFILE), else a hidden temporary name."""
    flag = getattr(os, "O_TMPFILE", 0)
    if flag and os.path.isdir(_PROC_FD):
        try:
            return os.open(folder, flag | os.O_RDWR, 0o600), None
        except OSError:  # EOPNOTSUPP: the file system has no unnamed files
            pass
    return tempfile.mkstemp(prefix=PREFIX, suffix=SUFFIX, dir=folder)


def _name(fh: BinaryIO, folder: str) -> str:
    """A temporary name in ``folder`` for the complete unnamed file ``fh``: linkat through /proc (a
    folder's descriptor given, so that the /proc link is followed: plain link() refuses it); where
    that is refused, a copy in a named temporary file."""
    fd = fh.fileno()
    try:
        dir_fd = os.open(folder, os.O_RDONLY)
        try:
            for _ in range(100):
                name = f"{PREFIX}{secrets.token_hex(8)}{SUFFIX}"
                try:
                    os.link(f"{_PROC_FD}/{fd}", name, dst_dir_fd=dir_fd, follow_symlinks=True)
                    return os.path.join(folder, name)
                except FileExistsError:
                    continue
        finally:
            os.close(dir_fd)
    except OSError:
        pass
    try:
        copy_fd, copy = tempfile.mkstemp(prefix=PREFIX, suffix=SUFFIX, dir=folder)
    except OSError:
        raise _cannot_write() from None
    try:
        with os.fdopen(copy_fd, "wb") as out, open(os.dup(fd), "rb") as src:
            src.seek(0)
            shutil.copyfileobj(src, out)
            out.flush()
            os.fsync(out.fileno())
    except BaseException:
        os.unlink(copy)
        raise
    return copy


@contextlib.contextmanager
def replacing(path: str | os.PathLike) -> Iterator[BinaryIO]:
    """A binary file to write the new content of ``path`` into; at the end of the ``with`` block
    it replaces ``path`` (mode 0600), or, if the block raised, it is removed and ``path`` is left
    as it was. Errors of the file itself are the usage error "cannot write the output file"."""
    check_target(path)
    folder = os.path.dirname(os.path.abspath(path))
    try:
        fd, tmp = _new_file(folder)
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
            if tmp is None:
                tmp = _name(fh, folder)
        check_target(path)  # a folder or device put there meanwhile: refused, not replaced
        try:
            os.replace(tmp, path)
        except OSError:  # e.g. the file is open in Excel (Windows)
            raise _cannot_write() from None
    except BaseException:
        if tmp is not None:
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
