"""Read the SAM part (pipe-delimited, fixed-width text) into the same model as the XML.

The SAM layout of each form is not in the NTS definition workbook; the column lists below were read
from the official samples (every form of tax years 2020 and 2022, basic and detail) by lining each
SAM line up with the XML item it repeats. Differences from the XML that are inherent to SAM:

- detail forms with daily rows (``B101D``, ``L102D``) have one SAM line per day and no item total;
  consecutive lines of the same item become one item with one ``<amt dd=…>`` per line;
- monthly rows carry ``fix_cd`` only for November and December; ``K101M`` rows carry no payment dates;
- card forms (``G…``) carry per-item category/period totals instead of the person's ``sum_data``;
  they are kept in ``Item.sam_extra`` and the person's ``sum_data`` is rebuilt as their sum (2022
  forms put the person's previous/current-year totals on the person's first line, zeros after).

A form whose layout is not known here, or whose line does not have the expected number of columns
(a newer version of the form), is still read: its columns are kept in ``Item.sam_extra`` as
``col5``, ``col6``, … so that nothing is dropped.
"""

from __future__ import annotations

from .. import errors
from ..document.limits import Deadline, Limits, resolve
from .catalog import catalog
from .model import DocInfo, Document, Form, Item, Node, Person, to_int

CARD_2020 = [f"{cat}_{per}sum".replace("__", "_") for per in ("", "mar_", "aprl_", "jan_")
             for cat in ("gnrl", "tdmr", "trp", "isld", "tot")]
CARD_2022_PERSON = ["tot_pre_year_sum", "tot_curr_year_sum", "tdmr_tot_pre_year_sum",
                    "tdmr_tot_curr_year_sum"]
CARD_2022_ITEM = [f"{per}{cat}_sum" for per in ("", "tfhy_", "shfy_")
                  for cat in ("gnrl", "tdmr", "trp", "isld", "tot")]

_INSURED = ["goods_nm", "insu1_resid", "insu1_nm", "insu2_resid_1", "insu2_nm_1", "insu2_resid_2",
            "insu2_nm_2", "insu2_resid_3", "insu2_nm_3"]
_PENSION = ["@busnid", "@trade_nm", "@acc_no", "com_cd"]
_VENTURE = ["@busnid", "@trade_nm", "@secu_no", "fund_nm", "reg_dt", "vnt_asct_cl_cd", "com_cd", "sum"]

