"""Case results → clause states → the verdict, and failures grouped by root cause (pure functions, no pytest).

The rules (SPEC.md, “认证结论 / Verdict”):

1. Every clause of the selected profile gets one state: 通过 ``passed``, 失败 ``failed``, 不适用
   ``not_applicable`` (with a reason from the closed list ``NA_REASONS``), 未证实 ``not_demonstrated``,
   豁免 ``waived`` (a signed, dated waiver), or 无法运行 ``error`` (the environment stopped its case).
2. A case judges the clauses it cites, except where its failure names the clauses the evidence shows
   (``ClauseFailure``, ``[ST-…]`` tags): those fail, the other cited clauses are not demonstrated.
3. A clause judged by several cases takes the worst state: failed > error > not demonstrated > waived >
   passed > not applicable (not applicable only when every case says so).
4. An applicable clause of the profile with no case that judged it — skipped, deselected for an unclaimed
   feature, or no case in the suite — is not demonstrated.
5. PASS needs every applicable MUST clause of the profile passed (or waived). A failed MUST clause of the
   profile or an expired waiver → FAIL. Otherwise a case the environment stopped → COULD NOT RUN. Otherwise a
   MUST clause not demonstrated → FAIL. SHOULD/MAY failures and clauses outside the profile are warnings.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any

from santong.conformance._outcomes import NA_REASONS
from santong.conformance._profiles import Profile
from santong.conformance._verdicts import COULD_NOT_RUN, FAIL, PASS
from santong.protocols import clauses, version_key

__all__ = [
    "CLAUSE_STATES",
    "PASS",
    "FAIL",
    "COULD_NOT_RUN",
    "CaseResult",
    "ClauseRow",
    "Deselected",
    "Reason",
    "clause_table",
    "coverage",
    "interface_version_reason",
    "root_causes",
    "verdict",
]

#: Case verdicts that count as a failure of the clauses they judge.
FAILED = ("failed", "xpassed")
#: Clause states, strongest first (a clause judged by several cases takes the first that applies).
CLAUSE_STATES = ("failed", "error", "not_demonstrated", "waived", "passed", "not_applicable")
_RANK = {s: i for i, s in enumerate(CLAUSE_STATES)}


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
    """The outcome of one case (a pytest item).

    ``failed_clauses``: the clauses its failure names (empty: every cited clause). ``na_reason``: a skip that
    says the clauses do not apply (a key of ``NA_REASONS``). ``cause``: the root the failure shares with others
    (``{"key", "kind", "root": [clause IDs], "zh", "en"}``). ``blocking`` is set by :func:`verdict`."""

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
    failed_clauses: tuple[str, ...] = ()
    na_reason: str | None = None
    cause: dict[str, Any] | None = None
    blocking: bool = False

    def judged(self) -> dict[str, str]:
        """What this case says about each clause it judged: clause → state."""
        v = self.verdict
        if v == "passed":
            return dict.fromkeys(self.clauses, "passed")
        if v in FAILED:
            named = self.failed_clauses if v == "failed" and self.failed_clauses else self.clauses
            out = dict.fromkeys(self.clauses, "not_demonstrated")
            out.update(dict.fromkeys(named, "failed"))
            return out
        if v in ("waived", "xfailed"):
            return dict.fromkeys(self.clauses, "waived")
        if v == "error":
            return dict.fromkeys(self.clauses, "error")
        if v == "skipped" and self.na_reason is not None:
            return dict.fromkeys(self.clauses, "not_applicable")
        return dict.fromkeys(self.clauses, "not_demonstrated")

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
            "failed_clauses": sorted(k for k, s in self.judged().items() if s == "failed"),
            "not_applicable": self.na_reason,
            "cause": self.cause["key"] if self.cause else None,
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


@dataclass
class ClauseRow:
    """One clause of the report: its state, why (for not applicable / not demonstrated), and its cases."""

    id: str
    in_profile: bool
    state: str
    reason: str | None = None  # an NA_REASONS key, or feature_not_claimed / no_case / skipped / …
    detail: Reason | None = None
    cases: list[str] = field(default_factory=list)

    @property
    def level(self) -> str:
        """MUST, SHOULD or MAY."""
        return clauses()[self.id].level

    @property
    def blocking(self) -> bool:
        """Whether this row's state blocks PASS (an applicable MUST clause of the profile not passed/waived)."""
        return (
            self.in_profile and self.level == "MUST" and self.state in ("failed", "error", "not_demonstrated")
        )

    def as_dict(self) -> dict[str, Any]:
        """JSON form (titles from the catalogue)."""
        c = clauses()[self.id]
        return {
            "id": self.id,
            "level": c.level,
            "title_zh": c.title_zh,
            "title_en": c.title_en,
            "in_profile": self.in_profile,
            "state": self.state,
            "reason": self.reason,
            "reason_zh": self.detail.zh if self.detail else None,
            "reason_en": self.detail.en if self.detail else None,
            "blocking": self.blocking,
            "cases": self.cases,
        }


