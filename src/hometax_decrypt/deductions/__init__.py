"""The 근로소득자 소득·세액공제신고서 from 간소화 documents: the lines the documents fill (this part),
and the estimate from lines and 총급여 (added beside it).

    from hometax_decrypt.deductions import lines_of, lines_from_dict
    for ret in lines_of([parse_document("kim.pdf")], mask=True):
        print(ret.to_dict())

See docs/deductions.md for every line key, its label, periods and source.
"""

from __future__ import annotations

from .lines import Line, Return, keys, lines_from_dict, lines_of, spec, validate_lines

__all__ = ["lines_of", "lines_from_dict", "validate_lines", "keys", "spec", "Line", "Return"]
