"""Builds NTS-format PDFs for the suite, so that it stands on its own without the real samples.

Every document here is fictional. The layout follows docs/format.md §1: the catalog's ``/CustomFiles``
array of ``/Type /EmbeddedFile`` Flate streams named ``/XML`` and ``/SAM``, or, for the legacy layout,
streams directly under the catalog keys ``/XML`` / ``/SAM`` holding the digit encoding.
"""

from __future__ import annotations

import io
import os
import random
import zlib

import pikepdf

from hometax_decrypt.document.pdf import encode_legacy

# A small fictional document in the NTS XML shape (2020 layout).
SAMPLE_XML = """<?xml version="1.0" encoding="utf-8" ?>
<yesone>
<doc>
\t<doc_type>B</doc_type>
\t<seq>2021011500000001</seq>
\t<att_year>2020</att_year>
\t<att_inqrMm>01 ~ 12월</att_inqrMm>
</doc>
<form form_cd="B101Y">
\t<man resid="8001011234567" name="김테스트">
\t\t<data dat_cd="G0003" busnid="1234567890" trade_nm="테스트 약국"><sum>12345</sum></data>
\t\t<data dat_cd="G0001" busnid="1234567891" trade_nm="시험 의원"><sum>67890</sum></data>
\t</man>
</form>
</yesone>
""".encode()

SAMPLE_SAM = (
    "DOCHD|HDR|B|2021011500000001|2020|01 ~ 12월                      |\n"
    "B101Y|G0003|8001011234567|김테스트                      |1234567890|테스트 약국                   |000000012345|\n"
    "B101Y|G0001|8001011234567|김테스트                      |1234567891|시험 의원                     |000000067890|\n"
    "DOCED|END|"
).encode()

ENCRYPTIONS = {
    "rc4-40": dict(R=2, aes=False, metadata=False),
    "rc4-128": dict(R=3, aes=False, metadata=False),
    "aes-128": dict(R=4, aes=True),
    "aes-256": dict(R=6, aes=True),
}


def _flate_stream(pdf: pikepdf.Pdf, data: bytes, name: str | None) -> pikepdf.Stream:
    s = pikepdf.Stream(pdf, zlib.compress(data, 6))
    s.Filter = pikepdf.Name.FlateDecode
    if name is not None:
        s.Type = pikepdf.Name.EmbeddedFile
        s.Name = pikepdf.Name("/" + name)
    return s


def _base_pdf(page_text: str = "NTS test document") -> pikepdf.Pdf:
    pdf = pikepdf.new()
    pdf.add_blank_page(page_size=(595, 842))
    font = pdf.make_indirect(
        pikepdf.Dictionary(
            Type=pikepdf.Name.Font, Subtype=pikepdf.Name.Type1, BaseFont=pikepdf.Name.Helvetica
        )
    )
    page = pdf.pages[0]
    page.Resources = pikepdf.Dictionary(Font=pikepdf.Dictionary(F1=font))
    page.Contents = pdf.make_stream(f"BT /F1 12 Tf 72 770 Td ({page_text}) Tj ET".encode("latin-1"))
    return pdf


def save(
    pdf: pikepdf.Pdf,
    *,
    encryption: str | None = None,
    user_password: str = "",
    owner_password: str = "owner-secret",
    object_streams: bool = False,
    linearize: bool = False,
    raw: bool = False,
) -> bytes:
    kwargs: dict = {}
    if encryption and ENCRYPTIONS[encryption]["R"] < 5 and not _latin1(user_password + owner_password):
        # pikepdf refuses passwords outside PDFDocEncoding below R5; pypdf writes them as UTF-8,
        # which is what a Korean password becomes in a writer that does not refuse it.
        return _encrypt_with_pypdf(
            save(pdf, object_streams=object_streams), encryption, user_password, owner_password
        )
    if encryption:
        kwargs["encryption"] = pikepdf.Encryption(
            user=user_password, owner=owner_password, **ENCRYPTIONS[encryption]
        )
    if object_streams:
        kwargs["object_stream_mode"] = pikepdf.ObjectStreamMode.generate
    if linearize:
        kwargs["linearize"] = True
    if raw:  # keep stream data exactly as given (bombs, corrupt streams)
        kwargs["stream_decode_level"] = pikepdf.StreamDecodeLevel.none
        kwargs["compress_streams"] = False
    out = io.BytesIO()
    pdf.save(out, deterministic_id=not encryption, **kwargs)
    return out.getvalue()


