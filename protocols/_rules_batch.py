"""The rules of the validation core for observation batches, the hot path: ObservationBatch and the requests
that carry one (registered in :data:`~santong.protocols._rules.RULES` when ``_rules`` is imported), and
:func:`batch_columns`, the same rule on the batch's columns as Python lists."""

from __future__ import annotations

import functools
import math
import operator
import sys
from collections.abc import Sequence
from operator import itemgetter
from typing import Any

from google.protobuf.message import DecodeError, Message
from santong.protocols._catalogue import sensor_types
from santong.protocols._context import LIVE_MAX_AGE_MS, DeviceState, ValidationContext, timestamp_ms
from santong.protocols._rules import (
    EARLIEST_S,
    MAX_TS,
    MIN_TS,
    RULES,
    Report,
    _finite,
    _non_empty,
    _not_future,
    _sequence,
    rule,
)
from santong.protocols._wire import (
    ALIAS,
    BACKFILL,
    BASE_TIME,
    SEQUENCE,
    STATUS,
    TIME_OFFSET,
    VALUE,
    BatchWire,
)

__all__ = ["NOT_VALID_BITS", "batch_columns", "batch_covered", "batch_skeleton"]

# Packed doubles are little-endian: a native memoryview reads them as they are.
_LITTLE = sys.byteorder == "little"


@functools.cache
def _numpy() -> Any:
    """numpy (a dependency), imported on the first batch read from its encoding, not with every ``santong`` command;
    None where it cannot be imported (the values are then read into a list, as on other paths)."""
    try:
        import numpy
    except ImportError:
        return None
    return numpy


@rule(
    "ObservationBatch",
    "ST-IFACE-004", "ST-IFACE-005", "ST-IFACE-010", "ST-PROTO-008", "ST-PROTO-011", "ST-PROTO-032", "ST-DATA-018", "ST-DATA-030",
    "ST-DATA-019", "ST-DATA-020", "ST-DATA-021", "ST-DATA-031", "ST-DATA-032", "ST-DATA-048",
)  # fmt: skip
def _batch(b: Any, ctx: ValidationContext, out: Report, path: str) -> None:
    # one conversion per column: builtins run far faster on lists than on upb containers
    n = len(b.alias)
    lists = ctx.batch_lists
    wire = ctx.batch_wire
    known = switch_free = value_range = offset_range = None
    status_small = False
    values: Sequence[float]
    if ctx.batch_skeleton:  # no column in the message: the state's memos and the encoding hold them all
        # The caller found batch_covered (the bytes are not compared again); the memos must still stand for the
        # current definitions.
        state = ctx.state
        memo, memo_o = state.alias_memo, state.offset_memo
        if wire is None or memo is None or memo_o is None or memo[1] is not state.alias_set:
            raise ValueError(
                "a batch skeleton is judged only with batch_wire covered by the memos (batch_covered)"
            )
        aliases, known, switch_free = memo[3], True, memo[2]
        n = len(aliases)
        offsets, offset_range = memo_o[1], memo_o[2]
        statuses, status_small = wire.column(STATUS), True  # n bytes, each < 128: each its own varint
        values, value_range = _wire_values(wire, n)
    elif lists is not None and len(lists[0]) == n:  # the JSON decoder's lists: the same ints
        aliases, offsets, statuses = lists
        values = b.value[:]
    elif wire is not None and wire.size(VALUE) == 8 * len(b.value):  # the bytes b was parsed from
        # Facts read from the encoding instead of copies of the columns: an alias column identical to one found
        # all defined (against the same definitions) is all defined; n status varints in n bytes are all < 128.
        state = ctx.state
        col = wire.column(ALIAS)
        memo = state.alias_memo
        if memo is not None and memo[1] is state.alias_set and memo[0] == col:
            aliases, known, switch_free = memo[3], True, memo[2]
        else:
            aliases = b.alias[:]
            known = state.alias_set.issuperset(aliases)
            switch_free = state.switch_aliases.isdisjoint(aliases)
            if known:
                state.alias_memo = (col, state.alias_set, switch_free, aliases)
        s = wire.spans[VALUE]
        nv = len(b.value)
        if s and _LITTLE and nv and _numpy() is not None:
            values, value_range = _wire_values(wire, nv)
        else:
            values = memoryview(wire.data)[s[1] : s[2]].cast("d").tolist() if s and _LITTLE else b.value[:]
        col = wire.column(TIME_OFFSET)
        memo_o = state.offset_memo
        if memo_o is not None and memo_o[0] == col:  # the same bytes as the last batch's: the same offsets
            offsets, offset_range = memo_o[1], memo_o[2]
        else:
            offsets = b.time_offset_ms[:]
            if n and len(offsets) == n:
                offset_range = offset_bounds(offsets)
                state.offset_memo = (col, offsets, offset_range)
        status_small = (
            wire.size(STATUS) == n
        )  # n varints in n bytes: each byte is a status (as for a skeleton)
        statuses = wire.column(STATUS) if status_small else b.status[:]
    else:
        aliases, offsets, statuses = b.alias[:], b.time_offset_ms[:], b.status[:]
        values = b.value[:]
    batch_columns(
        b.sequence, aliases, values, offsets, statuses,
        b.base_time if b.HasField("base_time") else None, b.backfill, ctx, out, path,
        known=known, switch_free=switch_free, status_small=status_small, value_range=value_range,
        offset_range=offset_range,
    )  # fmt: skip


