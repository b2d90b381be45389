"""From XML (and SAM) to records: round trip, XML/SAM agreement, summary, unknown codes, safe XML."""

from __future__ import annotations

import functools
import json
import os
import re
import subprocess
import sys

import pytest
from lxml import etree

import hometax_decrypt
from hometax_decrypt import errors
from hometax_decrypt import records as yesone
from hometax_decrypt.document import pdf as pdf_module
from hometax_decrypt.document.limits import Deadline, Limits
from hometax_decrypt.formats import csv as csv_format
from hometax_decrypt.formats import json as json_format
from hometax_decrypt.formats import xlsx as xlsx_format
from hometax_decrypt.records import (
    document_to_dict,
    mask_resid,
    parse_document,
    parse_sam,
    parse_xml,
    summarize,
    to_int,
    to_xml,
)
from hometax_decrypt.records.xml import MAX_ATTRIBUTES
from tests.support import builder
from tests.support.paths import PRINT_PEAK_RSS_KIB, SAMPLES, password_for, sample_files

SAMPLE_IDS = [str(p.relative_to(SAMPLES)) for p in sample_files()]
CONTAINERS = ("yesone", "doc", "form", "man", "data", "sum_data")


@functools.cache
def parts(rel: str) -> tuple[bytes, bytes]:
    path = SAMPLES / rel
    pw = password_for(path)
    return (
        hometax_decrypt.extract(path, password=pw, part="xml"),
        hometax_decrypt.extract(path, password=pw, part="sam"),
    )


def tree(el) -> tuple:
    """An element as comparable data; whitespace between elements is indentation, not data, but
    any other text after an element (its tail) is."""
    text = el.text
    if text is not None and (len(el) or el.tag in CONTAINERS) and not text.strip():
        text = None
    if text == "":
        text = None
    tail = el.tail if el.tail is not None and el.tail.strip() else None
    return (el.tag, dict(el.attrib), text, tail, [tree(c) for c in el])


# -- round trip ---------------------------------------------------------------------------------


@pytest.mark.parametrize("rel", SAMPLE_IDS)
def test_round_trip_xml_model_xml(rel):
    xml, _ = parts(rel)
    doc = parse_xml(xml)
    again = to_xml(doc)
    assert again.startswith(b'<?xml version="1.0" encoding="utf-8" ?>')
    assert tree(etree.fromstring(again)) == tree(etree.fromstring(xml))
    # the model saw every <data>
    assert len(list(doc.items())) == len(etree.fromstring(xml).findall("form/man/data"))


# -- XML and SAM agree ----------------------------------------------------------------------------


def _same(a: str | None, b: str | None) -> bool:
    ia, ib = to_int(a), to_int(b)
    if ia is not None and ib is not None:
        return ia == ib  # SAM zero-pads numbers
    return (a or "").rstrip(" ") == (b or "").rstrip(" ")  # SAM space-pads text


def _key(amt) -> str | None:
    return amt.node.attrs.get("mm") or amt.node.attrs.get("dd")


@pytest.mark.parametrize("rel", SAMPLE_IDS)
def test_xml_and_sam_agree(rel):
    xml, sam = parts(rel)
    x, s = parse_xml(xml), parse_sam(sam)
    assert s.part == "SAM"
    for tag in ("doc_type", "seq", "att_year", "att_inqrMm", "resid", "name"):
        assert _same(x.doc.get(tag), s.doc.get(tag)), tag
    assert [f.form_cd for f in x.forms] == [f.form_cd for f in s.forms]
    checked = 0
    for fx, fs in zip(x.forms, s.forms):
        assert [(p.resid, p.name) for p in fx.people] == [(p.resid, p.name) for p in fs.people]
        for px, ps in zip(fx.people, fs.people):
            # card forms: SAM's per-item totals add up to the XML's per-person sum_data
            assert px.sum_data_amounts() == ps.sum_data_amounts()
            assert len(px.items) == len(ps.items), fx.form_cd
            for ix, is_ in zip(px.items, ps.items):
                assert not any(k.startswith("col") for k in is_.sam_extra), "layout not recognised"
                assert is_.attrs.keys() == ix.attrs.keys()
                for k, v in is_.attrs.items():
                    assert _same(ix.attrs[k], v), (fx.form_cd, k)
                xs = {c.tag: c for c in ix.children if c.tag != "amt"}
                ss = {c.tag: c for c in is_.children if c.tag != "amt"}
                if fx.form_cd[4] == "D":
                    # daily SAM rows carry no item totals: the days must add up to the XML total
                    assert ss.keys() <= xs.keys()
                    assert sum(b.amount for b in is_.breakdown) == ix.amount
                else:
                    assert ss.keys() == xs.keys(), fx.form_cd
                for tag, node in ss.items():
                    assert _same(xs[tag].text, node.text), (fx.form_cd, tag)
                    assert node.attrs.keys() == xs[tag].attrs.keys()
                    for k, v in node.attrs.items():
                        assert _same(xs[tag].attrs[k], v)
                assert [_key(b) for b in ix.breakdown] == [_key(b) for b in is_.breakdown]
                for bx, bs in zip(ix.breakdown, is_.breakdown):
                    assert _same(bx.node.text, bs.node.text)
                    assert set(bs.node.attrs) <= set(bx.node.attrs)
                    for k, v in bs.node.attrs.items():
                        assert _same(bx.node.attrs[k], v), (fx.form_cd, k)
                checked += 1
    assert checked == len(list(x.items())) > 0


