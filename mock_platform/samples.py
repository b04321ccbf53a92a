"""Valid sample messages for a device, timed around now (for tests, benchmarks and demos).

They follow the bundled reference session (protocols/examples/reference-session.jsonl): mine 140421000001,
outstation F01, methane / CO / on-off points.

Example::

    reg = register_request("KJ70N-0001")
    points = define_points_request()              # aliases 1..4 of the reference session
    batch = observation_batch(1, [1, 2, 3, 4])    # values in range, times near now
"""

from __future__ import annotations

import time
from collections.abc import Sequence

from santong.protocols import set_timestamp_ms
from santong.protocols.v1 import common_pb2, data_pb2, device_access_pb2

__all__ = [
    "AREA",
    "CARD",
    "MINE",
    "OUTSTATION",
    "STATION",
    "alarm_request",
    "define_points_request",
    "methane_points_request",
    "observation_batch",
    "outstation_status_request",
    "personnel_request",
    "positioning_request",
    "register_request",
    "statistics_request",
]

pb = device_access_pb2
MINE = "140421000001"
OUTSTATION = f"{MINE}F01"
AREA = f"{MINE}0003"
STATION = f"{AREA}000012"
CARD = f"{MINE}00125"
CH4 = f"{MINE}01MNA0010A01"


def _now_ms() -> int:
    return int(time.time() * 1000)


def _ts(target: object, ms: int) -> None:
    set_timestamp_ms(target, ms)


def register_request(
    device_id: str, versions: Sequence[str] = ("1.0",), device_time_ms: int | None = None
) -> device_access_pb2.RegisterRequest:
    """A complete Register of a safety-monitoring outstation of the sample mine."""
    req = pb.RegisterRequest(supported_versions=list(versions))
    d = req.device
    d.device_id, d.vendor, d.model = device_id, "示例电子 Example Electronics", "KJ70N-F16"
    d.firmware_version, d.serial_number, d.ma_certificate = "2.3.1", f"SN-{device_id}", "MAH230123"
    d.product_class, d.mine_code = common_pb2.PRODUCT_CLASS_SAFETY_MONITORING, MINE
    req.mine.mine_code, req.mine.name = MINE, "示例煤矿 Example Mine"
    _ts(req.device_time, device_time_ms if device_time_ms is not None else _now_ms())
    return req


def define_points_request() -> device_access_pb2.DefinePointsRequest:
    """The reference session's points: 1, 2 methane (A001, %CH4 0–4), 3 CO (A003, ppm 0–1000), 4 on/off (S001)."""
    req = pb.DefinePointsRequest()
    now = _now_ms()
    for alias, code, sensor, unit, hi in (
        (1, f"{MINE}01MNA0010A01", "A001", "%CH4", 4.0),
        (2, f"{MINE}01MNA0010A02", "A001", "%CH4", 4.0),
        (3, f"{MINE}01MNA0030A03", "A003", "ppm", 1000.0),
    ):
        p = req.points.add(alias=alias, point_code=code, system_code="01", outstation_code=OUTSTATION, sensor_type=sensor,
                           value_kind=common_pb2.VALUE_KIND_ANALOG, unit=unit, range_low=0.0, range_high=hi,
                           location=f"15101 测点 point {alias}")  # fmt: skip
        if sensor == "A001":
            p.alarm_high, p.alarm_high_clear, p.power_off_high, p.power_restore_high = 1.0, 1.0, 1.5, 1.0
        _ts(p.defined_at, now)
    p = req.points.add(alias=4, point_code=f"{MINE}01KGS0010K01", system_code="01", outstation_code=OUTSTATION, sensor_type="S001",
                       value_kind=common_pb2.VALUE_KIND_SWITCH, unit="", range_low=0.0, range_high=1.0,
                       on_description="开", off_description="停", location="15101 采煤机")  # fmt: skip
    _ts(p.defined_at, now)
    req.outstations.add(outstation_code=OUTSTATION, location="15101 回风巷分站", x=1240, y=860, z=-409)
    return req


def methane_points_request(n: int) -> device_access_pb2.DefinePointsRequest:
    """n methane points (aliases 1..n), for large batches."""
    req = pb.DefinePointsRequest()
    for i in range(1, n + 1):
        req.points.add(alias=i, point_code=f"{MINE}01MNA001{i:04d}", system_code="01", outstation_code=OUTSTATION,
                       sensor_type="A001", value_kind=common_pb2.VALUE_KIND_ANALOG, unit="%CH4", range_low=0.0,
                       range_high=4.0, location=f"point {i}")  # fmt: skip
    req.outstations.add(outstation_code=OUTSTATION, location="15101 回风巷分站")
    return req


