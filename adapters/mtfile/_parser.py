"""MT/T 1201 (KJ) text files: parse into protobuf messages, and write them back.

Grammar: ``{煤矿编码}_{TYPE}_{yyyyMMddHHmmss}.txt``; body = header record ``煤矿编码;矿井名称;数据上传时间``,
then data records; fields are separated by ``;``, records end with ``~``, the file with ``||``. Times are
China local time (UTC+8) and come out as UTC. Any error raises :class:`MtFileError`; nothing is half-parsed.

Field orders follow the public parsers (see ``SUPPORTED_TYPES``). Three orders are santong's own choice,
because the standard's text is not public: RYQY ``区域编码;区域名称;区域类型;核定人数;数据时间``, RYJZ
``基站编码;区域编码;安装位置;X;Y;Z;数据时间``, JZSS ``基站编码;运行状态;供电状态;数据时间``. RYSS has 15 fields
and no 数据时间: its records take the header's 数据上传时间 as ``time``; its two flag fields (标志1, 标志2) are
read but not kept, their meaning is not confirmed. A 数据时间 without a protobuf field (TJSJ, YCBJ, RYQY, RYJZ) is
checked, then dropped.

Numbers are plain decimals (no plus sign, exponent or spaces). The CDSS hot path works column-wise on one big
split and falls back to the exact per-record path, which names the failing record and field, on any doubt. A CDSS
file keeps its records as :class:`ObservationColumns` (no object per record; each distinct value text and time
converted once); ``ParsedFile.observations`` builds the per-record view on first use, and ``to_batch`` packs
columns straight into an ObservationBatch.
"""

from __future__ import annotations

import gc
import math
import os
import re
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta, timezone
from itertools import repeat
from types import MappingProxyType
from typing import Any, Final, TypeVar

from santong.adapters.mtfile._filetypes import (
    ANOMALY_TYPES,
    DIRECTIONS,
    HEADER,
    POWER_STATES,
    RUN_STATES,
    STATUS_CODES,
    SUPPORTED_TYPES,
    VALUE_KINDS,
    FileType,
)
from santong.protocols.v1 import common_pb2, data_pb2

__all__ = [
    "CHINA_TZ",
    "CLAUSES_CHECKED",
    "INCOMPLETE_CLAUSE",
    "SUPPORTED_TYPES",
    "FileName",
    "FileType",
    "Header",
    "MtFileError",
    "Observation",
    "ObservationColumns",
    "ParsedFile",
    "format_time",
    "parse_bytes",
    "parse_file_name",
    "parse_path",
    "to_batch",
    "write_file",
]

INCOMPLETE_CLAUSE: Final = "ST-DATA-041"
_NAME: Final = "ST-DATA-040"
_FIELDS: Final = "ST-DATA-042"
_ENCODING: Final = "ST-DATA-043"
_TIME: Final = "ST-DATA-044"
_VALUE: Final = "ST-DATA-045"
_TYPE: Final = "ST-DATA-046"
_MINE: Final = "ST-DATA-047"
#: The clauses this parser enforces (grammar of the text files); the validation core checks the content.
CLAUSES_CHECKED: Final = frozenset(
    {_NAME, INCOMPLETE_CLAUSE, _FIELDS, _ENCODING, _TIME, _VALUE, _TYPE, _MINE}
)

CHINA_TZ: Final = timezone(timedelta(hours=8), "UTC+08:00")
_EIGHT_HOURS: Final = timedelta(hours=8)
_MS: Final = timedelta(milliseconds=1)
_SINT32_MAX: Final = 2**31 - 1


