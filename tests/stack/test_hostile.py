"""What a hostile or careless client could still do to the service (issue 14), each closed and kept
closed: against the real stack (nginx + gunicorn on loopback, tests/stack.py) with files this suite
builds, and, for the core's gates, against the library in a process of its own.

Also the contracts nginx shares with the app (issue 12, item 4): nginx's JSON error bodies are
rendered from the one error table and its query allowlist from the app's; the tests here prove both.
"""

from __future__ import annotations

import io
import json
import re
import socket
import ssl
import struct
import subprocess
import sys
import threading
import uuid
import zipfile
import zlib
from urllib.parse import quote

import pikepdf
import pytest

import hometax_decrypt as h
from hometax_decrypt import errors
from hometax_decrypt.document.limits import Limits
from hometax_decrypt.document.pdf import declared_objects, open_document
from hometax_decrypt.settings import Settings
from hometax_decrypt.web import http_errors, inputs
from tests.support import builder
from tests.support.paths import PRINT_PEAK_RSS_KIB, ROOT, SAMPLES
from tests.support.stack import poll

ALL = SAMPLES / "nts-2020" / "all.pdf"
ALL_PW = SAMPLES / "nts-2020" / "all-password-1234567.pdf"
KOREAN = "홍길동_연말정산"


# -- helpers --------------------------------------------------------------------------------------


def raw(stack, request: bytes, tls: bool = True, timeout: float = 15) -> tuple[int, dict, bytes]:
    """Send ``request`` as it is (requests/urllib would fix what we break) and read the answer up to
    the connection's close. Returns (status, lower-cased headers, body)."""
    port = stack.https_port if tls else stack.http_port
    sock = socket.create_connection(("127.0.0.1", port), timeout=timeout)
    if tls:
        ctx = ssl.create_default_context(cafile=str(stack.ca_file))
        ctx.set_alpn_protocols(["http/1.1"])
        sock = ctx.wrap_socket(sock, server_hostname="127.0.0.1")
    with sock:
        sock.sendall(request)
        buf = b""
        while True:
            try:
                chunk = sock.recv(65536)
            except (ConnectionResetError, ssl.SSLError):
                break
            if not chunk:
                break
            buf += chunk
            if b"\r\n\r\n" in buf:
                head, body = buf.split(b"\r\n\r\n", 1)
                length = re.search(rb"(?im)^content-length:\s*(\d+)", head)
                if length and len(body) >= int(length.group(1)):
                    break
    assert b"\r\n\r\n" in buf, f"no answer: {buf[:200]!r}"
    head, body = buf.split(b"\r\n\r\n", 1)
    lines = head.decode("latin-1").split("\r\n")
    headers = {k.strip().lower(): v.strip() for k, v in (ln.split(":", 1) for ln in lines[1:])}
    return int(lines[0].split()[1]), headers, body


def assert_json_error(status: int, headers: dict, body: bytes, want_status: int, code: str) -> dict:
    assert status == want_status, body[:300]
    assert headers["content-type"].startswith("application/json"), headers
    err = json.loads(body)["error"]
    assert err["code"] == code
    return err


def multipart(parts: list[tuple[bytes, bytes, bytes | None]]) -> tuple[bytes, str]:
    """A multipart body from (field name, content, file name as raw bytes or None)."""
    boundary = uuid.uuid4().hex
    out = b""
    for name, content, filename in parts:
        out += b"--" + boundary.encode() + b'\r\nContent-Disposition: form-data; name="' + name + b'"'
        if filename is not None:
            out += b'; filename="' + filename + b'"\r\nContent-Type: application/pdf'
        out += b"\r\n\r\n" + content + b"\r\n"
    return out + b"--" + boundary.encode() + b"--\r\n", f"multipart/form-data; boundary={boundary}"


def zip_with_raw_names(entries: list[tuple[bytes, bytes]]) -> bytes:
    """A ZIP whose entry names are the given bytes with no UTF-8 flag, as Korean Windows writes
    them (CP949). zipfile would write any non-ASCII name as flagged UTF-8, so each entry is written
    under an ASCII stand-in of the same length and the name bytes are put back afterwards (the CRCs
    cover the contents, not the names)."""
    buf = io.BytesIO()
    stand_ins = []
    with zipfile.ZipFile(buf, "w", zipfile.ZIP_DEFLATED) as zf:
        for i, (name, content) in enumerate(entries):
            stand_in = (b"%02d" % i + b"#" * len(name))[: len(name)]
            assert len(stand_in) == len(name) >= 3
            stand_ins.append((stand_in, name))
            zf.writestr(stand_in.decode("ascii"), content)
    data = buf.getvalue()
    for stand_in, name in stand_ins:
        assert data.count(stand_in) == 2  # the local header and the central directory
        data = data.replace(stand_in, name)
    return data


