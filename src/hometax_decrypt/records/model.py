"""The records of an NTS document: document info, forms, people, items.

The model keeps every element and attribute exactly as the NTS wrote it (strings, in order), so that
:func:`hometax_decrypt.records.xml.to_xml` gives back the same tree; typed values (integer amounts,
dates, labels) are computed from it. Nothing is ever dropped: an element the code does not know is
kept as a generic :class:`Node` where it appeared.

The model is plain data: it does not serialise itself. JSON-ready dicts come from
:func:`hometax_decrypt.records.serialize.document_to_dict`, totals from
:mod:`hometax_decrypt.records.summary`, XML from :func:`hometax_decrypt.records.xml.to_xml`.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import date

from ..document.limits import Deadline
from ..timestamp.result import Verification
from .catalog import catalog

_INT = re.compile(r"^-?0*([0-9]{1,15})$")
_RESID = re.compile(r"^\d{13}$")
_DIGIT = re.compile(r"[0-9]")
_DATE8 = re.compile(r"^(\d{4})(\d{2})(\d{2})$")
# breakdown attributes that are codes or dates, never amounts
_NOT_AMOUNT = {"mm", "dd", "date", "fix_cd"}


def to_year(value) -> int | None:
    """A tax year as written (``"2021"``, ``2021``): four ASCII digits, else None. Never ``int()`` of
    whatever text a document or a user's file carries (thousands of digits raise in ``int()``)."""
    if isinstance(value, bool):
        return None
    if isinstance(value, int):
        return value if 1000 <= value <= 9999 else None
    if isinstance(value, str):
        v = value.strip()
        if len(v) == 4 and v.isascii() and v.isdigit():
            return int(v)
    return None


def to_int(value: str | None) -> int | None:
    """An NTS amount (ASCII digits, possibly zero-padded in SAM) as an integer; None when empty or
    not one. At most 15 significant digits: the longest ``Num`` field of the NTS definition is
    ``Num(15)``, and 15 digits stay exact in a spreadsheet and in a JavaScript number. A longer
    number is not an amount: it stays text (and ``int()`` of thousands of digits would raise)."""
    if value is None:
        return None
    if value.isdigit() and len(value) <= 15 and value.isascii():  # the common case, as it is
        return int(value)
    v = value.strip()
    if len(v) <= 15 and v.isdigit() and v.isascii():  # without the regex
        return int(v)
    m = _INT.match(v)
    if m is None:
        return None
    n = int(m.group(1))
    return -n if v.startswith("-") else n


def to_date(value: str | None) -> str | None:
    """``YYYYMMDD`` as ISO ``YYYY-MM-DD`` when it is a real calendar date, else None."""
    if not value:
        return None
    m = _DATE8.match(value.strip())
    if not m:
        return None
    try:
        return date(int(m.group(1)), int(m.group(2)), int(m.group(3))).isoformat()
    except ValueError:
        return None


def mask_resid(value: str | None) -> str | None:
    """``7501011234567`` → ``750101-1******``, also when written ``750101-1234567`` or with other
    separators (``750101 1234567``): any value holding exactly 13 ASCII digits and nothing but digits,
    spaces and ``-``/``.``/``_``/``/`` is masked after its 7th digit. Anything else is returned
    unchanged: a 10-digit business number (a landlord's ``lsor_no`` may be one) is not personal data,
    and a value with other characters is not a resident number."""
    if value is None:
        return None
    v = value.strip()
    if _RESID.match(v):
        return f"{v[:6]}-{v[6]}******"
    digits = _DIGIT.findall(v)
    if len(digits) == 13 and not v.strip("0123456789 -._/"):
        return "".join(digits[:6]) + "-" + digits[6] + "******"
    return value


# A resident number anywhere in a value: YYMMDD, an optional hyphen, the gender/century digit and six
# more digits, not inside a longer run of digits (issue 22: a form without a layout keeps its SAM
# columns raw as ``colN``, and a dependant's number among them must be masked too)
_RESID_RUN = re.compile(r"(?<![0-9])([0-9]{2})([0-9]{2})([0-9]{2})-?([0-9])[0-9]{6}(?![0-9])")
# the century of the birth date by the 7th digit (9, 0: born in the 1800s)
_CENTURY = {"1": 1900, "2": 1900, "5": 1900, "6": 1900, "3": 2000, "4": 2000, "7": 2000, "8": 2000}


