"""JSON, CSV and XLSX writers over the model.

Each takes a LIST of documents (one employee's file, or a whole batch) and returns bytes:

- JSON: ``{"format": "hometax-decrypt/records", "version": 1, "documents": [...]}`` — always a list,
  one entry per document (``yesone.serialize.document_to_dict``); see ``docs/document.schema.json``.
- CSV: UTF-8 with BOM (Excel opens it), one row per ``<data>`` item; the header starts exactly
  ``form_cd,form_name,dat_cd,resid,name,busnid,trade_nm,amount`` (``amount`` = the amount the NTS
  counts and prints for the item: its ``<sum>``, or ``ddct_bs_ass_amt`` 순납입금액 for pension
  accounts; empty if none or if the form states no amount, T101M), then :data:`EXTRA_COLUMNS`
  (``sum_amount`` = the raw ``<sum>`` beside it, ``amount_element`` = where ``amount`` was read).
- XLSX: sheet ``items`` (the CSV's rows and columns, amounts as numbers with thousands separators)
  and sheet ``summary`` (one row per person AND tax year across all documents × category: two years
  are never added; the same form of the same person and year in two documents counts once and is
  named in the ``duplicates`` column; T101M flags in ``dependant_flags``, never added).
- JSON also carries ``totals``: the same per-person-and-year table (:func:`yesone.summary.totals`),
  and ``year_totals``: those added up per tax year (:func:`yesone.summary.by_year`; the upload page's
  항목별 합계).

``mask=True`` masks resident numbers everywhere (``750101-1******``) on the way out; the documents
are never changed. A spreadsheet may run a CSV text cell as a formula when it starts with ``=``, ``+``,
``-``, ``@``, a tab, CR or LF (``-1+cmd|…`` is a formula too), so every text cell starting with one of
them is prefixed with ``'`` in CSV; amounts are numbers, written as numbers, never prefixed. XLSX
stores text as string cells, which are never formulas.

Time: each document's work runs under a :class:`~hometax_decrypt.limits.Deadline` (by default a fresh
one of ``Limits.max_seconds`` per document; pass ``deadline=`` to share one budget), checked at every
item and element; past it, :class:`~hometax_decrypt.errors.TooLarge`.
"""

from __future__ import annotations

import csv
import io
import json
import re

import orjson

from ..document.limits import Deadline
from ..records.catalog import catalog
from ..records.serialize import default_deadline, document_to_dict, maybe_mask
from ..records.summary import by_year, labels, order, projection, totals, totals_of

MANDATED_COLUMNS = ["form_cd", "form_name", "dat_cd", "resid", "name", "busnid", "trade_nm", "amount"]
EXTRA_COLUMNS = ["doc_seq", "att_year", "item_name", "summary_category", "sum_amount", "amount_element",
                 "label_source", "period", "details", "breakdown"]
COLUMNS = MANDATED_COLUMNS + EXTRA_COLUMNS
NUMERIC_COLUMNS = {"amount", "sum_amount"}
THOUSANDS = "#,##0"
_FORMULA = re.compile(r"^[=+\-@\t\r\n]")


def _as_list(docs) -> list:
    if isinstance(docs, (list, tuple)):
        return list(docs)
    raise TypeError("pass a list of documents")


# -- JSON -----------------------------------------------------------------------------------------

def _deadline(deadline: Deadline | None) -> Deadline:
    """The budget of one document: the caller's, or a fresh one from the limits."""
    return deadline if deadline is not None else default_deadline()


def to_json(docs, mask: bool = False, deadline: Deadline | None = None) -> bytes:
    docs = _as_list(docs)
    # each document's projection serves both its own summary and the totals across documents
    projections = [projection(d, _deadline(deadline)) for d in docs]
    person_year = totals_of(projections, mask=mask)
    payload = {"format": "hometax-decrypt/records", "version": 1,
               "documents": [document_to_dict(d, mask=mask, deadline=_deadline(deadline),
                                              projection=p)
                             for d, p in zip(docs, projections)],
               "totals": person_year, "year_totals": by_year(person_year)}
    return compact_json(payload) + b"\n"


def compact_json(value) -> bytes:
    """``json.dumps(value, ensure_ascii=False, separators=(",", ":"))`` in UTF-8, written by orjson
    (a tenth of the standard library's time: 0.2 against 2.3 ms for nts-2020/all.pdf's records).
    For plain data (str keys, 64-bit integers, valid Unicode) the two give the same bytes (checked
    by tests/test_export.py); for anything orjson refuses, the standard library writes it, exactly
    as before."""
    try:
        return orjson.dumps(value)
    except TypeError:  # orjson.JSONEncodeError: a key or number it does not take, a lone surrogate
        return json.dumps(value, ensure_ascii=False, separators=(",", ":")).encode("utf-8")


def person_year_totals(docs, mask: bool = False, deadline: Deadline | None = None) -> list[dict]:
    """The per-person-and-tax-year totals of ``docs`` (resident numbers masked with ``mask``)."""
    docs = _as_list(docs)
    budgets = [_deadline(deadline) for _ in docs]
    return totals(docs, deadline=lambda i: budgets[i], mask=mask)


# -- rows -----------------------------------------------------------------------------------------

