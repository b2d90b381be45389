"""Read the SAM part (pipe-delimited, fixed-width text) into the same model as the XML.

The SAM layout of each form is not in the NTS definition workbook; the layouts live in
``sam_layouts.json``, per form and tax year (the ``att_year`` of the ``DOCHD`` line), each with its
source. Those of 2020 and 2022 were read from the official samples (every form, basic and detail) by
lining each SAM line up with the XML item it repeats; a later year's form has one only where its XML
fields and their order are known (docs/format.md §7), the file's ``unsettled`` names those no source
settles. Differences from the XML that are inherent to SAM:

- detail forms with daily rows (``B101D``, ``L102D``) have one SAM line per day and no item total;
  consecutive lines of the same item become one item with one ``<amt dd=…>`` per line;
- monthly rows carry ``fix_cd`` only for November and December; ``K101M`` rows carry no payment dates;
- card forms (``G…``) carry per-item category/period totals instead of the person's ``sum_data``;
  they are kept in ``Item.sam_extra`` and the person's ``sum_data`` is rebuilt as their sum (2022
  forms put the person's previous/current-year totals on the person's first line, zeros after).

A form (or a tax year of it) whose layout is not known, or whose line does not have the expected
number of columns (a newer version of the form), is still read: its columns are kept in
``Item.sam_extra`` as ``col5``, ``col6``, … so that nothing is dropped. They stay text as written
(:func:`is_raw_column`; nobody knows which is an amount and which an identifier with leading zeros),
and the writers mask any resident number among them (``records.serialize.maybe_mask``).
"""

from __future__ import annotations

import json
import re
from functools import lru_cache
from importlib import resources

from .. import errors
from ..document.limits import Deadline, Limits, resolve
from .catalog import catalog
from .model import DocInfo, Document, Form, Item, Node, Person, bind_tax_year, to_int

_RAW_COLUMN = re.compile(r"col[0-9]+")
RAW_COLUMN_FIRST = 5  # the first column after form_cd, dat_cd, resid, name


def raw_column(n: int) -> str:
    """The ``Item.sam_extra`` key of raw column ``n`` (1-based, as in the SAM line) of a form
    without a layout."""
    return f"col{n}"


def is_raw_column(name: str) -> bool:
    """Whether ``name`` is a raw column of a form without a layout (``col5``, ``col6``, …), rather
    than a named column of a known layout (a card total)."""
    return _RAW_COLUMN.fullmatch(name) is not None


@lru_cache(maxsize=1)
def _data() -> dict:
    """``sam_layouts.json``: the layouts as data, each with the tax years it holds for and where it
    was read, so that a new year is an entry there, not code here."""
    with resources.files(__package__).joinpath("sam_layouts.json").open("r", encoding="utf-8") as fh:
        return json.load(fh)


def _year(att_year) -> int | None:
    try:
        return int(str(att_year).strip())
    except (TypeError, ValueError):
        return None


@lru_cache(maxsize=1024)
def _entry(base: str, att_year) -> dict | None:
    """The layout entry of form ``base`` for tax year ``att_year``; None when none is known for that
    year (a year-bound entry never applies to a document whose year is unknown)."""
    year = _year(att_year)
    for e in _data()["forms"].get(base, ()):
        first, last = e["years"]
        if first is None and last is None:
            return e
        if year is None:
            continue
        if (first is None or first <= year) and (last is None or year <= last):
            return e
    return None


def layout(form_cd: str, att_year) -> list[str] | None:
    """The columns of form ``form_cd`` in a document of tax year ``att_year`` (``sam_layouts.json``),
    or None: the form, or that year of it, has no known layout and its columns stay raw."""
    e = _entry(form_cd[:4], att_year)
    if e is None:
        return None
    period = form_cd[4:5]
    if period == "D":
        return e.get("D")
    if period == "M" and "M" in e:
        return e["M"]
    return e["columns"]


def layout_note(form_cd: str, att_year) -> str | None:
    """Why form ``form_cd`` of tax year ``att_year`` has no layout (its columns are kept raw as
    ``col5``, ``col6``, …): the reason ``sam_layouts.json`` records for a form no source settles, or
    that the form or year is not known at all. None when it has a layout."""
    if layout(form_cd, att_year) is not None:
        return None
    base, year = form_cd[:4], _year(att_year)
    for bases, entry in _data()["unsettled"].items():
        first, last = entry["years"]
        if (
            base in bases.split()
            and year is not None
            and (first is None or first <= year)
            and (last is None or year <= last)
        ):
            return entry["why"]
    return f"no SAM layout of {form_cd} for tax year {att_year} is known"


