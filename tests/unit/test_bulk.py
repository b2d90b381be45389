"""The bulk command (``hometax-decrypt batch``, bulk.py): files, folders and ZIPs on a process pool,
one export streamed to a file that equals the format's writer over the documents read, each file's
failure isolated (a crashed worker costs one file), a result table and an exit status."""

from __future__ import annotations

import io
import json
import os
import shutil
import zipfile
from pathlib import Path

import pytest

from hometax_decrypt import errors, formats, service
from hometax_decrypt.cli import commands as cli
from hometax_decrypt.records import summary
from hometax_decrypt.service import bulk
from tests.support import builder
from tests.support.paths import SAMPLES

NTS = SAMPLES / "nts-2020"
PASSWORD = "1234567"


@pytest.fixture(scope="module")
def tree(tmp_path_factory) -> Path:
    """A folder of documents, a nested folder, a ZIP, and files that fail."""
    root = tmp_path_factory.mktemp("bulk")
    docs = root / "docs"
    (docs / "nested").mkdir(parents=True)
    shutil.copy(NTS / "all.pdf", docs / "all.pdf")
    shutil.copy(NTS / "all-password-1234567.pdf", docs / "locked.pdf")
    shutil.copy(NTS / "basic" / "medical.pdf", docs / "nested" / "medical.pdf")
    (docs / "nested" / "broken.pdf").write_bytes(builder.random_bytes())
    (docs / "notes.txt").write_text("not a document")  # not *.pdf/*.zip: not taken from a folder
    (docs / ".hidden.pdf").write_bytes(b"never read")
    (docs / "other-year.pdf").write_bytes(builder.year_pdf(2021, seq="2022011500000001"))
    with zipfile.ZipFile(root / "more.zip", "w", zipfile.ZIP_DEFLATED) as z:
        for name in ("donation.pdf", "insurance.pdf"):
            z.write(NTS / "basic" / name, f"basic/{name}")
    # a ZIP bomb: one entry far over the ratio limit fails the archive as one entry
    with zipfile.ZipFile(root / "bomb.zip", "w", zipfile.ZIP_DEFLATED) as z:
        z.writestr("big.pdf", b"\0" * (8 * 1024 * 1024))
    return root


def _paths(tree: Path) -> list[str]:
    return [str(tree / "docs"), str(tree / "more.zip"), str(tree / "bomb.zip"), str(tree / "missing.pdf")]


def _expected_docs(tree: Path) -> list:
    """The documents a run reads, in its order, parsed one by one by the service."""
    names = [
        tree / "docs" / "all.pdf",
        tree / "docs" / "locked.pdf",
        tree / "docs" / "nested" / "medical.pdf",
        tree / "docs" / "other-year.pdf",
    ]
    # source_file: the path under the folder given, the entry's name in the ZIP given
    docs = [
        service.parse(p.read_bytes(), PASSWORD, name=p.relative_to(tree / "docs").as_posix()).document
        for p in names
    ]
    with zipfile.ZipFile(tree / "more.zip") as z:
        docs += [
            service.parse(z.read(f"basic/{n}"), name=f"basic/{n}").document
            for n in ("donation.pdf", "insurance.pdf")
        ]
    return docs


EXPECTED_CODES = {
    "docs/all.pdf": "ok",
    "docs/locked.pdf": "ok",
    "docs/nested/broken.pdf": "damaged",
    "docs/nested/medical.pdf": "ok",
    "docs/other-year.pdf": "ok",
    "more.zip/basic/donation.pdf": "ok",
    "more.zip/basic/insurance.pdf": "ok",
    "bomb.zip": "too_large",
    "missing.pdf": "usage",
}


def _codes(report, tree) -> dict:
    return {os.path.relpath(f.name, tree): f.code for f in report.files}


