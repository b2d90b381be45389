"""연말정산 rules per tax year (sourced data) and the estimate of what each 공제신고서 line is worth.

:func:`rules_for` gives one year's rules; :func:`estimate` turns lines and 총급여 into figures.
"""

from __future__ import annotations

from .estimate import KEYS, BadInput, BadLine, BadSalary, Estimate, estimate
from .rules import NoRules, YearRules, rules_for, years

__all__ = ["estimate", "Estimate", "KEYS", "BadInput", "BadLine", "BadSalary", "NoRules", "rules_for",
           "years", "YearRules"]
