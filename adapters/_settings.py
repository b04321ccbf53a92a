"""The sections of an adapter configuration as typed dataclasses, and its problems — no YAML here: the platform
client imports :class:`ClientConfig` without loading PyYAML or the binder of :mod:`santong.adapters._config`.
"""

from __future__ import annotations

import hashlib
import os
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

from santong.adapters._sdk import AdapterConfig, AdapterError
from santong.protocols import interface_versions
from santong.protocols.v1 import common_pb2, data_pb2, device_access_pb2

__all__ = [
    "BatchSettings",
    "ClientConfig",
    "Config",
    "ConfigError",
    "ConfigProblem",
    "DeviceSettings",
    "HeartbeatSettings",
    "MineSettings",
    "PlatformSettings",
    "ProductClass",
    "QueueSettings",
    "RetrySettings",
    "Thresholds",
    "TlsSettings",
    "ValueKindName",
]

ProductClass = Literal[
    "SAFETY_MONITORING",
    "IMPORTANT_EQUIPMENT",
    "PERSONNEL_POSITION",
    "WATER_HAZARD",
    "GROUND_PRESSURE",
    "GAS_DRAINAGE",
]
ValueKindName = Literal["ANALOG", "SWITCH", "ACCUMULATOR"]


# --------------------------------------------------------------------------- sections


@dataclass(frozen=True)
class TlsSettings:
    """TLS to the platform (ST-PROTO-003): CA bundle, client certificate and key for mutual TLS."""

    ca: Path | None = None
    cert: Path | None = None
    key: Path | None = None
    server_name: str | None = None


@dataclass(frozen=True)
class RetrySettings:
    """Exponential back-off with full jitter (ST-PROTO-017): first ceiling ``base_ms`` ≥ 100, × 2, ≤ ``cap_ms``."""

    base_ms: int = 100
    cap_ms: int = 30_000


@dataclass(frozen=True)
class PlatformSettings:
    """Where and how to reach the platform. The credential subject is ``device.device_id``."""

    transport: Literal["grpc", "http"] = "grpc"
    target: str = ""
    url: str = ""
    token: str = ""
    token_file: Path | None = None
    token_env: str = ""
    tls: TlsSettings | None = None
    timeout_ms: int = 10_000
    retry: RetrySettings = RetrySettings()
    versions: tuple[str, ...] = ()

    def bearer_token(self) -> str:
        """The token, read from ``token``, ``token_file`` or the environment variable ``token_env``."""
        if self.token:
            return self.token
        if self.token_file is not None:
            return self.token_file.read_text(encoding="utf-8").strip()
        if self.token_env:
            return os.environ.get(self.token_env, "")
        return ""


@dataclass(frozen=True)
class DeviceSettings:
    """设备身份 (DeviceIdentity); ``device_id`` is also the credential subject (x-santong-device-id)."""

    device_id: str
    vendor: str
    model: str
    firmware_version: str
    serial_number: str
    product_class: ProductClass
    ma_certificate: str = ""
    #: SHA-256 (64 lower-case hex digits) of the software the device runs, reported at Register
    #: (DeviceIdentity.firmware_sha256) so that a mine can compare it with the certificate (ST-PROTO-038) …
    firmware_sha256: str = ""
    #: … or the artefact file it is computed from (at each Register, so that an update on disk is reported).
    firmware_file: Path | None = None

    def software_digest(self) -> str:
        """The digest reported at Register: the configured one, else the SHA-256 of ``firmware_file``, else ""."""
        if self.firmware_sha256 or self.firmware_file is None:
            return self.firmware_sha256
        h = hashlib.sha256()
        try:
            with self.firmware_file.open("rb") as f:
                for chunk in iter(lambda: f.read(1 << 20), b""):
                    h.update(chunk)
        except OSError:
            return (
                ""  # reported by the configuration check (device.firmware_file); Register carries no digest
            )
        return h.hexdigest()


@dataclass(frozen=True)
class MineSettings:
    """The mine the device serves (煤矿)."""

    mine_code: str
    name: str = ""


@dataclass(frozen=True)
class QueueSettings:
    """The store-and-forward queue: a SQLite file (WAL). ``synchronous`` FULL survives power loss too."""

    path: Path = Path("santong-queue.db")
    synchronous: Literal["NORMAL", "FULL"] = "FULL"
    live_window_ms: int = 60_000


