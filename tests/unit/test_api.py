"""The HTTP API through Flask's test client (fast; the real stack is tests/test_stack.py)."""

from __future__ import annotations

import io
import json
import logging
import os
import shutil
import subprocess
import sys
import tempfile
import zipfile

import openpyxl
import pikepdf
import pytest
from werkzeug.test import EnvironBuilder

import hometax_decrypt as h
from hometax_decrypt.web import create_app
from hometax_decrypt.web.config import WebConfig, hash_key
from hometax_decrypt.web.inmemory import InMemoryRequest
from tests.support import builder, tsa
from tests.support.paths import ROOT, SAMPLES, files_written, sample_files

ALL = SAMPLES / "nts-2020" / "all.pdf"
ALL_PW = SAMPLES / "nts-2020" / "all-password-1234567.pdf"
EXPECTED_XML = (SAMPLES / "nts-2020" / "all.expected.euc-kr.xml").read_bytes()
EXPECTED_SAM = (SAMPLES / "nts-2020" / "all.expected.euc-kr.sam").read_bytes()
RESID = b"7501011234567"
KOREAN_PW = "분홍고래-Pw-4821"


@pytest.fixture(scope="module")
def korean_pw_pdf() -> bytes:
    return builder.build_nts_pdf(encryption="aes-256", user_password=KOREAN_PW)


class RequestLog(logging.Handler):
    def __init__(self):
        super().__init__()
        self.records: list[dict] = []

    def emit(self, record):
        self.records.append(
            dict(record.msg) if isinstance(record.msg, dict) else {"message": record.getMessage()}
        )


@pytest.fixture()
def request_log():
    handler = RequestLog()
    logger = logging.getLogger("hometax.request")
    logger.addHandler(handler)
    yield handler.records
    logger.removeHandler(handler)


def assert_error(resp, status: int, code: str):
    assert resp.status_code == status, resp.data[:300]
    body = resp.get_json()
    assert set(body) == {"error"}
    assert body["error"]["code"] == code
    assert {"code", "nts_code", "message"} <= set(body["error"])
    assert resp.headers["X-Error-Code"] == code
    return body["error"]


def multipart(data: bytes, name: str = "doc.pdf", **fields):
    return {"file": (io.BytesIO(data), name), **fields}


# -- extract --------------------------------------------------------------------------------------


def test_extract_raw_body_is_byte_exact_euc_kr(client):
    for part, expected in (("xml", EXPECTED_XML), ("sam", EXPECTED_SAM)):
        r = client.post(
            f"/api/v1/extract?part={part}&encoding=euc-kr",
            data=ALL.read_bytes(),
            content_type="application/pdf",
        )
        assert r.status_code == 200
        assert r.data == expected
        kind = "application/xml" if part == "xml" else "text/plain"
        assert r.headers["Content-Type"] == f"{kind}; charset=euc-kr"
        assert r.headers["X-NTS-Return-Code"] == "1"
        assert r.headers["X-Verification-Authentic"] == "true"
        assert r.headers["X-Verification-Status"] == "authentic"


def test_extract_multipart_is_byte_exact(client):
    r = client.post("/api/v1/extract", data=multipart(ALL.read_bytes(), encoding="euc-kr"))
    assert r.status_code == 200 and r.data == EXPECTED_XML
    r = client.post("/api/v1/extract", data=multipart(ALL.read_bytes(), part="sam"))
    assert r.data == h.extract(ALL, part="sam")
    assert r.headers["Content-Type"] == "text/plain; charset=utf-8"


@pytest.mark.parametrize("path", sample_files()[::5], ids=lambda p: p.name)
def test_extract_matches_the_library_on_samples(client, path):
    pw = "1234567" if "password" in path.name else None
    headers = {"X-Document-Password": pw} if pw else {}
    r = client.post(
        "/api/v1/extract", data=path.read_bytes(), content_type="application/pdf", headers=headers
    )
    assert r.status_code == 200
    assert r.data == h.extract(path, password=pw)


def test_password_sample(client):
    data = ALL_PW.read_bytes()
    e = assert_error(client.post("/api/v1/extract", data=multipart(data)), 422, "password_required")
    assert e["nts_code"] == -1
    assert_error(
        client.post("/api/v1/extract", data=multipart(data, password="7654321")), 422, "wrong_password"
    )
    r = client.post("/api/v1/extract", data=multipart(data, password="1234567"))
    assert r.status_code == 200 and r.data == h.extract(ALL_PW, password="1234567")
    r = client.post(
        "/api/v1/extract",
        data=data,
        content_type="application/pdf",
        headers={"X-Document-Password": "1234567"},
    )
    assert r.status_code == 200


