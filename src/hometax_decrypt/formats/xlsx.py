"""XLSX: the workbook HR staff open in Excel (``docs/records.md``, "XLSX").

Sheets, in this order:

- ``합계``: one row per person AND tax year across all documents × category (two years are never
  added; the same form of the same person and year in two documents counts once and is named in the
  ``duplicates`` column; T101M flags in ``dependant_flags``, never added);
- ``문서``: one row per document: file, 진본 여부, 발급번호, the document's owner;
- ``항목``: one row per ``<data>`` item, the CSV's columns (:data:`~.rows.COLUMNS`) plus the Korean
  label of the verification status beside it;
- ``공제신고서``: per document, the 공제신고서 lines its items fill (``deductions.lines_of`` of that
  document alone: no 총급여 here, so lines only, no estimate, and two documents of one person are not
  merged — ``hometax-decrypt deductions`` / ``POST /api/v1/deductions`` merge them and estimate); a
  note row above its header says so;
- one sheet per form family of :data:`FORM_SHEETS` that the documents hold (``의료비``, ``교육비``…):
  its items with every field the NTS definition gives that family as a column of its own (what the
  ``항목`` sheet packs into ``details``).

Every sheet has two header rows — the Korean label HR staff read, then the code a program matches
(the CSV's column name) — frozen, with an autofilter on the code row, and set column widths.
Amounts are numbers with thousands separators (원); every other cell, identifiers included
(주민등록번호, 발급번호, 사업자번호, 계좌번호), is a string cell: never a number Excel would round or
strip of its leading zero, never a formula or a link.
"""

from __future__ import annotations

import io
import json
from collections.abc import Sequence
from functools import cache
from typing import Any

from ..deductions import lines_of
from ..document.limits import Deadline
from ..records.catalog import catalog
from ..records.codes_doc import field_code
from ..records.model import to_int
from ..records.owner import owner_of
from ..records.provenance import keyed_items, source_file, status_label_ko, verification_status
from ..records.serialize import maybe_mask
from ..records.summary import labels, order
from .rows import COLUMN_LABELS_KO, COLUMNS, NUMERIC_COLUMNS, as_list, budget, doc_rows, person_year_totals

THOUSANDS = "#,##0"
HEADER_ROWS = 2  # the Korean labels, then the codes

SUMMARY_SHEET, DOCUMENTS_SHEET, ITEMS_SHEET, LINES_SHEET = "합계", "문서", "항목", "공제신고서"

# -- 항목: the CSV's columns, the status's Korean label beside it ------------------------------------
ITEM_COLUMNS = list(COLUMNS)
ITEM_COLUMNS.insert(ITEM_COLUMNS.index("verification_status") + 1, "verification_label")
ITEM_LABELS = {
    **COLUMN_LABELS_KO,
    "verification_status": "진본 여부(코드)",
    "verification_label": "진본 여부",
}
_WIDTHS = {
    "details": 60,
    "breakdown": 40,
    "trade_nm": 24,
    "form_name": 24,
    "item_name": 20,
    "source_file": 28,
    "item_key": 30,
    "resid": 16,
    "owner_resid": 16,
    "doc_seq": 18,
    "busnid": 13,
    "owner_rule": 12,
    "amount": 15,
    "sum_amount": 15,
    "name": 10,
    "owner_name": 10,
    "verification_label": 14,
    "verification_status": 16,
}

# -- 문서 ---------------------------------------------------------------------------------------------
DOCUMENT_COLUMNS = [
    ("source_file", "파일", 28),
    ("verification_status", "진본 여부(코드)", 16),
    ("verification_label", "진본 여부", 14),
    ("doc_seq", "발급번호", 18),
    ("issue_date", "발급일", 12),
    ("att_year", "귀속연도", 9),
    ("doc_type", "문서 종류", 16),
    ("owner_name", "문서 주인 성명", 12),
    ("owner_resid", "문서 주인 주민등록번호", 16),
    ("owner_rule", "문서 주인 판단 근거", 14),
    ("items", "항목 수", 9),
]

# -- 합계 ---------------------------------------------------------------------------------------------
SUMMARY_FIXED = ["att_year", "resid", "name", "doc_seqs"]
SUMMARY_TAIL = ["dependant_flags", "duplicates", "unverified_documents"]
SUMMARY_LABELS = {
    "att_year": "귀속연도",
    "resid": "주민등록번호",
    "name": "성명",
    "doc_seqs": "발급번호",
    "dependant_flags": "소득기준 초과 부양가족",
    "duplicates": "중복 자료(한 번만 집계)",
    "unverified_documents": "진본 미확인 자료(합계에 포함)",
}
_SUMMARY_WIDTHS = {
    "att_year": 9,
    "resid": 16,
    "name": 10,
    "doc_seqs": 20,
    "dependant_flags": 40,
    "duplicates": 40,
    "unverified_documents": 40,
}

