"""MT/T records → protobuf messages, driven by the field tables of ``_filetypes``.

One reader per field **kind** turns a field's text into its value or says what is wrong (:class:`_Bad`). A file's
records are converted column by column: each distinct text of a column is read once (sensor values, times and
codes repeat), every bad field of every record is collected (file, record, field, clause, what to write instead),
and the messages are built from the table's protobuf field names. Three types add columns the file does not
write: CDDY (a switch's empty range is 0–1), YCBJ (alarm ID and state from the start and end times) and RYSS (the
header's upload time). CDSS stays in columns (:class:`ObservationColumns`, no object per record).
"""

from __future__ import annotations

import math
import re
from collections.abc import Callable, Mapping, Sequence
from datetime import datetime
from itertools import repeat
from types import MappingProxyType
from typing import Any, Final

from google.protobuf.descriptor import FieldDescriptor
from google.protobuf.timestamp_pb2 import Timestamp
from santong.adapters.mtfile._errors import _FIELDS, _TIME, _VALUE, MtFileError, _fail, _show
from santong.adapters.mtfile._filetypes import STATUS_CODES, FieldSpec, FileType
from santong.adapters.mtfile._model import ObservationColumns, _compact, _local_to_utc
from santong.protocols.v1 import common_pb2, data_pb2

__all__ = ["Converted", "convert_records", "count_errors", "read_header"]

_STATUS: Final = dict(STATUS_CODES)
# Plain decimals only (ST-DATA-045): optional minus sign and decimal point, no plus sign, exponent or spaces.
_NUMBER_RE: Final = re.compile(r"-?(?:[0-9]+\.?[0-9]*|\.[0-9]+)")
_SPLIT_RELATED: Final = re.compile(r"[,&]")
_SPLIT_TRACK: Final = re.compile(r"[,#]")


class _Bad(Exception):
    """A field text its kind cannot read: the clause and what is wrong, in Chinese and English."""

    def __init__(self, clause_id: str, zh: str, en: str) -> None:
        super().__init__(clause_id)
        self.clause_id, self.zh, self.en = clause_id, zh, en


# ---------------------------------------------------------------------------------------------------------
# One reader per field kind: text → value, or _Bad


def _number(text: str) -> float:
    if _NUMBER_RE.fullmatch(text) is not None:
        value = float(text)
        if math.isfinite(value):
            return value
    raise _Bad(
        _VALUE,
        f"{_show(text)} 不是普通十进制数，请写成如 0.52、-12.5 的数字（不带正号、指数、单位或空格）",
        f"{_show(text)} is not a plain decimal number; write e.g. 0.52 or -12.5 (no plus sign, exponent, unit "
        "or spaces)",
    )


def _time(text: str, times: dict[str, datetime]) -> datetime:
    cached = times.get(text)
    if cached is not None:
        return cached
    result = _local_to_utc(text)
    if result is None:
        raise _Bad(
            _TIME,
            f"{_show(text)} 不是 yyyy-MM-dd HH:mm:ss 格式的时间（北京时间），例如 2025-01-15 10:30:00",
            f"{_show(text)} is not a time in yyyy-MM-dd HH:mm:ss (China local time), e.g. 2025-01-15 10:30:00",
        )
    times[text] = result
    return result


def _key(text: str, times: dict[str, datetime]) -> str:
    if not text:
        raise _Bad(_VALUE, "不能为空", "must not be empty")
    return text


def _status(text: str, times: dict[str, datetime]) -> int:
    result = _STATUS.get(text)
    if result is None and len(text) <= 3 and text.isascii() and text.isdigit() and int(text) <= 255:
        result = int(text)
    if result is None:
        raise _Bad(
            _VALUE,
            f"{_show(text)} 不是 0–255 的整数（测点状态位：1 报警、2 断电、4 标校……）",
            f"{_show(text)} is not an integer 0–255 (status bits: 1 alarm, 2 power-off, 4 calibrating …)",
        )
    return result


def _count(text: str, times: dict[str, datetime]) -> int:
    if not text:
        return 0
    if len(text) <= 10 and text.isascii() and text.isdigit() and int(text) <= 0xFFFFFFFF:
        return int(text)
    raise _Bad(
        _VALUE,
        f"{_show(text)} 不是非负整数（0 表示不限）",
        f"{_show(text)} is not a non-negative integer (0: no limit)",
    )


def _track(text: str, times: dict[str, datetime]) -> list[data_pb2.TrackPoint]:
    points = []
    for pair in _SPLIT_TRACK.split(text):
        if not pair:
            continue
        station, sep, when = pair.partition("&")
        if not sep or not station:
            raise _Bad(
                _VALUE,
                f"轨迹项 {_show(pair)} 应为“基站编码&时刻”，多项用“,”或“#”分隔",
                f"track item {_show(pair)} must be 'station code&time', items joined by ',' or '#'",
            )
        time = _local_to_utc(when)
        if time is None:
            raise _Bad(
                _TIME,
                f"轨迹项 {_show(pair)} 的时刻不是 yyyy-MM-dd HH:mm:ss 格式",
                f"the time of track item {_show(pair)} is not in yyyy-MM-dd HH:mm:ss",
            )
        points.append(data_pb2.TrackPoint(station_code=station, time=time))
    return points


