"""The 공제신고서 lines of deductions.lines: against the figures the NTS prints on the samples' own
pages (read with pdftotext, never copied into the test), on built documents of other years and
shapes, and the lines-file validation."""

from __future__ import annotations

import json
import re
import subprocess
from collections import defaultdict
from pathlib import Path

import pytest

from hometax_decrypt import errors
from hometax_decrypt.deductions import keys, lines_from_dict, lines_of, spec
from hometax_decrypt.records import parse_document, parse_xml
from tests.support import builder
from tests.support.paths import (
    ROOT,
    SAMPLES,
)

S2020, S2022 = SAMPLES / "nts-2020", SAMPLES / "nts-2022"


# pdftotext (poppler-utils) is installed by `make test` (scripts/ensure-system.sh): missing, the tests fail
def needs_pdftotext(test):  # pdftotext is installed by `make test`; missing, the test fails
    return test


# -- the printed pages ----------------------------------------------------------------------------
def pages(path: Path, password: str | None = None) -> list[str]:
    cmd = ["pdftotext", "-layout"] + (["-upw", password] if password else []) + [str(path), "-"]
    return subprocess.run(cmd, check=True, capture_output=True, text=True).stdout.split("\f")


NUM = r"(-?[\d,]+)"
KIND_HEADINGS = [
    ("[직불카드 등(제로페이 사용분)]", "debit"),
    ("[직불카드 등]", "debit"),
    ("[신용카드]", "credit"),
    ("[현금영수증]", "cash"),
]
USES = ["general", "market", "transit", "culture"]
ROW_PERIODS = [
    (r"\d{4}년 합계", "year"),
    (r"3월분", "03"),
    (r"4~7월분", "04-07"),
    (r"그외", "01-02,08-12"),
    (r"1월~6월", "01-06"),
    (r"7월~12월", "07-12"),
]


def _name(page: str) -> str:
    lines = page.splitlines()
    for i, line in enumerate(lines):
        if "성명" in line and "주민등록번호" in line:
            return next(ln for ln in lines[i + 1 :] if ln.strip()).split()[0]
    raise AssertionError("no 성명 on the page")


def printed_card_tables(text_pages: list[str]) -> dict[tuple, int]:
    """{(name, kind, use, period or "year"): amount} from every "사용금액 집계" table; 직불카드 등 and
    its 제로페이 part add up into one kind, as the lines have it."""
    out: dict[tuple, int] = defaultdict(int)
    for page in text_pages:
        if "사용금액 집계" not in page:
            continue
        kind = next(k for h, k in KIND_HEADINGS if h in page)
        name = _name(page)
        table = page[page.index("사용금액 집계") :]
        for label, period in ROW_PERIODS:
            m = re.search(rf"^\s*{label}\s+{NUM}\s+{NUM}\s+{NUM}\s+{NUM}\s+{NUM}\s*$", table, re.M)
            if m:
                values = [int(v.replace(",", "")) for v in m.groups()]
                assert sum(values[:4]) == values[4], (name, kind, label)  # the row's own 합계
                for use, v in zip(USES, values[:4]):
                    out[(name, kind, use, period)] += v
    return dict(out)


def printed_medical(text_pages: list[str]) -> dict[tuple, int]:
    """{(name, "general"|"glasses"|"postnatal"): amount} from the 인별합계금액 of the [의료비] pages."""
    out = {}
    labels = {"의료비": "general", "안경구입비": "glasses", "산후조리원": "postnatal"}
    for page in text_pages:
        if "[의료비]" not in page or "인별합계금액" not in page:
            continue
        name = _name(page)
        for label, key in labels.items():
            m = re.search(rf"^\s*{label} 인별합계금액\s+{NUM}\s*$", page, re.M)
            if m:  # a person's items may run over several pages: the subtotals close the last one
                out[(name, key)] = int(m.group(1).replace(",", ""))
    names = {n for n, _ in out}
    assert all((n, k) in out for n in names for k in labels.values()), "a subtotal was not found"
    return out