def test_korean_password_in_header_and_form(client, korean_pw_pdf):
    # A header carries bytes: the client sends the password as UTF-8.
    r = client.post(
        "/api/v1/extract",
        data=korean_pw_pdf,
        content_type="application/pdf",
        headers=[("X-Document-Password", KOREAN_PW.encode("utf-8").decode("latin-1"))],
    )
    assert r.status_code == 200 and r.data == builder.SAMPLE_XML
    r = client.post("/api/v1/extract", data=multipart(korean_pw_pdf, password=KOREAN_PW))
    assert r.status_code == 200 and r.data == builder.SAMPLE_XML


@pytest.mark.parametrize("endpoint", ["extract", "verify", "documents", "decrypt", "batch", "export"])
def test_password_in_url_is_refused(client, endpoint, request_log):
    r = client.post(
        f"/api/v1/{endpoint}?password=1234567", data=ALL_PW.read_bytes(), content_type="application/pdf"
    )
    e = assert_error(r, 400, "usage")
    assert "URL" in e["message"] and "1234567" not in r.get_data(as_text=True)
    assert "1234567" not in json.dumps(request_log)


@pytest.mark.parametrize(
    "query",
    [
        "pass%77ord=1234567",
        "x=1;password=1234567",
        "part=xml;password=1234567",
        "PASSWORD=1234567",
        "pw=1234567",
        "part=xml&secret=1234567",
    ],
)
def test_only_the_apis_own_query_parameters_are_accepted(client, query, request_log):
    """Not a blocklist of spellings of "password": any parameter the API does not read is refused."""
    r = client.post(
        f"/api/v1/extract?{query}",
        data=ALL_PW.read_bytes(),
        content_type="application/pdf",
        headers={"X-Document-Password": "1234567"},
    )
    assert_error(r, 400, "usage")
    assert "1234567" not in r.get_data(as_text=True) and "1234567" not in json.dumps(request_log)
    ok = client.post(
        "/api/v1/extract?part=xml&encoding=utf-8",
        data=ALL_PW.read_bytes(),
        content_type="application/pdf",
        headers={"X-Document-Password": "1234567"},
    )
    assert ok.status_code == 200


def test_usage_errors(client):
    data = ALL.read_bytes()
    assert_error(
        client.post("/api/v1/extract?part=pdf", data=data, content_type="application/pdf"), 400, "usage"
    )
    assert_error(
        client.post("/api/v1/extract?encoding=latin-1", data=data, content_type="application/pdf"),
        400,
        "usage",
    )
    assert_error(client.post("/api/v1/extract", data=data, content_type="text/plain"), 400, "usage")
    assert_error(client.post("/api/v1/extract", data={"password": "x"}), 400, "usage")
    two = {"file": [(io.BytesIO(data), "a.pdf"), (io.BytesIO(data), "b.pdf")]}
    assert_error(client.post("/api/v1/extract", data=two), 400, "usage")
    assert_error(
        client.post("/api/v1/documents?format=pdf", data=data, content_type="application/pdf"), 400, "usage"
    )


@pytest.mark.parametrize(
    "kind,data,status,code",
    [
        ("random", builder.random_bytes(), 422, "damaged"),
        ("truncated", None, 422, "damaged"),
        ("plain", builder.plain_pdf(), 422, "not_nts_document"),
        ("corrupt", builder.broken_custom_files_pdf("corrupt_stream"), 422, "damaged"),
        ("bad_filter", builder.broken_custom_files_pdf("bad_filter"), 422, "damaged"),
    ],
)
def test_document_errors_have_their_code(client, kind, data, status, code):
    if data is None:
        data = builder.truncated(ALL.read_bytes(), 0.3)
    e = assert_error(client.post("/api/v1/extract", data=data, content_type="application/pdf"), status, code)
    assert e["nts_code"] == h.errors.SPECS[code].nts_code


def test_bomb_is_too_large(client, bomb):
    e = assert_error(
        client.post("/api/v1/extract", data=bomb, content_type="application/pdf"), 413, "too_large"
    )
    assert e["nts_code"] == -2


def test_body_over_the_app_limit_is_413_json():
    small = create_app(WebConfig(max_body_bytes=100_000)).test_client()
    assert_error(
        small.post("/api/v1/extract", data=ALL.read_bytes(), content_type="application/pdf"), 413, "too_large"
    )
    assert_error(small.post("/api/v1/extract", data=multipart(ALL.read_bytes())), 413, "too_large")


# -- verify, documents, decrypt -------------------------------------------------------------------


def test_verify_is_the_cli_json(client):
    r = client.post("/api/v1/verify", data=ALL.read_bytes(), content_type="application/pdf")
    assert r.status_code == 200
    body = r.get_json()
    assert body == h.verify(ALL).to_dict()
    assert body["authentic"] is True and body["status"] == "authentic"
    tampered = bytearray(ALL.read_bytes())
    tampered[200] ^= 0x01  # inside the first ByteRange segment
    r = client.post("/api/v1/verify", data=multipart(bytes(tampered)))
    assert r.status_code == 200 and r.get_json()["authentic"] is False
    assert r.headers["X-Verification-Authentic"] == "false"