def _logs(stack) -> str:
    return "\n".join(
        p.read_text(errors="replace")
        for p in [stack.error_log, stack.access_log, *stack.app_logs]
        if p.exists()
    )


# -- 1. an answer nginx cannot take does not take instances out of rotation ------------------------


@pytest.mark.stack
def test_long_korean_file_names_are_answered_and_cost_no_instance(stack):
    s = stack.session()
    data = ALL.read_bytes()
    expected = h.extract(data)
    name = "가" * 400 + ".pdf"  # ~3.6 KB percent-encoded: past nginx's default proxy header buffer
    for _ in range(10):  # more than max_fails per instance used to allow
        r = s.post(stack.url("/api/v1/extract"), files={"file": (name, data)}, timeout=30)
        assert r.status_code == 200, r.text[:300]
        assert r.content == expected
        disposition = r.headers["Content-Disposition"]
        assert len(disposition) < 2048 and disposition.endswith(".xml")
    # every client still gets its answer: no "no live upstreams"
    other = stack.session()
    for _ in range(6):
        r = other.post(
            stack.url("/api/v1/extract"), data=data, headers={"Content-Type": "application/pdf"}, timeout=30
        )
        assert r.status_code == 200
    log = stack.error_log.read_text(errors="replace")
    assert "too big header" not in log and "no live upstreams" not in log


def test_nginx_counts_no_upstream_failures():
    """A worker killed mid-request or an answer nginx refuses must not mark an instance down; a dead
    instance refuses connections and each request goes on to the next one."""
    stack_script = _stack_script()
    cfg = stack_script.StackConfig.from_env(
        {"HOMETAX_RUN_DIR": "/tmp/hometax-render-check", "HOMETAX_INSTANCES": "3"}
    )
    conf = stack_script.render_nginx(cfg, None)
    servers = re.findall(r"^\s*server unix:(\S+) (.*);$", conf, re.M)
    assert len(servers) == 3 and all(opts == "max_fails=0" for _, opts in servers)
    assert re.search(r"proxy_buffer_size 32k;", conf)
    # a POST a killed instance dropped goes to the next one (every operation is free of side
    # effects); no http_5xx: app-level answers are passed on
    assert re.search(r"proxy_next_upstream error timeout non_idempotent;", conf)


# -- 2. /decrypt: bounded work on hostile streams --------------------------------------------------


def doubled_flate_pdf(streams: int) -> tuple[bytes, bytes]:
    """An NTS document plus ``streams`` streams of 240 bytes, each Flate inside Flate of 60 MiB of
    zeros. Returns (the PDF, one stream's stored bytes)."""
    pdf = pikepdf.open(io.BytesIO(builder.build_nts_pdf()))
    stored = zlib.compress(zlib.compress(bytes(60 << 20), 9), 9)
    for i in range(streams):
        st = pikepdf.Stream(pdf, stored)
        st.Filter = pikepdf.Array([pikepdf.Name.FlateDecode, pikepdf.Name.FlateDecode])
        pdf.Root[pikepdf.Name(f"/Junk{i}")] = pdf.make_indirect(st)
    out = io.BytesIO()
    pdf.save(out, compress_streams=False, stream_decode_level=pikepdf.StreamDecodeLevel.none)
    return out.getvalue(), stored


def test_decrypt_writes_streams_as_stored(all_2020_password):
    data, stored = doubled_flate_pdf(3)
    with open_document(data) as doc:
        out = doc.decrypted_pdf()
    with pikepdf.open(io.BytesIO(out)) as pdf:
        for i in range(3):
            assert pdf.Root[f"/Junk{i}"].read_raw_bytes() == stored  # never inflated
    # an encrypted document still comes out without its password, its data part intact
    with open_document(all_2020_password, "1234567") as doc:
        out = doc.decrypted_pdf()
    assert h.extract(out) == h.extract(all_2020_password, password="1234567")


