"""Modbus adapter without a device: read coalescing, the uplink/downlink converters, alarms, configuration."""

from __future__ import annotations

import math
import os
import struct
from pathlib import Path

import pytest
from santong.adapters import ConfigError, MappingError, PointMapping, UnsupportedCommand, encode, load_config
from santong.adapters._alarms import AlarmTracker
from santong.adapters._runner import bundled_products, override_config, product_config
from santong.adapters._sdk import AdapterError, PointConfig
from santong.adapters.modbus import (
    Failure,
    ModbusAdapter,
    ModbusDownlink,
    ModbusUplink,
    ReadPlan,
    RegisterSource,
    Span,
    plan_reads,
)
from santong.protocols.v1 import common_pb2, data_pb2

PRODUCT = product_config("kj-substation")
os.environ.setdefault("SANTONG_TOKEN", "unit-test-token")


def _spans(*ranges: tuple[int, int], table: str = "holding", unit: int = 1) -> list[Span]:
    return [Span(i, "value", unit, table, a, n) for i, (a, n) in enumerate(ranges)]  # type: ignore[arg-type]


def _ranges(blocks) -> list[tuple[int, int]]:
    return [(b.address, b.count) for b in blocks]


# --------------------------------------------------------------------------- coalescing


def test_adjacent_and_near_ranges_merge_far_ones_do_not() -> None:
    spans = _spans((0, 2), (2, 2), (4, 1), (10, 2), (30, 1))
    assert _ranges(plan_reads(spans, max_gap=0)) == [(0, 5), (10, 2), (30, 1)]
    assert _ranges(plan_reads(spans, max_gap=5)) == [(0, 12), (30, 1)]
    assert _ranges(plan_reads(spans, max_gap=18)) == [(0, 31)]
    assert _ranges(plan_reads(spans, max_gap=-1)) == [(0, 2), (2, 2), (4, 1), (10, 2), (30, 1)]


def test_reads_never_exceed_the_protocol_maximum() -> None:
    spans = _spans(*[(2 * i, 2) for i in range(200)])  # 400 registers, all adjacent
    blocks = plan_reads(spans, max_gap=8)
    assert _ranges(blocks) == [
        (0, 124),
        (124, 124),
        (248, 124),
        (372, 28),
    ]  # float32 never split across reads
    assert sum(len(b.spans) for b in blocks) == 200
    assert all(b.count <= 125 for b in blocks)
    assert _ranges(plan_reads(spans, max_gap=8, max_registers=10)) == [(i, 10) for i in range(0, 400, 10)]
    bits = _spans(*[(i, 1) for i in range(0, 5000, 2)], table="coil")
    assert [b.count for b in plan_reads(bits, max_gap=8)] == [1999, 1999, 999]


def test_tables_and_units_are_read_separately_and_overlaps_share() -> None:
    spans = [
        Span(0, "value", 1, "holding", 0, 2),
        Span(1, "value", 1, "input", 2, 1),
        Span(2, "value", 2, "holding", 2, 1),
        *[Span(3 + i, "value", 1, "holding", 3, 1) for i in range(6)],  # six bits of register 3
        Span(9, "status", 1, "holding", 2, 1),
    ]
    blocks = plan_reads(spans, max_gap=8)
    assert [(b.unit_id, b.table, b.address, b.count, len(b.spans)) for b in blocks] == [
        (1, "holding", 0, 4, 8),
        (1, "input", 2, 1, 1),
        (2, "holding", 2, 1, 1),
    ]


def test_barriers_bisect_a_refused_read() -> None:
    spans = _spans((0, 2), (2, 2), (4, 2), (6, 2))
    assert _ranges(plan_reads(spans, barriers=frozenset({(1, "holding", 4)}))) == [(0, 4), (4, 4)]
    # a barrier at the start of the block itself changes nothing; spans over the same registers stay together
    same = _spans((4, 1), (4, 1), (5, 1))
    assert _ranges(plan_reads(same, barriers=frozenset({(1, "holding", 4)}))) == [(4, 2)]


def test_the_reference_product_polls_with_two_reads() -> None:
    config = load_config(PRODUCT)
    adapter = ModbusAdapter(config.adapter)
    assert _ranges(adapter.plan.blocks) == [(0, 116), (200, 1)]  # values + status words, then the switch word
    assert sum(len(b.spans) for b in adapter.plan.blocks) == 32  # 16 values + 16 statuses
    plan = adapter.plan.bisect(adapter.plan.blocks[0])
    assert _ranges(plan.blocks) == [
        (0, 103),
        (103, 98),
    ]  # cut at the middle start; 103..200 now fits one read


# --------------------------------------------------------------------------- the uplink converter


