"""The one registry of output formats: name -> writer, media type, file suffix, label.

The CLI's ``--format`` choices, the API's validation of ``format``, the OpenAPI document's enums and
the upload page's download buttons (``GET /api/v1/formats``) all come from :data:`FORMATS`; adding a
format means adding its writer and one entry here.

A writer takes a LIST of parsed documents and returns bytes::

    writer(docs, mask=False, deadline=None) -> bytes

``stream`` (optional): the same output one document at a time, for the batch engine
(:mod:`hometax_decrypt.formats.streaming`); a format without one is batched through its writer.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from .. import errors
from . import csv, json, ndjson, streaming, xlsx


@dataclass(frozen=True)
class Format:
    name: str
    writer: Callable[..., bytes]
    media_type: str  # Content-Type of the API's answer
    suffix: str  # file name suffix, without the dot
    label_ko: str  # the page's download button
    binary: bool = False  # not written to a terminal by the CLI
    stream: object = None  # streaming.CsvStream() …: piece(doc) in a worker, sink(fh) in the parent

    def write(self, docs, mask: bool = False, deadline=None) -> bytes:
        return self.writer(docs, mask=mask, deadline=deadline)

    def describe(self) -> dict:
        """What the page and API clients are told (GET /api/v1/formats)."""
        return {
            "name": self.name,
            "media_type": self.media_type,
            "suffix": self.suffix,
            "label_ko": self.label_ko,
        }


FORMATS: dict[str, Format] = {
    f.name: f
    for f in (
        Format(
            "xlsx",
            xlsx.to_xlsx,
            "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
            "xlsx",
            "엑셀(XLSX)",
            binary=True,
            stream=streaming.XlsxStream(),
        ),
        Format("csv", csv.to_csv, "text/csv; charset=utf-8", "csv", "CSV", stream=streaming.CsvStream()),
        Format("json", json.to_json, "application/json", "json", "JSON", stream=streaming.JsonStream()),
        Format(
            "ndjson",
            ndjson.to_ndjson,
            "application/x-ndjson",
            "ndjson",
            "NDJSON",
            stream=streaming.NdjsonStream(),
        ),
    )
}

NAMES: tuple[str, ...] = tuple(FORMATS)
DEFAULT = "json"


def get(name: str | None) -> Format:
    """The format called ``name`` (case and spaces ignored; None: the default), else a usage
    error naming the choices."""
    key = (name or DEFAULT).strip().lower()
    try:
        return FORMATS[key]
    except KeyError:
        raise errors.UsageError("format must be one of " + ", ".join(NAMES)) from None