@pytest.mark.stack
def test_decrypt_of_doubled_flate_streams_starves_nobody(stack):
    data, _ = doubled_flate_pdf(3500)  # ~1.3 MB: 3500 × 120 MiB of inflating for a re-save
    answers: list = []

    def post():
        r = stack.session().post(
            stack.url("/api/v1/decrypt"), data=data, headers={"Content-Type": "application/pdf"}, timeout=60
        )
        answers.append((r.status_code, len(r.content)))

    threads = [threading.Thread(target=post) for _ in range(4)]
    for t in threads:
        t.start()
    r = stack.session().post(
        stack.url("/api/v1/extract"),
        data=ALL.read_bytes(),
        headers={"Content-Type": "application/pdf"},
        timeout=60,
    )
    for t in threads:
        t.join(90)
    assert r.status_code == 200
    assert [a[0] for a in answers] == [200] * 4, answers
    assert all(a[1] < 2 * len(data) for a in answers)


# -- 3. plain HTTP: the same query rules, nothing logged or echoed ---------------------------------


@pytest.mark.stack
def test_plain_http_never_logs_or_echoes_a_query(stack):
    secret = f"pw{uuid.uuid4().hex[:12]}"
    big = 30 * 1024 * 1024
    for tls in (False, True):
        # a body past the size limit: the limit's error line would carry the request line
        st, hd, body = raw(
            stack,
            f"POST /api/v1/extract?password={secret} HTTP/1.1\r\nHost: x\r\n"
            f"Content-Type: application/pdf\r\nContent-Length: {big}\r\n"
            f"Connection: close\r\n\r\n".encode()
            + b"%PDF-" * 100,
            tls=tls,
        )
        err = assert_json_error(st, hd, body, 400, "usage")
        assert "query" in err["message"] and secret not in body.decode()
        # a broken chunked body
        st, hd, body = raw(
            stack,
            f"POST /api/v1/extract?password={secret} HTTP/1.1\r\nHost: x\r\n"
            "Transfer-Encoding: chunked\r\nConnection: close\r\n\r\n"
            "zz\r\nbroken\r\n0\r\n\r\n".encode(),
            tls=tls,
        )
        assert st == 400 and hd["content-type"].startswith("application/json")
        # percent-encoded, after a ';'
        st, hd, body = raw(
            stack,
            f"GET /%70assword;x?%70assword={secret} HTTP/1.1\r\nHost: x\r\n"
            "Connection: close\r\n\r\n".encode(),
            tls=tls,
        )
        assert st == 400 and secret not in body.decode()
    # an allowed query is not echoed into Location either
    st, hd, _ = raw(
        stack, b"GET /api/v1/docs?part=xml HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n", tls=False
    )
    assert st == 301 and "?" not in hd["location"] and hd["location"].endswith("/api/v1/docs")
    # nginx writes its log lines before it answers
    assert secret not in _logs(stack)


# -- 4. the object count, before qpdf builds the cross-reference table ----------------------------


def xref_flood(objects: int, pad: int) -> bytes:
    """A PDF whose xref stream lists ``objects`` objects in an object stream (all rows alike, so the
    xref compresses to almost nothing). qpdf wants a file about as large as its object count:
    ``pad`` bytes of comment."""
    out = bytearray(b"%PDF-1.5\n%\xe2\xe3\xcf\xd3\n")
    offsets = []
    for body in (b"<< /Type /Catalog /Pages 2 0 R >>", b"<< /Type /Pages /Kids [] /Count 0 >>"):
        offsets.append(len(out))
        out += b"%d 0 obj\n%s\nendobj\n" % (len(offsets), body)
    header = b"4 0\n"
    content = zlib.compress(header + b"null")
    offsets.append(len(out))
    out += (
        b"3 0 obj\n<< /Type /ObjStm /N 1 /First %d /Filter /FlateDecode /Length %d >>\nstream\n"
        % (len(header), len(content))
        + content
        + b"\nendstream\nendobj\n"
    )
    size = objects + 5
    rows = struct.pack(">BIH", 0, 0, 65535) + b"".join(struct.pack(">BIH", 1, o, 0) for o in offsets)
    rows += struct.pack(">BIH", 2, 3, 0) * (size - 5)
    out += b"%" + b"-" * pad + b"\n"  # not white space: that would count as syntax (HOMETAX_MAX_PDF_TOKENS)
    xref_at = len(out)
    rows += struct.pack(">BIH", 1, xref_at, 0)
    data = zlib.compress(rows, 9)
    out += (
        b"%d 0 obj\n<< /Type /XRef /Size %d /W [1 4 2] /Root 1 0 R /Filter /FlateDecode "
        b"/Length %d >>\nstream\n" % (size - 1, size, len(data)) + data + b"\nendstream\nendobj\n"
    )
    out += b"startxref\n%d\n%%%%EOF\n" % xref_at
    return bytes(out)


