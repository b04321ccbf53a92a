"""Sensor types as KJ exports write them: names, aliases, legacy codes, a site mapping; ambiguity is an error."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml
from santong.adapters.mtfile import (
    MtChecker,
    MtFileConverter,
    SensorResolver,
    SiteMapping,
    SiteMappingError,
    load_site_mapping,
    parse_bytes,
    validate_mt_file,
)
from santong.adapters.mtfile._sensors import dictionary_names, names_of
from santong.protocols import DeviceState

MINE = "140421000001"
T = "2025-01-15 10:30:00"
HEADER = f"{MINE};示例煤矿;2025-01-15 10:30:05~"
NOW = 1736908205000 + 60_000  # a minute after the records (2025-01-15 02:30:05Z)


def cdss(rows: list[str], *, enc: str = "utf-8", nl: str = "\r\n") -> tuple[str, bytes]:
    return f"{MINE}_CDSS_20250115103005.txt", (nl.join([HEADER, *rows, "||"]) + nl).encode(enc)


def row(point: str, sensor: str, value: str, unit: str, *, time: str = T, tail: str = "") -> str:
    return f"{MINE}01{point};{sensor};15101工作面;{value};{unit};0;{time}{tail}~"


@pytest.mark.parametrize(
    ("text", "code"),
    [
        ("甲烷", "A001"), ("一氧化碳", "A003"), ("温度", "A007"), ("风速", "A008"), ("局扇开停", "S003"),
        ("设备开停", "S001"), ("瓦斯", "A001"), ("低浓甲烷", "A001"), ("CO", "A003"), ("ＣＯ", "A003"),
        ("高浓甲烷", "A002"), ("高浓瓦斯", "A002"), ("M0101", "A001"), ("1101", "A019"), ("A003", "A003"),
        ("甲烷传感器", "A001"), (" 风速 ", "A008"),
    ],
)  # fmt: skip
def test_names_aliases_and_legacy_codes_resolve(text: str, code: str) -> None:
    assert SensorResolver().code(text) == code


def test_a_name_fitting_two_entries_is_ambiguous_and_lists_them() -> None:
    res = SensorResolver().resolve("开停")
    assert res.code is None and res.candidates == ("S001", "S003")
    zh, en = res.explain()
    assert "S001 设备开停" in zh and "S003 局扇开停" in zh and "S001" in en
    assert '"开停": S001' in res.fix()[0]


def test_an_unknown_name_is_not_guessed() -> None:
    res = SensorResolver().resolve("水汽浓度")
    assert res.code is None and res.how == "unknown" and not res.candidates
    assert SensorResolver().resolve("").how == "empty"


def test_every_alias_of_the_dictionary_names_exactly_one_entry() -> None:
    names = dictionary_names()
    assert names["瓦斯"] == "A001" and names["高浓瓦斯"] == "A002"
    entries = [
        {"code": "A001", "name_zh": "甲烷", "aliases": ["瓦斯"], "legacy": {}},
        {"code": "A002", "name_zh": "甲烷（高浓度）", "aliases": ["ＷＳ", "瓦斯 "], "legacy": {}},
    ]
    with pytest.raises(ValueError, match="瓦斯.*A001.*A002"):
        names_of(entries)


def test_site_mapping_resolves_vendor_codes_before_names(tmp_path: Path) -> None:
    path = tmp_path / "site.yaml"
    path.write_text('version: "1.0"\nsensor_types:\n  "0001": A001\n  "开停": S003\n  温度: A034\n', "utf-8")
    r = SensorResolver(load_site_mapping(path))
    assert r.code("0001") == "A001" and r.code("开停") == "S003" and r.code("温度") == "A034"
    assert r.segments == {"0001": "A001"}


@pytest.mark.parametrize(
    ("text", "match"),
    [
        ('version: "1.0"\nsensor_types:\n  0001: A001\n', "须加引号.*quote"),
        ('version: "1.0"\nsensor_types:\n  "0001": X999\n', "X999.*不是数据字典代码"),
        ('version: "1.0"\nsensor_types:\n  "0001": a001\n', "sensor_types/0001"),
        ('version: "1.0"\n', "不符合格式"),
        ('version: "2.0"\nsensor_types: {"1": A001}\n', "version"),
        ("sensor_types: [\n", "不是 UTF-8 YAML"),
    ],
)
def test_a_bad_site_mapping_is_refused_with_the_fix(tmp_path: Path, text: str, match: str) -> None:
    path = tmp_path / "site.yaml"
    path.write_text(text, "utf-8")
    with pytest.raises(SiteMappingError, match=match):
        load_site_mapping(path)
    with pytest.raises(SiteMappingError, match="无法读取"):
        load_site_mapping(tmp_path / "missing.yaml")


def test_chinese_names_pass_and_ranges_come_from_the_dictionary() -> None:
    """The issue's file: 甲烷 … as type; no ST-DATA-010, no false ST-DATA-021 (3 ppm CO, 23.5 ℃)."""
    name, data = cdss(
        [
            row("MNA0010A01", "甲烷", "0.32", "%CH4"), row("MNA0030A02", "一氧化碳", "3", "ppm"),
            row("MNA0070A03", "温度", "23.5", "℃"), row("MNA0080A04", "风速", "1.8", "m/s"),
            row("KGS0030K01", "局扇开停", "1", ""), row("KGS0010K02", "设备开停", "0", ""),
        ],
        enc="gbk",
    )  # fmt: skip
    count, violations = validate_mt_file(name, data, now_ms=NOW)
    assert count == 6 and violations == []
    # the dictionary's range applies: 5 %CH4 is over the 0–4 range of A001
    name, data = cdss([row("MNA0010A01", "瓦斯", "5", "%CH4")])
    _, violations = validate_mt_file(name, data, now_ms=NOW)
    assert [v.clause_id for v in violations] == ["ST-DATA-021"]
    assert violations[0].path.startswith(f"{name}:2 [{MINE}01MNA0010A01] 测点值")


