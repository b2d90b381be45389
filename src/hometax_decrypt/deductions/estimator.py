"""What each 공제신고서 line is worth for a given 총급여: per-category base amounts and credits.

The estimate stops where the whole tax computation starts (산출세액 caps, 표준세액공제 choice, the
2,500만 종합한도, 근로소득세액공제): those need every income and deduction of the person and are
listed as not computed. Inside a category a figure is given only when the year's rules are sourced
(``statute``/``official``/``news``, see :mod:`.rules`); where a rule is ``unverified`` the figure is
given anyway **only if every reading of the unsettled rule gives the same amount** (e.g. the order in
which 25 % of 총급여 is taken off the card kinds does not matter when all spending has one rate);
otherwise it goes to ``not_computed`` with the reason and, where it helps, the range.

Amounts are 원, the 국세 part only (지방소득세 is not included). Each figure is floored to the 원
after an exact (fractional) computation — a convention, not a sourced rule: see docs.
"""

from __future__ import annotations

import functools
import itertools
import json
import math
import re
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import date
from decimal import Decimal
from fractions import Fraction
from importlib import resources
from typing import Any

from .. import errors
from .lines import keys as _line_keys
from .lines import spec as _line_spec
from .rules import Leaf, NoRules, YearRules, rules_for


class BadInput(ValueError):
    """Base of the estimate's input errors (also a ``ValueError`` for callers of 0.1's style)."""


class BadLine(errors.BadLines, BadInput):
    """A line the estimate cannot read: unknown key, bad period, non-numeric or negative amount."""


class BadSalary(errors.BadSalary, BadInput):
    """총급여 that is not a non-negative whole number of 원."""


class _Unsettled(Exception):
    """Raised inside a category when a figure would depend on an unverified rule or a missing fact."""

    def __init__(self, reason: str):
        super().__init__(reason)
        self.reason = reason


# ---- the line keys (the contract with the lines helper) -------------------------------------------

CARD_KINDS = ("credit", "debit", "cash")
CARD_USES = ("general", "market", "transit", "culture")
_CARD_KEY = re.compile(r"card\.(credit|debit|cash)\.(general|market|transit|culture)")
CARD_TOTALS = (
    "card.total.prev_year",
    "card.total.curr_year",
    "card.market.prev_year",
    "card.market.curr_year",
)
# The line keys have one source: deductions/lines.json (lines.keys()); a key the estimate has no rule
# for is still accepted and ends in not_computed, never silently dropped.
KEYS = frozenset(_line_keys())

#: Needs the whole tax computation (or facts the 간소화 document never has): always listed.
WHOLE_TAX = (
    ("tax.limits", "산출세액 한도·공제 순서 (세액공제는 산출세액까지만) — needs the whole tax computation"),
    ("tax.standard_credit", "표준세액공제(13만원)와 특별세액공제 중 선택 — needs the whole tax computation"),
    (
        "tax.overall_limit",
        "조특법 §132의2 소득공제 종합한도 2,500만원 — needs all the 소득공제 of the person",
    ),
    ("tax.earned_income_credit", "근로소득세액공제 — needs 산출세액"),
    ("tax.child_credit", "자녀·출산입양 세액공제 — dependants are not lines; not estimated here"),
    ("tax.marriage_credit", "결혼세액공제 — not in 간소화 data"),
    ("donation.carry_forward", "기부금 이월공제 — needs earlier years"),
)


# ---- result ------------------------------------------------------------------------------------


@dataclass
class Estimate:
    """``figures``: [{key, amount, rule, source}]; ``not_computed``: [{key, reason}]; ``warnings``."""

    year: int
    salary: int | None
    figures: list[dict] = field(default_factory=list)
    not_computed: list[dict] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)

    def figure(self, key: str) -> dict | None:
        return next((f for f in self.figures if f["key"] == key), None)

    def amount(self, key: str) -> int | None:
        f = self.figure(key)
        return None if f is None else f["amount"]

    def to_dict(self) -> dict:
        """Each figure and not-computed entry with its Korean ``label`` (:func:`figure_label`)."""
        return {
            "year": self.year,
            "salary": self.salary,
            "figures": [{**f, "label": figure_label(f["key"])} for f in self.figures],
            "not_computed": [{**n, "label": figure_label(n["key"])} for n in self.not_computed],
            "warnings": list(self.warnings),
        }


@functools.lru_cache(maxsize=1)
def _figure_labels() -> dict[str, dict]:
    text = resources.files(__package__).joinpath("figures.json").read_text(encoding="utf-8")
    return json.loads(text)["figures"]


def figure_label(key: str) -> str:
    """How HR staff read a figure's key: ``figures.json`` (the estimate's figures, each with the
    provision that defines it), else the line's own label (``lines.json``), else the key itself."""
    entry = _figure_labels().get(key)
    if entry is not None:
        return entry["label"]
    line = _line_spec().lines.get(key)
    return line.label if line is not None else key


def _floor(x: Fraction | int) -> int:
    return math.floor(x)


def _won(x: Fraction | int) -> str:
    return f"{_floor(x):,}원"


def _frac(v: Any) -> Fraction:
    return Fraction(str(v)) if not isinstance(v, str) else Fraction(v)