def _plausible_birth(yy: str, mm: str, dd: str, g: str) -> bool:
    try:
        date(_CENTURY.get(g, 1800) + int(yy), int(mm), int(dd))
    except ValueError:
        return False
    return True


def mask_resid_like(value: str | None) -> str | None:
    """Every resident number in a value of any field, known or not, masked (``750101-1******``): a run
    of 13 digits (or 6-7 with a hyphen), not inside a longer number, whose first six are a real birth
    date for the century its 7th digit names. Anything else is returned as it is: a 10-digit business
    number, a 16-digit 발급번호 or card number, an amount."""
    if not isinstance(value, str) or len(value) < 13:
        return value

    def sub(m: re.Match) -> str:
        yy, mm, dd, g = m.groups()
        return f"{yy}{mm}{dd}-{g}******" if _plausible_birth(yy, mm, dd, g) else m.group(0)

    return _RESID_RUN.sub(sub, value)


def is_resid_name(name: str) -> bool:
    """Fields that hold resident numbers: ``resid``, ``insu1_resid``, ``insu2_resid_1``, …"""
    return "resid" in name.lower()


class Node:
    """One XML element, generic: tag, attributes (in order), text and children.

    A plain slotted class rather than a dataclass: a large document has ~1 300 of them, most of
    them leaves, and a leaf gets no list of children until one is asked for (``children`` makes
    it then): every list is an object the cyclic garbage collector tracks and scans."""

    __slots__ = ("tag", "attrs", "text", "_children")

    def __init__(
        self,
        tag: str,
        attrs: dict[str, str] | None = None,
        text: str | None = None,
        children: list[Node] | None = None,
    ):
        self.tag = tag
        self.attrs = {} if attrs is None else attrs
        self.text = text
        self._children = children  # None: no children (the list is made when asked for)

    @property
    def children(self) -> list[Node]:
        c = self._children
        if c is None:
            c = self._children = []
        return c

    @children.setter
    def children(self, value: list[Node]) -> None:
        self._children = value

    def __eq__(self, other):
        if other.__class__ is not self.__class__:
            return NotImplemented
        return (self.tag, self.attrs, self.text, self.children) == (
            other.tag,
            other.attrs,
            other.text,
            other.children,
        )

    __hash__ = None  # type: ignore[assignment]  # mutable, as the dataclass was: unhashable

    def __repr__(self) -> str:
        return f"Node(tag={self.tag!r}, attrs={self.attrs!r}, text={self.text!r}, children={self.children!r})"

    def find(self, tag: str) -> Node | None:
        for c in self._children or ():
            if c.tag == tag:
                return c
        return None

    def findall(self, tag: str) -> list[Node]:
        return [c for c in self._children or () if c.tag == tag]

    @property
    def value(self) -> str:
        return self.text or ""


@dataclass(slots=True)
class Breakdown:
    """One ``<amt>``: a month (``mm``) or a day (``dd``) and its amount(s)."""

    node: Node

    @property
    def mm(self) -> str | None:
        return self.node.attrs.get("mm")

    @property
    def dd(self) -> str | None:
        return self.node.attrs.get("dd")

    @property
    def amount(self) -> int | None:
        return to_int(self.node.text)

    def amounts(self) -> dict[str, int]:
        """Attribute amounts, e.g. ``hi_ntf`` / ``wrkp_ntf`` / ``apln``."""
        out = {}
        for k, v in self.node.attrs.items():
            if k not in _NOT_AMOUNT and (n := to_int(v)) is not None:
                out[k] = n
        return out


