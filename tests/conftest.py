"""Shared fixtures for every santong test; under CI, a skip for want of mosquitto or podman is a failure."""

from __future__ import annotations

import json
import os
import re
import tempfile
from collections.abc import Generator
from pathlib import Path
from typing import Any

import pytest
from hypothesis import settings
from hypothesis.configuration import set_hypothesis_home_dir

ROOT = Path(__file__).resolve().parent.parent

# Property tests never flake: by default every run draws the same examples (derandomize), so a test that passes
# in CI passes again on the same code. `HYPOTHESIS_PROFILE=explore pytest …` searches new examples when you want
# to hunt (a failure it finds is then added as an @example).
# Hypothesis keeps its example database and caches outside the source tree (it would write .hypothesis/ into the
# working directory): nothing a test run writes lands in the checkout.
set_hypothesis_home_dir(Path(tempfile.gettempdir()) / f"santong-hypothesis-{os.getuid()}")
settings.register_profile("santong", derandomize=True, deadline=None, print_blob=True)
settings.register_profile("explore", derandomize=False, deadline=None, max_examples=1000, print_blob=True)
settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE", "santong"))
EXAMPLES = ROOT / "protocols" / "examples"


@pytest.fixture(scope="session")
def reference_session() -> list[tuple[str, dict]]:
    """The bundled valid session: (message type, JSON body) pairs in order."""
    out = []
    for line in (EXAMPLES / "reference-session.jsonl").read_text(encoding="utf-8").splitlines():
        d = json.loads(line)
        out.append((d["type"], d["message"]))
    return out


# ---------------------------------------------------------------------------- CI: missing tools fail, not skip

# Skip reasons that mean "a tool .ci/run installs is missing": under CI such a skip is a failure.
CI_REQUIRED = re.compile(r"mosquitto|podman|container engine|容器引擎|image missing|镜像缺失", re.IGNORECASE)


def in_ci() -> bool:
    """Whether the environment variable CI is set (to anything but empty, 0, false or no)."""
    return os.environ.get("CI", "").strip().lower() not in ("", "0", "false", "no")


def _skip_reason(report: pytest.CollectReport | pytest.TestReport) -> str:
    longrepr = report.longrepr
    if isinstance(longrepr, tuple) and len(longrepr) == 3:
        return str(longrepr[2])
    return str(longrepr)


def _fail_required_skip(report: pytest.CollectReport | pytest.TestReport) -> None:
    if not report.skipped or hasattr(report, "wasxfail") or not in_ci():
        return
    reason = _skip_reason(report)
    if CI_REQUIRED.search(reason):
        report.outcome = "failed"
        report.longrepr = (
            f"CI 环境下不允许跳过（CI={os.environ.get('CI')}）：{reason}\n"
            f"skipping is not allowed under CI (CI={os.environ.get('CI')}): .ci/run installs what this test needs"
        )


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item: pytest.Item, call: pytest.CallInfo[None]) -> Generator[None, Any, None]:
    outcome = yield
    _fail_required_skip(outcome.get_result())


@pytest.hookimpl(hookwrapper=True)
def pytest_make_collect_report(collector: pytest.Collector) -> Generator[None, Any, None]:
    outcome = yield
    _fail_required_skip(outcome.get_result())
