"""POST /api/v1/deductions through Flask's test client: the route renders service.deductions' answer
and nothing else (the same JSON as the Python API), under the OpenAPI document's schema; bad input is
the error table's answer, never a 500; nothing of the request reaches a log or the disk."""

from __future__ import annotations

import io
import json
import logging
import re
import zipfile

import jsonschema
import pytest
from werkzeug.test import EnvironBuilder

import hometax_decrypt as h
from hometax_decrypt import errors
from hometax_decrypt.service import deductions as D
from hometax_decrypt.web import create_app
from hometax_decrypt.web.config import WebConfig, hash_key
from hometax_decrypt.web.openapi import OPENAPI
from tests.support.paths import ROOT, SAMPLES, files_written

ALL_2020 = SAMPLES / "nts-2020" / "all.pdf"
ALL_2020_PW = SAMPLES / "nts-2020" / "all-password-1234567.pdf"
ALL_2022 = SAMPLES / "nts-2022" / "all.pdf"
FULL_RESID = re.compile(r"\b\d{6}-?[1-8]\d{6}\b")
PATH = "/api/v1/deductions"


def post(client, files=(), headers=None, **fields):
    data: dict = dict(fields)
    if files:
        data["file"] = [(io.BytesIO(body), name) for name, body in files]
    return client.post(PATH, data=data, content_type="multipart/form-data", headers=headers or {})


def _validate(resp):
    """The answer against the OpenAPI document's schema for its status."""
    op = OPENAPI["paths"][PATH]["post"]
    schema = op["responses"][str(resp.status_code)]["content"]["application/json"]["schema"]
    jsonschema.Draft202012Validator({**schema, "components": OPENAPI["components"]}).validate(resp.get_json())
    return resp.get_json()


def assert_error(resp, status, code):
    assert resp.status_code == status, resp.get_data()[:300]
    body = _validate(resp)
    assert body["error"]["code"] == code and resp.headers["X-Error-Code"] == code
    assert body["error"]["message_ko"] == errors.SPECS[code].to_dict()["message_ko"] or body["error"][
        "message_ko"
    ].startswith(errors.SPECS[code].message_ko)
    return body["error"]


@pytest.mark.parametrize("sample", [ALL_2020, ALL_2022], ids=["2020", "2022"])
def test_a_sample_answers_the_services_json_under_the_openapi_schema(client, sample):
    resp = post(client, [(sample.name, sample.read_bytes())], salary="50,000,000")
    assert resp.status_code == 200 and resp.mimetype == "application/json"
    answer = _validate(resp)
    # the route renders the operation and nothing else: equal to the Python API's answer
    assert answer == json.loads(json.dumps(D.from_documents([h.parse(sample)], salary=50_000_000)))
    (ret,) = answer["returns"]
    assert ret["salary"] == 50_000_000 and ret["lines"] and ret["figures"]
    assert "연말정산 결과가 아닙니다" in answer["notice"]["ko"]


def test_the_2020_card_deduction_is_the_estimates(client):
    answer = post(client, [("a.pdf", ALL_2020.read_bytes())], salary="50000000").get_json()
    figures = {f["key"]: f["amount"] for f in answer["returns"][0]["figures"]}
    assert figures["card.deduction"] == 6_300_000  # 330 + 300 (the limits bind whatever the order)


def test_without_a_salary_there_are_lines_and_no_figures(client):
    for fields in ({}, {"salary": ""}, {"salary": "  "}):
        (ret,) = _validate(post(client, [("a.pdf", ALL_2020.read_bytes())], **fields))["returns"]
        assert ret["salary"] is None and ret["lines"] and ret["figures"] == []
        assert any(n["key"] == "*" and "salary" in n["reason"] for n in ret["not_computed"])


@pytest.mark.parametrize("salary", ["-1", "abc", "4.5e7", "48000000.5", "1" * 14, "0x10", "NaN"])
def test_a_bad_salary_is_422_bad_salary_before_any_document_is_opened(client, salary):
    # a file that is no PDF: had it been opened, the answer would be not_nts_document
    assert_error(post(client, [("a.pdf", b"not a pdf")], salary=salary), 422, "bad_salary")


