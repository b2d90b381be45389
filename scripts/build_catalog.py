#!/usr/bin/env python3
"""Generate the code catalog from the NTS XML definition workbook.

    python scripts/build_catalog.py [--workbook XLS] [--out JSON]

Reads the workbook (``tests/fixtures/reference/nts-xml-definition-v1.70.xls`` by default) and writes
``src/hometax_decrypt/records/catalog_data.json``: every form code with its Korean name, category and
periods, every item code (dat_cd), the label/type/length of every element and attribute of every form,
the code lists found in the remarks (edu_tp, donation_cd, use_place_cd, pension_cd, ...) and the older
yearly versions of each form named in the remarks. Nothing here is typed by hand: when the NTS publishes
next year's definition, point ``--workbook`` at it and run again. Codes that appear in later documents
but in no workbook we have live in the hand-maintained ``catalog_supplement.json`` beside the output.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import re
import sys
from pathlib import Path

import xlrd

REPO = Path(__file__).resolve().parents[1]
DEFAULT_WORKBOOK = REPO / "tests" / "fixtures" / "reference" / "nts-xml-definition-v1.70.xls"
DEFAULT_OUT = REPO / "src" / "hometax_decrypt" / "records" / "catalog_data.json"

FORM_CD = re.compile(r"^[A-Z]\d{3}[YMD]$")
DAT_CD = re.compile(r"^G\d{4}$")
IDENT = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")
TAG = re.compile(r"^<\s*([A-Za-z_][A-Za-z0-9_]*)")
# "2017년:G106Y", "2011년:A101Y -> 2012년:A102Y", "2016년귀속까지 C101Y, 2017년귀속부터 C102Y"
VERSION = re.compile(r"(\d{4})년\s*(?:귀속)?\s*(?:까지|부터)?\s*[:：]?\s*([A-Z]\d{3})[YMD]")
# one "code:label" piece of a remark: "1:유치원", "G0003:의료비", "01'단독주택", "'02'다가구"
CODE_PIECE = re.compile(r"^\s*'?([0-9A-Za-z]{1,5})'?\s*(?::|'|：)\s*(.+?)\s*$")


def text(v) -> str:
    if isinstance(v, float):
        return str(int(v)) if v == int(v) else str(v)
    return str(v).strip()


def norm_label(s: str) -> str:
    return re.sub(r"\s+", " ", s.replace("\n", " ")).strip()


def parse_codes(remark: str) -> dict[str, str]:
    """The code list in a remark, or {} when the remark is not one (needs two or more codes)."""
    out: dict[str, str] = {}
    for piece in re.split(r"[,\n]", remark):
        if not piece.strip():
            continue
        m = CODE_PIECE.match(piece)
        if not m:
            continue
        code, label = m.group(1), norm_label(m.group(2)).strip("'\" ")
        if label and code not in out:
            out[code] = label
    return out if len(out) >= 2 else {}


def parse_versions(remark: str) -> list[tuple[str, int]]:
    return [(m.group(2), int(m.group(1))) for m in VERSION.finditer(remark)]


def parse_structure(sheet) -> tuple[list[dict], int]:
    """Walk a definition sheet: element rows (a tag in columns 0-3; the column is the depth) and
    attribute rows (a name in column 4, belonging to the last element). Returns field definitions
    with paths relative to the sheet's root element, e.g. ``data/@busnid``, ``data/sum/@ddct``."""
    header = None
    for r in range(min(sheet.nrows, 10)):
        if text(sheet.cell_value(r, 0)) == "태그":
            header = r
            break
    if header is None:
        raise SystemExit(f"sheet {sheet.name}: no header row")
    fields: list[dict] = []
    at_depth: dict[int, str] = {}
    current: str | None = None
    ncols = sheet.ncols
    for r in range(header + 1, sheet.nrows):
        row = [text(sheet.cell_value(r, c)) if c < ncols else "" for c in range(11)]
        tag_col = next((c for c in range(4) if row[c].startswith("<")), None)
        meta = {
            "label": norm_label(row[5]),
            "type": row[6],
            "length": row[7],
            "example": row[8],
            "remark": row[9].strip(),
        }
        if tag_col is not None:
            cell = row[tag_col]
            if cell.startswith("</"):
                continue
            m = TAG.match(cell)
            if not m:
                continue  # "<…/>" placeholders
            name = m.group(1)
            parent = at_depth.get(tag_col - 1)
            path = name if tag_col == 0 else (f"{parent}/{name}" if parent else name)
            for d in [d for d in at_depth if d >= tag_col]:
                del at_depth[d]
            at_depth[tag_col] = path
            current = path
            if meta["label"] not in ("", "-"):
                fields.append({"path": _rel(path), **_clean(meta)})
            continue
        if row[4] and IDENT.match(row[4]) and current is not None:
            fields.append({"path": _rel(f"{current}/@{row[4]}"), **_clean(meta)})
    return fields, header


def _rel(path: str) -> str:
    """Paths relative to <form> (form sheets) or to <yesone> (the common structure sheet)."""
    for root in ("form/", "yesone/"):
        if path.startswith(root):
            return path[len(root) :]
    return path


def _clean(meta: dict) -> dict:
    out = {"label": meta["label"]}
    if meta["type"] in ("Char", "Num"):
        out["type"] = meta["type"]
    if meta["length"] and re.fullmatch(r"\d+", meta["length"]):
        out["length"] = int(meta["length"])
    if meta["example"]:
        out["example"] = meta["example"]
    if meta["remark"]:
        out["remark"] = meta["remark"]
    return out


