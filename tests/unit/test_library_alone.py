"""Issue 20: the library on its own. Importing it changes nothing process-wide; it reads no
environment by itself (a bad server variable breaks neither a library call nor the CLI); the CLI and
the library run without Flask installed."""

from __future__ import annotations

import os
import subprocess
import sys

from tests.support.paths import ROOT, SAMPLES

ALL = SAMPLES / "nts-2020" / "all.pdf"
ALL_PW = SAMPLES / "nts-2020" / "all-password-1234567.pdf"
SRC = str(ROOT / "src")


def _python(code: str, *args, env: dict | None = None) -> subprocess.CompletedProcess:
    full = {k: v for k, v in os.environ.items() if not k.startswith("HOMETAX_")}
    full["PYTHONPATH"] = os.pathsep.join([SRC, str(ROOT)])
    full.update(env or {})
    return subprocess.run(
        [sys.executable, "-c", code, *map(str, args)], capture_output=True, text=True, env=full, timeout=120
    )


IMPORT_EVERYTHING = """
import sys, warnings, pikepdf
from werkzeug import formparser
before = (pikepdf.settings.get_qpdf_limits(), list(warnings.filters), formparser.MultipartDecoder)
import hometax_decrypt, hometax_decrypt.cli, hometax_decrypt.service.bulk, hometax_decrypt.nts_compat
import hometax_decrypt.document.pdf, hometax_decrypt.web, hometax_decrypt.web.api
import hometax_decrypt.web.inmemory, hometax_decrypt.formats, hometax_decrypt.records
after = (pikepdf.settings.get_qpdf_limits(), list(warnings.filters), formparser.MultipartDecoder)
assert before == after, (before, after)
hometax_decrypt.configure_process()  # the explicit call changes what it says it changes
hometax_decrypt.web.inmemory.install()
changed = (pikepdf.settings.get_qpdf_limits(), list(warnings.filters), formparser.MultipartDecoder)
assert changed[0] != before[0] and changed[1] != before[1] and changed[2] is not before[2]
print("unchanged")
"""


def test_importing_the_library_changes_nothing_process_wide():
    r = _python(IMPORT_EVERYTHING)
    assert r.returncode == 0 and r.stdout.strip() == "unchanged", r.stderr


def test_a_bad_server_variable_breaks_no_library_call_and_no_cli_command(tmp_path):
    env = {
        "HOMETAX_RATE_LIMIT": "abc",
        "HOMETAX_API_KEYS": "plain",
        "HOMETAX_INSTANCES": "x",
        # a limit set in the environment is not read by the library by itself
        "HOMETAX_MAX_INPUT_BYTES": "10",
    }
    code = (
        "import sys, hometax_decrypt as h\n"
        "data = open(sys.argv[1], 'rb').read()\n"
        "assert h.verify(data).authentic and h.extract(data).startswith(b'<?xml')\n"
        "assert h.parse(data).forms\n"
        "print('ok')\n"
    )
    r = _python(code, ALL, env=env)
    assert r.returncode == 0 and r.stdout.strip() == "ok", r.stderr
    env.pop("HOMETAX_MAX_INPUT_BYTES")
    cli = "import sys; from hometax_decrypt.cli import main; sys.exit(main(sys.argv[1:]))"
    r = _python(cli, "verify", ALL, env=env)
    assert r.returncode == 0 and '"authentic": true' in r.stdout, r.stderr
    r = _python(cli, "batch", ALL, "-o", tmp_path / "x.csv", "--jobs", "1", "--quiet", env=env)
    assert r.returncode == 0, r.stderr


def test_a_bad_library_variable_is_a_usage_error_of_the_cli():
    cli = "import sys; from hometax_decrypt.cli import main; sys.exit(main(sys.argv[1:]))"
    for name, value in (("HOMETAX_MAX_SECONDS", "soon"), ("HOMETAX_TRUST_REPLACE", "maybe")):
        r = _python(cli, "verify", ALL, env={name: value})
        assert r.returncode == 2, r.stderr
        lines = r.stderr.splitlines()
        assert len(lines) == 1 and lines[0].startswith("usage:") and name in lines[0]
        assert "Traceback" not in r.stderr and value not in r.stderr


BLOCK_SERVER = """
import sys
class Block:
    def find_spec(self, name, path=None, target=None):
        if name.split('.')[0] in {'flask', 'werkzeug', 'gunicorn', 'waitress', 'prometheus_client'}:
            raise ImportError('blocked: ' + name)
sys.meta_path.insert(0, Block())
from hometax_decrypt.cli import main
sys.exit(main(sys.argv[1:]))
"""


def test_the_cli_and_the_library_run_without_flask(tmp_path):
    r = _python(BLOCK_SERVER, "extract", ALL, "-o", tmp_path / "all.xml")
    assert r.returncode == 0, r.stderr
    assert (tmp_path / "all.xml").read_bytes().startswith(b"<?xml")
    r = _python(BLOCK_SERVER, "parse", ALL, "--format", "csv", "-o", tmp_path / "all.csv")
    assert r.returncode == 0, r.stderr
    for jobs in ("1", "2"):
        r = _python(
            BLOCK_SERVER,
            "batch",
            ALL,
            ALL_PW,
            "--password",
            "1234567",
            "--jobs",
            jobs,
            "--format",
            "json",
            "-o",
            tmp_path / "all.json",
            "--quiet",
        )
        assert r.returncode == 0 and "ok 2" in r.stdout, r.stderr
