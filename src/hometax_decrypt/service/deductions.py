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
from ..deductions.lines import Return

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
    pay = parse_salary(salary)
    return _answer([_with_estimate(r, pay, facts, mask) for r in lines_of(documents)])


def from_lines(data: Any, salary: Any = None, facts: dict | None = None, mask: bool = False) -> dict:
    """One return from a lines file (``{"att_year", "lines": [...]}``, e.g. the output of
    :func:`from_documents` edited by a payroll system); refuses a malformed one with
    :class:`errors.BadLines`."""
    pay = parse_salary(salary)
    if isinstance(data, dict) and isinstance(data.get("returns"), list):  # a whole answer given back
        if len(data["returns"]) != 1:
            raise errors.BadLines("a lines file holds one return; split the answer per taxpayer and year")
        data = data["returns"][0]
    return _answer([_with_estimate(lines_from_dict(data), pay, facts, mask)])
