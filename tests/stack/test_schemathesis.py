"""The API's OpenAPI document tells the truth: a generic fuzzer (schemathesis, every check) generates
requests from the document the running service publishes and sends them to the real stack (nginx +
gunicorn on loopback, tests/stack.py). Zero failures: every answer is one the document describes
(status, headers such as Allow on a 405, content type, body schema), requests valid by the schema
are accepted, and requests that violate it are refused.

Bounded: a fixed number of examples per operation and a fixed seed (a failure reproduces), with no
example database written anywhere. Settings of the checks: tests/schemathesis.toml.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

pytestmark = pytest.mark.stack

TESTS = Path(__file__).resolve().parent
EXAMPLES = int(os.environ.get("HOMETAX_SCHEMATHESIS_EXAMPLES", "25"))


def _st() -> str:
    exe = Path(sys.executable).parent / "st"
    assert exe.exists(), "schemathesis is not installed (make install: the test extra)"
    return str(exe)


def test_the_openapi_document_survives_a_fuzzer(stack, tmp_path):
    env = {k: v for k, v in os.environ.items() if not k.startswith(("HTTP", "HTTPS", "REQUESTS_"))}
    env["HOME"] = str(tmp_path)  # nothing written outside the test's own directory
    cmd = [
        _st(),
        "--config-file",
        str(TESTS / "schemathesis.toml"),
        "run",
        stack.url("/api/v1/openapi.json"),
        "--url",
        stack.base_url,
        "--tls-verify",
        str(stack.ca_file),
        "--checks",
        "all",
        "--max-examples",
        str(EXAMPLES),
        "--seed",
        "20261130",
        "--generation-database",
        "none",
        "--request-timeout",
        "30",
        "--no-color",
        # its own client address (the stack trusts X-Forwarded-For from loopback): the rate
        # limit it meets is its own, and a 429 is a documented answer
        "-H",
        "X-Forwarded-For: 203.0.113.77",
    ]
    result = subprocess.run(cmd, cwd=tmp_path, env=env, capture_output=True, text=True, timeout=300)
    out = result.stdout + result.stderr
    assert result.returncode == 0, out[-6000:]
    summary = [line for line in out.splitlines() if " generated, " in line]
    assert summary and " passed" in summary[-1], out[-3000:]
    generated = int(summary[-1].split(" generated")[0].split()[-1])
    assert generated >= 9 * 5, summary  # every operation was really exercised
