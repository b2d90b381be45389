"""What kind of document this is, and what the reader should know before trusting its labels.

The 연말정산 간소화 document (docs/format.md §4) has ``doc_type`` A/B/D, a 16-digit ``seq`` and forms the
catalog knows for its ``att_year``. Another NTS document with the same ``<yesone>`` root exists (the
소득·세액공제신고서, docs/format.md §7 caution 2) whose codes A101Y–F101Y mean other things; such a
document, or one whose forms are mostly unknown, is reported as such instead of being labelled as if
it were the 간소화 kind.
"""

from __future__ import annotations

import re

from .catalog import INFERRED, UNKNOWN, catalog
from .model import to_year

SIMPLIFIED = "simplified"  # 연말정산 간소화 자료
UNRECOGNISED = "unrecognised"
KIND_LABELS = {SIMPLIFIED: "연말정산 간소화 자료", UNRECOGNISED: "간소화 자료로 확인되지 않은 문서"}
_SEQ = re.compile(r"^\d{16}$")


def _outdated(form_cd: str, year: int | None) -> bool:
    """A form code of an older version of its family in a document of a later tax year (A101Y, a
    2011 code, in a 2022 document): not how a 간소화 document of that year is written."""
    cat = catalog()
    years = cat.form_years.get(form_cd[:4], ())
    if year is None or not years or max(years) >= year:
        return False
    newer = [
        b
        for b, ys in cat.form_years.items()
        if b[:2] == form_cd[:2] and b > form_cd[:4] and ys and min(ys) <= year
    ]
    return bool(newer)


def document_kind(doc) -> dict:
    """``{"kind", "kind_label", "warnings": [{"code", "message"}]}``; messages in Korean (HR staff
    read them)."""
    cat = catalog()
    info = doc.doc
    year_text = (info.att_year or "").strip()
    year = to_year(year_text)
    warnings = []
    forms = doc.forms
    infos = [cat.form(f.form_cd, year_text) for f in forms]
    unknown = [f.form_cd for f, i in zip(forms, infos) if i.source == UNKNOWN]
    inferred = sorted({f.form_cd for f, i in zip(forms, infos) if i.source == INFERRED})
    outdated = sorted({f.form_cd for f in forms if _outdated(f.form_cd, year)})
    simplified = (info.doc_type or "").strip() in ("A", "B", "D") and bool(
        _SEQ.match((info.seq or "").strip())
    )
    if not simplified:
        warnings.append(
            {
                "code": "not_simplified",
                "message": (
                    "문서 정보(doc_type·일련번호)가 연말정산 간소화 자료의 형식이 아닙니다. "
                    "다른 종류의 국세청 문서일 수 있으니 항목 이름을 그대로 믿지 마세요."
                ),
            }
        )
    if outdated:
        simplified = False
        warnings.append(
            {
                "code": "outdated_forms",
                "message": (
                    f"{year_text}년 귀속 문서에 다른 연도의 서식 코드({', '.join(outdated)})가 있습니다. "
                    "소득·세액공제신고서 등 다른 문서일 수 있습니다."
                ),
            }
        )
    if forms and len(unknown) * 2 > len(forms):
        simplified = False
        warnings.append(
            {
                "code": "mostly_unknown_forms",
                "message": (
                    f"서식 {len(forms)}개 중 {len(unknown)}개를 알 수 없습니다({', '.join(sorted(set(unknown)))}). "
                    "간소화 자료가 아니거나 정의서에 없는 새 서식입니다."
                ),
            }
        )
    elif unknown:
        warnings.append(
            {
                "code": "unknown_forms",
                "message": (
                    f"알 수 없는 서식이 있습니다({', '.join(sorted(set(unknown)))}): 이름 없이 그대로 보여 줍니다."
                ),
            }
        )
    if inferred:
        warnings.append(
            {
                "code": "inferred_labels",
                "message": (
                    f"{year_text or '귀속연도 미상'}{'년 귀속' if year_text else ''} 서식 {', '.join(inferred)}은(는) "
                    "정의서에 없어 같은 계열 서식의 이름을 붙였습니다(추정)."
                ),
            }
        )
    kind = SIMPLIFIED if simplified else UNRECOGNISED
    return {"kind": kind, "kind_label": KIND_LABELS[kind], "warnings": warnings}
