"""Totals across documents under hostile input (issue 22, findings 2 and 3): linear in the items,
under the request's time budget, and an authentic document never displaced by another one."""

from __future__ import annotations

import io
import sys

import openpyxl
import pytest

import hometax_decrypt as h
from hometax_decrypt import errors
from hometax_decrypt.document.limits import Deadline
from hometax_decrypt.formats import json as json_format
from hometax_decrypt.formats import xlsx as xlsx_format
from hometax_decrypt.records import parse_xml, summary
from hometax_decrypt.web import create_app
from hometax_decrypt.web.config import WebConfig
from tests.support import builder
from tests.support.paths import SAMPLES

ALL_2020 = SAMPLES / "nts-2020" / "all.pdf"
SEQ = "2020122201320067"  # the sample's 발급번호
MEDICAL = "2191550"  # the sample's O101M (health insurance) amount


@pytest.fixture(scope="module")
def genuine():
    doc = h.parse(ALL_2020)
    assert doc.verification.status == "authentic" and doc.doc.seq == SEQ
    return doc


@pytest.fixture(scope="module")
def forged_xml() -> bytes:
    """The sample's XML part with ``<seq>9</seq>`` and a raised amount: "9" > "2020…" as text."""
    xml = h.extract(ALL_2020).decode("utf-8")
    assert xml.count(f"<seq>{SEQ}</seq>") == 1 and xml.count(f">{MEDICAL}</sum>") == 1
    return (
        xml.replace(f"<seq>{SEQ}</seq>", "<seq>9</seq>")
        .replace(f">{MEDICAL}</sum>", ">9191550</sum>")
        .encode()
    )


@pytest.fixture(scope="module")
def forged(forged_xml):
    """The forgery as an unsigned PDF."""
    doc = h.parse(builder.build_nts_pdf(xml=forged_xml, sam=None))
    assert doc.verification.status == "unsigned" and doc.doc.seq == "9"
    return doc


def _owner(table: list[dict]) -> dict:
    return next(p for p in table if p["name"] == "고길동")


def _health(person: dict) -> dict:
    return next(c for c in person["categories"] if c["category"] == "health_insurance")


# -- 3: an authentic document wins --------------------------------------------------------------------


@pytest.mark.parametrize("order", ["forged_first", "genuine_first"])
def test_an_authentic_document_wins_over_an_unsigned_copy_with_a_higher_seq(genuine, forged, order):
    docs = [forged, genuine] if order == "forged_first" else [genuine, forged]
    alone = _owner(summary.totals([genuine]))
    person = _owner(summary.totals(docs))
    # the forged 9,191,550 is not counted: every amount is the genuine document's
    assert _health(person)["amount"] == int(MEDICAL)
    assert [(c["category"], c["amount"], c["items"]) for c in person["categories"]] == [
        (c["category"], c["amount"], c["items"]) for c in alone["categories"]
    ]
    assert all(c["unverified_items"] == 0 for c in person["categories"])
    assert person["unverified_documents"] == []
    # the conflict is listed, with each document's status: the forgery is the duplicate
    dups = person["duplicates"]
    assert dups and all(d["doc_seq"] == "9" and d["counted_doc_seq"] == SEQ for d in dups)
    assert {(d["doc_status"], d["counted_status"]) for d in dups} == {("unsigned", "authentic")}
    assert sorted(person["documents"]) == sorted([SEQ, "9"])


def test_seq_compares_as_a_number(forged_xml):
    """Between two documents of the same verification status, the higher 발급번호 as a number."""
    genuine_part = h.extract(ALL_2020)
    docs = [parse_xml(forged_xml), parse_xml(genuine_part)]  # both unverified (XML parts)
    for pair in (docs, docs[::-1]):
        person = _owner(summary.totals(pair))
        assert _health(person)["amount"] == int(MEDICAL)
        assert {d["doc_seq"] for d in person["duplicates"]} == {"9"}
    ten = parse_xml(forged_xml.replace(b"<seq>9</seq>", b"<seq>10</seq>"))
    nine = parse_xml(forged_xml.replace(b">9191550</sum>", b">1</sum>"))
    for pair in ([ten, nine], [nine, ten]):
        person = _owner(summary.totals(pair))
        assert _health(person)["amount"] == 9191550  # seq 10's
        assert {d["counted_doc_seq"] for d in person["duplicates"]} == {"10"}


