"""Bulk: many documents from files, folders and ZIPs, parsed on all cores, into one export file.

``hometax-decrypt batch`` is a thin adapter over :func:`run`. The work:

- :func:`collect` turns the paths into tasks: a file, every ``*.pdf``/``*.zip`` under a folder
  (recursively, hidden folders not entered) and every entry of a ZIP (checked first with the API's
  ZIP limits, :func:`hometax_decrypt.service.archive.checked_entries`: a ZIP bomb fails as one
  entry, its documents are never inflated; each entry is its own task, by its ZipInfo, even where
  the ZIP repeats a name). A task is a path (and a ZIP entry): no document is read here. Only
  regular files become tasks: a symbolic link only with ``follow_symlinks``, a device, FIFO or
  socket never; a hidden document, a link not followed and a special file are :class:`Skipped`,
  named in the report with their reason (issue 22). A worker opens its file without following a
  link or waiting on a FIFO, checks the open descriptor and reads at most the input limit.
- the one batch engine (:mod:`.engine`, the HTTP ``/batch`` uses it too) reads, parses and turns
  each document into its piece of the format on a pool of worker processes (``jobs``, all cores by
  default); every failure stays with its file, a crashed worker costs one file.
- the parent writes each piece as it comes, in the order of the tasks, through the format's stream
  (:mod:`hometax_decrypt.formats.streaming`) to a temporary file beside ``output`` that replaces it
  at the end. Memory is bounded by the tasks in flight, whatever the number of files: CSV and NDJSON
  rows are written and forgotten; JSON documents too, XLSX rows go through XlsxWriter's
  ``constant_memory`` mode (each row flushed to a temporary file in a private folder beside the
  output, removed at the end whatever happens). What is kept per document is small: its line of the
  result table, and for JSON and XLSX its projection (person, form and amount of each item, for the
  totals that close the file). The file is written by
  :func:`hometax_decrypt.service.output_file.replacing` (mode 0600, never through a link, no name on
  disk until it is complete).

The output is the same as the format's writer over all the documents read (a test proves it byte for
byte); the documents that failed are left out and listed in the :class:`Report`.
"""

from __future__ import annotations

import csv
import io
import os
import shutil
import stat
import tempfile
from collections import Counter
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

from .. import errors, formats
from ..document.limits import Limits, resolve
from ..document.source import open_regular
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


# Why a file is listed but not read: reason -> English text. The ZIP reasons are the API's
# (archive.SKIP_REASONS); the others are the files of a folder (or paths given) that a batch refuses
# to open. REFUSED: a document pointed at and not read, which fails the run (exit 9) as a failed file
# does; a hidden file or macOS metadata is not a document.
SKIP_REASONS = {
    **archive.SKIP_REASONS,
    "symlink": "a symbolic link: not followed (--follow-symlinks follows links to files and folders)",
    "not_regular": "not a regular file (a device, FIFO or socket): never read",
}
REFUSED = frozenset({"symlink", "not_regular"})


@dataclass(frozen=True)
class Skipped:
    """A file (or ZIP entry) that a run lists but does not read, and why (a key of SKIP_REASONS)."""

    name: str
    reason: str

    @property
    def message(self) -> str:
        return SKIP_REASONS[self.reason]


def _is_document(name: str) -> bool:
    return name.lower().endswith(DOCUMENT_SUFFIXES)


def _kind(path: str, follow_symlinks: bool) -> tuple[str, str]:
    """What ``path`` is, without opening it: ("dir"|"file"|"missing", the path to read) or
    ("skip", reason). A link is looked through only when ``follow_symlinks``, and then the path to
    read is its target's (opened without following any link, engine._read)."""
    try:
        st = os.lstat(path)
        if stat.S_ISLNK(st.st_mode):
            if not follow_symlinks:
                return "skip", "symlink"
            path = os.path.realpath(path)
            st = os.stat(path)
    except OSError:
        return "missing", path
    if stat.S_ISDIR(st.st_mode):
        return "dir", path
    if stat.S_ISREG(st.st_mode):
        return "file", path
    return "skip", "not_regular"


