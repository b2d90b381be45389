"""The same stack with APP_SERVER=waitress (the app server of Windows Server installs) behind real
nginx: Unix sockets only, byte-exact extraction, the error table, a dead instance restarted by
supervisord while the other answers, JSON log lines. (Run on Linux: Windows itself is not tested.)"""

from __future__ import annotations

import json
import os
import signal
import time
from pathlib import Path

import pytest

import hometax_decrypt as h
from hometax_decrypt.settings import Settings
from hometax_decrypt.web import serve
from tests.support import builder
from tests.support.paths import SAMPLES
from tests.support.stack import (
    PostLoad,
    gone,
    kill_instance_under_load,
    post_pdf,
    retried_requests,
    stack_fixture_body,
)

pytestmark = pytest.mark.stack

ALL = SAMPLES / "nts-2020" / "all.pdf"
ALL_PW = SAMPLES / "nts-2020" / "all-password-1234567.pdf"
EXPECTED_XML = (SAMPLES / "nts-2020" / "all.expected.euc-kr.xml").read_bytes()


@pytest.fixture(scope="module")
def wstack(tmp_path_factory):
    yield from stack_fixture_body(tmp_path_factory, "waitress-run", app_server="waitress")


def _listening_inodes() -> set[str]:
    out = set()
    for table in ("/proc/net/tcp", "/proc/net/tcp6"):
        for line in Path(table).read_text().splitlines()[1:]:
            cols = line.split()
            if cols[3] == "0A":
                out.add(cols[9])
    return out


def test_the_app_server_is_waitress_on_unix_sockets_only(wstack):
    pids = wstack.app_pids
    assert len(pids) == 2
    for pid in pids.values():
        assert b"hometax_decrypt.web.serve" in Path(f"/proc/{pid}/cmdline").read_bytes()
        assert wstack.worker_pids() == {1: [], 2: []}  # threads, not processes
        links = [os.readlink(f"/proc/{pid}/fd/{fd}") for fd in os.listdir(f"/proc/{pid}/fd")]
        inodes = {link[8:-1] for link in links if link.startswith("socket:[")}
        assert not inodes & _listening_inodes(), f"waitress pid {pid} listens on a TCP port"


def test_extract_verify_and_errors_through_nginx(wstack):
    s = wstack.session()
    r = post_pdf(s, wstack, "extract", ALL.read_bytes(), encoding="euc-kr")
    assert r.status_code == 200 and r.content == EXPECTED_XML
    r = s.post(
        wstack.url("/api/v1/extract"),
        files={"file": ("p.pdf", ALL_PW.read_bytes())},
        data={"password": "1234567"},
        timeout=60,
    )
    assert r.status_code == 200 and r.content == h.extract(ALL_PW, "1234567")
    assert post_pdf(s, wstack, "verify", ALL.read_bytes()).json()["authentic"] is True
    pids = wstack.app_pids
    for data, password, status, code in (
        (ALL_PW.read_bytes(), "0000000", 422, "wrong_password"),
        (builder.random_bytes(), None, 422, "damaged"),
        (b"\0" * (30 * 1024 * 1024), None, 413, "too_large"),
    ):
        r = post_pdf(s, wstack, "extract", data, password)
        assert (r.status_code, r.json()["error"]["code"]) == (status, code)
    assert wstack.app_pids == pids  # no process died
    assert list((wstack.run_dir / "tmp").iterdir()) == []  # nothing spooled to disk


def test_a_dead_instance_is_restarted_and_the_other_answers_meanwhile(wstack):
    s = wstack.session()
    victim = wstack.app_pids[1]
    os.kill(victim, signal.SIGKILL)
    # Dead (its socket closed) before the next requests: this test is about the requests that come
    # after; those in flight at the kill are test_killing_an_instance_under_load_costs_no_request's.
    deadline = time.monotonic() + 15
    while not gone(victim) and time.monotonic() < deadline:
        time.sleep(0.05)
    assert gone(victim)
    for _ in range(6):  # nginx passes the requests the dead socket refuses to instance 2
        assert post_pdf(s, wstack, "extract", ALL.read_bytes()).status_code == 200
    new = wstack.wait_whole()
    assert new[1] != victim


@pytest.mark.parametrize("instance", [1, 2])
def test_killing_an_instance_under_load_costs_no_request(wstack, instance):
    """Clients post without pause while an instance is killed with requests in it, and while
    supervisord starts it again: every request is answered 200 (nginx passes a request the dead
    instance dropped to the other one: every operation here is free of side effects)."""
    wstack.wait_whole()
    with PostLoad(wstack, ALL.read_bytes(), h.extract(ALL)) as load:
        kill_instance_under_load(wstack, instance, load)
    assert load.failures == [], (load.ok, load.failures, retried_requests(wstack))


def test_logs_are_json_lines(wstack):
    assert post_pdf(wstack.session(), wstack, "extract", ALL.read_bytes()).status_code == 200
    loggers = set()
    for log in wstack.app_logs:
        for line in log.read_text().splitlines():
            loggers.add(json.loads(line)["logger"])
    assert {"waitress", "hometax.request"} <= loggers


def test_bind_setting_unix_or_tcp():
    unix = serve.options(Settings(bind="unix:/run/x/app-1.sock", workers=3))
    assert (unix["unix_socket"], unix["threads"]) == ("/run/x/app-1.sock", 3) and "listen" not in unix
    tcp = serve.options(Settings(bind="127.0.0.1:8001"))  # how a Windows service listens
    assert tcp["listen"] == "127.0.0.1:8001" and "unix_socket" not in tcp
