"""Fixtures of the mock platform tests: the same cases run against every target (indirect parametrization).

Targets: ``embedded`` (MockPlatform on a background event loop in this process), ``process``
(``santong mock serve`` as a subprocess) and ``container`` (the image under podman via testcontainers; skipped
with a one-line reason where no engine answers). A test opts in by taking the ``platform_target`` fixture;
a module may narrow the kinds with ``TARGET_KINDS = [...]``.
"""

from __future__ import annotations

import json
import secrets
import signal
import subprocess
import sys
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from mpclient import Target
from santong.mock_platform import PlatformConfig
from santong.mock_platform.embedded import BackgroundMockPlatform
from santong.protocols import default_limits

TARGET_KINDS = ["embedded", "process", "container"]
HEARTBEAT_MS = 300
OFFLINE_AFTER = 2
ROOT = Path(__file__).resolve().parents[2]


def test_limits() -> Any:
    """Limits of the test platforms: a short heartbeat window so that offline detection is quick to test."""
    limits = default_limits()
    limits.heartbeat_interval_ms = HEARTBEAT_MS
    limits.offline_after_missed = OFFLINE_AFTER
    return limits


test_limits.__test__ = False  # type: ignore[attr-defined]


def pytest_generate_tests(metafunc: pytest.Metafunc) -> None:
    if "platform_target" in metafunc.fixturenames:
        kinds = getattr(metafunc.module, "TARGET_KINDS", TARGET_KINDS)
        metafunc.parametrize("platform_target", kinds, indirect=True, scope="session")


@pytest.fixture(scope="session")
def platform_target(request: pytest.FixtureRequest) -> Target:
    """A running mock platform of the kind given by the parameter."""
    return request.getfixturevalue(f"{request.param}_target")  # type: ignore[no-any-return]


@pytest.fixture
def target(platform_target: Target) -> Iterator[Target]:
    """The parametrized target, with every fault cleared after the test."""
    yield platform_target
    platform_target.fault("clear")


# ---------------------------------------------------------------------------- embedded


@pytest.fixture(scope="session")
def embedded_target() -> Iterator[Target]:
    token = secrets.token_urlsafe(16)
    with BackgroundMockPlatform(
        PlatformConfig(limits=test_limits(), inspection_token=token), http_port=None
    ) as bg:
        t = Target("embedded", bg.grpc_target, token)
        t.background = bg  # type: ignore[attr-defined]
        yield t
        t.close()


# ---------------------------------------------------------------------------- process


def serve_args(db: Path | None, *extra: str) -> list[str]:
    """Command line of `santong mock serve` with the test limits."""
    args = [sys.executable, "-m", "santong", "mock", "serve", "--grpc-port", "0", "--http-port", "-1",
            "--heartbeat-interval-ms", str(HEARTBEAT_MS), "--offline-after-missed", str(OFFLINE_AFTER)]  # fmt: skip
    if db is not None:
        args += ["--db", str(db)]
    return args + list(extra)


def start_process(args: list[str], timeout: float = 30.0) -> tuple[subprocess.Popen[str], dict[str, Any]]:
    """Start a server process and read its JSON line (ports, token, pid)."""
    proc = subprocess.Popen(args, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, cwd=ROOT)
    box: dict[str, str] = {}
    reader = threading.Thread(
        target=lambda: box.setdefault("line", proc.stdout.readline() if proc.stdout else ""), daemon=True
    )
    reader.start()
    reader.join(timeout)
    line = box.get("line", "")
    if not line:
        proc.kill()
        _, err = proc.communicate(timeout=10)
        raise RuntimeError(f"server printed no JSON line: {err[-2000:]}")
    return proc, json.loads(line)


def stop_process(proc: subprocess.Popen[str], sig: int = signal.SIGTERM, timeout: float = 20.0) -> int:
    """Signal a server process and wait for its exit code."""
    if proc.poll() is None:
        proc.send_signal(sig)
    try:
        return proc.wait(timeout)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()


@pytest.fixture(scope="session")
def process_target(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Target]:
    db = tmp_path_factory.mktemp("process") / "mock.db"
    proc, info = start_process(serve_args(db))
    t = Target("process", f"127.0.0.1:{info['grpc_port']}", info["inspection_token"])
    try:
        yield t
    finally:
        t.close()
        rc = stop_process(proc)
        assert rc == 0, proc.stderr.read() if proc.stderr else rc


# ---------------------------------------------------------------------------- container


@pytest.fixture(scope="session")
def container_target() -> Iterator[Target]:
    from containers import MOCK_IMAGE, engine_available, image_available, start_container, wait_for_port

    ok, reason = engine_available()
    if not ok:
        pytest.skip(reason)
    ok, reason = image_available(MOCK_IMAGE)
    if not ok:
        pytest.skip(reason)
    token = secrets.token_urlsafe(16)
    command = [
        "--heartbeat-interval-ms",
        str(HEARTBEAT_MS),
        "--offline-after-missed",
        str(OFFLINE_AFTER),
        "--inspection-token",
        token,
    ]
    with start_container(
        MOCK_IMAGE, ports=[50051, 8080], command=command, wait_for_log='"grpc_port"', timeout=60
    ) as c:
        wait_for_port(c.host, c.ports[50051])
        t = Target(
            "container", f"{c.host}:{c.ports[50051]}", token, http_url=f"http://{c.host}:{c.ports[8080]}"
        )
        yield t
        t.close()
