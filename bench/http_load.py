"""The HTTP side of the benchmark: the real stack, gunicorn alone, and the Flask development server,
under the same load from ``hey``.

    .venv/bin/python bench/http_load.py [--seconds 5] [--quick]

Servers
    ``stack``   nginx with TLS in front of the app server instances, started by ``ops/stack.py``
                (the code ``make up`` runs) with its own run directory and ports. The rate limit is
                raised for the run: the benchmark measures capacity, not the rate-limit policy.
    ``direct``  one gunicorn started with the same command, config file and environment as a stack
                instance, but bound to a loopback TCP port instead of its Unix socket (``hey`` speaks
                TCP only), with as many workers as the whole stack has. No nginx, no TLS.
    ``flask-dev`` ``flask --app hometax_decrypt.web.wsgi:app run`` on a loopback port: the Werkzeug
                development server (threaded), how the original system served.

Body ``floor``: as many bytes as all.pdf that are not a PDF, refused before the core opens anything
(``damaged``): what moving the upload through nginx + TLS + the app server and answering costs on its
own, the part of every request no change to the app around the core can take back.

Every server's answer is checked byte for byte against the library's extraction before it is loaded.
Load: ``hey -z <seconds> -c <concurrency>`` posting ``nts-2020/all.pdf`` as a raw body
(``application/pdf``) or as a multipart form; keep-alive on (TLS handshakes happen once per
connection). CPU seconds used by the load generator, nginx and the app server are recorded per run so
that the figures say what bounded them.
"""

from __future__ import annotations

import argparse
import csv
import http.client
import io
import json
import math
import os
import resource
import signal
import socket
import ssl
import subprocess
import sys
import tempfile
import time
import uuid
from contextlib import contextmanager
from pathlib import Path

import hometax_decrypt as h

REPO = Path(__file__).resolve().parents[1]
from hometax_decrypt.ops import stack  # noqa: E402  (the code `make up` runs)

SAMPLES = REPO / "tests" / "fixtures" / "samples"
DOCUMENT = SAMPLES / "nts-2020" / "all.pdf"
ENDPOINT = "/api/v1/extract"
TICKS = os.sysconf("SC_CLK_TCK")
HEY = "/usr/bin/hey"
TRUST = REPO / "tests" / "fixtures" / "reference" / "gpki"
if not os.environ.get("HOMETAX_TRUST_DIR") and TRUST.is_dir():
    # What ops/stack.py gives the app servers: the library figures and the answers this process
    # expects then verify the same way as the servers do.
    os.environ["HOMETAX_TRUST_DIR"] = str(TRUST)


# == processes and /proc ================================================================================
def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _stat(pid: int) -> list[str] | None:
    try:
        with open(f"/proc/{pid}/stat") as fh:
            return fh.read().rsplit(")", 1)[1].split()
    except OSError:
        return None


def cpu_seconds(pid: int, with_children: bool = True) -> float:
    """utime + stime of ``pid`` (and of its reaped children: recycled workers count too)."""
    f = _stat(pid)
    if f is None:
        return 0.0
    ticks = int(f[11]) + int(f[12]) + ((int(f[13]) + int(f[14])) if with_children else 0)
    return ticks / TICKS


def tree_cpu_seconds(pid: int) -> float:
    """A master and its live children: reaped children are in the master's cutime/cstime."""
    return cpu_seconds(pid) + sum(cpu_seconds(c, with_children=False) for c in stack.children(pid))


def memory(pid: int) -> dict:
    """Resident and proportional set size in MiB. PSS splits pages shared with the master (the app is
    preloaded before forking) between the processes sharing them: the fair 'memory per worker'."""
    out = {"rss_mib": None, "pss_mib": None}
    try:
        with open(f"/proc/{pid}/status") as fh:
            for line in fh:
                if line.startswith("VmRSS:"):
                    out["rss_mib"] = round(int(line.split()[1]) / 1024, 1)
        with open(f"/proc/{pid}/smaps_rollup") as fh:
            for line in fh:
                if line.startswith("Pss:"):
                    out["pss_mib"] = round(int(line.split()[1]) / 1024, 1)
    except OSError:
        pass
    return out


