"""Progress of `santong certify` while pytest's own output goes to the log.

On a terminal (TTY) a live status line (rich) shows the running case, its clauses, the elapsed time and an
estimate for the rest of the run; every finished case leaves one line above it. Elsewhere (CI logs, pipes) the
output is plain lines: one when a case that talks to the product or platform starts, one when any case ends.
The estimate comes from the declared intervals (a live case waits a few report/heartbeat intervals) and is
corrected by how long the finished live cases really took.
"""

from __future__ import annotations

import time
from pathlib import Path
from typing import IO, Any

import pytest

__all__ = ["Progress", "format_duration"]

CASE_TEXT = {
    "passed": "通过 PASS ",
    "failed": "失败 FAIL ",
    "xpassed": "失败 XPASS",
    "error": "错误 ERROR",
    "skipped": "未证实 SKIP",
    "not_applicable": "不适用 N/A",
    "waived": "豁免 WAIVED",
    "xfailed": "预期 XFAIL",
    "not_run": "未运行    ",
}
#: Fixtures that make a case live: it waits on the running product for some report/heartbeat intervals.
LIVE_FIXTURES = ("live", "baseline")
#: Prior duration of a case that only reads declarations, in seconds.
DECLARED_S = 0.05
#: Prior duration of a platform case (a few calls to the platform), in seconds.
PLATFORM_S = 0.5
#: Off a terminal, a case expected to take at least this long also says when it starts.
START_LINE_S = 1.0


def format_duration(seconds: float) -> str:
    """``75`` → ``1:15``; ``3725`` → ``1:02:05``."""
    s = max(0, int(round(seconds)))
    h, rest = divmod(s, 3600)
    m, s = divmod(rest, 60)
    return f"{h}:{m:02d}:{s:02d}" if h else f"{m}:{s:02d}"


class _StatusLine:
    """Rendered afresh on every refresh of the live display, so that the times tick."""

    def __init__(self, progress: Progress) -> None:
        self.progress = progress

    def __rich__(self) -> Any:
        from rich.text import Text  # noqa: PLC0415

        return Text(self.progress.status_text(), overflow="ellipsis", no_wrap=True)


def _clauses(item: pytest.Item) -> tuple[str, ...]:
    out: list[str] = []
    for mark in item.iter_markers("clause"):
        out += [str(a) for a in mark.args]
    return tuple(dict.fromkeys(out))


