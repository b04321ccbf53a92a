"""The report writers of conformance/_report.py, fed report documents directly: JUnit XML element by element,
the environment block, and the three files written side by side with a signature that verifies."""

from __future__ import annotations

import datetime as dt
import json
import platform
import re
import xml.etree.ElementTree as ET
from pathlib import Path
from typing import Any

import pytest
from cf_fixtures import example_manifest, write_manifest
from santong.conformance import generate_key_pair, verify_bytes
from santong.conformance._report import _environment, junit_xml, package_version, write_reports

LONG = "[ST-DATA-011] " + "单位错误 wrong unit " * 60  # > 500 characters


def _report(cases: list[dict[str, Any]], summary: dict[str, int] | None = None) -> dict[str, Any]:
    counts = {"passed": 0, "failed": 0, "error": 0, "skipped": 0, "waived": 0, "xfailed": 0, "xpassed": 0}
    for c in cases:
        counts[c["verdict"]] = counts.get(c["verdict"], 0) + 1
    return {
        "product": {"vendor": "示例电子", "model": "KJ70N", "version": "2.3.1"},
        "profile": {"name": "standard"},
        "versions": {"spec": "1.0", "suite": "0.1.0", "suite_digest": "ab" * 32},
        "run": {"started_at": "2025-01-15T02:30:00Z"},
        "results": {"verdict": "FAIL", "summary": summary or counts, "cases": cases},
    }


def _case(name: str, verdict: str, *, message: str = "", blocking: bool = False, **kw: Any) -> dict[str, Any]:
    return {
        "id": kw.get("id", f"suite/test_data.py::{name}"),
        "clauses": kw.get("clauses", ["ST-DATA-011"]),
        "verdict": verdict,
        "blocking": blocking,
        "message": message,
        "duration_s": kw.get("duration_s", 0.25),
    }


def _cases() -> list[dict[str, Any]]:
    return [
        _case("test_ok", "passed", clauses=["ST-DATA-011", "ST-PROTO-005"], duration_s=1.5),
        _case("test_must", "failed", message=LONG, blocking=True),
        _case("test_should", "failed", message="laxer threshold"),
        _case("test_stale", "xpassed", message="[XPASS(strict)] fixed", blocking=True),
        _case("test_env", "error", message="平台无应答 / the platform does not answer"),
        _case("test_skip", "skipped", message="not shown"),
        _case("test_waived", "waived", message="固件修复中"),
        _case("test_xfail", "xfailed", message="known"),
        _case("test_notrun", "not_run"),
    ]


def _suite(report: dict[str, Any]) -> ET.Element:
    return ET.fromstring(junit_xml(report))


def test_junit_suite_counts_time_and_properties() -> None:
    suite = _suite(_report(_cases()))
    assert suite.tag == "testsuite"
    assert suite.attrib == {
        "name": "santong-conformance",
        "tests": "9",
        "failures": "3",  # failed + xpassed
        "errors": "1",
        "skipped": "3",  # skipped + waived + xfailed
        "time": "3.500",  # 1.5 + 8 × 0.25
        "timestamp": "2025-01-15T02:30:00Z",
    }
    props = suite.find("properties")
    assert props is not None
    assert [(p.get("name"), p.get("value")) for p in props] == [
        ("verdict", "FAIL"),
        ("profile", "standard"),
        ("product", "示例电子 KJ70N 2.3.1"),
        ("spec_version", "1.0"),
        ("suite_version", "0.1.0"),
    ]


def test_junit_counts_come_from_the_summary() -> None:
    summary = {
        "passed": 0,
        "failed": 5,
        "error": 7,
        "skipped": 11,
        "waived": 13,
        "xfailed": 17,
        "xpassed": 19,
    }
    suite = _suite(_report([_case("test_ok", "passed")], summary))
    assert (suite.get("tests"), suite.get("failures"), suite.get("errors"), suite.get("skipped")) == (
        "1",
        "24",
        "7",
        "41",
    )


