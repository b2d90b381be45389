"""``make bench``: the library and the HTTP service measured in one run; a table, and the whole run in
build/bench/results.json (outside the tracked tree: the figures committed live in
docs/performance.md).

    .venv/bin/python bench/run_all.py [--seconds 5] [--library-seconds 1] [--quick] [--output PATH]

The headline figures (docs/performance.md explains each and what limits it); CPU figures are
per-process CPU time, so their ratios hold on a machine others share, the wall-clock ones do not:

``library_cpu_ms_per_doc``   CPU time of ``extract`` + ``verify`` of nts-2020/all.pdf in one process
                             (what one ``/api/v1/extract`` request computes).
``server_cpu_vs_library``    CPU per ``/api/v1/extract`` request of the server side (nginx + app
                             servers + supervisord), raw body, concurrency 8, over the library's
                             (target <= 1.6); ``server_only_ceiling_docs_per_s`` = cores / that CPU.
``floor_vs_library``         the same server CPU for a body of all.pdf's size that is not a PDF
                             (refused before the core opens it): the transport floor, over the
                             library's CPU; ``above_floor_vs_library`` = (server - floor) / library,
                             what the core and the app around it add (1.0 would be the core alone).
``http_vs_flask_dev``        ``http_docs_per_s`` over the same load against ``flask run`` (>= 2.5).
``p99_over_p50``             tail at concurrency 8 through nginx + TLS (target <= 2.5).
``parse_vs_extract_verify``  ``parse`` CPU over ``extract`` + ``verify`` CPU (target <= 2);
``documents_server_cpu_vs_parse`` the same as ``server_cpu_vs_library`` for ``/api/v1/documents``.
``app_servers``              the same figures for every app server (gunicorn, uWSGI), side by side.
``bulk_docs_per_s``           ``hometax-decrypt batch`` over 1,200 sample files on every core
                             (bench/bulk.py); ``bulk_speedup``: its ratio to ``--jobs 1`` in the same run;
                             ``bulk_jobs2_vs_jobs1``: ``--jobs 2`` over ``--jobs 1`` (target >= 1.8).

Takes about 3 minutes with the defaults on 2 cores.
"""

from __future__ import annotations

import argparse
import datetime
import json
import os
import platform
import subprocess
import sys
import time
from pathlib import Path

BENCH = Path(__file__).resolve().parent
sys.path.insert(0, str(BENCH))

import bulk as bulk_bench  # noqa: E402
import http_load  # noqa: E402  (first: it sets the trust configuration the app servers get)
import library  # noqa: E402

import hometax_decrypt  # noqa: E402

TARGETS = {
    "server_cpu_vs_library": ("<=", 1.6),
    "http_vs_flask_dev": (">=", 2.5),
    "p99_over_p50": ("<=", 2.5),
    "parse_vs_extract_verify": ("<=", 2.0),
    "documents_server_cpu_vs_parse": ("<=", 1.6),
    "library_ms_per_doc": ("<", 3.0),
}


def machine() -> dict:
    model = ""
    try:
        with open("/proc/cpuinfo") as fh:
            for line in fh:
                if line.startswith("model name"):
                    model = line.split(":", 1)[1].strip()
                    break
    except OSError:
        pass
    mem = ""
    try:
        with open("/proc/meminfo") as fh:
            mem = f"{int(fh.readline().split()[1]) // 1024} MiB"
    except OSError:
        pass

    def version(cmd: list[str]) -> str:
        try:
            p = subprocess.run(cmd, capture_output=True, text=True, timeout=10)
            return (p.stdout + p.stderr).strip().splitlines()[0]
        except (OSError, IndexError, subprocess.TimeoutExpired):
            return "?"

    import pikepdf

    return {
        "cpu": model,
        "cores": os.cpu_count(),
        "memory": mem,
        "kernel": platform.release(),
        "python": platform.python_version(),
        "pikepdf": pikepdf.__version__,
        "qpdf": pikepdf.__libqpdf_version__,
        "hometax_decrypt": hometax_decrypt.__version__,
        "nginx": version(["/usr/sbin/nginx", "-v"]),
        "load_average_at_start": [round(x, 2) for x in os.getloadavg()],
    }


def verdict(value: float, target: tuple[str, float]) -> bool:
    op, bound = target
    return {">=": value >= bound, "<=": value <= bound, "<": value < bound}[op]


