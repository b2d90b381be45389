"""The run directory, held against other local users: ``make up`` uses a directory it created or one
that is provably its own, and never follows a symbolic link inside it.

A run directory somewhere shared (``/tmp/…``) could otherwise be made by another user beforehand,
who would then plant files in it: a TLS key that nginx serves, a pid that ``make down`` kills, a
symbolic link that the start-up follows as root (``metrics -> /etc`` emptied, a log file appended to
``/etc/…``). So:

* the run directory (and a log directory outside it) is created with mode 0700, or, when it exists,
  must be a real directory (not a symbolic link), owned by this user, and writable by nobody else;
  its parent must not let others rename it away (writable by others only with the sticky bit, as
  ``/tmp``); anything else is refused with one line (:class:`UnsafeDirectory`);
* every directory, file and socket path inside is handled without following symbolic links
  (``lstat``, ``O_NOFOLLOW``, ``dir_fd``); a symbolic link found where one of ours belongs is removed
  (only this user can have made it, the directory being ours) and the real thing made in its place;
* the modes are fixed here, and listed in docs/deployment.md ("The run directory").
"""

from __future__ import annotations

import os
import shutil
import stat
import tempfile
from pathlib import Path

from .. import errors
from ..document.source import open_regular


class UnsafeDirectory(Exception):
    """A directory ``make up`` will not use; the message is one line naming it and why."""


def _describe(st: os.stat_result) -> str:
    return f"owner uid {st.st_uid}, mode {stat.S_IMODE(st.st_mode):04o}"


def check_own_dir(path: Path) -> os.stat_result:
    """``path`` is a real directory of this user that no one else can write to; its stat. Raises
    :class:`UnsafeDirectory` (FileNotFoundError when it does not exist)."""
    st = os.lstat(path)
    if stat.S_ISLNK(st.st_mode):
        raise UnsafeDirectory(f"{path} is a symbolic link; refusing to use it (name a real directory)")
    if not stat.S_ISDIR(st.st_mode):
        raise UnsafeDirectory(f"{path} is not a directory; refusing to use it")
    if st.st_uid != os.geteuid():
        raise UnsafeDirectory(
            f"{path} belongs to another user ({_describe(st)}; this is uid {os.geteuid()}); refusing "
            "to use it: remove it or name a directory of your own"
        )
    if st.st_mode & (stat.S_IWGRP | stat.S_IWOTH):
        raise UnsafeDirectory(
            f"{path} is writable by other users ({_describe(st)}); refusing to use it: "
            "chmod go-w it after checking its contents, or remove it"
        )
    return st


def _check_parent(path: Path) -> None:
    """Nobody but this user (or root) can rename ``path`` away and put another in its place: its
    parent belongs to one of them and is writable by no one else, unless it has the sticky bit
    (``/tmp``: there only the owner of an entry can rename it)."""
    parent = path.parent
    st = os.stat(parent)
    if st.st_uid not in (os.geteuid(), 0):
        raise UnsafeDirectory(
            f"{parent} belongs to another user ({_describe(st)}), who could replace {path.name} in it; "
            "refusing to use it"
        )
    if st.st_mode & (stat.S_IWGRP | stat.S_IWOTH) and not st.st_mode & stat.S_ISVTX:
        raise UnsafeDirectory(
            f"{parent} is writable by other users without the sticky bit ({_describe(st)}): they "
            f"could replace {path.name} in it; refusing to use it"
        )


def secure_top_dir(path: Path, mode: int, gid: int | None = None, create: bool = True) -> bool:
    """Make ``path`` (the run directory, or a log directory elsewhere) safe to use: created with
    ``mode`` when missing (its parents as ``mkdir -p`` makes them), else checked by
    :func:`check_own_dir`; then given ``mode`` (and group ``gid``). False when it does not exist and
    ``create`` is off."""
    path = Path(path)
    try:
        os.lstat(path)
    except FileNotFoundError:
        if not create:
            return False
        path.parent.mkdir(parents=True, exist_ok=True)
        _check_parent(path)
        try:
            os.mkdir(path, 0o700)
        except FileExistsError:  # made by someone else meanwhile: checked below like any other
            pass
    _check_parent(path)
    st = check_own_dir(path)
    fd = os.open(path, os.O_RDONLY | os.O_DIRECTORY | os.O_NOFOLLOW)
    try:
        now = os.fstat(fd)
        if (now.st_dev, now.st_ino) != (st.st_dev, st.st_ino):
            raise UnsafeDirectory(f"{path} was replaced while being checked; refusing to use it")
        if gid is not None:
            os.fchown(fd, -1, gid)
        os.fchmod(fd, mode)
    finally:
        os.close(fd)
    return True


