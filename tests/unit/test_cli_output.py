"""What the CLI shows and writes (issue 22, findings 8 and 10).

- every text it prints to a terminal has its control characters escaped (cli/terminal.py): a file
  name is chosen by whoever made the file or the ZIP;
- every ``-o`` file is created mode 0600 by write-then-rename and never written through a symbolic
  link: a link at the target is refused, its target untouched (service/output_file.py);
- a malformed ``HOMETAX_*`` variable is a one-line usage error (exit 2) naming it, for every command.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import unicodedata
import zipfile
from pathlib import Path

import pytest

from hometax_decrypt import errors
from tests.support.paths import SAMPLES

# (cli/terminal.py and service/output_file.py are imported inside the tests that use them, so that
# the subprocess tests also run, and fail, against a tree without them.)

SAMPLE = SAMPLES / "nts-2022" / "all.pdf"
EXE = Path(sys.executable).parent / "hometax-decrypt"

# Characters that control, hide or reorder what a terminal shows.
HOSTILE = [
    "\x00",
    "\x07",
    "\x08",
    "\t",
    "\n",
    "\r",
    "\x1b",
    "\x7f",
    "\x85",  # NEL: a line break to some terminals
    "\x9b",  # the 8-bit CSI
    "\u200e",
    "\u200f",
    "\u202a",
    "\u202e",  # right-to-left override
    "\u2066",
    "\u2069",
    "\u2028",
    "\u2029",
    "\ufeff",
    "\udcff",  # an undecodable byte of a file name (surrogateescape)
    "\U000e0001",
]


def unsafe(text: str) -> list[str]:
    """The characters of ``text`` a terminal could act on (all but printable ones and spaces)."""
    return [c for c in text if not (c.isprintable() or unicodedata.category(c) == "Zs" or c == "\n")]


def run(*args, env: dict | None = None, umask: int = 0o022, cwd=None):
    full_env = {k: v for k, v in os.environ.items() if not k.startswith("HOMETAX_")}
    full_env.update(env or {})
    return subprocess.run(
        [str(EXE), *map(str, args)],
        capture_output=True,
        env=full_env,
        timeout=120,
        umask=umask,
        cwd=cwd,
    )


# -- finding 8: control characters --------------------------------------------------------------


@pytest.mark.parametrize("ch", HOSTILE, ids=lambda c: f"U+{ord(c):04X}")
def test_every_control_and_reordering_character_is_escaped(ch):
    from hometax_decrypt.cli import terminal

    text = f"a{ch}b.pdf"
    out = terminal.shown(text)
    assert unsafe(out) == [] and out.startswith("a\\") and out.endswith("b.pdf")
    assert terminal.shown(out) == out  # idempotent: printable characters only


def test_the_escapes_are_unambiguous_and_plain_text_is_kept():
    from hometax_decrypt.cli import terminal

    assert terminal.shown("\x1b[8m") == "\\x1b[8m"
    assert terminal.shown("a\r\nb\x7f") == "a\\x0d\\x0ab\\x7f"
    assert terminal.shown("\x85\u202e") == "\\u0085\\u202e"
    assert terminal.shown("\U000e0001") == "\\U000e0001"
    korean = "김철수 2024년\u3000연말정산 (사번 12).pdf"
    assert terminal.shown(korean) == korean


def test_json_for_a_terminal_parses_back_to_the_same_value():
    from hometax_decrypt.cli import terminal

    value = {"tsa": "CN=" + "".join(HOSTILE), "reason_ko": "진본 확인"}
    text = terminal.json_text(value)
    assert unsafe(text) == [] and json.loads(text) == value and "진본 확인" in text


def _hostile_zip(path: Path) -> list[tuple[str, str]]:
    """A ZIP whose entry names carry terminal controls: (name, how its row must show it)."""
    entries = [
        ("hide\x1b[8m.pdf", "hide\\x1b[8m.pdf"),  # conceals what follows: the counts line
        (
            "x.pdf\r\nfake.pdf                       ok                 authentic\rz.pdf",
            "x.pdf\\x0d\\x0afake.pdf                       ok                 authentic\\x0dz.pdf",
        ),
        ("rtl\u202efdp.exe\x85\x9b\x7f.pdf", "rtl\\u202efdp.exe\\u0085\\u009b\\x7f.pdf"),
    ]
    with zipfile.ZipFile(path, "w") as z:
        for name, _ in entries:
            z.writestr(name, b"not a PDF")
        z.write(SAMPLE, "real\u2028.pdf")
    return [*entries, ("real\u2028.pdf", "real\\u2028.pdf")]


def test_batch_table_escapes_names_and_keeps_its_counts_line(tmp_path):
    entries = _hostile_zip(tmp_path / "evil.zip")
    folder = tmp_path / "folder"
    folder.mkdir()
    disk_name = os.fsdecode(b"disk\xff\x1b]0;title\x07.pdf")  # an undecodable byte, an OSC
    (folder / disk_name).write_bytes(b"not a PDF either")
    r = run("batch", tmp_path / "evil.zip", folder, "-o", tmp_path / "out.json", "--jobs", "1")
    out = r.stdout.decode("utf-8", "surrogateescape")
    err = r.stderr.decode("utf-8", "surrogateescape")
    assert unsafe(out) == [] and unsafe(err) == [], (out, err)
    lines = out.splitlines()
    assert len(lines) == 1 + len(entries) + 1 + 1  # header, rows, counts
    assert lines[-1] == "files: 5 (damaged 4, ok 1); read: authentic 1"
    rows = [line.rsplit(None, 2) for line in lines[1:-1]]
    assert [(code, status) for _, code, status in rows] == [
        ("damaged", "-"),
        ("damaged", "-"),
        ("damaged", "-"),
        ("ok", "authentic"),
        ("damaged", "-"),
    ]
    zip_name = str(tmp_path / "evil.zip")
    assert [name for name, _, _ in rows[:4]] == [f"{zip_name}/{shown}" for _, shown in entries]
    assert rows[4][0] == str(folder / "disk") + "\\udcff\\x1b]0;title\\x07.pdf"
    assert r.returncode == 9


@pytest.mark.parametrize("lang", ["en", "ko"])
def test_error_lines_escape_the_file_name(tmp_path, lang):
    name = tmp_path / "no\x1b[2J\u202esuch\r\n.pdf"
    for args in (["parse", name], ["verify", name], ["extract", name], ["deductions", name]):
        r = run("--lang", lang, *args)
        err = r.stderr.decode()
        assert r.returncode == 2 and r.stdout == b""
        assert unsafe(err) == [] and err.count("\n") == 1, err
        assert "no\\x1b[2J\\u202esuch\\x0d\\x0a.pdf" in err


def test_verify_json_escapes_the_tsa_name_and_keeps_its_value(tmp_path):
    """The TSA's name comes from the document's own certificate: a self-made TSA can put
    anything in it; the JSON on stdout shows it escaped and still parses back to it."""
    from tests.support import tsa

    hostile_o = "Evil\x1b[8m\u202e\x85\x9b\x7f"
    authority = tsa.make_authority(
        tsa._name(C="KR", CN="Evil Root"), tsa._name(C="KR", O=hostile_o, CN="TSA\r\nfake")
    )
    doc = tmp_path / "stamped.pdf"
    doc.write_bytes(tsa.stamp(SAMPLE.read_bytes(), authority))
    r = run("verify", doc)
    out = r.stdout.decode()
    assert r.returncode == 7 and unsafe(out) == [], out
    v = json.loads(out)
    assert v["tsa"] is None  # nobody vouches for this stamp: its name is only claimed
    assert hostile_o in v["tsa_claimed"] and "TSA\r\nfake" in v["tsa_claimed"]


# -- finding 10: output files --------------------------------------------------------------------


COMMANDS = {
    "parse": ["parse", SAMPLE, "--format", "json"],
    "extract": ["extract", SAMPLE],
    "deductions": ["deductions", SAMPLE],
    "batch": ["batch", SAMPLE, "--jobs", "1"],
}


def _parts(folder: Path) -> list[str]:
    return [p.name for p in folder.iterdir() if p.name.startswith(".hometax-")]


@pytest.mark.skipif(os.name != "posix", reason="POSIX permission bits")
@pytest.mark.parametrize("command", list(COMMANDS))
def test_every_output_file_is_0600_under_umask_022(tmp_path, command):
    new, old = tmp_path / "new.out", tmp_path / "old.out"
    old.write_bytes(b"an earlier run")
    old.chmod(0o644)
    for target in (new, old):
        r = run(*COMMANDS[command], "-o", target, umask=0o022)
        assert r.returncode == 0, r.stderr
        assert target.stat().st_mode & 0o777 == 0o600, command
        assert target.stat().st_size > 1000 and target.read_bytes() != b"an earlier run"
    assert _parts(tmp_path) == []


@pytest.mark.parametrize("command", list(COMMANDS))
def test_a_symlink_at_the_output_is_refused_and_never_followed(tmp_path, command):
    """Someone who can write the output's folder plants a link to a file of the user's (or to
    where they can read): the command refuses with a usage error; the link stays a link and the
    file it names is untouched (or, for a dangling link, never created)."""
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    victim = elsewhere / "victim.txt"
    victim.write_bytes(b"keep me")
    outputs = tmp_path / "outputs"
    outputs.mkdir()
    for target, name in ((victim, "to-file.out"), (elsewhere / "absent.out", "dangling.out")):
        link = outputs / name
        link.symlink_to(target)
        r = run(*COMMANDS[command], "-o", link)
        err = r.stderr.decode()
        assert r.returncode == 2 and err.count("\n") == 1 and "symbolic link" in err, err
        assert link.is_symlink() and os.readlink(link) == str(target)
    assert victim.read_bytes() == b"keep me"
    assert not (elsewhere / "absent.out").exists()
    assert _parts(outputs) == [] and sorted(p.name for p in elsewhere.iterdir()) == ["victim.txt"]


@pytest.mark.parametrize("unnamed", [True, False], ids=["o_tmpfile", "named_temporary"])
def test_a_failed_write_leaves_the_target_and_no_partial_file(tmp_path, monkeypatch, unnamed):
    from hometax_decrypt.service import output_file

    if not unnamed:  # a system or file system without unnamed files: a hidden temporary name
        monkeypatch.delattr(os, "O_TMPFILE", raising=False)
    target = tmp_path / "out.json"
    target.write_bytes(b"previous")
    for exc in (RuntimeError("boom"), KeyboardInterrupt()):
        with pytest.raises(type(exc)):
            with output_file.replacing(target) as fh:
                fh.write(b"half of the resident numbers")
                # the content goes to a new file first; on Linux it has no name until complete
                assert target.read_bytes() == b"previous"
                assert len(_parts(tmp_path)) == (0 if unnamed else 1)
                raise exc
        assert target.read_bytes() == b"previous" and _parts(tmp_path) == []
    with output_file.replacing(target) as fh:
        fh.write(b"new")
    assert target.read_bytes() == b"new" and target.stat().st_mode & 0o777 == 0o600
    assert _parts(tmp_path) == []
    folder = tmp_path / "a-folder"
    folder.mkdir()
    with pytest.raises(errors.UsageError, match="folder"):
        output_file.write(folder, b"x")
    with pytest.raises(errors.UsageError, match="cannot write"):
        output_file.write(tmp_path / "missing" / "out.json", b"x")
    output_file.write(target, b"new")
    assert target.read_bytes() == b"new" and _parts(tmp_path) == []


@pytest.mark.skipif(not os.path.exists("/dev/null"), reason="a device file")
def test_a_device_at_the_output_is_refused():
    from hometax_decrypt.service import output_file

    with pytest.raises(errors.UsageError, match="not a regular file"):
        output_file.check_target("/dev/null")


# -- finding 10: malformed settings --------------------------------------------------------------

MALFORMED = {
    "HOMETAX_MAX_INPUT_BYTES": "-1",
    "HOMETAX_MAX_OBJECTS": "1_000",
    "HOMETAX_MAX_PART_BYTES": "\u0661\u0662",  # Arabic-Indic digits: int() takes them
    "HOMETAX_MAX_SECONDS": "nan",
    "HOMETAX_MAX_STRUCTURE_BYTES": "0",  # qpdf: no limit at all
    "HOMETAX_MAX_XML_ELEMENTS": "99999999999999999999999",
    "HOMETAX_TRUST_PINNED": "not-a-fingerprint",
    "HOMETAX_TRUST_DIR": "/nonexistent/secret-dir",
}
ARGS = {
    "parse": ["parse", SAMPLE],
    "verify": ["verify", SAMPLE],
    "extract": ["extract", SAMPLE],
    "deductions": ["deductions", SAMPLE],
    "batch": ["batch", SAMPLE, "--jobs", "1"],
}


@pytest.mark.parametrize("command", list(ARGS))
def test_a_malformed_setting_is_one_usage_line_naming_the_variable(tmp_path, command, monkeypatch, capsys):
    """Every malformed variable, every command (in process: the same main() as the console
    script; the subprocess test below checks the script itself)."""
    from hometax_decrypt.cli import commands as cli

    for name in [v for v in os.environ if v.startswith("HOMETAX_")]:
        monkeypatch.delenv(name)
    out = tmp_path / "out"
    args = [str(a) for a in ARGS[command]] + (["-o", str(out)] if command != "verify" else [])
    for variable, value in MALFORMED.items():
        monkeypatch.setenv(variable, value)
        rc = cli.main(args)
        monkeypatch.delenv(variable)
        captured = capsys.readouterr()
        err = captured.err
        assert rc == 2 and captured.out == "", (variable, err)
        assert err.count("\n") == 1 and err.startswith("usage:") and variable in err, err
        assert value not in err
        assert not out.exists()


@pytest.mark.parametrize(
    "command, variable",
    [
        ("parse", "HOMETAX_MAX_INPUT_BYTES"),
        ("batch", "HOMETAX_MAX_SECONDS"),
        ("verify", "HOMETAX_TRUST_PINNED"),
    ],
)
def test_the_console_script_exits_2_with_one_line(tmp_path, command, variable):
    value = MALFORMED[variable]
    out = tmp_path / "out"
    r = run(*ARGS[command], *(["-o", out] if command != "verify" else []), env={variable: value})
    err = r.stderr.decode()
    assert r.returncode == 2 and r.stdout == b"" and err.count("\n") == 1, err
    assert err.startswith("usage:") and variable in err and value not in err and "Traceback" not in err
    assert not out.exists()


def test_the_ok_forms_of_the_same_settings_still_work(tmp_path):
    env = {
        "HOMETAX_MAX_SECONDS": " 30.5 ",
        "HOMETAX_MAX_STRUCTURE_BYTES": "4294967295",
        "HOMETAX_TRUST_PINNED": "AB:" * 31 + "AB",
        "HOMETAX_TRUST_DIR": str(tmp_path),  # an empty folder adds nothing
    }
    r = run("verify", SAMPLE, env=env)
    assert r.returncode == 0, r.stderr


@pytest.mark.skipif(os.name != "posix", reason="POSIX permission bits")
def test_the_nts_functions_write_their_file_the_same_way(tmp_path):
    """NTS_GetFile (the NTS API's drop-in) writes the data part, resident numbers and all."""
    from hometax_decrypt import nts_compat

    out, victim = tmp_path / "out.xml", tmp_path / "victim"
    victim.write_bytes(b"keep me")
    old = os.umask(0o022)
    try:
        assert nts_compat.NTS_GetFile(str(SAMPLE), "", "XML", str(out), False) == 1
        (tmp_path / "link.xml").symlink_to(victim)
        assert nts_compat.NTS_GetFile(str(SAMPLE), "", "XML", str(tmp_path / "link.xml"), False) == -2
    finally:
        os.umask(old)
    assert out.stat().st_mode & 0o777 == 0o600 and out.read_bytes().startswith(b"<?xml")
    assert victim.read_bytes() == b"keep me" and _parts(tmp_path) == []