def test_junit_testcases_name_class_time_and_clauses() -> None:
    suite = _suite(_report(_cases()))
    tcs = suite.findall("testcase")
    assert [tc.get("name") for tc in tcs] == [c["id"].rpartition("::")[2] for c in _cases()]
    ok = tcs[0]
    assert ok.attrib == {"classname": "suite.test_data", "name": "test_ok", "time": "1.500"}
    assert [(p.get("name"), p.get("value")) for p in ok.iter("property")] == [
        ("clause", "ST-DATA-011"),
        ("clause", "ST-PROTO-005"),
    ]
    assert [child.tag for child in ok] == ["properties"]  # a pass has no failure/error/skipped element


def test_junit_classname_keeps_dots_inside_a_name_and_strips_only_the_py_suffix() -> None:
    case = _case("test_x", "passed", id="suite/dir.py/test_py_files.py::TestA::test_x")
    tc = _suite(_report([case])).find("testcase")
    assert tc is not None
    assert (tc.get("classname"), tc.get("name")) == ("suite.dir.py.test_py_files.py::TestA", "test_x")


def _outcome(tc: ET.Element) -> ET.Element:
    (el,) = [child for child in tc if child.tag != "properties"]
    return el


def test_junit_failures_are_typed_by_whether_they_block() -> None:
    tcs = {tc.get("name"): tc for tc in _suite(_report(_cases())).findall("testcase")}
    must = _outcome(tcs["test_must"])
    assert must.tag == "failure"
    assert must.attrib == {"message": LONG[:500], "type": "santong.clause"}
    assert len(LONG) > 500 and must.text == LONG  # the whole message in the body
    should = _outcome(tcs["test_should"])
    assert (should.tag, should.get("type"), should.get("message"), should.text) == (
        "failure",
        "santong.warning",
        "laxer threshold",
        "laxer threshold",
    )
    stale = _outcome(tcs["test_stale"])
    assert (stale.tag, stale.get("type")) == ("failure", "santong.clause")


def test_junit_errors_and_skips() -> None:
    tcs = {tc.get("name"): tc for tc in _suite(_report(_cases())).findall("testcase")}
    env = _outcome(tcs["test_env"])
    assert env.tag == "error" and env.attrib == {"message": "平台无应答 / the platform does not answer"}
    assert env.text == "平台无应答 / the platform does not answer"
    for name, text in (
        ("test_skip", "skipped: not shown"),
        ("test_waived", "waived: 固件修复中"),
        ("test_xfail", "xfailed: known"),
        ("test_notrun", "not_run: "),
    ):
        el = _outcome(tcs[name])
        assert el.tag == "skipped" and el.attrib == {"message": text}, name
    long_error = _case("test_env", "error", message=LONG)
    long_skip = _case("test_skip", "skipped", message=LONG)
    tcs = _suite(_report([long_error, long_skip])).findall("testcase")
    assert _outcome(tcs[0]).get("message") == LONG[:500] and _outcome(tcs[0]).text == LONG
    assert _outcome(tcs[1]).get("message") == f"skipped: {LONG}"[:500]


def test_junit_is_indented_utf8_with_a_declaration() -> None:
    data = junit_xml(_report([_case("test_ok", "passed")]))
    assert data.startswith(b"<?xml version='1.0' encoding='utf-8'?>\n<testsuite ")
    assert "示例电子".encode() in data  # UTF-8, not character references
    assert b"\n  <properties>\n    <property " in data
    assert b'\n  <testcase classname="suite.test_data" name="test_ok" time="0.250">\n' in data


def test_package_version() -> None:
    from importlib import metadata

    assert package_version("pytest") == pytest.__version__
    assert package_version("santong") == metadata.version("santong")
    assert package_version("no-such-distribution-santong") is None


def test_environment_block() -> None:
    from importlib import metadata

    env = _environment()
    assert env == {
        "python": platform.python_version(),
        "implementation": platform.python_implementation(),
        "os": platform.system(),
        "os_release": platform.release(),
        "machine": platform.machine(),
        "pytest": pytest.__version__,
        "packages": {
            n: metadata.version(n) for n in ("santong", "protobuf", "grpcio", "cryptography", "jsonschema")
        },
    }


# ------------------------------------------------------------------------------ a real run's report document

