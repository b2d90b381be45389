"""The 근로소득자 소득·세액공제신고서 from 간소화 documents: the lines the documents fill (:mod:`.lines`,
mapping data in ``lines.json``), the 연말정산 rules per tax year (:mod:`.rules`, sourced data in
``rules.json``) and the estimate of what each line is worth for a given 총급여 (:mod:`.estimator`).

    from hometax_decrypt.deductions import estimate, lines_of
    for ret in lines_of([parse_document("kim.pdf")], mask=True):
        print(ret.to_dict(), estimate(ret.att_year, ret.to_dict()["lines"], salary=48_000_000).to_dict())

docs/deductions.md has every line key, its label, periods and source, every rule and what is not
computed. An estimate, not the 연말정산 result: it stops before 산출세액.
"""

from __future__ import annotations

from .estimator import KEYS, BadInput, BadLine, BadSalary, Estimate, estimate
from .lines import Line, Return, keys, lines_from_dict, lines_of, spec, validate_lines
from .rules import NoRules, YearRules, rules_for, years

__all__ = [
    "lines_of",
    "lines_from_dict",
    "validate_lines",
    "keys",
    "spec",
    "Line",
    "Return",
    "estimate",
    "Estimate",
    "KEYS",
    "BadInput",
    "BadLine",
    "BadSalary",
    "NoRules",
    "rules_for",
    "years",
    "YearRules",
]
