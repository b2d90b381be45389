"""The one table of failures for the whole project.

Every failure the library, the CLI, the app or nginx can report has one row here: its stable
``code``, the NTS API return code, the CLI exit status, the HTTP statuses, and the English and
Korean text. The adapters never decide any of these on their own: the Flask handlers, nginx's error
pages (ops/stack.py renders them), the OpenAPI error schema, the CLI's exit statuses and
docs/api.md's error table are all generated from ``SPECS`` (``python -m hometax_decrypt.errors``
prints the docs table; a test keeps the file equal). Messages never contain a password or a
resident number: they are fixed strings chosen here, never built from user input.
"""

from __future__ import annotations

import sys
from dataclasses import dataclass


@dataclass(frozen=True)
class ErrorSpec:
    """One failure. ``http_status`` is what the app answers with it (None: never over HTTP, e.g. a
    CLI-only outcome); ``also_http`` the other statuses nginx answers with the same code (a header
    too large is 400, a URL too long 414). ``exit_code`` is the CLI's (None: never the CLI's
    outcome). ``retry_after``: seconds for the Retry-After header, where waiting is the remedy."""

    code: str
    nts_code: int | None
    exit_code: int | None
    http_status: int | None
    message: str  # English, for the API and the CLI
    message_ko: str  # Korean, for HR staff (web page)
    when: str  # English: what causes it (docs/api.md's table)
    also_http: tuple[int, ...] = ()
    retry_after: int | None = None

    @property
    def http_statuses(self) -> tuple[int, ...]:
        """Every status this code is answered with (the app's first)."""
        return ((self.http_status,) if self.http_status else ()) + self.also_http

    def to_dict(self, detail: str | None = None, detail_ko: str | None = None) -> dict:
        """The ``error`` object of the API's JSON (and of a failed /batch entry)."""
        return {
            "code": self.code,
            "nts_code": self.nts_code,
            "message": f"{self.message} ({detail})" if detail else self.message,
            "message_ko": f"{self.message_ko} ({detail_ko})" if detail_ko else self.message_ko,
        }


