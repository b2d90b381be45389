"""The lines of the 근로소득자 소득·세액공제신고서 (국세청 자료 column) that 간소화 documents fill.

    returns = lines_of([doc1, doc2], mask=True)   # one Return per taxpayer × tax year
    returns[0].to_dict()                         # {"taxpayer", "att_year", "documents", "lines", ...}
    ret = lines_from_dict(json.load(fh))         # a user-written lines file, validated

What this does and why:

- **Grouping.** A return belongs to one taxpayer (:func:`~hometax_decrypt.records.owner.owner_of`) and
  one tax year: 연말정산 is per year, and the dependants' items are claimed by the taxpayer, so a
  dependant's item is a line of the taxpayer's return with ``person`` naming the dependant.
- **Several documents** of one taxpayer and year (a PDF per category, a re-issue) make one return. The
  same form of the same person in two of them counts once, from the newest issue — the rule of
  :mod:`hometax_decrypt.records.summary` — and the other is listed in ``warnings``.
- **What a line reads** is data, not code: ``lines.json`` beside this module, every entry with its
  tax years and its source. A form, item or code that no entry reads for the document's year is
  listed in ``unmapped`` with the reason: nothing is dropped, and nothing is mapped on a guess.
- **Cards** are read from each person's ``sum_data``, the NTS's own totals per use and per period
  (what the printed "신용카드 등 사용금액 집계" shows: docs/format.md §8), split into the periods whose
  rates differ in that year when the data splits them; without ``sum_data`` they are added up from
  the items (by month when the year splits and the items have months).
- **Amounts** are integers of 원 as the document states them, negative where it says so (docs/format.md §8):
  lines add them with their sign, as the printed 합계 does.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from functools import lru_cache
from importlib import resources

from ..errors import BadLines
from ..records.catalog import catalog
from ..records.model import mask_resid, to_int, to_year
from ..records.owner import FIRST_PERSON, HEADER, NONE, SUBSCRIBER, Owner, owner_of
from ..records.provenance import verification_status
from ..records.summary import rank

WHOLE_YEAR = "01-12"
LINES_FILE = "lines_file"  # the taxpayer rule of a return read from a user's lines file
_RULE_STRENGTH = {HEADER: 3, SUBSCRIBER: 2, FIRST_PERSON: 1, NONE: 0, LINES_FILE: 0}
MAX_FILE_LINES = 10_000  # a lines file is a person's return: a few dozen lines


# -- the mapping ----------------------------------------------------------------------------------
@dataclass(frozen=True)
class LineSpec:
    key: str
    label: str
    years: frozenset[int]
    reads: tuple[dict, ...]
    source: str
    periods: bool  # a card use line: split by period in the years that split
    order: int


class Spec:
    """``lines.json``, indexed."""

    def __init__(self, data: dict):
        self.data = data
        self.years = tuple(data["years"])
        self.lines = {
            ln["key"]: LineSpec(
                ln["key"],
                ln["label"],
                frozenset(ln["years"]),
                tuple(ln.get("reads", ())),
                ln["source"],
                bool(ln.get("periods")),
                i,
            )
            for i, ln in enumerate(data["lines"])
        }
        card = data["card"]
        # use_place_cd -> sum_data element stem, and -> the use part of the key, from the card use
        # lines' reads (use_place_cd 1 → gnrl → card.*.general, …)
        self.uses: dict[str, str] = {}
        self.use_keys: dict[str, str] = {}
        for s in self.lines.values():
            for r in s.reads if s.periods else ():
                self.uses[r["use_place_cd"]] = r["sum_data"]
                self.use_keys[r["use_place_cd"]] = s.key.split(".")[2]
        self.year_element = card["year_element"]
        self.splits: dict[int, list[dict]] = {int(y): p["split"] for y, p in card["periods"].items()}
        self.whole_year = data["whole_year"]
        self.not_lines = data.get("not_lines", [])
        # card form family -> kind, from the card use lines' reads (G4 제로페이 → debit)
        self.card_kinds: dict[str, str] = {
            f: s.key.split(".")[1]
            for s in self.lines.values()
            if s.periods
            for r in s.reads
            for f in r["forms"]
        }
        # card totals lines (no period), by sum_data element
        self.card_totals = [
            (s, r["sum_data"])
            for s in self.lines.values()
            if not s.periods
            for r in s.reads
            if "sum_data" in r
        ]

    def periods_of(self, year: int | None) -> list[str]:
        """The periods a card use line may have in ``year``: the whole year, and the year's split."""
        return [WHOLE_YEAR] + [p["period"] for p in self.splits.get(year or 0, [])]

    def period_label(self, year: int | None, period: str | None) -> str | None:
        if period is None:
            return None
        if period == WHOLE_YEAR:
            return self.whole_year["label"]
        for p in self.splits.get(year or 0, []):
            if p["period"] == period:
                return p["label"]
        return None

    def period_order(self, year: int | None, period: str | None) -> int:
        ps = self.periods_of(year)
        return ps.index(period) if period in ps else len(ps)


