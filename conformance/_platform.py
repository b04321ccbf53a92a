"""The platform side of a live run: the mock platform (embedded, process, container) or an external URL.

:func:`start_platform` gives a :class:`PlatformHandle` with the gRPC target the product and the suite's reference
device talk to and, for the mock, an :class:`Admin` client of its inspection and fault APIs (the admin channel
``/santong.mock.v1.Admin/{Inspect,Fault}``, the same for every mock target). An external platform (url target)
has no admin API: cases marked ``inspection`` are deselected there.

Example::

    handle = start_platform(settings, manifest, workdir, declared_points=16)
    try:
        obs = handle.admin.inspect("observations", device_id=handle.device_id)
        handle.admin.fault("outage_for", seconds=3.0)
    finally:
        handle.stop()
"""

from __future__ import annotations

import contextlib
import json
import os
import secrets
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from santong.conformance._manifest import Manifest
from santong.conformance._product import CouldNotRun
from santong.conformance._targets import TargetSettings

__all__ = [
    "ADMIN_SERVICE",
    "FRESH_DEVICE_HINT",
    "Admin",
    "PlatformHandle",
    "engine_available",
    "start_platform",
]

ADMIN_SERVICE = "santong.mock.v1.Admin"
INSPECTION_HEADER = "x-santong-inspection-token"
MOCK_IMAGE = os.environ.get("SANTONG_MOCK_IMAGE", "localhost/santong-mock:dev")
#: How long an upload whose acknowledgement the mock withholds hangs before UNAVAILABLE (embedded target).
WITHHOLD_HOLD_S = 2.0
#: Why a case that needs a never-registered device cannot have one, and the fix (bilingual).
FRESH_DEVICE_HINT = (
    "该用例需要一台从未注册过的新测试设备，而凭据文件中的设备会在每次运行中被重复使用。请在凭据文件中加上 enrolment（测试设备前缀与组密钥，"
    "平台按前缀接受新设备，如 santong mock serve --enrolment SANTONG-TEST-:密钥），每次运行即自动生成新设备；见 conformance/README.md"
    "“平台回归” / the case needs a fresh test device that never registered, and the credentials file's device is "
    "reused from run to run. Add `enrolment` (test-device prefix and group key; the platform accepts new devices "
    "under the prefix, e.g. santong mock serve --enrolment SANTONG-TEST-:KEY) to the credentials file and every run "
    'makes its own devices; see conformance/README.md, "Platform regression"'
)
_CHANNEL_OPTIONS = [
    ("grpc.initial_reconnect_backoff_ms", 100),
    ("grpc.min_reconnect_backoff_ms", 100),
    ("grpc.max_reconnect_backoff_ms", 500),
    ("grpc.enable_retries", 0),
    ("grpc.max_receive_message_length", 64 * 1024 * 1024),
    ("grpc.max_send_message_length", 64 * 1024 * 1024),
]


def channel(target: str, ca_pem: bytes | None = None, tls: bool = False) -> Any:
    """A synchronous gRPC channel that reconnects quickly after an injected outage."""
    import grpc  # noqa: PLC0415  (lazy)

    if tls or ca_pem is not None:
        creds = grpc.ssl_channel_credentials(root_certificates=ca_pem)
        return grpc.secure_channel(target, creds, options=_CHANNEL_OPTIONS)
    return grpc.insecure_channel(target, options=_CHANNEL_OPTIONS)


