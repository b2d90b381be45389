"""The one table of failures for the whole project.

Every failure the library can report is a :class:`HometaxError` subclass carrying a stable ``code``.
The CLI exit status, the HTTP status and the NTS API return code all come from this table, so the
adapters never decide them on their own. Messages never contain a password or a resident number:
they are fixed strings chosen here, never built from user input.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class ErrorSpec:
    code: str
    nts_code: int | None
    exit_code: int
    http_status: int
    message: str  # English, for the API and the CLI
    message_ko: str  # Korean, for HR staff (web page)


SPECS: dict[str, ErrorSpec] = {
    s.code: s
    for s in (
        ErrorSpec("password_required", -1, 3, 422,
                  "The document is encrypted; a password is required.",
                  "문서열기암호가 설정된 문서입니다. 비밀번호를 입력하세요."),
        ErrorSpec("wrong_password", -1, 3, 422,
                  "The password does not open the document.",
                  "비밀번호가 맞지 않습니다."),
        ErrorSpec("not_nts_document", 0, 4, 422,
                  "The PDF holds no NTS year-end settlement data.",
                  "연말정산간소화 표준 전자문서가 아닙니다."),
        ErrorSpec("damaged", -2, 5, 422,
                  "The file is not a PDF or is damaged.",
                  "PDF 문서가 아니거나 손상된 문서입니다."),
        ErrorSpec("too_large", -2, 6, 413,
                  "A size limit was exceeded.",
                  "파일이 너무 크거나 허용 한도를 넘었습니다."),
        # A time budget ran out (Limits.max_seconds for one document, HOMETAX_REQUEST_SECONDS for a
        # /batch or /export request). 503, not 413: the input is not too large, the server gave up
        # in an orderly way and the same request may succeed later or in smaller pieces; not 504,
        # which is a gateway's word for an upstream that did not answer (nginx answers it itself).
        # The NTS API has no such failure; -2 is what its limits report.
        ErrorSpec("timeout", -2, 8, 503,
                  "A processing time limit was exceeded.",
                  "처리 시간 한도를 넘었습니다. 파일 수를 줄이거나 잠시 후 다시 시도하세요."),
        ErrorSpec("usage", None, 2, 400,
                  "Invalid arguments.",
                  "요청이 올바르지 않습니다."),
        # A 공제신고서 lines file (hometax_decrypt.deductions) that cannot be used: an unknown key, a
        # period that tax year does not have, an amount that is not an integer of 원. 422: the
        # request is well-formed, its content is refused. No NTS equivalent.
        ErrorSpec("bad_lines", None, 10, 422,
                  "The deduction lines are not valid.",
                  "공제신고서 항목 자료가 올바르지 않습니다."),
        # 총급여 for the deduction estimate that is not a whole, non-negative number of 원 (missing is
        # not an error: the estimate then says the salary is missing). CLI: a usage error.
        ErrorSpec("bad_salary", None, 2, 422,
                  "The salary (총급여) must be a whole, non-negative number of won.",
                  "총급여는 0 이상의 정수(원)로 입력하세요."),
    )
}


class HometaxError(Exception):
    """Base of all library failures. ``detail`` is a fixed English phrase, never user data."""

    code = "damaged"

    def __init__(self, detail: str | None = None):
        self.detail = detail
        super().__init__(self.message)

    @property
    def spec(self) -> ErrorSpec:
        return SPECS[self.code]

    @property
    def nts_code(self) -> int | None:
        return self.spec.nts_code

    @property
    def exit_code(self) -> int:
        return self.spec.exit_code

    @property
    def http_status(self) -> int:
        return self.spec.http_status

    @property
    def message(self) -> str:
        return f"{self.spec.message} ({self.detail})" if self.detail else self.spec.message

    @property
    def message_ko(self) -> str:
        return self.spec.message_ko

    def to_dict(self) -> dict:
        return {"code": self.code, "nts_code": self.nts_code, "message": self.message,
                "message_ko": self.message_ko}


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
    c.code: c for c in (PasswordRequired, WrongPassword, NotNtsDocument, Damaged, TooLarge, Timeout,
                         UsageError, BadLines, BadSalary)
}
