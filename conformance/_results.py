"""Case results → clause statuses, coverage per profile and the verdict (pure functions, no pytest)."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any

from santong.conformance._profiles import Profile
from santong.conformance._verdicts import COULD_NOT_RUN, FAIL, PASS
from santong.protocols import clauses

__all__ = [
    "CLAUSE_STATUSES",
    "PASS",
    "FAIL",
    "COULD_NOT_RUN",
    "CaseResult",
    "Deselected",
    "Reason",
    "clause_statuses",
    "coverage",
    "verdict",
]

#: Case verdicts that count as a failure of the cited clauses.
FAILED = ("failed", "xpassed")
#: Clause statuses, strongest first.
CLAUSE_STATUSES = ("failed", "error", "waived", "passed", "skipped", "not_claimed", "not_covered")


@dataclass(frozen=True, slots=True)
class Reason:
    """One bilingual reason behind a verdict."""

    zh: str
    en: str

    def as_dict(self) -> dict[str, str]:
        """JSON form."""
        return {"zh": self.zh, "en": self.en}


@dataclass
class CaseResult:
    """The outcome of one case (a pytest item)."""

    id: str
    name: str
    clauses: tuple[str, ...]
    features: tuple[str, ...] = ()
    subject: str = "product"
    verdict: str = "not_run"  # passed failed error skipped waived xfailed xpassed not_run
    message: str = ""
    duration_s: float = 0.0
    evidence: dict[str, Any] = field(default_factory=lambda: {"records": {}, "samples": []})
    waiver: dict[str, Any] | None = None

    @property
    def blocking(self) -> bool:
        """Whether a failure of this case fails the run: it cites at least one MUST clause."""
        cs = clauses()
        return any(cs[c].level == "MUST" for c in self.clauses if c in cs)

    def as_dict(self) -> dict[str, Any]:
        """JSON form."""
        return {
            "id": self.id,
            "name": self.name,
            "clauses": list(self.clauses),
            "features": list(self.features),
            "subject": self.subject,
            "verdict": self.verdict,
            "blocking": self.blocking,
            "message": self.message,
            "duration_s": round(self.duration_s, 3),
            "evidence": self.evidence,
            "waiver": self.waiver,
        }


@dataclass(frozen=True, slots=True)
class Deselected:
    """A case not run, and why (``feature_not_claimed``, ``not_in_profile``, ``other_subject`` or
    ``needs_inspection``: the url target has no inspection/fault API)."""

    id: str
    clauses: tuple[str, ...]
    reason: str
    features: tuple[str, ...] = ()

    def as_dict(self) -> dict[str, Any]:
        """JSON form."""
        return {
            "id": self.id,
            "clauses": list(self.clauses),
            "reason": self.reason,
            "features": list(self.features),
        }


def clause_statuses(cases: Iterable[CaseResult], deselected: Iterable[Deselected]) -> dict[str, str]:
    """Status of every clause cited by a case (run or deselected for an unclaimed feature)."""
    by_clause: dict[str, set[str]] = {}
    for c in cases:
        for cid in c.clauses:
            by_clause.setdefault(cid, set()).add(c.verdict)
    out: dict[str, str] = {}
    for cid, vs in by_clause.items():
        if vs & set(FAILED):
            out[cid] = "failed"
        elif "error" in vs:
            out[cid] = "error"
        elif vs & {"waived", "xfailed"}:
            out[cid] = "waived"
        elif "passed" in vs:
            out[cid] = "passed"
        else:
            out[cid] = "skipped"
    for d in deselected:
        if d.reason == "feature_not_claimed":
            for cid in d.clauses:
                out.setdefault(cid, "not_claimed")
    return out


def coverage(profile: Profile, statuses: dict[str, str], suite_clauses: Iterable[str]) -> dict[str, Any]:
    """MUST-clause coverage of one profile: how many have cases in the suite, passed, failed."""
    must = profile.must_ids()
    with_cases = set(suite_clauses)
    passed = [c for c in must if statuses.get(c) == "passed"]
    failed = [c for c in must if statuses.get(c) == "failed"]
    errors = [c for c in must if statuses.get(c) == "error"]
    n = len(must)
    return {
        "profile": profile.name,
        "name_zh": profile.name_zh,
        "name_en": profile.name_en,
        "product_class": profile.product_class,
        "clauses": len(profile.clause_ids),
        "must": n,
        "must_with_cases": sum(1 for c in must if c in with_cases),
        "must_passed": len(passed),
        "must_failed": len(failed),
        "must_error": len(errors),
        "must_not_claimed": sum(1 for c in must if statuses.get(c) == "not_claimed"),
        "percent_with_cases": round(100.0 * sum(1 for c in must if c in with_cases) / n, 1) if n else 0.0,
        "percent_passed": round(100.0 * len(passed) / n, 1) if n else 0.0,
    }


def verdict(
    cases: Sequence[CaseResult],
    collection_errors: Sequence[str],
    expired_waivers: Sequence[str],
    interrupted: str | None = None,
) -> tuple[str, list[Reason]]:
    """PASS, FAIL or COULD_NOT_RUN with the reasons. Never PASS when nothing ran or anything errored."""
    if collection_errors:
        return COULD_NOT_RUN, [
            Reason(f"测试套件无法收集：{e}", f"the suite could not be collected: {e}")
            for e in collection_errors
        ]
    if interrupted:
        return COULD_NOT_RUN, [Reason(f"运行中断：{interrupted}", f"the run was interrupted: {interrupted}")]
    if not cases:
        return COULD_NOT_RUN, [
            Reason(
                "没有选中任何用例：配置、产品类别与声明的功能的交集为空",
                "no case selected: the profile, the product class and the claimed features leave nothing to run",
            )
        ]
    reasons: list[Reason] = []
    failed = [c for c in cases if c.verdict in FAILED and c.blocking]
    for c in failed:
        why = "意外通过（豁免已失效）" if c.verdict == "xpassed" else "失败"
        why_en = "passed unexpectedly (the waiver is stale)" if c.verdict == "xpassed" else "failed"
        reasons.append(
            Reason(f"{c.id} {why}（{', '.join(c.clauses)}）", f"{c.id} {why_en} ({', '.join(c.clauses)})")
        )
    for w in expired_waivers:
        reasons.append(Reason(f"豁免已过期：{w}", f"waiver expired: {w}"))
    errors = [c for c in cases if c.verdict == "error"]
    if failed or expired_waivers:
        reasons += [
            Reason(f"{c.id} 无法运行：{_first(c.message)}", f"{c.id} could not run: {_first(c.message)}")
            for c in errors
        ]
        return FAIL, reasons
    if errors:
        return COULD_NOT_RUN, [
            Reason(f"{c.id} 无法运行：{_first(c.message)}", f"{c.id} could not run: {_first(c.message)}")
            for c in errors
        ]
    if not any(c.verdict in ("passed", "waived", "xfailed", "failed") for c in cases):
        return COULD_NOT_RUN, [
            Reason(
                f"所有 {len(cases)} 个用例都被跳过：{_first(cases[0].message)}",
                f"all {len(cases)} cases were skipped: {_first(cases[0].message)}",
            )
        ]
    return PASS, reasons


def _first(text: str) -> str:
    lines = [ln.strip() for ln in text.strip().splitlines() if ln.strip()]
    return lines[0][:300] if lines else "?"
