"""Modbus read planning (coalescing), the uplink converter (blocks → observations) and the downlink converter.

**Coalescing.** Every point needs one or two *spans* — its value registers (or bit) and, optionally, its status
register. :func:`plan_reads` groups the spans by (unit, table), sorts them by address and merges a span into the
current read while the gap to it is at most ``max_gap`` registers and the read stays within ``max_registers``
(125) or ``max_bits`` (2000): the fewest requests a greedy left-to-right pass can give for sorted ranges.
Overlapping spans (six switch bits in one register) share their registers. A *barrier* ``(unit, table, address)``
forbids merging across that address: when a device refuses a merged read with exception 2 or 3 (a device may
refuse the unused registers inside a gap), the adapter bisects the read with a barrier at its middle span and
reads both halves, again and again, until only the refused range stands alone — a few extra reads, not one
per point.

**Decoding.** Each register read gets one :func:`~santong.adapters.compile_decoder` kernel for every value and
status word in it: one ``struct.unpack`` per read. A block the kernel refuses (a NaN in one float) is decoded
point by point so that only the bad point is marked (sensor fault 128, ST-DATA-018).

**Status** of an observation, in this order (ST-DATA-020):

1. the device's own status register, if the point has one (bits above 255 are dropped with a warning);
2. the bits the :class:`~santong.adapters.AlarmTracker` manages for the point (1 alarm, 2 power off) replace the
   device's: raise/clear messages and the status bit always agree (ST-PROTO-027);
3. a failed read sets the failure's bit (:data:`FAILURE_STATUS`) and reports the last good value (or the
   low end of the range before the first), which carries no information;
4. a value outside the range gets bit 8 (ST-DATA-021), as :meth:`PointConfig.observation` does it.

A point is reported when its status changed or its value passes its ChangeFilter (deadband, period).
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Literal

from santong.adapters._alarms import AlarmTracker
from santong.adapters._blockdecode import compile_decoder
from santong.adapters._mapping import (
    ChangeFilter,
    MappingError,
    PointMapping,
    decode,
    encode,
)
from santong.adapters._sdk import (
    AdapterError,
    DownlinkConverter,
    Observation,
    PointConfig,
    UnsupportedCommand,
    UplinkConverter,
)
from santong.adapters.modbus.config import BIT_TABLES, MAX_BITS, MAX_REGISTERS, RegisterSource, Table
from santong.protocols.v1 import common_pb2

__all__ = [
    "FAILURE_STATUS",
    "Failure",
    "ModbusDownlink",
    "ModbusUplink",
    "ReadBlock",
    "ReadPlan",
    "Span",
    "WriteRequest",
    "plan_reads",
]

OUTSTATION_FAULT = common_pb2.POINT_STATUS_FLAG_OUTSTATION_FAULT
OVER_RANGE = common_pb2.POINT_STATUS_FLAG_OVER_RANGE
SENSOR_FAULT = common_pb2.POINT_STATUS_FLAG_SENSOR_FAULT
STATUS_CLAUSE = "ST-DATA-020"

#: Modbus exception codes → the point status bit they set (ST-DATA-020) and their names.
#: 1 illegal function, 2 illegal data address, 3 illegal data value, 4 server device failure: the device
#: answered, but not with this point's data → 128 传感器故障 (sensor fault).
#: 5 acknowledge, 6 busy, 8 parity error, 10 gateway path unavailable, 11 gateway target failed to respond, and
#: every failure without an answer (timeout, connection refused or lost, a truncated or garbled frame): the
#: outstation is not answering → 16 分站故障 (outstation fault).
EXCEPTION_NAMES: Mapping[int, tuple[str, str]] = {
    1: ("非法功能", "illegal function"),
    2: ("非法数据地址", "illegal data address"),
    3: ("非法数据值", "illegal data value"),
    4: ("从站设备故障", "server device failure"),
    5: ("确认（处理中）", "acknowledge (still processing)"),
    6: ("从站设备忙", "server device busy"),
    8: ("存储奇偶错", "memory parity error"),
    10: ("网关路径不可用", "gateway path unavailable"),
    11: ("网关目标设备无响应", "gateway target device failed to respond"),
}
FAILURE_STATUS: Mapping[int | str, int] = {
    1: SENSOR_FAULT,
    2: SENSOR_FAULT,
    3: SENSOR_FAULT,
    4: SENSOR_FAULT,
    5: OUTSTATION_FAULT,
    6: OUTSTATION_FAULT,
    8: OUTSTATION_FAULT,
    10: OUTSTATION_FAULT,
    11: OUTSTATION_FAULT,
    "timeout": OUTSTATION_FAULT,
    "connection": OUTSTATION_FAULT,
    "frame": OUTSTATION_FAULT,
    "decode": SENSOR_FAULT,
}


# --------------------------------------------------------------------------- planning


@dataclass(frozen=True, slots=True)
class Span:
    """A range one point needs read: its value (``role="value"``) or its status register."""

    point: int  # index into the plan's points
    role: Literal["value", "status"]
    unit_id: int
    table: Table
    address: int
    count: int

    @property
    def end(self) -> int:
        return self.address + self.count


@dataclass(frozen=True, slots=True)
class ReadBlock:
    """One read request: function (by table), unit, first address, count, and the spans it serves."""

    unit_id: int
    table: Table
    address: int
    count: int
    spans: tuple[Span, ...]

    def __hash__(self) -> int:  # the spans decide equality; hashing them all per lookup would be slow
        return hash((self.unit_id, self.table, self.address, self.count, len(self.spans)))

    @property
    def is_bits(self) -> bool:
        return self.table in BIT_TABLES

    def describe(self) -> str:
        """``holding 0..15 (unit 1)``."""
        return f"{self.table} {self.address}..{self.address + self.count - 1} (unit {self.unit_id})"


def plan_reads(
    spans: Iterable[Span],
    *,
    max_gap: int = 8,
    max_registers: int = MAX_REGISTERS,
    max_bits: int = MAX_BITS,
    barriers: frozenset[tuple[int, str, int]] = frozenset(),
) -> list[ReadBlock]:
    """Coalesce spans into as few reads as the gap, size limits and barriers allow (see the module docstring).

    Example::

        >>> s = [Span(0, "value", 1, "holding", 0, 2), Span(1, "value", 1, "holding", 4, 1)]
        >>> [(b.address, b.count) for b in plan_reads(s, max_gap=2)]
        [(0, 5)]
        >>> [(b.address, b.count) for b in plan_reads(s, max_gap=2, barriers=frozenset({(1, "holding", 4)}))]
        [(0, 2), (4, 1)]
    """
    groups: dict[tuple[int, str], list[Span]] = {}
    for s in spans:
        groups.setdefault((s.unit_id, s.table), []).append(s)
    blocks: list[ReadBlock] = []
    for (unit, table), group in sorted(groups.items()):
        limit = max_bits if table in BIT_TABLES else max_registers
        group.sort(key=lambda s: (s.address, s.end))
        start, end, members = group[0].address, group[0].end, [group[0]]
        for s in group[1:]:
            if (
                max_gap >= 0
                and s.address - end <= max_gap
                and max(end, s.end) - start <= limit
                and (s.address == start or (unit, table, s.address) not in barriers)
            ):
                end = max(end, s.end)
                members.append(s)
                continue
            blocks.append(ReadBlock(unit, table, start, end - start, tuple(members)))  # type: ignore[arg-type]
            start, end, members = s.address, s.end, [s]
        blocks.append(ReadBlock(unit, table, start, end - start, tuple(members)))  # type: ignore[arg-type]
    return blocks


_STATUS_WORD = PointMapping(name="status", data_type="uint16")


def _source(point: PointConfig) -> RegisterSource:
    src = point.source
    if not isinstance(src, RegisterSource):
        raise AdapterError(
            f"测点 {point.point_code} 缺少 source（Modbus 地址）/ point {point.point_code} has no source "
            f"(Modbus address): add source: {{address: …}}"
        )
    return src


def _check_point(point: PointConfig, src: RegisterSource) -> PointMapping:
    """The point's mapping, checked against its table (bit tables: bool; register tables: not string)."""
    m = point.mapping
    code = point.point_code
    if src.table in BIT_TABLES:
        if m is not None and (m.data_type != "bool" or m.bit is not None):
            raise AdapterError(
                f"测点 {code}：{src.table} 表只能是 bool（无 bit）/ point {code}: a {src.table} point is a plain "
                f"bool: remove data_type/bit or set data_type: bool"
            )
        return m or PointMapping(name=code, data_type="bool")
    if m is None:
        raise AdapterError(
            f"测点 {code} 缺少 data_type（寄存器如何解码）/ point {code} has no data_type: say how its registers "
            f"decode, e.g. data_type: float32"
        )
    if m.data_type == "string":
        raise AdapterError(
            f"测点 {code}：string 不是观测值，不能作为测点 / point {code}: a string is no observation value; "
            f"use a numeric data_type"
        )
    return m


