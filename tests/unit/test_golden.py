"""Outputs byte-identical to ``tests/fixtures/golden/outputs.json`` (see ``tests/support/golden.py``; regenerate: ``python -m tests.support.golden --write``).

JSON (plain and masked), CSV, the XLSX cells and NDJSON of every sample and of the builder's
documents, read from the XML part and from the SAM part: a change to where the catalog or the SAM
layouts live must not move one byte. An intended change regenerates the file and says why."""

from __future__ import annotations

import json

from tests.support import golden as golden_outputs


def test_outputs_match_golden():
    expected = json.loads(golden_outputs.GOLDEN.read_text())
    actual = golden_outputs.digests(golden_outputs.all_outputs())
    assert sorted(actual) == sorted(expected), "a document or part appeared or went missing"
    changed = sorted(k for k in expected if actual[k] != expected[k])
    assert not changed, f"outputs changed: {changed}"
