"""MT/T 1201 text-file parser: sample files of every type, bad vectors per clause, round trips, fuzzing."""

from __future__ import annotations

import contextlib
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from santong.adapters.mtfile import (
    INCOMPLETE_CLAUSE,
    SUPPORTED_TYPES,
    MtFileError,
    Observation,
    format_time,
    parse_bytes,
    parse_file_name,
    parse_path,
    to_batch,
    write_file,
)
from santong.protocols.v1 import common_pb2, data_pb2

MTFILES = Path(__file__).parent / "mtfiles"
GOOD = MTFILES / "good"
BAD = MTFILES / "bad"
MINE = "140421000001"
CDSS_NAME = f"{MINE}_CDSS_20250115103000.txt"
HEADER = f"{MINE};示范煤矿;2025-01-15 10:30:00~\r\n"
ROW = "14042100000101MN00010A01;0001;8101综采工作面T1;0.52;%CH4;0;2025-01-15 10:30:00~\r\n"


def utc(*args: int) -> datetime:
    return datetime(*args, tzinfo=UTC)


def good(name: str):
    return parse_path(GOOD / name)


def cdss(*rows: str, header: str = HEADER, end: str = "||") -> bytes:
    return (header + "".join(rows) + end).encode("utf-8")


def error_of(name: str, data: bytes) -> MtFileError:
    with pytest.raises(MtFileError) as info:
        parse_bytes(name, data)
    return info.value


# ---------------------------------------------------------------------------------------------------------
# File names and times


def test_file_name_parts_and_utc_time():
    fn = parse_file_name("140421000001_CDSS_20250115103000.txt")
    assert (fn.mine_code, fn.file_type) == ("140421000001", "CDSS")
    assert fn.generated_at == utc(2025, 1, 15, 2, 30)


@pytest.mark.parametrize(
    ("name", "clause"),
    [
        ("14042100000_CDSS_20250115103000.txt", "ST-DATA-040"),  # 11 digits
        ("140421000001_CDSS_2025011510300.txt", "ST-DATA-040"),  # 13-digit time
        ("140421000001_CDSS_20250115103000.csv", "ST-DATA-040"),
        ("140421000001_CDSS_20250115103000.txt.tmp", "ST-DATA-040"),
        ("140421000001_CDSS_20250230103000.txt", "ST-DATA-040"),  # 30 February
        ("dir/140421000001_CDSS_20250115103000.txt", "ST-DATA-040"),
        ("", "ST-DATA-040"),
        ("140421000001_QQQQ_20250115103000.txt", "ST-DATA-046"),
        ("140421000001_cdss_20250115103000.txt", "ST-DATA-046"),
        ("140421000001_CDSS_20250115103000.TXT", "ST-DATA-040"),
        ("140421000001_RYCS_20250115103000.txt", "ST-DATA-046"),
    ],
)
def test_bad_file_names(name, clause):
    with pytest.raises(MtFileError) as info:
        parse_file_name(name)
    assert info.value.clause_id == clause
    assert info.value.file_name == name
    assert info.value.record_index is None


def test_format_time_is_china_local_time():
    assert format_time(utc(2025, 1, 15, 2, 30)) == "2025-01-15 10:30:00"
    assert format_time(utc(2024, 12, 31, 21, 0, 0, 999_999)) == "2025-01-01 05:00:00"
    with pytest.raises(ValueError):
        format_time(datetime(2025, 1, 15, 2, 30))


def test_local_time_before_8_is_previous_utc_day():
    parsed = parse_bytes(CDSS_NAME, cdss(ROW.replace("2025-01-15 10:30:00", "2025-01-01 05:00:00")))
    assert parsed.observations[0].time == utc(2024, 12, 31, 21)


def test_supported_types_field_counts():
    counts = {code: t.field_count for code, t in SUPPORTED_TYPES.items()}
    assert counts == {
        "CDDY": 24,
        "CDSS": 7,
        "TJSJ": 12,
        "YCBJ": 17,
        "FZDY": 5,
        "FZSS": 4,
        "RYSS": 15,
        "RYQY": 5,
        "RYJZ": 7,
        "JZSS": 4,
    }
    for t in SUPPORTED_TYPES.values():
        assert len(t.fields) == len(t.fields_en) == len(set(t.fields))
    assert SUPPORTED_TYPES["CDSS"].fields[3] == "测点值"
    assert SUPPORTED_TYPES["RYQY"].fields == ("区域编码", "区域名称", "区域类型", "核定人数", "数据时间")


def test_every_type_has_a_sample_file():
    assert {parse_file_name(p.name).file_type for p in GOOD.iterdir()} == set(SUPPORTED_TYPES)


# ---------------------------------------------------------------------------------------------------------
# Good files, one per type


