"""Errors of the mock platform: one exception carrying its gRPC code, HTTP status and violations."""

from __future__ import annotations

from collections.abc import Iterable

from santong.protocols import GRPC_CODES, HTTP_STATUS, Violation

__all__ = ["GRPC_CODES", "HTTP_STATUS", "PlatformError", "violation"]

# The one copy of the code tables lives in santong.protocols (ST-IFACE-015); re-exported for old imports.


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
