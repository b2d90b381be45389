"""The real stack: nginx (TLS, limits, static page) over two gunicorn instances on Unix sockets.

Started once per session by the ``stack`` fixture (tests/stack.py, the code path of ``make up``);
the tests that kill processes start a second stack of their own so the shared one stays whole.
"""

from __future__ import annotations

import io
import json
import os
import signal
import socket
import ssl
import warnings
import zipfile
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from urllib.parse import quote

import openpyxl
import pikepdf
import pytest
import requests

import hometax_decrypt as h
from hometax_decrypt import errors
from hometax_decrypt.formats import rows as rows_format
from tests.support import builder
from tests.support.paths import SAMPLES, password_for, sample_files
from tests.support.stack import (
    ROOT,
    ClientThreads,
    PostLoad,
    gone,
    kill_instance_under_load,
    poll,
    post_pdf,
    retried_requests,
    stack_fixture_body,
)

pytestmark = pytest.mark.stack

ALL = SAMPLES / "nts-2020" / "all.pdf"
ALL_PW = SAMPLES / "nts-2020" / "all-password-1234567.pdf"
EXPECTED_XML = (SAMPLES / "nts-2020" / "all.expected.euc-kr.xml").read_bytes()
EXPECTED_SAM = (SAMPLES / "nts-2020" / "all.expected.euc-kr.sam").read_bytes()
# A password that cannot be confused with anything else in a file (the samples' 1234567 is part of
# the resident number 7501011234567 and of many other digit runs).
DISTINCT_PW = "분홍고래-Qx7-비밀"
SECURITY_HEADERS = (
    "Strict-Transport-Security",
    "X-Content-Type-Options",
    "X-Frame-Options",
    "Referrer-Policy",
    "Content-Security-Policy",
)


@pytest.fixture(scope="module")
def s(stack):
    return stack.session()


@pytest.fixture(scope="module")
def distinct_pdf() -> bytes:
    return builder.build_nts_pdf(encryption="aes-256", user_password=DISTINCT_PW)


def assert_error(r: requests.Response, status: int, code: str) -> dict:
    assert r.status_code == status, r.text[:300]
    assert r.headers["Content-Type"].startswith("application/json")
    body = r.json()
    assert set(body) == {"error"} and body["error"]["code"] == code
    assert {"code", "nts_code", "message"} <= set(body["error"])
    return body["error"]


# -- every endpoint ------------------------------------------------------------------------------


@pytest.mark.parametrize("path", sample_files(), ids=lambda p: str(p.relative_to(SAMPLES)))
def test_extract_and_verify_every_sample(stack, s, path):
    pw = password_for(path)
    data = path.read_bytes()
    r = post_pdf(s, stack, "extract", data, pw)
    assert r.status_code == 200 and r.content == h.extract(path, password=pw)
    assert r.headers["X-NTS-Return-Code"] == "1"
    v = post_pdf(s, stack, "verify", data)
    assert v.status_code == 200 and v.json()["authentic"] is True


def test_extract_byte_exact_raw_and_multipart(stack, s):
    data = ALL.read_bytes()
    r = post_pdf(s, stack, "extract", data, encoding="euc-kr")
    assert r.content == EXPECTED_XML and r.headers["Content-Type"] == "application/xml; charset=euc-kr"
    r = post_pdf(s, stack, "extract", data, part="sam", encoding="euc-kr")
    assert r.content == EXPECTED_SAM
    r = s.post(
        stack.url("/api/v1/extract"),
        files={"file": ("all.pdf", data)},
        data={"encoding": "euc-kr"},
        timeout=60,
    )
    assert r.status_code == 200 and r.content == EXPECTED_XML
    r = s.post(
        stack.url("/api/v1/extract"),
        files={"file": ("p.pdf", ALL_PW.read_bytes())},
        data={"encoding": "euc-kr", "part": "sam", "password": "1234567"},
        timeout=60,
    )
    assert r.status_code == 200 and r.content == h.extract(ALL_PW, "1234567", "sam", "euc-kr")