def _group(col: str) -> list[str] | None:
    """The columns a group token (``CARD2020``, ``CARD2022``) stands for."""
    g = _data()["groups"].get(col)
    return g["columns"] if g is not None else None


def _width(col: str) -> int:
    group = _group(col)
    if group is not None:
        return len(group)
    if col == "M12" or col == "MFIX":
        return 12 if col == "M12" else 14
    if col.startswith("M12@"):
        return 12 * len(col[4:].split(","))
    if col == "DAY":
        return 2
    if col.startswith("DAY@"):
        return 2 + len(col[4:].split(","))
    return 1


def _num(v: str) -> str:
    i = to_int(v)
    return str(i) if i is not None else v.strip()


class _ItemBuilder:
    def __init__(self, form_cd: str, dat_cd: str, att_year: str | None):
        self.item = Item({"dat_cd": dat_cd}, [], form_cd=form_cd)
        self.form_cd = form_cd
        self.att_year = att_year
        self.amts: list[Node] = []

    def _el(self, tag: str) -> Node:
        n = self.item.element(tag)
        if n is None:
            n = Node(tag)
            self.item.children.append(n)
        return n

    def text_value(self, path: str, raw: str) -> str:
        if catalog().field_type(self.form_cd, path, self.att_year) == "Num":
            return _num(raw)
        return raw.rstrip(" ")

    def set_attr(self, name: str, raw: str):
        self.item.attrs[name] = self.text_value(f"man/data/@{name}", raw)

    def set_element(self, tag: str, raw: str):
        value = _num(raw) if tag == "sum" else self.text_value(f"man/data/{tag}", raw)
        self._el(tag).text = value

    def set_sum_attr(self, name: str, raw: str):
        self._el("sum").attrs[name] = _num(raw)

    def add_amt(self, attrs: dict, text: str | None):
        n = Node("amt", attrs, text)
        self.amts.append(n)

    def finish(self) -> Item:
        self.item.children.extend(self.amts)
        return self.item


def _fill(b: _ItemBuilder, cols: list[str], values: list[str]) -> None:
    i = 0
    for col in cols:
        group = _group(col)
        if group is not None:
            for name in group:
                b.item.sam_extra[name] = _num(values[i])
                i += 1
        elif col == "M12":
            for m in range(1, 13):
                b.add_amt({"mm": f"{m:02d}"}, _num(values[i]))
                i += 1
        elif col == "MFIX":
            for m in range(1, 11):
                b.add_amt({"mm": f"{m:02d}"}, _num(values[i]))
                i += 1
            for m in (11, 12):
                b.add_amt({"mm": f"{m:02d}", "fix_cd": values[i].strip()}, _num(values[i + 1]))
                i += 2
        elif col.startswith("M12@"):
            names = col[4:].split(",")
            nodes = [Node("amt", {"mm": f"{m:02d}"}) for m in range(1, 13)]
            for name in names:
                for n in nodes:
                    n.attrs[name] = _num(values[i])
                    i += 1
            b.amts.extend(nodes)
        elif col == "DAY" or col.startswith("DAY@"):
            dd, amount = values[i].strip(), _num(values[i + 1])
            i += 2
            attrs = {"dd": dd}
            for name in col[4:].split(",") if "@" in col else []:
                attrs[name] = _num(values[i])
                i += 1
            b.add_amt(attrs, amount)
        elif col.startswith("sum@"):
            b.set_sum_attr(col[4:], values[i])
            i += 1
        elif col.startswith("@"):
            b.set_attr(col[1:], values[i])
            i += 1
        else:
            b.set_element(col, values[i])
            i += 1


