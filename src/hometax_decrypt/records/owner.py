"""Whose document this is: the taxpayer (근로자 본인) the 간소화 자료 were issued to.

A document lists the employee and the dependants whose data the employee was allowed to see, but
before tax year 2022 it never says which of them is the employee. Anything that groups the data per
taxpayer (the 공제신고서 lines, exports per employee) needs that answer, and needs to say how sure it
is, so the rule that decided travels with the answer:

- ``header``: the ``<doc>`` header names the person (``<resid>``/``<name>``, documents of 2022 and
  later: docs/format.md §4, sample nts-2022). This is the NTS's own statement.
- ``subscriber``: the person of the first ``O101M`` (건강보험료) or ``P102M`` (국민연금보험료) form. Both
  are "조회대상: 본인" in the NTS definition (R1 v1.70, 목차): the NTS only issues the subscriber's own
  insurance records, never a dependant's, so whoever holds them is the employee.
- ``first_person``: the first person the document lists. The samples list the employee first, but
  nothing in the definition promises it: the weakest rule, named so that a caller can ask the user.
- ``none``: the document lists nobody.
"""

from __future__ import annotations

from dataclasses import dataclass

from .model import mask_resid

HEADER, SUBSCRIBER, FIRST_PERSON, NONE = "header", "subscriber", "first_person", "none"
RULES = (HEADER, SUBSCRIBER, FIRST_PERSON, NONE)
# What the page and the XLSX say for each rule (the one source of these sentences)
RULES_KO = {
    HEADER: "문서 머리(<doc>)에 적힌 근로자입니다.",
    SUBSCRIBER: "근로자 본인만 조회되는 자료(건강보험료·국민연금)의 가입자를 근로자로 보았습니다.",
    FIRST_PERSON: "문서에 근로자 정보가 따로 없어, 처음 나오는 사람을 근로자로 보았습니다.",
    NONE: "문서에 사람이 없어 근로자를 정할 수 없습니다.",
    "lines_file": "공제신고서 항목 파일에 적힌 근로자입니다.",  # deductions.lines.LINES_FILE
}
# forms only ever issued for the subscriber (R1 v1.70, 목차: 조회대상 본인), in priority order of
# appearance: whichever comes first in the document decides
SUBSCRIBER_FORMS = ("O101", "P102")


@dataclass(frozen=True, slots=True)
class Owner:
    """The taxpayer of a document and the rule that found them (one of :data:`RULES`)."""

    resid: str | None
    name: str | None
    rule: str

    def to_dict(self, mask: bool = False) -> dict:
        return {
            "resid": mask_resid(self.resid) if mask else self.resid,
            "name": self.name,
            "rule": self.rule,
            "rule_ko": RULES_KO.get(self.rule),
        }

    def is_person(self, resid: str | None, name: str | None) -> bool:
        """Whether (resid, name) is this owner: by resident number when both have one (a name may
        be written differently across forms), else by name."""
        if self.rule == NONE:
            return False
        if self.resid and resid:
            return self.resid == resid
        return bool(self.name) and self.name == name


def owner_of(document) -> Owner:
    """The owner of ``document`` (a :class:`~hometax_decrypt.records.model.Document`) by the first
    rule that applies: ``header``, ``subscriber``, ``first_person``, else ``none``."""
    info = document.doc
    resid, name = info.resid, info.name
    if resid or name:
        return Owner(resid or None, name or None, HEADER)
    for form in document.forms:
        if form.form_cd[:4] in SUBSCRIBER_FORMS:
            people = form.people
            if people:
                return Owner(people[0].resid, people[0].name, SUBSCRIBER)
    people = document.people()
    if people:
        return Owner(people[0][0], people[0][1], FIRST_PERSON)
    return Owner(None, None, NONE)