# -- 공제신고서: the lines of each document (lines only: the records export has no 총급여) -----------
LINE_COLUMNS = [
    ("source_file", "파일", 28),
    ("doc_seq", "발급번호", 18),
    ("att_year", "귀속연도", 9),
    ("taxpayer_name", "본인 성명", 10),
    ("taxpayer_resid", "본인 주민등록번호", 16),
    ("person_name", "대상자 성명", 10),
    ("person_resid", "대상자 주민등록번호", 16),
    ("is_owner", "본인 여부", 9),
    ("label", "공제신고서 항목", 30),
    ("key", "항목 코드", 26),
    ("period", "기간", 12),
    ("amount", "금액(원)", 15),
    ("sources", "자료 출처(서식/자료코드×건수)", 30),
]
LINES_NOTE = (
    "공제신고서 입력값(국세청 자료 금액, 문서별). 총급여가 없어 추정 공제액은 계산하지 않았고, "
    "같은 사람의 여러 문서는 합치지 않았습니다. 추정치는 hometax-decrypt deductions 명령으로 "
    "확인하세요 — 추정치이며 연말정산 결과가 아닙니다."
)


def sources_text(sources: list[dict]) -> str:
    """A line's sources as one cell: ``G110Y/G0012×2; G310Y/G0014×1``."""
    return "; ".join(
        f"{s.get('form_cd') or ''}/{s.get('dat_cd') or '-'}×{s.get('count', 0)}" for s in sources
    )


def line_rows(doc, mask: bool = False) -> list[list]:
    """The 공제신고서 sheet's rows of one document: its lines (``lines_of([doc])``), in the order of
    :data:`LINE_COLUMNS`."""
    src, seq = source_file(doc, mask) or "", doc.doc.seq or ""
    out = []
    for ret in lines_of([doc], mask=mask):
        r = ret.to_dict()
        tp = r["taxpayer"]
        for ln in r["lines"]:
            person = ln["person"] or {}
            out.append(
                [
                    src,
                    seq,
                    r["att_year"] or "",
                    tp.get("name") or "",
                    tp.get("resid") or "",
                    person.get("name") or "",
                    person.get("resid") or "",
                    "Y" if person.get("is_owner") else "N",
                    ln["label"],
                    ln["key"],
                    ln["period"],
                    ln["amount"],
                    sources_text(ln["sources"]),
                ]
            )
    return out


# -- one sheet per form family ------------------------------------------------------------------------
# The ten form families HR staff look into most (each one in every sample all.pdf, and the ones whose
# fields payroll asks for): sheet name -> the form code prefixes it takes. A form of another family
# is in the 항목 sheet only.
FORM_SHEETS: dict[str, tuple[str, ...]] = {
    "건강보험": ("O1",),
    "국민연금": ("P1",),
    "보험료": ("A1",),
    "의료비": ("B1",),
    "실손의료보험금": ("B2",),
    "교육비": ("C",),
    "신용카드 등": ("G",),
    "연금계좌": ("E1", "F1"),
    "주택자금·월세": ("J",),
    "기부금": ("L1",),
}
FORM_FIXED = [
    "item_key",
    "source_file",
    "verification_label",
    "att_year",
    "form_cd",
    "name",
    "resid",
    "is_owner",
    "dat_cd",
    "item_name",
    "busnid",
    "trade_nm",
    "amount",
]
_OWN_COLUMN = {"man/data/@dat_cd", "man/data/@busnid", "man/data/@trade_nm", "man/data/sum"}


def form_sheet_of(form_cd: str) -> str | None:
    """The per-form sheet an item of ``form_cd`` also goes to, if any."""
    for name, prefixes in FORM_SHEETS.items():
        if (form_cd or "").startswith(prefixes):
            return name
    return None


