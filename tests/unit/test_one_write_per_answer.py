"""deploy/gunicorn.conf.py's one write per answer (issue 22, finding 12): a worker killed between
the header and the body would leave nginx holding a header it has already passed to the client, a
cut answer it cannot try elsewhere."""

from __future__ import annotations

import os
import runpy

from gunicorn.config import Config
from gunicorn.http.wsgi import Response

from tests.support.stack import ROOT


class _Request:
    version = (1, 1)
    method = "POST"

    def should_close(self) -> bool:
        return False


class _Socket:
    def __init__(self):
        self.writes: list[bytes] = []

    def sendall(self, data) -> None:
        self.writes.append(bytes(data))


def _answer(body_parts: list[bytes]) -> list[bytes]:
    sock = _Socket()
    resp = Response(_Request(), sock, Config())
    length = sum(map(len, body_parts))
    resp.start_response("200 OK", [("Content-Type", "application/xml"), ("Content-Length", str(length))])
    for part in body_parts:
        resp.write(part)
    resp.close()
    return sock.writes


def test_the_header_leaves_with_the_first_body_bytes_in_one_write(monkeypatch):
    for k in list(os.environ):
        if k.startswith("HOMETAX_"):
            monkeypatch.delenv(k)
    conf = runpy.run_path(str(ROOT / "deploy" / "gunicorn.conf.py"))
    body = b"<xml>" + b"x" * 48_000 + b"</xml>"
    writes = _answer([body])
    assert len(writes) == 1
    assert writes[0].startswith(b"HTTP/1.1 200 OK\r\n") and writes[0].endswith(b"\r\n\r\n" + body)
    # later parts of a streamed answer follow as they come, the header not repeated
    writes = _answer([b"first", b"second"])
    assert len(writes) == 2 and writes[0].endswith(b"\r\n\r\nfirst") and writes[1] == b"second"
    assert conf["sendfile"] is False  # every answer goes through Response.write
    runpy.run_path(str(ROOT / "deploy" / "gunicorn.conf.py"))  # read again (HUP): not wrapped twice
    assert len(_answer([body])) == 1


def test_waitress_queues_the_header_with_the_first_body_bytes():
    from waitress.adjustments import Adjustments
    from waitress.parser import HTTPRequestParser
    from waitress.task import WSGITask

    from hometax_decrypt.web import serve

    class Server:
        adj = Adjustments(ident="hometax-decrypt")

    class Channel:
        adj = Server.adj
        server = Server()
        addr = ("127.0.0.1", 0)

        def __init__(self):
            self.queued: list[bytes] = []

        def write_soon(self, data):
            self.queued.append(bytes(data))

    def queued(parts: list[bytes]) -> list[bytes]:
        request = HTTPRequestParser(Channel.adj)
        request.received(b"POST /api/v1/extract HTTP/1.1\r\nHost: x\r\nContent-Length: 0\r\n\r\n")
        channel = Channel()
        task = WSGITask(channel, request)
        # what WSGITask.execute's start_response sets
        task.status, task.complete = "200 OK", True
        task.response_headers = [("Content-Type", "application/xml")]
        task.content_length = sum(map(len, parts))
        task.response_headers.append(("Content-Length", str(task.content_length)))
        for part in parts:
            task.write(part)
        return channel.queued

    serve.one_write_per_answer()
    body = b"<xml>" + b"x" * 48_000 + b"</xml>"
    (only,) = queued([body])
    assert only.startswith(b"HTTP/1.1 200 OK\r\n") and only.endswith(b"\r\n\r\n" + body)
    first, second = queued([b"first", b"second"])
    assert first.endswith(b"\r\n\r\nfirst") and second == b"second"