def line_amounts(ret) -> dict[tuple, int]:
    """{(name, key, period): amount} of a return."""
    out: dict[tuple, int] = defaultdict(int)
    for ln in ret.lines:
        out[(ln.person["name"], ln.key, ln.period)] += ln.amount
    return dict(out)


CARD_FILES = [
    (S2020 / "all.pdf", None),
    (S2020 / "all-password-1234567.pdf", "1234567"),
    (S2020 / "basic" / "credit-card.pdf", None),
    (S2020 / "basic" / "debit-card.pdf", None),
    (S2020 / "basic" / "cash-receipt.pdf", None),
    (S2020 / "detail" / "credit-card.pdf", None),
    (S2020 / "detail" / "debit-card.pdf", None),
    (S2022 / "all.pdf", None),
]


@needs_pdftotext
@pytest.mark.parametrize("path, password", CARD_FILES, ids=lambda v: str(v)[-30:] if v else "")
def test_card_lines_equal_the_printed_tables(path, password):
    doc = parse_document(path, password=password)
    [ret] = lines_of([doc])
    printed = printed_card_tables(pages(path, password))
    assert printed, "the test found no 집계 table"
    got = line_amounts(ret)
    splits = [p["period"] for p in spec().splits[ret.att_year]]
    checked = 0
    for (name, kind, use, period), amount in printed.items():
        key = f"card.{kind}.{use}"
        if period == "year":  # the year = the sum of the period lines (no whole-year line in a split year)
            assert sum(got.get((name, key, p), 0) for p in splits) == amount, (name, key)
            assert (name, key, "01-12") not in got
        else:
            assert got.get((name, key, period), 0) == amount, (name, key, period)
        checked += 1
    # and no card line the pages do not print
    for (name, key, period), amount in got.items():
        if key.startswith("card.") and period is not None and amount:
            _, kind, use = key.split(".")
            assert (name, kind, use, period) in printed, (name, key, period)
    assert checked >= 12


@needs_pdftotext
@pytest.mark.parametrize(
    "path",
    [S2020 / "all.pdf", S2020 / "basic" / "medical.pdf", S2020 / "detail" / "medical.pdf", S2022 / "all.pdf"],
    ids=lambda p: str(p)[-25:],
)
def test_medical_lines_equal_the_printed_subtotals(path):
    [ret] = lines_of([parse_document(path)])
    printed = printed_medical(pages(path))
    assert len(printed) >= 6
    got = line_amounts(ret)
    for (name, key), amount in printed.items():
        assert got.get((name, f"medical.{key}", None), 0) == amount, (name, key)


@needs_pdftotext
def test_health_insurance_is_the_printed_grand_total_with_its_year_end_adjustment():
    path = S2020 / "all.pdf"
    text = next(p for p in pages(path) if "[건강보험료]" in p)
    total = int(re.search(rf"총합계\s+{NUM}", text).group(1).replace(",", ""))
    [ret] = lines_of([parse_document(path)])
    assert ret.amount("insurance.health") == total


# -- several documents ----------------------------------------------------------------------------
def test_category_files_merge_into_the_taxpayers_return_and_duplicates_count_once():
    full = parse_document(S2020 / "all.pdf")
    parts = [parse_document(S2020 / "basic" / f) for f in ("medical.pdf", "credit-card.pdf", "donation.pdf")]
    parts.append(parse_document(S2020 / "detail" / "medical.pdf"))  # B101D: the same form as B101Y
    [alone] = lines_of([full])
    [merged] = lines_of([full] + parts)
    assert merged.taxpayer.rule == "subscriber" and merged.taxpayer.name == "고길동"
    for key in (
        "medical.general",
        "medical.glasses",
        "medical.reimbursed",
        "card.credit.general",
        "donation.special",
    ):
        assert merged.amount(key) == alone.amount(key), key
    dups = [w for w in merged.warnings if w["code"] == "duplicate_form"]
    assert {w["form_cd"][:4] for w in dups} >= {"B101", "B201", "G108", "L102"}
    assert len(merged.documents) == 5
    # the category files alone, whose owner is only their first person, still make one return
    returns = lines_of(parts)
    assert [r.taxpayer.name for r in returns] == ["고길동"]


