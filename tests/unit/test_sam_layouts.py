"""The SAM layouts as data (``records/sam_layouts.json``): its shape, and the card forms of the tax
years after 2022 read from SAM parts the builder writes (tests/builder.py ``year_sam``)."""

from __future__ import annotations

import json
import re
from importlib import resources

import pytest

import hometax_decrypt
from hometax_decrypt.records import parse_sam, parse_xml
from hometax_decrypt.records import sam as S
from tests.support import builder
from tests.support.paths import password_for, sample_files

LAYOUTS = json.loads(resources.files(S.__package__).joinpath("sam_layouts.json").read_text(encoding="utf-8"))
_TOKEN = re.compile(r"@?[A-Za-z_][A-Za-z0-9_]*|sum@[a-z_]+|M12|MFIX|M12@[a-z_,]+|DAY|DAY@[a-z_,]+")


def _overlap(a, b) -> bool:
    lo = max(a[0] or 0, b[0] or 0)
    hi = min(a[1] or 9999, b[1] or 9999)
    return lo <= hi


def test_every_layout_has_years_and_a_source_and_known_columns():
    groups = LAYOUTS["groups"]
    assert LAYOUTS["about"].strip() and LAYOUTS["notation"].strip()
    for name, g in groups.items():
        assert g["columns"] and g["source"].strip(), name
    for base, entries in LAYOUTS["forms"].items():
        assert re.fullmatch(r"[A-Z]\d{3}", base), base
        for e in entries:
            assert set(e) <= {"years", "columns", "M", "D", "source"}, base
            assert len(e["years"]) == 2 and e["source"].strip() and e["columns"], base
            for key in ("columns", "M", "D"):
                for col in e.get(key, ()):
                    assert col in groups or _TOKEN.fullmatch(col), (base, key, col)
        for i, a in enumerate(entries):  # one layout per form and year
            assert not any(_overlap(a["years"], b["years"]) for b in entries[i + 1 :]), base
    for bases, u in LAYOUTS["unsettled"].items():
        assert u["why"].strip() and len(u["years"]) == 2, bases
        for base in bases.split():  # a form is either laid out or unsettled in a year, never both
            assert not any(_overlap(u["years"], e["years"]) for e in LAYOUTS["forms"].get(base, ())), base


def test_layouts_are_looked_up_by_tax_year():
    assert S.layout("G110Y", "2022") is not None and S.layout("G110Y", "2023") is None
    assert S.layout("G108M", 2020)[-1] == "M12" and S.layout("G108M", 2022) is None
    assert S.layout("G111Y", "2023") == S.layout("G110Y", "2022")
    assert S.layout("B101Y", "2026") == S.layout("B101Y", "2020") == ["@busnid", "@trade_nm", "sum"]
    assert S.layout("B101D", None) == ["@busnid", "@trade_nm", "DAY"]  # not bound to a year
    assert S.layout("G110Y", None) is None  # a year-bound layout needs the year


def test_every_sample_sam_line_has_a_layout():
    """Every form of the 2020 and 2022 samples is read into named columns, none kept raw."""
    for path in sample_files():
        doc = parse_sam(hometax_decrypt.extract(path, password=password_for(path), part="sam"))
        raw = {it.form_cd for _, _, it in doc.items() if "col5" in it.sam_extra}
        assert not raw, (path.name, raw)


def _items(doc, form_cd):
    return [it for _, _, it in doc.items() if it.form_cd == form_cd]


def test_2023_card_forms_in_sam_read_into_named_columns():
    """G111Y of 2023 read by its layout: the item's attributes and <sum> as the XML has them, the
    card totals by name, the person's sum_data rebuilt as their sum."""
    pdf = builder.year_pdf(2023, sam=True)
    xml = parse_xml(hometax_decrypt.extract(pdf))
    sam = parse_sam(hometax_decrypt.extract(pdf, part="sam"))
    assert sam.doc.att_year == "2023"
    got, want = _items(sam, "G111Y"), _items(xml, "G111Y")
    assert len(got) == len(want) == 2
    names = LAYOUTS["groups"]["CARD2022"]["columns"]
    for s, x in zip(got, want):
        assert s.attrs == x.attrs and s.sum_amount == x.sum_amount
        assert list(s.sam_extra) == names
    person = next(p for f in sam.forms if f.form_cd == "G111Y" for p in f.people)
    totals = person.sum_data_amounts()
    assert totals["tot_curr_year_sum"] == 1000000 and totals["tot_sum"] == 1000000
    assert totals["tdmr_sum"] == 100000


@pytest.mark.parametrize(
    "year, form_cd", [(2021, "G109Y"), (2023, "G211M"), (2024, "G112Y"), (2024, "G212M"), (2026, "G114Y")]
)
def test_card_forms_no_source_settles_stay_raw_and_say_why(year, form_cd):
    """No published source gives the SAM layout of these: their columns are kept, raw, and the
    reason is the one the data file records (or that the form is not known at all)."""
    sam = parse_sam(builder.year_sam(year))
    items = _items(sam, form_cd)
    assert items and all(list(it.sam_extra)[:2] == ["col5", "col6"] for it in items)
    note = S.layout_note(form_cd, str(year))
    unsettled = [u["why"] for bases, u in LAYOUTS["unsettled"].items() if form_cd[:4] in bases.split()]
    assert note in unsettled if unsettled else "no SAM layout of" in note


def test_the_same_layouts_as_the_python_literals_they_replaced():
    """The 2020/2022 entries hold what sam.py's literals held (issue 20): the golden outputs prove
    the samples read the same; this pins the two card groups' columns."""
    assert len(LAYOUTS["groups"]["CARD2020"]["columns"]) == 20
    assert LAYOUTS["groups"]["CARD2020"]["columns"][:6] == [
        "gnrl_sum",
        "tdmr_sum",
        "trp_sum",
        "isld_sum",
        "tot_sum",
        "gnrl_mar_sum",
    ]
    assert LAYOUTS["groups"]["CARD2022"]["columns"][:5] == [
        "tot_pre_year_sum",
        "tot_curr_year_sum",
        "tdmr_tot_pre_year_sum",
        "tdmr_tot_curr_year_sum",
        "gnrl_sum",
    ]