def test_password_errors_and_url_refusal(stack, s):
    data = ALL_PW.read_bytes()
    assert assert_error(post_pdf(s, stack, "extract", data), 422, "password_required")["nts_code"] == -1
    assert_error(post_pdf(s, stack, "extract", data, "7654321"), 422, "wrong_password")
    r = s.post(
        stack.url("/api/v1/extract?password=1234567"),
        data=data,
        headers={"Content-Type": "application/pdf"},
        timeout=60,
    )
    assert_error(r, 400, "usage")


def test_documents_decrypt_and_formats(stack, s):
    data = ALL_PW.read_bytes()
    r = post_pdf(s, stack, "documents", data, "1234567")
    assert r.status_code == 200 and r.json()["documents"][0]["doc"]["att_year"] == "2020"
    r = post_pdf(s, stack, "documents", data, "1234567", format="csv", mask="true")
    assert r.status_code == 200 and r.headers["Content-Type"].startswith("text/csv")
    assert b"7501011234567" not in r.content and "고길동".encode() in r.content
    r = s.post(
        stack.url("/api/v1/documents"),
        files={"file": ("a.pdf", data)},
        data={"password": "1234567", "format": "xlsx"},
        timeout=60,
    )
    assert r.status_code == 200 and openpyxl.load_workbook(io.BytesIO(r.content)).sheetnames
    r = post_pdf(s, stack, "decrypt", data, "1234567")
    assert r.status_code == 200 and r.headers["Content-Type"] == "application/pdf"
    with pikepdf.open(io.BytesIO(r.content)) as pdf:
        assert not pdf.is_encrypted
    assert h.extract(r.content) == h.extract(ALL_PW, password="1234567")


def _zip(entries: dict[str, bytes]) -> bytes:
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", zipfile.ZIP_DEFLATED) as zf:
        for name, content in entries.items():
            zf.writestr(name, content)
    return buf.getvalue()


def test_batch_multipart_and_zip(stack, s, distinct_pdf):
    files = [
        ("file", ("all.pdf", ALL.read_bytes())),
        ("file", ("pw.pdf", ALL_PW.read_bytes())),
        ("file", ("d.pdf", distinct_pdf)),
        ("file", ("broken.pdf", builder.random_bytes())),
    ]
    passwords = json.dumps({"pw.pdf": "1234567", "d.pdf": DISTINCT_PW}, ensure_ascii=False)
    r = s.post(stack.url("/api/v1/batch"), files=files, data={"passwords": passwords}, timeout=60)
    body = r.json()
    assert r.status_code == 200 and (body["ok"], body["failed"]) == (3, 1)
    assert [f["ok"] for f in body["files"]] == [True, True, True, False]
    assert body["files"][3]["error"]["code"] == "damaged"

    z = _zip({"a/all.pdf": ALL.read_bytes(), "a/pw.pdf": ALL_PW.read_bytes()})
    r = s.post(
        stack.url("/api/v1/batch"),
        data=z,
        params={"format": "xlsx"},
        headers={
            "Content-Type": "application/zip",
            "X-Document-Passwords": json.dumps({"pw.pdf": "1234567"}),
        },
        timeout=60,
    )
    assert r.status_code == 200 and r.headers["X-Batch-OK"] == "2"
    assert openpyxl.load_workbook(io.BytesIO(r.content)).sheetnames


def test_batch_zip_limits(stack, s):
    # the test stack allows 30 files and 40 MiB in all; the ratio limit is the default 50
    e = assert_error(
        s.post(
            stack.url("/api/v1/batch"),
            data=_zip({f"{i}.pdf": b"x" for i in range(31)}),
            headers={"Content-Type": "application/zip"},
            timeout=60,
        ),
        413,
        "too_large",
    )
    assert "too many files" in e["message"]
    e = assert_error(
        s.post(
            stack.url("/api/v1/batch"),
            data=_zip({"z.pdf": bytes(20 << 20)}),
            headers={"Content-Type": "application/zip"},
            timeout=60,
        ),
        413,
        "too_large",
    )
    assert "ratio" in e["message"]
    entry = os.urandom(96 * 1024) + bytes(3 << 20)  # ~33:1, under the ratio limit
    e = assert_error(
        s.post(
            stack.url("/api/v1/batch"),
            data=_zip({f"{i}.pdf": entry for i in range(14)}),
            headers={"Content-Type": "application/zip"},
            timeout=60,
        ),
        413,
        "too_large",
    )
    assert "total size" in e["message"]


