"""A product is judged by the interface version it negotiated (ST-PROTO-004): a clause whose ``since`` is newer
(ST-PROTO-036, test events: 1.1) is not applicable to a 1.0 product — reason ``interface_version``, with both
versions named — in the clause table, the root causes, report.json (against its schema) and the HTML report;
with the version unknown (a URL target) or 1.1, nothing changes.

The pure functions first, then one real in-process run of a small suite whose session learnt "1.0"."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import jsonschema
import pytest
from cf_fixtures import certify_cases
from santong.conformance._documents import load_schema
from santong.conformance._outcomes import NA_REASONS
from santong.conformance._profiles import Profile
from santong.conformance._results import (
    FAIL,
    CaseResult,
    clause_table,
    interface_version_reason,
    root_causes,
    verdict,
)
from santong.protocols import clauses

pytestmark = pytest.mark.timeout(60)

EVENTS, ALARMS = "ST-PROTO-036", "ST-PROTO-027"
CERT_MODE = "certification mode"
TEXT_ZH, TEXT_EN = (
    "条款随接口 1.1 引入，产品协商的版本为 1.0",
    "the clause came with interface 1.1; the product negotiated 1.0",
)


def _profile() -> Profile:
    return Profile("t", "测试", "Test", "", "", "safety_monitoring", ("product",), (EVENTS, ALARMS), (), ())


def _cases() -> list[CaseResult]:
    """What today's suite reported for a 1.0 product sent TEST_EVENT: the event case failed on ST-PROTO-036
    with the certification-mode text, the alarm case could not provoke its alarm."""
    failed = CaseResult(
        id="s.py::test_sensor_fault",
        name="test_sensor_fault",
        clauses=(EVENTS,),
        verdict="failed",
        message=f"[{EVENTS}] the manifest's start command must put the product in {CERT_MODE}",
        failed_clauses=(EVENTS,),
    )
    alarm = CaseResult(
        id="s.py::test_methane",
        name="test_methane",
        clauses=(ALARMS, EVENTS),
        verdict="skipped",
        message="需要测试事件（接口 1.1，ST-PROTO-036）/ needs test events (interface 1.1, ST-PROTO-036)",
    )
    return [failed, alarm]


def test_the_reason_is_in_the_closed_list_and_names_both_versions() -> None:
    assert "interface_version" in NA_REASONS and all(NA_REASONS["interface_version"])
    assert clauses()[EVENTS].since == "1.1" and clauses()[ALARMS].since == ""
    why = interface_version_reason(EVENTS, "1.0")
    assert why is not None and TEXT_ZH in why.zh and TEXT_EN in why.en
    assert interface_version_reason(EVENTS, "1.1") is None and interface_version_reason(EVENTS, None) is None
    assert interface_version_reason(EVENTS, "1.10") is None  # numerically newer than 1.1
    assert interface_version_reason(ALARMS, "1.0") is None and interface_version_reason(EVENTS, "x") is None


def test_a_1_0_product_is_not_bound_by_a_1_1_clause() -> None:
    """Under 1.0 ST-PROTO-036 is not applicable whatever its case found, and the failure that cited it is no
    root cause; the alarm clause stays not demonstrated (it blocks PASS: an alarm was never shown)."""
    cases = _cases()
    rows = clause_table(_profile(), "product", cases, [], "1.0")
    by = {r.id: r for r in rows}
    assert by[EVENTS].state == "not_applicable" and by[EVENTS].reason == "interface_version"
    assert by[EVENTS].detail is not None and TEXT_ZH in by[EVENTS].detail.zh and not by[EVENTS].blocking
    assert by[EVENTS].as_dict()["reason_en"].startswith(TEXT_EN)
    assert by[ALARMS].state == "not_demonstrated" and by[ALARMS].blocking
    assert root_causes(cases, rows) == []
    v, reasons = verdict(cases, rows, [], [])
    assert v == FAIL and reasons and all(r.en.startswith(ALARMS) and CERT_MODE not in r.en for r in reasons)


@pytest.mark.parametrize("version", ["1.1", None])
def test_a_1_1_product_or_an_unknown_version_keeps_todays_verdict(version: str | None) -> None:
    """Negotiated 1.1, or not known (a platform URL without inspection): the failure stands, with its text."""
    cases = _cases()
    rows = clause_table(_profile(), "product", cases, [], version)
    assert {r.id: r.state for r in rows}[EVENTS] == "failed"
    [cause] = root_causes(cases, rows)
    assert CERT_MODE in cause["en"] and [c["id"] for c in cause["root_clauses"]] == [EVENTS]


CASES = """
import pytest
from santong.conformance import not_applicable, not_demonstrated
from santong.conformance.plugin import session_of


@pytest.fixture(autouse=True, scope="session")
def negotiated(request):
    session_of(request.config).negotiated_version = "1.0"  # what the live fixtures learn from the platform


@pytest.mark.clause("ST-PROTO-036")
def test_event_fails_as_before(evidence):
    assert False, "[ST-PROTO-036] the manifest's start command must put the product in certification mode"


@pytest.mark.clause("ST-PROTO-005")
def test_heartbeat():
    pass
"""


@pytest.fixture(scope="module")
def report(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    folder = tmp_path_factory.mktemp("version_na")
    _, out = certify_cases(folder, CASES, "full", name="test_version_cases.py")
    signed = (out / "report.json").read_bytes()
    return {"doc": json.loads(signed), "html": (Path(out) / "report.html").read_text(encoding="utf-8")}


def test_report_and_html_say_why_under_the_negotiated_version(report: dict[str, Any]) -> None:
    doc = report["doc"]
    jsonschema.Draft202012Validator(load_schema("report")).validate(doc)
    r = doc["report"]
    assert r["run"]["negotiated_version"] == "1.0"
    [row] = [c for c in r["results"]["clauses"] if c["id"] == EVENTS]
    assert (row["state"], row["reason"], row["blocking"]) == ("not_applicable", "interface_version", False)
    assert TEXT_ZH in row["reason_zh"] and TEXT_EN in row["reason_en"]
    assert all(CERT_MODE not in json.dumps(g) for g in r["results"]["root_causes"])
    html = report["html"]
    na = html[html.index(f">{EVENTS}<", html.index("不适用")) :][:1500]
    assert TEXT_ZH in na and TEXT_EN in na, na
    assert "协商的接口版本 negotiated interface 1.0" in html
