"""`santong certify` progress: plain lines off a terminal, a live status line on one, one stop for a dead platform."""

from __future__ import annotations

import os
import pty
import select
import socket
import subprocess
import sys
from pathlib import Path

import pytest
import yaml
from santong.conformance._progress import Progress, format_duration

pytestmark = pytest.mark.timeout(180)

ROOT = Path(__file__).resolve().parents[2]
EXAMPLE = ROOT / "conformance" / "examples" / "manifest.example.yaml"
MOCK_MANIFEST = ROOT / "conformance" / "products" / "santong-mock.manifest.yaml"

# A small suite: one declared-data case and two "live" cases (they use a fixture named like the suite's).
SUITE = """
import pytest

@pytest.fixture(scope="session")
def live():
    return {"ok": True}

@pytest.mark.clause("ST-DATA-011")
def test_declared():
    pass

@pytest.mark.clause("ST-PROTO-005")
def test_heartbeat(live):
    assert live["ok"]

@pytest.mark.clause("ST-PROTO-006", "ST-PROTO-025")
def test_interval(live):
    pytest.fail("[ST-PROTO-025] 上报间隔 12 s，声明 1 s / reports every 12 s, 1 s declared", pytrace=False)
"""


def _manifest(tmp: Path) -> Path:
    d = yaml.safe_load(EXAMPLE.read_text(encoding="utf-8"))
    d["start"] = "external"
    path = tmp / "manifest.yaml"
    path.write_text(yaml.safe_dump(d, allow_unicode=True, sort_keys=False), encoding="utf-8")
    return path


def _suite(tmp: Path) -> Path:
    suite = tmp / "suite"
    suite.mkdir()
    (suite / "test_small.py").write_text(SUITE, encoding="utf-8")
    return suite


def _free_port() -> int:
    """A port nobody listens on: bound by the OS, then released."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def test_format_duration() -> None:
    assert [format_duration(x) for x in (0, 59.4, 75, 3725, -3)] == [
        "0:00",
        "0:59",
        "1:15",
        "1:02:05",
        "0:00",
    ]


def test_plain_lines_when_not_a_terminal(tmp_path: Path) -> None:
    r = subprocess.run(
        [
            sys.executable,
            "-m",
            "santong",
            "certify",
            "--manifest",
            str(_manifest(tmp_path)),
            "--profile",
            "full",
        ]
        + ["--out", str(tmp_path / "out"), "--suite", str(_suite(tmp_path))],
        capture_output=True,
        text=True,
        timeout=120,
    )
    out = r.stdout
    assert "\x1b[" not in out, "escape sequences in a log"
    assert "收集 Collected: 3 个用例 cases" in out and "预计 estimated ~" in out
    # A live case says when it starts (with its clauses, elapsed time and estimate), every case when it ends.
    assert "▶ 开始 start test_small.py::test_heartbeat [ST-PROTO-005] · 总计 elapsed 0:00 · 预计剩余 ~" in out
    assert "▶ 开始 start test_small.py::test_interval [ST-PROTO-006, ST-PROTO-025]" in out
    assert "▶ 开始 start test_small.py::test_declared" not in out
    assert "[1/3] 通过 PASS   test_small.py::test_declared" in out
    assert "[3/3] 失败 FAIL   test_small.py::test_interval" in out
    # The failure's first line in full, as in the JUnit report.
    assert "↳ [ST-PROTO-025] 上报间隔 12 s，声明 1 s / reports every 12 s, 1 s declared" in out


def test_a_live_status_line_on_a_terminal(tmp_path: Path) -> None:
    """Under a pseudo-terminal the progress is drawn by rich (cursor control), and the lines still come out."""
    main, sub = pty.openpty()
    try:
        p = subprocess.Popen(
            [sys.executable, "-m", "santong", "certify", "--manifest", str(_manifest(tmp_path))]
            + ["--profile", "full", "--out", str(tmp_path / "out"), "--suite", str(_suite(tmp_path))],
            stdin=subprocess.DEVNULL,
            stdout=sub,
            stderr=sub,
            env={**os.environ, "TERM": "xterm-256color", "COLUMNS": "200"},
        )
        os.close(sub)
        chunks = []
        while True:
            ready, _, _ = select.select([main], [], [], 60)
            if not ready:
                break
            try:
                data = os.read(main, 65536)
            except OSError:  # the child closed the terminal
                break
            if not data:
                break
            chunks.append(data)
        assert p.wait(timeout=60) == 1
    finally:
        os.close(main)
    out = b"".join(chunks).decode("utf-8", errors="replace")
    assert "\x1b[?25l" in out, "no live display (rich hides the cursor while it draws)"
    assert "[3/3] 失败 FAIL   test_small.py::test_interval" in out
    assert "结论 Verdict: 不通过 FAIL" in out


def test_the_estimate_comes_from_the_declared_intervals() -> None:
    """Before any case ends, a live case counts two of the longer declared intervals; the window counts once."""
    import io

    prog = Progress(io.StringIO(), live=False)
    prog._prior = {"a": 0.05, "b": 24.0, "c": 24.0}
    prog._once_s = 48.0
    assert prog.remaining_s() == pytest.approx(0.05 + 24 + 24 + 48)
    # After the first live case took half its prior, the rest is scaled by the same factor; the window is paid.
    prog._prior_done, prog._live_prior_done, prog._live_actual_done = 24.05, 24.0, 12.0
    assert prog.remaining_s() == pytest.approx(12.0)


def test_an_unreachable_platform_stops_the_run_once(tmp_path: Path) -> None:
    """The bundled suite against a URL where nothing listens: one case finds out, the run stops, one reason."""
    creds = tmp_path / "credentials.yaml"
    creds.write_text("token: t0k3n\ndevice_id: ST-TEST-0001\n", encoding="utf-8")
    url = f"grpc://127.0.0.1:{_free_port()}"
    r = subprocess.run(
        [sys.executable, "-m", "santong", "certify", "--manifest", str(MOCK_MANIFEST)]
        + ["--profile", "platform-regression", "--url", url, "--credentials", str(creds)]
        + ["--out", str(tmp_path / "out")],
        capture_output=True,
        text=True,
        timeout=150,
    )
    out = r.stdout
    assert r.returncode == 2, out
    assert out.count("错误 ERROR") == 1, out
    assert "▶ 开始 start" not in out, "platform cases are quick: no start lines"
    assert "运行已停止" in out and "the run stopped" in out
    assert "结论 Verdict: 无法运行 COULD NOT RUN" in out
    verdict = out.split("结论 Verdict:", 1)[1].split("产品 Product:", 1)[0]
    reasons = [ln for ln in verdict.splitlines()[1:] if ln.startswith("  - ")]
    assert len(reasons) == 1 and "does not answer" in reasons[0], reasons
    assert "KeyboardInterrupt" not in out and "Traceback" not in out + r.stderr
