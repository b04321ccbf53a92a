"""OPC UA data changes → observations (uplink), and writes → typed variants (downlink).

**Values.** Boolean → 1 / 0; SByte … UInt64, Float, Double → the number; a String holding a plain decimal
number → that number; anything else (DateTime, ByteString, arrays, null) is rejected with ST-DATA-035 and logged.
Then the point's mapping, when it has one: ``data_type: bool`` with ``bit: n`` picks bit n of an integer,
``mask``/``shift`` cut a bit field, and ``value × scale + offset`` gives the engineering value; ``deadband``,
``report`` and ``period_ms`` filter reports (a status change is always reported). A switch point takes only
0 or 1 (ST-DATA-019); a non-finite number is rejected (ST-DATA-018).

**Status codes → 测点状态 bits (ST-DATA-020).** Only the code's upper 16 bits count (the info bits are ignored):

============================================================  =====================  =========================
OPC UA status of the value                                    point status bits      value reported
============================================================  =====================  =========================
Good, Good…                                                   0                      the value
UncertainEngineeringUnitsExceeded, UncertainOverRange,        8 超量程 (ST-DATA-021)  the value
UncertainUnderRange
UncertainSensorCalibration                                    4 标校                  the value
UncertainLastUsableValue, UncertainNoCommunicationLast…       16 分站故障              the (last usable) value
any other Uncertain…                                          0, counted + logged    the value
BadSensorFailure, BadDeviceFailure                            128 传感器故障            last good value (or 0)
BadCommunicationError, BadNoCommunication, BadNotConnected,   16 分站故障              last good value (or 0)
BadServerNotConnected, BadTimeout, BadRequestTimeout,
BadConnectionClosed, BadShutdown, BadServerHalted,
BadSecureChannelClosed, BadSessionClosed, BadWaitingForResponse
BadOutOfService                                               32 不巡检                last good value (or 0)
BadNodeIdUnknown, BadNodeIdInvalid, BadAttributeIdInvalid,    32 不巡检 + error log     0 (point not polled)
BadNotReadable, BadUserAccessDenied (monitored item refused)
BadWaitingForInitialData                                      nothing reported yet   —
any other Bad…                                                128 传感器故障            last good value (or 0)
session lost / server unreachable (the adapter's own view)    16 分站故障 every point  last value (or 0)
============================================================  =====================  =========================

The bits of the point's status variable (``status_node_id``) are OR-ed in; the alarm and power-off bits of a
point with thresholds are decided by the SDK's :class:`~santong.adapters._alarms.AlarmTracker` (ST-PROTO-027).

Example::

    up = OpcUaUplink(adapter.config.points)
    obs = up.convert([Notification(code, "value", 0.42, ua.VariantType.Double, 0, source_ms, None)], now_ms)
"""

from __future__ import annotations

import math
import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any, Literal

from asyncua import ua
from santong.adapters._alarms import AlarmTracker
from santong.adapters._mapping import ChangeFilter
from santong.adapters._sdk import (
    DownlinkConverter,
    Observation,
    PointConfig,
    UnsupportedCommand,
    UplinkConverter,
)
from santong.adapters._support import ProblemLog, apply_mapping
from santong.protocols.v1 import common_pb2

__all__ = [
    "BAD_NOT_POLLED",
    "OUTSTATION_FAULT",
    "SENSOR_FAULT",
    "Notification",
    "OpcUaDownlink",
    "OpcUaUplink",
    "StatusMapping",
    "ValueRejected",
    "map_status",
    "native_number",
]

SENSOR_FAULT = common_pb2.POINT_STATUS_FLAG_SENSOR_FAULT  # 128
OUTSTATION_FAULT = common_pb2.POINT_STATUS_FLAG_OUTSTATION_FAULT  # 16
NOT_POLLED = common_pb2.POINT_STATUS_FLAG_NOT_POLLED  # 32
OVER_RANGE = common_pb2.POINT_STATUS_FLAG_OVER_RANGE  # 8
CALIBRATING = common_pb2.POINT_STATUS_FLAG_CALIBRATING  # 4