def test_sam_unknown_form_is_kept_raw():
    sam = (
        "DOCHD|HDR|A|2030010100000001|2030|01 ~ 12월 |\n"
        "Z901Y|G9999|7501011234567|고길동   |1234567890|새 항목 |000000001000|\n"
        "A102Y|G0001|7501011234567|고길동   |extra|columns|\n"
        "DOCED|END|\n"
    ).encode()
    doc = parse_sam(sam)
    items = [it for _, _, it in doc.items()]
    assert [it.form_cd for it in items] == ["Z901Y", "A102Y"]
    assert items[0].sam_extra == {"col5": "1234567890", "col6": "새 항목", "col7": "000000001000"}
    assert items[1].sam_extra == {"col5": "extra", "col6": "columns"}  # known form, unknown layout
    assert doc.doc.seq == "2030010100000001"


def test_sam_without_header_is_damaged():
    with pytest.raises(errors.Damaged):
        parse_sam(b"A102Y|G0001|7501011234567|x|\n")


# -- the PDF path ---------------------------------------------------------------------------------


def test_parse_document_from_pdf_with_verification():
    doc = hometax_decrypt.parse(SAMPLES / "nts-2020" / "all.pdf")
    assert doc.doc.doc_type == "A" and doc.doc.seq == "2020122201320067"
    assert doc.doc.issue_date == "2020-12-22"
    assert doc.doc.months == list(range(1, 13))
    assert doc.verification is not None and doc.verification.authentic is True
    d = document_to_dict(doc)
    assert d["verification"]["authentic"] is True
    assert d["doc"]["doc_type_label"] == "전체내역"


def test_parse_document_password_and_2022_doc_fields():
    with pytest.raises(errors.PasswordRequired):
        parse_document(SAMPLES / "nts-2020" / "all-password-1234567.pdf")
    doc = parse_document(SAMPLES / "nts-2020" / "all-password-1234567.pdf", password="1234567")
    assert len(list(doc.items())) == 114
    d22 = parse_document((SAMPLES / "nts-2022" / "all.pdf").read_bytes())
    assert (d22.doc.resid, d22.doc.name, d22.doc.att_year) == ("7501011234567", "고길동", "2022")
    assert d22.people()[0] == ("7501011234567", "고길동")


def test_typed_values_and_labels():
    doc = parse_xml(parts("nts-2020/all.pdf")[0])
    d = document_to_dict(doc)
    forms = {f["form_cd"]: f for f in d["forms"]}
    j203 = forms["J203Y"]["people"][0]["items"][0]
    assert j203["label"] == "장기주택저당차입금 이자상환"
    assert j203["sum"]["attributes"]["ddct"] == int(j203["sum"]["attributes"]["ddct"])
    elements = {e["tag"]: e for e in j203["elements"]}
    assert elements["debt"]["label"] == "차입금" and isinstance(elements["debt"]["value"], int)
    assert re.fullmatch(r"\d{4}-\d{2}-\d{2}", elements["start_dt"]["value"])
    assert elements["start_dt"]["text"] == elements["start_dt"]["value"].replace("-", "")
    o101 = forms["O101M"]["people"][0]["items"][0]
    assert o101["sum"]["attribute_labels"]["hi_ntf"] == "건강보험(보수월액)고지금액합계"
    assert o101["breakdown"][0]["mm"] == "01" and isinstance(
        o101["breakdown"][0]["attributes"]["hi_ntf"], int
    )
    c102 = forms["C102Y"]["people"][0]["items"][0]
    assert c102["code_labels"]["edu_tp"]  # edu_tp has a Korean label
    g108 = forms["G108M"]["people"][0]
    assert g108["sum_data"][0]["label"] == "2020년 일반합계"
    assert g108["items"][0]["code_labels"]["use_place_cd"] in ("일반", "전통시장", "대중교통", "도서공연등")
    assert len(g108["items"][0]["breakdown"]) == 12
    b101 = document_to_dict(parse_xml(parts("nts-2020/detail/medical.pdf")[0]))["forms"][0]
    day = b101["people"][0]["items"][0]["breakdown"][0]
    assert day["dd"] and day["date"] == f"{day['dd'][:4]}-{day['dd'][4:6]}-{day['dd'][6:]}"


# -- summary, computed independently from the raw XML ----------------------------------------------

# the issue's categories, by form-code prefix (longest first); amounts as the NTS states them
_CATEGORY = [
    ("O1", "건강보험"),
    ("P1", "국민연금"),
    ("A1", "보험료"),
    ("B1", "의료비"),
    ("B2", "실손의료보험금"),
    ("C", "교육비"),
    ("G", "신용카드 등"),
    ("D1", "연금저축 등"),
    ("E1", "연금저축 등"),
    ("F1", "연금저축 등"),
    ("J5", "월세액"),
    ("J", "주택자금"),
    ("K1", "소기업소상공인 공제부금"),
    ("L1", "기부금"),
    ("N1", "투자·장기저축"),
    ("Q", "투자·장기저축"),
    ("R1", "장애인"),
    ("S1", "S101 (내용 미공개 서식)"),
    ("T1", None),
]  # T101M: a flag, never an amount


def _expected_summary(xml: bytes) -> dict:
    out: dict = {}
    for form in etree.fromstring(xml).iter("form"):
        fc = form.get("form_cd")
        label = next(lab for p, lab in _CATEGORY if fc.startswith(p))
        if label is None:
            continue
        for man in form.iter("man"):
            person = out.setdefault(man.get("resid"), {})
            for data in man.iter("data"):
                tag = "ddct_bs_ass_amt" if fc[0] in "EF" else "sum"
                el = data.find(tag)
                cur = person.get(label)
                if el is not None:
                    person[label] = (cur or 0) + int(el.text)
                else:
                    person.setdefault(label, cur)
    return out


