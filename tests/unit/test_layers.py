"""The layout's import contracts (``[tool.importlinter]`` in pyproject.toml, README "Layout") hold,
and they are real: an import against the layers, or a package no contract places, breaks them. And
the format facts the code cites (``docs/format.md §N``) are in the repository, under those numbers.

import-linter is a development tool (the ``dev`` extra, which ``make install`` installs); without it
these tests fail (never skip).
"""

from __future__ import annotations

import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from tests.support.paths import ROOT

PACKAGE = ROOT / "src" / "hometax_decrypt"


def lint_imports(src: Path) -> subprocess.CompletedProcess:
    """``lint-imports`` with the project's contracts, over the package found in ``src``."""
    code = "import sys; from importlinter.cli import lint_imports_command; sys.exit(lint_imports_command())"
    return subprocess.run(
        [sys.executable, "-c", code, "--config", str(ROOT / "pyproject.toml"), "--no-cache"],
        cwd=ROOT,
        env={"PYTHONPATH": str(src), "PATH": "/usr/bin:/bin"},
        capture_output=True,
        text=True,
        timeout=120,
    )


@pytest.fixture
def src_copy(tmp_path: Path) -> Path:
    """A copy of the package to break on purpose."""
    shutil.copytree(PACKAGE, tmp_path / "hometax_decrypt", ignore=shutil.ignore_patterns("__pycache__"))
    return tmp_path


def test_the_package_keeps_its_contracts():
    r = lint_imports(ROOT / "src")
    assert r.returncode == 0, r.stdout + r.stderr
    assert "0 broken" in r.stdout


def _broken(r: subprocess.CompletedProcess) -> str:
    assert r.returncode != 0, "the contracts should be broken:\n" + r.stdout
    return r.stdout


def test_a_lower_layer_importing_a_higher_one_breaks_them(src_copy):
    # the records may not reach up into the service (nor the document into the records)
    (src_copy / "hometax_decrypt" / "records" / "upward.py").write_text("from ..service import operations\n")
    with (src_copy / "hometax_decrypt" / "document" / "limits.py").open("a") as f:
        f.write("\nfrom ..timestamp import result\n")
    out = _broken(lint_imports(src_copy))
    assert "hometax_decrypt.records.upward -> hometax_decrypt.service.operations" in out
    assert "hometax_decrypt.document.limits -> hometax_decrypt.timestamp.result" in out


def test_adapters_stay_independent_and_the_core_imports_no_framework(src_copy):
    (src_copy / "hometax_decrypt" / "cli" / "uses_web.py").write_text("from .. import web\n")
    (src_copy / "hometax_decrypt" / "formats" / "flasky.py").write_text("import flask\n")
    out = _broken(lint_imports(src_copy))
    assert "hometax_decrypt.cli.uses_web -> hometax_decrypt.web" in out
    assert "hometax_decrypt.formats.flasky -> flask" in out


def test_a_package_no_contract_places_breaks_them(src_copy):
    (src_copy / "hometax_decrypt" / "newthing").mkdir()
    (src_copy / "hometax_decrypt" / "newthing" / "__init__.py").write_text("")
    (src_copy / "hometax_decrypt" / "document" / "newpart.py").write_text("")
    out = _broken(lint_imports(src_copy))
    assert "hometax_decrypt.newthing" in out
    assert "hometax_decrypt.document.newpart" in out


def test_deductions_sits_under_formats_over_the_records(src_copy):
    """The deductions package (issue 19) uses the records and nothing above it; formats (the XLSX
    공제신고서 sheet) may use deductions, never the reverse."""
    deductions = src_copy / "hometax_decrypt" / "deductions"
    (deductions / "upward.py").write_text("from ..formats import json\n")
    out = _broken(lint_imports(src_copy))
    assert "hometax_decrypt.deductions.upward -> hometax_decrypt.formats.json" in out


def test_every_format_citation_names_a_section_of_docs_format_md():
    sections = set(
        re.findall(r"^## (\d+)\. ", (ROOT / "docs" / "format.md").read_text(encoding="utf-8"), re.M)
    )
    assert len(sections) >= 8
    cited: dict[str, set[str]] = {}
    for path in [
        *ROOT.glob("src/**/*.py"),
        *ROOT.glob("src/**/*.json"),
        *ROOT.glob("tests/**/*.py"),
        *ROOT.glob("docs/*.md"),
        ROOT / "README.md",
    ]:
        if path.resolve() in (Path(__file__).resolve(), ROOT / "docs" / "format.md"):
            continue  # this test, and the copy's note on where it comes from
        text = path.read_text(encoding="utf-8")
        assert "FORMAT.md" not in text, f"{path}: cite docs/format.md (in the repository), not FORMAT.md"
        for refs in re.findall(r"docs/format\.md`? ((?:§ ?\d+(?:, )?)+)", text):
            cited.setdefault(str(path.relative_to(ROOT)), set()).update(re.findall(r"\d+", refs))
    assert len(cited) >= 10  # the code does cite it
    wrong = {p: sorted(n - sections) for p, n in cited.items() if n - sections}
    assert not wrong, wrong
