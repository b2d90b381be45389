"""App servers on other hosts, on real (virtual) hosts: network namespaces on this machine.

One switch namespace holds a bridge; three hosts hang off it by veth pairs: ``web`` (nginx,
10.77.0.1) and two app hosts ``a1`` (10.77.0.11) and ``a2`` (10.77.0.12), each running
``ops/stack.py up`` (the code path of ``make up``) inside its namespace with the settings of
docs/deployment.md: HOMETAX_UPSTREAMS on the web host, HOMETAX_APP_LISTEN on the app hosts, and
certificates from ops/certs.py. Every address lives inside those namespaces; nothing listens
outside them. The test's own clients enter a namespace per thread (setns), so they reach the hosts
only as another host on that network would.

Needs root (network namespaces); iproute2 comes from scripts/ensure-system.sh.
"""

from __future__ import annotations

import ctypes
import os
import re
import shutil
import signal
import socket
import ssl
import subprocess
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path

import pytest
import requests

import hometax_decrypt as h
from hometax_decrypt.settings import APP_TLS_NAME
from hometax_decrypt.web.config import hash_key
from tests.support import builder
from tests.support.stack import PYTHON, ROOT, STACK_CMD, TEST_ENV, ClientThreads, _script, poll

pytestmark = [
    pytest.mark.stack,
    pytest.mark.skipif(
        os.geteuid() != 0 or not shutil.which("ip"), reason="network namespaces need root and iproute2"
    ),
]

CERTS = ["-m", "hometax_decrypt.ops.certs"]
PREFIX = f"htx{os.getpid()}"
SWITCH = f"{PREFIX}-sw"
HOSTS = {"web": "10.77.0.1", "a1": "10.77.0.11", "a2": "10.77.0.12"}
APP_PORT = 9443
HTTPS_PORT = 8443
API_KEY = "multihost-test-key-7f3a"
CLONE_NEWNET = 0x40000000
_libc = ctypes.CDLL(None, use_errno=True)


def ip(*args: str) -> None:
    subprocess.run(["ip", *args], check=True, capture_output=True, text=True, timeout=30)


def ns(host: str) -> str:
    return f"{PREFIX}-{host}"


def enter(namespace: str) -> None:
    """Move the calling thread (only it) into ``namespace``'s network."""
    fd = os.open(f"/run/netns/{namespace}", os.O_RDONLY)
    try:
        if _libc.setns(fd, CLONE_NEWNET) != 0:
            err = ctypes.get_errno()
            raise OSError(err, os.strerror(err))
    finally:
        os.close(fd)


def in_ns(namespace: str, fn, *args):
    """``fn(*args)`` in a thread inside ``namespace``; its result (or its exception)."""
    out: dict = {}

    def run():
        try:
            enter(namespace)
            out["value"] = fn(*args)
        except BaseException as exc:  # handed to the caller
            out["error"] = exc

    t = threading.Thread(target=run)
    t.start()
    t.join()
    if "error" in out:
        raise out["error"]
    return out["value"]


def wait_for(predicate, seconds: float, what: str):
    value = poll(predicate, seconds)
    if not value:
        raise AssertionError(f"not within {seconds:.0f}s: {what}")
    return value


