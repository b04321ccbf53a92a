"""`santong load` for real: a Locust master and two workers (subprocesses) against `santong mock serve` on
127.0.0.1, ports from the OS. The verdict is checked by counts (acknowledged = stored, no error), never by latency:
the machine may be oversubscribed. Every run is bounded (duration in the scenario, deadlines on the processes)."""

from __future__ import annotations

import importlib.util
import json
import signal
import subprocess
import sys
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

# find_spec, not importorskip: importing Locust here would monkey-patch this pytest process with gevent.
pytestmark = pytest.mark.skipif(
    importlib.util.find_spec("locust") is None,
    reason="santong[load] 未安装 / the load extra (Locust) is not installed",
)

TOKEN = "load-test-inspection"


@pytest.fixture(scope="module")
def mock() -> Iterator[dict[str, Any]]:
    """`santong mock serve` with gRPC and HTTP on ports the OS picks."""
    args = [sys.executable, "-m", "santong", "mock", "serve", "--grpc-port", "0", "--http-port", "0",
            "--inspection-token", TOKEN, "--max-uploads-per-second", "0"]  # fmt: skip
    proc = subprocess.Popen(args, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    box: dict[str, str] = {}
    reader = threading.Thread(
        target=lambda: box.setdefault("line", proc.stdout.readline() if proc.stdout else "")
    )
    reader.start()
    reader.join(60)
    if not box.get("line"):
        proc.kill()
        pytest.fail(f"santong mock serve printed no ready line: {proc.communicate(timeout=10)[1][-2000:]}")
    try:
        yield json.loads(box["line"])
    finally:
        proc.send_signal(signal.SIGTERM)
        try:
            proc.wait(30)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


def _scenario(tmp_path: Path, mock: dict[str, Any], transport: str, *, prefix: str, duration: float,
              extra_target: str = "", credentials: str | None = None) -> Path:  # fmt: skip
    url = f"127.0.0.1:{mock['grpc_port']}" if transport == "grpc" else f"http://127.0.0.1:{mock['http_port']}"
    source = (
        f"  credentials_file: {credentials}\n"
        if credentials
        else f"  mock:\n    inspection_url: http://127.0.0.1:{mock['http_port']}\n    inspection_token: {TOKEN}\n"
    )
    text = (
        f"version: 1\nname: {prefix}\nmines: 3\ndevices_per_mine: 3\npoints_per_device: 16\ninterval_s: 1\n"
        f"ramp_up_s: 3\nduration_s: {duration}\ndevice_prefix: {prefix}\n"
        f"target:\n  transport: {transport}\n  url: '{url}'\n{extra_target}{source}"
        "pass:\n  max_error_rate: 0\n"
    )
    path = tmp_path / f"{prefix}.yaml"
    path.write_text(text, encoding="utf-8")
    return path


def _load(*args: str, timeout: float = 240) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "santong", "load", *args], capture_output=True, text=True,
                          timeout=timeout, stdin=subprocess.DEVNULL)  # fmt: skip


def test_master_and_two_workers_store_exactly_what_was_acknowledged(
    tmp_path: Path, mock: dict[str, Any]
) -> None:
    sc = _scenario(tmp_path, mock, "grpc", prefix="LT2W", duration=17)  # about 20 s with the ramp-up
    out = tmp_path / "out"
    r = _load(str(sc), "--out", str(out), "--workers", "2")
    assert r.returncode == 0, r.stdout + r.stderr
    summary = json.loads((out / "summary.json").read_text(encoding="utf-8"))
    assert summary["verdict"] == "PASS"
    f = summary["figures"]
    assert f["devices_started"] == 9
    assert f["stored"] == {"batches": f["totals"]["batches_acked"], "points": f["totals"]["points_acked"]}
    assert f["totals"]["points_acked"] == 16 * f["totals"]["batches_acked"] > 0
    checks = {c["criterion"]: c for c in summary["checks"]}
    assert checks["error_rate"]["value"] == 0 and checks["store_matches_acks"]["passed"]
    for name in ("locust.html", "locust_stats.csv", "locust_failures.csv", "master.log", "worker-1.log",
                 "worker-2.log"):  # fmt: skip
        assert (out / name).is_file(), name
    assert "Verdict: PASS" in r.stdout


def test_standalone_over_http(tmp_path: Path, mock: dict[str, Any]) -> None:
    out = tmp_path / "out"
    r = _load(str(_scenario(tmp_path, mock, "http", prefix="LTHTTP", duration=3)), "--out", str(out))
    assert r.returncode == 0, r.stdout + r.stderr
    f = json.loads((out / "summary.json").read_text(encoding="utf-8"))["figures"]
    assert f["stored"]["batches"] == f["totals"]["batches_acked"] > 0