class MtFileError(ValueError):
    """A file that breaks the MT/T 1201 grammar; ``clause_id`` names the rule, the message says what to fix.

    Example::

        try:
            parsed = parse_bytes(name, data)
        except MtFileError as e:
            if e.clause_id == INCOMPLETE_CLAUSE:
                retry_later(name)
    """

    def __init__(
        self,
        clause_id: str,
        message: str,
        *,
        file_name: str,
        record_index: int | None = None,
        field: str | None = None,
    ) -> None:
        super().__init__(f"[{clause_id}] {message}")
        self.clause_id = clause_id
        self.file_name = file_name
        self.record_index = record_index
        self.field = field
        #: The 1-based line of the file, where the parser knows it without the text (encoding errors).
        self.line: int | None = None
        #: What is wrong, without the where (file, record, field), in Chinese and English.
        self.message_zh = self.message_en = str(self)
        self.field_en: str | None = None


def _fail(
    clause_id: str,
    file_name: str,
    zh: str,
    en: str,
    *,
    record_index: int | None = None,
    field: str | None = None,
    field_en: str | None = None,
) -> MtFileError:
    """Build an error whose message names the file, the record and the field in Chinese and English."""
    where_zh = f"文件 {file_name}"
    where_en = f"file {file_name}"
    if record_index is not None:
        if record_index == 0:
            where_zh += "，表头（第 0 条记录）"
            where_en += ", header (record 0)"
        else:
            where_zh += f"，第 {record_index} 条记录"
            where_en += f", record {record_index}"
    if field is not None:
        where_zh += f"，字段“{field}”"
        where_en += f", field {field}" + (f" ({field_en})" if field_en else "")
    error = MtFileError(
        clause_id,
        f"{where_zh}：{zh} / {where_en}: {en}",
        file_name=file_name,
        record_index=record_index,
        field=field,
    )
    error.message_zh, error.message_en, error.field_en = zh, en, field_en
    return error


def _show(text: str, limit: int = 40) -> str:
    """Quote a field value for a message, shortened."""
    return repr(text if len(text) <= limit else text[:limit] + "…")


_HEADER_FIELDS: Final = HEADER.fields
_VALUE_KINDS: Final = VALUE_KINDS
_ANOMALY_TYPES: Final = ANOMALY_TYPES
_RUN_STATES: Final = RUN_STATES
_POWER_STATES: Final = POWER_STATES
_DIRECTIONS: Final = DIRECTIONS
_STATUS_CODES: Final = STATUS_CODES

_NAME_RE: Final = re.compile(r"([0-9]{12})_([A-Z]+)_([0-9]{14})\.txt")
_LOOSE_NAME_RE: Final = re.compile(r"([0-9]{12})_([A-Za-z0-9]+)_([0-9]{14})\.txt")
_TIME_RE: Final = re.compile(r"[0-9]{4}-[0-9]{2}-[0-9]{2} [0-9]{2}:[0-9]{2}:[0-9]{2}")
# Plain decimals only (ST-DATA-045): optional minus sign and decimal point, no plus sign, exponent or spaces.
_NUMBER_RE: Final = re.compile(r"-?(?:[0-9]+\.?[0-9]*|\.[0-9]+)")
_NUMBER_CHARS: Final = re.compile(r"[0-9.\-]*")
_MINE_CODE_RE: Final = re.compile(r"[0-9]{12}")
_SPLIT_RELATED: Final = re.compile(r"[,&]")
_SPLIT_TRACK: Final = re.compile(r"[,#]")


# ---------------------------------------------------------------------------------------------------------
# Result types


@dataclass(frozen=True, slots=True)
class FileName:
    """The parts of a file name: mine code, type code and generation time (UTC)."""

    mine_code: str
    file_type: str
    generated_at: datetime


@dataclass(frozen=True, slots=True)
class Header:
    """The header record: mine code, mine name and upload time (UTC)."""

    mine_code: str
    mine_name: str
    uploaded_at: datetime


@dataclass(slots=True)
class Observation:
    """One CDSS record; ``to_batch`` packs a list of them into a columnar ObservationBatch."""

    point_code: str
    sensor_type: str
    location: str
    value: float
    unit: str
    status: int
    time: datetime