def test_cdss_utf8_crlf():
    parsed = good("140421000001_CDSS_20250115103000.txt")
    assert parsed.encoding == "utf-8"
    assert parsed.file_type == "CDSS"
    assert parsed.header.mine_code == MINE
    assert parsed.header.mine_name == "示范煤矿"
    assert parsed.header.uploaded_at == utc(2025, 1, 15, 2, 30)
    assert parsed.file_name.generated_at == utc(2025, 1, 15, 2, 30)
    obs = parsed.observations
    assert parsed.records is obs
    assert len(obs) == 7
    assert obs[0] == Observation(
        "14042100000101MN00010A01", "0001", "8101综采工作面T1", 0.52, "%CH4", 0, utc(2025, 1, 15, 2, 30)
    )
    assert obs[1].value == 1.12 and obs[1].status == 1 and obs[1].time == utc(2025, 1, 15, 2, 29, 58)
    assert obs[5].unit == "" and obs[5].value == 0.0
    assert obs[6].value == -0.01 and obs[6].status == 128
    assert parsed.definitions == [] and parsed.alarms == []


def test_cdss_gbk_without_line_breaks():
    parsed = good("140421000001_CDSS_20250115103010.txt")
    assert parsed.encoding == "gbk"
    assert [o.location for o in parsed.observations] == [
        "8101综采工作面T1",
        "8101回风巷T2",
        "8101综采工作面温度",
    ]
    assert parsed.observations[2].unit == "℃"
    assert parsed.observations[1].status == 3
    assert parsed.observations[1].time == utc(2025, 1, 15, 2, 30, 8)


def test_cddy_definitions():
    defs = good("140421000001_CDDY_20250115080000.txt").definitions
    assert len(defs) == 5
    ch4 = defs[0]
    assert ch4.point_code == "14042100000101MN00010A01"
    assert (ch4.system_code, ch4.outstation_code, ch4.sensor_type) == ("01", "1404210000010A", "0001")
    assert ch4.value_kind == common_pb2.VALUE_KIND_ANALOG
    assert (ch4.range_high, ch4.range_low, ch4.alarm_high, ch4.alarm_high_clear) == (4, 0, 1.0, 0.9)
    assert (ch4.power_off_high, ch4.power_restore_high) == (1.5, 1.0)
    assert not ch4.HasField("alarm_low") and not ch4.HasField("power_off_low")
    assert (ch4.x, ch4.y, ch4.z) == (1203.5, 845.2, -320.4)
    assert list(ch4.related_point_codes) == ["14042100000101KG00040C01", "14042100000101KG00040C02"]
    assert ch4.defined_at.ToDatetime(tzinfo=UTC) == utc(2025, 1, 15, 0, 0)
    assert list(defs[1].related_point_codes) == ["14042100000101KG00040C03", "14042100000101KG00040C04"]
    o2 = defs[2]
    assert (o2.alarm_low, o2.alarm_low_clear) == (18.5, 19.0)
    assert not o2.HasField("alarm_high")
    assert (o2.x, o2.y, o2.z) == (0, 0, 0) and list(o2.related_point_codes) == []
    smoke = defs[3]
    assert smoke.value_kind == common_pb2.VALUE_KIND_SWITCH
    assert (smoke.on_description, smoke.off_description) == ("有烟雾", "无烟雾")
    assert (smoke.range_high, smoke.unit) == (1, "")  # a switch with no range is 0–1 (ST-DATA-013)
    assert defs[4].value_kind == common_pb2.VALUE_KIND_ACCUMULATOR and defs[4].unit == "m³"


def test_tjsj_statistics():
    stats = good("140421000001_TJSJ_20250115103000.txt").statistics
    assert len(stats) == 3
    s = stats[0]
    assert isinstance(s, data_pb2.Statistics)
    assert (s.point_code, s.unit, s.max_value, s.min_value, s.avg_value) == (
        "14042100000101MN00010A01",
        "%CH4",
        0.61,
        0.38,
        0.49,
    )
    assert s.start_time.ToDatetime(tzinfo=UTC) == utc(2025, 1, 15, 2, 0)
    assert s.end_time.ToDatetime(tzinfo=UTC) == utc(2025, 1, 15, 2, 30)
    assert s.max_time.ToDatetime(tzinfo=UTC) == utc(2025, 1, 15, 2, 12, 30)