def test_an_unknown_type_is_one_finding_on_its_line_with_a_fix_for_the_file_holder() -> None:
    name, data = cdss([row("MNA0010A01", "甲烷", "0.3", "%CH4"), row("MNA0270A02", "水汽", "23.5", "%RH")])
    report = MtChecker(now_ms=NOW).check(name, data)
    assert [(f.clause_id, f.line, f.point_code, f.field_zh) for f in report.findings] == [
        ("ST-DATA-010", 3, f"{MINE}01MNA0270A02", "传感器类型")
    ]
    f = report.findings[0]
    assert "水汽" in f.message_zh and "site.yaml" in f.fix_zh and "site mapping" in f.fix_en
    assert "适配器" not in f.fix_zh  # spoken to the file holder, not to a vendor


def test_vendor_codes_in_the_type_field_and_point_code_segment_need_the_site_mapping() -> None:
    name, data = cdss([row("MN00010A01", "0001", "0.3", "%CH4")])
    without = MtChecker(now_ms=NOW).check(name, data)
    assert [f.clause_id for f in without.findings] == ["ST-DATA-010"]
    with_map = MtChecker(now_ms=NOW, mapping=SiteMapping({"0001": "A001"})).check(name, data)
    assert with_map.findings == []  # no ST-DATA-004: the segment 0001 resolves through the same mapping


def test_the_adapter_converter_sends_dictionary_codes_for_names() -> None:
    cddy = f"{HEADER}\r\n{MINE}01MNA0010A01;01;{MINE}F01;瓦斯;MN;%CH4;4;0;1.0;1.0;;;1.5;1.0;;;;;T1;;;;;{T}~\r\n||"
    parsed = parse_bytes(f"{MINE}_CDDY_20250115103000.txt", cddy.encode())
    assert parsed.definitions[0].sensor_type == "瓦斯"  # the parser keeps what the file says
    unit = MtFileConverter().unit(parsed, DeviceState(mine_code=MINE))
    assert unit.points[0].sensor_type == "A001"
    assert MtFileConverter().check(unit, DeviceState(mine_code=MINE), now_ms=NOW) == []


def test_site_mapping_document_is_valid_yaml_for_the_example() -> None:
    path = Path(__file__).resolve().parents[2] / "protocols/examples/mt/vendor-codes-mapping-gbk/site.yaml"
    assert load_site_mapping(path).sensor_types == yaml.safe_load(path.read_text("utf-8"))["sensor_types"]