@dataclass(slots=True)
class ObservationColumns:
    """CDSS records column by column, as the hot path reads them (no object per record).

    ``stamps`` are the 数据时间 texts as written, ``times`` maps each distinct one to its UTC datetime.
    ``to_batch`` packs columns (or a slice of them) straight into an ObservationBatch.

    Example::

        cols = parse_bytes(name, data).columns
        batch = to_batch(cols, alias_of, sequence=7, start=0, stop=10_000)
    """

    point_codes: list[str]
    sensor_types: list[str]
    locations: list[str]
    values: list[float]
    units: list[str]
    statuses: list[int]
    stamps: list[str]
    times: dict[str, datetime]

    def __len__(self) -> int:
        return len(self.point_codes)

    def observations(self) -> list[Observation]:
        """One :class:`Observation` per record (records sharing a time share its datetime object)."""
        return list(
            map(
                Observation,
                self.point_codes,
                self.sensor_types,
                self.locations,
                self.values,
                self.units,
                self.statuses,
                map(self.times.__getitem__, self.stamps),
            )
        )

    @classmethod
    def from_observations(cls, observations: Sequence[Observation]) -> ObservationColumns:
        """Columns of a list of observations."""
        times: dict[str, datetime] = {}
        stamps = []
        for o in observations:
            stamp = o.time.isoformat()
            times.setdefault(stamp, o.time)
            stamps.append(stamp)
        return cls(
            [o.point_code for o in observations],
            [o.sensor_type for o in observations],
            [o.location for o in observations],
            [o.value for o in observations],
            [o.unit for o in observations],
            [o.status for o in observations],
            stamps,
            times,
        )


@dataclass(slots=True)
class ParsedFile:
    """A fully parsed file; only the list named by ``SUPPORTED_TYPES[file_type].result`` is filled.

    A CDSS file keeps its records as :attr:`columns`; :attr:`observations` builds the per-record view of them
    on first use (and setting it replaces the columns).
    """

    file_name: FileName
    encoding: str
    header: Header
    file_type: str
    definitions: list[data_pb2.PointDefinition] = field(default_factory=list)
    _columns: ObservationColumns | None = field(default=None, repr=False, compare=False)
    _observations: list[Observation] | None = field(default=None, repr=False, compare=False)
    alarms: list[data_pb2.Alarm] = field(default_factory=list)
    statistics: list[data_pb2.Statistics] = field(default_factory=list)
    outstations: list[data_pb2.OutstationDefinition] = field(default_factory=list)
    outstation_statuses: list[data_pb2.OutstationStatus] = field(default_factory=list)
    personnel: list[data_pb2.PersonnelRecord] = field(default_factory=list)
    areas: list[data_pb2.AreaDefinition] = field(default_factory=list)
    stations: list[data_pb2.StationDefinition] = field(default_factory=list)
    station_statuses: list[data_pb2.StationStatus] = field(default_factory=list)

    @property
    def observations(self) -> list[Observation]:
        """The CDSS records, one :class:`Observation` each."""
        if self._observations is None:
            self._observations = [] if self._columns is None else self._columns.observations()
        return self._observations

    @observations.setter
    def observations(self, value: list[Observation]) -> None:
        self._observations = value
        self._columns = None

    @property
    def columns(self) -> ObservationColumns:
        """The CDSS records column by column (the fast way to a batch)."""
        if self._columns is None:
            self._columns = ObservationColumns.from_observations(self._observations or [])
        return self._columns

    @property
    def record_count(self) -> int:
        """Number of data records, whichever type the file is."""
        if self.file_type == "CDSS" and self._observations is None:
            return 0 if self._columns is None else len(self._columns)
        return len(self.records)

    @property
    def records(self) -> list[Any]:
        """The filled result list, whichever type the file is."""
        result: list[Any] = getattr(self, SUPPORTED_TYPES[self.file_type].result)
        return result


# ---------------------------------------------------------------------------------------------------------
# Times


