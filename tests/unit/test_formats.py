"""The format registry (formats.py) is the one source of the output formats: the CLI's choices, the
API's validation, the OpenAPI enums and the page's buttons (GET /api/v1/formats) all follow it.
NDJSON, added through the registry alone, proves it in the CLI, /documents, /batch and /export."""

from __future__ import annotations

import io
import json
import subprocess
import sys
from pathlib import Path

import pytest

import hometax_decrypt as h
from hometax_decrypt import errors, formats
from hometax_decrypt.cli import commands as cli
from hometax_decrypt.formats.ndjson import item_lines
from hometax_decrypt.records import document_to_dict
from hometax_decrypt.web import create_app
from hometax_decrypt.web.config import WebConfig
from hometax_decrypt.web.openapi import OPENAPI
from tests.support.paths import SAMPLES

ALL = SAMPLES / "nts-2020" / "all.pdf"
ALL_PW = SAMPLES / "nts-2020" / "all-password-1234567.pdf"
EXE = Path(sys.executable).parent / "hometax-decrypt"
WEB = Path(__file__).resolve().parents[2] / "web"


@pytest.fixture(scope="module")
def client():
    return create_app(WebConfig()).test_client()


@pytest.fixture(scope="module")
def doc():
    return h.parse(ALL)


def _lines(data: bytes) -> list[dict]:
    text = data.decode("utf-8")
    assert text.endswith("\n") and "\r" not in text
    return [json.loads(line) for line in text.splitlines()]


# -- the registry drives every adapter ------------------------------------------------------------


def test_cli_choices_are_the_registry():
    parse = next(
        a for a in cli._parser()._subparsers._group_actions[0].choices["parse"]._actions if a.dest == "format"
    )
    assert tuple(parse.choices) == formats.NAMES and parse.default == formats.DEFAULT


def test_api_validation_and_formats_endpoint_are_the_registry(client):
    body = client.get("/api/v1/formats").get_json()
    assert [f["name"] for f in body["formats"]] == list(formats.NAMES)
    assert body["formats"] == [f.describe() for f in formats.FORMATS.values()]
    r = client.post("/api/v1/documents?format=yaml", data=ALL.read_bytes(), content_type="application/pdf")
    assert r.status_code == 400 and r.get_json()["error"]["code"] == "usage"
    assert ", ".join(formats.NAMES) in r.get_json()["error"]["message"]
    with pytest.raises(errors.UsageError):
        formats.get("yaml")


def test_openapi_enums_and_errors_come_from_the_registry_and_the_error_table(client):
    doc = client.get("/api/v1/openapi.json").get_json()
    assert doc == json.loads(json.dumps(OPENAPI))
    enums = []

    def walk(node):
        if isinstance(node, dict):
            if node.get("name") == "format" or "format" in node.get("properties", {}):
                schema = node.get("schema") or node["properties"]["format"]
                enums.append(schema["enum"])
            for v in node.values():
                walk(v)
        elif isinstance(node, list):
            for v in node:
                walk(v)

    walk(doc["paths"])
    assert len(enums) >= 5 and all(e == list(formats.NAMES) for e in enums)
    for path, ops in doc["paths"].items():
        for op in ops.values():
            for status, resp in op["responses"].items():
                if status != "200":
                    assert resp["content"]["application/json"]["schema"] == {
                        "$ref": "#/components/schemas/Error"
                    }, (path, status)
    codes = doc["components"]["schemas"]["ErrorObject"]["properties"]["code"]["enum"]
    assert codes == errors.http_codes()
    statuses = {s.http_status for s in errors.SPECS.values() if s.nts_code is not None}
    for path in ("/api/v1/extract", "/api/v1/documents", "/api/v1/batch", "/api/v1/export"):
        assert statuses <= {int(s) for s in doc["paths"][path]["post"]["responses"] if s != "200"}
    media = set(doc["paths"]["/api/v1/documents"]["post"]["responses"]["200"]["content"])
    assert media == {f.media_type.split(";")[0] for f in formats.FORMATS.values()}


def test_the_pages_messages_are_the_error_tables(client):
    """The page takes its messages from the server; app.js keeps no table of its own."""
    messages = client.get("/api/v1/messages").get_json()["messages"]
    assert messages == {c: s.message_ko for c, s in errors.SPECS.items() if s.http_status}
    app_js = (WEB / "app.js").read_text()
    index = (WEB / "index.html").read_text()
    for code, text in messages.items():
        assert text not in app_js, code
    assert "maskResid" not in app_js  # masking is the server's (mask=true)
    for name in formats.NAMES:  # the buttons come from GET /api/v1/formats
        assert f"download-{name}" not in app_js and f"download-{name}" not in index


