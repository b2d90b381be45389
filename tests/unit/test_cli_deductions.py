"""``hometax-decrypt deductions`` (issue 19): the 공제신고서 lines and the estimate on the command line,
as JSON, CSV and XLSX, from documents and from a lines file; every bad input a one-line error with
the error table's exit status; masking; the "estimate, not the 연말정산 result" notice."""

from __future__ import annotations

import csv
import io
import json
import re
import subprocess
import sys
from pathlib import Path

import openpyxl
import pytest

from hometax_decrypt import errors
from hometax_decrypt.cli import commands
from hometax_decrypt.service import deductions as service
from tests.support import builder
from tests.support.paths import SAMPLE_PASSWORD, SAMPLES

ALL_2020 = SAMPLES / "nts-2020" / "all.pdf"
ALL_2022 = SAMPLES / "nts-2022" / "all.pdf"
ALL_PW = SAMPLES / "nts-2020" / "all-password-1234567.pdf"
FULL_RESID = re.compile(r"(?<!\d)\d{6}-?[1-8]\d{6}(?!\d)")
EXE = Path(sys.executable).parent / "hometax-decrypt"
LINES = {
    "att_year": 2021,
    "lines": [
        {"key": "card.credit.general", "period": "01-12", "amount": 24_000_000},
        {"key": "card.total.prev_year", "period": None, "amount": 30_000_000},
        {"key": "card.total.curr_year", "period": None, "amount": 24_000_000},
    ],
}


def cli(capsysbinary, *args) -> tuple[int, bytes, str]:
    code = commands.main(["--lang", "en", "deductions", *map(str, args)])
    out, err = capsysbinary.readouterr()
    return code, out, err.decode("utf-8")


def lines_file(tmp_path, data) -> Path:
    p = tmp_path / "lines.json"
    p.write_text(data if isinstance(data, str) else json.dumps(data), encoding="utf-8")
    return p


def csv_rows(data: bytes) -> list[dict]:
    assert data.startswith(b"\xef\xbb\xbf")  # the BOM Excel needs
    return list(csv.DictReader(io.StringIO(data.decode("utf-8-sig"), newline="")))


def sheet_rows(data: bytes) -> tuple[list, list, list, list[dict]]:
    wb = openpyxl.load_workbook(io.BytesIO(data))
    assert wb.sheetnames == ["공제신고서"]
    ws = wb["공제신고서"]
    values = [list(r) for r in ws.iter_rows(values_only=True)]
    note, labels, codes = values[0], values[1], values[2]
    return note, labels, codes, [dict(zip(codes, r)) for r in values[3:]]


# -- documents ---------------------------------------------------------------------------------------


@pytest.mark.parametrize("sample, year", [(ALL_2020, 2020), (ALL_2022, 2022)])
def test_json_from_a_document_with_a_salary(capsysbinary, sample, year):
    code, out, err = cli(capsysbinary, sample, "--salary", "50,000,000")
    assert code == 0, err
    answer = json.loads(out)
    assert answer["format"] == service.FORMAT and answer["notice"] == service.NOTICE
    (ret,) = answer["returns"]
    assert (ret["att_year"], ret["taxpayer"]["name"], ret["salary"]) == (year, "고길동", 50_000_000)
    assert ret["lines"] and ret["figures"]
    assert {"tax.limits", "tax.standard_credit", "tax.overall_limit"} <= {
        n["key"] for n in ret["not_computed"]
    }
    # the adapter only renders the service's answer
    assert answer == json.loads(json.dumps(service.from_documents([_parse(sample)], salary=50_000_000)))
    # the notice once on stderr, nothing else there
    assert err.count("not the 연말정산 result") == 1 and len(err.splitlines()) == 1


def test_without_a_salary_no_figures_and_not_computed_says_why(capsysbinary):
    code, out, _err = cli(capsysbinary, ALL_2022)
    assert code == 0
    (ret,) = json.loads(out)["returns"]
    assert ret["salary"] is None and ret["figures"] == [] and ret["lines"]
    assert [n["key"] for n in ret["not_computed"]] == ["*"]
    assert "총급여 미입력" in ret["not_computed"][0]["reason"]