def test_declared_objects_read_from_the_xref_sections():
    for path in sorted(SAMPLES.rglob("*.pdf")):
        data = path.read_bytes()
        with pikepdf.open(io.BytesIO(data), password="1234567") as pdf:
            assert declared_objects(data) == len(pdf.get_xref_table()) + 1, path  # + the free entry 0
    assert declared_objects(xref_flood(50_000, 0)) == 50_005
    assert declared_objects(builder.size_lie_pdf(5_000)) == 5_003  # the table, not the /Size 3
    with pytest.raises(errors.TooLarge, match="too many objects"):
        open_document(xref_flood(50_000, 400_000), limits=Limits(max_objects=10_000))


_FLOOD_RUN = (
    """
from tests.stack.test_hostile import xref_flood  # cwd is the repository root
from hometax_decrypt import errors, open_document
data = xref_flood(1_000_000, 4_000_000) if {flood!r} else open({sample!r}, "rb").read()
try:
    open_document(data).close()
    print("opened")
except errors.TooLarge as exc:
    print(exc.code)
"""
    + PRINT_PEAK_RSS_KIB
)


def _run_peak(flood: bool) -> tuple[str, int]:
    code = _FLOOD_RUN.format(flood=flood, sample=str(ALL))
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120, cwd=ROOT)
    assert out.returncode == 0, out.stderr[-2000:]
    outcome, peak = out.stdout.split()
    return outcome, int(peak)


def test_an_object_flood_is_refused_before_qpdf_allocates_it():
    """A 4 MB file listing a million objects made qpdf build its whole xref (~450 MB, seconds) before
    the object-count limit looked at it."""
    outcome, peak = _run_peak(flood=True)
    base_outcome, base = _run_peak(flood=False)
    assert (outcome, base_outcome) == ("too_large", "opened")
    assert peak - base < 64 * 1024, (peak, base)  # KiB: the flood costs no more than a sample


def _rss_kib(pid: int) -> int:
    with open(f"/proc/{pid}/status") as fh:
        return next(int(line.split()[1]) for line in fh if line.startswith("VmRSS:"))


@pytest.mark.stack
def test_workers_give_back_what_a_large_document_took(stack):
    """A document just under the object limit makes qpdf allocate ~80 MiB; the worker keeps none of
    it beyond TRIM_GROWTH_BYTES once the answer is sent."""
    from hometax_decrypt.web.memory import TRIM_GROWTH_BYTES

    workers = [w for ws in stack.worker_pids().values() for w in ws]
    before = {w: _rss_kib(w) for w in workers}
    data = xref_flood(Limits().max_objects - 1_000, 1_000_000)
    s = stack.session()
    for _ in range(2 * len(workers)):
        r = s.post(
            stack.url("/api/v1/extract"), data=data, headers={"Content-Type": "application/pdf"}, timeout=30
        )
        assert r.status_code == 422 and r.json()["error"]["code"] == "not_nts_document"
    assert [w for ws in stack.worker_pids().values() for w in ws] == workers  # none recycled
    slack = TRIM_GROWTH_BYTES // 1024 + 8 * 1024

    def settled():
        return all(_rss_kib(w) - before[w] <= slack for w in workers)

    assert poll(settled, 10), {w: _rss_kib(w) - before[w] for w in workers}


# -- 5. slow uploads: bounded per client ----------------------------------------------------------