def _local_to_utc(text: str) -> datetime | None:
    """``yyyy-MM-dd HH:mm:ss`` China local time → aware UTC datetime; None when malformed."""
    if len(text) != 19 or _TIME_RE.fullmatch(text) is None:
        return None
    try:
        local = datetime(
            int(text[0:4]),
            int(text[5:7]),
            int(text[8:10]),
            int(text[11:13]),
            int(text[14:16]),
            int(text[17:19]),
            tzinfo=UTC,
        )
        return local - _EIGHT_HOURS
    except (ValueError, OverflowError):
        return None


def format_time(dt: datetime) -> str:
    """Aware datetime (normally UTC) → China local ``yyyy-MM-dd HH:mm:ss``; sub-seconds are dropped.

    Example: ``format_time(datetime(2025, 1, 15, 2, 30, tzinfo=UTC)) == "2025-01-15 10:30:00"``.
    """
    if dt.tzinfo is None or dt.utcoffset() is None:
        raise ValueError("时间必须带时区（UTC） / the datetime must be timezone-aware (UTC)")
    t = dt.astimezone(CHINA_TZ)
    return f"{t.year:04d}-{t.month:02d}-{t.day:02d} {t.hour:02d}:{t.minute:02d}:{t.second:02d}"


def _compact(dt: datetime) -> str:
    t = dt.astimezone(CHINA_TZ)
    return f"{t.year:04d}{t.month:02d}{t.day:02d}{t.hour:02d}{t.minute:02d}{t.second:02d}"


# ---------------------------------------------------------------------------------------------------------
# File names


def parse_file_name(name: str) -> FileName:
    """Parse ``{煤矿编码}_{TYPE}_{yyyyMMddHHmmss}.txt`` (a bare name, not a path).

    Example: ``parse_file_name("140421000001_CDSS_20250115103000.txt").file_type == "CDSS"``.
    """
    m = _NAME_RE.fullmatch(name)
    if m is None:
        loose = _LOOSE_NAME_RE.fullmatch(name)
        if loose is not None:
            raise _fail(
                _TYPE,
                name,
                f"文件类型 {_show(loose.group(2))} 不受支持；支持的类型：{'、'.join(SUPPORTED_TYPES)}",
                f"file type {_show(loose.group(2))} is not supported; use one of {', '.join(SUPPORTED_TYPES)}",
            )
        raise _fail(
            _NAME,
            name,
            "文件名不符合“煤矿编码(12位数字)_类型_yyyyMMddHHmmss.txt”，例如 140421000001_CDSS_20250115103000.txt",
            "the file name must be {mine code, 12 digits}_{TYPE}_{yyyyMMddHHmmss}.txt, "
            "e.g. 140421000001_CDSS_20250115103000.txt",
        )
    mine_code, file_type, stamp = m.groups()
    if file_type not in SUPPORTED_TYPES:
        raise _fail(
            _TYPE,
            name,
            f"文件类型 {file_type} 不受支持；支持的类型：{'、'.join(SUPPORTED_TYPES)}",
            f"file type {file_type} is not supported; use one of {', '.join(SUPPORTED_TYPES)}",
        )
    generated_at = _local_to_utc(
        f"{stamp[0:4]}-{stamp[4:6]}-{stamp[6:8]} {stamp[8:10]}:{stamp[10:12]}:{stamp[12:14]}"
    )
    if generated_at is None:
        raise _fail(
            _NAME,
            name,
            f"文件名中的时间 {stamp} 不是有效的 yyyyMMddHHmmss 时间",
            f"the time {stamp} in the file name is not a valid yyyyMMddHHmmss time",
        )
    return FileName(mine_code, file_type, generated_at)


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


