"""The catalog: generated from the NTS workbook (and up to date with it), covering every sample."""

from __future__ import annotations

import json
import subprocess
import sys

import xlrd
from conftest import ROOT, SHARED, password_for, sample_files
from lxml import etree

import hometax_decrypt
from hometax_decrypt.yesone import catalog

WORKBOOK = SHARED / "reference" / "nts-xml-definition-v1.70.xls"
GENERATED = ROOT / "src" / "hometax_decrypt" / "yesone" / "catalog_data.json"
SUPPLEMENT = ROOT / "src" / "hometax_decrypt" / "yesone" / "catalog_supplement.json"


def test_generated_catalog_is_up_to_date(tmp_path):
    out = tmp_path / "catalog_data.json"
    r = subprocess.run([sys.executable, str(ROOT / "scripts" / "build_catalog.py"),
                        "--workbook", str(WORKBOOK), "--out", str(out)],
                       capture_output=True, text=True, timeout=120)
    assert r.returncode == 0, r.stderr
    assert out.read_text(encoding="utf-8") == GENERATED.read_text(encoding="utf-8"), \
        "catalog_data.json is stale: run `make catalog` and commit the result"


def test_every_workbook_form_sheet_is_in_the_catalog():
    book = xlrd.open_workbook(str(WORKBOOK))
    data = json.loads(GENERATED.read_text(encoding="utf-8"))
    sheets = [n for n in book.sheet_names() if n[:1].isalpha() and "(" in n and n[1:4].isdigit()]
    assert len(sheets) == 26
    for name in sheets:
        title = str(book.sheet_by_name(name).cell_value(0, 0))
        base = name[:4]
        assert data["forms"][base]["label"] == " ".join(title.split("-", 1)[1].split())
        assert data["forms"][base]["fields"], name
    # the table of contents lists the item codes with their names
    assert data["items"]["G0003"]["label"] == "의료비"
    assert data["items"]["G0040"]["label"] == "실손의료보험금"
    assert data["source"]["version"] == "1.7" and data["source"]["published"] == "2020"


def test_code_lists_and_yearly_versions():
    cat = catalog()
    assert cat.code_label("edu_tp", "L") == "학점은행제"
    assert cat.code_label("edu_tp", "3") == "중학교"
    assert cat.code_label("donation_cd", "41") == "종교단체기부금"
    assert cat.code_label("use_place_cd", "4") == "도서공연등"
    assert cat.code_label("pension_cd", "11") == "근로자퇴직급여보장법"
    assert cat.code_label("fix_cd", "E") == "예정"
    assert cat.code_label("typeCd", "05") == "아파트"
    assert cat.code_label("doc_type", "D") == "상세내역(월별/일별)"
    cards = {v["form"]: v["years"] for v in cat.versions["G1"]}
    assert cards["G106"] == [2017] and cards["G107"] == [2018, 2019] and 2020 in cards["G108"]
    assert cards["G110"] == [2022]  # from the supplement
    assert {v["form"] for v in cat.versions["J2"]} >= {"J201", "J202", "J203"}


def test_supplement_is_separate_and_sourced():
    data = json.loads(GENERATED.read_text(encoding="utf-8"))
    sup = json.loads(SUPPLEMENT.read_text(encoding="utf-8"))
    assert not set(sup["forms"]) & set(data["forms"]), "the workbook covers it: drop it here"
    assert not set(sup["items"]) & set(data["items"])
    for entry in list(sup["forms"].values()) + list(sup["items"].values()) + list(sup["codes"].values()):
        assert entry["source"]
    for fields in sup["fields"].values():
        assert all(fd["source"] and fd["label"] for fd in fields.values())


def test_every_code_and_field_in_the_samples_has_a_label():
    cat = catalog()
    missing = set()
    for path in sample_files():
        root = etree.fromstring(hometax_decrypt.extract(path, password=password_for(path)))
        for form in root.iter("form"):
            fc = form.get("form_cd")
            info = cat.form(fc)
            if not (info.known and info.label and info.category):
                missing.add(("form", fc))
            for man in form.iter("man"):
                for sd in man.iter("sum_data"):
                    for c in sd:
                        if not cat.field_label(fc, f"man/sum_data/{c.tag}"):
                            missing.add((fc, c.tag))
                for data in man.iter("data"):
                    if not cat.item_label(fc, data.get("dat_cd")):
                        missing.add(("dat_cd", data.get("dat_cd")))
                    for a in data.attrib:
                        if not cat.field_label(fc, f"man/data/@{a}"):
                            missing.add((fc, "@" + a))
                    for c in data:
                        if not cat.field_label(fc, f"man/data/{c.tag}"):
                            missing.add((fc, c.tag))
                        for a in c.attrib:
                            if not cat.field_label(fc, f"man/data/{c.tag}/@{a}"):
                                missing.add((fc, f"{c.tag}@{a}"))
    assert not missing, sorted(missing)


def test_unknown_form_falls_back_to_family():
    cat = catalog()
    info = cat.form("G199M")
    # changed by issue 10: label_source "family" is now "inferred", and the label says so
    assert (info.known, info.source, info.category, info.period_label) == (False, "inferred", "신용카드", "월별")
    assert info.label == "신용카드 (G199M: 정의서 미수록)"
    assert cat.field_entry("G199M", "man/data/@use_place_cd") == (
        cat.field("G108Y", "man/data/@use_place_cd"), "inferred")
    assert cat.field_label("G199M", "man/data/@use_place_cd") == "종류"
    none = cat.form("Z001Y")
    assert (none.label, none.source) == (None, "unknown")