def test_batch_with_many_failed_long_names_is_answered(stack, s):
    """X-Batch-Errors listed failed file names: 29 long Korean names passed nginx's proxy header
    buffer ("upstream sent too big header", 502/503). Now it holds counts per error code."""
    files = [("file", (f"{'가나다라마바사' * 20}-{i}.pdf", builder.random_bytes())) for i in range(29)]
    files.append(("file", ("all.pdf", ALL.read_bytes())))
    for fmt in ("csv", "xlsx"):
        r = s.post(stack.url("/api/v1/batch"), files=files, data={"format": fmt}, timeout=60)
        assert r.status_code == 200, r.text[:300]
        assert (r.headers["X-Batch-OK"], r.headers["X-Batch-Failed"]) == ("1", "29")
        assert json.loads(r.headers["X-Batch-Errors"]) == {"damaged": 29}
    r = s.post(stack.url("/api/v1/batch"), files=files, timeout=60)  # JSON: the names, per file
    assert r.status_code == 200 and len(r.json()["files"]) == 30


def test_export_through_nginx(stack, s):
    parts = [h.extract(ALL), h.extract(ALL_PW.read_bytes(), password="1234567")]
    r = s.post(
        stack.url("/api/v1/export"),
        files=[("file", (f"{i}.xml", x)) for i, x in enumerate(parts)],
        data={"format": "xlsx", "mask": "true"},
        timeout=60,
    )
    assert r.status_code == 200
    rows = list(openpyxl.load_workbook(io.BytesIO(r.content))["항목"].values)
    assert len(rows) == 2 + 2 * len(rows_format.rows([h.parse(ALL)]))  # two header rows


def test_deductions_through_nginx(stack, s):
    """POST /api/v1/deductions through nginx and gunicorn: the service's answer with the estimate; a
    bad salary is the table's 422; another method is 405 with the route table's Allow."""
    from hometax_decrypt.service import deductions as D
    from hometax_decrypt.web import routes

    url = stack.url("/api/v1/deductions")
    files = [("file", ("kim.pdf", ALL_PW.read_bytes())), ("file", ("all.pdf", ALL.read_bytes()))]
    passwords = json.dumps({"kim.pdf": "1234567"})
    r = s.post(
        url, files=files, data={"passwords": passwords, "salary": "50,000,000", "mask": "true"}, timeout=60
    )
    assert r.status_code == 200 and r.headers["Content-Type"].startswith("application/json")
    expected = D.from_documents(
        [h.parse(ALL_PW, password="1234567"), h.parse(ALL)], salary=50_000_000, mask=True
    )
    assert r.json() == json.loads(json.dumps(expected))
    figures = {f["key"]: f["amount"] for f in r.json()["returns"][0]["figures"]}
    assert figures["card.deduction"] == 6_300_000
    bad = s.post(url, files=files, data={"passwords": passwords, "salary": "-1"}, timeout=60)
    assert_error(bad, 422, "bad_salary")
    lines = {"att_year": 2023, "lines": [{"key": "card.credit.general", "period": "03", "amount": 1}]}
    lines_part = [("lines", ("lines.json", json.dumps(lines), "application/json"))]
    assert_error(s.post(url, files=lines_part, timeout=60), 422, "bad_lines")
    other = s.get(url, timeout=60)
    assert other.status_code == 405
    assert set(other.headers["Allow"].split(", ")) == set(
        routes.allow(routes.BY_ENDPOINT["deductions"]).split(", ")
    )


def test_up_fails_fast_on_a_bad_trust_dir(tmp_path):
    """A trust directory that cannot be read stops the service at start-up, instead of every
    verification answering 400 usage."""
    from tests.support.stack import start_stack

    with pytest.raises(RuntimeError, match="HOMETAX_TRUST_DIR") as info:
        start_stack(tmp_path / "run", HOMETAX_TRUST_DIR=str(tmp_path / "missing"))
    # "exited": the app server ended by itself, not the readiness timeout (a wall-clock bound here
    # would only fail on a loaded machine)
    assert "exited during start-up" in str(info.value)
    assert not (tmp_path / "run" / "stack.json").exists()  # `down` cleaned up what was started


