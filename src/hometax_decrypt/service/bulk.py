"""Bulk: many documents from files, folders and ZIPs, parsed on all cores, into one export file.

``hometax-decrypt batch`` is a thin adapter over :func:`run`. The work:

- :func:`collect` turns the paths into tasks: a file, every ``*.pdf``/``*.zip`` under a folder
  (recursively, hidden ones skipped) and every entry of a ZIP (checked first with the API's ZIP
  limits, :func:`hometax_decrypt.archive.checked_entries`: a ZIP bomb fails as one entry, its
  documents are never inflated). A task is a path (and a ZIP member): no document is read here.
- a pool of worker processes (``jobs``, all cores by default) reads, parses and serializes one
  document per task; every failure stays with its file (a code of the error table, or
  ``internal``). A worker that dies (a crash in native code) breaks the pool: the documents that
  were in flight are run again one by one, each in a fresh process, so the crash costs one file.
- the parent writes each document's output as it comes, in the order of the tasks, to a temporary
  file beside ``output`` that replaces it at the end. Memory is bounded by the tasks in flight
  (``jobs`` × 4 documents), whatever the number of files: CSV and NDJSON rows are written and
  forgotten; JSON documents too, XLSX rows go through XlsxWriter's ``constant_memory`` mode (each row
  flushed to a temporary file in the output's folder). What is kept per document is small: its line
  of the result table, and for JSON and XLSX its :func:`~hometax_decrypt.yesone.summary.projection`
  (person, form and amount of each item, for the totals that close the file).

The output is the same as the format's writer over all the documents read (a test proves it byte for
byte); the documents that failed are left out and listed in the :class:`Report`.
"""

from __future__ import annotations

import csv
import dataclasses
import io
import json
import os
import stat
import tempfile
from collections import Counter, deque
from concurrent.futures import ProcessPoolExecutor
from concurrent.futures.process import BrokenProcessPool
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, Iterable, Iterator

from . import archive, operations as service
from .. import errors, formats
from ..formats import export, ndjson
from ..document.limits import Deadline, Limits, resolve
from ..settings import Settings
from ..records import summary
from ..records.serialize import document_to_dict

# The exit status of a bulk run in which some file failed (the table of one failure's exit statuses
# is errors.py: 2 usage … 8 timeout; 9 is beyond it).
EXIT_SOME_FAILED = 9
WINDOW_PER_JOB = 4  # documents in flight per worker: keeps every worker busy, bounds memory
PASSWORD_FILE_MAX_BYTES = 8 * 1024 * 1024
DOCUMENT_SUFFIXES = (".pdf", ".zip")


# -- what to read ---------------------------------------------------------------------------------

@dataclass(frozen=True)
class Task:
    name: str  # how the file is shown and looked up in a password file
    path: str  # the file on disk
    member: str | None = None  # the entry of the ZIP at ``path``


@dataclass(frozen=True)
class ZipLimits:
    """The API's ZIP checks for a bulk run: the same ratio limit (the bomb check); no count or total
    size limit, since entries are read one at a time (each at most ``max_input_bytes``)."""

    zip_max_ratio: int
    batch_max_files: int = 10_000_000
    batch_max_total_bytes: int = 1 << 62

    @classmethod
    def from_settings(cls, settings: Settings) -> "ZipLimits":
        return cls(zip_max_ratio=settings.zip_max_ratio)


def _is_zip(path: Path) -> bool:
    if path.suffix.lower() == ".zip":
        return True
    try:
        with open(path, "rb") as fh:
            return fh.read(4) == b"PK\x03\x04"
    except OSError:
        return False


def collect(paths: Iterable[str], zip_limits: ZipLimits) -> Iterator[Task | service.FileResult]:
    """The tasks of ``paths`` in a stable order; a path or ZIP that cannot be used is a failed
    :class:`~hometax_decrypt.service.FileResult` in its place."""
    for raw in paths:
        p = Path(raw)
        if p.is_dir():
            found = []
            for root, dirs, files in os.walk(p):
                dirs[:] = sorted(d for d in dirs if not d.startswith("."))
                found += [Path(root) / f for f in files
                          if not f.startswith(".") and f.lower().endswith(DOCUMENT_SUFFIXES)]
            for f in sorted(found):
                yield from _file_tasks(f, str(f), zip_limits)
        elif p.is_file():
            yield from _file_tasks(p, raw, zip_limits)
        else:
            yield service.FileResult(raw, error=errors.UsageError("no such file or folder"))


