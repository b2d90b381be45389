"""``hometax-decrypt batch`` against a hostile folder and a stopping service (issue 22, findings 5-7):
only regular files are read (a symbolic link only with ``--follow-symlinks``, a device, FIFO or
socket never), each with a bound; every file not read is named with its reason; every ZIP entry is
read by its own entry, a repeated name noted; SIGTERM and SIGHUP stop the workers, remove the partial
output and exit with ``terminated`` (143)."""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import signal
import subprocess
import sys
import threading
import zipfile
from pathlib import Path

import pytest

from hometax_decrypt import errors, formats, service
from hometax_decrypt.cli import commands as cli
from hometax_decrypt.service import bulk, engine
from tests.support.paths import SAMPLES
from tests.support.stack import gone, poll

pytestmark = pytest.mark.skipif(
    not sys.platform.startswith("linux"), reason="FIFOs, /dev/zero, /proc and POSIX signals"
)

DOC_2020 = SAMPLES / "nts-2020" / "all.pdf"
DOC_2022 = SAMPLES / "nts-2022" / "all.pdf"
MEDICAL = SAMPLES / "nts-2020" / "basic" / "medical.pdf"
TERMINATED = errors.SPECS["terminated"].exit_code

# The CLI in a process of its own, its memory bounded: a file read without bound fails it quickly
# (MemoryError) instead of taking the machine's memory.
BOUNDED_CLI = """
import resource, sys
resource.setrlimit(resource.RLIMIT_AS, (1 << 30, 1 << 30))
from hometax_decrypt.cli import commands
sys.exit(commands.main(sys.argv[1:]))
"""


def _cli(*args: str, timeout: float = 120) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-c", BOUNDED_CLI, *args], capture_output=True, text=True, timeout=timeout
    )


def _table(stdout: str, root: Path) -> dict[str, list[str]]:
    """file (relative to ``root``) -> the rest of its line, split."""
    rows = stdout.splitlines()[1:-1]
    return {os.path.relpath(r.split()[0], root): r.split()[1:] for r in rows}


@pytest.fixture
def hostile(tmp_path) -> Path:
    """A folder to batch holding one document and what a hostile user of a shared folder plants: a
    link to a device, a FIFO, a link to a file outside the folder, a link to a folder outside it, a
    link loop; all named like documents."""
    root = tmp_path / "in"
    (root / "sub").mkdir(parents=True)
    outside = tmp_path / "private"
    outside.mkdir()
    shutil.copy(DOC_2020, root / "sub" / "real.pdf")
    shutil.copy(MEDICAL, outside / "secret.pdf")
    (root / "zero.pdf").symlink_to("/dev/zero")
    os.mkfifo(root / "fifo.pdf")
    (root / "outside.pdf").symlink_to(outside / "secret.pdf")
    (root / "elsewhere").symlink_to(outside)
    (root / "sub" / "loop").symlink_to(root)
    return root


def test_only_regular_files_are_read_and_every_other_is_named(hostile, tmp_path):
    out = tmp_path / "out.ndjson"
    r = _cli("batch", str(hostile), "--format", "ndjson", "-o", str(out), "--jobs", "2")
    assert r.returncode == bulk.EXIT_SOME_FAILED, r.stderr  # documents pointed at were not read
    assert _table(r.stdout, hostile) == {
        "elsewhere": ["skipped", "-", *bulk.SKIP_REASONS["symlink"].split()],
        "fifo.pdf": ["skipped", "-", *bulk.SKIP_REASONS["not_regular"].split()],
        "outside.pdf": ["skipped", "-", *bulk.SKIP_REASONS["symlink"].split()],
        "sub/loop": ["skipped", "-", *bulk.SKIP_REASONS["symlink"].split()],
        "sub/real.pdf": ["ok", "authentic"],
        "zero.pdf": ["skipped", "-", *bulk.SKIP_REASONS["symlink"].split()],
    }
    assert r.stdout.splitlines()[-1] == (
        "files: 1 (ok 1); read: authentic 1; skipped: 5 (not_regular 1, symlink 4)"
    )
    assert out.read_bytes() == formats.get("ndjson").write(
        [service.parse(DOC_2020.read_bytes(), name="sub/real.pdf").document]
    )


