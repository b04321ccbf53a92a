"""Configuration of the Modbus adapter: the ``adapter.settings`` section and each point's ``source``.

Example::

    adapter:
      kind: modbus
      settings: {host: 127.0.0.1, port: 502, unit_id: 1, period_ms: 1000, timeout_ms: 1000, max_gap: 8}
      points:
        - point_code: "14042100000101MNA001001A01"
          location: 15101 工作面上隅角 T0
          data_type: float32                      # PointMapping keys: data_type, byte_order, word_order, scale …
          source: {address: 0, status_address: 100}          # holding register 0-1, 测点状态 in register 100
        - point_code: "14042100000101KGS004001K03"
          location: 馈电开关
          source: {table: coil, address: 3202, unit_id: 2}   # a coil: no mapping needed
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

__all__ = ["BIT_TABLES", "MAX_BITS", "MAX_REGISTERS", "ModbusSettings", "RegisterSource", "Table"]

Table = Literal["holding", "input", "coil", "discrete"]
BIT_TABLES = ("coil", "discrete")
#: Protocol limits per read request (Modbus application protocol v1.1b3, functions 3/4 and 1/2).
MAX_REGISTERS = 125
MAX_BITS = 2000


def _bad(key: str, zh: str, en: str) -> ValueError:
    return ValueError(f"{key}: {zh} / {key}: {en}")


@dataclass(frozen=True)
class ModbusSettings:
    """How to reach the device and how to poll it.

    ``max_gap``: unused registers (bits for coils) a read may span to merge two ranges into one request
    (0: only adjacent ranges merge; -1: never merge). ``max_registers`` / ``max_bits`` cap one request (protocol
    maxima 125 / 2000). ``timeout_ms`` per request; ``reconnect_min_ms``..``reconnect_max_ms`` the jittered
    exponential back-off between connection attempts. ``report_interval_ms``: a point that did not change is
    reported again after this long (ST-PROTO-025: at most 30 s for safety monitoring; 0: only on change).
    """

    host: str = "127.0.0.1"
    port: int = 502
    unit_id: int = 1
    period_ms: int = 1000
    timeout_ms: int = 1000
    max_gap: int = 8
    max_registers: int = MAX_REGISTERS
    max_bits: int = MAX_BITS
    reconnect_min_ms: int = 100
    reconnect_max_ms: int = 10_000
    report_interval_ms: int = 30_000

    def __post_init__(self) -> None:
        """Check ranges; the message names the key and the allowed values."""
        if not self.host:
            raise _bad("host", "不能为空", "must not be empty")
        if not 0 < self.port < 65536:
            raise _bad("port", f"应在 1..65535，当前为 {self.port}", f"must be 1..65535, got {self.port}")
        if not 0 <= self.unit_id <= 255:
            raise _bad(
                "unit_id", f"应在 0..255，当前为 {self.unit_id}", f"must be 0..255, got {self.unit_id}"
            )
        if not 10 <= self.period_ms <= 86_400_000:
            raise _bad("period_ms", f"轮询周期应在 10 ms..1 d，当前为 {self.period_ms}",
                       f"the poll period must be 10 ms..1 d, got {self.period_ms}")  # fmt: skip
        if not 10 <= self.timeout_ms <= 60_000:
            raise _bad("timeout_ms", f"应在 10..60000 ms，当前为 {self.timeout_ms}",
                       f"must be 10..60000 ms, got {self.timeout_ms}")  # fmt: skip
        if self.max_gap < -1:
            raise _bad("max_gap", "应 ≥ -1（-1 不合并）", "must be >= -1 (-1: never merge)")
        if not 1 <= self.max_registers <= MAX_REGISTERS:
            raise _bad("max_registers", f"应在 1..{MAX_REGISTERS}", f"must be 1..{MAX_REGISTERS}")
        if not 1 <= self.max_bits <= MAX_BITS:
            raise _bad("max_bits", f"应在 1..{MAX_BITS}", f"must be 1..{MAX_BITS}")
        if not 0 <= self.report_interval_ms <= 86_400_000:
            raise _bad("report_interval_ms", "应在 0..86400000 ms（0：仅变化时上报）",
                       "must be 0..86400000 ms (0: report on change only)")  # fmt: skip
        if not 1 <= self.reconnect_min_ms <= self.reconnect_max_ms:
            raise _bad("reconnect_min_ms", "应满足 1 ≤ reconnect_min_ms ≤ reconnect_max_ms",
                       "needs 1 <= reconnect_min_ms <= reconnect_max_ms")  # fmt: skip


@dataclass(frozen=True)
class RegisterSource:
    """Where a point sits on the device (its ``source:`` section).

    ``address``: first register (holding/input) or the bit address (coil/discrete) — 0-based protocol addresses,
    not 4xxxx/3xxxx numbers. ``status_address``: a register holding the device's own 测点状态 bits for the point
    (ST-DATA-020), read from ``status_table`` (default: the point's table, holding for coil/discrete points).
    ``unit_id`` overrides the adapter's.
    """

    address: int
    table: Table = "holding"
    unit_id: int | None = None
    status_address: int | None = None
    status_table: Literal["holding", "input"] | None = None

    def __post_init__(self) -> None:
        """Check the addresses."""
        top = 65535
        if not 0 <= self.address <= top:
            raise _bad(
                "address", f"应在 0..{top}，当前为 {self.address}", f"must be 0..{top}, got {self.address}"
            )
        if self.status_address is not None and not 0 <= self.status_address <= top:
            raise _bad("status_address", f"应在 0..{top}", f"must be 0..{top}")
        if self.unit_id is not None and not 0 <= self.unit_id <= 255:
            raise _bad("unit_id", "应在 0..255", "must be 0..255")
        if self.status_table is not None and self.status_address is None:
            raise _bad("status_table", "需要同时给出 status_address", "needs status_address too")

    @property
    def status_from(self) -> Literal["holding", "input"]:
        """The table the status register is read from."""
        if self.status_table is not None:
            return self.status_table
        return "input" if self.table == "input" else "holding"
