"""The details of the verdict, clause-state and root-cause code (conformance/_results.py, _outcomes.py) that the
rule tests (test_verdict_rules.py) do not pin down: the JSON forms, every reason text, ordering, defaults.

Written to kill the mutants ``make mutation`` found surviving; each test states the behaviour it guards.
"""

from __future__ import annotations

from typing import Any

import pytest
from santong.conformance._outcomes import (
    NA_REASONS,
    ClauseFailure,
    fail_clauses,
    not_applicable,
    not_demonstrated,
    parse_skip,
    tagged_clauses,
)
from santong.conformance._profiles import Profile
from santong.conformance._results import (
    COULD_NOT_RUN,
    FAIL,
    PASS,
    CaseResult,
    ClauseRow,
    Deselected,
    Reason,
    clause_table,
    coverage,
    root_causes,
    verdict,
)
from santong.protocols import clauses

MUST, MUST2, MUST3, SHOULD = "ST-DATA-011", "ST-DATA-019", "ST-DATA-012", "ST-DATA-029"
PLATFORM, PLATFORM2 = "ST-IFACE-001", "ST-IFACE-002"  # checked on the platform only


def _profile(*ids: str, excluded: tuple[str, ...] = (), cls: str = "safety_monitoring") -> Profile:
    return Profile("t", "测试", "Test", "", "", cls, ("product",), ids, (), excluded)


def _case(cid: str, *clause_ids: str, verdict_: str = "passed", **kw: Any) -> CaseResult:
    return CaseResult(id=f"suite.py::{cid}", name=cid, clauses=clause_ids, verdict=verdict_, **kw)


def _rows(
    profile: Profile, cases: list[CaseResult], held: list[Deselected] | None = None
) -> dict[str, ClauseRow]:
    return {r.id: r for r in clause_table(profile, "product", cases, held or [])}


def _na(reason: str) -> Reason:
    return Reason(*NA_REASONS[reason])


# ------------------------------------------------------------------------------------------ JSON forms


def test_case_result_json_form() -> None:
    cause = {"key": "rejection:7", "kind": "rejection", "root": [MUST]}
    case = CaseResult(
        id="suite/test_data.py::test_units",
        name="test_units",
        clauses=(MUST, MUST2),
        features=("alarms", "backfill"),
        subject="platform",
        verdict="failed",
        message="[ST-DATA-011] bad unit",
        duration_s=1.23456,
        evidence={"records": {"n": 1}, "samples": []},
        waiver={"owner": "张工"},
        failed_clauses=(MUST,),
        na_reason=None,
        cause=cause,
    )
    assert case.as_dict() == {
        "id": "suite/test_data.py::test_units",
        "name": "test_units",
        "clauses": [MUST, MUST2],
        "features": ["alarms", "backfill"],
        "subject": "platform",
        "verdict": "failed",
        "blocking": False,
        "failed_clauses": [MUST],
        "not_applicable": None,
        "cause": "rejection:7",
        "message": "[ST-DATA-011] bad unit",
        "duration_s": 1.235,
        "evidence": {"records": {"n": 1}, "samples": []},
        "waiver": {"owner": "张工"},
    }
    na = _case("na", MUST, verdict_="skipped", na_reason="transport", duration_s=0.0004)
    d = na.as_dict()
    assert (d["not_applicable"], d["cause"], d["duration_s"], d["failed_clauses"]) == (
        "transport",
        None,
        0.0,
        [],
    )


def test_clause_row_json_form() -> None:
    c = clauses()[MUST]
    row = ClauseRow(MUST, True, "not_demonstrated", "skipped", Reason("原因", "why"), ["suite.py::a"])
    assert row.as_dict() == {
        "id": MUST,
        "level": "MUST",
        "title_zh": c.title_zh,
        "title_en": c.title_en,
        "in_profile": True,
        "state": "not_demonstrated",
        "reason": "skipped",
        "reason_zh": "原因",
        "reason_en": "why",
        "blocking": True,
        "cases": ["suite.py::a"],
    }
    passed = ClauseRow(SHOULD, False, "passed").as_dict()
    assert (passed["reason_zh"], passed["reason_en"], passed["blocking"], passed["cases"]) == (
        None,
        None,
        False,
        [],
    )


