"""The data of an NTS document as records: model, XML and SAM readers, catalog of labels.

doc = parse_document("employee.pdf", password="…")
for form, person, item in doc.items(): ...
summarize(doc); document_to_dict(doc, mask=True); totals([doc1, doc2])  # per person and year
"""

from __future__ import annotations

import os

from ..document.limits import Limits, resolve
from ..document.pdf import open_document
from .catalog import Catalog, FormInfo, catalog
from .kind import document_kind
from .model import Breakdown, DocInfo, Document, Form, Item, Node, Person, mask_resid, to_date, to_int
from .owner import Owner, owner_of
from .sam import parse_sam
from .serialize import document_to_dict
from .summary import summarize, totals
from .xml import parse_xml, to_xml


def parse_document(source, password=None, limits: Limits | None = None, trust=None) -> Document:
    """Open the PDF, read its XML part and return the model with the timestamp verification
    (``trust``: a :class:`~hometax_decrypt.timestamp.TrustStore`; default the shipped one) and, when
    ``source`` is a path, that path as its ``source_file``."""
    lim = resolve(limits)
    with open_document(source, password, lim, trust) as pdf:
        data = pdf.read_part("XML")
        verification = pdf.verification()
        deadline = pdf.deadline  # one budget for the whole document: opening, inflating, parsing
    doc = parse_xml(data, lim, deadline)
    doc.verification = verification
    if isinstance(source, (str, os.PathLike)):  # the exports' source_file: the path as given
        doc.source_file = os.fspath(source)
    return doc


__all__ = [
    "parse_document",
    "parse_xml",
    "parse_sam",
    "to_xml",
    "document_to_dict",
    "summarize",
    "totals",
    "document_kind",
    "Document",
    "DocInfo",
    "Form",
    "Person",
    "Item",
    "Node",
    "Breakdown",
    "Catalog",
    "FormInfo",
    "catalog",
    "mask_resid",
    "to_int",
    "to_date",
    "Owner",
    "owner_of",
]
