"""The item rows every tabular format shares (CSV, the XLSX ``items`` sheet, a bulk run's chunks).

One row per ``<data>`` item; the header starts exactly
``form_cd,form_name,dat_cd,resid,name,busnid,trade_nm,amount`` (``amount`` = the amount the NTS
counts and prints for the item: its ``<sum>``, or ``ddct_bs_ass_amt`` 순납입금액 for pension accounts;
empty if none or if the form states no amount, T101M), then :data:`EXTRA_COLUMNS` (``sum_amount`` =
the raw ``<sum>`` beside it, ``amount_element`` = where ``amount`` was read).

``mask=True`` masks resident numbers everywhere (``750101-1******``) on the way out; the documents
are never changed.

Time: each document's work runs under a :class:`~hometax_decrypt.document.limits.Deadline` (by
default a fresh one of ``Limits.max_seconds`` per document; pass ``deadline=`` to share one budget),
checked at every item; past it, :class:`~hometax_decrypt.errors.TooLarge`.
"""

from __future__ import annotations

import json

from ..document.limits import Deadline
from ..records.catalog import catalog
from ..records.owner import owner_of
from ..records.provenance import keyed_items, source_file, verification_status
from ..records.serialize import default_deadline, maybe_mask
from ..records.summary import totals

MANDATED_COLUMNS = ["form_cd", "form_name", "dat_cd", "resid", "name", "busnid", "trade_nm", "amount"]
EXTRA_COLUMNS = [
    "doc_seq",
    "att_year",
    "item_name",
    "summary_category",
    "sum_amount",
    "amount_element",
    "label_source",
    "period",
    "details",
    "breakdown",
]
# issue 21: where the row comes from and how far to trust it (records/provenance.py), and whose
# document it is (records/owner.py); appended, so that the columns before keep their positions
PROVENANCE_COLUMNS = [
    "item_key",
    "source_file",
    "verification_status",
    "owner_resid",
    "owner_name",
    "owner_rule",
    "is_owner",
]
COLUMNS = MANDATED_COLUMNS + EXTRA_COLUMNS + PROVENANCE_COLUMNS
NUMERIC_COLUMNS = {"amount", "sum_amount"}
# what HR staff read above each column (the XLSX header; CSV keeps the codes alone)
COLUMN_LABELS_KO = {
    "form_cd": "서식코드",
    "form_name": "서식명",
    "dat_cd": "자료코드",
    "resid": "주민등록번호",
    "name": "성명",
    "busnid": "사업자번호",
    "trade_nm": "상호",
    "amount": "금액(원)",
    "doc_seq": "발급번호",
    "att_year": "귀속연도",
    "item_name": "항목명",
    "summary_category": "집계 항목",
    "sum_amount": "합계 금액(원)",
    "amount_element": "금액 항목",
    "label_source": "명칭 출처",
    "period": "기간 구분",
    "details": "기타 항목",
    "breakdown": "월별·일별 내역",
    "item_key": "항목 키",
    "source_file": "파일",
    "verification_status": "진본 여부",
    "owner_resid": "문서 주인 주민등록번호",
    "owner_name": "문서 주인 성명",
    "owner_rule": "문서 주인 판단 근거",
    "is_owner": "본인 여부",
}


def as_list(docs) -> list:
    if isinstance(docs, (list, tuple)):
        return list(docs)
    raise TypeError("pass a list of documents")


def budget(deadline: Deadline | None) -> Deadline:
    """The budget of one document: the caller's, or a fresh one from the limits."""
    return deadline if deadline is not None else default_deadline()


def person_year_totals(docs, mask: bool = False, deadline: Deadline | None = None) -> list[dict]:
    """The per-person-and-tax-year totals of ``docs`` (resident numbers masked with ``mask``)."""
    docs = as_list(docs)
    budgets = [budget(deadline) for _ in docs]
    return totals(docs, deadline=lambda i: budgets[i], mask=mask)