def _judges(subject: str, clause_id: str) -> bool:
    """Whether a run of ``subject`` can judge the clause (core clauses: both sides)."""
    by = clauses()[clause_id].checked_by
    return "core" in by or subject in by


def interface_version_reason(clause_id: str, negotiated: str | None) -> Reason | None:
    """Why the clause does not bind a product that negotiated ``negotiated`` (ST-PROTO-004): the clause came with
    a newer interface version (its ``since``); None when it binds it, or when the version is not known."""
    since = clauses()[clause_id].since
    if not since or not negotiated:
        return None
    have, need = version_key(negotiated), version_key(since)
    if have is None or need is None or have >= need:
        return None
    return Reason(
        f"条款随接口 {since} 引入，产品协商的版本为 {negotiated}（ST-PROTO-004）",
        f"the clause came with interface {since}; the product negotiated {negotiated} (ST-PROTO-004)",
    )


def clause_table(
    profile: Profile,
    subject: str,
    cases: Iterable[CaseResult],
    deselected: Iterable[Deselected],
    negotiated_version: str | None = None,
) -> list[ClauseRow]:
    """The state of every clause of the profile (class exclusions as not applicable), then of every other
    clause a case judged (outside the profile: never blocking). A clause whose ``since`` is newer than the
    version the product negotiated (``negotiated_version``; None: not known) is not applicable, whatever its
    cases found: the product's session cannot carry its subject."""
    cases, deselected = list(cases), list(deselected)
    in_profile = set(profile.clause_ids)
    judged: dict[str, list[tuple[str, str, CaseResult]]] = {}
    for c in cases:
        for cid, state in c.judged().items():
            judged.setdefault(cid, []).append((state, c.id, c))
    held: dict[str, list[Deselected]] = {}
    for d in deselected:
        if d.reason in ("feature_not_claimed", "needs_inspection"):
            for cid in d.clauses:
                held.setdefault(cid, []).append(d)
    rows: list[ClauseRow] = []
    for cid in (*profile.clause_ids, *profile.class_excluded):
        if cid in profile.class_excluded:
            rows.append(ClauseRow(cid, False, "not_applicable", "product_class", _na("product_class")))
            continue
        if not _judges(subject, cid):
            rows.append(ClauseRow(cid, True, "not_applicable", "subject", _na("subject")))
            continue
        rows.append(_row(cid, True, judged.get(cid, []), held.get(cid, [])))
    listed = {r.id for r in rows}
    for cid in clauses():
        if cid not in listed and cid in judged:
            rows.append(_row(cid, cid in in_profile, judged[cid], []))
    for r in rows:
        why = interface_version_reason(r.id, negotiated_version) if r.state != "not_applicable" else None
        if why is not None:
            r.state, r.reason, r.detail = "not_applicable", "interface_version", why
    return rows


def _na(reason: str) -> Reason:
    zh, en = NA_REASONS[reason]
    return Reason(zh, en)