def _floats(values: list[str]) -> list[float] | None:
    """Plain decimals → floats, converting each distinct text once; None on anything else."""
    distinct = set(values)
    if _NUMBER_CHARS.fullmatch("".join(distinct)) is None:
        return None
    try:
        if len(distinct) * 4 > len(values):
            numbers = list(map(float, values))
        else:  # sensor values repeat (switches, steady readings): one float() per distinct text
            numbers = list(map(dict(zip(distinct, map(float, distinct), strict=True)).__getitem__, values))
    except ValueError:
        return None
    # A sum that overflows only sends a valid file down the exact path, which checks value by value.
    return numbers if math.isfinite(sum(numbers)) else None


def _columns(
    fields: list[str], stride: int, times: dict[str, datetime], start: int = 0, stop: int | None = None
) -> ObservationColumns | None:
    """Check and convert CDSS columns sliced from a flat field list; None means "use the exact path"."""
    codes = fields[start:stop:stride]
    if "" in codes:
        return None
    numbers = _floats(fields[start + 3 : stop : stride])
    if numbers is None:
        return None
    status_codes: list[Any] = list(map(_STATUS_CODES.get, fields[start + 5 : stop : stride]))
    if None in status_codes:
        return None
    stamps = fields[start + 6 : stop : stride]
    for stamp in set(stamps).difference(times):
        utc = _local_to_utc(stamp)
        if utc is None:
            return None
        times[stamp] = utc
    return ObservationColumns(
        codes,
        fields[start + 1 : stop : stride],
        fields[start + 2 : stop : stride],
        numbers,
        fields[start + 4 : stop : stride],
        status_codes,
        stamps,
        times,
    )


def _fast_cdss(text: str, times: dict[str, datetime]) -> tuple[str, ObservationColumns] | None:
    """The CDSS hot path for regular files (one record separator throughout, no stray ``~`` or line breaks).

    Returns the header record and the columns, or None when anything is irregular; the exact path
    then parses the file again and reports the first problem precisely.
    """
    body = text.rstrip()
    for separator in ("~\r\n", "~\n", "~"):
        if body.endswith(separator + "||"):
            break
    else:
        return None
    separators = body.count(separator)
    if body.endswith(";" + separator + "||"):  # KJ exports often end every record with ";~"
        if body.count(";" + separator) < separators - 1:
            return None  # only some records do: the exact path strips them record by record
        body = body.replace(";" + separator, separator)
    header = body[: body.find(separator)]
    records = separators - 1
    if records < 1 or "\r" in header or "\n" in header or body.count("~") != separators:
        return None
    # Every separator becomes a lone "~" field (a cached one-character string: no allocation): header (3 fields),
    # "~", then per record 7 fields and "~", and "||" last.
    fields = body.replace(separator, ";~;").split(";")
    if len(fields) != 8 * records + 5 or fields[3::8].count("~") != separators:
        return None
    columns = _columns(fields, 8, times, 4, 8 * records + 3)
    if columns is None:
        return None
    # Line breaks inside a field are kept on both paths; at a record's start (the exact path strips them) they
    # would end up in the point code. The end of a record is the 数据时间, which the time check already pins down.
    codes = "".join(columns.point_codes)
    if "\n" in codes or "\r" in codes:
        return None
    return header, columns


# ---------------------------------------------------------------------------------------------------------
# Files


def _decode(file_name: str, data: bytes) -> tuple[str, str]:
    if data.startswith(b"\xef\xbb\xbf"):
        data = data[3:]
    try:
        return data.decode("utf-8"), "utf-8"
    except UnicodeDecodeError as e:
        utf8_start = e.start
    try:
        return data.decode("gb18030"), "gbk"
    except UnicodeDecodeError as e:
        # The encoding that decodes further is the file's: the bad byte is where that one stops.
        start = max(utf8_start, e.start)
        line = data.count(b"\n", 0, start) + 1
        error = _fail(
            _ENCODING,
            file_name,
            f"既不是 UTF-8 也不是 GBK 编码（第 {line} 行、第 {start} 字节起无法解码），请以 UTF-8 或 GBK 保存",
            f"is neither UTF-8 nor GBK (cannot decode from byte {start}, line {line}); save it as UTF-8 or GBK",
        )
        error.line = line
        raise error from None