def test_two_years_make_two_returns_and_a_dependant_is_a_person_on_the_taxpayers_lines():
    rets = lines_of([parse_xml(builder.year_xml(2021)), parse_xml(builder.year_xml(2023))])
    assert [r.att_year for r in rets] == [2021, 2023]
    child = [ln for ln in rets[0].lines if ln.person["name"] == builder.CHILD[1]]
    assert child and all(not ln.person["is_owner"] for ln in child)
    assert rets[0].amount("medical.general", person_resid=builder.CHILD[0]) == 20000


# -- signs, years, masking ------------------------------------------------------------------------
def _xml(year: int, forms: str, header: bool = True) -> bytes:
    head = "<resid>8501011234567</resid><name>부호</name>" if header else ""
    return (
        '<?xml version="1.0" encoding="utf-8" ?>\n<yesone><doc><doc_type>A</doc_type>'
        f"<seq>{year + 1}011500000009</seq><att_year>{year}</att_year><att_inqrMm>01 ~ 12월</att_inqrMm>"
        f"{head}</doc>{forms}</yesone>"
    ).encode()


def test_negative_amounts_are_summed_with_their_sign():
    """docs/format.md §8: any amount may be negative (an insurer's refund); the printed 합계 adds it with
    its sign, and so do the lines."""
    forms = (
        '<form form_cd="O101M"><man resid="8501011234567" name="부호"><data dat_cd="G0030">'
        '<sum hi_yrs="-24300" ltrm_yrs="-2070" hi_ntf="975700" ltrm_ntf="97930" hi_pmt="0" ltrm_pmt="0">1073630</sum>'
        "</data></man></form>"
        '<form form_cd="B101Y"><man resid="8501011234567" name="부호">'
        '<data dat_cd="G0003" busnid="1" trade_nm="의원"><sum>150000</sum></data>'
        '<data dat_cd="G0003" busnid="2" trade_nm="환불"><sum>-30000</sum></data></man></form>'
        '<form form_cd="G110Y"><man resid="8501011234567" name="부호"><sum_data>'
        "<gnrl_sum>-5000</gnrl_sum><tot_sum>-5000</tot_sum><tfhy_gnrl_sum>10000</tfhy_gnrl_sum>"
        "<shfy_gnrl_sum>-15000</shfy_gnrl_sum></sum_data>"
        '<data dat_cd="G0012" busnid="3" trade_nm="카드" use_place_cd="1"><sum>-5000</sum></data></man></form>'
    )
    [ret] = lines_of([parse_xml(_xml(2022, forms))])
    assert ret.amount("medical.general") == 120000
    assert ret.amount("insurance.health") == 1073630
    health = next(ln for ln in ret.lines if ln.key == "insurance.health")
    assert health.facts[0]["sum@hi_yrs"] == -24300
    assert ret.amount("card.credit.general", "01-06") == 10000
    assert ret.amount("card.credit.general", "07-12") == -15000
    assert not [w for w in ret.warnings if w["code"].startswith("card_")]


@pytest.mark.parametrize("year, periods", [(2021, ["01-12"]), (2023, ["01-12"]), (2024, ["01-12"])])
def test_years_without_a_split_in_their_data_give_whole_year_card_lines(year, periods):
    [ret] = lines_of([parse_xml(builder.year_xml(year))])
    cards = [
        ln
        for ln in ret.lines
        if ln.key.startswith("card.") and ln.key.split(".")[1] in ("credit", "debit", "cash")
    ]
    assert cards and sorted({ln.period for ln in cards}) == periods
    assert ret.amount("card.credit.general") == 900000 and ret.amount("card.credit.market") == 100000