def parse_sam(data: bytes, limits: Limits | None = None, deadline: Deadline | None = None) -> Document:
    """The model of an NTS SAM part (UTF-8 bytes as the PDF stores them).

    Every column becomes at most one element or attribute, so the columns count against
    ``Limits.max_xml_elements`` like the XML's elements and attributes; ``deadline`` (by default a
    fresh one of ``limits.max_seconds``) is checked at every line."""
    lim = resolve(limits)
    dl = deadline if deadline is not None else Deadline(lim.max_seconds)
    if len(data) > lim.max_part_bytes:
        raise errors.TooLarge("data part exceeds the part size limit")
    if bytes(data).count(b"|") > lim.max_xml_elements:
        raise errors.TooLarge("too many SAM columns")
    try:
        text = bytes(data).decode("utf-8")
    except UnicodeDecodeError:
        raise errors.Damaged("the SAM data is not UTF-8") from None
    lines = [ln for ln in text.replace("\r\n", "\n").split("\n") if ln.strip()]
    if len(lines) > lim.max_xml_elements:
        raise errors.TooLarge("too many SAM lines")
    if not lines or not lines[0].startswith("DOCHD|"):
        raise errors.Damaged("the SAM data has no DOCHD header line")
    head = lines[0].split("|")
    if head and head[-1] == "":
        head = head[:-1]
    doc = DocInfo()
    for tag, value in zip(("doc_type", "seq", "att_year", "att_inqrMm", "resid", "name"), head[2:]):
        doc.children.append(Node(tag, {}, value.rstrip(" ")))
    att_year = doc.att_year  # the layouts are per tax year
    for n, value in enumerate(head[8:], start=1):  # header columns of a future layout
        doc.children.append(Node(f"sam_header_{n}", {}, value.rstrip(" ")))

    document = Document(doc=doc, part="SAM")
    form: Form | None = None
    person: Person | None = None
    last_key = None
    daily: _ItemBuilder | None = None

    def close_person():
        if person is not None and form is not None:
            _rebuild_sum_data(form.form_cd, att_year, person)

    for ln in lines[1:]:
        dl.check()
        values = ln.split("|")
        if values and values[-1] == "":
            values = values[:-1]
        if values[:2] == ["DOCED", "END"]:
            break
        if len(values) < 4:
            raise errors.Damaged("a SAM line has too few columns")
        form_cd, dat_cd, resid, name = values[0], values[1], values[2].strip(), values[3].rstrip(" ")
        rest = values[4:]
        if form is None or form.form_cd != form_cd:
            close_person()
            form = Form({"form_cd": form_cd})
            document.children.append(form)
            person = None
            last_key = None
        if person is None or person.resid != resid or person.name != name:
            close_person()
            person = Person({"resid": resid, "name": name})
            form.children.append(person)
            last_key = None
        cols = layout(form_cd, att_year)
        if cols is not None and sum(_width(c) for c in cols) != len(rest):
            cols = None  # a version of the form we do not know: keep the columns raw
        if cols is not None and any(c.startswith("DAY") for c in cols):
            n_fixed = sum(_width(c) for c in cols if not c.startswith("DAY"))
            key = (form_cd, dat_cd, resid, name, tuple(rest[:n_fixed]))
            if key != last_key or daily is None:
                daily = _ItemBuilder(form_cd, dat_cd, att_year)
                _fill(daily, cols, rest)
                person.children.append(daily.finish())
            else:
                # one more day of the same item: its <amt> goes last, after the item's elements
                before = len(daily.amts)
                _fill(daily, cols[-1:], rest[n_fixed:])
                daily.item.children.extend(daily.amts[before:])
            last_key = key
            continue
        b = _ItemBuilder(form_cd, dat_cd, att_year)
        if cols is None:
            for n, v in enumerate(rest, start=RAW_COLUMN_FIRST):
                b.item.sam_extra[raw_column(n)] = v.rstrip(" ")
        else:
            _fill(b, cols, rest)
        person.children.append(b.finish())
        last_key = None
    close_person()
    return bind_tax_year(document)


def _rebuild_sum_data(form_cd: str, att_year, person: Person) -> None:
    """Card forms: the person's ``sum_data`` as the sum of the per-item SAM totals."""
    e = _entry(form_cd[:4], att_year)
    names = _group(e["columns"][0]) if e is not None and e["columns"] else None
    if names is None:
        return
    children = []
    for n in names:
        total = sum(to_int(it.sam_extra.get(n)) or 0 for it in person.items)
        children.append(Node(n, {}, str(total)))
    person.children.insert(0, Node("sum_data", {}, None, children))
