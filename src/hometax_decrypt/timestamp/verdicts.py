"""Every outcome of the verifier, in one table: the reason code, the NTS verifier's result code, the
status it leads to, the English and the Korean reason, and what HR staff read — one plain Korean
sentence saying what the verdict means for them (``summary_ko``) and one saying what to do next
(``advice_ko``).

Why one table: the sentences used to be written inline where each check fails (``locate``, ``cms``,
``trust``, ``check``) and two of them were copied into the upload page. A sentence changed in one place
then disagreed with its copy, and nobody could list the verdicts HR may see. Now the checks name a
reason code (``raise fail("hash_mismatch")``, :func:`.result.fail`), :class:`~.result.Verification`
carries it, and its ``to_dict`` reads every sentence from here; the page shows what the server sends
and keeps no copy (``tests/unit/test_verdicts.py`` holds both to that).

The reasons are technical (for the 자료 보기 details and for logs); ``summary_ko`` + ``advice_ko`` are
for a person who does not know what a /ByteRange is.
"""

from __future__ import annotations

from dataclasses import dataclass

# -- the NTS verifier's result codes (DSTSPDFSig / DSTSPdfSigVerifyF) -------------------------------
OK = 0
HASH_MISMATCH = 2101
SIGNATURE_INVALID = 2102
UNSUPPORTED_HASH = 2103
TOKEN_PARSE_ERROR = 2106
CERTIFICATE = 2109
BYTE_RANGE = 2110

AUTHENTIC, UNTRUSTED_ISSUER, TAMPERED, UNSIGNED = "authentic", "untrusted_issuer", "tampered", "unsigned"

# The badge HR sees for each status (the page's counts line is held equal to these by a test).
# ``untrusted_issuer`` wears the same badge as a missing stamp (issue 22): a timestamp nobody vouches
# for is one anyone can make after editing the file, so it proves no more than no timestamp at all.
STATUS_LABELS_KO = {
    AUTHENTIC: "진본 확인",
    UNTRUSTED_ISSUER: "위변조 의심",
    TAMPERED: "위변조 의심",
    UNSIGNED: "위변조 의심",
}

# -- what HR reads ---------------------------------------------------------------------------------
_ASK_AGAIN = "직원에게 홈택스에서 원본 PDF를 다시 내려받아 제출해 달라고 요청하세요."
_NOTHING_TO_DO = "따로 할 일은 없습니다."
_NOT_ORIGINAL = "원본이 아닙니다: 발급 후 파일이 바뀌었거나 타임스탬프가 맞지 않습니다."
_RESAVED = (
    "원본이 아닙니다: 발급 후 다시 저장된 파일입니다(이 페이지에서 내려받은 '암호를 푼 PDF'도 "
    "이렇게 판정됩니다)."
)
# An untrusted stamp proves nothing about the contents (issue 22): the file matches it, but whoever
# edited the file can have made it. These sentences never say the contents are as issued.
_UNKNOWN_TSA = (
    "원본인지 확인할 수 없습니다: 확인되지 않은 기관의 타임스탬프입니다(국세청 이름을 단 타임스탬프는 "
    "누구나 만들 수 있어, 내용을 고친 뒤 다시 찍었을 수 있습니다)."
)
_TSA_FAILED = (
    "원본인지 확인할 수 없습니다: 타임스탬프 인증서에 문제가 있어, 타임스탬프가 문서 내용을 보증하지 "
    "못합니다(내용을 고친 뒤 다시 찍었을 수 있습니다)."
)
_AUTHENTIC = "원본 그대로입니다: 정부 타임스탬프가 확인되었고, 타임스탬프가 찍힌 뒤 바뀐 곳이 없습니다."


@dataclass(frozen=True)
class Verdict:
    """One outcome: ``code`` is stable (the API's ``verification.reason_code``); the sentences may be
    reworded."""

    code: str
    verifier_code: int  # the NTS verifier's result code: 0 or 21xx
    status: str  # authentic | untrusted_issuer | tampered | unsigned
    reason: str  # one English sentence (technical)
    reason_ko: str  # the same in Korean (technical, shown under 자료 보기)
    summary_ko: str  # what it means, for HR, in plain Korean
    advice_ko: str  # the next step, for HR

    @property
    def label_ko(self) -> str:
        return STATUS_LABELS_KO[self.status]


