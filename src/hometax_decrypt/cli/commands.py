"""The ``hometax-decrypt`` command line.

Exit codes come from the error table (errors.py); 7 means "read fine, but not authentic". The work
is the service layer's (service.py); the output formats are the registry's (formats.py). On failure
one line goes to stderr and nothing to stdout. Passwords come from ``--password-stdin``, the
``HOMETAX_PASSWORD`` environment variable or ``--password`` (least safe: visible in ``ps`` and shell
history).
"""

from __future__ import annotations

import argparse
import json
import os
import re
import sys

from .. import errors, formats

EXIT_NOT_AUTHENTIC = errors.SPECS["not_authentic"].exit_code


_ARG_PROBLEM = re.compile(r"(argument [-\w/ ]+): (invalid choice|expected one argument|"
                          r"not allowed with argument [-\w/]+)")


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
    g.add_argument("--password", help="document-open password (least safe: visible to other users "
                                      "in ps and kept in shell history)")
    g.add_argument("--password-stdin", action="store_true",
                   help="read the password from the first line of standard input")


def _password(args) -> str | None:
    if args.password_stdin:
        line = sys.stdin.readline()
        return line.rstrip("\r\n")
    if args.password is not None:
        return args.password
    return os.environ.get("HOMETAX_PASSWORD") or None


def _parser() -> argparse.ArgumentParser:
    ap = _Parser(prog="hometax-decrypt",
                 description="Extract, verify and parse NTS year-end settlement PDF documents.")
    sub = ap.add_subparsers(dest="command", required=True, parser_class=_Parser)

    ex = sub.add_parser("extract", help="write the XML or SAM data part")
    ex.add_argument("file")
    _add_password(ex)
    ex.add_argument("--part", default="xml", choices=["xml", "sam", "XML", "SAM"])
    ex.add_argument("--encoding", default="utf-8", choices=["utf-8", "euc-kr"])
    ex.add_argument("-o", "--output", help="output file (default: standard output)")
    vg = ex.add_mutually_exclusive_group()
    vg.add_argument("--require-authentic", action="store_true",
                    help="fail with exit 7 unless the NTS timestamp proves the file authentic")
    vg.add_argument("--no-verify", action="store_true",
                    help="skip the timestamp check (by default a warning goes to stderr when the "
                         "file is not authentic)")

    ve = sub.add_parser("verify", help="verify the NTS timestamp; prints JSON, exit 0 or 7")
    ve.add_argument("file")
    ve.add_argument("--trust-dir", help="directory of PEM/DER trust anchors (adds to the shipped GPKI "
                                        "anchors and NTS pins)")
    ve.add_argument("--trust-only-dir", metavar="DIR",
                    help="trust only the anchors in DIR (and pins in HOMETAX_TRUST_PINNED): replaces the "
                         "shipped GPKI anchors and NTS pins, and HOMETAX_TRUST_DIR")

    pa = sub.add_parser("parse", help="parse into records: " + ", ".join(n.upper() for n in formats.NAMES))
    pa.add_argument("file")
    _add_password(pa)
    pa.add_argument("--format", default=formats.DEFAULT, choices=list(formats.NAMES))
    pa.add_argument("--mask", action="store_true", help="mask resident numbers (750101-1******)")
    pa.add_argument("-o", "--output", help="output file (default: standard output)")

    ba = sub.add_parser("batch", help="many documents (files, folders, ZIPs) on all cores into one "
                                      "export file; a result table per file; exit 0 when every "
                                      "file was read, 9 when some failed")
    ba.add_argument("paths", nargs="+", metavar="PATH", help="PDF files, folders (recursive: "
                    "*.pdf and *.zip) and ZIP archives")
    ba.add_argument("--format", default=formats.DEFAULT, choices=list(formats.NAMES))
    ba.add_argument("-o", "--output", required=True, help="the export file")
    ba.add_argument("--jobs", type=int, help="worker processes (default: every core)")
    _add_password(ba)
    ba.add_argument("--password-file", help="CSV of file,password (see the README for keeping it "
                                            "safe); files not in it take the one password")
    ba.add_argument("--mask", action="store_true", help="mask resident numbers (750101-1******)")
    ba.add_argument("--quiet", action="store_true", help="print only the counts, not every file")
    return ap