Reader = Callable[[str, dict[str, datetime]], Any]

#: Field kind → reader (None: the text is the value). The one place a field's format is read.
_READERS: Final[Mapping[str, Reader | None]] = MappingProxyType(
    {
        "key": _key,
        "text": None,
        "type": None,  # resolved to a dictionary code by the converter (names, aliases, site mapping)
        "number": lambda t, _: _number(t),
        "number0": lambda t, _: _number(t) if t else 0.0,
        "optional": lambda t, _: _number(t) if t else None,
        "range": lambda t, _: _number(t) if t else None,  # empty: 0–1 for a switch (CDDY), else an error
        "time": _time,
        "time?": lambda t, times: _time(t, times) if t else None,
        "status": _status,
        "codes": lambda t, _: [code for code in _SPLIT_RELATED.split(t) if code],
        "track": _track,
        "count": _count,
    }
)


def _code_reader(table: Mapping[str, Any]) -> Reader:
    def read(text: str, times: dict[str, datetime]) -> Any:
        result = table.get(text)
        if result is None:
            raise _Bad(
                _VALUE,
                f"代码 {_show(text)} 不在代码表中，可用：{'、'.join(table)}",
                f"code {_show(text)} is not in its code list; use one of {', '.join(table)}",
            )
        return result

    return read


def _reader(spec: FieldSpec) -> Reader | None:
    return _code_reader(spec.codes) if spec.codes is not None else _READERS[spec.kind]


# ---------------------------------------------------------------------------------------------------------
# Columns


class Converted:
    """The converted columns of a file's good records and the errors of its bad ones."""

    __slots__ = ("columns", "errors", "indexes")

    def __init__(self, columns: list[list[Any]], indexes: list[int], errors: list[MtFileError]) -> None:
        self.columns, self.indexes, self.errors = columns, indexes, errors


def _error(
    file_name: str, ft: FileType, record: int, i: int, clause_id: str, zh: str, en: str
) -> MtFileError:
    return _fail(
        clause_id, file_name, zh, en, record_index=record, field=ft.fields[i], field_en=ft.fields_en[i]
    )


def _convert_columns(
    file_name: str, ft: FileType, rows: Sequence[list[str]], indexes: list[int], times: dict[str, datetime]
) -> Converted:
    """Every field of every row read as its table says: one reader call per distinct text of a column."""
    texts: list[Sequence[str]] = list(map(list, zip(*rows, strict=True))) if rows else [[] for _ in ft.specs]
    out: list[list[Any]] = []
    bad_at: dict[int, list[tuple[int, _Bad]]] = {}
    for i, spec in enumerate(ft.specs):
        column = texts[i]
        read = _reader(spec)
        if read is None:
            out.append(list(column))
            continue
        values: dict[str, Any] = {}
        bad: dict[str, _Bad] = {}
        for text in set(column):
            try:
                values[text] = read(text, times)
            except _Bad as e:
                bad[text] = e
        if bad:
            for j, text in enumerate(column):
                if text in bad:
                    bad_at.setdefault(j, []).append((i, bad[text]))
        out.append(list(map(values.get, column)))
    errors = [
        _error(file_name, ft, indexes[j], i, e.clause_id, e.zh, e.en)
        for j in sorted(bad_at)
        for i, e in bad_at[j]
    ]
    return Converted(out, indexes, errors)


# ---------------------------------------------------------------------------------------------------------
# Columns the file does not write (per type), then messages


def _cddy(file_name: str, ft: FileType, c: dict[str, list[Any]], conv: Converted, header: Any) -> None:
    """A switch's empty range is 0–1; any other point's range must be written."""
    kinds, errors = c["value_kind"], conv.errors
    for name, default in (("range_high", 1.0), ("range_low", 0.0)):
        column = c[name]
        if None not in column:
            continue
        i = ft.protos.index(name)
        for j, v in enumerate(column):
            if v is not None:
                continue
            if kinds[j] == common_pb2.VALUE_KIND_SWITCH:
                column[j] = default
            elif kinds[j] is not None:
                errors.append(
                    _error(file_name, ft, conv.indexes[j], i, _VALUE, "不能为空", "must not be empty")
                )


def _ycbj(file_name: str, ft: FileType, c: dict[str, list[Any]], conv: Converted, header: Any) -> None:
    """Alarm ID ``{测点编码}@{开始时间}`` (the converter adds ``#{异常类型}``); an end time clears it."""
    c["alarm_id"] = [
        f"{code}@{_compact(start)}" if start is not None else ""
        for code, start in zip(c["point_code"], c["start_time"], strict=True)
    ]
    raised, cleared = common_pb2.ALARM_STATE_RAISED, common_pb2.ALARM_STATE_CLEARED
    c["state"] = [raised if end is None else cleared for end in c["end_time"]]


