"""NDJSON writer: one JSON object per ``<data>`` item, one item per line (UTF-8, ``\\n``).

Each line carries what a data pipeline needs without joining: the document (``seq``, ``att_year``,
``doc_type``, ``issue_date``, the subject's ``resid``/``name``, ``source_file``,
``verification_status``, ``owner``), the form (``form_cd``, ``label``, ``summary_category``…), the
person the item belongs to (``resid``, ``name``, ``is_owner``) and the item itself (``item_key``
first),
all as :meth:`Document.to_dict <hometax_decrypt.records.model.Document.to_dict>` writes them (the
records JSON is the one source of their shape; ``docs/document.schema.json``). ``mask=True`` masks
resident numbers exactly as there. A document without items writes no line.
"""

from __future__ import annotations

from ..document.limits import Deadline
from ..records.serialize import document_to_dict
from .json import compact_json

DOC_FIELDS = ("seq", "doc_type", "issue_date", "att_year", "att_inqrMm", "resid", "name")
FORM_FIELDS = ("form_cd", "label", "category", "summary_category", "period", "period_label")
PERSON_FIELDS = ("resid", "name", "is_owner")


def item_lines(record: dict):
    """The line objects of one document's records JSON (``Document.to_dict``)."""
    document = {k: record["doc"].get(k) for k in DOC_FIELDS}
    document["source_file"] = record["source_file"]
    document["verification_status"] = record["verification_status"]
    document["owner"] = record["owner"]
    for form in record["forms"]:
        form_info = {k: form.get(k) for k in FORM_FIELDS}
        for person in form["people"]:
            person_info = {k: person.get(k) for k in PERSON_FIELDS}
            for item in person["items"]:
                yield {"document": document, "form": form_info, "person": person_info, "item": item}


def to_ndjson(docs, mask: bool = False, deadline: Deadline | None = None) -> bytes:
    if not isinstance(docs, (list, tuple)):
        raise TypeError("pass a list of documents")
    out: list[bytes] = []
    for doc in docs:
        record = document_to_dict(doc, mask=mask, deadline=deadline)
        out.extend(compact_json(line) + b"\n" for line in item_lines(record))
    return b"".join(out)
