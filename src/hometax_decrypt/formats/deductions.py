"""The 공제신고서 answer (``hometax_decrypt.service.deductions``: ``{"format", "version", "notice",
"returns": [...]}``) as CSV and XLSX, for the CLI's ``deductions --format csv|xlsx`` (and anyone
holding such an answer). These only render: every number, label and reason is the answer's.

One table, the same columns in both (:data:`COLUMNS`), one row per entry of each return (taxpayer ×
tax year), the ``section`` column saying what the row is, in this order:

- ``notice``: the first row of the file — ``label`` the Korean notice, ``detail`` the English one
  ("an estimate, not the 연말정산 result"); a data row rather than a ``#`` comment, so that every CSV
  reader keeps it and no reader chokes on it;
- ``line``: a 공제신고서 line (``label``, ``key``, ``period``, the person, ``amount`` 원, ``detail``
  its sources ``G110Y/G0012×2``);
- ``figure``: an estimated amount (``key``, ``amount`` 원, ``detail`` the rule applied, ``source``
  the rule sources);
- ``not_computed``: what was not estimated (``key``, ``detail`` the reason) — with no salary one
  ``*`` row says the salary is missing;
- ``unmapped``: an item no line reads (``key`` ``form_cd/dat_cd``, ``amount``, ``detail`` reason and
  count); ``warning``: ``key`` the code, ``detail`` the Korean message.

Every row carries its return's ``att_year``, taxpayer and ``salary`` (empty when not given).
Amounts and years are numbers; identifiers (주민등록번호) and every other cell are text — in the CSV
any text cell that a spreadsheet would run as a formula is prefixed with ``'`` (as the records CSV),
in the XLSX they are string cells. Resident numbers are as the answer has them: masked when it was
made with ``mask=True``.

The XLSX is one sheet, ``공제신고서``: the notice in its first row, then the records workbook's two
header rows (Korean labels, then the codes), frozen, an autofilter on the code row, set widths,
``#,##0`` amounts (:mod:`.xlsx`'s :class:`~.xlsx.Book` and :class:`~.xlsx.Sheet`).
"""

from __future__ import annotations

import csv
import io

from .csv import _safe_text
from .xlsx import LINES_SHEET, Book, Sheet, sources_text

COLUMNS: list[tuple[str, str, float]] = [
    ("section", "구분", 14),
    ("att_year", "귀속연도", 9),
    ("taxpayer_name", "본인 성명", 10),
    ("taxpayer_resid", "본인 주민등록번호", 16),
    ("salary", "총급여(원)", 15),
    ("person_name", "대상자 성명", 10),
    ("person_resid", "대상자 주민등록번호", 16),
    ("is_owner", "본인 여부", 9),
    ("label", "항목", 30),
    ("key", "코드", 26),
    ("period", "기간", 12),
    ("amount", "금액(원)", 15),
    ("detail", "내용(출처·계산·사유)", 60),
    ("source", "근거", 60),
]
CODES = [c for c, _l, _w in COLUMNS]
NUMERIC = {"att_year", "salary", "amount"}

SECTIONS_KO = {
    "notice": "안내",
    "line": "입력값",
    "figure": "추정 공제액",
    "not_computed": "계산하지 않음",
    "unmapped": "반영 안 된 자료",
    "warning": "경고",
}

# What the XLSX says above its table, before the answer's own (longer) notice.
HEADLINE_KO = "추정치 — 연말정산 결과가 아닙니다."


def rows(answer: dict) -> list[dict]:
    """The table of ``answer``: one dict per row, keyed by :data:`CODES` (None: empty)."""
    notice = answer.get("notice") or {}
    out: list[dict] = [_row("notice", label=notice.get("ko"), detail=notice.get("en"))]
    for ret in answer.get("returns") or []:
        tp = ret.get("taxpayer") or {}
        base = {
            "att_year": ret.get("att_year"),
            "taxpayer_name": tp.get("name"),
            "taxpayer_resid": tp.get("resid"),
            "salary": ret.get("salary"),
        }
        for ln in ret.get("lines") or []:
            out.append(
                _row(
                    "line",
                    base,
                    ln.get("person"),
                    label=ln.get("label"),
                    key=ln.get("key"),
                    period=ln.get("period"),
                    amount=ln.get("amount"),
                    detail=sources_text(ln.get("sources") or []),
                )
            )
        for f in ret.get("figures") or []:
            out.append(
                _row(
                    "figure",
                    base,
                    label=f.get("label"),
                    key=f.get("key"),
                    amount=f.get("amount"),
                    detail=f.get("rule"),
                    source=f.get("source"),
                )
            )
        for n in ret.get("not_computed") or []:
            out.append(
                _row("not_computed", base, label=n.get("label"), key=n.get("key"), detail=n.get("reason"))
            )
        for u in ret.get("unmapped") or []:
            why = u.get("reason") or ""
            if u.get("detail"):
                why += f" ({u['detail']})"
            out.append(
                _row(
                    "unmapped",
                    base,
                    u.get("person"),
                    key=f"{u.get('form_cd') or ''}/{u.get('dat_cd') or '-'}",
                    amount=u.get("amount"),
                    detail=f"{why}, {u.get('count', 0)}건",
                )
            )
        for w in ret.get("warnings") or []:
            out.append(_row("warning", base, w.get("person"), key=w.get("code"), detail=w.get("message")))
    return out


def _row(section: str, base: dict | None = None, person: dict | None = None, **values) -> dict:
    row: dict = dict.fromkeys(CODES)
    row["section"] = section
    row.update(base or {})
    if person:
        row["person_name"] = person.get("name")
        row["person_resid"] = person.get("resid")
        row["is_owner"] = "Y" if person.get("is_owner") else "N"
    row.update(values)
    return row


def to_csv(answer: dict) -> bytes:
    """UTF-8 with BOM (Excel opens it), CRLF, the header row of :data:`CODES`, then :func:`rows`."""
    buf = io.StringIO()
    w = csv.writer(buf, lineterminator="\r\n")
    w.writerow(CODES)
    for r in rows(answer):
        w.writerow([_csv_cell(c, r[c]) for c in CODES])
    return buf.getvalue().encode("utf-8-sig")


def _csv_cell(code: str, value) -> str:
    if value is None:
        return ""
    if code in NUMERIC and isinstance(value, int) and not isinstance(value, bool):
        return str(value)
    return _safe_text(str(value))


def to_xlsx(answer: dict) -> bytes:
    """The ``공제신고서`` sheet: the notice on top, the two header rows, :func:`rows`."""
    out = io.BytesIO()
    book = Book(out)
    notice = (answer.get("notice") or {}).get("ko") or ""
    sheet = Sheet(book, LINES_SHEET, COLUMNS, NUMERIC, note=f"{HEADLINE_KO} {notice}".strip())
    for r in rows(answer)[1:]:  # the notice row is the note above the header here
        sheet.write([SECTIONS_KO[r["section"]] if c == "section" else r[c] for c in CODES])
    sheet.close()
    book.wb.close()
    return out.getvalue()