@lru_cache(maxsize=1)
def spec() -> Spec:
    with resources.files(__package__).joinpath("lines.json").open("r", encoding="utf-8") as fh:
        return Spec(json.load(fh))


def keys() -> list[str]:
    """Every line key, in the order of ``lines.json``."""
    return list(spec().lines)


# -- the result -----------------------------------------------------------------------------------
@dataclass
class Line:
    key: str
    period: str | None
    amount: int
    label: str
    person: dict  # {"resid", "name", "is_owner"} unmasked; masked in to_dict
    sources: list[dict] = field(default_factory=list)  # {"form_cd", "dat_cd", "count"}
    facts: list[dict] = field(default_factory=list)  # per item, where the line carries some

    def to_dict(self, mask: bool = False) -> dict:
        out = {
            "key": self.key,
            "period": self.period,
            "amount": self.amount,
            "label": self.label,
            "person": _person_out(self.person, mask),
            "sources": [dict(s) for s in self.sources],
        }
        if self.facts:
            out["facts"] = [dict(f) for f in self.facts]
        return out


@dataclass
class Return:
    """One taxpayer's lines for one tax year. ``to_dict()`` is the JSON of a return (the estimate
    adds ``figures`` / ``not_computed`` to it); ``mask`` is the default for ``to_dict``."""

    taxpayer: Owner
    att_year: int | None
    lines: list[Line] = field(default_factory=list)
    warnings: list[dict] = field(default_factory=list)
    unmapped: list[dict] = field(default_factory=list)
    documents: list[str] = field(default_factory=list)  # seq of every document read into it
    mask: bool = False

    def to_dict(self, mask: bool | None = None) -> dict:
        m = self.mask if mask is None else mask
        return {
            "taxpayer": self.taxpayer.to_dict(m),
            "att_year": self.att_year,
            "documents": list(self.documents),
            "lines": [ln.to_dict(m) for ln in self.lines],
            "unmapped": [_mask_entry(u, m) for u in self.unmapped],
            "warnings": [_mask_entry(w, m) for w in self.warnings],
        }

    def amount(self, key: str, period: str | None = None, person_resid: str | None = None) -> int:
        """The total of the lines with ``key`` (and ``period`` / person when given): a helper for
        callers and tests."""
        return sum(
            ln.amount
            for ln in self.lines
            if ln.key == key
            and (period is None or ln.period == period)
            and (person_resid is None or ln.person.get("resid") == person_resid)
        )


def _person_out(person: dict | None, mask: bool) -> dict | None:
    if person is None:
        return None
    out = dict(person)
    if mask:
        out["resid"] = mask_resid(out.get("resid"))
    return out


def _mask_entry(entry: dict, mask: bool) -> dict:
    out = dict(entry)
    if "person" in out:
        out["person"] = _person_out(out["person"], mask)
    return out