def _split_records(file_name: str, text: str) -> list[str]:
    """Split the body into records (header first), line breaks around records removed."""
    body = text.rstrip()
    if not body.endswith("||"):
        raise _fail(
            INCOMPLETE_CLAUSE,
            file_name,
            "文件不完整：缺少结尾的“||”（可能仍在写入或被截断），不导入任何记录，写完后会重试",
            "the file is incomplete: the final '||' is missing (still being written, or truncated); "
            "nothing was imported, it will be retried when complete",
        )
    body = body[:-2].strip("\r\n")
    if not body.endswith("~"):
        pieces = body.split("~")
        raise _fail(
            _FIELDS,
            file_name,
            "缺少表头记录“煤矿编码;矿井名称;数据上传时间~”"
            if not body
            else "记录没有以“~”结尾，请在每条记录（包括最后一条）后写“~”，文件最后写“||”",
            "the header record 'mine code;mine name;upload time~' is missing"
            if not body
            else "the record does not end with '~'; end every record (the last one too) with '~' "
            "and the file with '||'",
            record_index=len(pieces) - 1,
        )
    records = body[:-1].split("~")
    if "\r" in body or "\n" in body:
        records = list(map(str.strip, records, repeat("\r\n")))
    return records


def _strip_trailing(records: list[str], count: int) -> list[str]:
    """Drop the separator some KJ systems write after a record's last field (``…;2025-01-15 10:30:00;~``).

    Only a record with exactly one field too many, that extra field empty, loses it: a record that is short of a
    field or has more than one extra keeps its count and is reported (ST-DATA-042).
    """
    if not any(map(str.endswith, records, repeat(";"))):
        return records
    return [r[:-1] if r.endswith(";") and r.count(";") == count else r for r in records]


def _header(name: FileName, file_name: str, record: str, times: dict[str, datetime]) -> Header:
    values = record.split(";")
    if len(values) == len(_HEADER_FIELDS) + 1 and not values[-1]:
        del values[-1]  # a trailing separator after the upload time
    if len(values) != len(_HEADER_FIELDS):
        raise _fail(
            _FIELDS,
            file_name,
            f"表头有 {len(values)} 个字段，应为 3 个：煤矿编码;矿井名称;数据上传时间",
            f"the header has {len(values)} fields, expected 3: mine code;mine name;upload time",
            record_index=0,
        )
    r = _Record(file_name, 0, values, HEADER, times)
    mine_code = values[0]
    if mine_code != name.mine_code:
        raise r.error(
            _MINE,
            0,
            f"表头煤矿编码 {_show(mine_code)} 与文件名中的 {name.mine_code} 不一致",
            f"the header mine code {_show(mine_code)} differs from {name.mine_code} in the file name",
        )
    return Header(mine_code, values[1], r.time(2))


def parse_bytes(name: str, data: bytes) -> ParsedFile:
    """Parse a whole file (its bare name and its bytes); raise MtFileError on the first problem.

    Example::

        parsed = parse_bytes("140421000001_CDSS_20250115103000.txt", data)
        for obs in parsed.observations:
            print(obs.point_code, obs.value, obs.time)
    """
    file_name = parse_file_name(name)
    spec = SUPPORTED_TYPES[file_name.file_type]
    text, encoding = _decode(name, bytes(data))
    # Parsing allocates one object per field; generational GC passes over them cost more than the parse.
    gc_was_enabled = gc.isenabled()
    gc.disable()
    try:
        times: dict[str, datetime] = {}
        fast = _fast_cdss(text, times) if spec.code == "CDSS" else None
        if fast is not None:
            header = _header(file_name, name, fast[0], times)
            return ParsedFile(file_name, encoding, header, spec.code, _columns=fast[1])
        records = _split_records(name, text)
        header = _header(file_name, name, records[0], times)
        del records[0]
        records = _strip_trailing(records, spec.field_count)
        _check_counts(name, spec, records)
        if spec.code == "CDSS" and records:
            columns = _columns(";".join(records).split(";"), 7, times)
            if columns is not None:
                return ParsedFile(file_name, encoding, header, spec.code, _columns=columns)
        rows = list(map(str.split, records, repeat(";")))
        if spec.code == "RYSS":
            uploaded = header.uploaded_at
            results = _convert(name, spec, rows, times, lambda r: _personnel(r, uploaded))
        else:
            results = _convert(name, spec, rows, times, _CONVERTERS[spec.code])
        parsed = ParsedFile(file_name, encoding, header, spec.code)
        setattr(parsed, spec.result, results)
        return parsed
    finally:
        if gc_was_enabled:
            gc.enable()