_S = ua.StatusCodes


def _codes(*names: str) -> frozenset[int]:
    return frozenset(int(getattr(_S, n)) & 0xFFFF0000 for n in names if hasattr(_S, n))


_UNCERTAIN_BITS: dict[int, int] = {
    **dict.fromkeys(
        _codes("UncertainEngineeringUnitsExceeded", "UncertainOverRange", "UncertainUnderRange"), OVER_RANGE
    ),
    **dict.fromkeys(_codes("UncertainSensorCalibration"), CALIBRATING),
    **dict.fromkeys(
        _codes("UncertainLastUsableValue", "UncertainNoCommunicationLastUsableValue"), OUTSTATION_FAULT
    ),
}
_BAD_SENSOR = _codes("BadSensorFailure", "BadDeviceFailure")
_BAD_COMMUNICATION = _codes(
    "BadCommunicationError", "BadNoCommunication", "BadNotConnected", "BadServerNotConnected", "BadTimeout",
    "BadRequestTimeout", "BadConnectionClosed", "BadShutdown", "BadServerHalted", "BadSecureChannelClosed",
    "BadSessionClosed", "BadWaitingForResponse",
)  # fmt: skip
_BAD_OUT_OF_SERVICE = _codes("BadOutOfService")
#: A monitored item the server refused: the point is not polled at all.
BAD_NOT_POLLED = _codes(
    "BadNodeIdUnknown", "BadNodeIdInvalid", "BadAttributeIdInvalid", "BadNotReadable", "BadUserAccessDenied"
)
_BAD_WAITING = _codes("BadWaitingForInitialData")

_NUMBER = re.compile(r"^\s*-?(\d+(\.\d*)?|\.\d+)\s*$")
_INTEGER_TYPES = {
    ua.VariantType.SByte: (-(2**7), 2**7 - 1),
    ua.VariantType.Byte: (0, 2**8 - 1),
    ua.VariantType.Int16: (-(2**15), 2**15 - 1),
    ua.VariantType.UInt16: (0, 2**16 - 1),
    ua.VariantType.Int32: (-(2**31), 2**31 - 1),
    ua.VariantType.UInt32: (0, 2**32 - 1),
    ua.VariantType.Int64: (-(2**63), 2**63 - 1),
    ua.VariantType.UInt64: (0, 2**64 - 1),
}
_FLOAT_TYPES = (ua.VariantType.Float, ua.VariantType.Double)


@dataclass(frozen=True, slots=True)
class StatusMapping:
    """What an OPC UA status code means for a point: its status bits and whether the value is usable."""

    bits: int
    usable: bool
    report: bool = True
    name: str = ""


def status_name(code: int) -> str:
    """The symbolic name of a status code (``BadSensorFailure``), or its hex form."""
    try:
        return str(ua.StatusCode(ua.UInt32(code)).name)
    except Exception:  # an unknown code: asyncua has no name for it
        return f"0x{code:08X}"


def map_status(code: int) -> StatusMapping:
    """The point status bits and usability of a value with OPC UA status ``code`` (see the module table)."""
    top = code & 0xFFFF0000
    severity = code >> 30
    if severity == 0:  # Good
        return StatusMapping(0, True, name="Good")
    name = status_name(top)
    if severity == 1:  # Uncertain
        return StatusMapping(_UNCERTAIN_BITS.get(top, 0), True, name=name)
    if top in _BAD_WAITING:
        return StatusMapping(0, False, report=False, name=name)
    if top in _BAD_COMMUNICATION:
        return StatusMapping(OUTSTATION_FAULT, False, name=name)
    if top in _BAD_OUT_OF_SERVICE or top in BAD_NOT_POLLED:
        return StatusMapping(NOT_POLLED, False, name=name)
    return StatusMapping(SENSOR_FAULT, False, name=name)  # BadSensorFailure, BadDeviceFailure and the rest


