"""MT/T records → protobuf messages: one typed accessor per field kind (the field table), one converter per type."""

from __future__ import annotations

import math
import re
from collections.abc import Callable, Mapping, Sequence
from datetime import datetime
from itertools import repeat
from types import MappingProxyType
from typing import Any, Final, TypeVar

from santong.adapters.mtfile._errors import _FIELDS, _TIME, _VALUE, MtFileError, _fail, _show
from santong.adapters.mtfile._filetypes import (
    STATUS_CODES,
    FileType,
)
from santong.adapters.mtfile._model import Observation, _compact, _local_to_utc
from santong.protocols.v1 import common_pb2, data_pb2

_STATUS_CODES: Final = STATUS_CODES

# Plain decimals only (ST-DATA-045): optional minus sign and decimal point, no plus sign, exponent or spaces.
_NUMBER_RE: Final = re.compile(r"-?(?:[0-9]+\.?[0-9]*|\.[0-9]+)")
_SPLIT_RELATED: Final = re.compile(r"[,&]")
_SPLIT_TRACK: Final = re.compile(r"[,#]")


# ---------------------------------------------------------------------------------------------------------
# Records


_T = TypeVar("_T")


class _Record:
    """One data record being converted: typed accessors that raise errors naming this record and field."""

    __slots__ = ("file_name", "index", "values", "spec", "times")

    def __init__(
        self, file_name: str, index: int, values: list[str], spec: FileType, times: dict[str, datetime]
    ) -> None:
        self.file_name = file_name
        self.index = index
        self.values = values
        self.spec = spec
        self.times = times

    def error(self, clause_id: str, i: int, zh: str, en: str) -> MtFileError:
        return _fail(
            clause_id,
            self.file_name,
            zh,
            en,
            record_index=self.index,
            field=self.spec.fields[i],
            field_en=self.spec.fields_en[i],
        )

    def text(self, i: int) -> str:
        return self.values[i]

    def get(self, i: int) -> Any:
        """Field ``i`` read as its field table says (kind, code list): the one place a field's format lives."""
        spec = self.spec.specs[i]
        if spec.codes is not None:
            return self.code(i, spec.codes)
        return _READERS[spec.kind](self, i)

    def required(self, i: int) -> str:
        value = self.values[i]
        if not value:
            raise self.error(_VALUE, i, "不能为空", "must not be empty")
        return value

    def number(self, i: int, *, default: float | None = None) -> float:
        value = self.values[i]
        if not value and default is not None:
            return default
        result = _number(value)
        if result is None:
            raise self.error(
                _VALUE,
                i,
                f"{_show(value)} 不是普通十进制数，请写成如 0.52、-12.5 的数字（不带正号、指数、单位或空格）",
                f"{_show(value)} is not a plain decimal number; write e.g. 0.52 or -12.5 (no plus sign, exponent, unit "
                "or spaces)",
            )
        return result

    def optional_number(self, i: int) -> float | None:
        return self.number(i) if self.values[i] else None

    def time(self, i: int) -> datetime:
        value = self.values[i]
        cached = self.times.get(value)
        if cached is not None:
            return cached
        result = _local_to_utc(value)
        if result is None:
            raise self.error(
                _TIME,
                i,
                f"{_show(value)} 不是 yyyy-MM-dd HH:mm:ss 格式的时间（北京时间），例如 2025-01-15 10:30:00",
                f"{_show(value)} is not a time in yyyy-MM-dd HH:mm:ss (China local time), "
                "e.g. 2025-01-15 10:30:00",
            )
        self.times[value] = result
        return result

    def optional_time(self, i: int) -> datetime | None:
        return self.time(i) if self.values[i] else None

    def code(self, i: int, table: Mapping[str, _T]) -> _T:
        value = self.values[i]
        result = table.get(value)
        if result is None:
            raise self.error(
                _VALUE,
                i,
                f"代码 {_show(value)} 不在代码表中，可用：{'、'.join(table)}",
                f"code {_show(value)} is not in its code list; use one of {', '.join(table)}",
            )
        return result

    def status(self, i: int) -> int:
        value = self.values[i]
        result = _STATUS_CODES.get(value)
        if result is None and len(value) <= 3 and value.isascii() and value.isdigit() and int(value) <= 255:
            result = int(value)
        if result is None:
            raise self.error(
                _VALUE,
                i,
                f"{_show(value)} 不是 0–255 的整数（测点状态位：1 报警、2 断电、4 标校……）",
                f"{_show(value)} is not an integer 0–255 (status bits: 1 alarm, 2 power-off, 4 calibrating …)",
            )
        return result