@dataclass(frozen=True)
class BatchSettings:
    """Observation batching: at most ``max_points`` per batch, sent at the latest ``linger_ms`` after the first."""

    max_points: int = 1000
    linger_ms: int = 1000


@dataclass(frozen=True)
class HeartbeatSettings:
    """Heartbeat interval; None uses the platform's Limits.heartbeat_interval_ms (never longer, ST-PROTO-005)."""

    interval_ms: int | None = None


@dataclass(frozen=True)
class Thresholds:
    """门限 of a point (ST-DATA-014), in the point's unit; omitted ones are not defined."""

    alarm_high: float | None = None
    alarm_high_clear: float | None = None
    alarm_low: float | None = None
    alarm_low_clear: float | None = None
    power_off_high: float | None = None
    power_restore_high: float | None = None
    power_off_low: float | None = None
    power_restore_low: float | None = None


@dataclass(frozen=True)
class ClientConfig:
    """Everything the platform client needs: platform, identity, mine, queue, batching, heartbeat."""

    platform: PlatformSettings
    device: DeviceSettings
    mine: MineSettings
    queue: QueueSettings = QueueSettings()
    batch: BatchSettings = BatchSettings()
    heartbeat: HeartbeatSettings = HeartbeatSettings()

    def identity(self) -> data_pb2.DeviceIdentity:
        """The DeviceIdentity of Register."""
        d = self.device
        return data_pb2.DeviceIdentity(
            device_id=d.device_id,
            vendor=d.vendor,
            model=d.model,
            firmware_version=d.firmware_version,
            serial_number=d.serial_number,
            ma_certificate=d.ma_certificate,
            product_class=common_pb2.ProductClass.Value(f"PRODUCT_CLASS_{d.product_class}"),
            mine_code=self.mine.mine_code,
            firmware_sha256=d.software_digest(),
        )

    def register_request(self) -> device_access_pb2.RegisterRequest:
        """A RegisterRequest (device_time unset) for this identity and the versions spoken."""
        return device_access_pb2.RegisterRequest(
            device=self.identity(),
            mine=data_pb2.Mine(mine_code=self.mine.mine_code, name=self.mine.name),
            # every interface version, newest first: a 1.1 field (firmware_sha256, sequence_epoch) needs 1.1
            supported_versions=list(self.platform.versions or interface_versions()),
        )


@dataclass(frozen=True, eq=False)
class Config(ClientConfig):
    """A whole adapter configuration: the client's sections plus the ``adapter`` section.

    ``warnings`` are SHOULD-level findings (e.g. ST-DATA-015) that do not stop the adapter.
    """

    adapter: AdapterConfig[Any] | None = None
    source: str = ""
    warnings: tuple[ConfigProblem, ...] = ()


# --------------------------------------------------------------------------- problems


@dataclass(frozen=True)
class ConfigProblem:
    """One problem of a configuration file: where (file, line, column, key path), what, and the fix."""

    file: str
    line: int
    column: int
    path: str
    message_zh: str
    message_en: str
    fix_zh: str = ""
    fix_en: str = ""
    level: Literal["error", "warning"] = "error"
    clause_id: str = ""

    def __str__(self) -> str:
        tag = f"[{self.clause_id}] " if self.clause_id else ""
        fix = f"；修改：{self.fix_zh}" if self.fix_zh else ""
        fix_en = f"; fix: {self.fix_en}" if self.fix_en else ""
        return f"{self.file}:{self.line}:{self.column}: {tag}{self.path or '(文件 file)'}: {self.message_zh}{fix} / {self.message_en}{fix_en}"


class ConfigError(AdapterError):
    """A configuration file has errors; ``problems`` lists each with file, line and fix."""

    grpc_code = "INVALID_ARGUMENT"
    http_status = 400
    description_zh = "配置错误"
    description_en = "configuration error"

    def __init__(self, problems: Sequence[ConfigProblem]) -> None:
        self.problems = list(problems)
        head = f"配置有 {len(self.problems)} 处错误 / the configuration has {len(self.problems)} error(s):"
        super().__init__("\n".join([head, *(f"  {p}" for p in self.problems)]))
