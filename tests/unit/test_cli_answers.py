"""Issue 21: CLI answers that help — a missing file is a usage error that names it, messages in
Korean where the locale is Korean (or with --lang ko), and a batch that needed passwords says how
to give them. Issue 20: a format registered in the registry is batched without any other change."""

from __future__ import annotations

import io
import shutil

import pytest

from hometax_decrypt import errors, formats
from hometax_decrypt.cli import commands as cli
from hometax_decrypt.service import bulk, engine
from hometax_decrypt.service import operations as service
from tests.support.paths import SAMPLES

ALL = SAMPLES / "nts-2020" / "all.pdf"
ALL_PW = SAMPLES / "nts-2020" / "all-password-1234567.pdf"
LOCALE = ("LC_ALL", "LC_MESSAGES", "LANG", "HOMETAX_PASSWORD")


@pytest.fixture
def english(monkeypatch):
    for name in LOCALE:
        monkeypatch.delenv(name, raising=False)
    return monkeypatch


def test_a_missing_file_is_a_usage_error_naming_it(english, capsys, tmp_path):
    missing = str(tmp_path / "no-such.pdf")
    for command in (["extract", missing], ["verify", missing], ["parse", missing]):
        assert cli.main(command) == 2
        err = capsys.readouterr().err
        assert err.splitlines() == [f"usage: Invalid arguments. (no such file: {missing})"]


@pytest.mark.parametrize(
    "env, args, korean",
    [
        ({"LANG": "ko_KR.UTF-8"}, [], True),
        ({"LC_MESSAGES": "ko_KR", "LANG": "C"}, [], True),
        ({"LC_ALL": "en_US.UTF-8", "LANG": "ko_KR.UTF-8"}, [], False),  # LC_ALL wins
        ({"LANG": "C.UTF-8"}, ["--lang", "ko"], True),
        ({"LANG": "ko_KR.UTF-8"}, ["--lang", "en"], False),
    ],
)
def test_messages_in_korean_where_the_locale_is_korean(english, capsys, tmp_path, env, args, korean):
    for name, value in env.items():
        english.setenv(name, value)
    missing = str(tmp_path / "없는파일.pdf")
    assert cli.main(["extract", missing, *args]) == 2
    err = capsys.readouterr().err
    expected = (
        f"usage: {errors.SPECS['usage'].message_ko} (파일이 없습니다: {missing})"
        if korean
        else f"usage: Invalid arguments. (no such file: {missing})"
    )
    assert err.splitlines() == [expected]
    assert cli.main(["extract", str(ALL_PW), *args]) == 3
    err = capsys.readouterr().err
    spec = errors.SPECS["password_required"]
    assert err.splitlines() == [f"password_required: {spec.message_ko if korean else spec.message}"]


def test_lang_before_the_command_and_argument_errors(english, capsys):
    assert cli.main(["--lang", "ko", "extract", str(ALL_PW)]) == 3
    assert "문서열기암호" in capsys.readouterr().err
    assert cli.main(["--lang", "ko", "extract"]) == 2  # argparse's own error, in Korean
    assert capsys.readouterr().err.startswith("usage: 요청이 올바르지 않습니다.")


def test_a_batch_without_passwords_ends_with_how_to_give_one(english, capsys, tmp_path):
    folder = tmp_path / "in"
    folder.mkdir()
    shutil.copy(ALL, folder / "all.pdf")
    shutil.copy(ALL_PW, folder / "locked.pdf")
    out = str(tmp_path / "out.csv")
    assert cli.main(["batch", str(folder), "-o", out, "--jobs", "1", "--quiet"]) == 9
    err = capsys.readouterr().err.splitlines()
    assert len(err) == 1 and "1 file(s) need a password" in err[0]
    assert "--password-stdin" in err[0] and "--password-file" in err[0]
    assert cli.main(["batch", str(folder), "-o", out, "--quiet", "--lang", "ko"]) == 9
    assert "비밀번호가 필요한 파일이 1개" in capsys.readouterr().err
    # a password given (wrong or right): no hint
    english.setattr("sys.stdin", io.StringIO("0000000\n"))
    assert cli.main(["batch", str(folder), "-o", out, "--quiet", "--password-stdin"]) == 9
    assert capsys.readouterr().err == ""
    english.setattr("sys.stdin", io.StringIO("1234567\n"))
    assert cli.main(["batch", str(folder), "-o", out, "--quiet", "--password-stdin"]) == 0
    assert capsys.readouterr().err == ""


def _fake_writer(docs, mask=False, deadline=None) -> bytes:
    """A new format, registered with a writer only (no stream)."""
    return b"".join(f"{d.doc.seq};{len(d.forms)}\n".encode() for d in docs) + b"end\n"


def test_a_newly_registered_format_is_batched(monkeypatch, tmp_path):
    fake = formats.Format("fake", _fake_writer, "text/plain", "txt", "가짜")
    monkeypatch.setitem(formats.FORMATS, "fake", fake)
    folder = tmp_path / "in"
    folder.mkdir()
    for name in ("a.pdf", "b.pdf", "c.pdf"):
        shutil.copy(ALL, folder / name)
    (folder / "broken.pdf").write_bytes(b"%PDF-1.4 broken")
    docs = [service.parse(ALL).document] * 3
    expected = _fake_writer(docs)
    for jobs in (1, 2):  # on the process pool
        out = tmp_path / f"out-{jobs}.txt"
        report = bulk.run([str(folder)], "fake", str(out), jobs=jobs)
        assert [f.code for f in report.files] == ["ok", "ok", "damaged", "ok"]  # sorted names
        assert out.read_bytes() == expected
    # in this process (the HTTP /batch's way)
    files = [(p.name, p.read_bytes()) for p in sorted(folder.iterdir())]
    results = list(engine.batch(files, lambda n: None, fmt=fake))
    assert engine.combine(fake, results) == expected