def _point(code: str, mapping: PointMapping | None, address: int, *, status: int | None = None, table: str = "holding",
           switch: bool = False, rng: tuple[float, float] = (0.0, 4.0), writable: bool = False, **thresholds: float) -> PointConfig:  # fmt: skip
    d = data_pb2.PointDefinition(
        point_code=code,
        sensor_type="A001",
        unit="%CH4",
        location="T1",
        value_kind=common_pb2.VALUE_KIND_SWITCH if switch else common_pb2.VALUE_KIND_ANALOG,
        range_low=rng[0],
        range_high=rng[1],
        **thresholds,
    )
    return PointConfig(d, mapping, RegisterSource(address, table, status_address=status), writable=writable)  # type: ignore[arg-type]


CH4 = "14042100000101MNA001001A02"
TEMP = "14042100000101MNA007001A07"
FEED = "14042100000101KGS004001K03"


def _uplink(interval: int | None = None) -> tuple[ModbusUplink, ReadPlan]:
    points = [
        _point(CH4, PointMapping(name=CH4, data_type="float32", deadband=0.01), 0, status=10,
               alarm_high=1.0, alarm_high_clear=0.9, power_off_high=1.5, power_restore_high=1.0),
        _point(TEMP, PointMapping(name=TEMP, data_type="int16", scale=0.1), 2, status=11, rng=(0, 60)),
        _point(FEED, PointMapping(name=FEED, data_type="bool", bit=2), 3, switch=True, rng=(0, 1)),
    ]  # fmt: skip
    plan = ReadPlan.build(points, max_gap=8)
    return ModbusUplink(plan, report_interval_ms=interval), plan


def _words(ch4: float, temp: float, feed: bool, ch4_status: int = 0, temp_status: int = 0) -> list[int]:
    w = [0] * 12
    w[0:2] = encode(PointMapping(data_type="float32"), ch4)
    w[2:3] = encode(PointMapping(data_type="int16", scale=0.1), temp)
    w[3] = 0b100 if feed else 0
    w[10], w[11] = ch4_status, temp_status
    return w


def test_values_statuses_and_report_on_change() -> None:
    up, plan = _uplink()
    (block,) = plan.blocks
    assert (block.address, block.count) == (0, 12)
    obs = up.convert({block: _words(0.42, 23.5, True)}, 1000)
    assert [(c, round(v, 4), t, s) for c, v, t, s in obs] == [
        (CH4, 0.42, 1000, 0),
        (TEMP, 23.5, 1000, 0),
        (FEED, 1.0, 1000, 0),
    ]
    assert up.convert({block: _words(0.425, 23.5, True)}, 2000) == []  # within the deadband, nothing changed
    obs = up.convert({block: _words(0.425, 23.5, True, temp_status=4)}, 3000)  # calibrating: status changed
    assert [(c, s) for c, _, _, s in obs] == [(TEMP, 4)]
    obs = up.convert({block: _words(0.5, 99.0, False, temp_status=4)}, 4000)
    assert [(c, s) for c, _, _, s in obs] == [(CH4, 0), (TEMP, 4 | 8), (FEED, 0)]  # 99 ℃ is over range: bit 8
    assert up.convert({block: _words(0.5, 99.0, False, temp_status=0x1F0C)}, 5000) == [(TEMP, 99.0, 5000, 12)]
    assert up.warnings and "ST-DATA-020" in up.warnings[0]  # device bits above 255 dropped, with a warning


def test_unchanged_points_are_reported_again_after_the_interval() -> None:
    up, plan = _uplink(interval=30_000)
    (block,) = plan.blocks
    assert len(up.convert({block: _words(0.42, 23.5, True)}, 0)) == 3
    assert up.convert({block: _words(0.42, 23.5, True)}, 29_999) == []
    assert len(up.convert({block: _words(0.42, 23.5, True)}, 30_000)) == 3  # ST-PROTO-025


def test_failures_set_status_bits_and_keep_the_last_value() -> None:
    up, plan = _uplink()
    (block,) = plan.blocks
    up.convert({block: _words(0.42, 23.5, True)}, 1000)
    obs = up.convert({block: Failure("timeout", "no response")}, 2000)
    assert [(c, round(v, 4), s) for c, v, _, s in obs] == [(CH4, 0.42, 16), (TEMP, 23.5, 16), (FEED, 1.0, 16)]
    assert set(up.faults) == {CH4, TEMP, FEED}
    assert up.convert({block: Failure("timeout", "no response")}, 3000) == []  # no change: not repeated
    obs = up.convert({block: Failure(2, "illegal address")}, 4000)
    assert {s for *_, s in obs} == {128}
    obs = up.convert({block: _words(0.43, 23.5, True)}, 5000)
    assert {s for *_, s in obs} == {0} and not up.faults
    # before any good read the value is the low end of the range (it carries no information)
    fresh, _ = _uplink()
    obs = fresh.convert({block: Failure("connection", "refused")}, 1)
    assert [(v, s) for _, v, _, s in obs] == [(0.0, 16), (0.0, 16), (0.0, 16)]