def test_formats_and_messages_need_no_api_key():
    from hometax_decrypt.web.config import hash_key

    c = create_app(WebConfig(api_key_hashes=(hash_key("k"),))).test_client()
    assert c.get("/api/v1/formats").status_code == 200
    assert c.get("/api/v1/messages").status_code == 200
    assert c.post("/api/v1/documents", data=b"x", content_type="application/pdf").status_code == 401


# -- NDJSON ---------------------------------------------------------------------------------------


def test_ndjson_one_item_per_line_with_document_and_person(doc):
    lines = _lines(formats.get("ndjson").write([doc, doc]))
    rows = h.formats.rows.rows([doc])
    assert len(lines) == 2 * len(rows)
    record = document_to_dict(doc)
    assert lines[0]["document"]["seq"] == record["doc"]["seq"]
    assert lines[0]["document"]["att_year"] == record["doc"]["att_year"]
    assert lines[0]["document"]["verification_status"] == "authentic"
    # the same items in the same order as the CSV, each with its form and its person
    for line, row in zip(lines, rows):
        assert line["form"]["form_cd"] == row["form_cd"]
        assert line["person"]["resid"] == row["resid"] and line["person"]["name"] == row["name"]
        assert line["item"]["amount"] == row["amount"]
    flat = [it for f in record["forms"] for p in f["people"] for it in p["items"]]
    assert [ln["item"] for ln in lines[: len(flat)]] == flat


def test_ndjson_masks_like_every_other_format(doc):
    plain = formats.get("ndjson").write([doc])
    masked = formats.get("ndjson").write([doc], mask=True)
    residents = {ln["person"]["resid"] for ln in _lines(plain)} | {
        ln["document"]["resid"] for ln in _lines(plain)
    }
    assert any(r and "*" not in r for r in residents)
    for r in residents:
        if r:
            assert r.encode() not in masked
    assert all("******" in ln["person"]["resid"] for ln in _lines(masked) if ln["person"]["resid"])
    assert list(item_lines(document_to_dict(doc, mask=True))) == _lines(masked)


def test_ndjson_in_the_cli(tmp_path, doc):
    out = tmp_path / "all.ndjson"
    r = subprocess.run(
        [str(EXE), "parse", str(ALL), "--format", "ndjson", "-o", str(out)], capture_output=True, timeout=60
    )
    assert r.returncode == 0, r.stderr
    assert out.read_bytes() == formats.get("ndjson").write([doc])


def test_ndjson_in_documents_batch_and_export(client, doc):
    r = client.post("/api/v1/documents?format=ndjson", data=ALL.read_bytes(), content_type="application/pdf")
    assert r.status_code == 200 and r.mimetype == "application/x-ndjson"
    unnamed = h.parse(ALL.read_bytes())  # a raw body has no name: no source_file
    assert r.data == formats.get("ndjson").write([unnamed])
    assert "document.ndjson" in r.headers["Content-Disposition"]

    files = [
        (io.BytesIO(ALL.read_bytes()), "a.pdf"),
        (io.BytesIO(ALL_PW.read_bytes()), "b.pdf"),
        (io.BytesIO(b"not a pdf"), "c.pdf"),
    ]
    r = client.post(
        "/api/v1/batch", data={"file": files, "password": "1234567", "format": "ndjson", "mask": "true"}
    )
    assert r.status_code == 200 and r.mimetype == "application/x-ndjson"
    assert (r.headers["X-Batch-OK"], r.headers["X-Batch-Failed"]) == ("2", "1")
    both = [
        h.service.parse(ALL.read_bytes(), name="a.pdf").document,
        h.service.parse(ALL_PW.read_bytes(), "1234567", name="b.pdf").document,
    ]
    assert r.data == formats.get("ndjson").write(both, mask=True)
    assert len({ln["document"]["seq"] for ln in _lines(r.data)}) == 2

    parts = [(io.BytesIO(h.extract(ALL)), "a.xml")]
    r = client.post("/api/v1/export", data={"file": parts, "format": "ndjson"})
    assert r.status_code == 200 and r.mimetype == "application/x-ndjson"
    assert len(_lines(r.data)) == len(h.formats.rows.rows([doc]))


def test_formats_export_is_a_deprecated_reexport_of_the_per_format_modules():
    """Issue 20: one module per format; ``formats.export`` stays importable for one release, warns,
    and serves the very same writers."""
    import importlib
    import sys

    from hometax_decrypt.formats import csv as csv_format
    from hometax_decrypt.formats import json as json_format
    from hometax_decrypt.formats import xlsx as xlsx_format

    sys.modules.pop("hometax_decrypt.formats.export", None)
    with pytest.warns(DeprecationWarning, match="formats.export is deprecated"):
        export = importlib.import_module("hometax_decrypt.formats.export")
    assert export.to_csv is csv_format.to_csv and export.to_json is json_format.to_json
    assert export.to_xlsx is xlsx_format.to_xlsx and export.XlsxBook is xlsx_format.XlsxBook