@pytest.mark.parametrize(
    "rel",
    [
        "nts-2020/all.pdf",
        "nts-2020/all-password-1234567.pdf",
        "nts-2022/all.pdf",
        "nts-2020/basic/pension-savings.pdf",
    ],
)
def test_summary_matches_raw_xml(rel):
    xml, _ = parts(rel)
    doc = parse_xml(xml)
    got = {p["resid"]: {c["label"]: c["amount"] for c in p["categories"]} for p in summarize(doc)}
    assert got == _expected_summary(xml)
    # cross-check with totals the NTS itself states: cards add up to each person's tot_sum
    root = etree.fromstring(xml)
    for resid, cats in got.items():
        stated = sum(
            int(sd.findtext("tot_sum"))
            for man in root.iter("man")
            if man.get("resid") == resid
            for sd in man.iter("sum_data")
        )
        assert cats.get("신용카드 등", 0) == stated


# -- documents of tax years 2021, 2023, 2024 and a future 2026 (docs/format.md §7) ------------------------

YEAR_FORMS = {  # form_cd -> (label, label_source, summary heading), as the catalog must give them
    2021: {"G109Y": ("신용카드(2021년 귀속)", "supplement", "신용카드 등")},
    2023: {
        "G111Y": ("신용카드(2023년 귀속)", "supplement", "신용카드 등"),
        "G211M": ("현금영수증(2023년 귀속)", "supplement", "신용카드 등"),
        "C501Y": ("교육비(수능 응시료·대학 입학전형료)", "supplement", "교육비"),
        "S101M": ("S101 (정의서 미공개 서식)", "supplement", "S101 (내용 미공개 서식)"),
    },
    2024: {
        "G112Y": ("신용카드(2024년 귀속)", "supplement", "신용카드 등"),
        "G212M": ("현금영수증(2024년 귀속)", "supplement", "신용카드 등"),
        "T101M": ("소득기준 초과 부양가족", "supplement", "소득기준 초과 부양가족 (금액 아님)"),
    },
    2026: {
        "G114Y": ("신용카드 (2026년 귀속, G114Y: 정의서 미수록)", "inferred", "신용카드 등"),
        "G214M": ("현금영수증 (2026년 귀속, G214M: 정의서 미수록)", "inferred", "신용카드 등"),
        "E103Y": ("연금저축", "supplement", "연금저축 등"),
        "B101Y": ("의료비", "workbook", "의료비"),
    },
}


@pytest.mark.parametrize("year", sorted(YEAR_FORMS))
def test_documents_of_other_tax_years(year):
    xml = builder.year_xml(year)
    doc = parse_document(builder.year_pdf(year))
    d = document_to_dict(doc, mask=True)
    assert d["doc"]["att_year"] == str(year) and d["kind"] == "simplified"
    forms = {f["form_cd"]: f for f in d["forms"]}
    for fc, (label, source, heading) in YEAR_FORMS[year].items():
        f = forms[fc]
        assert (f["label"], f["label_source"], f["summary_label"]) == (label, source, heading), fc
    for f in d["forms"]:
        # never another year in a form label
        assert not re.search(r"20\d\d년 귀속", f["label"]) or f"{year}년 귀속" in f["label"], f["label"]
        for p in f["people"]:
            for it in p["items"]:
                assert it["label"], (f["form_cd"], it["dat_cd"])
    assert any(w["code"] == "inferred_labels" for w in d["warnings"]) == (year == 2026)
    # totals: the same figures computed from the raw XML, resident numbers masked
    got = {
        p["resid"]: {c["label"]: c["amount"] for c in p["categories"]}
        for p in document_to_dict(doc)["summary"]
    }
    assert got == _expected_summary(xml)
    assert all(p["att_year"] == str(year) for p in d["summary"])
    # E103Y: the amount is 순납입금액, the ISA fields are labelled
    e103 = forms["E103Y"]["people"][0]["items"][0]
    root = etree.fromstring(xml)
    assert e103["amount"] == int(root.find(".//form[@form_cd='E103Y']//ddct_bs_ass_amt").text)
    assert e103["amount_element"] == "ddct_bs_ass_amt" and e103["sum"] is None
    labels = {e["tag"]: e["label"] for e in e103["elements"]}
    assert labels["isa_ddct_bs_ass_amt"] == "ISA계좌만기전환 순납입금액"
    assert labels["isa_ann_tot_amt"] == "ISA계좌만기전환 납입금액"


def test_2023_cash_receipt_rent_items_and_monthly_rent_codes():
    d = document_to_dict(parse_xml(builder.year_xml(2023)))
    forms = {f["form_cd"]: f for f in d["forms"]}
    cash = forms["G211M"]["people"][0]
    rent = next(it for it in cash["items"] if it["attributes"]["use_place_cd"] == "8")
    assert rent["code_labels"]["use_place_cd"] == "주택임차료"
    sd = {s["tag"]: s["label"] for s in cash["sum_data"]}
    assert sd["hlet_sum"] == "당해연도 주택임차료합계"
    assert (
        sd["tfhy_hlet_sum"] == "1월~3월 주택임차료합계" and sd["shfy_hlet_sum"] == "4월~12월 주택임차료합계"
    )
    j501 = {it["dat_cd"]: (it["label"], it["label_source"]) for it in forms["J501Y"]["people"][0]["items"]}
    assert j501 == {
        "G0037": ("공공임대주택 월세액", "supplement"),
        "G0042": ("신용카드 월세액", "supplement"),
    }
    c501 = forms["C501Y"]["people"][0]["items"][0]
    assert c501["attribute_labels"]["edu_end"] == "최종고교학력"
    # C501Y counts in 교육비; S101 under its own heading, never folded into a known category
    child = next(p for p in d["summary"] if p["resid"] == builder.CHILD[0])
    assert {c["label"]: c["amount"] for c in child["categories"]}["교육비"] == c501["amount"] == 68000
    me = next(p for p in d["summary"] if p["resid"] == builder.EMPLOYEE[0])
    assert [c["category"] for c in me["categories"]].count("unpublished_s101") == 1


