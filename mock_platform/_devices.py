"""What the platform holds in memory per device: credentials, session, state, rate bucket, command queue."""

from __future__ import annotations

import asyncio
import time
from dataclasses import dataclass, field

from santong.protocols import DeviceState
from santong.protocols.v1 import device_access_pb2

__all__ = ["Bucket", "Device"]


class Bucket:
    """Token bucket of the per-device upload rate (ST-PROTO-010)."""

    __slots__ = ("rate", "tokens", "stamp")

    def __init__(self, rate: float) -> None:
        self.rate = rate
        self.tokens = rate
        self.stamp = time.monotonic()

    def take(self) -> float:
        """0.0 when an upload may go now, else the seconds to wait."""
        now = time.monotonic()
        self.tokens = min(self.rate, self.tokens + (now - self.stamp) * self.rate)
        self.stamp = now
        if self.tokens >= 1.0:
            self.tokens -= 1.0
            return 0.0
        return (1.0 - self.tokens) / self.rate


@dataclass(eq=False)
class Device:
    """What the platform holds in memory about one device (rebuilt from the store after a restart)."""

    device_id: str
    #: HMAC-SHA256 of the token under the database's secret (see _credentials).
    token_hash: bytes | None = None
    #: A bare SHA-256 from a database of before the HMAC; replaced at the first successful authentication.
    legacy_sha256: bytes | None = None
    state: DeviceState = field(default_factory=DeviceState)
    #: The highest sequence stored in the device's earlier sequence epochs (ST-PROTO-037): up to it an upload may
    #: be a late replay of one of them, looked up before it is taken as new data.
    prior_top: int = 0
    registered: bool = False
    session_id: str = ""
    negotiated_version: str = ""
    registered_ms: int | None = None
    register_request: bytes = b""
    alive_ms: int | None = None  # last call of any kind (ST-PROTO-006)
    last_heartbeat_ms: int | None = None
    online: bool = False
    lock: asyncio.Lock = field(default_factory=asyncio.Lock)
    bucket: Bucket | None = None
    commands: asyncio.Queue[device_access_pb2.Command] = field(default_factory=asyncio.Queue)
    command_streams: int = 0
    time_sync_pending: bool = False