class Progress:
    """A pytest plugin that reports each case as it starts and ends, with elapsed time and an estimate."""

    def __init__(self, out: IO[str], *, live: bool | None = None) -> None:
        self.out, self.total, self.done = out, 0, 0
        self.config: pytest.Config | None = None
        self.report: dict[str, Any] | None = None
        self.paths: dict[str, Path] = {}
        self.key_id, self.ephemeral = "", False
        self.tty = bool(getattr(out, "isatty", lambda: False)()) if live is None else live
        self._t0 = time.monotonic()
        self._prior: dict[str, float] = {}
        self._clauses: dict[str, tuple[str, ...]] = {}
        self._started: dict[str, float] = {}
        self._prior_done = 0.0
        self._live_prior_done = 0.0
        self._live_actual_done = 0.0
        self._once_s = 0.0  # the baseline window, paid once by the first live case
        self._running: str | None = None
        self._console: Any = None
        self._status: Any = None

    # ------------------------------------------------------------------------------------------------ output
    def _say(self, text: str) -> None:
        if self._console is not None:
            self._console.print(text, markup=False, highlight=False, soft_wrap=True)
        else:
            self.out.write(text + "\n")
            self.out.flush()

    def _start_status(self) -> None:
        if not self.tty or self._console is not None:
            return
        from rich.console import Console  # noqa: PLC0415

        self._console = Console(file=self.out, highlight=False, soft_wrap=True)
        self._status = self._console.status("", spinner="dots")
        self._status.start()

    def _stop_status(self) -> None:
        if self._status is not None:
            self._status.stop()
        self._status = self._console = None

    def _update_status(self) -> None:
        if self._status is not None:
            self._status.update(_StatusLine(self))

    def status_text(self) -> str:
        """The live status line: running case, its clauses, elapsed time and the estimate for the rest."""
        nodeid = self._running
        if nodeid is None:
            return f"[{self.done}/{self.total}] 总计 elapsed {format_duration(self.elapsed_s())}"
        clauses = ", ".join(self._clauses.get(nodeid, ())) or "—"
        case_s = time.monotonic() - self._started.get(nodeid, time.monotonic())
        return (
            f"[{self.done + 1}/{self.total}] 运行 running {nodeid}  条款 clauses {clauses}  "
            f"用时 case {format_duration(case_s)} · 总计 elapsed {format_duration(self.elapsed_s())} · "
            f"预计剩余 ~{format_duration(self.remaining_s())} left"
        )

    # ----------------------------------------------------------------------------------------------- estimate
    def elapsed_s(self) -> float:
        """Seconds since the run started."""
        return time.monotonic() - self._t0

    def remaining_s(self) -> float:
        """Estimated seconds left: the priors of the cases not yet finished, scaled by how the live ones went."""
        scale = self._live_actual_done / self._live_prior_done if self._live_prior_done > 0 else 1.0
        scale = min(max(scale, 0.25), 4.0)
        left = sum(self._prior.values()) - self._prior_done
        once = self._once_s if self._live_prior_done == 0 else 0.0
        running = self._started.get(self._running or "", None)
        spent = time.monotonic() - running if running is not None else 0.0
        return max(0.0, left * scale + once - spent)

    # ------------------------------------------------------------------------------------------------- hooks
    def pytest_configure(self, config: pytest.Config) -> None:
        self.config = config

    def pytest_collection_finish(self, session: pytest.Session) -> None:
        from santong.conformance.plugin import session_of  # noqa: PLC0415

        s = session_of(session.config)
        self.total = len(session.items)
        n_des = len(s.deselected) if s else 0
        report_s = hb_s = 1.0
        if s is not None:
            report_s = s.manifest.report_interval_ms / 1000
            hb_s = s.manifest.heartbeat_interval_ms / 1000
        live_s = max(1.0, 2 * max(report_s, hb_s))
        self._once_s = max(3.0, 3.5 * hb_s, 4 * report_s)
        any_live = False
        for item in session.items:
            names = getattr(item, "fixturenames", ())
            if any(f in names for f in LIVE_FIXTURES):
                self._prior[item.nodeid], any_live = live_s, True
            elif "santong_platform" in names:
                self._prior[item.nodeid] = PLATFORM_S
            else:
                self._prior[item.nodeid] = DECLARED_S
            self._clauses[item.nodeid] = _clauses(item)
        if not any_live:
            self._once_s = 0.0  # no product case: no baseline window
        self._say(
            f"收集 Collected: {self.total} 个用例 cases，{n_des} 个未选 deselected · "
            f"预计 estimated ~{format_duration(self.remaining_s())}（按声明的上报间隔 {report_s:g} s、心跳 {hb_s:g} s "
            f"from the declared report interval and heartbeat）"
        )
        self._start_status()

    def pytest_runtest_logstart(self, nodeid: str, location: Any) -> None:
        self._running = nodeid
        self._started[nodeid] = time.monotonic()
        if self.tty:
            self._update_status()
        elif self._prior.get(nodeid, 0) >= START_LINE_S:
            clauses = ", ".join(self._clauses.get(nodeid, ())) or "—"
            self._say(
                f"  ▶ 开始 start {nodeid} [{clauses}] · 总计 elapsed {format_duration(self.elapsed_s())} · "
                f"预计剩余 ~{format_duration(self.remaining_s())} left"
            )

    def pytest_runtest_logreport(self, report: pytest.TestReport) -> None:
        if self.tty:
            self._update_status()

    def pytest_runtest_logfinish(self, nodeid: str) -> None:
        from santong.conformance.plugin import session_of  # noqa: PLC0415

        assert self.config is not None
        started = self._started.pop(nodeid, None)
        took = time.monotonic() - started if started is not None else 0.0
        prior = self._prior.get(nodeid, DECLARED_S)
        self._prior_done += prior
        if prior > DECLARED_S:
            self._live_prior_done += prior
            self._live_actual_done += took
        self._running = None
        s = session_of(self.config)
        case = s.cases.get(nodeid) if s else None
        if case is None:
            return
        self.done += 1
        width = len(str(self.total))
        shown = "not_applicable" if case.verdict == "skipped" and case.na_reason else case.verdict
        line = f"[{self.done:>{width}}/{self.total}] {CASE_TEXT.get(shown, shown)}  {nodeid}"
        if took >= 1.0:
            line += f"  ({took:.1f} s)"
        if case.verdict in ("failed", "error", "xpassed", "skipped") and case.message:
            from santong.conformance._html import clean_message  # noqa: PLC0415

            first = (clean_message(case.message) or case.message).strip().splitlines()[0]
            line += f"\n{'':>{2 * width + 4}}↳ {first}"
        self._say(line)

    @pytest.hookimpl(trylast=True)
    def pytest_sessionfinish(self, session: pytest.Session) -> None:
        from santong.conformance.plugin import session_of  # noqa: PLC0415

        self._stop_status()
        stop = session.shouldfail or session.shouldstop
        if stop and self.total > self.done:
            self._say(
                f"运行已停止，其余 {self.total - self.done} 个用例未运行 / the run stopped; {self.total - self.done} "
                f"cases were not run: {stop}"
            )
        s = session_of(session.config)
        if s is not None:
            self.report, self.paths, self.key_id, self.ephemeral = (
                s.report,
                s.report_paths,
                s.key_id,
                s.ephemeral_key,
            )

    @pytest.hookimpl(trylast=True)
    def pytest_unconfigure(self, config: pytest.Config) -> None:
        self._stop_status()