def test_ycbj_alarms():
    alarms = good("140421000001_YCBJ_20250115103000.txt").alarms
    assert len(alarms) == 4
    raised, cleared, calibration, low = alarms
    assert raised.alarm_id == "14042100000101MN00010A02@20250115102940"
    assert raised.anomaly_type == common_pb2.ANOMALY_TYPE_OVER_LIMIT
    assert raised.state == common_pb2.ALARM_STATE_RAISED
    assert not raised.HasField("end_time") and not raised.HasField("recorded_at")
    assert raised.start_time.ToDatetime(tzinfo=UTC) == utc(2025, 1, 15, 2, 29, 40)
    assert raised.max_value == 1.12
    assert cleared.state == common_pb2.ALARM_STATE_CLEARED
    assert cleared.end_time.ToDatetime(tzinfo=UTC) == utc(2025, 1, 15, 1, 25, 30)
    assert (cleared.reason, cleared.measures, cleared.recorded_by) == (
        "放炮后CO升高",
        "加强通风，暂停作业",
        "张伟",
    )
    assert cleared.recorded_at.ToDatetime(tzinfo=UTC) == utc(2025, 1, 15, 1, 40)
    assert calibration.anomaly_type == common_pb2.ANOMALY_TYPE_CALIBRATION
    assert low.anomaly_type == common_pb2.ANOMALY_TYPE_LOW_WARNING == 10


def test_fzdy_outstations():
    out = good("140421000001_FZDY_20250115080000.txt").outstations
    assert [o.outstation_code for o in out] == ["1404210000010A", "1404210000010B", "1404210000010C"]
    assert (out[0].location, out[0].x, out[0].y, out[0].z) == ("8101综采工作面配电点", 1210.0, 850.5, -321.2)
    assert (out[2].x, out[2].y, out[2].z) == (0, 0, 0)


def test_fzss_utf8_bom_and_lf():
    parsed = good("140421000001_FZSS_20250115103000.txt")
    assert parsed.encoding == "utf-8"
    assert parsed.header.mine_code == MINE  # the BOM is not part of the mine code
    states = [(s.run_state, s.power_state) for s in parsed.outstation_statuses]
    assert states == [
        (common_pb2.RUN_STATE_OK, common_pb2.POWER_STATE_AC),
        (common_pb2.RUN_STATE_INTERRUPTED, common_pb2.POWER_STATE_DC),
        (common_pb2.RUN_STATE_FAULT, common_pb2.POWER_STATE_FAULT),
        (common_pb2.RUN_STATE_UNKNOWN, common_pb2.POWER_STATE_AC),
    ]
    assert parsed.outstation_statuses[1].time.ToDatetime(tzinfo=UTC) == utc(2025, 1, 15, 2, 29, 30)


def test_ryss_gbk_personnel():
    parsed = good("140421000001_RYSS_20250115103000.txt")
    assert parsed.encoding == "gbk"
    wang, li, zhao = parsed.personnel
    assert (wang.card_code, wang.name, wang.direction) == (
        "14042100000100012",
        "王强",
        common_pb2.MINE_DIRECTION_IN,
    )
    assert wang.entered_mine_at.ToDatetime(tzinfo=UTC) == utc(2025, 1, 14, 23, 45, 10)
    assert not wang.HasField("exited_mine_at")
    assert (wang.area_code, wang.station_code) == ("1404210000010003", "1404210000010003000012")
    assert (wang.work_organization, wang.distance_m, wang.work_state) == ("早班", -12.5, "正常")
    assert [(t.station_code, t.time.ToDatetime(tzinfo=UTC)) for t in wang.track] == [
        ("1404210000010001000001", utc(2025, 1, 14, 23, 45, 10)),
        ("1404210000010002000005", utc(2025, 1, 15, 0, 30)),
        ("1404210000010003000012", utc(2025, 1, 15, 2, 20, 5)),
    ]
    assert wang.time.ToDatetime(tzinfo=UTC) == utc(2025, 1, 15, 2, 30)  # the header's upload time
    assert li.direction == common_pb2.MINE_DIRECTION_OUT
    assert li.exited_mine_at.ToDatetime(tzinfo=UTC) == utc(2025, 1, 15, 0, 5, 33)
    assert len(li.track) == 2  # joined by '#'
    assert list(zhao.track) == [] and zhao.distance_m == 0


def test_ryqy_areas():
    areas = good("140421000001_RYQY_20250115080000.txt").areas
    assert [(a.area_code, a.area_type, a.capacity) for a in areas] == [
        ("1404210000010001", "一般区域", 0),
        ("1404210000010002", "一般区域", 0),
        ("1404210000010003", "重点区域", 45),
        ("1404210000010004", "限制区域", 0),
    ]
    assert areas[2].name == "8101综采工作面"


def test_ryjz_stations():
    stations = good("140421000001_RYJZ_20250115080000.txt").stations
    assert len(stations) == 3
    s = stations[1]
    assert (s.station_code, s.area_code, s.location) == (
        "1404210000010002000005",
        "1404210000010002",
        "主要进风大巷500米",
    )
    assert (s.x, s.y, s.z) == (1100.5, 810.2, -280.0)