@cache
def form_fields(sheet: str) -> tuple[tuple[str, str, str, bool], ...]:
    """(code, Korean label, catalog path, is a ``Num``) of every field of the sheet's forms that
    has no column of its own, in the catalog's order (forms by code, oldest version first): the
    same for every workbook, whatever the documents hold. ``code`` is the name ``details`` uses:
    ``acc_no`` (an attribute), ``goods_nm`` (an element), ``sum.ddct`` (an attribute of ``<sum>``)."""
    cat = catalog()
    prefixes = FORM_SHEETS[sheet]
    out: dict[str, tuple[str, str, str, bool]] = {}
    for base in sorted(cat.fields):
        if not base.startswith(prefixes):
            continue
        for path, (fd, _source) in cat.fields[base].items():
            if not path.startswith("man/data/") or path in _OWN_COLUMN:
                continue
            rest = path[len("man/data/") :]
            if rest == "amt" or rest.startswith("amt/"):
                continue  # the monthly/daily breakdown: the 항목 sheet's breakdown column
            if "/" in rest and not rest.startswith("sum/@"):
                continue  # an element inside an element: the 항목 sheet's details has it
            code = field_code(path)  # as docs/codes.md and details name it
            if code in out:
                continue
            out[code] = (code, fd.get("label") or code, path, fd.get("type") == "Num")
    return tuple(out.values())


def _field_value(item, path: str, is_num: bool, mask: bool):
    rest = path[len("man/data/") :]
    if rest.startswith("@"):
        name, value = rest[1:], item.attrs.get(rest[1:])
    elif rest.startswith("sum/@"):
        s = item.sum_node
        name, value = rest[5:], (s.attrs.get(rest[5:]) if s is not None else None)
    else:
        n = item.element(rest)
        if n is None:
            return None
        name, value = rest, n.text
        if n.children:
            return json.dumps({"text": n.text, "children": [c.tag for c in n.children]}, ensure_ascii=False)
    if value is None:
        return None
    if is_num:
        number = to_int(value)
        if number is not None:
            return number
    return maybe_mask(name, value, mask)


# -- what one document adds (a bulk run's workers make it; plain data, picklable) ----------------------


def chunk(doc, mask: bool = False, deadline: Deadline | None = None) -> dict:
    """Everything the workbook needs of one document: its 문서 row, its 항목 rows and its rows of
    the per-form sheets (``(sheet, row)``)."""
    dl = budget(deadline)
    rows = [_with_label(r) for r in doc_rows(doc, mask, dl)]
    forms = []
    for r, (_key, form, _person, item) in zip(rows, keyed_items(doc)):
        sheet = form_sheet_of(form.form_cd)
        if sheet is None:
            continue
        fixed = [r[c] for c in FORM_FIXED]
        forms.append(
            (
                sheet,
                fixed
                + [_field_value(item, path, is_num, mask) for _c, _l, path, is_num in form_fields(sheet)],
            )
        )
    owner = owner_of(doc)
    status = verification_status(doc)
    d = doc.doc
    document = {
        "source_file": source_file(doc, mask) or "",
        "verification_status": status,
        "verification_label": status_label_ko(status),
        "doc_seq": d.seq or "",
        "issue_date": d.issue_date or "",
        "att_year": d.att_year or "",
        "doc_type": catalog().code_label("doc_type", d.doc_type) or (d.doc_type or ""),
        "owner_name": owner.name or "",
        "owner_resid": maybe_mask("resid", owner.resid, mask) or "",
        "owner_rule": owner.rule,
        "items": len(rows),
    }
    return {
        "document": [document[c] for c, _l, _w in DOCUMENT_COLUMNS],
        "items": rows,
        "forms": forms,
        "lines": line_rows(doc, mask),
    }


def _with_label(row: dict) -> dict:
    row["verification_label"] = status_label_ko(row["verification_status"])
    return row


# -- 합계 ---------------------------------------------------------------------------------------------


def summary_rows(
    docs, mask: bool = False, deadline: Deadline | None = None
) -> tuple[list[tuple[str, str]], list[list]]:
    """Columns and rows of the person × tax year × category table (amounts as int or None): one row
    per person AND tax year across ``docs`` (:func:`~.rows.person_year_totals`); columns
    :data:`SUMMARY_FIXED`, one per category present, then :data:`SUMMARY_TAIL`."""
    return summary_table(person_year_totals(docs, mask, deadline))


def _flags_text(flags: list[dict]) -> str:
    return "; ".join(
        f"{f.get('name') or ''} {f.get('resid') or ''} 관계코드 {f.get('relation') or '?'}: "
        f"소득기준 초과 {f.get('over_income') or '?'}"
        for f in flags
    )


def _status_text(status: str, claimed: str | None) -> str:
    """A document's status label; with a client's claim (POST /export's ``statuses``), the claim
    beside it, marked as the sender's word (the server's own status stays first)."""
    label = status_label_ko(status)
    return f"{label}, 보낸 쪽 확인: {status_label_ko(claimed)}" if claimed else label


def _duplicates_text(dups: list[dict]) -> str:
    return "; ".join(
        f"{d['form_cd']} {d['doc_seq']} [{_status_text(d['doc_status'], d.get('doc_claimed_status'))}] "
        f"(집계: {d['counted_doc_seq']} "
        f"[{_status_text(d['counted_status'], d.get('counted_claimed_status'))}])"
        for d in dups
    )