VERDICTS: dict[str, Verdict] = {}


def _add(
    code: str,
    verifier_code: int,
    status: str,
    reason: str,
    reason_ko: str,
    summary_ko: str | None = None,
    advice_ko: str = _ASK_AGAIN,
) -> None:
    assert code not in VERDICTS, code
    if summary_ko is None:
        summary_ko = {TAMPERED: _NOT_ORIGINAL, UNTRUSTED_ISSUER: _UNKNOWN_TSA}[status]
    VERDICTS[code] = Verdict(code, verifier_code, status, reason, reason_ko, summary_ko, advice_ko)


# == authentic =====================================================================================
_add(
    "authentic_chain",
    OK,
    AUTHENTIC,
    "The file is unchanged since it was stamped, and the timestamp was issued by a trusted timestamp "
    "authority: its certificate chains, valid at genTime, to a trust anchor (the GPKI CAs the package "
    "ships: the Korean government's shared TSA, not the NTS alone; or an anchor added).",
    "신뢰하는 인증기관의 타임스탬프가 맞고, 타임스탬프가 찍힌 뒤 바뀐 곳이 없습니다(타임스탬프 인증서가 "
    "찍힌 시각에 신뢰하는 인증기관으로 이어집니다. 기본 설정에서는 정부 공용 타임스탬프 기관(GPKI)입니다).",
    _AUTHENTIC,
    _NOTHING_TO_DO,
)
_add(
    "authentic_pinned",
    OK,
    AUTHENTIC,
    "The file is unchanged since it was stamped, and the timestamp was issued by a trusted timestamp "
    "authority: its certificate is a pinned TSA certificate (those of the NTS samples: the Korean "
    "government's shared TSA).",
    "등록된 타임스탬프 인증서(국세청 샘플 문서의 정부 공용 타임스탬프 인증서)의 타임스탬프가 맞고, "
    "타임스탬프가 찍힌 뒤 바뀐 곳이 없습니다.",
    _AUTHENTIC,
    _NOTHING_TO_DO,
)

# == unsigned (locate) =============================================================================
_add(
    "unsigned",
    BYTE_RANGE,
    UNSIGNED,
    "The file carries no NTS timestamp (no signature /ByteRange).",
    "국세청 타임스탬프가 없는 문서입니다.",
    "국세청 타임스탬프가 없어 원본인지 확인할 수 없습니다(이 페이지에서 내려받은 '암호를 푼 PDF'처럼 "
    "다시 저장된 파일일 수 있습니다).",
)

