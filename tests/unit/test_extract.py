"""Extraction (issue 2): the real NTS samples, the suite's own documents, every error code."""

from __future__ import annotations

import io
import subprocess
import sys
import zlib

import pikepdf
import pypdf
import pytest

import hometax_decrypt as h
from hometax_decrypt import errors, nts_compat
from hometax_decrypt.document.limits import Limits
from tests.support import builder
from tests.support.paths import PRINT_PEAK_RSS_KIB, SAMPLES, password_for, sample_files

EXPECTED_XML = (SAMPLES / "nts-2020" / "all.expected.euc-kr.xml").read_bytes()
EXPECTED_SAM = (SAMPLES / "nts-2020" / "all.expected.euc-kr.sam").read_bytes()


def pypdf_part(path, name: str) -> bytes:
    """The part as an independent PDF library (pypdf) reads it."""
    reader = pypdf.PdfReader(str(path))
    if reader.is_encrypted:
        assert reader.decrypt(password_for(path) or "")
    for ref in reader.trailer["/Root"]["/CustomFiles"]:
        stream = ref.get_object()
        if stream["/Name"] == "/" + name:
            return stream.get_data()
    raise AssertionError("part not found")


# -- the real samples -----------------------------------------------------------------------------


@pytest.mark.parametrize("path", sample_files(), ids=lambda p: str(p.relative_to(SAMPLES)))
def test_every_sample_extracts_both_parts_as_stored(path):
    pw = password_for(path)
    xml = h.extract(path, password=pw)
    sam = h.extract(path, password=pw, part="sam")
    assert xml == pypdf_part(path, "XML")
    assert sam == pypdf_part(path, "SAM")
    assert xml.startswith(b'<?xml version="1.0" encoding="utf-8" ?>')
    assert sam.startswith(b"DOCHD|HDR|") and sam.rstrip().endswith(b"DOCED|END|")


def test_euc_kr_matches_nts_library_output_byte_for_byte():
    path = SAMPLES / "nts-2020" / "all.pdf"
    assert h.extract(path, encoding="euc-kr") == EXPECTED_XML
    assert h.extract(path, part="sam", encoding="euc-kr") == EXPECTED_SAM


def test_password_sample_needs_its_password(all_2020_password):
    with pytest.raises(errors.PasswordRequired):
        h.extract(all_2020_password)
    with pytest.raises(errors.WrongPassword):
        h.extract(all_2020_password, password="7654321")
    xml = h.extract(all_2020_password, password="1234567")
    assert b"<yesone>" in xml


def test_source_kinds_agree(all_2020):
    path = SAMPLES / "nts-2020" / "all.pdf"
    a = h.extract(all_2020)
    assert h.extract(str(path)) == a
    assert h.extract(path) == a
    assert h.extract(io.BytesIO(all_2020)) == a
    assert h.extract(bytearray(all_2020)) == a


def test_extract_verified_reports_verification_next_to_data(all_2020):
    result = h.extract_verified(all_2020, part="sam", encoding="euc-kr")
    assert result.data == EXPECTED_SAM
    assert result.verification.intact is True


# -- generated documents: encryptions, layouts ------------------------------------------------------

PASSWORDS = ["pw-1234", "", "비밀번호7"]


@pytest.mark.parametrize("encryption", list(builder.ENCRYPTIONS))
@pytest.mark.parametrize("password", PASSWORDS, ids=["ascii", "empty-user", "korean"])
def test_encryptions(encryption, password):
    data = builder.build_nts_pdf(encryption=encryption, user_password=password)
    assert pikepdf.open(io.BytesIO(data), password=password.encode("utf-8")).is_encrypted
    got = h.extract(data, password=password or None)
    assert got == builder.SAMPLE_XML
    assert h.extract(data, password=password or None, part="sam") == builder.SAMPLE_SAM
    if password:
        with pytest.raises(errors.PasswordRequired):
            h.extract(data)
        with pytest.raises(errors.WrongPassword):
            h.extract(data, password=password + "x")


