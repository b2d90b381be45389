"""Where each exported record comes from, and how far to trust it: the one source of the fields
every export carries beside the NTS data (``docs/records.md``, "Provenance").

- ``source_file``: :attr:`Document.source_file <hometax_decrypt.records.model.Document.source_file>`,
  the file as the caller named it (payroll keeps the employee number in it).
- ``verification_status``: the document's :attr:`Verification.status
  <hometax_decrypt.timestamp.result.Verification.status>` exactly as the API's
  ``X-Verification-Status`` and the upload page call it, or ``unverified`` when there was no PDF to
  verify (an XML data part: ``POST /export``). Its Korean label (:data:`STATUS_LABELS_KO`, the page's
  badges) folds them into the verdicts HR staff act on: 진본 확인 (authentic), 위변조 의심 (not
  authentic: ``tampered``, ``unsigned``, or ``untrusted_issuer``, a timestamp nobody vouches for).
- ``item_key``: a stable key per ``<data>`` item, for idempotent imports (:func:`item_key`).
"""

from __future__ import annotations

import re

from ..timestamp.verdicts import STATUS_LABELS_KO as _VERDICT_LABELS_KO

UNVERIFIED = "unverified"
# status -> the Korean label HR staff read: the verdict table's (the page's badges, kept equal by
# tests/unit/test_verdicts.py), and one for an XML part that no timestamp covers
STATUS_LABELS_KO = {**_VERDICT_LABELS_KO, UNVERIFIED: "검증 안 됨"}


# 13 digits (a hyphen after the 6th allowed) not inside a longer number: a resident number
_RESID_IN_TEXT = re.compile(r"(?<![0-9])([0-9]{6})-?([0-9])[0-9]{6}(?![0-9])")


def source_file(doc, mask: bool = False) -> str | None:
    """The document's ``source_file``; with ``mask``, every resident number in it masked
    (``750101-1******``): HR names files after people, sometimes by their resident number."""
    name = doc.source_file
    if mask and name:
        return _RESID_IN_TEXT.sub(r"\1-\2******", name)
    return name


def verification_status(doc) -> str:
    """The document's verification status: its Verification's ``status``; ``unverified`` when it
    has none (read from an XML data part, no PDF)."""
    v = doc.verification
    return v.status if v is not None else UNVERIFIED


def status_label_ko(status: str) -> str:
    return STATUS_LABELS_KO.get(status, status)


def item_key(seq: str | None, form_cd: str, form_pos: int, person_pos: int, item_pos: int) -> str:
    """``<seq>:<form_cd>:<form>.<person>.<item>``, e.g. ``2020122201320067:A102Y:3.1.2``: the
    document's 발급번호 (``<doc><seq>``: issue date + serial, unique per issued document), the form
    code, and the 1-based positions of the ``<form>`` among the document's forms, of the ``<man>``
    within it and of the ``<data>`` within that. Only what the NTS wrote decides it (never the file
    name, the mask or the time), so the same document gives the same keys in every format, from the
    CLI and the API, masked or not; positions rather than resident numbers, so a key never carries
    one. A document issued again has a new ``seq``: its items get new keys (replace a person's year
    rather than merging issues). Without a ``seq`` the key starts with ``:`` and is unique only
    within its document."""
    return f"{seq or ''}:{form_cd}:{form_pos}.{person_pos}.{item_pos}"


def keyed_items(doc):
    """(item_key, form, person, item) for every ``<data>`` in document order: what
    :meth:`Document.items <hometax_decrypt.records.model.Document.items>` yields, with the keys."""
    seq = doc.doc.seq
    form_pos = {id(f): i for i, f in enumerate(doc.forms, start=1)}
    person_pos: dict[int, int] = {}
    last_form = last_person = None
    i_pos = 0
    for form, person, item in doc.items():
        if form is not last_form:
            last_form = form
            person_pos = {id(p): j for j, p in enumerate(form.people, start=1)}
        if person is not last_person:
            last_person, i_pos = person, 0
        i_pos += 1
        yield (
            item_key(seq, form.form_cd, form_pos[id(form)], person_pos[id(person)], i_pos),
            form,
            person,
            item,
        )