def _unverified_text(docs: list[dict]) -> str:
    """The documents not authentic whose amounts this row counts: 발급번호 [their status]."""
    return "; ".join(f"{d['doc_seq']} [{status_label_ko(d['status'])}]" for d in docs)


def summary_table(table_in: list[dict]) -> tuple[list[tuple[str, str]], list[list]]:
    """:func:`summary_rows` of per-person-and-year totals already made. Columns are (code, Korean
    label): a category's code is its key (``medical``), its label ``의료비(원)``."""
    present = {c["category"] for p in table_in for c in p["categories"]}
    cats = [k for k in order() if k in present]
    lab = labels()
    columns = (
        [(c, SUMMARY_LABELS[c]) for c in SUMMARY_FIXED]
        + [(k, f"{lab[k]}(원)") for k in cats]
        + [(c, SUMMARY_LABELS[c]) for c in SUMMARY_TAIL]
    )
    table = []
    for p in table_in:
        by = {c["category"]: c["amount"] for c in p["categories"]}
        table.append(
            [p["att_year"] or "", p["resid"] or "", p["name"] or "", " ".join(p["documents"])]
            + [by.get(k) for k in cats]
            + [
                _flags_text(p["dependant_flags"]),
                _duplicates_text(p["duplicates"]),
                _unverified_text(p["unverified_documents"]),
            ]
        )
    return columns, table


# -- the workbook -------------------------------------------------------------------------------------


def to_xlsx(docs, mask: bool = False, deadline: Deadline | None = None) -> bytes:
    """Written with XlsxWriter in its in-memory mode: nothing of the workbook touches the disk
    (openpyxl writes every worksheet to a temporary file before zipping it, whatever its mode).
    Text cells are written as strings, never as formulas or links; amounts as numbers."""
    docs = as_list(docs)
    out = io.BytesIO()
    book = XlsxBook(out)
    for doc in docs:  # one budget per document (or the caller's), for its rows and its cells
        book.add(chunk(doc, mask, deadline))
    book.close(summary_rows(docs, mask, deadline))
    return out.getvalue()


class Sheet:
    """One worksheet: two header rows, frozen; the autofilter over the code row and the data rows
    is set when the sheet is closed (its last row known then). ``note``: a row of text above the
    header (what HR must read before the numbers: the 공제신고서 sheets' "추정치" notice)."""

    def __init__(
        self,
        book: Book,
        name: str,
        columns: Sequence[tuple[str, str, float]],
        numeric: set[str],
        freeze_cols: int = 0,
        note: str | None = None,
    ):
        self.ws = ws = book.wb.add_worksheet(name)
        self.book = book
        self.codes = [c for c, _l, _w in columns]
        self.numeric = [c in numeric for c in self.codes]
        for j, (_code, _label, width) in enumerate(columns):
            ws.set_column(j, j, width)
        self.top = 0
        if note:
            ws.set_row(0, 36)
            ws.write_string(0, 0, note, book.note_format)
            self.top = 1
        _header(ws, [(c, label) for c, label, _w in columns], book, self.top)
        ws.freeze_panes(self.top + HEADER_ROWS, freeze_cols)
        self.row = self.top + HEADER_ROWS

    def write(self, values: list) -> None:
        for j, v in enumerate(values):
            _write_cell(self.ws, self.row, j, v, self.numeric[j], self.book.thousands)
        self.row += 1

    def close(self) -> None:
        code_row = self.top + HEADER_ROWS - 1
        self.ws.autofilter(code_row, 0, max(self.row - 1, code_row), len(self.codes) - 1)


class Book:
    """An XLSX workbook with the house formats (thousands, the two header rows, the note row) and
    no sheet yet. ``tmpdir=None``: built in memory; a directory: XlsxWriter's ``constant_memory``
    mode, each row flushed to a temporary file there as it is written."""

    def __init__(self, out, tmpdir: str | None = None):
        import xlsxwriter

        options: dict[str, Any] = {
            "strings_to_formulas": False,
            "strings_to_urls": False,
            "strings_to_numbers": False,
        }
        if tmpdir is None:
            options["in_memory"] = True
        else:
            options.update(constant_memory=True, tmpdir=tmpdir)
        self.wb = wb = xlsxwriter.Workbook(out, options)
        self.thousands = wb.add_format({"num_format": THOUSANDS})
        self.label_format = wb.add_format(
            {"bold": True, "text_wrap": True, "valign": "top", "bg_color": "#DDEBF7", "border": 1}
        )
        self.code_format = wb.add_format(
            {"font_color": "#595959", "font_size": 9, "bg_color": "#F2F2F2", "border": 1}
        )
        self.note_format = wb.add_format({"bold": True, "font_color": "#C00000", "valign": "top"})


