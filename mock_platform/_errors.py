"""Errors of the mock platform: one exception carrying its gRPC code, HTTP status and violations."""

from __future__ import annotations

from collections.abc import Iterable

from santong.protocols import Violation

__all__ = ["GRPC_CODES", "HTTP_STATUS", "PlatformError", "violation"]

# gRPC status code names → numbers (google.rpc.Code).
GRPC_CODES: dict[str, int] = {
    "OK": 0,
    "CANCELLED": 1,
    "UNKNOWN": 2,
    "INVALID_ARGUMENT": 3,
    "DEADLINE_EXCEEDED": 4,
    "NOT_FOUND": 5,
    "ALREADY_EXISTS": 6,
    "PERMISSION_DENIED": 7,
    "RESOURCE_EXHAUSTED": 8,
    "FAILED_PRECONDITION": 9,
    "ABORTED": 10,
    "OUT_OF_RANGE": 11,
    "UNIMPLEMENTED": 12,
    "INTERNAL": 13,
    "UNAVAILABLE": 14,
    "DATA_LOSS": 15,
    "UNAUTHENTICATED": 16,
}

# The HTTP status of each gRPC code (google.rpc.Code's mapping, with ST-IFACE-015's 409 for FAILED_PRECONDITION;
# size limits use 413 through PlatformError(http_status=413)).
HTTP_STATUS: dict[str, int] = {
    "OK": 200,
    "CANCELLED": 499,
    "UNKNOWN": 500,
    "INVALID_ARGUMENT": 400,
    "DEADLINE_EXCEEDED": 504,
    "NOT_FOUND": 404,
    "ALREADY_EXISTS": 409,
    "PERMISSION_DENIED": 403,
    "RESOURCE_EXHAUSTED": 429,
    "FAILED_PRECONDITION": 409,  # ST-IFACE-015: not registered / no common version → 409
    "ABORTED": 409,
    "OUT_OF_RANGE": 400,
    "UNIMPLEMENTED": 501,
    "INTERNAL": 500,
    "UNAVAILABLE": 503,
    "DATA_LOSS": 500,
    "UNAUTHENTICATED": 401,
}


def violation(clause_id: str, path: str, zh: str, en: str) -> Violation:
    """A violation of clause_id, titled and levelled from the clause catalogue."""
    from santong.protocols import clause

    try:
        c = clause(clause_id)
    except KeyError:  # an ID the catalogue lacks still names itself; tests check every ID exists
        return Violation(clause_id, path, zh, en, "MUST")
    return Violation(clause_id, path, f"{c.title_zh}：{zh}", f"{c.title_en}: {en}", c.level)


class PlatformError(Exception):
    """A call the platform refuses: gRPC code name, HTTP status, violations, bilingual message, retry advice.

    Example::

        raise PlatformError("UNAUTHENTICATED", "缺少凭据", "credentials missing",
                            [violation("ST-PROTO-001", "metadata.authorization", "缺少", "missing")])
    """

    def __init__(
        self,
        code: str,
        message_zh: str,
        message_en: str,
        violations: Iterable[Violation] = (),
        *,
        retry_after_s: float | None = None,
        http_status: int | None = None,
    ) -> None:
        if code not in GRPC_CODES:
            raise ValueError(f"unknown gRPC code {code!r}")
        self.code = code
        self.grpc_code = GRPC_CODES[code]
        self.http_status = http_status if http_status is not None else HTTP_STATUS[code]
        self.message_zh = message_zh
        self.message_en = message_en
        self.violations = list(violations)
        self.retry_after_s = retry_after_s
        super().__init__(self.message)

    @property
    def message(self) -> str:
        """'中文 / English'."""
        return f"{self.message_zh} / {self.message_en}"

    @property
    def clause_ids(self) -> list[str]:
        """The clause IDs of the violations, in order, without repeats."""
        return list(dict.fromkeys(v.clause_id for v in self.violations))

    def as_dict(self) -> dict[str, object]:
        """JSON form: code, http_status, message_zh/en, violations, retry_after_s."""
        return {
            "code": self.code,
            "http_status": self.http_status,
            "message_zh": self.message_zh,
            "message_en": self.message_en,
            "violations": [v.as_dict() for v in self.violations],
            "retry_after_s": self.retry_after_s,
        }
