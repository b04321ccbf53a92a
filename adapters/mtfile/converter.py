"""MT/T 1201 files → the interface's messages, and their check by the one validation core.

One parsed file becomes one :class:`FileUnit`: definitions (CDDY points, FZDY outstations, RYQY areas, RYJZ
stations) or uploads (CDSS → ReportObservations in columnar batches of at most ``max_batch_points``, YCBJ →
ReportAlarms, TJSJ → ReportStatistics, FZSS → ReportOutstationStatus, RYSS and JZSS → ReportPersonnel). Every
item remembers the file record it came from, so a violation found by the core names the record and the field.

Conversion choices (the file formats say less than the interface):

- CDSS status bits are forwarded as the KJ system wrote them (it sets 超量程 8 itself); a value outside its range
  without bit 8 is a SHOULD finding (ST-DATA-021), logged, not corrected. All batches of a file share one base
  time, the file's earliest 数据时间.
- YCBJ alarm IDs are ``{测点编码}@{开始时间 yyyyMMddHHmmss}#{异常类型}``: the same record start and end give the
  same ID, and two anomalies of one point starting in the same second (超限报警 001 and 断电 002) stay apart.
- A YCBJ record carrying an end time whose start the platform has not seen (the adapter started mid-episode)
  becomes a raise followed by its clear: the record is a whole anomaly (ST-IFACE-016 wants a clear to follow a
  raise).

Example::

    converter = MtFileConverter(max_batch_points=10_000)
    unit = converter.unit(parse_bytes(name, data), state)
    findings = converter.check(unit, state)          # [] → hand the unit over as a whole
"""

from __future__ import annotations

import dataclasses
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from operator import attrgetter, itemgetter
from typing import Any, Final

from google.protobuf.message import Message
from santong.adapters._sdk import Observation, UplinkConverter
from santong.adapters.mtfile._memo import ColumnMemo
from santong.adapters.mtfile._model import _distinct
from santong.adapters.mtfile._parser import SUPPORTED_TYPES, ObservationColumns, ParsedFile
from santong.adapters.mtfile._sensors import SensorResolver
from santong.protocols import (
    BatchColumns,
    DeviceState,
    ValidationContext,
    Violation,
    default_limits,
    sensor_types,
    validate,
    validate_batch_columns,
)
from santong.protocols.v1 import common_pb2, data_pb2
from santong.protocols.v1 import device_access_pb2 as pb

__all__ = [
    "DEFINITION_TYPES",
    "REFERENCE_CLAUSES",
    "FileUnit",
    "Finding",
    "MtFileConverter",
    "Upload",
]

#: File types that define things (imported again harmlessly: definitions are idempotent).
DEFINITION_TYPES: Final = frozenset(t.code for t in SUPPORTED_TYPES.values() if t.defines)
#: Violations that mean "refers to something not defined yet": such a file waits for its definitions.
REFERENCE_CLAUSES: Final = frozenset({"ST-IFACE-004", "ST-IFACE-018"})

_EPOCH: Final = datetime(1970, 1, 1, tzinfo=UTC)
_MS: Final = timedelta(milliseconds=1)
_SINT32_MAX: Final = 2**31 - 1


_PATH: Final = re.compile(r"\$\.(?:batch\.)?(?P<list>\w+)(?:\[(?P<index>\d+)\])?(?:\.(?P<field>\w+))?")
_BATCH_COLUMNS: Final = frozenset({"alias", "value", "status", "time_offset_ms"})


@dataclass(frozen=True, slots=True)
class Finding:
    """One problem of a file: the clause, where (record number, file field) and what, in Chinese and English."""

    clause_id: str
    level: str
    message_zh: str
    message_en: str
    record: int | None = None
    field_zh: str | None = None
    field_en: str | None = None
    path: str = ""
    #: A fix for whoever holds the file, where the catalogue's ``fix_holder_*`` does not fit this case.
    fix: tuple[str, str] | None = None

    @property
    def is_must(self) -> bool:
        """A MUST violation: the file is not imported."""
        return self.level == "MUST"

    def where_zh(self) -> str:
        """Record and field in Chinese (empty for the whole file)."""
        if self.record is None:
            return "整个文件"
        where = "表头（第 0 条记录）" if self.record == 0 else f"第 {self.record} 条记录"
        return where + (f"，字段“{self.field_zh}”" if self.field_zh else "")

    def where_en(self) -> str:
        """Record and field in English."""
        if self.record is None:
            return "the whole file"
        where = "header (record 0)" if self.record == 0 else f"record {self.record}"
        if self.field_zh:
            where += f", field {self.field_zh}" + (f" ({self.field_en})" if self.field_en else "")
        return where


