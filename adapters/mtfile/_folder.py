"""Judge MT/T 1201 files as a mine has them: one file, or a whole export folder, findings a person can act on.

A folder is read in the order a platform would take it: definition files (CDDY, FZDY, RYQY, RYJZ) first, then
the data files, each group oldest generation time first. Real-time records are checked against the definitions
found; when the folder holds no point definitions (a CDSS export alone), the points a data file refers to are
defined from the data dictionary — the sensor type resolved from the file's type field (code, name, alias,
legacy code or site mapping, see ``_sensors``) — so that only what the file itself says is judged.

The conversion and the check are the mtfile adapter's own (:class:`MtFileConverter`, the one validation core);
this module only places each finding in the file: the file, the 1-based line, the record's code (point code,
outstation, card …), the field by its Chinese name, the clause, and a fix written for whoever holds the file
(``fix_holder_zh``/``fix_holder_en`` of the catalogue, the vendor's fix where there is none).

Example::

    report = validate_folder("/srv/kj/140421000001", mapping="site.yaml")
    for f in report.findings:
        print(f.file, f.line, f.point_code, f.clause_id, f.message_zh, f.fix_zh)
"""

from __future__ import annotations

import gc
import os
from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Final

from santong.adapters.mtfile._filetypes import HEADER, VALUE_KINDS
from santong.adapters.mtfile._parser import (
    SUPPORTED_TYPES,
    MtFileError,
    ParsedFile,
    _decode,
    parse_bytes,
    parse_file_name,
)
from santong.adapters.mtfile._sensors import SensorResolver, SiteMapping, load_site_mapping
from santong.adapters.mtfile.converter import DEFINITION_TYPES, Finding, MtFileConverter
from santong.protocols import DeviceState, ValidationContext, default_limits, validate
from santong.protocols._catalogue import clause, sensor_types, violation
from santong.protocols.v1 import common_pb2, data_pb2
from santong.protocols.v1 import device_access_pb2 as pb

__all__ = [
    "FileReport",
    "FolderReport",
    "MtChecker",
    "MtFinding",
    "is_mt_name",
    "order_files",
    "record_lines",
    "validate_folder",
]

#: At most this many findings of one clause per file are itemised (the rest are counted in one more finding).
MAX_PER_CLAUSE: Final = 50
_SENSOR_FIELD: Final = "传感器类型"


def implied_point(
    alias: int, code: str, sensor: str, unit: str, location: str, resolver: SensorResolver
) -> data_pb2.PointDefinition:
    """The definition a real-time record implies for a point no CDDY defined: its type resolved to a dictionary
    code, its range from the dictionary (an unknown type has none: ST-DATA-010 is its finding, not false 021s)."""
    resolved = resolver.code(sensor)
    st = sensor_types().get(resolved) if resolved else None
    kind = VALUE_KINDS.get(code[14:16], common_pb2.VALUE_KIND_UNSPECIFIED)
    p = data_pb2.PointDefinition(
        alias=alias, point_code=code, system_code=code[12:14], sensor_type=resolved or sensor, unit=unit,
        value_kind=kind, location=location or "—",
        range_low=st.range_low if st else -1e300, range_high=st.range_high if st else 1e300,
    )  # fmt: skip
    if kind == common_pb2.VALUE_KIND_SWITCH:
        p.range_low, p.range_high = 0.0, 1.0
        p.on_description, p.off_description = "1", "0"
    return p


@dataclass(frozen=True, slots=True)
class MtFinding:
    """One finding placed in a file: where (file, line, record code, field), which clause, what, and the fix."""

    file: str
    clause_id: str
    level: str
    message_zh: str
    message_en: str
    fix_zh: str
    fix_en: str
    line: int | None = None
    point_code: str = ""
    field_zh: str = ""
    field_en: str = ""

    @property
    def is_must(self) -> bool:
        """A MUST finding: the file fails."""
        return self.level == "MUST"

    def where(self) -> str:
        """``file:line 测点 code 字段 field`` (the parts that are known)."""
        out = self.file + (f":{self.line}" if self.line else "")
        if self.point_code:
            out += f" [{self.point_code}]"
        if self.field_zh:
            out += f" {self.field_zh}" + (f" ({self.field_en})" if self.field_en else "")
        return out

    def as_dict(self) -> dict[str, Any]:
        """JSON form."""
        return {
            "file": self.file,
            "line": self.line,
            "point_code": self.point_code,
            "field_zh": self.field_zh,
            "field_en": self.field_en,
            "clause_id": self.clause_id,
            "level": self.level,
            "message_zh": self.message_zh,
            "message_en": self.message_en,
            "fix_zh": self.fix_zh,
            "fix_en": self.fix_en,
        }