class _Ctx:
    """One estimate's state: the year's rules, the inputs, and what has been produced."""

    def __init__(self, rules: YearRules, salary: int, facts: dict, est: Estimate):
        self.rules, self.salary, self.facts, self.est = rules, salary, facts, est
        self._warned: set[str] = set()

    def use(self, leaf: Leaf, refs: list[str]) -> Any:
        """The leaf's value for a computation; an unverified leaf stops the category."""
        if leaf.year != self.rules.year:  # defensive: a figure may only use its own year's rules
            raise AssertionError(f"{self.rules.year} estimate used a {leaf.year} rule")
        if not leaf.usable:
            raise _Unsettled(f"규칙 미확정 (unverified rule {leaf.path}): {leaf.source}")
        if leaf.ref not in refs:
            refs.append(leaf.ref)
        if leaf.confidence == "news" and leaf.path not in self._warned:
            self._warned.add(leaf.path)
            self.est.warnings.append(
                f"{leaf.path}: 법령 원문 미확인, 보도·2차 자료 기준 (news-level source: {leaf.source})"
            )
        return leaf.value

    def add(self, key: str, amount: Fraction | int, rule: str, refs: list[str]) -> None:
        self.est.figures.append(
            {"key": key, "amount": _floor(amount), "rule": rule, "source": "; ".join(refs)}
        )

    def skip(self, key: str, reason: str) -> None:
        self.est.not_computed.append({"key": key, "reason": reason})


# ---- input validation --------------------------------------------------------------------------


def _amount(line: dict, i: int) -> int:
    v = line.get("amount")
    if isinstance(v, bool) or not isinstance(v, (int, float, Decimal, Fraction)):
        if isinstance(v, str) and re.fullmatch(r"\d+", v.strip()):
            return int(v)
        raise BadLine(f"line {i}: amount must be a number of 원")
    if isinstance(v, float) and not math.isfinite(v):
        raise BadLine(f"line {i}: amount must be finite")
    if v < 0:
        raise BadLine(f"line {i}: amount must not be negative")
    if v != int(v):
        raise BadLine(f"line {i}: amount must be whole 원")
    return int(v)


def parse_period(text: str | None) -> frozenset[int]:
    """``"01-12"``, ``"03"``, ``"01-02,08-12"`` → the set of months; ``BadLine`` otherwise."""
    if text is None:
        return frozenset(range(1, 13))
    if not isinstance(text, str) or not text.strip():
        raise BadLine("period must be text like 01-12 or 01-02,08-12")
    months: set[int] = set()
    for part in text.split(","):
        m = re.fullmatch(r"\s*(\d{1,2})(?:-(\d{1,2}))?\s*", part)
        if not m:
            raise BadLine("a period is not of the form MM or MM-MM[,MM-MM]")
        a, b = int(m.group(1)), int(m.group(2) or m.group(1))
        if not 1 <= a <= b <= 12:
            raise BadLine("a period is not of the form MM or MM-MM[,MM-MM]")
        span = set(range(a, b + 1))
        if span & months:
            raise BadLine("a period overlaps itself")
        months |= span
    return frozenset(months)


@dataclass(frozen=True)
class Line:
    key: str
    months: frozenset
    amount: int
    person: str  # "self" or an identity (resid or name)
    birth: date | None
    aliases: frozenset = frozenset()  # the person's resid and name, for matching facts lists


def birth_from_resid(resid: Any) -> date | None:
    """Birth date from a 주민등록번호 (masked digits after the 7th are fine); None if unreadable.

    The 7th digit gives the century: 1,2,5,6 → 1900s, 3,4,7,8 → 2000s, 9,0 → 1800s.
    """
    if not isinstance(resid, str):
        return None
    digits = resid.replace("-", "")
    if len(digits) < 7 or not digits[:7].isdigit():
        return None
    century = {
        "1": 1900,
        "2": 1900,
        "5": 1900,
        "6": 1900,
        "3": 2000,
        "4": 2000,
        "7": 2000,
        "8": 2000,
        "9": 1800,
        "0": 1800,
    }[digits[6]]
    try:
        return date(century + int(digits[:2]), int(digits[2:4]), int(digits[4:6]))
    except ValueError:
        return None


def _person(line: dict, i: int) -> tuple[str, date | None]:
    p = line.get("person")
    if p is None:
        return "self", None
    if not isinstance(p, dict):
        raise BadLine(f"line {i}: person must be an object or null")
    if p.get("is_owner"):
        return "self", birth_from_resid(p.get("resid"))
    ident = p.get("resid") or p.get("name")
    if not ident or not isinstance(ident, str):
        raise BadLine(f"line {i}: a dependant needs a resid or a name")
    return ident, birth_from_resid(p.get("resid"))


def parse_lines(lines: Iterable[dict]) -> list[Line]:
    """Validate the lines; unknown keys and bad amounts raise :class:`BadLine` (never skipped)."""
    if lines is None:
        return []
    out = []
    for i, line in enumerate(lines):
        if not isinstance(line, dict):
            raise BadLine(f"line {i}: must be an object")
        key = line.get("key")
        if key not in KEYS:
            raise BadLine(f"line {i}: unknown key (docs/deductions.md lists the keys)")
        months = parse_period(line.get("period")) if key.startswith("card.") else frozenset(range(1, 13))
        person, birth = _person(line, i)
        p = line.get("person") or {}
        aliases = frozenset(v for v in (p.get("resid"), p.get("name"), person) if isinstance(v, str) and v)
        out.append(Line(key, months, _amount(line, i), person, birth, aliases))
    return out


def _salary(salary: Any) -> int | None:
    if salary is None:
        return None
    if isinstance(salary, bool) or not isinstance(salary, (int, float, Decimal, Fraction)):
        if isinstance(salary, str) and re.fullmatch(r"\d+", salary.strip()):
            return int(salary)
        raise BadSalary("총급여 must be a number of 원")
    if isinstance(salary, float) and not math.isfinite(salary):
        raise BadSalary("총급여 must be finite")
    if salary < 0 or salary != int(salary):
        raise BadSalary("총급여 must be a non-negative whole number of 원")
    return int(salary)


