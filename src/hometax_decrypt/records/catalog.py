"""Labels for forms, items, fields and codes, by form code and tax year.

Two layers: ``catalog_data.json``, generated from the NTS XML definition workbook by
``scripts/build_catalog.py`` (never edited by hand), and ``catalog_supplement.json``, the one
hand-maintained data file: every code seen in documents newer than the workbook, one entry per code,
with the tax years it belongs to and its source (``docs/records.md``, "Next tax year").

Where a label comes from (``label_source``):

- ``workbook`` / ``supplement``: the form itself describes it (for the document's tax year);
- ``inferred``: the form, or the tax year, is not described. A form label is then built from the form
  family's name with the document's own ``att_year`` and code ("신용카드 (2025년 귀속, G113Y: 정의서
  미수록)"); a field label comes from another version of the SAME family (``G1…``), never from an
  unrelated form;
- ``unknown``: no form of the family is known; no label at all.

Every lookup takes the document's tax year (``att_year``), because a supplement entry with ``years``
holds only for those years (J501Y G0037 is 월세액 지급액 in 2020, 공공임대주택 월세액 from 2022). Outside
them the workbook's own label holds; with none, the entry's label is still given, as ``inferred`` (a
code value, which has no source, plainly). A lookup without a year (a part with no ``att_year``) is not
bound to any year: it gets the year-bound entry, as the newest label known.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from functools import lru_cache
from importlib import resources

PERIODS = {"Y": "연간합계", "M": "월별", "D": "일별"}
WORKBOOK, SUPPLEMENT, INFERRED, UNKNOWN = "workbook", "supplement", "inferred", "unknown"
# a label naming the tax year it describes: "신용카드(2020년 귀속)", "벤처기업투자신탁(2020)";
# not "월세액(2020귀속부터)", which holds from that year on
_LABEL_YEAR = re.compile(r"\((20\d\d)(?:년)?(?:\s*귀속)?\)")


@dataclass(frozen=True)
class FormInfo:
    form_cd: str
    base: str  # e.g. G108
    family: str  # e.g. G1
    period: str | None  # Y, M, D
    label: str | None
    category: str | None
    known: bool  # described by the workbook or the supplement for this tax year
    source: str  # label_source: "workbook", "supplement", "inferred" or "unknown"
    years: tuple[int, ...] = ()  # the tax years the code belongs to, as far as known
    reference: str | None = None  # where the entry comes from (workbook file or the entry's source)

    @property
    def period_label(self) -> str | None:
        return PERIODS.get(self.period or "")


@dataclass(frozen=True)
class Category:
    key: str
    label: str
    prefixes: tuple[str, ...]
    amount: dict  # family prefix -> element the NTS counts instead of <sum>
    counted: bool  # False: a flag, never added into an amount


def _load(name: str) -> dict:
    with resources.files(__package__).joinpath(name).open("r", encoding="utf-8") as fh:
        return json.load(fh)


def _applies(years, year: int | None) -> bool:
    """Whether an entry of the tax years ``years`` holds in a document of tax year ``year``."""
    return year is None or year in years


def _year(value) -> int | None:
    try:
        y = int(str(value).strip())
    except (TypeError, ValueError):
        return None
    return y if 1990 <= y <= 2999 else None


class Catalog:
    def __init__(self, data: dict, supplement: dict):
        self.data = data
        self.supplement = supplement
        wb_file = data.get("source", {}).get("file", "workbook")
        self.forms: dict[str, dict] = {b: dict(f) for b, f in data["forms"].items()}
        self.form_source = dict.fromkeys(self.forms, WORKBOOK)
        self.form_reference = dict.fromkeys(self.forms, wb_file)
        self.versions: dict[str, list] = {k: list(v) for k, v in data["versions"].items()}
        self.form_years: dict[str, tuple[int, ...]] = {
            v["form"]: tuple(v["years"]) for fam in self.versions.values() for v in fam
        }
        # a workbook form under a label of its own for the years named (its workbook label names
        # another year): base -> the supplement's entry
        self.year_labels: dict[str, dict] = dict(supplement.get("form_labels", {}))
        for base, f in supplement.get("forms", {}).items():
            if base not in self.forms:
                self.forms[base] = {**f, "fields": {}, "items": {}}
                self.form_source[base] = SUPPLEMENT
                self.form_reference[base] = f["source"]
                self.form_years[base] = tuple(f.get("years", []))
                fam = self.versions.setdefault(base[:2], [])
                if not any(v["form"] == base for v in fam):
                    fam.append({"form": base, "years": f.get("years", [])})
        # field path -> (definition, "workbook"/"supplement") per form
        self.fields: dict[str, dict[str, tuple[dict, str]]] = {}
        for base, f in self.forms.items():
            self.fields[base] = {p: (fd, self.form_source[base]) for p, fd in f.get("fields", {}).items()}
        for base, f in supplement.get("forms", {}).items():
            if f.get("fields_as"):  # a sourced statement: this form has the elements of that one
                for path, (fd, _) in self.fields.get(f["fields_as"], {}).items():
                    self.fields.setdefault(base, {}).setdefault(path, (fd, SUPPLEMENT))
        # form -> path -> [(tax years, definition)]: supplement fields that hold for some years only
        self.year_fields: dict[str, dict[str, list[tuple[tuple[int, ...], dict]]]] = {}
        for bases, fields in supplement.get("fields", {}).items():
            for base in bases.split():
                target = self.fields.setdefault(base, {})
                for path, fd in fields.items():
                    if fd.get("years"):
                        self.year_fields.setdefault(base, {}).setdefault(path, []).append(
                            (tuple(fd["years"]), fd)
                        )
                    else:
                        target.setdefault(path, (fd, SUPPLEMENT))
        self.items: dict[str, dict] = dict(data["items"])
        # form -> item code -> (label, "workbook"/"supplement")
        self.form_items: dict[str, dict[str, tuple[str, str]]] = {
            b: {k: (v, self.form_source[b]) for k, v in f.get("items", {}).items()}
            for b, f in self.forms.items()
        }
        # form -> item code -> [(tax years, label)]: a supplement label for the years named only
        self.year_items: dict[str, dict[str, list[tuple[tuple[int, ...], str]]]] = {}

        def year_item(base: str, code: str, it: dict, override: bool) -> None:
            if it.get("years"):
                self.year_items.setdefault(base, {}).setdefault(code, []).append(
                    (tuple(it["years"]), it["label"])
                )
            elif override:
                self.form_items.setdefault(base, {})[code] = (it["label"], SUPPLEMENT)
            else:
                self.form_items.setdefault(base, {}).setdefault(code, (it["label"], SUPPLEMENT))

        for code, it in supplement.get("items", {}).items():
            self.items.setdefault(code, it)
            for base in it.get("forms", []):
                year_item(base, code, it, override=False)
        for base, entries in supplement.get("item_labels", {}).items():
            for code, it in entries.items():  # a newer label of a workbook item, for the years named
                year_item(base, code, it, override=True)
        self._item_forms = dict.fromkeys(sorted({*self.form_items, *self.year_items}))
        # every code value of every year (code_table() gives those of one tax year)
        self.codes: dict[str, dict[str, str]] = {k: dict(v) for k, v in data["codes"].items()}
        self._workbook_codes = {k: dict(v) for k, v in data["codes"].items()}
        self.year_codes: dict[str, list[tuple[tuple[int, ...], dict[str, str]]]] = {}
        for name, entry in supplement.get("codes", {}).items():
            into = self.codes.setdefault(name, {})
            for k, v in entry["codes"].items():
                into.setdefault(k, v)
            if entry.get("years"):
                self.year_codes.setdefault(name, []).append((tuple(entry["years"]), entry["codes"]))
            else:
                wb = self._workbook_codes.setdefault(name, {})
                for k, v in entry["codes"].items():
                    wb.setdefault(k, v)
        self.categories: tuple[Category, ...] = tuple(
            Category(
                c["key"],
                c["label"],
                tuple(c["prefixes"]),
                dict(c.get("amount", {})),
                bool(c.get("counted", True)),
            )
            for c in supplement["summary_categories"]["categories"]
        )
        # the family's name for inferred labels: the category of its newest described version
        self._family_name: dict[str, str] = {}
        for base in sorted(self.forms):
            name = self.forms[base].get("category") or self.forms[base].get("label")
            if name:
                self._family_name[base[:2]] = name

    # -- forms ----------------------------------------------------------------------------------
    @lru_cache(maxsize=1024)
    def form(self, form_cd: str, att_year: str | int | None = None) -> FormInfo:
        """The form ``form_cd`` in a document of tax year ``att_year`` (when known)."""
        code = form_cd or ""
        base, family = code[:4], code[:2]
        period = code[4:5] or None
        year = _year(att_year)
        f = self.forms.get(base)
        years = self.form_years.get(base, ())
        newer = self.year_labels.get(base)
        if newer is not None and year in newer["years"]:
            return FormInfo(
                code,
                base,
                family,
                period,
                newer["label"],
                newer["category"],
                True,
                SUPPLEMENT,
                tuple(sorted({*years, *newer["years"]})),
                newer["source"],
            )
        if f and f.get("label"):
            label = f["label"]
            m = _LABEL_YEAR.search(label)
            if year is None or m is None or int(m.group(1)) == year:
                return FormInfo(
                    code,
                    base,
                    family,
                    period,
                    label,
                    f.get("category"),
                    True,
                    self.form_source[base],
                    years,
                    self.form_reference[base],
                )
            # a known code in a document of another tax year: its label names the wrong year
        name = self._family_name.get(family)
        if name:
            when = f"{year}년 귀속, " if year is not None else ""
            why = "정의서 미수록" if not f else "해당 연도 정의서 미수록"
            label = f"{name} ({when}{code or base}: {why})"
            category = (f or {}).get("category") or name
            return FormInfo(
                code,
                base,
                family,
                period,
                label,
                category,
                False,
                INFERRED,
                years,
                self.form_reference.get(base),
            )
        return FormInfo(code, base, family, period, None, None, False, UNKNOWN, years, None)

    @staticmethod
    def _family_order(base: str, table: dict) -> list[str]:
        """The form itself, then the other versions of its family in ``table``: older ones newest
        first, then newer ones oldest first. Never a form of another family."""
        same = sorted(b for b in table if b[:2] == base[:2] and b != base)
        older = [b for b in same if b < base][::-1]
        newer = [b for b in same if b > base]
        return [base] + older + newer

    @lru_cache(maxsize=4096)
    def field_entry(self, form_cd: str, path: str, att_year=None) -> tuple[dict | None, str]:
        """(definition, label_source) of the element or attribute at ``path`` (``man/data/@busnid``,
        ``man/data/sum/@ddct``, ``man/sum_data/gnrl_sum``, ``doc/seq``) in form ``form_cd`` of a
        document of tax year ``att_year``."""
        if path.startswith("doc/"):
            fd = self.data["doc"].get(path)
            return (fd, WORKBOOK) if fd else (None, UNKNOWN)
        base = (form_cd or "")[:4]
        year = _year(att_year)
        for b in self._family_order(base, {**self.fields, **self.year_fields}):
            hit = self._year_bound(
                self.year_fields.get(b, {}).get(path, ()), year, self.fields.get(b, {}).get(path)
            )
            if hit:
                fd, source = hit
                return fd, (source if b == base else INFERRED)
        return None, UNKNOWN

    @staticmethod
    def _year_bound(entries, year: int | None, base_hit):
        """The supplement entry of ``entries`` ([(years, value)]) that holds in tax year ``year``;
        else ``base_hit`` (the workbook's, or a supplement entry of every year); else the first
        entry of other years, inferred."""
        for years, value in entries:
            if _applies(years, year):
                return value, SUPPLEMENT
        if base_hit:
            return base_hit
        return (entries[0][1], INFERRED) if entries else None

    def field(self, form_cd: str, path: str, att_year=None) -> dict | None:
        return self.field_entry(form_cd, path, att_year)[0]

    def field_label(self, form_cd: str, path: str, att_year=None) -> str | None:
        fd = self.field(form_cd, path, att_year)
        return fd.get("label") if fd else None

    def field_type(self, form_cd: str, path: str, att_year=None) -> str | None:
        fd = self.field(form_cd, path, att_year)
        return fd.get("type") if fd else None

    # -- items and codes ------------------------------------------------------------------------
    @lru_cache(maxsize=4096)  # the catalog never changes; every item of a document asks again
    def item_entry(self, form_cd: str, dat_cd: str, att_year=None) -> tuple[str | None, str]:
        """(label, label_source) of item code ``dat_cd`` in form ``form_cd`` of a document of tax
        year ``att_year``: the form's own item (a supplement label only in the years it names),
        else the same code in another version of its family (inferred). Item codes are one list
        across the workbook (G0003 = 의료비 wherever), but a code is only ever labelled from a form
        of the same family. A code no form of the family lists (the item codes of C501Y, S101 and
        T101M are not published) is labelled with its form's own label, inferred."""
        base = (form_cd or "")[:4]
        year = _year(att_year)
        for b in self._family_order(base, self._item_forms):
            hit = self._year_bound(
                self.year_items.get(b, {}).get(dat_cd, ()), year, self.form_items.get(b, {}).get(dat_cd)
            )
            if hit:
                return hit[0], (hit[1] if b == base else INFERRED)
        f = self.forms.get(base)
        if f and f.get("label"):
            return f["label"], INFERRED
        return None, UNKNOWN

    def item_label(self, form_cd: str, dat_cd: str, att_year=None) -> str | None:
        return self.item_entry(form_cd, dat_cd, att_year)[0]

    @lru_cache(maxsize=1024)
    def code_table(self, name: str, att_year=None) -> dict[str, str] | None:
        """The values of code list ``name`` in a document of tax year ``att_year``: the supplement's
        for its years over the workbook's; a value of other years only where nothing else names it
        (a code value has no label source to say it is inferred). None: no such code list."""
        year = _year(att_year)
        entries = self.year_codes.get(name, ())
        base = self._workbook_codes.get(name)
        if base is None and not entries:
            return None
        table = dict(base or {})
        for years, codes in entries:
            if _applies(years, year):
                table.update(codes)
        for _years, codes in entries:
            for k, v in codes.items():
                table.setdefault(k, v)
        return table

    def code_label(self, name: str, code: str | None, att_year=None) -> str | None:
        if code is None:
            return None
        return (self.code_table(name, att_year) or {}).get(code.strip())

    def has_codes(self, name: str) -> bool:
        return name in self.codes

    # -- summary --------------------------------------------------------------------------------
    @lru_cache(maxsize=4096)  # asked for every item, several times (summary, JSON, CSV)
    def category(self, form_cd: str) -> Category:
        for c in self.categories:
            if any((form_cd or "").startswith(p) for p in c.prefixes):
                return c
        return self.categories[-1]

    def summary_category(self, form_cd: str) -> tuple[str, str]:
        c = self.category(form_cd)
        return c.key, c.label

    def summary_amount_element(self, form_cd: str) -> str | None:
        """The element holding the amount the NTS counts and prints for an item of this form; None
        for a form that states no amount (``counted: false``, T101M)."""
        c = self.category(form_cd)
        return c.amount.get((form_cd or "")[:2], "sum") if c.counted else None

    def counted(self, form_cd: str) -> bool:
        return self.category(form_cd).counted


@lru_cache(maxsize=1)
def catalog() -> Catalog:
    return Catalog(_load("catalog_data.json"), _load("catalog_supplement.json"))
