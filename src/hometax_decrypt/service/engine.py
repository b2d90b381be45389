"""The one batch engine: many documents, each read, parsed and turned into its share of an output
format inside its own isolation, in this process or on a pool of worker processes.

The CLI's ``batch`` (:mod:`.bulk`, files/folders/ZIPs on disk, a pool) and the HTTP ``/batch``
(uploads in memory, in the request's process) both call :func:`run`. What a file yields is asked
of the format registry (``fmt.stream``, :mod:`hometax_decrypt.formats.streaming`), never decided by
a format's name: a new format of the registry is batched as soon as it is registered.

Every failure stays with its file (a code of the error table, or ``internal`` for a bug, whose text
is never shown). On a pool, a worker that dies (a crash in native code) breaks the pool: the files in
flight are run again one by one, each in a fresh process, so the crash costs one file.

Speed on a pool (bench/bulk.py): the adapter's job (limits, trust store, format) goes to each worker
once, when it starts (fork: inherited; spawn: pickled once), not with every file; files go out in
chunks (one hand-off for several files) and come back as compact tuples (the verification's status
and the format's piece: bytes or rows), never as pickled models; the parent only writes.
"""

from __future__ import annotations

import dataclasses
import io
import logging
import os
import signal
import sys
import threading
import zipfile
from collections import deque
from collections.abc import Callable, Generator, Iterable, Iterator
from concurrent.futures import ProcessPoolExecutor
from concurrent.futures.process import BrokenProcessPool
from dataclasses import dataclass

from .. import errors
from ..document.limits import Deadline, Limits, resolve
from ..document.source import open_regular, read_regular
from ..formats.streaming import stream_of
from ..records.serialize import document_to_dict
from ..timestamp import TrustStore
from . import archive
from .operations import FileResult, Result, limits_within, parse

__all__ = ["Source", "Job", "run", "work", "write", "batch", "combine"]

log = logging.getLogger(__name__)

CHUNK = 4  # files per hand-off to a worker
WINDOW_PER_JOB = 4  # chunks in flight per worker: keeps every worker busy, bounds memory


@dataclass(frozen=True)
class Source:
    """One file of a batch: in memory (``data``), on disk (``path``), or an entry (``member``) of
    the ZIP at ``path``. ``name``: how it is shown and looked up in a password map."""

    name: str
    data: bytes | None = None
    path: str | None = None
    # the entry as the archive's listing has it: a ZIP may hold two entries of the same name, and
    # each is read by its own entry (its offset in the archive), never by its name
    member: zipfile.ZipInfo | None = None
    # the exports' source_file (default ``name``): the path under the folder given, the ZIP entry's
    # name (under the ZIP's path in a folder given), or the file as given
    source: str | None = None
    note: str | None = None  # a remark shown on the file's line (a duplicate name in its ZIP)


@dataclass(frozen=True)
class Job:
    """What every file of a batch is done with. ``fmt``: a format of the registry whose piece each
    file yields (None: none); ``record``: also the per-document records JSON (the HTTP answer);
    ``keep_document``: the parsed document in the result (in this process only)."""

    fmt: object = None
    mask: bool = False
    limits: Limits | None = None
    trust: TrustStore | None = None
    record: bool = False
    keep_document: bool = False


# -- one file ---------------------------------------------------------------------------------------

_open_zip: dict = {}  # one process's last ZIP (and its file), kept open for its next entries


def _read(source: Source, limits: Limits) -> bytes:
    if source.data is not None:
        return source.data
    assert source.path is not None  # a Source is in memory, on disk, or in a ZIP on disk
    if source.member is None:
        return read_regular(source.path, limits)  # a regular file, never a link: at most the limit
    opened = _open_zip.get(source.path)
    if opened is None:
        for zf, fh in _open_zip.values():
            zf.close()
            fh.close()  # a ZipFile does not close a file object it was given
        _open_zip.clear()
        fh = open_regular(source.path)
        try:
            opened = _open_zip[source.path] = (archive.zip_file(fh), fh)
        except BaseException:
            fh.close()
            raise
    zf = opened[0]
    info = source.member  # the entry itself, as listed and checked: never looked up by its name
    if info.file_size > limits.max_input_bytes:
        raise errors.TooLarge("the file exceeds the input size limit")
    return archive.read_entry(zf, info)


def work(source: Source, job: Job, password: str | None, deadline: Deadline | None = None) -> FileResult:
    """Read, parse and turn one file into its piece and record; every failure becomes its result."""
    try:
        lim = resolve(job.limits)
        if deadline is not None:
            lim = limits_within(lim, deadline)
        data = _read(source, lim)
        result = parse(data, password, lim, trust=job.trust, name=source.source or source.name)
        del data
        doc = result.document
        budget = deadline or Deadline(lim.max_seconds)
        piece = stream_of(job.fmt).piece(doc, job.mask, budget) if job.fmt is not None else None
        record = document_to_dict(doc, mask=job.mask, deadline=budget) if job.record else None
        if not job.keep_document:
            result = Result(verification=result.verification)
        return FileResult(source.name, result=result, record=record, piece=piece)
    except errors.HometaxError as exc:
        return FileResult(source.name, error=exc)
    except OSError:  # the file went away or cannot be read
        return FileResult(source.name, error=errors.UsageError("cannot read the file"))
    except Exception as exc:  # a bug must not cost the other files their results
        log.error("batch entry failed: %s", type(exc).__name__)
        return FileResult(source.name, internal=True)