def _details(item, mask: bool) -> str:
    """Every attribute and element of the item not in a column of its own, labelled."""
    cat = catalog()
    fc = item.form_cd
    parts = []
    for k, v in item.attrs.items():
        if k in ("dat_cd", "busnid", "trade_nm"):
            continue
        label = cat.field_label(fc, f"man/data/@{k}") or k
        code = cat.code_label(k, v)
        value = maybe_mask(k, v, mask)
        parts.append(f"{label}({k})={value}" + (f" [{code}]" if code else ""))
    for n in item.fields:
        label = cat.field_label(fc, f"man/data/{n.tag}") or n.tag
        code = cat.code_label(n.tag, n.text)
        value = maybe_mask(n.tag, n.text or "", mask)
        if n.children:
            value = json.dumps(_node_plain(n, mask), ensure_ascii=False)
        parts.append(f"{label}({n.tag})={value}" + (f" [{code}]" if code else ""))
    s = item.sum_node
    if s is not None:
        if s.text and s.text.strip() and item.sum_amount is None:  # not a number: kept as written
            parts.append(f"{cat.field_label(fc, 'man/data/sum') or 'sum'}(sum)={s.text}")
        for k, v in s.attrs.items():
            label = cat.field_label(fc, f"man/data/sum/@{k}") or k
            parts.append(f"{label}(sum.{k})={maybe_mask(k, v, mask)}")
    for k, v in item.sam_extra.items():
        parts.append(f"{k}={v}")
    return "; ".join(parts)


def _node_plain(n, mask: bool):
    return {"tag": n.tag, "attributes": {k: maybe_mask(k, v, mask) for k, v in n.attrs.items()},
            "text": maybe_mask(n.tag, n.text, mask),
            "children": [_node_plain(c, mask) for c in n.children]}


def _breakdown(item, mask: bool) -> str:
    parts = []
    for b in item.breakdown:
        n = b.node
        key = n.attrs.get("mm") or n.attrs.get("dd") or ""
        others = [f"{k}={maybe_mask(k, v, mask)}" for k, v in n.attrs.items() if k not in ("mm", "dd")]
        text = n.text if n.text is not None else ""
        parts.append(f"{key}:{text}" + (f"({','.join(others)})" if others else ""))
    return "; ".join(parts)


def rows(docs, mask: bool = False, deadline: Deadline | None = None) -> list[dict]:
    """One dict per ``<data>`` item, keyed by :data:`COLUMNS` (amounts as int or None)."""
    out: list[dict] = []
    for doc in _as_list(docs):
        out.extend(_doc_rows(doc, mask, _deadline(deadline)))
    return out


def _doc_rows(doc, mask: bool, dl: Deadline):
    """The rows of one document, one at a time (the writers stream them)."""
    cat = catalog()
    for form, person, item in doc.items():
        dl.check()
        info = cat.form(form.form_cd, doc.doc.att_year)
        _, summary_label = cat.summary_category(form.form_cd)
        yield {
            "form_cd": form.form_cd,
            "form_name": info.label or "",
            "dat_cd": item.dat_cd or "",
            "resid": maybe_mask("resid", person.resid, mask) or "",
            "name": person.name or "",
            "busnid": item.attrs.get("busnid", ""),
            "trade_nm": item.attrs.get("trade_nm", ""),
            "amount": item.amount,
            "doc_seq": doc.doc.seq or "",
            "att_year": doc.doc.att_year or "",
            "item_name": item.label or "",
            "summary_category": summary_label,
            "sum_amount": item.sum_amount,
            "amount_element": cat.summary_amount_element(form.form_cd) or "",
            "label_source": info.source,
            "period": info.period_label or "",
            "details": _details(item, mask),
            "breakdown": _breakdown(item, mask),
        }


def _safe_text(value: str) -> str:
    return "'" + value if value and _FORMULA.match(value) else value


# -- CSV ------------------------------------------------------------------------------------------

def to_csv(docs, mask: bool = False, deadline: Deadline | None = None) -> bytes:
    buf = io.StringIO()
    w = csv.writer(buf, lineterminator="\r\n")
    w.writerow(COLUMNS)
    for doc in _as_list(docs):
        w.writerows(csv_cells(doc, mask, _deadline(deadline)))
    return buf.getvalue().encode("utf-8-sig")


def csv_cells(doc, mask: bool = False, deadline: Deadline | None = None):
    """The CSV cells of one document's rows, one list per row (a bulk run writes them as they come)."""
    for r in _doc_rows(doc, mask, _deadline(deadline)):
        yield ["" if r[c] is None else (str(r[c]) if c in NUMERIC_COLUMNS else _safe_text(r[c]))
               for c in COLUMNS]


# -- XLSX -----------------------------------------------------------------------------------------

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
    per person AND tax year across ``docs`` (:func:`person_year_totals`); columns
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
    docs = _as_list(docs)
    out = io.BytesIO()
    book = XlsxBook(out)
    for doc in docs:  # one budget per document (or the caller's), for its rows and its cells
        book.add_rows(_doc_rows(doc, mask, _deadline(deadline)))
    book.close(summary_rows(docs, mask, deadline))
    return out.getvalue()


class XlsxBook:
    """The XLSX layout, written row by row: :meth:`add_rows` (the ``items`` sheet), then
    :meth:`close` with the ``summary`` sheet's header and rows. ``tmpdir=None``: the workbook is
    built in memory; a directory: XlsxWriter's ``constant_memory`` mode, each row flushed to a
    temporary file there as it is written (a bulk run of any size: :mod:`hometax_decrypt.bulk`)."""

    def __init__(self, out, tmpdir: str | None = None):
        import xlsxwriter

        options: dict[str, object] = {"strings_to_formulas": False, "strings_to_urls": False,
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
        """Rows as :func:`rows` makes them (dicts keyed by :data:`COLUMNS`)."""
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


__all__ = ["to_json", "to_csv", "to_xlsx", "rows", "summary_rows", "person_year_totals", "COLUMNS",
           "MANDATED_COLUMNS"]
