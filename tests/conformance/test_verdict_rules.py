"""The verdict rules (conformance/_results.py, SPEC.md “认证结论 / Verdict”), tested directly.

A full truth table: case outcome × clause level × profile membership → clause state → verdict; the MUST+SHOULD
split of a case that cites both; clauses with no case, features not claimed, class exclusions, the other
subject; several cases on one clause; root-cause grouping. No pytest run here: the pure functions.
"""

from __future__ import annotations

import itertools
from dataclasses import replace
from typing import Any

import pytest
from santong.conformance._outcomes import (
    NA_REASONS,
    ClauseFailure,
    not_applicable,
    parse_skip,
    tagged_clauses,
)
from santong.conformance._profiles import Profile, profiles
from santong.conformance._results import (
    COULD_NOT_RUN,
    FAIL,
    PASS,
    CaseResult,
    Deselected,
    clause_table,
    coverage,
    root_causes,
    verdict,
)
from santong.protocols import clauses

MUST, SHOULD, OTHER = "ST-DATA-011", "ST-DATA-029", "ST-DATA-019"  # OTHER: a MUST clause kept passing
OUTSIDE_MUST = "ST-PROTO-013"  # a MUST clause outside the test profile


def _profile(*ids: str, excluded: tuple[str, ...] = ()) -> Profile:
    return Profile("t", "测试", "Test", "", "", "safety_monitoring", ("product",), ids, (), excluded)


def _case(cid: str, *clause_ids: str, verdict_: str = "passed", **kw: Any) -> CaseResult:
    return CaseResult(id=f"suite.py::{cid}", name=cid, clauses=clause_ids, verdict=verdict_, **kw)


def _decide(
    cases: list[CaseResult], profile: Profile, deselected: list[Deselected] | None = None
) -> tuple[str, dict[str, str]]:
    rows = clause_table(profile, "product", cases, deselected or [])
    v, _ = verdict(cases, rows, [], [])
    return v, {r.id: r.state for r in rows}


def test_catalogue_levels_used_here() -> None:
    cs = clauses()
    assert cs[MUST].level == "MUST" and cs[OTHER].level == "MUST" and cs[SHOULD].level == "SHOULD"
    assert cs[OUTSIDE_MUST].level == "MUST"


#: case outcome → (clause state, verdict when the clause is a MUST of the profile, … a SHOULD of the profile)
TRUTH = {
    "passed": ("passed", PASS, PASS),
    "failed": ("failed", FAIL, PASS),
    "xpassed": ("failed", FAIL, PASS),  # a waived case that passes: the waiver is stale
    "error": ("error", COULD_NOT_RUN, COULD_NOT_RUN),
    "skipped": ("not_demonstrated", FAIL, PASS),
    "not_applicable": ("not_applicable", PASS, PASS),
    "waived": ("waived", PASS, PASS),
    "xfailed": ("waived", PASS, PASS),
    "not_run": ("not_demonstrated", FAIL, PASS),
}


@pytest.mark.parametrize(
    ("outcome", "level", "in_profile"),
    list(itertools.product(TRUTH, ("MUST", "SHOULD"), (True, False))),
)
def test_truth_table(outcome: str, level: str, in_profile: bool) -> None:
    """One case on one clause, beside a MUST clause that passes: state and verdict for every combination."""
    clause_id = MUST if level == "MUST" else SHOULD
    if not in_profile and level == "MUST":
        clause_id = OUTSIDE_MUST
    kw: dict[str, Any] = {}
    v = outcome
    if outcome == "not_applicable":
        v, kw = "skipped", {"na_reason": "transport"}
    case = _case("judged", clause_id, verdict_=v, message="why", **kw)
    base = _case("base", OTHER)
    profile = _profile(OTHER, clause_id) if in_profile else _profile(OTHER)
    got, states = _decide([base, case], profile)
    state, must_verdict, should_verdict = TRUTH[outcome]
    assert states[clause_id] == state
    if in_profile:
        assert got == (must_verdict if level == "MUST" else should_verdict)
    else:
        # Outside the profile nothing blocks; only an environment error stops the run.
        assert got == (COULD_NOT_RUN if outcome == "error" else PASS)
    assert case.blocking == (in_profile and level == "MUST" and state == "failed")