# -- from documents -------------------------------------------------------------------------------
def _year(value) -> int | None:
    return to_year(value if isinstance(value, int) else str(value) if value is not None else None)


def _pkey(resid: str | None, name: str | None) -> tuple:
    """A person's identity, as :mod:`hometax_decrypt.records.summary` has it: resid, else name."""
    return ("resid", resid) if resid else ("name", name)


def _group(documents) -> list[tuple[Owner, int | None, list[int]]]:
    """(owner, year, document indexes) per taxpayer × tax year, in order of first appearance. A
    document whose owner is only its first person (``first_person``, the weakest rule) joins the
    return of a stronger owner of the same year who appears in it."""
    owners = [owner_of(d) for d in documents]
    years = [_year(d.doc.att_year) for d in documents]
    groups: dict[tuple, list] = {}
    for i, (o, y) in enumerate(zip(owners, years)):
        if _RULE_STRENGTH[o.rule] < _RULE_STRENGTH[SUBSCRIBER]:
            continue
        g = groups.setdefault((_pkey(o.resid, o.name), y), [o, y, []])
        if _RULE_STRENGTH[o.rule] > _RULE_STRENGTH[g[0].rule]:
            g[0] = o
        g[2].append(i)
    for i, (o, y) in enumerate(zip(owners, years)):
        if _RULE_STRENGTH[o.rule] >= _RULE_STRENGTH[SUBSCRIBER]:
            continue
        people = {_pkey(r, n) for r, n in documents[i].people()}
        target = next(
            (k for k, g in groups.items() if k[1] == y and _pkey(g[0].resid, g[0].name) in people), None
        )
        if target is None:
            target = (_pkey(o.resid, o.name), y)
            groups.setdefault(target, [o, y, []])
        groups[target][2].append(i)
    out = [(g[0], g[1], sorted(g[2])) for g in groups.values()]
    out.sort(key=lambda g: g[2][0])
    return out


class _Builder:
    """Collects one return's lines, unmapped items and warnings."""

    def __init__(self, owner: Owner, year: int | None):
        self.owner, self.year, self.spec = owner, year, spec()
        self.lines: dict[tuple, Line] = {}
        self.people: dict[tuple, int] = {}  # person -> order of appearance
        self.unmapped: dict[tuple, dict] = {}
        self.warnings: list[dict] = []

    def person(self, resid, name) -> dict:
        self.people.setdefault(_pkey(resid, name), len(self.people))
        return {"resid": resid, "name": name, "is_owner": self.owner.is_person(resid, name)}

    def add(
        self,
        key: str,
        period: str | None,
        amount: int,
        person: dict,
        form_cd: str,
        dat_cd: str | None,
        count: int,
        facts: dict | None = None,
    ) -> None:
        ls = self.spec.lines[key]
        k = (key, period, _pkey(person["resid"], person["name"]))
        line = self.lines.get(k)
        if line is None:
            label = ls.label
            plabel = self.spec.period_label(self.year, period)
            if ls.periods and plabel:
                label = f"{label} ({plabel})"
            line = self.lines[k] = Line(key, period, 0, label, person)
        line.amount += amount
        for s in line.sources:
            if s["form_cd"] == form_cd and s["dat_cd"] == dat_cd:
                s["count"] += count
                break
        else:
            line.sources.append({"form_cd": form_cd, "dat_cd": dat_cd, "count": count})
        if facts:
            line.facts.append(facts)

    def skip(
        self,
        form_cd: str,
        dat_cd: str | None,
        person: dict,
        amount: int | None,
        reason: str,
        detail: str | None = None,
    ) -> None:
        k = (form_cd, dat_cd, _pkey(person["resid"], person["name"]), reason, detail)
        u = self.unmapped.get(k)
        if u is None:
            u = self.unmapped[k] = {
                "form_cd": form_cd,
                "dat_cd": dat_cd,
                "person": person,
                "count": 0,
                "amount": None,
                "reason": reason,
            }
            if detail:
                u["detail"] = detail
        u["count"] += 1
        if amount is not None:
            u["amount"] = (u["amount"] or 0) + amount

    def warn(self, code: str, message: str, **extra) -> None:
        entry = {"code": code, "message": message, **extra}
        if entry not in self.warnings:
            self.warnings.append(entry)

    def result(self) -> list[Line]:
        def order(line: Line):
            return (
                self.spec.lines[line.key].order,
                self.people[_pkey(line.person["resid"], line.person["name"])],
                self.spec.period_order(self.year, line.period),
            )

        return sorted(self.lines.values(), key=order)