def test_links_are_followed_on_request_but_never_to_a_device_or_fifo(hostile, tmp_path):
    (hostile / "fifo-link.pdf").symlink_to(hostile / "fifo.pdf")
    out = tmp_path / "out.ndjson"
    r = _cli("batch", str(hostile), "--format", "ndjson", "-o", str(out), "--jobs", "2", "--follow-symlinks")
    assert r.returncode == bulk.EXIT_SOME_FAILED, r.stderr
    table = _table(r.stdout, hostile)
    assert table == {
        "elsewhere/secret.pdf": ["ok", "authentic"],  # a linked folder is walked, once
        "fifo-link.pdf": ["skipped", "-", *bulk.SKIP_REASONS["not_regular"].split()],
        "fifo.pdf": ["skipped", "-", *bulk.SKIP_REASONS["not_regular"].split()],
        "outside.pdf": ["ok", "authentic"],
        "sub/real.pdf": ["ok", "authentic"],  # the loop back to the root is not walked again
        "zero.pdf": ["skipped", "-", *bulk.SKIP_REASONS["not_regular"].split()],
    }
    assert len(out.read_bytes().splitlines()) > 0


def test_a_link_to_a_device_is_never_read(tmp_path):
    """Without a FIFO beside it: the device link alone is what the run meets."""
    root = tmp_path / "in"
    root.mkdir()
    shutil.copy(MEDICAL, root / "real.pdf")
    (root / "zero.pdf").symlink_to("/dev/zero")
    for option, reason in (((), "symlink"), (("--follow-symlinks",), "not_regular")):
        out = tmp_path / "out.csv"
        r = _cli("batch", str(root), "--format", "csv", "-o", str(out), "--jobs", "2", *option)
        assert r.returncode == bulk.EXIT_SOME_FAILED, r.stderr
        assert _table(r.stdout, root) == {
            "real.pdf": ["ok", "authentic"],
            "zero.pdf": ["skipped", "-", *bulk.SKIP_REASONS[reason].split()],
        }


def test_a_path_given_that_is_a_special_file_or_a_link_is_named_not_read(hostile, tmp_path):
    out = tmp_path / "out.csv"
    r = _cli("batch", str(hostile / "fifo.pdf"), str(hostile / "zero.pdf"), "-o", str(out), "--format", "csv")
    assert r.returncode == bulk.EXIT_SOME_FAILED, r.stderr
    assert r.stdout.splitlines()[-1] == "files: 0 (none); read: none; skipped: 2 (not_regular 1, symlink 1)"
    r = _cli(
        "batch", str(hostile / "zero.pdf"), "-o", str(out), "--format", "csv", "--follow-symlinks"
    )  # the option reads links to regular files only
    assert r.returncode == bulk.EXIT_SOME_FAILED, r.stderr
    assert r.stdout.splitlines()[-1] == "files: 0 (none); read: none; skipped: 1 (not_regular 1)"


def test_a_file_swapped_after_it_was_listed_is_refused_without_blocking(tmp_path):
    """Between the listing and a worker's read, the file became a FIFO or a link: the worker opens
    it without blocking and without following the link, and refuses it."""
    listed = engine.Job(formats.get("csv"))
    fifo = tmp_path / "was-a-file.pdf"
    os.mkfifo(fifo)
    link = tmp_path / "was-a-file-too.pdf"
    link.symlink_to(DOC_2020)
    results: dict[str, object] = {}

    def read(path: Path) -> None:
        results[path.name] = engine.work(engine.Source(path.name, path=str(path)), listed, None)

    for path in (fifo, link):
        t = threading.Thread(target=read, args=(path,), daemon=True)
        t.start()
        t.join(60)
        if t.is_alive():  # blocked on the FIFO: release it (a writer that closes at once)
            os.close(os.open(fifo, os.O_WRONLY | os.O_NONBLOCK))
            t.join(60)
            pytest.fail(f"{path.name}: the read blocked")
    assert results[fifo.name].error.detail == "not a regular file (a device, FIFO or socket)"
    assert results[link.name].error.detail == "a symbolic link: not followed"


