"""The library and the CLI stay free of POSIX-only calls (Windows Server installs run them): an AST
scan of src/hometax_decrypt outside web/ (the HTTP service runs under gunicorn/uWSGI on Linux, or
waitress), and the library imported and a bulk run done with the POSIX-only modules unavailable and
worker processes started the Windows way (spawn)."""

from __future__ import annotations

import ast
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
from tests.support.paths import SAMPLES  # noqa: E402

PACKAGE = ROOT / "src" / "hometax_decrypt"
SAMPLE = SAMPLES / "nts-2020" / "all.pdf"

# Modules that do not exist on Windows (docs.python.org: "Availability: Unix").
POSIX_MODULES = {
    "fcntl",
    "resource",
    "pwd",
    "grp",
    "termios",
    "tty",
    "pty",
    "posix",
    "syslog",
    "crypt",
    "spwd",
    "nis",
}
# Functions and constants of os and signal that Windows lacks.
POSIX_ATTRS = {
    "os": {
        "fork",
        "forkpty",
        "killpg",
        "setsid",
        "setpgrp",
        "getpgid",
        "getuid",
        "geteuid",
        "getgid",
        "getegid",
        "setuid",
        "setgid",
        "chown",
        "lchown",
        "fchown",
        "mkfifo",
        "sysconf",
        "uname",
        "wait3",
        "wait4",
        "getloadavg",
        "nice",
        "sched_getaffinity",
        "pipe2",
        "WNOHANG",
        "O_NOFOLLOW",
        "O_CLOEXEC",
    },
    "signal": {
        "SIGKILL",
        "SIGHUP",
        "SIGQUIT",
        "SIGUSR1",
        "SIGUSR2",
        "SIGALRM",
        "SIGCHLD",
        "SIGPIPE",
        "alarm",
        "setitimer",
        "pause",
        "siginterrupt",
        "pthread_kill",
    },
}


def _library_files() -> list[Path]:
    # web/ and ops/ run the Linux server stack (nginx, gunicorn, supervisord); the rest must run anywhere
    return sorted(p for p in PACKAGE.rglob("*.py") if not {"web", "ops"} & set(p.relative_to(PACKAGE).parts))


def posix_only_uses(source: str) -> list[str]:
    """Each POSIX-only import or attribute in ``source``: ``"line: what"``."""
    found = []
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.Import):
            found += [
                f"{node.lineno}: import {a.name}" for a in node.names if a.name.split(".")[0] in POSIX_MODULES
            ]
        elif isinstance(node, ast.ImportFrom) and node.module:
            if node.module.split(".")[0] in POSIX_MODULES:
                found.append(f"{node.lineno}: from {node.module}")
            for a in node.names:
                if a.name in POSIX_ATTRS.get(node.module, ()):
                    found.append(f"{node.lineno}: from {node.module} import {a.name}")
        elif isinstance(node, ast.Attribute) and isinstance(node.value, ast.Name):
            if node.attr in POSIX_ATTRS.get(node.value.id, ()):
                found.append(f"{node.lineno}: {node.value.id}.{node.attr}")
        elif isinstance(node, ast.Constant) and node.value == "fork":
            found.append(f"{node.lineno}: the 'fork' start method")
    return found


def test_the_scan_finds_what_it_looks_for():
    bad = (
        "import fcntl\nfrom resource import setrlimit\nimport os, signal\nos.fork()\n"
        "os.kill(1, signal.SIGKILL)\nfrom os import getuid\n"
        "import multiprocessing\nmultiprocessing.get_context('fork')\n"
    )
    assert sorted(posix_only_uses(bad)) == [
        "1: import fcntl",
        "2: from resource",
        "4: os.fork",
        "5: signal.SIGKILL",
        "6: from os import getuid",
        "8: the 'fork' start method",
    ]
    assert posix_only_uses("import os\nos.kill(1, 0)\nos.replace('a', 'b')\n") == []


def test_library_and_cli_have_no_posix_only_calls():
    files = _library_files()
    assert PACKAGE / "cli" / "commands.py" in files and PACKAGE / "service" / "bulk.py" in files
    uses = {str(p.relative_to(PACKAGE)): posix_only_uses(p.read_text()) for p in files}
    assert {k: v for k, v in uses.items() if v} == {}


BLOCKED_RUN = r"""
import multiprocessing, os, sys
# Windows has none of these: block them before the library is imported (multiprocessing's own
# POSIX machinery is loaded already, as Windows has its own).
for name in ("fcntl", "resource", "pwd", "grp", "termios", "tty", "pty", "syslog"):
    if name not in sys.modules:
        sys.modules[name] = None
for attr in ("fork", "forkpty", "killpg", "setsid", "getuid", "geteuid", "sysconf"):
    if hasattr(os, attr):
        delattr(os, attr)
multiprocessing.set_start_method("spawn", force=True)  # how Windows starts every worker process
if __name__ == "__main__":
    from hometax_decrypt.cli import commands as cli
    sys.exit(cli.main(["batch", sys.argv[1], sys.argv[1], "--format", "ndjson", "-o", sys.argv[2],
                       "--jobs", "2", "--quiet"]))
"""


def test_a_bulk_run_without_posix_modules_and_with_spawned_workers(tmp_path):
    script = tmp_path / "blocked.py"
    script.write_text(BLOCKED_RUN)
    out = tmp_path / "out.ndjson"
    r = subprocess.run(
        [sys.executable, str(script), str(SAMPLE), str(out)],
        capture_output=True,
        text=True,
        timeout=240,
        cwd=tmp_path,
    )
    assert r.returncode == 0, r.stderr[-2000:]
    assert r.stdout == "files: 2 (ok 2); read: authentic 2\n"
    from hometax_decrypt import formats, service

    doc = service.parse(SAMPLE.read_bytes(), name=str(SAMPLE)).document  # a file given: its path
    assert out.read_bytes() == formats.get("ndjson").write([doc, doc])