# == the byte range (locate, check) ================================================================
_add(
    "byte_range_malformed",
    BYTE_RANGE,
    TAMPERED,
    "The /ByteRange is not an array of four non-negative integers.",
    "서명 범위(/ByteRange)의 형식이 올바르지 않습니다.",
)
_add(
    "byte_range_inconsistent",
    BYTE_RANGE,
    TAMPERED,
    "The /ByteRange does not add up: it must start at 0 and leave one gap between its two segments.",
    "서명 범위(/ByteRange)가 맞지 않습니다: 0에서 시작하고 두 구간 사이에 빈 곳이 하나만 있어야 합니다.",
)
_add(
    "byte_range_past_end",
    BYTE_RANGE,
    TAMPERED,
    "The /ByteRange reaches past the end of the file.",
    "서명 범위(/ByteRange)가 파일 끝을 넘어갑니다.",
    _RESAVED,
)
_add(
    "byte_range_gap",
    BYTE_RANGE,
    TAMPERED,
    "The gap in the /ByteRange is not exactly the signature's /Contents <hex> string.",
    "서명 범위에서 빠진 부분이 정확히 타임스탬프 자리(/Contents)가 아닙니다.",
    _RESAVED,
)
_add(
    "byte_range_overlaps_gap",
    BYTE_RANGE,
    TAMPERED,
    "The /ByteRange overlaps the signature gap.",
    "서명 범위(/ByteRange)가 타임스탬프 자리와 겹칩니다.",
)
_add(
    "byte_range_apart",
    BYTE_RANGE,
    TAMPERED,
    "The /ByteRange and the /Contents it points at are not in the same signature dictionary.",
    "서명 범위와 타임스탬프가 같은 서명 정보에 들어 있지 않습니다.",
    _RESAVED,
)
_add(
    "byte_range_more_than_one",
    BYTE_RANGE,
    TAMPERED,
    "The file has more than one signature /ByteRange; an NTS document carries exactly one.",
    "서명 영역(/ByteRange)이 둘 이상 있습니다. 국세청 문서에는 하나만 있습니다.",
    "원본이 아닙니다: 발급 후 다른 서명이나 수정본이 덧붙었습니다.",
)
_add(
    "byte_range_not_whole_file",
    BYTE_RANGE,
    TAMPERED,
    "The signed byte range does not reach the end of the file: bytes after it (for example an appended "
    "revision) are not covered by the timestamp.",
    "타임스탬프가 문서 끝까지 덮지 않습니다: 그 뒤에 덧붙은 내용(예: 추가 수정본)은 타임스탬프로 보증되지 "
    "않습니다.",
    "원본이 아닙니다: 발급 후 문서 끝에 내용이 덧붙었습니다.",
)
_add(
    "hash_mismatch",
    HASH_MISMATCH,
    TAMPERED,
    "The signed bytes do not match the hash in the timestamp: the file was changed after it was stamped.",
    "문서 내용이 타임스탬프와 맞지 않습니다: 발급 후 문서가 바뀌었습니다.",
    "원본이 아닙니다: 발급 후 문서 내용이 바뀌었습니다.",
)

# == the token (locate, cms) =======================================================================
for _code, _en, _ko in (
    (
        "contents_too_large",
        "The signature /Contents is larger than any timestamp token.",
        "타임스탬프 자리가 어떤 타임스탬프 토큰보다도 큽니다.",
    ),
    (
        "contents_not_hex",
        "The signature /Contents is not a hex string.",
        "타임스탬프 자리의 값이 16진수 문자열이 아닙니다.",
    ),
    ("token_unparseable", "The timestamp token cannot be parsed.", "타임스탬프 토큰을 해석할 수 없습니다."),
    (
        "token_not_der",
        "The timestamp token is not well-formed DER.",
        "타임스탬프 토큰의 형식(DER)이 올바르지 않습니다.",
    ),
    (
        "token_too_many_elements",
        "The timestamp token has too many ASN.1 elements.",
        "타임스탬프 토큰의 구성 요소가 너무 많습니다.",
    ),
    (
        "token_too_deep",
        "The timestamp token nests too deeply.",
        "타임스탬프 토큰의 구조가 너무 깊게 중첩되어 있습니다.",
    ),
    (
        "token_trailing_data",
        "The signature /Contents holds data after the timestamp token.",
        "타임스탬프 토큰 뒤에 다른 데이터가 붙어 있습니다.",
    ),
    (
        "token_not_signed_data",
        "The timestamp token is not CMS SignedData.",
        "타임스탬프 토큰이 CMS 서명 데이터가 아닙니다.",
    ),
    (
        "token_not_tst_info",
        "The signed content is not an RFC 3161 TSTInfo.",
        "서명된 내용이 RFC 3161 타임스탬프 정보가 아닙니다.",
    ),
    (
        "token_detached",
        "The timestamp token has no TSTInfo (detached content).",
        "타임스탬프 토큰에 타임스탬프 정보(TSTInfo)가 없습니다.",
    ),
    (
        "token_signer_count",
        "The timestamp token must have exactly one signer.",
        "타임스탬프 토큰의 서명자가 하나가 아닙니다.",
    ),
    (
        "token_no_certificate",
        "The timestamp token carries no TSA certificate.",
        "타임스탬프 토큰에 타임스탬프 인증서가 없습니다.",
    ),
    ("tst_info_version", "The TSTInfo version is not 1.", "타임스탬프 정보(TSTInfo)의 버전이 1이 아닙니다."),
    (
        "signer_certificate_unparseable",
        "The TSA certificate in the token cannot be parsed.",
        "타임스탬프 토큰의 인증서를 해석할 수 없습니다.",
    ),
    (
        "signer_certificate_missing",
        "The timestamp token does not carry the certificate of its signer.",
        "타임스탬프 토큰에 서명한 기관의 인증서가 들어 있지 않습니다.",
    ),
):
    _add(_code, TOKEN_PARSE_ERROR, TAMPERED, _en, _ko)