def lines_of(documents, mask: bool = False) -> list[Return]:
    """The returns of ``documents`` (parsed :class:`~hometax_decrypt.records.model.Document` s):
    one per taxpayer × tax year, in order of first appearance. ``mask``: the returns' ``to_dict``
    masks resident numbers (``750101-1******``)."""
    documents = list(documents)
    out = []
    for owner, year, idx in _group(documents):
        b = _Builder(owner, year)
        if year is None:
            b.warn("no_tax_year", "귀속연도(att_year)가 없는 문서입니다.")
        elif year not in b.spec.years:
            b.warn(
                "tax_year_not_described",
                f"{year}년 귀속의 공제신고서 항목은 아직 정의되지 않았습니다 "
                "(모든 자료를 unmapped에 표시합니다).",
                att_year=year,
            )
        if owner.rule == FIRST_PERSON:
            b.warn(
                "owner_guessed",
                "문서에 본인 표시(2022년 이후 머리글, 건강보험료·국민연금 자료)가 없어 "
                "처음 나오는 사람을 본인으로 보았습니다.",
            )
        keep = _counted(documents, idx, year, b)
        for i in idx:
            doc = documents[i]
            for form in doc.forms:
                for person in form.people:
                    if keep[(_pkey(person.resid, person.name), form.form_cd[:4])] != i:
                        continue
                    _read_form(b, form, person)
        seqs = list(dict.fromkeys(documents[i].doc.seq or "" for i in idx))
        out.append(Return(owner, year, b.result(), b.warnings, list(b.unmapped.values()), seqs, mask))
    return out


def _counted(documents, idx: list[int], year, b: _Builder) -> dict[tuple, int]:
    """Which document counts for each (person, form base): an authentic document over any other,
    then the newest issue (``seq`` as a number), then the later one given — the rule of
    :func:`hometax_decrypt.records.summary.rank`, where B101Y beside B101D is one form. The others
    are listed in the warnings."""
    keep: dict[tuple, int] = {}
    ranks = {i: rank(verification_status(documents[i]), documents[i].doc.seq, i) for i in idx}
    for i in idx:
        for form in documents[i].forms:
            for person in form.people:
                k = (_pkey(person.resid, person.name), form.form_cd[:4])
                best = keep.get(k)
                if best is None or ranks[i] > ranks[best]:
                    keep[k] = i
    for i in idx:
        seq = documents[i].doc.seq or ""
        for form in documents[i].forms:
            for person in form.people:
                k = (_pkey(person.resid, person.name), form.form_cd[:4])
                if keep[k] != i:
                    b.warn(
                        "duplicate_form",
                        "같은 사람의 같은 자료가 여러 문서에 있어 한 문서만 반영했습니다"
                        "(진본 확인된 문서 우선, 그다음 최신 발급분).",
                        form_cd=form.form_cd,
                        person=b.person(person.resid, person.name),
                        doc_seq=seq,
                        doc_status=verification_status(documents[i]),
                        counted_doc_seq=documents[keep[k]].doc.seq or "",
                        counted_status=verification_status(documents[keep[k]]),
                    )
    return keep