def test_must_and_should_in_one_case_are_judged_apart() -> None:
    """A case citing a MUST and a SHOULD clause: a failure tagged with the SHOULD clause fails only it (the MUST
    clause it never reached is not demonstrated); an untagged failure fails both; blocking follows the MUST."""
    profile = _profile(MUST, SHOULD)
    tagged_should = _case(
        "c", MUST, SHOULD, verdict_="failed", failed_clauses=tagged_clauses(f"[{SHOULD}] bad")
    )
    v, states = _decide([tagged_should], profile)
    assert states == {MUST: "not_demonstrated", SHOULD: "failed"} and v == FAIL
    assert not tagged_should.blocking  # what blocks is the MUST clause not demonstrated, not this failure

    tagged_must = _case("c", MUST, SHOULD, verdict_="failed", failed_clauses=(MUST,))
    v, states = _decide([tagged_must], profile)
    assert states == {MUST: "failed", SHOULD: "not_demonstrated"} and v == FAIL and tagged_must.blocking

    untagged = _case("c", MUST, SHOULD, verdict_="failed")
    v, states = _decide([untagged], profile)
    assert states == {MUST: "failed", SHOULD: "failed"} and v == FAIL and untagged.blocking

    only_should = _case("c", SHOULD, verdict_="failed")
    v, states = _decide([_case("m", MUST), only_should], profile)
    assert v == PASS and not only_should.blocking and states[SHOULD] == "failed"


def test_failure_may_name_a_clause_the_case_does_not_cite() -> None:
    """Evidence names the clause: a post-sync rejection for ST-DATA-023 fails 023, not the cited 031."""
    profile = _profile("ST-DATA-031", "ST-DATA-023")
    case = _case("sync", "ST-DATA-031", verdict_="failed", failed_clauses=("ST-DATA-023",))
    v, states = _decide([case, _case("alarms", "ST-DATA-023")], profile)
    assert states["ST-DATA-023"] == "failed" and states["ST-DATA-031"] == "not_demonstrated"
    assert v == FAIL and case.blocking


def test_must_clause_without_a_case_is_not_demonstrated() -> None:
    v, states = _decide([_case("c", OTHER)], _profile(OTHER, MUST))
    assert states[MUST] == "not_demonstrated" and v == FAIL
    v, states = _decide([_case("c", OTHER)], _profile(OTHER, SHOULD))
    assert states[SHOULD] == "not_demonstrated" and v == PASS


def test_unclaimed_feature_leaves_the_clause_not_demonstrated() -> None:
    """Declaring less never helps: a MUST clause whose only case needs an unclaimed feature blocks PASS."""
    held = [Deselected("suite.py::alarm", (MUST,), "feature_not_claimed", ("alarms",))]
    rows = clause_table(_profile(OTHER, MUST), "product", [_case("c", OTHER)], held)
    row = next(r for r in rows if r.id == MUST)
    assert row.state == "not_demonstrated" and row.reason == "feature_not_claimed" and row.blocking
    assert row.detail is not None and "alarms" in row.detail.en
    v, reasons = verdict([_case("c", OTHER)], rows, [], [], missing_features=["alarms"])
    assert v == FAIL and any("alarms" in r.en for r in reasons)


def test_required_feature_missing_fails_even_behind_a_should_clause() -> None:
    rows = clause_table(_profile(OTHER), "product", [_case("c", OTHER)], [])
    assert verdict([_case("c", OTHER)], rows, [], [])[0] == PASS
    assert verdict([_case("c", OTHER)], rows, [], [], missing_features=["commands.time_sync"])[0] == FAIL