def _convert(
    file_name: str,
    spec: FileType,
    rows: Iterable[list[str]],
    times: dict[str, datetime],
    convert: Callable[[_Record], Any],
) -> list[Any]:
    return [convert(_Record(file_name, index, row, spec, times)) for index, row in enumerate(rows, 1)]


def parse_path(path: str | os.PathLike[str]) -> ParsedFile:
    """Read a file and parse it under its own base name."""
    with open(path, "rb") as f:
        data = f.read()
    return parse_bytes(os.path.basename(os.fspath(path)), data)


# ---------------------------------------------------------------------------------------------------------
# Columnar batches


def to_batch(
    observations: Sequence[Observation] | ObservationColumns,
    alias_of: Mapping[str, int],
    sequence: int,
    *,
    backfill: bool = False,
    start: int = 0,
    stop: int | None = None,
) -> data_pb2.ObservationBatch:
    """Pack observations (a list, or columns) into an ObservationBatch: base_time = earliest time, offsets in ms.

    ``start``/``stop`` pick a slice of the records (one batch of a large file). Example:
    ``to_batch(parsed.columns, {"14042100000101MN00010A01": 1}, sequence=7)``.
    """
    if isinstance(observations, ObservationColumns):
        return _columns_batch(observations, alias_of, sequence, backfill, start, stop)
    observations = observations[start:stop]
    batch = data_pb2.ObservationBatch(sequence=sequence, backfill=backfill)
    if not observations:
        return batch
    stamps = [o.time for o in observations]
    base = min(stamps)
    offsets = {t: (t - base) // _MS for t in set(stamps)}
    if max(offsets.values()) > _SINT32_MAX:
        raise _span_error()
    try:
        aliases = [alias_of[o.point_code] for o in observations]
    except KeyError as e:
        raise _alias_error(e.args[0]) from None
    batch.base_time.FromDatetime(base)
    batch.alias.extend(aliases)
    batch.value.extend([o.value for o in observations])
    batch.time_offset_ms.extend(list(map(offsets.__getitem__, stamps)))
    batch.status.extend([o.status for o in observations])
    return batch


def _span_error() -> ValueError:
    return ValueError(
        "一批观测的时间跨度超过 24.8 天（int32 毫秒），请分成多批 / the observations span more than "
        "24.8 days (int32 milliseconds); split them into several batches"
    )


def _alias_error(code: str) -> ValueError:
    return ValueError(
        f"测点 {code} 没有别名：请先发送它的测点定义（CDDY） / point {code} has no alias: "
        "send its definition (CDDY) first"
    )


_EPOCH: Final = datetime(1970, 1, 1, tzinfo=UTC)


def _columns_batch(
    cols: ObservationColumns,
    alias_of: Mapping[str, int],
    sequence: int,
    backfill: bool,
    start: int,
    stop: int | None,
) -> data_pb2.ObservationBatch:
    """The columnar batch straight from the columns: one time conversion per distinct 数据时间."""
    batch = data_pb2.ObservationBatch(sequence=sequence, backfill=backfill)
    whole = start == 0 and (stop is None or stop >= len(cols.point_codes))
    stamps = cols.stamps if whole else cols.stamps[start:stop]
    if not stamps:
        return batch
    times = cols.times
    ms = {s: (times[s] - _EPOCH) // _MS for s in set(stamps)}
    base = min(ms.values())
    if max(ms.values()) - base > _SINT32_MAX:
        raise _span_error()
    codes = cols.point_codes if whole else cols.point_codes[start:stop]
    try:
        aliases = list(map(alias_of.__getitem__, codes))
    except KeyError as e:
        raise _alias_error(e.args[0]) from None
    offsets = {s: t - base for s, t in ms.items()}
    batch.base_time.FromMilliseconds(base)
    batch.alias.extend(aliases)
    batch.value.extend(cols.values if whole else cols.values[start:stop])
    batch.time_offset_ms.extend(list(map(offsets.__getitem__, stamps)))
    batch.status.extend(cols.statuses if whole else cols.statuses[start:stop])
    return batch


# ---------------------------------------------------------------------------------------------------------
# Writer


def write_file(
    mine_code: str,
    mine_name: str,
    file_type: str,
    records: Sequence[Sequence[str]],
    generated_at: datetime,
    encoding: str = "utf-8",
) -> tuple[str, bytes]:
    """Build a file name and body; the header's upload time is ``generated_at``.

    Example::

        name, data = write_file("140421000001", "示例煤矿", "CDSS",
                                [["14042100000101MN00010A01", "0001", "1号工作面", "0.52", "%CH4", "0",
                                  "2025-01-15 10:30:00"]], datetime(2025, 1, 15, 2, 30, tzinfo=UTC))
    """
    stamp = _compact(generated_at) if generated_at.tzinfo is not None else "?"
    name = f"{mine_code}_{file_type}_{stamp}.txt"
    if _MINE_CODE_RE.fullmatch(mine_code) is None or stamp == "?":
        raise _fail(
            _NAME,
            name,
            "煤矿编码须为 12 位数字，generated_at 须带时区",
            "the mine code must be 12 digits and generated_at timezone-aware",
        )
    spec = SUPPORTED_TYPES.get(file_type)
    if spec is None:
        raise _fail(
            _TYPE,
            name,
            f"文件类型不受支持；支持的类型：{'、'.join(SUPPORTED_TYPES)}",
            f"the file type is not supported; use one of {', '.join(SUPPORTED_TYPES)}",
        )
    if encoding not in ("utf-8", "gbk"):
        raise ValueError(f"encoding 须为 utf-8 或 gbk / encoding must be utf-8 or gbk, not {encoding!r}")
    lines = [f"{mine_code};{_clean(name, 0, 1, _HEADER_FIELDS, mine_name)};{format_time(generated_at)}~"]
    count = spec.field_count
    for index, record in enumerate(records, 1):
        if len(record) != count:
            raise _count_error(name, spec.fields, spec.fields_en, index, len(record))
        lines.append(";".join([_clean(name, index, i, spec.fields, v) for i, v in enumerate(record)]) + "~")
    text = "\r\n".join(lines) + "\r\n||"
    try:
        return name, text.encode(encoding)
    except UnicodeEncodeError as e:
        raise _fail(
            _ENCODING,
            name,
            f"字符 {_show(e.object[e.start : e.end])} 无法用 {encoding} 编码",
            f"the characters {_show(e.object[e.start : e.end])} cannot be encoded in {encoding}",
        ) from None


def _clean(file_name: str, index: int, i: int, fields: Sequence[str], value: str) -> str:
    if not isinstance(value, str):
        raise TypeError(f"字段值须为 str / field values must be str, got {type(value).__name__}")
    if ";" in value or "~" in value or "|" in value or "\r" in value or "\n" in value:
        raise _fail(
            _FIELDS,
            file_name,
            f"字段值 {_show(value)} 含有“;”“~”“|”或换行，会破坏记录",
            f"the value {_show(value)} contains ';', '~', '|' or a line break, which would break the record",
            record_index=index,
            field=fields[i],
        )
    return value
