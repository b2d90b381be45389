"""The model as JSON-ready dicts (see ``docs/document.schema.json`` and ``docs/records.md``).

The model does not serialise itself: this module reads it (and the catalog) and writes dicts.
Masking happens here, on the way out, never in the model: with ``mask=True`` every resident number
(``resid`` attributes and elements such as ``insu1_resid``, the document's own ``resid``, a landlord's
13-digit ``lsor_no``) becomes ``750101-1******``.
"""

from __future__ import annotations

from ..limits import Deadline, resolve
from .catalog import catalog
from .kind import document_kind
from .model import Node, is_resid_name, mask_resid, to_date, to_int
from .summary import dependant_flag, summarize

_DATE_SUFFIX = ("_dt", "date", "dd")
_RESID_LIKE = {"lsor_no"}  # a landlord's number: a business number or a resident number


def maybe_mask(name: str, value, mask: bool):
    if mask and value is not None and (is_resid_name(name) or name in _RESID_LIKE):
        return mask_resid(value)
    return value


def typed(form_cd: str, path: str, value: str | None):
    """An integer for amounts (``Num`` in the definition), an ISO date for 8-digit dates, else the
    text as written."""
    if value is None:
        return None
    cat = catalog()
    name = path.rsplit("/", 1)[-1].lstrip("@")
    if cat.field_type(form_cd, path) == "Num" and to_int(value) is not None:
        return to_int(value)
    if name.endswith(_DATE_SUFFIX):
        d = to_date(value)
        if d:
            return d
    return value


def default_deadline() -> Deadline:
    """A fresh time budget of ``Limits.max_seconds`` (environment or default) for one document."""
    return Deadline(resolve(None).max_seconds)


def node_to_dict(node: Node, form_cd: str, parent: str, mask: bool,
                 dl: Deadline | None = None) -> dict:
    dl = dl if dl is not None else default_deadline()
    dl.check()
    path = f"{parent}/{node.tag}"
    cat = catalog()
    fd, source = cat.field_entry(form_cd, path)
    out = {"tag": node.tag, "label": fd.get("label") if fd else None, "label_source": source}
    text = maybe_mask(node.tag, node.text, mask)
    out["text"] = text
    out["value"] = text if text != node.text else typed(form_cd, path, node.text)
    code = cat.code_label(node.tag, node.text)
    if code:
        out["code_label"] = code
    out["attributes"] = {k: maybe_mask(k, v, mask) for k, v in node.attrs.items()}
    out["children"] = [node_to_dict(c, form_cd, path, mask, dl) for c in node.children]
    return out


def _amounts(attrs: dict, form_cd: str, path: str, mask: bool) -> dict:
    out = {}
    for k, v in attrs.items():
        n = None if k in ("mm", "dd", "date", "fix_cd") else to_int(v)
        out[k] = maybe_mask(k, v, mask) if n is None else n
    return out


def item_to_dict(item, mask: bool, dl: Deadline | None = None) -> dict:
    dl = dl if dl is not None else default_deadline()
    dl.check()
    cat = catalog()
    fc = item.form_cd
    base = "man/data"
    attrs = {k: maybe_mask(k, v, mask) for k, v in item.attrs.items() if k != "dat_cd"}
    labels = {k: cat.field_label(fc, f"{base}/@{k}") for k in attrs}
    codes = {k: cat.code_label(k, v) for k, v in item.attrs.items()
             if k != "dat_cd" and cat.code_label(k, v)}
    elements = [node_to_dict(c, fc, base, mask, dl) for c in item.fields]
    s = item.sum_node
    summ = None
    if s is not None:
        summ = {"amount": item.sum_amount, "label": cat.field_label(fc, f"{base}/sum"),
                "attributes": _amounts(s.attrs, fc, f"{base}/sum", mask),
                "attribute_labels": {k: cat.field_label(fc, f"{base}/sum/@{k}") for k in s.attrs}}
        if item.sum_amount is None and (s.text or "").strip():
            summ["text"] = s.text  # not a number: kept as written, never dropped
    breakdown = []
    for n in item.children:  # the <amt> elements: Item.breakdown, read once each
        if n.tag != "amt":
            continue
        dl.check()
        amount = to_int(n.text)
        entry = {
            "mm": n.attrs.get("mm"), "dd": n.attrs.get("dd"), "date": to_date(n.attrs.get("dd")),
            "amount": amount,
            "attributes": _amounts({k: v for k, v in n.attrs.items() if k not in ("mm", "dd")},
                                   fc, f"{base}/amt", mask),
        }
        if amount is None and (n.text or "").strip():
            entry["text"] = n.text  # not a number: kept as written
        breakdown.append(entry)
    label, label_source = cat.item_entry(fc, item.dat_cd or "")
    out = {"dat_cd": item.dat_cd, "label": label, "label_source": label_source, "attributes": attrs,
           "attribute_labels": labels, "code_labels": codes, "elements": elements,
           "amount": item.amount, "amount_element": cat.summary_amount_element(fc), "sum": summ,
           "breakdown": breakdown}
    if item.text is not None:
        out["text"] = item.text
    if item.sam_extra:
        out["sam_extra"] = {k: to_int(v) if to_int(v) is not None else v
                            for k, v in item.sam_extra.items()}
    return out


