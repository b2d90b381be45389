"""Totals of the amounts the documents state: per person within one document, and per person AND
tax year across documents.

No deduction is computed here (limits, rates and eligibility are payroll's business): each item adds
its :attr:`~hometax_decrypt.records.model.Item.amount` (the amount the NTS counts and prints:
``<sum>``, or ``ddct_bs_ass_amt`` for pension accounts) to its person's category. A form that states
no amount (T101M, 소득기준 초과 부양가족) is never added: it becomes a per-person flag.

Across documents (:func:`totals`), two documents of different tax years are never added into one
figure, and the same form of the same person and year in two documents (the same document uploaded
twice, ``all.pdf`` beside ``basic/medical.pdf``, or the yearly ``B101Y`` beside the daily ``B101D``
of ``detail/medical.pdf``: one form, whatever its period letter) counts once — from the document that
ranks first (:func:`rank`: an authentic one over any other, then the newest issue, ``seq`` compared as
a number) — and the others are listed under ``duplicates`` with both documents' verification status.
What a document that is not authentic adds is flagged: ``unverified_documents`` per person and year,
``unverified_items`` per category.

A document read from an XML data part alone (``POST /export``) has no verification (``unverified``);
the client may say what its own verification of the PDF gave (:attr:`Document.claimed_status
<hometax_decrypt.records.model.Document.claimed_status>`). Such a claim ranks that document among
duplicates (so what the client says is authentic counts over what it says is not, and below what
the server itself found authentic) and nothing else:
every status reported stays the server's, the claims are shown beside them (``doc_claimed_status``,
``counted_claimed_status``), and ``unverified_*`` still flag the document. A claim carries no proof,
but it lets the client do nothing it could not already: it could as well leave the other part out.

Linear in the documents' items: every lookup is a dict's, and the caller's deadline is checked at
every person and item (``/export`` holds up to ``HOMETAX_EXPORT_MAX_FILES`` documents, each up to
``HOMETAX_MAX_XML_ELEMENTS`` elements).
"""

from __future__ import annotations

from functools import lru_cache

from ..document.limits import Deadline
from ..timestamp.verdicts import AUTHENTIC
from .catalog import catalog
from .model import mask_resid, to_int
from .provenance import UNVERIFIED, verification_status

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


def _categories(totals: dict, flagged: bool = False) -> list[dict]:
    """The categories in the catalog's order; ``flagged``: with ``unverified_items`` (totals across
    documents: how many of the category's items come from a document that is not authentic)."""
    lab = labels()
    out = []
    for k in order():
        t = totals.get(k)
        if t is None:
            continue
        c = {"category": k, "label": lab[k], "amount": t["amount"], "items": t["items"]}
        if flagged:
            c["unverified_items"] = t.get("unverified_items", 0)
        out.append(c)
    return out


def summarize(doc, deadline=None, mask: bool = False) -> list[dict]:
    """One document: ``[{"resid", "name", "att_year", "categories": [{"category", "label",
    "amount", "items"}], "dependant_flags": [...]}]`` in order of appearance; a person is
    identified by resid (by name when a resid is missing). ``deadline`` is checked at every item."""
    return summary_of(projection(doc, deadline), mask)


def _contribute(entry: dict, contribution: tuple, mask: bool, unverified: bool = False) -> None:
    """Add one item's contribution (see :func:`projection`) to its person's entry: a category's
    amount and item count, or a dependant flag. ``unverified``: the item's document is not
    authentic (counted in the category's ``unverified_items``)."""
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
    if unverified:
        t["unverified_items"] = t.get("unverified_items", 0) + 1
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
    "categories": [{..., "unverified_items"}], "dependant_flags": [...], "duplicates": [{"form_cd",
    "doc_seq", "doc_status", "counted_doc_seq", "counted_status"}], "unverified_documents":
    [{"doc_seq", "status"}]}]`` in order of appearance; when a document carries a client's claim
    (``claimed_status``), every duplicate also ``doc_claimed_status`` and ``counted_claimed_status``
    (null for a document without one). ``deadline``: a :class:`Deadline` for the
    whole work, or a callable returning the budget of document i (then the totals themselves are
    checked against the last document's)."""
    projections = []
    last = None
    for i, doc in enumerate(docs):
        last = deadline(i) if callable(deadline) else deadline
        projections.append(projection(doc, last))
    return totals_of(projections, mask=mask, deadline=last)


def _seq_key(seq: str | None) -> tuple:
    """``seq`` (the 발급번호: issue date and serial, digits) compared as a NUMBER, without building
    one (a hostile ``seq`` may hold any number of digits): by its length without leading zeros, then
    its digits. A ``seq`` that is not a number ranks below every number, then as text."""
    s = (seq or "").strip()
    if s.isascii() and s.isdigit():
        s = s.lstrip("0")
        return (1, len(s), s)
    return (0, 0, s)


def rank(status: str | None, seq: str | None, position: int, claimed: str | None = None) -> tuple:
    """Which of two documents holding the same form of the same person and year counts: the greater
    rank. An authentic document over any other (``status``: its verification status), then the
    newest issue (``seq`` as a number), then the later one given (``position``). ``claimed``: a
    client's claim for a document the server could not verify (``status`` ``unverified``): it ranks
    as the status claimed, below a document the server itself found authentic; ignored otherwise."""
    effective = claimed if status == UNVERIFIED and claimed else status
    return (effective == AUTHENTIC, status == AUTHENTIC, _seq_key(seq), position)


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
        "status": verification_status(doc),
        # a client's claim counts only for a document the server could not verify (rank)
        "claimed": doc.claimed_status if doc.verification is None else None,
        "att_year": doc.doc.att_year,
        "year": year,
        "present": present,
        "items": items,
    }