@pytest.mark.parametrize("fmt", ["csv", "ndjson", "json"])
def test_output_equals_the_formats_writer_over_the_documents_read(tree, tmp_path, fmt):
    out = tmp_path / f"out.{fmt}"
    report = bulk.run(_paths(tree), fmt, str(out), jobs=2, password=PASSWORD)
    assert _codes(report, tree) == EXPECTED_CODES
    assert out.read_bytes() == formats.get(fmt).write(_expected_docs(tree))
    assert not report.all_ok and report.exit_code == bulk.EXIT_SOME_FAILED
    assert report.by_code == {"ok": 6, "damaged": 1, "too_large": 1, "usage": 1}
    assert report.by_status == {"authentic": 5, "unsigned": 1}
    assert [p.name for p in tmp_path.iterdir()] == [out.name]  # the temporary file is gone
    if os.name == "posix":  # it holds resident numbers: readable by its owner alone
        assert out.stat().st_mode & 0o777 == 0o600


def test_xlsx_equals_the_writer_cell_for_cell(tree, tmp_path):
    import openpyxl

    out = tmp_path / "out.xlsx"
    bulk.run(_paths(tree), "xlsx", str(out), jobs=2, password=PASSWORD, mask=True)
    expected = formats.get("xlsx").write(_expected_docs(tree), mask=True)

    def cells(data):
        wb = openpyxl.load_workbook(io.BytesIO(data))
        return {ws.title: [list(r) for r in ws.iter_rows(values_only=True)] for ws in wb}

    got = cells(out.read_bytes())
    assert got == cells(expected) and len(got["항목"]) > 100 and len(got["합계"]) > 2
    assert len(got["공제신고서"]) > 3 + 10  # the lines of each document, streamed as the writer has them
    assert "7501011234567" not in json.dumps(got, ensure_ascii=False)  # masked


def test_an_empty_run_writes_a_valid_empty_export(tmp_path):
    (tmp_path / "in").mkdir()
    for fmt in formats.NAMES:
        out = tmp_path / f"empty.{fmt}"
        report = bulk.run([str(tmp_path / "in")], fmt, str(out), jobs=1)
        assert report.files == [] and report.exit_code == 2
        assert out.read_bytes() == formats.get(fmt).write([]) or fmt == "xlsx"


def _crash_on_medical(task, job, password):
    """A worker that dies like a crash in native code when it meets one file."""
    if task.name.endswith("medical.pdf"):
        os._exit(70)
    return bulk.work(task, job, password)


def test_a_crashed_worker_costs_one_file(tree, tmp_path):
    out = tmp_path / "out.ndjson"
    report = bulk.run(_paths(tree), "ndjson", str(out), jobs=2, password=PASSWORD, worker=_crash_on_medical)
    codes = _codes(report, tree)
    assert codes == {**EXPECTED_CODES, "docs/nested/medical.pdf": "internal"}
    docs = [
        d
        for d in _expected_docs(tree)
        if d.doc.seq != service.parse((NTS / "basic" / "medical.pdf").read_bytes()).document.doc.seq
    ]
    assert out.read_bytes() == formats.get("ndjson").write(docs)


def test_password_file_per_file_and_its_parsing(tree, tmp_path):
    pw = tmp_path / "pw.csv"
    # CP949, as Korean Excel saves CSV; a header; the name as shown, or the base name
    pw.write_bytes("file,password\n직원.pdf,0000000\nlocked.pdf,1234567\n".encode("cp949"))
    assert bulk.read_password_file(str(pw)) == {"직원.pdf": "0000000", "locked.pdf": "1234567"}
    out = tmp_path / "out.csv"
    report = bulk.run(
        [str(tree / "docs" / "locked.pdf"), str(tree / "docs" / "all.pdf")],
        "csv",
        str(out),
        jobs=1,
        passwords=bulk.read_password_file(str(pw)),
    )
    assert [f.code for f in report.files] == ["ok", "ok"]
    wrong = {"locked.pdf": "0000000"}
    report = bulk.run(
        [str(tree / "docs" / "locked.pdf")], "csv", str(out), jobs=1, passwords=wrong, password=PASSWORD
    )  # the file's own entry wins over the one password
    assert [f.code for f in report.files] == ["wrong_password"]

    bad = tmp_path / "bad.csv"
    bad.write_text("a.pdf,secret-one\nb.pdf,secret-two,extra\n")
    with pytest.raises(errors.UsageError) as info:
        bulk.read_password_file(str(bad))
    assert "line 2" in info.value.message and "secret" not in info.value.message
    bad.write_text("a.pdf,secret-one\na.pdf,secret-two\n")
    with pytest.raises(errors.UsageError, match="line 2"):
        bulk.read_password_file(str(bad))