def test_2020_gives_three_periods_and_2022_the_halves():
    [r2020] = lines_of([parse_document(S2020 / "all.pdf")])
    [r2022] = lines_of([parse_document(S2022 / "all.pdf")])
    card = lambda r: {ln.period for ln in r.lines if ln.key.startswith("card.credit.")}  # noqa: E731
    assert card(r2020) == {"03", "04-07", "01-02,08-12"}
    assert card(r2022) == {"01-06", "07-12"}


def test_2023_split_in_the_data_is_used():
    forms = (
        '<form form_cd="G111Y"><man resid="8501011234567" name="부호"><sum_data>'
        "<gnrl_sum>1000</gnrl_sum><tfhy_gnrl_sum>300</tfhy_gnrl_sum><shfy_gnrl_sum>700</shfy_gnrl_sum>"
        '</sum_data><data dat_cd="G0012" busnid="3" trade_nm="카드" use_place_cd="1"><sum>1000</sum></data>'
        "</man></form>"
    )
    [ret] = lines_of([parse_xml(_xml(2023, forms))])
    assert [(ln.period, ln.amount) for ln in ret.lines if ln.key == "card.credit.general"] == [
        ("01-03", 300),
        ("04-12", 700),
    ]


def test_a_split_year_without_period_figures_falls_back_to_months_then_says_so():
    monthly = (
        '<form form_cd="G108M"><man resid="8501011234567" name="부호">'
        '<data dat_cd="G0012" busnid="3" trade_nm="카드" use_place_cd="3"><sum>600</sum>'
        '<amt mm="02">100</amt><amt mm="03">200</amt><amt mm="05">300</amt></data></man></form>'
    )
    [ret] = lines_of([parse_xml(_xml(2020, monthly, header=False))])
    assert {ln.period: ln.amount for ln in ret.lines if ln.key == "card.credit.transit"} == {
        "03": 200,
        "04-07": 300,
        "01-02,08-12": 100,
    }
    yearly = monthly.replace('<amt mm="02">100</amt><amt mm="03">200</amt><amt mm="05">300</amt>', "")
    [ret] = lines_of([parse_xml(_xml(2020, yearly, header=False))])
    assert ret.amount("card.credit.transit", "01-12") == 600
    assert any(w["code"] == "card_period_missing" for w in ret.warnings)


def test_unmapped_items_are_listed_never_dropped():
    [ret] = lines_of([parse_xml(builder.year_xml(2024))])
    reasons = {(u["form_cd"], u["reason"]) for u in ret.unmapped}
    assert ("T101M", "not_a_line") in reasons and ("S101M", "not_a_line") in reasons
    assert ("C501Y", "not_a_line") in reasons
    assert ("G212M", "card_use_not_a_line") in reasons  # use_place_cd 8 주택임차료
    rent = next(u for u in ret.unmapped if u["form_cd"] == "G212M")
    assert rent["amount"] == 600000 and "use_place_cd=8" in rent["detail"]
    [r2026] = lines_of([parse_xml(builder.year_xml(2026))])
    assert r2026.lines == [] and any(w["code"] == "tax_year_not_described" for w in r2026.warnings)
    assert len(r2026.unmapped) >= 4


def test_donation_code_43_is_not_guessed():
    forms = (
        '<form form_cd="L102Y"><man resid="8501011234567" name="부호">'
        '<data dat_cd="G0020" busnid="1" trade_nm="고향" donation_cd="43"><sum>100000</sum></data></man></form>'
    )
    [ret] = lines_of([parse_xml(_xml(2023, forms))])
    assert ret.lines == [] and ret.unmapped[0]["detail"] == "donation_cd=43"