def test_t101m_is_a_per_person_flag_never_an_amount():
    doc = parse_xml(builder.year_xml(2024))
    d = document_to_dict(doc, mask=True)
    t101 = next(f for f in d["forms"] if f["form_cd"] == "T101M")
    assert t101["counted"] is False
    person = t101["people"][0]
    assert all(it["amount"] is None for it in person["items"])
    want = [
        {
            "relation": "1",
            "name": builder.PARENT[1],
            "resid": mask_resid(builder.PARENT[0]),
            "over_income": "Y",
            "over_income_label": "소득기준 초과",
        },
        {
            "relation": "4",
            "name": builder.CHILD[1],
            "resid": mask_resid(builder.CHILD[0]),
            "over_income": "N",
            "over_income_label": "소득기준 이하",
        },
    ]
    assert person["dependant_flags"] == want
    me = next(p for p in d["summary"] if p["resid"] == mask_resid(builder.EMPLOYEE[0]))
    assert me["dependant_flags"] == want
    assert "dependant_income_flag" not in {c["category"] for p in d["summary"] for c in p["categories"]}
    assert builder.PARENT[0] not in json.dumps(d, ensure_ascii=False)


def test_totals_per_person_and_year_never_add_years_and_flag_duplicates():
    d23, d24 = parse_xml(builder.year_xml(2023)), parse_xml(builder.year_xml(2024))
    again = parse_xml(builder.year_xml(2023, seq="2024021599000002", scale=2))  # re-issued, newer
    single = {
        (p["resid"], p["att_year"]): {c["category"]: c["amount"] for c in p["categories"]}
        for d in (d23, d24)
        for p in summarize(d)
    }
    got = yesone.totals([d23, d24, d23, again])
    keys = [(t["resid"], t["att_year"]) for t in got]
    assert len(keys) == len(set(keys)) == len(single)  # one row per person and year
    for t in got:
        cats = {c["category"]: c["amount"] for c in t["categories"]}
        if t["att_year"] == "2024":
            assert cats == single[(t["resid"], "2024")] and not t["duplicates"]
        else:
            # 2023 three times: counted once, from the newest issue (the re-issued one, doubled figures)
            assert cats == {k: v * 2 for k, v in single[(t["resid"], "2023")].items()}
            assert t["documents"] == [d23.doc.seq, again.doc.seq]
            assert {x["counted_doc_seq"] for x in t["duplicates"]} == {again.doc.seq}
            assert {x["form_cd"] for x in t["duplicates"]} == {
                f.form_cd for f in d23.forms for p in f.people if p.resid == t["resid"]
            }


def test_a_document_of_another_kind_is_reported():
    # the 소득·세액공제신고서 (docs/format.md §7 caution 2): same root, codes of other years, no 간소화 doc info
    xml = (
        '<?xml version="1.0" encoding="utf-8" ?><yesone><doc><att_year>2023</att_year></doc>'
        '<form form_cd="A101Y"><man resid="8501011234567" name="가"><data dat_cd="G0001"><sum>1</sum></data>'
        '</man></form><form form_cd="E101Y"><man resid="8501011234567" name="가"><data dat_cd="G0010">'
        "<sum>1</sum></data></man></form></yesone>"
    ).encode()
    d = document_to_dict(parse_xml(xml))
    assert d["kind"] == "unrecognised" and d["kind_label"] == "간소화 자료로 확인되지 않은 문서"
    assert {w["code"] for w in d["warnings"]} >= {"not_simplified", "outdated_forms"}
    mostly = (
        b'<?xml version="1.0" encoding="utf-8" ?><yesone><doc><doc_type>A</doc_type>'
        b"<seq>2024011500000001</seq><att_year>2023</att_year></doc>"
        b'<form form_cd="Z101Y"/><form form_cd="Z201Y"/><form form_cd="B101Y"/></yesone>'
    )
    d = document_to_dict(parse_xml(mostly))
    assert d["kind"] == "unrecognised" and [w["code"] for w in d["warnings"]] == ["mostly_unknown_forms"]
    assert document_to_dict(parse_xml(builder.year_xml(2023)))["kind"] == "simplified"


# -- unknown forms, items, elements and attributes ---------------------------------------------------