def _ryss(file_name: str, ft: FileType, c: dict[str, list[Any]], conv: Converted, header: Any) -> None:
    """RYSS has no 数据时间: its records take the header's upload time."""
    c["time"] = [header.uploaded_at if header is not None else None] * len(conv.indexes)


_EXTRA: Final[Mapping[str, Callable[..., None]]] = MappingProxyType(
    {"CDDY": _cddy, "YCBJ": _ycbj, "RYSS": _ryss}
)


def convert_records(
    file_name: str,
    ft: FileType,
    rows: Sequence[list[str]],
    indexes: list[int],
    times: dict[str, datetime],
    header: Any,
) -> tuple[Any, list[MtFileError]]:
    """The records of one file (rows of the right length, their 1-based record numbers): its result (messages,
    or CDSS columns) and every field error, in file order."""
    conv = _convert_columns(file_name, ft, rows, indexes, times)
    named = {p: col for p, col in zip(ft.protos, conv.columns, strict=True) if p}
    extra = _EXTRA.get(ft.code)
    if extra is not None:
        extra(file_name, ft, named, conv, header)
    errors = sorted(
        conv.errors, key=lambda e: (e.record_index or 0, ft.fields.index(e.field or ft.fields[0]))
    )
    if errors:
        return None, errors
    if ft.code == "CDSS":
        at = ft.protos.index("time")  # the 数据时间 texts as written (ObservationColumns keeps them)
        stamps = [row[at] for row in rows]
        return ObservationColumns(
            named["point_code"], named["sensor_type"], named["location"], named["value"], named["unit"],
            named["status"], stamps, times,
        ), []  # fmt: skip
    cls = getattr(data_pb2, ft.message)
    for name, spec in zip(ft.protos, ft.specs, strict=True):
        if name and spec.kind in ("time", "time?"):  # one Timestamp per distinct time (upb copies it in C)
            as_ts = {t: _timestamp(t) for t in set(named[name]) if t is not None}
            named[name] = list(map(as_ts.get, named[name]))
    nones = {n: col.count(None) for n, col in named.items()}  # one pass per column
    for n in [n for n, col in named.items() if col and nones[n] == len(col)]:
        del named[n]  # an optional field no record sets (thresholds, often): not passed at all
    by_name = cls.DESCRIPTOR.fields_by_name
    for n in [n for n, col in named.items() if col and _all_default(col, by_name[n])]:
        del named[n]  # every record leaves it empty (coordinates, descriptions): the same message without
    names = list(named)
    unset = [n for n in named if nones[n]]  # optional fields left empty stay unset
    if not unset:
        return [
            cls(**dict(zip(names, values, strict=True))) for values in zip(*named.values(), strict=True)
        ], []
    out = []
    for values in zip(*named.values(), strict=True):
        kw = dict(zip(names, values, strict=True))
        for n in unset:
            if kw[n] is None:
                del kw[n]
        out.append(cls(**kw))
    return out, []


def _all_default(column: list[Any], field: Any) -> bool:
    """Every value of the column is the default of a field without presence: passing it sets nothing."""
    if field.has_presence or any(column):
        return False
    # 0.0 and -0.0 are both false, but -0.0 is a value of its own (it is encoded)
    return field.cpp_type not in _FLOATS or min(map(math.copysign, repeat(1.0, len(column)), column)) > 0


_FLOATS: Final = frozenset({FieldDescriptor.CPPTYPE_DOUBLE, FieldDescriptor.CPPTYPE_FLOAT})


def _timestamp(t: datetime) -> Timestamp:
    ts = Timestamp()
    ts.FromDatetime(t)
    return ts


def read_header(
    file_name: str, ft: FileType, values: list[str], times: dict[str, datetime]
) -> tuple[Any, list[MtFileError]]:
    """The header record's fields (mine code, mine name, upload time) or their errors."""
    conv = _convert_columns(file_name, ft, [values], [0], times)
    return [col[0] for col in conv.columns], conv.errors


# ---------------------------------------------------------------------------------------------------------
# Field counts


def count_errors(
    file_name: str, ft: FileType, records: Sequence[str]
) -> tuple[list[list[str]], list[int], list[MtFileError]]:
    """Split records into fields: (rows of the right length, their 1-based numbers, an error per other record)."""
    rows = list(map(str.split, records, repeat(";")))
    if not set(map(len, rows)) - {ft.field_count}:
        return rows, list(range(1, len(rows) + 1)), []
    good, indexes, errors = [], [], []
    for index, row in enumerate(rows, 1):
        if len(row) == ft.field_count:
            good.append(row)
            indexes.append(index)
        else:
            errors.append(_count_error(file_name, ft.fields, ft.fields_en, index, len(row)))
    return good, indexes, errors


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