# ------------------------------------------------------------------------------------------ clause table


def test_a_failure_naming_some_clauses_leaves_the_others_unreached_by_that_case() -> None:
    """The cited clauses a named failure did not reach are not demonstrated *by that case* (reason
    other_failure, the case listed), not “no case judges this clause”."""
    case = _case(
        "c", MUST, MUST2, verdict_="failed", failed_clauses=(MUST,), message="[ST-DATA-011] bad\nmore"
    )
    assert case.judged() == {MUST: "failed", MUST2: "not_demonstrated"}
    row = _rows(_profile(MUST, MUST2), [case])[MUST2]
    assert (row.state, row.reason, row.cases) == ("not_demonstrated", "other_failure", ["suite.py::c"])
    assert row.detail == Reason("c：[ST-DATA-011] bad", "c: [ST-DATA-011] bad")


def test_every_class_exclusion_and_other_side_clause_gets_its_row() -> None:
    """Several excluded clauses, several other-side clauses, then a clause outside the profile: all listed,
    each with the closed-list reason text."""
    out = "ST-PROTO-013"  # judged, outside the profile
    profile = _profile(PLATFORM, PLATFORM2, MUST, excluded=("ST-DATA-006", "ST-DATA-007"))
    rows = clause_table(profile, "product", [_case("c", MUST), _case("o", out)], [])
    assert [(r.id, r.state, r.reason, r.in_profile) for r in rows] == [
        (PLATFORM, "not_applicable", "subject", True),
        (PLATFORM2, "not_applicable", "subject", True),
        (MUST, "passed", None, True),
        ("ST-DATA-006", "not_applicable", "product_class", False),
        ("ST-DATA-007", "not_applicable", "product_class", False),
        (out, "passed", None, False),
    ]
    by_id = {r.id: r for r in rows}
    assert by_id[PLATFORM].detail == _na("subject") and by_id["ST-DATA-006"].detail == _na("product_class")
    assert by_id[out].in_profile is False and by_id[MUST].cases == ["suite.py::c"]


def test_a_failure_is_not_hidden_by_a_feature_that_was_not_claimed() -> None:
    held = [Deselected("suite.py::alarm", (MUST,), "feature_not_claimed", ("alarms",))]
    row = _rows(_profile(MUST), [_case("c", MUST, verdict_="failed")], held)[MUST]
    assert row.state == "failed" and row.cases == ["suite.py::c", "suite.py::alarm"]


def test_unclaimed_features_beside_a_passing_case_name_every_missing_feature() -> None:
    held = [
        Deselected("suite.py::b", (MUST,), "feature_not_claimed", ("backfill",)),
        Deselected("suite.py::a", (MUST,), "feature_not_claimed", ("alarms", "backfill")),
    ]
    row = _rows(_profile(MUST), [_case("c", MUST)], held)[MUST]
    assert (row.state, row.reason, row.in_profile) == ("not_demonstrated", "feature_not_claimed", True)
    assert row.detail == Reason(
        "判定该条款的用例需要未声明的功能 alarms, backfill",
        "the cases that judge this clause need features not claimed: alarms, backfill",
    )
    assert row.cases == ["suite.py::c", "suite.py::b", "suite.py::a"]


def test_a_skipped_case_beside_an_unclaimed_feature_says_why_it_skipped() -> None:
    held = [Deselected("suite.py::a", (MUST,), "feature_not_claimed", ("alarms",))]
    row = _rows(
        _profile(MUST), [_case("c", MUST, verdict_="skipped", message="\n  no alarm seen  \n")], held
    )[MUST]
    assert (row.reason, row.detail) == ("skipped", Reason("c：no alarm seen", "c: no alarm seen"))


