"""The mtfile adapter's parts without a platform: converter units and findings, and a plain UplinkSink."""

from __future__ import annotations

import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from santong.adapters import AdapterConfig
from santong.adapters.mtfile import (
    MtFileAdapter,
    MtFileConverter,
    MtFileSettings,
    TransactionalSink,
    format_time,
    parse_bytes,
    write_file,
)
from santong.adapters.simulators.mtfile import MtFileSimulator
from santong.protocols import DeviceState
from santong.protocols.v1 import common_pb2, data_pb2
from st_waiting import wait_for

MINE = "140421000001"
CH4 = f"{MINE}01MNA0010A01"
SW = f"{MINE}01KGS0010K01"


def state() -> DeviceState:
    s = DeviceState(mine_code=MINE)
    s.define_points([
        data_pb2.PointDefinition(alias=1, point_code=CH4, value_kind=common_pb2.VALUE_KIND_ANALOG, range_low=0, range_high=4),
        data_pb2.PointDefinition(alias=2, point_code=SW, value_kind=common_pb2.VALUE_KIND_SWITCH, range_low=0, range_high=1),
    ])  # fmt: skip
    return s


def cdss(rows: list[tuple[str, str, str]], at: datetime) -> tuple[str, bytes]:
    t = format_time(at)
    records = [[code, "A001", "工作面", value, "%CH4", status, t] for code, value, status in rows]
    return write_file(MINE, "示例煤矿", "CDSS", records, at)


def test_cdss_becomes_batches_straight_from_the_columns() -> None:
    now = datetime.now(UTC).replace(microsecond=0)
    rows = [(CH4, f"{i / 10:.1f}", "0") for i in range(25)] + [(SW, "1", "0")]
    name, data = cdss(rows, now)
    unit = MtFileConverter(max_batch_points=10).unit(parse_bytes(name, data), state(), name=name)
    assert [len(u.request.batch.alias) for u in unit.uploads] == [10, 10, 6]
    assert [list(u.records)[:1] for u in unit.uploads] == [[1], [11], [21]]
    last = unit.uploads[-1].request.batch
    assert list(last.alias) == [1] * 5 + [2] and list(last.value) == [2.0, 2.1, 2.2, 2.3, 2.4, 1.0]
    assert last.base_time.ToDatetime(tzinfo=UTC) == now and set(last.time_offset_ms) == {0}
    # status bits as the KJ system wrote them; a value beyond the range without bit 8 is a SHOULD finding
    name, data = cdss([(CH4, "4.5", "1"), (CH4, "3.9", "1")], now)
    conv = MtFileConverter()
    unit = conv.unit(parse_bytes(name, data), state(), name=name)
    assert list(unit.uploads[0].request.batch.status) == [1, 1]
    (f,) = conv.check(unit, state())
    assert (f.clause_id, f.level, f.record, f.field_zh) == ("ST-DATA-021", "SHOULD", 1, "测点值")
    assert MtFileConverter().convert(parse_bytes(name, data), 0) == [
        (CH4, 4.5, int(now.timestamp() * 1000), 1),
        (CH4, 3.9, int(now.timestamp() * 1000), 1),
    ]


def test_findings_name_the_record_and_the_field() -> None:
    now = datetime.now(UTC).replace(microsecond=0)
    name, data = cdss([(CH4, "0.5", "0")] * 12 + [(SW, "2", "0")], now)  # a switch reading 2 (ST-DATA-019)
    conv = MtFileConverter(max_batch_points=5)
    unit = conv.unit(parse_bytes(name, data), state(), name=name)
    (f,) = [f for f in conv.check(unit, state()) if f.is_must]
    assert (f.clause_id, f.record, f.field_zh, f.field_en) == ("ST-DATA-019", 13, "测点值", "value")
    assert f.where_en() == "record 13, field 测点值 (value)" and f.where_zh() == "第 13 条记录，字段“测点值”"
    # undefined points: ST-IFACE-004, first record of each unknown code
    name, data = cdss([(CH4, "0.5", "0"), (f"{MINE}01MNA0010A77", "0.1", "0")], now)
    unit = conv.unit(parse_bytes(name, data), state(), name=name)
    assert unit.uploads == [] and [(f.clause_id, f.record) for f in unit.problems] == [("ST-IFACE-004", 2)]
    # another mine's file
    other = DeviceState(mine_code="140421000002")
    unit = conv.unit(parse_bytes(name, data), other, name=name)
    assert [f.clause_id for f in conv.check(unit, other)] == ["ST-DATA-003"]


