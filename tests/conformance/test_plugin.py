"""The pytest plugin, tested with pytester: inert by default, strict once asked for."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest
from cf_fixtures import example_manifest, mini_profiles, write_manifest
from santong.conformance._profiles import profiles

pytestmark = pytest.mark.timeout(60)

PASSING_CASE = """
import pytest

@pytest.mark.clause("ST-DATA-011")
def test_units(evidence):
    evidence.record("points", 4)
    evidence.sample("first", {"unit": "%CH4", "note": "<script>alert(1)</script>"})
"""


def _run(pytester: pytest.Pytester, *args: str) -> pytest.RunResult:
    return pytester.runpytest_inprocess("-p", "no:cacheprovider", "-p", "no:asyncio", *args)


def _manifest(pytester: pytest.Pytester, **changes: object) -> str:
    return str(write_manifest(pytester.path, **changes))


def _profiles(pytester: pytest.Pytester, *clause_ids: str, requires: tuple[str, ...] = ()) -> tuple[str, str]:
    """``--santong-profiles FILE`` for a profile of exactly these clauses."""
    return "--santong-profiles", str(mini_profiles(pytester.path, *clause_ids, requires=requires))


def _report(pytester: pytest.Pytester, folder: str = "out") -> dict:
    return json.loads((pytester.path / folder / "report.json").read_bytes())["report"]


def test_plugin_import_is_light() -> None:
    code = (
        "import sys, santong.conformance.plugin\n"
        "heavy = [m for m in ('grpc', 'google.protobuf', 'santong.protocols', 'santong.adapters', "
        "'santong.mock_platform', 'jsonschema', 'cryptography') if m in sys.modules]\n"
        "print(heavy)\n"
        "raise SystemExit(1 if heavy else 0)\n"
    )
    r = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
    assert r.returncode == 0, r.stdout + r.stderr


def test_inert_without_options(pytester: pytest.Pytester) -> None:
    pytester.makepyfile(
        test_plain="""
        import pytest

        def test_plain():
            assert 1 + 1 == 2

        @pytest.mark.clause("ST-DATA-001")
        def test_cites_a_clause():
            pass
        """
    )
    r = _run(pytester, "--strict-markers")
    r.assert_outcomes(passed=2)
    assert "santong" not in r.stdout.str().split("passed")[-1]
    assert "三统一一致性" not in r.stdout.str()
    assert r.ret == 0


def test_markers_are_registered(pytester: pytest.Pytester) -> None:
    r = _run(pytester, "--markers")
    out = r.stdout.str()
    assert "@pytest.mark.clause(*ids)" in out
    assert "@pytest.mark.feature(*names)" in out
    assert "@pytest.mark.subject(name)" in out
    assert "--santong-manifest" in _run(pytester, "--help").stdout.str()


def test_unknown_clause_fails_collection_even_when_inert(pytester: pytest.Pytester) -> None:
    pytester.makepyfile(
        test_typo="""
        import pytest

        @pytest.mark.clause("ST-DATA-999")
        def test_with_a_typo():
            pass

        def test_innocent():
            pass
        """
    )
    r = _run(pytester)
    assert r.ret == pytest.ExitCode.INTERRUPTED
    out = r.stdout.str()
    assert "test_typo.py::test_with_a_typo" in out
    assert "ST-DATA-999" in out
    assert "unknown clause ID" in out
    r.assert_outcomes(errors=1)


def test_unknown_feature_and_bad_clause_format_fail_collection(pytester: pytest.Pytester) -> None:
    pytester.makepyfile(
        test_bad="""
        import pytest

        @pytest.mark.clause("DATA-11")
        @pytest.mark.feature("teleport")
        def test_bad():
            pass
        """
    )
    r = _run(pytester)
    out = r.stdout.str()
    assert r.ret == pytest.ExitCode.INTERRUPTED
    assert "'DATA-11'" in out and "format ST-DATA-001" in out
    assert "unknown feature 'teleport'" in out


def test_active_run_needs_a_clause_on_every_case(pytester: pytest.Pytester) -> None:
    pytester.makepyfile(test_uncited="def test_nothing_cited():\n    pass\n")
    r = _run(pytester, "--santong-manifest", _manifest(pytester), "--santong-profile", "basic")
    assert r.ret == pytest.ExitCode.INTERRUPTED
    assert "test_uncited.py::test_nothing_cited" in r.stdout.str()
    assert "must cite the clauses" in r.stdout.str()


def test_missing_manifest_stops_before_any_test(pytester: pytest.Pytester) -> None:
    pytester.makepyfile(test_a=PASSING_CASE)
    r = _run(pytester, "--santong-profile", "basic")
    assert r.ret == pytest.ExitCode.USAGE_ERROR
    assert "the product manifest is missing (--santong-manifest" in r.stderr.str()
    assert "never silently tests nothing" in r.stderr.str()


def test_invalid_manifest_stops_before_any_test(pytester: pytest.Pytester) -> None:
    pytester.makepyfile(test_a=PASSING_CASE)
    d = example_manifest()
    d["features"] = ["backfil"]
    del d["identity"]["vendor"]
    path = write_manifest(pytester.path, d)
    r = _run(pytester, "--santong-manifest", str(path))
    err = r.stderr.str()
    assert r.ret == pytest.ExitCode.USAGE_ERROR
    assert "manifest.yaml" in err
    assert "$.features[0]" in err and "did you mean backfill?" in err
    assert "$.identity" in err and "vendor" in err
    assert "passed" not in r.stdout.str()


def test_profile_requiring_unclaimed_feature_fails(pytester: pytest.Pytester) -> None:
    """Not claiming a feature the profile requires is no set-up problem: the run goes on and FAILs."""
    pytester.makepyfile(test_a=PASSING_CASE)
    r = _run(
        pytester,
        "--santong-manifest",
        _manifest(pytester, features=["alarms"]),
        "--santong-profile",
        "standard",
        *_profiles(pytester, "ST-DATA-011", requires=("backfill",)),
        "--santong-report-dir",
        "out",
    )
    r.assert_outcomes(passed=1)
    assert r.ret == pytest.ExitCode.TESTS_FAILED
    res = _report(pytester)["results"]
    assert res["verdict"] == "FAIL"
    assert any("requires the features backfill" in x["en"] for x in res["reasons"])


def test_pass_with_evidence_and_reports(pytester: pytest.Pytester) -> None:
    pytester.makepyfile(test_a=PASSING_CASE)
    r = _run(
        pytester,
        "--santong-manifest",
        _manifest(pytester),
        "--santong-profile",
        "标准",
        *_profiles(pytester, "ST-DATA-011"),
        "--santong-report-dir",
        "out",
    )
    r.assert_outcomes(passed=1)
    assert r.ret == 0
    out = r.stdout.str()
    assert "结论 Verdict: 通过 PASS" in out
    rep = _report(pytester)
    assert rep["profile"]["name"] == "standard"
    case = rep["results"]["cases"][0]
    assert case["id"] == "test_a.py::test_units"
    assert case["clauses"] == ["ST-DATA-011"] and case["verdict"] == "passed"
    assert case["evidence"]["records"] == {"points": 4}
    assert case["evidence"]["samples"][0]["message"]["unit"] == "%CH4"
    assert rep["manifest"]["document"]["identity"]["device_id"] == "KJ70N-0001"
    assert {"report.json", "report.html", "junit.xml"} <= {p.name for p in (pytester.path / "out").iterdir()}


def test_coverage_counts_applicable_must_clauses(pytester: pytest.Pytester) -> None:
    """One passing case of the bundled basic profile: every other applicable MUST clause is not demonstrated (no
    case), so the run FAILs; the coverage line says so."""
    pytester.makepyfile(test_a=PASSING_CASE)
    r = _run(pytester, "--santong-manifest", _manifest(pytester), "--santong-profile", "basic")
    out = r.stdout.str()
    p = profiles().resolve("basic", "safety_monitoring")
    n = len(p.must_ids())
    assert f"applicable MUST clauses passed 1/{n} " in out, out
    assert f"not demonstrated {n - 1}," in out
    assert "结论 Verdict: 不通过 FAIL" in out and "no case of the suite judges this clause" in out
    assert r.ret == pytest.ExitCode.TESTS_FAILED


def test_deselection_by_feature_profile_and_subject(pytester: pytest.Pytester) -> None:
    pytester.makepyfile(
        test_sel="""
        import pytest

        @pytest.mark.clause("ST-PROTO-027")
        @pytest.mark.feature("alarms")
        def test_needs_alarms():
            pass

        @pytest.mark.clause("ST-IFACE-013")
        @pytest.mark.feature("commands.write_point")
        def test_needs_write_point():
            raise AssertionError("must never run")

        @pytest.mark.clause("ST-PROTO-012")
        def test_platform_clause_only():
            raise AssertionError("must never run")

        @pytest.mark.clause("ST-DATA-011")
        @pytest.mark.subject("platform")
        def test_platform_case():
            raise AssertionError("must never run")

        @pytest.mark.clause("ST-DATA-011")
        def test_runs():
            pass
        """
    )
    r = _run(
        pytester,
        "--santong-manifest",
        _manifest(pytester),
        "--santong-profile",
        "full",
        *_profiles(pytester, "ST-PROTO-027", "ST-IFACE-013", "ST-DATA-011", "ST-PROTO-018"),
        "--santong-report-dir",
        "out",
    )
    r.assert_outcomes(passed=2, deselected=3)
    assert r.ret == pytest.ExitCode.TESTS_FAILED  # ST-PROTO-018 (MUST) has no case: not demonstrated
    res = _report(pytester)["results"]
    reasons = {d["id"].split("::")[1]: d["reason"] for d in res["deselected"]}
    assert reasons == {  # the other subject's cases are counted, not listed, in a product report
        "test_needs_write_point": "feature_not_claimed",
        "test_platform_clause_only": "not_in_profile",
    }
    assert res["summary"]["deselected_other_subject"] == 1
    rows = {c["id"]: (c["state"], c["reason"]) for c in res["clauses"]}
    assert rows["ST-IFACE-013"] == ("not_demonstrated", "feature_not_claimed")  # MAY: a warning only
    assert rows["ST-PROTO-027"] == ("passed", None)
    assert rows["ST-PROTO-018"] == ("not_demonstrated", "no_case")
    assert res["verdict"] == "FAIL"
    assert [x["en"] for x in res["reasons"]] == [
        "ST-PROTO-018 Store and forward not demonstrated: no case of the suite judges this clause"
    ]


def _waivers(pytester: pytest.Pytester, *entries: str) -> str:
    path = pytester.path / "waivers.yaml"
    path.write_text("waivers:\n" + "".join(entries), encoding="utf-8")
    return str(path)


WAIVED_CASES = """
import pytest