def _read_form(b: _Builder, form, person) -> None:
    form_cd = form.form_cd
    who = b.person(person.resid, person.name)
    described = b.year in b.spec.years
    if form_cd[:2] in b.spec.card_kinds and described:
        _read_cards(b, form, person, who)
        return
    for item in person.items:
        amount_any = item.amount if catalog().counted(form_cd) else None
        if not described:
            b.skip(form_cd, item.dat_cd, who, amount_any, "tax_year_not_described")
            continue
        _read_item(b, form_cd, item, who, amount_any)


def _matches(read: dict, form_cd: str, item, who: dict) -> bool:
    if not any(form_cd.startswith(f) for f in read["forms"]):
        return False
    if "dat_cd" in read and item.dat_cd not in read["dat_cd"]:
        return False
    if "owner" in read and bool(read["owner"]) != who["is_owner"]:
        return False
    for name, allowed in read.get("attr", {}).items():
        if (item.attrs.get(name) or "").strip() not in allowed:
            return False
    for name, allowed in read.get("element", {}).items():
        node = item.element(name)
        if node is None or (node.text or "").strip() not in allowed:
            return False
    return True


def _value(item, path: str) -> int | None:
    """``sum``, ``sum@ddct`` (an attribute of ``<sum>``) or another child element, as an integer."""
    tag, _, attr = path.partition("@")
    node = item.element(tag)
    if node is None:
        return None
    return to_int(node.attrs.get(attr)) if attr else to_int(node.text)


def _facts(item, names: list[str]) -> dict:
    out = {}
    for name in names:
        tag, _, attr = name.partition("@")
        node = item.element(tag)
        if node is None:
            continue
        raw = node.attrs.get(attr) if attr else node.text
        if raw is None:
            continue
        n = to_int(raw)
        out[name] = (
            n if n is not None and not name.endswith("_dt") and name not in _CODE_FACTS else raw.strip()
        )
    return out


_CODE_FACTS = {"lend_kd", "saving_gubn", "rule_yn", "typeCd", "vnt_asct_cl_cd", "reg_dt", "pension_cd"}


def _read_item(b: _Builder, form_cd: str, item, who: dict, amount_any) -> None:
    other_year = False
    for ls in b.spec.lines.values():
        for read in ls.reads:
            if "sum_data" in read or not _matches(read, form_cd, item, who):
                continue
            if b.year not in ls.years or ("years" in read and b.year not in read["years"]):
                other_year = True
                continue
            amount = _value(item, read["amount"])
            if amount is None:
                b.skip(form_cd, item.dat_cd, who, None, "no_amount", read["amount"])
                return
            facts = _facts(item, read["facts"]) if read.get("facts") else None
            b.add(ls.key, None, amount, who, form_cd, item.dat_cd, 1, facts)
            return
    for nl in b.spec.not_lines:
        if any(form_cd.startswith(f) for f in nl["forms"]):
            b.skip(form_cd, item.dat_cd, who, amount_any, "not_a_line", nl["reason"])
            return
    detail = None
    if form_cd.startswith("C102"):
        detail = f"edu_tp={item.attrs.get('edu_tp')}"
    elif form_cd.startswith("L1"):
        detail = f"donation_cd={item.attrs.get('donation_cd')}"
    b.skip(
        form_cd,
        item.dat_cd,
        who,
        amount_any,
        "line_not_described_for_year" if other_year else "no_line",
        detail,
    )