def test_documents_formats(client):
    data = ALL_PW.read_bytes()
    r = client.post("/api/v1/documents", data=multipart(data, password="1234567"))
    assert r.status_code == 200 and r.mimetype == "application/json"
    assert RESID in r.data
    from hometax_decrypt.formats import csv as csv_format
    from hometax_decrypt.formats import json as json_format
    from hometax_decrypt.records import parse_document

    doc = parse_document(data, password="1234567")
    doc.source_file = "doc.pdf"  # the multipart file's name
    assert r.get_json() == json.loads(json_format.to_json([doc]))
    r = client.post(
        "/api/v1/documents?format=json&mask=true",
        data=data,
        content_type="application/pdf",
        headers={"X-Document-Password": "1234567"},
    )
    assert r.status_code == 200 and RESID not in r.data and b"750101" in r.data
    r = client.post("/api/v1/documents", data=multipart(data, password="1234567", format="csv"))
    assert r.status_code == 200 and r.mimetype == "text/csv"
    assert r.data == csv_format.to_csv([doc])
    r = client.post("/api/v1/documents", data=multipart(data, password="1234567", format="xlsx"))
    assert r.status_code == 200
    wb = openpyxl.load_workbook(io.BytesIO(r.data))
    assert wb.sheetnames


def test_decrypt_removes_the_password(client):
    r = client.post("/api/v1/decrypt", data=multipart(ALL_PW.read_bytes(), "고길동.pdf", password="1234567"))
    assert r.status_code == 200 and r.mimetype == "application/pdf"
    assert r.headers["X-Was-Encrypted"] == "true"
    assert "filename*=UTF-8''%EA%B3%A0" in r.headers["Content-Disposition"]
    with pikepdf.open(io.BytesIO(r.data)) as pdf:  # no password needed any more
        assert not pdf.is_encrypted
    assert h.extract(r.data) == h.extract(ALL_PW, password="1234567")
    assert_error(
        client.post("/api/v1/decrypt", data=multipart(ALL_PW.read_bytes())), 422, "password_required"
    )


# -- batch ----------------------------------------------------------------------------------------


def _zip(entries: dict[str, bytes], method=zipfile.ZIP_DEFLATED) -> bytes:
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", method) as zf:
        for name, data in entries.items():
            zf.writestr(name, data)
    return buf.getvalue()


def test_batch_multipart_with_password_map_and_a_bad_file(client):
    files = [
        (io.BytesIO(ALL.read_bytes()), "a.pdf"),
        (io.BytesIO(ALL_PW.read_bytes()), "b.pdf"),
        (io.BytesIO(builder.random_bytes()), "c.pdf"),
    ]
    r = client.post("/api/v1/batch", data={"file": files, "passwords": json.dumps({"b.pdf": "1234567"})})
    assert r.status_code == 200
    body = r.get_json()
    assert (body["ok"], body["failed"]) == (2, 1)
    by_name = {f["file"]: f for f in body["files"]}
    assert by_name["a.pdf"]["ok"] and by_name["b.pdf"]["ok"]
    assert by_name["a.pdf"]["verification"]["authentic"] is True
    assert by_name["c.pdf"]["error"]["code"] == "damaged"
    assert by_name["b.pdf"]["document"]["doc"]["seq"] != by_name["a.pdf"]["document"]["doc"]["seq"]


def test_batch_zip_one_password_and_csv(client):
    z = _zip(
        {
            "dir/a.pdf": ALL_PW.read_bytes(),
            "b.pdf": ALL_PW.read_bytes(),
            "__MACOSX/._a.pdf": b"junk",
            "plain.pdf": builder.plain_pdf(),
        }
    )
    r = client.post(
        "/api/v1/batch", data=z, content_type="application/zip", headers={"X-Document-Password": "1234567"}
    )
    body = r.get_json()
    assert r.status_code == 200 and (body["ok"], body["failed"]) == (2, 1)
    assert [f["file"] for f in body["files"]] == ["dir/a.pdf", "b.pdf", "plain.pdf"]
    r = client.post(
        "/api/v1/batch", data={"file": (io.BytesIO(z), "batch.zip"), "password": "1234567", "format": "csv"}
    )
    assert r.status_code == 200 and r.mimetype == "text/csv"
    assert r.headers["X-Batch-OK"] == "2" and r.headers["X-Batch-Failed"] == "1"
    assert json.loads(r.headers["X-Batch-Errors"]) == {"not_nts_document": 1}  # counts, no names
    lines = r.data.decode("utf-8-sig").splitlines()
    single = h.formats.csv.to_csv([h.parse(ALL_PW, password="1234567")]).decode("utf-8-sig").splitlines()
    assert len(lines) == 2 * (len(single) - 1) + 1  # one header, both documents' rows