@dataclass(slots=True)
class Item:
    """One ``<data>``: its attributes (``dat_cd`` first) and its child elements in order."""

    attrs: dict[str, str]
    children: list[Node] = field(default_factory=list)
    form_cd: str = ""
    # SAM columns that have no XML element (per-item card breakdowns), kept so nothing is lost
    sam_extra: dict[str, str] = field(default_factory=dict)
    text: str | None = None  # non-whitespace text directly in <data> (never seen; kept if present)
    # the tax year of the document it was read from: a label may hold for some years only
    att_year: str | None = None

    @property
    def dat_cd(self) -> str | None:
        return self.attrs.get("dat_cd")

    @property
    def label(self) -> str | None:
        """The item code's label in the document's tax year (a supplement label names its years)."""
        return catalog().item_label(self.form_cd, self.dat_cd or "", self.att_year)

    def element(self, tag: str) -> Node | None:
        for c in self.children:
            if c.tag == tag:
                return c
        return None

    @property
    def sum_node(self) -> Node | None:
        return self.element("sum")

    @property
    def sum_amount(self) -> int | None:
        """The integer in the item's ``<sum>`` as written; None when there is none."""
        n = self.sum_node
        return to_int(n.text) if n is not None else None

    @property
    def amount(self) -> int | None:
        """The amount the NTS counts and prints for this item: ``<sum>``, or the element its form
        family states instead (``ddct_bs_ass_amt`` 순납입금액 for pension accounts E1/F1); None for
        a form that states no amount (T101M, a flag about a dependant)."""
        tag = catalog().summary_amount_element(self.form_cd)
        n = self.element(tag) if tag else None
        return to_int(n.text) if n is not None else None

    def sum_amounts(self) -> dict[str, int]:
        """The ``<sum>`` attributes (``ddct``, ``hi_ntf``, ``sp_ntf``, …) as integers."""
        n = self.sum_node
        if n is None:
            return {}
        return {k: i for k, v in n.attrs.items() if (i := to_int(v)) is not None}

    @property
    def breakdown(self) -> list[Breakdown]:
        return [Breakdown(c) for c in self.children if c.tag == "amt"]

    @property
    def fields(self) -> list[Node]:
        """Child elements other than ``<sum>`` and ``<amt>`` (goods_nm, start_dt, …)."""
        return [c for c in self.children if c.tag not in ("sum", "amt")]


@dataclass(slots=True)
class Person:
    """One ``<man>``: a person (the employee or a dependant) within one form."""

    attrs: dict[str, str]
    children: list[Node | Item] = field(default_factory=list)  # items and other elements, in order
    text: str | None = None

    @property
    def resid(self) -> str | None:
        return self.attrs.get("resid")

    @property
    def name(self) -> str | None:
        return self.attrs.get("name")

    @property
    def items(self) -> list[Item]:
        return [c for c in self.children if isinstance(c, Item)]

    @property
    def sum_data(self) -> Node | None:
        for c in self.children:
            if isinstance(c, Node) and c.tag == "sum_data":
                return c
        return None

    def sum_data_amounts(self) -> dict[str, int | None]:
        sd = self.sum_data
        if sd is None:
            return {}
        return {c.tag: to_int(c.text) for c in sd.children}

    @property
    def extra(self) -> list[Node]:
        return [c for c in self.children if isinstance(c, Node) and c.tag != "sum_data"]


@dataclass(slots=True)
class Form:
    """One ``<form form_cd=…>``."""

    attrs: dict[str, str]
    children: list[Node | Person] = field(default_factory=list)
    text: str | None = None
    # the tax year of the document it was read from: a code's label names its year
    att_year: str | None = None

    @property
    def form_cd(self) -> str:
        return self.attrs.get("form_cd", "")

    @property
    def info(self):
        """The catalog's :class:`FormInfo` for the document's tax year (G110Y is 2022년 귀속 only)."""
        return catalog().form(self.form_cd, self.att_year)

    @property
    def people(self) -> list[Person]:
        return [c for c in self.children if isinstance(c, Person)]

    @property
    def extra(self) -> list[Node]:
        return [c for c in self.children if isinstance(c, Node)]


DOC_FIELDS = ("doc_type", "seq", "att_year", "att_inqrMm", "resid", "name")