# Columns after form_cd|dat_cd|resid|name. "@x" data attribute, "x" child element, "sum" the sum
# text, "sum@x" a sum attribute, "M12" twelve monthly amounts, "MFIX" ten monthly amounts then
# (fix_cd, amount) for November and December, "M12@a,b" twelve values of each attribute in turn,
# "DAY" (dd, amount) of one daily row, "DAY@a,b" the same plus attributes, "CARD2020"/"CARD2022"
# the card totals described above.
_Y: dict[str, list[str]] = {
    "A102": ["@busnid", "@trade_nm", "@acc_no", *_INSURED, "sum"],
    "B101": ["@busnid", "@trade_nm", "sum"],
    "B201": ["@busnid", "@trade_nm", "@acc_no", "goods_nm", "insu_resid", "insu_nm", "sum"],
    "C102": ["@busnid", "@trade_nm", "@edu_tp", "@edu_cl", "sum"],
    "C202": ["@busnid", "@trade_nm", "course_cd", "subject_nm", "sum"],
    "C301": ["@busnid", "@trade_nm", "sum"],
    "C401": ["@busnid", "@trade_nm", "sum"],
    "D101": ["@busnid", "@trade_nm", "@acc_no", "start_dt", "end_dt", "com_cd", "sum"],
    "E102": [*_PENSION, "ann_tot_amt", "tax_year_amt", "ddct_bs_ass_amt"],
    "E103": [*_PENSION, "ann_tot_amt", "tax_year_amt", "ddct_bs_ass_amt", "isa_ann_tot_amt",
             "isa_tax_year_amt", "isa_ddct_bs_ass_amt"],
    "F102": [*_PENSION, "pension_cd", "ann_tot_amt", "tax_year_amt", "ddct_bs_ass_amt"],
    "F103": [*_PENSION, "pension_cd", "ann_tot_amt", "tax_year_amt", "ddct_bs_ass_amt",
             "isa_ann_tot_amt", "isa_tax_year_amt", "isa_ddct_bs_ass_amt"],
    "G108": ["CARD2020", "@busnid", "@trade_nm", "@use_place_cd", "sum"],
    "G208": ["CARD2020", "@use_place_cd", "sum"],
    "G308": ["CARD2020", "@busnid", "@trade_nm", "@use_place_cd", "sum"],
    "G408": ["CARD2020", "@busnid", "@trade_nm", "@use_place_cd", "sum"],
    "G110": ["CARD2022", "@busnid", "@trade_nm", "@use_place_cd", "sum"],
    "G210": ["CARD2022", "@use_place_cd", "sum"],
    "G310": ["CARD2022", "@busnid", "@trade_nm", "@use_place_cd", "sum"],
    "G410": ["CARD2022", "@busnid", "@trade_nm", "@use_place_cd", "sum"],
    "J101": ["@busnid", "@trade_nm", "@acc_no", "goods_nm", "lend_dt", "sum"],
    "J203": ["@busnid", "@trade_nm", "@acc_no", "lend_kd", "house_take_dt", "mort_setup_dt",
             "start_dt", "end_dt", "repay_years", "lend_goods_nm", "debt", "fixed_rate_debt",
             "not_defer_debt", "this_year_rede_amt", "sum@ddct", "sum"],
    "J301": ["@busnid", "@trade_nm", "@acc_no", "goods_nm", "saving_gubn", "reg_dt", "com_cd", "sum"],
    "J501": ["@lsor_no", "@lsor_nm", "start_dt", "end_dt", "adr", "area", "typeCd", "sum"],
    "K101": ["@acc_no", "start_dt", "end_dt", "rule_yn", "pay_method", "sum", "sum@ddct", "M12"],
    "L102": ["@busnid", "@trade_nm", "@donation_cd", "sum", "sbdy_apln_sum", "conb_sum"],
    "N101": ["@busnid", "@trade_nm", "@secu_no", "fund_nm", "reg_dt", "com_cd", "sum",
             "ddct_bs_ass_amt"],
    "N102": ["@busnid", "@trade_nm", "@secu_no", "fund_nm", "reg_dt", "ctr_term_mm_cnt", "com_cd",
             "sum", "ddct_bs_ass_amt"],
    "O101": ["sum@hi_yrs", "sum@ltrm_yrs", "sum@hi_ntf", "sum@ltrm_ntf", "sum@hi_pmt",
             "sum@ltrm_pmt", "sum", "M12@hi_ntf,ltrm_ntf,hi_pmt,ltrm_pmt"],
    "P102": ["sum", "sum@sp_ntf", "sum@spym", "sum@jlc", "sum@ntf", "sum@pmt",
             "M12@wrkp_ntf,rgn_pmt"],
    "Q101": _VENTURE, "Q201": _VENTURE, "Q301": _VENTURE,
    "R101": ["@busnid", "@trade_nm", "@pwd_cd"],
}
# what the detail (M/D) form adds or changes
_MONTHLY_FIX = {"A102", "D101", "J101", "J203", "J301", "N101"}
_MONTHLY = {"B201", "C102", "C202", "C301", "C401", "G108", "G208", "G308", "G408", "G110", "G210",
            "G310", "G410", "J501", "Q101", "Q201", "Q301"}
_DAILY = {"B101": ["@busnid", "@trade_nm", "DAY"],
          "L102": ["@busnid", "@trade_nm", "@donation_cd", "DAY@apln,sum"]}


def layout(form_cd: str) -> list[str] | None:
    base, period = form_cd[:4], form_cd[4:5]
    if period == "D":
        return _DAILY.get(base)
    cols = _Y.get(base)
    if cols is None:
        return None
    if period == "M":
        if base in _MONTHLY_FIX:
            return cols + ["MFIX"]
        if base in _MONTHLY:
            return cols + ["M12"]
    return cols


