"""``make soak``: sustained load on the real stack while app workers and one whole instance are killed.

    .venv/bin/python bench/soak.py [--duration 180] [--clients 6] [--kill-every 15] [--no-restart]
                                   [--output PATH]

The stack is started by ``ops/stack.py`` (the code ``make up`` runs) in a run directory of its own
on free ports, with the rate limit raised (this is a load test, not a test of the rate limit).
``--clients`` threads post a mix of requests over keep-alive TLS connections for ``--duration``
seconds: all.pdf as a raw body (XML), as a multipart form asking for the SAM part in EUC-KR, the
password sample with its password header, a small document with ``?encoding=euc-kr``, and
``/api/v1/verify``. Every successful body is compared with what the library itself returns for that
request (byte for byte; the verify JSON as parsed data).

Faults, all SIGKILL:

* every ``--kill-every`` seconds one app worker of a live instance (its master replaces it);
* at 40 % of the run the whole of instance 2, master and workers (its process group). nginx stops
  sending it requests. supervisord (``make up``'s supervisor) starts it again by itself; from 60 %
  of the run on the report counts what it serves. ``--no-restart`` tells supervisord to leave it
  down instead.

The rule checked: a request may fail only if it was in flight when something was killed (it started
before a kill and ended after it). Any other failure, and any wrong body, fails the run (exit 1).
"""

from __future__ import annotations

import argparse
import http.client
import json
import os
import random
import signal
import ssl
import sys
import tempfile
import threading
import time
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import urlsplit

BENCH = Path(__file__).resolve().parent
sys.path.insert(0, str(BENCH))

import http_load  # noqa: E402

import hometax_decrypt as h  # noqa: E402
from hometax_decrypt.ops import stack  # noqa: E402

SAMPLES = BENCH.parent / "tests" / "fixtures" / "samples"
ALL = SAMPLES / "nts-2020" / "all.pdf"
ALL_PW = SAMPLES / "nts-2020" / "all-password-1234567.pdf"
SMALL = SAMPLES / "nts-2020" / "basic" / "medical.pdf"
SAMPLE_PASSWORD = "1234567"


@dataclass
class Kind:
    """One kind of request and the answer the library gives for it."""

    name: str
    path: str
    body: bytes
    headers: dict
    expected: bytes | dict  # bytes: compared exactly; dict: the JSON body, parsed

    def correct(self, body: bytes) -> bool:
        if isinstance(self.expected, dict):
            try:
                return json.loads(body) == self.expected
            except ValueError:
                return False
        return body == self.expected


def request_kinds() -> list[Kind]:
    all_pdf, pw_pdf, small = ALL.read_bytes(), ALL_PW.read_bytes(), SMALL.read_bytes()
    mp_body, mp_type = http_load.multipart_body(all_pdf)
    # The multipart form also carries the options, as the upload page sends them.
    boundary = mp_type.split("boundary=", 1)[1]
    fields = "".join(
        f'--{boundary}\r\nContent-Disposition: form-data; name="{k}"\r\n\r\n{v}\r\n'
        for k, v in (("part", "sam"), ("encoding", "euc-kr"))
    )
    mp_body = fields.encode() + mp_body
    pdf = {"Content-Type": "application/pdf"}
    return [
        Kind("raw xml", "/api/v1/extract", all_pdf, pdf, h.extract(all_pdf)),
        Kind(
            "multipart sam euc-kr",
            "/api/v1/extract",
            mp_body,
            {"Content-Type": mp_type},
            h.extract(all_pdf, part="sam", encoding="euc-kr"),
        ),
        Kind(
            "password",
            "/api/v1/extract",
            pw_pdf,
            {**pdf, "X-Document-Password": SAMPLE_PASSWORD},
            h.extract(pw_pdf, SAMPLE_PASSWORD),
        ),
        Kind(
            "small euc-kr", "/api/v1/extract?encoding=euc-kr", small, pdf, h.extract(small, encoding="euc-kr")
        ),
        Kind("verify", "/api/v1/verify", all_pdf, pdf, h.verify(all_pdf).to_dict()),
    ]


@dataclass
class Outcome:
    kind: str
    start: float
    end: float
    status: int | None  # None: no HTTP answer (connection error)
    correct: bool
    error: str = ""
    body: bytes = b""  # the start of a failed answer (the stack's error bodies are fixed JSON)