def test_jzss_station_statuses():
    statuses = good("140421000001_JZSS_20250115103000.txt").station_statuses
    assert [(s.station_code[-6:], s.run_state, s.power_state) for s in statuses] == [
        ("000001", common_pb2.RUN_STATE_OK, common_pb2.POWER_STATE_AC),
        ("000005", common_pb2.RUN_STATE_OK, common_pb2.POWER_STATE_DC),
        ("000012", common_pb2.RUN_STATE_INTERRUPTED, common_pb2.POWER_STATE_FAULT),
    ]
    assert statuses[2].time.ToDatetime(tzinfo=UTC) == utc(2025, 1, 15, 2, 29)


# ---------------------------------------------------------------------------------------------------------
# Grammar details


def test_header_only_file_has_no_records():
    parsed = parse_bytes(CDSS_NAME, cdss())
    assert parsed.observations == [] and parsed.header.mine_name == "示范煤矿"


def test_line_breaks_between_records_carry_no_meaning():
    regular = parse_bytes(CDSS_NAME, cdss(ROW, ROW.replace("0.52", "0.6")))
    odd = "\r\n\r\n" + HEADER.replace("~\r\n", "\n~\n\n") + ROW.replace("~\r\n", "~") + "\n\r\n"
    odd += ROW.replace("0.52", "0.6").replace("~\r\n", "\r~\r\n")
    irregular = parse_bytes(CDSS_NAME, (odd + "||\r\n \t\n").encode())
    assert irregular.observations == regular.observations
    assert irregular.header == regular.header


def test_line_break_inside_a_field_is_kept():
    parsed = parse_bytes(CDSS_NAME, cdss(ROW.replace("8101综采工作面T1", "8101\r\n工作面")))
    assert parsed.observations[0].location == "8101\r\n工作面"


@pytest.mark.parametrize(
    ("text", "value"), [("0.52", 0.52), ("-12.5", -12.5), ("7", 7.0), ("-.5", -0.5), ("3.", 3.0)]
)
def test_plain_decimal_numbers(text, value):
    parsed = parse_bytes(CDSS_NAME, cdss(ROW.replace(";0.52;", f";{text};")))
    assert parsed.observations[0].value == value


def test_status_with_leading_zeros_is_accepted():
    parsed = parse_bytes(CDSS_NAME, cdss(ROW.replace(";0;2025", ";001;2025")))
    assert parsed.observations[0].status == 1


def test_repeated_times_share_one_conversion():
    parsed = parse_bytes(CDSS_NAME, cdss(ROW, ROW, ROW))
    assert parsed.observations[0].time is parsed.observations[2].time


# ---------------------------------------------------------------------------------------------------------
# Bad inputs


BAD_VECTORS = {
    "040-bad-name": ("ST-DATA-040", None, None),
    "040-bad-time-in-name": ("ST-DATA-040", None, None),
    "041-empty": ("ST-DATA-041", None, None),
    "041-missing-end": ("ST-DATA-041", None, None),
    "041-truncated": ("ST-DATA-041", None, None),
    "042-bad-header": ("ST-DATA-042", 0, None),
    "042-field-too-few": ("ST-DATA-042", 2, "数据时间"),
    "042-missing-tilde": ("ST-DATA-042", 2, None),
    "042-no-header": ("ST-DATA-042", 0, None),
    "043-undecodable": ("ST-DATA-043", None, None),
    "044-bad-header-time": ("ST-DATA-044", 0, "数据上传时间"),
    "044-bad-time": ("ST-DATA-044", 2, "数据时间"),
    "045-anomaly-011": ("ST-DATA-045", 2, "异常类型"),
    "045-not-a-number": ("ST-DATA-045", 2, "测点值"),
    "045-run-state-5": ("ST-DATA-045", 1, "运行状态"),
    "045-status-abc": ("ST-DATA-045", 2, "测点状态"),
    "046-unknown-type": ("ST-DATA-046", None, None),
    "047-mine-mismatch": ("ST-DATA-047", 0, "煤矿编码"),
}


def test_every_bad_vector_has_an_expectation():
    assert {p.name for p in BAD.iterdir()} == set(BAD_VECTORS)


@pytest.mark.parametrize("case", sorted(BAD_VECTORS))
def test_bad_vectors(case):
    (path,) = (BAD / case).iterdir()
    clause, record_index, field = BAD_VECTORS[case]
    with pytest.raises(MtFileError) as info:
        parse_path(path)
    e = info.value
    assert (e.clause_id, e.record_index, e.field) == (clause, record_index, field)
    assert e.file_name == path.name
    assert isinstance(e, ValueError)
    message = str(e)
    assert message.startswith(f"[{clause}]") and path.name in message
    assert " / file " in message  # Chinese, then English
    if field is not None:
        assert f"“{field}”" in message


def test_missing_end_says_it_will_be_retried():
    e = error_of(CDSS_NAME, cdss(ROW, end=""))
    assert e.clause_id == INCOMPLETE_CLAUSE == "ST-DATA-041"
    assert "重试" in str(e) and "retried" in str(e)