# ---- public entry point ------------------------------------------------------------------------


def estimate(att_year: int, lines: Iterable[dict], salary: Any = None, facts: dict | None = None) -> Estimate:
    """Estimate the deduction/credit base amounts of tax year ``att_year`` for ``salary`` (총급여).

    Raises :class:`BadLine` / :class:`BadSalary` (``ValueError``) for unreadable input; a year without
    rules or a missing salary gives an estimate with no figures and the reason in ``not_computed``.
    """
    parsed = parse_lines(lines)
    sal = _salary(salary)
    facts = dict(facts or {})
    est = Estimate(att_year if isinstance(att_year, int) else -1, sal)
    try:
        rules = rules_for(att_year)
    except NoRules as e:
        est.not_computed.append({"key": "*", "reason": f"해당 연도 규칙 없음 ({e})"})
        return est
    if sal is None:
        est.not_computed.append(
            {"key": "*", "reason": "총급여 미입력 — salary is missing, nothing can be computed"}
        )
        return est
    ctx = _Ctx(rules, sal, facts, est)
    for keys, fn in _CATEGORIES:
        try:
            fn(ctx, parsed)
        except _Unsettled as u:
            done = {f["key"] for f in est.figures}
            for k in keys:
                if k not in done:
                    ctx.skip(k, u.reason)
    for key, reason in WHOLE_TAX:
        ctx.skip(key, reason)
    if rules.get("note") is not None:
        est.warnings.append(rules["note"].value)
    return est


def _sum(lines: list[Line], *keys: str) -> int:
    return sum(ln.amount for ln in lines if ln.key in keys)


# ---- cards -------------------------------------------------------------------------------------


def _card_rate(ctx: _Ctx, kind: str, use: str, months: frozenset, refs: list[str]) -> Fraction:
    """The rate of (kind, use) over ``months``; a period spanning two rates is not computable."""
    rates = set()
    covered: set[int] = set()
    for leaf in ctx.rules["card"]["rates"]:
        sel = leaf.selectors
        if sel["use"] != use or kind not in sel["kinds"]:
            continue
        overlap = parse_period(sel["months"]) & months
        if overlap:
            rates.add(_frac(ctx.use(leaf, refs)))
            covered |= overlap
    if covered != set(months):
        raise _Unsettled(f"no rate for card {kind}/{use} in months {sorted(set(months) - covered)}")
    if len(rates) != 1:
        raise _Unsettled(
            f"card {kind}/{use}: 기간 {sorted(months)} spans a rate change — the lines must be split by period"
        )
    return rates.pop()


def _pick_tier(tiers: list[Leaf], salary: int, children: int | None) -> Leaf | None:
    fits = [t for t in tiers if t.selectors.get("salary_max") is None or salary <= t.selectors["salary_max"]]
    band = min((t.selectors.get("salary_max") or math.inf) for t in fits)
    band_tiers = [t for t in fits if (t.selectors.get("salary_max") or math.inf) == band]
    if any(t.selectors.get("children_min", 0) > 0 for t in band_tiers) and children is None:
        return None  # depends on facts.children
    ok = [t for t in band_tiers if t.selectors.get("children_min", 0) <= (children or 0)]
    return max(ok, key=lambda t: t.selectors.get("children_min", 0))