def test_seq_rank_is_numeric_without_building_a_number():
    """A hostile seq of any length ranks without int() (Python refuses > 4300 digits); a seq that is
    not a number ranks below every number."""
    key = summary._seq_key
    assert key("10") > key("9") > key("0") and key("0009") == key("9")
    assert key("9" * 100_000) > key("1" + "0" * 99_999) > key(SEQ)
    assert key(SEQ) > key("abc") and key("") < key("0")
    assert summary.rank("authentic", "1", 0) > summary.rank("unsigned", "9" * 50, 1)


def test_what_an_unauthentic_document_adds_is_flagged(forged, genuine):
    """Wherever totals appear: per person and year (``unverified_documents``), per category
    (``unverified_items``), per tax year."""
    person = _owner(summary.totals([forged]))
    assert person["unverified_documents"] == [{"doc_seq": "9", "status": "unsigned"}]
    assert all(c["unverified_items"] == c["items"] for c in person["categories"])
    year = summary.by_year(summary.totals([forged]))
    assert all(c["unverified_items"] == c["items"] for y in year for c in y["categories"])
    # an authentic document alone: nothing flagged
    person = _owner(summary.totals([genuine]))
    assert person["unverified_documents"] == [] and all(
        c["unverified_items"] == 0 for c in person["categories"]
    )
    # an XML part alone: no PDF, so nothing vouches for it either
    person = _owner(json_format_totals([parse_xml(h.extract(ALL_2020))]))
    assert person["unverified_documents"] == [{"doc_seq": SEQ, "status": "unverified"}]


def json_format_totals(docs) -> list[dict]:
    import json

    return json.loads(json_format.to_json(docs))["totals"]


def test_the_xlsx_totals_sheet_flags_and_lists_with_statuses(genuine, forged):
    wb = openpyxl.load_workbook(io.BytesIO(xlsx_format.to_xlsx([forged, genuine])))
    sheet = wb["합계"]
    codes = [c.value for c in sheet[2]]
    row = next(r for r in sheet.iter_rows(min_row=3, values_only=True) if r[2] == "고길동")
    cells = dict(zip(codes, row))
    assert cells["health_insurance"] == int(MEDICAL)
    assert "9 [위변조 의심]" in cells["duplicates"] and f"(집계: {SEQ} [진본 확인])" in cells["duplicates"]
    assert not cells["unverified_documents"]
    wb = openpyxl.load_workbook(io.BytesIO(xlsx_format.to_xlsx([forged])))
    row = next(r for r in wb["합계"].iter_rows(min_row=3, values_only=True) if r[2] == "고길동")
    assert dict(zip(codes, row))["unverified_documents"] == "9 [위변조 의심]"


def test_the_batch_answer_counts_the_authentic_document(genuine, forged_xml):
    """The attack of the issue: the unsigned forgery beside the genuine file, to /batch."""
    client = create_app(WebConfig()).test_client()
    files = [
        (io.BytesIO(builder.build_nts_pdf(xml=forged_xml, sam=None)), "forged.pdf"),
        (io.BytesIO(ALL_2020.read_bytes()), "genuine.pdf"),
    ]
    r = client.post("/api/v1/batch", data={"file": files, "format": "xlsx"})
    assert r.status_code == 200
    wb = openpyxl.load_workbook(io.BytesIO(r.data))
    codes = [c.value for c in wb["합계"][2]]
    row = next(r for r in wb["합계"].iter_rows(min_row=3, values_only=True) if r[2] == "고길동")
    assert dict(zip(codes, row))["health_insurance"] == int(MEDICAL)