@pytest.mark.skipif(os.name != "posix", reason="POSIX permission bits")
def test_password_file_readable_by_others_is_warned(tmp_path):
    pw = tmp_path / "pw.csv"
    pw.write_text("a.pdf,x\n")
    pw.chmod(0o644)
    assert "chmod 600" in bulk.password_file_warning(str(pw))
    pw.chmod(0o600)
    assert bulk.password_file_warning(str(pw)) is None


def test_cli_table_exit_status_and_no_password_anywhere(tree, tmp_path, capsys, monkeypatch):
    out = tmp_path / "out.json"
    monkeypatch.setattr("sys.stdin", io.StringIO(PASSWORD + "\n"))
    rc = cli.main(
        ["batch", *_paths(tree), "--format", "json", "-o", str(out), "--jobs", "2", "--password-stdin"]
    )
    captured = capsys.readouterr()
    assert rc == bulk.EXIT_SOME_FAILED
    lines = captured.out.splitlines()
    assert lines[0].split() == ["file", "result", "authenticity"]
    table = {os.path.relpath(line.split()[0], tree): line.split()[1] for line in lines[1:-1]}
    assert table == {**EXPECTED_CODES, "docs/.hidden.pdf": "skipped"}  # named, not read
    assert lines[-1] == (
        "files: 9 (damaged 1, ok 6, too_large 1, usage 1); read: authentic 5, unsigned 1; skipped: 1 (hidden 1)"
    )
    assert captured.err == ""  # not a terminal: no progress bar
    for text in (captured.out, captured.err):  # (the samples' resident numbers hold 1234567)
        assert PASSWORD not in text

    ok = [str(tree / "docs" / "all.pdf"), str(tree / "more.zip")]
    assert cli.main(["batch", *ok, "-o", str(tmp_path / "ok.csv"), "--format", "csv", "--quiet"]) == 0
    assert capsys.readouterr().out == "files: 3 (ok 3); read: authentic 3\n"
    assert cli.main(["batch", *ok, "-o", str(tmp_path / "x.csv"), "--jobs", "0"]) == 2
    assert cli.main(["batch", *ok, "-o", str(tmp_path / "no" / "x.csv")]) == 2  # no such folder
    assert "cannot write the output file" in capsys.readouterr().err
    (tmp_path / "empty").mkdir()
    assert cli.main(["batch", str(tmp_path / "empty"), "-o", str(tmp_path / "e.csv")]) == 2
    assert "no PDF or ZIP file found" in capsys.readouterr().err


def test_totals_from_projections_equal_totals_of_documents(tree):
    docs = _expected_docs(tree) + _expected_docs(tree)[:2]  # duplicates counted once
    for mask in (False, True):
        assert summary.totals_of([summary.projection(d) for d in docs], mask=mask) == summary.totals(
            docs, mask=mask
        )