def _walk(root: str, follow_symlinks: bool) -> Iterator[tuple[str, str, str]]:
    """Under the folder ``root``: (path shown, kind, path to read or skip reason) of every
    ``*.pdf``/``*.zip`` file, every link to a folder, and every folder that cannot be read, sorted
    by path. Hidden folders are not entered, hidden documents are listed as skipped; a folder is
    walked once (a link loop ends)."""
    found: list[tuple[str, str, str]] = []
    seen: set[tuple[int, int]] = set()

    def visit(shown: str, real: str) -> None:
        try:
            st = os.stat(real)
            if (st.st_dev, st.st_ino) in seen:
                return
            seen.add((st.st_dev, st.st_ino))
            with os.scandir(real) as it:
                entries = sorted(it, key=lambda e: e.name)
        except OSError:
            found.append((shown, "unreadable", real))
            return
        for e in entries:
            path, target = os.path.join(shown, e.name), os.path.join(real, e.name)
            is_doc = _is_document(e.name)
            if e.name.startswith("."):
                if is_doc and not e.is_dir(follow_symlinks=False):
                    found.append((path, "skip", "hidden"))
                continue
            kind, what = _kind(target, follow_symlinks)
            if kind == "dir":
                visit(path, what)
            elif kind == "skip" and what == "symlink":
                if is_doc or e.is_dir():  # a link to a document, or to a folder that may hold some
                    found.append((path, kind, what))
            elif is_doc:
                found.append((path, kind, what))

    visit(root, root)
    found.sort(key=lambda f: Path(f[0]))
    yield from found


def _is_zip(path: str) -> bool:
    if path.lower().endswith(".zip"):
        return True
    try:
        with open_regular(path) as fh:
            return fh.read(4) == b"PK\x03\x04"
    except (OSError, errors.HometaxError):
        return False


def collect(
    paths: Iterable[str], zip_limits: ZipLimits, follow_symlinks: bool = False
) -> Iterator[Task | service.FileResult | Skipped]:
    """The tasks of ``paths`` in a stable order; a path or ZIP that cannot be used is a failed
    :class:`~hometax_decrypt.service.operations.FileResult` in its place, a file not read a
    :class:`Skipped`. Only regular files are read: a symbolic link only with ``follow_symlinks``
    (and then only to a regular file or a folder), never a device, FIFO or socket."""
    for raw in paths:
        kind, what = _kind(raw, follow_symlinks)
        if kind == "dir":
            for shown, k, w in _walk(what, follow_symlinks):
                rel = Path(shown).relative_to(what).as_posix()
                name = str(Path(raw) / rel)
                yield from _one(name, k, w, zip_limits, rel, rel + "/")
        else:
            yield from _one(raw, kind, what, zip_limits, raw, "")


def _one(
    name: str, kind: str, what: str, zip_limits: ZipLimits, source: str, zip_prefix: str
) -> Iterator[Task | service.FileResult | Skipped]:
    if kind == "skip":
        yield Skipped(name, what)
    elif kind == "missing":
        yield service.FileResult(name, error=errors.UsageError("no such file or folder"))
    elif kind == "unreadable":
        yield service.FileResult(name, error=errors.UsageError("cannot read the folder"))
    else:
        yield from _file_tasks(what, name, zip_limits, source, zip_prefix)