def _row(
    cid: str, in_profile: bool, judged: list[tuple[str, str, CaseResult]], held: list[Deselected]
) -> ClauseRow:
    ids = [i for _, i, _ in judged] + [d.id for d in held]
    states = [s for s, _, _ in judged]
    if held:
        # A case that could not run here: not applicable against a URL, not demonstrated for a missing feature.
        states += ["not_applicable" if d.reason == "needs_inspection" else "not_demonstrated" for d in held]
    if not states:
        return ClauseRow(
            cid,
            in_profile,
            "not_demonstrated",
            "no_case",
            Reason("测试套件中没有判定该条款的用例", "no case of the suite judges this clause"),
        )
    state = min(states, key=_RANK.__getitem__)
    if state == "not_applicable":
        reason = next(
            (c.na_reason for s, _, c in judged if s == "not_applicable" and c.na_reason),
            "needs_inspection",
        )
        return ClauseRow(cid, in_profile, state, reason, _na(reason), ids)
    if state == "not_demonstrated":
        missing = sorted({f for d in held if d.reason == "feature_not_claimed" for f in d.features})
        if missing and all(s != "not_demonstrated" for s, _, _ in judged):
            return ClauseRow(
                cid,
                in_profile,
                state,
                "feature_not_claimed",
                Reason(
                    f"判定该条款的用例需要未声明的功能 {', '.join(missing)}",
                    f"the cases that judge this clause need features not claimed: {', '.join(missing)}",
                ),
                ids,
            )
        first = next(c for s, _, c in judged if s == "not_demonstrated")
        why = _first(first.message) if first.message else "?"
        return ClauseRow(
            cid,
            in_profile,
            state,
            "skipped" if first.verdict == "skipped" else "other_failure",
            Reason(f"{first.name}：{why}", f"{first.name}: {why}"),
            ids,
        )
    return ClauseRow(cid, in_profile, state, None, None, ids)


def coverage(profile: Profile, rows: Sequence[ClauseRow]) -> dict[str, Any]:
    """MUST-clause coverage of the profile over its applicable clauses."""
    mine = [r for r in rows if r.id in set(profile.clause_ids) or r.id in set(profile.class_excluded)]
    must = [r for r in mine if r.level == "MUST"]
    applicable = [r for r in must if r.state != "not_applicable"]

    def n(state: str) -> int:
        return sum(1 for r in applicable if r.state == state)

    a = len(applicable)
    judged = [r for r in mine if r.state in ("passed", "failed", "waived")]
    return {
        "profile": profile.name,
        "name_zh": profile.name_zh,
        "name_en": profile.name_en,
        "product_class": profile.product_class,
        "clauses": len(mine),
        "clauses_judged": len(judged),
        "must": len(must),
        "must_applicable": a,
        "must_not_applicable": len(must) - a,
        "must_passed": n("passed"),
        "must_failed": n("failed"),
        "must_error": n("error"),
        "must_not_demonstrated": n("not_demonstrated"),
        "must_waived": n("waived"),
        "percent_passed": round(100.0 * n("passed") / a, 1) if a else 0.0,
    }


def verdict(
    cases: Sequence[CaseResult],
    rows: Sequence[ClauseRow],
    collection_errors: Sequence[str],
    expired_waivers: Sequence[str],
    interrupted: str | None = None,
    missing_features: Sequence[str] = (),
) -> tuple[str, list[Reason]]:
    """PASS, FAIL or COULD_NOT_RUN with the reasons (module docstring, rule 5); sets ``CaseResult.blocking``."""
    blocking_failed = {r.id for r in rows if r.blocking and r.state == "failed"}
    for c in cases:
        c.blocking = bool(blocking_failed & {k for k, s in c.judged().items() if s == "failed"})
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
    title = {cid: clauses()[cid] for cid in clauses()}
    reasons: list[Reason] = []
    for r in rows:
        if r.blocking and r.state == "failed":
            t = title[r.id]
            reasons.append(
                Reason(
                    f"{r.id} {t.title_zh} 失败（{', '.join(_short(i) for i in r.cases[:3])}）",
                    f"{r.id} {t.title_en} failed ({', '.join(_short(i) for i in r.cases[:3])})",
                )
            )
    for c in cases:
        if c.verdict == "xpassed" and c.blocking:
            reasons.append(
                Reason(f"{c.id} 意外通过（豁免已失效）", f"{c.id} passed unexpectedly (the waiver is stale)")
            )
    for w in expired_waivers:
        reasons.append(Reason(f"豁免已过期：{w}", f"waiver expired: {w}"))
    if missing_features:
        reasons.append(
            Reason(
                f"配置要求产品声明功能 {', '.join(missing_features)}，产品声明中没有：其背后的条款无法证实",
                f"the profile requires the features {', '.join(missing_features)}, which the manifest does not "
                "claim: the clauses behind them cannot be demonstrated",
            )
        )
    errors = [c for c in cases if c.verdict == "error"]
    not_shown = [r for r in rows if r.blocking and r.state == "not_demonstrated"]
    # One line per distinct cause: an unreachable platform stops every case for the same reason.
    by_cause: dict[str, list[CaseResult]] = {}
    for c in errors:
        by_cause.setdefault(_first(c.message), []).append(c)
    could_not = [
        Reason(f"{cs[0].id} 无法运行：{why}", f"{cs[0].id} could not run: {why}")
        if len(cs) == 1
        else Reason(f"{len(cs)} 个用例无法运行：{why}", f"{len(cs)} cases could not run: {why}")
        for why, cs in by_cause.items()
    ]
    # Clauses a failure elsewhere left unjudged are folded into one line (root_causes tells which failure).
    following = [r.id for r in not_shown if r.reason == "other_failure"]
    unproven = [
        Reason(
            f"{r.id} {title[r.id].title_zh} 未证实：{r.detail.zh if r.detail else ''}",
            f"{r.id} {title[r.id].title_en} not demonstrated: {r.detail.en if r.detail else ''}",
        )
        for r in not_shown
        if r.reason != "other_failure"
    ]
    if following:
        unproven.append(
            Reason(
                f"另有 {len(following)} 条 MUST 条款因上述失败未能判定（未证实）：{', '.join(following)}",
                f"{len(following)} more MUST clauses could not be judged because of the failures above (not "
                f"demonstrated): {', '.join(following)}",
            )
        )
    if reasons:
        return FAIL, reasons + unproven + could_not
    if errors:
        return COULD_NOT_RUN, could_not
    if unproven:
        return FAIL, unproven
    return PASS, []