CASES = """
import pytest
from cf_fixtures import example_manifest, write_manifest
from santong.conformance import CouldNotRun

@pytest.mark.clause("ST-DATA-011")
def test_pass(evidence):
    evidence.record("points", 4)

@pytest.mark.clause("ST-PROTO-017")
def test_must_fails():
    assert False, "[ST-PROTO-017] back-off is linear"

@pytest.mark.clause("ST-DATA-015")
def test_should_fails():
    assert False, "laxer threshold"

@pytest.mark.clause("ST-PROTO-021")
def test_waived():
    assert False

@pytest.mark.clause("ST-DATA-019")
@pytest.mark.xfail(reason="known", strict=True)
def test_xfailed():
    assert False

@pytest.mark.clause("ST-DATA-029")
@pytest.mark.xfail(reason="stale", strict=True)
def test_xpassed():
    pass

@pytest.mark.clause("ST-PROTO-005")
def test_error():
    raise CouldNotRun("平台无应答 / the platform does not answer")

@pytest.mark.clause("ST-DATA-012")
def test_skipped():
    pytest.skip("not shown")

@pytest.mark.clause("ST-IFACE-013")
@pytest.mark.feature("commands.write_point")
def test_unclaimed():
    pass

@pytest.mark.clause("ST-IFACE-001")
@pytest.mark.subject("platform")
def test_platform_side():
    pass
"""
FIRMWARE = "f" * 64


def _certify(folder: Path, cases: str, **manifest: Any) -> dict[str, Any]:
    # A module name of its own: in-process runs share sys.modules (test_report.py has a test_cases.py).
    (folder / f"test_report_writing_{folder.name}.py").write_text(cases, encoding="utf-8")
    (folder / "waivers.yaml").write_text(
        "waivers:\n  - {clause: ST-PROTO-021, owner: 张工, reason: 固件修复中 fix pending, expires: 2999-12-31}\n",
        encoding="utf-8",
    )
    path = write_manifest(folder, **manifest)
    out = folder / "out"
    pytest.main(
        [str(folder), "-q", "-p", "no:cacheprovider", "-p", "no:asyncio", "--rootdir", str(folder)]
        + ["--santong-manifest", str(path), "--santong-profile", "full", "--santong-report-dir", str(out)]
        + ["--santong-waivers", str(folder / "waivers.yaml")]
    )
    doc: dict[str, Any] = json.loads((out / "report.json").read_bytes())["report"]
    return doc