@dataclass
class FileReport:
    """The findings of one file and how many records it holds."""

    file: str
    file_type: str = ""
    records: int = 0
    findings: list[MtFinding] = field(default_factory=list)

    @property
    def passed(self) -> bool:
        """No MUST finding."""
        return not any(f.is_must for f in self.findings)


@dataclass
class FolderReport:
    """The files of a folder in the order they were judged, and what was skipped."""

    folder: str
    files: list[FileReport] = field(default_factory=list)
    skipped: list[str] = field(default_factory=list)

    @property
    def findings(self) -> list[MtFinding]:
        """Every finding, file by file."""
        return [f for r in self.files for f in r.findings]

    @property
    def records(self) -> int:
        """Records judged in all files."""
        return sum(r.records for r in self.files)

    @property
    def passed(self) -> bool:
        """No file has a MUST finding."""
        return all(r.passed for r in self.files)

    def per_clause(self) -> dict[str, int]:
        """Findings per clause, most frequent first."""
        return dict(Counter(f.clause_id for f in self.findings).most_common())


# ---------------------------------------------------------------------------------------------------------
# Lines


def record_lines(text: str) -> list[int]:
    """The 1-based line on which each record starts (the header is record 0), line breaks between records skipped."""
    out = []
    idx, line, n = 0, 1, len(text)
    while idx < n:
        while idx < n and text[idx] in "\r\n":
            line += text[idx] == "\n"
            idx += 1
        if text.startswith("||", idx):
            break
        out.append(line)
        j = text.find("~", idx)
        if j < 0:
            break
        line += text.count("\n", idx, j + 1)
        idx = j + 1
    return out


class _Places:
    """Lines and first fields of a file's records, worked out only when a finding needs them."""

    def __init__(self, name: str, data: bytes) -> None:
        self.name, self.data = name, data
        self._lines: list[int] | None = None
        self._records: list[str] | None = None

    def _load(self) -> None:
        try:
            text = _decode(self.name, self.data)[0]
        except MtFileError:
            text = ""
        self._lines = record_lines(text)
        body = text.rstrip()
        body = body[:-2] if body.endswith("||") else body
        self._records = [r.strip("\r\n") for r in body.split("~")]

    def line(self, record: int | None) -> int | None:
        if record is None:
            return None
        if self._lines is None:
            self._load()
        assert self._lines is not None
        return self._lines[record] if record < len(self._lines) else None

    def field(self, record: int | None, index: int) -> str:
        if not record:
            return ""
        if self._records is None:
            self._load()
        assert self._records is not None
        if record >= len(self._records):
            return ""
        values = self._records[record].split(";")
        return values[index] if index < len(values) else ""


# ---------------------------------------------------------------------------------------------------------
# Files


def is_mt_name(name: str) -> bool:
    """A ``*.txt`` file that is not hidden: a candidate MT/T file (its name is judged, ST-DATA-040/046)."""
    return not name.startswith(".") and name.lower().endswith(".txt")


def order_files(names: Iterable[str]) -> list[str]:
    """Definitions first, then data; each oldest generation time first; names that do not parse last."""

    def key(name: str) -> tuple[int, float, str]:
        try:
            fn = parse_file_name(name)
        except MtFileError:
            return (2, 0.0, name)
        return (0 if fn.file_type in DEFINITION_TYPES else 1, fn.generated_at.timestamp(), name)

    return sorted(names, key=key)