# -- 3 on the upload page's path: /export's parts with the statuses the client's /extract reported ---


def _export(client, parts: list[tuple[bytes, str]], fmt: str, statuses=None):
    data: dict = {"file": [(io.BytesIO(b), name) for b, name in parts], "format": fmt}
    if statuses is not None:
        data["statuses"] = statuses
    return client.post("/api/v1/export", data=data)


@pytest.mark.parametrize("forged_seq", ["9", "99999999999999999"])
@pytest.mark.parametrize("order", ["forged_first", "genuine_first"])
def test_export_ranks_duplicates_by_the_statuses_the_client_claims(forged_xml, forged_seq, order):
    """The page's totals and downloads come from /export, whose XML parts the server cannot verify:
    a forged copy with a higher 발급번호 was counted over the genuine document. With the statuses the
    client's /extract reported, the genuine amount counts; the statuses reported stay the server's
    (unverified), the claims are listed beside them, and nothing vouched for is invented."""
    import json

    client = create_app(WebConfig()).test_client()
    genuine = (h.extract(ALL_2020), "genuine.xml", "authentic")
    forged = (
        forged_xml.replace(b"<seq>9</seq>", f"<seq>{forged_seq}</seq>".encode()),
        "copy.xml",
        "unsigned",
    )
    sent = [forged, genuine] if order == "forged_first" else [genuine, forged]
    parts = [(b, name) for b, name, _ in sent]
    statuses = json.dumps([claim for _, _, claim in sent])

    r = _export(client, parts, "json", statuses)
    assert r.status_code == 200, r.get_data(as_text=True)
    answer = r.get_json()
    person = _owner(answer["totals"])
    assert _health(person)["amount"] == int(MEDICAL)  # the genuine 2,191,550, not 9,191,550
    dups = person["duplicates"]
    assert dups and all(d["doc_seq"] == forged_seq and d["counted_doc_seq"] == SEQ for d in dups)
    # the server's statuses, and the claims marked as the client's
    assert {
        (d["doc_status"], d["counted_status"], d["doc_claimed_status"], d["counted_claimed_status"])
        for d in dups
    } == {("unverified", "unverified", "unsigned", "authentic")}
    assert [d["verification_status"] for d in answer["documents"]] == ["unverified", "unverified"]
    assert person["unverified_documents"] == [{"doc_seq": SEQ, "status": "unverified"}]
    # the year's totals: the genuine document's alone
    alone = _export(client, [(genuine[0], genuine[1])], "json").get_json()["year_totals"]
    assert [(c["category"], c["amount"]) for y in answer["year_totals"] for c in y["categories"]] == [
        (c["category"], c["amount"]) for y in alone for c in y["categories"]
    ]

    # the XLSX the page downloads: the genuine amount in 합계, the claims beside the statuses
    r = _export(client, parts, "xlsx", statuses)
    assert r.status_code == 200
    wb = openpyxl.load_workbook(io.BytesIO(r.data))
    codes = [c.value for c in wb["합계"][2]]
    row = next(r for r in wb["합계"].iter_rows(min_row=3, values_only=True) if r[2] == "고길동")
    cells = dict(zip(codes, row))
    assert cells["health_insurance"] == int(MEDICAL)
    assert f"{forged_seq} [검증 안 됨, 보낸 쪽 확인: 위변조 의심]" in cells["duplicates"]
    assert f"(집계: {SEQ} [검증 안 됨, 보낸 쪽 확인: 진본 확인])" in cells["duplicates"]

    # without statuses: the newest issue as a number, no claim fields
    r = _export(client, parts, "json")
    person = _owner(r.get_json()["totals"])
    newest = max((SEQ, forged_seq), key=int)
    assert {d["counted_doc_seq"] for d in person["duplicates"]} == {newest}
    assert all("doc_claimed_status" not in d for d in person["duplicates"])