@dataclass
class Soak:
    base_url: str
    kinds: list[Kind]
    stop: threading.Event = field(default_factory=threading.Event)
    outcomes: list[Outcome] = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock)

    def _connect(self) -> http.client.HTTPSConnection:
        u = urlsplit(self.base_url)
        ctx = ssl.create_default_context()
        ctx.check_hostname = False
        ctx.verify_mode = ssl.CERT_NONE  # the stack's self-signed certificate
        return http.client.HTTPSConnection(u.hostname, u.port, timeout=60, context=ctx)

    def client(self, seed: int) -> None:
        rnd = random.Random(seed)
        conn = self._connect()
        while not self.stop.is_set():
            kind = rnd.choice(self.kinds)
            start = time.monotonic()
            try:
                conn.request("POST", kind.path, body=kind.body, headers=kind.headers)
                resp = conn.getresponse()
                body = resp.read()
                good = resp.status == 200 and kind.correct(body)
                out = Outcome(
                    kind.name, start, time.monotonic(), resp.status, good, body=b"" if good else body[:160]
                )
                if resp.will_close:
                    conn.close()
                    conn = self._connect()
            except (OSError, http.client.HTTPException) as exc:
                out = Outcome(kind.name, start, time.monotonic(), None, False, type(exc).__name__)
                conn.close()
                conn = self._connect()
            with self.lock:
                self.outcomes.append(out)
        conn.close()


def _wait_gone(pids: list[int], timeout: float = 5.0) -> float:
    """The moment every process in ``pids`` has exited (zombies count as gone)."""
    deadline = time.monotonic() + timeout
    while any(stack._alive(p) for p in pids) and time.monotonic() < deadline:
        time.sleep(0.002)
    return time.monotonic()


def _live_workers(cfg, state) -> dict[int, list[int]]:
    return {i: stack.children(pid) for i, pid in stack.app_pids(cfg).items() if stack._alive(pid)}


def run(duration: float, clients: int, kill_every: float, restart: bool, out=sys.stdout) -> dict:
    kinds = request_kinds()
    kills: list[dict] = []
    with tempfile.TemporaryDirectory(prefix="hometax-soak-") as tmp:
        os.chmod(tmp, 0o755)  # nginx's workers (www-data when run as root) reach the sockets below
        with http_load.real_stack(Path(tmp) / "stack") as (cfg, state):
            soak = Soak(cfg.https_url, kinds)
            for k in kinds:  # each kind answers correctly before the faults start
                conn = soak._connect()
                conn.request("POST", k.path, body=k.body, headers=k.headers)
                resp = conn.getresponse()
                if resp.status != 200 or not k.correct(resp.read()):
                    raise SystemExit(f"{k.name}: the stack does not answer correctly ({resp.status})")
                conn.close()
            print(
                f"soak: {duration:g} s, {clients} clients, a worker killed every {kill_every:g} s, "
                f"instance 2 killed at {0.4 * duration:.0f} s"
                + (f" and restarted at {0.6 * duration:.0f} s" if restart else " (not restarted)"),
                file=out,
                flush=True,
            )
            threads = [threading.Thread(target=soak.client, args=(i,), daemon=True) for i in range(clients)]
            t0 = time.monotonic()
            for t in threads:
                t.start()
            rnd = random.Random(1)
            next_kill = t0 + kill_every
            instance_killed = instance_restarted = False
            access_offset = None
            while time.monotonic() - t0 < duration:
                now = time.monotonic()
                if not instance_killed and now - t0 >= 0.4 * duration:
                    master = stack.app_pids(cfg)[2]
                    group = [master] + stack.children(master)
                    os.killpg(master, signal.SIGKILL)  # the master and its workers: one process group
                    if not restart:  # supervisord would start it again
                        try:
                            stack.supervisor(cfg).supervisor.stopProcess("app-2", False)
                        except Exception:  # already down (EXITED): nothing to stop
                            pass
                    kills.append(
                        {
                            "t": round(now - t0, 2),
                            "what": "instance 2",
                            "pid": master,
                            "at": now,
                            "gone": _wait_gone(group),
                        }
                    )
                    instance_killed = True
                elif restart and instance_killed and not instance_restarted and now - t0 >= 0.6 * duration:
                    pid = stack.wait_app(cfg, 2, not_pid=master, fail_fast=False)
                    access_offset = (cfg.log_dir / "nginx-access.log").stat().st_size
                    instance_restarted = True
                    print(
                        f"  {now - t0:6.1f} s  instance 2 back, restarted by supervisord (pid {pid})",
                        file=out,
                        flush=True,
                    )
                elif now >= next_kill:
                    live = {i: w for i, w in _live_workers(cfg, state).items() if w}
                    if live:
                        inst = rnd.choice(sorted(live))
                        victim = rnd.choice(live[inst])
                        try:
                            os.kill(victim, signal.SIGKILL)
                            kills.append(
                                {
                                    "t": round(now - t0, 2),
                                    "what": f"worker of instance {inst}",
                                    "pid": victim,
                                    "at": now,
                                    "gone": _wait_gone([victim]),
                                }
                            )
                        except ProcessLookupError:
                            pass  # recycled (max_requests) just now
                    next_kill = now + kill_every
                if kills and kills[-1].get("printed") is None:
                    k = kills[-1]
                    k["printed"] = True
                    print(f"  {k['t']:6.1f} s  SIGKILL {k['what']} (pid {k['pid']})", file=out, flush=True)
                time.sleep(0.05)
            soak.stop.set()
            for t in threads:
                t.join(90)
            elapsed = time.monotonic() - t0
            served_after_restart = None
            if access_offset is not None:
                with open(cfg.log_dir / "nginx-access.log", "rb") as fh:
                    fh.seek(access_offset)
                    sock2 = str(cfg.socket(2))
                    served_after_restart = sum(
                        1 for line in fh if sock2.encode() in line and b'"status":200' in line
                    )
            error_log_tail = stack._tail(cfg.log_dir / "nginx-error.log", 15)
            final_workers = _live_workers(cfg, state)
            final_status = stack.status(cfg) if not (instance_killed and not restart) else None

    # A request was in flight at a kill if it overlaps the time from the signal until every killed
    # process was gone (a dying instance's socket still accepts connections for a few milliseconds).
    windows = [(k["at"], k["gone"]) for k in kills]
    outcomes = soak.outcomes
    ok = [o for o in outcomes if o.correct]
    failed = [o for o in outcomes if not o.correct]
    wrong_body = [o for o in failed if o.status == 200]
    in_flight = [
        o for o in failed if o.status != 200 and any(o.start <= gone and at <= o.end for at, gone in windows)
    ]
    flight_ids = {id(o) for o in in_flight}
    unexplained = [o for o in failed if o.status != 200 and id(o) not in flight_ids]
    report = {
        "duration_s": round(elapsed, 1),
        "clients": clients,
        "sent": len(outcomes),
        "succeeded": len(ok),
        "failed": len(failed),
        "failed_in_flight_at_a_kill": len(in_flight),
        "failed_otherwise": len(unexplained),
        "wrong_bodies": len(wrong_body),
        "docs_per_s": round(len(ok) / elapsed, 1),
        "kills": [
            {
                "t": kill["t"],
                "what": kill["what"],
                "pid": kill["pid"],
                "gone_after_ms": round(1000 * (kill["gone"] - kill["at"]), 1),
            }
            for kill in kills
        ],
        "instance_restarted": restart,
        "instance_2_requests_after_restart": served_after_restart,
        "workers_at_end": {str(i): len(w) for i, w in final_workers.items()},
        "status_at_end_ok": final_status == 0 if final_status is not None else None,
        "failures": [
            {
                "kind": o.kind,
                "status": o.status,
                "error": o.error,
                "body": o.body.decode("utf-8", "replace") if o.status != 200 else "",
                "started_s": round(o.start - t0, 2),
                "ended_s": round(o.end - t0, 2),
                "in_flight_at_a_kill": id(o) in flight_ids,
            }
            for o in failed[:50]
        ],
        "unexplained_failures_by_second": dict(
            sorted(Counter(int(o.start - t0) for o in unexplained).items())
        ),
        "nginx_error_log_tail": error_log_tail.splitlines(),
        "by_kind": {k.name: sum(1 for o in ok if o.kind == k.name) for k in kinds},
    }
    passed = not unexplained and not wrong_body and len(ok) > 0
    if restart:
        passed = passed and (served_after_restart or 0) > 0 and report["status_at_end_ok"]
    report["passed"] = bool(passed)
    print_report(report, out)
    return report


