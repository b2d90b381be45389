"""A Flask request that never spools an upload to disk, reads a raw body in one piece, and reads
Korean Windows file names.

Werkzeug's default stream factory is a ``SpooledTemporaryFile`` that moves to a temporary file past
500 KB; a year-end settlement PDF is personal data and must stay in memory. The body size is bounded
before parsing by ``MAX_CONTENT_LENGTH`` (and by nginx's ``client_max_body_size`` in front).

Werkzeug decodes a multipart part's headers as UTF-8 and, when that fails, drops the whole form (every
part, not only the one). Korean Windows browsers and tools send a file name in CP949, so a part's
headers that are not UTF-8 are read as CP949 (what cannot be read becomes U+FFFD) and the file kept.
"""

from __future__ import annotations

import io

from flask import Request
from werkzeug import formparser
from werkzeug.exceptions import ClientDisconnected, RequestEntityTooLarge
from werkzeug.sansio.multipart import MultipartDecoder


def part_headers_as_utf8(data: bytes) -> bytes:
    """A multipart part's header block, re-encoded as UTF-8 when it is not: read as CP949."""
    try:
        bytes(data).decode("utf-8")
        return data
    except UnicodeDecodeError:
        return bytes(data).decode("cp949", errors="replace").encode("utf-8")


class _KoreanNameDecoder(MultipartDecoder):
    def _parse_headers(self, data):
        return super()._parse_headers(part_headers_as_utf8(data))


def install() -> None:
    """Read CP949 part headers process-wide: Werkzeug's form parser builds its decoder from a
    module-level name, so this replaces it for every app of the process. Called by the app factory
    (never at import: importing the package must change nothing). Idempotent."""
    formparser.MultipartDecoder = _KoreanNameDecoder


class InMemoryRequest(Request):
    # No class-level max_form_parts here: Flask's property reads MAX_FORM_PARTS from the app's config
    # (create_app sets it from the batch limit), and a view may raise it for its own request.

    def _get_file_stream(self, total_content_length, content_type, filename=None, content_length=None):
        return io.BytesIO()

    def get_data(self, cache: bool = True, as_text: bool = False, parse_form_data: bool = False):
        """The whole body as bytes. For a raw upload (``cache=False``, what the API asks for) with a
        Content-Length (nginx always sends one): one read of exactly that many bytes from the WSGI
        input, under the same limit as Werkzeug's stream (413 past ``MAX_CONTENT_LENGTH``, 400 when
        the body ends early). Werkzeug's own path reads 64 KiB at a time and copies the body twice
        more; with a 790 KB upload that was a tenth of the app's time around the core. Anything
        else (cached, text, form data, a stream already touched) takes Werkzeug's path."""
        length = self.content_length
        if (
            cache
            or as_text
            or parse_form_data
            or length is None
            or "stream" in self.__dict__
            or "_cached_data" in self.__dict__
        ):
            return super().get_data(cache=cache, as_text=as_text, parse_form_data=parse_form_data)
        limit = self.max_content_length
        if limit is not None and length > limit:
            raise RequestEntityTooLarge()
        source = self.environ["wsgi.input"]
        data = source.read(length) if length else b""
        if len(data) < length:  # a server may return less than asked: read on until the end
            parts = [data]
            got = len(data)
            while got < length:
                chunk = source.read(length - got)
                if not chunk:
                    raise ClientDisconnected()
                parts.append(chunk)
                got += len(chunk)
            data = b"".join(parts)
        # the body is consumed: whatever reads the stream later (the drain before answering) sees
        # its end, not the server's input
        self.__dict__["stream"] = io.BytesIO()
        return data
