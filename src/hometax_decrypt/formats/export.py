"""Deprecated (0.2.x, removed in 0.3): the writers moved to one module per format —
:mod:`.json` (``to_json``, ``compact_json``), :mod:`.csv` (``to_csv``, ``csv_cells``), :mod:`.xlsx`
(``to_xlsx``, ``XlsxBook``, ``summary_rows``, ``summary_table``) and :mod:`.rows` (``rows``,
``COLUMNS``…, the item rows they share). Importing this module still works and warns."""

from __future__ import annotations

import warnings

from .csv import csv_cells, to_csv  # noqa: F401
from .json import compact_json, to_json  # noqa: F401
from .rows import COLUMNS, EXTRA_COLUMNS, MANDATED_COLUMNS, NUMERIC_COLUMNS, person_year_totals, rows  # noqa: F401
from .xlsx import SUMMARY_FIXED, SUMMARY_TAIL, THOUSANDS, XlsxBook, summary_rows, summary_table, to_xlsx  # noqa: F401

warnings.warn(
    "hometax_decrypt.formats.export is deprecated; import hometax_decrypt.formats.json, "
    ".csv, .xlsx or .rows (removed in 0.3)",
    DeprecationWarning,
    stacklevel=2,
)

__all__ = [
    "to_json",
    "to_csv",
    "to_xlsx",
    "rows",
    "summary_rows",
    "person_year_totals",
    "COLUMNS",
    "MANDATED_COLUMNS",
]