def test_probes_docs_and_metrics(stack, s):
    assert s.get(stack.url("/healthz"), timeout=10).json() == {"status": "ok"}
    assert s.get(stack.url("/readyz"), timeout=10).json() == {"status": "ready"}
    assert "/api/v1/batch" in s.get(stack.url("/api/v1/openapi.json"), timeout=10).json()["paths"]
    assert s.get(stack.url("/api/v1/docs"), timeout=10).headers["Content-Type"].startswith("text/html")
    # metrics: loopback only (the session poses as another client address: refused)
    assert_error(s.get(stack.url("/metrics"), timeout=10), 403, "forbidden")
    local = stack.session(client_ip="127.0.0.1")

    def extract_ok() -> float:
        text = local.get(stack.url("/metrics"), timeout=10).text
        for line in text.splitlines():
            if line.startswith(
                'hometax_http_requests_total{endpoint="/api/v1/extract",method="POST",status="200"}'
            ):
                return float(line.rsplit(" ", 1)[1])
        return 0.0

    before = extract_ok()
    data = ALL.read_bytes()
    for _ in range(12):  # spread over both instances and their workers
        assert post_pdf(s, stack, "extract", data).status_code == 200
    assert extract_ok() - before == 12  # summed across every worker of both instances
    text = local.get(stack.url("/metrics"), timeout=10).text
    assert "hometax_http_request_duration_seconds_bucket" in text
    assert "7501011234567" not in text and "고길동" not in text


# -- nginx: limits, TLS, headers, static page ------------------------------------------------------


def test_30_mib_body_is_413_json_from_nginx(stack, s):
    pids = stack.all_app_pids()
    body = b"\0" * (30 * 1024 * 1024)
    r = s.post(
        stack.url("/api/v1/extract"), data=body, headers={"Content-Type": "application/pdf"}, timeout=60
    )
    e = assert_error(r, 413, "too_large")
    assert e["nts_code"] == -2
    # it names the limit and the way round it, in English and Korean (the error table's words)
    en, ko = errors.body_limit_detail(stack.config.max_body_bytes)
    assert e == errors.SPECS["too_large"].to_dict(en, ko)
    assert "MiB (HOMETAX_MAX_BODY_BYTES)" in e["message"] and "/export" in e["message_ko"]
    for name in SECURITY_HEADERS:
        assert name in r.headers
    assert stack.all_app_pids() == pids


def test_rate_limit_answers_429_json(stack):
    client = stack.session(client_ip="203.0.113.99")
    url = stack.url("/api/v1/formats")  # small and quick: the burst outruns the rate

    def burst(_):
        return [client.get(url, timeout=10) for _ in range(40)]

    with ThreadPoolExecutor(8) as pool:
        responses = [r for batch in pool.map(burst, range(8)) for r in batch]
    statuses = {r.status_code for r in responses}
    assert statuses == {200, 429}, statuses
    limited = [r for r in responses if r.status_code == 429]
    for r in limited[:5]:
        assert_error(r, 429, "rate_limited")
        assert "Strict-Transport-Security" in r.headers
        assert r.headers["Retry-After"] == str(errors.SPECS["rate_limited"].retry_after)
    # another client is not affected
    assert stack.session().get(url, timeout=10).status_code == 200


def _handshake(stack, version: ssl.TLSVersion) -> str:
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    ctx.load_verify_locations(str(stack.ca_file))
    ctx.set_ciphers("ALL:@SECLEVEL=0")  # the client would offer anything: the server must refuse
    with warnings.catch_warnings():  # TLS 1.0/1.1 are deprecated: that is the point
        warnings.simplefilter("ignore", DeprecationWarning)
        ctx.minimum_version = version
        ctx.maximum_version = version
    with socket.create_connection(("127.0.0.1", stack.https_port), timeout=5) as raw:
        with ctx.wrap_socket(raw, server_hostname="127.0.0.1") as tls:
            return tls.version()


def test_tls_versions(stack):
    assert _handshake(stack, ssl.TLSVersion.TLSv1_2) == "TLSv1.2"
    assert _handshake(stack, ssl.TLSVersion.TLSv1_3) == "TLSv1.3"
    for old in (ssl.TLSVersion.TLSv1, ssl.TLSVersion.TLSv1_1):
        with pytest.raises(ssl.SSLError) as exc:
            _handshake(stack, old)
        assert "ALERT_PROTOCOL_VERSION" in str(exc.value)  # refused by the server, not the client