def test_a_claim_never_outranks_what_the_server_verified(genuine, forged_xml):
    """A claim ranks only a document the server could not verify: an XML part claimed authentic
    with a higher seq does not displace a PDF the server found authentic (library use; no route
    mixes them), and a claim on a verified document is ignored."""
    part = parse_xml(forged_xml)
    part.claimed_status = "authentic"
    for docs in ([part, genuine], [genuine, part]):
        person = _owner(summary.totals(docs))
        assert _health(person)["amount"] == int(MEDICAL)
        assert {
            (d["doc_seq"], d["doc_claimed_status"], d["counted_claimed_status"]) for d in person["duplicates"]
        } == {("9", "authentic", None)}
    forged = h.parse(builder.build_nts_pdf(xml=forged_xml, sam=None))
    forged.claimed_status = "authentic"  # the server verified it: unsigned, whatever is claimed
    person = _owner(summary.totals([genuine, forged]))
    assert _health(person)["amount"] == int(MEDICAL)
    assert all("doc_claimed_status" not in d for d in person["duplicates"])


@pytest.mark.parametrize(
    "statuses",
    [
        "authentic",  # not JSON
        '{"genuine.xml": "authentic"}',  # an object, not by place
        '["authentic"]',  # one entry for two parts
        '["authentic", "unsigned", null]',
        '["authentic", "verified"]',  # not a status of the verdict table
        '["authentic", "unverified"]',  # the server's word, not a verification's
        '["authentic", 1]',
        "[" * 100_000,
    ],
)
def test_export_refuses_a_bad_statuses_field(statuses):
    client = create_app(WebConfig()).test_client()
    part = h.extract(ALL_2020)
    r = _export(client, [(part, "a.xml"), (part, "b.xml")], "json", statuses)
    assert r.status_code == 400 and r.is_json, (r.status_code, r.get_data(as_text=True)[:200])
    assert r.get_json()["error"]["code"] == "usage"
    assert (
        "statuses" in r.get_json()["error"]["message"] or "claimed status" in r.get_json()["error"]["message"]
    )
    # a null entry is no claim
    r = _export(client, [(part, "a.xml"), (part, "b.xml")], "json", '[null, "authentic"]')
    assert r.status_code == 200


# -- 2: linear, and under the deadline ---------------------------------------------------------------


class _CountingStr(str):
    """A seq that counts how often it is compared for equality (a list scan compares every element)."""

    compared = 0

    def __eq__(self, other):
        _CountingStr.compared += 1
        return str.__eq__(self, other)

    __hash__ = str.__hash__


def test_totals_are_linear_in_the_documents():
    """3,000 documents of one person, each a different issue of the same form: every one but the
    newest is a duplicate. A list scan per item (``seq not in documents``, ``dup not in
    duplicates``) compares each seq with all before it: millions of comparisons; dict keys, a few
    per document."""
    n = 3000
    part = (
        '<?xml version="1.0" encoding="utf-8"?><yesone><doc><doc_type>A</doc_type><seq>1</seq>'
        '<att_year>2020</att_year></doc><form form_cd="B101Y"><man resid="7501011234567" name="고길동">'
        '<data dat_cd="G0001"><busnid>1234567890</busnid><sum>1000</sum></data></man></form></yesone>'
    )
    base = summary.projection(parse_xml(part.encode()))
    projections = [dict(base, seq=_CountingStr(f"{i + 1:016d}")) for i in range(n)]
    _CountingStr.compared = 0
    table = summary.totals_of(projections)
    assert _CountingStr.compared <= 10 * n, _CountingStr.compared
    person = _owner(table)
    assert len(person["documents"]) == n
    assert {d["counted_doc_seq"] for d in person["duplicates"]} == {f"{n:016d}"}
    assert len(person["duplicates"]) == n - 1 and _only_amount(person) == 1000


def _only_amount(person: dict) -> int:
    (category,) = person["categories"]
    return category["amount"]