def _track_of(r: _Record, i: int) -> list[data_pb2.TrackPoint]:
    return _track(r, i)


_READERS: Final[Mapping[str, Callable[[_Record, int], Any]]] = MappingProxyType(
    {
        "key": _Record.required,
        "text": _Record.text,
        "type": _Record.text,  # resolved to a dictionary code by the converter (names, aliases, site mapping)
        "number": _Record.number,
        "number0": lambda r, i: r.number(i, default=0.0),
        "optional": _Record.optional_number,
        "time": _Record.time,
        "time?": _Record.optional_time,
        "status": _Record.status,
        "codes": lambda r, i: [code for code in _SPLIT_RELATED.split(r.values[i]) if code],
        "track": _track_of,
        "count": lambda r, i: _capacity(r, i),
    }
)


def _number(text: str) -> float | None:
    if _NUMBER_RE.fullmatch(text) is None:
        return None
    value = float(text)
    return value if math.isfinite(value) else None


def _kwargs(**values: Any) -> dict[str, Any]:
    """Drop unset (None) values so optional protobuf fields stay unset."""
    return {k: v for k, v in values.items() if v is not None}


def _definition(r: _Record) -> data_pb2.PointDefinition:
    kind = r.get(4)
    needs_range = kind != common_pb2.VALUE_KIND_SWITCH
    return data_pb2.PointDefinition(
        point_code=r.get(0),
        system_code=r.get(1),
        outstation_code=r.get(2),
        sensor_type=r.get(3),
        value_kind=kind,
        unit=r.get(5),
        range_high=r.number(
            6, default=None if needs_range else 1.0
        ),  # "range": a switch with no range is 0–1
        range_low=r.number(7, default=None if needs_range else 0.0),
        on_description=r.get(16),
        off_description=r.get(17),
        location=r.get(18),
        x=r.get(19),
        y=r.get(20),
        z=r.get(21),
        related_point_codes=r.get(22),
        defined_at=r.get(23),
        **_kwargs(
            alarm_high=r.get(8),
            alarm_high_clear=r.get(9),
            alarm_low=r.get(10),
            alarm_low_clear=r.get(11),
            power_off_high=r.get(12),
            power_restore_high=r.get(13),
            power_off_low=r.get(14),
            power_restore_low=r.get(15),
        ),
    )


def _observation(r: _Record) -> Observation:
    return Observation(*map(r.get, range(7)))


def _statistics(r: _Record) -> data_pb2.Statistics:
    r.get(11)  # 数据时间: checked, no protobuf field
    return data_pb2.Statistics(
        point_code=r.get(0),
        sensor_type=r.get(1),
        location=r.get(2),
        unit=r.get(3),
        start_time=r.get(4),
        end_time=r.get(5),
        max_value=r.get(6),
        max_time=r.get(7),
        min_value=r.get(8),
        min_time=r.get(9),
        avg_value=r.get(10),
    )


def _alarm(r: _Record) -> data_pb2.Alarm:
    point_code = r.get(0)
    start = r.get(5)
    end = r.get(6)
    r.get(16)  # 数据时间: checked, no protobuf field
    return data_pb2.Alarm(
        alarm_id=f"{point_code}@{_compact(start)}",
        point_code=point_code,
        sensor_type=r.get(1),
        location=r.get(2),
        unit=r.get(3),
        anomaly_type=r.get(4),
        state=common_pb2.ALARM_STATE_RAISED if end is None else common_pb2.ALARM_STATE_CLEARED,
        start_time=start,
        max_value=r.get(7),
        min_value=r.get(9),
        avg_value=r.get(11),
        reason=r.get(12),
        measures=r.get(13),
        recorded_by=r.get(15),
        **_kwargs(end_time=end, max_time=r.get(8), min_time=r.get(10), recorded_at=r.get(14)),
    )


def _outstation(r: _Record) -> data_pb2.OutstationDefinition:
    return data_pb2.OutstationDefinition(
        outstation_code=r.get(0), location=r.get(1), x=r.get(2), y=r.get(3), z=r.get(4)
    )


def _outstation_status(r: _Record) -> data_pb2.OutstationStatus:
    return data_pb2.OutstationStatus(
        outstation_code=r.get(0), run_state=r.get(1), power_state=r.get(2), time=r.get(3)
    )


