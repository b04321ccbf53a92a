"""The platform targets of a live run: an external URL (here a `santong mock serve` standing in for a mine's
platform), and a container target without an engine."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
from cf_fixtures import ROOT

pytestmark = [pytest.mark.selfcheck, pytest.mark.timeout(300)]

PLATFORM = ROOT / "conformance" / "products" / "santong-mock.manifest.yaml"


@pytest.fixture
def external_platform(tmp_path: Path) -> Iterator[tuple[str, Path]]:
    """A mock platform process playing a real platform: its gRPC URL and a credentials file for one device."""
    proc = subprocess.Popen(
        [sys.executable, "-m", "santong", "mock", "serve", "--grpc-port", "0", "--http-port", "-1",
         "--device", "SITE-DEV-1:site-token-1"],
        stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True, start_new_session=True,
    )  # fmt: skip
    try:
        assert proc.stdout is not None
        port = json.loads(proc.stdout.readline())["grpc_port"]
        creds = tmp_path / "credentials.yaml"
        creds.write_text("token: site-token-1\ndevice_id: SITE-DEV-1\n", encoding="utf-8")
        yield f"grpc://127.0.0.1:{port}", creds
    finally:
        os.killpg(proc.pid, signal.SIGTERM)
        proc.wait(15)


def _certify(*args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    r = subprocess.run(
        [sys.executable, "-m", "santong", "certify", *args],
        capture_output=True,
        text=True,
        timeout=240,
        env=env,
    )
    assert "Traceback" not in r.stdout + r.stderr, r.stdout + r.stderr
    return r


def test_mine_acceptance_against_a_platform_url(tmp_path: Path, external_platform: tuple[str, Path]) -> None:
    """The acceptance subset runs against an external platform; a case the run cannot judge there (one needing a
    never-registered device, without enrolment) is not applicable with its reason, never failed."""
    url, creds = external_platform
    out = tmp_path / "out"
    r = _certify(
        "--manifest", str(PLATFORM), "--profile", "mine-acceptance", "--url", url, "--credentials", str(creds),
        "--out", str(out),
    )  # fmt: skip
    assert r.returncode == 0 and "结论 Verdict: 通过 PASS" in r.stdout, r.stdout
    report = json.loads((out / "report.json").read_text(encoding="utf-8"))["report"]
    ran = {
        c["id"].split("::")[1].split("[")[0] for c in report["results"]["cases"] if c["verdict"] == "passed"
    }
    assert {"test_invalid_data_rejected", "test_platform_info", "test_forged_credentials"} <= ran
    # The case that needs a never-registered device is not applicable without enrolment (a reused device cannot
    # be fresh), with that reason — never failed, never passed.
    na = {
        c["id"].split("::")[1]: c["not_applicable"] for c in report["results"]["cases"] if c["not_applicable"]
    }
    assert na.get("test_not_registered") == "needs_fresh_device", report["results"]["cases"]
    assert report["run"]["target"]["kind"] == "url"
    assert "site-token-1" not in (out / "report.json").read_text(encoding="utf-8")  # credentials stay out


def test_container_target_without_an_engine_could_not_run(tmp_path: Path) -> None:
    env = {k: v for k, v in os.environ.items() if k != "DOCKER_HOST"}
    r = _certify(
        "--manifest", str(PLATFORM), "--profile", "platform-regression", "--target", "container",
        "--out", str(tmp_path / "out"), env=env,
    )  # fmt: skip
    assert r.returncode == 2 and "结论 Verdict: 无法运行 COULD NOT RUN" in r.stdout, r.stdout
    assert "DOCKER_HOST not set" in r.stdout