def _card(ctx: _Ctx, lines: list[Line]) -> None:
    card = ctx.rules["card"]
    refs: list[str] = []
    s = ctx.salary
    clines = [ln for ln in lines if _CARD_KEY.fullmatch(ln.key)]
    if not clines and not any(ln.key in CARD_TOTALS for ln in lines):
        return
    total = sum(ln.amount for ln in clines)
    threshold = _frac(ctx.use(card["threshold_rate"], refs)) * s
    ctx.add("card.base", total, f"신용카드 등 사용금액 합계 total card spending {_won(total)}", list(refs))
    ctx.add("card.threshold", threshold, f"최저사용금액 = 총급여 {_won(s)} × 25 %", list(refs))
    ctx.add(
        "card.over_threshold",
        max(Fraction(0), total - threshold),
        f"초과 사용액 {_won(total)} − {_won(threshold)}",
        list(refs),
    )
    if total <= threshold:
        for key in ("card.increase", "card.additional", "card.deduction"):
            ctx.add(
                key,
                0,
                f"사용액이 최저사용금액 이하 — total {_won(total)} ≤ 25 % of 총급여 {_won(threshold)}: no deduction (§126의2①)",
                list(refs),
            )
        return
    culture_max = ctx.use(card["culture_salary_max"], refs)
    classes: list[tuple[Fraction, int, str]] = []  # (rate, amount, use)
    for ln in clines:
        _, kind, use = ln.key.split(".")
        if use == "culture" and s > culture_max:
            use = "general"  # 총급여 7천 초과: 문화 is not a kind of its own (§126의2②3–5호)
        classes.append((_card_rate(ctx, kind, use, ln.months, refs), ln.amount, use))
    gross = sum(r * a for r, a, _ in classes)

    def lost(order: str) -> Fraction:
        """Deduction lost to the threshold when it is taken from the classes in ``order``."""
        left, out = threshold, Fraction(0)
        for r, a, _ in sorted(classes, key=lambda c: c[0], reverse=(order == "highest_rate_first")):
            take = Fraction(min(left, Fraction(a)))
            out += r * take
            left -= take
        return out

    order_leaf = card["threshold_order"]
    if order_leaf.usable:
        ctx.use(order_leaf, refs)
        candidates = {"statute order": lost(order_leaf.value)}
    else:
        candidates = {
            "lowest rate first": lost("lowest_rate_first"),
            "highest rate first": lost("highest_rate_first"),
        }
    gross_by_use = {u: sum(r * a for r, a, uu in classes if uu == u) for u in CARD_USES}
    limit_leaf = _pick_tier(card["basic_limit"], s, ctx.facts.get("children"))
    increase, inc_cap, inc_rule = _card_increase(ctx, lines, refs)
    add_cap = _card_additional(ctx, gross_by_use, refs)
    results = []
    for lo in candidates.values():
        base = gross - lo + increase
        leaf = limit_leaf
        if leaf is None:  # 2026: the limit depends on the number of 자녀등, unknown here
            leaf = _pick_tier(card["basic_limit"], s, 0)
            assert leaf is not None  # with 0 children a tier always fits
            if base > leaf.value:
                raise _Unsettled(
                    "2026 한도는 자녀등 수에 따라 다름 — the 2026 limit depends on facts.children"
                )
        limit = ctx.use(leaf, refs)
        extra = min(max(Fraction(0), base - limit), add_cap + min(increase, inc_cap))
        results.append(
            {
                "card.gross": (gross, f"공제율 적용 합계 Σ rate × spending = {_won(gross)}"),
                "card.threshold_loss": (
                    lo,
                    f"최저사용금액 {_won(threshold)} 차감으로 줄어드는 공제 deduction lost to the threshold = {_won(lo)}",
                ),
                "card.increase": (increase, inc_rule),
                "card.before_limit": (
                    base,
                    f"일반공제 {_won(gross)} − {_won(lo)} + 증가분 {_won(increase)} = {_won(base)}",
                ),
                "card.basic_limit": (limit, f"기본한도 basic limit {_won(limit)} (총급여 {_won(s)})"),
                "card.basic": (min(base, limit), f"min({_won(base)}, 기본한도 {_won(limit)})"),
                "card.additional": (
                    extra,
                    f"추가공제 = min(한도초과액 {_won(max(0, base - limit))}, 전통시장·대중교통·문화 추가한도 "
                    f"{_won(add_cap)} + 증가분 min({_won(increase)}, {_won(inc_cap)}))",
                ),
                "card.deduction": (
                    min(base, limit) + extra,
                    f"신용카드 등 소득공제 = {_won(min(base, limit))} + {_won(extra)} (조특법 §126의2 ②⑩⑪)",
                ),
            }
        )
    unsettled = (
        f"최저사용금액 차감 순서 미확정 (order of taking 25 % off the card kinds is not sourced for "
        f"{ctx.rules.year}: {order_leaf.source})"
    )
    for key in results[0]:
        values = {_floor(r[key][0]) for r in results}
        if len(values) == 1:
            ctx.add(key, results[0][key][0], results[0][key][1], list(refs))
        else:
            ctx.skip(key, f"{unsettled}; between {min(values):,}원 and {max(values):,}원")


def _card_additional(ctx: _Ctx, gross_by_use: dict, refs: list[str]) -> Fraction:
    add = ctx.rules["card"]["additional"]
    s = ctx.salary
    mode = ctx.use(add["mode"], refs)
    if mode == "per_use":
        total = Fraction(0)
        for cap in add["caps"]:
            sm = cap.selectors.get("salary_max")
            if sm is None or s <= sm:
                total += min(gross_by_use[cap.selectors["use"]], ctx.use(cap, refs))
        return total
    pools = sorted(add["pools"], key=lambda p: p.selectors.get("salary_max") or math.inf)
    pool = next(p for p in pools if p.selectors.get("salary_max") is None or s <= p.selectors["salary_max"])
    return min(sum(gross_by_use[u] for u in pool.selectors["uses"]), ctx.use(pool, refs))


def _card_increase(ctx: _Ctx, lines: list[Line], refs: list[str]) -> tuple[Fraction, Fraction, str]:
    inc = ctx.rules["card"]["increase"]
    applies = inc["applies"]
    if applies.value is False and applies.usable:
        ctx.use(applies, refs)
        return (
            Fraction(0),
            Fraction(0),
            f"{ctx.rules.year}년 소비증가분 공제 없음 — no spending-increase deduction this year",
        )
    prev, curr = _sum(lines, "card.total.prev_year"), _sum(lines, "card.total.curr_year")
    has = {ln.key for ln in lines}
    if not {"card.total.prev_year", "card.total.curr_year"} <= has:
        raise _Unsettled(
            "소비증가분 계산에 전년·당해 카드 사용 합계 필요 — card.total.prev_year / curr_year lines missing"
        )
    if not applies.usable or not inc["rate"].usable:
        mprev, mcurr = _sum(lines, "card.market.prev_year"), _sum(lines, "card.market.curr_year")
        if curr <= prev and mcurr <= mprev:  # no growth: the increase is 0 under every reading
            return (
                Fraction(0),
                Fraction(0),
                f"증가분 없음 — no growth over the prior year ({_won(curr)} ≤ {_won(prev)})",
            )
        raise _Unsettled(f"{ctx.rules.year} 소비증가분 산식 미확정: {inc['rate'].source}")
    ctx.use(applies, refs)
    rate, floor_, cap = (
        _frac(ctx.use(inc["rate"], refs)),
        _frac(ctx.use(inc["growth_floor"], refs)),
        ctx.use(inc["cap"], refs),
    )
    grow = max(Fraction(0), curr - prev * floor_)
    return (
        grow * rate,
        Fraction(cap),
        (
            f"소비증가분 = max(0, {_won(curr)} − {_won(prev)} × {float(floor_):g}) × {float(rate):.0%} "
            f"= {_won(grow * rate)} (above the basic limit at most {_won(cap)})"
        ),
    )


