"""Giving memory back after a request that grew the worker.

The app servers run with glibc's malloc tuned to keep freed heap (MALLOC_TRIM_THRESHOLD_ of
128 MiB: ops/stack.py, deploy/systemd), which saves page faults on every ordinary upload. A
hostile document within the limits (up to HOMETAX_MAX_OBJECTS objects, which qpdf holds as an xref
entry each) can grow a worker by tens of MiB that it would then keep until it is recycled. After the
answer has been sent, a worker whose resident memory grew past ``TRIM_GROWTH_BYTES`` over what it had
before its first request hands the free heap back to the system (``malloc_trim``)."""

from __future__ import annotations

import ctypes
import ctypes.util
import os

TRIM_GROWTH_BYTES = 32 * 1024 * 1024

_PAGE = os.sysconf("SC_PAGE_SIZE")
_baseline: int | None = None
_libc = None


def rss_bytes() -> int:
    """This process's resident memory, from /proc (a few microseconds)."""
    with open("/proc/self/statm", "rb") as fh:
        return int(fh.read().split()[1]) * _PAGE


def _malloc_trim() -> bool:
    global _libc
    if _libc is None:
        name = ctypes.util.find_library("c")
        try:
            _libc = ctypes.CDLL(name) if name else False
        except OSError:
            _libc = False
    if not _libc or not hasattr(_libc, "malloc_trim"):
        return False  # not glibc: nothing to do
    _libc.malloc_trim(0)
    return True


def note_baseline() -> None:
    """Called as a request starts: the first one records the worker's resident memory."""
    global _baseline
    if _baseline is None:
        try:
            _baseline = rss_bytes()
        except (OSError, ValueError, IndexError):
            _baseline = 0


def release_after_request() -> None:
    """Called when the answer has been sent (Response.call_on_close)."""
    try:
        now = rss_bytes()
    except (OSError, ValueError, IndexError):
        return
    if _baseline and now - _baseline > TRIM_GROWTH_BYTES:
        _malloc_trim()