@pytest.mark.parametrize(
    ("row", "clause", "field"),
    [
        (ROW.replace(";0.52;", ";abc;"), "ST-DATA-045", "测点值"),
        (ROW.replace(";0.52;", ";;"), "ST-DATA-045", "测点值"),
        (ROW.replace(";0.52;", "; 0.52;"), "ST-DATA-045", "测点值"),
        (ROW.replace(";0.52;", ";nan;"), "ST-DATA-045", "测点值"),
        (ROW.replace(";0.52;", ";inf;"), "ST-DATA-045", "测点值"),
        (ROW.replace(";0.52;", ";1e999;"), "ST-DATA-045", "测点值"),
        (ROW.replace(";0.52;", ";5.2e-1;"), "ST-DATA-045", "测点值"),  # no exponents
        (ROW.replace(";0.52;", ";+0.52;"), "ST-DATA-045", "测点值"),
        (ROW.replace(";0.52;", ";1,000.5;"), "ST-DATA-045", "测点值"),
        (ROW.replace(";0.52;", ";0.52%;"), "ST-DATA-045", "测点值"),
        (ROW.replace(";0.52;", ";-;"), "ST-DATA-045", "测点值"),
        (ROW.replace(";0.52;", ";" + "9" * 400 + ";"), "ST-DATA-045", "测点值"),
        (ROW.replace(";0.52;", ";1_0;"), "ST-DATA-045", "测点值"),
        (ROW.replace(";0.52;", ";０.５;"), "ST-DATA-045", "测点值"),  # full-width digits
        (ROW.replace(";0;2025", ";abc;2025"), "ST-DATA-045", "测点状态"),
        (ROW.replace(";0;2025", ";256;2025"), "ST-DATA-045", "测点状态"),
        (ROW.replace(";0;2025", ";-1;2025"), "ST-DATA-045", "测点状态"),
        (ROW.replace(";0;2025", ";1.0;2025"), "ST-DATA-045", "测点状态"),
        (ROW.replace(";0;2025", ";;2025"), "ST-DATA-045", "测点状态"),
        (ROW.replace("14042100000101MN00010A01", ""), "ST-DATA-045", "测点编码"),
        (ROW.replace("2025-01-15 10:30:00", "2025/01/15 10:30"), "ST-DATA-044", "数据时间"),
        (ROW.replace("2025-01-15 10:30:00", "2025-01-15 10:30"), "ST-DATA-044", "数据时间"),
        (ROW.replace("2025-01-15 10:30:00", "2025-02-30 10:30:00"), "ST-DATA-044", "数据时间"),
        (ROW.replace("2025-01-15 10:30:00", "2025-01-15T10:30:00"), "ST-DATA-044", "数据时间"),
        (ROW.replace("2025-01-15 10:30:00", "0001-01-01 00:00:00"), "ST-DATA-044", "数据时间"),
        (ROW.replace(";0;2025", ";0;;2025"), "ST-DATA-042", None),  # one field too many
        (ROW.replace("%CH4;", ""), "ST-DATA-042", "数据时间"),  # one field too few
    ],
)
def test_bad_cdss_records(row, clause, field):
    # The bad record is the second one, so the error must name record 2.
    e = error_of(CDSS_NAME, cdss(ROW, row, ROW))
    assert (e.clause_id, e.record_index, e.field) == (clause, 2, field)


@pytest.mark.parametrize(
    ("name", "data", "clause"),
    [
        (CDSS_NAME, b"", "ST-DATA-041"),
        (CDSS_NAME, b"\xff\xfe\xfa\xfb" * 8 + b"||", "ST-DATA-043"),
        (CDSS_NAME, b"||", "ST-DATA-042"),
        (CDSS_NAME, b"~||", "ST-DATA-042"),
        (CDSS_NAME, cdss(ROW.replace("~\r\n", ";")), "ST-DATA-042"),
        (f"{MINE}_QQQQ_20250115103000.txt", cdss(ROW), "ST-DATA-046"),
        ("140421000001_CDSS.txt", cdss(ROW), "ST-DATA-040"),
        (CDSS_NAME, cdss(ROW, header=HEADER.replace(MINE, "140421000002")), "ST-DATA-047"),
        (CDSS_NAME, cdss(ROW, header=HEADER.replace(MINE, "")), "ST-DATA-047"),
    ],
)
def test_bad_whole_files(name, data, clause):
    assert error_of(name, data).clause_id == clause