class MtChecker:
    """Judges files one after another, as a platform would receive them (definitions carry over).

    ``synthesise``: the definition file types (CDDY, FZDY, RYQY, RYJZ) the folder lacks (True: all, a single
    file): what a data file refers to of those kinds counts as defined — points from the data dictionary.
    """

    def __init__(
        self,
        *,
        mapping: SiteMapping | None = None,
        now_ms: int | None = None,
        synthesise: bool | frozenset[str] = True,
        max_batch_points: int | None = None,
    ) -> None:
        self.resolver = SensorResolver(mapping)
        self.limits = default_limits()
        size = max_batch_points or int(self.limits.max_batch_points or 10_000)
        self.converter = MtFileConverter(max_batch_points=size, resolver=self.resolver)
        self.state = DeviceState()
        self.now_ms = now_ms
        self.synthesise: frozenset[str] = (
            (DEFINITION_TYPES if synthesise else frozenset()) if isinstance(synthesise, bool) else synthesise
        )

    def check(self, name: str, data: bytes) -> FileReport:
        """The report of one file (its bare name and bytes)."""
        # One object per field and per batch column: generational GC passes over them cost more than the check.
        gc_was_enabled = gc.isenabled()
        gc.disable()
        try:
            return self._check(name, data)
        finally:
            if gc_was_enabled:
                gc.enable()

    def _check(self, name: str, data: bytes) -> FileReport:
        report = FileReport(name)
        places = _Places(name, data)
        try:
            parsed = parse_bytes(name, data)
        except MtFileError as error:
            # every grammar error of the file (a file that cannot be read at all has one)
            seen: Counter[str] = Counter()
            for e in error.errors:
                seen[e.clause_id] += 1
                if seen[e.clause_id] > MAX_PER_CLAUSE:
                    continue
                c = clause(e.clause_id)
                zh, en = f"{c.title_zh}：{e.message_zh}", f"{c.title_en}: {e.message_en}"
                line = e.line if e.line is not None else places.line(e.record_index)
                field_en = e.field_en or (_field_en(name, e.field) if e.field is not None else "")
                report.findings.append(
                    self._finding(
                        name,
                        e.clause_id,
                        "MUST",
                        zh,
                        en,
                        line,
                        places.field(e.record_index, 0),
                        e.field or "",
                        field_en,
                    )  # fmt: skip
                )
            report.findings += self._more(name, seen)
            return report
        report.file_type = parsed.file_type
        report.records = parsed.record_count
        if not self.state.mine_code:
            self.state.mine_code = parsed.header.mine_code
        findings: list[Finding] = []
        missing = self.synthesise
        if "CDDY" in missing and parsed.file_type in ("CDSS", "YCBJ", "TJSJ"):
            findings += self._synthesise(parsed)
        # judged without the definition files of a kind: what the file refers to of that kind counts as defined
        st = self.state
        if "FZDY" in missing:
            st.outstations.update(r.outstation_code for r in parsed.outstation_statuses)
        if "RYQY" in missing:
            st.areas.update(r.area_code for r in parsed.stations if r.area_code)
            st.areas.update(r.area_code for r in parsed.personnel if r.area_code)
        if "RYJZ" in missing:
            st.stations.update(r.station_code for r in parsed.personnel if r.station_code)
            st.stations.update(r.station_code for r in parsed.station_statuses)
        unit = self.converter.unit(parsed, self.state, name=name)
        findings += self.converter.check(unit, self.state, limits=self.limits, now_ms=self.now_ms)
        spec = SUPPORTED_TYPES[parsed.file_type]
        counts: Counter[str] = Counter()
        for f in self._expand(findings, parsed):
            counts[f.clause_id] += 1
            if counts[f.clause_id] > MAX_PER_CLAUSE:
                continue
            report.findings.append(self._placed(name, f, places, spec.fields))
        report.findings += self._more(name, counts)
        # What a platform would now know. A definition file's bad points stay undefined (their records are
        # named above); its good ones are defined, so that the data files are judged against them and one bad
        # point does not turn every later record into "not defined".
        bad = {f.record for f in findings if f.is_must and f.record}
        if unit.defines or not bad:
            self._accept(unit, bad)
        return report

    # ------------------------------------------------------------------ placing findings

    def _more(self, name: str, counts: Counter[str]) -> list[MtFinding]:
        """One finding per clause for the records past the first ``MAX_PER_CLAUSE`` of it."""
        return [
            self._finding(
                name,
                clause_id,
                clause(clause_id).level,
                f"另有 {n - MAX_PER_CLAUSE} 条记录同样违反本条款",
                f"{n - MAX_PER_CLAUSE} more records break this clause the same way",
                None,
            )  # fmt: skip
            for clause_id, n in counts.items()
            if n > MAX_PER_CLAUSE
        ]

    def _finding(
        self,
        name: str,
        clause_id: str,
        level: str,
        zh: str,
        en: str,
        line: int | None,
        point_code: str = "",
        field_zh: str = "",
        field_en: str = "",
        fix: tuple[str, str] | None = None,
    ) -> MtFinding:
        c = clause(clause_id)
        fix_zh, fix_en = fix or (c.fix_holder_zh or c.fix_zh, c.fix_holder_en or c.fix_en)
        return MtFinding(name, clause_id, level, zh, en, fix_zh, fix_en, line, point_code, field_zh, field_en)

    def _placed(self, name: str, f: Finding, places: _Places, fields: Sequence[str]) -> MtFinding:
        c = clause(f.clause_id)
        zh, en = f.message_zh, f.message_en
        # the core's message ends with the vendor's fix: the file holder gets their own one instead
        if c.fix_zh and zh.endswith(f"。{c.fix_zh}"):
            zh = zh[: -len(c.fix_zh) - 1]
        if c.fix_en and en.endswith(f". {c.fix_en}"):
            en = en[: -len(c.fix_en) - 2]
        fix = f.fix
        if fix is None and f.clause_id == "ST-DATA-010" and f.field_zh == _SENSOR_FIELD and f.record:
            text = places.field(f.record, fields.index(_SENSOR_FIELD))
            res = self.resolver.resolve(text)
            zh, en = res.explain()
            zh, en = f"{c.title_zh}：{zh}", f"{c.title_en}: {en}"
            fix = res.fix()
        return self._finding(
            name, f.clause_id, f.level, zh, en, places.line(f.record), places.field(f.record, 0),
            f.field_zh or "", f.field_en or "", fix,
        )  # fmt: skip

    def _expand(self, findings: list[Finding], parsed: ParsedFile) -> list[Finding]:
        """Findings the core gives for a whole batch's times (ST-DATA-031), one per record that is off."""
        out = []
        for f in findings:
            if f.record is None and f.clause_id == "ST-DATA-031" and parsed.file_type == "CDSS":
                out += self._times(f, parsed)
            else:
                out.append(f)
        return out

    def _times(self, f: Finding, parsed: ParsedFile) -> list[Finding]:
        cols = parsed.columns
        now = self.now_ms if self.now_ms is not None else ValidationContext().clock_ms()
        latest = now + int(self.limits.max_clock_skew_ms)
        earliest = 946_684_800_000  # 2000-01-01T00:00:00Z
        off = {}
        for stamp, t in cols.times.items():
            ms = int(t.timestamp() * 1000)
            if ms > latest or ms < earliest:
                off[stamp] = ms
        out = []
        for i, stamp in enumerate(cols.stamps, 1):
            when = off.get(stamp)
            if when is None:
                continue
            ahead = when > latest
            out.append(
                Finding(
                    f.clause_id,
                    f.level,
                    f"{clause(f.clause_id).title_zh}：数据时间 {stamp} "
                    + ("晚于当前时间" if ahead else "早于 2000-01-01，时钟未设置？"),
                    f"{clause(f.clause_id).title_en}: data time {stamp} "
                    + ("is later than now" if ahead else "is before 2000-01-01: is the clock unset?"),
                    record=i,
                    field_zh="数据时间",
                    field_en="data time",
                )
            )
        return out or [f]

    # ------------------------------------------------------------------ definitions

    def _synthesise(self, parsed: ParsedFile) -> list[Finding]:
        """Define, from the dictionary, the points of a data file that nothing has defined; check them."""
        seen: dict[str, tuple[int, str, str, str]] = {}
        if parsed.file_type == "CDSS":
            cols = parsed.columns
            rows: Iterable[tuple[str, str, str, str]] = zip(
                cols.point_codes, cols.sensor_types, cols.units, cols.locations, strict=True
            )
        else:
            items: Sequence[Any] = parsed.alarms if parsed.file_type == "YCBJ" else parsed.statistics
            rows = ((r.point_code, r.sensor_type, r.unit, r.location) for r in items)
        known = self.state.aliases_by_code
        for i, (code, sensor, unit, location) in enumerate(rows, 1):
            if code not in known and code not in seen:
                seen[code] = (i, sensor, unit, location)
        if not seen:
            return []
        top = max(self.state.points, default=0)
        points: list[data_pb2.PointDefinition] = []
        records: list[int] = []
        for code, (first, sensor, unit, location) in seen.items():
            top += 1
            points.append(implied_point(top, code, sensor, unit, location, self.resolver))
            records.append(first)
        size = max(1, int(self.limits.max_points_per_definition or 10_000))
        ctx = ValidationContext(
            state=self.state, limits=self.limits, now_ms=self.now_ms, arrival=False,
            type_segments=self.resolver.segments,
        )  # fmt: skip
        spec = SUPPORTED_TYPES[parsed.file_type]
        out = []
        violations = [
            (start, v)
            for start in range(0, len(points), size)
            for v in validate(pb.DefinePointsRequest(points=points[start : start + size]), ctx)
        ]
        for start, v in violations:
            record = None
            field_i = None
            if v.path.startswith("$.points[") or v.path.startswith("points["):
                idx = start + int(v.path.split("[", 1)[1].split("]", 1)[0])
                record = records[idx] if idx < len(records) else None
                field_i = spec.source(v.path.rsplit(".", 1)[-1])
            out.append(
                Finding(
                    v.clause_id,
                    v.level,
                    v.message_zh,
                    v.message_en,
                    record=record,
                    field_zh=spec.fields[field_i] if field_i is not None else None,
                    field_en=spec.fields_en[field_i] if field_i is not None else None,
                    path=v.path,
                )  # fmt: skip
            )
        self.state.define_points(points)
        return out

    def _accept(self, unit: Any, bad: set[int]) -> None:
        """Apply a judged file to the state: its definitions but those of the ``bad`` records (1-based)."""
        if (unit.points or unit.outstations) and not bad and unit.judged:
            for request in unit.judged:  # accepted as judged (a known point keeps its alias, new ones above)
                self.state.apply(request)
        elif unit.points or unit.outstations:
            # the copies the check numbered, but for the bad ones: no second copy of the definitions
            defs = [d for i, d in enumerate(unit.aliased, 1) if i not in bad]
            self.state.apply(pb.DefinePointsRequest(points=defs, outstations=unit.outstations))
        if unit.areas or unit.stations:
            self.state.apply(pb.DefinePositioningRequest(areas=unit.areas, stations=unit.stations))
        if bad:
            return
        for up in unit.uploads:
            up.apply_to(self.state)