UNKNOWN = """<?xml version="1.0" encoding="utf-8" ?>
<yesone version="9">
<doc>
\t<doc_type>A</doc_type><seq>2031010100000001</seq><att_year>2030</att_year>
\t<att_inqrMm>01 ~ 12월</att_inqrMm><resid>7501011234567</resid><name>고길동</name>
\t<new_doc_field kind="x">새 값</new_doc_field>
</doc>
<notice lang="ko">안내<p>문단</p></notice>
<form form_cd="Z901Y" new_form_attr="1">
\t<form_note>비고</form_note>
\t<man resid="8101012234567" name="홍부인" grade="A">
\t\t<man_note>메모</man_note>
\t\t<data dat_cd="G9999" busnid="1234567890" trade_nm="새 기관" brand_new="값">
\t\t\t<new_el>새 요소</new_el>
\t\t\t<nested a="1"><inner>깊이</inner><inner>둘</inner></nested>
\t\t\t<co_resid>8101012234567</co_resid>
\t\t\t<sum ddct="500" new_split="250">1000</sum>
\t\t\t<amt mm="01" new_amt_attr="7">600</amt>
\t\t\t<amt mm="02">400</amt>
\t\t</data>
\t</man>
</form>
<form form_cd="G111Y">
\t<man resid="7501011234567" name="고길동">
\t\t<sum_data><gnrl_sum>5</gnrl_sum><brand_new_sum>9</brand_new_sum><tot_sum>14</tot_sum></sum_data>
\t\t<data dat_cd="G0012" busnid="1111111111" trade_nm="카드" use_place_cd="9"><sum>14</sum></data>
\t</man>
</form>
</yesone>
""".encode()


def test_unknown_codes_are_carried_through():
    doc = parse_xml(UNKNOWN)
    assert tree(etree.fromstring(to_xml(doc))) == tree(etree.fromstring(UNKNOWN))
    d = document_to_dict(doc)
    assert [n["tag"] for n in d["doc"]["extra"]] == ["new_doc_field"]
    assert d["extra"][0]["tag"] == "notice" and d["extra"][0]["children"][0]["text"] == "문단"
    z = d["forms"][0]
    assert z["form_cd"] == "Z901Y" and z["label"] is None and z["label_source"] == "unknown"
    assert z["attributes"] == {"new_form_attr": "1"} and z["extra"][0]["tag"] == "form_note"
    person = z["people"][0]
    assert person["attributes"] == {"grade": "A"} and person["extra"][0]["text"] == "메모"
    item = person["items"][0]
    assert item["dat_cd"] == "G9999" and item["label"] is None
    assert item["attributes"]["brand_new"] == "값"
    tags = [e["tag"] for e in item["elements"]]
    assert tags == ["new_el", "nested", "co_resid"]
    assert [c["text"] for c in item["elements"][1]["children"]] == ["깊이", "둘"]
    assert item["amount"] == 1000 and item["sum"]["attributes"] == {"ddct": 500, "new_split": 250}
    assert item["breakdown"][0]["attributes"] == {"new_amt_attr": 7}
    # a newer version of a known family gets the family's labels, marked inferred (issue 10: was
    # "family"), with the document's own year and code in its label
    g = d["forms"][1]
    assert g["label_source"] == "inferred" and g["category"] == "신용카드"
    # G111 is the 2023 code: in this 2030 document its label must not say 2023
    assert g["label"] == f"신용카드 ({d['doc']['att_year']}년 귀속, {g['form_cd']}: 해당 연도 정의서 미수록)"
    assert [s["tag"] for s in g["people"][0]["sum_data"]] == ["gnrl_sum", "brand_new_sum", "tot_sum"]
    masked = json.dumps(document_to_dict(doc, mask=True), ensure_ascii=False)
    assert "8101012234567" not in masked and "810101-2******" in masked  # co_resid masked too
    assert "7501011234567" not in masked
    assert doc.doc.resid == "7501011234567"  # masking never touches the model


# -- safe XML ---------------------------------------------------------------------------------------

BILLION_LAUGHS = b"""<?xml version="1.0"?>
<!DOCTYPE lolz [
 <!ENTITY lol "lol">
 <!ENTITY lol1 "&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;">
 <!ENTITY lol2 "&lol1;&lol1;&lol1;&lol1;&lol1;&lol1;&lol1;&lol1;&lol1;&lol1;">
 <!ENTITY lol3 "&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;">
 <!ENTITY lol4 "&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;">
 <!ENTITY lol5 "&lol4;&lol4;&lol4;&lol4;&lol4;&lol4;&lol4;&lol4;&lol4;&lol4;">
 <!ENTITY lol6 "&lol5;&lol5;&lol5;&lol5;&lol5;&lol5;&lol5;&lol5;&lol5;&lol5;">
 <!ENTITY lol7 "&lol6;&lol6;&lol6;&lol6;&lol6;&lol6;&lol6;&lol6;&lol6;&lol6;">
 <!ENTITY lol8 "&lol7;&lol7;&lol7;&lol7;&lol7;&lol7;&lol7;&lol7;&lol7;&lol7;">
 <!ENTITY lol9 "&lol8;&lol8;&lol8;&lol8;&lol8;&lol8;&lol8;&lol8;&lol8;&lol8;">
]>
<yesone><doc><seq>&lol9;</seq></doc></yesone>"""

XXE = b"""<?xml version="1.0" encoding="utf-8"?>
<!DOCTYPE yesone [ <!ENTITY xxe SYSTEM "file:///etc/passwd"> ]>
<yesone><doc><seq>&xxe;</seq></doc></yesone>"""

XXE_PARAM = b"""<?xml version="1.0"?>
<!--comment first--><!doctype yesone [<!ENTITY % p SYSTEM "http://127.0.0.1:1/x.dtd"> %p;]>
<yesone/>"""


@pytest.mark.parametrize(
    "data",
    [BILLION_LAUGHS, XXE, XXE_PARAM, b'<?xml version="1.0"?><!DOCTYPE yesone SYSTEM "x.dtd"><yesone/>'],
    ids=["billion-laughs", "xxe-file", "xxe-parameter", "external-dtd"],
)
def test_hostile_xml_is_refused(data):
    with pytest.raises(errors.Damaged) as exc:
        parse_xml(data)
    assert "DOCTYPE" in exc.value.message
    assert exc.value.code == "damaged"


