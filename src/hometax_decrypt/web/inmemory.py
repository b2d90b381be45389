"""A Flask request that never spools an upload to disk, and reads Korean Windows file names.

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


# Werkzeug's form parser builds its decoder from this module-level name.
formparser.MultipartDecoder = _KoreanNameDecoder


class InMemoryRequest(Request):
    # No class-level max_form_parts here: Flask's property reads MAX_FORM_PARTS from the app's config
    # (create_app sets it from the batch limit), and a view may raise it for its own request.

    def _get_file_stream(self, total_content_length, content_type, filename=None,
                         content_length=None):
        return io.BytesIO()