def _track(r: _Record, i: int) -> list[data_pb2.TrackPoint]:
    points = []
    for pair in _SPLIT_TRACK.split(r.text(i)):
        if not pair:
            continue
        station, sep, when = pair.partition("&")
        if not sep or not station:
            raise r.error(
                _VALUE,
                i,
                f"轨迹项 {_show(pair)} 应为“基站编码&时刻”，多项用“,”或“#”分隔",
                f"track item {_show(pair)} must be 'station code&time', items joined by ',' or '#'",
            )
        time = _local_to_utc(when)
        if time is None:
            raise r.error(
                _TIME,
                i,
                f"轨迹项 {_show(pair)} 的时刻不是 yyyy-MM-dd HH:mm:ss 格式",
                f"the time of track item {_show(pair)} is not in yyyy-MM-dd HH:mm:ss",
            )
        points.append(data_pb2.TrackPoint(station_code=station, time=time))
    return points


def _personnel(r: _Record, data_time: datetime) -> data_pb2.PersonnelRecord:
    r.get(12), r.get(13)  # 标志1, 标志2: read, not kept (their meaning is not confirmed)
    return data_pb2.PersonnelRecord(
        card_code=r.get(0),
        name=r.get(1),
        direction=r.get(2),
        entered_mine_at=r.get(3),
        area_code=r.get(5),
        station_code=r.get(7),
        work_organization=r.get(9),
        distance_m=r.get(10),
        work_state=r.get(11),
        track=r.get(14),
        time=data_time,
        **_kwargs(exited_mine_at=r.get(4), entered_area_at=r.get(6), entered_station_at=r.get(8)),
    )


def _capacity(r: _Record, i: int) -> int:
    value = r.text(i)
    if not value:
        return 0
    if len(value) <= 10 and value.isascii() and value.isdigit() and int(value) <= 0xFFFFFFFF:
        return int(value)
    raise r.error(
        _VALUE,
        i,
        f"{_show(value)} 不是非负整数（0 表示不限）",
        f"{_show(value)} is not a non-negative integer (0: no limit)",
    )


def _area(r: _Record) -> data_pb2.AreaDefinition:
    r.get(4)  # 数据时间: checked, no protobuf field
    return data_pb2.AreaDefinition(area_code=r.get(0), name=r.get(1), area_type=r.get(2), capacity=r.get(3))


def _station(r: _Record) -> data_pb2.StationDefinition:
    r.get(6)  # 数据时间: checked, no protobuf field
    return data_pb2.StationDefinition(
        station_code=r.get(0), area_code=r.get(1), location=r.get(2), x=r.get(3), y=r.get(4), z=r.get(5)
    )


def _station_status(r: _Record) -> data_pb2.StationStatus:
    return data_pb2.StationStatus(
        station_code=r.get(0), run_state=r.get(1), power_state=r.get(2), time=r.get(3)
    )


_CONVERTERS: Final[Mapping[str, Callable[[_Record], Any]]] = MappingProxyType(
    {
        "CDDY": _definition,
        "CDSS": _observation,
        "TJSJ": _statistics,
        "YCBJ": _alarm,
        "FZDY": _outstation,
        "FZSS": _outstation_status,
        "RYQY": _area,
        "RYJZ": _station,
        "JZSS": _station_status,
    }
)


def _check_counts(file_name: str, spec: FileType, records: Sequence[str]) -> None:
    """Raise for the first record whose field count is wrong."""
    separators = spec.field_count - 1
    if set(map(str.count, records, repeat(";"))) - {separators}:
        for index, record in enumerate(records, 1):
            got = record.count(";") + 1
            if got != spec.field_count:
                raise _count_error(file_name, spec.fields, spec.fields_en, index, got)


def _count_error(
    file_name: str, fields: Sequence[str], fields_en: Sequence[str], index: int, got: int
) -> MtFileError:
    want = len(fields)
    missing = fields[got] if got < want else None
    return _fail(
        _FIELDS,
        file_name,
        f"有 {got} 个字段，应为 {want} 个（{';'.join(fields)}），请检查是否缺少“;”或记录结尾的“~”",
        f"has {got} fields, expected {want} ({';'.join(fields_en)}); check for a missing ';' or a missing "
        "'~' at the end of the record",
        record_index=index,
        field=missing,
        field_en=fields_en[got] if missing is not None else None,
    )
