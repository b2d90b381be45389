"""The catalog: generated from the NTS workbook (and up to date with it), covering every sample."""

from __future__ import annotations

import json
import re
import subprocess
import sys

import xlrd
from lxml import etree

import hometax_decrypt
from hometax_decrypt import records
from hometax_decrypt.records import catalog
from tests.support.paths import REFERENCE, ROOT, SAMPLES, password_for, sample_files

WORKBOOK = REFERENCE / "nts-xml-definition-v1.70.xls"
GENERATED = ROOT / "src" / "hometax_decrypt" / "records" / "catalog_data.json"
SUPPLEMENT = ROOT / "src" / "hometax_decrypt" / "records" / "catalog_supplement.json"


def test_generated_catalog_is_up_to_date(tmp_path):
    out = tmp_path / "catalog_data.json"
    r = subprocess.run(
        [
            sys.executable,
            str(ROOT / "scripts" / "build_catalog.py"),
            "--workbook",
            str(WORKBOOK),
            "--out",
            str(out),
        ],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert r.returncode == 0, r.stderr
    assert out.read_text(encoding="utf-8") == GENERATED.read_text(encoding="utf-8"), (
        "catalog_data.json is stale: run `make catalog` and commit the result"
    )


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
    assert (info.known, info.source, info.category, info.period_label) == (
        False,
        "inferred",
        "신용카드",
        "월별",
    )
    assert info.label == "신용카드 (G199M: 정의서 미수록)"
    assert cat.field_entry("G199M", "man/data/@use_place_cd") == (
        cat.field("G108Y", "man/data/@use_place_cd"),
        "inferred",
    )
    assert cat.field_label("G199M", "man/data/@use_place_cd") == "종류"
    none = cat.form("Z001Y")
    assert (none.label, none.source) == (None, "unknown")


# -- issue 10: by form and tax year, never from an unrelated form -------------------------------


def _families(cat, base):
    return {b for b in cat.fields if b[:2] == base[:2]}


def test_card_sum_in_the_2022_sample_is_not_labelled_from_the_insurance_form():
    """G110Y/G210M ``<sum>`` was labelled "납입금액계", the label of A102 (insurance)."""
    path = SAMPLES / "nts-2022" / "all.pdf"
    d = records.document_to_dict(records.parse_document(path, password=password_for(path)))
    cards = [f for f in d["forms"] if f["form_cd"] in ("G110Y", "G210M")]
    assert len(cards) == 2
    for f in cards:
        for p in f["people"]:
            for it in p["items"]:
                assert (
                    it["sum"]["label"] == catalog().field_label("G108Y", "man/data/sum") == "공제대상금액합계"
                )
    assert catalog().field_entry("G110Y", "man/data/sum")[1] == "inferred"


def _used_paths():
    """(form_cd, att_year, path) of every element and attribute in the samples and the builder's
    documents of 2021, 2023, 2024 and 2026."""
    from tests.support import builder

    docs = [hometax_decrypt.extract(p, password=password_for(p)) for p in sample_files()]
    docs += [builder.year_xml(y) for y in builder.YEAR_CARD_VERSION]
    for xml in docs:
        root = etree.fromstring(xml)
        year = root.findtext("doc/att_year")
        for form in root.iter("form"):
            fc = form.get("form_cd")
            for man in form.iter("man"):
                for sd in man.iter("sum_data"):
                    for c in sd:
                        yield fc, year, f"man/sum_data/{c.tag}", None
                for data in man.iter("data"):
                    yield fc, year, None, data.get("dat_cd")
                    for a in data.attrib:
                        yield fc, year, f"man/data/@{a}", None
                    for c in data:
                        yield fc, year, f"man/data/{c.tag}", None
                        for a in c.attrib:
                            yield fc, year, f"man/data/{c.tag}/@{a}", None


def test_no_label_comes_from_another_form_family():
    cat = catalog()
    for fc, year, path, dat_cd in set(_used_paths()):
        if path is None:
            label, source = cat.item_entry(fc, dat_cd, year)
            owners = {b for b, items in cat.form_items.items() if items.get(dat_cd, (None,))[0] == label}
            owners |= {
                b
                for b, items in cat.year_items.items()
                if any(lab == label for _, lab in items.get(dat_cd, ()))
            }
            assert label and (
                (source == "inferred" and label == cat.forms.get(fc[:4], {}).get("label"))
                or owners & _families(cat, fc[:4])
            ), (fc, dat_cd, label)
            continue
        fd, source = cat.field_entry(fc, path, year)
        assert fd is not None, (fc, path)
        owners = {b for b, fields in cat.fields.items() if fields.get(path, (None,))[0] is fd}
        assert owners & _families(cat, fc[:4]), (fc, path, fd["label"], owners)
        assert source in ("workbook", "supplement", "inferred")
        assert (source == "inferred") == (fc[:4] not in owners), (fc, path, source)
        info = cat.form(fc, year)
        assert info.label and info.source in ("workbook", "supplement", "inferred")


def test_form_labels_by_tax_year():
    cat = catalog()
    assert (cat.form("G111Y", "2023").label, cat.form("G111Y", "2023").source) == (
        "신용카드(2023년 귀속)",
        "supplement",
    )
    assert cat.form("G112Y", 2024).label == "신용카드(2024년 귀속)"
    assert cat.form("G311Y", 2023).label == "직불카드(2023년 귀속)"
    assert cat.form("G109Y", 2021).years == (2021,)
    # the example: a 2025 code no public source describes
    g113 = cat.form("G113Y", "2025")
    assert (g113.label, g113.source, g113.known) == (
        "신용카드 (2025년 귀속, G113Y: 정의서 미수록)",
        "inferred",
        False,
    )
    # a known code in a document of another year never keeps its year's label
    late = cat.form("G110Y", "2025")
    assert late.source == "inferred" and "2022" not in late.label and "2025년 귀속, G110Y" in late.label
    assert cat.form("G108M", "2020").source == "workbook"
    assert cat.form("A102Y", "2026").label == "보험료(보장성,장애인보장성)"  # no year in it: kept
    # new forms and their headings
    assert cat.summary_category("C501Y") == ("education", "교육비")
    assert cat.summary_category("S101M")[0] == "unpublished_s101" and cat.counted("S101M")
    assert not cat.counted("T101M") and cat.counted("G111Y")
    assert cat.summary_amount_element("E103Y") == cat.summary_amount_element("F103Y") == "ddct_bs_ass_amt"
    assert cat.code_label("use_place_cd", "8") == "주택임차료"
    assert cat.item_label("J501Y", "G0042") == "신용카드 월세액"
    assert cat.item_label("J501Y", "G0037") == "공공임대주택 월세액"


def test_every_supplement_entry_has_years_and_a_source():
    _check_supplement(json.loads(SUPPLEMENT.read_text(encoding="utf-8")))


def _check_supplement(sup: dict) -> None:
    assert set(sup) == {
        "about",
        "forms",
        "form_labels",
        "items",
        "item_labels",
        "fields",
        "codes",
        "summary_categories",
    }
    for base, f in sup["forms"].items():
        assert re.fullmatch(r"[A-Z]\d{3}", base) and f["label"] and f["category"], base
        assert f["source"].strip() and f["years"] and all(2000 < y < 2100 for y in f["years"]), base
        assert not f.get("fields_as") or f["fields_as"][:1] == base[:1], "fields of an unrelated form"
    for base, f in sup["form_labels"].items():  # a workbook form's label for the years named
        assert f["source"].strip() and f["years"] and f["label"] and f["category"], base
    for code, it in sup["items"].items():
        assert it["source"].strip() and it["years"] and it["forms"], code
    for base, entries in sup["item_labels"].items():
        for code, it in entries.items():
            assert it["source"].strip() and it["years"] and it["label"], (base, code)
    for bases, fields in sup["fields"].items():
        for path, fd in fields.items():
            assert fd["source"].strip() and fd["label"] and fd["type"] in ("Num", "Char"), (bases, path)
    for name, entry in sup["codes"].items():
        assert entry["source"].strip() and entry["codes"], name
    assert sup["summary_categories"]["source"].strip()
    assert sup["summary_categories"]["categories"][-1]["prefixes"] == [""]  # the catch-all is last


def test_a_missing_source_fails_the_check():
    """The check above is not vacuous: an entry without a source, or without years, is caught."""
    import pytest

    for broken in ({"source": ""}, {"years": []}):
        sup = json.loads(SUPPLEMENT.read_text(encoding="utf-8"))
        sup["forms"]["G113"] = {
            "label": "신용카드(2025년 귀속)",
            "category": "신용카드",
            "years": [2025],
            "source": "docs/format.md §7",
            **broken,
        }
        with pytest.raises(AssertionError):
            _check_supplement(sup)


def test_a_workbook_form_whose_label_names_its_year_gets_the_label_of_the_year_the_sample_shows():
    """Q101 is "벤처기업투자신탁(2020)" in the workbook: the tax year's own payments. The 2022 sample
    carries Q101Y with 납입연도 2022, so 2022 has a supplement label; a year nobody has shown stays
    inferred (with its own year), and 2020 keeps the workbook's."""
    cat = catalog()
    assert (cat.form("Q101Y", "2020").label, cat.form("Q101Y", "2020").source) == (
        "벤처기업투자신탁(2020)",
        "workbook",
    )
    y2022 = cat.form("Q101Y", "2022")
    assert (y2022.label, y2022.source, y2022.known) == (
        "벤처기업투자신탁(당해연도 납입분)",
        "supplement",
        True,
    )
    y2024 = cat.form("Q101Y", "2024")
    assert y2024.source == "inferred" and "2024년 귀속, Q101Y" in y2024.label and "2020" not in y2024.label


def test_item_labels_hold_for_their_years_only():
    """The supplement's J501Y G0037 label 공공임대주택 월세액 names 2022–2024: a 2020 document keeps
    the workbook's 월세액 지급액, and so does a year no source describes (2021, 2026); a code with no
    workbook label (G0042 from 2022) keeps its label outside its years, as inferred."""
    cat = catalog()
    sup = json.loads(SUPPLEMENT.read_text(encoding="utf-8"))
    years = sup["item_labels"]["J501"]["G0037"]["years"]
    assert years == [2022, 2023, 2024]
    for year in (2020, 2021, 2026):
        assert cat.item_entry("J501Y", "G0037", str(year)) == ("월세액 지급액", "workbook"), year
    for year in years:
        assert cat.item_entry("J501Y", "G0037", year) == ("공공임대주택 월세액", "supplement"), year
    assert cat.item_entry("J501Y", "G0042", "2023") == ("신용카드 월세액", "supplement")
    assert cat.item_entry("J501Y", "G0042", "2026") == ("신용카드 월세액", "inferred")
    assert cat.item_entry("Q301Y", "G0035", "2022")[1] == "supplement"
    assert cat.code_label("use_place_cd", "8", "2023") == "주택임차료"


def test_the_model_looks_labels_up_in_the_documents_tax_year():
    """``Form.info`` and ``Item.label`` (and the JSON and CSV) use the document's ``att_year``."""
    from hometax_decrypt.formats.rows import rows
    from tests.support import builder

    path = SAMPLES / "nts-2020" / "all.pdf"
    doc2020 = records.parse_document(path)
    rent = [it for _, _, it in doc2020.items() if it.form_cd == "J501Y"]
    assert rent and {it.label for it in rent} == {"월세액 지급액"}
    assert {r["item_name"] for r in rows([doc2020]) if r["form_cd"] == "J501Y"} == {"월세액 지급액"}
    doc2023 = records.parse_xml(builder.year_xml(2023))
    card = next(f for f in doc2023.forms if f.form_cd == "G111Y")
    assert (card.info.label, card.info.source) == ("신용카드(2023년 귀속)", "supplement")
    labels = {it.dat_cd: it.label for _, _, it in doc2023.items() if it.form_cd == "J501Y"}
    assert labels == {"G0037": "공공임대주택 월세액", "G0042": "신용카드 월세액"}
    doc2026 = records.parse_xml(builder.year_xml(2026))
    card = next(f for f in doc2026.forms if f.form_cd == "G114Y")
    assert card.info.source == "inferred" and "2026년 귀속" in card.info.label
    rent = next(it for _, _, it in doc2026.items() if it.dat_cd == "G0037")
    assert rent.label == "월세액 지급액"