def test_owner_password_also_opens():
    data = builder.build_nts_pdf(encryption="aes-128", user_password="user-pw", owner_password="owner-pw")
    assert h.extract(data, password="owner-pw") == builder.SAMPLE_XML


@pytest.mark.parametrize("encryption", [None, "rc4-128", "aes-256"])
def test_object_streams_and_linearized(encryption):
    data = builder.build_nts_pdf(
        encryption=encryption, user_password="pw", object_streams=True, linearize=True
    )
    assert b"/ObjStm" in data or encryption  # object streams are only visible when not encrypted
    assert b"/Linearized" in data[:1024]
    assert h.extract(data, password="pw") == builder.SAMPLE_XML


def test_real_sample_resaved_with_aes256_and_object_streams(all_2020):
    pdf = pikepdf.open(io.BytesIO(all_2020))
    out = io.BytesIO()
    pdf.save(
        out,
        encryption=pikepdf.Encryption(user="새암호", owner="o", R=6),
        object_stream_mode=pikepdf.ObjectStreamMode.generate,
    )
    assert h.extract(out.getvalue(), password="새암호", encoding="euc-kr") == EXPECTED_XML


def test_legacy_layout_decodes_digit_encoding():
    data = builder.build_nts_pdf(legacy=True)
    with pikepdf.open(io.BytesIO(data)) as pdf:
        raw = pdf.Root.XML.read_bytes()
    assert raw.startswith(b"260263")  # '<' is 60, '?' is 63: the digit encoding, not the text
    assert h.extract(data) == builder.SAMPLE_XML
    assert h.extract(data, part="sam") == builder.SAMPLE_SAM
    ansi = h.extract(data, encoding="euc-kr")
    assert ansi.startswith(b'<?xml version="1.0" encoding="euc-kr" ?>')
    assert ansi.decode("cp949") == builder.SAMPLE_XML.decode().replace('"utf-8"', '"euc-kr"')


def test_legacy_encrypted():
    data = builder.build_nts_pdf(legacy=True, encryption="rc4-128", user_password="1234567")
    assert h.extract(data, password="1234567") == builder.SAMPLE_XML


def test_euc_kr_replaces_unencodable_characters_like_nts():
    xml = builder.SAMPLE_XML.replace("테스트 약국".encode(), "약국 😀".encode())
    data = builder.build_nts_pdf(xml=xml)
    out = h.extract(data, encoding="euc-kr")
    assert "약국 ?".encode("cp949") in out


def test_missing_part_is_not_nts_document():
    data = builder.build_nts_pdf(sam=None)
    assert h.extract(data) == builder.SAMPLE_XML
    with pytest.raises(errors.NotNtsDocument):
        h.extract(data, part="sam")


# -- errors ------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "make, code",
    [
        (builder.plain_pdf, "not_nts_document"),
        (lambda: builder.broken_custom_files_pdf("not_array"), "damaged"),
        (lambda: builder.broken_custom_files_pdf("corrupt_stream"), "damaged"),
        (lambda: builder.broken_custom_files_pdf("truncated_stream"), "damaged"),
        (lambda: builder.broken_custom_files_pdf("bad_filter"), "damaged"),
        (lambda: builder.truncated(builder.build_nts_pdf(), 0.5), "damaged"),
        (lambda: builder.truncated((SAMPLES / "nts-2020/all.pdf").read_bytes(), 0.6), "damaged"),
        (lambda: builder.random_bytes(), "damaged"),
        (lambda: b"", "damaged"),
        (lambda: b"%PDF-1.4\n" + builder.random_bytes(2000), "damaged"),
    ],
    ids=[
        "no-data",
        "customfiles-not-array",
        "corrupt-flate",
        "truncated-flate",
        "unknown-filter",
        "truncated-file",
        "truncated-sample",
        "random-bytes",
        "empty",
        "header-then-garbage",
    ],
)
def test_error_codes(make, code):
    with pytest.raises(errors.HometaxError) as info:
        h.extract(make())
    assert info.value.code == code
    assert info.value.nts_code == errors.SPECS[code].nts_code