def test_masking_leaves_no_resident_number_anywhere():
    docs = [
        parse_document(S2020 / "all.pdf"),
        parse_document(S2022 / "all.pdf"),
        parse_document(S2020 / "basic" / "medical.pdf"),
        parse_xml(builder.year_xml(2024)),
    ]
    out = json.dumps([r.to_dict() for r in lines_of(docs, mask=True)], ensure_ascii=False)
    resids = {r for d in docs for r, _ in d.people() if r} | {builder.PARENT[0]}
    assert len(resids) >= 8 and not [r for r in resids if r in out or f"{r[:6]}-{r[6:]}" in out]
    assert not re.search(r"(?<!\d)\d{13}(?!\d)", out)  # (seq numbers have 16 digits)
    assert not re.search(r"\d{6}-\d{7}", out)
    assert "750101-1******" in out
    plain = json.dumps([r.to_dict() for r in lines_of(docs)], ensure_ascii=False)
    assert "7501011234567" in plain


def test_return_dict_shape_and_keys_are_in_the_contract():
    [ret] = lines_of([parse_document(S2022 / "all.pdf")], mask=True)
    d = ret.to_dict()
    assert set(d) == {"taxpayer", "att_year", "documents", "lines", "unmapped", "warnings"}
    assert d["taxpayer"] == {
        "resid": "750101-1******",
        "name": "고길동",
        "rule": "header",
        "rule_ko": "문서 머리(<doc>)에 적힌 근로자입니다.",
    }
    for ln in d["lines"]:
        assert set(ln) <= {"key", "period", "amount", "label", "person", "sources", "facts"}
        assert ln["key"] in keys() and isinstance(ln["amount"], int)
        assert set(ln["person"]) == {"resid", "name", "is_owner"}
        assert all(set(s) == {"form_cd", "dat_cd", "count"} for s in ln["sources"])
    # the output is a valid lines file of its own
    again = lines_from_dict(json.loads(json.dumps(d)))
    assert sum(ln.amount for ln in again.lines) == sum(ln["amount"] for ln in d["lines"])


def test_every_line_has_a_source_and_a_korean_label():
    data = json.loads((ROOT / "src" / "hometax_decrypt" / "deductions" / "lines.json").read_text("utf-8"))
    seen = set()
    for ln in data["lines"]:
        assert ln["key"] not in seen
        seen.add(ln["key"])
        assert ln["source"].strip() and re.search(r"[가-힣]", ln["label"])
        assert re.fullmatch(r"[a-z]+(\.[a-z_]+)+", ln["key"])
        for read in ln.get("reads", []):
            assert read["forms"]
    contract = {f"card.{k}.{u}" for k in ("credit", "debit", "cash") for u in USES}
    contract |= {
        "card.total.prev_year",
        "card.total.curr_year",
        "card.market.prev_year",
        "card.market.curr_year",
        "medical.general",
        "medical.glasses",
        "medical.postnatal",
        "medical.infertility",
        "medical.premature",
        "medical.reimbursed",
        "pension.savings",
        "pension.retirement",
        "pension.isa_transfer",
        "pension.personal",
        "insurance.health",
        "insurance.employment",
        "insurance.national_pension",
        "insurance.protection",
        "insurance.protection_disabled",
        "education.self",
        "education.preschool",
        "education.school",
        "education.university",
        "education.disabled",
        "education.uniform",
        "education.field_trip",
        "education.loan_repayment",
        "education.vocational",
        "donation.special",
        "donation.political",
        "donation.general",
        "donation.religious",
        "donation.employee_stock",
        "donation.hometown",
        "housing.lease_loan",
        "housing.mortgage_interest",
        "housing.subscription",
        "housing.jeonse_interest",
        "rent.monthly",
        "other.small_business",
        "other.long_term_fund",
        "other.venture",
    }
    assert contract <= seen
    doc = (ROOT / "docs" / "deductions.md").read_text("utf-8")
    assert all(f"`{k}`" in doc for k in seen)


