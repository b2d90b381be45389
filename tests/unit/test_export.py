"""JSON / CSV / XLSX exports and the CLI ``parse`` subcommand."""

from __future__ import annotations

import csv
import io
import json
import re
from pathlib import Path

import jsonschema
import openpyxl
import pytest
from lxml import etree

import hometax_decrypt
from hometax_decrypt import errors
from hometax_decrypt.cli import commands as cli
from hometax_decrypt.document.limits import Deadline
from hometax_decrypt.formats import csv as csv_format
from hometax_decrypt.formats import json as json_format
from hometax_decrypt.formats import rows as rows_format
from hometax_decrypt.formats import xlsx as xlsx_format
from hometax_decrypt.records import document_to_dict, parse_xml
from tests.support.paths import ROOT, SAMPLES, files_written, password_for, sample_files

HEADER = "form_cd,form_name,dat_cd,resid,name,busnid,trade_nm,amount"
SCHEMA = json.loads((ROOT / "docs" / "document.schema.json").read_text(encoding="utf-8"))
ALL_2020 = SAMPLES / "nts-2020" / "all.pdf"


def _xml(path: Path) -> bytes:
    return hometax_decrypt.extract(path, password=password_for(path))


@pytest.fixture(scope="module")
def doc2020():
    return hometax_decrypt.parse(ALL_2020)


@pytest.fixture(scope="module")
def doc2022():
    return hometax_decrypt.parse(SAMPLES / "nts-2022" / "all.pdf")


def _residents(xml: bytes) -> set[str]:
    found = set(re.findall(r'resid="(\d{13})"', xml.decode()))
    found |= set(re.findall(r"resid[_0-9]*>(\d{13})<", xml.decode()))
    return found


# -- CSV --------------------------------------------------------------------------------------------


def _csv_rows(data: bytes) -> list[dict]:
    assert data.startswith(b"\xef\xbb\xbf"), "UTF-8 BOM for Excel"
    return list(csv.DictReader(io.StringIO(data[3:].decode("utf-8"), newline="")))


def test_csv_header_rows_and_amounts(doc2020):
    data = csv_format.to_csv([doc2020])
    assert data[3:].decode().splitlines()[0].startswith(HEADER + ",")
    rows = _csv_rows(data)
    root = etree.fromstring(_xml(ALL_2020))
    datas = [
        (f.get("form_cd"), m, d) for f in root.iter("form") for m in f.iter("man") for d in m.iter("data")
    ]
    assert len(rows) == len(datas) == 114
    for row, (fc, man, data_el) in zip(rows, datas):
        assert row["form_cd"] == fc and row["dat_cd"] == data_el.get("dat_cd")
        assert row["resid"] == man.get("resid") and row["name"] == man.get("name")
        assert row["busnid"] == (data_el.get("busnid") or "")
        s = data_el.find("sum")
        # changed by issue 10: `amount` is the amount the NTS counts (순납입금액 for E/F pension
        # accounts, which have no <sum>), the raw <sum> is `sum_amount`
        counted = s if fc[:2] not in ("E1", "F1") else data_el.find("ddct_bs_ass_amt")
        assert row["amount"] == (str(int(counted.text)) if counted is not None else "")
        assert row["sum_amount"] == (str(int(s.text)) if s is not None else "")
        assert row["doc_seq"] == "2020122201320067"
    assert {r["form_name"] for r in rows if r["form_cd"] == "A102Y"} == {"보험료(보장성,장애인보장성)"}
    e102 = [r for r in rows if r["form_cd"] == "E102Y"]
    assert e102 and all(
        r["sum_amount"] == "" and r["amount"] and r["amount_element"] == "ddct_bs_ass_amt" for r in e102
    )  # no <sum>: the 순납입금액 is the amount, under the same name
    assert "순납입금액(ddct_bs_ass_amt)=" in e102[0]["details"]


def test_csv_batch_of_documents_and_mask(doc2020, doc2022):
    data = csv_format.to_csv([doc2020, doc2022], mask=True)
    rows = _csv_rows(data)
    assert {r["doc_seq"] for r in rows} == {"2020122201320067", "2022122901580150"}
    assert len(rows) == 114 + 143
    for resid in _residents(_xml(ALL_2020)) | _residents(_xml(SAMPLES / "nts-2022" / "all.pdf")):
        assert resid.encode() not in data
    assert all(re.fullmatch(r"\d{6}-\d\*{6}", r["resid"]) for r in rows)
    assert "insu1_resid)=750101-1******" in data.decode("utf-8-sig")
    # without mask the full number is there (payroll must match employees)
    assert b"7501011234567" in csv_format.to_csv([doc2020])


