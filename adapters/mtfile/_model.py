"""What a parsed MT/T file holds (file name, header, records as columns) and the China-time helpers."""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta, timezone
from typing import Any, Final

from santong.adapters.mtfile._filetypes import (
    SUPPORTED_TYPES,
)
from santong.protocols.v1 import data_pb2

CHINA_TZ: Final = timezone(timedelta(hours=8), "UTC+08:00")
_EIGHT_HOURS: Final = timedelta(hours=8)
_MS: Final = timedelta(milliseconds=1)
_SINT32_MAX: Final = 2**31 - 1


_TIME_RE: Final = re.compile(r"[0-9]{4}-[0-9]{2}-[0-9]{2} [0-9]{2}:[0-9]{2}:[0-9]{2}")


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


def _distinct(column: Sequence[Any]) -> set[Any]:
    """The distinct items of a column; one equality scan when every item equals the first (a file's 数据时间, say),
    which costs less than hashing every item."""
    if not column:
        return set()
    first = column[0]
    return {first} if column.count(first) == len(column) else set(column)


def _compact(dt: datetime) -> str:
    t = dt.astimezone(CHINA_TZ)
    return f"{t.year:04d}{t.month:02d}{t.day:02d}{t.hour:02d}{t.minute:02d}{t.second:02d}"
