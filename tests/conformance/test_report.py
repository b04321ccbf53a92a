"""Reports: canonical signed JSON that follows its schema, JUnit XML, a self-contained bilingual HTML page."""

from __future__ import annotations

import json
import re
import xml.etree.ElementTree as ET
from typing import Any

import jsonschema
import pytest
from cf_fixtures import certify_cases
from santong.conformance import canonical_json, verify_bytes
from santong.conformance._documents import load_schema

pytestmark = pytest.mark.timeout(60)

CASES = """
import pytest

@pytest.mark.clause("ST-DATA-011")
def test_units(evidence):
    evidence.record("points", 4)
    evidence.sample("first </pre><script>alert(1)</script>", {"unit": "<b>%CH4</b>", "值": 1.5})

@pytest.mark.clause("ST-PROTO-017", "ST-PROTO-015")
def test_backoff(evidence):
    evidence.record("delays_ms", [100, 200, 400])
    assert False, "[ST-PROTO-017] back-off is linear: 100, 200, 300"

@pytest.mark.clause("ST-DATA-015")
def test_should():
    assert False, "laxer threshold"

@pytest.mark.clause("ST-PROTO-021")
def test_waived():
    assert False

@pytest.mark.clause("ST-IFACE-013")
@pytest.mark.feature("commands.write_point")
def test_unclaimed():
    pass
"""


@pytest.fixture(scope="module")
def run(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    """One failing run with evidence, a waiver and a deselected case; its report files."""
    folder = tmp_path_factory.mktemp("report")
    (folder / "waivers.yaml").write_text(
        "waivers:\n  - {clause: ST-PROTO-021, owner: 张工, reason: 固件修复中 fix pending, expires: 2999-12-31}\n",
        encoding="utf-8",
    )
    code, out = certify_cases(folder, CASES, "full", "--santong-waivers", str(folder / "waivers.yaml"))
    return {"code": code, "out": out, "signed": (out / "report.json").read_bytes()}


def test_exit_status_and_verdict(run: dict[str, Any]) -> None:
    assert run["code"] == pytest.ExitCode.TESTS_FAILED
    assert json.loads(run["signed"])["report"]["results"]["verdict"] == "FAIL"


def test_report_is_canonical_signed_and_follows_its_schema(run: dict[str, Any]) -> None:
    data = run["signed"]
    doc = json.loads(data)
    assert canonical_json(doc) == data
    assert b"\n" not in data and data.startswith(b'{"certificate":{"algorithm":"Ed25519",')
    assert "示例电子".encode() in data  # UTF-8, not \\u escapes
    jsonschema.Draft202012Validator(load_schema("report")).validate(doc)
    assert verify_bytes(data).valid


def test_report_content(run: dict[str, Any]) -> None:
    r = json.loads(run["signed"])["report"]
    res = r["results"]
    cases = {c["name"]: c for c in res["cases"]}
    assert cases["test_units"]["evidence"]["records"] == {"points": 4}
    assert cases["test_backoff"]["verdict"] == "failed" and cases["test_backoff"]["blocking"]
    assert "back-off is linear" in cases["test_backoff"]["message"]
    assert cases["test_backoff"]["clauses"] == ["ST-PROTO-017", "ST-PROTO-015"]
    assert cases["test_should"]["verdict"] == "failed" and not cases["test_should"]["blocking"]
    assert cases["test_waived"]["verdict"] == "waived" and cases["test_waived"]["waiver"]["owner"] == "张工"
    assert [d["reason"] for d in res["deselected"]] == ["feature_not_claimed"]
    status = {c["id"]: c["state"] for c in res["clauses"]}
    assert status["ST-PROTO-017"] == "failed" and status["ST-DATA-011"] == "passed"
    assert status["ST-PROTO-021"] == "waived" and status["ST-IFACE-013"] == "not_demonstrated"
    # The backoff case cites 017 and 015 but its failure names 017: 015 was not reached.
    assert status["ST-PROTO-015"] == "not_demonstrated"
    causes = res["root_causes"]
    assert [[r["id"] for r in g["root_clauses"]] for g in causes] == [["ST-PROTO-017"], ["ST-DATA-015"]]
    assert not causes[1]["blocking"]  # a SHOULD clause: a warning
    assert res["summary"]["warnings"] == 1
    assert res["coverage"][0]["selected"] and res["coverage"][0]["profile"] == "full"
    assert r["manifest"]["document"]["manifest_version"] == 1
    assert r["versions"]["spec"] == "1.0" and len(r["versions"]["suite_digest"]) == 64
    assert r["environment"]["python"] and r["environment"]["packages"]["santong"]


def test_junit_xml(run: dict[str, Any]) -> None:
    root = ET.fromstring((run["out"] / "junit.xml").read_bytes())
    assert root.tag == "testsuite" and root.get("tests") == "4"
    assert root.get("failures") == "2"
    props = {p.get("name"): p.get("value") for p in root.find("properties") or []}
    assert props["verdict"] == "FAIL" and props["profile"] == "full"
    backoff = next(tc for tc in root.iter("testcase") if tc.get("name") == "test_backoff")
    assert [p.get("value") for p in backoff.iter("property")] == ["ST-PROTO-017", "ST-PROTO-015"]
    assert backoff.find("failure") is not None


def test_html_is_self_contained_bilingual_and_escaped(run: dict[str, Any]) -> None:
    html = (run["out"] / "report.html").read_text(encoding="utf-8")
    assert html.startswith("<!DOCTYPE html>")
    assert "<script" not in html.replace("&lt;script", "")
    assert not re.search(r"""(src|href)\s*=\s*["']?(https?:)?//""", html)
    assert "<link" not in html and "@import" not in html and "url(" not in html
    for text in (
        "不通过",
        "FAIL",
        "条款",
        "Clauses",
        "豁免",
        "Waivers",
        "证书",
        "Certificate",
        "ST-PROTO-017",
        "back-off is linear",
        "张工",
        "&lt;b&gt;%CH4&lt;/b&gt;",
        "完整",
        "Full",
    ):
        assert text in html, text