def test_needs_inspection_is_not_applicable() -> None:
    held = [Deselected("suite.py::live", (MUST,), "needs_inspection")]
    v, states = _decide([_case("c", OTHER)], _profile(OTHER, MUST), held)
    assert states[MUST] == "not_applicable" and v == PASS


def test_class_exclusions_and_other_subject_are_not_applicable() -> None:
    rows = clause_table(_profile(OTHER, excluded=(MUST,)), "product", [_case("c", OTHER)], [])
    row = next(r for r in rows if r.id == MUST)
    assert (row.state, row.reason, row.in_profile, row.blocking) == (
        "not_applicable",
        "product_class",
        False,
        False,
    )
    # ST-PROTO-001 is checked on the platform: in a product run it is the other side's clause.
    rows = clause_table(_profile(OTHER, "ST-PROTO-001"), "product", [_case("c", OTHER)], [])
    assert next(r for r in rows if r.id == "ST-PROTO-001").reason == "subject"
    # ST-PROTO-005 (product) in a platform run, the same.
    rows = clause_table(_profile("ST-PROTO-005"), "platform", [_case("c", "ST-PROTO-005")], [])
    assert rows[0].state == "not_applicable" and rows[0].reason == "subject"


@pytest.mark.parametrize(
    ("outcomes", "state"),
    [
        (("passed", "passed"), "passed"),
        (("passed", "skipped"), "not_demonstrated"),
        (("passed", "na"), "passed"),
        (("na", "na"), "not_applicable"),
        (("passed", "failed"), "failed"),
        (("skipped", "failed"), "failed"),
        (("error", "skipped"), "error"),
        (("waived", "passed"), "waived"),
    ],
)
def test_several_cases_on_one_clause_take_the_worst(outcomes: tuple[str, str], state: str) -> None:
    cases = [
        _case(f"c{i}", MUST, verdict_="skipped", na_reason="transport")
        if o == "na"
        else _case(f"c{i}", MUST, verdict_=o)
        for i, o in enumerate(outcomes)
    ]
    _, states = _decide(cases, _profile(MUST))
    assert states[MUST] == state


def test_nothing_selected_or_collection_error_could_not_run() -> None:
    rows = clause_table(_profile(MUST), "product", [], [])
    assert verdict([], rows, [], [])[0] == COULD_NOT_RUN
    case = _case("c", MUST)
    rows = clause_table(_profile(MUST), "product", [case], [])
    assert verdict([case], rows, ["suite.py: SyntaxError"], [])[0] == COULD_NOT_RUN
    assert verdict([case], rows, [], [], interrupted="KeyboardInterrupt")[0] == COULD_NOT_RUN
    assert verdict([case], rows, [], ["expired waiver"])[0] == FAIL


def test_a_failure_beats_an_environment_error() -> None:
    cases = [_case("a", MUST, verdict_="failed"), _case("b", OTHER, verdict_="error", message="no engine")]
    rows = clause_table(_profile(MUST, OTHER), "product", cases, [])
    v, reasons = verdict(cases, rows, [], [])
    assert v == FAIL and any("no engine" in r.en for r in reasons)


def test_coverage_counts_applicable_must_clauses() -> None:
    cases = [_case("a", MUST), _case("b", OTHER, verdict_="skipped", message="not shown")]
    profile = _profile(MUST, OTHER, SHOULD, excluded=("ST-DATA-006",))
    rows = clause_table(profile, "product", cases, [])
    cov = coverage(profile, rows)
    assert cov["must"] == 3 and cov["must_applicable"] == 2 and cov["must_not_applicable"] == 1
    assert cov["must_passed"] == 1 and cov["must_not_demonstrated"] == 1 and cov["percent_passed"] == 50.0