def _zip(path: Path, entries: list[tuple[str, bytes]]) -> None:
    with zipfile.ZipFile(path, "w") as z:
        for name, data in entries:
            repeated = name in z.namelist()
            with pytest.warns(UserWarning, match="Duplicate name") if repeated else contextlib.nullcontext():
                z.writestr(name, data)


@pytest.mark.parametrize("fmt", ["ndjson", "json"])
def test_each_zip_entry_is_read_by_its_own_entry_and_a_repeated_name_noted(tmp_path, fmt):
    """Two entries kim.pdf (2020, then 2022): both read, each its own, in the ZIP's order."""
    archive = tmp_path / "team.zip"
    _zip(
        archive,
        [
            ("kim.pdf", DOC_2020.read_bytes()),
            ("lee.pdf", MEDICAL.read_bytes()),
            ("kim.pdf", DOC_2022.read_bytes()),
        ],
    )
    out = tmp_path / f"out.{fmt}"
    report = bulk.run([str(archive)], fmt, str(out), jobs=2)
    assert [(f.name, f.code) for f in report.files] == [
        (f"{archive}/kim.pdf", "ok"),
        (f"{archive}/lee.pdf", "ok"),
        (f"{archive}/kim.pdf", "ok"),
    ]
    docs = [
        service.parse(p.read_bytes(), name=n).document
        for p, n in ((DOC_2020, "kim.pdf"), (MEDICAL, "lee.pdf"), (DOC_2022, "kim.pdf"))
    ]
    assert out.read_bytes() == formats.get(fmt).write(docs)
    notes = [line["note"] for line in report.lines()]
    assert notes[1] is None and "duplicate name" in notes[0] and "duplicate name" in notes[2]
    assert notes[0] != notes[2]  # which of the two


