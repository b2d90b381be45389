"""Totals of the amounts the documents state: per person within one document, and per person AND
tax year across documents.

No deduction is computed here (limits, rates and eligibility are payroll's business): each item adds
its :attr:`~hometax_decrypt.records.model.Item.amount` (the amount the NTS counts and prints:
``<sum>``, or ``ddct_bs_ass_amt`` for pension accounts) to its person's category. A form that states
no amount (T101M, 소득기준 초과 부양가족) is never added: it becomes a per-person flag.

Across documents (:func:`totals`), two documents of different tax years are never added into one
figure, and the same form of the same person and year in two documents (the same document uploaded
twice, ``all.pdf`` beside ``basic/medical.pdf``, or the yearly ``B101Y`` beside the daily ``B101D``
of ``detail/medical.pdf``: one form, whatever its period letter) counts once — from the newest issue
(highest ``seq``) — and is listed under ``duplicates``.
"""

from __future__ import annotations

from functools import lru_cache

from .catalog import catalog
from .model import mask_resid, to_int

FLAG_ATTRS = ("rlt_cd", "sup_name", "sup_resid", "inc_exc")


def order() -> list[str]:
    return [c.key for c in catalog().categories]


def labels() -> dict[str, str]:
    return {c.key: c.label for c in catalog().categories}


def _person_key(person) -> tuple:
    return ("resid", person.resid) if person.resid else ("name", person.name)


def dependant_flag(person, item, mask: bool = False, att_year: str | None = None) -> dict:
    """One T101M entry: the dependant (relation code, name, resident number) and whether their
    income is over the limit (``Y``/``N``). Read from the item, or from ``<man>`` when written there.
    ``att_year``: the document's tax year (by default the one the item was read with)."""
    get = lambda k: item.attrs.get(k, person.attrs.get(k))  # noqa: E731
    resid = get("sup_resid")
    inc = get("inc_exc")
    return {
        "relation": get("rlt_cd"),
        "name": get("sup_name"),
        "resid": mask_resid(resid) if mask else resid,
        "over_income": inc,
        "over_income_label": catalog().code_label(
            "inc_exc", inc, att_year if att_year is not None else item.att_year
        ),
    }


def _categories(totals: dict) -> list[dict]:
    lab = labels()
    return [
        {"category": k, "label": lab[k], "amount": totals[k]["amount"], "items": totals[k]["items"]}
        for k in order()
        if k in totals
    ]


def summarize(doc, deadline=None, mask: bool = False) -> list[dict]:
    """One document: ``[{"resid", "name", "att_year", "categories": [{"category", "label",
    "amount", "items"}], "dependant_flags": [...]}]`` in order of appearance; a person is
    identified by resid (by name when a resid is missing). ``deadline`` is checked at every item."""
    return summary_of(projection(doc, deadline), mask)


def _contribute(entry: dict, contribution: tuple, mask: bool) -> None:
    """Add one item's contribution (see :func:`projection`) to its person's entry: a category's
    amount and item count, or a dependant flag."""
    if contribution[0] == "flag":
        flag = dict(contribution[1])
        if mask:
            flag["resid"] = mask_resid(flag["resid"])
        entry["dependant_flags"].append(flag)
        return
    _, key, amount = contribution
    t = entry["totals"].get(key)
    if t is None:
        t = entry["totals"][key] = {"amount": None, "items": 0}
    t["items"] += 1
    if amount is not None:
        t["amount"] = (t["amount"] or 0) + amount


def summary_of(proj: dict, mask: bool = False) -> list[dict]:
    """:func:`summarize` of the document whose :func:`projection` this is."""
    people: dict[tuple, dict] = {}
    for pk, resid, name, _form_cd, contribution in proj["items"]:
        entry = people.get(pk)
        if entry is None:
            entry = people[pk] = {"resid": resid, "name": name, "totals": {}, "dependant_flags": []}
        _contribute(entry, contribution, mask)
    year = proj["att_year"]
    return [
        {
            "resid": e["resid"],
            "name": e["name"],
            "att_year": year,
            "categories": _categories(e["totals"]),
            "dependant_flags": e["dependant_flags"],
        }
        for e in people.values()
    ]


def totals(docs, deadline=None, mask: bool = False) -> list[dict]:
    """Per person and tax year across ``docs``: ``[{"resid", "name", "att_year", "documents": [seq],
    "categories": [...], "dependant_flags": [...], "duplicates": [{"form_cd", "doc_seq",
    "counted_doc_seq"}]}]`` in order of appearance. ``deadline``: a callable returning the budget of
    document i (or None)."""
    return totals_of(
        [projection(doc, deadline(i) if callable(deadline) else deadline) for i, doc in enumerate(docs)],
        mask=mask,
    )