# -- in a worker process ----------------------------------------------------------------------------

_JOB: Job | None = None


def _start_worker(job: Job, parent: int | None = None) -> None:
    global _JOB
    _JOB = job
    # A worker ends with its run: SIGTERM and SIGHUP end it at once (the adapter's handlers, inherited
    # on fork, are the parent's business), and where the platform can say so, the parent's death
    # ends it too (a SIGKILL or an OOM kill of the parent leaves no worker behind).
    for name in ("SIGTERM", "SIGHUP"):
        signum = getattr(signal, name, None)
        if signum is not None:
            signal.signal(signum, signal.SIG_DFL)
    if parent is not None:
        _die_with_parent(parent)
    from ..document.setup import configure_process

    configure_process(job.limits)


PR_SET_PDEATHSIG = 1  # linux/prctl.h


def _die_with_parent(parent: int) -> None:
    """Linux: the kernel kills this process when its parent exits (prctl PR_SET_PDEATHSIG)."""
    if not sys.platform.startswith("linux"):
        return
    import ctypes

    try:
        libc = ctypes.CDLL(None, use_errno=True)
        libc.prctl(PR_SET_PDEATHSIG, int(signal.SIGTERM), 0, 0, 0)
    except (OSError, AttributeError):
        return
    if os.getppid() != parent:  # the parent died before the request took effect
        os._exit(1)


def _compact(r: FileResult) -> tuple:
    """What goes back to the parent: plain values (an exception does not pickle its detail)."""
    if r.result is not None:
        return (r.name, True, r.result.verification, r.piece, r.record)
    if r.error is None:  # internal
        return (r.name, False, None, None, None)
    return (r.name, False, r.error.code, r.error.detail, None)


def _expand(t: tuple) -> FileResult:
    name, ok, a, b, record = t
    if ok:
        return FileResult(name, result=Result(verification=a), piece=b, record=record)
    if a is None:
        return FileResult(name, internal=True)
    return FileResult(name, error=errors.BY_CODE[a](b))


def _work_chunk(chunk: list[tuple[Source, str | None]], worker: Callable | None = None) -> list[tuple]:
    fn = worker or work
    assert _JOB is not None, "the pool's initializer sets the job"
    return [_compact(fn(source, _JOB, password)) for source, password in chunk]


# -- the run ----------------------------------------------------------------------------------------


def run(
    sources: Iterable[Source | FileResult],
    password_for: Callable[[str], str | None],
    job: Job,
    jobs: int = 0,
    deadline: Deadline | None = None,
    worker: Callable | None = None,
) -> Generator[FileResult, None, None]:
    """Each source's :class:`FileResult`, in order. ``jobs=0``: in this process, one at a time;
    ``jobs >= 1``: on that many worker processes. A :class:`FileResult` among the sources (a path
    that failed before any reading) is passed through in its place. ``deadline``: one budget for
    the whole batch (in this process: each file gets what is left of it). ``worker``: the per-file
    function (tests; module-level, as it is sent to the workers)."""
    if jobs <= 0:
        for s in sources:
            yield s if isinstance(s, FileResult) else (worker or work)(s, job, password_for(s.name), deadline)
        return
    yield from _pooled(sources, password_for, job, jobs, worker)


def _pool(job: Job, jobs: int) -> ProcessPoolExecutor:
    """Worker processes started the platform's way (Linux: fork, the library already imported and
    the job inherited; Windows: spawn, the job pickled once per worker, not once per file).
    Started from the main thread, they die with this process (the kernel ties a worker to the
    thread that started it, and only the main thread lives as long as the process)."""
    parent = os.getpid() if threading.current_thread() is threading.main_thread() else None
    return ProcessPoolExecutor(max_workers=jobs, initializer=_start_worker, initargs=(job, parent))


def _stop(pool: ProcessPoolExecutor) -> None:
    """End a pool now, its work abandoned (the run was interrupted, terminated or its consumer
    went away): every worker killed, not waited for (a document can take its whole time limit)."""
    processes = getattr(pool, "_processes", None) or {}  # CPython's executor; 3.14 has terminate_workers()
    for process in list(processes.values()):
        try:
            process.kill()
        except (OSError, AttributeError, ValueError):
            pass
    pool.shutdown(wait=True, cancel_futures=True)