# ---- medical -----------------------------------------------------------------------------------


def _age_dec31(birth: date, year: int) -> int:
    return year - birth.year  # age on 31 Dec of the tax year (birthday passed by then)


def _age_jan1(birth: date, year: int) -> int:
    return year - 1 - birth.year + (1 if (birth.month, birth.day) == (1, 1) else 0)


def _in_facts(ctx: _Ctx, name: str, aliases: frozenset) -> bool:
    """Whether facts[name] (a list of resids or names) names this person."""
    v = ctx.facts.get(name) or ()
    return bool(aliases & set(v)) if isinstance(v, (list, tuple, set, frozenset)) else False


def _medical(ctx: _Ctx, lines: list[Line]) -> None:
    med = ctx.rules["medical"]
    mlines = [ln for ln in lines if ln.key.startswith("medical.")]
    if not mlines:
        return
    refs: list[str] = []
    y, s = ctx.rules.year, ctx.salary
    child_max = med["age_unlimited_max_child"]
    buckets = {
        "other": Fraction(0),
        "unlimited": Fraction(0),
        "premature": Fraction(0),
        "infertility": Fraction(0),
    }
    notes = []
    persons = sorted({ln.person for ln in mlines})
    for p in persons:
        pl = [ln for ln in mlines if ln.person == p]
        birth = next((ln.birth for ln in pl if ln.birth), None)
        aliases = frozenset().union(*(ln.aliases for ln in pl))
        if p == "self":
            group, why = "unlimited", "본인"
        elif _in_facts(ctx, "disabled", aliases):
            group, why = "unlimited", "장애인"
        elif _in_facts(ctx, "special_case", aliases):
            group, why = "unlimited", "건보 산정특례자"
        elif birth and _age_dec31(birth, y) >= ctx.use(med["age_unlimited_min"], refs):
            group, why = "unlimited", "65세 이상"
        elif birth and child_max.value is not None and _age_jan1(birth, y) <= ctx.use(child_max, refs):
            group, why = "unlimited", "6세 이하"
        else:
            group, why = "other", "그 밖의 부양가족"
            if birth is None:
                ctx.est.warnings.append(
                    f"medical: {p} — 생년월일 없음, 그 밖의 부양가족으로 봄 (no birth date: treated as limited 700만 group)"
                )
        general = _sum(pl, "medical.general")
        glasses = _sum(pl, "medical.glasses")
        if glasses:
            cap = ctx.use(med["glasses_per_person"], refs)
            general += min(glasses, cap)
        post = _sum(pl, "medical.postnatal")
        if post:
            smax = med["postnatal_salary_max"]
            if smax.usable and smax.value is not None and s > ctx.use(smax, refs):
                post = 0
            elif not smax.usable and s > 70_000_000:
                raise _Unsettled(f"산후조리원 소득요건 미확정: {smax.source}")
            per_birth = ctx.use(med["postnatal_per_birth"], refs)
            births = ctx.facts.get("births")
            if post > per_birth and not births:
                raise _Unsettled(
                    "산후조리원 출산 1회당 200만 — facts.births needed (postnatal spending above one birth's cap)"
                )
            post = min(post, per_birth * (births or 1))
            general += post
        reimbursed = _sum(pl, "medical.reimbursed")
        prem, inf = _sum(pl, "medical.premature"), _sum(pl, "medical.infertility")
        if reimbursed > general and (prem or inf):
            raise _Unsettled(
                f"실손의료보험금 {reimbursed:,}원 exceeds {p}'s general spending; which bucket it reimbursed is unknown"
            )
        general = max(0, general - reimbursed)
        buckets[group] += general
        buckets["premature"] += prem
        buckets["infertility"] += inf
        notes.append(f"{'본인' if p == 'self' else '부양가족'}: {why} {general:,}원")
    threshold = _frac(ctx.use(med["threshold_rate"], refs)) * s
    cap_other = ctx.use(med["other_dependants_limit"], refs)
    rates = {
        "other": _frac(ctx.use(med["rate_general"], refs)),
        "unlimited": _frac(med["rate_general"].value),
        "premature": _frac(ctx.use(med["rate_premature"], refs)),
        "infertility": _frac(ctx.use(med["rate_infertility"], refs)),
    }

    def run(order: tuple) -> tuple[Fraction, Fraction]:
        left, after = threshold, dict(buckets)
        for b in order:
            take = min(left, after[b])
            after[b] -= take
            left -= take
        after["other"] = min(after["other"], cap_other)
        return Fraction(sum(after.values())), Fraction(sum(rates[b] * after[b] for b in after))

    outcomes = {o: run(o) for o in itertools.permutations(buckets)}
    credit_vals = {_floor(v[1]) for v in outcomes.values()}
    base_vals = {_floor(v[0]) for v in outcomes.values()}
    if len(credit_vals) > 1 or len(base_vals) > 1:
        lo, hi = min(v[1] for v in outcomes.values()), max(v[1] for v in outcomes.values())
        raise _Unsettled(
            f"3 % 차감 순서 미확정 (order of setting off 3 % of 총급여 across the groups: "
            f"{med['threshold_order'].source}); credit between {_won(lo)} and {_won(hi)}"
        )
    base, credit = next(iter(outcomes.values()))
    spend = sum(buckets.values())
    ctx.add("medical.threshold", threshold, f"총급여 {_won(s)} × 3 % = {_won(threshold)}", list(refs))
    ctx.add(
        "medical.credit_base",
        base,
        f"세액공제 대상 의료비: 지출 {_won(spend)} ({'; '.join(notes)}) − 3 % {_won(threshold)}, 그 밖의 부양가족 한도 {_won(cap_other)} = {_won(base)}",
        list(refs),
    )
    ctx.add(
        "medical.credit",
        credit,
        f"일반 15 %, 미숙아 {float(rates['premature']):.0%}, 난임 {float(rates['infertility']):.0%} → {_won(credit)} (소득세법 §59의4②)",
        list(refs),
    )