def _file_tasks(path: Path, name: str, zip_limits: ZipLimits) -> Iterator[Task | service.FileResult]:
    if not _is_zip(path):
        yield Task(name, str(path))
        return
    try:
        with archive.zip_file(str(path)) as zf:
            entries, _skipped = archive.checked_entries(zf, zip_limits)  # folders, hidden files
    except errors.HometaxError as exc:
        yield service.FileResult(name, error=exc)
        return
    for info, entry in entries:  # the entry's name as written (CP949 from Korean Windows)
        yield Task(f"{name}/{entry}", str(path), info.filename)


# -- passwords ------------------------------------------------------------------------------------

def read_password_file(path: str) -> dict[str, str]:
    """A ``file,password`` CSV (UTF-8, or CP949 as Korean Excel saves it; an optional
    ``file,password`` header): file name (or path, as the table shows it) -> password. Errors name
    the line, never its content."""
    try:
        with open(path, "rb") as fh:
            raw = fh.read(PASSWORD_FILE_MAX_BYTES + 1)
    except OSError:
        raise errors.UsageError("cannot read the password file") from None
    if len(raw) > PASSWORD_FILE_MAX_BYTES:
        raise errors.UsageError("the password file is too large")
    for encoding in ("utf-8-sig", "cp949"):
        try:
            text = raw.decode(encoding)
            break
        except UnicodeDecodeError:
            continue
    else:
        raise errors.UsageError("the password file is neither UTF-8 nor CP949 text")
    mapping: dict[str, str] = {}
    try:
        for n, row in enumerate(csv.reader(io.StringIO(text, newline="")), start=1):
            if not row or all(not c.strip() for c in row):
                continue
            if n == 1 and [c.strip().lower() for c in row] == ["file", "password"]:
                continue
            if len(row) != 2 or not row[0].strip():
                raise errors.UsageError(f"password file line {n}: expected file,password")
            name = row[0].strip()
            if name in mapping and mapping[name] != row[1]:
                raise errors.UsageError(f"password file line {n}: a second, different password "
                                        "for the same file")
            mapping[name] = row[1]
    except csv.Error:
        raise errors.UsageError("the password file is not valid CSV") from None
    return mapping


def password_file_warning(path: str) -> str | None:
    """A warning when other users may read the password file (POSIX permissions; on Windows the
    folder's ACL decides, which this does not read)."""
    if os.name != "posix":
        return None
    try:
        mode = os.stat(path).st_mode
    except OSError:
        return None
    if mode & (stat.S_IRWXG | stat.S_IRWXO):
        return "the password file can be read by other users: chmod 600 it"
    return None


# -- one document, in a worker --------------------------------------------------------------------

@dataclass(frozen=True)
class Job:
    """What every worker needs to know besides its task and password (sent with each; small)."""

    fmt: str
    mask: bool
    limits: Limits


@dataclass(frozen=True)
class Outcome:
    """One file's line of the result table, and its share of the output (``chunk``: bytes for CSV,
    NDJSON and JSON, rows for XLSX; ``projection`` for the totals of JSON and XLSX)."""

    name: str
    code: str  # ok | a code of the error table | internal
    status: str | None = None  # the verification status: authentic, untrusted_issuer, ...
    chunk: Any = None  # its type follows the format: bytes, or XLSX rows
    projection: dict | None = None

    @property
    def ok(self) -> bool:
        return self.code == "ok"


_open_zip: dict = {}  # one worker's last ZIP, kept open for its next entries


def _read(task: Task, limits: Limits) -> bytes:
    if task.member is None:
        size = os.path.getsize(task.path)
        if size > limits.max_input_bytes:
            raise errors.TooLarge("the file exceeds the input size limit")
        with open(task.path, "rb") as fh:
            return fh.read()
    zf = _open_zip.get(task.path)
    if zf is None:
        for old in _open_zip.values():
            old.close()
        _open_zip.clear()
        zf = _open_zip[task.path] = archive.zip_file(task.path)
    info = zf.getinfo(task.member)
    if info.file_size > limits.max_input_bytes:
        raise errors.TooLarge("the file exceeds the input size limit")
    return archive.read_entry(zf, info)


