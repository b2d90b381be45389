"""A Flask request that never spools an upload to disk.

Werkzeug's default stream factory is a ``SpooledTemporaryFile`` that moves to a temporary file past
500 KB; a year-end settlement PDF is personal data and must stay in memory. The body size is bounded
before parsing by ``MAX_CONTENT_LENGTH`` (and by nginx's ``client_max_body_size`` in front)."""

from __future__ import annotations

import io

from flask import Request


class InMemoryRequest(Request):
    # No class-level max_form_parts here: Flask's property reads MAX_FORM_PARTS from the app's config
    # (create_app sets it from the batch limit), and a view may raise it for its own request.

    def _get_file_stream(self, total_content_length, content_type, filename=None,
                         content_length=None):
        return io.BytesIO()