@pytest.mark.stack
def test_slow_uploads_from_one_client_are_bounded(stack):
    data = ALL.read_bytes()
    client = "198.18.200.7"
    socks, seen = [], []

    def slow_upload():
        sock = socket.create_connection(("127.0.0.1", stack.https_port), timeout=15)
        ctx = ssl.create_default_context(cafile=str(stack.ca_file))
        ctx.set_alpn_protocols(["http/1.1"])
        sock = ctx.wrap_socket(sock, server_hostname="127.0.0.1")
        sock.sendall(
            b"POST /api/v1/extract HTTP/1.1\r\nHost: x\r\nContent-Type: application/pdf\r\n"
            + f"Content-Length: {len(data)}\r\nX-Forwarded-For: {client}\r\n\r\n".encode()
            + data[:1000]
        )
        return sock

    try:
        socks = [slow_upload() for _ in range(8)]  # the per-client limit of the test stack
        s = stack.session(client_ip=client)

        def refused():
            r = s.post(
                stack.url("/api/v1/extract"),
                data=data,
                headers={"Content-Type": "application/pdf"},
                timeout=15,
            )
            seen.append(r.status_code)
            return [r] if r.status_code == 429 else None  # a Response is falsy for a 4xx

        got = poll(refused, 10)
        assert got, f"a ninth upload of the same client was let through: {seen}"
        r = got[0]
        assert r.json()["error"]["code"] == "rate_limited"
        # another client is not affected
        r = stack.session().post(
            stack.url("/api/v1/extract"), data=data, headers={"Content-Type": "application/pdf"}, timeout=15
        )
        assert r.status_code == 200
    finally:
        for sock in socks:
            sock.close()


def test_nginx_bounds_body_time_and_connections():
    conf = _stack_script().render_nginx(
        _stack_script().StackConfig.from_env({"HOMETAX_RUN_DIR": "/tmp/hometax-render-check"}), None
    )
    assert "client_body_timeout 10s;" in conf
    assert re.search(r"limit_conn hometax_conn_client 8;", conf)
    assert re.search(r"limit_conn hometax_conn_total 32;", conf)


# -- 6, 9. every error a client can see is JSON, with a true message ------------------------------

MALFORMED = [b"/../x", b"/%00", b"/%", b"/a/../../b", b"/api/v1/%zz"]


@pytest.mark.stack
@pytest.mark.parametrize("tls", [True, False], ids=["https", "http"])
@pytest.mark.parametrize("uri", MALFORMED, ids=lambda u: u.decode())
def test_malformed_uris_get_the_json_400(stack, uri, tls):
    st, hd, body = raw(stack, b"GET " + uri + b" HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n", tls=tls)
    err = assert_json_error(st, hd, body, 400, "usage")
    assert "malformed" in err["message"]
    assert "password" not in err["message"]


HOSTILE_REQUESTS = {
    # a control character in a header the app reads: the app server answered in HTML (or reset)
    "control-character": (
        b"POST /api/v1/extract HTTP/1.1\r\nHost: x\r\nContent-Type: application/pdf\r\n"
        b"X-Document-Password: a\x01b\r\nContent-Length: 5\r\nConnection: close\r\n\r\n%PDF-",
        400,
        "usage",
        "control character",
    ),
    "header-too-large": (
        b"GET /healthz HTTP/1.1\r\nHost: x\r\nX-Big: " + b"a" * 20000 + b"\r\nConnection: close\r\n\r\n",
        400,
        "too_large",
        "headers are too large",
    ),
    "uri-too-long": (
        b"GET /" + b"a" * 20000 + b" HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n",
        414,
        "too_large",
        "URL is too long",
    ),
    "transfer-encoding": (
        b"POST /api/v1/extract HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: gzip\r\n"
        b"Connection: close\r\n\r\nxxxx",
        501,
        "usage",
        "Transfer-Encoding",
    ),
    "content-length": (
        b"POST /api/v1/extract HTTP/1.1\r\nHost: x\r\nContent-Length: abc\r\nConnection: close\r\n\r\n",
        400,
        "usage",
        "malformed",
    ),
    "chunked": (
        b"POST /api/v1/extract HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n"
        b"Connection: close\r\n\r\nzz\r\nbroken\r\n0\r\n\r\n",
        400,
        "usage",
        "malformed",
    ),
    "trace": (
        b"TRACE /readyz HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n",
        405,
        "method_not_allowed",
        "Method not allowed",
    ),
}


@pytest.mark.stack
@pytest.mark.parametrize("kind", list(HOSTILE_REQUESTS))
def test_every_error_nginx_answers_is_json_from_the_table(stack, kind):
    request, status, code, words = HOSTILE_REQUESTS[kind]
    st, hd, body = raw(stack, request)
    err = assert_json_error(st, hd, body, status, code)
    assert words in err["message"]
    assert "password" not in err["message"]  # only the query refusal speaks of one
    assert err["message_ko"] == errors.SPECS[code].message_ko