def work(task: Task, job: Job, password: str | None) -> Outcome:
    """Read, parse and serialize one document; every failure becomes the file's outcome."""
    try:
        data = _read(task, job.limits)
        doc = service.parse(data, password, job.limits).document
        assert doc is not None  # parse() always returns the records
        del data
        deadline = Deadline(job.limits.max_seconds)
        chunk, projection = _serialize(doc, job, deadline)
        return Outcome(task.name, "ok", doc.verification.status if doc.verification else None,
                       chunk, projection)
    except errors.HometaxError as exc:
        return Outcome(task.name, exc.code)
    except OSError:
        return Outcome(task.name, "usage")  # the file went away or cannot be read
    except Exception:  # a bug must not cost the other files their results
        return Outcome(task.name, "internal")


COMPACT = (",", ":")  # as export.to_json writes: byte-equal output, streamed


def _serialize(doc, job: Job, deadline: Deadline):
    if job.fmt == "ndjson":
        return ndjson.to_ndjson([doc], mask=job.mask, deadline=deadline), None
    if job.fmt == "csv":
        buf = io.StringIO()
        csv.writer(buf, lineterminator="\r\n").writerows(export.csv_cells(doc, job.mask, deadline))
        return buf.getvalue().encode("utf-8"), None
    projection = summary.projection(doc, deadline)
    if job.fmt == "json":
        record = json.dumps(document_to_dict(doc, mask=job.mask, deadline=deadline),
                            ensure_ascii=False, separators=COMPACT)
        return record.encode("utf-8"), projection
    if job.fmt == "xlsx":
        return export.rows([doc], mask=job.mask, deadline=deadline), projection
    raise errors.UsageError("format must be one of " + ", ".join(formats.NAMES))


# -- the output -----------------------------------------------------------------------------------

class _Sink:
    """One format's file, written a document at a time, closed with what only the end knows."""

    def __init__(self, fmt: str, fh, mask: bool, tmpdir: str):
        self.fmt, self.fh, self.mask = fmt, fh, mask
        self.projections: list[dict] = []
        self.count = 0
        if fmt == "csv":
            buf = io.StringIO()
            csv.writer(buf, lineterminator="\r\n").writerow(export.COLUMNS)
            fh.write(buf.getvalue().encode("utf-8-sig"))
        elif fmt == "json":
            fh.write(b'{"format":"hometax-decrypt/records","version":1,"documents":[')
        elif fmt == "xlsx":
            self.book = export.XlsxBook(fh, tmpdir=tmpdir)

    def add(self, outcome: Outcome) -> None:
        if outcome.projection is not None:
            self.projections.append(outcome.projection)
        if self.fmt == "xlsx":
            self.book.add_rows(outcome.chunk)
        elif self.fmt == "json":
            self.fh.write((b"," if self.count else b"") + outcome.chunk)
        else:
            self.fh.write(outcome.chunk)
        self.count += 1

    def close(self) -> None:
        if self.fmt in ("json", "xlsx"):
            person_year = summary.totals_of(self.projections, mask=self.mask)
        if self.fmt == "xlsx":
            self.book.close(export.summary_table(person_year))
        elif self.fmt == "json":
            tail = {"totals": person_year, "year_totals": summary.by_year(person_year)}
            text = json.dumps(tail, ensure_ascii=False, separators=COMPACT)  # '{"totals":…}'
            self.fh.write(b"]," + text[1:].encode("utf-8") + b"\n")


# -- the run --------------------------------------------------------------------------------------

@dataclass
class Report:
    """The result table of a run: one line per file, in the order of the tasks."""

    files: list[Outcome] = field(default_factory=list)

    @property
    def by_code(self) -> Counter:
        return Counter(f.code for f in self.files)

    @property
    def by_status(self) -> Counter:
        """Authenticity of the files read (the verification's status)."""
        return Counter(f.status or "unverified" for f in self.files if f.ok)

    @property
    def all_ok(self) -> bool:
        return all(f.ok for f in self.files)

    @property
    def exit_code(self) -> int:
        """0: every file was read (whatever its authenticity, see ``by_status``); 9: some file
        failed (its code in the table); a run with no file at all is a usage error (2)."""
        if not self.files:
            return errors.SPECS["usage"].exit_code
        return 0 if self.all_ok else EXIT_SOME_FAILED

    def lines(self) -> list[dict]:
        return [{"file": f.name, "code": f.code, "status": f.status} for f in self.files]