SPECS: dict[str, ErrorSpec] = {
    s.code: s
    for s in (
        # -- a document's failures (the library's exceptions below) --------------------------------
        ErrorSpec(
            "password_required",
            -1,
            3,
            422,
            "The document is encrypted; a password is required.",
            "문서열기암호가 설정된 문서입니다. 비밀번호를 입력하세요.",
            "encrypted, no password given",
        ),
        ErrorSpec(
            "wrong_password",
            -1,
            3,
            422,
            "The password does not open the document.",
            "비밀번호가 맞지 않습니다.",
            "the password does not open it",
        ),
        ErrorSpec(
            "not_nts_document",
            0,
            4,
            422,
            "The PDF holds no NTS year-end settlement data.",
            "연말정산간소화 표준 전자문서가 아닙니다.",
            "a PDF without NTS data",
        ),
        ErrorSpec(
            "damaged",
            -2,
            5,
            422,
            "The file is not a PDF or is damaged.",
            "PDF 문서가 아니거나 손상된 문서입니다.",
            "not a PDF, or broken",
        ),
        ErrorSpec(
            "too_large",
            -2,
            6,
            413,
            "A size limit was exceeded.",
            "파일이 너무 크거나 허용 한도를 넘었습니다.",
            "a size or count limit (the request body: nginx or the app, whose message names "
            "the limit and what to do instead; an inflated part; the batch limits; objects "
            "or syntax in the PDF); nginx: 414 for a URL too long, 400 for request headers too large",
            also_http=(414, 400),
        ),
        # A time budget ran out (Limits.max_seconds for one document, HOMETAX_REQUEST_SECONDS for a
        # /batch or /export request). 503, not 413: the input is not too large, the server gave up
        # in an orderly way and the same request may succeed later or in smaller pieces; not 504,
        # which is a gateway's word for an upstream that did not answer (nginx answers it itself).
        # The NTS API has no such failure; -2 is what its limits report.
        ErrorSpec(
            "timeout",
            -2,
            8,
            503,
            "A processing time limit was exceeded.",
            "처리 시간 한도를 넘었습니다. 파일 수를 줄이거나 잠시 후 다시 시도하세요.",
            "a time limit: one document's (`HOMETAX_MAX_SECONDS`) or a `/batch`/`/export` "
            "request's (`HOMETAX_REQUEST_SECONDS`)",
        ),
        ErrorSpec(
            "usage",
            None,
            2,
            400,
            "Invalid arguments.",
            "요청이 올바르지 않습니다.",
            "bad arguments or parameters, a password in the URL, a control character in a "
            "header, a malformed URI, header or body framing (nginx: 400, the message says "
            "which); an unsupported `Transfer-Encoding` (nginx: 501)",
            also_http=(501,),
        ),
        # A 공제신고서 lines file (hometax_decrypt.deductions) that cannot be used. 422: the request
        # is well-formed, its content is refused. No NTS equivalent.
        ErrorSpec(
            "bad_lines",
            None,
            10,
            422,
            "The deduction lines are not valid.",
            "공제신고서 항목 자료가 올바르지 않습니다.",
            "a 공제신고서 lines file with an unknown key, a period the tax year does not have, "
            "an amount that is not a whole number of won (the message names the line)",
        ),
        ErrorSpec(
            "bad_salary",
            None,
            2,
            422,
            "The salary (총급여) must be a whole, non-negative number of won.",
            "총급여는 0 이상의 정수(원)로 입력하세요.",
            "the deduction estimate's 총급여 is negative or not a whole number (missing is no "
            "error: the estimate then says the salary is missing)",
        ),
        # -- the request's failures over HTTP (the app or nginx; no NTS code, no CLI exit) ---------
        ErrorSpec(
            "unauthorized",
            None,
            None,
            401,
            "A valid X-API-Key header is required.",
            "API 키가 필요합니다.",
            "API key missing or wrong",
        ),
        ErrorSpec(
            "forbidden",
            None,
            None,
            403,
            "Access denied.",
            "접근이 거부되었습니다.",
            "`/metrics` from an address not allowed",
        ),
        ErrorSpec(
            "not_found", None, None, 404, "No such endpoint.", "요청한 주소가 없습니다.", "no such route"
        ),
        ErrorSpec(
            "method_not_allowed",
            None,
            None,
            405,
            "Method not allowed.",
            "허용되지 않는 요청 방식입니다.",
            "the route does not answer this method; `Allow` names those it answers",
        ),
        # One second: nginx refills the client's allowance at HOMETAX_RATE_LIMIT (>= 1) requests a
        # second, so a slot is free again within it; a client held back by the connection limit
        # (its own requests in flight) is also best retried soon, one request at a time.
        ErrorSpec(
            "rate_limited",
            None,
            None,
            429,
            "Too many requests; retry after the number of seconds in Retry-After.",
            "요청이 너무 많습니다. 잠시 후 다시 시도하세요.",
            "too many requests from one client, or too many held at once (nginx); "
            "`Retry-After` says when to try again",
            retry_after=1,
        ),
        ErrorSpec(
            "unavailable",
            None,
            None,
            503,
            "The service is unavailable; retry later.",
            "서비스를 일시적으로 사용할 수 없습니다. 잠시 후 다시 시도하세요.",
            "no app server answers (nginx: 502/504 answered as 503), or not ready",
            also_http=(502, 504),
        ),
        ErrorSpec(
            "internal",
            None,
            1,
            500,
            "Internal error.",
            "내부 오류가 발생했습니다.",
            "a bug (a failed /batch entry: that file alone); the log has the exception type only",
        ),
        # -- the CLI's other outcomes (not errors over HTTP: /verify answers 200 with the verdict,
        # /batch 200 with each file's result) ------------------------------------------------------
        ErrorSpec(
            "not_authentic",
            None,
            7,
            None,
            "The document was read, but its NTS timestamp does not prove it authentic.",
            "문서는 읽었지만 국세청 타임스탬프로 진본임이 확인되지 않습니다.",
            "CLI `verify`, or `extract`/`parse --require-authentic`: read fine, not authentic",
        ),
        ErrorSpec(
            "batch_partial",
            None,
            9,
            None,
            "Some files of the batch failed.",
            "일부 파일을 처리하지 못했습니다.",
            "CLI `batch`: some files failed (each file's code is in its result) or were refused "
            "(a symbolic link not followed, a device, FIFO or socket: listed as skipped)",
        ),
        ErrorSpec(
            "interrupted", None, 130, None, "Interrupted.", "중단되었습니다.", "CLI: interrupted (Ctrl-C)"
        ),
        # 128 + SIGTERM, as a shell reports a process the signal ended; SIGHUP ends a batch the same
        # way (and with the same status): the run's workers stopped, its partial output removed.
        ErrorSpec(
            "terminated",
            None,
            143,
            None,
            "Terminated: the run was stopped and its partial output removed.",
            "작업이 중지되었습니다. 만들던 출력 파일은 삭제했습니다.",
            "CLI `batch`: stopped by SIGTERM or SIGHUP (a service stop); its workers stopped and "
            "its partial output removed",
        ),
    )
}