class Admin:
    """The mock platform's inspection and fault APIs over its gRPC admin channel (JSON in, JSON out).

    Example::

        admin.inspect("interactions", device_id="KJ-FZ-001", since_id=120)
        admin.fault("fail_next", n=3, code="UNAVAILABLE", methods=["ReportObservations"])
        admin.command("KJ-FZ-001", "TIME_SYNC")
    """

    def __init__(self, target: str, token: str, ca_pem: bytes | None = None, tls: bool = False) -> None:
        self.target, self._token = target, token
        self._channel = channel(target, ca_pem, tls)
        self._inspect = self._channel.unary_unary(f"/{ADMIN_SERVICE}/Inspect")
        self._fault = self._channel.unary_unary(f"/{ADMIN_SERVICE}/Fault")

    #: Operations that must not be sent twice (a retry after a lost answer would repeat them).
    ONCE = frozenset({"outage_for", "load_plan", "send_command", "reset"})

    def _call(self, fn: Any, op: str, args: dict[str, Any], timeout_s: float) -> Any:
        import grpc  # noqa: PLC0415

        body = json.dumps({"op": op, "args": args}, ensure_ascii=False).encode("utf-8")
        deadline = time.monotonic() + timeout_s
        while True:
            try:
                out = fn(
                    body,
                    metadata=((INSPECTION_HEADER, self._token),),
                    timeout=max(0.5, deadline - time.monotonic()),
                    wait_for_ready=True,
                )
                return json.loads(out.decode("utf-8"))
            except grpc.RpcError as e:
                code = e.code() if hasattr(e, "code") else None
                if (
                    code == grpc.StatusCode.UNAVAILABLE
                    and time.monotonic() < deadline
                    and op not in self.ONCE
                ):
                    time.sleep(0.1)  # the listener is being rebuilt after an injected outage
                    continue
                raise CouldNotRun(
                    f"模拟平台检查接口 {op} 失败 / the mock platform's admin call {op} failed at {self.target}: "
                    f"{code.name if code else '?'} {e.details() if hasattr(e, 'details') else e}"
                ) from e

    def inspect(self, op: str, timeout_s: float = 30.0, **args: Any) -> Any:
        """One inspection operation (devices, definitions, observations, batches, interactions, …)."""
        return self._call(self._inspect, op, {k: v for k, v in args.items() if v is not None}, timeout_s)

    def fault(self, op: str, timeout_s: float = 30.0, **args: Any) -> Any:
        """One fault operation (outage_for, fail_next, withhold_acks, clock_offset, clear, status, …)."""
        return self._call(self._fault, op, {k: v for k, v in args.items() if v is not None}, timeout_s)

    def command(self, device_id: str, command_type: str, /, **payload: Any) -> dict[str, Any]:
        """Queue a downlink command (TIME_SYNC, CONFIGURE, RESEND_DEFINITIONS, WRITE_POINT, TEST_EVENT with kind,
        point_code, value, hold_ms); its command_id."""
        result: dict[str, Any] = self.inspect(
            "send_command", device_id=device_id, type=command_type, **payload
        )
        return result

    def add_device(self, device_id: str, token: str) -> None:
        """Give a device credentials."""
        self.inspect("add_device", device_id=device_id, token=token)

    def device(self, device_id: str) -> dict[str, Any] | None:
        """The inspection record of one device, or None."""
        return next((d for d in self.inspect("devices") if d["device_id"] == device_id), None)

    def last_interaction_id(self) -> int:
        """The id of the newest interaction-log row (0 when empty)."""
        rows = self.inspect("interactions")
        return int(rows[-1]["id"]) if rows else 0

    def close(self) -> None:
        """Close the channel."""
        self._channel.close()


@dataclass
class PlatformHandle:
    """The platform of a run: where to reach it, its admin API (mock only), the product's credentials."""

    kind: str
    grpc_target: str
    http_url: str | None
    device_id: str
    token: str
    admin: Admin | None = None
    tls: bool = False
    ca_pem: bytes | None = None
    limits: Any = None  # santong.protocols.v1.device_access_pb2.Limits from GetPlatformInfo
    info: Any = None  # GetPlatformInfoResponse
    notes: dict[str, Any] = field(default_factory=dict)
    #: Read-only inspection of an external platform (credentials' inspection_token): registrations only.
    registry: Admin | None = None
    #: Group enrolment of test devices on an external platform (credentials' enrolment): prefix and key.
    enrolment: tuple[str, str] | None = None
    _stop: Callable[[], None] | None = None

    def channel(self) -> Any:
        """A new synchronous gRPC channel to the platform (the caller closes it)."""
        return channel(self.grpc_target, self.ca_pem, self.tls)

    @property
    def makes_devices(self) -> bool:
        """Whether the run can make a fresh device: on the mock, or by group enrolment on an external platform."""
        return self.admin is not None or self.enrolment is not None

    def new_device(self, prefix: str) -> tuple[str, str]:
        """Credentials of a fresh device: added on the mock; on an external platform an ID under the enrolment
        prefix, unique to this run (UTC minute and a random part), with its derived token. CouldNotRun otherwise,
        with the fix."""
        if self.admin is not None:
            device_id = f"{prefix}-{secrets.token_hex(3)}"
            token = secrets.token_hex(16)
            self.admin.add_device(device_id, token)
            return device_id, token
        if self.enrolment is not None:
            from santong.mock_platform._credentials import enrolment_token  # noqa: PLC0415

            group, key = self.enrolment
            stamp = time.strftime("%Y%m%d%H%M", time.gmtime())
            device_id = f"{group}{stamp}-{secrets.token_hex(3).upper()}"
            return device_id, enrolment_token(key, device_id)
        raise CouldNotRun(FRESH_DEVICE_HINT)

    def registrations(self) -> list[dict[str, Any]] | None:
        """Every device the platform knows, with the RegisterRequest it received (mock inspection ``devices``);
        None when the platform offers no inspection (an external platform without an inspection_token)."""
        reader = self.admin or self.registry
        if reader is None:
            return None
        rows: list[dict[str, Any]] = reader.inspect("devices")
        return rows

    def as_dict(self) -> dict[str, Any]:
        """Evidence: what the platform announced (no tokens)."""
        from santong.protocols import to_dict  # noqa: PLC0415

        return {
            "kind": self.kind,
            "grpc_target": self.grpc_target,
            "http_url": self.http_url,
            "tls": self.tls,
            "limits": to_dict(self.limits) if self.limits is not None else None,
            **self.notes,
        }

    def stop(self) -> None:
        """Stop the platform (mock targets) and close the admin channel."""
        for api in (self.admin, self.registry):
            if api is not None:
                with contextlib.suppress(Exception):
                    api.close()
        if self._stop is not None:
            stop, self._stop = self._stop, None
            stop()