def server_figures(web: dict, label: str, lib_cpu_ms: float, parse_cpu_ms: float, cores: int) -> dict:
    """The per-request CPU figures of one stack (nginx + the app servers + supervisord) at
    concurrency 8: against the library's CPU per document, and the rate the server side alone could
    reach on this machine's cores (the load generator elsewhere)."""
    r = http_load.find(web, label, "raw", 8)
    d = http_load.find(web, label, "raw", 8, http_load.DOCUMENTS_ENDPOINT)
    f = http_load.find(web, label, "floor", 8)
    server_ms = r["server_cpu_ms_per_request"]
    floor_ms = f["server_cpu_ms_per_request"]
    return {
        "app_server": web[label]["app_server"],
        "http_docs_per_s": r["docs_per_s"],
        "p50_ms": r["p50_ms"],
        "p99_ms": r["p99_ms"],
        "p99_over_p50": round(r["p99_ms"] / r["p50_ms"], 2),
        "server_cpu_ms_per_request": server_ms,
        "app_cpu_ms_per_request": r["app_cpu_ms_per_request"],
        "nginx_cpu_ms_per_request": r["cpu_ms_per_request"].get("nginx"),
        "supervisord_cpu_ms_per_request": r["cpu_ms_per_request"].get("supervisord"),
        "server_cpu_vs_library": round(server_ms / lib_cpu_ms, 2),
        "server_only_ceiling_docs_per_s": round(cores * 1000 / server_ms, 1),
        "floor_cpu_ms_per_request": floor_ms,
        "floor_vs_library": round(floor_ms / lib_cpu_ms, 2),
        "above_floor_vs_library": round((server_ms - floor_ms) / lib_cpu_ms, 2),
        "documents_server_cpu_ms_per_request": d["server_cpu_ms_per_request"],
        "documents_server_cpu_vs_parse": round(d["server_cpu_ms_per_request"] / parse_cpu_ms, 2),
        "memory_per_worker_rss_mib": web[label]["memory_after_load"]["rss_mib_mean"],
        "memory_per_worker_pss_mib": web[label]["memory_after_load"]["pss_mib_mean"],
    }


def summary(lib: dict, web: dict, cores: int, batch: dict) -> dict:
    big = lib[library.BIG[0]]
    library_rate = big["extract+verify"]["docs_per_s"]
    lib_cpu = big["extract+verify"]["cpu_ms_per_doc"]
    parse_cpu = big["parse"]["cpu_ms_per_doc"]
    flask8 = http_load.find(web, "flask-dev", "raw", 8)
    servers = {
        label: server_figures(web, label, lib_cpu, parse_cpu, cores)
        for label in web
        if label == "stack" or label.startswith("stack-")
    }
    main = servers["stack"]
    out = {
        "cores": cores,
        "app_server": main["app_server"],
        "library_docs_per_s": library_rate,
        "library_ms_per_doc": big["extract+verify"]["ms_per_doc"],
        "library_cpu_ms_per_doc": lib_cpu,
        "parse_cpu_ms_per_doc": parse_cpu,
        "parse_vs_extract_verify": round(parse_cpu / lib_cpu, 2),
        "http_docs_per_s": main["http_docs_per_s"],
        "http_vs_library": round(main["http_docs_per_s"] / (library_rate * cores), 3),
        "flask_dev_docs_per_s": flask8["docs_per_s"],
        "http_vs_flask_dev": round(main["http_docs_per_s"] / flask8["docs_per_s"], 2),
        **{
            k: main[k]
            for k in (
                "p50_ms",
                "p99_ms",
                "p99_over_p50",
                "server_cpu_ms_per_request",
                "app_cpu_ms_per_request",
                "nginx_cpu_ms_per_request",
                "supervisord_cpu_ms_per_request",
                "server_cpu_vs_library",
                "server_only_ceiling_docs_per_s",
                "floor_cpu_ms_per_request",
                "floor_vs_library",
                "above_floor_vs_library",
                "documents_server_cpu_ms_per_request",
                "documents_server_cpu_vs_parse",
                "memory_per_worker_rss_mib",
                "memory_per_worker_pss_mib",
            )
        },
        "app_servers": {v["app_server"]: v for v in servers.values()},
        "bulk_files": batch["files"],
        "bulk_docs_per_s": batch["all_cores"]["docs_per_s"],
        "bulk_jobs_1_docs_per_s": batch["jobs_1"]["docs_per_s"],
        "bulk_speedup": batch["speedup"],
        "bulk_jobs2_vs_jobs1": batch["jobs2_vs_jobs1"],
    }
    out["targets"] = {
        k: {"target": f"{op} {bound:g}", "value": out[k], "met": verdict(out[k], (op, bound))}
        for k, (op, bound) in TARGETS.items()
    }
    return out