@pytest.mark.clause("ST-PROTO-017")
def test_backoff_known_bad():
    assert False, "back-off is linear"

@pytest.mark.clause("ST-DATA-011")
def test_unit_waived_but_fixed():
    pass

@pytest.mark.clause("ST-DATA-012")
def test_plain():
    pass
"""


def test_waivers_make_strict_xfails(pytester: pytest.Pytester) -> None:
    pytester.makepyfile(test_w=WAIVED_CASES)
    w = _waivers(
        pytester,
        "  - {clause: ST-PROTO-017, owner: 张工, reason: 固件 2.4 修复 fixed in 2.4, expires: 2999-12-31}\n",
        "  - {case: test_w.py::test_unit_waived_but_fixed, owner: 李工, reason: flaky, expires: 2999-12-31}\n",
        "  - {clause: ST-DATA-013, owner: 王工, reason: nothing matches, expires: 2999-12-31}\n",
    )
    r = _run(
        pytester,
        "--santong-manifest",
        _manifest(pytester),
        "--santong-profile",
        "standard",
        "--santong-waivers",
        w,
        "--santong-report-dir",
        "out",
    )
    r.assert_outcomes(passed=1, xfailed=1, failed=1)
    assert "XPASS(strict)" in r.stdout.str()
    res = _report(pytester)["results"]
    verdicts = {c["id"].split("::")[1]: c["verdict"] for c in res["cases"]}
    assert verdicts == {
        "test_backoff_known_bad": "waived",
        "test_unit_waived_but_fixed": "xpassed",
        "test_plain": "passed",
    }
    assert res["verdict"] == "FAIL"
    assert any("waiver is stale" in x["en"] for x in res["reasons"])
    assert [w["status"] for w in res["waivers"]] == ["applied", "applied", "unused"]


def test_waived_failure_alone_passes(pytester: pytest.Pytester) -> None:
    pytester.makepyfile(test_w=WAIVED_CASES)
    w = _waivers(pytester, "  - {clause: ST-PROTO-017, owner: 张工, reason: known, expires: 2999-12-31}\n")
    r = _run(
        pytester,
        "--santong-manifest",
        _manifest(pytester),
        "--santong-profile",
        "standard",
        "--santong-waivers",
        w,
        *_profiles(pytester, "ST-PROTO-017", "ST-DATA-011", "ST-DATA-012"),
    )
    r.assert_outcomes(passed=2, xfailed=1)
    assert r.ret == 0
    assert "通过 PASS" in r.stdout.str()


def test_expired_waiver_fails_the_run(pytester: pytest.Pytester) -> None:
    pytester.makepyfile(test_w=WAIVED_CASES)
    w = _waivers(
        pytester,
        "  - {clause: ST-PROTO-017, owner: 张工, reason: known, expires: 2999-12-31}\n",
        "  - {clause: ST-DATA-011, owner: 李工, reason: old, expires: 2000-01-01}\n",
    )
    r = _run(
        pytester,
        "--santong-manifest",
        _manifest(pytester),
        "--santong-profile",
        "standard",
        "--santong-waivers",
        w,
        "--santong-report-dir",
        "out",
    )
    r.assert_outcomes(passed=2, xfailed=1)  # every case as such is fine …
    assert r.ret == pytest.ExitCode.TESTS_FAILED  # … but the expired waiver fails the run
    out = r.stdout.str()
    assert "不通过 FAIL" in out and "已过期 expired 2000-01-01" in out
    res = _report(pytester)["results"]
    assert res["verdict"] == "FAIL"
    assert [w["status"] for w in res["waivers"]] == ["applied", "expired"]


def test_waiver_with_unknown_clause_is_rejected(pytester: pytest.Pytester) -> None:
    pytester.makepyfile(test_a=PASSING_CASE)
    w = _waivers(
        pytester,
        "  - {clause: ST-DATA-999, owner: x, reason: y, expires: 2999-12-31}\n",
        "  - {case: a, owner: x, reason: y, expires: not-a-date}\n",
    )
    r = _run(
        pytester,
        "--santong-manifest",
        _manifest(pytester),
        "--santong-profile",
        "basic",
        "--santong-waivers",
        w,
    )
    assert r.ret == pytest.ExitCode.USAGE_ERROR
    err = r.stderr.str()
    assert "ST-DATA-999" in err and "$.waivers[0].clause" in err
    assert "$.waivers[1].expires" in err


def test_should_only_failure_is_a_warning(pytester: pytest.Pytester) -> None:
    pytester.makepyfile(
        test_s="""
        import pytest

        @pytest.mark.clause("ST-DATA-015")
        def test_methane_thresholds():
            assert False, "alarm_high 1.2 is laxer than 1.0"

        @pytest.mark.clause("ST-DATA-011")
        def test_units():
            pass
        """
    )
    r = _run(
        pytester,
        "--santong-manifest",
        _manifest(pytester),
        "--santong-profile",
        "standard",
        *_profiles(pytester, "ST-DATA-015", "ST-DATA-011"),
        "--santong-report-dir",
        "out",
    )
    r.assert_outcomes(passed=1, failed=1)
    res = _report(pytester)["results"]
    assert res["verdict"] == "PASS" and res["summary"]["warnings"] == 1
    assert r.ret == pytest.ExitCode.TESTS_FAILED  # pytest saw a failed case; the verdict is what counts


def test_environment_problem_means_could_not_run(pytester: pytest.Pytester) -> None:
    pytester.makepyfile(
        test_env="""
        import pytest
        from santong.conformance import CouldNotRun

        @pytest.fixture
        def platform():
            raise CouldNotRun("平台无应答 the platform does not answer")

        @pytest.mark.clause("ST-PROTO-005")
        def test_heartbeat(platform):
            pass

        @pytest.mark.clause("ST-DATA-011")
        def test_crash_in_call():
            raise CouldNotRun("product crashed")
        """
    )
    r = _run(
        pytester,
        "--santong-manifest",
        _manifest(pytester),
        "--santong-profile",
        "standard",
        "--santong-report-dir",
        "out",
    )
    assert r.ret != 0
    res = _report(pytester)["results"]
    assert res["verdict"] == "COULD_NOT_RUN"
    assert {c["verdict"] for c in res["cases"]} == {"error"}
    assert any("does not answer" in x["en"] for x in res["reasons"])
    assert "无法运行 COULD NOT RUN" in r.stdout.str()


def test_all_skipped_is_not_a_pass(pytester: pytest.Pytester) -> None:
    pytester.makepyfile(
        test_skip="""
        import pytest

        @pytest.mark.clause("ST-DATA-011")
        def test_skipped():
            pytest.skip("no container engine")
        """
    )
    r = _run(
        pytester,
        "--santong-manifest",
        _manifest(pytester),
        "--santong-profile",
        "standard",
        "--santong-report-dir",
        "out",
    )
    assert r.ret == pytest.ExitCode.TESTS_FAILED
    res = _report(pytester)["results"]
    # A skip is no environment problem (those raise CouldNotRun): the clause is not demonstrated.
    assert res["verdict"] == "FAIL"
    assert any("ST-DATA-011" in x["en"] and "no container engine" in x["en"] for x in res["reasons"])


def test_nothing_selected_is_not_a_pass(pytester: pytest.Pytester) -> None:
    pytester.makepyfile(
        test_none="""
        import pytest

        @pytest.mark.clause("ST-IFACE-013")
        @pytest.mark.feature("commands.write_point")
        def test_write_point():
            pass
        """
    )
    r = _run(
        pytester,
        "--santong-manifest",
        _manifest(pytester),
        "--santong-profile",
        "standard",
        "--santong-report-dir",
        "out",
    )
    assert r.ret != 0
    assert _report(pytester)["results"]["verdict"] == "COULD_NOT_RUN"


def test_collection_error_means_could_not_run(pytester: pytest.Pytester) -> None:
    pytester.makepyfile(test_ok=PASSING_CASE, test_broken="import nonexistent_module_xyz\n")
    r = _run(
        pytester,
        "--santong-manifest",
        _manifest(pytester),
        "--santong-profile",
        "standard",
        "--santong-report-dir",
        "out",
    )
    assert r.ret == pytest.ExitCode.INTERRUPTED
    res = _report(pytester)["results"]
    assert res["verdict"] == "COULD_NOT_RUN"
    assert "test_broken.py" in res["reasons"][0]["en"]


def test_failure_names_the_clause(pytester: pytest.Pytester) -> None:
    pytester.makepyfile(
        test_f="""
        import pytest

        @pytest.mark.clause("ST-DATA-011")
        def test_units(evidence):
            evidence.record("unit", "ppm")
            assert False, "[ST-DATA-011] unit ppm is not %CH4"
        """
    )
    r = _run(
        pytester,
        "--santong-manifest",
        _manifest(pytester),
        "--santong-profile",
        "standard",
        "--santong-report-dir",
        "out",
    )
    assert r.ret == pytest.ExitCode.TESTS_FAILED
    res = _report(pytester)["results"]
    assert res["verdict"] == "FAIL"
    case = res["cases"][0]
    assert "unit ppm is not %CH4" in case["message"]
    assert case["evidence"]["records"] == {"unit": "ppm"}
    assert {c["id"]: c["state"] for c in res["clauses"]}["ST-DATA-011"] == "failed"
    assert case["failed_clauses"] == ["ST-DATA-011"] and case["blocking"]


def test_fixtures_need_an_active_run(pytester: pytest.Pytester) -> None:
    pytester.makepyfile(test_fx="def test_m(santong_manifest):\n    pass\n")
    r = _run(pytester)
    r.assert_outcomes(errors=1)
    assert "needs a santong run" in r.stdout.str()


def test_url_target_needs_url_and_credentials(pytester: pytest.Pytester, tmp_path: Path) -> None:
    pytester.makepyfile(test_a=PASSING_CASE)
    m = _manifest(pytester)
    r = _run(pytester, "--santong-manifest", m, "--santong-profile", "basic", "--santong-target", "url")
    err = r.stderr.str()
    assert r.ret == pytest.ExitCode.USAGE_ERROR
    assert "needs a platform URL" in err and "needs a credentials file" in err
    creds = pytester.path / "creds.yaml"
    creds.write_text("token: s3cret\ndevice_id: KJ70N-0001\n", encoding="utf-8")
    r = _run(
        pytester,
        "--santong-manifest",
        m,
        "--santong-profile",
        "basic",
        "--santong-url",
        "ftp://x",
        "--santong-credentials",
        str(creds),
    )
    assert r.ret == pytest.ExitCode.USAGE_ERROR and "platform URL 'ftp://x' is invalid" in r.stderr.str()
    r = _run(
        pytester,
        "--santong-manifest",
        m,
        "--santong-profile",
        "basic",
        "--santong-url",
        "grpc://127.0.0.1:50051",
        "--santong-credentials",
        str(creds),
        *_profiles(pytester, "ST-DATA-011"),
        "--santong-report-dir",
        "out",
    )
    assert r.ret == 0
    rep = _report(pytester)
    assert rep["run"]["target"] == {"kind": "url", "url": "grpc://127.0.0.1:50051", "device_id": "KJ70N-0001"}
    assert b"s3cret" not in (pytester.path / "out" / "report.json").read_bytes()


def test_url_run_says_what_it_could_not_judge(pytester: pytest.Pytester) -> None:
    """Against a URL the inspection cases are not applicable (not failed, not hidden): the summary counts the
    clauses it judged and names the access that would judge the rest."""
    pytester.makepyfile(
        test_u="""
        import pytest

        @pytest.mark.clause("ST-DATA-011")
        def test_units():
            pass

        @pytest.mark.inspection
        @pytest.mark.clause("ST-PROTO-005")
        def test_heartbeat_seen_by_the_platform():
            raise AssertionError("must never run against a URL")
        """
    )
    creds = pytester.path / "creds.yaml"
    creds.write_text("device_id: KJ70N-0001\ntoken: s3cret\n", encoding="utf-8")
    r = _run(
        pytester,
        "--santong-manifest", _manifest(pytester), "--santong-profile", "basic",
        "--santong-url", "grpc://127.0.0.1:50051", "--santong-credentials", str(creds),
        *_profiles(pytester, "ST-DATA-011", "ST-PROTO-005"), "--santong-report-dir", "out",
    )  # fmt: skip
    r.assert_outcomes(passed=1, deselected=1)
    assert r.ret == 0
    res = _report(pytester)["results"]
    rows = {c["id"]: (c["state"], c["reason"]) for c in res["clauses"]}
    assert rows["ST-PROTO-005"] == ("not_applicable", "needs_inspection")
    assert (
        "against this URL 1 of 2 clauses were judged; 1 more need the platform's inspection API"
        in r.stdout.str()
    )


def test_bare_assert_says_where_not_assertionerror(pytester: pytest.Pytester) -> None:
    """Certification runs use --assert=plain: a bare assert must still give the reader a location."""
    pytester.makepyfile(
        test_bare="""
        import pytest

        @pytest.mark.clause("ST-DATA-011")
        def test_units():
            assert 1 == 2
        """
    )
    r = _run(
        pytester, "--assert=plain", "--santong-manifest", _manifest(pytester), "--santong-profile", "basic",
        *_profiles(pytester, "ST-DATA-011"), "--santong-report-dir", "out",
    )  # fmt: skip
    case = _report(pytester)["results"]["cases"][0]
    assert (
        case["message"].startswith("检查未通过（test_bare.py:5")
        and "the case gave no message" in case["message"]
    )
    out = r.stdout.str()
    assert "[ST-DATA-011] [ST-DATA-011]" not in out and "根本原因 Root causes" in out