def test_the_cli_table_notes_a_repeated_zip_name(tmp_path, capsys):
    archive = tmp_path / "team.zip"
    _zip(archive, [("kim.pdf", DOC_2020.read_bytes()), ("kim.pdf", DOC_2022.read_bytes())])
    out = tmp_path / "out.json"
    assert cli.main(["batch", str(archive), "--format", "json", "-o", str(out), "--jobs", "1"]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert [line.split()[:3] for line in lines[1:-1]] == [[f"{archive}/kim.pdf", "ok", "authentic"]] * 2
    assert all("duplicate name in the ZIP" in line for line in lines[1:-1])
    years = [d["doc"]["att_year"] for d in json.loads(out.read_bytes())["documents"]]
    assert years == ["2020", "2022"]


# -- stopping a run -----------------------------------------------------------------------------------

# The real CLI, one document of it held in its worker until the test lets it go (the worker waits on
# a FIFO outside the batch): the run is mid-way, its partial output open and its workers alive, for
# as long as the test needs, without a sleep.
HELD_CLI = """
import sys
from hometax_decrypt.cli import commands
from hometax_decrypt.service import engine

real = engine.work
def held(source, job, password, deadline=None):
    if source.name.endswith("hold.pdf"):
        with open(sys.argv[1], "rb") as fh:
            fh.read()
    return real(source, job, password, deadline)
engine.work = held
sys.exit(commands.main(sys.argv[2:]))
"""


def _children(pid: int) -> list[int]:
    found = []
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        if int(fields[1]) == pid and fields[0] != "Z":
            found.append(int(stat.parent.name))
    return found


def _open_in(pid: int, folder: Path) -> list[str]:
    """The files under ``folder`` that the process ``pid`` has open (named or not yet named)."""
    found = []
    for fd in Path(f"/proc/{pid}/fd").iterdir():
        try:
            target = os.readlink(fd)
        except OSError:
            continue
        if target.startswith(f"{folder}/"):
            found.append(target)
    return found


def _reader_waits(fifo: Path) -> int | None:
    """A write end of ``fifo`` once a reader has it open (then the reader waits for data)."""
    try:
        return os.open(fifo, os.O_WRONLY | os.O_NONBLOCK)
    except OSError:
        return None


@pytest.mark.parametrize(
    "signum, fmt, group",
    [
        (signal.SIGTERM, "csv", False),
        (signal.SIGTERM, "xlsx", False),
        (signal.SIGHUP, "json", False),
        (signal.SIGTERM, "ndjson", True),
        (signal.SIGKILL, "csv", False),
    ],
    ids=["SIGTERM", "SIGTERM-xlsx", "SIGHUP", "SIGTERM-to-all", "SIGKILL"],
)
def test_a_stopped_run_leaves_no_worker_and_no_partial_output(tmp_path, signum, fmt, group):
    """SIGTERM, SIGHUP: exit 143, nothing of the run left (workers, partial output, XLSX rows),
    whether the signal reaches the parent alone or every process of the run at once (systemd's
    stop). SIGKILL (an OOM kill of the parent) cannot be handled: the workers still die with it."""
    root = tmp_path / "in"
    root.mkdir()
    for i in range(6):
        shutil.copy(MEDICAL, root / f"a{i}.pdf")
    shutil.copy(MEDICAL, root / "hold.pdf")  # the 7th file, in the second hand-off
    fifo = tmp_path / "hold"
    os.mkfifo(fifo)
    out_dir = tmp_path / "out"
    out_dir.mkdir()
    logs = {name: (tmp_path / name).open("wb") for name in ("stdout", "stderr")}  # not pipes: a
    # worker left behind would hold a pipe open, and the test would wait on it, not on the run
    proc = subprocess.Popen(
        [
            sys.executable,
            "-c",
            HELD_CLI,
            str(fifo),
            "batch",
            str(root),
            "-o",
            str(out_dir / f"all.{fmt}"),
            "--format",
            fmt,
            "--jobs",
            "2",
            "--quiet",
        ],
        stdout=logs["stdout"],
        stderr=logs["stderr"],
        start_new_session=True,  # its own process group: the test can signal the whole run
    )
    writer = None
    workers: list[int] = []
    try:
        writer = poll(lambda: _reader_waits(fifo), seconds=120)
        assert writer is not None, "the held document never reached a worker"
        workers = poll(lambda: (lambda c: c if len(c) == 2 else None)(_children(proc.pid)), seconds=30)
        assert workers, "the run's two workers"
        assert _open_in(proc.pid, out_dir), "the partial output, open"
        if group:
            os.killpg(proc.pid, signum)
        else:
            os.kill(proc.pid, signum)
        proc.wait(timeout=60)
        err = (tmp_path / "stderr").read_text()
        expected = -signal.SIGKILL if signum == signal.SIGKILL else TERMINATED
        assert proc.returncode == expected, err
        if signum != signal.SIGKILL:
            assert err.strip() == f"terminated: {errors.SPECS['terminated'].message}"
            assert list(out_dir.iterdir()) == []  # no partial output, no export
        else:  # the partial output had no name yet (O_TMPFILE): the kernel dropped it with the run
            assert [p for p in out_dir.rglob("*") if not p.is_dir()] == []
        assert poll(lambda: all(gone(w) for w in workers), seconds=30), "a worker outlived its run"
    finally:
        if writer is not None:
            os.close(writer)
        for pid in [proc.pid, *workers]:  # never left behind by a failing test
            if not gone(pid):
                os.kill(pid, signal.SIGKILL)
        proc.wait(60)
        for fh in logs.values():
            fh.close()


def test_terminated_is_a_documented_exit_status_of_its_own():
    spec = errors.SPECS["terminated"]
    assert spec.exit_code == 128 + signal.SIGTERM
    others = [s.exit_code for s in errors.SPECS.values() if s.code != "terminated"]
    assert spec.exit_code not in others
    assert (
        f"| `terminated` | — | null | {spec.exit_code} |"
        in (Path(__file__).resolve().parents[2] / "docs" / "api.md").read_text()
    )


def test_the_output_is_complete_where_the_unnamed_file_cannot_be_linked(tmp_path, monkeypatch):
    """A /proc that refuses linkat: the complete output is copied to its name instead."""

    def refused(*args, **kwargs):
        raise PermissionError("linkat")

    monkeypatch.setattr(os, "link", refused)
    out = tmp_path / "out.ndjson"
    report = bulk.run([str(MEDICAL)], "ndjson", str(out), jobs=1)
    assert report.exit_code == 0
    assert out.read_bytes() == formats.get("ndjson").write(
        [service.parse(MEDICAL.read_bytes(), name=str(MEDICAL)).document]
    )
    assert [p.name for p in tmp_path.iterdir()] == [out.name] and out.stat().st_mode & 0o777 == 0o600