@pytest.mark.parametrize(
    ("file_type", "record", "clause", "field"),
    [
        ("CDDY", "P1;01;F1;0001;XX;%;4;0;;;;;;;;;;;loc;;;;;2025-01-15 08:00:00", "ST-DATA-045", "数值类型"),
        ("CDDY", "P1;01;F1;0001;MN;%;;0;;;;;;;;;;;loc;;;;;2025-01-15 08:00:00", "ST-DATA-045", "高量程"),
        (
            "CDDY",
            "P1;01;F1;0001;MN;%;4;0;x;;;;;;;;;;loc;;;;;2025-01-15 08:00:00",
            "ST-DATA-045",
            "上限报警门限",
        ),
        ("CDDY", "P1;01;F1;0001;MN;%;4;0;;;;;;;;;;;loc;;;;;", "ST-DATA-044", "数据时间"),
        ("FZSS", "F1;0;3;2025-01-15 10:30:00", "ST-DATA-045", "供电状态"),
        ("JZSS", "S1;7;1;2025-01-15 10:30:00", "ST-DATA-045", "运行状态"),
        ("RYSS", "C1;王;3;2025-01-15 08:00:00;;;;;;;;;;;", "ST-DATA-045", "出入井标志"),
        ("RYSS", "C1;王;1;2025-01-15 08:00:00;;;;;;;x;;;;", "ST-DATA-045", "与基站距离"),
        ("RYSS", "C1;王;1;2025-01-15 08:00:00;;;;;;;;;;;S1-2025-01-15 10:30:00", "ST-DATA-045", "行进轨迹"),
        ("RYSS", "C1;王;1;2025-01-15 08:00:00;;;;;;;;;;;S1&2025-01-15", "ST-DATA-044", "行进轨迹"),
        ("RYSS", "C1;王;1;2025-01-15;;;;;;;;;;;", "ST-DATA-044", "入井时刻"),
        ("RYSS", "C1;王;1;;;;;;;;;;;;", "ST-DATA-044", "入井时刻"),
        ("RYQY", "A1;区;一般区域;-1;2025-01-15 08:00:00", "ST-DATA-045", "核定人数"),
        ("YCBJ", "P1;0001;loc;%;001;;;;;;;;;;;;2025-01-15 10:30:00", "ST-DATA-044", "开始时间"),
        (
            "TJSJ",
            "P1;0001;loc;%;2025-01-15 10:00:00;2025-01-15 10:30:00;;2025-01-15 10:00:00;1;"
            "2025-01-15 10:00:00;1;2025-01-15 10:30:00",
            "ST-DATA-045",
            "最大值",
        ),
        ("FZDY", ";loc;1;2;3", "ST-DATA-045", "分站编码"),
        ("RYJZ", "S1;A1;loc;1;2;z;2025-01-15 08:00:00", "ST-DATA-045", "Z"),
    ],
)
def test_bad_records_of_other_types(file_type, record, clause, field):
    name = f"{MINE}_{file_type}_20250115103000.txt"
    e = error_of(name, (HEADER + record + "~||").encode())
    assert (e.clause_id, e.record_index, e.field) == (clause, 1, field)


def test_every_grammar_error_of_a_file_is_reported_in_file_order():
    rows = (
        ROW,
        ROW.replace(";0.52;", ";abc;"),  # record 2: value
        ROW.replace(";0;2025", ";256;2025").replace("2025-01-15 10:30:00", "2025-01-15 25:30:00"),  # 3: two
        ROW,
        ROW.replace("%CH4;", ""),  # record 5: one field short
    )
    e = error_of(CDSS_NAME, cdss(*rows))
    assert [(x.clause_id, x.record_index, x.field) for x in e.errors] == [
        ("ST-DATA-045", 2, "测点值"),
        ("ST-DATA-045", 3, "测点状态"),
        ("ST-DATA-044", 3, "数据时间"),
        ("ST-DATA-042", 5, "数据时间"),
    ]
    assert e.errors[0] is e  # the raised error is the first one
    assert all(x.file_name == CDSS_NAME and x.message_zh and x.message_en for x in e.errors)


def test_header_and_record_errors_are_reported_together():
    header = HEADER.replace("2025-01-15 10:30:00", "2025-01-15")
    e = error_of(f"{MINE}_FZSS_20250115103000.txt", cdss("F1;0;3;2025-01-15 10:30:00~", header=header))
    assert [(x.clause_id, x.record_index, x.field) for x in e.errors] == [
        ("ST-DATA-044", 0, "数据上传时间"),
        ("ST-DATA-045", 1, "供电状态"),
    ]


def test_a_file_that_cannot_be_read_has_one_error():
    e = error_of(CDSS_NAME, b"\xff\xfe\xfa\xfb" * 8 + b"||")
    assert e.clause_id == "ST-DATA-043" and e.errors == [e]
    assert (
        error_of(CDSS_NAME, cdss(ROW, ROW.replace(";0.52;", ";x;"), end="")).errors[0].clause_id
        == "ST-DATA-041"
    )