def test_csv_and_xlsx_never_write_formulas():
    xml = (
        b'<yesone><doc><seq>1</seq></doc><form form_cd="A102Y"><man resid="7501011234567" '
        b'name="=HYPERLINK(&quot;http://x&quot;)"><data dat_cd="G0001" busnid="1" '
        b'trade_nm="=1+1"><sum>5</sum></data></man></form></yesone>'
    )
    doc = parse_xml(xml)
    rows = _csv_rows(csv_format.to_csv([doc]))
    assert rows[0]["trade_nm"] == "'=1+1" and rows[0]["name"].startswith("'=")
    wb = openpyxl.load_workbook(io.BytesIO(xlsx_format.to_xlsx([doc])))
    ws = wb["항목"]
    header = [c.value for c in ws[2]]  # row 1: the Korean labels, row 2: the codes
    cell = ws.cell(row=3, column=header.index("trade_nm") + 1)
    assert cell.value == "=1+1" and cell.data_type == "s"


FORMULAS = ["-1+cmd|' /C calc'!A0", "+1+1", "@SUM(1)", "=1", "\t=1", "\r=1", "\n=1", "-", "-2"]


def _formula_doc():
    def attr(v: str) -> str:
        return (
            v.replace("&", "&amp;")
            .replace('"', "&quot;")
            .replace("'", "&apos;")
            .replace("\t", "&#9;")
            .replace("\r", "&#13;")
            .replace("\n", "&#10;")
        )

    men = "".join(
        f'<man resid="7501011234567" name="{attr(v)}"><data dat_cd="G0001" busnid="1" '
        f'trade_nm="{attr(v)}"><sum>-5</sum></data></man>'
        for v in FORMULAS
    )
    return parse_xml(f'<yesone><doc><seq>1</seq></doc><form form_cd="A102Y">{men}</form></yesone>'.encode())


def _ooxml_unescape(text: str) -> str:
    return re.sub(r"_x([0-9A-Fa-f]{4})_", lambda m: chr(int(m.group(1), 16)), text)


def test_csv_prefixes_every_text_cell_a_spreadsheet_could_run():
    doc = _formula_doc()
    rows = _csv_rows(csv_format.to_csv([doc]))
    assert len(rows) == len(FORMULAS)
    for row, value in zip(rows, FORMULAS):
        assert row["name"] == "'" + value and row["trade_nm"] == "'" + value, repr(value)
        assert row["amount"] == "-5"  # a number is written as a number, never prefixed
    wb = openpyxl.load_workbook(io.BytesIO(xlsx_format.to_xlsx([doc])))
    ws = wb["항목"]
    header = [c.value for c in ws[2]]
    for r, value in enumerate(FORMULAS, start=3):
        cell = ws.cell(row=r, column=header.index("trade_nm") + 1)
        # text as written (control characters in OOXML's _xHHHH_ escape, which Excel decodes and
        # openpyxl's reader leaves as is), never a formula
        assert _ooxml_unescape(cell.value) == value and cell.data_type == "s"
        assert ws.cell(row=r, column=header.index("amount") + 1).value == -5
    assert not [c for sheet in wb for row in sheet.iter_rows() for c in row if c.data_type == "f"]


def test_exporters_stop_at_the_deadline(doc2020):
    for writer in (json_format.to_json, csv_format.to_csv, xlsx_format.to_xlsx):
        with pytest.raises(errors.TooLarge, match="time"):
            writer([doc2020], deadline=Deadline(-1))
        assert writer([doc2020], deadline=Deadline(30))


def test_exports_never_touch_the_disk(doc2020):
    """Resident numbers never reach the disk, not even in a temporary file deleted a moment later
    (openpyxl writes each worksheet to one before zipping; the XLSX writer here does not)."""
    for writer in (json_format.to_json, csv_format.to_csv, xlsx_format.to_xlsx):
        with files_written() as seen:
            assert writer([doc2020], mask=False)
        assert seen == [], (writer.__name__, seen)


def test_each_document_of_a_batch_gets_its_own_budget(doc2020, monkeypatch):
    """Without a deadline the exporters give each document a fresh one from the default limits
    (never from the environment: the library reads none by itself)."""
    from hometax_decrypt.document import limits as limits_mod

    monkeypatch.setenv("HOMETAX_MAX_SECONDS", "-1")  # not read
    assert len(_csv_rows(csv_format.to_csv([doc2020]))) == 114
    monkeypatch.setattr(limits_mod, "DEFAULT", limits_mod.Limits(max_seconds=-1))
    with pytest.raises(errors.TooLarge):
        csv_format.to_csv([doc2020])
    monkeypatch.setattr(limits_mod, "DEFAULT", limits_mod.Limits(max_seconds=30))
    assert len(_csv_rows(csv_format.to_csv([doc2020] * 3))) == 3 * 114


# -- XLSX -------------------------------------------------------------------------------------------


