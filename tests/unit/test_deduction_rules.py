"""The rules data: every value sourced, and the key statute figures per year (each test cites its source)."""

from __future__ import annotations

import re

import pytest

from hometax_decrypt.deductions.estimator import parse_period
from hometax_decrypt.deductions.rules import CONFIDENCE, NoRules, rules_for, sources, years

YEARS = list(range(2020, 2027))


def test_years_2020_to_2026():
    assert years() == YEARS


@pytest.mark.parametrize("year", YEARS)
def test_every_value_has_a_source_and_a_confidence(year):
    leaves = list(rules_for(year).leaves())
    assert len(leaves) > 50
    for leaf in leaves:
        assert leaf.year == year
        assert isinstance(leaf.source, str) and leaf.source.strip(), leaf.path
        assert leaf.confidence in CONFIDENCE, leaf.path


@pytest.mark.parametrize("year", YEARS)
def test_cited_source_ids_exist(year):
    known = set(sources())
    for leaf in rules_for(year).leaves():
        for sid in re.findall(r"\b([SN]\d+)\b", leaf.source):
            assert sid in known, (leaf.path, sid)


@pytest.mark.parametrize("year", YEARS)
def test_unverified_values_are_marked_not_guessed(year):
    # an unsettled value is either absent (None) or explicitly 'unverified' — never a silent guess
    for leaf in rules_for(year).leaves():
        if leaf.value is None and leaf.path not in ("medical.age_unlimited_max_child",):
            assert leaf.confidence == "unverified", leaf.path


@pytest.mark.parametrize("year", YEARS)
def test_card_rates_cover_each_kind_and_use_every_month_once(year):
    rates = rules_for(year)["card"]["rates"]
    for use in ("general", "market", "transit", "culture"):
        for kind in ("credit", "debit", "cash"):
            months: list[int] = []
            for leaf in rates:
                if leaf.selectors["use"] == use and kind in leaf.selectors["kinds"]:
                    months += sorted(parse_period(leaf.selectors["months"]))
            assert sorted(months) == list(range(1, 13)), (year, use, kind)


def test_no_rules_for_other_years():
    for bad in (2019, 2027, "2024", 2024.0, True, None):
        with pytest.raises(NoRules):
            rules_for(bad)


def _rate(year, use, kind, month):
    for leaf in rules_for(year)["card"]["rates"]:
        if (
            leaf.selectors["use"] == use
            and kind in leaf.selectors["kinds"]
            and month in parse_period(leaf.selectors["months"])
        ):
            return leaf
    raise AssertionError


@pytest.mark.parametrize("year", YEARS)
def test_card_threshold_is_25_percent(year):
    # 조특법 §126의2① 최저사용금액 = 총급여액의 100분의 25
    leaf = rules_for(year)["card"]["threshold_rate"]
    assert leaf.value == 0.25 and leaf.confidence == "statute"


def test_2023_card_rates_from_the_2023_4_11_amendment():
    # 조특법 §126의2②1–3호 (current text): 전통시장 50 % and 문화 40 % for 2023.4.1–12.31, 대중교통 80 % all 2023
    assert _rate(2023, "market", "credit", 3).value == 0.40
    assert _rate(2023, "market", "credit", 4).value == 0.50
    assert _rate(2023, "culture", "debit", 4).value == 0.40
    assert _rate(2023, "culture", "debit", 1).value == 0.30
    assert _rate(2023, "transit", "cash", 1).value == 0.80
    assert _rate(2023, "market", "credit", 4).confidence == "statute"


def test_2023_threshold_order_is_the_unread_table():
    # 조특법 §126의2②6호 단서: 2023 사용분은 별표 — the 별표 is an image not read → unverified
    leaf = rules_for(2023)["card"]["threshold_order"]
    assert leaf.value is None and leaf.confidence == "unverified"


@pytest.mark.parametrize("year", [2024, 2025, 2026])
def test_base_card_rates_and_order(year):
    # 조특법 §126의2②1–6호: 15 / 30 / 30 / 40 / 40 %, threshold taken from the lowest rate first
    assert _rate(year, "general", "credit", 6).value == 0.15
    assert _rate(year, "general", "debit", 6).value == 0.30
    assert _rate(year, "culture", "credit", 6).value == 0.30
    assert _rate(year, "market", "cash", 6).value == 0.40
    assert _rate(year, "transit", "cash", 6).value == 0.40
    assert rules_for(year)["card"]["threshold_order"].value == "lowest_rate_first"


def test_2024_increase():
    # 조특법 §126의2②7호: (2024 − 2023 × 105 %) × 10 %; ⑪2호: 연간 100만원
    inc = rules_for(2024)["card"]["increase"]
    assert (inc["applies"].value, inc["rate"].value, inc["growth_floor"].value, inc["cap"].value) == (
        True,
        0.10,
        1.05,
        1_000_000,
    )
    assert all(inc[k].confidence == "statute" for k in inc)


@pytest.mark.parametrize("year", [2023, 2025, 2026])
def test_no_increase(year):
    # 조특법 §126의2②7호 names only 2024 usage
    assert rules_for(year)["card"]["increase"]["applies"].value is False


def test_2022_increase_is_unsettled():
    # S13 reports a plan; the exact 2022 formula was not read (2023.4.11 deleted ②8호)
    inc = rules_for(2022)["card"]["increase"]
    assert inc["rate"].confidence == "unverified" and inc["rate"].value is None