# ---------------------------------------------------------------------------------------------------------
# Writer and round trips


def test_write_file_name_and_body():
    name, data = write_file(MINE, "示范煤矿", "CDSS", [ROW[:-3].split(";")], utc(2025, 1, 15, 2, 30))
    assert name == CDSS_NAME
    assert data.decode() == HEADER + ROW + "||"


def test_write_gbk_round_trip():
    records = [["1404210000010A", "8101综采工作面配电点", "1210", "850.5", "-321.2"]]
    name, data = write_file(MINE, "示范煤矿", "FZDY", records, utc(2025, 1, 15), encoding="gbk")
    with pytest.raises(UnicodeDecodeError):
        data.decode("utf-8")
    parsed = parse_bytes(name, data)
    assert parsed.encoding == "gbk"
    assert parsed.outstations[0].location == "8101综采工作面配电点"
    assert parsed.file_name.generated_at == utc(2025, 1, 15)


@pytest.mark.parametrize("path", sorted(GOOD.iterdir()), ids=lambda p: p.name)
def test_rewriting_every_sample_gives_the_same_result(path):
    original = parse_path(path)
    text = path.read_bytes().decode(original.encoding.replace("gbk", "gb18030")).lstrip("\ufeff")
    records = [r.strip("\r\n").split(";") for r in text.rstrip()[:-2].split("~")[:-1]]
    header, rows = records[0], records[1:]
    for encoding in ("utf-8", "gbk"):
        try:
            text.encode(encoding)
        except UnicodeEncodeError:  # e.g. "m³" has no GBK code
            continue
        name, data = write_file(
            header[0], header[1], original.file_type, rows, original.header.uploaded_at, encoding=encoding
        )
        again = parse_bytes(name, data)
        assert again.header == original.header
        assert again.records == original.records


@pytest.mark.parametrize(
    ("args", "clause"),
    [
        (dict(mine_code="14042100000"), "ST-DATA-040"),
        (dict(file_type="QQQQ"), "ST-DATA-046"),
        (dict(records=[["a", "b"]]), "ST-DATA-042"),
        (dict(records=[["P;1", "0001", "loc", "1", "%", "0", "2025-01-15 10:30:00"]]), "ST-DATA-042"),
        (dict(records=[["P1", "0001", "a~b", "1", "%", "0", "2025-01-15 10:30:00"]]), "ST-DATA-042"),
        (dict(mine_name="line\nbreak"), "ST-DATA-042"),
        (dict(mine_name="a|b"), "ST-DATA-042"),
        (dict(mine_name="\U0001f600", encoding="gbk"), "ST-DATA-043"),
    ],
)
def test_writer_refuses_what_the_parser_would_refuse(args, clause):
    kwargs = dict(
        mine_code=MINE, mine_name="示范煤矿", file_type="CDSS", records=[], generated_at=utc(2025, 1, 15)
    )
    kwargs.update(args)
    with pytest.raises(MtFileError) as info:
        write_file(**kwargs)
    assert info.value.clause_id == clause


def test_writer_needs_an_aware_time():
    with pytest.raises(MtFileError):
        write_file(MINE, "x", "CDSS", [], datetime(2025, 1, 15))


field_text = st.text(st.characters(exclude_categories=("Cs",), exclude_characters=";~|\r\n"), max_size=12)
times = st.datetimes(min_value=datetime(1971, 1, 1), max_value=datetime(2100, 1, 1)).map(
    lambda d: d.replace(microsecond=0, tzinfo=UTC)
)
observations = st.builds(
    Observation,
    point_code=field_text.filter(bool),
    sensor_type=field_text,
    location=field_text,
    value=st.floats(allow_nan=False, allow_infinity=False),
    unit=field_text,
    status=st.integers(0, 255),
    time=times,
)


def _record(o: Observation) -> list[str]:
    value = format(Decimal(repr(o.value)), "f")  # plain decimal, no exponent; parses back to the same float
    return [o.point_code, o.sensor_type, o.location, value, o.unit, str(o.status), format_time(o.time)]


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(obs=st.lists(observations, max_size=20), mine_name=field_text, generated_at=times)
def test_cdss_round_trip(obs, mine_name, generated_at):
    name, data = write_file(MINE, mine_name, "CDSS", [_record(o) for o in obs], generated_at)
    parsed = parse_bytes(name, data)
    assert parsed.observations == obs
    assert parsed.header.mine_name == mine_name
    assert parsed.header.uploaded_at == generated_at == parsed.file_name.generated_at


