"""Whose document it is: each rule of records.owner on a document built in that shape, and on the
real samples."""

from __future__ import annotations

import pytest

from hometax_decrypt.records import parse_document, parse_xml
from hometax_decrypt.records.owner import Owner, owner_of
from tests.support import builder
from tests.support.paths import SAMPLES


def _doc(forms: str, header: str = "", year: int = 2020):
    xml = (
        '<?xml version="1.0" encoding="utf-8" ?>\n<yesone><doc><doc_type>A</doc_type>'
        f"<seq>2021011500000001</seq><att_year>{year}</att_year><att_inqrMm>01 ~ 12월</att_inqrMm>"
        f"{header}</doc>{forms}</yesone>"
    )
    return parse_xml(xml.encode("utf-8"))


MED_CHILD = (
    '<form form_cd="B101Y"><man resid="1501013234567" name="자녀">'
    '<data dat_cd="G0003" busnid="1" trade_nm="의원"><sum>1000</sum></data></man></form>'
)
PENSION_SELF = (
    '<form form_cd="P102M"><man resid="8501011234567" name="본인">'
    '<data dat_cd="G0031"><sum>5000</sum></data></man></form>'
)
HEALTH_SELF = (
    '<form form_cd="O101M"><man resid="8501011234567" name="본인">'
    '<data dat_cd="G0030"><sum>7000</sum></data></man></form>'
)


def test_header_names_the_owner_even_when_a_dependant_comes_first():
    doc = _doc(MED_CHILD + PENSION_SELF, "<resid>7001011234567</resid><name>머리글</name>", 2022)
    assert owner_of(doc) == Owner("7001011234567", "머리글", "header")


def test_subscriber_of_the_first_insurance_form_when_there_is_no_header():
    # the dependant is listed first: only the pension form says who the subscriber is
    assert owner_of(_doc(MED_CHILD + PENSION_SELF)) == Owner("8501011234567", "본인", "subscriber")
    assert owner_of(_doc(MED_CHILD + HEALTH_SELF)).rule == "subscriber"


def test_first_person_is_the_last_resort_and_says_so():
    assert owner_of(_doc(MED_CHILD)) == Owner("1501013234567", "자녀", "first_person")


def test_a_document_naming_nobody_has_no_owner():
    owner = owner_of(_doc(""))
    assert owner == Owner(None, None, "none")
    assert not owner.is_person(None, None)


def test_built_year_documents():
    """builder.year_xml: 2021 has no header (first person), 2023 names the employee."""
    assert owner_of(parse_xml(builder.year_xml(2021))).rule == "first_person"
    o = owner_of(parse_xml(builder.year_xml(2023)))
    assert (o.resid, o.name, o.rule) == (*builder.EMPLOYEE, "header")


def test_samples():
    o2020 = owner_of(parse_document(SAMPLES / "nts-2020" / "all.pdf"))
    assert (o2020.resid, o2020.name, o2020.rule) == ("7501011234567", "고길동", "subscriber")
    o2022 = owner_of(parse_document(SAMPLES / "nts-2022" / "all.pdf"))
    assert (o2022.resid, o2022.name, o2022.rule) == ("7501011234567", "고길동", "header")
    medical = owner_of(parse_document(SAMPLES / "nts-2020" / "basic" / "medical.pdf"))
    assert (medical.name, medical.rule) == ("고길동", "first_person")


@pytest.mark.parametrize("mask, shown", [(False, "7501011234567"), (True, "750101-1******")])
def test_to_dict_masks(mask, shown):
    assert Owner("7501011234567", "고길동", "header").to_dict(mask)["resid"] == shown
