"""The model as JSON-ready dicts (see ``docs/document.schema.json`` and ``docs/records.md``).

The model does not serialise itself: this module reads it (and the catalog) and writes dicts.
Masking happens here, on the way out, never in the model: with ``mask=True`` every resident number
(``resid`` attributes and elements such as ``insu1_resid``, the document's own ``resid``, a landlord's
13-digit ``lsor_no``) becomes ``750101-1******``, and so does every value of any other field that
holds one (:func:`~.model.mask_resid_like`: a form without a layout, whose SAM columns stay raw as
``colN``, or an element the catalog does not know). :func:`maybe_mask` is that one decision.
"""

from __future__ import annotations

from functools import lru_cache
from typing import Any

from ..document.limits import Deadline, resolve
from .catalog import catalog
from .kind import document_kind
from .model import Node, is_resid_name, mask_resid, mask_resid_like, to_date, to_int
from .owner import owner_of
from .provenance import item_key, source_file, verification_status
from .sam import is_raw_column
from .summary import dependant_flag, summarize, summary_of

_DATE_SUFFIX = ("_dt", "date", "dd")
_RESID_LIKE = {"lsor_no"}  # a landlord's number: a business number or a resident number
_NOT_AMOUNT = ("mm", "dd", "date", "fix_cd")  # breakdown attributes that are codes or dates
_ITEM = "man/data"

# What the writers ask of the catalog per element depends only on (form, path, tax year), never on
# the rest of the document: it is looked up once per (form, path, year) here (bounded caches: form
# codes come from the input) instead of once per element through several calls.


@lru_cache(maxsize=4096)
def _maskable(name: str) -> bool:
    return is_resid_name(name) or name in _RESID_LIKE


def maybe_mask(name: str, value, mask: bool):
    """``value`` of field ``name`` as written, or with ``mask`` its resident numbers masked: the whole
    value of a resident-number field (``resid``, ``insu1_resid``, ``lsor_no``, …), and every
    resident number inside the value of any other field (known layout or not)."""
    if not mask or value is None:
        return value
    return mask_resid(value) if _maskable(name) else mask_resid_like(value)


@lru_cache(maxsize=8192)
def _node_meta(form_cd: str, path: str, tag: str, att_year: str | None = None) -> tuple:
    """(label, label_source, is a ``Num``, may be a date, resident number, the tag's code table)
    of the element at ``path``."""
    cat = catalog()
    fd, source = cat.field_entry(form_cd, path, att_year)
    label = fd.get("label") if fd else None
    return (
        label,
        source,
        bool(fd) and fd is not None and fd.get("type") == "Num",
        tag.endswith(_DATE_SUFFIX),
        _maskable(tag),
        cat.code_table(tag, att_year),
    )


@lru_cache(maxsize=8192)
def _field_label(form_cd: str, path: str, att_year: str | None = None) -> str | None:
    return catalog().field_label(form_cd, path, att_year)


@lru_cache(maxsize=8192)
def _item_attr_meta(form_cd: str, name: str, att_year: str | None = None) -> tuple:
    """(label, resident number, code table) of attribute ``name`` of a ``<data>`` item."""
    return (
        catalog().field_label(form_cd, f"{_ITEM}/@{name}", att_year),
        _maskable(name),
        catalog().code_table(name, att_year),
    )


@lru_cache(maxsize=4096)
def _form_meta(form_cd: str, att_year: str | None = None) -> tuple:
    """(``<sum>`` label, the amount's element) of items of form ``form_cd``."""
    cat = catalog()
    return cat.field_label(form_cd, f"{_ITEM}/sum", att_year), cat.summary_amount_element(form_cd)


def _typed(value: str, is_num: bool, is_date: bool):
    if is_num:
        n = to_int(value)
        if n is not None:
            return n
    if is_date:
        d = to_date(value)
        if d:
            return d
    return value


def default_deadline() -> Deadline:
    """A fresh time budget of ``Limits.max_seconds`` (environment or default) for one document."""
    return Deadline(resolve(None).max_seconds)


def _attributes(attrs: dict, mask: bool) -> dict:
    if not attrs:
        return {}
    if not mask:
        return dict(attrs)
    return {k: maybe_mask(k, v, True) for k, v in attrs.items()}