def test_batch_zip_limits():
    client = create_app(
        WebConfig(batch_max_files=5, batch_max_total_bytes=10 * 1024 * 1024, zip_max_ratio=50)
    ).test_client()
    many = _zip({f"{i}.pdf": b"x" for i in range(6)})
    e = assert_error(
        client.post("/api/v1/batch", data=many, content_type="application/zip"), 413, "too_large"
    )
    assert "too many files" in e["message"]
    bomb = _zip({"zeros.pdf": bytes(8 * 1024 * 1024)})
    e = assert_error(
        client.post("/api/v1/batch", data=bomb, content_type="application/zip"), 413, "too_large"
    )
    assert "ratio" in e["message"]
    rnd = os.urandom(64 * 1024)
    low_ratio = rnd + bytes(2 * 1024 * 1024)  # ~33:1, under the ratio limit; 4 of them pass 10 MiB
    big = _zip({f"{i}.pdf": low_ratio for i in range(5)})
    e = assert_error(client.post("/api/v1/batch", data=big, content_type="application/zip"), 413, "too_large")
    assert "total size" in e["message"]
    assert_error(
        client.post("/api/v1/batch", data=b"PK\x03\x04garbage", content_type="application/zip"),
        422,
        "damaged",
    )
    bad_map = {"file": (io.BytesIO(ALL.read_bytes()), "a.pdf"), "passwords": "[1,2]"}
    assert_error(client.post("/api/v1/batch", data=bad_map), 400, "usage")


@pytest.mark.parametrize("where", ["form", "header"])
@pytest.mark.parametrize(
    "value",
    ["[" * 5000, '{"a":' * 5000, "1" * 5000, '"x"', json.dumps({f"{i}.pdf": "x" * 200 for i in range(2000)})],
)
def test_a_hostile_password_map_is_a_usage_error_not_a_500(client, where, value):
    """Deep nesting made json.loads raise RecursionError (500); a map must be a JSON object of
    bounded length."""
    if where == "form":
        r = client.post("/api/v1/batch", data={**multipart(ALL.read_bytes(), "a.pdf"), "passwords": value})
    else:
        r = client.post(
            "/api/v1/batch",
            data=_zip({"a.pdf": ALL.read_bytes()}),
            content_type="application/zip",
            headers={"X-Document-Passwords": value},
        )
    assert_error(r, 400, "usage")


def test_a_zip_of_many_small_entries_is_judged_by_its_whole_ratio():
    """100 entries of 1 MiB at ratio ~1000 each slipped under the per-entry check (entries of 1 MiB
    or less were not judged): 113 KB of ZIP for 100 MiB of content."""
    client = create_app(
        WebConfig(batch_max_files=200, batch_max_total_bytes=200 * 1024 * 1024, zip_max_ratio=50)
    ).test_client()
    bomb = _zip({f"{i}.pdf": b"%PDF-1.4\n" + bytes(1024 * 1024 - 10) for i in range(100)})
    assert len(bomb) < 200_000
    e = assert_error(
        client.post("/api/v1/batch", data=bomb, content_type="application/zip"), 413, "too_large"
    )
    assert "ratio" in e["message"]
    # one entry of 100 KiB at ratio ~100 (over the 64 KiB floor) is judged on its own
    one = _zip({"a.pdf": ALL.read_bytes(), "zeros.pdf": bytes(100 * 1024)})
    e = assert_error(client.post("/api/v1/batch", data=one, content_type="application/zip"), 413, "too_large")
    assert "ratio" in e["message"]
    # real documents (PDFs barely compress) and a tiny, very compressible entry still pass
    fine = _zip({"a.pdf": ALL.read_bytes(), "b.pdf": ALL_PW.read_bytes(), "c.pdf": bytes(4096)})
    r = client.post(
        "/api/v1/batch", data=fine, content_type="application/zip", headers={"X-Document-Password": "1234567"}
    )
    assert r.status_code == 200 and r.get_json()["ok"] == 2


def test_form_parts_are_limited_by_the_batch_limit_not_werkzeugs_1000():
    """MAX_FORM_PARTS (batch_max_files + 16) was shadowed by a class attribute of 1000 parts."""
    client = create_app(WebConfig(batch_max_files=5)).test_client()
    fields = {f"f{i}": "x" for i in range(100)}  # 101 parts: far below 1000, far above 5 + 16
    r = client.post("/api/v1/batch", data={**multipart(ALL.read_bytes(), "a.pdf"), **fields})
    assert_error(r, 413, "too_large")
    fields = {f"f{i}": "x" for i in range(10)}
    r = client.post("/api/v1/batch", data={**multipart(ALL.read_bytes(), "a.pdf"), **fields})
    assert r.status_code == 200 and r.get_json()["ok"] == 1


HUGE_SUM_XML = builder.SAMPLE_XML.replace(b"<sum>12345</sum>", b"<sum>" + b"9" * 5000 + b"</sum>")