def test_a_clear_without_its_raise_becomes_raise_then_clear() -> None:
    start = datetime.now(UTC).replace(microsecond=0) - timedelta(minutes=5)
    end = start + timedelta(minutes=2)
    t = format_time(end)
    row = [CH4, "A001", "工作面", "%CH4", "001", format_time(start), t, "1.2", t, "1.0", t, "1.1", "超限", "", t, "KJ", t]  # fmt: skip
    name, data = write_file(MINE, "示例煤矿", "YCBJ", [row], end)
    conv = MtFileConverter()
    unit = conv.unit(parse_bytes(name, data), state(), name=name)
    alarms = unit.uploads[0].request.alarms
    assert [a.state for a in alarms] == [common_pb2.ALARM_STATE_RAISED, common_pb2.ALARM_STATE_CLEARED]
    assert (
        alarms[0].alarm_id
        == alarms[1].alarm_id
        == f"{CH4}@{format_time(start).replace('-', '').replace(' ', '').replace(':', '')}#001"
    )
    assert not alarms[0].HasField("end_time") and list(unit.uploads[0].records) == [1, 1]
    assert [f for f in conv.check(unit, state()) if f.is_must] == []


class PlainSink:
    """An UplinkSink without submit: the adapter pushes through the ordinary methods (at least once)."""

    def __init__(self) -> None:
        self.calls: list[tuple[str, Any]] = []

    def now_ms(self) -> int:
        return int(time.time() * 1000)

    async def define(self, points: Any, outstations: Any = ()) -> None:
        self.calls.append(
            ("define", ([p.point_code for p in points], [o.outstation_code for o in outstations]))
        )

    async def define_positioning(self, areas: Any, stations: Any) -> None:
        self.calls.append(("define_positioning", (list(areas), list(stations))))

    async def observations(self, items: Any) -> None:
        self.calls.append(("observations", list(items)))

    async def alarms(self, alarms: Any) -> None:
        self.calls.append(("alarms", list(alarms)))

    async def outstation_statuses(self, statuses: Any) -> None:
        self.calls.append(("outstation_statuses", list(statuses)))

    async def statistics(self, statistics: Any) -> None:
        self.calls.append(("statistics", list(statistics)))

    async def personnel(self, records: Any, stations: Any = ()) -> None:
        self.calls.append(("personnel", (list(records), list(stations))))

    async def flush(self) -> None:
        self.calls.append(("flush", None))


def adapter(folder: Path) -> MtFileAdapter:
    settings = MtFileSettings(folder=folder, poll_interval_ms=3_600_000, stable_s=0)
    return MtFileAdapter(AdapterConfig(kind="mtfile", settings=settings))


async def test_plain_sink_and_definitions_persisted(tmp_path: Path) -> None:
    folder = tmp_path / "drop"
    sim = MtFileSimulator(folder, seed=23)
    sink = PlainSink()
    assert not isinstance(sink, TransactionalSink)
    a = adapter(folder)
    await a.start(sink)
    # The loop's first (empty) scan, finished: scan_once below must not run beside it (stats.scans counts
    # scans as they start).
    await wait_for(lambda: a._scan is not None and a._scan.done(), what="the first (empty) scan finished")
    sim.step()
    report = await a.scan_once()
    await a.stop()
    assert len(report.imported) == 4 and not report.quarantined
    kinds = [k for k, _ in sink.calls]
    assert kinds == ["define", "define", "observations", "flush", "outstation_statuses", "flush"]
    codes = [p.point_code for p in sim.profile.points]
    assert sink.calls[0][1][0] == codes
    obs = sink.calls[2][1]
    assert [o[0] for o in obs] == codes and all(isinstance(o[2], int) for o in obs)
    # a new instance knows what the files defined (state file), aliases left to the client
    again = adapter(folder)
    points, outstations = again.definitions()
    assert [p.point_code for p in points] == codes and {p.alias for p in points} == {0}
    assert [o.outstation_code for o in outstations] == [code for code, _, _ in sim.stations]