@pytest.mark.stack
def test_a_405_names_the_allowed_methods_on_every_route(stack):
    from hometax_decrypt.web.routes import ROUTES

    s = stack.session()
    for path, ops in ((r.path, r.methods) for r in ROUTES):
        for method in ("TRACE", "PUT", "DELETE"):
            r = s.request(method, stack.url(path), timeout=10)
            if path == "/metrics" and r.status_code == 403:  # not from this client's address
                continue
            assert r.status_code == 405, (method, path, r.status_code)
            allowed = {m.strip() for m in r.headers["Allow"].split(",")}
            assert {m.upper() for m in ops} <= allowed, (path, allowed)
            assert r.json()["error"]["code"] == "method_not_allowed"


# -- 7, 8. Korean Windows file names: CP949 in multipart and in ZIPs -------------------------------


@pytest.mark.stack
def test_a_cp949_file_name_keeps_the_file(stack):
    s = stack.session()
    data = ALL.read_bytes()
    body, ctype = multipart([(b"file", data, f"{KOREAN}.pdf".encode("cp949"))])
    r = s.post(stack.url("/api/v1/extract"), data=body, headers={"Content-Type": ctype}, timeout=30)
    assert r.status_code == 200, r.text[:300]
    assert r.content == h.extract(data)
    assert "filename*=UTF-8''" + quote(f"{KOREAN}.xml") in r.headers["Content-Disposition"]

    body, ctype = multipart(
        [
            (b"file", data, b"all.pdf"),
            (b"file", data, f"{KOREAN}.pdf".encode("cp949")),
            (b"file", data, "둘째.pdf".encode()),
        ]
    )
    r = s.post(stack.url("/api/v1/batch"), data=body, headers={"Content-Type": ctype}, timeout=60)
    assert r.status_code == 200, r.text[:300]
    got = r.json()
    assert [f["file"] for f in got["files"]] == ["all.pdf", f"{KOREAN}.pdf", "둘째.pdf"]
    assert got["ok"] == 3


@pytest.mark.stack
def test_cp949_names_inside_a_zip_match_the_password_map(stack):
    s = stack.session()
    z = zip_with_raw_names(
        [
            (f"{KOREAN}.pdf".encode("cp949"), ALL_PW.read_bytes()),
            ("폴더/문서.pdf".encode("cp949"), ALL.read_bytes()),
        ]
    )
    r = s.post(
        stack.url("/api/v1/batch"),
        data=z,
        timeout=60,
        headers={
            "Content-Type": "application/zip",
            "X-Document-Passwords": json.dumps({f"{KOREAN}.pdf": "1234567"}).encode(),
        },
    )
    assert r.status_code == 200, r.text[:300]
    got = r.json()
    assert [(f["file"], f["ok"]) for f in got["files"]] == [(f"{KOREAN}.pdf", True), ("폴더/문서.pdf", True)]


# -- 10. the redirect goes to the configured server name -------------------------------------------


@pytest.mark.stack
def test_the_redirect_ignores_the_clients_host(stack):
    st, hd, _ = raw(stack, b"GET /x/y HTTP/1.1\r\nHost: evil.example\r\nConnection: close\r\n\r\n", tls=False)
    assert st == 301
    assert hd["location"] == f"https://localhost:{stack.https_port}/x/y"


# -- 11. every ZIP entry not processed is reported --------------------------------------------------


@pytest.mark.stack
def test_zip_entries_not_processed_are_reported_with_why(stack):
    data = ALL.read_bytes()
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", zipfile.ZIP_DEFLATED) as zf:
        zf.writestr("a.pdf", data)
        zf.writestr("dir/b.pdf", data)
        zf.writestr("..\\..\\win.pdf", data)
        zf.writestr(".hidden.pdf", data)
        zf.writestr("__MACOSX/._a.pdf", b"\0\5\26\7")
        zf.writestr("empty/", b"")
    r = stack.session().post(
        stack.url("/api/v1/batch"),
        data=buf.getvalue(),
        timeout=60,
        headers={"Content-Type": "application/zip"},
    )
    assert r.status_code == 200, r.text[:300]
    got = r.json()
    assert [f["file"] for f in got["files"]] == ["a.pdf", "dir/b.pdf", "..\\..\\win.pdf"]
    assert (got["ok"], got["failed"]) == (3, 0)
    assert [(e["file"], e["reason"]) for e in got["skipped"]] == [
        (".hidden.pdf", "hidden"),
        ("__MACOSX/._a.pdf", "macos_metadata"),
        ("empty/", "folder"),
    ]
    assert all(e["message"] for e in got["skipped"])
    assert r.headers["X-Batch-Skipped"] == "3"