@settings(max_examples=100, deadline=None)
@given(obs=st.lists(observations, min_size=1, max_size=10), data=st.data())
def test_fast_and_exact_paths_agree(obs, data):
    """Irregular line breaks take the exact path; the result must equal the hot path's."""
    name, body = write_file(MINE, "矿", "CDSS", [_record(o) for o in obs], utc(2025, 1, 15))
    breaks = st.sampled_from(["", "\n", "\r\n", "\r\n\r\n", "\n\n"])
    text = body.decode()
    pieces = text[:-2].split("~\r\n")
    irregular = "".join(p + "~" + data.draw(breaks) for p in pieces[:-1]) + "||"
    assert parse_bytes(name, irregular.encode()).observations == parse_bytes(name, body).observations == obs


# ---------------------------------------------------------------------------------------------------------
# Columnar batches


def test_to_batch_columns():
    obs = parse_path(GOOD / "140421000001_CDSS_20250115103000.txt").observations
    alias_of = {o.point_code: i for i, o in enumerate(obs, 1)}
    batch = to_batch(obs, alias_of, sequence=42)
    assert batch.sequence == 42 and not batch.backfill
    assert batch.base_time.ToDatetime(tzinfo=UTC) == utc(2025, 1, 15, 2, 29, 55)  # the earliest
    assert list(batch.alias) == [1, 2, 3, 4, 5, 6, 7]
    assert list(batch.time_offset_ms) == [5000, 3000, 5000, 5000, 5000, 5000, 0]
    assert list(batch.value) == [o.value for o in obs]
    assert list(batch.status) == [0, 1, 0, 0, 0, 0, 128]


def test_to_batch_edge_cases():
    assert to_batch([], {}, sequence=1) == data_pb2.ObservationBatch(sequence=1)
    o = Observation("P1", "0001", "", 1.0, "", 0, utc(2025, 1, 15))
    with pytest.raises(ValueError, match="P1"):
        to_batch([o], {}, sequence=1)
    late = Observation("P1", "0001", "", 1.0, "", 0, utc(2025, 1, 15) + timedelta(days=30))
    with pytest.raises(ValueError):
        to_batch([o, late], {"P1": 1}, sequence=1)


@settings(max_examples=50, deadline=None)
@given(
    obs=st.lists(observations, min_size=1, max_size=30).filter(
        lambda xs: max(o.time for o in xs) - min(o.time for o in xs) < timedelta(days=20)
    )
)
def test_to_batch_offsets_rebuild_times(obs):
    alias_of = {code: i for i, code in enumerate(sorted({o.point_code for o in obs}), 1)}
    batch = to_batch(obs, alias_of, sequence=3)
    base = batch.base_time.ToDatetime(tzinfo=UTC)
    assert [base + timedelta(milliseconds=ms) for ms in batch.time_offset_ms] == [o.time for o in obs]
    assert list(batch.alias) == [alias_of[o.point_code] for o in obs]


# ---------------------------------------------------------------------------------------------------------
# Fuzzing: nothing but MtFileError ever escapes


NAMES = [f"{MINE}_{code}_20250115103000.txt" for code in SUPPORTED_TYPES]


@settings(max_examples=300, deadline=None)
@given(name=st.sampled_from(NAMES), data=st.binary(max_size=400))
def test_arbitrary_bytes_raise_only_mtfile_error(name, data):
    with contextlib.suppress(MtFileError):
        parse_bytes(name, data)


grammar_text = st.text(st.sampled_from(list("0123456789-: ;~|\r\n.&#,e+abcé汉\x00")), max_size=300)


@settings(max_examples=400, deadline=None)
@given(name=st.sampled_from(NAMES), body=grammar_text, encoding=st.sampled_from(["utf-8", "gb18030"]))
def test_grammar_shaped_text_raises_only_mtfile_error(name, body, encoding):
    data = (HEADER + body + "||").encode(encoding)
    with contextlib.suppress(MtFileError):
        parse_bytes(name, data)


@settings(max_examples=300, deadline=None)
@given(name=st.sampled_from(NAMES), data=st.data())
def test_records_with_the_right_field_count_raise_only_mtfile_error(name, data):
    count = SUPPORTED_TYPES[name.split("_")[1]].field_count
    values = st.one_of(
        st.sampled_from(
            ["", "0", "1", "2", "9", "001", "011", "MN", "KG", "LJ", "-1.5", "1e999", "abc", "9" * 400]
        ),
        st.sampled_from(
            ["2025-01-15 10:30:00", "9999-12-31 23:59:59", "0001-01-01 07:59:59", "2025-13-01 00:00:00"]
        ),
        st.just("S1&2025-01-15 10:30:00,S2&2025-01-15 10:31:00#S3&x"),
        st.text(st.sampled_from(list("0123456789.-&#,: eE")), max_size=25),
    )
    rows = data.draw(st.lists(st.lists(values, min_size=count, max_size=count), max_size=5))
    text = HEADER + "".join(";".join(r) + "~\r\n" for r in rows) + "||"
    with contextlib.suppress(MtFileError):
        parse_bytes(name, text.encode())
