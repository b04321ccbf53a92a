"""One line per case while `santong certify` runs (pytest's own output goes to the log)."""

from __future__ import annotations

from pathlib import Path
from typing import IO, Any

import pytest

__all__ = ["Progress"]

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


class Progress:
    """Prints one line per case while pytest's own output goes to the log."""

    def __init__(self, out: IO[str]) -> None:
        self.out, self.total, self.done = out, 0, 0
        self.config: pytest.Config | None = None
        self.report: dict[str, Any] | None = None
        self.paths: dict[str, Path] = {}
        self.key_id, self.ephemeral = "", False

    def _say(self, text: str) -> None:
        self.out.write(text + "\n")
        self.out.flush()

    def pytest_configure(self, config: pytest.Config) -> None:
        self.config = config

    def pytest_collection_finish(self, session: pytest.Session) -> None:
        from santong.conformance.plugin import session_of  # noqa: PLC0415

        s = session_of(session.config)
        self.total = len(session.items)
        n_des = len(s.deselected) if s else 0
        self._say(f"收集 Collected: {self.total} 个用例 cases，{n_des} 个未选 deselected")

    def pytest_runtest_logfinish(self, nodeid: str) -> None:
        from santong.conformance.plugin import session_of  # noqa: PLC0415

        assert self.config is not None
        s = session_of(self.config)
        case = s.cases.get(nodeid) if s else None
        if case is None:
            return
        self.done += 1
        width = len(str(self.total))
        shown = "not_applicable" if case.verdict == "skipped" and case.na_reason else case.verdict
        line = f"[{self.done:>{width}}/{self.total}] {CASE_TEXT.get(shown, shown)}  {nodeid}"
        if case.verdict in ("failed", "error", "xpassed", "skipped") and case.message:
            line += f"\n{'':>{2 * width + 4}}↳ {case.message.strip().splitlines()[0][:200]}"
        self._say(line)

    @pytest.hookimpl(trylast=True)
    def pytest_sessionfinish(self, session: pytest.Session) -> None:
        from santong.conformance.plugin import session_of  # noqa: PLC0415

        s = session_of(session.config)
        if s is not None:
            self.report, self.paths, self.key_id, self.ephemeral = (
                s.report,
                s.report_paths,
                s.key_id,
                s.ephemeral_key,
            )