#: Root-cause kinds, the most fundamental first (a product that never started explains everything after it).
CAUSE_ORDER = ("product_start", "identity", "rejection", "product_exit", "case")


def root_causes(cases: Sequence[CaseResult], rows: Sequence[ClauseRow]) -> list[dict[str, Any]]:
    """Failures grouped by shared cause: the root clauses, the clauses that follow from them, the cases.

    Cases whose failure carries the same ``cause["key"]`` form one group; any other failed case is a group of
    its own (root: the clauses it failed). Groups are ordered by kind (``CAUSE_ORDER``), then by size. A case
    that failed only clauses not applicable to the product's interface version explains nothing."""
    state = {r.id: r.state for r in rows}
    unbound = {r.id for r in rows if r.reason == "interface_version"}
    groups: dict[str, dict[str, Any]] = {}
    order: list[str] = []
    for c in cases:
        if c.verdict not in FAILED:
            continue
        failed = [k for k, s in c.judged().items() if s == "failed"]
        if failed and set(failed) <= unbound:
            continue  # it failed only clauses that do not bind the product's interface version: no root cause
        # A case without a shared cause is a group of its own: kind "case", root its failed clauses, its message.
        cause = c.cause or {"key": f"case:{c.id}"}
        g = groups.get(cause["key"])
        if g is None:
            g = groups[cause["key"]] = {
                "key": cause["key"],
                "kind": cause.get("kind", "case"),
                "root_clauses": list(dict.fromkeys(cause.get("root") or failed)),
                "zh": cause.get("zh") or _first(c.message),
                "en": cause.get("en") or _first(c.message),
                "cases": [],
                "_follow": [],
            }
            order.append(cause["key"])
        g["cases"].append(c.id)
        g["_follow"] += [k for k in (*failed, *c.clauses) if k not in g["root_clauses"]]
    out = []
    for key in order:
        g = groups.pop(key)
        follow = list(dict.fromkeys(g.pop("_follow")))
        g["root_clauses"] = [{"id": k, "state": state.get(k, "failed")} for k in g["root_clauses"]]
        g["consequences"] = [{"id": k, "state": state.get(k, "not_demonstrated")} for k in follow]
        g["blocking"] = any(
            r.blocking for r in rows if r.id in {x["id"] for x in g["root_clauses"] + g["consequences"]}
        )
        out.append(g)
    kinds = {k: i for i, k in enumerate(CAUSE_ORDER)}
    out.sort(key=lambda g: (kinds.get(g["kind"], len(kinds)), -len(g["cases"])))
    return out


def _short(case_id: str) -> str:
    return case_id.rpartition("::")[2] or case_id


def _first(text: str) -> str:
    lines = [ln.strip() for ln in text.strip().splitlines() if ln.strip()]
    return lines[0][:300] if lines else "?"
