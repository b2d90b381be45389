"""The command line (issue 2): outputs, exit codes, one-line errors, the three ways to pass a password."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from tests.support import builder
from tests.support.paths import SAMPLES

ALL = SAMPLES / "nts-2020" / "all.pdf"
ALL_PW = SAMPLES / "nts-2020" / "all-password-1234567.pdf"
EXE = Path(sys.executable).parent / "hometax-decrypt"


def run(*args, stdin: str | None = None, env: dict | None = None):
    full_env = {k: v for k, v in os.environ.items() if k != "HOMETAX_PASSWORD"}
    full_env.update(env or {})
    return subprocess.run(
        [str(EXE), *map(str, args)],
        input=stdin.encode() if stdin else None,
        capture_output=True,
        env=full_env,
        timeout=60,
    )


def test_console_script_is_installed():
    assert EXE.exists()


def test_extract_euc_kr_to_stdout_and_file(tmp_path):
    r = run("extract", ALL, "--encoding", "euc-kr")
    assert r.returncode == 0, r.stderr
    assert r.stdout == (SAMPLES / "nts-2020" / "all.expected.euc-kr.xml").read_bytes()
    out = tmp_path / "all.sam"
    r = run("extract", ALL, "--part", "sam", "--encoding", "euc-kr", "-o", out)
    assert r.returncode == 0 and r.stdout == b""
    assert out.read_bytes() == (SAMPLES / "nts-2020" / "all.expected.euc-kr.sam").read_bytes()


@pytest.mark.parametrize("how", ["argument", "stdin", "environment"])
def test_password_sources(how):
    if how == "argument":
        r = run("extract", ALL_PW, "--password", "1234567")
    elif how == "stdin":
        r = run("extract", ALL_PW, "--password-stdin", stdin="1234567\n")
    else:
        r = run("extract", ALL_PW, env={"HOMETAX_PASSWORD": "1234567"})
    assert r.returncode == 0, r.stderr
    assert r.stdout.startswith(b'<?xml version="1.0" encoding="utf-8" ?>\n<yesone>')


@pytest.mark.parametrize(
    "args, code, exit_code",
    [
        ((ALL_PW,), "password_required", 3),
        ((ALL_PW, "--password", "99887766"), "wrong_password", 3),
        (("PLAIN",), "not_nts_document", 4),
        (("RANDOM",), "damaged", 5),
        (("/nonexistent/file.pdf",), "usage", 2),
        ((ALL, "--part", "pdf"), "usage", 2),
        ((ALL, "--password", "a", "--password-stdin"), "usage", 2),
    ],
)
def test_errors_one_line_on_stderr_nothing_on_stdout(tmp_path, args, code, exit_code):
    files = {"PLAIN": builder.plain_pdf(), "RANDOM": builder.random_bytes()}
    real = []
    for a in args:
        if a in files:
            p = tmp_path / f"{a}.pdf"
            p.write_bytes(files[a])
            a = p
        real.append(a)
    r = run("extract", *real)
    assert r.returncode == exit_code
    assert r.stdout == b""
    lines = r.stderr.decode().splitlines()
    assert len(lines) == 1 and lines[0].startswith(code + ":"), r.stderr
    assert "Traceback" not in r.stderr.decode()
    assert "99887766" not in r.stderr.decode()


def test_too_large_exit_6(tmp_path, bomb):
    p = tmp_path / "bomb.pdf"
    p.write_bytes(bomb)
    r = run("extract", p)
    assert r.returncode == 6 and r.stdout == b""
    assert r.stderr.decode().startswith("too_large:")
    r = run("extract", ALL, env={"HOMETAX_MAX_INPUT_BYTES": "1000"})
    assert r.returncode == 6


def test_no_subcommand_is_usage():
    r = run()
    assert r.returncode == 2 and len(r.stderr.decode().splitlines()) == 1


def test_legacy_document_via_cli(tmp_path):
    p = tmp_path / "legacy.pdf"
    p.write_bytes(builder.build_nts_pdf(legacy=True, encryption="aes-256", user_password="암호1234"))
    r = run("extract", p, "--password-stdin", "--encoding", "euc-kr", stdin="암호1234")
    assert r.returncode == 0, r.stderr
    assert r.stdout.decode("cp949").startswith('<?xml version="1.0" encoding="euc-kr" ?>')


@pytest.mark.parametrize(
    "args",
    [
        ("extract", ALL, "7501011234567"),  # a stray positional value
        ("extract", ALL, "--pasword", "7501011234567"),  # a mistyped option
        ("extract", ALL, "--part", "7501011234567"),  # an invalid choice
        ("extract", ALL, "--password"),  # a missing value
    ],
)
def test_usage_errors_do_not_echo_values(args):
    r = run(*args)
    assert r.returncode == 2 and r.stdout == b""
    err = r.stderr.decode()
    assert err.startswith("usage:") and len(err.splitlines()) == 1
    assert "7501011234567" not in err


def test_unwritable_output_is_a_usage_error(tmp_path):
    r = run("extract", ALL, "-o", tmp_path / "missing-dir" / "out.xml")
    assert r.returncode == 2 and r.stdout == b""
    assert r.stderr.decode().startswith("usage:") and "Traceback" not in r.stderr.decode()


def test_a_time_limit_is_timeout_exit_8():
    """A time limit has its own code (issue 12): ``timeout``, exit 8, no longer ``too_large``."""
    r = run("extract", ALL, env={"HOMETAX_MAX_SECONDS": "0"})
    assert r.returncode == 8 and r.stdout == b""
    assert r.stderr.decode().startswith("timeout:")
