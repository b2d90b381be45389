"""The records JSON: ``{"format": "hometax-decrypt/records", "version": 1, "documents": [...],
"totals": [...], "year_totals": [...]}``.

Always a list, one entry per document (:func:`~hometax_decrypt.records.serialize.document_to_dict`;
see ``docs/document.schema.json``). ``totals``: the per-person-and-tax-year table
(:func:`~hometax_decrypt.records.summary.totals`); ``year_totals``: those added up per tax year
(:func:`~hometax_decrypt.records.summary.by_year`; the upload page's 항목별 합계).
"""

from __future__ import annotations

import json

import orjson

from ..document.limits import Deadline
from ..records.serialize import document_to_dict
from ..records.summary import by_year, projection, totals_of
from .rows import as_list, budget


def to_json(docs, mask: bool = False, deadline: Deadline | None = None) -> bytes:
    docs = as_list(docs)
    # each document's projection serves both its own summary and the totals across documents
    projections = [projection(d, budget(deadline)) for d in docs]
    # the totals across documents: under the caller's deadline (a request's budget), if any
    person_year = totals_of(projections, mask=mask, deadline=deadline)
    payload = {
        "format": "hometax-decrypt/records",
        "version": 1,
        "documents": [
            document_to_dict(d, mask=mask, deadline=budget(deadline), projection=p)
            for d, p in zip(docs, projections)
        ],
        "totals": person_year,
        "year_totals": by_year(person_year),
    }
    return compact_json(payload) + b"\n"


def compact_json(value) -> bytes:
    """``json.dumps(value, ensure_ascii=False, separators=(",", ":"))`` in UTF-8, written by orjson
    (a tenth of the standard library's time: 0.2 against 2.3 ms for nts-2020/all.pdf's records).
    For plain data (str keys, 64-bit integers, valid Unicode) the two give the same bytes (checked
    by tests/unit/test_export.py); for anything orjson refuses, the standard library writes it,
    exactly as before."""
    try:
        return orjson.dumps(value)
    except TypeError:  # orjson.JSONEncodeError: a key or number it does not take, a lone surrogate
        return json.dumps(value, ensure_ascii=False, separators=(",", ":")).encode("utf-8")