def test_not_demonstrated_reasons_by_case_outcome() -> None:
    rows = _rows(
        _profile(MUST, MUST2, MUST3),
        [
            _case("silent", MUST, verdict_="not_run"),
            _case("skip", MUST2, verdict_="skipped", message="not shown"),
            _case("other", MUST3, MUST, verdict_="failed", failed_clauses=(MUST,), message="x"),
        ],
    )
    assert (rows[MUST2].reason, rows[MUST2].detail) == (
        "skipped",
        Reason("skip：not shown", "skip: not shown"),
    )
    assert (rows[MUST3].reason, rows[MUST3].detail) == ("other_failure", Reason("other：x", "other: x"))
    # MUST: failed beats not run; a not-run case with no message says "?".
    only = _rows(_profile(MUST), [_case("silent", MUST, verdict_="not_run")])[MUST]
    assert (only.reason, only.detail) == ("other_failure", Reason("silent：?", "silent: ?"))


def test_no_case_reason_text() -> None:
    row = _rows(_profile(MUST), [])[MUST]
    assert (row.state, row.reason, row.cases) == ("not_demonstrated", "no_case", [])
    assert row.detail == Reason("测试套件中没有判定该条款的用例", "no case of the suite judges this clause")


def test_not_applicable_takes_the_case_reason_over_needs_inspection() -> None:
    held = [Deselected("suite.py::live", (MUST,), "needs_inspection")]
    row = _rows(_profile(MUST), [_case("c", MUST, verdict_="skipped", na_reason="transport")], held)[MUST]
    assert (row.state, row.reason, row.detail) == ("not_applicable", "transport", _na("transport"))
    assert row.in_profile is True and row.cases == ["suite.py::c", "suite.py::live"]
    only_held = _rows(_profile(MUST), [], held)[MUST]
    assert (only_held.reason, only_held.detail) == ("needs_inspection", _na("needs_inspection"))


# ------------------------------------------------------------------------------------------ coverage


def test_coverage_row_in_full() -> None:
    cases = [
        _case("p", MUST),
        _case("f", MUST2, verdict_="failed"),
        _case("e", MUST3, verdict_="error"),
        _case("w", "ST-DATA-001", verdict_="waived"),
        _case("s", SHOULD, verdict_="failed"),
        _case("n", "ST-DATA-002", verdict_="skipped", na_reason="transport"),
    ]
    profile = _profile(MUST, MUST2, MUST3, "ST-DATA-001", "ST-DATA-002", "ST-DATA-003", SHOULD)
    cov = coverage(profile, clause_table(profile, "product", cases, []))
    assert cov == {
        "profile": "t",
        "name_zh": "测试",
        "name_en": "Test",
        "product_class": "safety_monitoring",
        "clauses": 7,
        "clauses_judged": 4,  # passed, failed (MUST and SHOULD), waived
        "must": 6,
        "must_applicable": 5,
        "must_not_applicable": 1,
        "must_passed": 1,
        "must_failed": 1,
        "must_error": 1,
        "must_not_demonstrated": 1,  # ST-DATA-003: no case
        "must_waived": 1,
        "percent_passed": 20.0,
    }


def test_coverage_percent_rounds_to_one_place_and_is_zero_with_nothing_applicable() -> None:
    profile = _profile(MUST, MUST2, MUST3)
    rows = clause_table(profile, "product", [_case("p", MUST)], [])
    assert coverage(profile, rows)["percent_passed"] == 33.3
    na = [_case("n", MUST, verdict_="skipped", na_reason="transport")]
    cov = coverage(_profile(MUST), clause_table(_profile(MUST), "product", na, []))
    assert cov["must_applicable"] == 0 and cov["percent_passed"] == 0.0


# ------------------------------------------------------------------------------------------ verdict reasons


def _verdict(cases: list[CaseResult], profile: Profile, **kw: Any) -> tuple[str, list[Reason]]:
    rows = clause_table(profile, "product", cases, kw.pop("held", []))
    return verdict(cases, rows, kw.pop("errors", []), kw.pop("expired", []), **kw)