class XlsxBook(Book):
    """The XLSX layout, written a document at a time: :meth:`add` (a :func:`chunk`), then
    :meth:`close` with the ``합계`` sheet's columns and rows. ``tmpdir=None``: the workbook is built
    in memory; a directory: XlsxWriter's ``constant_memory`` mode, each row flushed to a temporary
    file there as it is written (a bulk run of any size: :mod:`hometax_decrypt.service.bulk`); every
    sheet's rows are written in order, which is all that mode asks."""

    def __init__(self, out, tmpdir: str | None = None):
        super().__init__(out, tmpdir)
        wb = self.wb
        # 합계 first (what HR opens the file for); its columns are known at the end only
        self.summary_ws = wb.add_worksheet(SUMMARY_SHEET)
        self.documents = Sheet(self, DOCUMENTS_SHEET, DOCUMENT_COLUMNS, {"items"})
        self.items = Sheet(
            self,
            ITEMS_SHEET,
            [(c, ITEM_LABELS[c], _WIDTHS.get(c, 14)) for c in ITEM_COLUMNS],
            NUMERIC_COLUMNS,
            freeze_cols=0,
        )
        self.lines = Sheet(self, LINES_SHEET, LINE_COLUMNS, {"amount"}, freeze_cols=0, note=LINES_NOTE)
        self.forms: dict[str, Sheet] = {}

    def add(self, part: dict) -> None:
        """One document's :func:`chunk`."""
        self.documents.write(part["document"])
        for r in part["items"]:
            self.items.write([r[c] for c in ITEM_COLUMNS])
        for sheet, values in part["forms"]:
            self._form_sheet(sheet).write(values)
        for values in part["lines"]:
            self.lines.write(values)

    def add_rows(self, rows) -> None:
        """Item rows alone (dicts keyed by :data:`~.rows.COLUMNS`), without their document."""
        for r in rows:
            self.items.write([_with_label(r)[c] for c in ITEM_COLUMNS])

    def _form_sheet(self, name: str) -> Sheet:
        sheet = self.forms.get(name)
        if sheet is None:  # made when the first item of its forms comes: no empty sheets
            fields = form_fields(name)
            columns = [(c, ITEM_LABELS[c], _WIDTHS.get(c, 14)) for c in FORM_FIXED] + [
                (code, label, max(12, min(30, len(label) * 2 + 2))) for code, label, _p, _n in fields
            ]
            numeric = set(NUMERIC_COLUMNS) | {code for code, _l, _p, is_num in fields if is_num}
            sheet = self.forms[name] = Sheet(self, name, columns, numeric, freeze_cols=1)
        return sheet

    def close(self, summary: tuple[list[tuple[str, str]], list[list]]) -> None:
        columns, table = summary
        ss = self.summary_ws
        numeric = range(len(SUMMARY_FIXED), len(columns) - len(SUMMARY_TAIL))
        for j, (code, _label) in enumerate(columns):
            ss.set_column(j, j, _SUMMARY_WIDTHS.get(code, 16))
        _header(ss, columns, self)
        ss.freeze_panes(HEADER_ROWS, len(SUMMARY_FIXED))
        for i, r in enumerate(table, start=HEADER_ROWS):
            for j, v in enumerate(r):
                _write_cell(ss, i, j, v, j in numeric, self.thousands)
        ss.autofilter(HEADER_ROWS - 1, 0, HEADER_ROWS - 1 + len(table), len(columns) - 1)
        for sheet in (self.documents, self.items, self.lines, *self.forms.values()):
            sheet.close()
        self.wb.close()


def _header(ws, columns: list[tuple[str, str]], book: Book, top: int = 0) -> None:
    """The two header rows from row ``top``: Korean labels, then codes — each row whole before the
    next (XlsxWriter's constant_memory mode writes a row out when the next one starts)."""
    ws.set_row(top, 30)
    for j, (_code, label) in enumerate(columns):
        ws.write_string(top, j, label, book.label_format)
    for j, (code, _label) in enumerate(columns):
        ws.write_string(top + 1, j, code, book.code_format)


def _write_cell(ws, row: int, col: int, value, numeric: bool, number_format) -> None:
    if value is None:
        return
    if numeric and isinstance(value, int):
        ws.write_number(row, col, value, number_format)
    else:
        ws.write_string(row, col, str(value))