def test_one_non_finite_float_marks_only_its_point() -> None:
    up, plan = _uplink()
    (block,) = plan.blocks
    words = _words(0.42, 23.5, True)
    words[0:2] = [0x7FC0, 0x0000]  # NaN
    obs = up.convert({block: words}, 1000)
    assert [(c, s) for c, _, _, s in obs] == [(CH4, 128), (TEMP, 0), (FEED, 0)]
    assert all(math.isfinite(v) for _, v, _, _ in obs)  # ST-DATA-018


def test_alarm_raise_and_clear_with_the_status_bit() -> None:
    up, plan = _uplink()
    (block,) = plan.blocks
    seq = [0.5, 1.0, 1.2, 1.6, 1.2, 0.95, 0.89]  # alarm ≥ 1.0, power-off ≥ 1.5, restore < 1.0, clear < 0.9
    statuses, alarms = [], []
    for i, v in enumerate(seq):
        # the device claims "alarm" all along: the tracker's bits replace the device's for managed points
        obs = up.convert({block: _words(v, 23.5, True, ch4_status=1)}, 1000 * (i + 1))
        statuses += [s for c, _, _, s in obs if c == CH4]
        alarms += up.drain_alarms()
    assert statuses == [0, 1, 1, 3, 3, 1, 0]
    kinds = [(a.anomaly_type, a.state) for a in alarms]
    OL, PO = common_pb2.ANOMALY_TYPE_OVER_LIMIT, common_pb2.ANOMALY_TYPE_POWER_OFF
    R, C = common_pb2.ALARM_STATE_RAISED, common_pb2.ALARM_STATE_CLEARED
    assert kinds == [(OL, R), (PO, R), (PO, C), (OL, C)]
    raise_ol, clear_ol = alarms[0], alarms[3]
    assert raise_ol.alarm_id == clear_ol.alarm_id and raise_ol.point_code == CH4
    assert not raise_ol.HasField("end_time") and clear_ol.end_time.seconds == 7
    assert (clear_ol.max_value, clear_ol.min_value) == pytest.approx((1.6, 0.95), abs=1e-6)
    assert clear_ol.avg_value == pytest.approx((1.0 + 1.2 + 1.6 + 1.2 + 0.95) / 5, abs=1e-6)
    assert clear_ol.max_time.seconds == 4 and clear_ol.min_time.seconds == 6


def test_alarm_tracker_low_side_defaults_and_non_finite() -> None:
    o2 = data_pb2.PointDefinition(point_code="O2", value_kind=common_pb2.VALUE_KIND_ANALOG, alarm_low=20.0)
    sw = data_pb2.PointDefinition(point_code="SW", value_kind=common_pb2.VALUE_KIND_SWITCH, alarm_high=0.5)
    t = AlarmTracker([o2, sw])
    assert "SW" not in t and t.managed("O2") == 1 and t.managed("SW") == 0
    assert [t.update("O2", v, i) for i, v in enumerate([20.5, 20.0, float("nan"), 19.0, 20.01])] == [
        0,
        1,
        1,
        1,
        0,
    ]
    got = t.drain()
    assert [a.state for a in got] == [common_pb2.ALARM_STATE_RAISED, common_pb2.ALARM_STATE_CLEARED]
    assert got[1].min_value == 19.0 and t.open_alarms() == []


# --------------------------------------------------------------------------- the downlink converter


def test_downlink_functions_and_refusals() -> None:
    dl = ModbusDownlink(default_unit=3)
    f32 = _point("A", PointMapping(data_type="float32", scale=0.1), 20, writable=True)
    assert dl.convert(f32, 12.5).function == 16 and dl.convert(f32, 12.5).values == tuple(
        encode(f32.mapping, 12.5)
    )
    assert dl.convert(f32, 12.5).unit_id == 3
    u16 = _point("B", PointMapping(data_type="uint16"), 21, writable=True)
    assert dl.convert(u16, 7.0).function == 6 and dl.convert(u16, 7.0).values == (7,)
    coil = _point("C", None, 3202, table="coil", switch=True, writable=True)
    assert (dl.convert(coil, 1).function, dl.convert(coil, 1).address, dl.convert(coil, 1).values) == (
        5,
        3202,
        (1,),
    )
    bit = _point("D", PointMapping(data_type="bool", bit=2), 200, switch=True, writable=True)
    assert ModbusDownlink.needs_current(bit) and dl.convert(bit, 0, current=[0b111111]).values == (0b111011,)
    with pytest.raises(UnsupportedCommand):
        dl.convert(_point("E", PointMapping(data_type="uint16"), 1), 1)  # not writable
    with pytest.raises(UnsupportedCommand):
        dl.convert(_point("F", PointMapping(data_type="uint16"), 1, table="input", writable=True), 1)
    with pytest.raises(MappingError):
        dl.convert(u16, 70_000)  # does not fit a uint16
    with pytest.raises(MappingError):
        dl.convert(bit, 2)