def test_reasons_when_the_run_could_not_happen() -> None:
    case = _case("c", MUST)
    assert _verdict([case], _profile(MUST), errors=["a.py: SyntaxError", "b.py: ImportError"]) == (
        COULD_NOT_RUN,
        [
            Reason(
                "测试套件无法收集：a.py: SyntaxError", "the suite could not be collected: a.py: SyntaxError"
            ),
            Reason(
                "测试套件无法收集：b.py: ImportError", "the suite could not be collected: b.py: ImportError"
            ),
        ],
    )
    assert _verdict([case], _profile(MUST), interrupted="KeyboardInterrupt") == (
        COULD_NOT_RUN,
        [Reason("运行中断：KeyboardInterrupt", "the run was interrupted: KeyboardInterrupt")],
    )
    assert _verdict([], _profile(MUST)) == (
        COULD_NOT_RUN,
        [
            Reason(
                "没有选中任何用例：配置、产品类别与声明的功能的交集为空",
                "no case selected: the profile, the product class and the claimed features leave nothing to run",
            )
        ],
    )


def test_a_failed_must_clause_names_its_first_three_cases_by_short_name() -> None:
    title = clauses()[MUST]
    cases = [_case(f"t{i}", MUST, verdict_="failed") for i in range(4)]
    cases[0].id = "suite/test_a.py::TestUnits::t0"
    v, reasons = _verdict(cases, _profile(MUST))
    assert v == FAIL
    assert reasons == [
        Reason(f"{MUST} {title.title_zh} 失败（t0, t1, t2）", f"{MUST} {title.title_en} failed (t0, t1, t2)")
    ]


def test_stale_waiver_expired_waiver_and_missing_features_reasons() -> None:
    stale = _case("stale", MUST, verdict_="xpassed")
    v, reasons = _verdict(
        [stale],
        _profile(MUST),
        expired=["ST-PROTO-021（张工，2020-01-01）"],
        missing_features=["alarms", "backfill"],
    )
    title = clauses()[MUST]
    assert v == FAIL
    assert reasons == [
        Reason(f"{MUST} {title.title_zh} 失败（stale）", f"{MUST} {title.title_en} failed (stale)"),
        Reason(
            "suite.py::stale 意外通过（豁免已失效）",
            "suite.py::stale passed unexpectedly (the waiver is stale)",
        ),
        Reason(
            "豁免已过期：ST-PROTO-021（张工，2020-01-01）", "waiver expired: ST-PROTO-021（张工，2020-01-01）"
        ),
        Reason(
            "配置要求产品声明功能 alarms, backfill，产品声明中没有：其背后的条款无法证实",
            "the profile requires the features alarms, backfill, which the manifest does not claim: the clauses "
            "behind them cannot be demonstrated",
        ),
    ]


def test_could_not_run_reasons_one_per_cause_in_both_languages() -> None:
    cases = [_case(f"e{i}", MUST, verdict_="error", message="no platform\ntrace") for i in range(2)]
    cases.append(_case("x", MUST2, verdict_="error", message="no engine"))
    assert _verdict(cases, _profile(MUST, MUST2)) == (
        COULD_NOT_RUN,
        [
            Reason("2 个用例无法运行：no platform", "2 cases could not run: no platform"),
            Reason("suite.py::x 无法运行：no engine", "suite.py::x could not run: no engine"),
        ],
    )


def test_not_demonstrated_reasons_and_the_folded_line_for_clauses_a_failure_left_unjudged() -> None:
    t = clauses()
    cases = [
        _case("f", MUST, MUST2, MUST3, verdict_="failed", failed_clauses=(MUST,), message="bad"),
        _case("s", "ST-DATA-001", verdict_="skipped", message="not shown"),
    ]
    v, reasons = _verdict(cases, _profile(MUST, MUST2, MUST3, "ST-DATA-001", "ST-DATA-002"))
    assert v == FAIL
    assert reasons[1:] == [
        Reason(
            f"ST-DATA-001 {t['ST-DATA-001'].title_zh} 未证实：s：not shown",
            f"ST-DATA-001 {t['ST-DATA-001'].title_en} not demonstrated: s: not shown",
        ),
        Reason(
            f"ST-DATA-002 {t['ST-DATA-002'].title_zh} 未证实：测试套件中没有判定该条款的用例",
            f"ST-DATA-002 {t['ST-DATA-002'].title_en} not demonstrated: no case of the suite judges this clause",
        ),
        Reason(
            f"另有 2 条 MUST 条款因上述失败未能判定（未证实）：{MUST2}, {MUST3}",
            f"2 more MUST clauses could not be judged because of the failures above (not demonstrated): "
            f"{MUST2}, {MUST3}",
        ),
    ]
    # Without a failure, a not-demonstrated MUST clause alone fails the run with its own line.
    v, reasons = _verdict([_case("s", MUST, verdict_="skipped", message="not shown")], _profile(MUST))
    assert v == FAIL and reasons == [
        Reason(
            f"{MUST} {t[MUST].title_zh} 未证实：s：not shown",
            f"{MUST} {t[MUST].title_en} not demonstrated: s: not shown",
        )
    ]