@pytest.mark.parametrize("fmt", ["json", "csv", "xlsx"])
def test_a_document_with_a_huge_sum_does_not_fail_the_batch(client, fmt):
    files = [
        (io.BytesIO(ALL.read_bytes()), "a.pdf"),
        (io.BytesIO(builder.build_nts_pdf(HUGE_SUM_XML)), "huge.pdf"),
    ]
    r = client.post("/api/v1/batch", data={"file": files, "format": fmt})
    assert r.status_code == 200, r.data[:300]
    assert r.headers["X-Batch-OK"] in ("1", "2")


@pytest.mark.parametrize("fmt", ["json", "csv", "xlsx"])
def test_a_document_the_exporters_choke_on_fails_alone(client, monkeypatch, fmt):
    """Whatever per-document work can fail (records, rows, totals) runs inside the per-file try."""
    from hometax_decrypt.records.model import Document

    cursed = "2021011599999999"
    real_items = Document.items

    def items(self):
        if self.doc.seq == cursed:
            raise ValueError("a bug in the exporters")
        return real_items(self)

    monkeypatch.setattr(Document, "items", items)
    bad = builder.build_nts_pdf(builder.SAMPLE_XML.replace(b"2021011500000001", cursed.encode()))
    files = [(io.BytesIO(ALL.read_bytes()), "a.pdf"), (io.BytesIO(bad), "cursed.pdf")]
    r = client.post("/api/v1/batch", data={"file": files, "format": fmt})
    assert r.status_code == 200, r.data[:300]
    assert (r.headers["X-Batch-OK"], r.headers["X-Batch-Failed"]) == ("1", "1")
    if fmt == "json":
        by_name = {f["file"]: f for f in r.get_json()["files"]}
        assert by_name["a.pdf"]["ok"] and by_name["cursed.pdf"]["error"]["code"] == "internal"
    else:
        assert json.loads(r.headers["X-Batch-Errors"]) == {"internal": 1}
    if fmt == "csv":
        doc = h.parse(ALL)
        doc.source_file = "a.pdf"  # the batch's file name
        assert r.data == h.formats.csv.to_csv([doc])


def test_batch_error_header_carries_counts_not_names(client):
    """Failed file names in a header grew past nginx's proxy buffer (502); now counts per code."""
    long_name = "가" * 120
    files = [(io.BytesIO(builder.random_bytes()), f"{long_name}-{i}.pdf") for i in range(60)]
    files.append((io.BytesIO(ALL.read_bytes()), "a.pdf"))
    app = create_app(WebConfig(batch_max_files=100))
    r = app.test_client().post("/api/v1/batch", data={"file": files, "format": "csv"})
    assert r.status_code == 200
    assert json.loads(r.headers["X-Batch-Errors"]) == {"damaged": 60}
    assert sum(len(k) + len(v) for k, v in r.headers.items()) < 2048


def test_a_bad_trust_dir_fails_at_start_up_not_on_every_request(tmp_path, monkeypatch):
    monkeypatch.setenv("HOMETAX_TRUST_DIR", str(tmp_path / "missing"))
    with pytest.raises(ValueError, match=r"HOMETAX_TRUST_DIR.*trust directory does not exist"):
        create_app(WebConfig())
    (tmp_path / "junk.pem").write_bytes(b"not a certificate")
    monkeypatch.setenv("HOMETAX_TRUST_DIR", str(tmp_path))
    with pytest.raises(ValueError, match=r"HOMETAX_TRUST_DIR.*not a certificate"):
        create_app(WebConfig())
    (tmp_path / "junk.pem").unlink()
    tsa.test_authority().write_anchor(tmp_path / "anchors")
    monkeypatch.setenv("HOMETAX_TRUST_DIR", str(tmp_path / "anchors"))
    app = create_app(WebConfig())
    assert app.test_client().get("/readyz").get_json() == {"status": "ready"}
    # the environment is read once, at start: a change under the app changes nothing
    monkeypatch.setenv("HOMETAX_TRUST_DIR", str(tmp_path / "missing"))
    assert app.test_client().get("/readyz").get_json() == {"status": "ready"}
    # /readyz reports a configured trust directory that stops loading
    shutil.rmtree(tmp_path / "anchors")
    assert_error(app.test_client().get("/readyz"), 503, "unavailable")


# -- /export: the combined file from the documents' data parts -------------------------------------