# -- one source per contract (issue 12, item 4) ----------------------------------------------------


def _stack_script():
    from hometax_decrypt.ops import stack

    return stack


def _rendered() -> str:
    mod = _stack_script()
    return mod.render_nginx(mod.StackConfig.from_env({"HOMETAX_RUN_DIR": "/tmp/hometax-render-check"}), None)


def test_nginx_error_bodies_are_the_error_table():
    conf = _rendered()
    pages = dict(re.findall(r"error_page ([0-9 ]+) /\.hometax-error/(\w+);", conf))
    bodies = {
        name: (int(status), json.loads(body.replace("\\'", "'")))
        for name, status, body in re.findall(
            r"location = /\.hometax-error/(\w+) \{.*?return (\d+) '(.*?)\\n';", conf, re.S
        )
    }
    expected = {}
    for e in http_errors.NGINX_ERRORS:
        detail, detail_ko = e["detail"], None
        if e.get("body_limit"):  # names the configured limit (the default here) and what to do
            detail, detail_ko = errors.body_limit_detail(Settings().max_body_bytes)
        expected[e["name"]] = (e["status"], http_errors.error_body(e["code"], detail, detail_ko))
        for name, detail in e.get("variants", {}).items():
            expected[name] = (e["status"], http_errors.error_body(e["code"], detail))
    # each server (http, https) carries the same set
    assert bodies == expected
    assert conf.count("location = /.hometax-error/bad_request {") == 2
    caught = {int(s) for statuses in pages for s in statuses.split()}
    assert caught == {400, 403, 404, 405, 413, 414, 429, 494, 500, 501, 502, 503, 504}
    for status, body in expected.values():
        code = body["error"]["code"]
        assert status in errors.SPECS[code].http_statuses
        _st, table = http_errors.body_for_code(code)
        assert body["error"]["message"].startswith(table["error"]["message"])
        assert body["error"]["message_ko"].startswith(table["error"]["message_ko"])


# (query, allowed?) — nginx and the app must give the same verdict
QUERIES = [
    ("", True),
    ("part=xml", True),
    ("part=sam&encoding=euc-kr", True),
    ("format=csv&mask=true", True),
    ("password=x", False),
    ("Password=x", False),
    ("%70assword=x", False),
    ("part=xml;password=x", False),
    ("x=1", False),
    ("part=x%20ml", False),
    ("part=xml&", True),
    ("passwords=%7B%7D", False),
    ("mask=true&pw=1", False),
]


@pytest.mark.stack
def test_one_query_allowlist_for_nginx_and_the_app(stack):
    assert inputs.query_regex() in _rendered()
    from hometax_decrypt.web import create_app

    client = create_app().test_client()
    for query, allowed in QUERIES:
        st, _hd, body = raw(
            stack,
            f"GET /api/v1/openapi.json?{query} HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n".encode(),
        )
        app = client.get(f"/api/v1/openapi.json?{query}")
        assert (st == 200) == (app.status_code == 200) == allowed, (query, st, app.status_code)
        if not allowed:
            assert json.loads(body)["error"]["code"] == app.get_json()["error"]["code"] == "usage"


# -- issue 22, finding 2: totals over many documents end as the JSON answer --------------------------


def one_person_part(i: int, variants: int) -> bytes:
    """An XML data part of one person holding ``variants`` forms that share one form base
    (``A102…``): across parts of different ``seq``, all but one are duplicates of each other."""
    forms = "".join(
        f'<form form_cd="A102{v:04d}"><man resid="7501011234567" name="고길동"><data dat_cd="G0001">'
        f"<busnid>1234567890</busnid><sum>{1000 + v}</sum></data></man></form>"
        for v in range(variants)
    )
    return (
        '<?xml version="1.0" encoding="utf-8"?><yesone><doc><doc_type>A</doc_type>'
        f"<seq>2020122201{i:06d}</seq><att_year>2020</att_year></doc>{forms}</yesone>"
    ).encode()