def test_a_password_field_and_the_per_file_map_open_the_documents(client):
    pw = ALL_2020_PW.read_bytes()
    assert_error(post(client, [("kim.pdf", pw)]), 422, "password_required")
    err = assert_error(
        post(client, [("a.pdf", ALL_2020.read_bytes()), ("kim.pdf", pw)]), 422, "password_required"
    )
    assert "file 2 of 2" in err["message"] and "kim" not in err["message"] + err["message_ko"]
    assert "2번째 파일" in err["message_ko"]
    assert_error(post(client, [("kim.pdf", pw)], password="wrong-one"), 422, "wrong_password")
    one = post(client, [("kim.pdf", pw)], password="1234567")
    mapped = post(client, [("kim.pdf", pw)], passwords=json.dumps({"kim.pdf": "1234567"}))
    header = post(client, [("kim.pdf", pw)], headers={"X-Document-Password": "1234567"})
    assert one.status_code == mapped.status_code == header.status_code == 200
    assert one.get_json() == mapped.get_json() == header.get_json()
    assert one.get_json()["returns"][0]["taxpayer"]["name"] == "고길동"


def test_two_years_are_two_returns_and_a_zip_is_read(client):
    files = [("a/2020.pdf", ALL_2020.read_bytes()), ("a/2022.pdf", ALL_2022.read_bytes())]
    years = [r["att_year"] for r in _validate(post(client, files))["returns"]]
    assert sorted(years) == [2020, 2022]
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as zf:
        for name, body in files:
            zf.writestr(name, body)
    zipped = post(client, [("all.zip", buf.getvalue())])
    assert zipped.status_code == 200 and sorted(r["att_year"] for r in zipped.get_json()["returns"]) == years


@pytest.mark.parametrize("body", [b"%PDF-1.7 nothing more", b"not a pdf at all", b""])
def test_a_file_that_does_not_open_fails_as_documents_does(client, body):
    documents = client.post("/api/v1/documents", data=body, content_type="application/pdf")
    assert documents.status_code == 422
    assert_error(post(client, [("a.pdf", body)]), 422, documents.get_json()["error"]["code"])


def test_masking_follows_the_mask_flag(client):
    pdf = ALL_2020.read_bytes()
    plain = post(client, [("a.pdf", pdf)], salary="50000000").get_data(as_text=True)
    masked = post(client, [("a.pdf", pdf)], salary="50000000", mask="true").get_data(as_text=True)
    assert FULL_RESID.search(plain)  # the server's rule: unmasked unless asked, as /documents
    assert not FULL_RESID.search(masked) and "750101-1******" in masked
    # masking is on the way out only: the figures are the same
    assert json.loads(plain)["returns"][0]["figures"] == json.loads(masked)["returns"][0]["figures"]
    assert_error(post(client, [("a.pdf", pdf)], mask="maybe"), 400, "usage")


LINES = {
    "att_year": 2023,
    "lines": [
        {"key": "card.credit.general", "period": "01-12", "amount": 24_000_000},
        {"key": "medical.general", "amount": 3_000_000, "person": {"name": "고희동"}},
    ],
}


def test_a_lines_part_as_a_file_or_a_field(client):
    as_file = client.post(
        PATH,
        data={"lines": (io.BytesIO(json.dumps(LINES).encode()), "lines.json"), "salary": "40000000"},
        content_type="multipart/form-data",
    )
    as_field = post(client, lines=json.dumps(LINES, ensure_ascii=False), salary="40000000")
    answer = _validate(as_file)
    assert answer == as_field.get_json() == json.loads(json.dumps(D.from_lines(LINES, salary=40_000_000)))
    (ret,) = answer["returns"]
    figures = {f["key"]: f["amount"] for f in ret["figures"]}
    # 2023: (24,000,000 − 25 % of 40,000,000) × 15 %; (3,000,000 − 3 % × 40,000,000) × 15 %
    assert ret["att_year"] == 2023 and figures["card.deduction"] == 2_100_000
    assert figures["medical.credit"] == 270_000
    # a line without a person is the taxpayer's own, the other a dependant's
    assert [ln["person"]["is_owner"] for ln in ret["lines"]] == [True, False]


def test_an_answer_given_back_is_a_lines_file(client):
    first = post(client, [("a.pdf", ALL_2020.read_bytes())], salary="50000000").get_json()
    again = post(client, lines=json.dumps(first, ensure_ascii=False), salary="50000000").get_json()
    assert again["returns"][0]["figures"] == first["returns"][0]["figures"]


@pytest.mark.parametrize(
    "lines",
    [
        json.dumps({"att_year": 2021, "lines": [{"key": "card.gold", "amount": 1}]}),  # unknown key
        json.dumps({"att_year": 2021, "lines": [{"key": "medical.general", "amount": 1.5}]}),
        json.dumps(
            {"att_year": 2021, "lines": [{"key": "card.credit.general", "period": "03", "amount": 1}]}
        ),
        json.dumps({"lines": []}),  # no year
        json.dumps({"att_year": 2019, "lines": []}),  # a year the lines do not describe
        "{not json",
        "[1, 2]",
        "[" * 100_000,
        "",
    ],
)
def test_a_malformed_lines_file_is_422_bad_lines(client, lines):
    err = assert_error(post(client, lines=lines, salary="1"), 422, "bad_lines")
    assert "gold" not in err["message"]  # the message names the line, never the value