def observation_batch(
    sequence: int,
    aliases: Sequence[int],
    values: Sequence[float] | None = None,
    *,
    base_ms: int | None = None,
    offsets: Sequence[int] | None = None,
    status: Sequence[int] | None = None,
    backfill: bool = False,
    switch_aliases: Sequence[int] = (4,),
) -> data_pb2.ObservationBatch:
    """A batch with one observation per alias (values default to 0.5, or 1 for switch aliases)."""
    b = data_pb2.ObservationBatch(sequence=sequence, backfill=backfill)
    _ts(b.base_time, base_ms if base_ms is not None else _now_ms() - 1000)
    b.alias.extend(aliases)
    b.value.extend(values if values is not None else [1.0 if a in switch_aliases else 0.5 for a in aliases])
    b.time_offset_ms.extend(offsets if offsets is not None else [0] * len(aliases))
    b.status.extend(status if status is not None else [0] * len(aliases))
    return b


def alarm_request(
    sequence: int, alarm_id: str = "A-1", *, clear: bool = False, start_ms: int | None = None
) -> device_access_pb2.ReportAlarmsRequest:
    """A methane over-limit alarm on point 1, raised (or cleared)."""
    start = start_ms if start_ms is not None else _now_ms() - 2000
    req = pb.ReportAlarmsRequest(sequence=sequence)
    a = req.alarms.add(alarm_id=alarm_id, point_code=CH4, sensor_type="A001", location="15101 测点 point 1", unit="%CH4",
                       anomaly_type=common_pb2.ANOMALY_TYPE_OVER_LIMIT, max_value=1.2, min_value=1.1, avg_value=1.15)  # fmt: skip
    a.state = common_pb2.ALARM_STATE_CLEARED if clear else common_pb2.ALARM_STATE_RAISED
    _ts(a.start_time, start)
    _ts(a.max_time, start)
    _ts(a.min_time, start)
    if clear:
        _ts(a.end_time, start + 1000)
    return req


def outstation_status_request(sequence: int) -> device_access_pb2.ReportOutstationStatusRequest:
    """The sample outstation running on AC power."""
    req = pb.ReportOutstationStatusRequest(sequence=sequence)
    s = req.statuses.add(
        outstation_code=OUTSTATION, run_state=common_pb2.RUN_STATE_OK, power_state=common_pb2.POWER_STATE_AC
    )
    _ts(s.time, _now_ms() - 1000)
    return req


def statistics_request(sequence: int) -> device_access_pb2.ReportStatisticsRequest:
    """Five minutes of statistics of point 1."""
    end = _now_ms() - 1000
    req = pb.ReportStatisticsRequest(sequence=sequence)
    s = req.statistics.add(point_code=CH4, sensor_type="A001", location="15101 测点 point 1", unit="%CH4",
                           max_value=0.6, min_value=0.3, avg_value=0.4)  # fmt: skip
    _ts(s.start_time, end - 300_000)
    _ts(s.end_time, end)
    _ts(s.max_time, end - 1000)
    _ts(s.min_time, end - 2000)
    return req


def positioning_request() -> device_access_pb2.DefinePositioningRequest:
    """One area and one base station."""
    req = pb.DefinePositioningRequest()
    req.areas.add(area_code=AREA, name="15101 工作面", area_type="重点区域", capacity=30)
    req.stations.add(station_code=STATION, area_code=AREA, location="15101 运输巷")
    return req


def personnel_request(sequence: int) -> device_access_pb2.ReportPersonnelRequest:
    """One person underground near the sample station, and the station's state."""
    now = _now_ms() - 1000
    req = pb.ReportPersonnelRequest(sequence=sequence)
    r = req.records.add(card_code=CARD, name="张三", direction=common_pb2.MINE_DIRECTION_IN, area_code=AREA,
                        station_code=STATION, work_state="正常")  # fmt: skip
    for name in ("entered_mine_at", "entered_area_at", "entered_station_at", "time"):
        _ts(getattr(r, name), now - 60_000 if name != "time" else now)
    s = req.stations.add(
        station_code=STATION, run_state=common_pb2.RUN_STATE_OK, power_state=common_pb2.POWER_STATE_AC
    )
    _ts(s.time, now)
    return req
