"""A failing case's message in every report is its own text: no pytest assertion explanation, no Python reprs."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

pytestmark = pytest.mark.timeout(120)

ROOT = Path(__file__).resolve().parents[2]
EXAMPLE = ROOT / "conformance" / "examples" / "manifest.example.yaml"

SUITE = """
import pytest
from dataclasses import dataclass


@dataclass
class Gap:
    seconds: int


@pytest.mark.clause("ST-PROTO-005")
def test_gap():
    gaps = [Gap(1), Gap(12)]
    assert max(g.seconds for g in gaps) < 3, f"[ST-PROTO-005] 心跳间隔 12 s / heartbeat gap of 12 s"


@pytest.mark.clause("ST-PROTO-025")
def test_list():
    gaps = [Gap(12)]
    assert not gaps, "[ST-PROTO-025] 平台未判定离线 / the platform did not mark the device offline"
"""


def test_messages_carry_no_assertion_explanation(tmp_path: Path) -> None:
    d = yaml.safe_load(EXAMPLE.read_text(encoding="utf-8"))
    d["start"] = "external"
    manifest = tmp_path / "manifest.yaml"
    manifest.write_text(yaml.safe_dump(d, allow_unicode=True, sort_keys=False), encoding="utf-8")
    suite = tmp_path / "suite"
    suite.mkdir()
    (suite / "test_msgs.py").write_text(SUITE, encoding="utf-8")
    out = tmp_path / "out"
    r = subprocess.run(
        [sys.executable, "-m", "santong", "certify", "--manifest", str(manifest), "--profile", "full"]
        + ["--out", str(out), "--suite", str(suite)],
        capture_output=True,
        text=True,
        timeout=100,
    )
    assert r.returncode == 1, r.stdout
    report = json.loads((out / "report.json").read_text(encoding="utf-8"))["report"]
    messages = {c["name"]: c["message"] for c in report["results"]["cases"]}
    assert messages == {
        "test_gap": "[ST-PROTO-005] 心跳间隔 12 s / heartbeat gap of 12 s",
        "test_list": "[ST-PROTO-025] 平台未判定离线 / the platform did not mark the device offline",
    }
    for name in ("report.json", "junit.xml", "report.html"):
        text = (out / name).read_text(encoding="utf-8")
        for bad in ("assert ", "where ", "Gap(seconds", "AssertionError"):
            assert bad not in text, (name, bad)
    for bad in ("assert max", "Gap(seconds"):
        assert bad not in r.stdout
