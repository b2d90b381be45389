"""The ``hometax-decrypt`` command line.

Exit codes come from the error table (errors.py); 7 means "read fine, but not authentic". The work
is the service layer's (service.py); the output formats are the registry's (formats.py). On failure
one line goes to stderr and nothing to stdout, in Korean (the error table's Korean text) where the
locale is Korean (``LC_ALL``, ``LC_MESSAGES``, ``LANG`` starting with ``ko``) or with ``--lang ko``.
Passwords come from ``--password-stdin``, the ``HOMETAX_PASSWORD`` environment variable or
``--password`` (least safe: visible in ``ps`` and shell history).

The CLI reads only the library's own variables (``HOMETAX_MAX_*``, ``HOMETAX_TRUST_*``,
``HOMETAX_PASSWORD``), once, at start: a server setting (``HOMETAX_RATE_LIMIT``…) means nothing here
and cannot break a command; a bad library variable is a usage error (exit 2) naming it.

What it prints to the terminal goes through :mod:`.terminal` (control characters in file names
escaped); every ``-o`` file is written through :mod:`hometax_decrypt.service.output_file` (mode
0600, whole or not at all, a symbolic link at the target refused, never followed).
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import re
import signal
import sys
import threading

from .. import errors, formats
from . import terminal

EXIT_NOT_AUTHENTIC = errors.SPECS["not_authentic"].exit_code
DEDUCTION_FORMATS = ("json", "csv", "xlsx")
JSON_INPUT_MAX_BYTES = 16 * 1024 * 1024  # a lines or facts file: 10 000 lines fit many times over
LANGS = ("en", "ko")

# The CLI's own lines (errors are the error table's), English and Korean.
TEXT = {
    "no_such_file": ("no such file: {name}", "파일이 없습니다: {name}"),
    "not_authentic": ("not_authentic: {reason}", "not_authentic: {reason}"),
    "warn_not_authentic": ("warning: not authentic: {reason}", "경고: 진본 확인 실패: {reason}"),
    "no_files": (
        "usage: no PDF or ZIP file found under the paths given",
        "usage: 지정한 경로에 PDF 또는 ZIP 파일이 없습니다",
    ),
    "estimate_notice": (
        "note: an estimate from the NTS amounts under the tax year's rules, not the 연말정산 result",
        "안내: 국세청 자료와 해당 연도 규정으로 계산한 추정치입니다 — 연말정산 결과가 아닙니다",
    ),
    "password_hint": (
        "hint: {n} file(s) need a password: give it with --password-stdin (one for "
        "all) or --password-file FILE (a file,password CSV)",
        "안내: 비밀번호가 필요한 파일이 {n}개 있습니다. --password-stdin(모든 파일에 같은 "
        "비밀번호) 또는 --password-file 파일(파일명,비밀번호 CSV)로 입력하세요",
    ),
}


def lang_of(argv: list[str], environ) -> str:
    """``--lang`` if given (read before argparse, so that its own errors are in that language
    too), else the locale: the first of LC_ALL, LC_MESSAGES, LANG that is set (POSIX order)."""
    for i, a in enumerate(argv):
        if a == "--lang" and i + 1 < len(argv) and argv[i + 1] in LANGS:
            return argv[i + 1]
        if a.startswith("--lang=") and a[7:] in LANGS:
            return a[7:]
    for name in ("LC_ALL", "LC_MESSAGES", "LANG"):
        value = environ.get(name)
        if value:
            return "ko" if value.lower().startswith("ko") else "en"
    return "en"


def say(key: str, lang: str, **values) -> str:
    en, ko = TEXT[key]
    return (ko if lang == "ko" else en).format(**values)


def error_line(exc: errors.HometaxError, lang: str) -> str:
    """One stderr line for a failure: the table's text in the user's language, and the detail
    (fixed English phrases, except the CLI's own "no such file")."""
    if lang != "ko":
        return f"{exc.code}: {exc.message}"
    detail = exc.detail
    if detail and detail.startswith("no such file: "):
        detail = say("no_such_file", lang, name=detail[len("no such file: ") :])
    return f"{exc.code}: {exc.message_ko}" + (f" ({detail})" if detail else "")


def _existing(path: str) -> str:
    """``path`` if it names something that exists; else the usage error that says so (exit 2: a
    mistyped name is the caller's mistake, not a damaged document)."""
    if not os.path.exists(path):
        raise errors.UsageError(f"no such file: {path}")
    return path


class _Env:
    """What the CLI takes from the environment, read once at start: the library's limits and trust
    (only their own variables), and the process set-up (qpdf's decoder bounds, the warning filter)."""

    def __init__(self):
        from ..document.limits import Limits
        from ..document.setup import configure_process

        self.limits = Limits.from_env()
        configure_process(self.limits)

    def trust(self, extra_dir=None, replace=None):
        from ..timestamp import TrustStore

        return TrustStore.from_env(extra_dir=extra_dir, replace=replace)


_ARG_PROBLEM = re.compile(
    r"(argument [-\w/ ]+): (invalid choice|expected one argument|"
    r"not allowed with argument [-\w/]+)"
)


def safe_usage_detail(message: str) -> str:
    """argparse's message without the values it quotes: a mistyped option can put a password or
    a resident number into it (``--pasword 1234567``: "unrecognized arguments: … 1234567")."""
    first = (message or "").splitlines()[0] if message else ""
    if first.startswith("the following arguments are required"):
        return first  # names of arguments only
    m = _ARG_PROBLEM.match(first)
    if m:
        return f"{m.group(1)}: {m.group(2)}"
    if first.startswith("unrecognized arguments"):
        return "unrecognized arguments"
    return "invalid arguments"


class _Parser(argparse.ArgumentParser):
    def error(self, message):  # one line, exit 2, like every other failure
        raise errors.UsageError(safe_usage_detail(message))


def _add_password(p: argparse.ArgumentParser) -> None:
    g = p.add_mutually_exclusive_group()
    g.add_argument(
        "--password",
        help="document-open password (least safe: visible to other users in ps and kept in shell history)",
    )
    g.add_argument(
        "--password-stdin",
        action="store_true",
        help="read the password from the first line of standard input",
    )


def _password(args) -> str | None:
    if args.password_stdin:
        line = sys.stdin.readline()
        return line.rstrip("\r\n")
    if args.password is not None:
        return args.password
    return os.environ.get("HOMETAX_PASSWORD") or None


def _parser() -> argparse.ArgumentParser:
    ap = _Parser(
        prog="hometax-decrypt", description="Extract, verify and parse NTS year-end settlement PDF documents."
    )
    ap.add_argument("--lang", choices=LANGS, help="language of messages (default: the locale)")
    sub = ap.add_subparsers(dest="command", required=True, parser_class=_Parser)
    lang = argparse.ArgumentParser(add_help=False)
    lang.add_argument(
        "--lang", choices=LANGS, default=argparse.SUPPRESS, help="language of messages (default: the locale)"
    )

    ex = sub.add_parser("extract", parents=[lang], help="write the XML or SAM data part")
    ex.add_argument("file")
    _add_password(ex)
    ex.add_argument("--part", default="xml", choices=["xml", "sam", "XML", "SAM"])
    ex.add_argument("--encoding", default="utf-8", choices=["utf-8", "euc-kr"])
    ex.add_argument("-o", "--output", help="output file (default: standard output)")
    vg = ex.add_mutually_exclusive_group()
    vg.add_argument(
        "--require-authentic",
        action="store_true",
        help="fail with exit 7 unless the NTS timestamp proves the file authentic",
    )
    vg.add_argument(
        "--no-verify",
        action="store_true",
        help="skip the timestamp check (by default a warning goes to stderr when the file is not authentic)",
    )

    ve = sub.add_parser("verify", parents=[lang], help="verify the NTS timestamp; prints JSON, exit 0 or 7")
    ve.add_argument("file")
    ve.add_argument(
        "--trust-dir",
        help="directory of PEM/DER trust anchors (adds to the shipped GPKI anchors and NTS pins)",
    )
    ve.add_argument(
        "--trust-only-dir",
        metavar="DIR",
        help="trust only the anchors in DIR (and pins in HOMETAX_TRUST_PINNED): replaces the "
        "shipped GPKI anchors and NTS pins, and HOMETAX_TRUST_DIR",
    )

    pa = sub.add_parser(
        "parse", parents=[lang], help="parse into records: " + ", ".join(n.upper() for n in formats.NAMES)
    )
    pa.add_argument("file")
    _add_password(pa)
    pa.add_argument("--format", default=formats.DEFAULT, choices=list(formats.NAMES))
    pa.add_argument("--mask", action="store_true", help="mask resident numbers (750101-1******)")
    pa.add_argument("-o", "--output", help="output file (default: standard output)")

    ba = sub.add_parser(
        "batch",
        parents=[lang],
        help="many documents (files, folders, ZIPs) on all cores into one "
        "export file; a result table per file; exit 0 when every "
        "file was read, 9 when some failed",
    )
    ba.add_argument(
        "paths",
        nargs="+",
        metavar="PATH",
        help="PDF files, folders (recursive: *.pdf and *.zip) and ZIP archives",
    )
    ba.add_argument("--format", default=formats.DEFAULT, choices=list(formats.NAMES))
    ba.add_argument("-o", "--output", required=True, help="the export file")
    ba.add_argument("--jobs", type=int, help="worker processes (default: every core)")
    _add_password(ba)
    ba.add_argument(
        "--password-file",
        help="CSV of file,password (see the README for keeping it "
        "safe); files not in it take the one password",
    )
    ba.add_argument("--mask", action="store_true", help="mask resident numbers (750101-1******)")
    ba.add_argument("--quiet", action="store_true", help="print only the counts, not every file")
    ba.add_argument(
        "--follow-symlinks",
        action="store_true",
        help="read symbolic links to files and folders (by default a link is skipped and named); "
        "a device, FIFO or socket is never read",
    )

    de = sub.add_parser(
        "deductions",
        parents=[lang],
        help="the 공제신고서 lines of documents (or of a lines file) and, given 총급여, an estimate of "
        "what each is worth — an estimate, not the 연말정산 result",
    )
    de.add_argument("files", nargs="*", metavar="FILE", help="PDF documents (one taxpayer or several)")
    de.add_argument(
        "--lines",
        metavar="FILE.json",
        help='a lines file instead of documents: {"att_year": 2021, "lines": [{"key", "period", "amount"}]}',
    )
    de.add_argument("--salary", help="총급여 in won (48000000 or 48,000,000); without it: lines only")
    de.add_argument(
        "--facts",
        metavar="FILE.json",
        help="facts the documents lack (homeless_householder, mortgage_loan_type, children …; docs/deductions.md)",
    )
    de.add_argument("--format", default="json", choices=list(DEDUCTION_FORMATS))
    _add_password(de)
    de.add_argument("--password-file", help="CSV of file,password; files not in it take the one password")
    de.add_argument("--mask", action="store_true", help="mask resident numbers (750101-1******)")
    de.add_argument("-o", "--output", help="output file (default: standard output)")
    return ap


def _write(data: bytes, output: str | None) -> None:
    """``data`` to the ``-o`` file (mode 0600, never through a link: service/output_file.py) or to
    standard output."""
    if output:
        from ..service import output_file

        output_file.write(output, data)
    else:
        sys.stdout.buffer.write(data)
        sys.stdout.buffer.flush()


def _cmd_extract(args) -> int:
    from ..service import operations as service

    _existing(args.file)
    env = _Env()
    trust = None if args.no_verify else env.trust()
    r = service.extract(
        args.file,
        _password(args),
        args.part,
        args.encoding,
        env.limits,
        verify=not args.no_verify,
        trust=trust,
    )
    v = r.verification
    data = r.data
    if v is None:
        _write(data, args.output)
        return 0
    if not v.authentic:
        reason = v.reason_ko if args.lang == "ko" else v.reason
        if args.require_authentic:
            terminal.line(sys.stderr, say("not_authentic", args.lang, reason=reason))
            return EXIT_NOT_AUTHENTIC
        terminal.line(sys.stderr, say("warn_not_authentic", args.lang, reason=reason))
    _write(data, args.output)
    return 0


def _cmd_verify(args) -> int:
    from ..service import operations as service
    from ..timestamp import TrustStore

    if args.trust_dir and args.trust_only_dir:
        raise errors.UsageError("give --trust-dir or --trust-only-dir, not both")
    _existing(args.file)
    env = _Env()
    if args.trust_only_dir:
        trust = TrustStore.only(args.trust_only_dir)
    else:
        trust = env.trust(extra_dir=args.trust_dir)
    v = service.verify(args.file, env.limits, trust=trust).verification
    sys.stdout.write(terminal.json_text(v.to_dict()) + "\n")  # the TSA's name is the file's
    return 0 if v.authentic else EXIT_NOT_AUTHENTIC


def _cmd_parse(args) -> int:
    from ..service import operations as service

    fmt = formats.get(args.format)
    if fmt.binary and not args.output and sys.stdout.isatty():
        raise errors.UsageError(f"refusing to write {fmt.name.upper()} to a terminal; use -o FILE")
    _existing(args.file)
    env = _Env()
    r = service.parse(args.file, password=_password(args), limits=env.limits, trust=env.trust())
    _write(service.export(fmt, [r.document], mask=args.mask), args.output)
    return 0


class _Progress:
    """A tqdm bar on stderr, shown only when stderr is a terminal."""

    def __init__(self):
        self.bar = None

    def total(self, n: int) -> None:
        from tqdm import tqdm

        self.bar = tqdm(total=n, unit="file", file=sys.stderr, disable=not sys.stderr.isatty())

    def file(self, _outcome) -> None:
        self.bar.update(1)

    def close(self) -> None:
        if self.bar is not None:
            self.bar.close()


def _cmd_batch(args) -> int:
    from ..service import bulk

    if args.jobs is not None and args.jobs < 1:
        raise errors.UsageError("--jobs must be 1 or more")
    env = _Env()  # a missing path is its own line of the table (usage), the others still run
    passwords = {}
    if args.password_file:
        warning = bulk.password_file_warning(args.password_file)
        if warning:
            terminal.line(sys.stderr, f"warning: {warning}")
        passwords = bulk.read_password_file(args.password_file)
    progress = _Progress()
    try:
        password = _password(args)
        with _terminated_on_signals():
            report = bulk.run(
                args.paths,
                args.format,
                args.output,
                jobs=args.jobs,
                password=password,
                passwords=passwords,
                mask=args.mask,
                limits=env.limits,
                trust=env.trust(),
                on_total=progress.total,
                on_file=progress.file,
                follow_symlinks=args.follow_symlinks,
            )
    finally:
        progress.close()
    out = sys.stdout
    if not args.quiet:
        lines = report.lines()
        names = [terminal.shown(f["file"]) for f in lines]  # a name is the file's maker's
        width = max([len(n) for n in names] + [4])
        terminal.line(out, f"{'file':<{width}}  {'result':<17}  authenticity")
        for name, f in zip(names, lines, strict=True):
            note = f"  {f['note']}" if f["note"] else ""
            terminal.line(out, f"{name:<{width}}  {f['code']:<17}  {f['status'] or '-'}{note}")
    counts = ", ".join(f"{c} {n}" for c, n in sorted(report.by_code.items()))
    statuses = ", ".join(f"{c} {n}" for c, n in sorted(report.by_status.items()))
    skips = ", ".join(f"{c} {n}" for c, n in sorted(report.by_skip.items()))
    skipped = f"; skipped: {len(report.skipped)} ({skips})" if report.skipped else ""
    terminal.line(
        out, f"files: {len(report.files)} ({counts or 'none'}); read: {statuses or 'none'}{skipped}"
    )
    out.flush()
    if not report.files and not report.skipped:
        terminal.line(sys.stderr, say("no_files", args.lang))
    locked = report.by_code.get("password_required", 0)
    if locked and password is None and not passwords:
        terminal.line(sys.stderr, say("password_hint", args.lang, n=locked))
    return report.exit_code


class _Terminated(BaseException):
    """SIGTERM or SIGHUP during a batch (a service stop): like Ctrl-C, it unwinds the run, which
    stops its workers and removes its partial output, and the CLI exits with ``terminated``."""


@contextlib.contextmanager
def _terminated_on_signals():
    """SIGTERM and SIGHUP raise :class:`_Terminated` in the main thread while the block runs (once:
    a second signal does not interrupt the clean-up); the previous handlers are restored after."""
    names = [n for n in ("SIGTERM", "SIGHUP") if hasattr(signal, n)]
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    fired = []

    def handler(signum, _frame):
        if not fired:
            fired.append(signum)
            raise _Terminated(signum)

    previous = {n: signal.signal(getattr(signal, n), handler) for n in names}
    try:
        yield
    finally:
        for n, h in previous.items():
            signal.signal(getattr(signal, n), h)


def _json_file(path: str, what: str, bad: type[errors.HometaxError]):
    """The JSON in ``path`` (a lines or facts file). A file that is missing is the caller's
    mistake (usage); one that is not JSON is ``bad`` — the message names the file's role, never
    its content."""
    _existing(path)
    try:
        with open(path, "rb") as fh:
            raw = fh.read(JSON_INPUT_MAX_BYTES + 1)
    except OSError:
        raise errors.UsageError(f"cannot read the {what}") from None
    if len(raw) > JSON_INPUT_MAX_BYTES:
        raise bad(f"the {what} is too large")
    from ..service.json_input import json_object

    return json_object(raw, bad, f"the {what} must hold a JSON object", f"the {what} is not UTF-8 JSON")


def _cmd_deductions(args) -> int:
    from ..formats import deductions as render
    from ..service import deductions
    from ..service import operations as service
    from ..service.archive import password_for
    from ..service.bulk import password_file_warning, read_password_file

    if bool(args.files) == bool(args.lines):
        raise errors.UsageError("give PDF files or --lines FILE.json, not both and not neither")
    if args.format == "xlsx" and not args.output and sys.stdout.isatty():
        raise errors.UsageError("refusing to write XLSX to a terminal; use -o FILE")
    salary = deductions.parse_salary(args.salary)  # before any file is read: a typo fails fast
    facts = None
    if args.facts:
        facts = _json_file(args.facts, "facts file", errors.UsageError)
    if args.lines:
        data = _json_file(args.lines, "lines file", errors.BadLines)
        answer = deductions.from_lines(data, salary=salary, facts=facts, mask=args.mask)
    else:
        for f in args.files:
            _existing(f)
        env = _Env()
        passwords = {}
        if args.password_file:
            warning = password_file_warning(args.password_file)
            if warning:
                terminal.line(sys.stderr, f"warning: {warning}")
            passwords = read_password_file(args.password_file)
        password = _password(args)
        trust = env.trust()
        docs = [
            service.parse(
                f, password=password_for(f, password, passwords), limits=env.limits, trust=trust
            ).document
            for f in args.files
        ]
        answer = deductions.from_documents(docs, salary=salary, facts=facts, mask=args.mask)
    if args.format == "csv":
        data_out = render.to_csv(answer)
    elif args.format == "xlsx":
        data_out = render.to_xlsx(answer)
    else:
        data_out = (json.dumps(answer, ensure_ascii=False, indent=2) + "\n").encode("utf-8")
    _write(data_out, args.output)
    terminal.line(sys.stderr, say("estimate_notice", args.lang))
    return 0


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else list(argv)
    lang = lang_of(argv, os.environ)
    try:
        args = _parser().parse_args(argv)
        args.lang = args.lang or lang
        lang = args.lang
        return {
            "extract": _cmd_extract,
            "verify": _cmd_verify,
            "parse": _cmd_parse,
            "batch": _cmd_batch,
            "deductions": _cmd_deductions,
        }[args.command](args)
    except errors.HometaxError as exc:
        terminal.line(sys.stderr, error_line(exc, lang))
        return exc.exit_code
    except KeyboardInterrupt:
        return errors.SPECS["interrupted"].exit_code
    except _Terminated:
        spec = errors.SPECS["terminated"]
        terminal.line(sys.stderr, f"{spec.code}: {spec.message_ko if lang == 'ko' else spec.message}")
        return spec.exit_code or 128 + signal.SIGTERM
    except BrokenPipeError:
        return errors.SPECS["internal"].exit_code
    except Exception:  # never a traceback: it could echo input; the table's codes cover known cases
        spec = errors.SPECS["internal"]
        terminal.line(sys.stderr, f"internal: {spec.message_ko if lang == 'ko' else spec.message}")
        return spec.exit_code


if __name__ == "__main__":
    sys.exit(main())