def test_2020_card_deduction_in_every_format(capsysbinary, tmp_path):
    """The figure the service test pins (2020 card deduction 630만 for 총급여 5천만) comes out the same
    in JSON, CSV and XLSX."""
    code, out, _ = cli(capsysbinary, ALL_2020, "--salary", "50000000")
    figures = {f["key"]: f["amount"] for f in json.loads(out)["returns"][0]["figures"]}
    assert code == 0 and figures["card.deduction"] == 6_300_000

    code, out, _ = cli(capsysbinary, ALL_2020, "--salary", "50000000", "--format", "csv")
    rows = csv_rows(out)
    assert code == 0 and rows[0]["section"] == "notice" and "연말정산 결과가 아닙니다" in rows[0]["label"]
    assert "not the 연말정산 result" in rows[0]["detail"]
    card = [r for r in rows if r["section"] == "figure" and r["key"] == "card.deduction"]
    assert [r["amount"] for r in card] == ["6300000"] and card[0]["salary"] == "50000000"
    assert card[0]["detail"] and card[0]["source"]  # the rule applied and its source

    out_file = tmp_path / "d.xlsx"
    code, out, _ = cli(capsysbinary, ALL_2020, "--salary", "50000000", "--format", "xlsx", "-o", out_file)
    assert code == 0 and out == b""
    note, labels, codes, data = sheet_rows(out_file.read_bytes())
    assert note[0].startswith("추정치 — 연말정산 결과가 아닙니다")
    assert codes[:2] == ["section", "att_year"] and labels[:2] == ["구분", "귀속연도"]
    card = [r for r in data if r["key"] == "card.deduction"]
    assert card[0]["section"] == "추정 공제액" and card[0]["amount"] == 6_300_000  # a number, not text


@pytest.mark.parametrize("sample", [ALL_2020, ALL_2022])
def test_csv_and_xlsx_carry_every_line_figure_and_not_computed_entry(capsysbinary, tmp_path, sample):
    code, out, _ = cli(capsysbinary, sample, "--salary", "40000000")
    (ret,) = json.loads(out)["returns"]
    assert code == 0 and ret["lines"] and ret["figures"] and ret["unmapped"]
    code, out_csv, _ = cli(capsysbinary, sample, "--salary", "40000000", "--format", "csv")
    rows = csv_rows(out_csv)
    assert code == 0
    assert len([r for r in rows if r["section"] == "unmapped"]) == len(ret["unmapped"])
    lines = [r for r in rows if r["section"] == "line"]
    assert [(r["key"], r["period"], int(r["amount"])) for r in lines] == [
        (ln["key"], ln["period"] or "", ln["amount"]) for ln in ret["lines"]
    ]
    assert [r["key"] for r in rows if r["section"] == "figure"] == [f["key"] for f in ret["figures"]]
    assert [r["key"] for r in rows if r["section"] == "not_computed"] == [
        n["key"] for n in ret["not_computed"]
    ]
    assert all(r["att_year"] == str(ret["att_year"]) and r["taxpayer_name"] == "고길동" for r in rows[1:])

    target = tmp_path / "d.xlsx"
    assert cli(capsysbinary, sample, "--salary", "40000000", "--format", "xlsx", "-o", target)[0] == 0
    _note, _labels, _codes, data = sheet_rows(target.read_bytes())
    got = [(r["key"], r["period"], r["amount"]) for r in data if r["section"] == "입력값"]
    assert got == [(ln["key"], ln["period"], ln["amount"]) for ln in ret["lines"]]
    assert all(isinstance(r["taxpayer_resid"], str) for r in data)  # identifiers as text


def test_password_from_stdin_and_from_a_password_file(capsysbinary, monkeypatch, tmp_path):
    monkeypatch.setattr(sys, "stdin", io.StringIO(SAMPLE_PASSWORD + "\n"))
    code, out, err = cli(capsysbinary, ALL_PW, "--password-stdin", "--mask")
    assert code == 0, err
    assert json.loads(out)["returns"][0]["lines"]
    pw = tmp_path / "pw.csv"
    pw.write_text(f"{ALL_PW.name},{SAMPLE_PASSWORD}\n")
    pw.chmod(0o600)
    code, out, err = cli(capsysbinary, ALL_PW, ALL_2022, "--password-file", pw, "--mask")
    assert code == 0, err
    assert [r["att_year"] for r in json.loads(out)["returns"]] == [2020, 2022]
    assert SAMPLE_PASSWORD not in err


def test_a_locked_document_without_its_password_is_the_tables_error(capsysbinary):
    code, out, err = cli(capsysbinary, ALL_PW)
    assert code == errors.SPECS["password_required"].exit_code and out == b""
    assert err.startswith("password_required:") and len(err.splitlines()) == 1


@pytest.mark.parametrize("fmt", ["json", "csv", "xlsx"])
def test_mask_leaves_no_full_resident_number_in_any_output(capsysbinary, tmp_path, fmt):
    def output(*extra):
        target = tmp_path / f"out.{fmt}"
        code, _out, err = cli(
            capsysbinary, ALL_2020, ALL_2022, "--salary", "50000000", "--format", fmt, "-o", target, *extra
        )
        assert code == 0, err
        data = target.read_bytes()
        if fmt == "xlsx":
            wb = openpyxl.load_workbook(io.BytesIO(data))
            return json.dumps([list(r) for r in wb.active.iter_rows(values_only=True)], ensure_ascii=False)
        return data.decode("utf-8-sig")

    assert FULL_RESID.search(output())  # the samples' numbers are there unmasked, so the check can fail
    masked = output("--mask")
    assert not FULL_RESID.search(masked) and "750101-1******" in masked