class ValueRejected(ValueError):
    """A value the adapter cannot report: the reason, and the clause it would break."""

    def __init__(self, reason: str, clause_id: str, zh: str, en: str) -> None:
        self.reason = reason
        self.clause_id = clause_id
        self.message_zh = zh
        self.message_en = en
        super().__init__(f"[{clause_id}] {zh} / {en}")


def native_number(value: Any, variant_type: ua.VariantType | None) -> float:
    """The number a variant value stands for; ValueRejected for types that are no number (ST-DATA-035)."""
    if isinstance(value, bool):
        return 1.0 if value else 0.0
    if isinstance(value, int):
        return float(value)
    if isinstance(value, float):
        if not math.isfinite(value):
            raise ValueRejected(
                "not_finite", "ST-DATA-018", f"值 {value} 不是有限数", f"value {value} is not finite"
            )
        return value
    if isinstance(value, str) and _NUMBER.fullmatch(value):
        return float(value)
    kind = variant_type.name if variant_type is not None else type(value).__name__
    shown = repr(value)[:40]
    raise ValueRejected(
        "not_number",
        "ST-DATA-035",
        f"{kind} 类型的值 {shown} 不是数",
        f"value {shown} of type {kind} is not a number",
    )


@dataclass(frozen=True, slots=True)
class Notification:
    """One data change of a point's value (``role="value"``) or status variable (``role="status"``)."""

    point_code: str
    role: Literal["value", "status"]
    value: Any
    variant_type: ua.VariantType | None
    status_code: int
    source_ms: int | None
    server_ms: int | None


@dataclass(slots=True)
class _PointState:
    last_value: float | None = None
    opc_bits: int = 0
    device_bits: int = 0
    reported_status: int | None = None
    seen: bool = False


@dataclass
class _Times:
    mode: Literal["source", "server", "adapter"] = "source"
    max_future_ms: int = 4_000
    replaced: int = 0