def test_errors_give_a_fail_verdict_and_exit_1(tmp_path: Path, mock: dict[str, Any]) -> None:
    """Devices with wrong tokens (a credentials file the platform does not know): every Register fails."""
    (tmp_path / "creds.yaml").write_text("token: wrong\n", encoding="utf-8")
    sc = _scenario(tmp_path, mock, "grpc", prefix="LTBAD", duration=2, credentials="creds.yaml")
    out = tmp_path / "out"
    r = _load(str(sc), "--out", str(out))
    assert r.returncode == 1, r.stdout + r.stderr
    summary = json.loads((out / "summary.json").read_text(encoding="utf-8"))
    assert summary["verdict"] == "FAIL"
    assert not {c["criterion"]: c for c in summary["checks"]}["error_rate"]["passed"]
    assert "UNAUTHENTICATED" in (out / "locust_failures.csv").read_text(encoding="utf-8")


def test_usage_and_environment_errors_exit_2(tmp_path: Path, mock: dict[str, Any]) -> None:
    sc = _scenario(tmp_path, mock, "grpc", prefix="LTUSE", duration=1)
    r = _load(str(sc))
    assert r.returncode == 2 and "--out" in r.stderr
    bad = tmp_path / "bad.yaml"
    bad.write_text(sc.read_text(encoding="utf-8").replace("mines: 3", "mines: 0"), encoding="utf-8")
    r = _load(str(bad), "--out", str(tmp_path / "o"))
    assert r.returncode == 2 and "bad.yaml:3: $.mines:" in r.stderr
    wrong = tmp_path / "wrong-token.yaml"
    wrong.write_text(sc.read_text(encoding="utf-8").replace(f"inspection_token: {TOKEN}", "inspection_token: x"),
                     encoding="utf-8")  # fmt: skip
    r = _load(str(wrong), "--out", str(tmp_path / "o2"))
    assert r.returncode == 2 and "inspection" in r.stderr
    assert not (tmp_path / "o2" / "summary.json").exists()
    r = _load("--schema")
    assert r.returncode == 0 and json.loads(r.stdout)["title"].startswith("santong")


def test_master_and_a_worker_joined_with_the_multi_machine_flags(
    tmp_path: Path, mock: dict[str, Any]
) -> None:
    """`--master --expect-workers 1` here and `--worker --master-host … --master-port …` as on another machine."""
    sc = _scenario(tmp_path, mock, "grpc", prefix="LTJOIN", duration=3)
    out = tmp_path / "out"
    master = subprocess.Popen(
        [sys.executable, "-m", "santong", "load", str(sc), "--out", str(out), "--master", "--expect-workers", "1"],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, stdin=subprocess.DEVNULL,
    )  # fmt: skip
    worker = None
    try:
        assert master.stdout is not None
        line = (
            master.stdout.readline()
        )  # "master 等待 1 个 worker / master waits for 1 worker(s) on HOST:PORT"
        assert "master waits for 1 worker(s) on 127.0.0.1:" in line, line + (
            master.stderr.read() if master.stderr else ""
        )
        port = line.rsplit(":", 1)[1].strip()
        worker = subprocess.Popen(
            [sys.executable, "-m", "santong", "load", str(sc), "--worker", "--master-host", "127.0.0.1",
             "--master-port", port],
            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True, stdin=subprocess.DEVNULL,
        )  # fmt: skip
        rest, err = master.communicate(timeout=240)
        assert master.returncode == 0, line + rest + err
        assert worker.wait(60) == 0
    finally:
        for p in (master, worker):
            if p is not None and p.poll() is None:
                p.kill()
                p.wait()
    summary = json.loads((out / "summary.json").read_text(encoding="utf-8"))
    f = summary["figures"]
    assert summary["verdict"] == "PASS" and f["devices_started"] == 9
    assert f["stored"]["batches"] == f["totals"]["batches_acked"] > 0


def test_role_options_are_checked(tmp_path: Path, mock: dict[str, Any]) -> None:
    sc = _scenario(tmp_path, mock, "grpc", prefix="LTROLE", duration=1)
    r = _load(str(sc), "--worker")
    assert r.returncode == 2 and "--master-host" in r.stderr
    r = _load(str(sc), "--out", str(tmp_path / "o"), "--master", "--workers", "2")
    assert r.returncode == 2 and "--master" in r.stderr
    r = _load(str(sc), "--out", str(tmp_path / "o"), "--workers", "65")
    assert r.returncode == 2