def test_xlsx_sheets_numbers_and_formats(doc2020):
    wb = openpyxl.load_workbook(io.BytesIO(xlsx_format.to_xlsx([doc2020], mask=True)))
    assert wb.sheetnames[:3] == ["합계", "문서", "항목"]
    items = wb["항목"]
    header = [c.value for c in items[2]]
    # changed by issue 21: the CSV's columns, and the status's Korean label beside its code
    assert [c for c in header if c != "verification_label"] == rows_format.COLUMNS
    assert header[header.index("verification_status") + 1] == "verification_label"
    assert ",".join(header).startswith(HEADER)
    csv_rows = _csv_rows(csv_format.to_csv([doc2020], mask=True))
    assert items.max_row - 2 == len(csv_rows)
    amount_col = header.index("amount") + 1
    numeric = 0
    for r, row in enumerate(csv_rows, start=3):
        cell = items.cell(row=r, column=amount_col)
        if row["amount"]:
            assert isinstance(cell.value, int) and cell.value == int(row["amount"])
            assert cell.number_format == "#,##0"
            numeric += 1
        else:
            assert cell.value is None
        assert items.cell(row=r, column=header.index("resid") + 1).value == row["resid"]
    assert numeric > 100
    summary = wb["합계"]
    sh = [c.value for c in summary[2]]
    # changed by issue 10: one row per person AND tax year (across documents), not per document
    # changed by issue 21: Korean labels above, the codes (a category's key) below
    assert sh[:4] == ["att_year", "resid", "name", "doc_seqs"] and "medical" in sh and "cards" in sh
    # changed by issue 22: the documents not authentic whose amounts the row counts, last
    assert sh[-3:] == ["dependant_flags", "duplicates", "unverified_documents"]
    labels_ko = [c.value for c in summary[1]]
    assert labels_ko[:3] == ["귀속연도", "주민등록번호", "성명"] and "의료비(원)" in labels_ko
    expected = {
        p["resid"]: {c["category"]: c["amount"] for c in p["categories"]}
        for p in document_to_dict(doc2020, mask=True)["summary"]
    }
    assert summary.max_row - 2 == len(expected)
    for row in summary.iter_rows(min_row=3):
        resid = row[1].value
        assert row[0].value == "2020" and row[3].value == "2020122201320067"
        assert re.fullmatch(r"\d{6}-\d\*{6}", resid)
        for label, cell in zip(sh[4:-3], row[4:-3]):
            assert cell.value == expected[resid].get(label)
            if cell.value is not None:
                assert isinstance(cell.value, int) and cell.number_format == "#,##0"


# -- JSON -------------------------------------------------------------------------------------------


def test_json_validates_against_schema_for_every_sample():
    docs = [hometax_decrypt.parse(p, password=password_for(p)) for p in sample_files()]
    payload = json.loads(json_format.to_json(docs))
    jsonschema.Draft202012Validator.check_schema(SCHEMA)
    jsonschema.validate(payload, SCHEMA, cls=jsonschema.Draft202012Validator)
    assert payload["format"] == "hometax-decrypt/records" and len(payload["documents"]) == 27
    masked = json.loads(json_format.to_json(docs[:1], mask=True))
    jsonschema.validate(masked, SCHEMA, cls=jsonschema.Draft202012Validator)
    # the schema is not a rubber stamp
    broken = json.loads(json_format.to_json(docs[:1]))
    broken["documents"][0]["forms"][0]["people"][0]["items"][0]["amount"] = "1,000"
    with pytest.raises(jsonschema.ValidationError):
        jsonschema.validate(broken, SCHEMA, cls=jsonschema.Draft202012Validator)


def _stdlib_json(value) -> bytes:
    return json.dumps(value, ensure_ascii=False, separators=(",", ":")).encode("utf-8")


def test_compact_json_is_the_standard_librarys_bytes():
    """orjson writes the records; what it writes must be byte for byte what json.dumps wrote."""
    docs = [hometax_decrypt.parse(p, password=password_for(p)) for p in sample_files()]
    for mask in (False, True):
        for doc in docs:
            record = document_to_dict(doc, mask=mask)
            assert json_format.compact_json(record) == _stdlib_json(record)
        payload = json.loads(json_format.to_json(docs, mask=mask))
        assert json_format.to_json(docs, mask=mask) == _stdlib_json(payload) + b"\n"
    tricky = {
        "ctl": "\x00\x01\x1f\x7f\t\n\r\b\f",
        "sep": "\u2028\u2029",
        "q": 'a"b\\c/</',
        "ko": "한글",
        "n": [0, -1, 10**15, None, True, False],
        "e": {},
        "l": [],
    }
    assert json_format.compact_json(tricky) == _stdlib_json(tricky)
    # what orjson refuses is written by the standard library, exactly as before
    for odd in ({1: "int key"}, {"big": 2**70}):
        assert json_format.compact_json(odd) == _stdlib_json(odd)
    with pytest.raises(UnicodeEncodeError):  # a lone surrogate: the standard library's error
        json_format.compact_json({"s": "\ud800"})


def test_exporters_take_a_list():
    with pytest.raises(TypeError):
        csv_format.to_csv(hometax_decrypt.parse(ALL_2020))


# -- CLI --------------------------------------------------------------------------------------------


