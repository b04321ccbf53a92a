"""Configuration of the OPC UA adapter: ``adapter.settings`` (:class:`OpcUaSettings`) and each point's ``source``.

Example::

    adapter:
      kind: opcua
      settings:
        endpoint: opc.tcp://127.0.0.1:4840/santong/simulator
        namespace: urn:santong:simulator:kj-substation   # node ids without ns= / nsu= live here
        publishing_interval_ms: 500
        sampling_interval_ms: 250
      points:
        - point_code: "14042100000101MNA001001A02"
          location: 15101 工作面 T1
          deadband: 0.01                               # mapping keys: scale, offset, deadband, report, period_ms
          source: {node_id: "s=KJ-FZ-001.CH4_T1", status_node_id: "s=KJ-FZ-001.CH4_T1.Status"}
        - point_code: "14042100000101KGS003001K04"
          location: 局部通风机
          writable: true                               # WRITE_POINT writes the node (ST-IFACE-013)
          source: {node_id: "ns=2;s=KJ-FZ-001.FAN_01"}

Node ids are OPC UA's text form: ``ns=2;s=…`` (namespace index), ``nsu=urn:…;s=…`` (namespace URI, resolved
at every connect, so a server that renumbers its namespaces after a restart is still found) or bare ``s=…``,
``i=…``, ``g=…``, ``b=…`` (in ``settings.namespace``, or namespace 0 when it is empty).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Literal

__all__ = ["NODE_ID_PATTERN", "OpcUaSettings", "OpcUaSource", "SettingsError", "split_node_id"]

NODE_ID_PATTERN = re.compile(
    r"^(?:ns=(?P<ns>\d{1,5});|nsu=(?P<nsu>[^;]+);)?(?P<id>i=\d{1,10}|s=.+|g=[0-9A-Fa-f-]{36}|b=[A-Za-z0-9+/=]+)$"
)


class SettingsError(ValueError):
    """A settings or source value is invalid (the configuration loader reports it with file and line)."""

    def __init__(self, message_zh: str, message_en: str) -> None:
        self.message_zh = message_zh
        self.message_en = message_en
        super().__init__(f"{message_zh} / {message_en}")


def split_node_id(text: str) -> tuple[int | None, str | None, str]:
    """(namespace index or None, namespace URI or None, identifier part ``s=…``) of a node id text."""
    m = NODE_ID_PATTERN.fullmatch(text)
    if m is None:
        raise SettingsError(
            f"节点标识 {text!r} 无效，应如 ns=2;s=KJ-FZ-001.CH4_T1、nsu=urn:…;s=… 或 i=2258",
            f"invalid node_id {text!r}; write e.g. ns=2;s=KJ-FZ-001.CH4_T1, nsu=urn:…;s=… or i=2258",
        )
    ns = m.group("ns")
    return (int(ns) if ns is not None else None, m.group("nsu"), m.group("id"))


def _positive(name: str, value: int, low: int = 1, high: int = 3_600_000) -> None:
    if not isinstance(value, int) or isinstance(value, bool) or not low <= value <= high:
        raise SettingsError(
            f"{name} 须在 {low}–{high} 之间，当前为 {value!r}", f"{name} must be {low}–{high}, got {value!r}"
        )


@dataclass(frozen=True)
class OpcUaSettings:
    """Where the OPC UA server is and how to subscribe.

    ``timestamps``: which time an observation carries — ``source`` (the device's SourceTimestamp, falling back
    to the ServerTimestamp, then to the adapter's clock), ``server`` or ``adapter`` (the platform-corrected
    clock when the notification arrives). A timestamp more than ``max_future_ms`` ahead of the adapter's clock
    would be rejected by the platform (ST-DATA-031) and is replaced by the adapter's clock, with a warning.
    ``report_interval_ms``: a point without a data change for this long is reported again with its last value
    (ST-PROTO-025; 0 turns it off; a CONFIGURE command changes it).
    """

    endpoint: str
    namespace: str = ""
    username: str = ""
    password_env: str = ""
    publishing_interval_ms: int = 500
    sampling_interval_ms: int = 250
    queue_size: int = 10
    timeout_ms: int = 5_000
    watchdog_ms: int = 1_000
    reconnect_min_ms: int = 500
    reconnect_max_ms: int = 10_000
    timestamps: Literal["source", "server", "adapter"] = "source"
    max_future_ms: int = 4_000
    report_interval_ms: int = 30_000

    def __post_init__(self) -> None:
        """Check every field (SettingsError names the field and the fix)."""
        if not re.fullmatch(r"opc\.tcp://[^/\s:]+(:\d{1,5})?(/\S*)?", self.endpoint):
            raise SettingsError(
                f"endpoint {self.endpoint!r} 应如 opc.tcp://主机:端口/路径",
                f"endpoint {self.endpoint!r} must look like opc.tcp://host:port/path",
            )
        _positive("publishing_interval_ms", self.publishing_interval_ms, 10)
        _positive("sampling_interval_ms", self.sampling_interval_ms, 0)
        _positive("queue_size", self.queue_size, 1, 100_000)
        _positive("timeout_ms", self.timeout_ms, 100, 600_000)
        _positive("watchdog_ms", self.watchdog_ms, 100, 600_000)
        _positive("reconnect_min_ms", self.reconnect_min_ms, 10)
        _positive("reconnect_max_ms", self.reconnect_max_ms, self.reconnect_min_ms)
        _positive("max_future_ms", self.max_future_ms, 0)
        _positive("report_interval_ms", self.report_interval_ms, 0, 86_400_000)
        if self.password_env and not self.username:
            raise SettingsError("给了 password_env 却没有 username", "password_env is given without username")


@dataclass(frozen=True)
class OpcUaSource:
    """A point's OPC UA variables: its value (``node_id``) and optionally its 测点状态 bits (``status_node_id``).

    The status variable (an unsigned integer holding the ST-DATA-020 bits: 1 alarm, 2 power-off …) is OR-ed
    into the status of the value. ``sampling_interval_ms`` overrides the settings' default for this point.
    """

    node_id: str
    status_node_id: str = ""
    sampling_interval_ms: int | None = None

    def __post_init__(self) -> None:
        """Check the node id syntax."""
        split_node_id(self.node_id)
        if self.status_node_id:
            split_node_id(self.status_node_id)
        if self.sampling_interval_ms is not None:
            _positive("sampling_interval_ms", self.sampling_interval_ms, 0)
