"""XLSX: sheet ``items`` (the CSV's rows and columns, amounts as numbers with thousands separators)
and sheet ``summary`` (one row per person AND tax year across all documents × category: two years
are never added; the same form of the same person and year in two documents counts once and is
named in the ``duplicates`` column; T101M flags in ``dependant_flags``, never added).

Text is stored as string cells, which are never formulas.
"""

from __future__ import annotations

import io

from ..document.limits import Deadline
from ..records.summary import labels, order
from .rows import COLUMNS, NUMERIC_COLUMNS, as_list, budget, doc_rows, person_year_totals

THOUSANDS = "#,##0"


def _flags_text(flags: list[dict]) -> str:
    return "; ".join(f"{f.get('name') or ''} {f.get('resid') or ''} 관계코드 {f.get('relation') or '?'}: "
                     f"소득기준 초과 {f.get('over_income') or '?'}" for f in flags)


def _duplicates_text(dups: list[dict]) -> str:
    return "; ".join(f"{d['form_cd']} {d['doc_seq']} (집계: {d['counted_doc_seq']})" for d in dups)


SUMMARY_FIXED = ["att_year", "resid", "name", "doc_seqs"]
SUMMARY_TAIL = ["dependant_flags", "duplicates"]


def summary_rows(docs, mask: bool = False,
                 deadline: Deadline | None = None) -> tuple[list[str], list[list]]:
    """Header and rows of the person × tax year × category table (amounts as int or None): one row
    per person AND tax year across ``docs`` (:func:`~.rows.person_year_totals`); columns
    :data:`SUMMARY_FIXED`, one per category present, then :data:`SUMMARY_TAIL`."""
    return summary_table(person_year_totals(docs, mask, deadline))


def summary_table(table_in: list[dict]) -> tuple[list[str], list[list]]:
    """:func:`summary_rows` of per-person-and-year totals already made."""
    present = {c["category"] for p in table_in for c in p["categories"]}
    cats = [k for k in order() if k in present]
    lab = labels()
    header = SUMMARY_FIXED + [lab[k] for k in cats] + SUMMARY_TAIL
    table = []
    for p in table_in:
        by = {c["category"]: c["amount"] for c in p["categories"]}
        table.append([p["att_year"] or "", p["resid"] or "", p["name"] or "", " ".join(p["documents"])]
                     + [by.get(k) for k in cats]
                     + [_flags_text(p["dependant_flags"]), _duplicates_text(p["duplicates"])])
    return header, table


def to_xlsx(docs, mask: bool = False, deadline: Deadline | None = None) -> bytes:
    """Written with XlsxWriter in its in-memory mode: nothing of the workbook touches the disk
    (openpyxl writes every worksheet to a temporary file before zipping it, whatever its mode).
    Text cells are written as strings, never as formulas or links; amounts as numbers."""
    docs = as_list(docs)
    out = io.BytesIO()
    book = XlsxBook(out)
    for doc in docs:  # one budget per document (or the caller's), for its rows and its cells
        book.add_rows(doc_rows(doc, mask, budget(deadline)))
    book.close(summary_rows(docs, mask, deadline))
    return out.getvalue()


class XlsxBook:
    """The XLSX layout, written row by row: :meth:`add_rows` (the ``items`` sheet), then
    :meth:`close` with the ``summary`` sheet's header and rows. ``tmpdir=None``: the workbook is
    built in memory; a directory: XlsxWriter's ``constant_memory`` mode, each row flushed to a
    temporary file there as it is written (a bulk run of any size: :mod:`hometax_decrypt.service.bulk`)."""

    def __init__(self, out, tmpdir: str | None = None):
        import xlsxwriter

        options = {"strings_to_formulas": False, "strings_to_urls": False,
                   "strings_to_numbers": False}
        if tmpdir is None:
            options["in_memory"] = True
        else:
            options.update(constant_memory=True, tmpdir=tmpdir)
        self.wb = wb = xlsxwriter.Workbook(out, options)
        self.thousands = wb.add_format({"num_format": THOUSANDS})
        self.bold = wb.add_format({"bold": True})
        self.ws = ws = wb.add_worksheet("items")
        ws.freeze_panes(1, 0)
        widths = {"details": 60, "breakdown": 40, "trade_nm": 24, "form_name": 24}
        for j, c in enumerate(COLUMNS):
            ws.set_column(j, j, widths.get(c, 14))
            ws.write_string(0, j, c, self.bold)
        self.row = 1

    def add_rows(self, rows) -> None:
        """Rows as :func:`~.rows.rows` makes them (dicts keyed by :data:`~.rows.COLUMNS`)."""
        for r in rows:
            for j, c in enumerate(COLUMNS):
                _write_cell(self.ws, self.row, j, r[c], c in NUMERIC_COLUMNS, self.thousands)
            self.row += 1

    def close(self, summary: tuple[list[str], list[list]]) -> None:
        ss = self.wb.add_worksheet("summary")
        ss.freeze_panes(1, len(SUMMARY_FIXED))
        header, table = summary
        numeric = range(len(SUMMARY_FIXED), len(header) - len(SUMMARY_TAIL))
        for j, c in enumerate(header):
            ss.write_string(0, j, c, self.bold)
        for i, r in enumerate(table, start=1):
            for j, v in enumerate(r):
                _write_cell(ss, i, j, v, j in numeric, self.thousands)
        self.wb.close()


def _write_cell(ws, row: int, col: int, value, numeric: bool, number_format) -> None:
    if value is None:
        return
    if numeric and isinstance(value, int):
        ws.write_number(row, col, value, number_format)
    else:
        ws.write_string(row, col, str(value))