@pytest.mark.skipif(os.name != "posix", reason="a pseudo-terminal")
def test_progress_bar_on_stderr_only_when_a_terminal(tree, tmp_path):
    import fcntl
    import pty
    import struct
    import subprocess
    import sys
    import termios

    master, slave = pty.openpty()
    fcntl.ioctl(slave, termios.TIOCSWINSZ, struct.pack("HHHH", 24, 100, 0, 0))  # a terminal's size
    cmd = [
        sys.executable,
        "-m",
        "hometax_decrypt.cli.commands",
        "batch",
        str(tree / "more.zip"),
        str(tree / "docs" / "all.pdf"),
        "-o",
        str(tmp_path / "o.csv"),
        "--jobs",
        "1",
        "--quiet",
    ]
    r = subprocess.run(cmd, stderr=slave, stdout=subprocess.PIPE, timeout=120)
    os.close(slave)
    err = b""
    while True:
        try:
            chunk = os.read(master, 65536)
        except OSError:  # EIO: the terminal's other side is closed and drained
            break
        if not chunk:
            break
        err += chunk
    os.close(master)
    assert r.returncode == 0 and r.stdout == b"files: 3 (ok 3); read: authentic 3\n"
    assert b"100%" in err and b"3/3" in err and b"file" in err


def _provenance(fmt: str, data: bytes) -> tuple[set, set, int]:
    """(source files, verification statuses, items with an item_key) of a run's output."""
    import csv

    import openpyxl

    if fmt == "json":
        docs = json.loads(data)["documents"]
        keys = [it["item_key"] for d in docs for f in d["forms"] for p in f["people"] for it in p["items"]]
        return {d["source_file"] for d in docs}, {d["verification_status"] for d in docs}, len(keys)
    if fmt == "ndjson":
        lines = [json.loads(x) for x in data.decode().splitlines()]
        return (
            {x["document"]["source_file"] for x in lines},
            {x["document"]["verification_status"] for x in lines},
            sum(1 for x in lines if x["item"]["item_key"]),
        )
    if fmt == "csv":
        rows = list(csv.DictReader(io.StringIO(data[3:].decode(), newline="")))
    else:
        sheet = list(openpyxl.load_workbook(io.BytesIO(data))["항목"].iter_rows(values_only=True))
        rows = [dict(zip(sheet[1], r)) for r in sheet[2:]]
    return (
        {r["source_file"] for r in rows},
        {r["verification_status"] for r in rows},
        sum(1 for r in rows if r["item_key"]),
    )


@pytest.mark.parametrize("fmt", ["json", "ndjson", "csv", "xlsx"])
def test_source_file_is_the_path_under_the_folder_or_the_zip_entry(tree, tmp_path, fmt):
    """Issue 21: payroll keeps the employee number in the file name; the CLI's batch keeps the
    name — the path under the folder given, the entry's name in a ZIP given — in every format."""
    out = tmp_path / f"out.{fmt}"
    assert (
        cli.main(
            [
                "batch",
                *_paths(tree),
                "--format",
                fmt,
                "-o",
                str(out),
                "--jobs",
                "2",
                "--password",
                PASSWORD,
                "--quiet",
            ]
        )
        == bulk.EXIT_SOME_FAILED
    )
    files, statuses, keyed = _provenance(fmt, out.read_bytes())
    assert files == {
        "all.pdf",
        "locked.pdf",
        "nested/medical.pdf",
        "other-year.pdf",
        "basic/donation.pdf",
        "basic/insurance.pdf",
    }
    assert statuses == {"authentic", "unsigned"}  # other-year.pdf is a built, unsigned document
    assert keyed == sum(len(list(d.items())) for d in _expected_docs(tree))


def test_a_zip_in_a_folder_names_its_entries_under_its_path(tmp_path):
    (tmp_path / "in" / "2024").mkdir(parents=True)
    with zipfile.ZipFile(tmp_path / "in" / "2024" / "team.zip", "w") as z:
        z.write(NTS / "basic" / "donation.pdf", "E001.pdf")
    tasks = list(bulk.collect([str(tmp_path / "in")], bulk.ZipLimits(zip_max_ratio=100)))
    assert [t.source for t in tasks] == ["2024/team.zip/E001.pdf"]