# -- the records workbook's 공제신고서 sheet (parse / batch / the API's exports) -------------------------


def test_the_records_workbook_has_the_lines_of_each_document(capsysbinary, tmp_path):
    from hometax_decrypt.deductions import lines_of

    target = tmp_path / "records.xlsx"
    assert commands.main(["parse", str(ALL_2022), "--format", "xlsx", "--mask", "-o", str(target)]) == 0
    wb = openpyxl.load_workbook(target)
    ws = wb["공제신고서"]
    values = [list(r) for r in ws.iter_rows(values_only=True)]
    assert (
        "총급여가 없어" in values[0][0] and "연말정산 결과가 아닙니다" in values[0][0]
    )  # lines only, said so
    codes = values[2]
    rows = [dict(zip(codes, r)) for r in values[3:]]
    (ret,) = lines_of([_parse(ALL_2022)], mask=True)
    expected = [(ln.key, ln.period, ln.amount) for ln in ret.lines]
    assert [(r["key"], r["period"], r["amount"]) for r in rows] == expected and len(expected) > 10
    assert ws.freeze_panes == "A4" and ws.auto_filter.ref == f"A3:M{ws.max_row}"
    assert not FULL_RESID.search(json.dumps(values, ensure_ascii=False))


# -- a lines file ------------------------------------------------------------------------------------


def test_lines_file_with_a_salary(capsysbinary, tmp_path):
    code, out, err = cli(capsysbinary, "--lines", lines_file(tmp_path, LINES), "--salary", "40000000")
    assert code == 0, err
    (ret,) = json.loads(out)["returns"]
    assert ret["att_year"] == 2021 and ret["salary"] == 40_000_000
    (line, *_rest) = ret["lines"]
    assert line["person"]["is_owner"] is True  # a line without person is the taxpayer's own
    figures = {f["key"]: f["amount"] for f in ret["figures"]}
    # 2021: 2,400만 spent, 25 % of 4,000만 = 1,000만 off, 15 % of the 1,400만 over it = 210만 (no growth)
    assert figures["card.threshold"] == 10_000_000 and figures["card.deduction"] == 2_100_000
    assert answer_of(LINES, 40_000_000) == json.loads(out)


def answer_of(data, salary):
    return json.loads(json.dumps(service.from_lines(data, salary=salary)))


def test_lines_file_without_a_salary(capsysbinary, tmp_path):
    code, out, _ = cli(capsysbinary, "--lines", lines_file(tmp_path, LINES), "--format", "csv")
    rows = csv_rows(out)
    assert code == 0 and not [r for r in rows if r["section"] == "figure"]
    (missing,) = [r for r in rows if r["section"] == "not_computed"]
    assert missing["key"] == "*" and "총급여 미입력" in missing["detail"]


# -- bad input: one line on stderr, nothing on stdout, the table's exit status ------------------------


@pytest.mark.parametrize("salary", ["-1", "abc", "4.5e7", "48000000.5", "1" * 14])
def test_a_bad_salary_is_exit_2_before_any_file_is_read(capsysbinary, salary):
    code, out, err = cli(capsysbinary, ALL_2022, f"--salary={salary}")
    assert (code, out) == (errors.SPECS["bad_salary"].exit_code, b"") and code == 2
    assert err.startswith("bad_salary:") and len(err.splitlines()) == 1 and salary not in err


@pytest.mark.parametrize(
    "content, detail",
    [
        ({"att_year": 2021, "lines": [{"key": "card.nope", "amount": 1}]}, "unknown key"),
        (
            {"att_year": 2021, "lines": [{"key": "card.credit.general", "period": "01-12", "amount": -0.5}]},
            "line 0",
        ),
        (
            {"att_year": 2021, "lines": [{"key": "card.credit.general", "period": "01-12", "amount": "7"}]},
            "line 0",
        ),
        ({"att_year": 2021, "lines": "card"}, "lines"),
        ({"lines": []}, "att_year"),
        ({"att_year": 2019, "lines": []}, "att_year"),  # a year no rules and no lines describe
        ([1, 2], ""),
        ('{"att_year": 2021, "li', "not UTF-8 JSON"),
    ],
)
def test_a_malformed_lines_file_is_bad_lines_exit_10(capsysbinary, tmp_path, content, detail):
    code, out, err = cli(capsysbinary, "--lines", lines_file(tmp_path, content), "--salary", "40000000")
    assert (code, out) == (10, b"") and code == errors.SPECS["bad_lines"].exit_code
    assert err.startswith("bad_lines:") and detail in err and len(err.splitlines()) == 1