@pytest.mark.parametrize("fmt", ["json", "csv", "xlsx"])
def test_cli_parse_formats(tmp_path, fmt):
    out = tmp_path / f"out.{fmt}"
    assert cli.main(["parse", str(ALL_2020), "--format", fmt, "-o", str(out), "--mask"]) == 0
    data = out.read_bytes()
    assert b"7501011234567" not in data
    if fmt == "json":
        payload = json.loads(data)
        jsonschema.validate(payload, SCHEMA, cls=jsonschema.Draft202012Validator)
        assert payload["documents"][0]["doc"]["seq"] == "2020122201320067"
    elif fmt == "csv":
        assert data.startswith(b"\xef\xbb\xbf" + HEADER.encode())
        assert len(_csv_rows(data)) == 114
    else:
        wb = openpyxl.load_workbook(io.BytesIO(data))
        assert wb.sheetnames[:3] == ["합계", "문서", "항목"]


def test_cli_parse_password_and_stdout(capsysbinary):
    pw = SAMPLES / "nts-2020" / "all-password-1234567.pdf"
    assert cli.main(["parse", str(pw), "--format", "csv"]) == 3  # password required
    assert cli.main(["parse", str(pw), "--password", "1234567", "--format", "csv"]) == 0
    out = capsysbinary.readouterr().out
    assert out.startswith(b"\xef\xbb\xbf" + HEADER.encode()) and b"7501011234567" in out


def test_non_numeric_amounts_are_kept_as_written_in_json():
    xml = (
        b'<?xml version="1.0" encoding="utf-8" ?>\n<yesone><doc><doc_type>D</doc_type>'
        b"<seq>2021011500000009</seq><att_year>2020</att_year><att_inqrMm>01 ~ 12</att_inqrMm></doc>"
        b'<form form_cd="G108M"><man resid="8001011234567" name="T">'
        b'<data dat_cd="G0010" busnid="1234567890" trade_nm="X"><sum>12,000 KRW</sum>'
        b'<amt mm="01">n/a</amt><amt mm="02">500</amt></data></man></form></yesone>'
    )
    doc = parse_xml(xml)
    payload = json.loads(json_format.to_json([doc]))
    item = payload["documents"][0]["forms"][0]["people"][0]["items"][0]
    assert item["amount"] is None and item["sum"]["text"] == "12,000 KRW"
    assert item["breakdown"][0]["amount"] is None and item["breakdown"][0]["text"] == "n/a"
    assert item["breakdown"][1]["amount"] == 500 and "text" not in item["breakdown"][1]
    jsonschema.validate(payload, SCHEMA, cls=jsonschema.Draft202012Validator)


# -- issue 10: documents of 2021–2026, totals per person and tax year, in the three exports ---------


@pytest.fixture(scope="module")
def year_docs():
    from tests.support import builder

    docs = [parse_xml(builder.year_xml(y)) for y in (2021, 2023, 2024, 2026)]
    docs.append(parse_xml(builder.year_xml(2024)))  # the 2024 document again: a duplicate
    return docs


def _expected_totals(docs) -> dict:
    """(resid, year) -> {heading: amount}, from the per-document summaries, each (person, year)
    taken from one document only."""
    out: dict = {}
    for d in docs:
        for p in document_to_dict(d, mask=True)["summary"]:
            out.setdefault((p["resid"], p["att_year"]), {c["category"]: c["amount"] for c in p["categories"]})
    return out


def test_json_totals_per_person_and_year(year_docs):
    from tests.support import builder

    payload = json.loads(json_format.to_json(year_docs, mask=True))
    jsonschema.validate(payload, SCHEMA, cls=jsonschema.Draft202012Validator)
    got = {
        (t["resid"], t["att_year"]): {c["category"]: c["amount"] for c in t["categories"]}
        for t in payload["totals"]
    }
    assert got == _expected_totals(year_docs) and len(payload["totals"]) == len(got)
    me = [t for t in payload["totals"] if t["name"] == builder.EMPLOYEE[1]]
    assert [t["att_year"] for t in me] == ["2021", "2023", "2024", "2026"]  # never added across years
    by_year = {t["att_year"]: t for t in me}
    assert by_year["2024"]["duplicates"] and not by_year["2023"]["duplicates"]
    assert [f["over_income"] for f in by_year["2024"]["dependant_flags"]] == ["Y", "N"]
    assert by_year["2021"]["dependant_flags"] == []
    assert builder.EMPLOYEE[0] not in json.dumps(payload)
    # per year: everyone of that year, never two years together
    assert [y["att_year"] for y in payload["year_totals"]] == ["2021", "2023", "2024", "2026"]
    for y in payload["year_totals"]:
        people = [t for t in payload["totals"] if t["att_year"] == y["att_year"]]
        assert y["people"] == len(people)
        for c in y["categories"]:
            amounts = [x["amount"] for t in people for x in t["categories"] if x["category"] == c["category"]]
            assert c["amount"] == sum(a for a in amounts if a is not None)
    kinds = {d["doc"]["att_year"]: d["kind"] for d in payload["documents"]}
    assert set(kinds.values()) == {"simplified"}