def _details(item, mask: bool, year: str | None) -> str:
    """Every attribute and element of the item not in a column of its own, labelled as in tax
    year ``year``."""
    cat = catalog()
    fc = item.form_cd
    parts = []
    for k, v in item.attrs.items():
        if k in ("dat_cd", "busnid", "trade_nm"):
            continue
        label = cat.field_label(fc, f"man/data/@{k}", year) or k
        code = cat.code_label(k, v, year)
        value = maybe_mask(k, v, mask)
        parts.append(f"{label}({k})={value}" + (f" [{code}]" if code else ""))
    for n in item.fields:
        label = cat.field_label(fc, f"man/data/{n.tag}", year) or n.tag
        code = cat.code_label(n.tag, n.text, year)
        value = maybe_mask(n.tag, n.text or "", mask)
        if n.children:
            value = json.dumps(_node_plain(n, mask), ensure_ascii=False)
        parts.append(f"{label}({n.tag})={value}" + (f" [{code}]" if code else ""))
    s = item.sum_node
    if s is not None:
        if s.text and s.text.strip() and item.sum_amount is None:  # not a number: kept as written
            parts.append(
                f"{cat.field_label(fc, 'man/data/sum', year) or 'sum'}(sum)={maybe_mask('sum', s.text, mask)}"
            )
        for k, v in s.attrs.items():
            label = cat.field_label(fc, f"man/data/sum/@{k}", year) or k
            parts.append(f"{label}(sum.{k})={maybe_mask(k, v, mask)}")
    for k, v in item.sam_extra.items():  # raw columns of a form without a layout: masked by value
        parts.append(f"{k}={maybe_mask(k, v, mask)}")
    return "; ".join(parts)


def _node_plain(n, mask: bool):
    return {
        "tag": n.tag,
        "attributes": {k: maybe_mask(k, v, mask) for k, v in n.attrs.items()},
        "text": maybe_mask(n.tag, n.text, mask),
        "children": [_node_plain(c, mask) for c in n.children],
    }


def _breakdown(item, mask: bool) -> str:
    parts = []
    for b in item.breakdown:
        n = b.node
        key = n.attrs.get("mm") or n.attrs.get("dd") or ""
        others = [f"{k}={maybe_mask(k, v, mask)}" for k, v in n.attrs.items() if k not in ("mm", "dd")]
        text = maybe_mask("amt", n.text, mask) if n.text is not None else ""
        parts.append(f"{key}:{text}" + (f"({','.join(others)})" if others else ""))
    return "; ".join(parts)


def rows(docs, mask: bool = False, deadline: Deadline | None = None) -> list[dict]:
    """One dict per ``<data>`` item, keyed by :data:`COLUMNS` (amounts as int or None)."""
    out: list[dict] = []
    for doc in as_list(docs):
        out.extend(doc_rows(doc, mask, budget(deadline)))
    return out


def doc_rows(doc, mask: bool, dl: Deadline):
    """The rows of one document, one at a time (the writers stream them)."""
    cat = catalog()
    owner = owner_of(doc)
    provenance = {
        "source_file": source_file(doc, mask) or "",
        "verification_status": verification_status(doc),
        "owner_resid": maybe_mask("resid", owner.resid, mask) or "",
        "owner_name": owner.name or "",
        "owner_rule": owner.rule,
    }
    year = doc.doc.att_year
    for key, form, person, item in keyed_items(doc):
        dl.check()
        info = cat.form(form.form_cd, year)
        _, summary_label = cat.summary_category(form.form_cd)
        yield {
            "form_cd": form.form_cd,
            "form_name": info.label or "",
            "dat_cd": item.dat_cd or "",
            "resid": maybe_mask("resid", person.resid, mask) or "",
            "name": person.name or "",
            "busnid": maybe_mask("busnid", item.attrs.get("busnid", ""), mask),
            "trade_nm": maybe_mask("trade_nm", item.attrs.get("trade_nm", ""), mask),
            "amount": item.amount,
            "doc_seq": doc.doc.seq or "",
            "att_year": doc.doc.att_year or "",
            "item_name": cat.item_label(item.form_cd, item.dat_cd or "", year) or "",
            "summary_category": summary_label,
            "sum_amount": item.sum_amount,
            "amount_element": cat.summary_amount_element(form.form_cd) or "",
            "label_source": info.source,
            "period": info.period_label or "",
            "details": _details(item, mask, year),
            "breakdown": _breakdown(item, mask),
            "item_key": key,
            **provenance,
            "is_owner": "Y" if owner.is_person(person.resid, person.name) else "N",
        }