@lru_cache(maxsize=4096)
def _form_summary(form_cd: str) -> tuple:
    """(counted, category key, the amount's element) of items of form ``form_cd``."""
    cat = catalog()
    return (cat.counted(form_cd), cat.summary_category(form_cd)[0], cat.summary_amount_element(form_cd))


def _amount(item, element: str | None) -> int | None:
    """:attr:`Item.amount <hometax_decrypt.records.model.Item.amount>` with its form's element
    already known."""
    if element is None:
        return None
    for c in item.children:
        if c.tag == element:
            return to_int(c.text)
    return None


def projection(doc, deadline=None) -> dict:
    """What :func:`totals` needs of one document, and nothing else: who appears in which form, and
    each item's person, form and contribution (a category's amount, or a dependant flag). Small and
    picklable: a bulk run keeps these instead of the documents (:mod:`hometax_decrypt.service.batch`)."""
    year = doc.doc.att_year or ""
    present = []
    for form in doc.forms:
        form4 = form.form_cd[:4]
        for person in form.people:
            if deadline is not None:
                deadline.check()
            present.append((_person_key(person), form4))
    items = []
    for form, person, item in doc.items():
        if deadline is not None:
            deadline.check()
        form_cd = form.form_cd
        counted, key, element = _form_summary(form_cd)
        contribution: tuple  # ("amount", key, amount) or ("flag", the dependant's entry)
        if counted:
            contribution = ("amount", key, _amount(item, element))
        else:
            contribution = ("flag", dependant_flag(person, item, att_year=doc.doc.att_year))
        items.append((_person_key(person), person.resid, person.name, form_cd, contribution))
    return {
        "seq": doc.doc.seq or "",
        "att_year": doc.doc.att_year,
        "year": year,
        "present": present,
        "items": items,
    }


def totals_of(projections: list[dict], mask: bool = False) -> list[dict]:
    """:func:`totals` of the documents whose :func:`projection` s these are, in that order."""
    # which document counts for each (person, year, form_cd): the newest issue
    keep: dict[tuple, int] = {}
    for i, p in enumerate(projections):
        for pk, form4 in p["present"]:
            k = (pk, p["year"], form4)
            best = keep.get(k)
            if best is None or (p["seq"], i) > (projections[best]["seq"], best):
                keep[k] = i
    out: dict[tuple, dict] = {}
    for i, p in enumerate(projections):
        year, seq = p["year"], p["seq"]
        for pk, resid, name, form_cd, contribution in p["items"]:
            entry = out.setdefault(
                (pk, year),
                {
                    "resid": resid,
                    "name": name,
                    "att_year": p["att_year"],
                    "documents": [],
                    "totals": {},
                    "dependant_flags": [],
                    "duplicates": [],
                },
            )
            if seq not in entry["documents"]:
                entry["documents"].append(seq)
            k = (pk, year, form_cd[:4])
            if keep[k] != i:
                dup = {"form_cd": form_cd, "doc_seq": seq, "counted_doc_seq": projections[keep[k]]["seq"]}
                if dup not in entry["duplicates"]:
                    entry["duplicates"].append(dup)
                continue
            _contribute(entry, contribution, mask)
    return [
        {
            "resid": mask_resid(e["resid"]) if mask else e["resid"],
            "name": e["name"],
            "att_year": e["att_year"],
            "documents": e["documents"],
            "categories": _categories(e["totals"]),
            "dependant_flags": e["dependant_flags"],
            "duplicates": e["duplicates"],
        }
        for e in out.values()
    ]


def by_year(person_year: list[dict]) -> list[dict]:
    """The per-person-and-year totals added up per tax year (everyone of that year, never two
    years together): ``[{"att_year", "people", "categories": [...]}]``, years in ascending order."""
    years: dict[str, dict] = {}
    for t in person_year:
        y = years.setdefault(t["att_year"] or "", {"people": 0, "totals": {}})
        y["people"] += 1
        for c in t["categories"]:
            s = y["totals"].setdefault(c["category"], {"amount": None, "items": 0})
            s["items"] += c["items"]
            if c["amount"] is not None:
                s["amount"] = (s["amount"] or 0) + c["amount"]
    return [
        {"att_year": y or None, "people": v["people"], "categories": _categories(v["totals"])}
        for y, v in sorted(years.items())
    ]