@dataclass
class Net:
    tmp: Path
    pki: Path
    env: dict[str, dict] = field(default_factory=dict)

    def run_dir(self, host: str) -> Path:
        return self.tmp / host

    def stack(self, host: str, command: str) -> subprocess.CompletedProcess:
        return subprocess.run(
            ["ip", "netns", "exec", ns(host), *STACK_CMD, command],
            env=self.env[host],
            cwd=ROOT,
            capture_output=True,
            text=True,
            timeout=120,
        )

    def up(self, host: str) -> None:
        r = self.stack(host, "up")
        assert r.returncode == 0, f"{host}: {r.stdout}\n{r.stderr}"

    def down(self, host: str) -> None:
        # down works by pids and Unix sockets: from outside the namespace too
        subprocess.run([*STACK_CMD, "down"], env=self.env[host], cwd=ROOT, capture_output=True, timeout=120)

    def kill_all(self, host: str) -> list[int]:
        """SIGKILL every process running in ``host``'s namespace (all of them started here), until
        none is left: a supervisor or a gunicorn master killed after its child may have started a
        new one in between, which would keep the app port and fail the host's restart."""
        killed: list[int] = []

        def empty() -> bool:
            out = subprocess.run(["ip", "netns", "pids", ns(host)], capture_output=True, text=True)
            pids = [int(p) for p in out.stdout.split()]
            for pid in pids:
                try:
                    os.kill(pid, signal.SIGKILL)
                except ProcessLookupError:
                    pass
            killed.extend(p for p in pids if p not in killed)
            return not pids

        wait_for(empty, 30, f"no process left in {host}")
        return killed

    def app_pids_of(self, host: str) -> list[int]:
        """The app host's gunicorn worker pids."""
        cfg = _script.StackConfig.from_env(self.env[host])
        return [w for pid in _script.app_pids(cfg).values() for w in _script.children(pid)]

    def link(self, host: str, state: str) -> None:
        """The switch port of ``host``: its cable, plugged in or pulled."""
        ip("-n", SWITCH, "link", "set", f"p-{host}", state)

    def make_whole(self) -> None:
        """Both app hosts linked and running (whatever a failed test left), for tests that must not
        depend on each other."""
        for host in ("a1", "a2"):
            self.link(host, "up")
            if self.stack(host, "status").returncode != 0:
                self.kill_all(host)
                self.up(host)

    # -- talking to the hosts, from the web host's network ----------------------------------------
    def context(self, cert: str | None = "web", ca: Path | None = None) -> ssl.SSLContext:
        c = ssl.create_default_context(cafile=str(ca or self.pki / "ca.crt"))
        if cert:
            c.load_cert_chain(str(self.pki / f"{cert}.crt"), str(self.pki / f"{cert}.key"))
        return c

    def app_get(self, host: str, path: str, context: ssl.SSLContext | None = None) -> bytes:
        """``GET path`` straight from app host ``host`` over TLS, as the web host (its
        certificate unless ``context`` says otherwise); the raw response."""

        def get():
            with socket.create_connection((HOSTS[host], APP_PORT), timeout=5) as raw:
                with (context or self.context()).wrap_socket(raw, server_hostname=APP_TLS_NAME) as s:
                    s.sendall(
                        f"GET {path} HTTP/1.0\r\nHost: {APP_TLS_NAME}\r\n"
                        f"X-API-Key: {API_KEY}\r\n\r\n".encode()
                    )
                    chunks = []
                    while chunk := s.recv(65536):
                        chunks.append(chunk)
            return b"".join(chunks)

        return in_ns(ns("web"), get)

    def served(self, host: str) -> int:
        """POST requests app host ``host`` answered with 200 since it started: its /metrics."""
        body = self.app_get(host, "/metrics").decode()
        assert body.startswith("HTTP/1.0 200"), body[:200]
        return int(
            sum(
                float(m.group(1))
                for m in re.finditer(
                    r'^hometax_http_requests_total\{[^}]*method="POST"[^}]*status="200"[^}]*\} (\S+)$',
                    body,
                    re.M,
                )
            )
        )

    def request_ids(self, host: str) -> set[str]:
        ids = set()
        for line in (self.run_dir(host) / "logs" / "app-1.log").read_text().splitlines():
            m = re.search(r'"id":"([0-9a-f]{32})".*"method":"POST"', line)
            if m:
                ids.add(m.group(1))
        return ids