# Function-scoped on purpose: mutmut runs, for a mutant, only the tests that called the mutated function, and a
# module-scoped fixture's work is credited to the first test that used it.
@pytest.fixture
def mixed(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    """Every case outcome, a deselected case of each kind, a manifest_version 2 with declared software."""
    software = [{"name": "firmware", "sha256": FIRMWARE}]
    return _certify(tmp_path_factory.mktemp("mixed"), CASES, manifest_version=2, software=software)


@pytest.fixture
def plain(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    """One passing case, a version 1 manifest (no software)."""
    return _certify(tmp_path_factory.mktemp("plain"), CASES.split('@pytest.mark.clause("ST-PROTO-017")')[0])


def test_summary_counts_every_outcome(mixed: dict[str, Any]) -> None:
    res = mixed["results"]
    assert {c["name"]: c["verdict"] for c in res["cases"]} == {
        "test_pass": "passed",
        "test_must_fails": "failed",
        "test_should_fails": "failed",
        "test_waived": "waived",
        "test_xfailed": "xfailed",
        "test_xpassed": "xpassed",
        "test_error": "error",
        "test_skipped": "skipped",
    }
    assert res["summary"] == {
        "passed": 1,
        "failed": 2,
        "error": 1,
        "skipped": 1,
        "waived": 1,
        "xfailed": 1,
        "xpassed": 1,
        "not_run": 0,
        "deselected": 2,
        "warnings": 2,  # the SHOULD failure and the SHOULD xpass; the MUST failure blocks
        "deselected_other_subject": 1,
    }
    assert [(d["id"].rpartition("::")[2], d["reason"]) for d in res["deselected"]] == [
        ("test_unclaimed", "feature_not_claimed")
    ]
    assert res["verdict"] == "FAIL" and mixed["report_version"] == 2


def test_product_block_is_the_manifest_identity(mixed: dict[str, Any], plain: dict[str, Any]) -> None:
    ident = example_manifest()["identity"]
    assert mixed["product"] == {
        **{
            k: ident[k]
            for k in ("vendor", "model", "version", "serial", "ma_certificate", "device_id", "mine_code")
        },
        "product_class": "safety_monitoring",
        "transport": "grpc",
        "features": sorted(example_manifest()["features"]),
        "software": [{"name": "firmware", "sha256": FIRMWARE, "status": "declared_unverified"}],
    }
    assert "software" not in plain["product"]
    assert plain["results"]["summary"]["passed"] == 1 and len(plain["results"]["cases"]) == 1


def test_versions_and_run_block(mixed: dict[str, Any]) -> None:
    from importlib import metadata

    assert mixed["versions"]["santong"] == metadata.version("santong")
    assert mixed["versions"]["suite"] == metadata.version("santong")
    run = mixed["run"]
    assert re.fullmatch(r"\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}Z", run["started_at"])
    started = dt.datetime.strptime(run["started_at"], "%Y-%m-%dT%H:%M:%SZ").replace(tzinfo=dt.UTC)
    assert abs((dt.datetime.now(dt.UTC) - started).total_seconds()) < 3600
    assert isinstance(run["duration_s"], float) and 0 < run["duration_s"] < 300
    assert run["duration_s"] == round(run["duration_s"], 3)


def test_write_reports_signs_with_the_given_key(tmp_path: Path, mixed: dict[str, Any]) -> None:
    private, _public, key_id = generate_key_pair(tmp_path / "keys")
    out = tmp_path / "new" / "out"  # created with its parents
    paths, got_id, ephemeral = write_reports(mixed, out, private)
    assert paths == {"json": out / "report.json", "html": out / "report.html", "junit": out / "junit.xml"}
    assert got_id == key_id and ephemeral is False
    assert sorted(p.name for p in out.iterdir()) == [
        "junit.xml",
        "report.html",
        "report.json",
    ]  # no .tmp left
    signed = paths["json"].read_bytes()
    v = verify_bytes(signed)
    assert v.valid and v.key_id == key_id and v.statement["ephemeral_key"] is False
    assert json.loads(signed)["report"] == mixed
    assert paths["junit"].read_bytes() == junit_xml(mixed)
    html = paths["html"].read_text(encoding="utf-8")
    assert html.startswith("<!DOCTYPE html>") and "示例电子" in html


def test_write_reports_without_a_key_signs_with_a_fresh_ephemeral_one(
    tmp_path: Path, plain: dict[str, Any]
) -> None:
    (tmp_path / "report.json").write_bytes(b"old")  # an earlier run's file is replaced
    paths, key_id, ephemeral = write_reports(plain, tmp_path, None)
    assert ephemeral is True and key_id.startswith("ed25519:")
    v = verify_bytes(paths["json"].read_bytes())
    assert v.valid and v.key_id == key_id and v.statement["ephemeral_key"] is True
    _, other_id, _ = write_reports(plain, tmp_path / "again", None)
    assert other_id != key_id  # a new key per run


def test_write_reports_passes_the_coverage_choice_to_the_html(tmp_path: Path, plain: dict[str, Any]) -> None:
    """The HTML shows only the selected profile's MUST coverage unless every profile's is asked for."""
    selected = plain["results"]["coverage"][0]
    other = {
        **selected,
        "profile": "zz-other-profile",
        "name_zh": "另一配置",
        "name_en": "Other",
        "selected": False,
    }
    report = {**plain, "results": {**plain["results"], "coverage": [selected, other]}}
    paths, _, _ = write_reports(report, tmp_path / "default", None)
    assert "zz-other-profile" not in paths["html"].read_text(encoding="utf-8")
    paths, _, _ = write_reports(report, tmp_path / "all", None, all_coverage=True)
    html = paths["html"].read_text(encoding="utf-8")
    assert "zz-other-profile" in html and "另一配置" in html