def _wire_values(wire: BatchWire, n: int) -> tuple[Sequence[float], tuple[float, float] | None]:
    """The packed doubles of the value column as they lie in the bytes (little-endian, numpy at hand: the callers
    check): a sequence for the per-point loops (which run only when a screen hits), and their least and greatest
    value (NaN when one is NaN) for the screens; None for an empty column."""
    s = wire.spans[VALUE]
    if s is None or not n:
        return [], None
    return memoryview(wire.data)[s[1] : s[2]].cast("d"), _value_range(
        _numpy().frombuffer(wire.data, "<f8", n, s[1])
    )


def batch_covered(wire: BatchWire, state: DeviceState) -> int | None:
    """The number of points of the observation batch in ``wire`` when it can be judged without parsing a column
    (else None): the state's memos hold its alias column (all defined, against the current definitions) and its
    time-offset column — the same bytes as a batch judged before, so the same integers, which parsed then — and
    its status column (as many bytes as points, each < 128: each a varint of its own) and value column (8 bytes a
    point) are read as they lie. Then :func:`batch_skeleton` and ``ValidationContext.batch_skeleton`` judge the
    whole batch."""
    memo, memo_o = state.alias_memo, state.offset_memo
    if memo is None or memo_o is None or memo[1] is not state.alias_set or not _LITTLE or _numpy() is None:
        return None
    n = len(memo[3])
    covered = (
        len(memo_o[1]) == n
        and wire.size(STATUS) == n
        and wire.size(VALUE) == 8 * n
        and memo[0] == wire.column(ALIAS)
        and memo_o[0] == wire.column(TIME_OFFSET)
        and wire.column(STATUS).isascii()
    )
    return n if covered else None


def batch_skeleton(wire: BatchWire, cls: type[Message]) -> Message | None:
    """The request of class ``cls`` (ReportObservationsRequest or StreamObservationsRequest) holding only its
    batch's sequence, base_time and backfill, parsed from their own bytes in the encoding (a few dozen bytes
    instead of every column); None when those do not parse. Its columns are the encoding's: judge it with
    ``batch_wire`` and ``batch_skeleton`` set in the context, when :func:`batch_covered`; read anything else of
    the upload from the whole request."""
    data, spans = wire.data, wire.spans
    inner = b"".join([data[s[0] : s[2]] for s in (spans[SEQUENCE], spans[BASE_TIME], spans[BACKFILL]) if s])
    if len(inner) > 0x7F:  # 46 bytes at most when well-formed: over-long varints, left to the whole parse
        return None
    msg = cls()
    try:
        msg.ParseFromString(b"\x0a" + bytes((len(inner),)) + inner)
    except (DecodeError, ValueError, RuntimeError):
        return None
    return msg


#: numpy releases the GIL in a loop over more elements than this (NPY_BEGIN_THREADS_THRESHOLDED): the database
#: thread then takes it and the event loop waits for its next statement (≈ 10 µs a batch, measured in the stream).
_GIL_KEPT = 500


def _value_range(column: Any) -> tuple[float, float]:
    """The least and greatest value of a numpy column, NaN for both when a value is NaN; reduced in pieces that
    keep the GIL (by the ufuncs themselves: ndarray.min adds a Python frame per call)."""
    np = _numpy()
    least, greatest = np.minimum.reduce, np.maximum.reduce
    n = len(column)
    if n <= _GIL_KEPT:
        return float(least(column)), float(greatest(column))
    if n <= 2 * _GIL_KEPT:  # the usual batch: two pieces, written out (a comprehension costs as much again)
        head, tail = column[:_GIL_KEPT], column[_GIL_KEPT:]
        lo1, lo2 = least(head), least(tail)
        if lo1 != lo1 or lo2 != lo2:
            return math.nan, math.nan
        return float(min(lo1, lo2)), float(max(greatest(head), greatest(tail)))
    pieces = [column[i : i + _GIL_KEPT] for i in range(0, n, _GIL_KEPT)]
    los = [least(p) for p in pieces]
    if any(lo != lo for lo in los):  # a piece holding NaN has NaN for its least (and its greatest) value
        return math.nan, math.nan
    return float(min(los)), float(max([greatest(p) for p in pieces]))


