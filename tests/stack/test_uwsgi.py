"""The same stack with APP_SERVER=uwsgi (pyuwsgi), the same socket scheme, and API keys turned on."""

from __future__ import annotations

import json
import os
import signal
import time
from pathlib import Path

import pytest

import hometax_decrypt as h
from hometax_decrypt.timestamp import TrustStore
from hometax_decrypt.web.config import hash_key
from tests.support import builder
from tests.support.paths import GPKI_DIR, SAMPLES
from tests.support.stack import (
    PostLoad,
    kill_instance_under_load,
    poll,
    post_pdf,
    retried_requests,
    stack_fixture_body,
)

pytestmark = pytest.mark.stack

ALL = SAMPLES / "nts-2020" / "all.pdf"
ALL_PW = SAMPLES / "nts-2020" / "all-password-1234567.pdf"
EXPECTED_XML = (SAMPLES / "nts-2020" / "all.expected.euc-kr.xml").read_bytes()
KEY = "uwsgi-test-key-5f1c"


@pytest.fixture(scope="module")
def ustack(tmp_path_factory):
    yield from stack_fixture_body(
        tmp_path_factory,
        "uwsgi-run",
        app_server="uwsgi",
        HOMETAX_API_KEYS=hash_key("another-key") + "," + hash_key(KEY),
    )


@pytest.fixture(scope="module")
def s(ustack):
    return ustack.session(**{"X-API-Key": KEY})


def _error(r, status, code):
    assert r.status_code == status, r.text[:300]
    assert r.headers["Content-Type"].startswith("application/json")
    assert r.json()["error"]["code"] == code
    return r.json()["error"]


def test_the_app_server_is_uwsgi_on_unix_sockets_only(ustack):
    for i, pid in ustack.app_pids.items():
        assert b"uwsgi" in Path(f"/proc/{pid}/cmdline").read_bytes()
        assert len(ustack.worker_pids()[i]) == 2
    listening = set()
    for table in ("/proc/net/tcp", "/proc/net/tcp6"):
        for line in Path(table).read_text().splitlines()[1:]:
            cols = line.split()
            if cols[3] == "0A":
                listening.add(cols[9])
    for pid in ustack.all_app_pids():
        links = [os.readlink(f"/proc/{pid}/fd/{fd}") for fd in os.listdir(f"/proc/{pid}/fd")]
        inodes = {link[8:-1] for link in links if link.startswith("socket:[")}
        assert not inodes & listening, f"uwsgi pid {pid} listens on a TCP port"


def test_api_key_required(ustack, s):
    anonymous = ustack.session()
    _error(post_pdf(anonymous, ustack, "extract", ALL.read_bytes()), 401, "unauthorized")
    wrong = ustack.session(**{"X-API-Key": KEY + "x"})
    _error(post_pdf(wrong, ustack, "verify", ALL.read_bytes()), 401, "unauthorized")
    assert anonymous.get(ustack.url("/healthz"), timeout=10).status_code == 200
    assert anonymous.get(ustack.url("/readyz"), timeout=10).status_code == 200
    assert anonymous.get(ustack.url("/api/v1/openapi.json"), timeout=10).status_code == 200
    assert anonymous.get(ustack.url("/"), timeout=10).status_code == 200  # the page itself


def test_extract_byte_exact_and_verify(ustack, s):
    data = ALL.read_bytes()
    r = post_pdf(s, ustack, "extract", data, encoding="euc-kr")
    assert r.status_code == 200 and r.content == EXPECTED_XML
    r = s.post(
        ustack.url("/api/v1/extract"),
        files={"file": ("p.pdf", ALL_PW.read_bytes())},
        data={"password": "1234567", "encoding": "euc-kr"},
        timeout=60,
    )
    assert r.status_code == 200 and r.content == h.extract(ALL_PW, "1234567", encoding="euc-kr")
    v = post_pdf(s, ustack, "verify", data)
    # make up trusts ../shared/reference/gpki (HOMETAX_TRUST_DIR): the CLI with the same anchors
    expected = h.verify(ALL, trust=TrustStore.default(extra_dir=GPKI_DIR)).to_dict()
    assert v.status_code == 200 and v.json() == expected and expected["trust"] == "chain"