def worker_memory(master_pids: list[int]) -> dict:
    workers = [w for m in master_pids for w in stack.children(m)]
    per = [memory(w) for w in workers]
    rss = [p["rss_mib"] for p in per if p["rss_mib"] is not None]
    pss = [p["pss_mib"] for p in per if p["pss_mib"] is not None]
    return {
        "workers": len(workers),
        "masters": [memory(m) for m in master_pids],
        "rss_mib_mean": round(sum(rss) / len(rss), 1) if rss else None,
        "rss_mib_max": max(rss) if rss else None,
        "pss_mib_mean": round(sum(pss) / len(pss), 1) if pss else None,
    }


def _stop_process(proc: subprocess.Popen, sig=signal.SIGTERM, wait: float = 20) -> None:
    if proc.poll() is not None:
        return
    proc.send_signal(sig)
    try:
        proc.wait(wait)
    except subprocess.TimeoutExpired:
        os.killpg(proc.pid, signal.SIGKILL)  # started in its own session: only its own processes
        proc.wait(5)


# == requests ===========================================================================================
def multipart_body(data: bytes, filename: str = "all.pdf") -> tuple[bytes, str]:
    boundary = "hometaxbench" + uuid.uuid4().hex
    body = (
        (
            f'--{boundary}\r\nContent-Disposition: form-data; name="file"; filename="{filename}"\r\n'
            f"Content-Type: application/pdf\r\n\r\n"
        ).encode()
        + data
        + f"\r\n--{boundary}--\r\n".encode()
    )
    return body, f"multipart/form-data; boundary={boundary}"


def post(
    base_url: str, body: bytes, content_type: str, timeout: float = 30, endpoint: str = ENDPOINT
) -> tuple[int, bytes]:
    """One request with the standard library (certificate not checked: the stack's is self-signed)."""
    scheme, rest = base_url.split("://", 1)
    host, _, port = rest.partition(":")
    if scheme == "https":
        ctx = ssl.create_default_context()
        ctx.check_hostname = False
        ctx.verify_mode = ssl.CERT_NONE
        conn = http.client.HTTPSConnection(host, int(port or 443), timeout=timeout, context=ctx)
    else:
        conn = http.client.HTTPConnection(host, int(port or 80), timeout=timeout)
    try:
        conn.request("POST", endpoint, body=body, headers={"Content-Type": content_type})
        resp = conn.getresponse()
        return resp.status, resp.read()
    finally:
        conn.close()


FLOOR_ERROR = "damaged"  # what the app answers the floor body (not a PDF), before the core


def check_answer(
    base_url: str, body: bytes, content_type: str, expected: bytes | None, endpoint: str = ENDPOINT
) -> None:
    status, got = post(base_url, body, content_type, endpoint=endpoint)
    if expected is None:  # the floor body: refused by the app itself, not by nginx
        try:
            code = json.loads(got)["error"]["code"]
        except (ValueError, KeyError, TypeError):
            code = None
        if code != FLOOR_ERROR:
            raise SystemExit(
                f"{base_url}{endpoint} answered the floor body {status} "
                f"{got[:200]!r}, not the app's '{FLOOR_ERROR}' error"
            )
        return
    if status != 200 or got != expected:
        raise SystemExit(
            f"{base_url}{endpoint} ({content_type.split(';')[0]}) answered {status}, "
            f"{len(got)} bytes, not the library's {len(expected)}-byte answer"
        )


def percentile(sorted_values: list[float], q: float) -> float:
    """Nearest-rank percentile (q in 0..100) of an ascending list."""
    if not sorted_values:
        return float("nan")
    rank = max(1, math.ceil(q / 100 * len(sorted_values)))
    return sorted_values[rank - 1]


