"""`santong mock serve`: one JSON line, clean exit on SIGTERM and SIGINT, arguments checked."""

from __future__ import annotations

import signal
import subprocess
import sys
from pathlib import Path

import pytest
from mp_fixtures import ROOT, serve_args, start_process, stop_process
from mpclient import Target


@pytest.mark.parametrize("sig", [signal.SIGTERM, signal.SIGINT])
def test_serve_prints_ports_and_exits_cleanly(tmp_path: Path, sig: int) -> None:
    proc, info = start_process(
        serve_args(tmp_path / "m.db", "--device", "D-1:tok", "--inspection-token", "insp")
    )
    try:
        assert set(info) == {"grpc_port", "http_port", "inspection_token", "pid"}
        assert info["pid"] == proc.pid and info["inspection_token"] == "insp" and info["grpc_port"] > 0
        t = Target("process", f"127.0.0.1:{info['grpc_port']}", "insp")
        try:
            assert [d["device_id"] for d in t.inspect("devices")] == ["D-1"]
        finally:
            t.close()
    finally:
        assert stop_process(proc, sig) == 0


def test_serve_with_http(tmp_path: Path) -> None:
    """With --http-port 0 the HTTP/JSON server listens too and its port is in the JSON line."""
    import urllib.request

    args = [a if a != "-1" else "0" for a in serve_args(None)]
    proc, info = start_process(args)
    try:
        assert info["http_port"] > 0
        with urllib.request.urlopen(
            f"http://127.0.0.1:{info['http_port']}/v1/platform/info", timeout=10
        ) as r:
            assert r.status == 200
    finally:
        assert stop_process(proc) == 0


@pytest.mark.parametrize("bad", [["--device", "no-colon"], ["--client-ca", "x.pem"], ["--tls-cert", "x.pem"]])
def test_bad_arguments(bad: list[str]) -> None:
    r = subprocess.run([sys.executable, "-m", "santong", "mock", "serve", "--grpc-port", "0", "--http-port", "-1", *bad],
                       capture_output=True, text=True, cwd=ROOT, timeout=60)  # fmt: skip
    assert r.returncode == 2, r.stderr


def _serve(*extra: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    import os

    return subprocess.run([sys.executable, "-m", "santong", "mock", "serve", "--grpc-port", "0", "--http-port", "-1", *extra],
                          capture_output=True, text=True, cwd=ROOT, timeout=60, env={**os.environ, **(env or {})})  # fmt: skip


@pytest.mark.parametrize("host", ["0.0.0.0", "::", "192.0.2.1", "mock.example"])
def test_a_public_bind_without_tls_is_refused(host: str) -> None:
    """Issue 12, item 7: --host 0.0.0.0 without TLS started silently, exposing inspection, faults and tokens."""
    r = _serve("--host", host)
    assert r.returncode == 2 and "--insecure" in r.stderr and "TLS" in r.stderr, r.stderr
    assert r.stdout == ""  # nothing listened


def test_insecure_allows_it_with_a_warning(capsys: pytest.CaptureFixture[str]) -> None:
    import argparse

    from santong.mock_platform.cli import _check_exposure

    _check_exposure(argparse.Namespace(host="0.0.0.0", insecure=True), None)
    assert "--insecure" in capsys.readouterr().err
    _check_exposure(argparse.Namespace(host="127.0.0.1", insecure=False), None)  # loopback: silent
    _check_exposure(argparse.Namespace(host="0.0.0.0", insecure=False), object())  # TLS: allowed
    assert capsys.readouterr().err == ""


def test_device_tokens_from_a_file_and_the_environment(tmp_path: Path) -> None:
    """Tokens on the command line are visible in /proc: a file or an environment variable keeps them out."""
    creds = tmp_path / "devices.txt"
    creds.write_text("# id:token\nF-1:file-token\nF-2:other  # trailing comment\n", encoding="utf-8")
    import os

    env = {**os.environ, "SANTONG_MOCK_DEVICES": "E-1:env-token, E-2:x"}
    proc = subprocess.Popen(serve_args(None, "--devices-file", str(creds), "--inspection-token", "insp"),
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, cwd=ROOT, env=env)  # fmt: skip
    try:
        import json

        info = json.loads(proc.stdout.readline() if proc.stdout else "{}")
        assert "file-token" not in " ".join(proc.args)  # type: ignore[arg-type]
        t = Target("process", f"127.0.0.1:{info['grpc_port']}", "insp")
        try:
            assert sorted(d["device_id"] for d in t.inspect("devices")) == ["E-1", "E-2", "F-1", "F-2"]
        finally:
            t.close()
    finally:
        assert stop_process(proc) == 0


@pytest.mark.parametrize(
    ("extra", "env"),
    [
        (["--devices-file", "/no/such/file"], {}),
        (["--devices-file", "{bad}"], {}),
        ([], {"SANTONG_MOCK_DEVICES": "no-colon"}),
    ],
)
def test_bad_credentials_sources_are_usage_errors(
    tmp_path: Path, extra: list[str], env: dict[str, str]
) -> None:
    if "{bad}" in extra:
        bad = tmp_path / "bad.txt"
        bad.write_text("D-1 without a token\n", encoding="utf-8")
        extra = [str(bad) if a == "{bad}" else a for a in extra]
    r = _serve(*extra, env=env)
    assert r.returncode == 2 and r.stderr.startswith("✘ 错误 error:"), r.stderr
    assert "Traceback" not in r.stderr