def _field_en(name: str, field_zh: str) -> str:
    try:
        spec = HEADER if field_zh in HEADER.fields else SUPPORTED_TYPES[parse_file_name(name).file_type]
        return spec.fields_en[spec.fields.index(field_zh)]
    except (MtFileError, ValueError):
        return ""


# ---------------------------------------------------------------------------------------------------------
# Folders


def validate_folder(
    folder: str | os.PathLike[str],
    *,
    mapping: str | os.PathLike[str] | SiteMapping | None = None,
    now_ms: int | None = None,
) -> FolderReport:
    """Judge every MT/T file (``*.txt``) of a folder, definitions first; other files are listed as skipped."""
    root = Path(folder)
    site = load_site_mapping(mapping) if isinstance(mapping, (str, os.PathLike)) else mapping
    report = FolderReport(str(root))
    names = []
    for entry in sorted(os.scandir(root), key=lambda e: e.name):
        if not entry.is_file():
            continue
        if is_mt_name(entry.name):
            names.append(entry.name)
        elif not entry.name.startswith("."):
            report.skipped.append(entry.name)
    ordered = order_files(names)
    present = {_type_of(n) for n in ordered}
    checker = MtChecker(mapping=site, now_ms=now_ms, synthesise=DEFINITION_TYPES - present)
    for name in ordered:
        report.files.append(checker.check(name, (root / name).read_bytes()))
    return report


def _type_of(name: str) -> str:
    try:
        return parse_file_name(name).file_type
    except MtFileError:
        return ""


def as_violations(report: FileReport) -> list[Any]:
    """The findings of a file as the core's violations (path ``file:line [point] field``, fix for the holder)."""
    out = []
    for f in report.findings:
        v = violation(f.clause_id, f.where(), "", "")
        out.append(
            type(v)(
                f.clause_id, f.where(), f"{f.message_zh}。{f.fix_zh}", f"{f.message_en}. {f.fix_en}", f.level
            )
        )
    return out