def person_to_dict(person, form_cd: str, mask: bool, dl: Deadline | None = None) -> dict:
    """One ``<man>``; ``dependant_flags`` lists its T101M entries (a flag, never an amount)."""
    dl = dl if dl is not None else default_deadline()
    dl.check()
    cat = catalog()
    sd = person.sum_data
    sum_data = None
    if sd is not None:
        sum_data = [{"tag": c.tag, "label": cat.field_label(form_cd, f"man/sum_data/{c.tag}"),
                     "amount": to_int(c.text), "text": c.text} for c in sd.children]
    return {
        "resid": maybe_mask("resid", person.resid, mask),
        "name": person.name,
        "attributes": {k: maybe_mask(k, v, mask) for k, v in person.attrs.items()
                       if k not in ("resid", "name")},
        "sum_data": sum_data,
        "items": [item_to_dict(it, mask, dl) for it in person.items],
        "dependant_flags": [] if cat.counted(form_cd) else
        [dependant_flag(person, it, mask) for it in person.items],
        "extra": [node_to_dict(n, form_cd, "man", mask, dl) for n in person.extra],
    }


def form_to_dict(form, mask: bool, dl: Deadline | None = None, att_year: str | None = None) -> dict:
    dl = dl if dl is not None else default_deadline()
    cat = catalog()
    info = cat.form(form.form_cd, att_year)
    category, category_label = cat.summary_category(form.form_cd)
    return {
        "form_cd": form.form_cd,
        "label": info.label,
        "category": info.category,
        "summary_category": category,
        "summary_label": category_label,
        "counted": cat.counted(form.form_cd),
        "period": info.period,
        "period_label": info.period_label,
        "label_source": info.source,
        "tax_years": list(info.years),
        "reference": info.reference,
        "attributes": {k: v for k, v in form.attrs.items() if k != "form_cd"},
        "people": [person_to_dict(p, form.form_cd, mask, dl) for p in form.people],
        "extra": [node_to_dict(n, form.form_cd, "", mask, dl) for n in form.extra],
    }


def document_to_dict(doc, mask: bool = False, deadline: Deadline | None = None) -> dict:
    """``deadline``: this document's time budget (default: a fresh one of ``Limits.max_seconds``);
    checked at every element, past it :class:`~hometax_decrypt.errors.TooLarge`."""
    dl = deadline if deadline is not None else default_deadline()
    cat = catalog()
    d = doc.doc
    info = {
        "doc_type": d.doc_type,
        "doc_type_label": cat.code_label("doc_type", d.doc_type),
        "seq": d.seq,
        "issue_date": d.issue_date,
        "att_year": d.att_year,
        "att_inqrMm": d.att_inqrMm,
        "months": d.months,
        "resid": maybe_mask("resid", d.resid, mask),
        "name": d.name,
        "extra": [node_to_dict(n, "", "doc", mask, dl) for n in d.extra],
    }
    v = doc.verification
    summary = summarize(doc, dl, mask)
    for s in summary:
        s["resid"] = maybe_mask("resid", s["resid"], mask)
    return {
        "part": doc.part,
        **document_kind(doc),
        "doc": info,
        "verification": v.to_dict() if v is not None else None,
        "people": [{"resid": maybe_mask("resid", r, mask), "name": n} for r, n in doc.people(dl)],
        "forms": [form_to_dict(f, mask, dl, d.att_year) for f in doc.forms],
        "extra": [node_to_dict(n, "", "", mask, dl) for n in doc.extra],
        "summary": summary,
    }