def _width(col: str) -> int:
    if col == "CARD2020":
        return 20
    if col == "CARD2022":
        return 19
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
    def __init__(self, form_cd: str, dat_cd: str):
        self.item = Item({"dat_cd": dat_cd}, [], form_cd=form_cd)
        self.form_cd = form_cd
        self.amts: list[Node] = []

    def _el(self, tag: str) -> Node:
        n = self.item.element(tag)
        if n is None:
            n = Node(tag)
            self.item.children.append(n)
        return n

    def text_value(self, path: str, raw: str) -> str:
        if catalog().field_type(self.form_cd, path) == "Num":
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
        if col == "CARD2020":
            for name in CARD_2020:
                b.item.sam_extra[name] = _num(values[i]); i += 1
        elif col == "CARD2022":
            for name in CARD_2022_PERSON + CARD_2022_ITEM:
                b.item.sam_extra[name] = _num(values[i]); i += 1
        elif col == "M12":
            for m in range(1, 13):
                b.add_amt({"mm": f"{m:02d}"}, _num(values[i])); i += 1
        elif col == "MFIX":
            for m in range(1, 11):
                b.add_amt({"mm": f"{m:02d}"}, _num(values[i])); i += 1
            for m in (11, 12):
                b.add_amt({"mm": f"{m:02d}", "fix_cd": values[i].strip()}, _num(values[i + 1]))
                i += 2
        elif col.startswith("M12@"):
            names = col[4:].split(",")
            nodes = [Node("amt", {"mm": f"{m:02d}"}) for m in range(1, 13)]
            for name in names:
                for n in nodes:
                    n.attrs[name] = _num(values[i]); i += 1
            b.amts.extend(nodes)
        elif col == "DAY" or col.startswith("DAY@"):
            dd, amount = values[i].strip(), _num(values[i + 1]); i += 2
            attrs = {"dd": dd}
            for name in (col[4:].split(",") if "@" in col else []):
                attrs[name] = _num(values[i]); i += 1
            b.add_amt(attrs, amount)
        elif col.startswith("sum@"):
            b.set_sum_attr(col[4:], values[i]); i += 1
        elif col.startswith("@"):
            b.set_attr(col[1:], values[i]); i += 1
        else:
            b.set_element(col, values[i]); i += 1


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
    for n, value in enumerate(head[8:], start=1):  # header columns of a future layout
        doc.children.append(Node(f"sam_header_{n}", {}, value.rstrip(" ")))

    document = Document(doc=doc, part="SAM")
    form: Form | None = None
    person: Person | None = None
    last_key = None
    daily: _ItemBuilder | None = None

    def close_person():
        if person is not None and form is not None:
            _rebuild_sum_data(form.form_cd, person)

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
        cols = layout(form_cd)
        if cols is not None and sum(_width(c) for c in cols) != len(rest):
            cols = None  # a version of the form we do not know: keep the columns raw
        if cols is not None and any(c.startswith("DAY") for c in cols):
            n_fixed = sum(_width(c) for c in cols if not c.startswith("DAY"))
            key = (form_cd, dat_cd, resid, name, tuple(rest[:n_fixed]))
            if key != last_key or daily is None:
                daily = _ItemBuilder(form_cd, dat_cd)
                _fill(daily, cols, rest)
                person.children.append(daily.finish())
            else:
                # one more day of the same item: its <amt> goes last, after the item's elements
                before = len(daily.amts)
                _fill(daily, cols[-1:], rest[n_fixed:])
                daily.item.children.extend(daily.amts[before:])
            last_key = key
            continue
        b = _ItemBuilder(form_cd, dat_cd)
        if cols is None:
            for n, v in enumerate(rest, start=5):
                b.item.sam_extra[f"col{n}"] = v.rstrip(" ")
        else:
            _fill(b, cols, rest)
        person.children.append(b.finish())
        last_key = None
    close_person()
    return document


def _rebuild_sum_data(form_cd: str, person: Person) -> None:
    """Card forms: the person's ``sum_data`` as the sum of the per-item SAM totals."""
    base = form_cd[:4]
    names = None
    if base in _Y and _Y[base] and _Y[base][0] == "CARD2020":
        names = CARD_2020
    elif base in _Y and _Y[base] and _Y[base][0] == "CARD2022":
        names = CARD_2022_PERSON + CARD_2022_ITEM
    if names is None:
        return
    children = []
    for n in names:
        total = sum(to_int(it.sam_extra.get(n)) or 0 for it in person.items)
        children.append(Node(n, {}, str(total)))
    person.children.insert(0, Node("sum_data", {}, None, children))