def test_lines_and_files_together_or_nothing_at_all_are_refused(client):
    both = post(client, [("a.pdf", ALL_2020.read_bytes())], lines=json.dumps(LINES))
    assert "instead of documents" in assert_error(both, 422, "bad_lines")["message"]
    assert_error(post(client, salary="1"), 400, "usage")
    raw = client.post(PATH, data=ALL_2020.read_bytes(), content_type="application/pdf")
    assert_error(raw, 400, "usage")


def test_facts_reach_the_estimate_and_bad_facts_are_usage_errors(client):
    data = {"att_year": 2022, "lines": [{"key": "rent.monthly", "amount": 6_000_000}]}
    without = post(client, lines=json.dumps(data), salary="40000000").get_json()["returns"][0]
    with_facts = post(
        client, lines=json.dumps(data), salary="40000000", facts=json.dumps({"homeless_householder": True})
    ).get_json()["returns"][0]
    assert "rent.credit" in {n["key"] for n in without["not_computed"]}
    assert "rent.credit" in {f["key"] for f in with_facts["figures"]}
    schema = jsonschema.Draft202012Validator(D.FACTS_SCHEMA)  # the OpenAPI document's facts
    assert schema.is_valid({"homeless_householder": True, "children": 2, "disabled": ["고희동"]})
    for facts in ('{"children": "two"}', '{"wealth": 1}', "[1]", "{", '{"disabled": "900101-1234567"}'):
        err = assert_error(post(client, lines=json.dumps(data), salary="1", facts=facts), 400, "usage")
        assert "900101" not in err["message"] and "two" not in err["message"]
        try:
            assert not schema.is_valid(json.loads(facts))
        except json.JSONDecodeError:
            pass


def test_the_api_key_rule_holds(client):
    keyed = create_app(WebConfig(api_key_hashes=(hash_key("k-good"),))).test_client()
    assert_error(post(keyed, lines=json.dumps(LINES)), 401, "unauthorized")
    ok = post(keyed, lines=json.dumps(LINES), headers={"X-API-Key": "k-good"})
    assert ok.status_code == 200


def test_nothing_of_the_request_reaches_the_logs_or_the_disk(client, caplog):
    pw = ALL_2020_PW.read_bytes()
    # the test client spools a large multipart body to a temporary file itself: encode it first
    bodies = []
    for name, password in (("고길동-7501011234567.pdf", "1234567"), ("x.pdf", "secret-Pw-9")):
        builder = EnvironBuilder(
            path=PATH,
            method="POST",
            data={"file": (io.BytesIO(pw), name), "password": password, "salary": "50000000"},
        )
        environ = builder.get_environ()
        bodies.append((environ["wsgi.input"].read(), environ["CONTENT_TYPE"]))
        builder.close()
    request_log = logging.getLogger("hometax.request")  # does not propagate: listen to it too
    request_log.addHandler(caplog.handler)
    try:
        with caplog.at_level(logging.DEBUG), files_written() as seen:
            r = client.post(PATH, data=bodies[0][0], content_type=bodies[0][1])
            bad = client.post(PATH, data=bodies[1][0], content_type=bodies[1][1])
    finally:
        request_log.removeHandler(caplog.handler)
    assert (r.status_code, bad.status_code) == (200, 422)
    assert seen == []
    lines = [rec.msg for rec in caplog.records if rec.name == "hometax.request"]
    assert [ln["error"] for ln in lines] == [None, "wrong_password"]
    logged = "\n".join(f"{rec.getMessage()} {rec.__dict__}" for rec in caplog.records)
    for secret in ("1234567", "secret-Pw-9", "7501011234567", "50000000", "고길동"):
        assert secret not in logged
    assert "secret-Pw-9" not in bad.get_data(as_text=True)


def test_the_packaged_deductions_schema_is_docs_deductions_schema():
    packaged = ROOT / "src" / "hometax_decrypt" / "deductions" / "deductions.schema.json"
    assert packaged.read_bytes() == (ROOT / "docs" / "deductions.schema.json").read_bytes(), (
        "copy docs/deductions.schema.json to src/hometax_decrypt/deductions/"
    )