# ---- pension, insurance, education --------------------------------------------------------------


def _pension(ctx: _Ctx, lines: list[Line]) -> None:
    pen = ctx.rules["pension"]
    nat = _sum(lines, "insurance.national_pension")
    if nat:
        ctx.add(
            "pension.national_deduction",
            nat,
            f"국민연금보험료 전액 소득공제 {_won(nat)} (소득세법 §51의3)",
            ["소득세법 §51의3 (연금보험료공제 전액) [S1]"],
        )
    if _sum(lines, "pension.personal"):
        ctx.skip(
            "pension.personal_deduction",
            "개인연금저축(조특법 §86) 공제는 조사되지 않음 — not researched (memory only)",
        )
    savings, retire, isa = (
        _sum(lines, "pension.savings"),
        _sum(lines, "pension.retirement"),
        _sum(lines, "pension.isa_transfer"),
    )
    if not (savings or retire or isa or _sum(lines, "pension.science")):
        return
    if _sum(lines, "pension.science"):
        raise _Unsettled(
            "과학기술인공제 납입액의 연금계좌 한도 적용은 규칙 데이터에 없음 — pension.science is not in the rules data"
        )
    if isa and (savings or retire):
        # From 2021 the NTS counts the ISA transfer inside 연금저축/퇴직연금 too (docs/deductions.md):
        # which account took it decides the limits, and the document does not say.
        raise _Unsettled(
            "ISA 만기 전환액이 연금저축·퇴직연금 납입액에 포함되어 있어 계좌별로 나눌 수 없음 — "
            "the ISA transfer is inside the account totals; split it in a lines file"
        )
    refs: list[str] = []
    s = ctx.salary
    rate = _frac(
        ctx.use(
            pen["rate_high"] if s <= ctx.use(pen["rate_high_salary_max"], refs) else pen["rate_low"], refs
        )
    )
    if "savings_limit_50plus" in pen:
        high = s > ctx.use(pen["high_income_salary_min"], refs)
        age50 = ctx.facts.get("age_50_plus")
        sl, cl = ctx.use(pen["savings_limit"], refs), ctx.use(pen["combined_limit"], refs)
        sl50, cl50 = ctx.use(pen["savings_limit_50plus"], refs), ctx.use(pen["combined_limit_50plus"], refs)
        if high:
            sl, why = ctx.use(pen["savings_limit_high_income"], refs), "총급여 1.2억 초과"
        elif age50 is None:
            if min(min(savings, sl) + retire, cl) != min(min(savings, sl50) + retire, cl50):
                raise _Unsettled("50세 이상 여부에 따라 한도가 다름 — facts.age_50_plus needed")
            why = "한도 무관"
        elif age50:
            sl, cl, why = sl50, cl50, "50세 이상"
        else:
            why = "50세 미만"
    else:
        sl, cl, why = ctx.use(pen["savings_limit"], refs), ctx.use(pen["combined_limit"], refs), ""
    base = min(min(savings, sl) + retire, cl)
    isa_part = min(_frac(ctx.use(pen["isa_rate"], refs)) * isa, ctx.use(pen["isa_cap"], refs)) if isa else 0
    ctx.add(
        "pension.credit_base",
        base + isa_part,
        f"min(min(연금저축 {_won(savings)}, {_won(sl)}) + 퇴직연금 {_won(retire)}, {_won(cl)}) {why} + ISA 전환 {_won(isa_part)}",
        list(refs),
    )
    ctx.add(
        "pension.credit",
        rate * (base + isa_part),
        f"× {float(rate):.0%} (총급여 {_won(s)}) (소득세법 §59의3)",
        list(refs),
    )
    ctx.est.warnings.append(
        "pension: 종합소득금액 기준(4,500만/1억)은 근로소득만 있는 것으로 보고 판단 — other income ignored"
    )


def _insurance(ctx: _Ctx, lines: list[Line]) -> None:
    ins = ctx.rules["insurance"]
    social = _sum(lines, "insurance.health", "insurance.employment")
    if social:
        ctx.add(
            "insurance.social_deduction",
            social,
            f"건강·장기요양·고용보험료 전액 소득공제 {_won(social)} (소득세법 §52①)",
            ["소득세법 §52① [S1]"],
        )
    prot, dis = _sum(lines, "insurance.protection"), _sum(lines, "insurance.protection_disabled")
    if not (prot or dis):
        return
    refs: list[str] = []
    a = min(prot, ctx.use(ins["protection_limit"], refs))
    b = min(dis, ctx.use(ins["disabled_limit"], refs))
    credit = _frac(ctx.use(ins["protection_rate"], refs)) * a + _frac(ctx.use(ins["disabled_rate"], refs)) * b
    ctx.add(
        "insurance.credit_base",
        a + b,
        f"보장성 min({_won(prot)}, 100만) + 장애인전용 min({_won(dis)}, 100만)",
        list(refs),
    )
    ctx.add(
        "insurance.credit",
        credit,
        f"12 % × {_won(a)} + 15 % × {_won(b)} = {_won(credit)} (소득세법 §59의4①)",
        list(refs),
    )


