"""What qpdf builds from a PDF is bounded before it builds it (issue 22 #1).

A catalog holding one direct array of 20 million empty names (a 20 MB file of three objects, which
no object count sees) cost qpdf 2.8 GiB and 11-17 s to build, per document: the opener now counts the
file's syntax (its delimiter and white-space bytes: ``HOMETAX_MAX_PDF_TOKENS``) before qpdf reads it,
and the syntax inside object streams (compressed, possibly encrypted) before qpdf builds any of their
objects. Refused is ``too_large``, through the library, the CLI (``parse``, ``batch``) and the HTTP
API (tests/stack/test_hostile.py). Time and memory: bench/hostile_pdf.py.
"""

from __future__ import annotations

import io
import json
import os
import subprocess
import sys
import zlib
from pathlib import Path

import pikepdf
import pytest

import hometax_decrypt as h
from hometax_decrypt import errors
from hometax_decrypt.document import pdf as pdf_module
from hometax_decrypt.document.limits import DEFAULT, Limits
from tests.support import builder
from tests.support.paths import SAMPLES, password_for, sample_files

EXE = Path(sys.executable).parent / "hometax-decrypt"
ALL = SAMPLES / "nts-2020" / "all.pdf"
# Over the default bound, but small enough to build quickly: what matters is the refusal, not the size.
ELEMENTS = DEFAULT.max_pdf_tokens + 100_000


@pytest.fixture
def opened(monkeypatch) -> list[bytes]:
    """Every PDF handed to qpdf (``pikepdf.open``), as bytes; the files are still opened."""
    seen: list[bytes] = []
    real = pikepdf.open

    def spy(source, *args, **kwargs):
        seen.append(source.getvalue() if isinstance(source, io.BytesIO) else bytes(Path(source).read_bytes()))
        return real(source, *args, **kwargs)

    monkeypatch.setattr(pikepdf, "open", spy)
    return seen


@pytest.mark.parametrize("arrays", [1, 200], ids=["one-array", "200-arrays"])
def test_a_huge_direct_array_is_refused_before_qpdf_reads_the_file(opened, arrays):
    """200 arrays: each under any per-container bound (qpdf's parser_max_container_size), together
    as large as one."""
    data = builder.huge_array_pdf(ELEMENTS, arrays=arrays)
    assert pdf_module.declared_objects(data) == 5  # the object-count gates pass it
    for call in (h.extract, h.extract_verified, h.parse):
        with pytest.raises(errors.TooLarge) as info:
            call(data)
        assert info.value.code == "too_large" and "syntax" in str(info.value)
    assert opened == []  # qpdf never saw the file: nothing was built


@pytest.mark.parametrize("arrays", [1, 200], ids=["one-array", "200-arrays"])
def test_a_huge_array_in_an_object_stream_is_counted_before_qpdf_builds_it(opened, arrays):
    """The catalog inside a Flate object stream: a few KB of file that the byte count cannot see, and
    that qpdf builds while it opens the file (it reads the catalog then). The opener counts the
    inflated object streams on a copy whose catalog is empty; qpdf never opens the file itself."""
    data = builder.huge_array_pdf(ELEMENTS, arrays=arrays, object_stream=True)
    assert len(data) < 64 * 1024 and pdf_module.syntax_count(data) < 2000
    with pytest.raises(errors.TooLarge) as info:
        h.extract(data)
    assert "syntax" in str(info.value)
    assert data not in opened  # only the probe was opened, and it never reads the catalog's stream
    assert all(probe.startswith(data) and len(probe) > len(data) for probe in opened)


def test_an_object_stream_counts_with_the_files_own_syntax():
    """One budget for both: the file's bytes and its object streams' inflated bytes."""
    data = builder.huge_array_pdf(30_000, object_stream=True)
    assert h.open_document(data).layout == "custom_files"  # under the default: opened as before
    with pytest.raises(errors.TooLarge):
        h.open_document(data, limits=Limits(max_pdf_tokens=25_000))


def test_encrypted_object_streams_are_counted_decrypted():
    """An encrypted file's object streams are ciphertext in the file: they are counted decrypted,
    with the password (an array of 150 000 names in a document's object stream)."""
    data = _encrypted_with_array(150_000)
    assert pdf_module.syntax_count(data) < 100_000  # the array is not in the file's bytes
    assert len(h.extract(data, password="pw")) > 0
    with pytest.raises(errors.TooLarge):
        h.extract(data, password="pw", limits=Limits(max_pdf_tokens=100_000))