def build(workbook: Path) -> dict:
    data = workbook.read_bytes()
    book = xlrd.open_workbook(file_contents=data)
    names = book.sheet_names()

    # -- version and tax year ------------------------------------------------------------------
    revisions = book.sheet_by_name("개정이력표")
    version = None
    for r in range(revisions.nrows):
        v = text(revisions.cell_value(r, 1))
        if re.fullmatch(r"\d+(\.\d+)?", v):
            version = v
    cover = " ".join(
        text(c)
        for r in range(book.sheet_by_name("표지").nrows)
        for c in book.sheet_by_name("표지").row_values(r)
    )
    m = re.search(r"\((\d{4})\.\s*\d+\.?\)", cover)
    published = m.group(1) if m else None

    # -- table of contents: forms, categories, item codes ----------------------------------------
    toc = book.sheet_by_name("목차")
    forms: dict[str, dict] = {}
    items: dict[str, dict] = {}
    versions: dict[str, dict[str, set]] = {}
    category = None
    current_bases: list[str] = []
    for r in range(4, toc.nrows):
        row = [text(toc.cell_value(r, c)) for c in range(toc.ncols)]
        if row[0] and row[0] != "XML전체구조(공통)":
            category = norm_label(row[0])
        codes = [(row[1], row[2]), (row[3], row[4])]
        if any(FORM_CD.match(c) for c, _ in codes):
            current_bases = []
            for code, content in codes:
                if not FORM_CD.match(code):
                    continue
                base, period = code[:4], code[4]
                f = forms.setdefault(base, {"category": category, "periods": {}, "items": {}})
                f["periods"][period] = {
                    "form_cd": code,
                    "content": norm_label(content),
                    "detail": code == row[3],
                }
                if base not in current_bases:
                    current_bases.append(base)
            for code, year in parse_versions(row[8]):
                versions.setdefault(code[:2], {}).setdefault(code, set()).add(year)
        if DAT_CD.match(row[5]):
            it = items.setdefault(row[5], {"label": norm_label(row[6]), "forms": []})
            if row[7]:
                it["target"] = row[7]
            if row[8] and DAT_CD.match(row[5]) and not FORM_CD.search(row[8] or ""):
                it.setdefault("remark", norm_label(row[8]))
            for base in current_bases:
                if base not in it["forms"]:
                    it["forms"].append(base)
                forms[base]["items"].setdefault(row[5], norm_label(row[6]))

    # -- common structure (<doc>) ----------------------------------------------------------------
    doc_fields, _ = parse_structure(book.sheet_by_name("XML전체구조"))
    doc = {f["path"]: {k: v for k, v in f.items() if k != "path"} for f in doc_fields}

    # -- one sheet per form ------------------------------------------------------------------------
    codes: dict[str, dict[str, str]] = {}
    for name in names:
        m = re.match(r"^([A-Z]\d{3})\(([YMD,]+)\)$", name)
        if not m:
            continue
        base = m.group(1)
        sheet = book.sheet_by_name(name)
        title = text(sheet.cell_value(0, 0))
        label = title.split("-", 1)[1].strip() if "-" in title else title
        f = forms.setdefault(base, {"category": None, "periods": {}, "items": {}})
        f["label"] = norm_label(label)
        f["sheet"] = name
        fields, _ = parse_structure(sheet)
        f["fields"] = {}
        for fd in fields:
            path = fd.pop("path")
            remark = fd.get("remark", "")
            for code, year in parse_versions(remark):
                versions.setdefault(code[:2], {}).setdefault(code, set()).add(year)
            leaf = path.rsplit("/", 1)[-1].lstrip("@")
            if leaf == "form_cd":
                continue
            f["fields"].setdefault(path, fd)
            if leaf == "dat_cd":  # item codes come from the table of contents
                continue
            found = parse_codes(remark)
            if found:
                into = codes.setdefault(leaf, {})
                for k, v in found.items():
                    into.setdefault(k, v)
        for period in m.group(2).split(","):
            f["periods"].setdefault(
                period, {"form_cd": base + period, "content": None, "detail": period != "Y"}
            )
    # the current form of each family is valid for the workbook's tax year
    for base in forms:
        if published:
            versions.setdefault(base[:2], {}).setdefault(base, set()).add(int(published))

    doc_codes = parse_codes(doc.get("doc/doc_type", {}).get("remark", ""))
    if doc_codes:
        codes["doc_type"] = doc_codes

    return {
        "generated_by": "scripts/build_catalog.py",
        "source": {
            "file": workbook.name,
            "version": version,
            "published": published,
            "sha256": hashlib.sha256(data).hexdigest(),
        },
        "doc": doc,
        "forms": dict(sorted(forms.items())),
        "items": dict(sorted(items.items())),
        "codes": {k: codes[k] for k in sorted(codes)},
        "versions": {
            fam: [{"form": code, "years": sorted(years)} for code, years in sorted(v.items())]
            for fam, v in sorted(versions.items())
        },
    }


def render(catalog: dict) -> str:
    return json.dumps(catalog, ensure_ascii=False, indent=1) + "\n"


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--workbook", type=Path, default=DEFAULT_WORKBOOK)
    ap.add_argument("--out", type=Path, default=DEFAULT_OUT)
    args = ap.parse_args(argv)
    if not args.workbook.is_file():
        print(f"workbook not found: {args.workbook}", file=sys.stderr)
        return 1
    out = render(build(args.workbook))
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(out, encoding="utf-8")
    print(f"wrote {args.out} ({len(out)} characters)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