@dataclass(slots=True)
class DocInfo:
    """``<doc>``: every child element in order (known ones are exposed as properties)."""

    attrs: dict[str, str] = field(default_factory=dict)
    children: list[Node] = field(default_factory=list)
    text: str | None = None

    def get(self, tag: str) -> str | None:
        for c in self.children:
            if c.tag == tag:
                return c.text if c.text is not None else ""
        return None

    doc_type = property(lambda self: self.get("doc_type"))
    seq = property(lambda self: self.get("seq"))
    att_year = property(lambda self: self.get("att_year"))
    att_inqrMm = property(lambda self: self.get("att_inqrMm"))
    resid = property(lambda self: self.get("resid"))
    name = property(lambda self: self.get("name"))

    @property
    def issue_date(self) -> str | None:
        """The first 8 digits of ``seq`` (발급일자) as an ISO date."""
        seq = (self.seq or "").strip()
        return to_date(seq[:8]) if len(seq) >= 8 else None

    @property
    def months(self) -> list[int] | None:
        """The months the document covers, read from ``att_inqrMm`` ("01 ~ 12월", "1월,2월,5월")."""
        raw = (self.att_inqrMm or "").replace("월", "").strip()
        if not raw:
            return None
        m = re.fullmatch(r"([0-9]{1,2})\s*[~\-]\s*([0-9]{1,2})", raw)
        if m:
            a, b = int(m.group(1)), int(m.group(2))
            return list(range(a, b + 1)) if 1 <= a <= b <= 12 else None
        parts = [p.strip() for p in raw.split(",") if p.strip()]
        if parts and all(re.fullmatch(r"[0-9]{1,2}", p) and 1 <= int(p) <= 12 for p in parts):
            return [int(p) for p in parts]
        return None

    @property
    def extra(self) -> list[Node]:
        return [c for c in self.children if c.tag not in DOC_FIELDS]


@dataclass(slots=True)
class Document:
    """A parsed NTS document. ``part`` says what it was read from (``XML`` or ``SAM``)."""

    doc: DocInfo
    children: list[Node | Form] = field(default_factory=list)  # forms and other elements, in order
    root_attrs: dict[str, str] = field(default_factory=dict)
    part: str = "XML"
    verification: Verification | None = None  # the PDF's; None for a data part read alone
    doc_position: int = 0  # where <doc> stood among the root's children
    text: str | None = None
    # the file it was read from, as the caller named it (a batch: the path under its root or the ZIP
    # entry); set by the service layer, never read from the document; None when nobody named it
    source_file: str | None = None
    # what the CLIENT says a verification of this document's PDF gave (POST /export's ``statuses``:
    # the status its own /extract reported), for a data part read alone. Never the document's
    # verification: it only ranks duplicates in the totals (records.summary.totals_of), and says so
    claimed_status: str | None = None

    @property
    def forms(self) -> list[Form]:
        return [c for c in self.children if isinstance(c, Form)]

    @property
    def extra(self) -> list[Node]:
        return [c for c in self.children if isinstance(c, Node)]

    def people(self, deadline: Deadline | None = None) -> list[tuple[str | None, str | None]]:
        """Every distinct person (resid, name) in order of appearance, the document's own first; a
        resid seen before (under any name) is the same person."""
        seen: dict[tuple, None] = {}
        resids: set[str] = set()
        if self.doc.resid or self.doc.name:
            seen[(self.doc.resid, self.doc.name)] = None
            if self.doc.resid:
                resids.add(self.doc.resid)
        for f in self.forms:
            for p in f.people:
                if deadline is not None:
                    deadline.check()
                if p.resid:
                    if p.resid in resids:
                        continue
                    resids.add(p.resid)
                seen.setdefault((p.resid, p.name), None)
        return list(seen)

    def items(self):
        """(form, person, item) for every ``<data>`` in document order."""
        for f in self.forms:
            for p in f.people:
                for it in p.items:
                    yield f, p, it


def bind_tax_year(doc: Document) -> Document:
    """Give every form and item the document's ``att_year``: ``Form.info`` and ``Item.label`` look
    their labels up by tax year (a supplement label holds for the years it names only), and a form
    or item does not otherwise know the document it belongs to."""
    year = doc.doc.att_year
    for f in doc.forms:
        f.att_year = year
        for p in f.people:
            for it in p.items:
                it.att_year = year
    return doc