def test_input_size_limit():
    data = builder.build_nts_pdf()
    with pytest.raises(errors.TooLarge):
        h.extract(data, limits=Limits(max_input_bytes=len(data) - 1))
    assert h.extract(data, limits=Limits(max_input_bytes=len(data))) == builder.SAMPLE_XML


def test_input_size_limit_from_environment_only_when_asked(monkeypatch):
    """The library never reads the environment by itself; Limits.from_env() (what the adapters
    call at start) does."""
    data = builder.build_nts_pdf()
    monkeypatch.setenv("HOMETAX_MAX_INPUT_BYTES", str(len(data) - 1))
    assert h.extract(data) == builder.SAMPLE_XML
    with pytest.raises(errors.TooLarge):
        h.extract(data, limits=Limits.from_env())


def test_part_size_limit():
    data = builder.build_nts_pdf()
    with pytest.raises(errors.TooLarge):
        h.extract(data, limits=Limits(max_part_bytes=len(builder.SAMPLE_XML) - 1))
    assert h.extract(data, limits=Limits(max_part_bytes=len(builder.SAMPLE_XML))) == builder.SAMPLE_XML


def test_object_count_limit(all_2020):
    with pytest.raises(errors.TooLarge):
        h.extract(all_2020, limits=Limits(max_objects=50))


def test_usage_errors(all_2020):
    with pytest.raises(errors.UsageError):
        h.extract(all_2020, part="pdf")
    with pytest.raises(errors.UsageError):
        h.extract(all_2020, encoding="latin-1")
    with pytest.raises(errors.UsageError):
        h.extract(12345)


def extract_in_fresh_process(data: bytes, tmp_path) -> tuple[str, int]:
    """(error code or 'ok', peak RSS in KiB) of extracting ``data`` in a fresh process, so that the
    peak memory is the extraction's own; the process is set up as every adapter sets it up
    (``configure_process``: qpdf's decoder bounds)."""
    path = tmp_path / "input.pdf"
    path.write_bytes(data)
    code = (
        "import sys, hometax_decrypt as h\n"
        "h.configure_process()\n"
        "try:\n"
        "    h.extract(sys.argv[1]); print('ok')\n"
        "except h.HometaxError as e: print(e.code)\n" + PRINT_PEAK_RSS_KIB
    )
    out = subprocess.run(
        [sys.executable, "-c", code, str(path)], capture_output=True, text=True, timeout=60, check=True
    ).stdout.split()
    return out[0], int(out[1])


def test_bomb_is_stopped_while_inflating_in_bounded_memory(bomb, tmp_path):
    """A 1 MB data stream that inflates to 1 GiB: stopped at the part limit."""
    assert len(bomb) < 2 * 1024 * 1024
    code, peak_kib = extract_in_fresh_process(bomb, tmp_path)
    assert code == "too_large"
    assert peak_kib < 300 * 1024  # far below the 1 GiB the stream would inflate to


@pytest.mark.parametrize(
    "make, want",
    [(builder.object_stream_bomb, "too_large"), (builder.xref_stream_bomb, "damaged")],
    ids=["object-stream", "xref-stream"],
)
def test_structure_bombs_inflated_by_qpdf_are_bounded(make, want, tmp_path):
    """qpdf inflates xref streams itself while opening: its decoder memory limit, set by
    configure_process (document/setup.py), stops a 512 MiB bomb there (damaged). Object streams are
    inflated and counted by the library before qpdf reads any (document/pdf.py
    _check_object_streams): stopped at max_structure_bytes (too_large). Unbounded, either takes
    ~1 GiB and seconds."""
    code, peak_kib = extract_in_fresh_process(make(512), tmp_path)
    assert code == want
    assert peak_kib < 300 * 1024


def test_object_count_is_counted_not_taken_from_size(tmp_path):
    data = builder.size_lie_pdf(50_000)
    assert b"/Size 3 " in data
    with pytest.raises(errors.TooLarge):
        h.extract(data, limits=Limits(max_objects=40_000))
    with pytest.raises(errors.NotNtsDocument):  # under the limit: read, and it holds no NTS data
        h.extract(data, limits=Limits(max_objects=60_000))