def test_csv_amount_is_the_counted_amount_in_every_year(year_docs):
    rows = _csv_rows(csv_format.to_csv(year_docs[:4], mask=True))
    for doc_rows_year in ("2021", "2023", "2024", "2026"):
        e103 = [r for r in rows if r["form_cd"] == "E103Y" and r["att_year"] == doc_rows_year]
        assert len(e103) == 1 and e103[0]["amount"] == "3500000" and e103[0]["sum_amount"] == ""
        assert e103[0]["amount_element"] == "ddct_bs_ass_amt"
    t101 = [r for r in rows if r["form_cd"] == "T101M"]
    assert len(t101) == 4 and all(r["amount"] == "" for r in t101)
    assert all("소득기준 초과 여부(inc_exc)=" in r["details"] for r in t101)
    assert not any("5001012234567" in r["details"] for r in t101)  # masked dependant
    g114 = next(r for r in rows if r["form_cd"] == "G114Y")
    assert g114["form_name"] == "신용카드 (2026년 귀속, G114Y: 정의서 미수록)"
    assert g114["label_source"] == "inferred"


def test_xlsx_summary_one_row_per_person_and_year(year_docs):
    wb = openpyxl.load_workbook(io.BytesIO(xlsx_format.to_xlsx(year_docs, mask=True)))
    sheet = wb["합계"]
    header = [c.value for c in sheet[2]]
    expected = _expected_totals(year_docs)
    assert sheet.max_row - 2 == len(expected)
    for row in sheet.iter_rows(min_row=3, values_only=True):
        want = expected[(row[1], row[0])]
        got = {h: v for h, v in zip(header[4:-3], row[4:-3]) if v is not None}
        assert got == {k: v for k, v in want.items() if v is not None}
        if row[0] == "2024" and row[2] == "연도직원":
            assert "소득기준 초과 Y" in row[-3] and "G112Y" in row[-2]
    assert "dependant_income_flag" not in header  # a flag, never a column of amounts


# -- issue 21: owner, provenance and item keys in every format; Excel that reads -------------------

FORMATS4 = ("json", "ndjson", "csv", "xlsx")


def _ndjson_lines(data: bytes) -> list[dict]:
    return [json.loads(line) for line in data.decode("utf-8").splitlines()]


def _xlsx_sheet(data: bytes, name: str) -> list[dict]:
    """The data rows of a sheet as dicts keyed by the code row (row 2)."""
    ws = openpyxl.load_workbook(io.BytesIO(data))[name]
    rows = list(ws.iter_rows(values_only=True))
    return [dict(zip(rows[1], r)) for r in rows[2:]]


def _keys_and_provenance(fmt: str, data: bytes) -> tuple[list[str], set, set]:
    """(item keys in order, source files, verification statuses) of one export."""
    if fmt == "json":
        docs = json.loads(data)["documents"]
        keys = [it["item_key"] for d in docs for f in d["forms"] for p in f["people"] for it in p["items"]]
        return keys, {d["source_file"] for d in docs}, {d["verification_status"] for d in docs}
    if fmt == "ndjson":
        lines = _ndjson_lines(data)
        return (
            [ln["item"]["item_key"] for ln in lines],
            {ln["document"]["source_file"] for ln in lines},
            {ln["document"]["verification_status"] for ln in lines},
        )
    rows = _csv_rows(data) if fmt == "csv" else _xlsx_sheet(data, "항목")
    return (
        [r["item_key"] for r in rows],
        {r["source_file"] for r in rows},
        {r["verification_status"] for r in rows},
    )


@pytest.mark.parametrize("fmt", FORMATS4)
def test_cli_parse_carries_source_file_status_and_item_keys(tmp_path, fmt):
    out = tmp_path / f"out.{fmt}"
    assert cli.main(["parse", str(ALL_2020), "--format", fmt, "-o", str(out)]) == 0
    keys, files, statuses = _keys_and_provenance(fmt, out.read_bytes())
    assert files == {str(ALL_2020)} and statuses == {"authentic"}  # the path as given
    assert len(keys) == 114 == len(set(keys))
    assert keys[0] == "2020122201320067:O101M:1.1.1"


def test_item_keys_are_the_same_in_every_format_masked_or_not(doc2020, doc2022):
    from hometax_decrypt import formats

    docs = [doc2020, doc2022]
    expected = None
    for fmt in FORMATS4:
        for mask in (False, True):
            keys, _files, _st = _keys_and_provenance(fmt, formats.get(fmt).write(docs, mask=mask))
            expected = expected or keys
            assert keys == expected, (fmt, mask)
    assert len(set(expected)) == len(expected) == 114 + 143
    again = hometax_decrypt.parse(ALL_2020)  # a second reading of the same file: the same keys
    assert _keys_and_provenance("csv", csv_format.to_csv([again]))[0] == expected[:114]
    assert all(re.fullmatch(r"\d{16}:[A-Z]\d{3}[YMD]:\d+\.\d+\.\d+", k) for k in expected)