def test_undeclared_entity_and_bad_xml():
    with pytest.raises(errors.Damaged):
        parse_xml(b"<yesone><doc><seq>&undeclared;</seq></doc></yesone>")
    with pytest.raises(errors.Damaged, match="well-formed"):
        parse_xml(b"<yesone><doc>")
    with pytest.raises(errors.Damaged, match="yesone"):
        parse_xml(b"<other/>")
    with pytest.raises(errors.Damaged, match="UTF-8"):
        parse_xml('<?xml version="1.0" encoding="utf-16"?><yesone/>'.encode("utf-16"))


def test_element_count_is_bounded():
    many = b"<yesone>" + b"<x/>" * 50 + b"</yesone>"
    assert len(parse_xml(many).extra) == 50
    with pytest.raises(errors.TooLarge):
        parse_xml(many, Limits(max_xml_elements=20))
    with pytest.raises(errors.TooLarge):
        parse_xml(b"<yesone>" + b"<x>" * 40 + b"</x>" * 40 + b"</yesone>", Limits(max_xml_elements=30))


# -- masking ----------------------------------------------------------------------------------------


def test_mask_resid():
    assert mask_resid("7501011234567") == "750101-1******"
    assert mask_resid("750101-1234567") == "750101-1******"
    assert mask_resid("1234567890") == "1234567890"  # a business number is not a resident number
    assert mask_resid(None) is None


def test_mask_everywhere_in_to_dict():
    xml, _ = parts("nts-2020/all.pdf")
    doc = parse_xml(xml)
    full = set(re.findall(rb'resid="(\d{13})"', xml)) | set(re.findall(rb"resid[^>]*>(\d{13})<", xml))
    assert len(full) >= 5
    masked = json.dumps(document_to_dict(doc, mask=True), ensure_ascii=False).encode()
    for r in full:
        assert r not in masked
    assert b"750101-1******" in masked
    # without --mask payroll gets the full numbers
    assert b"7501011234567" in json.dumps(document_to_dict(doc), ensure_ascii=False).encode()


def test_mask_resid_other_separators_but_never_other_numbers():
    # a resident number written with another separator is still masked
    assert mask_resid("750101 1234567") == "750101-1******"
    assert mask_resid("750101.1234567") == "750101-1******"
    assert mask_resid(" 750101 - 1234567 ") == "750101-1******"
    # a business number (a landlord's lsor_no may be one) or any other count of digits is not
    assert mask_resid("123-45-67890") == "123-45-67890"
    assert mask_resid("110-123-456789") == "110-123-456789"  # 12 digits
    assert mask_resid("75010112345678") == "75010112345678"  # 14 digits
    assert mask_resid("AB7501011234567") == "AB7501011234567"  # not only digits and separators


# -- numbers that are not amounts -----------------------------------------------------------------

HUGE = "9" * 5000  # int() of more than 4300 digits raises ValueError


def test_to_int_takes_amounts_and_leaves_anything_longer_as_text():
    assert to_int("000000001000") == 1000 and to_int(" -25 ") == -25 and to_int("0" * 40) == 0
    assert to_int("9" * 15) == 10**15 - 1  # the longest Num of the NTS definition: Num(15)
    assert to_int("0" * 30 + "123") == 123  # SAM zero-padding is not a digit of the amount
    assert to_int("1" * 16) is None and to_int(HUGE) is None and to_int("-" + HUGE) is None
    assert to_int("١٢") is None  # digits of another script are not an NTS amount


@pytest.mark.parametrize(
    "value",
    [
        "0",
        "-0",
        "007",
        " 12 ",
        "12\n",
        "1" * 15,
        "1" * 16,
        "0" * 20 + "5",
        "-" + "9" * 15,
        "+3",
        "1 2",
        "-",
        "--1",
        "12a",
        "",
        " ",
        "²",
        "１２",
        "٣",
        "0" * 16,
        "-00",
        "\t9\t",
    ],
)
def test_to_int_is_its_definition(value):
    """to_int takes a shortcut for plain digits: the same answer as its definition, the pattern
    ``-?0*`` and at most 15 significant ASCII digits, after stripping."""
    m = re.match(r"^-?0*([0-9]{1,15})$", value.strip())
    expected = None if m is None else int(m.group(1)) * (-1 if value.strip().startswith("-") else 1)
    assert to_int(value) == expected


def test_a_huge_number_never_crashes_and_is_kept_as_text():
    xml = (
        f"<yesone><doc><seq>1</seq><att_inqrMm>{HUGE}</att_inqrMm></doc>"
        f'<form form_cd="A102Y"><man resid="7501011234567" name="n">'
        f'<data dat_cd="G0001" busnid="{HUGE}"><sum ddct="{HUGE}">{HUGE}</sum>'
        f'<amt mm="01" hi_ntf="{HUGE}">{HUGE}</amt></data></man></form></yesone>'
    ).encode()
    doc = parse_xml(xml)
    item = next(doc.items())[2]
    assert item.amount is None and item.sum_amounts() == {} and item.breakdown[0].amount is None
    assert doc.doc.months is None
    d = document_to_dict(doc)
    it = d["forms"][0]["people"][0]["items"][0]
    assert it["amount"] is None and it["sum"]["attributes"]["ddct"] == HUGE
    assert it["breakdown"][0]["attributes"]["hi_ntf"] == HUGE
    assert d["summary"][0]["categories"][0]["amount"] is None
    csv_text = csv_format.to_csv([doc]).decode("utf-8-sig")
    assert f"(sum)={HUGE}" in csv_text  # the <sum> as written, in details
    assert xlsx_format.to_xlsx([doc])[:2] == b"PK" and b'"documents"' in json_format.to_json([doc])
    sam = (
        "DOCHD|HDR|A|2030010100000001|2030|01 ~ 12월 |\n"
        f"A102Y|G0001|7501011234567|n|1|t|a||||||||||{HUGE}|\nDOCED|END|\n"
    ).encode()
    assert document_to_dict(parse_sam(sam))["forms"][0]["people"][0]["items"][0]["amount"] is None


