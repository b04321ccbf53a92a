"""Configuration of the mock platform."""

from __future__ import annotations

import secrets
from dataclasses import dataclass, field

from santong.protocols import default_limits, interface_versions
from santong.protocols.v1 import device_access_pb2

__all__ = ["PlatformConfig"]


def _versions() -> tuple[str, ...]:
    return interface_versions()  # every version of the interface, newest first (v1.0 devices keep working)


@dataclass
class PlatformConfig:
    """How a mock platform behaves.

    Example::

        limits = default_limits()
        limits.heartbeat_interval_ms = 100
        config = PlatformConfig(db_path="mock.db", limits=limits, devices={"KJ70N-0001": "secret"})
    """

    # SQLite file (WAL); None or ":memory:" keeps everything in memory.
    db_path: str | None = None
    # The limits announced in Register / GetPlatformInfo and enforced (santong.protocols.default_limits()).
    limits: device_access_pb2.Limits = field(default_factory=default_limits)
    # Device credentials: device_id → bearer token. More with Platform.add_device(); no auto-registration.
    devices: dict[str, str] = field(default_factory=dict)
    # Group enrolment of test devices: ID prefix → group key. An unknown device whose ID starts with the prefix
    # authenticates with the token HMAC-SHA256(key, device ID) (hex) and is added then (a staging platform's fresh
    # test devices for every regression run, without provisioning each one).
    enrolments: dict[str, str] = field(default_factory=dict)
    # Token of the inspection and fault APIs (x-santong-inspection-token); random unless given.
    inspection_token: str = field(default_factory=lambda: secrets.token_urlsafe(24))
    # Spec versions the platform speaks (ST-PROTO-004).
    supported_versions: tuple[str, ...] = field(default_factory=_versions)
    platform_name: str = "santong 模拟平台 / santong mock platform"
    # Permanent offset of the platform clock in ms (the fault API adds its own on top).
    clock_offset_ms: int = 0
    # SQLite synchronous mode for file databases: NORMAL (survives process crashes) or FULL (also power loss).
    synchronous: str = "NORMAL"
    # A TIME_SYNC command is queued when a device's clock is off by more than this (default: half the skew limit).
    time_sync_threshold_ms: int | None = None
    # With mutual TLS, the client certificate's CN must equal x-santong-device-id (ST-PROTO-003).
    require_client_cert_cn: bool = True
    # How long a unary call whose acknowledgement is withheld hangs before answering UNAVAILABLE.
    withhold_hold_s: float = 30.0