def _education(ctx: _Ctx, lines: list[Line]) -> None:
    edu = ctx.rules["education"]
    elines = [ln for ln in lines if ln.key.startswith("education.")]
    if not elines:
        return
    refs: list[str] = []
    rate = _frac(ctx.use(edu["rate"], refs))
    total, notes = 0, []
    for p in sorted({ln.person for ln in elines}):
        pl = [ln for ln in elines if ln.person == p]
        if p == "self":
            amt = sum(ln.amount for ln in pl)
            notes.append(f"본인 {amt:,}원 (한도 없음)")
            total += amt
            continue
        for key in ("education.loan_repayment", "education.vocational", "education.self"):
            if _sum(pl, key):
                ctx.est.warnings.append(
                    f"education: {key} is for the taxpayer only (본인만) — {p}'s amount left out"
                )
        uniform, trip = _sum(pl, "education.uniform"), _sum(pl, "education.field_trip")
        for k, v in (("uniform_limit", uniform), ("field_trip_limit", trip)):
            leaf = edu[k]
            if v and (leaf.usable or v > leaf.value):
                v_cap = ctx.use(leaf, refs)  # raises when unverified and the cap would bind
                if k == "uniform_limit":
                    uniform = min(uniform, v_cap)
                else:
                    trip = min(trip, v_cap)
        school = _sum(pl, "education.preschool", "education.school") + uniform + trip
        school = min(school, ctx.use(edu["school_limit"], refs)) if school else 0
        uni = _sum(pl, "education.university")
        uni = min(uni, ctx.use(edu["university_limit"], refs)) if uni else 0
        dis = _sum(pl, "education.disabled")
        notes.append(f"부양가족 취학전·초중고 {school:,} + 대학 {uni:,} + 장애인 {dis:,}")
        total += school + uni + dis
    ctx.add(
        "education.credit_base",
        total,
        "; ".join(notes) + " (소득세법 §59의4③: 1명당 300만 / 900만)",
        list(refs),
    )
    ctx.add("education.credit", rate * total, f"15 % × {_won(total)}", list(refs))


# ---- donations, rent, housing, other ------------------------------------------------------------


def _tiered(
    amount: Fraction, small: int, small_rate: Fraction, tiers: list[tuple[Fraction, Fraction | None]]
) -> Fraction:
    """``small_rate`` on the first ``small``, then each (rate, up_to) tier on what is left."""
    first: Fraction = min(amount, Fraction(small))
    out, done = small_rate * first, Fraction(small)
    for rate, upto in tiers:
        top = amount if upto is None else min(amount, upto)
        if top > done:
            out += rate * (top - done)
            done = top
    return out


def _donation(ctx: _Ctx, lines: list[Line]) -> None:
    don = ctx.rules["donation"]
    pol, home = _sum(lines, "donation.political"), _sum(lines, "donation.hometown")
    ceil = _sum(
        lines, "donation.special", "donation.general", "donation.religious", "donation.employee_stock"
    )
    if not (pol or home or ceil):
        return
    refs: list[str] = []
    credit, parts = Fraction(0), []
    if pol:
        small = ctx.use(don["political_small"], refs)
        c = _tiered(
            Fraction(pol),
            small,
            _frac(ctx.use(don["political_small_rate"], refs)),
            [
                (
                    _frac(ctx.use(don["political_rate"], refs)),
                    Fraction(ctx.use(don["political_high_from"], refs)),
                ),
                (_frac(ctx.use(don["political_high_rate"], refs)), None),
            ],
        )
        credit += c
        parts.append(f"정치자금 {_won(pol)} → {_won(c)}")
    if home:
        if "hometown_rate" not in don:
            ctx.est.warnings.append(
                f"donation: 고향사랑기부금 is from 2023; the {ctx.rules.year} amount is left out"
            )
        else:
            base = min(home, ctx.use(don["hometown_cap"], refs))
            small = ctx.use(don["hometown_small"], refs)
            tiers: list[tuple[Fraction, Fraction | None]] = []
            if "hometown_mid_to" in don:
                tiers.append(
                    (
                        _frac(ctx.use(don["hometown_mid_rate"], refs)),
                        Fraction(ctx.use(don["hometown_mid_to"], refs)),
                    )
                )
            tiers.append((_frac(ctx.use(don["hometown_rate"], refs)), None))
            c = _tiered(Fraction(base), small, Fraction(100, 110), tiers)
            credit += c
            parts.append(f"고향사랑 {_won(base)} → {_won(c)}")
            if ctx.rules.year >= 2025:
                ctx.est.warnings.append(
                    "donation: 특별재난지역 고향사랑기부 30 % is not applied (not in the lines)"
                )
    if ceil:
        step = ctx.use(don["base_step"], refs)
        top: list[tuple[Fraction, Fraction | None]] = [
            (
                _frac(ctx.use(don["rate_high"], refs)),
                Fraction(ctx.use(don["top_from"], refs)) if "top_from" in don else None,
            )
        ]
        if "rate_top" in don:
            top.append((_frac(ctx.use(don["rate_top"], refs)), None))
        c = _tiered(Fraction(ceil), step, _frac(ctx.use(don["rate_low"], refs)), top)
        ctx.add(
            "donation.credit_before_ceilings",
            credit + c,
            "; ".join(parts + [f"특례·일반·종교·우리사주 {_won(ceil)} → {_won(c)} (1천만 이하/초과 구간)"])
            + " — 소득금액 한도 적용 전",
            list(refs),
        )
        raise _Unsettled(
            "기부금 한도(근로소득금액의 100 %/30 %/10 %)는 근로소득공제 표가 필요 — the ceilings need 근로소득금액 (근로소득공제 table not sourced here)"
        )
    ctx.add("donation.credit", credit, "; ".join(parts) + " (조특법 §76, §58; 국세 part only)", list(refs))