@pytest.fixture(scope="module")
def net(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("multihost")
    pki = tmp / "pki"
    made: list[str] = []
    n = Net(tmp=tmp, pki=pki)
    try:
        subprocess.run([str(PYTHON), *CERTS, "ca", str(pki)], check=True, capture_output=True)
        for host, address in HOSTS.items():
            subprocess.run(
                [str(PYTHON), *CERTS, "host", str(pki), host, "--ip", address],
                check=True,
                capture_output=True,
            )
        for name in [SWITCH] + [ns(host) for host in HOSTS]:
            ip("netns", "add", name)
            made.append(name)
            ip("-n", name, "link", "set", "lo", "up")
        ip("-n", SWITCH, "link", "add", "br0", "type", "bridge")
        ip("-n", SWITCH, "link", "set", "br0", "up")
        for host, address in HOSTS.items():
            ip(
                "-n",
                SWITCH,
                "link",
                "add",
                f"p-{host}",
                "type",
                "veth",
                "peer",
                "name",
                "eth0",
                "netns",
                ns(host),
            )
            ip("-n", SWITCH, "link", "set", f"p-{host}", "master", "br0", "up")
            ip("-n", ns(host), "addr", "add", f"{address}/24", "dev", "eth0")
            ip("-n", ns(host), "link", "set", "eth0", "up")

        base = {k: v for k, v in os.environ.items() if not k.startswith("HOMETAX_")}
        base.update(TEST_ENV)
        base.update(
            {
                "APP_SERVER": "gunicorn",
                "HOMETAX_INSTANCES": "1",
                "HOMETAX_WORKERS": "2",
                "HOMETAX_TIMEOUT": "5",  # nginx's read timeout is 5 s more: in-flight losses end soon
                "HOMETAX_RATE_LIMIT": "1000",
                "HOMETAX_RATE_BURST": "1000",
                "HOMETAX_TRUSTED_PROXIES": "",
                "HOMETAX_API_KEYS": hash_key(API_KEY),
                "HOMETAX_MTLS_CA": str(pki / "ca.crt"),
            }
        )
        for host, address in HOSTS.items():
            env = dict(
                base,
                HOMETAX_RUN_DIR=str(n.run_dir(host)),
                HOMETAX_MTLS_CERT=str(pki / f"{host}.crt"),
                HOMETAX_MTLS_KEY=str(pki / f"{host}.key"),
            )
            if host == "web":
                env.update(
                    HOMETAX_LISTEN=address,
                    HOMETAX_HTTPS_PORT=str(HTTPS_PORT),
                    HOMETAX_HTTP_PORT="8080",
                    HOMETAX_METRICS_ALLOW="127.0.0.1",
                    HOMETAX_UPSTREAMS=" ".join(f"{HOSTS[a]}:{APP_PORT}" for a in ("a1", "a2")),
                )
            else:
                env.update(HOMETAX_APP_LISTEN=f"{address}:{APP_PORT}")
            n.env[host] = env
        for host in ("a1", "a2", "web"):
            n.up(host)
        yield n
    finally:  # even when something above failed: no process and no namespace stays behind
        for host in n.env:
            n.down(host)
        for name in made:
            if name != SWITCH:
                n.kill_all(name.rsplit("-", 1)[1])
            subprocess.run(["ip", "netns", "del", name], capture_output=True)


# -- clients on the web host's network ------------------------------------------------------------

DOC = builder.build_nts_pdf()
EXPECTED = h.extract(DOC)


@pytest.fixture
def hosts(net):
    net.make_whole()
    return net


@dataclass
class Result:
    started: float
    ended: float
    ok: bool
    request_id: str
    status: int | None


class Load(ClientThreads):
    """Clients on the web host's network posting documents to nginx until stopped."""

    join_seconds = 90

    def __init__(self, net: Net, clients: int = 4):
        super().__init__(clients)
        self.net, self.clients = net, clients
        self.results: list[Result] = []

    def run(self):
        enter(ns("web"))
        s = requests.Session()
        s.trust_env = False
        s.verify = str(self.net.run_dir("web") / "tls" / "selfsigned.crt")
        url = f"https://{HOSTS['web']}:{HTTPS_PORT}/api/v1/extract"
        while not self.stop_event.is_set():
            started = time.monotonic()
            try:
                r = s.post(
                    url,
                    data=DOC,
                    headers={"Content-Type": "application/pdf", "X-API-Key": API_KEY},
                    timeout=60,
                )
                ok, rid, status = (
                    r.status_code == 200 and r.content == EXPECTED,
                    r.headers.get("X-Request-ID", ""),
                    r.status_code,
                )
            except requests.RequestException:
                ok, rid, status = False, "", None
            with self.lock:
                self.results.append(Result(started, time.monotonic(), ok, rid, status))

    def count_ok(self, since: float = 0.0) -> int:
        with self.lock:
            return sum(1 for r in self.results if r.ok and r.started >= since)

    def wait_ok(self, n: int, since: float = 0.0, seconds: float = 60) -> None:
        wait_for(
            lambda: self.count_ok(since) >= n,
            seconds,
            f"{n} answers since {since:.1f} ({self.count_ok(since)} so far)",
        )


def test_requests_are_balanced_over_both_app_hosts(hosts):
    net = hosts
    before = {a: net.served(a) for a in ("a1", "a2")}
    with Load(net) as load:
        load.wait_ok(60)
    assert all(r.ok for r in load.results), [r.status for r in load.results if not r.ok]
    served = {a: net.served(a) - before[a] for a in ("a1", "a2")}
    # every answer came from exactly one of the two hosts, and each took a fair share
    assert sum(served.values()) == len(load.results), (served, len(load.results))
    assert min(served.values()) >= len(load.results) // 4, served
    # `make status` on the nginx host asks each app host's /readyz over mutual TLS
    status = net.stack("web", "status")
    assert status.returncode == 0, status.stdout
    for a in ("a1", "a2"):
        assert f"upstream    {HOSTS[a]}:{APP_PORT}: readyz 200" in status.stdout


def test_a_host_taken_down_loses_only_its_in_flight_requests_and_rejoins(hosts):
    net = hosts
    with Load(net) as load:
        load.wait_ok(12)
        net.link("a1", "down")  # the cable is pulled: a1's in-flight requests get no answer
        down_at = time.monotonic()  # once the link is down (a request sent while `ip` ran is in flight)
        load.wait_ok(24, since=down_at)  # ... and the rest are answered meanwhile
        killed = net.kill_all("a1")  # then the host's processes die
        assert killed
        wait_for(lambda: not any(_script._alive(p) for p in killed), 30, "a1's processes gone")
        load.wait_ok(12, since=time.monotonic())
        net.link("a1", "up")  # the host comes back: first its link, then its app server
        back_at = time.monotonic()
        a1_ids_before = net.request_ids("a1")
        net.up("a1")
        wait_for(lambda: net.served("a1") >= 5, 60, "a1 answers requests again")
        load.wait_ok(5, since=time.monotonic())

    lost = [r for r in load.results if not r.ok]
    # only requests already in flight when the link went down are lost: at most one per client
    assert all(r.started < down_at for r in lost), [(r.started - down_at, r.status) for r in lost]
    assert len(lost) <= load.clients, len(lost)
    # what was asked while a1 was away was answered, and by a2 (each answer's request id is in
    # a2's log, none in a1's)
    away = [r for r in load.results if down_at <= r.started and r.ended < back_at]
    assert len(away) >= 36 and all(r.ok for r in away)
    a1_ids, a2_ids = net.request_ids("a1"), net.request_ids("a2")
    assert {r.request_id for r in away} <= a2_ids
    assert not {r.request_id for r in away} & a1_ids
    # and a1 took its share again after rejoining
    assert a1_ids - a1_ids_before


def test_an_app_host_refuses_clients_without_the_project_certificate(hosts, tmp_path):
    net = hosts

    def answer(context=None) -> bytes:
        try:
            return net.app_get("a2", "/readyz", context)
        except (ssl.SSLError, OSError) as exc:  # the handshake or the first read fails
            return repr(exc).encode()

    assert answer().startswith(b"HTTP/1.0 200")
    # no client certificate
    assert not answer(net.context(cert=None)).startswith(b"HTTP/")
    # a certificate from another CA (the server's own chain is still checked: same project CA)
    other = tmp_path / "other"
    subprocess.run([str(PYTHON), *CERTS, "ca", str(other)], check=True, capture_output=True)
    subprocess.run([str(PYTHON), *CERTS, "host", str(other), "web"], check=True, capture_output=True)
    foreign = net.context(cert=None)
    foreign.load_cert_chain(str(other / "web.crt"), str(other / "web.key"))
    assert not answer(foreign).startswith(b"HTTP/")

    # plain HTTP on the app port gets no HTTP answer
    def plain():
        with socket.create_connection((HOSTS["a2"], APP_PORT), timeout=5) as s:
            s.sendall(b"GET /readyz HTTP/1.0\r\n\r\n")
            try:
                return s.recv(64)
            except ConnectionError:
                return b""

    assert not in_ns(ns("web"), plain).startswith(b"HTTP/")
    assert answer().startswith(b"HTTP/1.0 200")  # and the host still serves nginx


def test_tls_sessions_resume_whichever_worker_accepts(hosts):
    """Each request is a new connection to the app host; resuming the TLS session keeps that cheap.
    The app host's workers share one TLS context made in the master (deploy/gunicorn.conf.py), so a
    session resumes whichever worker accepts the connection."""
    net = hosts
    context = net.context()

    def connect_many() -> list[bool]:
        session, reused = None, []
        for _ in range(8):
            with socket.create_connection((HOSTS["a1"], APP_PORT), timeout=5) as raw:
                with context.wrap_socket(raw, server_hostname=APP_TLS_NAME, session=session) as s:
                    s.sendall(f"GET /healthz HTTP/1.0\r\nHost: {APP_TLS_NAME}\r\n\r\n".encode())
                    while s.recv(65536):
                        pass
                    reused.append(s.session_reused)
                    session = s.session
        return reused

    assert len(net.app_pids_of("a1")) >= 2, "the app host runs several workers"
    assert in_ns(ns("web"), connect_many) == [False] + [True] * 7