def test_http_redirects_to_https(stack):
    s = stack.session()
    # To the configured server name (localhost here), never the query string (issue 14: 3, 10).
    https_base = f"https://localhost:{stack.https_port}"
    r = s.get(stack.http_url + "/api/v1/docs?part=xml", allow_redirects=False, timeout=10)
    assert r.status_code == 301
    assert r.headers["Location"] == https_base + "/api/v1/docs"
    assert s.get(stack.http_url + "/api/v1/docs", timeout=10).url == https_base + "/api/v1/docs"
    r = s.post(stack.http_url + "/api/v1/extract", data=b"x", allow_redirects=False, timeout=10)
    assert r.status_code == 301  # nothing is served over plain HTTP


def test_security_and_cache_headers(stack, s):
    page = s.get(stack.url("/"), timeout=10)
    assert page.status_code == 200 and page.headers["Content-Type"].startswith("text/html")
    assert page.content == (ROOT / "web" / "index.html").read_bytes()
    assert page.headers["Cache-Control"] == "no-cache"
    assert "Last-Modified" in page.headers and "ETag" in page.headers
    assets = sorted(p for p in (ROOT / "web").iterdir() if p.is_file() and p.name != "index.html")
    assert assets, "web/ holds the page's assets"
    asset = s.get(stack.url("/" + assets[0].name), timeout=10)
    assert asset.status_code == 200 and asset.content == assets[0].read_bytes()
    assert asset.headers["Cache-Control"] == "max-age=3600"
    api = s.get(stack.url("/api/v1/openapi.json"), timeout=10)
    missing = s.get(stack.url("/no-such-file.js"), timeout=10)
    assert_error(missing, 404, "not_found")
    for r in (page, asset, api, missing):
        hsts = r.headers["Strict-Transport-Security"]
        assert int(hsts.split("max-age=")[1].split(";")[0]) >= 31536000
        assert r.headers["X-Content-Type-Options"] == "nosniff"
        assert r.headers["X-Frame-Options"] == "DENY"
        assert "frame-ancestors 'none'" in r.headers["Content-Security-Policy"]
        assert r.headers.get("Server") == "nginx"  # no version


# -- hostile input -------------------------------------------------------------------------------


def test_hostile_uploads_get_their_status_and_no_worker_dies(stack, s, bomb):
    before = (stack.worker_pids(), stack.app_pids)
    cases = [
        (bomb, 413, "too_large"),
        (builder.random_bytes(), 422, "damaged"),
        (builder.truncated(ALL.read_bytes(), 0.4), 422, "damaged"),
        (builder.plain_pdf(), 422, "not_nts_document"),
    ]
    cases += [
        (builder.broken_custom_files_pdf(k), 422, "damaged")
        for k in ("not_array", "corrupt_stream", "truncated_stream", "bad_filter")
    ]
    for data, status, code in cases:
        for endpoint in ("extract", "documents"):
            assert_error(post_pdf(s, stack, endpoint, data), status, code)
    r = s.post(
        stack.url("/api/v1/extract"),
        data=b"--x\r\nbroken multipart",
        headers={"Content-Type": "multipart/form-data; boundary=x"},
        timeout=30,
    )
    assert_error(r, 400, "usage")
    assert (stack.worker_pids(), stack.app_pids) == before
    assert post_pdf(s, stack, "extract", ALL.read_bytes()).status_code == 200


def _slow_client(stack) -> ssl.SSLSocket:
    ctx = ssl.create_default_context(cafile=str(stack.ca_file))
    raw = socket.create_connection(("127.0.0.1", stack.https_port), timeout=30)
    tls = ctx.wrap_socket(raw, server_hostname="127.0.0.1")
    tls.sendall(
        b"POST /api/v1/extract HTTP/1.1\r\nHost: 127.0.0.1\r\n"
        b"Content-Type: application/pdf\r\nContent-Length: 800000\r\n"
        b"X-Forwarded-For: 192.0.2.77\r\n\r\n%PDF-1.7\n"
    )
    return tls