def _read_cards(b: _Builder, form, person, who: dict) -> None:
    """One card form of one person: a line per use (× period where the year splits), from
    ``sum_data`` when the form has it, else from the items."""
    form_cd = form.form_cd
    kind = b.spec.card_kinds[form_cd[:2]]
    sd = person.sum_data_amounts() if person.sum_data is not None else None
    split = b.spec.splits.get(b.year, []) if b.year is not None else []
    by_use: dict[str, list] = {}
    for item in person.items:
        by_use.setdefault((item.attrs.get("use_place_cd") or "").strip(), []).append(item)
    for use, items in by_use.items():
        if use not in b.spec.uses:
            label = catalog().code_label("use_place_cd", use)
            b.skip(
                form_cd,
                items[0].dat_cd,
                who,
                sum(i.sum_amount or 0 for i in items),
                "card_use_not_a_line",
                f"use_place_cd={use}" + (f" ({label})" if label else ""),
            )
    used_tags = set()
    for use, stem in b.spec.uses.items():
        key = f"card.{kind}.{b.spec.use_keys[use]}"
        items = by_use.get(use, [])
        dat_cd = items[0].dat_cd if items else None
        item_total = sum(i.sum_amount or 0 for i in items)
        year_tag = b.spec.year_element.format(use=stem)
        used_tags.add(year_tag)
        parts: list[tuple[str, int]] | None = None
        if sd is not None:
            tags = [p["element"].format(use=stem) for p in split]
            used_tags.update(tags)
            if split and all(sd.get(t) is not None for t in tags):
                parts = [(p["period"], sd[t]) for p, t in zip(split, tags)]
                if sd.get(year_tag) is not None and sum(a for _, a in parts) != sd[year_tag]:
                    b.warn(
                        "card_periods_mismatch",
                        "기간별 집계의 합이 연간 합계와 다릅니다.",
                        form_cd=form_cd,
                        person=who,
                        element=year_tag,
                    )
            elif sd.get(year_tag) is not None:
                parts = [(WHOLE_YEAR, sd[year_tag])]
            if parts is not None and items and sd.get(year_tag) is not None and sd[year_tag] != item_total:
                b.warn(
                    "card_items_mismatch",
                    "사용금액 집계가 사용내역의 합과 다릅니다 (집계를 반영했습니다).",
                    form_cd=form_cd,
                    person=who,
                    element=year_tag,
                    sum_data=sd[year_tag],
                    items=item_total,
                )
        if parts is None:  # no sum_data for this use: the items
            months_known = items and all(i.breakdown and all(x.mm for x in i.breakdown) for i in items)
            if split and months_known:
                parts = []
                for p in split:
                    months = {f"{m:02d}" for m in p["months"]}
                    parts.append(
                        (
                            p["period"],
                            sum(x.amount or 0 for i in items for x in i.breakdown if x.mm in months),
                        )
                    )
            else:
                parts = [(WHOLE_YEAR, item_total)]
        if split and len(parts) == 1 and (items or parts[0][1]):
            b.warn(
                "card_period_missing",
                "이 연도는 기간별로 공제율이 다르지만 문서에 기간별 금액이 없어 연간 금액으로 표시합니다.",
                form_cd=form_cd,
                person=who,
            )
        for period, amount in parts:
            if amount or items:
                b.add(key, period, amount, who, form_cd, dat_cd, len(items))
    if sd is not None:
        for ls, tag in b.spec.card_totals:
            used_tags.add(tag)
            if b.year in ls.years and sd.get(tag) is not None:
                b.add(ls.key, None, sd[tag], who, form_cd, None, 0)
        for tag, value in sd.items():
            if tag in used_tags or not value or "tot" in tag.split("_"):
                continue  # the totals (tot_sum, tot_mar_sum, tfhy_tot_sum) add up the uses
            b.warn(
                "card_sum_data_unused",
                "공제신고서 항목으로 읽지 않은 사용금액 집계가 있습니다.",
                form_cd=form_cd,
                person=who,
                element=tag,
                amount=value,
            )


# -- from a lines file ----------------------------------------------------------------------------
def _bad(detail: str):
    raise BadLines(detail)