def test_export_combines_xml_parts_like_batch_does(client):
    parts = [
        h.extract(ALL),
        h.extract(ALL_PW, password="1234567"),
        h.extract((SAMPLES / "nts-2022" / "all.pdf").read_bytes()),
    ]
    # data parts carry no PDF to verify (verification_status "unverified"); each is named by its file
    docs = [h.service.parse_part(x, name=f"{i}.xml").document for i, x in enumerate(parts)]

    def post(fmt, mask="true", data=parts):
        files = [(io.BytesIO(x), f"{i}.xml") for i, x in enumerate(data)]
        return client.post("/api/v1/export", data={"file": files, "format": fmt, "mask": mask})

    r = post("csv")
    assert r.status_code == 200 and r.mimetype == "text/csv"
    assert r.data == h.formats.csv.to_csv(docs, mask=True)
    r = post("xlsx", mask="false")
    wb = openpyxl.load_workbook(io.BytesIO(r.data), read_only=True)
    expected = openpyxl.load_workbook(io.BytesIO(h.formats.xlsx.to_xlsx(docs)), read_only=True)
    assert wb.sheetnames == expected.sheetnames
    for sheet in wb.sheetnames:
        assert list(wb[sheet].values) == list(expected[sheet].values)
    body = post("json").get_json()
    assert [d["doc"]["seq"] for d in body["documents"]] == [d.doc.seq for d in docs]
    assert RESID.decode() not in json.dumps(body)
    # EUC-KR parts (the NTS bAnsi mode) read the same
    r = post("csv", data=[EXPECTED_XML])
    docs[0].source_file = "0.xml"
    assert r.data == h.formats.csv.to_csv([docs[0]], mask=True)


def test_export_errors_and_limits():
    client = create_app(WebConfig(export_max_files=3)).test_client()
    part = h.extract(ALL)
    four = {"file": [(io.BytesIO(part), f"{i}.xml") for i in range(4)], "format": "csv"}
    e = assert_error(client.post("/api/v1/export", data=four), 413, "too_large")
    assert "too many files" in e["message"]
    bad = {"file": [(io.BytesIO(part), "a.xml"), (io.BytesIO(b"<html/>"), "b.xml")]}
    assert_error(client.post("/api/v1/export", data=bad), 422, "damaged")
    assert_error(client.post("/api/v1/export", data=part, content_type="application/xml"), 400, "usage")
    assert_error(client.post("/api/v1/export", data={"format": "csv"}), 400, "usage")
    # more parts than the batch limit's MAX_FORM_PARTS: the export raises its own request's limit
    client = create_app(WebConfig(batch_max_files=2, export_max_files=40)).test_client()
    many = {"file": [(io.BytesIO(part), f"{i}.xml") for i in range(40)], "format": "csv"}
    r = client.post("/api/v1/export", data=many)
    assert r.status_code == 200
    assert len(r.data.decode("utf-8-sig").splitlines()) == 1 + 40 * len(h.formats.rows.rows([h.parse(ALL)]))


# -- uploads stay in memory -----------------------------------------------------------------------


def test_multipart_files_are_never_spooled_to_disk(tmp_path):
    body = os.urandom(3 * 1024 * 1024)  # far past Werkzeug's 500 KB spooling threshold
    env = EnvironBuilder(method="POST", data={"file": (io.BytesIO(body), "a.pdf")}).get_environ()
    old = tempfile.tempdir
    tempfile.tempdir = str(tmp_path)
    try:
        req = InMemoryRequest(env)
        f = req.files["file"]
        assert isinstance(f.stream, io.BytesIO)
        assert f.read() == body
    finally:
        tempfile.tempdir = old
    assert list(tmp_path.iterdir()) == []


# -- probes, metrics, docs ------------------------------------------------------------------------


def test_probes_and_docs(client):
    assert client.get("/healthz").get_json() == {"status": "ok"}
    assert client.get("/readyz").get_json() == {"status": "ready"}
    spec = client.get("/api/v1/openapi.json").get_json()
    assert spec["openapi"].startswith("3.")
    for path in (
        "/api/v1/extract",
        "/api/v1/verify",
        "/api/v1/documents",
        "/api/v1/decrypt",
        "/api/v1/batch",
        "/healthz",
        "/readyz",
        "/metrics",
    ):
        assert path in spec["paths"]
    page = client.get("/api/v1/docs")
    assert page.status_code == 200 and b"/api/v1/extract" in page.data
    assert b"http://" not in page.data and b"https://" not in page.data  # no external resources
    assert_error(client.get("/nope"), 404, "not_found")
    assert_error(client.get("/api/v1/extract"), 405, "method_not_allowed")


def test_metrics_count_requests_and_error_codes(client):
    client.post("/api/v1/extract", data=builder.random_bytes(), content_type="application/pdf")
    client.post("/api/v1/extract", data=ALL.read_bytes(), content_type="application/pdf")
    text = client.get("/metrics").get_data(as_text=True)
    assert 'hometax_http_requests_total{endpoint="/api/v1/extract",method="POST",status="200"}' in text
    assert 'hometax_http_errors_total{code="damaged",endpoint="/api/v1/extract"}' in text
    assert "hometax_http_request_duration_seconds_bucket" in text
    assert "7501011234567" not in text and "고길동" not in text


