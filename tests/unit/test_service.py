"""The service layer (service.py): one result type for one document, and a batch that isolates each
file's failure and writes a combined export once."""

from __future__ import annotations

import pytest

import hometax_decrypt as h
from hometax_decrypt import errors, formats, service
from hometax_decrypt.document.limits import Deadline, Limits
from hometax_decrypt.formats import csv as csv_format
from hometax_decrypt.records import document_to_dict
from hometax_decrypt.timestamp import Verification
from tests.support import builder
from tests.support.paths import SAMPLES

ALL = SAMPLES / "nts-2020" / "all.pdf"
ALL_PW = SAMPLES / "nts-2020" / "all-password-1234567.pdf"


def test_one_document_one_result_type():
    ex = service.extract(ALL.read_bytes(), part="sam", encoding="euc-kr")
    assert ex.data == h.extract(ALL, part="sam", encoding="euc-kr")
    assert (ex.part, ex.encoding) == ("SAM", "euc-kr")
    assert isinstance(ex.verification, Verification) and ex.verification.authentic
    assert service.extract(ALL, verify=False).verification is None

    parsed = service.parse(ALL_PW, password="1234567")
    assert isinstance(parsed.verification, Verification)
    assert parsed.document.verification is parsed.verification
    assert document_to_dict(parsed.document) == document_to_dict(h.parse(ALL_PW, password="1234567"))

    v = service.verify(ALL).verification
    assert v.to_dict() == h.verify(ALL).to_dict()
    assert v.verifier_code == 0 and v.to_dict()["nts_code"] == 0  # the old name, an alias

    dec = service.decrypt(ALL_PW, password="1234567")
    assert dec.was_encrypted is True and h.extract(dec.data) == h.extract(ALL_PW, "1234567")

    part = service.parse_part(h.extract(ALL))
    assert part.verification is None
    assert document_to_dict(part.document)["forms"] == document_to_dict(service.parse(ALL).document)["forms"]
    with pytest.raises(errors.TooLarge):
        service.parse_part(h.extract(ALL), Limits(max_part_bytes=100))


def _files():
    cursed = builder.build_nts_pdf(builder.SAMPLE_XML)
    return [
        ("a.pdf", ALL.read_bytes()),
        ("pw.pdf", ALL_PW.read_bytes()),
        ("junk.pdf", builder.random_bytes()),
        ("b.pdf", cursed),
    ]


def test_batch_isolates_each_files_failure_and_keeps_the_order():
    passwords = {"pw.pdf": "1234567"}
    results = list(service.batch(_files(), passwords.get, record=True))
    assert [r.name for r in results] == ["a.pdf", "pw.pdf", "junk.pdf", "b.pdf"]
    assert [r.code for r in results] == ["ok", "ok", "damaged", "ok"]
    # nts_code: the NTS API's return code (1 read, -2 damaged); the verifier's code sits in the
    # verification, under its own name
    assert [r.nts_code for r in results] == [1, 1, -2, 1]
    entry = results[0].to_dict()
    assert entry["nts_code"] == 1 and entry["verification"]["authentic"] is True
    assert entry["document"] == document_to_dict(results[0].result.document)
    assert results[2].to_dict() == {
        "file": "junk.pdf",
        "ok": False,
        "nts_code": -2,
        "error": errors.Damaged().to_dict() | {"message": results[2].error.message},
    }


class _FailOnSmall:
    """A format's stream with a bug on one document (the suite's small one, not all.pdf)."""

    def piece(self, doc, mask, deadline):
        if len(doc.forms) < 5:
            raise ValueError("a bug in a writer")
        return csv_format.to_csv([doc])

    def sink(self, fh, mask, tmpdir=None):
        return _Joined(fh)


class _Joined:
    def __init__(self, fh):
        self.fh = fh

    def add(self, piece):
        self.fh.write(piece)

    def close(self):
        pass


def test_a_document_the_format_fails_on_fails_alone():
    fmt = formats.Format("x", csv_format.to_csv, "text/csv", "csv", "X", stream=_FailOnSmall())
    results = list(service.batch(_files(), {"pw.pdf": "1234567"}.get, fmt=fmt))
    assert [r.code for r in results] == ["ok", "ok", "damaged", "internal"]
    assert results[3].to_dict()["error"] == errors.SPECS["internal"].to_dict()
    docs = [r.result.document for r in results if r.ok]
    assert service.combine(fmt, results) == b"".join(csv_format.to_csv([d]) for d in docs)


def _counting(calls: list):
    def writer(docs, mask=False, deadline=None):
        calls.append([d.doc.seq for d in docs])
        return formats.FORMATS["csv"].writer(docs, mask=mask, deadline=deadline)

    return formats.Format("counted", writer, "text/csv", "csv", "CSV")


def test_a_format_without_a_stream_is_written_once_by_its_writer():
    calls: list = []
    fmt = _counting(calls)
    results = list(service.batch(_files(), {"pw.pdf": "1234567"}.get, fmt=fmt))
    data = service.combine(fmt, results)
    assert len(calls) == 1 and len(calls[0]) == 3  # once, with the three documents read
    docs = [r.result.document for r in results if r.ok]
    assert data == csv_format.to_csv(docs)


@pytest.mark.parametrize("name", sorted(formats.NAMES))
def test_combined_export_equals_the_writer(name):
    fmt = formats.FORMATS[name]
    results = list(service.batch(_files(), {"pw.pdf": "1234567"}.get, fmt=fmt))
    docs = [r.result.document for r in results if r.ok]
    if name == "xlsx":  # a workbook's zip carries times: compare the cells
        import io

        import openpyxl

        def cells(data):
            wb = openpyxl.load_workbook(io.BytesIO(data))
            return {ws.title: [list(r) for r in ws.iter_rows(values_only=True)] for ws in wb}

        assert cells(service.combine(fmt, results)) == cells(fmt.write(docs))
    else:
        assert service.combine(fmt, results) == fmt.write(docs)


def test_each_document_gets_at_most_what_the_batch_has_left():
    lim = Limits(max_seconds=30)
    assert 4 < service.limits_within(lim, Deadline(5)).max_seconds <= 5  # what the batch has left
    assert service.limits_within(lim, Deadline(-1)).max_seconds == 0
    # the batch has more left than a document may take: the document's own limit, nothing else changed
    roomy = service.limits_within(lim, Deadline(100))
    assert roomy.max_seconds == 30
    assert roomy == lim
    results = list(service.batch(_files()[:2], lambda n: "1234567", lim, Deadline(-1)))
    assert [r.code for r in results] == ["timeout", "timeout"]


def test_timeout_is_its_own_code_and_still_a_too_large_for_one_release():
    spec = errors.SPECS["timeout"]
    assert (spec.http_status, spec.exit_code, spec.nts_code) == (503, 8, -2)
    others = {s.exit_code for c, s in errors.SPECS.items() if c != "timeout"}
    assert spec.exit_code not in others | {7}  # 7: the CLI's "not authentic"
    with pytest.raises(errors.Timeout) as info:
        Deadline(-1).check()
    assert isinstance(info.value, errors.TooLarge) and info.value.code == "timeout"
    assert errors.BY_CODE["timeout"] is errors.Timeout