def default_jobs() -> int:
    return max(1, os.cpu_count() or 1)


def run(paths: Iterable[str], fmt: str, output: str, *, jobs: int | None = None,
        password: str | None = None, passwords: dict[str, str] | None = None, mask: bool = False,
        limits: Limits | None = None, zip_limits: ZipLimits | None = None,
        on_total: Callable[[int], None] | None = None,
        on_file: Callable[[Outcome], None] | None = None,
        worker: Callable[[Task, Job, str | None], Outcome] = work) -> Report:
    """Read every document under ``paths`` into ``output`` in format ``fmt``; the per-file table.
    ``on_total(n)``: called once, when the files are counted; ``on_file(outcome)``: after each file
    (a progress bar). ``worker``: the per-task function (module-level: it is sent to the workers)."""
    fmt = formats.get(fmt).name
    jobs = max(1, jobs or default_jobs())
    zip_limits = zip_limits or ZipLimits.from_settings(Settings.from_env())
    items = list(collect(paths, zip_limits))  # paths and names only: no document is read here
    job = Job(fmt, mask, resolve(limits))
    passwords = dict(passwords or {})

    def password_for(task: Task) -> str | None:
        return archive.password_for(task.name, password, passwords)

    if on_total:
        on_total(len(items))
    out_path = Path(output).resolve()
    if out_path.is_dir():
        raise errors.UsageError("the output is a folder; name a file")
    folder = out_path.parent
    try:
        fd, tmp = tempfile.mkstemp(prefix=".hometax-", suffix=".part", dir=folder)
    except OSError:
        raise errors.UsageError("cannot write the output file") from None
    report = Report()
    try:
        with os.fdopen(fd, "wb") as fh:
            sink = _Sink(fmt, fh, mask, str(folder))
            for outcome in _outcomes(items, job, password_for, jobs, worker):
                if outcome.ok:
                    sink.add(outcome)
                report.files.append(dataclasses.replace(outcome, chunk=None, projection=None))
                if on_file:
                    on_file(report.files[-1])
            sink.close()
        try:
            os.replace(tmp, out_path)
        except OSError:  # e.g. the file is open in Excel (Windows), or is a folder now
            raise errors.UsageError("cannot write the output file") from None
    except BaseException:
        try:
            os.unlink(tmp)
        except OSError:
            pass
        raise
    return report


def _outcomes(items: list, job: Job, password_for, jobs: int, worker) -> Iterator[Outcome]:
    """Each item's outcome in order; at most ``jobs × WINDOW_PER_JOB`` in flight."""
    window: deque = deque()
    it = iter(items)
    pool = ProcessPoolExecutor(max_workers=jobs)
    try:
        while True:
            while len(window) < jobs * WINDOW_PER_JOB:
                item = next(it, None)
                if item is None:
                    break
                if isinstance(item, service.FileResult):
                    window.append((item.name, Outcome(item.name, item.code)))
                else:
                    window.append((item, pool.submit(worker, item, job, password_for(item))))
            if not window:
                return
            task, pending = window.popleft()
            if isinstance(pending, Outcome):
                yield pending
                continue
            try:
                yield pending.result()
            except BrokenProcessPool:
                # A worker died: this task and those in flight with it are run again, one by one,
                # each in a process of its own; only the one that kills its process again fails.
                pool.shutdown(wait=True, cancel_futures=True)
                again = [(task, pending)] + list(window)
                window.clear()
                for t, p in again:
                    if isinstance(p, Outcome) or (p.done() and not p.cancelled()
                                                  and p.exception() is None):
                        window.append((t, p if isinstance(p, Outcome) else p.result()))
                    else:
                        window.append((t, _alone(t, job, password_for(t), worker)))
                pool = ProcessPoolExecutor(max_workers=jobs)
    finally:
        pool.shutdown(wait=True, cancel_futures=True)


def _alone(task: Task, job: Job, password: str | None, worker) -> Outcome:
    with ProcessPoolExecutor(max_workers=1) as pool:
        try:
            return pool.submit(worker, task, job, password).result()
        except BrokenProcessPool:
            return Outcome(task.name, "internal")