class OpcUaUplink(UplinkConverter[Sequence[Notification]]):
    """Data-change notifications → observations, with the status mapping of the module table.

    Keeps per point the last usable value and the bits of both variables; ``lost(time_ms)`` gives every point
    the outstation-fault bit 16 (session lost). Threshold alarms go to ``tracker`` (drain it after each call).
    """

    def __init__(
        self,
        points: Iterable[PointConfig],
        *,
        problems: ProblemLog | None = None,
        timestamps: Literal["source", "server", "adapter"] = "source",
        max_future_ms: int = 4_000,
        tracker: AlarmTracker | None = None,
    ) -> None:
        """Index the points; rejected values are counted and logged through ``problems``."""
        import logging

        self.points = {p.point_code: p for p in points}
        self.problems = problems or ProblemLog(logging.getLogger("santong.adapters.opcua"))
        self.tracker = (
            tracker if tracker is not None else AlarmTracker(p.definition for p in self.points.values())
        )
        self.times = _Times(timestamps, max_future_ms)
        self.filter = ChangeFilter()
        self.state: dict[str, _PointState] = {code: _PointState() for code in self.points}
        self.uncertain: dict[str, int] = {}

    # ------------------------------------------------------------------ time

    def pick_time(self, n: Notification, now_ms: int) -> int:
        """The observation time of a notification (see OpcUaSettings.timestamps); never beyond the skew limit."""
        mode = self.times.mode
        t: int | None = None
        if mode == "source":
            t = n.source_ms if n.source_ms is not None else n.server_ms
        elif mode == "server":
            t = n.server_ms
        if t is None:
            return now_ms
        if t > now_ms + self.times.max_future_ms:
            self.times.replaced += 1
            self.problems.report(
                "future_time", "ST-DATA-031", f"point {n.point_code}",
                f"设备时间比平台校正时钟快 {t - now_ms} ms，改用适配器时间",
                f"device time is {t - now_ms} ms ahead of the platform-corrected clock; the adapter's time is used",
            )  # fmt: skip
            return now_ms
        return t

    # ------------------------------------------------------------------ uplink

    def _status(self, code: str, st: _PointState, value: float | None, t: int) -> int:
        status = st.opc_bits | st.device_bits
        managed = self.tracker.managed(code)
        if managed:
            bits = self.tracker.update(code, value, t) if value is not None else self.tracker.bits(code)
            status = (status & ~managed) | bits
        return status

    def convert(self, raw: Sequence[Notification], time_ms: int) -> list[Observation]:
        """Observations of a group of notifications that arrived together at ``time_ms``."""
        out: list[Observation] = []
        changed: dict[str, int] = {}  # point → time of its status variable's change in this group
        for (
            n
        ) in raw:  # status variables first: a value and its status bits changed together are one observation
            point = self.points.get(n.point_code)
            if (
                point is not None
                and n.role == "status"
                and self._device_bits(point, self.state[n.point_code], n)
            ):
                changed[n.point_code] = self.pick_time(n, time_ms)
        emitted: set[str] = set()
        for n in raw:
            point = self.points.get(n.point_code)
            if point is None or n.role != "value":
                continue
            obs = self._value(point, self.state[n.point_code], n, self.pick_time(n, time_ms))
            if obs is not None:
                out.append(obs)
                emitted.add(n.point_code)
        for code, t in changed.items():
            st = self.state[code]
            if code in emitted or not st.seen:
                continue  # reported with its value, or nothing to report before the first value
            status = self._status(code, st, None, t)
            if status != st.reported_status:
                st.reported_status = status
                out.append(
                    self.points[code].observation(
                        st.last_value if st.last_value is not None else 0.0, t, status
                    )
                )
        return out

    def _device_bits(self, point: PointConfig, st: _PointState, n: Notification) -> bool:
        """Take the status variable's bits; False when they did not change or cannot be used."""
        if map_status(n.status_code).bits or not map_status(n.status_code).usable:
            return False  # a bad status variable says nothing about the point; the value's status does
        try:
            bits = int(native_number(n.value, n.variant_type))
        except ValueRejected as e:
            self.problems.report(
                e.reason, e.clause_id, f"point {point.point_code} status variable", e.message_zh, e.message_en
            )
            return False
        if not 0 <= bits <= 255:
            self.problems.report(
                "bad_status_bits", "ST-DATA-020", f"point {point.point_code} status variable",
                f"状态值 {bits} 超出 0–255，忽略", f"status value {bits} is outside 0–255: ignored",
            )  # fmt: skip
            return False
        if bits == st.device_bits:
            return False
        st.device_bits = bits
        return True

    def _value(self, point: PointConfig, st: _PointState, n: Notification, t: int) -> Observation | None:
        code = point.point_code
        m = map_status(n.status_code)
        if not m.report:
            return None
        where = f"point {code}"
        if m.usable:
            try:
                value = apply_mapping(point.mapping, native_number(n.value, n.variant_type))
                if not math.isfinite(value):
                    raise ValueRejected(
                        "not_finite", "ST-DATA-018", f"值 {value} 不是有限数", f"value {value} is not finite"
                    )
                if point.is_switch and value not in (0.0, 1.0):
                    raise ValueRejected(
                        "not_switch",
                        "ST-DATA-019",
                        f"开关量的值 {value} 不是 0 或 1",
                        f"switch value {value} is neither 0 nor 1",
                    )
            except ValueRejected as e:
                self.problems.report(e.reason, e.clause_id, where, e.message_zh, e.message_en)
                return None
            if m.bits == 0 and n.status_code >> 30 == 1:
                self.uncertain[code] = self.uncertain.get(code, 0) + 1
                self.problems.report(
                    "uncertain", "ST-DATA-020", where,
                    f"OPC UA 状态 {m.name}：值照报，不置状态位", f"OPC UA status {m.name}: value reported, no status bit",
                )  # fmt: skip
            st.last_value = value
            st.opc_bits = m.bits
            status = self._status(code, st, value, t)
            if point.mapping is not None:
                fresh = self.filter.accept_point(code, point.mapping, value, t)
                if not fresh and st.reported_status == status:
                    return None  # within the deadband / period and nothing else changed
        else:
            if m.bits == NOT_POLLED and (n.status_code & 0xFFFF0000) in BAD_NOT_POLLED:
                self.problems.report(
                    "not_polled", "ST-DATA-020", f"{where} (node refused)",
                    f"服务器拒绝该节点（{m.name}），测点按不巡检（32）上报", f"the server refused the node ({m.name}); reported as not polled (32)",
                )  # fmt: skip
            else:
                self.problems.report(
                    "bad_status", "ST-DATA-020", where,
                    f"OPC UA 状态 {m.name} → 状态位 {m.bits}", f"OPC UA status {m.name} → status bits {m.bits}",
                )  # fmt: skip
            st.opc_bits = m.bits
            self.filter.reset(code)
            value = st.last_value if st.last_value is not None else 0.0
            status = self._status(code, st, None, t)
        st.seen = True
        st.reported_status = status
        return point.observation(value, t, status)

    def lost(self, time_ms: int) -> list[Observation]:
        """Every point with the outstation-fault bit 16 and its last value (the session is gone)."""
        out: list[Observation] = []
        for code, point in self.points.items():
            st = self.state[code]
            st.opc_bits = OUTSTATION_FAULT
            self.filter.reset(code)
            status = self._status(code, st, None, time_ms)
            st.reported_status = status
            st.seen = True
            out.append(
                point.observation(st.last_value if st.last_value is not None else 0.0, time_ms, status)
            )
        return out