# == algorithms and the token's signature (cms) ====================================================
for _code, _en, _ko in (
    (
        "imprint_hash_unsupported",
        "The timestamp uses a hash algorithm that is not accepted (SHA-256, SHA-384 or SHA-512 only).",
        "타임스탬프가 허용하지 않는 해시 알고리즘을 씁니다(SHA-256, SHA-384, SHA-512만 허용).",
    ),
    (
        "digest_hash_unsupported",
        "The token's signature uses a hash algorithm that is not accepted "
        "(SHA-256, SHA-384 or SHA-512 only).",
        "타임스탬프 서명이 허용하지 않는 해시 알고리즘을 씁니다(SHA-256, SHA-384, SHA-512만 허용).",
    ),
    (
        "signature_hash_unsupported",
        "The token's signature uses a hash algorithm that is not accepted.",
        "타임스탬프 서명이 허용하지 않는 해시 알고리즘을 씁니다.",
    ),
    (
        "pss_unsupported",
        "The token's RSA-PSS parameters are not supported.",
        "타임스탬프 서명의 RSA-PSS 설정을 지원하지 않습니다.",
    ),
    (
        "ess_hash_unsupported",
        "The signing-certificate attribute uses an unsupported hash.",
        "서명 인증서 속성이 지원하지 않는 해시를 씁니다.",
    ),
):
    _add(_code, UNSUPPORTED_HASH, TAMPERED, _en, _ko)

for _code, _en, _ko in (
    (
        "signed_attributes_missing",
        "The token's signature has no signed attributes (RFC 3161 requires them).",
        "타임스탬프 서명에 서명 속성이 없습니다(RFC 3161에서 필수).",
    ),
    (
        "signed_attributes_incomplete",
        "The token's signed attributes lack a single content-type and message-digest.",
        "타임스탬프 서명 속성에 내용 유형과 메시지 다이제스트가 하나씩 있지 않습니다.",
    ),
    (
        "signed_content_type",
        "The token's signed content-type is not TSTInfo.",
        "타임스탬프 서명의 내용 유형이 TSTInfo가 아닙니다.",
    ),
    (
        "message_digest_mismatch",
        "The token's message digest does not match its TSTInfo: the token was altered.",
        "타임스탬프 토큰이 변경되었습니다(메시지 다이제스트 불일치).",
    ),
    (
        "signature_invalid",
        "The token's signature does not verify with the TSA certificate it carries.",
        "타임스탬프 서명이 토큰에 든 인증서로 검증되지 않습니다.",
    ),
    (
        "ess_missing",
        "The token lacks the signing-certificate attribute.",
        "타임스탬프 서명에 서명 인증서 속성이 없습니다.",
    ),
    (
        "ess_unreadable",
        "The token's signing-certificate attribute cannot be read.",
        "서명 인증서 속성을 읽을 수 없습니다.",
    ),
    (
        "ess_mismatch",
        "The token's signing-certificate attribute does not name the certificate that signed it.",
        "서명 인증서 속성이 실제로 서명한 인증서를 가리키지 않습니다.",
    ),
    (
        "signature_algorithm_mismatch",
        "The token's signature algorithm does not match its certificate's key or is not supported.",
        "타임스탬프 서명 알고리즘이 인증서의 키와 맞지 않거나 지원하지 않는 알고리즘입니다.",
    ),
):
    _add(_code, SIGNATURE_INVALID, TAMPERED, _en, _ko)

