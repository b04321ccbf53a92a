"""The Modbus uplink's hot loop applies the change filter's and the alarm tracker's rules inline; it must decide
exactly what :meth:`ChangeFilter.accept` / :meth:`ChangeFilter.accept_point` and :meth:`AlarmTracker.update` decide.

A reference converter below calls those methods point by point (the loop as it was before it was inlined); both
run over the same random polls — values near the deadband and the thresholds, NaN, failed reads, device status
words, report intervals, a clock that steps back — and must emit the same observations and the same alarms.
"""

from __future__ import annotations

import math
from typing import Any

from hypothesis import given, settings
from hypothesis import strategies as st
from santong.adapters import PointMapping, encode
from santong.adapters._sdk import PointConfig
from santong.adapters.modbus import Failure, ModbusUplink, ReadPlan, RegisterSource
from santong.adapters.modbus.converter import OVER_RANGE
from santong.protocols.v1 import common_pb2, data_pb2

F32 = PointMapping(data_type="float32")


def _point(i: int, mapping: PointMapping, address: int, *, status: int | None = None, switch: bool = False,
           **thresholds: float) -> PointConfig:  # fmt: skip
    d = data_pb2.PointDefinition(
        point_code=f"14042100000101MNA00100{i:04d}",
        sensor_type="A001",
        value_kind=common_pb2.VALUE_KIND_SWITCH if switch else common_pb2.VALUE_KIND_ANALOG,
        range_low=0.0,
        range_high=1.0 if switch else 4.0,
        **thresholds,
    )
    return PointConfig(d, mapping, RegisterSource(address, "holding", status_address=status))


def _plan() -> ReadPlan:
    points = [
        _point(0, PointMapping(data_type="float32", deadband=0.05), 0, status=20,
               alarm_high=1.0, alarm_high_clear=0.9, power_off_high=1.5, power_restore_high=1.0),
        _point(1, PointMapping(data_type="float32", deadband=0.0, period_ms=3000), 2, alarm_low=0.2),
        _point(2, PointMapping(data_type="float32", report="period", period_ms=2000), 4,
               alarm_high=2.0, power_off_high=3.0),
        _point(3, PointMapping(data_type="float32", report="period", period_ms=1), 6),
        _point(4, PointMapping(data_type="bool", bit=1), 8, switch=True),
        _point(5, PointMapping(data_type="float32", deadband=0.5), 10, status=21),
    ]  # fmt: skip
    return ReadPlan.build(points, max_gap=16)


def _reference(up: ModbusUplink, raw: Any, time_ms: int) -> list[Any]:
    """The converter's loop with the filter's and the tracker's own methods (before they were inlined)."""
    plan = up.plan
    decoded = up.decode_blocks(raw)
    out = []
    tracker, faults, flt = up.tracker, up.faults, up.filter
    for pp in plan.points:
        code, state = pp.code, pp.state
        vals = decoded[pp.value_block]
        failure = None
        if isinstance(vals, Failure):
            failure = vals
        else:
            v = vals[pp.value_pos]
            if isinstance(v, Failure):
                failure = v
        status = 0
        if pp.status_block >= 0:
            svals = decoded[pp.status_block]
            sv = svals if isinstance(svals, Failure) else svals[pp.status_pos]
            if isinstance(sv, Failure):
                failure = failure or sv
            else:
                status = int(sv) & 0xFF
        if failure is not None:
            bits = failure.status
            v = state.value if state.value is not None else pp.fallback
            status = (status & ~pp.managed) | tracker.bits(code) | bits
            faults[code] = (bits, failure)
        else:
            faults.pop(code, None)
            v = float(v)
            state.value = v
            if pp.managed:
                status = (status & ~pp.managed) | tracker.update(code, v, time_ms)
        m = pp.mapping
        if state.status != status:
            state.status = status
            flt.reset(code)
            flt.accept(code, v, time_ms)
        elif m.report == "period":
            if not flt.accept_point(code, m, v, time_ms):
                continue
        elif not flt.accept(code, v, time_ms, m.period_ms or up.report_interval_ms, deadband=m.deadband):
            continue
        if pp.ranged and not pp.low <= v <= pp.high:
            status |= OVER_RANGE
        out.append((code, v, time_ms, status))
    return out


VALUES = st.one_of(
    st.sampled_from([0.0, 0.2, 0.19, 0.9, 0.95, 1.0, 1.02, 1.5, 1.6, 2.0, 3.0, 4.5, -0.0, math.nan]),
    st.floats(-1.0, 5.0, width=32),
)
POLL = st.tuples(
    st.lists(VALUES, min_size=5, max_size=5),
    st.booleans(),  # the switch
    st.sampled_from([0, 0, 0, 4, 0x1F0C]),  # a device status word
    st.sampled_from([None, None, None, "timeout", 2]),  # a failed read
    st.sampled_from([0, 1, 5, 999, 1000, 1999, 2000, 3000, 30_000, -500]),  # ms since the previous poll
)


@settings(deadline=None, max_examples=150)
@given(polls=st.lists(POLL, min_size=1, max_size=40), interval=st.sampled_from([None, 2500]))
def test_inline_rules_decide_as_the_filter_and_tracker_methods(
    polls: list[Any], interval: int | None
) -> None:
    ours, ref = (
        ModbusUplink(_plan(), report_interval_ms=interval),
        ModbusUplink(_plan(), report_interval_ms=interval),
    )
    (block,) = ours.plan.blocks
    assert ref.plan.blocks == [block]
    t = 1_000_000
    for values, switch, status, failed, step in polls:
        t += step
        words = [0] * block.count
        for addr, v in zip((0, 2, 4, 6, 10), values, strict=True):
            words[addr : addr + 2] = encode(F32, 0.0) if math.isnan(v) else encode(F32, v)
            if math.isnan(v):
                words[addr : addr + 2] = [0x7FC0, 0x0000]
        words[8] = 0b10 if switch else 0
        words[20] = words[21] = status
        raw: dict[Any, Any] = {block: words if failed is None else Failure(failed, "test")}
        got, want = ours.convert(raw, t), _reference(ref, raw, t)
        assert [(c, v if v == v else "nan", ts, s) for c, v, ts, s in got] == [
            (c, v if v == v else "nan", ts, s) for c, v, ts, s in want
        ]
        assert [(a.alarm_id, a.state) for a in ours.drain_alarms()] == [
            (a.alarm_id, a.state) for a in ref.drain_alarms()
        ]
        assert ours.faults == ref.faults
