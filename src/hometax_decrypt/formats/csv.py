"""CSV: UTF-8 with BOM (Excel opens it), one row per ``<data>`` item, the columns of
:mod:`~hometax_decrypt.formats.rows`.

A spreadsheet may run a CSV text cell as a formula when it starts with ``=``, ``+``, ``-``, ``@``, a
tab, CR or LF (``-1+cmd|…`` is a formula too), so every text cell starting with one of them is
prefixed with ``'``; amounts are numbers, written as numbers, never prefixed.
"""

from __future__ import annotations

import csv
import io
import re

from ..document.limits import Deadline
from .rows import COLUMNS, NUMERIC_COLUMNS, as_list, budget, doc_rows

_FORMULA = re.compile(r"^[=+\-@\t\r\n]")


def _safe_text(value: str) -> str:
    return "'" + value if value and _FORMULA.match(value) else value


def to_csv(docs, mask: bool = False, deadline: Deadline | None = None) -> bytes:
    buf = io.StringIO()
    w = csv.writer(buf, lineterminator="\r\n")
    w.writerow(COLUMNS)
    for doc in as_list(docs):
        w.writerows(csv_cells(doc, mask, budget(deadline)))
    return buf.getvalue().encode("utf-8-sig")


def csv_cells(doc, mask: bool = False, deadline: Deadline | None = None):
    """The CSV cells of one document's rows, one list per row (a bulk run writes them as they come)."""
    for r in doc_rows(doc, mask, budget(deadline)):
        yield [
            "" if r[c] is None else (str(r[c]) if c in NUMERIC_COLUMNS else _safe_text(r[c])) for c in COLUMNS
        ]