def test_a_document_of_a_year_without_rules_says_not_computed(capsysbinary, tmp_path):
    xml = builder.year_xml(2021).replace(b"<att_year>2021</att_year>", b"<att_year>2019</att_year>")
    pdf = tmp_path / "y2019.pdf"
    pdf.write_bytes(builder.build_nts_pdf(xml))
    code, out, err = cli(capsysbinary, pdf, "--salary", "40000000")
    assert code == 0, err
    (ret,) = json.loads(out)["returns"]
    assert ret["att_year"] == 2019 and ret["figures"] == [] and ret["lines"] == []
    assert [n["key"] for n in ret["not_computed"]] == ["*"] and "2019" in ret["not_computed"][0]["reason"]
    assert "tax_year_not_described" in {w["code"] for w in ret["warnings"]}
    assert ret["unmapped"]  # nothing dropped silently


@pytest.mark.parametrize(
    "args",
    [
        ["missing.pdf"],
        ["--lines", "missing.json"],
        [],  # neither files nor --lines
        [ALL_2022, "--lines", "x.json"],  # both
        [ALL_2022, "--format", "ndjson"],
    ],
)
def test_usage_errors_are_exit_2(capsysbinary, tmp_path, monkeypatch, args):
    monkeypatch.chdir(tmp_path)
    (tmp_path / "x.json").write_text(json.dumps(LINES))
    code, out, err = cli(capsysbinary, *args)
    assert (code, out) == (2, b"") and err.startswith("usage:") and len(err.splitlines()) == 1


def test_a_facts_file_that_is_not_an_object_is_a_usage_error(capsysbinary, tmp_path):
    facts = tmp_path / "facts.json"
    facts.write_text("[1]")
    code, out, err = cli(capsysbinary, "--lines", lines_file(tmp_path, LINES), "--facts", facts)
    assert (code, out) == (2, b"") and "facts file" in err


def test_facts_reach_the_estimate(capsysbinary, tmp_path):
    data = {"att_year": 2022, "lines": [{"key": "rent.monthly", "period": None, "amount": 6_000_000}]}
    lf = lines_file(tmp_path, data)
    code, out, _ = cli(capsysbinary, "--lines", lf, "--salary", "40000000")
    (ret,) = json.loads(out)["returns"]
    assert code == 0 and "rent.credit" in {n["key"] for n in ret["not_computed"]}  # 무주택 세대주 unknown
    facts = tmp_path / "facts.json"
    facts.write_text(json.dumps({"homeless_householder": True}))
    code, out, _ = cli(capsysbinary, "--lines", lf, "--salary", "40000000", "--facts", facts)
    figures = {f["key"]: f["amount"] for f in json.loads(out)["returns"][0]["figures"]}
    assert code == 0 and figures["rent.credit"] == 6_000_000 * 17 // 100  # 2022, 총급여 ≤ 5,500만: 17 %


def test_korean_messages_and_no_traceback_from_the_installed_command(tmp_path):
    bad = lines_file(tmp_path, {"att_year": 2021, "lines": [{"key": "card.nope", "amount": 1}]})
    r = subprocess.run(
        [str(EXE), "deductions", "--lines", str(bad), "--salary", "abc", "--lang", "ko"],
        capture_output=True,
        timeout=60,
    )
    err = r.stderr.decode("utf-8")
    assert r.returncode == 2 and r.stdout == b"" and "Traceback" not in err
    assert err.startswith("bad_salary: 총급여는") and len(err.splitlines()) == 1
    r = subprocess.run(
        [str(EXE), "deductions", "--lines", str(bad), "--lang", "ko"], capture_output=True, timeout=60
    )
    err = r.stderr.decode("utf-8")
    assert r.returncode == 10 and err.startswith("bad_lines: 공제신고서") and "Traceback" not in err


def _parse(path):
    import hometax_decrypt as h

    return h.parse(path)


def test_a_deeply_nested_lines_or_facts_file_is_refused_not_a_crash(capsysbinary, tmp_path):
    """json.loads recurses into "[[[[…" until RecursionError: the CLI read lines and facts files
    without catching it (an internal error, exit 1), where the HTTP API already refused them."""
    deep = '{"att_year": 2021, "lines": ' + "[" * 200_000 + "]" * 200_000 + "}"
    code, out, err = cli(capsysbinary, "--lines", lines_file(tmp_path, deep), "--salary", "1")
    assert (code, out) == (10, b"") and err.startswith("bad_lines:") and "not UTF-8 JSON" in err
    facts = tmp_path / "facts.json"
    facts.write_text('{"children": ' + "[" * 200_000 + "]" * 200_000 + "}", encoding="utf-8")
    good = lines_file(tmp_path, {"att_year": 2021, "lines": []})
    code, out, err = cli(capsysbinary, "--lines", good, "--facts", facts)
    assert (code, out) == (2, b"") and err.startswith("usage:")
