"""Slow clients against the real stack: nginx holds them, the app workers never see them.

Fifty slowloris connections trickle request headers and ten uploads trickle a PDF body, all over TLS
to the shared stack (tests/stack.py: real nginx + gunicorn, the code path of ``make up``). While
they are open, normal requests must succeed with the correct body, the slow connections must still be
pending (nginx has neither answered nor closed them, so they really were held open), and the app
workers must be the same processes as before. Finally one slow upload completes and gets its
extraction: nginx buffered it and passed it on whole.

These are correctness assertions with generous timeouts (10 s per normal request), not timings.
"""

from __future__ import annotations

import socket
import ssl
import time

import pytest

import hometax_decrypt as h
from tests.support.paths import SAMPLES

pytestmark = pytest.mark.stack

ALL = SAMPLES / "nts-2020" / "all.pdf"
SLOWLORIS = 50
SLOW_UPLOADS = 10
ROUNDS = 6  # trickle rounds; one normal request per round per client
NORMAL_TIMEOUT = 10.0


def _connect(stack) -> ssl.SSLSocket:
    ctx = ssl.create_default_context(cafile=str(stack.ca_file))
    raw = socket.create_connection(("127.0.0.1", stack.https_port), timeout=10)
    return ctx.wrap_socket(raw, server_hostname="127.0.0.1")


def _slowloris(stack, n: int) -> ssl.SSLSocket:
    sock = _connect(stack)
    # A request line and some headers, never the blank line that ends them.
    sock.sendall(
        b"POST /api/v1/extract HTTP/1.1\r\nHost: 127.0.0.1\r\n"
        + f"X-Forwarded-For: 192.0.2.{n % 250 + 1}\r\n".encode()
    )
    return sock


def _slow_upload(stack, n: int, data: bytes) -> ssl.SSLSocket:
    sock = _connect(stack)
    sock.sendall(
        b"POST /api/v1/extract HTTP/1.1\r\nHost: 127.0.0.1\r\n"
        b"Content-Type: application/pdf\r\n"
        + f"Content-Length: {len(data)}\r\nX-Forwarded-For: 198.18.0.{n + 1}\r\n\r\n".encode()
        + data[:1000]
    )
    return sock


def _still_pending(sock: ssl.SSLSocket) -> bool:
    """Neither an answer nor a close from nginx. A TLS 1.3 server sends session tickets after the
    handshake, so "readable" alone proves nothing: read without blocking and look at what comes."""
    sock.setblocking(False)
    try:
        sock.recv(4096)  # any application data at all means "not pending"
    except (ssl.SSLWantReadError, BlockingIOError):
        return True  # TLS records (if any) held no application data: still waiting for us
    except (ssl.SSLError, OSError):
        return False
    finally:
        sock.setblocking(True)
    return False  # data (an answer such as a 408) or EOF (closed)


def _read_response(sock: ssl.SSLSocket, timeout: float) -> tuple[int, dict, bytes]:
    sock.settimeout(timeout)
    buf = b""
    while b"\r\n\r\n" not in buf:
        chunk = sock.recv(65536)
        if not chunk:
            raise AssertionError("connection closed before the response headers")
        buf += chunk
    head, body = buf.split(b"\r\n\r\n", 1)
    lines = head.decode("latin-1").split("\r\n")
    status = int(lines[0].split()[1])
    headers = {k.strip().lower(): v.strip() for k, v in (ln.split(":", 1) for ln in lines[1:])}
    length = int(headers["content-length"])
    while len(body) < length:
        chunk = sock.recv(65536)
        if not chunk:
            break
        body += chunk
    return status, headers, body


def test_slow_clients_hold_no_app_worker(stack):
    data = ALL.read_bytes()
    expected = h.extract(data)
    before = (stack.app_pids, stack.worker_pids())
    workers = sum(len(w) for w in before[1].values())
    assert workers >= 2
    session = stack.session()

    lorises = [_slowloris(stack, i) for i in range(SLOWLORIS)]
    uploads = [_slow_upload(stack, i, data) for i in range(SLOW_UPLOADS)]
    sent = [1000] * SLOW_UPLOADS
    try:
        normal = 0
        for rnd in range(ROUNDS):
            for i, sock in enumerate(lorises):
                sock.sendall(f"X-Trickle-{rnd}: {i}\r\n".encode())
            for i, sock in enumerate(uploads):
                sock.sendall(data[sent[i] : sent[i] + 500])
                sent[i] += 500
            # More normal requests than there are app workers, each while every slow client waits.
            for _ in range(workers):
                r = session.post(
                    stack.url("/api/v1/extract"),
                    data=data,
                    headers={"Content-Type": "application/pdf"},
                    timeout=NORMAL_TIMEOUT,
                )
                assert r.status_code == 200, r.text[:300]
                assert r.content == expected
                normal += 1
            time.sleep(0.5)
        assert normal == ROUNDS * workers

        # The slow clients were really held open the whole time, by nginx.
        assert all(_still_pending(s) for s in lorises), "nginx answered or closed a slowloris connection"
        assert all(_still_pending(s) for s in uploads), "nginx answered or closed a slow upload"
        # ...and no app worker died, was replaced or was added.
        assert (stack.app_pids, stack.worker_pids()) == before

        # One slow upload finishes: nginx hands the whole buffered body on and the answer is right.
        sock = uploads[0]
        sock.sendall(data[sent[0] :])
        status, _headers, body = _read_response(sock, NORMAL_TIMEOUT)
        assert status == 200
        assert body == expected
    finally:
        for sock in lorises + uploads:
            sock.close()
    assert (stack.app_pids, stack.worker_pids()) == before
