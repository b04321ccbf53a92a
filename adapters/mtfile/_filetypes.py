"""The MT/T 1201 file types santong reads: one field table per type.

Each field has its Chinese and English name, a **kind** that says how the parser reads it (and what the validator,
the writer and the generated SPEC.md section say about it), and the clause a bad value breaks; each type names the
protobuf field every field becomes (``proto_names``). The parser reads every field through the reader of its kind
(``_records._READERS``), builds the messages from the protobuf names, and the converter places the validation
core's findings back on the field a message path came from (:meth:`FileType.source`): a table is the single
description of a file type, and adding a type is adding a table (plus, where the file leaves a message field
unwritten, a column rule in ``_records._EXTRA``) and the message's route in the converter.

Field orders follow the public parsers. Three orders are santong's own choice, because the standard's text is not
public: RYQY, RYJZ and JZSS. RYSS has no 数据时间: its records take the header's 数据上传时间.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import Final

from santong.protocols.v1 import common_pb2

__all__ = [
    "ANOMALY_TYPES",
    "DIRECTIONS",
    "HEADER",
    "KINDS",
    "POWER_STATES",
    "RUN_STATES",
    "STATUS_CODES",
    "SUPPORTED_TYPES",
    "VALUE_KINDS",
    "FieldSpec",
    "FileType",
]

# Code lists → protobuf enums.
VALUE_KINDS: Final = MappingProxyType(
    {
        "MN": common_pb2.VALUE_KIND_ANALOG,
        "KG": common_pb2.VALUE_KIND_SWITCH,
        "LJ": common_pb2.VALUE_KIND_ACCUMULATOR,
    }
)
ANOMALY_TYPES: Final = MappingProxyType({f"{n:03d}": n for n in range(1, 11)})
RUN_STATES: Final = MappingProxyType(
    {
        "0": common_pb2.RUN_STATE_OK,
        "1": common_pb2.RUN_STATE_INTERRUPTED,
        "2": common_pb2.RUN_STATE_FAULT,
        "9": common_pb2.RUN_STATE_UNKNOWN,
    }
)
POWER_STATES: Final = MappingProxyType(
    {"1": common_pb2.POWER_STATE_DC, "2": common_pb2.POWER_STATE_AC, "9": common_pb2.POWER_STATE_FAULT}
)
DIRECTIONS: Final = MappingProxyType({"1": common_pb2.MINE_DIRECTION_IN, "2": common_pb2.MINE_DIRECTION_OUT})
STATUS_CODES: Final = MappingProxyType({str(n): n for n in range(256)})

#: Field kinds: (required, format in Chinese, format in English, clause a bad value breaks).
KINDS: Final[Mapping[str, tuple[bool, str, str, str]]] = MappingProxyType(
    {
        "key": (True, "编码，不能为空", "code, not empty", "ST-DATA-045"),
        "text": (False, "文本，可为空", "text, may be empty", "ST-DATA-042"),
        "type": (True, "传感器类型（见“类型字段的解析”）", "sensor type (see 'How the type field is resolved')",
                 "ST-DATA-010"),
        "number": (True, "十进制数，如 0.52、-12.5", "decimal number, e.g. 0.52, -12.5", "ST-DATA-045"),
        "number0": (False, "十进制数，空 = 0", "decimal number, empty = 0", "ST-DATA-045"),
        "optional": (False, "十进制数，空 = 未设置", "decimal number, empty = not set", "ST-DATA-045"),
        "range": (True, "十进制数；开关量 KG 可为空（0–1）", "decimal number; may be empty for switches KG (0–1)",
                  "ST-DATA-045"),
        "time": (True, "yyyy-MM-dd HH:mm:ss 北京时间", "yyyy-MM-dd HH:mm:ss China time", "ST-DATA-044"),
        "time?": (False, "yyyy-MM-dd HH:mm:ss 北京时间，可为空", "yyyy-MM-dd HH:mm:ss China time, may be empty",
                  "ST-DATA-044"),
        "status": (True, "测点状态位 0–255（1 报警、2 断电、4 标校、8 超量程、16 分站故障、32 不巡检、64 暂停、128 传感器故障）",
                   "status bits 0–255 (1 alarm, 2 power-off, 4 calibrating, 8 over range, 16 outstation fault, "
                   "32 not polled, 64 paused, 128 sensor fault)", "ST-DATA-045"),
        "codes": (False, "编码列表，用“,”或“&”分隔，可为空", "codes joined by ',' or '&', may be empty", "ST-DATA-042"),
        "track": (False, "“基站编码&时刻”列表，用“,”或“#”分隔，可为空", "'station&time' items joined by ',' or '#', "
                  "may be empty", "ST-DATA-045"),
        "count": (False, "非负整数，空 = 0（不限）", "non-negative integer, empty = 0 (no limit)", "ST-DATA-045"),
    }
)  # fmt: skip


@dataclass(frozen=True, slots=True)
class FieldSpec:
    """One field of a record: names, kind (see ``KINDS``) and, for code fields, its code list."""

    zh: str
    en: str
    kind: str
    codes: Mapping[str, int] | None = None

    @property
    def required(self) -> bool:
        """May not be empty."""
        return self.codes is not None or KINDS[self.kind][0]

    @property
    def clause(self) -> str:
        """The clause a bad value breaks."""
        return "ST-DATA-045" if self.codes is not None else KINDS[self.kind][3]

    def format(self) -> tuple[str, str]:
        """How the value is written (Chinese, English)."""
        if self.codes is not None:
            listed = " / ".join(self.codes)
            return f"代码：{listed}", f"code: {listed}"
        _, zh, en, _ = KINDS[self.kind]
        return zh, en


@dataclass(frozen=True, slots=True)
class FileType:
    """One supported file type: its code, names, the message it becomes and its field table in file order."""

    code: str
    name_zh: str
    name_en: str
    result: str
    specs: tuple[FieldSpec, ...]
    message: str = ""
    example: str = ""
    #: The protobuf field (CDSS: the Observation attribute) each field becomes, in file order; "-": checked, not
    #: kept (a 数据时间 the message has no field for, RYSS's two flags).
    proto_names: str = ""
    #: Paths of the validation core's messages that name no field of the table → the field they come from
    #: (CDSS: the batch's columns).
    paths: Mapping[str, str] = field(default_factory=lambda: MappingProxyType({}))
    #: Where the records go: ``define <FileUnit list>`` (definitions) or ``<upload method> <request field>``.
    route: str = ""

    @property
    def defines(self) -> bool:
        """A definition file (its records define points, outstations, areas or stations)."""
        return self.route.startswith("define ")

    @property
    def protos(self) -> tuple[str, ...]:
        """Protobuf field names in file order ("" for a field not kept)."""
        names = tuple("" if n == "-" else n for n in self.proto_names.split())
        return names or ("",) * len(self.specs)

    def source(self, name: str) -> int | None:
        """The index of the field a protobuf field (or core path segment) comes from, or None."""
        name = self.paths.get(name, name)
        protos = self.protos
        return protos.index(name) if name in protos else None

    @property
    def fields(self) -> tuple[str, ...]:
        """Chinese field names in file order."""
        return tuple(s.zh for s in self.specs)

    @property
    def fields_en(self) -> tuple[str, ...]:
        """English field names in file order."""
        return tuple(s.en for s in self.specs)

    @property
    def kinds(self) -> frozenset[str]:
        """The field kinds the type has."""
        return frozenset(s.kind for s in self.specs)

    @property
    def field_count(self) -> int:
        """Number of fields in each data record."""
        return len(self.specs)


def _f(zh: str, en: str, kind: str = "text", codes: Mapping[str, int] | None = None) -> FieldSpec:
    return FieldSpec(zh, en, kind, codes)


_POINT = (
    _f("测点编码", "point code", "key"),
    _f("传感器类型", "sensor type", "type"),
    _f("安装位置", "location"),
)
_THRESHOLDS = tuple(
    _f(zh, en, "optional")
    for zh, en in (
        ("上限报警门限", "high alarm"), ("上限解报门限", "high alarm clear"), ("下限报警门限", "low alarm"),
        ("下限解报门限", "low alarm clear"), ("上限断电门限", "high power-off"), ("上限复电门限", "high power restore"),
        ("下限断电门限", "low power-off"), ("下限复电门限", "low power restore"),
    )
)  # fmt: skip
_XYZ = (_f("X", "x", "number0"), _f("Y", "y", "number0"), _f("Z", "z", "number0"))
_DATA_TIME = _f("数据时间", "data time", "time")
_T = "2025-01-15 10:30:00"
_P = "14042100000101MNA0010A01"

HEADER: Final = FileType(
    "", "表头", "header", "",
    (_f("煤矿编码", "mine code", "key"), _f("矿井名称", "mine name"), _f("数据上传时间", "upload time", "time")),
    example=f"140421000001;示例煤矿;{_T}~",
    proto_names="mine_code mine_name uploaded_at",
)  # fmt: skip

SUPPORTED_TYPES: Final[Mapping[str, FileType]] = MappingProxyType(
    {
        t.code: t
        for t in (
            FileType(
                "CDDY", "测点定义", "point definition", "definitions",
                (
                    _f("测点编码", "point code", "key"), _f("系统编码", "system code"),
                    _f("分站编码", "outstation code"), _f("传感器类型", "sensor type", "type"),
                    _f("数值类型", "value kind", codes=VALUE_KINDS), _f("单位", "unit"),
                    _f("高量程", "range high", "range"), _f("低量程", "range low", "range"), *_THRESHOLDS,
                    _f("开描述", "on description"), _f("停描述", "off description"), _f("安装位置", "location"),
                    *_XYZ, _f("传感器关联关系", "related points", "codes"), _DATA_TIME,
                ),
                "PointDefinition",
                f"{_P};01;140421000001F01;甲烷;MN;%CH4;4;0;1.0;1.0;;;1.5;1.0;;;;;15101 工作面 T1;1203.5;885.2;-412;;{_T}~",
                "point_code system_code outstation_code sensor_type value_kind unit range_high range_low alarm_high "
                "alarm_high_clear alarm_low alarm_low_clear power_off_high power_restore_high power_off_low "
                "power_restore_low on_description off_description location x y z related_point_codes defined_at",
                route="define points",
            ),
            FileType(
                "CDSS", "测点实时", "point real-time", "observations",
                (*_POINT, _f("测点值", "value", "number"), _f("单位", "unit"), _f("测点状态", "status", "status"),
                 _DATA_TIME),
                "ObservationBatch", f"{_P};甲烷;15101 工作面 T1;0.32;%CH4;0;{_T}~",
                "point_code sensor_type location value unit status time",
                MappingProxyType({"alias": "point_code", "time_offset_ms": "time", "base_time": "time",
                                  "backfill": "time"}),
                route="ReportObservations batch",
            ),
            FileType(
                "TJSJ", "统计", "statistics", "statistics",
                (
                    *_POINT, _f("单位", "unit"), _f("开始时间", "start time", "time"),
                    _f("结束时间", "end time", "time"), _f("最大值", "max", "number"),
                    _f("最大值时刻", "max time", "time"), _f("最小值", "min", "number"),
                    _f("最小值时刻", "min time", "time"), _f("平均值", "average", "number"), _DATA_TIME,
                ),
                "Statistics",
                f"{_P};甲烷;15101 工作面 T1;%CH4;2025-01-15 10:00:00;{_T};0.41;2025-01-15 10:12:00;0.2;"
                f"2025-01-15 10:01:00;0.3;{_T}~",
                "point_code sensor_type location unit start_time end_time max_value max_time min_value min_time "
                "avg_value -",
                route="ReportStatistics statistics",
            ),
            FileType(
                "YCBJ", "异常报警", "anomaly alarm", "alarms",
                (
                    *_POINT, _f("单位", "unit"), _f("异常类型", "anomaly type", codes=ANOMALY_TYPES),
                    _f("开始时间", "start time", "time"), _f("结束时间", "end time", "time?"),
                    _f("期间最大值", "max", "number0"), _f("最大值时刻", "max time", "time?"),
                    _f("期间最小值", "min", "number0"), _f("最小值时刻", "min time", "time?"),
                    _f("期间平均值", "average", "number0"), _f("异常原因", "reason"), _f("处理措施", "measures"),
                    _f("录入时间", "recorded at", "time?"), _f("录入人", "recorded by"), _DATA_TIME,
                ),
                "Alarm",
                f"{_P};甲烷;15101 工作面 T1;%CH4;001;2025-01-15 10:20:00;;1.12;2025-01-15 10:21:00;1.01;"
                f"2025-01-15 10:20:00;1.05;;;;;{_T}~",
                "point_code sensor_type location unit anomaly_type start_time end_time max_value max_time min_value "
                "min_time avg_value reason measures recorded_at recorded_by -",
                route="ReportAlarms alarms",
            ),
            FileType(
                "FZDY", "分站定义", "outstation definition", "outstations",
                (_f("分站编码", "outstation code", "key"), _f("安装位置", "location"), *_XYZ),
                "OutstationDefinition", "140421000001F01;15101 回风巷;1250;870;-410~",
                "outstation_code location x y z",
                route="define outstations",
            ),
            FileType(
                "FZSS", "分站实时", "outstation real-time", "outstation_statuses",
                (
                    _f("分站编码", "outstation code", "key"), _f("运行状态", "run state", codes=RUN_STATES),
                    _f("供电状态", "power state", codes=POWER_STATES), _DATA_TIME,
                ),
                "OutstationStatus", f"140421000001F01;0;2;{_T}~", "outstation_code run_state power_state time",
                route="ReportOutstationStatus statuses",
            ),
            FileType(
                "RYSS", "人员实时", "personnel real-time", "personnel",
                (
                    _f("人员卡编码", "card code", "key"), _f("姓名", "name"),
                    _f("出入井标志", "in/out flag", codes=DIRECTIONS), _f("入井时刻", "entered mine at", "time"),
                    _f("出井时刻", "exited mine at", "time?"), _f("区域编码", "area code"),
                    _f("进入区域时刻", "entered area at", "time?"), _f("基站编码", "station code"),
                    _f("进入基站时刻", "entered station at", "time?"), _f("劳动组织方式", "work organization"),
                    _f("与基站距离", "distance to station", "number0"), _f("人员工作状态", "work state"),
                    _f("标志1", "flag 1"), _f("标志2", "flag 2"), _f("行进轨迹", "track", "track"),
                ),
                "PersonnelRecord",
                "14042100000100012;张三;1;2025-01-15 08:00:00;;1404210000010001;2025-01-15 09:00:00;"
                "1404210000010001000001;2025-01-15 10:00:00;综采一队;12.5;正常;0;0;"
                "1404210000010001000001&2025-01-15 10:00:00~",
                "card_code name direction entered_mine_at exited_mine_at area_code entered_area_at station_code "
                "entered_station_at work_organization distance_m work_state - - track",
                route="ReportPersonnel records",
            ),
            FileType(
                "RYQY", "区域定义", "area definition", "areas",
                (
                    _f("区域编码", "area code", "key"), _f("区域名称", "area name"), _f("区域类型", "area type"),
                    _f("核定人数", "capacity", "count"), _DATA_TIME,
                ),
                "AreaDefinition", f"1404210000010001;15101 工作面;重点区域;40;{_T}~", "area_code name area_type capacity -",
                route="define areas",
            ),
            FileType(
                "RYJZ", "基站定义", "base station definition", "stations",
                (
                    _f("基站编码", "station code", "key"), _f("区域编码", "area code"), _f("安装位置", "location"),
                    *_XYZ, _DATA_TIME,
                ),
                "StationDefinition", f"1404210000010001000001;1404210000010001;15101 进风巷;1200;880;-400;{_T}~",
                "station_code area_code location x y z -",
                route="define stations",
            ),
            FileType(
                "JZSS", "基站实时", "base station real-time", "station_statuses",
                (
                    _f("基站编码", "station code", "key"), _f("运行状态", "run state", codes=RUN_STATES),
                    _f("供电状态", "power state", codes=POWER_STATES), _DATA_TIME,
                ),
                "StationStatus", f"1404210000010001000001;0;2;{_T}~", "station_code run_state power_state time",
                route="ReportPersonnel stations",
            ),
        )
    }
)  # fmt: skip
