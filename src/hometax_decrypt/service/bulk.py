"""Bulk: many documents from files, folders and ZIPs, parsed on all cores, into one export file.

``hometax-decrypt batch`` is a thin adapter over :func:`run`. The work:

- :func:`collect` turns the paths into tasks: a file, every ``*.pdf``/``*.zip`` under a folder
  (recursively, hidden ones skipped) and every entry of a ZIP (checked first with the API's ZIP
  limits, :func:`hometax_decrypt.service.archive.checked_entries`: a ZIP bomb fails as one entry, its
  documents are never inflated). A task is a path (and a ZIP member): no document is read here.
- the one batch engine (:mod:`.engine`, the HTTP ``/batch`` uses it too) reads, parses and turns
  each document into its piece of the format on a pool of worker processes (``jobs``, all cores by
  default); every failure stays with its file, a crashed worker costs one file.
- the parent writes each piece as it comes, in the order of the tasks, through the format's stream
  (:mod:`hometax_decrypt.formats.streaming`) to a temporary file beside ``output`` that replaces it
  at the end. Memory is bounded by the tasks in flight, whatever the number of files: CSV and NDJSON
  rows are written and forgotten; JSON documents too, XLSX rows go through XlsxWriter's
  ``constant_memory`` mode (each row flushed to a temporary file in the output's folder). What is
  kept per document is small: its line of the result table, and for JSON and XLSX its projection
  (person, form and amount of each item, for the totals that close the file). The file is written
  by :func:`hometax_decrypt.service.output_file.replacing` (mode 0600, never through a link).

The output is the same as the format's writer over all the documents read (a test proves it byte for
byte); the documents that failed are left out and listed in the :class:`Report`.
"""

from __future__ import annotations

import csv
import io
import os
import stat
from collections import Counter
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

from .. import errors, formats
from ..document.limits import Limits, resolve
from ..settings import Settings
from ..timestamp import TrustStore
from . import archive, engine, output_file
from . import operations as service

# The exit status of a bulk run in which some file failed (the error table's batch_partial).
EXIT_SOME_FAILED: int = errors.SPECS["batch_partial"].exit_code or 9  # the table has 9
USAGE_EXIT: int = errors.SPECS["usage"].exit_code or 2
PASSWORD_FILE_MAX_BYTES = 8 * 1024 * 1024
DOCUMENT_SUFFIXES = (".pdf", ".zip")


# -- what to read ---------------------------------------------------------------------------------

Task = engine.Source  # a file on disk (``path``) or an entry (``member``) of the ZIP at ``path``


@dataclass(frozen=True)
class ZipLimits:
    """The API's ZIP checks for a bulk run: the same ratio limit (the bomb check); no count or total
    size limit, since entries are read one at a time (each at most ``max_input_bytes``)."""

    zip_max_ratio: int
    batch_max_files: int = 10_000_000
    batch_max_total_bytes: int = 1 << 62

    @classmethod
    def from_settings(cls, settings: Settings) -> ZipLimits:
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
    :class:`~hometax_decrypt.service.operations.FileResult` in its place."""
    for raw in paths:
        p = Path(raw)
        if p.is_dir():
            found = []
            for root, dirs, files in os.walk(p):
                dirs[:] = sorted(d for d in dirs if not d.startswith("."))
                found += [
                    Path(root) / f
                    for f in files
                    if not f.startswith(".") and f.lower().endswith(DOCUMENT_SUFFIXES)
                ]
            for f in sorted(found):
                rel = f.relative_to(p).as_posix()
                yield from _file_tasks(f, str(f), zip_limits, rel, rel + "/")
        elif p.is_file():
            yield from _file_tasks(p, raw, zip_limits, raw, "")
        else:
            yield service.FileResult(raw, error=errors.UsageError("no such file or folder"))


def _file_tasks(
    path: Path, name: str, zip_limits: ZipLimits, source: str, zip_prefix: str
) -> Iterator[Task | service.FileResult]:
    if not _is_zip(path):
        yield Task(name, path=str(path), source=source)
        return
    try:
        with archive.zip_file(str(path)) as zf:
            entries, _skipped = archive.checked_entries(zf, zip_limits)  # folders, hidden files
    except errors.HometaxError as exc:
        yield service.FileResult(name, error=exc)
        return
    for info, entry in entries:  # the entry's name as written (CP949 from Korean Windows)
        yield Task(f"{name}/{entry}", path=str(path), member=info.filename, source=zip_prefix + entry)


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
                raise errors.UsageError(
                    f"password file line {n}: a second, different password for the same file"
                )
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


work = engine.work  # the per-file function (a test wraps it to crash a worker)


# -- the run --------------------------------------------------------------------------------------


@dataclass
class Report:
    """The result table of a run: one line per file, in the order of the tasks."""

    files: list[service.FileResult] = field(default_factory=list)  # without their pieces

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
            return USAGE_EXIT
        return 0 if self.all_ok else EXIT_SOME_FAILED

    def lines(self) -> list[dict]:
        return [{"file": f.name, "code": f.code, "status": f.status} for f in self.files]


def default_jobs() -> int:
    return max(1, os.cpu_count() or 1)


def run(
    paths: Iterable[str],
    fmt: str,
    output: str,
    *,
    jobs: int | None = None,
    password: str | None = None,
    passwords: dict[str, str] | None = None,
    mask: bool = False,
    limits: Limits | None = None,
    trust: TrustStore | None = None,
    zip_limits: ZipLimits | None = None,
    on_total: Callable[[int], None] | None = None,
    on_file: Callable[[service.FileResult], None] | None = None,
    worker: Callable | None = None,
) -> Report:
    """Read every document under ``paths`` into ``output`` in format ``fmt`` (any of the
    registry); the per-file table. ``on_total(n)``: called once, when the files are counted;
    ``on_file(result)``: after each file (a progress bar). ``worker``: the per-file function
    (module-level: it is sent to the workers)."""
    format_ = formats.get(fmt)
    jobs = max(1, jobs or default_jobs())
    zip_limits = zip_limits or ZipLimits.from_settings(Settings())
    items = list(collect(paths, zip_limits))  # paths and names only: no document is read here
    job = engine.Job(format_, mask, resolve(limits), trust)
    passwords = dict(passwords or {})

    def password_for(name: str) -> str | None:
        return archive.password_for(name, password, passwords)

    if on_total:
        on_total(len(items))
    folder = os.path.dirname(os.path.abspath(output))  # XlsxWriter's row files go there too
    report = Report()

    def noted(result: service.FileResult) -> None:
        report.files.append(result)
        if on_file:
            on_file(result)

    with output_file.replacing(output) as fh:  # mode 0600, never through a link, whole or nothing
        results = engine.run(items, password_for, job, jobs, worker=worker)
        engine.write(format_, results, fh, mask, folder, on_result=noted)
    return report