def test_root_causes_group_failures_that_share_a_cause() -> None:
    cause = {
        "key": "rejection:7",
        "kind": "rejection",
        "root": ["ST-DATA-002"],
        "zh": "拒收",
        "en": "rejected",
    }
    cases = [
        _case("a", "ST-PROTO-018", verdict_="failed", failed_clauses=("ST-DATA-002",), cause=cause),
        _case("b", "ST-PROTO-025", verdict_="failed", failed_clauses=("ST-DATA-002",), cause=cause),
        _case("c", "ST-PROTO-005", verdict_="failed", message="[ST-PROTO-005] gap"),
        _case("d", "ST-PROTO-030", verdict_="failed", cause={**cause, "key": "product_start", "kind": "product_start", "root": ["ST-PROTO-030"]}),
    ]  # fmt: skip
    profile = _profile("ST-DATA-002", "ST-PROTO-018", "ST-PROTO-025", "ST-PROTO-005", "ST-PROTO-030")
    rows = clause_table(profile, "product", cases, [])
    groups = root_causes(cases, rows)
    assert [g["kind"] for g in groups] == ["product_start", "rejection", "case"]
    rej = groups[1]
    assert [r["id"] for r in rej["root_clauses"]] == ["ST-DATA-002"]
    assert rej["root_clauses"][0]["state"] == "failed"
    assert {c["id"] for c in rej["consequences"]} == {"ST-PROTO-018", "ST-PROTO-025"}
    assert all(c["state"] == "not_demonstrated" for c in rej["consequences"])
    assert rej["cases"] == ["suite.py::a", "suite.py::b"] and rej["blocking"]
    assert [r["id"] for r in groups[2]["root_clauses"]] == ["ST-PROTO-005"]


def test_outcome_helpers() -> None:
    assert tagged_clauses("[ST-DATA-011] [ST-PROTO-005] x [ST-DATA-001]") == ("ST-DATA-011", "ST-PROTO-005")
    assert tagged_clauses("AssertionError: [ST-DATA-011] unit") == ("ST-DATA-011",)
    assert tagged_clauses("no tag [ST-DATA-011]") == ()
    assert parse_skip("[N/A:transport] 只适用于 HTTP") == ("transport", "只适用于 HTTP")
    assert parse_skip("[N/A:whatever] x") == (None, "[N/A:whatever] x")  # not on the closed list
    assert parse_skip("plain") == (None, "plain")
    with pytest.raises(ValueError, match="unknown not-applicable reason"):
        not_applicable("because", "因为", "because")
    e = ClauseFailure(["ST-DATA-002", "ST-DATA-002"], "bad", {"key": "k"})
    assert e.clause_ids == ("ST-DATA-002",) and str(e).startswith("[ST-DATA-002] bad")


def test_na_reasons_are_documented_in_the_spec() -> None:
    """The closed list of not-applicable reasons is the one SPEC.md documents."""
    from cf_fixtures import ROOT

    spec = (ROOT / "protocols" / "SPEC.md").read_text(encoding="utf-8")
    for reason in NA_REASONS:
        assert f"`{reason}`" in spec, reason


def test_profiles_resolve_class_exclusions_apart() -> None:
    p = profiles().resolve("standard", "safety_monitoring")
    assert "ST-DATA-006" in p.class_excluded and "ST-DATA-006" not in p.clause_ids
    q = profiles().resolve("standard", "personnel_position")
    assert "ST-PROTO-027" in q.class_excluded
    assert replace(p, class_excluded=()).class_excluded == ()


def test_one_reason_per_environment_cause() -> None:
    """An unreachable platform stops every case for the same reason: the verdict says it once."""
    cases = [
        _case(f"c{i}", MUST, verdict_="error", message="平台无应答 / the platform does not answer")
        for i in range(5)
    ]
    cases.append(_case("d", OTHER, verdict_="error", message="no engine"))
    rows = clause_table(_profile(MUST, OTHER), "product", cases, [])
    v, reasons = verdict(cases, rows, [], [])
    assert v == COULD_NOT_RUN
    assert [r.en for r in reasons] == [
        "5 cases could not run: 平台无应答 / the platform does not answer",
        "suite.py::d could not run: no engine",
    ]
