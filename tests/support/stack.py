"""The real stack for tests: nginx in front of gunicorn (or uWSGI) instances on Unix sockets.

``start_stack()`` runs ``ops/stack.py up`` — the code path of ``make up`` — with a temporary run
directory and free ports, and ``Stack.stop()`` runs ``down``. The session fixture ``stack`` (registered
in conftest.py) is shared by every test module that needs a running service, the browser tests
included; tests that break things (kill an instance) start a stack of their own.

    def test_something(stack):
        s = stack.session()                  # requests.Session trusting the stack's certificate
        r = s.get(stack.base_url + "/healthz")
"""

from __future__ import annotations

import itertools
import json
import os
import socket
import subprocess
import sys
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path

import pytest

from hometax_decrypt.ops import stack as _script

ROOT = Path(__file__).resolve().parents[2]
PYTHON = ROOT / ".venv" / "bin" / "python"
# What `make up` runs (scripts/stack.sh): the ops package as a command.
STACK_CMD = [str(PYTHON), "-m", "hometax_decrypt.ops.stack"]

# Settings of the test stacks. Each test session gets its own client address (the stack trusts
# X-Forwarded-For from loopback here), so rate limits apply per test client, as they would per user.
TEST_ENV = {
    "HOMETAX_INSTANCES": "2",
    "HOMETAX_WORKERS": "2",
    "HOMETAX_TIMEOUT": "30",
    "HOMETAX_MAX_REQUESTS": "100000",  # no recycling during a test: worker pids must stay put
    "HOMETAX_MAX_REQUESTS_JITTER": "10",
    "HOMETAX_RATE_LIMIT": "50",
    "HOMETAX_RATE_BURST": "100",
    "HOMETAX_TRUSTED_PROXIES": "127.0.0.1",
    "HOMETAX_BATCH_MAX_FILES": "30",
    "HOMETAX_BATCH_MAX_TOTAL_BYTES": str(40 * 1024 * 1024),
}

_client_ips = (f"198.51.100.{i}" for i in itertools.count(1))


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


_children = _script.children


@dataclass
class Stack:
    run_dir: Path
    base_url: str  # https://127.0.0.1:PORT
    http_url: str  # http://127.0.0.1:PORT (redirects)
    ca_file: Path  # the self-signed certificate: pass as ``verify=``
    https_port: int
    http_port: int
    app_server: str
    env: dict = field(repr=False, default_factory=dict)

    # -- what runs --------------------------------------------------------------------------------
    @property
    def state(self) -> dict:
        return json.loads((self.run_dir / "stack.json").read_text())

    @property
    def verify(self) -> str:
        return str(self.ca_file)

    @property
    def log_dir(self) -> Path:
        return self.run_dir / "logs"

    @property
    def access_log(self) -> Path:
        return self.log_dir / "nginx-access.log"

    @property
    def error_log(self) -> Path:
        return self.log_dir / "nginx-error.log"

    @property
    def app_logs(self) -> list[Path]:
        return sorted(self.log_dir.glob("app-*.log"))

    @property
    def nginx_pid(self) -> int:
        return int((self.run_dir / "nginx.pid").read_text())

    @property
    def config(self):
        """ops/stack.py's view of this stack (its StackConfig)."""
        return _script.StackConfig.from_env(self.env)

    @property
    def app_pids(self) -> dict[int, int]:
        """instance number -> master pid of the instances running now (asked of supervisord)"""
        return _script.app_pids(self.config)

    @property
    def supervisord_pid(self) -> int:
        return self.state["supervisord_pid"]

    def wait_whole(self, seconds: float = 60) -> dict[int, int]:
        """Wait until every instance runs and answers /readyz (polling, with a deadline); their
        master pids."""
        return {
            i: _script.wait_app(self.config, i, timeout=seconds, fail_fast=False)
            for i in range(1, len(self.state["apps"]) + 1)
        }

    def worker_pids(self) -> dict[int, list[int]]:
        """instance number -> worker pids (children of the master)"""
        return {i: _children(pid) for i, pid in self.app_pids.items()}

    def all_app_pids(self) -> list[int]:
        pids = list(self.app_pids.values())
        for ws in self.worker_pids().values():
            pids += ws
        return pids

    # -- clients ----------------------------------------------------------------------------------
    def session(self, client_ip: str | None = None, **headers):
        """A requests session trusting the stack's certificate, as its own rate-limited client."""
        import requests

        s = requests.Session()
        s.trust_env = False  # else REQUESTS_CA_BUNDLE (or a proxy) from the environment wins
        s.verify = self.verify
        s.headers["X-Forwarded-For"] = client_ip or next(_client_ips)
        s.headers.update(headers)
        return s

    def url(self, path: str) -> str:
        return self.base_url + path

    # -- lifecycle --------------------------------------------------------------------------------
    def run(self, command: str) -> subprocess.CompletedProcess:
        return subprocess.run(
            [*STACK_CMD, command], env=self.env, cwd=ROOT, capture_output=True, text=True, timeout=120
        )

    def stop(self) -> None:
        self.run("down")


