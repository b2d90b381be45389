"""The one verdict table (timestamp/verdicts.py, issue 20): every reason the verifier can give is a row
of it, no verifier module writes a sentence of its own, and the upload page keeps no copy — it shows
what the server sends in each verification object."""

from __future__ import annotations

import ast
import json
import re
from pathlib import Path

import pytest

import hometax_decrypt
from hometax_decrypt.timestamp import result as result_module
from hometax_decrypt.timestamp import verdicts
from hometax_decrypt.timestamp.verdicts import STATUS_LABELS_KO, TSA_PROBLEMS, VERDICTS
from tests.support.paths import ROOT, SAMPLES

TIMESTAMP = Path(verdicts.__file__).parent
APP_JS = ROOT / "web" / "app.js"
HANGUL = re.compile("[\uac00-\ud7a3]")


def _string_literals(path: Path) -> list[tuple[int, str]]:
    """Every string constant of a module but its docstrings (module, class, function)."""
    tree = ast.parse(path.read_text(encoding="utf-8"))
    docstrings = set()
    for node in ast.walk(tree):
        if isinstance(node, (ast.Module, ast.ClassDef, ast.FunctionDef, ast.AsyncFunctionDef)):
            body = node.body
            if body and isinstance(body[0], ast.Expr) and isinstance(body[0].value, ast.Constant):
                docstrings.add(id(body[0].value))
    return [
        (n.lineno, n.value)
        for n in ast.walk(tree)
        if isinstance(n, ast.Constant) and isinstance(n.value, str) and id(n) not in docstrings
    ]


def _codes_used() -> set[str]:
    """The reason codes the verifier modules name: ``fail("x")``, ``facts.result("x")``,
    ``Decision(..., "x")``, and trust.py's problem codes (each the verdict ``tsa_failed_<problem>``)."""
    used = set()
    for path in TIMESTAMP.glob("*.py"):
        if path.name == "verdicts.py":
            continue
        text = path.read_text(encoding="utf-8")
        used |= set(re.findall(r'\bfail\("(\w+)"', text))
        used |= set(re.findall(r'\.result\("(\w+)"', text))
        used |= set(re.findall(r'Decision\("\w+", None, "(\w+)"\)', text))
    trust_text = (TIMESTAMP / "trust.py").read_text(encoding="utf-8")
    problems = set(re.findall(r'return "(\w+)"', trust_text)) | set(
        re.findall(r'^_NOT_VALID_\w+: Problem = "(\w+)"', trust_text, re.M)
    )
    assert problems, "trust.py names its problems by code"
    used |= {f"tsa_failed_{p}" for p in problems}
    return used


def test_every_reason_the_verifier_gives_is_a_row_of_the_table_and_every_row_is_used():
    used = _codes_used()
    assert len(used) > 40
    assert used - set(VERDICTS) == set(), "reason codes missing from timestamp/verdicts.py"
    assert set(VERDICTS) - used == set(), "rows of the table no check gives"
    assert set(TSA_PROBLEMS) == {c[len("tsa_failed_") :] for c in used if c.startswith("tsa_failed_")}


@pytest.mark.parametrize("path", sorted(p.name for p in TIMESTAMP.glob("*.py") if p.name != "verdicts.py"))
def test_no_verifier_module_writes_a_sentence_of_its_own(path):
    """The English and Korean sentences live in the table only (docstrings aside)."""
    for line, s in _string_literals(TIMESTAMP / path):
        assert not HANGUL.search(s), f"{path}:{line}: a Korean sentence outside verdicts.py: {s!r}"
        assert not (len(s) > 30 and " " in s and s.rstrip().endswith(".") and s[0].isupper()), (
            f"{path}:{line}: an English sentence outside verdicts.py: {s!r}"
        )


@pytest.mark.parametrize("code", sorted(VERDICTS))
def test_every_verdict_has_its_sentences_for_hr(code):
    v = VERDICTS[code]
    assert v.code == code
    assert v.reason.endswith(".") and v.reason[0].isupper() and not HANGUL.search(v.reason)
    for s in (v.reason_ko, v.summary_ko, v.advice_ko):
        assert HANGUL.search(s) and s.endswith("."), (code, s)
    # the status follows from the verifier code, as check._Facts decides it
    expected = {0: "authentic", 2109: "untrusted_issuer"}.get(v.verifier_code, "tampered")
    assert v.status == ("unsigned" if code == "unsigned" else expected)
    assert v.label_ko == STATUS_LABELS_KO[v.status]
    if v.status == "authentic":
        assert "요청하세요" not in v.advice_ko
    else:  # every doubtful verdict tells HR what to ask for
        assert "홈택스" in v.advice_ko and "원본 PDF" in v.advice_ko


def test_a_verification_carries_its_row_to_the_api(tmp_path):
    """to_dict: the row's code and HR sentences next to the reasons, for every status a sample gives."""
    data = (SAMPLES / "nts-2020" / "all.pdf").read_bytes()
    changed = bytearray(data)
    i = changed.index(b"/Producer") if b"/Producer" in changed else len(changed) // 3
    changed[i + 1] ^= 0x01  # a byte inside the signed range
    cases = {
        "all.pdf": data,
        "changed": bytes(changed),
        "unsigned": b"%PDF-1.4\n1 0 obj<<>>endobj\n%%EOF\n",
        "appended": data + b"\n% appended\n",
    }
    seen = set()
    for name, blob in cases.items():
        v = hometax_decrypt.verify(blob)
        d = v.to_dict()
        row = VERDICTS[d["reason_code"]]
        assert (d["status"], d["verifier_code"]) == (row.status, row.verifier_code), name
        assert (d["reason"], d["reason_ko"]) == (row.reason, row.reason_ko), name
        assert (d["label_ko"], d["summary_ko"], d["advice_ko"]) == (
            row.label_ko,
            row.summary_ko,
            row.advice_ko,
        )
        seen.add(d["status"])
    assert seen == {"authentic", "tampered", "unsigned"}