def node_to_dict(
    node: Node, form_cd: str, parent: str, mask: bool, dl: Deadline | None = None, att_year: str | None = None
) -> dict:
    """One element under ``parent`` in form ``form_cd`` of a document of tax year ``att_year``
    (labels may hold for some years only)."""
    dl = dl if dl is not None else default_deadline()
    dl.check()
    tag, raw = node.tag, node.text
    path = f"{parent}/{tag}"
    label, source, is_num, is_date, resid, codes = _node_meta(form_cd, path, tag, att_year)
    out = {"tag": tag, "label": label, "label_source": source}
    if raw is None:
        out["text"] = out["value"] = None
    else:
        text = raw if not mask else mask_resid(raw) if resid else mask_resid_like(raw)
        out["text"] = text
        out["value"] = text if text != raw else _typed(raw, is_num, is_date)
        if codes is not None:
            code = codes.get(raw.strip())
            if code:
                out["code_label"] = code
    out["attributes"] = _attributes(node.attrs, mask)
    out["children"] = [node_to_dict(c, form_cd, path, mask, dl, att_year) for c in node.children]
    return out


def _amounts(attrs: dict, mask: bool) -> dict:
    """Attributes of a ``<sum>`` or ``<amt>``: amounts as integers, codes and dates as written."""
    out = {}
    for k, v in attrs.items():
        masked = maybe_mask(k, v, mask)
        n = None if k in _NOT_AMOUNT or masked != v else to_int(v)
        out[k] = masked if n is None else n
    return out


def _breakdown(n: Node, mask: bool) -> dict:
    """One ``<amt>`` (Item.breakdown)."""
    attrs, text = n.attrs, n.text
    amount = to_int(text)
    if len(attrs) == 1 and "mm" in attrs:  # the common case: a month and its amount
        entry: dict = {"mm": attrs["mm"], "dd": None, "date": None, "amount": amount, "attributes": {}}
    else:
        dd = attrs.get("dd")
        entry = {
            "mm": attrs.get("mm"),
            "dd": dd,
            "date": to_date(dd),
            "amount": amount,
            "attributes": _amounts({k: v for k, v in attrs.items() if k not in ("mm", "dd")}, mask),
        }
    if amount is None and text is not None and text.strip():
        entry["text"] = maybe_mask("amt", text, mask)  # not a number: kept as written
    return entry


def item_to_dict(
    item, mask: bool, dl: Deadline | None = None, att_year: str | None = None, key: str | None = None
) -> dict:
    """One ``<data>``; ``att_year`` the document's tax year (by default the one the item was read
    with); ``key``: its :func:`~hometax_decrypt.records.provenance.item_key` (written first, as
    ``item_key``, when given)."""
    dl = dl if dl is not None else default_deadline()
    dl.check()
    fc = item.form_cd
    year = att_year if att_year is not None else item.att_year
    attrs, labels, codes = {}, {}, {}
    for k, v in item.attrs.items():
        if k == "dat_cd":
            continue
        label, resid, table = _item_attr_meta(fc, k, year)
        attrs[k] = v if not mask else mask_resid(v) if resid else mask_resid_like(v)
        labels[k] = label
        if table is not None:
            code = table.get(v.strip())
            if code:
                codes[k] = code
    sum_label, amount_element = _form_meta(fc, year)
    elements, breakdown = [], []
    s = amount_node = None
    for c in item.children:
        tag = c.tag
        if tag == "amt":
            dl.check()
            breakdown.append(_breakdown(c, mask))
        elif tag == "sum":
            if s is None:
                s = c
        else:
            elements.append(node_to_dict(c, fc, _ITEM, mask, dl, year))
        if amount_node is None and tag == amount_element:
            amount_node = c
    summ = None
    if s is not None:
        sum_amount = to_int(s.text)
        summ = {
            "amount": sum_amount,
            "label": sum_label,
            "attributes": _amounts(s.attrs, mask),
            "attribute_labels": {k: _field_label(fc, f"{_ITEM}/sum/@{k}", year) for k in s.attrs},
        }
        if sum_amount is None and (s.text or "").strip():
            summ["text"] = maybe_mask("sum", s.text, mask)  # not a number: kept as written, never dropped
    dat_cd = item.attrs.get("dat_cd")
    label, label_source = catalog().item_entry(fc, dat_cd or "", year)
    out: dict[str, Any] = {} if key is None else {"item_key": key}
    out.update(
        {
            "dat_cd": dat_cd,
            "label": label,
            "label_source": label_source,
            "attributes": attrs,
            "attribute_labels": labels,
            "code_labels": codes,
            "elements": elements,
            "amount": to_int(amount_node.text) if amount_node is not None else None,
            "amount_element": amount_element,
            "sum": summ,
            "breakdown": breakdown,
        }
    )
    if item.text is not None:
        out["text"] = maybe_mask("data", item.text, mask)
    if item.sam_extra:
        out["sam_extra"] = {k: _sam_extra(k, v, mask) for k, v in item.sam_extra.items()}
    return out


def _sam_extra(name: str, value: str, mask: bool):
    """A SAM column kept beside the item: a raw ``colN`` of a form without a layout as written (text:
    it may be an identifier, whose leading zeros count — never ``int()``), masked like any value; a
    named card total of a known layout as an integer."""
    if is_raw_column(name):
        return maybe_mask(name, value, mask)
    n = to_int(value)
    return n if n is not None else maybe_mask(name, value, mask)