def _file_tasks(
    path: str, name: str, zip_limits: ZipLimits, source: str, zip_prefix: str
) -> Iterator[Task | service.FileResult | Skipped]:
    if not _is_zip(path):
        yield Task(name, path=path, source=source)
        return
    try:
        with open_regular(path) as fh, archive.zip_file(fh) as zf:
            entries, skipped = archive.checked_entries(zf, zip_limits)
    except errors.HometaxError as exc:
        yield service.FileResult(name, error=exc)
        return
    except OSError:
        yield service.FileResult(name, error=errors.UsageError("cannot read the file"))
        return
    for s in skipped:  # a folder entry is no file; hidden files and macOS metadata are named
        if s["reason"] != "folder":
            yield Skipped(f"{name}/{s['file']}", s["reason"])
    # Each entry is read by its own ZipInfo (a ZIP may repeat a name: both are read, and named)
    count = Counter(entry for _, entry in entries)
    seen: Counter = Counter()
    for info, entry in entries:  # the entry's name as written (CP949 from Korean Windows)
        note = None
        if count[entry] > 1:
            seen[entry] += 1
            note = f"duplicate name in the ZIP: entry {seen[entry]} of {count[entry]} with this name"
        yield Task(f"{name}/{entry}", path=path, member=info, source=zip_prefix + entry, note=note)


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
    """The result table of a run: one line per file read (or failed), in the order of the tasks,
    and the files listed but not read (:class:`Skipped`), each after the files read before it."""

    files: list[service.FileResult] = field(default_factory=list)  # without their pieces
    skipped: list[Skipped] = field(default_factory=list)
    notes: dict[int, str] = field(default_factory=dict)  # index in files -> a remark on its line
    _skipped_at: list[int] = field(default_factory=list)  # how many files precede each skipped one

    def skip(self, item: Skipped, position: int) -> None:
        self.skipped.append(item)
        self._skipped_at.append(position)

    @property
    def by_code(self) -> Counter:
        return Counter(f.code for f in self.files)

    @property
    def by_status(self) -> Counter:
        """Authenticity of the files read (the verification's status)."""
        return Counter(f.status or "unverified" for f in self.files if f.ok)

    @property
    def by_skip(self) -> Counter:
        """The files not read, by reason."""
        return Counter(s.reason for s in self.skipped)

    @property
    def refused(self) -> int:
        """Documents pointed at and not read (a link not followed, a special file)."""
        return sum(1 for s in self.skipped if s.reason in REFUSED)

    @property
    def all_ok(self) -> bool:
        return all(f.ok for f in self.files) and not self.refused

    @property
    def exit_code(self) -> int:
        """0: every file was read (whatever its authenticity, see ``by_status``); 9: some file
        failed (its code in the table) or was refused (a link, a special file); a run with no file
        at all is a usage error (2)."""
        if not self.files and not self.refused:
            return USAGE_EXIT
        return 0 if self.all_ok else EXIT_SOME_FAILED

    def lines(self) -> list[dict]:
        """Every line of the table in order: a file read or failed (``code``, ``status``), or one
        skipped (``code`` "skipped", ``reason``); ``note``: a remark (a duplicate name)."""
        out: list[dict] = []
        skipped = iter(zip(self._skipped_at, self.skipped))
        pending = next(skipped, None)
        for i, f in enumerate([*self.files, None]):
            while pending is not None and pending[0] <= i:
                s = pending[1]
                out.append(
                    {"file": s.name, "code": "skipped", "status": None, "reason": s.reason, "note": s.message}
                )
                pending = next(skipped, None)
            if f is not None:
                out.append({"file": f.name, "code": f.code, "status": f.status, "note": self.notes.get(i)})
        return out


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
    follow_symlinks: bool = False,
) -> Report:
    """Read every document under ``paths`` into ``output`` in format ``fmt`` (any of the
    registry); the per-file table. ``on_total(n)``: called once, when the files are counted;
    ``on_file(result)``: after each file (a progress bar). ``worker``: the per-file function
    (module-level: it is sent to the workers). Only regular files are read: a symbolic link is
    listed as skipped unless ``follow_symlinks`` (and then read only if it leads to a regular
    file or a folder); a device, FIFO or socket never."""
    format_ = formats.get(fmt)
    jobs = max(1, jobs or default_jobs())
    zip_limits = zip_limits or ZipLimits.from_settings(Settings())
    report = Report()
    items: list[Task | service.FileResult] = []
    for item in collect(paths, zip_limits, follow_symlinks):  # names only: no document is read here
        if isinstance(item, Skipped):
            report.skip(item, len(items))
        else:
            if isinstance(item, Task) and item.note:
                report.notes[len(items)] = item.note
            items.append(item)
    job = engine.Job(format_, mask, resolve(limits), trust)
    passwords = dict(passwords or {})

    def password_for(name: str) -> str | None:
        return archive.password_for(name, password, passwords)

    if on_total:
        on_total(len(items))
    output_file.check_target(output)  # a link, a folder or a device: refused before any work
    folder = os.path.dirname(os.path.abspath(output))

    def noted(result: service.FileResult) -> None:
        report.files.append(result)
        if on_file:
            on_file(result)

    scratch = None
    try:
        with output_file.replacing(output) as fh:  # mode 0600, never through a link, whole or nothing
            # the XLSX rows on their way (XlsxWriter's temporary files): removed whatever happens
            try:
                scratch = tempfile.mkdtemp(prefix=".hometax-", suffix=".rows", dir=folder)
            except OSError:
                raise errors.UsageError("cannot write the output file") from None
            results = engine.run(items, password_for, job, jobs, worker=worker)
            try:
                engine.write(format_, results, fh, mask, scratch, on_result=noted)
            finally:  # stopped (a signal, Ctrl-C): the workers are stopped now, not when collected
                results.close()
    finally:
        if scratch is not None:
            shutil.rmtree(scratch, ignore_errors=True)
    return report