def offset_bounds(offsets: Sequence[int]) -> tuple[int, int]:
    """The least and greatest of a non-empty offset column. Offsets in time order (as adapters build them, ends
    and middle in order): one sort, a single pass that compares ints without the generic comparison (≈ 5× faster
    than min and max). Otherwise min and max: a sort of shuffled offsets costs ≈ 2.5× them."""
    if offsets[0] <= offsets[len(offsets) >> 1] <= offsets[-1]:
        srt = sorted(offsets)
        return srt[0], srt[-1]
    return min(offsets), max(offsets)


def batch_columns(
    sequence: int,
    aliases: Sequence[int],
    values: Sequence[float],
    offsets: Sequence[int],
    statuses: Sequence[int],
    base_time: Any,
    backfill: bool,
    ctx: ValidationContext,
    out: Report,
    path: str,
    *,
    known: bool | None = None,
    switch_free: bool | None = None,
    status_small: bool = False,
    bounds: tuple[Sequence[float], Sequence[float]] | None = None,
    value_range: tuple[float, float] | None = None,
    offset_range: tuple[int, int] | None = None,
) -> None:
    """The ObservationBatch rule on the batch's columns (``base_time`` a Timestamp, None when unset): the message
    rule above, and adapters that hold the columns as lists before they build the message
    (:func:`santong.protocols.validate_batch_columns`). Facts the caller already knows skip their scan: ``known``
    (every alias defined), ``switch_free`` (no switch alias among them), ``status_small`` (every status < 128),
    ``bounds`` (each observation's ``state.lows`` and ``state.highs`` entry, in alias order), ``value_range`` (the
    least and greatest value, NaN when a value is NaN: both finite means every value is), ``offset_range`` (the
    least and greatest time offset)."""
    _sequence(sequence, ctx, out, f"{path}.sequence")
    n = len(aliases)
    if n == 0:
        _non_empty(0, out, f"{path}.alias", "观测批次", "observations in the batch")
        return
    if n > ctx.limits.max_batch_points:
        out.add(
            "ST-PROTO-008",
            f"{path}.alias",
            f"批次含 {n} 个观测，超过上限 {ctx.limits.max_batch_points}",
            f"{n} observations exceed the batch limit {ctx.limits.max_batch_points}",
        )
        return
    if len(values) != n or len(offsets) != n or len(statuses) != n or base_time is None:
        out.add(
            "ST-IFACE-005",
            path,
            f"列长度不一致或缺少 base_time（alias {n}, value {len(values)}, time_offset_ms {len(offsets)}, status {len(statuses)}）",
            f"columns differ in length or base_time is missing (alias {n}, value {len(values)}, time_offset_ms {len(offsets)}, status {len(statuses)})",
        )
        return
    state = ctx.state
    if known is None:
        known = state.alias_set.issuperset(aliases)
    if not known:
        unknown = sorted(set(aliases) - state.alias_set)
        out.add(
            "ST-IFACE-004",
            f"{path}.alias",
            f"别名 {unknown[:10]} 未定义",
            f"aliases {unknown[:10]} are not defined",
        )
    if not (_finite(value_range[0]) and _finite(value_range[1]) if value_range else _finite(sum(values))):
        for i, v in enumerate(values):
            if not _finite(v):
                out.add("ST-DATA-018", f"{path}.value[{i}]", f"值 {v} 不是有限数", f"value {v} is not finite")
    if not status_small and max(statuses) > 255:
        for i, s in enumerate(statuses):
            if s > 255:
                out.add(
                    "ST-DATA-020",
                    f"{path}.status[{i}]",
                    f"状态 {s} 含未定义的位",
                    f"status {s} has undefined bits",
                )
    switch = state.switch_aliases
    if switch and not (switch.isdisjoint(aliases) if switch_free is None else switch_free):
        for i, a in enumerate(aliases):
            if a in switch and values[i] not in (0.0, 1.0):
                out.add(
                    "ST-DATA-019",
                    f"{path}.value[{i}]",
                    f"开关量值 {values[i]} 不是 0 或 1",
                    f"switch value {values[i]} is neither 0 nor 1",
                )
    # Range screens in C, the per-point loop only on a hit. First one min and one max: a value within [the
    # greatest low, the smallest high] of the device's points lies within its own point's range. On a miss, each
    # observation's own bounds, compared pairwise. NaN passes both screens as it passes the per-point comparison
    # (ST-DATA-018 reports it). Bounds the caller knows: the pairwise comparison alone, no screen first.
    if (
        state.ranges
        and known
        and (bounds is not None or not _within(values, value_range, state.max_low, state.min_high))
    ):
        if bounds is not None:
            lows, highs = bounds
        else:
            aliases = aliases if isinstance(aliases, list) else list(aliases)
            lows = itemgetter(*aliases)(state.lows)
            highs = itemgetter(*aliases)(state.highs)
            if n == 1:
                lows, highs = (lows,), (highs,)
        if any(map(operator.lt, values, lows)) or any(map(operator.gt, values, highs)):
            _over_range(aliases, values, statuses, state, out, path)
    if not (MIN_TS <= base_time.seconds <= MAX_TS and 0 <= base_time.nanos < 1_000_000_000):
        _not_future(base_time, ctx, out, f"{path}.base_time")
        return
    base = timestamp_ms(base_time)
    now = ctx.clock_ms()
    first, last = offset_range or offset_bounds(offsets)
    earliest, latest = base + first, base + last
    ctx.time_span_ms = (earliest, latest)
    if earliest < EARLIEST_S * 1000:
        out.add(
            "ST-DATA-031",
            f"{path}.time_offset_ms",
            f"观测时间早于 2000-01-01T00:00:00Z（{earliest} ms），设备时钟未设置？",
            f"observation time before 2000-01-01T00:00:00Z ({earliest} ms): is the device clock unset?",
        )
    if latest - now > ctx.limits.max_clock_skew_ms:
        out.add(
            "ST-DATA-031",
            f"{path}.time_offset_ms",
            f"观测时间比平台时间超前 {latest - now} ms，超过允许偏差 {ctx.limits.max_clock_skew_ms} ms",
            f"observation time is {latest - now} ms ahead of the platform, beyond the allowed skew of {ctx.limits.max_clock_skew_ms} ms",
        )
    if ctx.arrival and not backfill and now - earliest > LIVE_MAX_AGE_MS:
        out.add(
            "ST-DATA-032",
            f"{path}.backfill",
            f"实时数据已过去 {now - earliest} ms 却未标记补传",
            f"live data is {now - earliest} ms old but not flagged as backfill",
        )


