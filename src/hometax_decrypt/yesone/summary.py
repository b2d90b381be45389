"""Per-person totals by category: the sums of the amounts the document states.

No deduction is computed here (limits, rates and eligibility are payroll's business): each item adds
its stated amount (``<sum>``, or ``ddct_bs_ass_amt`` for pension accounts, see
:data:`~hometax_decrypt.yesone.catalog.SUMMARY_AMOUNT_ELEMENT`) to its person's category.
"""

from __future__ import annotations

from .catalog import SUMMARY_CATEGORIES, catalog

ORDER = [key for key, _, _ in SUMMARY_CATEGORIES]
LABELS = {key: label for key, label, _ in SUMMARY_CATEGORIES}


def summarize(doc, deadline=None) -> list[dict]:
    """``[{"resid", "name", "categories": [{"category", "label", "amount", "items"}]}]`` in order
    of appearance; a person is identified by resid (by name when a resid is missing).
    ``deadline`` (a :class:`~hometax_decrypt.limits.Deadline`) is checked at every item."""
    people: dict[tuple, dict] = {}
    cat = catalog()
    for form, person, item in doc.items():
        if deadline is not None:
            deadline.check()
        key = ("resid", person.resid) if person.resid else ("name", person.name)
        entry = people.setdefault(key, {"resid": person.resid, "name": person.name, "totals": {}})
        category, _ = cat.summary_category(form.form_cd)
        t = entry["totals"].setdefault(category, {"amount": None, "items": 0})
        t["items"] += 1
        amount = item.stated_amount()
        if amount is not None:
            t["amount"] = (t["amount"] or 0) + amount
    out = []
    for entry in people.values():
        cats = [{"category": k, "label": LABELS[k], "amount": entry["totals"][k]["amount"],
                 "items": entry["totals"][k]["items"]}
                for k in ORDER if k in entry["totals"]]
        out.append({"resid": entry["resid"], "name": entry["name"], "categories": cats})
    return out