def test_2022_additional_limit_is_pooled():
    # 조특법 부칙 2022.12.31 §27②: §126의2⑪ (pooled 추가한도) applies to the 2022 과세기간
    add = rules_for(2022)["card"]["additional"]
    assert add["mode"].value == "pooled" and add["mode"].confidence == "statute"
    assert {p.value for p in add["pools"]} == {3_000_000, 2_000_000}


@pytest.mark.parametrize("year", [2020, 2021])
def test_additional_limit_per_use_before_2022(year):
    add = rules_for(year)["card"]["additional"]
    assert add["mode"].value == "per_use" and [c.value for c in add["caps"]] == [1_000_000] * 3


def test_basic_limits():
    # 2020: +30만 (부칙 2020.12.29 §33 + S6/S7); 2023–2025: §126의2⑩ 300/250; 2026: ⑩ with 자녀등
    assert [t.value for t in rules_for(2020)["card"]["basic_limit"]] == [3_300_000, 2_800_000, 2_300_000]
    assert [t.value for t in rules_for(2021)["card"]["basic_limit"]] == [3_000_000, 2_500_000, 2_000_000]
    for y in (2023, 2024, 2025):
        assert [t.value for t in rules_for(y)["card"]["basic_limit"]] == [3_000_000, 2_500_000]
    assert sorted(t.value for t in rules_for(2026)["card"]["basic_limit"]) == [
        2_500_000,
        2_750_000,
        3_000_000,
        3_000_000,
        3_500_000,
        4_000_000,
    ]


@pytest.mark.parametrize("year", YEARS)
def test_medical_statute_values(year):
    # 소득세법 §59의4②: 총급여 3 % 초과분, 15 %, 그 밖의 부양가족 700만원
    med = rules_for(year)["medical"]
    assert med["threshold_rate"].value == 0.03 and med["rate_general"].value == 0.15
    assert med["other_dependants_limit"].value == 7_000_000
    assert med["threshold_order"].confidence == "unverified"


def test_medical_rates_by_year():
    # 난임 20 → 30 %, 미숙아 15 → 20 % from 2022 (S22); 6세 이하 from 2024 (소득세법 부칙 2023.12.31 §4)
    assert rules_for(2021)["medical"]["rate_infertility"].value == 0.20
    assert rules_for(2023)["medical"]["rate_infertility"].value == 0.30
    assert rules_for(2023)["medical"]["rate_premature"].value == 0.20
    assert rules_for(2023)["medical"]["age_unlimited_max_child"].value is None
    assert rules_for(2024)["medical"]["age_unlimited_max_child"].value == 6


@pytest.mark.parametrize("year", YEARS)
def test_education_and_insurance(year):
    # 소득세법 §59의4①③: 12 % / 15 % of ≤100만; 교육비 15 %, 300만 / 900만
    r = rules_for(year)
    assert (
        r["education"]["rate"].value,
        r["education"]["school_limit"].value,
        r["education"]["university_limit"].value,
    ) == (0.15, 3_000_000, 9_000_000)
    assert (r["insurance"]["protection_rate"].value, r["insurance"]["disabled_rate"].value) == (0.12, 0.15)


def test_pension_limits():
    # 소득세법 §59의3: 600/900 from 2023 (statute); 400/700 (50세 이상 600/900) before (S6, S25)
    assert (
        rules_for(2023)["pension"]["savings_limit"].value,
        rules_for(2023)["pension"]["combined_limit"].value,
    ) == (6_000_000, 9_000_000)
    assert (
        rules_for(2021)["pension"]["savings_limit"].value,
        rules_for(2021)["pension"]["combined_limit"].value,
    ) == (4_000_000, 7_000_000)


def test_rent_and_housing():
    # 조특법 부칙 2022.12.31 §18: 월세 15/17 % for 2022; 소득세법 부칙 2022.12.31 §3: 임차차입금 400만 from 2022
    assert (rules_for(2022)["rent"]["rate"].value, rules_for(2022)["rent"]["rate_high"].value) == (0.15, 0.17)
    assert rules_for(2021)["rent"]["rate"].value == 0.10
    assert rules_for(2021)["housing"]["lease_group_cap"].value == 3_000_000
    assert rules_for(2022)["housing"]["lease_group_cap"].value == 4_000_000
    # 장기주택저당 2023: the year of the 600–2,000 change is contested → unverified
    assert all(c.confidence == "unverified" for c in rules_for(2023)["housing"]["mortgage_caps"])
    assert [c.value for c in rules_for(2024)["housing"]["mortgage_caps"]] == [
        20_000_000,
        18_000_000,
        8_000_000,
        6_000_000,
    ]


def test_donation_rates():
    # 소득세법 §59의4④: 15 / 30 %; 2021–2022 20 / 35 % (S12, S17); §59의4⑧: 2024 3천만 초과 40 %
    assert (
        rules_for(2020)["donation"]["rate_low"].value,
        rules_for(2020)["donation"]["rate_high"].value,
    ) == (0.15, 0.30)
    assert (
        rules_for(2022)["donation"]["rate_low"].value,
        rules_for(2022)["donation"]["rate_high"].value,
    ) == (0.20, 0.35)
    assert rules_for(2024)["donation"]["rate_top"].value == 0.40
    assert "rate_top" not in rules_for(2025)["donation"]
    assert "hometown_rate" not in rules_for(2022)["donation"]
