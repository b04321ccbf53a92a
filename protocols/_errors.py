"""Violations and the error hierarchy of santong."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

__all__ = [
    "SantongError",
    "ValidationError",
    "Violation",
    "must_violations",
]


@dataclass(frozen=True, slots=True)
class Violation:
    """One broken rule: the clause it breaks, where, and a message in Chinese and English."""

    clause_id: str
    path: str
    message_zh: str
    message_en: str
    level: str = "MUST"

    def __str__(self) -> str:
        return f"[{self.clause_id} {self.level}] {self.path}: {self.message_zh} / {self.message_en}"

    def as_dict(self) -> dict[str, str]:
        """JSON form (the fields of santong.protocols.v1.Violation, plus the level)."""
        return {
            "clause_id": self.clause_id,
            "path": self.path,
            "message_zh": self.message_zh,
            "message_en": self.message_en,
            "level": self.level,
        }


def must_violations(violations: Iterable[Violation]) -> list[Violation]:
    """The violations that reject a message (MUST clauses); SHOULD ones are warnings."""
    return [v for v in violations if v.level == "MUST"]


class SantongError(Exception):
    """Base of every santong error; carries its wire codes and a bilingual description."""

    grpc_code: str = "INTERNAL"
    http_status: int = 500
    description_zh: str = "内部错误"
    description_en: str = "internal error"

    def __init__(self, message: str | None = None, violations: Iterable[Violation] = ()) -> None:
        self.violations = list(violations)
        super().__init__(message or f"{self.description_zh} / {self.description_en}")


class ValidationError(SantongError):
    """A message breaks one or more MUST clauses."""

    grpc_code = "INVALID_ARGUMENT"
    http_status = 400
    description_zh = "消息不符合三统一规范"
    description_en = "message violates the 三统一 specification"

    def __init__(self, violations: Iterable[Violation], message: str | None = None) -> None:
        vs = list(violations)
        text = message or "; ".join(str(v) for v in vs[:5]) + (
            f" (+{len(vs) - 5} more)" if len(vs) > 5 else ""
        )
        super().__init__(text, vs)