def _latin1(text: str) -> bool:
    try:
        text.encode("latin-1")
    except UnicodeEncodeError:
        return False
    return True


_PYPDF_ALGORITHMS = {"rc4-40": "RC4-40", "rc4-128": "RC4-128", "aes-128": "AES-128", "aes-256": "AES-256"}


def _encrypt_with_pypdf(data: bytes, encryption: str, user_password: str, owner_password: str) -> bytes:
    import pypdf

    writer = pypdf.PdfWriter(clone_from=pypdf.PdfReader(io.BytesIO(data)))
    writer.encrypt(
        user_password=user_password, owner_password=owner_password, algorithm=_PYPDF_ALGORITHMS[encryption]
    )
    out = io.BytesIO()
    writer.write(out)
    return out.getvalue()


def build_nts_pdf(
    xml: bytes | None = SAMPLE_XML,
    sam: bytes | None = SAMPLE_SAM,
    *,
    encryption: str | None = None,
    user_password: str = "",
    owner_password: str = "owner-secret",
    legacy: bool = False,
    object_streams: bool = False,
    linearize: bool = False,
) -> bytes:
    """An NTS-format PDF holding ``xml`` and ``sam`` (UTF-8 bytes), optionally encrypted."""
    pdf = _base_pdf()
    if legacy:
        if xml is not None:
            pdf.Root.XML = _flate_stream(pdf, encode_legacy(xml.decode("utf-8")), None)
        if sam is not None:
            pdf.Root.SAM = _flate_stream(pdf, encode_legacy(sam.decode("utf-8")), None)
    else:
        files = pikepdf.Array()
        for name, data in (("XML", xml), ("SAM", sam)):
            if data is not None:
                files.append(pdf.make_indirect(_flate_stream(pdf, data, name)))
        pdf.Root.CustomFiles = files
    return save(
        pdf,
        encryption=encryption,
        user_password=user_password,
        owner_password=owner_password,
        object_streams=object_streams,
        linearize=linearize,
    )


def plain_pdf() -> bytes:
    """A readable PDF with no NTS data at all."""
    return save(_base_pdf("just a PDF"))


