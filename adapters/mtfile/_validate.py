"""Validate an MT/T 1201 text file: its grammar (the parser) and its content (the one validation core).

The file is parsed; its records become the interface's messages, and those go through
``santong.protocols.validate`` — no rule is written twice. A file type carries only part of a message
(CDSS has no ranges or thresholds, for example): the missing fields of the synthesised point definitions are
taken from the data dictionary, so only what the file itself says is judged.
"""

from __future__ import annotations

from typing import Any

from santong.adapters.mtfile._folder import MtChecker, as_violations, implied_point
from santong.adapters.mtfile._parser import ParsedFile, to_batch
from santong.adapters.mtfile._sensors import SensorResolver, SiteMapping
from santong.protocols import (
    DEFAULT_LIMITS,
    DeviceState,
    Violation,
)
from santong.protocols.v1 import data_pb2, device_access_pb2

__all__ = ["file_messages", "validate_mt_file"]


def _synth_points(
    codes: dict[str, tuple[str, str, str]], resolver: SensorResolver
) -> list[data_pb2.PointDefinition]:
    """Point definitions for codes seen in a file: (sensor type, unit, location) from the file — the type
    resolved to its dictionary code (names, aliases, site mapping) — the rest from the dictionary."""
    return [
        implied_point(alias, code, sensor, unit, location, resolver)
        for alias, (code, (sensor, unit, location)) in enumerate(sorted(codes.items()), start=1)
    ]


def _define_chunks(points: list[data_pb2.PointDefinition], size: int) -> list[Any]:
    """DefinePoints requests of at most `size` points each (ST-PROTO-008)."""
    return [
        device_access_pb2.DefinePointsRequest(points=points[i : i + size])
        for i in range(0, len(points), size)
    ]


def file_messages(
    parsed: ParsedFile,
    max_batch: int = DEFAULT_LIMITS.max_batch_points,
    resolver: SensorResolver | None = None,
) -> tuple[DeviceState, list[Any]]:
    """The interface messages a parsed file stands for, and the device state they are validated against.

    (``validate_mt_file`` and :class:`MtChecker` judge files through the mtfile adapter's own converter; this is
    the file's content as plain messages.)"""
    resolver = resolver or SensorResolver()
    state = DeviceState(mine_code=parsed.header.mine_code)
    t = parsed.file_type
    msgs: list[Any] = []
    if t == "CDDY":
        request = device_access_pb2.DefinePointsRequest(points=parsed.definitions)
        for alias, p in enumerate(request.points, start=1):
            p.alias = p.alias or alias  # files carry no aliases: number the definitions in file order
            p.sensor_type = resolver.code(p.sensor_type) or p.sensor_type
        msgs += _define_chunks(list(request.points), max_batch)
    elif t == "FZDY":
        msgs.append(device_access_pb2.DefinePointsRequest(outstations=parsed.outstations))
    elif t == "CDSS":
        cols = parsed.columns
        codes = {
            c: (s, u, loc)
            for c, s, u, loc in zip(
                cols.point_codes, cols.sensor_types, cols.units, cols.locations, strict=True
            )
        }
        points = _synth_points(codes, resolver)
        msgs += _define_chunks(points, max_batch)
        state.define_points(points)
        size = max_batch
        for seq, start in enumerate(range(0, len(cols), size), start=1):  # batches within ST-PROTO-008
            batch = to_batch(cols, state.aliases_by_code, sequence=seq, start=start, stop=start + size)
            msgs.append(device_access_pb2.ReportObservationsRequest(batch=batch))
    elif t in ("YCBJ", "TJSJ"):
        items = parsed.alarms if t == "YCBJ" else parsed.statistics
        codes = {r.point_code: (r.sensor_type, r.unit, getattr(r, "location", "")) for r in items}
        points = _synth_points(codes, resolver)
        msgs += _define_chunks(points, max_batch)
        state.define_points(points)
        if t == "YCBJ":
            state.raised_alarms.update(a.alarm_id for a in parsed.alarms)  # a file record is a whole anomaly
            request_a = device_access_pb2.ReportAlarmsRequest(sequence=1, alarms=parsed.alarms)
            for a in request_a.alarms:
                a.sensor_type = resolver.code(a.sensor_type) or a.sensor_type
            msgs.append(request_a)
        else:
            request_s = device_access_pb2.ReportStatisticsRequest(sequence=1, statistics=parsed.statistics)
            for r in request_s.statistics:
                r.sensor_type = resolver.code(r.sensor_type) or r.sensor_type
            msgs.append(request_s)
    elif t == "FZSS":
        state.outstations.update(s.outstation_code for s in parsed.outstation_statuses)
        msgs.append(
            device_access_pb2.ReportOutstationStatusRequest(sequence=1, statuses=parsed.outstation_statuses)
        )
    elif t == "RYQY":
        msgs.append(device_access_pb2.DefinePositioningRequest(areas=parsed.areas))
    elif t == "RYJZ":
        state.areas.update(s.area_code for s in parsed.stations)
        msgs.append(device_access_pb2.DefinePositioningRequest(stations=parsed.stations))
    elif t in ("RYSS", "JZSS"):
        state.areas.update(r.area_code for r in parsed.personnel if r.area_code)
        state.stations.update(r.station_code for r in parsed.personnel if r.station_code)
        state.stations.update(s.station_code for s in parsed.station_statuses)
        msgs.append(
            device_access_pb2.ReportPersonnelRequest(
                sequence=1, records=parsed.personnel, stations=parsed.station_statuses
            )
        )
    return state, msgs


def validate_mt_file(
    name: str, data: bytes, *, now_ms: int | None = None, mapping: SiteMapping | None = None
) -> tuple[int, list[Violation]]:
    """(records checked, violations) of one MT/T 1201 file, judged alone (points defined from the dictionary).

    Each violation's path places it in the file (``file:line [point code] field``) and its message ends with the
    fix for whoever holds the file; :class:`MtChecker` gives the same findings as :class:`MtFinding` objects.
    """
    report = MtChecker(mapping=mapping, now_ms=now_ms).check(name, data)
    return report.records, as_violations(report)