def test_the_decrypted_pdf_is_judged_with_a_sentence_that_names_it():
    """The page's own 'PDF' download (the password removed) is not the original; HR is told so."""
    from hometax_decrypt.service import operations

    out = operations.decrypt((SAMPLES / "nts-2020" / "all-password-1234567.pdf").read_bytes(), "1234567")
    v = hometax_decrypt.verify(out.data if hasattr(out, "data") else out)
    assert v.status != "authentic"
    assert "암호를 푼 PDF" in v.summary_ko and "원본 PDF를 다시" in v.advice_ko


def test_the_schema_lists_every_reason_code():
    schema = json.loads((ROOT / "docs" / "document.schema.json").read_text(encoding="utf-8"))
    ver = schema["$defs"]["verification"]
    assert set(ver["properties"]["reason_code"]["enum"]) == set(VERDICTS)
    assert set(ver["required"]) == set(hometax_decrypt.verify(SAMPLES / "nts-2020" / "all.pdf").to_dict())
    assert set(ver["properties"]["label_ko"]["enum"]) == set(STATUS_LABELS_KO.values())


def test_the_page_keeps_no_verdict_sentence_of_its_own():
    """web/app.js shows the server's sentences: no Korean sentence of the table (nor the old badge
    texts) is in it; its status labels (for the counts line) are the table's."""
    js = APP_JS.read_text(encoding="utf-8")
    for v in VERDICTS.values():
        for s in {v.reason_ko, v.summary_ko, v.advice_ko}:
            assert s not in js, s
    for old in ("발급 이후 문서가 바뀌었거나", "국세청 타임스탬프가 없는 문서입니다", "바뀐 곳이 없습니다"):
        assert old not in js
    m = re.search(r"const STATUS_LABELS = (\{.*?\});", js, re.S)
    assert m, "app.js: const STATUS_LABELS = {...};"
    labels = dict(re.findall(r'(\w+): "([^"]+)"', m.group(1)))
    assert labels == STATUS_LABELS_KO


# What a verdict without a vouched stamp must never say (issue 22): that the contents are as issued,
# unchanged or intact. Each phrase is one the table's untrusted sentences said before.
CONTENTS_CLAIMS = (
    "그대로",
    "발급 당시",
    "온전",
    "바뀐 곳이 없",
    "intact",
    "as issued",
    "unchanged",
    "not changed",
)


def contents_claims(text: str) -> list[str]:
    """The phrases of :data:`CONTENTS_CLAIMS` in ``text`` (case-insensitive)."""
    return [c for c in CONTENTS_CLAIMS if c in text.lower()]


def _page_badge_classes() -> dict[str, str]:
    m = re.search(r"const BADGE_CLASS = (\{.*?\});", APP_JS.read_text(encoding="utf-8"), re.S)
    assert m, "app.js: const BADGE_CLASS = {...};"
    return dict(re.findall(r'(\w+): "([^"]+)"', m.group(1)))


UNVOUCHED = sorted(c for c, v in VERDICTS.items() if v.status == verdicts.UNTRUSTED_ISSUER)


@pytest.mark.parametrize("code", UNVOUCHED)
def test_a_stamp_nobody_vouches_for_reads_no_milder_than_no_stamp(code):
    """A timestamp no anchor or pin vouches for is one anyone can make after editing the file: its
    badge, the page's colour and what HR is told to do are those of a file without a stamp, and none
    of its sentences says the contents are as issued."""
    v, none = VERDICTS[code], VERDICTS["unsigned"]
    assert v.label_ko == none.label_ko == STATUS_LABELS_KO[verdicts.TAMPERED]
    assert v.advice_ko == none.advice_ko
    for s in (v.reason, v.reason_ko, v.summary_ko, v.advice_ko, v.label_ko):
        assert contents_claims(s) == [], (code, s)


def test_the_page_paints_an_unvouched_stamp_as_a_missing_one():
    classes = _page_badge_classes()
    assert set(classes) == set(STATUS_LABELS_KO)
    assert classes[verdicts.UNTRUSTED_ISSUER] == classes[verdicts.UNSIGNED] == classes[verdicts.TAMPERED]
    assert classes[verdicts.AUTHENTIC] != classes[verdicts.UNSIGNED]


def test_only_an_authentic_verdict_says_the_contents_are_unchanged():
    """The claim phrases are the authentic rows' own: no other row borrows them."""
    for code, v in VERDICTS.items():
        said = contents_claims(" ".join((v.reason, v.reason_ko, v.summary_ko, v.advice_ko)))
        if v.status == verdicts.AUTHENTIC:
            assert said, code  # the phrases are the ones a claim is made with
        else:
            assert said == [], (code, said)


def test_result_reexports_the_verifier_codes():
    assert result_module.OK == verdicts.OK == 0 and result_module.BYTE_RANGE == verdicts.BYTE_RANGE == 2110


def test_the_docs_table_is_the_table():
    """docs/verification.md lists every row as the table has it (code, verifier code, status, HR's
    summary)."""
    text = (ROOT / "docs" / "verification.md").read_text(encoding="utf-8")
    rows = re.findall(r"^\| `(\w+)` \| (\d+) \| (\w+) \| (.+) \|$", text, re.M)
    assert {c: (int(n), st, summ) for c, n, st, summ in rows} == {
        c: (v.verifier_code, v.status, v.summary_ko) for c, v in VERDICTS.items()
    }