def test_owner_by_header_subscriber_or_first_person(doc2020, doc2022):
    payload = json.loads(json_format.to_json([doc2020, doc2022], mask=True))
    d2020, d2022 = payload["documents"]
    # 2020 names nobody in <doc>: the person of the first O101/P102 form; 2022 names the employee
    from hometax_decrypt.records.owner import RULES_KO

    assert d2020["owner"] == {
        "resid": "750101-1******",
        "name": "고길동",
        "rule": "subscriber",
        "rule_ko": RULES_KO["subscriber"],
    }
    assert d2022["owner"] == {
        "resid": "750101-1******",
        "name": "고길동",
        "rule": "header",
        "rule_ko": RULES_KO["header"],
    }
    for d in (d2020, d2022):
        assert [p["name"] for p in d["people"] if p["is_owner"]] == ["고길동"]
        for f in d["forms"]:
            for p in f["people"]:
                assert p["is_owner"] == (p["name"] == "고길동")
    plain = parse_xml(
        b"<yesone><doc><seq>2021011500000001</seq><att_year>2020</att_year></doc>"
        b'<form form_cd="B101Y"><man resid="8001011234567" name="A"><data dat_cd="G0003">'
        b'<sum>1</sum></data></man><man resid="1001013234567" name="B"><data dat_cd="G0003">'
        b"<sum>2</sum></data></man></form></yesone>"
    )
    rows = _csv_rows(csv_format.to_csv([plain]))
    assert {(r["owner_name"], r["owner_rule"]) for r in rows} == {("A", "first_person")}
    assert [r["is_owner"] for r in rows] == ["Y", "N"]
    masked = _csv_rows(csv_format.to_csv([doc2020], mask=True))
    assert {r["owner_resid"] for r in masked} == {"750101-1******"}


def test_source_file_is_masked_with_mask():
    doc = parse_xml(builder_sample())
    doc.source_file = "2024/사원 0001013234567 고영수.pdf"
    for fmt in FORMATS4:
        from hometax_decrypt import formats

        data = formats.get(fmt).write([doc], mask=True)
        _keys, files, statuses = _keys_and_provenance(fmt, data)
        assert files == {"2024/사원 000101-3****** 고영수.pdf"} and statuses == {"unverified"}, fmt
        assert b"0001013234567" not in data
        unmasked = formats.get(fmt).write([doc])
        assert _keys_and_provenance(fmt, unmasked)[1] == {doc.source_file}


def builder_sample() -> bytes:
    from tests.support import builder

    return builder.SAMPLE_XML


def test_status_labels_are_the_pages_badges():
    """One vocabulary for the verdict: the exports' Korean labels are the upload page's badges."""
    from hometax_decrypt.records import provenance
    from hometax_decrypt.timestamp.verdicts import STATUS_LABELS_KO

    app_js = (ROOT / "web" / "app.js").read_text(encoding="utf-8")
    block = re.search(r"const STATUS_LABELS = \{(.*?)\};", app_js, re.S).group(1)
    badges = dict(re.findall(r'(\w+): "([^"]+)"', block))
    assert badges == STATUS_LABELS_KO
    assert {k: v for k, v in provenance.STATUS_LABELS_KO.items() if k != "unverified"} == badges
    # two verdicts for HR staff: authentic, not authentic (a stamp nobody vouches for included, issue
    # 22), and unverified
    assert len(set(provenance.STATUS_LABELS_KO.values())) == 3
    assert provenance.STATUS_LABELS_KO["untrusted_issuer"] == provenance.STATUS_LABELS_KO["unsigned"]


def test_csv_identifiers_are_machine_clean(doc2020):
    """CSV is for programs: identifiers are written exactly (a leading zero kept, never prefixed
    or quoted into something else); Excel users get the XLSX, where they are text cells."""
    rows = _csv_rows(csv_format.to_csv([doc2020]))
    assert "0001013234567" in {r["resid"] for r in rows}  # 고영수, born in 2000: a leading zero
    assert {r["doc_seq"] for r in rows} == {"2020122201320067"}
    # 사업자번호: ten digits as written (or the NTS's own mask, ten asterisks)
    assert all(re.fullmatch(r"\d{10}|\*{10}", r["busnid"]) for r in rows if r["busnid"])


def _width(ws, column: int) -> float | None:
    """The width set for a column (openpyxl groups neighbours of one width under the first)."""
    for dim in ws.column_dimensions.values():
        if dim.min <= column <= dim.max and dim.customWidth:
            return dim.width
    return None


