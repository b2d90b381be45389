"""Labels for forms, items, fields and codes.

Two layers: ``catalog_data.json``, generated from the NTS XML definition workbook by
``scripts/build_catalog.py`` (never edited by hand), and ``catalog_supplement.json``, a small
hand-maintained file for codes seen in newer documents, each entry with its source. A form code the
catalog does not know still gets the labels of its family (``G110`` → the ``G1`` family: 신용카드).
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from functools import lru_cache
from importlib import resources

PERIODS = {"Y": "연간합계", "M": "월별", "D": "일별"}

# Summary categories: which form families add up into which per-person total (first prefix wins).
# ``amount`` names the element holding the stated amount when it is not ``<sum>``: pension accounts
# (E, F) dropped ``<sum>`` in 2013 and state the net payment in ``ddct_bs_ass_amt`` (순납입금액).
SUMMARY_CATEGORIES: tuple[tuple[str, str, tuple[str, ...]], ...] = (
    ("health_insurance", "건강보험", ("O1",)),
    ("national_pension", "국민연금", ("P1",)),
    ("insurance", "보험료", ("A1",)),
    ("medical", "의료비", ("B1",)),
    ("medical_insurance_claims", "실손의료보험금", ("B2",)),
    ("education", "교육비", ("C",)),
    ("cards", "신용카드 등", ("G",)),
    ("pension_savings", "연금저축 등", ("D1", "E1", "F1")),
    ("housing", "주택자금", ("J1", "J2", "J3", "J4")),
    ("monthly_rent", "월세액", ("J5",)),
    ("small_business_aid", "소기업소상공인 공제부금", ("K1",)),
    ("donation", "기부금", ("L1",)),
    ("investment", "투자·장기저축", ("M1", "N1", "Q")),
    ("disability", "장애인", ("R1",)),
    ("other", "기타", ("",)),
)
SUMMARY_AMOUNT_ELEMENT = {"E1": "ddct_bs_ass_amt", "F1": "ddct_bs_ass_amt"}


@dataclass(frozen=True)
class FormInfo:
    form_cd: str
    base: str  # e.g. G108
    family: str  # e.g. G1
    period: str | None  # Y, M, D
    label: str | None
    category: str | None
    known: bool  # described by the workbook or the supplement (not only by its family)
    source: str  # "workbook", "supplement", "family" or "unknown"

    @property
    def period_label(self) -> str | None:
        return PERIODS.get(self.period or "")


def _load(name: str) -> dict:
    with resources.files(__package__).joinpath(name).open("r", encoding="utf-8") as fh:
        return json.load(fh)


class Catalog:
    def __init__(self, data: dict, supplement: dict):
        self.data = data
        self.supplement = supplement
        self.forms: dict[str, dict] = dict(data["forms"])
        self.form_source = {b: "workbook" for b in self.forms}
        for base, f in supplement.get("forms", {}).items():
            if base not in self.forms:
                self.forms[base] = {**f, "fields": {}, "items": {}}
                self.form_source[base] = "supplement"
        for bases, fields in supplement.get("fields", {}).items():
            for base in bases.split():
                target = self.forms.setdefault(base, {"fields": {}, "items": {}})
                target.setdefault("fields", {})
                for path, fd in fields.items():
                    target["fields"].setdefault(path, fd)
        self.items: dict[str, dict] = dict(data["items"])
        for code, it in supplement.get("items", {}).items():
            self.items.setdefault(code, it)
            for base in it.get("forms", []):
                self.forms.setdefault(base, {"fields": {}, "items": {}}).setdefault(
                    "items", {}).setdefault(code, it["label"])
        self.codes: dict[str, dict[str, str]] = {k: dict(v) for k, v in data["codes"].items()}
        for name, entry in supplement.get("codes", {}).items():
            into = self.codes.setdefault(name, {})
            for k, v in entry["codes"].items():
                into.setdefault(k, v)
        self.versions: dict[str, list] = {k: list(v) for k, v in data["versions"].items()}
        for base, f in supplement.get("forms", {}).items():
            fam = self.versions.setdefault(base[:2], [])
            if not any(v["form"] == base for v in fam):
                fam.append({"form": base, "years": f.get("years", [])})
        # latest described version per family, for labels of versions we do not know
        self._family_latest: dict[str, str] = {}
        for base in sorted(self.forms):
            if self.forms[base].get("label"):
                self._family_latest[base[:2]] = base
        self._by_name: dict[str, dict] = {}
        for base in sorted(self.forms):
            for path, fd in self.forms[base].get("fields", {}).items():
                self._by_name.setdefault(path.rsplit("/", 1)[-1], fd)

    # -- forms ----------------------------------------------------------------------------------
    @lru_cache(maxsize=512)
    def form(self, form_cd: str) -> FormInfo:
        code = form_cd or ""
        base, family = code[:4], code[:2]
        period = code[4:5] or None
        f = self.forms.get(base)
        if f and f.get("label"):
            return FormInfo(code, base, family, period, f.get("label"), f.get("category"), True,
                            self.form_source.get(base, "supplement"))
        latest = self._family_latest.get(family)
        if latest:
            g = self.forms[latest]
            return FormInfo(code, base, family, period, g.get("label"), g.get("category"), False,
                            "family")
        return FormInfo(code, base, family, period, None, None, False, "unknown")

    def _field_sources(self, form_cd: str):
        base = (form_cd or "")[:4]
        if base in self.forms:
            yield self.forms[base].get("fields", {})
        latest = self._family_latest.get(base[:2])
        if latest and latest != base:
            yield self.forms[latest].get("fields", {})

    def field(self, form_cd: str, path: str) -> dict | None:
        """Definition of the element or attribute at ``path`` (``man/data/@busnid``,
        ``man/data/sum/@ddct``, ``man/sum_data/gnrl_sum``, ``doc/seq``)."""
        if path.startswith("doc/"):
            return self.data["doc"].get(path)
        for fields in self._field_sources(form_cd):
            if path in fields:
                return fields[path]
        return self._by_name.get(path.rsplit("/", 1)[-1])

    def field_label(self, form_cd: str, path: str) -> str | None:
        fd = self.field(form_cd, path)
        return fd.get("label") if fd else None

    def field_type(self, form_cd: str, path: str) -> str | None:
        fd = self.field(form_cd, path)
        return fd.get("type") if fd else None

    # -- items and codes ------------------------------------------------------------------------
    def item_label(self, form_cd: str, dat_cd: str) -> str | None:
        base = (form_cd or "")[:4]
        f = self.forms.get(base)
        if f and dat_cd in f.get("items", {}):
            return f["items"][dat_cd]
        it = self.items.get(dat_cd)
        return it.get("label") if it else None

    def code_label(self, name: str, code: str | None) -> str | None:
        if code is None:
            return None
        return self.codes.get(name, {}).get(code.strip())

    def has_codes(self, name: str) -> bool:
        return name in self.codes

    # -- summary --------------------------------------------------------------------------------
    @staticmethod
    def summary_category(form_cd: str) -> tuple[str, str]:
        for key, label, prefixes in SUMMARY_CATEGORIES:
            if any((form_cd or "").startswith(p) for p in prefixes):
                return key, label
        return "other", "기타"

    @staticmethod
    def summary_amount_element(form_cd: str) -> str:
        return SUMMARY_AMOUNT_ELEMENT.get((form_cd or "")[:2], "sum")


@lru_cache(maxsize=1)
def catalog() -> Catalog:
    return Catalog(_load("catalog_data.json"), _load("catalog_supplement.json"))