def print_report(r: dict, out=sys.stdout) -> None:
    print(
        f"\nsent {r['sent']}, succeeded {r['succeeded']}, failed {r['failed']} "
        f"({r['failed_in_flight_at_a_kill']} in flight at a kill, {r['failed_otherwise']} otherwise), "
        f"wrong bodies {r['wrong_bodies']}; {r['docs_per_s']} docs/s over {r['duration_s']} s",
        file=out,
    )
    print(
        f"kills: {len(r['kills'])}; instance 2 restarted: {r['instance_restarted']}, "
        f"requests it served after the restart: {r['instance_2_requests_after_restart']}; "
        f"workers at the end per instance: {r['workers_at_end']}",
        file=out,
    )
    print("PASSED" if r["passed"] else "FAILED", file=out)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--duration", type=float, default=180.0, help="seconds of load (default 180)")
    ap.add_argument("--clients", type=int, default=6, help="concurrent client connections")
    ap.add_argument("--kill-every", type=float, default=15.0, help="seconds between worker kills")
    ap.add_argument("--no-restart", action="store_true", help="leave the killed instance down")
    ap.add_argument("--output", type=Path, help="also write the report as JSON here")
    args = ap.parse_args(argv)
    report = run(args.duration, args.clients, args.kill_every, not args.no_restart)
    if args.output:
        args.output.write_text(json.dumps(report, indent=1) + "\n")
    return 0 if report["passed"] else 1


if __name__ == "__main__":
    sys.exit(main())