def _encrypted_with_array(elements: int) -> bytes:
    base = builder.build_nts_pdf()
    with pikepdf.open(io.BytesIO(base)) as pdf:
        pdf.Root.Pad = pdf.make_indirect(pikepdf.Array([pikepdf.Name("/A")] * elements))
        out = io.BytesIO()
        pdf.save(
            out,
            object_stream_mode=pikepdf.ObjectStreamMode.generate,
            encryption=pikepdf.Encryption(user="pw", owner="owner", aes=True, R=6),
        )
    return out.getvalue()


def _object_stream(objects: list[tuple[int, bytes]], length: bytes | None = None) -> bytes:
    """The text of an object stream holding ``objects`` (number, body), Flate-compressed;
    ``length``: its /Length as written (default: the number)."""
    header, body = b"", b""
    for number, obj in objects:
        header += b"%d %d " % (number, len(body))
        body += obj + b"\n"
    packed = zlib.compress(header + body, 9)
    return (
        b"<< /Type /ObjStm /N %d /First %d /Filter /FlateDecode /Length %s >>\nstream\n"
        % (len(objects), len(header), length or b"%d" % len(packed))
        + packed
        + b"\nendstream"
    )


HUGE = b"[" + b"/" * ELEMENTS + b"]"
CATALOG = b"<< /Type /Catalog /Pages 3 0 R /CustomFiles [] >>"
PAGES = b"<< /Type /Pages /Kids [] /Count 0 >>"


def test_an_object_streams_length_in_another_object_stream_is_refused_unread(opened):
    """Reading object stream 1 would make qpdf find its /Length (object 5) in object stream 4 and
    build all of 4 (a huge array) first: on the probe, the objects inside object streams are free,
    so /Length is null and the stream unreadable. Refused; qpdf never opens the file itself."""
    data = builder._xref_stream_pdf(
        {
            1: _object_stream([(2, CATALOG)], length=b"5 0 R"),
            3: PAGES,
            4: _object_stream([(5, b"0"), (6, HUGE)]),
        },
        root=2,
        extra_rows={2: (1, 0), 5: (4, 0), 6: (4, 1)},
    )
    with pytest.raises(errors.Damaged):
        h.extract(data)
    assert data not in opened


def test_an_object_streams_filter_in_another_object_stream_is_refused_unread(opened):
    """An indirect /Filter would be null on the probe (read as no filter: counted compressed) and
    Flate in the file: an object stream's dictionary may not refer into an object stream."""
    data = builder._xref_stream_pdf(
        {
            1: _object_stream([(2, CATALOG)]).replace(b"/Filter /FlateDecode", b"/Filter 5 0 R       ", 1),
            3: PAGES,
            4: _object_stream([(5, b"/FlateDecode"), (6, HUGE)]),
        },
        root=2,
        extra_rows={2: (1, 0), 5: (4, 0), 6: (4, 1)},
    )
    with pytest.raises(errors.Damaged, match="refers into an object stream"):
        h.extract(data)
    assert data not in opened


def test_an_object_stream_inside_an_object_stream_is_refused_unread():
    """Object stream 1 listed as an object of object stream 9 (a huge array): qpdf would build all
    of 9 to find 1. Refused before either is read."""
    data = builder._xref_stream_pdf(
        {3: PAGES, 9: _object_stream([(1, b"null"), (6, HUGE)])},
        root=2,
        extra_rows={1: (9, 0), 2: (1, 0), 6: (9, 1)},
    )
    with pytest.raises(errors.Damaged, match="not where an object stream can be"):
        h.extract(data)


def test_an_encryption_dictionary_inside_an_object_stream_is_refused_unread(opened):
    """qpdf reads the encryption dictionary while it opens a file: inside an object stream (which
    the PDF standard forbids) it would build that whole stream first (2 s, 320 MiB for 2 million
    names), whatever the password. Refused before qpdf opens the file."""
    enc = b"<< /Filter /Standard /V 1 /R 2 /O <" + b"00" * 32 + b"> /U <" + b"00" * 32 + b"> /P -4 >>"
    data = builder._xref_stream_pdf(
        {2: CATALOG, 3: PAGES, 4: _object_stream([(5, enc), (6, HUGE)])},
        root=2,
        extra_rows={5: (4, 0), 6: (4, 1)},
        xref_filter=b"/Encrypt 5 0 R /ID [<00><00>]",
    )
    with pytest.raises(errors.Damaged, match="encryption dictionary"):
        h.extract(data, password="x")
    assert data not in opened