def _chunks(sources, password_for) -> Iterator[FileResult | list]:
    """The sources in hand-offs of up to CHUNK files; a FileResult alone, in its place."""
    chunk: list = []
    for s in sources:
        if isinstance(s, FileResult):
            if chunk:
                yield chunk
                chunk = []
            yield s
            continue
        chunk.append((s, password_for(s.name)))
        if len(chunk) == CHUNK:
            yield chunk
            chunk = []
    if chunk:
        yield chunk


def _pooled(sources, password_for, job: Job, jobs: int, worker) -> Iterator[FileResult]:
    window: deque = deque()
    it = _chunks(sources, password_for)
    pool = _pool(job, jobs)
    finished = False
    try:
        while True:
            while len(window) < jobs * WINDOW_PER_JOB:
                item = next(it, None)
                if item is None:
                    break
                if isinstance(item, FileResult):
                    window.append((None, item))
                else:
                    window.append((item, pool.submit(_work_chunk, item, worker)))
            if not window:
                finished = True
                return
            chunk, pending = window.popleft()
            if isinstance(pending, FileResult):
                yield pending
                continue
            if isinstance(pending, list):  # results already known (after a broken pool)
                yield from pending
                continue
            try:
                done = pending.result()
            except BrokenProcessPool:
                # A worker died: this chunk and those in flight with it are run again, one file
                # at a time, each in a process of its own; only a file that kills its process
                # again fails.
                pool.shutdown(wait=True, cancel_futures=True)
                again = [(chunk, pending)] + list(window)
                window.clear()
                for c, p in again:
                    if isinstance(p, (FileResult, list)):
                        window.append((c, p))
                    elif p.done() and not p.cancelled() and p.exception() is None:
                        window.append((c, [_expand(t) for t in p.result()]))
                    else:
                        window.append((c, [_alone(s, pw, job, worker) for s, pw in c]))
                pool = _pool(job, jobs)
                continue
            for t in done:
                yield _expand(t)
    finally:
        if finished:
            pool.shutdown(wait=True, cancel_futures=True)
        else:  # an exception here or in the consumer (a signal, Ctrl-C), or the consumer left
            _stop(pool)


def _alone(source: Source, password: str | None, job: Job, worker) -> FileResult:
    pool = _pool(job, 1)
    try:
        result = _expand(pool.submit(_work_chunk, [(source, password)], worker).result()[0])
    except BrokenProcessPool:
        result = FileResult(source.name, internal=True)
    except BaseException:
        _stop(pool)
        raise
    pool.shutdown(wait=True)
    return result


# -- the output -------------------------------------------------------------------------------------


def write(
    fmt,
    results: Iterable[FileResult],
    fh,
    mask: bool = False,
    tmpdir: str | None = None,
    on_result: Callable[[FileResult], None] | None = None,
    deadline: Deadline | None = None,
) -> None:
    """The format's output of the files read, in their order, to ``fh``: each piece as it comes
    (memory: the pieces in flight). ``on_result``: called with every result (failed ones too).
    ``deadline``: a request's budget, checked while the end (the totals) is made; past it
    :class:`~hometax_decrypt.errors.Timeout` (none: the CLI's batch, which has no budget)."""
    stream = stream_of(fmt)
    # a stream registered before sinks took a deadline is still called the old way
    sink = stream.sink(fh, mask, tmpdir) if deadline is None else stream.sink(fh, mask, tmpdir, deadline)
    for r in results:
        if r.ok:
            sink.add(r.piece)
        if on_result is not None:
            on_result(dataclasses.replace(r, piece=None, record=None))
    sink.close()


# -- the library's entry points ---------------------------------------------------------------------


def batch(
    files: Iterable[tuple[str, bytes]],
    password_for: Callable[[str], str | None],
    limits: Limits | None = None,
    deadline: Deadline | None = None,
    *,
    fmt=None,
    mask: bool = False,
    record: bool = False,
    trust: TrustStore | None = None,
    jobs: int = 0,
) -> Iterator[FileResult]:
    """Parse every ``(name, bytes)`` file: in this process (``jobs=0``, each result keeps its
    document) or on ``jobs`` worker processes; a file that fails (an error of the table, or a bug)
    fails alone. ``deadline``: one budget for the whole batch (each document gets at most what is
    left of it). ``fmt``: each file's piece of that format is made inside its isolation
    (:func:`combine` writes them); ``record``: the per-document records JSON too."""
    job = Job(fmt, mask, resolve(limits), trust, record, keep_document=jobs <= 0)
    return run((Source(name, data=data) for name, data in files), password_for, job, jobs, deadline)


def combine(
    fmt, results: Iterable[FileResult], mask: bool = False, deadline: Deadline | None = None
) -> bytes:
    """The combined export of a batch's files read (made with ``batch(fmt=fmt)``): equal to the
    format's writer over their documents; the files that failed are left out. ``deadline``: the
    batch's budget, which the totals are made under too."""
    out = io.BytesIO()
    write(fmt, results, out, mask, deadline=deadline)
    return out.getvalue()