# -- text between elements ----------------------------------------------------------------------------


@pytest.mark.parametrize(
    "xml",
    [
        b"<yesone><doc><seq>1</seq>LOST</doc></yesone>",
        b'<yesone><form form_cd="A102Y"><man resid="1"><data dat_cd="G0001"><sum>1</sum>LOST</data>'
        b"</man></form></yesone>",
        b"<yesone><doc/>LOST<form form_cd='A102Y'/></yesone>",
        b"<yesone><x><y/>LOST</x></yesone>",
    ],
    ids=["doc", "data", "root", "unknown-element"],
)
def test_text_between_elements_is_refused_not_dropped(xml):
    with pytest.raises(errors.Damaged, match="text between elements"):
        parse_xml(xml)
    # the round-trip comparison sees tails, so a dropped one could not pass unnoticed
    assert tree(etree.fromstring(xml)) != tree(etree.fromstring(xml.replace(b"LOST", b"\n\t")))


# -- size and time -----------------------------------------------------------------------------------


def test_attributes_count_and_are_capped_per_element():
    ok = b"<yesone><x " + b" ".join(b'a%d="1"' % i for i in range(MAX_ATTRIBUTES)) + b"/></yesone>"
    assert len(parse_xml(ok).extra[0].attrs) == MAX_ATTRIBUTES
    # 40 000 attributes on one element: refused before the (quadratic) copy of the map
    bomb = b"<yesone><x " + b" ".join(b'a%d="1"' % i for i in range(40_000)) + b"/></yesone>"
    with pytest.raises(errors.TooLarge, match="attributes"):
        parse_xml(bomb, Limits(max_seconds=5))
    # attributes count against the element budget: 11 elements but 31 nodes
    many = b"<yesone>" + b'<x a="1" b="2"/>' * 10 + b"</yesone>"
    assert len(parse_xml(many, Limits(max_xml_elements=31)).extra) == 10
    with pytest.raises(errors.TooLarge):
        parse_xml(many, Limits(max_xml_elements=25))


def test_a_leafs_attributes_meet_the_same_bounds():
    """A leaf below another element is checked inline by the walk (its fast path), not through the
    per-element check: the same cap, the same budget."""
    ok = b"<yesone><x><y " + b" ".join(b'a%d="1"' % i for i in range(MAX_ATTRIBUTES)) + b"/></x></yesone>"
    assert len(parse_xml(ok).extra[0].children[0].attrs) == MAX_ATTRIBUTES
    bomb = b"<yesone><x><y " + b" ".join(b'a%d="1"' % i for i in range(40_000)) + b"/></x></yesone>"
    with pytest.raises(errors.TooLarge, match="attributes"):
        parse_xml(bomb, Limits(max_seconds=5))
    many = b"<yesone><x>" + b'<y a="1" b="2"/>' * 10 + b"</x></yesone>"  # 2 + 30 nodes
    assert len(parse_xml(many, Limits(max_xml_elements=32)).extra[0].children) == 10
    with pytest.raises(errors.TooLarge):
        parse_xml(many, Limits(max_xml_elements=31))


def _people_xml(n: int) -> bytes:
    men = "".join(f'<man resid="{i:013d}" name="p{i}"/>' for i in range(n))
    return f'<yesone><doc><seq>1</seq></doc><form form_cd="A102Y">{men}</form></yesone>'.encode()


def test_many_people_fit_the_default_limits_and_a_short_deadline():
    """30 000 people (90 000 elements and attributes): linear work, done in well under 5 s; looking
    up every person among those seen before (quadratic) runs past that deadline (too_large)."""
    lim = Limits(max_seconds=5)
    assert lim.max_xml_elements >= 90_000
    doc = parse_xml(_people_xml(30_000), lim)
    assert len(doc.people(Deadline(5))) == 30_000
    d = document_to_dict(doc, deadline=Deadline(5))
    assert len(d["people"]) == 30_000 and len(d["forms"][0]["people"]) == 30_000
    assert len(json.loads(json_format.to_json([doc], deadline=Deadline(5)))["documents"]) == 1
    # the same resid under another name is still one person
    again = parse_xml(
        b'<yesone><form form_cd="A102Y"><man resid="1" name="a"/><man resid="1" name="b"/>'
        b'<man name="c"/><man name="c"/><man name="d"/></form></yesone>'
    )
    assert again.people() == [("1", "a"), (None, "c"), (None, "d")]


def test_an_expired_deadline_stops_parsing_and_serialising():
    xml, sam = parts("nts-2020/all.pdf")
    for fn, data in ((parse_xml, xml), (parse_sam, sam)):
        with pytest.raises(errors.TooLarge, match="time"):
            fn(data, None, Deadline(-1))
        assert fn(data, None, Deadline(5)).forms  # the same work with time left
    doc = parse_xml(xml)
    for work in (lambda dl: document_to_dict(doc, deadline=dl), lambda dl: summarize(doc, dl), doc.people):
        with pytest.raises(errors.TooLarge, match="time"):
            work(Deadline(-1))
        work(Deadline(5))