@pytest.mark.parametrize("how", ["no-startxref", "startxref-points-nowhere"])
def test_a_file_qpdf_would_rebuild_is_refused_before_qpdf_builds_anything(opened, how):
    """Without a readable cross-reference table qpdf rebuilds one by scanning the file, takes the
    catalog from the cross-reference stream it finds and builds the object stream holding it while
    it opens the file (2 s and 320 MiB for 2 million names, before any count). Such a file is
    damaged: refused, and the file itself is never handed to qpdf."""
    data = builder.huge_array_pdf(ELEMENTS, object_stream=True)
    at = data.rindex(b"startxref")
    if how == "no-startxref":
        data = data[:at] + b"%%EOF\n"
    else:
        data = data[:at] + b"startxref\n9\n%%EOF\n"
    with pytest.raises(errors.Damaged):
        h.extract(data)
    assert data not in opened


def test_object_streams_with_other_filters_are_refused():
    """qpdf's LZW and other decoders have no memory bound: an object stream must be Flate (or
    plain), as every writer of object streams makes them."""
    data = builder.huge_array_pdf(10, object_stream=True).replace(
        b"/Filter /FlateDecode", b"/Filter /LZWDecode  ", 1
    )
    with pytest.raises(errors.Damaged, match="object stream filter"):
        h.extract(data)


def test_a_custom_files_array_longer_than_any_nts_documents_is_damaged():
    """Under the syntax bound, an array still costs a Python step an item to search: /CustomFiles
    holds an NTS document's two parts, so more than 64 items is not one."""
    data = builder.huge_array_pdf(65)
    with pytest.raises(errors.Damaged, match="/CustomFiles holds more entries"):
        h.extract(data)
    with pytest.raises(errors.NotNtsDocument):  # 64 items: searched, and no part found
        h.extract(builder.huge_array_pdf(64))


def test_every_sample_is_far_under_the_bound_and_opens_as_before(opened):
    """The samples count at most ~76 000 (~1000 a page); the bound leaves more than 6 times that.
    A file without object streams is opened twice at most (the probe, then the file)."""
    for path in sample_files():
        data = path.read_bytes()
        assert pdf_module.syntax_count(data) * 6 < DEFAULT.max_pdf_tokens, path
        with h.open_document(data, password=password_for(path)) as doc:
            assert doc.layout in ("custom_files", "legacy")
    assert len(opened) == 2 * len(sample_files())


# -- the command line --------------------------------------------------------------------------------


def run(*args, env: dict | None = None) -> subprocess.CompletedProcess:
    full = {**os.environ, **(env or {})}
    full.pop("HOMETAX_PASSWORD", None)
    return subprocess.run([str(EXE), *map(str, args)], capture_output=True, env=full, timeout=120)


@pytest.fixture(scope="module")
def hostile(tmp_path_factory) -> Path:
    path = tmp_path_factory.mktemp("hostile") / "huge-array.pdf"
    path.write_bytes(builder.huge_array_pdf(ELEMENTS))
    return path


def test_cli_parse_refuses_it_with_too_large(hostile):
    r = run("parse", hostile)
    assert r.returncode == 6 and r.stdout == b"", r.stderr
    lines = r.stderr.decode().splitlines()
    assert len(lines) == 1 and lines[0].startswith("too_large:"), lines


def test_cli_parse_honours_the_setting(tmp_path):
    r = run("parse", ALL, env={"HOMETAX_MAX_PDF_TOKENS": "1000"})
    assert r.returncode == 6 and r.stderr.decode().startswith("too_large:")


def test_cli_batch_reports_it_and_reads_the_others(hostile, tmp_path):
    """Each worker refuses it as the library does; the other file is read and exported."""
    out = tmp_path / "out.json"
    r = run("batch", hostile, ALL, "--format", "json", "-o", out, "--jobs", "2")
    table = {line.split()[0]: line.split()[1] for line in r.stdout.decode().splitlines()[1:-1]}
    assert table == {str(hostile): "too_large", str(ALL): "ok"}, r.stdout
    assert "(ok 1, too_large 1)" in r.stdout.decode()
    assert [d["source_file"] for d in json.loads(out.read_text())["documents"]] == [str(ALL)]