def remove_link(path: Path) -> None:
    """Remove ``path`` if it is a symbolic link."""
    try:
        if stat.S_ISLNK(os.lstat(path).st_mode):
            os.unlink(path)
    except FileNotFoundError:
        pass


def own_subdir(path: Path, mode: int, gid: int | None = None) -> None:
    """A directory of ours inside a checked one: made with ``mode``, a symbolic link in its place
    replaced, anything else refused; then given ``mode`` (and group ``gid``)."""
    remove_link(path)
    try:
        os.mkdir(path, 0o700)
    except FileExistsError:
        pass
    st = os.lstat(path)
    if not stat.S_ISDIR(st.st_mode) or st.st_uid != os.geteuid():
        raise UnsafeDirectory(f"{path} is not a directory of this user ({_describe(st)}); refusing to use it")
    fd = os.open(path, os.O_RDONLY | os.O_DIRECTORY | os.O_NOFOLLOW)
    try:
        if gid is not None:
            os.fchown(fd, -1, gid)
        os.fchmod(fd, mode)
    finally:
        os.close(fd)


def own_file(path: Path, mode: int) -> None:
    """A file others append to (a log): created with ``mode`` without following a symbolic link
    (one in its place is replaced), refused when it is not a regular file of this user; existing
    content kept; given ``mode``."""
    flags = os.O_WRONLY | os.O_APPEND | os.O_CREAT | os.O_NOFOLLOW | os.O_NONBLOCK | os.O_CLOEXEC
    remove_link(path)
    fd = os.open(path, flags, mode)
    try:
        st = os.fstat(fd)
        if not stat.S_ISREG(st.st_mode) or st.st_uid != os.geteuid():
            raise UnsafeDirectory(f"{path} is not a regular file of this user; refusing to use it")
        os.fchmod(fd, mode)
    finally:
        os.close(fd)


def write_file(path: Path, data: str | bytes, mode: int = 0o600) -> None:
    """Write ``path`` whole: a new file of mode ``mode`` renamed into place, so a symbolic link (or
    anything else) at ``path`` is replaced, never written through."""
    raw = data.encode() if isinstance(data, str) else data
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.")
    try:
        os.fchmod(fd, mode)
        with os.fdopen(fd, "wb") as fh:
            fh.write(raw)
        os.replace(tmp, path)
    except BaseException:
        try:
            os.unlink(tmp)
        except FileNotFoundError:
            pass
        raise


def remove(path: Path) -> None:
    """Remove the file, socket or symbolic link at ``path`` (never what a link points to)."""
    try:
        os.unlink(path)
    except FileNotFoundError:
        pass


def read_small(path: Path, limit: int = 4096) -> str | None:
    """The text of a small regular file (a pid file) read without following a symbolic link
    (:func:`hometax_decrypt.document.source.open_regular`, the one such check); None when it is
    missing, a link or anything else."""
    try:
        with open_regular(path) as fh:
            return fh.read(limit).decode("ascii", "replace")
    except (OSError, errors.UsageError):
        return None


def empty_dir(path: Path) -> None:
    """Remove everything inside the directory ``path`` (not a link: see :func:`own_subdir`) without
    following a symbolic link: a link inside is removed, not what it points to."""
    fd = os.open(path, os.O_RDONLY | os.O_DIRECTORY | os.O_NOFOLLOW)
    try:
        for entry in os.scandir(fd):
            if entry.is_dir(follow_symlinks=False):
                shutil.rmtree(entry.name, dir_fd=fd)
            else:
                os.unlink(entry.name, dir_fd=fd)
    finally:
        os.close(fd)