def test_request_log_line(client, request_log, korean_pw_pdf):
    client.post(
        "/api/v1/extract?part=xml",
        data=korean_pw_pdf,
        content_type="application/pdf",
        headers=[
            ("X-Document-Password", KOREAN_PW.encode("utf-8").decode("latin-1")),
            ("X-Request-ID", "test-request-0001"),
        ],
    )
    client.post(
        "/api/v1/extract", data=multipart(korean_pw_pdf, "8001011234567.pdf", password="wrong-" + KOREAN_PW)
    )
    ok, bad = request_log[-2:]
    assert set(ok) >= {"id", "method", "path", "status", "duration_ms", "size", "error"}
    assert ok["id"] == "test-request-0001" and ok["path"] == "/api/v1/extract"
    assert ok["status"] == 200 and ok["error"] is None and ok["size"] == len(builder.SAMPLE_XML)
    assert bad["status"] == 422 and bad["error"] == "wrong_password"
    text = json.dumps(request_log, ensure_ascii=False)
    for secret in (KOREAN_PW, "8001011234567", "김테스트", "part=xml"):
        assert secret not in text


def test_unexpected_exception_is_500_json_without_its_text(request_log):
    app = create_app(WebConfig())

    @app.get("/boom")
    def boom():
        raise ValueError("7501011234567 고길동")

    r = app.test_client().get("/boom")
    assert_error(r, 500, "internal")
    assert b"7501011234567" not in r.data
    assert "7501011234567" not in json.dumps(request_log)


# -- API keys -------------------------------------------------------------------------------------


def test_api_keys_required_when_configured():
    app = create_app(WebConfig(api_key_hashes=(hash_key("k-good"),)))
    c = app.test_client()
    data = ALL.read_bytes()
    assert_error(c.post("/api/v1/extract", data=data, content_type="application/pdf"), 401, "unauthorized")
    assert_error(
        c.post("/api/v1/extract", data=data, content_type="application/pdf", headers={"X-API-Key": "k-bad"}),
        401,
        "unauthorized",
    )
    assert_error(c.get("/metrics"), 401, "unauthorized")
    r = c.post("/api/v1/extract", data=data, content_type="application/pdf", headers={"X-API-Key": "k-good"})
    assert r.status_code == 200
    for open_path in ("/healthz", "/readyz", "/api/v1/openapi.json", "/api/v1/docs"):
        assert c.get(open_path).status_code == 200


def test_api_keys_needed_beyond_loopback():
    with pytest.raises(ValueError, match="API keys"):
        create_app(WebConfig(listen="0.0.0.0"))
    with pytest.raises(ValueError):
        create_app(WebConfig(listen="192.0.2.10"))
    create_app(WebConfig(listen="0.0.0.0", api_keys_disabled=True))
    create_app(WebConfig(listen="::1"))
    cfg = WebConfig.from_env(
        {"HOMETAX_LISTEN": "0.0.0.0", "HOMETAX_API_KEYS": hash_key("a") + "," + hash_key("b")}
    )
    assert cfg.key_ok("b") and not cfg.key_ok("c") and not cfg.key_ok(None)
    with pytest.raises(ValueError, match="SHA-256"):
        WebConfig.from_env({"HOMETAX_API_KEYS": "plain-text-key"})


def test_key_helper_prints_the_digest():
    out = subprocess.run(
        [sys.executable, "-m", "hometax_decrypt.web.keys", "k-good"],
        capture_output=True,
        text=True,
        check=True,
        cwd=ROOT,
    )
    assert out.stdout.strip() == hash_key("k-good")
    out = subprocess.run(
        [sys.executable, "-m", "hometax_decrypt.web.keys"],
        capture_output=True,
        text=True,
        check=True,
        cwd=ROOT,
    )
    key = out.stdout.split("key:")[1].split()[0]
    assert out.stdout.split("sha256:")[1].strip() == hash_key(key)


@pytest.mark.parametrize("fmt", ["json", "csv"])
def test_many_document_requests_share_one_time_budget(fmt):
    """/batch and /export run under HOMETAX_REQUEST_SECONDS as a whole (below the worker timeout):
    with the budget spent, each document fails alone as timeout (its own code since issue 12; it
    was too_large), never a killed worker."""
    spent = create_app(WebConfig(request_seconds=0.0)).test_client()
    files = [(io.BytesIO(ALL.read_bytes()), "a.pdf"), (io.BytesIO(ALL.read_bytes()), "b.pdf")]
    r = spent.post("/api/v1/batch", data={"file": files, "format": "json"})
    assert r.status_code == 200
    body = r.get_json()
    assert (body["ok"], body["failed"]) == (0, 2)
    assert {f["error"]["code"] for f in body["files"]} == {"timeout"}
    r = spent.post("/api/v1/export", data={"file": [(io.BytesIO(h.extract(ALL)), "a.xml")], "format": fmt})
    assert r.status_code == 503 and r.get_json()["error"]["code"] == "timeout"
    ample = create_app(WebConfig(request_seconds=60.0)).test_client()
    files = [(io.BytesIO(ALL.read_bytes()), "a.pdf"), (io.BytesIO(ALL.read_bytes()), "b.pdf")]
    assert ample.post("/api/v1/batch", data={"file": files, "format": fmt}).status_code == 200