def test_xlsx_reads_in_excel(doc2020, doc2022):
    data = xlsx_format.to_xlsx([doc2020, doc2022])
    wb = openpyxl.load_workbook(io.BytesIO(data))
    assert wb.sheetnames[:4] == ["합계", "문서", "항목", "공제신고서"]
    assert set(wb.sheetnames[4:]) <= set(xlsx_format.FORM_SHEETS) and len(wb.sheetnames) == 4 + 10
    for ws in wb:
        top = 1 if ws.title == "공제신고서" else 0  # its note row ("추정치 … 아닙니다") comes first
        labels, codes = [c.value for c in ws[top + 1]], [c.value for c in ws[top + 2]]
        assert all(labels) and all(codes) and len(labels) == len(codes), ws.title
        assert all(re.search("[가-힣]", v) for v in labels), ws.title  # Korean headers
        assert not any(re.search("[가-힣]", v) for v in codes), ws.title  # codes below them
        assert ws.freeze_panes in (f"A{top + 3}", "B3", "E3"), ws.title  # both header rows stay in view
        last = openpyxl.utils.get_column_letter(len(codes))
        assert ws.auto_filter.ref == f"A{top + 2}:{last}{ws.max_row}", ws.title
        widths = [_width(ws, j + 1) for j in range(len(codes))]
        assert all(w and w >= 9 for w in widths), ws.title
    summary = wb["합계"]
    codes = [c.value for c in summary[2]]
    education = codes.index("education") + 1
    cell = summary.cell(row=3, column=education)
    assert cell.value == 20930037 and cell.number_format == "#,##0"
    # "20,930,037" is 10 characters: the column is wide enough not to show ########
    assert _width(summary, education) >= 14
    # identifiers are string cells, leading zeros kept
    items = wb["항목"]
    icodes = [c.value for c in items[2]]
    cells = {
        c: [items.cell(row=r, column=icodes.index(c) + 1) for r in range(3, items.max_row + 1)]
        for c in ("resid", "doc_seq", "busnid", "owner_resid")
    }
    for name, column in cells.items():
        assert all(c.data_type == "s" for c in column if c.value is not None), name
    assert "0001013234567" in {c.value for c in cells["resid"]}
    for r in _xlsx_sheet(data, "항목"):
        assert r["verification_label"] == "진본 확인" and r["verification_status"] == "authentic"
    docs_sheet = _xlsx_sheet(data, "문서")
    assert [
        (d["doc_seq"], d["owner_name"], d["owner_rule"], d["verification_label"]) for d in docs_sheet
    ] == [
        ("2020122201320067", "고길동", "subscriber", "진본 확인"),
        ("2022122901580150", "고길동", "header", "진본 확인"),
    ]
    assert [d["items"] for d in docs_sheet] == [114, 143]


def test_xlsx_form_sheets_give_each_field_a_column(doc2020):
    data = xlsx_format.to_xlsx([doc2020])
    wb = openpyxl.load_workbook(io.BytesIO(data))
    insurance = wb["보험료"]
    labels, codes = [c.value for c in insurance[1]], [c.value for c in insurance[2]]
    assert labels[codes.index("acc_no")] == "증권번호" and "goods_nm" in codes and "insu1_resid" in codes
    rows = _xlsx_sheet(data, "보험료")
    items = [it for f, p, it in doc2020.items() if f.form_cd.startswith("A1")]
    assert len(rows) == len(items)
    for r, it in zip(rows, items):
        assert r["acc_no"] == it.attrs.get("acc_no") and r["amount"] == it.amount
        node = it.element("goods_nm")
        assert r["goods_nm"] == (node.text if node is not None else None)
    acc = insurance.cell(row=3, column=codes.index("acc_no") + 1)
    assert acc.data_type == "s"  # 계좌번호/증권번호: text, never a rounded number
    health = _xlsx_sheet(data, "건강보험")
    assert health[0]["sum.hi_yrs"] == 93650  # an amount attribute of <sum>: a number
    # every item of the ten families is on its sheet, every other one on 항목 alone
    counted = sum(len(_xlsx_sheet(data, s)) for s in xlsx_format.FORM_SHEETS if s in wb.sheetnames)
    assert counted == sum(1 for f, _p, _i in doc2020.items() if xlsx_format.form_sheet_of(f.form_cd))
    masked = _xlsx_sheet(xlsx_format.to_xlsx([doc2020], mask=True), "보험료")
    assert all(r["insu1_resid"] is None or r["insu1_resid"].endswith("******") for r in masked)


def test_the_schema_enums_are_the_codes_sources():
    """The schema's verdicts and owner rules are those of records/provenance.py and records/owner.py."""
    from hometax_decrypt.records import owner, provenance

    doc = SCHEMA["$defs"]["document"]["properties"]
    assert set(doc["verification_status"]["enum"]) == set(provenance.STATUS_LABELS_KO)
    assert SCHEMA["$defs"]["owner"]["properties"]["rule"]["enum"] == list(owner.RULES)
    assert (
        "원" in SCHEMA["description"]
        and "원" in SCHEMA["$defs"]["item"]["properties"]["amount"]["description"]
    )