def lines_from_dict(data) -> Return:
    """A return from a user-written lines file: ``{"att_year": 2021, "lines": [{"key":
    "card.credit.general", "period": "01-12", "amount": 24000000, "person": {...}}, …]}``. A line
    without ``person`` is the taxpayer's own. Refused with :class:`~hometax_decrypt.errors.BadLines`
    (code ``bad_lines``): an unknown key, a key or period the tax year does not have, an amount that
    is not an integer of 원, the same line twice, or a card line given both for the whole year and
    for periods. The error names the line's index and the field, never the value (which may be
    personal data). The output of :meth:`Return.to_dict` is itself a valid lines file."""
    sp = spec()
    if not isinstance(data, dict):
        _bad("the lines file must be a JSON object")
    year = data.get("att_year")
    if isinstance(year, str):
        year = to_year(year)
    if not isinstance(year, int) or isinstance(year, bool):
        _bad("att_year must be a tax year")
    if year not in sp.years:
        _bad("att_year is not a tax year the lines describe")
    raw = data.get("lines")
    if not isinstance(raw, list):
        _bad("lines must be a list")
    if len(raw) > MAX_FILE_LINES:
        _bad("too many lines")
    tp = data.get("taxpayer")
    if tp is not None and not isinstance(tp, dict):
        _bad("taxpayer must be an object")
    tp = tp or {}
    t_resid, t_name = _text(tp.get("resid"), "taxpayer.resid"), _text(tp.get("name"), "taxpayer.name")
    owner = Owner(t_resid, t_name, LINES_FILE if (t_resid or t_name) else NONE)
    seen: dict[tuple, str | None] = {}
    periods = sp.periods_of(year)
    out: list[Line] = []
    for n, ln in enumerate(raw):
        where = f"line {n}"
        if not isinstance(ln, dict):
            _bad(f"{where}: not an object")
        key = ln.get("key")
        if not isinstance(key, str) or key not in sp.lines:
            _bad(f"{where}: unknown key")
        ls = sp.lines[key]
        if year not in ls.years:
            _bad(f"{where}: key not described for att_year")
        period = ln.get("period")
        if ls.periods:
            if period is None:
                period = WHOLE_YEAR
            if not isinstance(period, str) or period not in periods:
                _bad(f"{where}: period not valid for att_year")
        elif period is not None:
            _bad(f"{where}: this key has no period")
        amount = ln.get("amount")
        if not isinstance(amount, int) or isinstance(amount, bool) or abs(amount) >= 10**15:
            _bad(f"{where}: amount must be an integer of won")
        p = ln.get("person")
        if p is None:
            resid, name, is_owner = t_resid, t_name, True
        else:
            if not isinstance(p, dict):
                _bad(f"{where}: person must be an object")
            resid, name = (
                _text(p.get("resid"), f"{where}: person.resid"),
                _text(p.get("name"), f"{where}: person.name"),
            )
            if not (resid or name):
                _bad(f"{where}: person needs a resid or a name")
            is_owner = bool(p.get("is_owner")) if owner.rule == NONE else owner.is_person(resid, name)
        pk = _pkey(resid, name) if (resid or name) else ("owner",)
        k = (key, period, pk)
        if k in seen:
            _bad(f"{where}: the same key, period and person twice")
        seen[k] = period
        if ls.periods:
            other = [q for (k2, q, p2) in seen if k2 == key and p2 == pk and q != period]
            if other and (period == WHOLE_YEAR or WHOLE_YEAR in other):
                _bad(f"{where}: a card line both for the whole year and for periods")
        label = ls.label
        plabel = sp.period_label(year, period) if ls.periods else None
        if plabel:
            label = f"{label} ({plabel})"
        out.append(Line(key, period, amount, label, {"resid": resid, "name": name, "is_owner": is_owner}))
    return Return(owner, year, out)


def _text(value, where: str) -> str | None:
    if value is None:
        return None
    if not isinstance(value, str) or len(value) > 100:
        _bad(f"{where} must be text")
    return value.strip() or None


def validate_lines(data) -> None:
    """Raise :class:`~hometax_decrypt.errors.BadLines` when ``data`` is not a usable lines file."""
    lines_from_dict(data)
