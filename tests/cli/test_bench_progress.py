"""`make bench` (python -m bench) says when each benchmark starts and ends, as it happens."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

pytestmark = pytest.mark.timeout(120)

ROOT = Path(__file__).resolve().parents[2]


def test_each_benchmark_is_announced_as_it_starts_and_ends(tmp_path: Path) -> None:
    out = tmp_path / "results.json"
    p = subprocess.Popen(
        [sys.executable, "-m", "bench", "mapping", "--out", str(out)],
        cwd=ROOT,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    assert p.stdout is not None
    # The start line arrives before the benchmark has finished (unbuffered, line by line).
    first = p.stdout.readline()
    assert first.startswith("[1/1] ▶ 开始 start bench.mapping_bench"), first
    assert p.poll() is None or not out.exists(), "the start line came only after the run"
    rest, err = p.communicate(timeout=100)
    assert p.returncode == 0, err
    assert "[1/1] ✔ 完成 done bench.mapping_bench (" in rest
    assert "adapters.mapping.decode:" in rest
    assert json.loads(out.read_text(encoding="utf-8"))[0]["name"] == "adapters.mapping.decode"


def test_bench_out_needs_a_file() -> None:
    r = subprocess.run(
        [sys.executable, "-m", "bench", "mapping", "--out"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert r.returncode == 2 and "usage" in r.stderr
