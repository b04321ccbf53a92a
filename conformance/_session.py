"""The active santong run inside pytest: selection, waivers, results, coverage, reports (registered by plugin.py)."""

from __future__ import annotations

import datetime as dt
import hashlib
import time
from pathlib import Path
from typing import Any

import pytest
from santong.conformance._certificates import Certificate
from santong.conformance._evidence import Evidence
from santong.conformance._manifest import Manifest
from santong.conformance._outcomes import ClauseFailure, parse_skip, tagged_clauses
from santong.conformance._preflight import PreflightError, RunOptions, prepare
from santong.conformance._product import CouldNotRun
from santong.conformance._profiles import Profile, ProfileSet
from santong.conformance._results import (
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
from santong.conformance._targets import TargetSettings
from santong.conformance._verdicts import VERDICT_TEXT
from santong.conformance._waivers import Waiver
from santong.conformance.plugin import EVIDENCE_KEY

__all__ = ["SantongSession"]


class SantongSession:
    """One conformance run: what was declared, what was selected, what happened."""

    def __init__(
        self,
        config: pytest.Config,
        manifest: Manifest,
        profile: Profile,
        profile_set: ProfileSet,
        target: TargetSettings,
        waivers: list[Waiver],
        report_dir: Path | None,
        key_path: Path | None,
    ) -> None:
        self.config, self.manifest, self.profile, self.profile_set = config, manifest, profile, profile_set
        self.target, self.waivers, self.report_dir, self.key_path = target, waivers, report_dir, key_path
        self.today = dt.date.today()
        self.started_at = dt.datetime.now(dt.UTC)
        self._t0 = time.monotonic()
        self.subjects = tuple(
            s for s in profile.subjects if (s == "platform") or manifest.product_class != "platform"
        )
        self.cases: dict[str, CaseResult] = {}
        self.deselected: list[Deselected] = []
        self.suite_clauses: set[str] = set()
        self.suite_files: set[Path] = set()
        self.collection_errors: list[str] = []
        self.waiver_cases: dict[int, list[str]] = {w.index: [] for w in waivers}
        self.report: dict[str, Any] | None = None
        self.report_paths: dict[str, Path] = {}
        self.key_id = ""
        self.ephemeral_key = False
        self.interrupted: str | None = None
        self._evidence: dict[str, Evidence] = {}
        #: Certificates the mine's devices are accepted against (``--santong-certificate``, ST-PROTO-038).
        self.certificates: tuple[Certificate, ...] = ()
        #: The HTML report shows every profile's MUST coverage (--santong-coverage all), not only the selected one.
        self.all_coverage = False
        #: The interface version the product negotiated at Register (ST-PROTO-004), from the platform's inspection
        #: API once it registered; None when not known (no live case ran, or the target has no inspection API).
        self.negotiated_version: str | None = None

    # ------------------------------------------------------------------------------------------ set-up

    @classmethod
    def from_config(cls, config: pytest.Config) -> SantongSession:
        """Validate every input before any test runs; pytest.UsageError lists all problems."""
        opt = config.getoption
        options = RunOptions(
            manifest=opt("santong_manifest"),
            profile=opt("santong_profile"),
            target=opt("santong_target"),
            url=opt("santong_url"),
            credentials=opt("santong_credentials"),
            waivers=opt("santong_waivers"),
            report_dir=opt("santong_report_dir"),
            key=opt("santong_key"),
            profiles=opt("santong_profiles"),
            certificates=tuple(opt("santong_certificate") or ()),
        )
        try:
            p = prepare(options)
        except PreflightError as e:
            raise pytest.UsageError(
                "santong: 无法开始运行，请先修正 / cannot start the run, fix these first:\n"
                + "\n".join(f"  - {x}" for x in e.problems)
            ) from None
        session = cls(
            config, p.manifest, p.profile, p.profile_set, p.target, p.waivers, p.report_dir, p.key_path
        )
        session.certificates = p.certificates
        session.all_coverage = opt("santong_coverage", "selected") == "all"
        return session

    # ---------------------------------------------------------------------------------------- selection

    @staticmethod
    def _markers(item: pytest.Item) -> tuple[tuple[str, ...], tuple[str, ...], str]:
        cited = [a for m in item.iter_markers("clause") for a in m.args]
        features = [a for m in item.iter_markers("feature") for a in m.args]
        subject = next((m.args[0] for m in item.iter_markers("subject") if m.args), "product")
        return tuple(dict.fromkeys(cited)), tuple(dict.fromkeys(features)), str(subject)

    @pytest.hookimpl(trylast=True)
    def pytest_collection_modifyitems(self, config: pytest.Config, items: list[pytest.Item]) -> None:
        """Deselect by subject, profile and claimed features; waived cases become strict xfails."""
        keep, drop = [], []
        in_profile = set(self.profile.clause_ids)
        for item in items:
            cited, features, subject = self._markers(item)
            self.suite_files.add(Path(str(item.path)))
            if subject in self.subjects:
                self.suite_clauses.update(cited)
            reason = None
            if subject not in self.subjects:
                reason = "other_subject"
            elif not in_profile.intersection(cited):
                reason = "not_in_profile"
            elif any(not self.manifest.claims(f) for f in features):
                reason = "feature_not_claimed"
            elif self.target.kind == "url" and any(True for _ in item.iter_markers("inspection")):
                reason = "needs_inspection"
            if reason is not None:
                drop.append(item)
                self.deselected.append(Deselected(item.nodeid, cited, reason, features))
                continue
            keep.append(item)
            case = CaseResult(item.nodeid, item.name, cited, features, subject)
            for w in self.waivers:
                if w.matches(item.nodeid, cited):
                    self.waiver_cases[w.index].append(item.nodeid)
                    if w.expired(self.today):
                        continue  # the case runs un-waived; the expired waiver fails the run
                    case.waiver = w.as_dict()
                    item.add_marker(
                        pytest.mark.xfail(
                            strict=True,
                            reason=f"豁免 waiver {w.target}: {w.reason} ({w.owner}, 至 until {w.expires.isoformat()})",
                        )
                    )
                    break
            self.cases[item.nodeid] = case
        if drop:
            config.hook.pytest_deselected(items=drop)
            items[:] = keep

    # ------------------------------------------------------------------------------------------ results

    @pytest.hookimpl(wrapper=True)
    def pytest_runtest_makereport(self, item: pytest.Item, call: pytest.CallInfo[None]) -> Any:
        """Mark reports of cases stopped by CouldNotRun (the environment, not the product, is at fault)."""
        rep = yield
        if call.excinfo is not None and call.excinfo.errisinstance(CouldNotRun):
            rep.santong_could_not_run = str(call.excinfo.value)
        elif call.excinfo is not None and call.excinfo.errisinstance(ClauseFailure):
            err = call.excinfo.value
            assert isinstance(err, ClauseFailure)
            rep.santong_failed_clauses = err.clause_ids
            rep.santong_cause = err.cause
        return rep

    def pytest_runtest_logreport(self, report: pytest.TestReport) -> None:
        """Fold the setup/call/teardown reports of a case into its verdict."""
        case = self.cases.get(report.nodeid)
        if case is None:
            return
        case.duration_s += report.duration
        could_not_run = getattr(report, "santong_could_not_run", None)
        if report.when == "call" or (report.when == "setup" and not report.passed):
            if report.passed:
                case.verdict = "passed"
            elif report.skipped:
                if hasattr(report, "wasxfail"):
                    case.verdict = "waived" if case.waiver else "xfailed"
                    case.message = str(report.wasxfail)
                else:
                    case.verdict = "skipped"
                    case.na_reason, case.message = parse_skip(_skip_reason(report))
            elif hasattr(report, "santong_failed_clauses"):
                # The evidence names the clauses (also when a shared fixture failed: e.g. the product never started).
                case.verdict = "failed"
                case.message = _crash(report)
                case.failed_clauses = report.santong_failed_clauses
                case.cause = report.santong_cause
            elif could_not_run is not None or report.when == "setup":
                case.verdict = "error"
                case.message = could_not_run or _crash(report)
            elif str(report.longrepr).startswith("[XPASS(strict)]"):
                case.verdict = "xpassed"
                case.message = str(report.longrepr)
            else:
                case.verdict = "failed"
                case.message = _crash(report)
                case.failed_clauses = tagged_clauses(case.message)
        elif report.when == "teardown" and report.failed and case.verdict == "passed":
            case.verdict = "error"
            case.message = getattr(report, "santong_could_not_run", None) or _crash(report)
        if report.when == "teardown":
            item_ev = self._evidence.pop(report.nodeid, None)
            if item_ev is not None:
                case.evidence = item_ev.as_dict()

    def pytest_runtest_teardown(self, item: pytest.Item) -> None:
        """Keep the case's evidence (collected by the ``evidence`` fixture) for the report."""
        ev = item.stash.get(EVIDENCE_KEY, None)
        if ev is not None:
            self._evidence[item.nodeid] = ev

    def pytest_collectreport(self, report: pytest.CollectReport) -> None:
        """Remember collection errors: a suite that cannot be collected cannot certify anything."""
        if report.failed:
            text = str(report.longrepr).strip().splitlines()
            detail = "; ".join(t.strip() for t in text[-4:] if t.strip())[:600]
            self.collection_errors.append(f"{report.nodeid or '.'}: {detail}")

    def pytest_keyboard_interrupt(self, excinfo: pytest.ExceptionInfo[BaseException]) -> None:
        """An interrupted run could not certify anything."""
        self.interrupted = "KeyboardInterrupt"

    # ------------------------------------------------------------------------------------------- finish

    def expired_waivers(self) -> list[Waiver]:
        """Waivers past their expiry date."""
        return [w for w in self.waivers if w.expired(self.today)]

    def waiver_rows(self) -> list[dict[str, Any]]:
        """Every waiver with its status (applied, expired, unused) and the cases it matched."""
        rows = []
        for w in self.waivers:
            matched = self.waiver_cases.get(w.index, [])
            status = "expired" if w.expired(self.today) else ("applied" if matched else "unused")
            rows.append({**w.as_dict(), "status": status, "cases": matched})
        return rows

    def pytest_sessionfinish(self, session: pytest.Session, exitstatus: int) -> None:
        """Decide the verdict, write and sign the reports; an expired waiver fails the run."""
        from santong.conformance._report import build_report, write_reports  # noqa: PLC0415

        if (
            exitstatus in (pytest.ExitCode.INTERNAL_ERROR, pytest.ExitCode.USAGE_ERROR)
            and not self.interrupted
        ):
            self.interrupted = f"pytest exit status {int(exitstatus)}"
        if self.expired_waivers() and session.exitstatus == pytest.ExitCode.OK:
            session.exitstatus = pytest.ExitCode.TESTS_FAILED
        self.report = build_report(self)
        if self.report["results"]["verdict"] != PASS and session.exitstatus == pytest.ExitCode.OK:
            session.exitstatus = pytest.ExitCode.TESTS_FAILED
        if self.report_dir is not None:
            self.report_paths, self.key_id, self.ephemeral_key = write_reports(
                self.report, self.report_dir, self.key_path, all_coverage=self.all_coverage
            )

    @property
    def subject(self) -> str:
        """What this run certifies: ``platform`` for a platform manifest, else ``product``."""
        return self.applicable_subjects()[0]

    def clause_rows(self) -> list[ClauseRow]:
        """The state of every clause of the profile (and of other clauses a case judged)."""
        return clause_table(
            self.profile, self.subject, self.cases.values(), self.deselected, self.negotiated_version
        )

    def root_causes(self) -> list[dict[str, Any]]:
        """Failures grouped by shared cause, the root first."""
        return root_causes(list(self.cases.values()), self.clause_rows())

    def results(self) -> tuple[str, list[Reason], list[CaseResult]]:
        """Verdict, reasons and case results (in collection order)."""
        cases = list(self.cases.values())
        v, reasons = verdict(
            cases,
            self.clause_rows(),
            self.collection_errors,
            [f"{w.target}（{w.owner}，{w.expires.isoformat()}）" for w in self.expired_waivers()],
            self.interrupted,
            [f for f in self.profile.requires_features if not self.manifest.claims(f)],
        )
        return v, reasons, cases

    def coverage_rows(self) -> list[dict[str, Any]]:
        """MUST-clause coverage of the run's profile; with ``--santong-coverage all`` also what this run shows of
        every other profile of the product's class and subject — a MUST clause of theirs this run did not judge
        counts as not demonstrated (never as passed)."""
        rows = self.clause_rows()
        row = coverage(self.profile, rows)
        row["selected"] = True
        out = [row]
        if not self.all_coverage:
            return out
        judged = {r.id for r in rows}
        for other in self.profile_set.all_for(self.manifest.product_class):
            if other.name == self.profile.name or not set(other.subjects) & set(self.applicable_subjects()):
                continue
            extra = coverage(other, rows)
            unseen = len(set(other.must_ids()) - judged)
            if unseen:
                extra["must"] += unseen
                extra["must_applicable"] += unseen
                extra["must_not_demonstrated"] += unseen
                a = extra["must_applicable"]
                extra["percent_passed"] = round(100.0 * extra["must_passed"] / a, 1) if a else 0.0
            extra["selected"] = False
            out.append(extra)
        return out

    def applicable_subjects(self) -> tuple[str, ...]:
        """What a manifest of this class can be tested as: a platform, or a product."""
        return ("platform",) if self.manifest.product_class == "platform" else ("product",)

    def suite_digest(self) -> str:
        """SHA-256 over the names and contents of the suite files that were collected."""
        h = hashlib.sha256()
        root = Path(str(self.config.rootpath))
        for f in sorted(self.suite_files):
            try:
                rel = f.relative_to(root).as_posix()
            except ValueError:
                rel = f.name
            h.update(rel.encode() + b"\0" + hashlib.sha256(f.read_bytes()).digest())
        return h.hexdigest()

    def elapsed_s(self) -> float:
        """Seconds since the run started."""
        return time.monotonic() - self._t0

    def pytest_terminal_summary(self, terminalreporter: Any) -> None:
        """Verdict, MUST-clause coverage per profile, waivers, deselections and report paths."""
        if self.report is None:
            return
        tr = terminalreporter
        res = self.report["results"]
        tr.write_sep("=", "santong 三统一一致性 / conformance")
        tr.write_line(
            f"结论 Verdict: {VERDICT_TEXT[res['verdict']]}",
            bold=True,
            green=res["verdict"] == PASS,
            red=res["verdict"] != PASS,
        )
        for r in res["reasons"][:10]:
            tr.write_line(f"  - {r['zh']} / {r['en']}")
        m = self.manifest
        tr.write_line(
            f"产品 Product: {m.identity.vendor} {m.identity.model} {m.identity.version} ({m.product_class})"
        )
        for line in summary_lines(res):
            tr.write_line(line)
        s = res["summary"]
        tr.write_line(
            f"用例 Cases: {s['passed']} 通过 passed, {s['failed']} 失败 failed, {s['error']} 无法运行 error, "
            f"{s['skipped']} 跳过 skipped, {s['waived']} 豁免 waived, {s['deselected']} 未选 deselected"
        )
        if self.waivers:
            rows = res["waivers"]
            tr.write_line(
                "豁免 Waivers: "
                + ", ".join(
                    f"{sum(1 for w in rows if w['status'] == k)} {k}"
                    for k in ("applied", "expired", "unused")
                )
            )
            for w in rows:
                if w["status"] == "expired":
                    tr.write_line(
                        f"  ✘ 已过期 expired {w['expires']}: {w['clause'] or w['case']} ({w['owner']})",
                        red=True,
                    )
        for kind, path in self.report_paths.items():
            tr.write_line(f"报告 Report {kind}: {path}")
        if self.report_paths:
            note = (
                "（临时密钥 ephemeral key：只证明完整性，不证明签署者 / integrity only, not identity）"
                if self.ephemeral_key
                else ""
            )
            tr.write_line(f"签名 Signed: {self.key_id}{note}")


def _untagged(text: str) -> str:
    """A message without the ``[ST-…]`` tags that open it (the root-cause line names the clauses already)."""
    import re  # noqa: PLC0415

    return re.sub(r"^(\[ST-[A-Z]+-\d{3}\]\s*)+", "", text)


def summary_lines(res: dict[str, Any]) -> list[str]:
    """The coverage line, root causes and not-applicable clauses of a report's results (terminal and CLI)."""
    out: list[str] = []
    cov = next((c for c in res["coverage"] if c.get("selected")), None)
    if cov is not None:
        out.append(
            f"配置 Profile {cov['profile']} {cov['name_zh']} / {cov['name_en']}: 适用的 MUST 条款通过 applicable MUST "
            f"clauses passed {cov['must_passed']}/{cov['must_applicable']} ({cov['percent_passed']:.1f}%)"
            f" — 失败 failed {cov['must_failed']}, 未证实 not demonstrated {cov['must_not_demonstrated']}, "
            f"豁免 waived {cov['must_waived']}, 无法运行 error {cov['must_error']}; 不适用 not applicable "
            f"{cov['must_not_applicable']}"
        )
    causes = res.get("root_causes", [])
    if causes:
        out.append("根本原因 Root causes (先看第一条 start with the first):")
        for i, g in enumerate(causes[:8], 1):
            roots = ", ".join(r["id"] for r in g["root_clauses"])
            follow = ", ".join(r["id"] for r in g["consequences"][:8])
            more = f" +{len(g['consequences']) - 8}" if len(g["consequences"]) > 8 else ""
            zh, en = _untagged(g["zh"]), _untagged(g["en"])
            out.append(f"  {i}. [{roots}] {zh[:160]}")
            if en != zh:
                out.append(f"     {en[:160]}")
            if follow:
                out.append(
                    f"     由此导致 following from it: {follow}{more} ({len(g['cases'])} 个用例 cases)"
                )
        if len(causes) > 8:
            out.append(f"  … +{len(causes) - 8}")
    na = [c for c in res["clauses"] if c["state"] == "not_applicable"]
    blind = [c["id"] for c in na if c["reason"] == "needs_inspection"]
    if blind and cov is not None:
        out.append(
            f"对该平台地址判定了 {cov['clauses_judged']}/{cov['clauses']} 条条款；另有 {len(blind)} 条需要平台的检查接口才能判定"
            "（用模拟平台运行，或提供检查接口）/ against this URL "
            f"{cov['clauses_judged']} of {cov['clauses']} clauses were judged; {len(blind)} more need the platform's "
            f"inspection API (run against the mock, or give inspection access): {', '.join(blind)}"
        )
    if na:
        by: dict[str, list[str]] = {}
        for c in na:
            by.setdefault(f"{c['reason_zh']} / {c['reason_en']}", []).append(c["id"])
        out.append(f"不适用的条款 Not applicable ({len(na)}):")
        for why, ids in by.items():
            out.append(f"  - {', '.join(ids)}: {why}")
    return out


#: Exception names that say nothing to a reader of the report (the message says it all).
_PLAIN = ("santong.conformance._outcomes.ClauseFailure: ", "AssertionError: ", "Failed: ")


def _crash(report: pytest.TestReport) -> str:
    crash = getattr(report.longrepr, "reprcrash", None)
    message = getattr(crash, "message", None)
    text = str(message) if message else str(report.longrepr)
    for prefix in _PLAIN:
        text = text.removeprefix(prefix)
    # pytest's rewritten-assert explanation ("assert x == y", "+  where …") is Python, not a finding.
    lines = text.splitlines()
    while lines and (lines[-1].lstrip().startswith(("assert ", "+", "where ")) or not lines[-1].strip()):
        lines.pop()
    text = "\n".join(lines)
    if text.strip() in ("", "AssertionError"):
        # A bare `assert` in a suite case: say where, not pytest's repr.
        where = f"{Path(str(getattr(crash, 'path', '?'))).name}:{getattr(crash, 'lineno', '?')}"
        text = f"检查未通过（{where}，用例没有给出说明）/ a check failed ({where}; the case gave no message)"
    return text[:4000]


def _skip_reason(report: pytest.TestReport) -> str:
    lr = report.longrepr
    if isinstance(lr, tuple) and len(lr) == 3:
        return str(lr[2]).removeprefix("Skipped: ")
    return str(lr)
