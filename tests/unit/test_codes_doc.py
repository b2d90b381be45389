"""docs/codes.md is the catalog's reference for people: generated, never edited, never stale."""

from __future__ import annotations

import subprocess
import sys

from hometax_decrypt.records import codes_doc
from hometax_decrypt.records.catalog import catalog
from tests.support.paths import ROOT

CODES_MD = ROOT / "docs" / "codes.md"


def test_codes_md_equals_the_generators_output():
    assert CODES_MD.read_text(encoding="utf-8") == codes_doc.render(), (
        "docs/codes.md is stale: run python -m hometax_decrypt.records.codes_doc"
    )


def test_the_generator_checks_and_writes(tmp_path):
    out = tmp_path / "codes.md"
    run = [sys.executable, "-m", "hometax_decrypt.records.codes_doc", "-o", str(out)]
    assert subprocess.run(run + ["--check"], capture_output=True).returncode == 1  # missing
    assert subprocess.run(run, capture_output=True).returncode == 0
    assert out.read_text(encoding="utf-8") == codes_doc.render()
    assert subprocess.run(run + ["--check"], capture_output=True).returncode == 0
    out.write_text(out.read_text(encoding="utf-8") + "edited by hand\n", encoding="utf-8")
    assert subprocess.run(run + ["--check"], capture_output=True).returncode == 1


def test_every_code_of_the_catalog_is_in_the_reference():
    text = codes_doc.render()
    cat = catalog()
    for base in cat.forms:
        assert f"| `{base}` |" in text, base
    for code, item in cat.items.items():
        assert f"| `{code}` | {item['label']} |" in text, code
    for name, table in cat.codes.items():
        assert f"### `{name}`" in text
        assert all(f"| `{k}` | {v} |" in text for k, v in table.items()), name
    for c in cat.categories:
        assert f"| `{c.key}` | {c.label} |" in text
    # the grammar of the packed columns is spelled out, and the unit of every amount
    assert "details   = " in text and "breakdown = " in text and "원" in text


def test_every_amount_field_has_its_unit():
    cat = catalog()
    for base, fields in cat.fields.items():
        for path, (fd, _source) in fields.items():
            u = codes_doc.unit(path, fd)
            assert (u != "") == (fd.get("type") == "Num"), (base, path)
    assert codes_doc.unit("man/data/repay_years", {"type": "Num"}) == "년"
    assert codes_doc.unit("man/data/sum", {"type": "Num"}) == "원"
    assert codes_doc.field_code("man/data/sum/@ddct") == "sum.ddct"
    assert codes_doc.field_code("man/data/@acc_no") == "acc_no"