class Upload:
    """One upload request and, per item (batch position, alarm, status …), the file record it came from.

    An observation batch is held as its columns (:class:`BatchColumns`, Python lists) and judged on them; its
    message is built on first use of ``request`` (when the unit is handed over, never for ``santong validate``).
    """

    __slots__ = ("_request", "columns", "method", "origin", "records")

    def __init__(
        self,
        method: str,
        request: Message | None,
        records: Sequence[int],
        columns: BatchColumns | None = None,
        origin: tuple[Sequence[int], int, int] | None = None,
    ) -> None:
        """``origin``: the file's whole alias column and the slice ``[start, stop)`` of it the batch holds."""
        if request is None and columns is None:
            raise ValueError("an upload needs its request or its batch columns")
        self.method, self._request, self.records, self.columns = method, request, records, columns
        self.origin = origin

    @property
    def request(self) -> Message:
        """The upload request (an observation batch's is built from its columns the first time)."""
        if self._request is None:
            assert self.columns is not None
            self._request = pb.ReportObservationsRequest(batch=self.columns.message())
        return self._request

    def set_sequence(self, seq: int) -> None:
        """Number the upload (its columns and, once built, its message)."""
        if self.columns is not None:
            self.columns.sequence = seq
        if self._request is not None:
            target: Any = self._request.batch if self.method == "ReportObservations" else self._request
            target.sequence = seq

    def validate(self, ctx: ValidationContext, facts: Mapping[str, Any] | None = None) -> list[Violation]:
        """The core's violations of the upload (on the columns where it has them: the same rule); ``facts``: what
        the converter already knows of the batch's alias column against ``ctx.state`` (``ColumnMemo.facts``)."""
        if self.columns is not None:
            return validate_batch_columns(self.columns, ctx, **(facts or {}))
        return validate(self.request, ctx)

    def apply_to(self, state: DeviceState) -> None:
        """What an accepted upload changes in a device state (an observation batch: only the last sequence)."""
        if self.columns is not None:
            state.last_sequence = max(state.last_sequence, self.columns.sequence)
        else:
            state.apply(self.request)


@dataclass(slots=True)
class FileUnit:
    """Everything one file stands for; handed to the platform client as a whole or not at all."""

    name: str
    file_type: str
    mine_code: str
    encoding: str
    record_count: int
    points: list[data_pb2.PointDefinition] = field(default_factory=list)
    outstations: list[data_pb2.OutstationDefinition] = field(default_factory=list)
    areas: list[data_pb2.AreaDefinition] = field(default_factory=list)
    stations: list[data_pb2.StationDefinition] = field(default_factory=list)
    uploads: list[Upload] = field(default_factory=list)
    problems: list[Finding] = field(default_factory=list)
    #: CDSS: the records as columns (their sensor types are checked against the points' definitions).
    columns: ObservationColumns | None = None
    #: After :meth:`MtFileConverter.check`: copies of ``points`` with the provisional aliases they were judged by.
    aliased: list[data_pb2.PointDefinition] = field(default_factory=list)
    #: After :meth:`MtFileConverter.check`: the DefinePointsRequests judged (``aliased`` are their points).
    judged: list[pb.DefinePointsRequest] = field(default_factory=list)

    @property
    def defines(self) -> bool:
        """True for a definition file (CDDY, FZDY, RYQY, RYJZ)."""
        return self.file_type in DEFINITION_TYPES

    @property
    def observation_count(self) -> int:
        """Observations in the unit's batches."""
        return sum(
            len(u.columns.alias) if u.columns is not None else len(u.request.batch.alias)
            for u in self.uploads
            if u.method == "ReportObservations"
        )


def _state_copy(state: DeviceState, unit: FileUnit) -> DeviceState:
    """A copy the check may change (definitions, alarms) without touching the adapter's state. A unit that defines
    nothing changes only the sequence and the raised alarms: it shares the (large) definition tables."""
    if not unit.defines:
        return dataclasses.replace(state, raised_alarms=set(state.raised_alarms))
    return dataclasses.replace(
        state,
        points=dict(state.points),
        aliases_by_code=dict(state.aliases_by_code),
        outstations=set(state.outstations),
        areas=set(state.areas),
        stations=set(state.stations),
        raised_alarms=set(state.raised_alarms),
    )