def totals_of(projections: list[dict], mask: bool = False, deadline: Deadline | None = None) -> list[dict]:
    """:func:`totals` of the documents whose :func:`projection` s these are, in that order.
    ``deadline``: checked at every person and item (past it :class:`~hometax_decrypt.errors.Timeout`)."""
    check = deadline.check if deadline is not None else _no_check
    statuses = [p.get("status", UNVERIFIED) for p in projections]
    claims = [p.get("claimed") for p in projections]  # clients' claims (POST /export's statuses)
    claimed = any(claims)
    # each document's place in the ranking, as one integer: a comparison per (person, form) costs the
    # same whatever the length of a (hostile) seq
    ranked = sorted(
        range(len(projections)), key=lambda i: rank(statuses[i], projections[i]["seq"], i, claims[i])
    )
    ranks = [0] * len(projections)
    for place, i in enumerate(ranked):
        ranks[i] = place
    # which document counts for each (person, year, form): the one of the greatest rank
    keep: dict[tuple, int] = {}
    for i, p in enumerate(projections):
        r, year = ranks[i], p["year"]
        for pk, form4 in p["present"]:
            check()
            k = (pk, year, form4)
            best = keep.get(k)
            if best is None or r > ranks[best]:
                keep[k] = i
    # every list of an entry is a dict while it grows (its keys in order of appearance): one lookup
    # per item, never a scan of what the entry already holds
    out: dict[tuple, dict] = {}
    for i, p in enumerate(projections):
        year, seq, status = p["year"], p["seq"], statuses[i]
        unverified = status != AUTHENTIC
        for pk, resid, name, form_cd, contribution in p["items"]:
            check()
            entry = out.get((pk, year))
            if entry is None:
                entry = out[(pk, year)] = {
                    "resid": resid,
                    "name": name,
                    "att_year": p["att_year"],
                    "documents": {},
                    "totals": {},
                    "dependant_flags": [],
                    "duplicates": {},
                    "unverified": {},
                }
            entry["documents"][seq] = None
            best = keep[(pk, year, form_cd[:4])]
            if best != i:
                dup = (
                    form_cd,
                    seq,
                    status,
                    projections[best]["seq"],
                    statuses[best],
                    claims[i],
                    claims[best],
                )
                entry["duplicates"][dup] = None
                continue
            if unverified:
                entry["unverified"][(seq, status)] = None
            _contribute(entry, contribution, mask, unverified)
    return [
        {
            "resid": mask_resid(e["resid"]) if mask else e["resid"],
            "name": e["name"],
            "att_year": e["att_year"],
            "documents": list(e["documents"]),
            "categories": _categories(e["totals"], flagged=True),
            "dependant_flags": e["dependant_flags"],
            "duplicates": [_duplicate(d, claimed) for d in e["duplicates"]],
            "unverified_documents": [{"doc_seq": seq, "status": status} for seq, status in e["unverified"]],
        }
        for e in out.values()
    ]


def _duplicate(dup: tuple, claimed: bool) -> dict:
    """One entry of ``duplicates``; ``claimed``: the documents carry clients' claims (then both
    documents' claims are listed beside the statuses, which stay the server's)."""
    form_cd, seq, status, counted, counted_status, claim, counted_claim = dup
    out = {
        "form_cd": form_cd,
        "doc_seq": seq,
        "doc_status": status,
        "counted_doc_seq": counted,
        "counted_status": counted_status,
    }
    if claimed:
        out["doc_claimed_status"] = claim
        out["counted_claimed_status"] = counted_claim
    return out


def _no_check() -> None:
    pass


def by_year(person_year: list[dict]) -> list[dict]:
    """The per-person-and-year totals added up per tax year (everyone of that year, never two
    years together): ``[{"att_year", "people", "categories": [...]}]``, years in ascending order."""
    years: dict[str, dict] = {}
    for t in person_year:
        y = years.setdefault(t["att_year"] or "", {"people": 0, "totals": {}})
        y["people"] += 1
        for c in t["categories"]:
            s = y["totals"].setdefault(c["category"], {"amount": None, "items": 0, "unverified_items": 0})
            s["items"] += c["items"]
            s["unverified_items"] += c.get("unverified_items", 0)
            if c["amount"] is not None:
                s["amount"] = (s["amount"] or 0) + c["amount"]
    return [
        {"att_year": y or None, "people": v["people"], "categories": _categories(v["totals"], flagged=True)}
        for y, v in sorted(years.items())
    ]
