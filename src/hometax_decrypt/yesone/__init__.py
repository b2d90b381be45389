"""The data of an NTS document as records: model, XML and SAM readers, catalog of labels.

    doc = parse_document("employee.pdf", password="…")
    for form, person, item in doc.items(): ...
    doc.summary(); doc.to_dict(mask=True)
"""

from __future__ import annotations

from ..limits import Limits, resolve
from .catalog import Catalog, FormInfo, catalog
from .model import (Breakdown, DocInfo, Document, Form, Item, Node, Person, mask_resid, to_date,
                    to_int)
from .sam import parse_sam
from .xml import parse_xml, to_xml


def parse_document(source, password=None, limits: Limits | None = None) -> Document:
    """Open the PDF, read its XML part and return the model with the timestamp verification."""
    from ..pdf import open_document

    lim = resolve(limits)
    with open_document(source, password, lim) as pdf:
        data = pdf.read_part("XML")
        verification = pdf.verification()
        deadline = pdf.deadline  # one budget for the whole document: opening, inflating, parsing
    doc = parse_xml(data, lim, deadline)
    doc.verification = verification
    return doc


__all__ = ["parse_document", "parse_xml", "parse_sam", "to_xml", "Document", "DocInfo", "Form",
           "Person", "Item", "Node", "Breakdown", "Catalog", "FormInfo", "catalog", "mask_resid",
           "to_int", "to_date"]