def print_summary(s: dict, out=sys.stdout) -> None:
    print(
        f"\nSummary (one run; app server {s['app_server']}; ratios of CPU time hold on a shared "
        f"machine, wall-clock figures do not)",
        file=out,
    )
    rows = [
        ("cores", s["cores"], ""),
        ("library_docs_per_s", s["library_docs_per_s"], "extract+verify of nts-2020/all.pdf"),
        ("library_ms_per_doc", s["library_ms_per_doc"], "target < 3 (wall clock)"),
        ("library_cpu_ms_per_doc", s["library_cpu_ms_per_doc"], "CPU time"),
        ("parse_cpu_ms_per_doc", s["parse_cpu_ms_per_doc"], "CPU time"),
        ("parse_vs_extract_verify", s["parse_vs_extract_verify"], "target <= 2"),
        ("http_docs_per_s", s["http_docs_per_s"], "nginx+TLS, raw body, concurrency 8"),
        ("http_vs_library", s["http_vs_library"], "wall clock, load generator on the same cores"),
        ("flask_dev_docs_per_s", s["flask_dev_docs_per_s"], "flask run, same load"),
        ("http_vs_flask_dev", s["http_vs_flask_dev"], "target >= 2.5"),
        ("p50_ms", s["p50_ms"], "concurrency 8"),
        ("p99_ms", s["p99_ms"], "concurrency 8"),
        ("p99_over_p50", s["p99_over_p50"], "target <= 2.5"),
        ("server_cpu_ms_per_request", s["server_cpu_ms_per_request"], "nginx + app servers + supervisord"),
        ("server_cpu_vs_library", s["server_cpu_vs_library"], "target <= 1.6"),
        (
            "server_only_ceiling_docs_per_s",
            s["server_only_ceiling_docs_per_s"],
            "cores / server CPU per request",
        ),
        (
            "floor_cpu_ms_per_request",
            s["floor_cpu_ms_per_request"],
            "server CPU for a same-size body refused before the core",
        ),
        ("floor_vs_library", s["floor_vs_library"], "the transport floor / library"),
        (
            "above_floor_vs_library",
            s["above_floor_vs_library"],
            "(server - floor) / library: the core and the app around it",
        ),
        (
            "documents_server_cpu_vs_parse",
            s["documents_server_cpu_vs_parse"],
            "/api/v1/documents; target <= 1.6",
        ),
        ("memory_per_worker_rss_mib", s["memory_per_worker_rss_mib"], "after load"),
        ("memory_per_worker_pss_mib", s["memory_per_worker_pss_mib"], "shared pages split"),
        ("bulk_docs_per_s", s["bulk_docs_per_s"], f"batch, {s['bulk_files']} files, every core"),
        ("bulk_jobs_1_docs_per_s", s["bulk_jobs_1_docs_per_s"], "batch --jobs 1, same files"),
        ("bulk_speedup", s["bulk_speedup"], "every core / --jobs 1"),
        ("bulk_jobs2_vs_jobs1", s["bulk_jobs2_vs_jobs1"], "--jobs 2 / --jobs 1"),
    ]
    for name, value, note in rows:
        met = s["targets"].get(name, {}).get("met")
        mark = "" if met is None else ("  met" if met else "  MISSED")
        print(f"  {name:32} {value!s:>10}  {note}{mark}", file=out)
    print("\n  app servers side by side (stack, raw body, concurrency 8):", file=out)
    keys = (
        "http_docs_per_s",
        "p99_over_p50",
        "server_cpu_ms_per_request",
        "app_cpu_ms_per_request",
        "server_cpu_vs_library",
        "server_only_ceiling_docs_per_s",
        "floor_vs_library",
        "above_floor_vs_library",
        "documents_server_cpu_vs_parse",
        "memory_per_worker_rss_mib",
        "memory_per_worker_pss_mib",
    )
    print("  " + f"{'':32}" + "".join(f"{n:>12}" for n in s["app_servers"]), file=out)
    for k in keys:
        print("  " + f"{k:32}" + "".join(f"{v[k]!s:>12}" for v in s["app_servers"].values()), file=out)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--seconds", type=float, default=5.0, help="duration of each HTTP load run")
    ap.add_argument(
        "--library-seconds", type=float, default=1.0, help="time per library operation and document"
    )
    ap.add_argument("--quick", action="store_true", help="concurrency 1 and 8 only, 2-second runs")
    ap.add_argument(
        "--output",
        type=Path,
        default=BENCH.parent / "build" / "bench" / "results.json",
        help="where the run goes (default: build/bench/results.json, not tracked)",
    )
    args = ap.parse_args(argv)
    if args.quick:
        args.seconds = min(args.seconds, 2.0)
    levels = (1, 8) if args.quick else (1, 4, 8, 16)
    started = time.monotonic()
    info = machine()
    cores = info["cores"] or 1
    print(
        f"hometax-decrypt benchmark on {info['cpu']} × {cores} cores, load average at start "
        f"{info['load_average_at_start']}",
        flush=True,
    )
    lib = library.run(args.library_seconds)
    web = http_load.run(args.seconds, levels)
    batch = bulk_bench.run(200 if args.quick else 1200)
    bulk_bench.print_result(batch)
    result = {
        "measured_at": datetime.datetime.now(datetime.UTC).isoformat(timespec="seconds"),
        "command": "make bench" if argv is None and len(sys.argv) == 1 else " ".join(sys.argv),
        "machine": info,
        **summary(lib, web, cores, batch),
        "library": lib,
        "http": web,
        "bulk": batch,
        "load_average_at_end": [round(x, 2) for x in os.getloadavg()],
        "duration_s": round(time.monotonic() - started, 1),
    }
    print_summary(result)
    args.output.parent.mkdir(parents=True, exist_ok=True)
    tmp = args.output.with_suffix(".json.tmp")
    tmp.write_text(json.dumps(result, indent=1, ensure_ascii=False) + "\n")
    tmp.replace(args.output)
    print(f"\nwrote {args.output} in {result['duration_s']} s")
    return 0


if __name__ == "__main__":
    sys.exit(main())
