"""Streaming writers: a format's output built one document at a time, for the batch engine
(:mod:`hometax_decrypt.service.engine`).

A format's ``stream`` (in the registry, :mod:`hometax_decrypt.formats`) has two halves:

- ``piece(doc, mask, deadline)``: the document's share of the output, made where the document was
  parsed (a worker process) and small to send back: bytes for CSV, NDJSON and JSON, rows for XLSX,
  with the document's :func:`~hometax_decrypt.records.summary.projection` for the totals that close
  JSON and XLSX;
- ``sink(fh, mask, tmpdir, deadline)``: the file being written, with ``add(piece)`` in the order of
  the files and ``close()`` with what only the end knows (the totals, under ``deadline`` when one is
  given: a request's budget).

The output equals the format's writer over the same documents (tests/unit/test_bulk.py proves it
byte for byte). A format without a ``stream`` still works in a batch: :class:`WholeDocuments` sends
each parsed document back and calls the format's writer once at the end (memory grows with the
batch; a new format can start there).
"""

from __future__ import annotations

import csv
import io

from ..records import summary
from ..records.serialize import document_to_dict
from . import csv as csv_format
from . import json as json_format
from . import ndjson, xlsx
from . import rows as item_rows


class _Bytes:
    """A sink that writes each piece as it comes (CSV rows, NDJSON lines)."""

    def __init__(self, fh, head: bytes = b""):
        self.fh = fh
        if head:
            fh.write(head)

    def add(self, piece: bytes) -> None:
        self.fh.write(piece)

    def close(self) -> None:
        pass


class CsvStream:
    def piece(self, doc, mask, deadline) -> bytes:
        buf = io.StringIO()
        csv.writer(buf, lineterminator="\r\n").writerows(csv_format.csv_cells(doc, mask, deadline))
        return buf.getvalue().encode("utf-8")

    def sink(self, fh, mask, tmpdir=None, deadline=None):
        buf = io.StringIO()
        csv.writer(buf, lineterminator="\r\n").writerow(item_rows.COLUMNS)
        return _Bytes(fh, buf.getvalue().encode("utf-8-sig"))


class NdjsonStream:
    def piece(self, doc, mask, deadline) -> bytes:
        return ndjson.to_ndjson([doc], mask=mask, deadline=deadline)

    def sink(self, fh, mask, tmpdir=None, deadline=None):
        return _Bytes(fh)


class _Totals:
    """What JSON and XLSX keep per document: its projection, for the totals at the end."""

    def __init__(self, mask, deadline=None):
        self.mask, self.deadline = mask, deadline
        self.projections: list[dict] = []

    def person_year(self):
        return summary.totals_of(self.projections, mask=self.mask, deadline=self.deadline)


class JsonStream:
    HEAD = b'{"format":"hometax-decrypt/records","version":1,"documents":['

    def piece(self, doc, mask, deadline):
        projection = summary.projection(doc, deadline)
        record = json_format.compact_json(
            document_to_dict(doc, mask=mask, deadline=deadline, projection=projection)
        )
        return record, projection

    def sink(self, fh, mask, tmpdir=None, deadline=None):
        return _JsonSink(fh, mask, deadline)


class _JsonSink(_Totals):
    def __init__(self, fh, mask, deadline=None):
        super().__init__(mask, deadline)
        self.fh, self.count = fh, 0
        fh.write(JsonStream.HEAD)

    def add(self, piece) -> None:
        record, projection = piece
        self.projections.append(projection)
        self.fh.write((b"," if self.count else b"") + record)
        self.count += 1

    def close(self) -> None:
        person_year = self.person_year()
        tail = json_format.compact_json({"totals": person_year, "year_totals": summary.by_year(person_year)})
        self.fh.write(b"]," + tail[1:] + b"\n")  # '{"totals":…}' continues the object


class XlsxStream:
    def piece(self, doc, mask, deadline):
        return xlsx.chunk(doc, mask, deadline), summary.projection(doc, deadline)

    def sink(self, fh, mask, tmpdir=None, deadline=None):
        return _XlsxSink(fh, mask, tmpdir, deadline)


class _XlsxSink(_Totals):
    def __init__(self, fh, mask, tmpdir, deadline=None):
        super().__init__(mask, deadline)
        self.book = xlsx.XlsxBook(fh, tmpdir=tmpdir)

    def add(self, piece) -> None:
        chunk, projection = piece
        self.projections.append(projection)
        self.book.add(chunk)

    def close(self) -> None:
        self.book.close(xlsx.summary_table(self.person_year()))


class WholeDocuments:
    """The stream of a format that has none: the piece is the parsed document itself, and the
    format's writer runs once over all of them at the end."""

    def __init__(self, fmt):
        self.fmt = fmt

    def piece(self, doc, mask, deadline):
        return doc

    def sink(self, fh, mask, tmpdir=None, deadline=None):
        return _WholeSink(self.fmt, fh, mask, deadline)


class _WholeSink:
    def __init__(self, fmt, fh, mask, deadline=None):
        self.fmt, self.fh, self.mask, self.docs, self.deadline = fmt, fh, mask, [], deadline

    def add(self, doc) -> None:
        self.docs.append(doc)

    def close(self) -> None:
        self.fh.write(self.fmt.write(self.docs, mask=self.mask, deadline=self.deadline))


def stream_of(fmt):
    """The format's stream: its own, or :class:`WholeDocuments` over its writer."""
    return getattr(fmt, "stream", None) or WholeDocuments(fmt)