def test_slow_clients_do_not_block_others(stack, s):
    workers = sum(len(w) for w in stack.worker_pids().values())
    slow = [_slow_client(stack) for _ in range(workers + 2)]  # more than every app worker
    try:
        data = ALL.read_bytes()
        for _ in range(6):
            assert post_pdf(s, stack, "extract", data).status_code == 200
        for sock in slow:  # still trickling
            sock.sendall(b"0" * 10)
    finally:
        for sock in slow:
            sock.close()


def test_app_servers_listen_on_no_tcp_port(stack):
    listening = set()
    for table in ("/proc/net/tcp", "/proc/net/tcp6"):
        with open(table) as fh:
            for line in list(fh)[1:]:
                cols = line.split()
                if cols[3] == "0A":  # LISTEN
                    listening.add(cols[9])
    unix_paths = Path("/proc/net/unix").read_text()
    for i, pid in stack.app_pids.items():
        assert f"app-{i}.sock" in unix_paths
        for p in [pid] + stack.worker_pids()[i]:
            inodes = {
                os.readlink(f"/proc/{p}/fd/{fd}")[8:-1]
                for fd in os.listdir(f"/proc/{p}/fd")
                if os.readlink(f"/proc/{p}/fd/{fd}").startswith("socket:[")
            }
            assert inodes, "the app server holds its Unix socket"
            assert not inodes & listening, f"pid {p} listens on a TCP port"


# -- privacy (runs after the tests above: it scans what they left) --------------------------------

FORBIDDEN = [
    b"7501011234567",
    b"750101-1234567",
    "고길동".encode(),
    "고길동".encode("cp949"),
    b"8001011234567",
    "김테스트".encode(),
    "김테스트".encode("cp949"),
    DISTINCT_PW.encode("utf-8"),
    quote(DISTINCT_PW).encode(),
    b"Qx7-",
]