def _write(data: bytes, output: str | None) -> None:
    if output:
        try:
            with open(output, "wb") as fh:
                fh.write(data)
        except OSError:
            raise errors.UsageError("cannot write the output file") from None
    else:
        sys.stdout.buffer.write(data)
        sys.stdout.buffer.flush()


def _cmd_extract(args) -> int:
    from ..service import operations as service

    r = service.extract(args.file, _password(args), args.part, args.encoding,
                        verify=not args.no_verify)
    v = r.verification
    data = r.data
    if v is None:
        _write(data, args.output)
        return 0
    if not v.authentic:
        if args.require_authentic:
            print(f"not_authentic: {v.reason}", file=sys.stderr)
            return EXIT_NOT_AUTHENTIC
        print(f"warning: not authentic: {v.reason}", file=sys.stderr)
    _write(data, args.output)
    return 0


def _cmd_verify(args) -> int:
    from ..service import operations as service
    from ..timestamp import TrustStore

    if args.trust_dir and args.trust_only_dir:
        raise errors.UsageError("give --trust-dir or --trust-only-dir, not both")
    if args.trust_only_dir:
        trust = TrustStore.only(args.trust_only_dir)
    elif args.trust_dir:
        trust = TrustStore.default(extra_dir=args.trust_dir)
    else:
        trust = None
    v = service.verify(args.file, trust=trust).verification
    sys.stdout.write(json.dumps(v.to_dict(), ensure_ascii=False, indent=2) + "\n")
    return 0 if v.authentic else EXIT_NOT_AUTHENTIC


def _cmd_parse(args) -> int:
    from ..service import operations as service

    fmt = formats.get(args.format)
    if fmt.binary and not args.output and sys.stdout.isatty():
        raise errors.UsageError(f"refusing to write {fmt.name.upper()} to a terminal; use -o FILE")
    r = service.parse(args.file, password=_password(args))
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
    passwords = {}
    if args.password_file:
        warning = bulk.password_file_warning(args.password_file)
        if warning:
            print(f"warning: {warning}", file=sys.stderr)
        passwords = bulk.read_password_file(args.password_file)
    progress = _Progress()
    try:
        report = bulk.run(args.paths, args.format, args.output, jobs=args.jobs,
                          password=_password(args), passwords=passwords, mask=args.mask,
                          on_total=progress.total, on_file=progress.file)
    finally:
        progress.close()
    out = sys.stdout
    if not args.quiet:
        width = max([len(f.name) for f in report.files] + [4])
        out.write(f"{'file':<{width}}  {'result':<17}  authenticity\n")
        for f in report.files:
            out.write(f"{f.name:<{width}}  {f.code:<17}  {f.status or '-'}\n")
    counts = ", ".join(f"{c} {n}" for c, n in sorted(report.by_code.items()))
    statuses = ", ".join(f"{c} {n}" for c, n in sorted(report.by_status.items()))
    out.write(f"files: {len(report.files)} ({counts or 'none'}); read: {statuses or 'none'}\n")
    out.flush()
    if not report.files:
        print("usage: no PDF or ZIP file found under the paths given", file=sys.stderr)
    return report.exit_code


def main(argv: list[str] | None = None) -> int:
    try:
        args = _parser().parse_args(argv)
        return {"extract": _cmd_extract, "verify": _cmd_verify, "parse": _cmd_parse,
                "batch": _cmd_batch}[args.command](args)
    except errors.HometaxError as exc:
        print(f"{exc.code}: {exc.message}", file=sys.stderr)
        return exc.exit_code
    except KeyboardInterrupt:
        return errors.SPECS["interrupted"].exit_code
    except BrokenPipeError:
        return errors.SPECS["internal"].exit_code
    except Exception:  # never a traceback: it could echo input; the table's codes cover known cases
        print(f"internal: {errors.SPECS['internal'].message}", file=sys.stderr)
        return errors.SPECS["internal"].exit_code


if __name__ == "__main__":
    sys.exit(main())