def _rent(ctx: _Ctx, lines: list[Line]) -> None:
    paid = _sum(lines, "rent.monthly")
    if not paid:
        return
    if ctx.facts.get("homeless_householder") is not True:
        raise _Unsettled("월세 세액공제는 무주택 세대주 요건 — facts.homeless_householder must be true")
    r = ctx.rules["rent"]
    refs: list[str] = []
    s = ctx.salary
    if s > ctx.use(r["salary_max"], refs):
        ctx.add(
            "rent.credit",
            0,
            f"총급여 {_won(s)} > {_won(r['salary_max'].value)}: 월세 세액공제 대상 아님",
            list(refs),
        )
        return
    rate = _frac(
        ctx.use(r["rate_high"] if s <= ctx.use(r["rate_high_salary_max"], refs) else r["rate"], refs)
    )
    base = min(paid, ctx.use(r["cap"], refs))
    ctx.add(
        "rent.credit",
        rate * base,
        f"{float(rate):.0%} × min({_won(paid)}, {_won(r['cap'].value)}) (조특법 §95의2)",
        list(refs),
    )
    ctx.est.warnings.append(
        "rent: 종합소득금액 요건은 근로소득만 있는 것으로 보고 판단 — other income ignored"
    )


_LOAN_TYPES = ("fixed_and_amortizing_15y", "fixed_or_amortizing_15y", "other_15y", "fixed_or_amortizing_10y")


def _housing(ctx: _Ctx, lines: list[Line]) -> None:
    if _sum(lines, "housing.jeonse_interest"):
        ctx.skip(
            "housing.jeonse_deduction", "목돈 안드는 전세 이자상환액 공제는 조사되지 않음 — not researched"
        )
    sub, lease, mort = (
        _sum(lines, "housing.subscription"),
        _sum(lines, "housing.lease_loan"),
        _sum(lines, "housing.mortgage_interest"),
    )
    if not (sub or lease or mort):
        return
    h, s = ctx.rules["housing"], ctx.salary
    refs: list[str] = []
    if (sub or lease) and ctx.facts.get("homeless_householder") is not True:
        raise _Unsettled(
            "주택청약·임차차입금 공제는 무주택 세대주 요건 — facts.homeless_householder must be true"
        )
    rate = _frac(ctx.use(h["rate"], refs))
    sub_ded = Fraction(0)
    if sub and s <= ctx.use(h["subscription_salary_max"], refs):
        sub_ded = rate * min(sub, ctx.use(h["subscription_paid_cap"], refs))
    group = (
        min(sub_ded + rate * lease, ctx.use(h["lease_group_cap"], refs)) if (sub or lease) else Fraction(0)
    )
    rule = f"청약 {_won(sub_ded)} + 임차차입금 40 % × {_won(lease)}, 합계 한도 {_won(h['lease_group_cap'].value)}"
    if mort:
        lt = ctx.facts.get("mortgage_loan_type")
        if lt not in _LOAN_TYPES:
            raise _Unsettled(
                f"장기주택저당차입금 한도는 대출 유형에 따라 다름 — facts.mortgage_loan_type ∈ {_LOAN_TYPES}"
            )
        cap_leaf = next(c for c in h["mortgage_caps"] if c.selectors["loan_type"] == lt)
        cap = ctx.use(cap_leaf, refs)
        total = min(group + mort, cap)
        rule += f"; + 장기주택저당 이자 {_won(mort)}, 전체 한도 {_won(cap)} ({lt})"
    else:
        total = group
    ctx.add("housing.deduction", total, rule + " (소득세법 §52④⑤, 조특법 §87)", list(refs))


def _other(ctx: _Ctx, lines: list[Line]) -> None:
    for key, what in (
        ("other.small_business", "노란우산공제"),
        ("other.long_term_fund", "장기집합투자증권저축"),
        ("other.youth_long_term_fund", "청년형 장기집합투자증권저축"),
        ("other.venture", "벤처투자"),
    ):
        if _sum(lines, key):
            ctx.skip(
                f"{key}_deduction",
                f"{what} 소득공제 규칙 미확인 (memory only in DEDUCTIONS.md §3.8) — not computed",
            )


_CARD_FIGS = (
    "card.base",
    "card.threshold",
    "card.over_threshold",
    "card.gross",
    "card.threshold_loss",
    "card.increase",
    "card.before_limit",
    "card.basic_limit",
    "card.basic",
    "card.additional",
    "card.deduction",
)
_CATEGORIES: tuple[tuple[tuple[str, ...], Callable[[_Ctx, list[Line]], None]], ...] = (
    (_CARD_FIGS, _card),
    (("medical.threshold", "medical.credit_base", "medical.credit"), _medical),
    (("pension.credit_base", "pension.credit"), _pension),
    (("insurance.credit_base", "insurance.credit"), _insurance),
    (("education.credit_base", "education.credit"), _education),
    (("donation.credit",), _donation),
    (("rent.credit",), _rent),
    (("housing.deduction",), _housing),
    ((), _other),
)