def broken_custom_files_pdf(kind: str) -> bytes:
    """``/CustomFiles`` present but unusable: ``not_array``, ``corrupt_stream`` (bad Flate data),
    ``truncated_stream`` (Flate data cut short) or ``bad_filter`` (a filter NTS never uses)."""
    pdf = _base_pdf()
    if kind == "not_array":
        pdf.Root.CustomFiles = pikepdf.Dictionary(Name=pikepdf.Name.XML)
    else:
        if kind == "corrupt_stream":
            data = b"\x78\x9c" + os.urandom(512)
            filt = pikepdf.Name.FlateDecode
        elif kind == "truncated_stream":
            data = zlib.compress(SAMPLE_XML)[: len(SAMPLE_XML) // 4]
            filt = pikepdf.Name.FlateDecode
        elif kind == "bad_filter":
            data = SAMPLE_XML
            filt = pikepdf.Name.LZWDecode
        else:
            raise ValueError(kind)
        s = pikepdf.Stream(pdf, data)
        s.Filter = filt
        s.Type = pikepdf.Name.EmbeddedFile
        s.Name = pikepdf.Name.XML
        pdf.Root.CustomFiles = pikepdf.Array([pdf.make_indirect(s)])
    return save(pdf, raw=True)


def bomb_pdf(inflated_bytes: int = 1 << 30) -> bytes:
    """A ``/CustomFiles`` XML stream of a few MB that inflates to ``inflated_bytes`` (zeros)."""
    comp = zlib.compressobj(9)
    chunk = bytes(1 << 20)
    parts = [comp.compress(b'<?xml version="1.0" encoding="utf-8" ?>\n<yesone>')]
    for _ in range(inflated_bytes >> 20):
        parts.append(comp.compress(chunk))
    parts.append(comp.flush())
    pdf = _base_pdf()
    s = pikepdf.Stream(pdf, b"".join(parts))
    s.Filter = pikepdf.Name.FlateDecode
    s.Type = pikepdf.Name.EmbeddedFile
    s.Name = pikepdf.Name.XML
    pdf.Root.CustomFiles = pikepdf.Array([pdf.make_indirect(s)])
    return save(pdf, raw=True)


def truncated(data: bytes, keep: float = 0.5) -> bytes:
    return data[: int(len(data) * keep)]


def random_bytes(n: int = 4096, seed: int = 7) -> bytes:
    return random.Random(seed).randbytes(n)


def _xref_stream_pdf(
    objects: dict[int, bytes],
    root: int,
    extra_rows: dict[int, tuple[int, int]] | None = None,
    xref_filter: bytes = b"",
    xref_data=None,
) -> bytes:
    """A PDF 1.5 file written by hand: ``objects`` (number -> "<<...>>" or "<<...>>stream...") and an
    xref stream. ``extra_rows`` adds type-2 rows (object -> (object stream, index)).
    ``xref_data`` replaces the xref stream's (uncompressed) rows, ``xref_filter`` its /Filter."""
    import struct

    out = bytearray(b"%PDF-1.7\n%\xe2\xe3\xcf\xd3\n")
    offsets = {}
    for number, body in sorted(objects.items()):
        offsets[number] = len(out)
        out += b"%d 0 obj\n" % number + body + b"\nendobj\n"
    extra_rows = extra_rows or {}
    xref_number = max(list(objects) + list(extra_rows)) + 1
    offsets[xref_number] = len(out)
    rows = [b"\x00" + struct.pack(">IH", 0, 65535)]
    for n in range(1, xref_number + 1):
        if n in offsets:
            rows.append(b"\x01" + struct.pack(">IH", offsets[n], 0))
        elif n in extra_rows:
            rows.append(b"\x02" + struct.pack(">IH", *extra_rows[n]))
        else:
            rows.append(b"\x00" + struct.pack(">IH", 0, 0))
    data = b"".join(rows) if xref_data is None else xref_data
    out += (
        b"%d 0 obj\n<< /Type /XRef /Size %d /W [1 4 2] /Root %d 0 R %s /Length %d >>\nstream\n"
        % (xref_number, xref_number + 1, root, xref_filter, len(data))
        + data
        + b"\nendstream\nendobj\n"
    )
    out += b"startxref\n%d\n%%%%EOF\n" % offsets[xref_number]
    return bytes(out)


def _zeros_deflated(prefix: bytes, mib: int, fill: bytes = b" ") -> bytes:
    comp = zlib.compressobj(9)
    parts = [comp.compress(prefix)]
    block = fill * (1 << 20)
    parts += [comp.compress(block) for _ in range(mib)]
    parts.append(comp.flush())
    return b"".join(parts)


def object_stream_bomb(mib: int = 1024) -> bytes:
    """The catalog inside an object stream that inflates to ``mib`` MiB: qpdf inflates it on open."""
    catalog = b"<< /Type /Catalog /Pages 3 0 R /CustomFiles [] >>"
    header = b"2 0 "
    stream = _zeros_deflated(header + catalog, mib)
    objects = {
        1: b"<< /Type /ObjStm /N 1 /First %d /Filter /FlateDecode /Length %d >>\nstream\n"
        % (len(header), len(stream))
        + stream
        + b"\nendstream",
        3: b"<< /Type /Pages /Kids [] /Count 0 >>",
    }
    return _xref_stream_pdf(objects, root=2, extra_rows={2: (1, 0)})


def xref_stream_bomb(mib: int = 1024) -> bytes:
    """A cross-reference stream that inflates to ``mib`` MiB of rows: qpdf inflates it on open."""
    objects = {
        1: b"<< /Type /Catalog /Pages 2 0 R /CustomFiles [] >>",
        2: b"<< /Type /Pages /Kids [] /Count 0 >>",
    }
    plain = _xref_stream_pdf(objects, root=1)
    rows_start = plain.index(b"stream\n", plain.index(b"/Type /XRef")) + 7
    rows_end = plain.index(b"\nendstream", rows_start)
    rows = plain[rows_start:rows_end]
    bomb = _zeros_deflated(rows, mib, fill=b"\x00")
    return _xref_stream_pdf(objects, root=1, xref_filter=b"/Filter /FlateDecode", xref_data=bomb)


def size_lie_pdf(objects: int = 300_000) -> bytes:
    """A classic-xref PDF with ``objects`` tiny objects whose trailer claims /Size 3."""
    out = bytearray(b"%PDF-1.4\n")
    offsets = []
    body = [
        b"1 0 obj\n<< /Type /Catalog /Pages 2 0 R >>\nendobj\n",
        b"2 0 obj\n<< /Type /Pages /Kids [] /Count 0 >>\nendobj\n",
    ]
    body += [b"%d 0 obj\nnull\nendobj\n" % n for n in range(3, objects + 3)]
    for chunk in body:
        offsets.append(len(out))
        out += chunk
    xref = len(out)
    out += b"xref\n0 %d\n0000000000 65535 f \n" % (len(offsets) + 1)
    out += b"".join(b"%010d 00000 n \n" % o for o in offsets)
    out += b"trailer\n<< /Size 3 /Root 1 0 R >>\nstartxref\n%d\n%%%%EOF\n" % xref
    return bytes(out)


# -- documents of other tax years (docs/format.md §7) ------------------------------------------------
# The form codes of each year as docs/format.md §7 lists them; 2026 is a year no public source describes
# (the G1 family's next codes, G114Y…), so the catalog must infer its labels.
YEAR_CARD_VERSION = {2021: "09", 2023: "11", 2024: "12", 2026: "14"}
EMPLOYEE = ("8501011234567", "연도직원")
CHILD = ("1501013234567", "연도자녀")
PARENT = ("5001012234567", "연도부모")


def _sum_data(year: int, tags: dict[str, int]) -> str:
    return "<sum_data>" + "".join(f"<{k}>{v}</{k}>" for k, v in tags.items()) + "</sum_data>"


def year_xml(
    year: int, *, seq: str | None = None, person: tuple[str, str] = EMPLOYEE, scale: int = 1
) -> bytes:
    """A fictional 간소화 document of tax year ``year`` (2021, 2023, 2024 or 2026) with the forms
    and attributes docs/format.md §7 names for that year. ``scale`` multiplies every amount (two
    documents of the same person and year with different figures)."""
    v = YEAR_CARD_VERSION[year]
    resid, name = person
    seq = seq or f"{year + 1}0115{year % 100:02d}000001"
    a = lambda n: n * scale  # noqa: E731
    head = (
        f"<doc><doc_type>A</doc_type><seq>{seq}</seq><att_year>{year}</att_year>"
        f"<att_inqrMm>01 ~ 12월</att_inqrMm>"
        + (f"<resid>{resid}</resid><name>{name}</name>" if year >= 2022 else "")
        + "</doc>"
    )
    forms = [
        f'<form form_cd="B101Y"><man resid="{resid}" name="{name}">'
        f'<data dat_cd="G0003" busnid="1234567890" trade_nm="연도 의원"><sum>{a(150000)}</sum></data></man>'
        f'<man resid="{CHILD[0]}" name="{CHILD[1]}">'
        f'<data dat_cd="G0003" busnid="1234567891" trade_nm="연도 약국"><sum>{a(20000)}</sum></data></man></form>',
        f'<form form_cd="G1{v}Y"><man resid="{resid}" name="{name}">'
        + _sum_data(year, {"gnrl_sum": a(900000), "tdmr_sum": a(100000), "tot_sum": a(1000000)})
        + f'<data dat_cd="G0012" busnid="2234567890" trade_nm="연도카드" use_place_cd="1"><sum>{a(900000)}</sum></data>'
        f'<data dat_cd="G0012" busnid="2234567890" trade_nm="연도카드" use_place_cd="2"><sum>{a(100000)}</sum></data>'
        "</man></form>",
        f'<form form_cd="E103Y"><man resid="{resid}" name="{name}">'
        f'<data dat_cd="G0010" busnid="3234567890" trade_nm="연도은행" acc_no="123-45">'
        f"<com_cd>001</com_cd><ann_tot_amt>{a(4000000)}</ann_tot_amt><tax_year_amt>{a(500000)}</tax_year_amt>"
        f"<ddct_bs_ass_amt>{a(3500000)}</ddct_bs_ass_amt><isa_ann_tot_amt>{a(1000000)}</isa_ann_tot_amt>"
        f"<isa_tax_year_amt>0</isa_tax_year_amt><isa_ddct_bs_ass_amt>{a(1000000)}</isa_ddct_bs_ass_amt>"
        "</data></man></form>",
    ]
    if year >= 2023:
        cash = (
            f'<form form_cd="G2{v}M"><man resid="{resid}" name="{name}">'
            + _sum_data(
                year,
                {
                    "gnrl_sum": a(30000),
                    "hlet_sum": a(600000),
                    "tot_sum": a(630000),
                    "tfhy_hlet_sum": a(150000),
                    "shfy_hlet_sum": a(450000),
                },
            )
            + f'<data dat_cd="G0013" use_place_cd="1"><sum>{a(30000)}</sum><amt mm="01">{a(30000)}</amt></data>'
            f'<data dat_cd="G0013" use_place_cd="8"><sum>{a(600000)}</sum><amt mm="02">{a(600000)}</amt></data>'
            "</man></form>"
        )
        forms += [
            cash,
            f'<form form_cd="J501Y"><man resid="{resid}" name="{name}">'
            f'<data dat_cd="G0037" lsor_no="6001011234567" lsor_nm="연도임대인"><start_dt>{year}0101</start_dt>'
            f"<end_dt>{year}1231</end_dt><sum>{a(1200000)}</sum></data>"
            f'<data dat_cd="G0042" lsor_no="4234567890" lsor_nm="연도임대법인"><sum>{a(300000)}</sum></data>'
            "</man></form>",
            f'<form form_cd="C501Y"><man resid="{CHILD[0]}" name="{CHILD[1]}">'
            f'<data dat_cd="G0004" busnid="5234567890" trade_nm="한국교육과정평가원" edu_tp="1" edu_end="Y">'
            f"<sum>{a(68000)}</sum></data></man></form>",
            f'<form form_cd="S101M"><man resid="{resid}" name="{name}">'
            f'<data dat_cd="G0045"><sum>{a(24000)}</sum><amt mm="01">{a(12000)}</amt><amt mm="02">{a(12000)}</amt>'
            "</data></man></form>",
        ]
    if year >= 2024:
        forms.append(
            f'<form form_cd="T101M"><man resid="{resid}" name="{name}">'
            f'<data dat_cd="G0046" rlt_cd="1" sup_resid="{PARENT[0]}" sup_name="{PARENT[1]}" inc_exc="Y"/>'
            f'<data dat_cd="G0046" rlt_cd="4" sup_resid="{CHILD[0]}" sup_name="{CHILD[1]}" inc_exc="N"/>'
            "</man></form>"
        )
    body = "\n".join([head] + forms)
    return ('<?xml version="1.0" encoding="utf-8" ?>\n<yesone>\n' + body + "\n</yesone>\n").encode("utf-8")


def _card_totals(year: int, category: int, amount: int, person_totals: tuple[int, ...]) -> list[int]:
    """The 19 card totals of one SAM card line as the 2022 sample writes them: the person's four
    previous/current-year totals (on the person's first line, zeros after), then the item's own
    share of the year (general, market, transport, culture, total), of the first and of the second
    part of the year (the builder puts every amount in the second)."""
    year_part = [0] * 5
    year_part[category] = year_part[4] = amount
    return [*person_totals, *year_part, 0, 0, 0, 0, 0, *year_part]


def year_sam(
    year: int, *, seq: str | None = None, person: tuple[str, str] = EMPLOYEE, scale: int = 1
) -> bytes:
    """The SAM part of :func:`year_xml` (same arguments): one line per item, the columns in the
    order of the item's XML fields (docs/format.md §4), zero-padded numbers. The card lines take the
    2022 sample's shape for every year (19 totals, then the item's attributes and ``<sum>``; cash
    receipts also the twelve months): what the NTS writes in 2021, 2024 and 2026 is not published,
    so the parser must keep those lines raw; for 2023 it reads them by ``sam_layouts.json``. Written
    here by hand, not from that file, so that the file is checked against something else."""
    v = YEAR_CARD_VERSION[year]
    resid, name = person
    seq = seq or f"{year + 1}0115{year % 100:02d}000001"
    a = lambda n: n * scale  # noqa: E731

    def line(form_cd, dat_cd, who, *cols):
        cells = [f"{c:012d}" if isinstance(c, int) else c for c in cols]
        return "|".join([form_cd, dat_cd, who[0], who[1], *cells]) + "|"

    me = (resid, name)
    head = f"DOCHD|HDR|A|{seq}|{year}|01 ~ 12월|" + (f"{resid}|{name}|" if year >= 2022 else "")
    lines = [
        head,
        line("B101Y", "G0003", me, "1234567890", "연도 의원", a(150000)),
        line("B101Y", "G0003", CHILD, "1234567891", "연도 약국", a(20000)),
        line(
            f"G1{v}Y",
            "G0012",
            me,
            *_card_totals(year, 0, a(900000), (0, a(1000000), 0, a(100000))),
            "2234567890",
            "연도카드",
            "1",
            a(900000),
        ),
        line(
            f"G1{v}Y",
            "G0012",
            me,
            *_card_totals(year, 1, a(100000), (0, 0, 0, 0)),
            "2234567890",
            "연도카드",
            "2",
            a(100000),
        ),
        line(
            "E103Y",
            "G0010",
            me,
            "3234567890",
            "연도은행",
            "123-45",
            "001",
            a(4000000),
            a(500000),
            a(3500000),
            a(1000000),
            0,
            a(1000000),
        ),
    ]
    if year >= 2023:
        lines += [
            line(
                f"G2{v}M",
                "G0013",
                me,
                *_card_totals(year, 0, a(30000), (0, a(630000), 0, 0)),
                "1",
                a(30000),
                a(30000),
                *[0] * 11,
            ),
            line(
                f"G2{v}M",
                "G0013",
                me,
                *_card_totals(year, 0, a(600000), (0, 0, 0, 0)),
                "8",
                a(600000),
                0,
                a(600000),
                *[0] * 10,
            ),
            line(
                "J501Y",
                "G0037",
                me,
                "6001011234567",
                "연도임대인",
                f"{year}0101",
                f"{year}1231",
                "",
                "",
                "",
                a(1200000),
            ),
            line("J501Y", "G0042", me, "4234567890", "연도임대법인", "", "", "", "", "", a(300000)),
            line("C501Y", "G0004", CHILD, "5234567890", "한국교육과정평가원", "1", "Y", a(68000)),
            line("S101M", "G0045", me, a(24000), a(12000), a(12000), *[0] * 10),
        ]
    if year >= 2024:
        lines += [
            line("T101M", "G0046", me, "1", PARENT[0], PARENT[1], "Y"),
            line("T101M", "G0046", me, "4", CHILD[0], CHILD[1], "N"),
        ]
    return ("\n".join(lines + ["DOCED|END|"])).encode("utf-8")


def year_pdf(year: int, *, sam: bool = False, **kwargs) -> bytes:
    """:func:`year_xml` in an NTS-format PDF (no password); ``sam=True`` adds :func:`year_sam`."""
    return build_nts_pdf(year_xml(year, **kwargs), year_sam(year, **kwargs) if sam else None)


# -- huge arrays: what qpdf builds when it parses an object (issue 22 #1) ---------------------------


def huge_array_pdf(elements: int, *, arrays: int = 1, object_stream: bool = False) -> bytes:
    """A catalog holding ``arrays`` direct arrays (``/CustomFiles`` and ``/K1``…) of ``elements``
    empty names (``////…``) in all, in a file of three objects: no object count sees it, and qpdf
    builds every element (~140 bytes each) as soon as it reads the catalog. ``object_stream``: the
    catalog inside a Flate object stream (a few KB of file), where no scan of the file's bytes sees
    it."""
    per = elements // arrays
    keys = [b"/CustomFiles"] + [b"/K%d" % i for i in range(1, arrays)]
    body = b" ".join(key + b" [" + b"/" * per + b"]" for key in keys)
    catalog = b"<< /Type /Catalog /Pages 3 0 R " + body + b" >>"
    pages = b"<< /Type /Pages /Kids [] /Count 0 >>"
    if not object_stream:
        return _xref_stream_pdf({2: catalog, 3: pages}, root=2)
    header = b"2 0 "
    packed = zlib.compress(header + catalog, 9)
    stream = (
        b"<< /Type /ObjStm /N 1 /First %d /Filter /FlateDecode /Length %d >>\nstream\n"
        % (len(header), len(packed))
        + packed
        + b"\nendstream"
    )
    return _xref_stream_pdf({1: stream, 3: pages}, root=2, extra_rows={2: (1, 0)})