def person_to_dict(
    person,
    form_cd: str,
    mask: bool,
    dl: Deadline | None = None,
    att_year: str | None = None,
    *,
    owner=None,
    position: tuple[str | None, str, int, int] | None = None,
) -> dict:
    """One ``<man>`` in a document of tax year ``att_year``; ``dependant_flags`` lists its T101M
    entries (a flag, never an amount). ``owner``: the document's
    :class:`~hometax_decrypt.records.owner.Owner` (``is_owner`` is written when given);
    ``position``: ``(seq, form_cd, form position, person position)``, the item keys' first
    arguments (written when given)."""
    dl = dl if dl is not None else default_deadline()
    dl.check()
    cat = catalog()
    sd = person.sum_data
    sum_data = None
    if sd is not None:
        sum_data = [
            {
                "tag": c.tag,
                "label": _field_label(form_cd, f"man/sum_data/{c.tag}", att_year),
                "amount": to_int(c.text),
                "text": c.text,
            }
            for c in sd.children
        ]
    out = {
        "resid": maybe_mask("resid", person.resid, mask),
        "name": person.name,
    }
    if owner is not None:
        out["is_owner"] = owner.is_person(person.resid, person.name)
    return {
        **out,
        "attributes": {
            k: maybe_mask(k, v, mask) for k, v in person.attrs.items() if k not in ("resid", "name")
        },
        "sum_data": sum_data,
        "items": [
            item_to_dict(it, mask, dl, att_year, None if position is None else item_key(*position, i))
            for i, it in enumerate(person.items, start=1)
        ],
        "dependant_flags": []
        if cat.counted(form_cd)
        else [dependant_flag(person, it, mask, att_year) for it in person.items],
        "extra": [node_to_dict(n, form_cd, "man", mask, dl, att_year) for n in person.extra],
    }


def form_to_dict(
    form,
    mask: bool,
    dl: Deadline | None = None,
    att_year: str | None = None,
    *,
    owner=None,
    seq: str | None = None,
    position: int | None = None,
) -> dict:
    """One ``<form>``. ``owner`` (the document's), ``seq`` and ``position`` (1-based, among the
    document's forms): given by :func:`document_to_dict` for ``is_owner`` and the item keys."""
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
        "people": [
            person_to_dict(
                p,
                form.form_cd,
                mask,
                dl,
                att_year,
                owner=owner,
                position=None if position is None else (seq, form.form_cd, position, j),
            )
            for j, p in enumerate(form.people, start=1)
        ],
        "extra": [node_to_dict(n, form.form_cd, "", mask, dl, att_year) for n in form.extra],
    }


def document_to_dict(
    doc, mask: bool = False, deadline: Deadline | None = None, *, projection: dict | None = None
) -> dict:
    """``deadline``: this document's time budget (default: a fresh one of ``Limits.max_seconds``);
    checked at every element, past it :class:`~hometax_decrypt.errors.TooLarge`. ``projection``:
    the document's :func:`~hometax_decrypt.records.summary.projection` when the caller made it
    already (its ``summary`` is read from it instead of walking the items again)."""
    dl = deadline if deadline is not None else default_deadline()
    cat = catalog()
    d = doc.doc
    info = {
        "doc_type": d.doc_type,
        "doc_type_label": cat.code_label("doc_type", d.doc_type, d.att_year),
        "seq": d.seq,
        "issue_date": d.issue_date,
        "att_year": d.att_year,
        "att_inqrMm": d.att_inqrMm,
        "months": d.months,
        "resid": maybe_mask("resid", d.resid, mask),
        "name": d.name,
        "extra": [node_to_dict(n, "", "doc", mask, dl, d.att_year) for n in d.extra],
    }
    v = doc.verification
    summary = summarize(doc, dl, mask) if projection is None else summary_of(projection, mask)
    for s in summary:
        s["resid"] = maybe_mask("resid", s["resid"], mask)
    owner = owner_of(doc)
    return {
        "part": doc.part,
        **document_kind(doc),
        "source_file": source_file(doc, mask),
        "verification_status": verification_status(doc),
        "doc": info,
        "owner": owner.to_dict(mask),
        "verification": v.to_dict() if v is not None else None,
        "people": [
            {"resid": maybe_mask("resid", r, mask), "name": n, "is_owner": owner.is_person(r, n)}
            for r, n in doc.people(dl)
        ],
        "forms": [
            form_to_dict(f, mask, dl, d.att_year, owner=owner, seq=d.seq, position=i)
            for i, f in enumerate(doc.forms, start=1)
        ],
        "extra": [node_to_dict(n, "", "", mask, dl, d.att_year) for n in doc.extra],
        "summary": summary,
    }