def test_a_not_demonstrated_row_without_detail_still_gives_a_reason() -> None:
    row = ClauseRow(MUST, True, "not_demonstrated", "no_case", None, [])
    v, reasons = verdict([_case("c", MUST2)], [row], [], [])
    t = clauses()[MUST]
    assert v == FAIL and reasons == [
        Reason(f"{MUST} {t.title_zh} 未证实：", f"{MUST} {t.title_en} not demonstrated: ")
    ]


def test_pass_has_no_reasons() -> None:
    assert _verdict([_case("c", MUST)], _profile(MUST)) == (PASS, [])


# ------------------------------------------------------------------------------------------ root causes


def test_root_causes_skip_cases_that_did_not_fail_and_group_the_rest_by_case() -> None:
    long = "x" * 400
    cases = [
        _case("ok", MUST3),
        _case("a", MUST, verdict_="failed", message="\n first line \nsecond"),
        _case("ok2", MUST2),
        _case("b", MUST2, verdict_="xpassed", message=long),
        _case("c", SHOULD, verdict_="failed", message=""),
    ]
    groups = root_causes(cases, clause_table(_profile(MUST, MUST2, MUST3, SHOULD), "product", cases, []))
    assert [g["key"] for g in groups] == ["case:suite.py::a", "case:suite.py::b", "case:suite.py::c"]
    a = groups[0]
    assert a == {
        "key": "case:suite.py::a",
        "kind": "case",
        "root_clauses": [{"id": MUST, "state": "failed"}],
        "zh": "first line",
        "en": "first line",
        "cases": ["suite.py::a"],
        "consequences": [],
        "blocking": True,
    }
    assert groups[1]["zh"] == "x" * 300 and groups[1]["en"] == "x" * 300
    assert (groups[2]["zh"], groups[2]["en"], groups[2]["blocking"]) == ("?", "?", False)


def test_root_cause_defaults_when_a_cause_gives_only_its_key() -> None:
    """A cause with only a key: kind ``case``, root = the clauses the case failed, text = the message's first line."""
    case = _case(
        "a", MUST, MUST2, verdict_="failed", failed_clauses=(MUST,), message="bad\nx", cause={"key": "k"}
    )
    (g,) = root_causes([case], clause_table(_profile(MUST, MUST2), "product", [case], []))
    assert (g["key"], g["kind"], g["zh"], g["en"]) == ("k", "case", "bad", "bad")
    assert g["root_clauses"] == [{"id": MUST, "state": "failed"}]
    assert g["consequences"] == [{"id": MUST2, "state": "not_demonstrated"}]


def test_a_root_clause_no_case_judged_is_reported_failed() -> None:
    """The root a cause names need not be a clause any case judged (nor in the profile): it is the failure."""
    cause = {"key": "identity:3", "kind": "identity", "root": ["ST-DATA-029"], "zh": "身份", "en": "identity"}
    case = _case("a", MUST, verdict_="failed", failed_clauses=(MUST,), cause=cause)
    (g,) = root_causes([case], clause_table(_profile(MUST), "product", [case], []))
    assert g["root_clauses"] == [{"id": "ST-DATA-029", "state": "failed"}]
    assert g["consequences"] == [{"id": MUST, "state": "failed"}]
    assert (g["zh"], g["en"], g["kind"]) == ("身份", "identity", "identity")