def test_messages_never_contain_the_password(all_2020_password):
    secret = "7654321"
    with pytest.raises(errors.WrongPassword) as info:
        h.extract(all_2020_password, password=secret)
    assert secret not in str(info.value) and secret not in repr(info.value)
    assert secret not in str(info.value.to_dict())


# -- the NTS-compatible API ---------------------------------------------------------------------------


def test_nts_compat_buffer_functions(all_2020, all_2020_password):
    buf = nts_compat.NTS_GetFileBufEx(all_2020, "", "XML", True)
    assert buf == EXPECTED_XML and nts_compat.NTS_GetLastError() == 1
    path = str(SAMPLES / "nts-2020" / "all.pdf")
    assert nts_compat.NTS_GetFileBuf(path, None, "SAM", True) == EXPECTED_SAM
    assert nts_compat.NTS_GetFileSize(path, "", "XML", True) == len(EXPECTED_XML)
    assert nts_compat.NTS_GetFileBufEx(all_2020_password, "0000000", "XML", False) is None
    assert nts_compat.NTS_GetLastError() == -1
    assert nts_compat.NTS_GetFileBufEx(builder.plain_pdf(), "", "XML", False) is None
    assert nts_compat.NTS_GetLastError() == 0
    assert nts_compat.NTS_GetFileBufEx(b"not a pdf", "", "XML", False) is None
    assert nts_compat.NTS_GetLastError() == -2
    assert nts_compat.NTS_GetFileSize(b"not a pdf", "", "XML", False) == -2


def test_nts_compat_file_functions(tmp_path, all_2020_password):
    out = tmp_path / "out.sam"
    path = str(SAMPLES / "nts-2020" / "all.pdf")
    assert nts_compat.NTS_GetFile(path, "", "SAM", str(out), True) == 1
    assert out.read_bytes() == EXPECTED_SAM
    assert nts_compat.NTS_GetFileEx(all_2020_password, "1234567", "XML", str(out), False) == 1
    assert out.read_bytes() == h.extract(all_2020_password, password="1234567")
    assert nts_compat.NTS_GetFileEx(all_2020_password, "", "XML", str(tmp_path / "x"), False) == -1
    assert not (tmp_path / "x").exists()
    java = nts_compat.ExportCustomFile()
    assert java.NTS_GetFileBufEx(all_2020_password, "1234567", "XML", True).startswith(
        b'<?xml version="1.0" encoding="euc-kr" ?>'
    )
    assert java.NTS_GetLastError() == 1


def test_korean_password_written_in_cp949_also_opens():
    """Writers on Korean Windows encode a password in the ANSI code page (CP949), not UTF-8."""
    cp949_as_latin1 = "비밀번호7".encode("cp949").decode("latin-1")  # pypdf writes latin-1 verbatim
    data = builder._encrypt_with_pypdf(builder.build_nts_pdf(), "rc4-128", cp949_as_latin1, "owner")
    with pytest.raises(pikepdf.PasswordError):
        pikepdf.open(io.BytesIO(data), password="비밀번호7")  # the UTF-8 bytes do not open it
    assert h.extract(data, password="비밀번호7") == builder.SAMPLE_XML


def test_time_limit_is_a_too_large_error(all_2020):
    with pytest.raises(errors.TooLarge) as info:
        h.extract(all_2020, limits=Limits(max_seconds=0))
    assert "time" in info.value.message


def test_legacy_surrogate_code_point_is_damaged():
    data = builder.build_nts_pdf(legacy=True)
    pdf = pikepdf.open(io.BytesIO(data))
    pdf.Root.XML = pikepdf.Stream(pdf, zlib.compress(b"260" + b"555296" + b"262"))
    pdf.Root.XML.Filter = pikepdf.Name.FlateDecode
    out = io.BytesIO()
    pdf.save(out)
    with pytest.raises(errors.Damaged):
        h.extract(out.getvalue())
    assert nts_compat.NTS_GetFileBufEx(out.getvalue(), "", "XML", False) is None
    assert nts_compat.NTS_GetLastError() == -2