# ----------------------------------------------------------------------------------------------- targets


def _limits(manifest: Manifest, declared_points: int) -> Any:
    """The limits the embedded mock announces: the manifest's heartbeat interval; batch and definition limits
    below the declared point count, so that honouring Limits (ST-PROTO-008) is really exercised."""
    from santong.protocols import default_limits  # noqa: PLC0415

    limits = default_limits()
    limits.heartbeat_interval_ms = manifest.heartbeat_interval_ms
    if declared_points >= 4:
        limits.max_points_per_definition = max(2, (declared_points + 1) // 2)
        limits.max_batch_points = max(2, (declared_points + 1) // 2)
    return limits


def _platform_info(handle: PlatformHandle, timeout_s: float) -> None:
    """GetPlatformInfo: the limits and versions; CouldNotRun when the platform does not answer."""
    import grpc  # noqa: PLC0415
    from santong.protocols.v1 import platform_pb2, platform_pb2_grpc  # noqa: PLC0415

    ch = handle.channel()
    try:
        stub = platform_pb2_grpc.PlatformServiceStub(ch)
        deadline = time.monotonic() + timeout_s
        while True:
            try:
                handle.info = stub.GetPlatformInfo(
                    platform_pb2.GetPlatformInfoRequest(), timeout=max(0.5, deadline - time.monotonic())
                )
                handle.limits = handle.info.limits
                return
            except grpc.RpcError as e:
                if time.monotonic() < deadline and e.code() == grpc.StatusCode.UNAVAILABLE:
                    time.sleep(0.2)
                    continue
                raise CouldNotRun(
                    f"平台无应答 / the platform at {handle.grpc_target} does not answer GetPlatformInfo: "
                    f"{e.code().name} {e.details()}"
                ) from e
    finally:
        ch.close()


def _embedded(manifest: Manifest, workdir: Path, declared_points: int) -> PlatformHandle:
    from santong.mock_platform import PlatformConfig  # noqa: PLC0415
    from santong.mock_platform.embedded import BackgroundMockPlatform  # noqa: PLC0415

    token = secrets.token_hex(16)
    config = PlatformConfig(
        devices={manifest.identity.device_id: token},
        limits=_limits(manifest, declared_points),
        withhold_hold_s=WITHHOLD_HOLD_S,
    )
    bg = BackgroundMockPlatform(config, http_port=0)
    try:
        bg.start()
    except Exception as e:
        bg.stop()
        raise CouldNotRun(f"无法启动内嵌模拟平台 / cannot start the embedded mock platform: {e}") from e
    return PlatformHandle(
        kind="embedded",
        grpc_target=bg.grpc_target,
        http_url=bg.http_url,
        device_id=manifest.identity.device_id,
        token=token,
        admin=Admin(bg.grpc_target, bg.inspection_token),
        _stop=bg.stop,
    )


def _read_json_line(stream: Any, timeout_s: float, what: str, tail: Callable[[], str]) -> dict[str, Any]:
    box: dict[str, Any] = {}

    def read() -> None:
        box["line"] = stream.readline()

    t = threading.Thread(target=read, daemon=True)
    t.start()
    t.join(timeout_s)
    line = box.get("line")
    if not line:
        raise CouldNotRun(
            f"{what} 未在 {timeout_s:g} s 内报告端口 / {what} reported no ports within {timeout_s:g} s: {tail()}"
        )
    try:
        doc: dict[str, Any] = json.loads(line)
    except ValueError as e:
        raise CouldNotRun(f"{what} 的首行不是 JSON / the first line of {what} is not JSON: {line!r}") from e
    return doc


def _process(manifest: Manifest, workdir: Path) -> PlatformHandle:
    token, inspection = secrets.token_hex(16), secrets.token_hex(16)
    log_path = workdir / "mock-platform.log"
    argv = [
        sys.executable, "-m", "santong", "mock", "serve", "--grpc-port", "0", "--http-port", "0",
        "--inspection-token", inspection, "--device", f"{manifest.identity.device_id}:{token}",
        "--heartbeat-interval-ms", str(manifest.heartbeat_interval_ms), "--db", str(workdir / "mock-platform.db"),
    ]  # fmt: skip
    log = log_path.open("w", encoding="utf-8")
    try:
        proc = subprocess.Popen(
            argv,
            stdout=subprocess.PIPE,
            stderr=log,
            stdin=subprocess.DEVNULL,
            text=True,
            start_new_session=True,
        )
    except OSError as e:
        log.close()
        raise CouldNotRun(f"无法启动模拟平台进程 / cannot start `santong mock serve`: {e}") from e

    def stop() -> None:
        if proc.poll() is None:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(proc.pid, signal.SIGTERM)
            try:
                proc.wait(10)
            except subprocess.TimeoutExpired:
                with contextlib.suppress(ProcessLookupError):
                    os.killpg(proc.pid, signal.SIGKILL)
                proc.wait(5)
        log.close()

    def tail() -> str:
        log.flush()
        return (
            " | ".join(log_path.read_text(encoding="utf-8", errors="replace").splitlines()[-5:])
            or "(no output)"
        )

    try:
        doc = _read_json_line(proc.stdout, 60.0, "santong mock serve", tail)
    except BaseException:
        stop()
        raise
    return PlatformHandle(
        kind="process",
        grpc_target=f"127.0.0.1:{doc['grpc_port']}",
        http_url=f"http://127.0.0.1:{doc['http_port']}" if doc.get("http_port") else None,
        device_id=manifest.identity.device_id,
        token=token,
        admin=Admin(f"127.0.0.1:{doc['grpc_port']}", inspection),
        notes={"pid": doc.get("pid")},
        _stop=stop,
    )


def engine_available(timeout_s: float = 1.0) -> tuple[bool, str]:
    """Whether a container engine answers at DOCKER_HOST (and testcontainers is installed); one-line reason."""
    import socket  # noqa: PLC0415
    from urllib.parse import urlsplit  # noqa: PLC0415

    host = os.environ.get("DOCKER_HOST", "")
    how = "source scripts/container-engine.sh"
    if not host:
        return (
            False,
            f"未设置 DOCKER_HOST，无容器引擎 / DOCKER_HOST not set, no container engine (run `{how}`)",
        )
    try:
        import testcontainers  # noqa: F401, PLC0415
    except ImportError:
        return False, "未安装 testcontainers / testcontainers not installed (pip install -e '.[dev]')"
    url = urlsplit(host)
    try:
        if url.scheme == "unix":
            sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
            address: Any = url.path
        elif url.scheme in ("tcp", "http"):
            sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
            address = (url.hostname or "127.0.0.1", url.port or 2375)
        else:
            return False, f"不支持的 DOCKER_HOST / unsupported DOCKER_HOST {host!r}"
        with sock:
            sock.settimeout(timeout_s)
            sock.connect(address)
            sock.sendall(b"GET /_ping HTTP/1.0\r\nHost: docker\r\n\r\n")
            reply = sock.recv(4096)
    except OSError as e:
        return False, f"容器引擎无响应 / container engine not answering at {host}: {e}"
    if b" 200 " not in reply.split(b"\r\n", 1)[0] + b" ":
        return False, f"容器引擎响应异常 / container engine at {host} answered {reply[:40]!r}"
    return True, f"容器引擎在线 / container engine answers at {host}"


def _container(manifest: Manifest, workdir: Path) -> PlatformHandle:
    ok, reason = engine_available()
    if not ok:
        raise CouldNotRun(reason)
    from testcontainers.core.container import DockerContainer  # noqa: PLC0415

    token, inspection = secrets.token_hex(16), secrets.token_hex(16)
    container = DockerContainer(MOCK_IMAGE, ports=[50051, 8080], stop_signal="SIGINT")
    container.with_command(
        [
            "--inspection-token", inspection, "--device", f"{manifest.identity.device_id}:{token}",
            "--heartbeat-interval-ms", str(manifest.heartbeat_interval_ms),
        ]
    )  # fmt: skip

    def stop() -> None:
        with contextlib.suppress(Exception):
            (workdir / "mock-platform.log").write_bytes(b"".join(container.get_logs()))
        with contextlib.suppress(Exception):
            container.stop(force=True)

    try:
        container.start()
        deadline = time.monotonic() + 60
        while b"grpc_port" not in container.get_logs()[0]:
            wrapped = container.get_wrapped_container()
            wrapped.reload()
            if wrapped.status in ("exited", "dead"):
                out, err = container.get_logs()
                last = " | ".join(bytes(out + err).decode("utf-8", "replace").strip().splitlines()[-3:])
                raise CouldNotRun(
                    f"模拟平台容器启动即退出 / the mock container {MOCK_IMAGE} exited at start: {last} "
                    "(bash scripts/build-mock-image.sh rebuilds the image)"
                )
            if time.monotonic() > deadline:
                raise CouldNotRun(
                    f"模拟平台容器未就绪 / the mock container {MOCK_IMAGE} printed no ports within 60 s"
                )
            time.sleep(0.2)
        host = container.get_container_host_ip()
        host = "127.0.0.1" if host == "localhost" else host
        grpc_port = int(container.get_exposed_port(50051))
        http_port = int(container.get_exposed_port(8080))
    except CouldNotRun:
        stop()
        raise
    except Exception as e:
        stop()
        hint = (
            " (bash scripts/build-mock-image.sh)"
            if "image" in str(e).lower() or "not found" in str(e).lower()
            else ""
        )
        raise CouldNotRun(
            f"无法启动模拟平台容器 / cannot start the mock container {MOCK_IMAGE}: {type(e).__name__}: {e}{hint}"
        ) from e
    return PlatformHandle(
        kind="container",
        grpc_target=f"{host}:{grpc_port}",
        http_url=f"http://{host}:{http_port}",
        device_id=manifest.identity.device_id,
        token=token,
        admin=Admin(f"{host}:{grpc_port}", inspection),
        notes={"image": MOCK_IMAGE},
        _stop=stop,
    )


def _url(settings: TargetSettings, manifest: Manifest) -> PlatformHandle:
    if settings.grpc_target is None:
        raise CouldNotRun(
            f"平台回归用例以 gRPC 充当参考设备：请给出 gRPC 地址，HTTP/JSON 用例另加 HTTP 地址，用逗号分隔 "
            f"(grpc://主机:50051,http://主机:8080) / the regression cases act as a reference device over gRPC: give "
            f"the gRPC address, and for the HTTP/JSON cases the HTTP one, separated by a comma "
            f"(grpc://host:50051,http://host:8080), not only {settings.url!r}"
        )
    creds = settings.credentials
    assert creds is not None  # preflight requires them for the url target
    ca = creds.ca_file.read_bytes() if creds.ca_file is not None else None
    registry = None
    if creds.inspection_token:
        registry = Admin(settings.grpc_target, creds.inspection_token, ca, tls=settings.tls)
    enrolment = None
    if creds.enrolment_prefix and creds.enrolment_key:
        enrolment = (creds.enrolment_prefix, creds.enrolment_key)
    return PlatformHandle(
        kind="url",
        grpc_target=settings.grpc_target,
        http_url=settings.http_url,
        device_id=creds.device_id or manifest.identity.device_id,
        token=creds.token,
        tls=settings.tls,
        ca_pem=ca,
        registry=registry,
        enrolment=enrolment,
        notes={"fresh_devices": "enrolment" if enrolment else "none"},
    )


def start_platform(
    settings: TargetSettings, manifest: Manifest, workdir: Path, *, declared_points: int = 0
) -> PlatformHandle:
    """Start (or reach) the run's platform and read its limits; CouldNotRun with the reason otherwise."""
    if settings.kind == "embedded":
        handle = _embedded(manifest, workdir, declared_points)
    elif settings.kind == "process":
        handle = _process(manifest, workdir)
    elif settings.kind == "container":
        handle = _container(manifest, workdir)
    else:
        handle = _url(settings, manifest)
    try:
        _platform_info(handle, 5.0 if settings.kind == "url" else 30.0)
    except BaseException:
        handle.stop()
        raise
    return handle