@dataclass(slots=True)
class _PointState:
    """What the converter remembers of one point across polls (and across re-plans)."""

    value: float | None = None
    status: int | None = None


@dataclass(slots=True)
class _PointPlan:
    """Where one point's value and status land after a poll, and the per-point constants of the hot loop."""

    point: PointConfig
    code: str
    mapping: PointMapping
    value_block: int = -1
    value_pos: int = 0
    status_block: int = -1
    status_pos: int = 0
    state: _PointState = field(default_factory=_PointState)
    managed: int = 0
    alarm: Any = None  # the tracker's record of the point (AlarmTracker.record) when managed
    period: int | None = None  # report "period": its period_ms; None: report on change
    ranged: bool = False  # analog with range_low < range_high: over-range bit 8 applies (ST-DATA-021)
    low: float = 0.0
    high: float = 0.0

    def __post_init__(self) -> None:
        d = self.point.definition
        self.low, self.high = float(d.range_low), float(d.range_high)
        self.period = self.mapping.period_ms if self.mapping.report == "period" else None
        self.ranged = not self.point.is_switch and self.low < self.high

    @property
    def fallback(self) -> float:
        """The value reported with a failure before any good read: the low end of the range (0 for switches)."""
        return self.low if self.ranged else 0.0


@dataclass
class ReadPlan:
    """The reads of one poll and, per point, where its value and status come from.

    Example::

        plan = ReadPlan.build(adapter.config.points, default_unit=1, max_gap=8)
        print(len(plan.blocks), "reads per poll")
    """

    blocks: list[ReadBlock]
    points: list[_PointPlan]
    spans: list[Span]
    decoders: list[Any] = field(default_factory=list)
    max_gap: int = 8
    max_registers: int = MAX_REGISTERS
    max_bits: int = MAX_BITS
    barriers: frozenset[tuple[int, str, int]] = frozenset()
    default_unit: int = 1

    @classmethod
    def build(
        cls,
        points: Iterable[PointConfig],
        *,
        default_unit: int = 1,
        max_gap: int = 8,
        max_registers: int = MAX_REGISTERS,
        max_bits: int = MAX_BITS,
        barriers: frozenset[tuple[int, str, int]] = frozenset(),
    ) -> ReadPlan:
        """Spans of every point, coalesced; AdapterError naming the point for an unusable one."""
        pps: list[_PointPlan] = []
        spans: list[Span] = []
        for i, p in enumerate(points):
            src = _source(p)
            m = _check_point(p, src)
            unit = default_unit if src.unit_id is None else src.unit_id
            count = 1 if src.table in BIT_TABLES else m.register_count
            if src.address + count > 65536:
                raise AdapterError(
                    f"测点 {p.point_code} 的寄存器超出地址 65535 / point {p.point_code} runs past address 65535"
                )
            spans.append(Span(i, "value", unit, src.table, src.address, count))
            if src.status_address is not None:
                spans.append(Span(i, "status", unit, src.status_from, src.status_address, 1))
            pps.append(_PointPlan(p, p.point_code, m))
        plan = cls([], pps, spans, [], max_gap, max_registers, max_bits, barriers, default_unit)
        plan._coalesce()
        return plan

    @staticmethod
    def splittable(block: ReadBlock) -> bool:
        """True if ``block`` merges spans that start at different addresses (so it can be bisected)."""
        first = block.spans[0].address
        return any(s.address != first for s in block.spans)

    def bisect(self, block: ReadBlock) -> ReadPlan:
        """A new plan in which ``block`` is cut in two at its middle span start (a barrier)."""
        starts = sorted({s.address for s in block.spans})
        cut = starts[len(starts) // 2]
        return ReadPlan.build(
            (pp.point for pp in self.points),
            default_unit=self.default_unit,
            max_gap=self.max_gap,
            max_registers=self.max_registers,
            max_bits=self.max_bits,
            barriers=self.barriers | {(block.unit_id, block.table, cut)},
        )

    def _coalesce(self) -> None:
        self.blocks = plan_reads(
            self.spans,
            max_gap=self.max_gap,
            max_registers=self.max_registers,
            max_bits=self.max_bits,
            barriers=self.barriers,
        )
        self.decoders = []
        for bi, b in enumerate(self.blocks):
            items: list[tuple[PointMapping, int]] = []
            for pos, s in enumerate(b.spans):
                pp = self.points[s.point]
                if s.role == "value":
                    pp.value_block, pp.value_pos = bi, pos
                    if not b.is_bits:
                        items.append((pp.mapping, s.address - b.address))
                else:
                    pp.status_block, pp.status_pos = bi, pos
                    items.append((_STATUS_WORD, s.address - b.address))
            if b.is_bits:
                self.decoders.append([s.address - b.address for s in b.spans])
            else:
                self.decoders.append(compile_decoder(items, block_length=b.count))


# --------------------------------------------------------------------------- uplink


@dataclass(frozen=True, slots=True)
class Failure:
    """Why a read failed: an exception code (1–11) or ``timeout`` / ``connection`` / ``frame``, and a message."""

    code: int | str
    message: str

    @property
    def status(self) -> int:
        """The point status bit this failure sets (see FAILURE_STATUS)."""
        return FAILURE_STATUS.get(self.code, OUTSTATION_FAULT)

    def describe(self) -> tuple[str, str]:
        """(中文, English) text of the failure."""
        if isinstance(self.code, int):
            zh, en = EXCEPTION_NAMES.get(self.code, ("异常", "exception"))
            return f"异常码 {self.code} {zh}", f"exception code {self.code} ({en})"
        zh, en = {
            "timeout": ("无响应（超时）", "no response (timeout)"),
            "connection": ("连接失败", "connection failed"),
            "frame": ("响应帧错误", "bad response frame"),
            "decode": ("无法解码", "cannot decode"),
        }.get(self.code, (str(self.code), str(self.code)))
        return zh, en


#: The words (or bits) of one read, or why it failed.
BlockResult = Sequence[int] | Sequence[bool] | Failure


class ModbusUplink(UplinkConverter[Mapping[ReadBlock, BlockResult]]):
    """The results of one poll (block → words, bits or Failure) → observations; alarms via :meth:`drain_alarms`.

    Example::

        uplink = ModbusUplink(plan)
        obs = uplink.convert({block: response.registers for block, response in reads.items()}, sink.now_ms())
        await sink.observations(obs)
        await sink.alarms(uplink.drain_alarms())
    """

    def __init__(
        self, plan: ReadPlan, tracker: AlarmTracker | None = None, *, report_interval_ms: int | None = 30_000
    ) -> None:
        """Convert with ``plan``; ``tracker`` (default: one over the plan's points) raises threshold alarms.

        ``report_interval_ms``: a point reported on change is reported again after this long without a change
        (ST-PROTO-025; None or 0: never), unless its mapping gives its own ``period_ms``.
        """
        self.filter = ChangeFilter()
        self.report_interval_ms = report_interval_ms or None
        self.tracker = (
            tracker if tracker is not None else AlarmTracker(pp.point.definition for pp in plan.points)
        )
        self._states: dict[str, _PointState] = {}
        self.faults: dict[str, tuple[int, Failure]] = {}  # point code → (status bits, failure) while failing
        self.warnings: list[str] = []
        self.replan(plan)

    def replan(self, plan: ReadPlan) -> None:
        """Use a new plan (after bisecting a refused block); filter and alarm state carry over."""
        self.plan = plan
        for pp in plan.points:
            pp.managed = self.tracker.managed(pp.code)
            pp.alarm = self.tracker.record(pp.code)
            pp.state = self._states.setdefault(pp.code, _PointState())

    def drain_alarms(self) -> list[Any]:
        """Alarms raised or cleared by the conversions so far."""
        return self.tracker.drain()

    def _decode(self, bi: int, block: ReadBlock, words: Sequence[Any]) -> list[Any] | Failure:
        dec = self.plan.decoders[bi]
        if block.is_bits:
            try:
                return [bool(words[off]) for off in dec]
            except IndexError:
                return Failure("frame", f"{len(words)} bits, {block.count} expected")
        try:
            return dec(words)  # type: ignore[no-any-return]
        except MappingError:
            pass
        if len(words) != block.count:
            return Failure("frame", f"{len(words)} registers, {block.count} expected")
        out: list[Any] = []
        for s in block.spans:  # one bad point (NaN): decode each, mark only the bad one
            m = self.plan.points[s.point].mapping if s.role == "value" else _STATUS_WORD
            off = s.address - block.address
            try:
                out.append(decode(m, words[off : off + s.count]))
            except MappingError as e:
                out.append(Failure("decode", str(e)))
        return out

    def decode_blocks(self, raw: Mapping[ReadBlock, BlockResult]) -> list[Any]:
        """Each read block's decoded values, or its Failure (a block missing from ``raw`` was not read)."""
        decoded: list[Any] = []
        for bi, block in enumerate(self.plan.blocks):
            res = raw.get(block)
            if res is None:
                res = Failure("connection", "not read")
            decoded.append(res if isinstance(res, Failure) else self._decode(bi, block, res))
        return decoded

    def convert(self, raw: Mapping[ReadBlock, BlockResult], time_ms: int) -> list[Observation]:
        """Observations of the points that should be reported after this poll (see the module docstring)."""
        plan = self.plan
        decoded = self.decode_blocks(raw)
        out: list[Observation] = []
        append = out.append
        tracker, faults, flt = self.tracker, self.faults, self.filter
        last = flt.last  # ChangeFilter's rules inline (accept_point's for "period", accept's for two floats)
        last_get, changed = last.get, flt._changed
        interval = self.report_interval_ms
        for pp in plan.points:
            code = pp.code
            state = pp.state
            vals = decoded[pp.value_block]
            failure: Failure | None = None
            if vals.__class__ is Failure:
                failure = vals
            else:
                v = vals[pp.value_pos]
                if v.__class__ is Failure:
                    failure = v
            status = 0
            if pp.status_block >= 0:
                svals = decoded[pp.status_block]
                sv = svals if svals.__class__ is Failure else svals[pp.status_pos]
                if isinstance(sv, Failure):
                    failure = failure or sv
                else:
                    status = int(sv)
                    if status > 0xFF:
                        self._warn(code, status)
                        status &= 0xFF
            if failure is not None:
                bits = failure.status
                v = state.value
                if v is None:
                    v = pp.fallback
                status = (status & ~pp.managed) | tracker.bits(code) | bits
                faults[code] = (bits, failure)
            else:
                if faults and code in faults:
                    del faults[code]
                v = float(v)
                state.value = v
                if pp.managed:
                    # the tracker's quiet path inline: no episode open, strictly inside (false for NaN)
                    rec = pp.alarm
                    if rec.open or not rec.quiet_low < v < rec.quiet_high:
                        bits = tracker.update(code, v, time_ms)
                    else:
                        bits = rec.bits
                    status = (status & ~pp.managed) | bits
            if state.status != status:
                state.status = status
                last[code] = (v, time_ms)  # reset + accept: a new status is always reported
            elif (period := pp.period) is not None:
                prev = last_get(code)
                if prev is not None and 0 <= time_ms - prev[1] < period:
                    continue
                last[code] = (v, time_ms)
            else:
                prev = last_get(code)
                if prev is not None:
                    m = pp.mapping
                    old = prev[0]
                    if old.__class__ is float:
                        moved = not abs(v - old) <= m.deadband  # NaN: a change
                    else:
                        moved = changed(old, v, m.deadband)
                    if not moved:
                        elapsed = time_ms - prev[1]
                        every = m.period_ms or interval
                        if not ((every is not None and elapsed >= every) or elapsed < 0):
                            continue
                last[code] = (v, time_ms)
            if pp.ranged and not pp.low <= v <= pp.high:
                status |= OVER_RANGE  # ST-DATA-021
            append((code, v, time_ms, status))
        return out

    def _warn(self, code: str, status: int) -> None:
        if len(self.warnings) < 100:
            self.warnings.append(
                f"[{STATUS_CLAUSE}] 测点 {code} 的设备状态字 0x{status:04X} 含 255 以上的位，已舍去 / point {code}: "
                f"device status word 0x{status:04X} has bits above 255, dropped"
            )


# --------------------------------------------------------------------------- downlink


@dataclass(frozen=True, slots=True)
class WriteRequest:
    """One Modbus write: function 5 (coil), 6 (one register) or 16 (registers)."""

    unit_id: int
    function: Literal[5, 6, 16]
    address: int
    values: tuple[int, ...]


class ModbusDownlink(DownlinkConverter[WriteRequest]):
    """A WRITE_POINT (point, engineering value) → the Modbus write, through the point's mapping inverted.

    Points with a bit, mask or shift share their register with other data: pass the register's ``current`` words
    (read just before) and only the point's bits change. Input registers, discrete inputs and points not marked
    ``writable`` raise :class:`UnsupportedCommand` (ST-IFACE-013).

    Example::

        req = ModbusDownlink(default_unit=1).convert(point, 12.5)      # WriteRequest(1, 16, 20, (…, …))
    """

    def __init__(self, default_unit: int = 1) -> None:
        """Writes go to ``default_unit`` unless the point names its own."""
        self.default_unit = default_unit

    @staticmethod
    def needs_current(point: PointConfig) -> bool:
        """True if the point shares its register(s) with other data (read-modify-write)."""
        m = point.mapping
        return m is not None and (m.bit is not None or m.mask is not None or m.shift != 0)

    def convert(self, point: PointConfig, value: float, current: Sequence[int] | None = None) -> WriteRequest:
        """The write request for ``value``; MappingError (a ValueError) if the value does not fit the point."""
        src = _source(point)
        code = point.point_code
        if not point.writable:
            raise UnsupportedCommand(f"测点 {code} 不可写 / point {code} is not writable")
        if src.table in ("input", "discrete"):
            raise UnsupportedCommand(
                f"测点 {code} 位于只读的 {src.table} 表 / point {code} is in the read-only {src.table} table"
            )
        unit = self.default_unit if src.unit_id is None else src.unit_id
        if not math.isfinite(value):
            raise MappingError(f"不能写入 {value!r}", f"cannot write {value!r}", point=code)
        m = _check_point(point, src)
        if src.table == "coil":
            if value not in (0, 1):
                raise MappingError(
                    f"线圈只能写 0 或 1，实际为 {value!r}", f"a coil takes 0 or 1, got {value!r}", point=code
                )
            return WriteRequest(unit, 5, src.address, (1 if value else 0,))
        v: Any = bool(value) if m.data_type == "bool" else value
        if m.data_type == "bool" and value not in (0, 1):
            raise MappingError(
                f"开关量只能写 0 或 1，实际为 {value!r}", f"a switch takes 0 or 1, got {value!r}", point=code
            )
        if isinstance(v, float) and v.is_integer() and m.data_type not in ("float32", "float64"):
            v = int(v)
        words = encode(m, v, current=current)
        return WriteRequest(unit, 6 if len(words) == 1 else 16, src.address, tuple(words))