def test_no_endpoint_writes_a_file(client):
    """Uploads, their data and every answer stay in memory: Python's audit hook sees no open() for
    writing while the endpoints run (multipart parts included: Werkzeug would spool large ones)."""
    pdf = ALL_PW.read_bytes()
    calls = (
        [
            (
                "/api/v1/extract?part=sam&encoding=euc-kr",
                {"file": (io.BytesIO(pdf), "a.pdf"), "password": "1234567"},
            ),
            ("/api/v1/verify", {"file": (io.BytesIO(pdf), "a.pdf")}),
            ("/api/v1/decrypt", {"file": (io.BytesIO(pdf), "a.pdf"), "password": "1234567"}),
        ]
        + [
            ("/api/v1/documents", {"file": (io.BytesIO(pdf), "a.pdf"), "password": "1234567", "format": fmt})
            for fmt in ("json", "csv", "xlsx")
        ]
        + [
            (
                "/api/v1/batch",
                {
                    "file": [(io.BytesIO(pdf), "a.pdf"), (io.BytesIO(ALL.read_bytes()), "b.pdf")],
                    "password": "1234567",
                    "format": "xlsx",
                },
            ),
            ("/api/v1/export", {"file": [(io.BytesIO(h.extract(ALL)), "a.xml")], "format": "xlsx"}),
        ]
    )
    for url, data in calls:
        # the test client spools a large multipart body to a temporary file itself: encode it first
        builder = EnvironBuilder(path=url, method="POST", data=data)
        environ = builder.get_environ()
        body, content_type = environ["wsgi.input"].read(), environ["CONTENT_TYPE"]
        builder.close()
        with files_written() as seen:
            r = client.post(url, data=body, content_type=content_type)
        assert r.status_code == 200, (url, r.data[:200])
        assert seen == [], (url, seen)


def _sources_and_statuses(fmt: str, data: bytes) -> tuple[set, set]:
    if fmt == "json":
        docs = json.loads(data)["documents"]
        assert all(it["item_key"] for d in docs for f in d["forms"] for p in f["people"] for it in p["items"])
        return {d["source_file"] for d in docs}, {d["verification_status"] for d in docs}
    if fmt == "ndjson":
        lines = [json.loads(x) for x in data.decode().splitlines()]
        assert all(x["item"]["item_key"] for x in lines)
        return {x["document"]["source_file"] for x in lines}, {
            x["document"]["verification_status"] for x in lines
        }
    if fmt == "csv":
        import csv

        rows = list(csv.DictReader(io.StringIO(data[3:].decode(), newline="")))
    else:
        sheet = list(openpyxl.load_workbook(io.BytesIO(data))["항목"].iter_rows(values_only=True))
        rows = [dict(zip(sheet[1], r)) for r in sheet[2:]]
    assert all(r["item_key"] for r in rows)
    return {r["source_file"] for r in rows}, {r["verification_status"] for r in rows}


@pytest.mark.parametrize("fmt", ["json", "ndjson", "csv", "xlsx"])
def test_documents_batch_and_export_carry_source_file_and_status(client, fmt):
    """Issue 21: every route's export names each document's file and its verification status."""
    r = client.post("/api/v1/documents", data=multipart(ALL.read_bytes(), "E0001 고길동.pdf", format=fmt))
    assert r.status_code == 200
    assert _sources_and_statuses(fmt, r.data) == ({"E0001 고길동.pdf"}, {"authentic"})

    z = _zip({"E0001/all.pdf": ALL.read_bytes(), "E0002.pdf": ALL_PW.read_bytes()})
    r = client.post(
        "/api/v1/batch", data={"file": (io.BytesIO(z), "team.zip"), "password": "1234567", "format": fmt}
    )
    assert r.status_code == 200 and r.headers["X-Batch-OK"] == "2"
    if fmt == "json":  # per-file results, each with its document's record
        records = [f["document"] for f in r.get_json()["files"]]
        assert [d["source_file"] for d in records] == ["E0001/all.pdf", "E0002.pdf"]
        assert {d["verification_status"] for d in records} == {"authentic"}
    else:
        assert _sources_and_statuses(fmt, r.data) == ({"E0001/all.pdf", "E0002.pdf"}, {"authentic"})

    r = client.post(
        "/api/v1/export", data={"file": [(io.BytesIO(h.extract(ALL)), "E0001.xml")], "format": fmt}
    )
    assert r.status_code == 200
    # a data part: no PDF, nothing verified
    assert _sources_and_statuses(fmt, r.data) == ({"E0001.xml"}, {"unverified"})
