"""Container helpers for the mock platform's container tests (testcontainers on podman's Docker API).

The engine comes from ``source scripts/container-engine.sh`` (see docs/containers.md), which exports
``DOCKER_HOST``, ``TESTCONTAINERS_RYUK_DISABLED=true`` and ``TESTCONTAINERS_CONNECTION_MODE=docker_host``.
Without an answering engine, tests skip with the one-line reason from :func:`engine_available`.

Example::

    ok, reason = engine_available()
    if not ok:
        pytest.skip(reason)
    with start_container("localhost/santong-mock:dev", ports=[50051, 8080]) as started:
        grpc_target = f"{started.host}:{started.ports[50051]}"
"""

from __future__ import annotations

import contextlib
import os
import socket
import time
from dataclasses import dataclass, field
from types import TracebackType
from typing import Any
from urllib.parse import urlsplit

__all__ = [
    "BASE_IMAGE",
    "MOCK_IMAGE",
    "StartedContainer",
    "engine_available",
    "image_available",
    "start_container",
    "wait_for_port",
]

BASE_IMAGE = "localhost/localbase:bookworm"
MOCK_IMAGE = os.environ.get("SANTONG_MOCK_IMAGE", "localhost/santong-mock:dev")

_HOW = "source scripts/container-engine.sh"


def _api_get(path: str, timeout: float) -> tuple[int, bytes]:
    """GET ``path`` from the Docker API at DOCKER_HOST (unix:// or tcp://); returns (status, body)."""
    url = urlsplit(os.environ.get("DOCKER_HOST", ""))
    if url.scheme == "unix":
        sock: socket.socket = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        address: Any = url.path
    elif url.scheme in ("tcp", "http"):
        sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        address = (url.hostname or "127.0.0.1", url.port or 2375)
    else:
        raise ValueError(f"unsupported DOCKER_HOST scheme {url.scheme!r}")
    with sock:
        sock.settimeout(timeout)
        sock.connect(address)
        sock.sendall(f"GET {path} HTTP/1.0\r\nHost: docker\r\n\r\n".encode())
        chunks = []
        while chunk := sock.recv(65536):
            chunks.append(chunk)
    head, _, body = b"".join(chunks).partition(b"\r\n\r\n")
    status = int(head.split(b" ", 2)[1]) if head.startswith(b"HTTP/") else 0
    return status, body


def engine_available(timeout: float = 1.0) -> tuple[bool, str]:
    """Ping DOCKER_HOST's engine; return (answers, one-line reason in Chinese and English)."""
    host = os.environ.get("DOCKER_HOST", "")
    if not host:
        return (
            False,
            f"未设置 DOCKER_HOST，无容器引擎 / DOCKER_HOST not set, no container engine (run `{_HOW}`)",
        )
    try:
        import testcontainers  # noqa: F401
    except ImportError:
        return False, "未安装 testcontainers / testcontainers not installed (pip install -e '.[dev]')"
    try:
        status, body = _api_get("/_ping", timeout)
    except (OSError, ValueError) as e:
        return False, f"容器引擎无响应 / container engine not answering at {host}: {e} (run `{_HOW}`)"
    if status != 200 or body.strip() != b"OK":
        return False, f"容器引擎响应异常 / container engine at {host} answered {status} {body[:40]!r}"
    return True, f"容器引擎在线 / container engine answers at {host}"


def image_available(image: str, timeout: float = 2.0) -> tuple[bool, str]:
    """Whether the engine has ``image`` locally (no pull is ever attempted); reason is one line."""
    try:
        status, _ = _api_get(f"/images/{image}/json", timeout)
    except (OSError, ValueError) as e:
        return False, f"容器引擎无响应 / container engine not answering: {e}"
    if status == 200:
        return True, f"镜像存在 / image present: {image}"
    hint = "bash scripts/build-mock-image.sh" if image == MOCK_IMAGE else _HOW
    return False, f"镜像缺失 / image missing: {image} (run `{hint}`)"


@dataclass
class StartedContainer:
    """A started container: ``host`` and ``ports`` (container port → host port) to connect to it."""

    container: Any  # testcontainers.core.container.DockerContainer
    host: str
    ports: dict[int, int] = field(default_factory=dict)

    def logs(self) -> str:
        """stdout + stderr so far, decoded."""
        out, err = self.container.get_logs()
        return bytes(out + err).decode(errors="replace")

    def wait(self, timeout: float = 30.0) -> int:
        """Wait until the container exits; return its exit code."""
        result = self.container.get_wrapped_container().wait(timeout=timeout)
        return int(result["StatusCode"])

    def stop(self, timeout: int = 2) -> None:
        """Stop (SIGTERM/STOPSIGNAL, SIGKILL after ``timeout`` s) and remove the container. Idempotent."""
        wrapped = self.container._container
        if wrapped is None:
            return
        with contextlib.suppress(Exception):  # already exited or gone: removal below still applies
            wrapped.stop(timeout=timeout)
        try:
            self.container.stop(force=True)
        finally:
            self.container._container = None

    def __enter__(self) -> StartedContainer:
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.stop()


def start_container(
    image: str,
    ports: list[int] | tuple[int, ...] = (),
    *,
    command: str | list[str] | None = None,
    entrypoint: str | list[str] | None = None,
    env: dict[str, str] | None = None,
    wait_for_log: str | None = None,
    stop_signal: str | None = None,
    timeout: float = 30.0,
) -> StartedContainer:
    """Start ``image`` with ``ports`` published on random host ports; always clean up with ``.stop()``.

    ``wait_for_log`` (a regex) blocks until the logs match, else raises (and removes the container).
    ``stop_signal`` overrides the image's STOPSIGNAL: a bare ``python`` as PID 1 ignores SIGTERM (the default)
    but not ``"SIGINT"``.
    """
    from testcontainers.core.container import DockerContainer

    kwargs: dict[str, Any] = {}
    if entrypoint is not None:
        kwargs["entrypoint"] = entrypoint
    if stop_signal is not None:
        kwargs["stop_signal"] = stop_signal
    container = DockerContainer(image, env=env, ports=list(ports), **kwargs)
    if command is not None:
        container.with_command(command)
    if wait_for_log is not None:
        from testcontainers.core.wait_strategies import LogMessageWaitStrategy

        strategy = LogMessageWaitStrategy(wait_for_log).with_poll_interval(0.1)  # default polls once a second
        container.waiting_for(strategy.with_startup_timeout(int(timeout)))
    try:
        container.start()
        host = container.get_container_host_ip()
        if host == "localhost":
            host = "127.0.0.1"  # the published ports are IPv4
        mapped = {port: int(container.get_exposed_port(port)) for port in ports}
    except BaseException:
        if container._container is not None:
            container.stop(force=True)
        raise
    return StartedContainer(container=container, host=host, ports=mapped)


def wait_for_port(host: str, port: int, timeout: float = 10.0) -> None:
    """Block until ``host:port`` accepts a TCP connection (a published port may lag the process)."""
    deadline = time.monotonic() + timeout
    while True:
        try:
            socket.create_connection((host, port), timeout=0.5).close()
            return
        except OSError:
            if time.monotonic() > deadline:
                raise
            time.sleep(0.05)
