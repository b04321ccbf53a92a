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
