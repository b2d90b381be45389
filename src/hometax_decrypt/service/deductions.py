"""The 공제신고서 operation: documents (or a lines file) in, per taxpayer and tax year the lines of the
근로소득자 소득·세액공제신고서 and, given 총급여, the estimate of what each is worth.

The CLI's ``deductions`` command, ``POST /api/v1/deductions``, the XLSX "공제신고서" sheet and the page
all call these and only render what they return (one shape: :data:`FORMAT`; docs/deductions.md and
docs/deductions.schema.json). The estimate runs on the unmasked lines (a dependant named in ``facts``
by resident number must still match) and only the output is masked.
"""

from __future__ import annotations

import re
from typing import Any

from .. import errors
from ..deductions import estimate, lines_from_dict, lines_of
from ..deductions import estimator as _estimator
from ..deductions.lines import Return
from .json_input import json_object

FORMAT = "hometax-decrypt/deductions"
VERSION = 1

# Said with every answer, in the JSON, the CLI's table, the XLSX sheet and the page (issue 19).
NOTICE = {
    "en": "An estimate from the NTS 간소화 amounts under the tax year's rules, stopping before 산출세액; "
    "not the 연말정산 result. Amounts in won (원).",
    "ko": "국세청 간소화 자료 금액과 해당 귀속연도 규정으로 계산한 추정치입니다(산출세액 이전 단계까지). "
    "연말정산 결과가 아닙니다. 금액 단위: 원.",
}

_DIGITS = re.compile(r"[0-9]{1,13}")  # up to 9조 원: more is no salary, and bounds the int


def parse_salary(value: Any) -> int | None:
    """총급여 as given by an adapter (a form field, a CLI argument, JSON): ``None`` or ``""`` means
    not given; ``"48,000,000"`` and ``48000000`` are read; anything else is :class:`errors.BadSalary`
    (never a silent zero)."""
    if value is None:
        return None
    if isinstance(value, bool):
        raise errors.BadSalary("not a number")
    if isinstance(value, int):
        if value < 0:
            raise errors.BadSalary("negative")
        return value
    if isinstance(value, str):
        text = value.strip().replace(",", "")
        if text == "":
            return None
        if not _DIGITS.fullmatch(text):
            raise errors.BadSalary("not a whole number of won" if not text.startswith("-") else "negative")
        return int(text)
    raise errors.BadSalary("not a number")


def _with_estimate(ret: Return, salary: int | None, facts: dict | None, mask: bool) -> dict:
    out = ret.to_dict(mask=mask)
    if ret.att_year is None:  # a document without <att_year>: no year's rules apply
        out.update(
            salary=salary,
            figures=[],
            not_computed=[{"key": "*", "reason": "귀속연도를 알 수 없음 — the document names no tax year"}],
        )
        return out
    est = estimate(ret.att_year, ret.to_dict(mask=False)["lines"], salary=salary, facts=facts).to_dict()
    out["salary"] = salary
    out["figures"] = est["figures"]
    out["not_computed"] = est["not_computed"]
    out["warnings"] = out["warnings"] + [{"code": "estimate", "message": w} for w in est["warnings"]]
    return out


def _answer(returns: list[dict]) -> dict:
    return {"format": FORMAT, "version": VERSION, "notice": dict(NOTICE), "returns": returns}


def from_documents(
    documents: list, salary: Any = None, facts: dict | None = None, mask: bool = False
) -> dict:
    """Every taxpayer × tax year among ``documents`` (parsed :class:`~hometax_decrypt.records.Document`):
    their lines, and the estimate when ``salary`` is given."""
    pay, facts = parse_salary(salary), parse_facts(facts)
    return _answer([_with_estimate(r, pay, facts, mask) for r in lines_of(documents)])


def from_lines(data: Any, salary: Any = None, facts: dict | None = None, mask: bool = False) -> dict:
    """One return from a lines file (``{"att_year", "lines": [...]}``, e.g. the output of
    :func:`from_documents` edited by a payroll system); refuses a malformed one with
    :class:`errors.BadLines`."""
    pay, facts = parse_salary(salary), parse_facts(facts)
    if isinstance(data, dict) and isinstance(data.get("returns"), list):  # a whole answer given back
        if len(data["returns"]) != 1:
            raise errors.BadLines("a lines file holds one return; split the answer per taxpayer and year")
        data = data["returns"][0]
    return _answer([_with_estimate(lines_from_dict(data), pay, facts, mask)])


# What ``facts`` may say (docs/deductions.md §7), and the type each fact must have: an adapter hands
# over what a user wrote, and a wrong type must be the table's error, never a traceback in the rules.
_FACT_LISTS = ("disabled", "special_case")  # resident numbers or names
_FACT_COUNTS = ("children", "births")
_FACT_FLAGS = ("age_50_plus", "homeless_householder")
_LOAN_TYPES = _estimator._LOAN_TYPES  # one source: the rule that reads it
FACTS_MAX_CHARS = 64 * 1024
# The JSON Schema of ``facts`` (the OpenAPI document's), from the same names as parse_facts.
FACTS_SCHEMA: dict = {
    "type": "object",
    "additionalProperties": False,
    "properties": {
        **{n: {"type": "array", "items": {"type": "string"}} for n in _FACT_LISTS},
        **{n: {"type": "integer", "minimum": 0, "maximum": 99} for n in _FACT_COUNTS},
        **{n: {"type": "boolean"} for n in _FACT_FLAGS},
        "mortgage_loan_type": {"enum": list(_LOAN_TYPES)},
    },
}


def parse_facts(value: Any) -> dict | None:
    """``facts`` as given by an adapter: ``None``/``""`` (none), a dict, or its JSON text. An unknown
    fact or a value of the wrong type is :class:`errors.UsageError` naming the fact, never its value."""
    if value is None or (isinstance(value, str) and not value.strip()):
        return None
    if isinstance(value, str):
        if len(value) > FACTS_MAX_CHARS:
            raise errors.UsageError("facts must be a JSON object")
        value = json_object(value, errors.UsageError, "facts must be a JSON object")
    if not isinstance(value, dict):
        raise errors.UsageError("facts must be a JSON object")
    for name, v in value.items():
        if name in _FACT_LISTS:
            ok = isinstance(v, list) and all(isinstance(x, str) for x in v)
            want = "a list of resident numbers or names"
        elif name in _FACT_COUNTS:
            ok = isinstance(v, int) and not isinstance(v, bool) and 0 <= v <= 99
            want = "a whole number 0-99"
        elif name in _FACT_FLAGS:
            ok, want = isinstance(v, bool), "true or false"
        elif name == "mortgage_loan_type":
            ok, want = v in _LOAN_TYPES, "one of " + ", ".join(_LOAN_TYPES)
        else:
            known = (*_FACT_LISTS, *_FACT_COUNTS, *_FACT_FLAGS, "mortgage_loan_type")
            raise errors.UsageError(f"unknown fact; facts are {', '.join(known)}")
        if not ok:
            raise errors.UsageError(f"facts.{name} must be {want}")
    return value