def test_file_messages_speak_dictionary_codes_and_keep_no_false_range() -> None:
    from santong.adapters.mtfile import file_messages  # noqa: PLC0415
    from santong.protocols import ValidationContext, validate  # noqa: PLC0415

    name, data = cdss([row("MNA0030A02", "一氧化碳", "3", "ppm"), row("MNA0270A09", "水汽", "23.5", "%RH")])
    state, msgs = file_messages(parse_bytes(name, data))
    assert [p.sensor_type for p in msgs[0].points] == ["A003", "水汽"]
    ctx = ValidationContext(state=DeviceState(mine_code=MINE), now_ms=NOW, arrival=False)
    found = []
    for m in msgs:
        found += [v.clause_id for v in validate(m, ctx)]
        ctx.state.apply(m)
    assert found == ["ST-DATA-010"]  # no ST-DATA-021 for 3 ppm or for the unknown type's 23.5


def _cddy(rows: list[str]) -> tuple[str, bytes]:
    body = "\r\n".join(
        [f"{MINE};示例煤矿;2025-01-15 10:30:00~"]
        + [f"{MINE}01{p};01;{MINE}F01;{s};{p[:2]};{u};{hi};0;;;;;;;;;{on};{off};T1;;;;;{T}~" for p, s, u, hi, on, off in rows]
        + ["||"]
    )  # fmt: skip
    return f"{MINE}_CDDY_20250115103000.txt", body.encode()


CDDY = _cddy(
    [("MNA0030A02", "一氧化碳", "ppm", "1000", "", ""), ("KGS0030K01", "局扇开停", "", "", "开", "停")]
)


def test_a_cdss_type_that_disagrees_with_the_cddy_definition_is_st_data_004_on_its_line() -> None:
    checker = MtChecker(now_ms=NOW, synthesise=frozenset())
    assert checker.check(*CDDY).findings == []
    name, data = cdss([row("MNA0030A02", "CO", "3", "ppm"), row("MNA0030A02", "甲烷", "4", "ppm")])
    report = checker.check(name, data)
    assert [(f.clause_id, f.line, f.point_code, f.field_zh) for f in report.findings] == [
        ("ST-DATA-004", 3, f"{MINE}01MNA0030A02", "传感器类型")
    ]
    f = report.findings[0]
    assert (
        "甲烷" in f.message_zh
        and "A003 一氧化碳" in f.message_zh
        and "CDDY" in f.fix_zh
        and "CDDY" in f.fix_en
    )


def test_an_ambiguous_cdss_type_is_settled_by_the_definition_and_an_unknown_one_is_st_data_010() -> None:
    checker = MtChecker(now_ms=NOW, synthesise=frozenset())
    checker.check(*CDDY)
    name, data = cdss([row("KGS0030K01", "开停", "1", ""), row("MNA0030A02", "开停", "3", "ppm")])
    report = checker.check(name, data)
    # 开停 may be 局扇开停 (the first point's definition), never 一氧化碳 (the second's)
    assert [(f.clause_id, f.line) for f in report.findings] == [("ST-DATA-010", 3)]
    assert "S001" in report.findings[0].message_zh and "site.yaml" in report.findings[0].fix_zh


def test_the_definition_the_cdss_types_are_compared_with_is_the_current_one() -> None:
    from santong.protocols.v1 import common_pb2, data_pb2  # noqa: PLC0415

    state = DeviceState(mine_code=MINE)
    code = f"{MINE}01MNA0030A02"
    point = data_pb2.PointDefinition(alias=1, point_code=code, sensor_type="A003", unit="ppm", range_high=1000,
                                     value_kind=common_pb2.VALUE_KIND_ANALOG, location="T1")  # fmt: skip
    state.define_points([point])
    converter = MtFileConverter()
    parsed = parse_bytes(*cdss([row("MNA0030A02", "一氧化碳", "3", "ppm")]))
    assert converter.check(converter.unit(parsed, state), state, now_ms=NOW) == []
    redefined = data_pb2.PointDefinition()
    redefined.CopyFrom(point)
    redefined.sensor_type = "A001"
    state.define_points([redefined])
    found = converter.check(converter.unit(parsed, state), state, now_ms=NOW)
    assert [(f.clause_id, f.record, f.is_must) for f in found] == [("ST-DATA-004", 1, True)]  # not imported


def test_without_a_cddy_later_records_are_compared_with_the_first_records_type() -> None:
    name, data = cdss([row("MNA0030A02", "一氧化碳", "3", "ppm"), row("MNA0030A02", "CO", "3", "ppm"),
                       row("MNA0030A02", "甲烷", "0.3", "ppm")])  # fmt: skip
    report = MtChecker(now_ms=NOW).check(name, data)
    assert [(f.clause_id, f.line) for f in report.findings] == [("ST-DATA-004", 4)]