def test_a_root_clause_takes_its_state_from_the_clause_table() -> None:
    """A cause's root clause that another case judged shows that clause's state (here waived), not “failed”."""
    cause = {"key": "rejection:1", "kind": "rejection", "root": [MUST2], "zh": "拒收", "en": "rejected"}
    cases = [
        _case("a", MUST, verdict_="failed", failed_clauses=(MUST,), cause=cause),
        _case("w", MUST2, verdict_="waived"),
    ]
    (g,) = root_causes(cases, clause_table(_profile(MUST, MUST2), "product", cases, []))
    assert g["root_clauses"] == [{"id": MUST2, "state": "waived"}]
    assert g["consequences"] == [{"id": MUST, "state": "failed"}]


def test_only_groups_touching_a_blocking_clause_block() -> None:
    cases = [_case("must", MUST, verdict_="failed"), _case("should", SHOULD, verdict_="failed")]
    groups = root_causes(cases, clause_table(_profile(MUST, SHOULD), "product", cases, []))
    assert [(g["key"], g["blocking"]) for g in groups] == [
        ("case:suite.py::must", True),
        ("case:suite.py::should", False),
    ]


def test_root_causes_order_kind_first_then_size_unknown_kinds_last() -> None:
    def failing(name: str, key: str, kind: str) -> CaseResult:
        return _case(name, MUST, verdict_="failed", cause={"key": key, "kind": kind, "root": [MUST]})

    cases = [
        failing("u", "weird", "other_kind"),
        failing("r1", "rejection:1", "rejection"),
        failing("r2a", "rejection:2", "rejection"),
        failing("r2b", "rejection:2", "rejection"),
        failing("s", "product_start", "product_start"),
    ]
    groups = root_causes(cases, clause_table(_profile(MUST), "product", cases, []))
    assert [g["key"] for g in groups] == ["product_start", "rejection:2", "rejection:1", "weird"]


# ------------------------------------------------------------------------------------------ outcomes


def test_fail_clauses_raises_a_clause_failure_with_both_languages_and_the_cause() -> None:
    cause = {"key": "rejection:1"}
    with pytest.raises(ClauseFailure) as e:
        fail_clauses([MUST, MUST2], "单位错误", "wrong unit", cause=cause)
    assert e.value.clause_ids == (MUST, MUST2) and e.value.cause is cause
    assert str(e.value) == f"[{MUST}] [{MUST2}] 单位错误 / wrong unit"
    with pytest.raises(ClauseFailure) as e:
        fail_clauses([MUST], "单位错误", "wrong unit")
    assert e.value.cause is None


def test_a_clause_failure_without_clauses_keeps_its_message() -> None:
    e = ClauseFailure([], "plain")
    assert e.clause_ids == () and str(e) == "plain" and tagged_clauses(str(e)) == ()


def test_not_demonstrated_and_not_applicable_end_the_case_with_a_skip() -> None:
    with pytest.raises(pytest.skip.Exception, match=r"^未见告警 / no alarm seen$"):
        not_demonstrated("未见告警", "no alarm seen")
    with pytest.raises(pytest.skip.Exception) as e:
        not_applicable("transport", "只适用于 HTTP", "HTTP only")
    assert e.value.msg == "[N/A:transport] 只适用于 HTTP / HTTP only"
    assert parse_skip(e.value.msg) == ("transport", "只适用于 HTTP / HTTP only")


def test_an_unknown_not_applicable_reason_lists_the_known_ones() -> None:
    with pytest.raises(ValueError) as e:
        not_applicable("because", "因为", "because")
    assert str(e.value) == f"unknown not-applicable reason 'because'; known: {', '.join(NA_REASONS)}"


def test_tags_after_pytest_fail_prefix() -> None:
    assert tagged_clauses(f"Failed: [{MUST}] bad") == (MUST,)
    assert tagged_clauses(f"AssertionError: Failed: [{MUST}] bad") == (MUST,)