# ---------------------------------------------------------------------------------------------- downlink


@dataclass
class OpcUaDownlink(DownlinkConverter[ua.Variant]):
    """A write → the variant to write, typed like the node (``types``: point code → the node's VariantType).

    Inverts the mapping (``(value - offset) / scale``); integers are rounded and must fit the node's type;
    a bit-field mapping (``bit``, ``mask``) cannot be written (UnsupportedCommand, ST-IFACE-013).

    Example::

        down = OpcUaDownlink({code: ua.VariantType.Boolean})
        variant = down.convert(point, 1.0)            # Variant(True, Boolean)
    """

    types: dict[str, ua.VariantType] = field(default_factory=dict)

    def convert(self, point: PointConfig, value: float) -> ua.Variant:
        """The variant that writes ``value`` to ``point``'s node."""
        code = point.point_code
        if not point.writable:
            raise UnsupportedCommand(f"测点 {code} 不可写 / point {code} is not writable")
        m = point.mapping
        if m is not None and (m.bit is not None or m.mask is not None):
            raise UnsupportedCommand(
                f"测点 {code} 映射到位域，不能写 / point {code} maps a bit field and cannot be written"
            )
        v = float(value)
        if not math.isfinite(v):
            raise ValueError(f"[ST-DATA-018] 值 {v} 不是有限数 / value {v} is not finite")
        if point.is_switch and v not in (0.0, 1.0):
            raise ValueError(f"[ST-DATA-019] 开关量只能写 0 或 1 / a switch takes 0 or 1, not {v}")
        d = point.definition
        if not point.is_switch and d.range_low < d.range_high and not d.range_low <= v <= d.range_high:
            raise ValueError(
                f"值 {v} 超出测点量程 [{d.range_low}, {d.range_high}] / value {v} is outside the point's range"
            )
        raw = v if m is None or m.data_type == "bool" else (v - m.offset) / m.scale
        vt = self.types.get(code, ua.VariantType.Double)
        if vt == ua.VariantType.Boolean:
            return ua.Variant(raw != 0, vt)
        if vt in _INTEGER_TYPES:
            lo, hi = _INTEGER_TYPES[vt]
            r = round(raw)
            if not lo <= r <= hi:
                raise ValueError(f"值 {r} 超出 {vt.name} 的范围 / value {r} does not fit {vt.name}")
            return ua.Variant(r, vt)
        if vt in _FLOAT_TYPES:
            return ua.Variant(float(raw), vt)
        if vt == ua.VariantType.String:
            return ua.Variant(repr(float(raw)), vt)
        raise UnsupportedCommand(f"节点类型 {vt.name} 不能写数值 / a {vt.name} node cannot take a number")