def parse_hey_csv(text: str) -> dict:
    """hey ``-o csv``: one row per completed request (response-time, ..., status-code, offset).
    Transport errors are not rows; they show up as fewer documents per second."""
    rows = list(csv.reader(io.StringIO(text)))
    if not rows or rows[0][:1] != ["response-time"]:
        raise RuntimeError("unexpected hey output:\n" + text[-2000:])
    head = rows[0]
    i_time, i_status, i_offset = head.index("response-time"), head.index("status-code"), head.index("offset")
    lat_ok, statuses, end = [], {}, 0.0
    for row in rows[1:]:
        if len(row) != len(head):
            continue
        t, code, off = float(row[i_time]), int(row[i_status]), float(row[i_offset])
        statuses[code] = statuses.get(code, 0) + 1
        end = max(end, off + t)
        if code == 200:
            lat_ok.append(t * 1000)
    lat_ok.sort()
    ok = statuses.get(200, 0)
    return {
        "seconds": round(end, 3),
        "responses": sum(statuses.values()),
        "ok": ok,
        "status": statuses,
        "docs_per_s": round(ok / end, 1) if end else 0.0,
        "p50_ms": round(percentile(lat_ok, 50), 1),
        "p90_ms": round(percentile(lat_ok, 90), 1),
        "p99_ms": round(percentile(lat_ok, 99), 1),
        "max_ms": round(lat_ok[-1], 1) if lat_ok else float("nan"),
    }


def hey(
    url: str,
    body_file: Path,
    content_type: str,
    concurrency: int,
    seconds: float,
    watch: dict[str, int] | None = None,
    watch_own: dict[str, int] | None = None,
) -> dict:
    """Run hey; return its figures plus CPU seconds spent by hey, by each watched process tree
    (``watch``: a master with its live and reaped children) and by each process of ``watch_own``
    alone (supervisord: its children are the app servers, counted in ``watch``)."""
    watch, watch_own = watch or {}, watch_own or {}
    before = {k: tree_cpu_seconds(p) for k, p in watch.items()}
    before.update({k: cpu_seconds(p, with_children=False) for k, p in watch_own.items()})
    ru = resource.getrusage(resource.RUSAGE_CHILDREN)
    started = time.monotonic()
    proc = subprocess.run(
        [
            HEY,
            "-z",
            f"{seconds}s",
            "-c",
            str(concurrency),
            "-m",
            "POST",
            "-T",
            content_type,
            "-D",
            str(body_file),
            "-t",
            "30",
            "-o",
            "csv",
            url,
        ],
        capture_output=True,
        text=True,
        timeout=seconds + 60,
    )
    wall = time.monotonic() - started
    if proc.returncode != 0:
        raise RuntimeError(f"hey failed ({proc.returncode}): {proc.stderr[-2000:]}")
    ru2 = resource.getrusage(resource.RUSAGE_CHILDREN)
    out = parse_hey_csv(proc.stdout)
    out["concurrency"] = concurrency
    cpu = {"hey": round(ru2.ru_utime + ru2.ru_stime - ru.ru_utime - ru.ru_stime, 2)}
    for k, p in watch.items():
        cpu[k] = round(tree_cpu_seconds(p) - before[k], 3)
    for k, p in watch_own.items():
        cpu[k] = round(cpu_seconds(p, with_children=False) - before[k], 3)
    out["cpu_s"] = cpu
    out["cpu_utilisation"] = round(sum(cpu.values()) / wall / (os.cpu_count() or 1), 2)
    out.update(per_request_cpu(cpu, out["responses"]))
    return out


