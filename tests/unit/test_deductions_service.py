"""The 공제신고서 operation (service/deductions.py): documents or a lines file in, returns out — the one
shape the CLI, the HTTP API, the XLSX sheet and the page render."""

from __future__ import annotations

import json
import re

import pytest

import hometax_decrypt as h
from hometax_decrypt import errors
from hometax_decrypt.service import deductions as D
from tests.support.paths import SAMPLES

ALL_2020 = SAMPLES / "nts-2020" / "all.pdf"
ALL_2022 = SAMPLES / "nts-2022" / "all.pdf"
FULL_RESID = re.compile(r"\b\d{6}-?[1-8]\d{6}\b")


@pytest.mark.parametrize(
    "given, expected",
    [
        (None, None),
        ("", None),
        ("  ", None),
        ("48000000", 48_000_000),
        ("48,000,000", 48_000_000),
        (0, 0),
        (35_000_000, 35_000_000),
        (" 1,234 ", 1234),
    ],
)
def test_salary_as_adapters_give_it(given, expected):
    assert D.parse_salary(given) == expected


@pytest.mark.parametrize("given", ["-1", -5, "abc", "4.5e7", "48000000.5", 4.8e7, True, "1" * 14, [1]])
def test_a_bad_salary_is_the_tables_error_never_a_zero(given):
    with pytest.raises(errors.BadSalary) as exc:
        D.parse_salary(given)
    assert exc.value.http_status == 422 and exc.value.exit_code == 2 and exc.value.message_ko


def test_documents_give_the_owners_return_with_the_estimate_and_the_notice():
    answer = D.from_documents([h.parse(ALL_2020)], salary=50_000_000, mask=True)
    assert answer["format"] == D.FORMAT and answer["notice"]["ko"] and "추정" in answer["notice"]["ko"]
    (ret,) = answer["returns"]
    assert (ret["att_year"], ret["taxpayer"]["name"], ret["salary"]) == (2020, "고길동", 50_000_000)
    figures = {f["key"]: f for f in ret["figures"]}
    # the card deduction of 2020 for this spending is bound by the limits whatever the order (330 + 300)
    assert figures["card.deduction"]["amount"] == 6_300_000
    assert all(f["rule"] and f["source"] for f in ret["figures"])
    not_computed = {n["key"] for n in ret["not_computed"]}
    assert {"tax.limits", "tax.standard_credit", "tax.overall_limit"} <= not_computed
    # masking is on the way out only: no full resident number anywhere in the answer
    assert not FULL_RESID.search(json.dumps(answer, ensure_ascii=False))


def test_without_a_salary_there_are_lines_but_no_figures():
    (ret,) = D.from_documents([h.parse(ALL_2022)])["returns"]
    assert ret["lines"] and ret["figures"] == []
    assert any("salary" in n["reason"] for n in ret["not_computed"])


def test_an_answer_edited_and_given_back_is_a_lines_file():
    answer = D.from_documents([h.parse(ALL_2020)], mask=False)
    again = D.from_lines(answer, salary="50,000,000")
    first = D.from_documents([h.parse(ALL_2020)], salary=50_000_000)
    assert again["returns"][0]["figures"] == first["returns"][0]["figures"]
    # a paper receipt added by payroll (the form's 그 밖의 자료) raises what it should
    lines = answer["returns"][0]["lines"] + [{"key": "medical.glasses", "amount": 300_000}]
    more = D.from_lines({"att_year": 2020, "lines": lines}, salary=50_000_000)
    assert more["returns"][0]["lines"][-1]["key"] == "medical.glasses"


def test_a_written_lines_file_and_its_refusals():
    data = {
        "att_year": 2024,
        "lines": [{"key": "card.credit.general", "period": "01-12", "amount": 24_000_000}],
    }
    (ret,) = D.from_lines(data, salary=40_000_000)["returns"]
    assert {f["key"] for f in ret["figures"]} >= {"card.base", "card.threshold"}
    for bad in (
        {"att_year": 2024, "lines": [{"key": "card.gold", "amount": 1}]},
        {"att_year": 2024, "lines": [{"key": "medical.general", "amount": "1e3"}]},
        {"lines": []},
        [1, 2],
        {"returns": [data, data]},
    ):
        with pytest.raises(errors.BadLines):
            D.from_lines(bad, salary=1)