def _chunks(items: Sequence[Any], size: int) -> list[tuple[int, Sequence[Any]]]:
    return [(i, items[i : i + size]) for i in range(0, len(items), size)]


class MtFileConverter(UplinkConverter[ParsedFile]):
    """Parsed files → :class:`FileUnit` (see the module docstring); ``convert`` gives the SDK's observation tuples.

    Example::

        converter = MtFileConverter()
        await sink.observations(converter.convert(parse_path(path), sink.now_ms()))   # any UplinkSink
    """

    def __init__(self, *, max_batch_points: int = 10_000, resolver: SensorResolver | None = None) -> None:
        """``max_batch_points``: the most observations (and other records) per upload; ``resolver``: how the
        files' sensor-type texts (names, aliases, a site mapping's codes) become dictionary codes."""
        if max_batch_points < 1:
            raise ValueError("max_batch_points 须 ≥ 1 / max_batch_points must be >= 1")
        self.max_batch_points = max_batch_points
        self.resolver = resolver or SensorResolver()
        # point code → the dictionary code its definition gives, and the points it was built from
        self._defined: tuple[dict[int, Any], dict[str, str], Any, Any] = ({}, {}, None, None)
        # the last CDSS point-code column and what follows from it (files of one KJ system repeat it)
        self._memo = ColumnMemo()

    def _resolved(self, items: Sequence[Any]) -> list[Any]:
        """Copies of definitions, alarms or statistics whose sensor type is the dictionary code it resolves to
        (unresolved texts are kept: the core names them, ST-DATA-010)."""
        # each type read once, each distinct text resolved once
        texts = list(map(attrgetter("sensor_type"), items))
        code_of = self.resolver.code
        to = {t: c for t in set(texts) if (c := code_of(t)) is not None and c != t}
        if not to:
            return list(items)
        out = []
        for item, text in zip(items, texts, strict=True):
            code = to.get(text)
            if code is not None:
                copy = type(item)()
                copy.CopyFrom(item)
                copy.sensor_type = code
                item = copy
            out.append(item)
        return out

    # ------------------------------------------------------------------ the SDK's uplink shape

    def convert(self, raw: ParsedFile, time_ms: int) -> list[Observation]:
        """A CDSS file's records as (point code, value, time in ms, status); no observations for other types."""
        if raw.file_type != "CDSS":
            return []
        cols = raw.columns
        ms = _stamp_ms(cols, cols.stamps)
        return list(
            zip(cols.point_codes, cols.values, map(ms.__getitem__, cols.stamps), cols.statuses, strict=True)
        )

    # ------------------------------------------------------------------ whole files

    def unit(self, parsed: ParsedFile, state: DeviceState, *, name: str | None = None) -> FileUnit:
        """The unit of a parsed file (named ``name``) against what ``state`` has defined (aliases, alarms, mine)."""
        t = parsed.file_type
        unit = FileUnit(
            name or _name_of(parsed), t, parsed.header.mine_code, parsed.encoding, parsed.record_count
        )
        if state.mine_code and parsed.header.mine_code != state.mine_code:
            unit.problems.append(
                Finding(
                    "ST-DATA-003",
                    "MUST",
                    f"文件属于煤矿 {parsed.header.mine_code}，本设备服务于煤矿 {state.mine_code}",
                    f"the file belongs to mine {parsed.header.mine_code}, this device serves mine {state.mine_code}",
                    record=0,
                    field_zh="煤矿编码",
                    field_en="mine code",
                )
            )
            return unit
        ft = SUPPORTED_TYPES[t]
        verb, target = ft.route.split()
        if t == "CDSS":  # columns straight into batches, no object per record
            unit.columns = parsed.columns
            self._observations(parsed.columns, state, unit)
            return unit
        records = parsed.records
        if "type" in ft.kinds:  # sensor types as the file names them → dictionary codes
            records = self._resolved(records)
        if verb == "define":
            setattr(unit, target, list(records))
        elif t == "YCBJ":  # an anomaly the platform has not seen raised becomes a raise and its clear
            self._alarms(records, state, unit)
        else:
            request = getattr(pb, f"{verb}Request")
            for i, chunk in _chunks(records, self.max_batch_points):
                unit.uploads.append(
                    Upload(verb, request(**{target: chunk}), range(i + 1, i + 1 + len(chunk)))
                )
        return unit

    def _observations(self, cols: ObservationColumns, state: DeviceState, unit: FileUnit) -> None:
        """CDSS columns → batches, straight from the columns (no object per record, one lookup per column)."""
        codes = cols.point_codes
        n = len(codes)
        if not n:
            return
        alias_of = state.aliases_by_code
        try:
            aliases = self._memo.aliases(codes, state)
        except KeyError:
            self._undefined(codes, alias_of, unit)
            return
        ms = _stamp_ms(cols, cols.stamps)
        if max(ms.values()) - min(ms.values()) <= _SINT32_MAX:
            self._batches(aliases, cols, ms, range(n), unit)
            return
        # A record decades off (a KJ clock gone wrong) must not sink the file into one "cannot be converted"
        # finding: the records are grouped by time so that each batch spans less than 24.8 days (int32 ms
        # offsets), and the core judges every record's time (ST-DATA-031 names the record that is off).
        groups: list[list[int]] = []
        order = sorted(range(n), key=lambda i: ms[cols.stamps[i]])
        first = None
        for i in order:
            t = ms[cols.stamps[i]]
            if first is None or t - first > _SINT32_MAX:
                groups.append([])
                first = t
            groups[-1].append(i)
        for group in sorted(groups, key=min):
            self._batches(aliases, cols, ms, sorted(group), unit)

    def _batches(
        self,
        aliases: Sequence[int],
        cols: ObservationColumns,
        ms: Mapping[str, int],
        indexes: Sequence[int],
        unit: FileUnit,
    ) -> None:
        """Batches of the records ``indexes`` (0-based, ascending), one base time (their earliest 数据时间)."""
        n = len(cols.point_codes)
        whole_file = len(indexes) == n
        stamps = cols.stamps if whole_file else [cols.stamps[i] for i in indexes]
        # ms holds exactly the file's distinct stamps: a whole file needs no set of its own
        own = ms if whole_file else {s: ms[s] for s in set(stamps)}
        base = min(own.values())
        offset_of = {s: t - base for s, t in own.items()}
        k = len(indexes)
        if len(offset_of) == 1:  # one 数据时间 throughout (a KJ system's snapshot of every point)
            offsets: Sequence[int] = [0] * k
        else:
            offsets = itemgetter(*stamps)(offset_of)
        if whole_file:
            values, statuses, picked = cols.values, cols.statuses, aliases
        else:
            values = [cols.values[i] for i in indexes]
            statuses = [cols.statuses[i] for i in indexes]
            picked = [aliases[i] for i in indexes]
        size = self.max_batch_points
        for a in range(0, k, size):
            b = min(a + size, k)
            whole = a == 0 and b == k
            columns = BatchColumns(
                0,
                picked if whole else picked[a:b],
                values if whole else values[a:b],
                offsets if whole else offsets[a:b],
                statuses if whole else statuses[a:b],
                base,
            )
            records = range(a + 1, b + 1) if whole_file else [i + 1 for i in indexes[a:b]]
            origin = (aliases, a, b) if whole_file else None
            unit.uploads.append(Upload("ReportObservations", None, records, columns, origin))

    @staticmethod
    def _undefined(codes: Sequence[str], alias_of: Mapping[str, int], unit: FileUnit) -> None:
        """ST-IFACE-004 findings: the first record of each point code that has no definition (ten at most)."""
        missing: dict[str, int] = {}
        for i, code in enumerate(codes, 1):
            if code not in alias_of:
                missing.setdefault(code, i)
        for code, i in list(missing.items())[:10]:
            unit.problems.append(
                Finding(
                    "ST-IFACE-004",
                    "MUST",
                    f"测点 {code} 尚未定义（没有导入过含它的测点定义文件 CDDY）",
                    f"point {code} is not defined (no point-definition file CDDY with it was imported)",
                    record=i,
                    field_zh="测点编码",
                    field_en="point code",
                )
            )
        if len(missing) > 10:
            unit.problems.append(
                Finding(
                    "ST-IFACE-004",
                    "MUST",
                    f"另有 {len(missing) - 10} 个测点尚未定义",
                    f"{len(missing) - 10} more points are not defined",
                )
            )

    def _alarms(self, alarms: Sequence[data_pb2.Alarm], state: DeviceState, unit: FileUnit) -> None:
        raised = set(state.raised_alarms)
        items: list[data_pb2.Alarm] = []
        records: list[int] = []
        for i, a in enumerate(alarms, 1):
            # One point can have two anomalies starting in the same second (超限报警 and 断电, say): the type
            # belongs in the ID, or the second raise would be the first one's clear target too.
            if "#" not in a.alarm_id:
                a.alarm_id = f"{a.alarm_id}#{a.anomaly_type:03d}"
            if a.state == common_pb2.ALARM_STATE_CLEARED and a.alarm_id not in raised:
                start = data_pb2.Alarm()
                start.CopyFrom(a)
                start.state = common_pb2.ALARM_STATE_RAISED
                start.ClearField("end_time")
                items.append(start)
                records.append(i)
            items.append(a)
            records.append(i)
            if a.state == common_pb2.ALARM_STATE_RAISED:
                raised.add(a.alarm_id)
            else:
                raised.discard(a.alarm_id)
        if items:
            unit.uploads.append(Upload("ReportAlarms", pb.ReportAlarmsRequest(alarms=items), records))

    # ------------------------------------------------------------------ the check

    def check(
        self,
        unit: FileUnit,
        state: DeviceState,
        *,
        limits: pb.Limits | None = None,
        now_ms: int | None = None,
    ) -> list[Finding]:
        """Every finding of the unit: conversion problems, then the core's violations of each message in order.

        Definitions get provisional aliases (the persisted one of a known point, new ones above); the client
        assigns the real ones. ``state`` itself is not changed.
        """
        out = list(unit.problems)
        if any(f.is_must for f in out):
            return out
        limits = limits or default_limits()
        scratch = _state_copy(state, unit)
        ctx = ValidationContext(
            state=scratch, limits=limits, now_ms=now_ms, arrival=False, type_segments=self.resolver.segments
        )
        if unit.points or unit.outstations:
            top = max(scratch.points, default=0)
            known = scratch.aliases_by_code
            aliases = []
            for code in map(attrgetter("point_code"), unit.points):
                alias = known.get(code)
                if alias is None:
                    top += 1
                    alias = top
                aliases.append(alias)
            defs: list[data_pb2.PointDefinition] = []
            unit.judged = []
            size = max(1, int(limits.max_points_per_definition or 10_000))
            for i, chunk in _chunks(unit.points, size) or [(0, [])]:
                req = pb.DefinePointsRequest(points=chunk, outstations=unit.outstations if i == 0 else [])
                # the request's own copies take the aliases (unit.points stay as read)
                copies = list(req.points)
                for d, alias in zip(copies, aliases[i : i + size], strict=True):
                    d.alias = alias
                defs += copies
                unit.judged.append(req)
                out += self._findings(unit, validate(req, ctx), offset=i)
                # judged against by what follows in this check (the scratch state dies with it)
                if i + size < len(unit.points) or unit.areas or unit.stations or unit.uploads:
                    scratch.apply(req)
            unit.aliased = defs
        if unit.areas or unit.stations:
            req2 = pb.DefinePositioningRequest(areas=unit.areas, stations=unit.stations)
            out += self._findings(unit, validate(req2, ctx))
            scratch.apply(req2)
        if unit.columns is not None and unit.uploads:
            out += self._sensor_types(unit.columns, scratch)
        seq = scratch.last_sequence + 1
        memo = self._memo
        for up in unit.uploads:
            up.set_sequence(seq)
            facts = memo.facts(*up.origin, scratch) if up.origin is not None else None
            out += self._findings(unit, up.validate(ctx, facts), records=up.records)
            up.apply_to(scratch)
            seq += 1
        return out

    def _sensor_types(self, cols: ObservationColumns, state: DeviceState) -> list[Finding]:
        """CDSS records whose sensor type disagrees with the type their point's definition gives (ST-DATA-004),
        or resolves to no dictionary entry that could be it (ST-DATA-010). Column-wise: one lookup per record."""
        defined = self._defined_types(state)
        codes, texts = cols.point_codes, cols.sensor_types
        if self._memo.types_passed(codes, texts, defined):
            return []
        resolved = {t: self.resolver.resolve(t) for t in set(texts)}
        code_of = {t: r.code for t, r in resolved.items()}
        if len(codes) == 1:
            want, have = (defined.get(codes[0]),), (code_of[texts[0]],)
        else:
            want, have = itemgetter(*codes)(defined), itemgetter(*texts)(code_of)
        if want == have:
            self._memo.types_pass(codes, texts, defined)
            return []
        entries = sensor_types()
        out = []
        for i, (w, h) in enumerate(zip(want, have, strict=True), 1):
            if (
                w == h or w not in entries
            ):  # an unknown defined type is its definition's finding (ST-DATA-010)
                continue
            r = resolved[texts[i - 1]]
            st = entries[w]
            if h is None:
                if w in r.candidates:
                    continue  # 开停 for a point defined as 局扇开停: the definition says which entry is meant
                zh, en = r.explain()
                out.append(Finding("ST-DATA-010", "MUST", zh, en, i, "传感器类型", "sensor type"))
                continue
            got = entries[h]
            out.append(
                Finding(
                    "ST-DATA-004",
                    "MUST",
                    f"测点 {codes[i - 1]} 的记录写传感器类型“{r.text}”（{h} {got.name_zh}），而该测点的定义是 "
                    f"{w} {st.name_zh}",
                    f"the record of point {codes[i - 1]} gives sensor type '{r.text}' ({h} {got.name_en}), but the "
                    f"point is defined as {w} {st.name_en}",
                    i,
                    "传感器类型",
                    "sensor type",
                    fix=(
                        f"在 KJ 系统中让该测点实时数据的传感器类型与其测点定义（CDDY）一致：若测点确是 {st.name_zh}，"
                        f"改实时数据的类型；若定义错了，改 CDDY 中的定义",
                        f"make the point's real-time sensor type agree with its definition (CDDY) in the KJ system: "
                        f"if the point is a {st.name_en} sensor, correct the real-time type; if the definition is "
                        "wrong, correct the CDDY",
                    ),
                )
            )
        return out

    def _defined_types(self, state: DeviceState) -> dict[str, str]:
        """Point code → the sensor type its definition gives; rebuilt only when the definitions changed: the same
        ``points`` dict with the same ``alias_set`` (``define_points`` rebuilds it whenever it changes the dict) is
        unchanged; otherwise the two dicts are compared (holding the same definition objects: at C speed)."""
        points, table, source, alias_set = self._defined
        if state.points is source and state.alias_set is alias_set:
            return table
        if points != state.points:
            table = {p.point_code: p.sensor_type for p in state.points.values()}
        self._defined = (dict(state.points), table, state.points, state.alias_set)
        return table

    @staticmethod
    def _findings(
        unit: FileUnit, violations: list[Violation], *, offset: int = 0, records: Sequence[int] | None = None
    ) -> list[Finding]:
        """The core's violations, placed in the file: record number and file field where the path says."""
        out = []
        spec = SUPPORTED_TYPES[unit.file_type]
        for v in violations:
            record = field_index = None
            m = _PATH.match(v.path)
            if m is not None:
                lst, index, sub = m.group("list"), m.group("index"), m.group("field")
                name = lst if lst in _BATCH_COLUMNS or lst in ("base_time", "backfill") else sub
                if index is not None:
                    i = int(index)
                    if records is not None:
                        record = records[i] if i < len(records) else None
                    else:
                        record = offset + i + 1
                if name is not None:
                    field_index = spec.source(name)
            out.append(
                Finding(
                    v.clause_id,
                    v.level,
                    v.message_zh,
                    v.message_en,
                    record=record,
                    field_zh=spec.fields[field_index] if field_index is not None else None,
                    field_en=spec.fields_en[field_index] if field_index is not None else None,
                    path=v.path,
                )
            )
        return out


def _name_of(parsed: ParsedFile) -> str:
    fn = parsed.file_name
    local = fn.generated_at + timedelta(hours=8)
    return f"{fn.mine_code}_{fn.file_type}_{local:%Y%m%d%H%M%S}.txt"


def _stamp_ms(cols: ObservationColumns, stamps: Sequence[str]) -> dict[str, int]:
    """Milliseconds since the epoch of each distinct 数据时间 text."""
    times = cols.times
    return {s: (times[s] - _EPOCH) // _MS for s in _distinct(stamps)}