class _Expiring(Deadline):
    """A deadline that is spent after ``left`` checks."""

    def __init__(self, left: int):
        super().__init__(3600)
        self.left, self.checks = left, 0

    def check(self) -> None:
        self.checks += 1
        if self.checks > self.left:
            raise errors.Timeout("processing time limit exceeded")


def test_the_deadline_is_checked_inside_the_totals():
    projections = [summary.projection(parse_xml(h.extract(ALL_2020)))] * 50
    with pytest.raises(errors.Timeout) as caught:
        summary.totals_of(projections, deadline=_Expiring(100))
    assert caught.value.code == "timeout"
    ample = _Expiring(10**9)
    summary.totals_of(projections, deadline=ample)
    items = sum(len(p["items"]) for p in projections)
    assert ample.checks >= items  # at every item (and person)


def test_a_spent_budget_in_the_totals_answers_the_json_timeout(monkeypatch):
    """/export whose budget runs out while the totals are made: the error table's JSON 503
    ``timeout``. The budget is spent exactly there (a check called from inside the totals)."""

    def check(self):
        if sys._getframe(1).f_code.co_name == "totals_of":
            raise errors.Timeout("processing time limit exceeded")

    monkeypatch.setattr(Deadline, "check", check)
    client = create_app(WebConfig(request_seconds=60.0)).test_client()
    part = h.extract(ALL_2020)
    for fmt in ("json", "xlsx"):
        files = [(io.BytesIO(part), f"{i}.xml") for i in range(3)]
        r = client.post("/api/v1/export", data={"file": files, "format": fmt})
        assert r.status_code == 503 and r.is_json, (fmt, r.status_code)
        assert r.get_json()["error"]["code"] == "timeout"


# -- the request's budget and the app servers' worker timeout ----------------------------------------


@pytest.mark.parametrize(
    ("timeout", "request_seconds"), [("30", "20"), ("30", "60"), ("15", "20"), ("6", "20"), ("60", "1")]
)
def test_the_request_budget_ends_well_before_the_worker_timeout(monkeypatch, timeout, request_seconds):
    """One source: whatever HOMETAX_REQUEST_SECONDS says, the app's budget ends with a third of
    HOMETAX_TIMEOUT to spare — the timeout gunicorn's config and uWSGI's harakiri take, and the one
    the stack hands to every app server — so a slow request ends as the JSON ``timeout``."""
    import runpy

    from hometax_decrypt.settings import REQUEST_SHARE, Settings
    from tests.support.paths import ROOT

    env = {"HOMETAX_TIMEOUT": timeout, "HOMETAX_REQUEST_SECONDS": request_seconds}
    budget = WebConfig.from_env(env).request_seconds
    assert budget == min(float(request_seconds), int(timeout) * REQUEST_SHARE)
    assert budget <= int(timeout) * 2 / 3
    # the app servers' worker timeout is that same setting
    for k, v in env.items():
        monkeypatch.setenv(k, v)
    monkeypatch.setenv("HOMETAX_BIND", "unix:/tmp/x.sock")
    assert runpy.run_path(str(ROOT / "deploy" / "gunicorn.conf.py"))["timeout"] == int(timeout)
    assert "harakiri = $(HOMETAX_TIMEOUT)" in (ROOT / "deploy" / "uwsgi.ini").read_text().splitlines()
    assert Settings.from_env(env).timeout == int(timeout)


def test_the_deduction_lines_count_the_authentic_document_too(genuine, forged):
    """The 공제신고서 lines merge documents by the same rule (records.summary.rank)."""
    from hometax_decrypt.deductions import lines_of

    for docs in ([forged, genuine], [genuine, forged]):
        (ret,) = [r for r in lines_of(docs) if r.att_year == 2020]
        dups = [w for w in ret.warnings if w["code"] == "duplicate_form"]
        assert dups and {(w["doc_seq"], w["counted_doc_seq"]) for w in dups} == {("9", SEQ)}
        assert {(w["doc_status"], w["counted_status"]) for w in dups} == {("unsigned", "authentic")}
