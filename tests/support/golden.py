"""Every writer's output on every sample and built document, as SHA-256 per output.

``tests/fixtures/golden/outputs.json`` holds them as the code wrote them before the SAM layouts and the
year-bound labels moved into data (issue 20, item 4), so ``tests/unit/test_golden.py`` proves such a move
changes no byte of JSON, CSV, XLSX cells or NDJSON, read from the XML part or from the SAM part.
Names are relative (``nts-2020/all.pdf``, ``builder/year-2023.pdf``), never a path on this machine.

Regenerate (only when an output is meant to change, and say which in the commit)::

    PYTHONPATH=src python tests/golden_outputs.py --write [--dump DIR]

``--dump DIR`` also writes every output in full, to diff two runs.
"""

from __future__ import annotations

import hashlib
import io
import json
import sys
from pathlib import Path

from hometax_decrypt import errors
from hometax_decrypt.document.pdf import open_document
from hometax_decrypt.formats.csv import to_csv
from hometax_decrypt.formats.json import to_json
from hometax_decrypt.formats.ndjson import to_ndjson
from hometax_decrypt.formats.xlsx import to_xlsx
from hometax_decrypt.records import parse_sam, parse_xml
from tests.support import builder
from tests.support.paths import FIXTURES, SAMPLES, password_for, sample_files

GOLDEN = FIXTURES / "golden" / "outputs.json"
BUILT_YEARS = (2021, 2023, 2024, 2026)


def documents():
    """(relative name, PDF bytes, password) of every sample and of the builder's documents."""
    for path in sample_files():
        yield path.relative_to(SAMPLES).as_posix(), path.read_bytes(), password_for(path)
    yield "builder/sample.pdf", builder.build_nts_pdf(), None
    for year in BUILT_YEARS:
        yield f"builder/year-{year}.pdf", builder.year_pdf(year, sam=True), None


def xlsx_cells(data: bytes) -> bytes:
    """The cell values of every sheet (the file itself carries its creation time)."""
    import openpyxl

    wb = openpyxl.load_workbook(io.BytesIO(data), read_only=True)
    cells = {ws.title: [list(r) for r in ws.iter_rows(values_only=True)] for ws in wb.worksheets}
    return json.dumps(cells, ensure_ascii=False, separators=(",", ":")).encode("utf-8")


def outputs(name: str, data: bytes, password: str | None) -> dict[str, bytes]:
    """``{"<name>:<part>.<writer>": bytes}`` for each part the PDF holds (XML, SAM)."""
    out: dict[str, bytes] = {}
    with open_document(data, password) as pdf:
        parts = {}
        for part in ("XML", "SAM"):
            try:
                parts[part] = pdf.read_part(part)
            except errors.NotNtsDocument:
                continue
    for part, raw in parts.items():
        doc = (parse_xml if part == "XML" else parse_sam)(raw)
        key = f"{name}:{part}"
        out[f"{key}.json"] = to_json([doc])
        out[f"{key}.masked.json"] = to_json([doc], mask=True)
        out[f"{key}.csv"] = to_csv([doc])
        out[f"{key}.xlsx-cells.json"] = xlsx_cells(to_xlsx([doc]))
        out[f"{key}.ndjson"] = to_ndjson([doc])
    return out


def all_outputs() -> dict[str, bytes]:
    out: dict[str, bytes] = {}
    for name, data, password in documents():
        out.update(outputs(name, data, password))
    return out


def digests(outs: dict[str, bytes]) -> dict[str, str]:
    return {k: hashlib.sha256(v).hexdigest() for k, v in sorted(outs.items())}


def main(argv: list[str]) -> None:
    outs = all_outputs()
    if "--dump" in argv:
        target = Path(argv[argv.index("--dump") + 1])
        for k, v in outs.items():
            f = target / k.replace(":", "__")
            f.parent.mkdir(parents=True, exist_ok=True)
            f.write_bytes(v)
    if "--write" in argv:
        GOLDEN.parent.mkdir(parents=True, exist_ok=True)
        GOLDEN.write_text(json.dumps(digests(outs), indent=0, sort_keys=True) + "\n")


if __name__ == "__main__":
    main(sys.argv[1:])