# --------------------------------------------------------------------------- configuration


def _config_text(point: str, settings: str = "{port: 5020}") -> str:
    text = PRODUCT.read_text(encoding="utf-8")
    head = text[: text.index("adapter:")]
    return (
        head
        + f"adapter:\n  kind: modbus\n  settings: {settings}\n  points:\n"
        + "    - point_code: '14042100000101MNA001001A02'\n      location: T1\n"
        + "".join(f"      {line}\n" for line in point.splitlines())
    )


def test_configuration_errors_name_the_line_and_the_key(tmp_path: Path) -> None:
    f = tmp_path / "bad.yaml"
    f.write_text(
        _config_text("data_type: float32\nsource: {address: 70000}", "{port: 0, max_gap: -3}"),
        encoding="utf-8",
    )
    with pytest.raises(ConfigError) as e:
        load_config(f)
    paths = {p.path: p for p in e.value.problems}
    assert "adapter.points[0].source.address" in paths and "adapter.settings.port" in paths
    assert paths["adapter.points[0].source.address"].line == f.read_text().splitlines().index(
        "      source: {address: 70000}") + 1  # fmt: skip
    f.write_text(_config_text("data_type: float32\nsource: {address: 0, table: coil}"), encoding="utf-8")
    with pytest.raises(AdapterError, match="coil"):
        ModbusAdapter(load_config(f).adapter)  # type: ignore[arg-type]
    f.write_text(_config_text("source: {address: 0}"), encoding="utf-8")
    with pytest.raises(AdapterError, match="data_type"):
        ModbusAdapter(load_config(f).adapter)  # type: ignore[arg-type]


def test_the_product_file_and_its_command_line_overrides() -> None:
    assert "kj-substation" in bundled_products() and PRODUCT.is_file()
    config = load_config(PRODUCT)
    assert not config.warnings and config.adapter is not None and len(config.adapter.points) == 16
    c = override_config(
        config, platform="grpc://127.0.0.1:6001", device_id="KJ-FZ-002", token="t", queue="/tmp/q.db",
        settings={"port": "5020", "period_ms": "100"},
    )  # fmt: skip
    assert (c.platform.transport, c.platform.target, c.platform.bearer_token()) == (
        "grpc",
        "127.0.0.1:6001",
        "t",
    )
    assert c.device.device_id == "KJ-FZ-002" and str(c.queue.path) == "/tmp/q.db"
    assert (c.adapter.settings.port, c.adapter.settings.period_ms) == (5020, 100)  # type: ignore[union-attr]
    assert override_config(config, platform="http://127.0.0.1:8080").platform.url == "http://127.0.0.1:8080"
    for bad in ({"settings": {"port": "x"}}, {"settings": {"nope": "1"}}, {"settings": {"port": "0"}},
                {"platform": "grpc://127.0.0.1"}, {"device_id": ""}):  # fmt: skip
        with pytest.raises(ConfigError):
            override_config(config, **bad)  # type: ignore[arg-type]


def test_float_words_match_struct() -> None:  # the reference map's CDAB / DCBA points decode like the profile
    config = load_config(PRODUCT)
    adapter = ModbusAdapter(config.adapter)  # type: ignore[arg-type]
    words = [0] * 116
    raw = struct.pack(">f", 0.3)
    words[4:6] = [int.from_bytes(raw[2:4], "big"), int.from_bytes(raw[0:2], "big")]  # CDAB
    words[8:10] = [int.from_bytes(raw[3:1:-1], "big"), int.from_bytes(raw[1::-1], "big")]  # DCBA
    block = adapter.plan.blocks[0]
    obs = {c: v for c, v, _, _ in adapter.uplink.convert({block: words, adapter.plan.blocks[1]: [0]}, 1)}
    assert obs["14042100000101MNA001001A03"] == pytest.approx(0.3) and obs[
        "14042100000101MNA005001A06"
    ] == pytest.approx(0.3)