def _within(
    values: Sequence[float], value_range: tuple[float, float] | None, low: float, high: float
) -> bool:
    """Whether every value lies within [low, high], from their least and greatest value (``value_range`` when the
    caller knows them). False when either is NaN: the per-point comparison then judges the other values (NaN
    itself passes it; ST-DATA-018 reports it)."""
    lo, hi = value_range or (min(values), max(values))
    return lo >= low and hi <= high


#: Status bits that say a value is not a valid measurement (ST-DATA-048): sensor fault, outstation fault, not
#: polled, paused. Over range (8) is not among them: it does not make an impossible value valid.
NOT_VALID_BITS = 128 | 16 | 32 | 64


def _over_range(aliases: Any, values: Any, statuses: Any, state: Any, out: Report, path: str) -> None:
    """Values outside their point's range (ST-DATA-021) and, among them, beyond the physical limits of the
    point's sensor type with a status that says they are valid (ST-DATA-048). The point's range lies within
    the dictionary range (ST-DATA-013), which lies within the physical limits: only values outside the point's
    range can be impossible, so this runs only when the range screen hits."""
    get = state.ranges.get
    types = sensor_types()
    for i, (a, v, s) in enumerate(zip(aliases, values, statuses, strict=True)):
        r = get(a)
        if r is None or r[0] <= v <= r[1]:
            continue
        if not s & 8:
            out.add(
                "ST-DATA-021",
                f"{path}.value[{i}]",
                f"值 {v} 超出量程 [{r[0]}, {r[1]}] 但状态未置超量程位 8",
                f"value {v} lies outside the range [{r[0]}, {r[1]}] but status lacks the over-range bit 8",
            )
        st = types.get(state.points[a].sensor_type)
        if st is not None and not s & NOT_VALID_BITS and not st.physical_low <= v <= st.physical_high:
            out.add(
                "ST-DATA-048",
                f"{path}.value[{i}]",
                f"值 {v} {st.unit} 超出{st.name_zh}的物理极限 [{st.physical_low}, {st.physical_high}]，"
                f"状态 {s} 却表明其有效（应置传感器故障位 128）",
                f"value {v} {st.unit} lies beyond the physical limits [{st.physical_low}, {st.physical_high}] of "
                f"{st.name_en}, yet status {s} says it is valid (set the sensor-fault bit 128)",
            )


@rule("ReportObservationsRequest")
def _report_observations(msg: Any, ctx: ValidationContext, out: Report, path: str) -> None:
    _batch(msg.batch, ctx, out, f"{path}.batch")


RULES["StreamObservationsRequest"] = (_report_observations, ())