# == issue 22 #11: a resident number in a form without a layout ====================================
# A dependant born 2000-01-01 (the 7th digit 3: the 2000s): its leading zeros are part of it
HIDDEN = ("0001013234567", "500101-2234567")
UNLAYOUTED_SAM = (
    "DOCHD|HDR|A|2025011524000001|2024|01 ~ 12월|7501011234567|고길동|\n"
    # T101M has no SAM layout from 2023 on (sam_layouts.json "unsettled"): its columns stay raw
    f"T101M|G0046|7501011234567|고길동|4|{HIDDEN[0]}|연도자녀|N|\n"
    # a form nobody knows, a hyphenated number and an amount-like identifier among its columns
    f"Z901Y|G9999|7501011234567|고길동|{HIDDEN[1]}|000000001000|2025011524000001|\n"
    "DOCED|END|\n"
).encode()
UNLAYOUTED_XML = (
    '<yesone><doc><seq>2025011524000001</seq><att_year>2024</att_year></doc><form form_cd="Z901Y">'
    f'<man resid="7501011234567" name="고길동"><data dat_cd="G9999" fam="{HIDDEN[1]}">'
    f"<fam_no>{HIDDEN[0]}</fam_no><sum>1000</sum></data></man></form></yesone>"
).encode()
# any resident number left whole: 13 digits (or 6-7 with a hyphen), not inside a longer number
_WHOLE_RESID = re.compile(rb"(?<![0-9])[0-9]{6}-?[0-9]{7}(?![0-9])")


def _xlsx_text(data: bytes) -> bytes:
    """Every cell value of every sheet, one per line."""
    wb = openpyxl.load_workbook(io.BytesIO(data), read_only=True)
    cells = [c for ws in wb.worksheets for r in ws.iter_rows(values_only=True) for c in r if c is not None]
    return "\n".join(map(str, cells)).encode("utf-8")


def _unlayouted_docs():
    from hometax_decrypt.records import parse_sam

    return [parse_sam(UNLAYOUTED_SAM), parse_xml(UNLAYOUTED_XML)]


@pytest.mark.parametrize("fmt", ["json", "csv", "ndjson", "xlsx"])
def test_mask_covers_columns_of_a_form_without_a_layout(fmt):
    """Masking decides by the value too: a dependant's resident number in a raw SAM column (T101M
    without a layout, an unknown form) or in an element the catalog does not know is masked in
    every format, leading zeros and all; nothing of it survives, not even as a shortened integer."""
    from hometax_decrypt.formats import FORMATS

    docs = _unlayouted_docs()
    raw = FORMATS[fmt].write(docs, mask=True)
    data = _xlsx_text(raw) if fmt == "xlsx" else raw
    assert _WHOLE_RESID.findall(data) == []
    for hidden in HIDDEN:
        digits = hidden.replace("-", "").encode()
        assert digits not in data and digits.lstrip(b"0") not in data and digits[7:] not in data
    assert b"000101-3******" in data and b"500101-2******" in data
    assert b"2025011524000001" in data  # a 16-digit 발급번호 is not a resident number


def test_raw_columns_stay_text_as_written():
    """Without mask the raw columns are exactly as the SAM line has them: an identifier keeps its
    leading zeros (no int() of a digit string nobody knows to be an amount)."""
    doc = _unlayouted_docs()[0]
    items = [it for f in document_to_dict(doc)["forms"] for p in f["people"] for it in p["items"]]
    assert items[0]["sam_extra"] == {"col5": "4", "col6": HIDDEN[0], "col7": "연도자녀", "col8": "N"}
    assert items[1]["sam_extra"] == {"col5": HIDDEN[1], "col6": "000000001000", "col7": "2025011524000001"}
    assert f"col6={HIDDEN[0]}".encode() in csv_format.to_csv([doc])
    masked = [it for f in document_to_dict(doc, mask=True)["forms"] for p in f["people"] for it in p["items"]]
    assert masked[0]["sam_extra"]["col6"] == "000101-3******"
    assert masked[1]["sam_extra"] == {
        "col5": "500101-2******",
        "col6": "000000001000",
        "col7": "2025011524000001",
    }


@pytest.mark.parametrize(
    "value, masked",
    [
        ("0001013234567", "000101-3******"),
        ("750101-1234567", "750101-1******"),
        ("부양 7501011234567 외", "부양 750101-1****** 외"),
        ("7513011234567", "7513011234567"),  # month 13: not a birth date
        ("0102291234567", "0102291234567"),  # 1901-02-29 does not exist
        ("0002293234567", "000229-3******"),  # 2000-02-29 does
        ("2020122201320067", "2020122201320067"),  # 16 digits: a 발급번호, not a resident number
        ("17501011234567", "17501011234567"),  # inside a longer number
        ("1234567890", "1234567890"),
    ],
)
def test_mask_resid_like(value, masked):
    from hometax_decrypt.records.model import mask_resid_like

    assert mask_resid_like(value) == masked