class HometaxError(Exception):
    """Base of all library failures. ``detail`` is a fixed English phrase, never user data."""

    code = "damaged"

    def __init__(self, detail: str | None = None, detail_ko: str | None = None):
        self.detail = detail
        self.detail_ko = detail_ko  # the detail in Korean, where HR staff should read it too
        super().__init__(self.message)

    @property
    def spec(self) -> ErrorSpec:
        return SPECS[self.code]

    @property
    def nts_code(self) -> int | None:
        return self.spec.nts_code

    @property
    def exit_code(self) -> int:
        code = self.spec.exit_code  # every raised error has one; the HTTP-only rows are never raised
        assert code is not None, self.code
        return code

    @property
    def http_status(self) -> int:
        status = self.spec.http_status  # likewise: the CLI-only rows are never raised
        assert status is not None, self.code
        return status

    @property
    def message(self) -> str:
        return f"{self.spec.message} ({self.detail})" if self.detail else self.spec.message

    @property
    def message_ko(self) -> str:
        return self.spec.to_dict(detail_ko=self.detail_ko)["message_ko"]

    def to_dict(self) -> dict:
        return self.spec.to_dict(self.detail, self.detail_ko)


class PasswordRequired(HometaxError):
    code = "password_required"


class WrongPassword(HometaxError):
    code = "wrong_password"


class NotNtsDocument(HometaxError):
    code = "not_nts_document"


class Damaged(HometaxError):
    code = "damaged"


class TooLarge(HometaxError):
    code = "too_large"


class Timeout(TooLarge):
    """A time budget ran out. A subclass of :class:`TooLarge` for one release, so that code
    catching ``TooLarge`` for the time limit (its code until 0.1) keeps working; its code is
    ``timeout`` (HTTP 503, exit 8)."""

    code = "timeout"


class UsageError(HometaxError):
    code = "usage"


class BadLines(HometaxError):
    code = "bad_lines"


class BadSalary(HometaxError):
    code = "bad_salary"


BY_CODE: dict[str, type[HometaxError]] = {
    c.code: c
    for c in (
        PasswordRequired,
        WrongPassword,
        NotNtsDocument,
        Damaged,
        TooLarge,
        Timeout,
        UsageError,
        BadLines,
        BadSalary,
    )
}


def http_codes() -> list[str]:
    """The codes an HTTP answer can carry (the OpenAPI error enum, the page's messages)."""
    return [code for code, spec in SPECS.items() if spec.http_statuses]


def code_for_status(status: int) -> str:
    """The code of an HTTP status no operation chose (a Werkzeug refusal, an nginx error page):
    the table's code answered with it; where two share a status (400: usage and too_large, 503:
    unavailable and timeout), the request's code (no NTS code) rather than a document's. A status
    outside the table: ``usage`` below 500, ``internal`` from 500."""
    if status == 422:  # only an operation refusing a body's content (a document, deduction lines) says 422
        return "usage"
    found = [s for s in SPECS.values() if status in s.http_statuses]
    if len(found) > 1:
        found = [s for s in found if s.nts_code is None]
    if found:
        return found[0].code
    return "internal" if status >= 500 else "usage"


def body_limit_detail(limit_bytes: int) -> tuple[str, str]:
    """(English, Korean) detail of a request body over the limit, from nginx or the app: it names
    the limit and what to do instead, so a client can act on it without reading the docs."""
    size = f"{limit_bytes / 1024**2:g} MiB" if limit_bytes % (1024 * 1024) == 0 else f"{limit_bytes} bytes"
    return (
        f"the upload is larger than {size} (HOMETAX_MAX_BODY_BYTES); send fewer files per "
        f"/batch request, or the XML data parts (POST /extract) to /export",
        f"업로드가 {size}(HOMETAX_MAX_BODY_BYTES)를 넘습니다. /batch 요청 한 번에 보내는 파일 수를 "
        f"줄이거나, XML 자료(POST /extract)를 /export로 보내세요",
    )


def _cell(value) -> str:
    return "null" if value is None else str(value)


def markdown_table() -> str:
    """docs/api.md's error table (``python -m hometax_decrypt.errors``)."""
    lines = ["| code | HTTP | `nts_code` | CLI exit | when |", "| --- | --- | --- | --- | --- |"]
    for s in SPECS.values():
        http = ", ".join(str(st) for st in s.http_statuses) or "—"
        lines.append(
            f"| `{s.code}` | {http} | {_cell(s.nts_code)} | "
            f"{'—' if s.exit_code is None else s.exit_code} | {s.when} |"
        )
    return "\n".join(lines) + "\n"


if __name__ == "__main__":  # python -m hometax_decrypt.errors: print docs/api.md's table
    sys.stdout.write(markdown_table())