def test_errors_and_413(ustack, s, bomb):
    pids = ustack.all_app_pids()
    _error(post_pdf(s, ustack, "extract", ALL_PW.read_bytes()), 422, "password_required")
    _error(post_pdf(s, ustack, "extract", ALL_PW.read_bytes(), "0000000"), 422, "wrong_password")
    _error(post_pdf(s, ustack, "extract", builder.random_bytes()), 422, "damaged")
    _error(post_pdf(s, ustack, "extract", bomb), 413, "too_large")
    _error(post_pdf(s, ustack, "extract", b"\0" * (30 * 1024 * 1024)), 413, "too_large")
    assert ustack.all_app_pids() == pids  # no worker died
    assert list((ustack.run_dir / "tmp").iterdir()) == []  # nothing spooled to disk


def test_killed_worker_is_replaced(ustack, s):
    victim = ustack.worker_pids()[1][0]
    os.kill(victim, signal.SIGKILL)
    deadline = time.monotonic() + 15
    while time.monotonic() < deadline:
        workers = ustack.worker_pids()[1]
        if len(workers) == 2 and victim not in workers:
            break
        time.sleep(0.1)
    assert victim not in ustack.worker_pids()[1] and len(ustack.worker_pids()[1]) == 2
    for _ in range(6):
        assert post_pdf(s, ustack, "extract", ALL.read_bytes()).status_code == 200


@pytest.mark.parametrize("instance", [1, 2])
def test_killing_an_instance_under_load_costs_no_request(ustack, instance):
    """Clients post without pause while an instance (master and workers) is killed with requests
    in it, and while supervisord starts it again: every request is answered 200."""
    ustack.wait_whole()
    with PostLoad(ustack, ALL.read_bytes(), h.extract(ALL), **{"X-API-Key": KEY}) as load:
        kill_instance_under_load(ustack, instance, load)
    assert load.failures == [], (load.ok, load.failures, retried_requests(ustack))


def test_logs_are_json_lines(ustack, s):
    """Every app log line is JSON, and this test's own request is there with its fields (counted by
    its X-Request-ID: the test does not depend on what earlier tests sent)."""
    r = post_pdf(s, ustack, "extract", ALL.read_bytes())
    assert r.status_code == 200
    rid = r.headers["X-Request-ID"]

    def entries() -> list[dict]:
        found = []
        for log in ustack.app_logs:
            for line in log.read_text().split("\n")[:-1]:  # whole lines only (one may be half written)
                if line.startswith(("[uWSGI] getting INI", "[log-encoder] registered")):
                    continue  # printed while uWSGI reads its config, before its logger exists
                found.append(json.loads(line))
        return found

    # the app logs a request once it has answered it: poll, no sleep
    assert poll(lambda: any(e.get("id") == rid for e in entries()))
    (mine,) = [e for e in entries() if e.get("logger") == "hometax.request" and e.get("id") == rid]
    assert {"id", "method", "path", "status", "duration_ms", "size", "error"} <= set(mine)
    assert (mine["method"], mine["path"], mine["status"]) == ("POST", "/api/v1/extract", 200)


def test_bad_trust_dir_stops_uwsgi_at_start_up(tmp_path):
    """need-app: a create_app that refuses its trust store ends uWSGI at once (no app that answers
    every verification with 400 usage)."""
    from tests.support.stack import start_stack

    with pytest.raises(RuntimeError, match="HOMETAX_TRUST_DIR") as info:
        start_stack(tmp_path / "run", app_server="uwsgi", HOMETAX_TRUST_DIR=str(tmp_path / "none"))
    # "exited", not "did not become ready": the process ended by itself (no wall-clock bound here:
    # a timed assertion fails on a loaded machine and proves nothing the message does not)
    assert "exited during start-up" in str(info.value)