def per_request_cpu(cpu: dict[str, float], requests: int) -> dict:
    """CPU milliseconds per answered request: of each watched process, of the app servers together
    (``app*``, ``gunicorn``, ``uwsgi``, ``flask``), and of the server side (everything but the load
    generator: nginx, app servers, supervisord). Per-process CPU time, so it holds on a machine that
    others share (wall-clock rates do not)."""
    if not requests:
        return {}
    ms = {k: round(1000 * v / requests, 3) for k, v in cpu.items()}
    app = sum(v for k, v in cpu.items() if k not in ("hey", "nginx", "supervisord"))
    server = sum(v for k, v in cpu.items() if k != "hey")
    return {
        "cpu_ms_per_request": ms,
        "app_cpu_ms_per_request": round(1000 * app / requests, 3),
        "server_cpu_ms_per_request": round(1000 * server / requests, 3),
    }


# == servers ============================================================================================
def _env(extra: dict) -> dict:
    env = dict(os.environ)
    env.update(extra)
    return env


@contextmanager
def real_stack(run_dir: Path, instances: int | None = None, app_server: str | None = None):
    """The stack as ``make up`` starts it, in ``run_dir`` on free ports; stopped on exit."""
    extra = {
        "HOMETAX_RUN_DIR": str(run_dir),
        "HOMETAX_HTTPS_PORT": str(free_port()),
        "HOMETAX_HTTP_PORT": str(free_port()),
        "HOMETAX_RATE_LIMIT": "100000",
        "HOMETAX_RATE_BURST": "100000",
        "HOMETAX_LISTEN": "127.0.0.1",
    }
    if instances is not None:
        extra["HOMETAX_INSTANCES"] = str(instances)
    if app_server is not None:
        extra["APP_SERVER"] = app_server
    cfg = stack.StackConfig.from_env(_env(extra))
    if stack.up(cfg) != 0:
        raise SystemExit("the stack did not start; see " + str(cfg.log_dir))
    try:
        state = json.loads(cfg.state_file.read_text())
        yield cfg, state
    finally:
        stack.down(cfg, quiet=True)


def _wait_http(url: str, proc: subprocess.Popen, timeout: float = 60) -> None:
    deadline = time.monotonic() + timeout
    host, port = url.split("://", 1)[1].split(":")
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise SystemExit(f"{proc.args[0]} exited during start-up")
        try:
            conn = http.client.HTTPConnection(host, int(port), timeout=2)
            conn.request("GET", "/readyz")
            if conn.getresponse().status == 200:
                conn.close()
                return
            conn.close()
        except OSError:
            pass
        time.sleep(0.1)
    raise SystemExit(f"{url} not ready after {timeout:.0f}s")


