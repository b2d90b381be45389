"""A tiny fictional NTS document built in memory, for ``/readyz``: the service is ready when it can
open a PDF and extract its data part byte for byte, the same path an upload takes."""

from __future__ import annotations

import functools
import io
import zlib

SELFTEST_XML = (
    '<?xml version="1.0" encoding="utf-8" ?>\n<yesone>\n<doc><doc_type>B</doc_type>'
    "<seq>2000010100000000</seq><att_year>2000</att_year>"
    "<att_inqrMm>01 ~ 12월</att_inqrMm></doc>\n</yesone>\n"
).encode()


@functools.lru_cache(maxsize=1)
def selftest_pdf() -> bytes:
    import pikepdf

    pdf = pikepdf.new()
    pdf.add_blank_page(page_size=(200, 200))
    stream = pikepdf.Stream(pdf, zlib.compress(SELFTEST_XML))
    stream.Filter = pikepdf.Name.FlateDecode
    stream.Type = pikepdf.Name.EmbeddedFile
    stream.Name = pikepdf.Name.XML
    pdf.Root.CustomFiles = pikepdf.Array([pdf.make_indirect(stream)])
    out = io.BytesIO()
    pdf.save(out, deterministic_id=True)
    return out.getvalue()


def check() -> bool:
    from ..document.pdf import extract

    return extract(selftest_pdf(), part="xml", encoding="utf-8") == SELFTEST_XML