def test_nothing_personal_on_disk_or_in_logs(stack, s, distinct_pdf):
    # the log checks below read only what was written during this test (from these offsets) and
    # count this test's own answers: they do not depend on what earlier tests sent
    access_from = stack.access_log.stat().st_size
    app_from = {log: log.stat().st_size for log in stack.app_logs}
    answered: list[tuple[str | None, int]] = []

    def note(r, *args, **kwargs):
        answered.append((r.headers.get("X-Request-ID"), r.status_code))

    s.hooks["response"].append(note)
    # uploads with the distinctive password: header, form field, batch map, and a wrong attempt
    assert post_pdf(s, stack, "extract", distinct_pdf, DISTINCT_PW).status_code == 200
    r = s.post(
        stack.url("/api/v1/documents"),
        files={"file": ("고길동 7501011234567.pdf", distinct_pdf)},
        data={"password": DISTINCT_PW},
        timeout=30,
    )
    assert r.status_code == 200
    assert_error(post_pdf(s, stack, "extract", distinct_pdf, DISTINCT_PW + "x"), 422, "wrong_password")
    r = s.post(
        stack.url("/api/v1/batch"),
        files=[("file", ("d.pdf", distinct_pdf))],
        data={"passwords": json.dumps({"d.pdf": DISTINCT_PW})},
        timeout=30,
    )
    assert r.json()["ok"] == 1
    assert post_pdf(s, stack, "extract", ALL_PW.read_bytes(), "1234567").status_code == 200
    # a client that puts the password in the URL is refused, and the URL is not kept either
    r = s.post(
        stack.url("/api/v1/extract"),
        params={"password": DISTINCT_PW},
        data=distinct_pdf,
        headers={"Content-Type": "application/pdf"},
        timeout=30,
    )
    assert_error(r, 400, "usage")
    # ... even when the body is too large, which nginx itself would otherwise log with the request line
    r = s.post(
        stack.url("/api/v1/extract"),
        params={"password": DISTINCT_PW},
        data=b"%PDF-" + bytes(26 * 1024 * 1024),
        headers={"Content-Type": "application/pdf"},
        timeout=60,
    )
    assert_error(r, 400, "usage")
    # ... and under other spellings: percent-encoded key, after a ';', in an unknown parameter, on
    # the page's paths too (a blocklist of "password=" let these through to the error log)
    secret = quote(DISTINCT_PW, safe="")
    for path in ("/api/v1/extract", "/api/v1/batch", "/", "/app.js"):
        for query in (
            f"pass%77ord={secret}",
            f"x=1;password={secret}",
            f"part=xml;password={secret}",
            f"PassWord={secret}",
            f"pw={secret}",
            f"format=json&p={secret}",
        ):
            for body in (distinct_pdf, b"%PDF-" + bytes(26 * 1024 * 1024)):
                r = s.post(
                    f"{stack.base_url}{path}?{query}",
                    data=body,
                    headers={"Content-Type": "application/pdf"},
                    timeout=60,
                )
                assert_error(r, 400, "usage")
        assert_error(s.get(f"{stack.base_url}{path}?pass%77ord={secret}", timeout=10), 400, "usage")
    # the API's own parameters still pass
    last = post_pdf(s, stack, "extract", ALL.read_bytes(), part="xml", encoding="euc-kr")
    assert last.content == EXPECTED_XML
    # nginx has written its access log lines once the last request's line is there (poll, no sleep)
    rid = last.headers["X-Request-ID"].encode()
    assert poll(lambda: rid in stack.access_log.read_bytes())

    scanned = 0
    for path in stack.run_dir.rglob("*"):
        if not path.is_file():  # sockets, directories
            continue
        content = path.read_bytes()
        scanned += 1
        for needle in FORBIDDEN:
            assert needle not in content, f"{needle!r} found in {path.relative_to(stack.run_dir)}"
    assert scanned >= 5
    # uploads stayed in memory: the app's TMPDIR and nginx's temp paths are empty
    assert list((stack.run_dir / "tmp").iterdir()) == []
    for d in (stack.run_dir / "nginx-tmp").iterdir():
        assert list(d.rglob("*")) == [], d

    # logs: one JSON object per line; request lines carry id, method, path, status, duration, size
    assert len(answered) > 50
    lines = stack.access_log.read_bytes()[access_from:].decode().splitlines()
    for line in lines:
        entry = json.loads(line)
        assert {"id", "method", "path", "status", "duration", "size", "error"} <= set(entry)
        assert "?" not in entry["path"]
    # nginx logged every request of this test (its own 400s carry no X-Request-ID: counted by number)
    assert sorted(json.loads(line)["status"] for line in lines) == sorted(status for _, status in answered)
    logged = {json.loads(line)["id"]: json.loads(line) for line in lines}
    assert any(entry["error"] == "wrong_password" for entry in logged.values())
    # the app logged every request it answered, with the status the client got, once it had
    # answered it: poll
    by_app = {rid: status for rid, status in answered if rid}
    assert len(by_app) >= 5 and all(logged[rid]["status"] == status for rid, status in by_app.items())

    def app_entries() -> dict[str, dict]:
        found = {}
        for log in stack.app_logs:
            text = log.read_bytes()[app_from.get(log, 0) :].decode()
            for line in text.split("\n")[:-1]:  # whole lines only (one may be half written)
                entry = json.loads(line)
                if entry.get("logger") == "hometax.request":
                    found[entry["id"]] = entry
        return found

    assert stack.app_logs
    assert poll(lambda: set(by_app) <= set(app_entries()))
    app_logged = app_entries()
    for rid, status in by_app.items():
        assert {"id", "method", "path", "status", "duration_ms", "size", "error"} <= set(app_logged[rid])
        assert app_logged[rid]["status"] == status
    for log in stack.app_logs:
        assert log.stat().st_mode & 0o777 == 0o640, log  # not world-readable, though gunicorn's umask is 0


# -- killing processes: on a stack of its own -----------------------------------------------------


@pytest.fixture(scope="module")
def own_stack(tmp_path_factory):
    yield from stack_fixture_body(tmp_path_factory, "kill-run")


class Load(ClientThreads):
    """Clients posting extract requests until stopped; counts what failed."""

    def __init__(self, stack, clients: int = 4):
        super().__init__(clients)
        self.stack = stack
        self.ok = self.failed = 0
        self.data = ALL.read_bytes()

    def run(self):
        s = self.stack.session()
        while not self.stop_event.is_set():
            try:
                r = post_pdf(s, self.stack, "extract", self.data)
                good = r.status_code == 200 and r.content == EXPECTED_UTF8
            except requests.RequestException:
                good = False
            with self.lock:
                if good:
                    self.ok += 1
                else:
                    self.failed += 1