def test_parse_document_parses_within_the_documents_own_deadline(monkeypatch):
    """One budget for the whole document: the deadline started when the PDF was opened is the one
    the XML is parsed under."""
    made, used = [], []
    real_parse_xml = yesone.parse_xml

    class Spy(Deadline):
        def __init__(self, seconds):
            super().__init__(seconds)
            made.append(self)

    def spy_parse_xml(data, limits=None, deadline=None):
        used.append(deadline)
        return real_parse_xml(data, limits, deadline)

    monkeypatch.setattr(pdf_module, "Deadline", Spy)
    monkeypatch.setattr(yesone, "parse_xml", spy_parse_xml)
    doc = parse_document(SAMPLES / "nts-2020" / "all.pdf")
    assert len(list(doc.items())) == 114
    assert len(used) == 1 and used[0] is made[0]


def test_sam_days_of_one_item_are_linear_and_columns_are_capped():
    head = "DOCHD|HDR|A|2030010100000001|2030|01 ~ 12월 |\n"
    n = 50_000  # one item with 50 000 days: rebuilding its children per day is quadratic
    days = "".join(f"B101D|G0001|7501011234567|n|1234567890|t|{20300101 + i % 28}|{i}|\n" for i in range(n))
    data = (head + days + "DOCED|END|\n").encode()
    doc = parse_sam(data, Limits(max_xml_elements=10**6, max_seconds=5))
    (item,) = [it for _, _, it in doc.items()]
    assert len(item.breakdown) == n and item.breakdown[-1].amount == n - 1
    # 8 columns a line: 400 000 columns count against the budget, though the 50 000 lines fit it
    with pytest.raises(errors.TooLarge, match="SAM columns"):
        parse_sam(data, Limits(max_xml_elements=300_000))


_PARSE_AND_EXPORT = (
    "import sys, hometax_decrypt as h\n"
    "from hometax_decrypt.formats import csv as csv_format, json as json_format, xlsx as xlsx_format\n"
    "try:\n"
    "    doc = h.parse(sys.argv[1])\n"
    "    json_format.to_json([doc]); csv_format.to_csv([doc]); xlsx_format.to_xlsx([doc]); print('ok')\n"
    "except h.HometaxError as e: print(e.code)\n" + PRINT_PEAK_RSS_KIB
)


def _parse_in_fresh_process(xml: bytes, tmp_path) -> tuple[str, int]:
    """(error code or 'ok', peak RSS in KiB) of parsing and exporting a PDF holding ``xml`` in a
    fresh process under the default limits."""
    path = tmp_path / "input.pdf"
    path.write_bytes(builder.build_nts_pdf(xml=xml, sam=None))
    env = {k: v for k, v in os.environ.items() if not k.startswith("HOMETAX_")}
    out = subprocess.run(
        [sys.executable, "-c", _PARSE_AND_EXPORT, str(path)],
        capture_output=True,
        text=True,
        timeout=120,
        check=True,
        env=env,
    ).stdout.split()
    return out[0], int(out[1])


@pytest.mark.parametrize(
    "n, expected", [(999_000, "too_large"), (33_000, "ok")], ids=["over-the-cap", "under-the-cap"]
)
def test_element_bomb_is_parsed_and_exported_in_bounded_memory(n, expected, tmp_path):
    """A ~15 MiB XML part of tiny elements (a 30 KiB PDF): refused in bounded memory (it took 2.9 GB
    and 22 s); just under the element budget, parse and every export stay bounded too."""
    body = b'<x a="1" b="2"/>' * n
    xml = b'<?xml version="1.0" encoding="utf-8" ?><yesone><doc><seq>1</seq></doc>' + body + b"</yesone>"
    code, peak_kib = _parse_in_fresh_process(xml, tmp_path)
    assert code == expected
    assert peak_kib < 400 * 1024


def test_parsing_leaves_no_reference_cycles():
    """The walk's closures call each other and hold libxml2's whole tree: if their cycle outlived
    parse_xml, every parsed tree would wait for the cyclic collector (several MiB more per app
    worker after a load of large documents). A parse (successful or refused) leaves nothing for it."""
    import gc

    with pdf_module.open_document(SAMPLES / "nts-2020" / "all.pdf") as doc:
        xml = doc.read_part("XML")
    refused = xml.replace(b"</form>", b"</form>x", 1)  # text between elements: refused mid-walk
    assert refused != xml
    gc.collect()
    gc.disable()
    try:
        parsed = parse_xml(xml)
        assert parsed.forms and gc.collect() == 0
        with pytest.raises(errors.Damaged):
            parse_xml(refused)
        assert gc.collect() == 0
    finally:
        gc.enable()


def test_a_tax_year_of_thousands_of_digits_is_no_year_and_no_traceback():
    """Found by the fuzz test: ``int()`` of a 5,000-digit ``<att_year>`` raised ValueError (Python's
    digit limit) in the document's kind, and in a lines file's ``att_year``."""
    from hometax_decrypt.deductions import lines_from_dict
    from hometax_decrypt.records import document_to_dict, parse_xml

    xml = builder.year_xml(2021).replace(
        b"<att_year>2021</att_year>", b"<att_year>" + b"9" * 5000 + b"</att_year>"
    )
    assert b"9" * 5000 in xml
    d = document_to_dict(parse_xml(xml))
    assert d["kind"] and d["doc"]["att_year"] == "9" * 5000
    with pytest.raises(errors.BadLines):
        lines_from_dict({"att_year": "9" * 5000, "lines": []})