@contextmanager
def _serving(command: list[str], env: dict, log_path: Path, port: int, stop_signal=signal.SIGTERM):
    """Start a server process (its output to ``log_path``), wait until it answers on ``port``,
    yield (url, pid), and stop it."""
    with open(log_path, "ab") as log:
        proc = subprocess.Popen(
            command,
            cwd=str(REPO),
            env=env,
            stdin=subprocess.DEVNULL,
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
    url = f"http://127.0.0.1:{port}"
    try:
        _wait_http(url, proc)
        yield url, proc.pid
    finally:
        _stop_process(proc, stop_signal)


@contextmanager
def direct_gunicorn(run_dir: Path, workers: int):
    """A stack instance's gunicorn (same command, config and environment) on a loopback TCP port."""
    port = free_port()
    cfg = stack.StackConfig.from_env(
        _env(
            {"HOMETAX_RUN_DIR": str(run_dir), "HOMETAX_WORKERS": str(workers), "HOMETAX_LISTEN": "127.0.0.1"}
        )
    )
    for d in (cfg.run_dir, cfg.log_dir, cfg.tmp_dir, cfg.metrics_dir):
        d.mkdir(parents=True, exist_ok=True)
    env = stack._app_env(cfg, 1)
    # The config file refuses a plain TCP bind (app hosts use mutual TLS, which hey cannot): the bench
    # keeps the instance's socket setting and binds loopback on the command line, which gunicorn
    # puts above the config file.
    command = stack._app_command(cfg) + ["--bind", f"127.0.0.1:{port}"]
    with _serving(command, env, cfg.log_dir / "direct.log", port) as served:
        yield served


@contextmanager
def flask_dev(run_dir: Path):
    port = free_port()
    run_dir.mkdir(parents=True, exist_ok=True)
    env = _env({"HOMETAX_LISTEN": "127.0.0.1", "PYTHONPATH": str(REPO / "src"), "TMPDIR": str(run_dir)})
    env.pop("PROMETHEUS_MULTIPROC_DIR", None)
    command = [
        sys.executable,
        "-m",
        "flask",
        "--app",
        "hometax_decrypt.web.wsgi:app",
        "run",
        "--host",
        "127.0.0.1",
        "--port",
        str(port),
    ]
    with _serving(command, env, run_dir / "flask-dev.log", port, signal.SIGINT) as served:
        yield served


# == the run ============================================================================================
APP_SERVERS = ("gunicorn", "uwsgi")
DOCUMENTS_ENDPOINT = "/api/v1/documents"


def default_app_server() -> str:
    """The app server ``make up`` starts when APP_SERVER is not set."""
    from hometax_decrypt.settings import Settings

    return Settings.from_env({}).app_server


def run(seconds: float = 5.0, concurrencies=(1, 4, 8, 16), out=sys.stdout) -> dict:
    data = DOCUMENT.read_bytes()
    expected = h.extract(data)
    from hometax_decrypt import formats, service

    # what /api/v1/documents answers (format=json, unmasked), from the library
    expected_documents = service.export(formats.get("json"), [service.parse(data).document])
    default = default_app_server()
    others = [a for a in APP_SERVERS if a != default]
    results: dict = {
        "document": "nts-2020/all.pdf",
        "bytes": len(data),
        "seconds_per_run": seconds,
        "load_generator": "hey (keep-alive)",
        "app_server": default,
        "runs": [],
    }
    with tempfile.TemporaryDirectory(prefix="hometax-bench-") as tmp:
        tmp = Path(tmp)
        os.chmod(tmp, 0o755)  # nginx's workers (www-data when run as root) reach the sockets below
        raw_file = tmp / "body.pdf"
        raw_file.write_bytes(data)
        mp_body, mp_type = multipart_body(data)
        mp_file = tmp / "body.multipart"
        mp_file.write_bytes(mp_body)
        floor_file = tmp / "body.floor"
        floor_file.write_bytes(b"X" * len(data))
        bodies = {
            "raw": (raw_file, "application/pdf", data),
            "multipart": (mp_file, mp_type, mp_body),
            "floor": (floor_file, "application/pdf", None),
        }

        def measure(
            server: str, base: str, watch: dict, kinds, levels, own=None, endpoint=ENDPOINT, answer=expected
        ):
            for kind in kinds:
                path, ctype, body = bodies[kind]
                if kind == "floor":
                    check_answer(base, floor_file.read_bytes(), ctype, None, endpoint)
                else:
                    check_answer(base, body, ctype, answer, endpoint)
                hey(base + endpoint, path, ctype, max(levels), min(2.0, seconds))  # warm up
                for c in levels:
                    r = hey(base + endpoint, path, ctype, c, seconds, watch, own)
                    r.update(server=server, body=kind, endpoint=endpoint)
                    results["runs"].append(r)
                    _print_run(r, out)

        print(
            f"\nHTTP: POST {ENDPOINT} with nts-2020/all.pdf, hey -z {seconds:g}s; cpu ms = CPU "
            f"milliseconds per request (server = nginx + app servers + supervisord)",
            file=out,
        )
        print(
            f"{'server':15} {'body':10} {'conc':>5} {'docs/s':>8} {'p50 ms':>8} {'p99 ms':>8} "
            f"{'non-200':>8} {'cpu use':>8} {'server':>7} {'app':>6} {'nginx':>6} {'hey':>6}",
            file=out,
        )

        def on_stack(app_server: str, label: str, kinds, levels, documents: bool):
            with real_stack(tmp / label, app_server=app_server) as (cfg, state):
                apps = stack.app_pids(cfg)  # instance -> master pid (supervisord's children)
                masters = list(apps.values())
                watch = {"nginx": state["nginx_pid"], **{f"app{i}": pid for i, pid in apps.items()}}
                own = {"supervisord": state["supervisord_pid"]}
                measure(label, cfg.https_url, watch, kinds, levels, own)
                measure(label, cfg.https_url, watch, ("floor",), (8,), own)
                if documents:
                    measure(
                        label,
                        cfg.https_url,
                        watch,
                        ("raw",),
                        (8,),
                        own,
                        DOCUMENTS_ENDPOINT,
                        expected_documents,
                    )
                results[label] = {
                    "app_server": app_server,
                    "instances": cfg.instances,
                    "workers_per_instance": cfg.workers,
                    "memory_after_load": worker_memory(masters),
                }
                return cfg.instances * cfg.workers

        workers_total = on_stack(default, "stack", ("raw", "multipart"), concurrencies, True)
        for other in others:
            on_stack(other, f"stack-{other}", ("raw",), [c for c in concurrencies if c in (1, 8)], True)
        with direct_gunicorn(tmp / "direct", workers_total) as (url, pid):
            measure("direct", url, {"gunicorn": pid}, ("raw",), concurrencies)
            results["direct"] = {"workers": workers_total, "memory_after_load": worker_memory([pid])}
        with flask_dev(tmp / "flask") as (url, pid):
            measure("flask-dev", url, {"flask": pid}, ("raw",), [c for c in concurrencies if c in (1, 8)])
            results["flask_dev"] = {"memory_after_load": memory(pid)}
    for label in ["stack"] + [f"stack-{o}" for o in others]:
        mem = results[label]["memory_after_load"]
        print(
            f"memory per {label} worker ({results[label]['app_server']}) after load: RSS "
            f"{mem['rss_mib_mean']} MiB (max {mem['rss_mib_max']}), PSS {mem['pss_mib_mean']} MiB, "
            f"{mem['workers']} workers",
            file=out,
        )
    return results


def _print_run(r: dict, out) -> None:
    bad = r["responses"] - r["ok"]
    if r["body"] == "floor":  # every answer is the expected refusal: count them all as done
        bad, r = 0, dict(r, docs_per_s=round(r["responses"] / r["seconds"], 1) if r["seconds"] else 0.0)
    ms = r.get("cpu_ms_per_request", {})
    label = r["server"] + (" /documents" if r.get("endpoint") == DOCUMENTS_ENDPOINT else "")
    print(
        f"{label:15} {r['body']:10} {r['concurrency']:5d} {r['docs_per_s']:8.1f} {r['p50_ms']:8.1f} "
        f"{r['p99_ms']:8.1f} {bad:8d} {r['cpu_utilisation']:8.2f} "
        f"{r.get('server_cpu_ms_per_request', 0):7.2f} {r.get('app_cpu_ms_per_request', 0):6.2f} "
        f"{ms.get('nginx', 0):6.2f} {ms.get('hey', 0):6.2f}",
        file=out,
        flush=True,
    )


def find(results: dict, server: str, body: str, concurrency: int, endpoint: str = ENDPOINT) -> dict:
    for r in results["runs"]:
        if (r["server"], r["body"], r["concurrency"], r.get("endpoint", ENDPOINT)) == (
            server,
            body,
            concurrency,
            endpoint,
        ):
            return r
    raise KeyError((server, body, concurrency, endpoint))


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--seconds", type=float, default=5.0, help="duration of each hey run")
    ap.add_argument("--quick", action="store_true", help="concurrency 1 and 8 only")
    args = ap.parse_args()
    levels = (1, 8) if args.quick else (1, 4, 8, 16)
    print(json.dumps(run(args.seconds, levels), indent=1))


if __name__ == "__main__":
    main()