# -- lines files ----------------------------------------------------------------------------------
def test_a_lines_file_is_read():
    ret = lines_from_dict(
        {
            "att_year": 2021,
            "lines": [
                {"key": "card.credit.general", "period": "01-12", "amount": 24000000},
                {
                    "key": "medical.general",
                    "amount": 300000,
                    "person": {"name": "부모", "resid": "5001011234567"},
                },
                {"key": "medical.infertility", "amount": -1000},
            ],
        }
    )
    assert ret.att_year == 2021 and len(ret.lines) == 3
    assert ret.lines[0].person["is_owner"] and not ret.lines[1].person["is_owner"]
    assert ret.to_dict(mask=True)["lines"][1]["person"]["resid"] == "500101-1******"
    r2020 = lines_from_dict(
        {"att_year": "2020", "lines": [{"key": "card.cash.transit", "period": "04-07", "amount": 5}]}
    )
    assert r2020.lines[0].period == "04-07"


@pytest.mark.parametrize(
    "data",
    [
        [],
        {"lines": []},
        {"att_year": 2019, "lines": []},
        {"att_year": 2021, "lines": {}},
        {"att_year": 2021, "lines": [{"key": "card.gold.general", "period": "01-12", "amount": 1}]},
        {"att_year": 2021, "lines": [{"key": "card.credit.general", "period": "01-06", "amount": 1}]},
        {"att_year": 2022, "lines": [{"key": "card.credit.general", "period": "03", "amount": 1}]},
        {"att_year": 2021, "lines": [{"key": "medical.general", "period": "01-12", "amount": 1}]},
        {"att_year": 2021, "lines": [{"key": "medical.general", "amount": 1.5}]},
        {"att_year": 2021, "lines": [{"key": "medical.general", "amount": "1000"}]},
        {"att_year": 2021, "lines": [{"key": "medical.general", "amount": True}]},
        {"att_year": 2021, "lines": [{"key": "medical.general"}]},
        {"att_year": 2021, "lines": ["medical.general"]},
        {"att_year": 2020, "lines": [{"key": "card.total.prev_year", "amount": 1}]},  # no 증가분 in 2020
        {
            "att_year": 2021,
            "lines": [{"key": "medical.general", "amount": 1}, {"key": "medical.general", "amount": 2}],
        },
        {
            "att_year": 2022,
            "lines": [
                {"key": "card.debit.transit", "period": "01-12", "amount": 1},
                {"key": "card.debit.transit", "period": "07-12", "amount": 1},
            ],
        },
        {"att_year": 2021, "lines": [{"key": "medical.general", "amount": 1, "person": {}}]},
    ],
)
def test_bad_lines_files_are_refused_with_their_own_error(data):
    with pytest.raises(errors.BadLines) as info:
        lines_from_dict(data)
    e = info.value
    assert e.code == "bad_lines" and e.http_status == 422 and e.exit_code == 10
    assert errors.BY_CODE["bad_lines"] is errors.BadLines
    assert "1000" not in e.message and "gold" not in e.message  # never the value


def test_the_new_error_keeps_the_table_consistent():
    spec_ = errors.SPECS["bad_lines"]
    others = {s.exit_code for c, s in errors.SPECS.items() if c != "bad_lines"}
    assert spec_.exit_code not in others | {0, 1, 7, 9}  # 7: not authentic, 9: bulk "some failed"
    assert spec_.message_ko and spec_.nts_code is None


def test_returns_and_lines_files_match_the_published_schema():
    import jsonschema

    schema = json.loads((ROOT / "docs" / "deductions.schema.json").read_text("utf-8"))
    jsonschema.Draft202012Validator.check_schema(schema)
    assert schema["$defs"]["line"]["properties"]["key"]["enum"] == keys()
    docs = [
        parse_document(S2020 / "all.pdf"),
        parse_document(S2022 / "all.pdf"),
        parse_xml(builder.year_xml(2024)),
    ]
    for ret in lines_of(docs, mask=True):
        jsonschema.validate(ret.to_dict(), schema)
    jsonschema.validate({"att_year": 2021, "lines": [{"key": "medical.general", "amount": 1}]}, schema)
    with pytest.raises(jsonschema.ValidationError):
        jsonschema.validate({"att_year": 2021, "lines": [{"key": "medical.general", "amount": 1.5}]}, schema)