def start_stack(run_dir: Path, app_server: str = "gunicorn", **extra_env: str) -> Stack:
    https_port, http_port = free_port(), free_port()
    env = {k: v for k, v in os.environ.items() if not k.startswith("HOMETAX_")}
    env.update(TEST_ENV)
    env.update(
        {
            "APP_SERVER": app_server,
            "HOMETAX_RUN_DIR": str(run_dir),
            "HOMETAX_LISTEN": "127.0.0.1",
            "HOMETAX_HTTPS_PORT": str(https_port),
            "HOMETAX_HTTP_PORT": str(http_port),
        }
    )
    env.update(extra_env)
    stack = Stack(
        run_dir=run_dir,
        base_url=f"https://127.0.0.1:{https_port}",
        http_url=f"http://127.0.0.1:{http_port}",
        ca_file=run_dir / "tls" / "selfsigned.crt",
        https_port=https_port,
        http_port=http_port,
        app_server=app_server,
        env=env,
    )
    result = stack.run("up")
    if result.returncode != 0:
        stack.stop()
        raise RuntimeError(
            f"the stack did not start ({result.returncode}):\n{result.stdout}\n{result.stderr}"
        )
    return stack


def stack_fixture_body(tmp_path_factory, name: str, **extra_env: str):
    """Start a stack in a fresh run dir, yield it, stop it: the body of every stack fixture."""
    st = start_stack(tmp_path_factory.mktemp(name), **extra_env)
    try:
        yield st
    finally:
        st.stop()


@pytest.fixture(scope="session")
def stack(tmp_path_factory):
    """The shared gunicorn stack (session-scoped). Do not break it: kill tests start their own."""
    yield from stack_fixture_body(tmp_path_factory, "stack-run")


if __name__ == "__main__":  # start a test stack by hand: python tests/stack.py RUN_DIR
    st = start_stack(Path(sys.argv[1]).resolve())
    print(st)


# -- requests of the tests ------------------------------------------------------------------------


def pw_header(password: str) -> dict:
    return {"X-Document-Password": password.encode("utf-8")}


def post_pdf(s, stack, endpoint: str, data: bytes, password: str | None = None, **params):
    """POST the raw PDF to ``/api/v1/ENDPOINT`` of ``stack`` through the session ``s``."""
    headers = {"Content-Type": "application/pdf", **(pw_header(password) if password else {})}
    return s.post(stack.url(f"/api/v1/{endpoint}"), data=data, headers=headers, params=params, timeout=60)


def poll(predicate, seconds: float = 15.0, step: float = 0.1):
    """``predicate()`` as soon as it is truthy, asked every ``step`` seconds until a deadline (the
    tests wait on conditions, never for a fixed time); after ``seconds``, its last (falsy) value."""
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(step)
    return predicate()


class ClientThreads:
    """``clients`` threads running ``self.run()`` (each loops until ``stop_event`` is set), started
    on ``with`` entry and stopped and joined on exit: the load of the kill and failover tests."""

    join_seconds: float = 60

    def __init__(self, clients: int = 4):
        self.lock = threading.Lock()
        self.stop_event = threading.Event()
        self.threads = [threading.Thread(target=self.run, daemon=True) for _ in range(clients)]

    def run(self) -> None:
        raise NotImplementedError

    def __enter__(self):
        for t in self.threads:
            t.start()
        return self

    def __exit__(self, *exc):
        self.stop_event.set()
        for t in self.threads:
            t.join(self.join_seconds)


def gone(pid: int) -> bool:
    """The process has exited: no longer in /proc, or a zombie waiting for its parent (its sockets
    are closed either way)."""
    try:
        return Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0] == "Z"
    except OSError:
        return True


class PostLoad(ClientThreads):
    """Clients posting ``data`` to ``/api/v1/extract`` of ``stack`` until stopped, each on its own
    kept-alive session; every answer that is not a 200 with ``expected`` is kept in ``failures``."""

    def __init__(self, stack, data: bytes, expected: bytes, clients: int = 4, **headers):
        super().__init__(clients)
        self.stack, self.data, self.expected, self.headers = stack, data, expected, headers
        self.ok = 0
        self.failures: list[str] = []

    def run(self) -> None:
        import requests

        s = self.stack.session(**self.headers)
        while not self.stop_event.is_set():
            try:
                r = post_pdf(s, self.stack, "extract", self.data)
                bad = None if r.status_code == 200 and r.content == self.expected else f"{r.status_code}"
            except requests.RequestException as exc:
                bad = type(exc).__name__
            with self.lock:
                if bad is None:
                    self.ok += 1
                else:
                    self.failures.append(bad)

    def wait_ok(self, more: int, seconds: float = 60) -> None:
        """Wait until ``more`` further requests have succeeded."""
        target = self.ok + more
        assert poll(lambda: self.ok >= target, seconds), (self.ok, self.failures)


def kill_instance_under_load(stack, instance: int, load: PostLoad) -> int:
    """SIGKILL instance ``instance`` (its master and all its workers) while ``load``'s clients have
    requests in flight, and keep the load on until supervisord has started it again and more
    requests have been answered: through the kill, the gap and the restart. The killed pid."""
    load.wait_ok(8)  # the load runs: both instances busy
    master = stack.app_pids[instance]
    os.killpg(master, 9)
    assert poll(lambda: gone(master))
    load.wait_ok(12)  # the other instance answers meanwhile
    new = stack.wait_whole()
    assert new[instance] != master
    load.wait_ok(12)  # ... and the restarted one takes its share again
    return master


def retried_requests(stack) -> int:
    """Requests of the access log that nginx passed to more than one instance."""
    return sum(
        1 for line in stack.access_log.read_text().splitlines() if "," in json.loads(line).get("upstream", "")
    )