EXPECTED_UTF8 = h.extract(ALL)


@pytest.fixture
def whole_stack(own_stack):
    """The kill tests' stack, whole again (every instance running and ready) before each test, so
    that no test depends on what another killed or on their order."""
    own_stack.wait_whole()
    return own_stack


def _wait_for_count(load, attr: str, at_least: int, seconds: float = 60) -> None:
    assert poll(lambda: getattr(load, attr) >= at_least, seconds), (load.ok, load.failed)


def test_worker_sigkill_under_load(whole_stack):
    own_stack = whole_stack
    workers = own_stack.worker_pids()
    victim = workers[1][0]
    with Load(own_stack) as load:
        _wait_for_count(load, "ok", 4)  # the load runs
        ok_before = load.ok
        os.kill(victim, signal.SIGKILL)
        _wait_for_count(load, "ok", ok_before + 12)  # ... and goes on
    assert ok_before > 0
    # not even the request the victim was handling fails: nginx passes it to another worker
    assert load.failed == 0, (load.ok, load.failed)
    assert load.ok > ok_before
    assert poll(lambda: len(own_stack.worker_pids()[1]) == len(workers[1]))
    assert victim not in own_stack.worker_pids()[1]
    assert own_stack.worker_pids()[2] == workers[2]  # the other instance was not touched


def test_whole_instance_killed_next_requests_go_to_the_other_and_it_comes_back(whole_stack):
    """As in production (systemd Restart=always), a killed app-server instance is started again:
    by supervisord under `make up`. Meanwhile nginx sends every request to the other one."""
    own_stack = whole_stack
    master = own_stack.app_pids[2]
    os.killpg(master, signal.SIGKILL)  # the master and all its workers
    assert poll(lambda: gone(master))
    s = own_stack.session()
    data = ALL.read_bytes()
    results = [post_pdf(s, own_stack, "extract", data) for _ in range(12)]
    assert [r.status_code for r in results] == [200] * 12
    assert all(r.content == EXPECTED_UTF8 for r in results)
    # it comes back by itself: a new master, ready, and the stack's status whole again
    new = own_stack.wait_whole()
    assert new[2] != master and new[1] == own_stack.app_pids[1]
    status = own_stack.run("status")
    assert status.returncode == 0, status.stdout
    assert "NOT running" not in status.stdout


@pytest.mark.parametrize("instance", [1, 2])
def test_killing_an_instance_under_load_costs_no_request(whole_stack, instance):
    """Clients post without pause while an instance (master and workers) is killed with requests
    in it, and while supervisord starts it again: every request is answered 200."""
    with PostLoad(whole_stack, ALL.read_bytes(), EXPECTED_UTF8) as load:
        kill_instance_under_load(whole_stack, instance, load)
    assert load.failures == [], (load.ok, load.failures, retried_requests(whole_stack))


def test_down_stops_everything(tmp_path_factory):
    """On a stack of its own: stopping it must not cost the other tests theirs."""
    for own_stack in stack_fixture_body(tmp_path_factory, "down-run"):
        own_stack.wait_whole()
        pids = [own_stack.nginx_pid, own_stack.supervisord_pid] + own_stack.all_app_pids()
        assert own_stack.run("down").returncode == 0
        assert all(gone(p) for p in pids)
        assert not (own_stack.run_dir / "stack.json").exists()
        assert own_stack.run("status").returncode == 3


def test_up_refuses_to_listen_beyond_loopback_without_keys(tmp_path):
    import subprocess

    from tests.support.stack import STACK_CMD

    env = {k: v for k, v in os.environ.items() if not k.startswith("HOMETAX_")}
    env.update(
        HOMETAX_RUN_DIR=str(tmp_path / "run"),
        HOMETAX_LISTEN="0.0.0.0",
        HOMETAX_HTTPS_PORT="1",
        HOMETAX_HTTP_PORT="2",
    )
    r = subprocess.run([*STACK_CMD, "up"], env=env, capture_output=True, text=True, timeout=60)
    assert r.returncode == 2 and "HOMETAX_API_KEYS" in r.stderr
    assert not (tmp_path / "run").exists()  # nothing started, nothing written