@pytest.fixture(scope="module")
def short_budget_stack(tmp_path_factory):
    """A stack whose worker timeout is 10 s and request budget 6 s (within its two thirds)."""
    from tests.support.stack import stack_fixture_body

    yield from stack_fixture_body(
        tmp_path_factory, "short-budget", HOMETAX_TIMEOUT="10", HOMETAX_REQUEST_SECONDS="6"
    )


@pytest.mark.stack
@pytest.mark.parametrize(("parts", "fmt"), [("crafted", "json"), ("crafted", "xlsx"), ("copies", "json")])
def test_export_of_many_duplicate_parts_answers_json_never_an_app_server_page(short_budget_stack, parts, fmt):
    """``crafted``: 200 one-person parts, 10 000 duplicate items: the totals used to scan lists
    (quadratic, a minute and a half in process) past the request budget, unchecked, until gunicorn
    killed the worker and the client read its HTML 500. ``copies``: 500 copies of a sample's part
    (24 MB). Now: the export (200), or the error table's JSON 503 ``timeout``."""
    stack = short_budget_stack
    workers = {i: sorted(w) for i, w in stack.worker_pids().items()}
    if parts == "crafted":
        files = [("file", (f"{i}.xml", one_person_part(i, 50), "application/xml")) for i in range(200)]
    else:
        sample = h.extract(ALL)
        files = [("file", (f"{i}.xml", sample, "application/xml")) for i in range(500)]
    r = stack.session().post(
        stack.url("/api/v1/export"), files=files, data={"format": fmt, "mask": "true"}, timeout=60
    )
    assert r.status_code in (200, 503), (r.status_code, r.text[:300])
    if r.status_code == 503:
        assert r.headers["content-type"].startswith("application/json"), r.text[:300]
        assert r.json()["error"]["code"] == "timeout"
    elif fmt == "xlsx":
        assert r.content[:2] == b"PK"
    elif parts == "crafted":
        (person,) = r.json()["totals"]
        assert len(person["duplicates"]) == 199 * 50 and len(person["documents"]) == 200
    else:
        assert r.json()["totals"]
    # no worker was killed by the app server's timeout (the same pids serve)
    assert {i: sorted(w) for i, w in stack.worker_pids().items()} == workers


# -- issue 22 #1: a huge direct array in the catalog, refused before qpdf builds it ----------------


@pytest.mark.stack
def test_huge_arrays_are_refused_fast_and_cost_no_worker(stack):
    """A catalog holding one direct array of more elements than ``HOMETAX_MAX_PDF_TOKENS`` (a file
    of three objects: no object count sees it), or the same array inside an object stream, four at a
    time from one client: each is a JSON 413 ``too_large`` from the table (before, qpdf built it:
    2.8 GiB and 11-17 s for 20 million elements, and four killed workers), no worker is replaced,
    and the next document is read. Time and memory: bench/hostile_pdf.py."""
    from hometax_decrypt.document.limits import DEFAULT

    flat = builder.huge_array_pdf(DEFAULT.max_pdf_tokens + 100_000)
    packed = builder.huge_array_pdf(DEFAULT.max_pdf_tokens + 100_000, object_stream=True)
    workers = stack.worker_pids()
    answers: list = []

    def post(path: str, data: bytes) -> None:
        r = stack.session().post(
            stack.url(path), data=data, headers={"Content-Type": "application/pdf"}, timeout=60
        )
        answers.append((r.status_code, r.headers.get("content-type", ""), r.content))

    jobs = [
        ("/api/v1/documents", flat),
        ("/api/v1/extract", flat),
        ("/api/v1/decrypt", packed),
        ("/api/v1/documents", packed),
    ]
    threads = [threading.Thread(target=post, args=job) for job in jobs]
    for t in threads:
        t.start()
    for t in threads:
        t.join(90)
    assert len(answers) == 4
    for status, ctype, body in answers:
        assert_json_error(status, {"content-type": ctype}, body, 413, "too_large")
    r = stack.session().post(
        stack.url("/api/v1/extract"),
        data=ALL.read_bytes(),
        headers={"Content-Type": "application/pdf"},
        timeout=60,
    )
    assert r.status_code == 200
    assert stack.worker_pids() == workers