# == trust (trust) =================================================================================
_add(
    "issuer_unknown",
    CERTIFICATE,
    UNTRUSTED_ISSUER,
    "The timestamp authority is not recognised, so nobody vouches for the timestamp: its certificate "
    "is neither a pinned TSA certificate nor chained to a trust anchor (shipped or added). Anyone can "
    "make a certificate with the NTS names and re-stamp an edited file; that the file matches such a "
    "timestamp says nothing about its contents.",
    "타임스탬프를 찍은 기관을 확인할 수 없습니다: 인증서가 등록된 타임스탬프 인증서도 아니고 신뢰하는 "
    "인증기관(GPKI)으로 이어지지도 않습니다. 국세청 이름을 단 인증서는 누구나 만들 수 있어, 내용을 고친 뒤 "
    "다시 찍은 타임스탬프일 수 있습니다.",
)
_add(
    "tsa_extensions_unreadable",
    CERTIFICATE,
    UNTRUSTED_ISSUER,
    "The TSA certificate's extensions cannot be read, so nobody vouches for the timestamp and it says "
    "nothing about the file's contents.",
    "타임스탬프 인증서의 확장을 읽을 수 없어, 타임스탬프가 문서 내용을 보증하지 못합니다.",
    _TSA_FAILED,
)

# What a recognised certificate (pinned, or chained with valid signatures) fails at genTime: the
# ``problem`` codes of trust.py, each one verdict.
TSA_PROBLEMS = {
    "leaf_not_valid": (
        "the TSA certificate was not valid at genTime.",
        "타임스탬프 인증서가 발급 시각에 유효하지 않았습니다.",
    ),
    "ca_not_valid": (
        "an issuing CA certificate was not valid at genTime.",
        "발급 인증기관의 인증서가 발급 시각에 유효하지 않았습니다.",
    ),
    "leaf_no_eku": (
        "the TSA certificate is not for timestamping (no extendedKeyUsage).",
        "타임스탬프용 인증서가 아닙니다(확장 키 용도 없음).",
    ),
    "leaf_eku": (
        "the TSA certificate is not for timestamping (extendedKeyUsage).",
        "타임스탬프용 인증서가 아닙니다(확장 키 용도).",
    ),
    "leaf_key_usage": (
        "the TSA certificate's key usage does not allow signing.",
        "타임스탬프 인증서의 키 용도가 서명을 허용하지 않습니다.",
    ),
    "leaf_unknown_critical": (
        "the TSA certificate has an unrecognised critical extension.",
        "타임스탬프 인증서에 알 수 없는 필수 확장이 있습니다.",
    ),
    "ca_no_basic_constraints": (
        "an issuing certificate is not a CA (no basicConstraints).",
        "발급자 인증서가 인증기관(CA) 인증서가 아닙니다(기본 제약 없음).",
    ),
    "ca_not_ca": ("an issuing certificate is not a CA.", "발급자 인증서가 인증기관(CA) 인증서가 아닙니다."),
    "ca_path_length": (
        "a CA's path length constraint is exceeded.",
        "인증기관의 경로 길이 제한을 넘었습니다.",
    ),
    "ca_key_usage": (
        "an issuing CA's key usage does not allow certificate signing.",
        "발급 인증기관의 키 용도가 인증서 서명을 허용하지 않습니다.",
    ),
    "ca_unknown_critical": (
        "an issuing CA certificate has an unrecognised critical extension.",
        "발급 인증기관의 인증서에 알 수 없는 필수 확장이 있습니다.",
    ),
}
for _problem, (_en, _ko) in TSA_PROBLEMS.items():
    _add(
        f"tsa_failed_{_problem}",
        CERTIFICATE,
        UNTRUSTED_ISSUER,
        f"The timestamp does not count, so it says nothing about the file's contents: its TSA "
        f"certificate is recognised, but it fails at genTime: {_en}",
        f"타임스탬프 인증서에 문제가 있어, 타임스탬프가 문서 내용을 보증하지 못합니다: {_ko}",
        _TSA_FAILED,
    )


def verdict(code: str) -> Verdict:
    """The table's row for ``code`` (a KeyError for a code nobody wrote down: a bug, never a file's)."""
    return VERDICTS[code]
