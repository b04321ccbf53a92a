"""The mtfile adapter: a drop folder of MT/T 1201 (KJ) text files → the platform, one whole file at a time.

Every ``poll_interval_ms`` the folder is listed (polling works on every file system, network shares included).
For each ``*.txt`` file, oldest generation time first (definitions before data of the same second):

1. **Stable and complete?** A file is judged only once its size and mtime have not changed for ``stable_s``
   (or at once under ``rename_convention``: the KJ system writes under another name and renames to ``*.txt``),
   and imported only once it ends with ``||``. An incomplete file is left alone and looked at again; when it has
   not grown for ``incomplete_grace_s`` it is quarantined (ST-DATA-041) — and looked at again there on every scan:
   once it ends with ``||`` and is stable (its writer kept writing through its open handle, or someone completed
   it), it is moved back into the folder and imported. Files that are not ``*.txt`` or whose names are not MT/T
   file names (``{digits}_{TYPE}_{digits}.txt``) are skipped, with one log line per name.
2. **Parsed and checked**: UTF-8 or GBK; grammar errors (ST-DATA-040…047) → quarantine. The file's messages are
   validated by the one validation core against what is defined so far; a MUST violation → quarantine.
3. **Waiting for definitions** (decision): data that refers to points, outstations, areas or stations not defined
   yet (ST-IFACE-004, ST-IFACE-018 — a CDSS file dropped before its CDDY, say) is *not* quarantined at once: the
   file waits, and is tried again whenever a definition file has been imported, for up to ``undefined_grace_s``;
   then it is quarantined naming those clauses. Files arrive out of order in practice; the wait costs nothing.
4. **Handed over as a whole**: definition files (CDDY, FZDY, RYQY, RYJZ) go to ``sink.define`` /
   ``define_positioning`` and into a small state file (``state_dir``), so that they are defined again after a
   restart (aliases come from the client's persistent alias table, ST-DATA-017). Data files (CDSS, YCBJ, TJSJ,
   FZSS, RYSS, JZSS) become uploads that :meth:`PlatformClient.submit` commits to the store-and-forward queue in
   **one transaction**, together with the file's name and SHA-256 (queue meta ``mtfile:pending``). Never half a
   file.
5. **Moved**: to ``archive/`` by an atomic rename; bad files to ``quarantine/`` with ``<name>.reason.txt``
   (Chinese and English, clause IDs, record and field).

Crash safety: a crash between "queued" and "moved" leaves the file in the folder; on restart its name and hash
are found in ``mtfile:pending`` and it is moved without being queued again — no duplicate. A crash while
importing a definition file imports it again (definitions are idempotent). A file whose name *and* content equal
an archived one is a duplicate delivery: moved to the archive under a new name, not imported. With a sink that
has no ``submit`` (not a PlatformClient) the adapter pushes through the ordinary UplinkSink methods and flushes:
at least once, not exactly once.

Example::

    adapter:
      kind: mtfile
      settings: {folder: /srv/kj/140421000001, poll_interval_ms: 1000}
"""

from __future__ import annotations

import asyncio
import base64
import contextlib
import hashlib
import json
import logging
import os
import re
import time
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, Protocol, runtime_checkable

from google.protobuf.message import Message
from santong.adapters._sdk import Adapter, AdapterConfig, UplinkSink
from santong.adapters.mtfile._folder import record_lines
from santong.adapters.mtfile._parser import (
    INCOMPLETE_CLAUSE,
    MtFileError,
    _decode,
    format_time,
    parse_bytes,
    parse_file_name,
)
from santong.adapters.mtfile._sensors import SensorResolver, load_site_mapping
from santong.adapters.mtfile.config import MtFileSettings
from santong.adapters.mtfile.converter import (
    DEFINITION_TYPES,
    REFERENCE_CLAUSES,
    FileUnit,
    Finding,
    MtFileConverter,
)
from santong.protocols import DeviceState, ValidationError, default_limits
from santong.protocols._catalogue import clause
from santong.protocols.v1 import data_pb2
from santong.protocols.v1 import device_access_pb2 as pb

__all__ = ["PENDING_KEY", "MtFileAdapter", "MtFileStats", "ScanReport", "TransactionalSink"]

log = logging.getLogger("santong.adapters.mtfile")

#: Queue meta key: {file name: SHA-256} of the data file last committed (cleared by the next commit).
PENDING_KEY = "mtfile:pending"
_STATE_VERSION = 1


@runtime_checkable
class TransactionalSink(Protocol):
    """What a sink offers beyond :class:`UplinkSink` for exactly-once file import (PlatformClient does)."""

    async def submit(
        self, uploads: Iterable[tuple[str, Message]], *, meta: Mapping[str, Any] | None = None
    ) -> list[int]:
        """Queue the uploads and ``meta`` in one transaction (ValidationError: nothing queued)."""
        ...

    async def get_meta(self, key: str, default: Any = None) -> Any:
        """A value committed with ``submit``."""
        ...


@dataclass
class MtFileStats:
    """Counters of one adapter run."""

    scans: int = 0
    imported: int = 0
    definitions_imported: int = 0
    observations: int = 0
    uploads: int = 0
    quarantined: int = 0
    reexamined: int = 0  # quarantined incomplete files completed later and moved back into the folder
    duplicates: int = 0
    recovered: int = 0


@dataclass
class ScanReport:
    """What one :meth:`MtFileAdapter.scan_once` did, by file name."""

    imported: list[str] = field(default_factory=list)
    quarantined: list[str] = field(default_factory=list)
    waiting: list[str] = field(default_factory=list)
    incomplete: list[str] = field(default_factory=list)
    duplicates: list[str] = field(default_factory=list)


@dataclass
class _Track:
    """What the adapter knows of a file in the folder between scans."""

    size: int
    mtime_ns: int
    since: float  # when it was first seen at this size (monotonic)
    waiting_since: float | None = None  # since when it waits for definitions
    tried_version: int = -1  # the definitions version it was last checked against


@dataclass
class _Prepared:
    """The outcome of reading, parsing and checking one file (done off the event loop)."""

    kind: str  # "gone" | "incomplete" | "bad" | "recovered" | "duplicate" | "ok"
    digest: str = ""
    size: int = 0
    unit: FileUnit | None = None
    findings: list[Finding] = field(default_factory=list)


def _sort_key(name: str) -> tuple[float, int, str]:
    try:
        fn = parse_file_name(name)
    except MtFileError:
        return (0.0, 0, name)
    return (fn.generated_at.timestamp(), 0 if fn.file_type in DEFINITION_TYPES else 1, name)


_MT_LIKE = re.compile(r"[0-9]+_[A-Za-z0-9]+_[0-9]+\.txt")
_REASON_SUFFIX = ".reason.txt"
_CLAUSES = "违反条款 / clauses: "


def _list_folder(folder: Path) -> tuple[list[tuple[str, int, int]], list[str]]:
    """(name, size, mtime_ns) of the candidate files — regular ``*.txt`` files named like MT/T files, not
    hidden — and the names of the other regular files (skipped)."""
    out, skipped = [], []
    with os.scandir(folder) as it:
        for e in it:
            name = e.name
            try:
                if not e.is_file(follow_symlinks=False):
                    continue
                if _MT_LIKE.fullmatch(name) is None:
                    skipped.append(name)
                    continue
                st = e.stat(follow_symlinks=False)
            except FileNotFoundError:
                continue
            out.append((name, st.st_size, st.st_mtime_ns))
    return out, skipped


def _quarantined_incomplete(folder: Path) -> list[tuple[Path, int, int]]:
    """Files in the quarantine folder whose reason is ST-DATA-041 (incomplete): (path, size, mtime_ns)."""
    out = []
    with contextlib.suppress(FileNotFoundError), os.scandir(folder) as it:
        for e in it:
            if e.name.endswith(_REASON_SUFFIX) or not e.is_file(follow_symlinks=False):
                continue
            reason = folder / f"{e.name}{_REASON_SUFFIX}"
            try:
                clauses = [
                    ln for ln in reason.read_text(encoding="utf-8").splitlines() if ln.startswith(_CLAUSES)
                ]
                if not clauses or INCOMPLETE_CLAUSE not in clauses[0]:
                    continue
                st = e.stat(follow_symlinks=False)
            except (OSError, UnicodeDecodeError):
                continue
            out.append((Path(e.path), st.st_size, st.st_mtime_ns))
    return out


def _tail_complete(path: Path, size: int) -> bool:
    """True if the file ends with ``||`` (trailing white space allowed); reads only its end."""
    try:
        with open(path, "rb") as f:
            f.seek(max(0, size - 64))
            return f.read().rstrip().endswith(b"||")
    except FileNotFoundError:
        return False


def _finding_of(e: MtFileError) -> Finding:
    """A parser error as a finding: the clause's title, what is wrong, and the record and field it names."""
    c = clause(e.clause_id)
    return Finding(
        e.clause_id, "MUST", f"{c.title_zh}：{e.message_zh}", f"{c.title_en}: {e.message_en}",
        record=e.record_index, field_zh=e.field, field_en=e.field_en,
    )  # fmt: skip


def _record_lines(path: Path) -> list[int]:
    """The line each record of a file starts on (for the reason file); empty when it cannot be read."""
    try:
        return record_lines(_decode(path.name, path.read_bytes())[0])
    except (OSError, MtFileError):
        return []


def _unique(folder: Path, name: str) -> Path:
    """``folder/name``, or ``folder/name.1``, ``.2`` … when taken."""
    target = folder / name
    n = 0
    while target.exists():
        n += 1
        target = folder / f"{name}.{n}"
    return target


def _fsync_dir(folder: Path) -> None:
    with contextlib.suppress(OSError, AttributeError):
        fd = os.open(folder, os.O_RDONLY)
        try:
            os.fsync(fd)
        finally:
            os.close(fd)


def _write_atomic(path: Path, data: bytes) -> None:
    tmp = path.with_name(f".{path.name}.tmp")
    with open(tmp, "wb") as f:
        f.write(data)
        f.flush()
        os.fsync(f.fileno())
    os.replace(tmp, path)


def _sha256_file(path: Path) -> str | None:
    try:
        return hashlib.sha256(path.read_bytes()).hexdigest()
    except OSError:
        return None


class MtFileAdapter(Adapter[MtFileSettings]):
    """Imports MT/T 1201 files from a drop folder (see the module docstring)."""

    kind = "mtfile"
    config_type = MtFileSettings

    def __init__(self, config: AdapterConfig[MtFileSettings], *, clock: Callable[[], float] = time.monotonic):
        """Keep the configuration; the folder is looked at only by :meth:`start`."""
        super().__init__(config)
        mapping = self.settings.mapping
        resolver = SensorResolver(load_site_mapping(mapping) if mapping is not None else None)
        self.converter = MtFileConverter(resolver=resolver)
        self.state = DeviceState(mine_code=self.settings.mine_code)
        self.stats = MtFileStats()
        self._clock = clock
        self._sink: UplinkSink | None = None
        self._task: asyncio.Task[None] | None = None
        self._scan: asyncio.Future[ScanReport] | None = None
        self._stopping = False
        self._tracks: dict[str, _Track] = {}
        self._quarantine_tracks: dict[Path, _Track] = {}
        self._skipped: set[str] = set()
        self._defs_version = 0
        self._pending: dict[str, str] = {}
        self._loaded = False
        # the definitions imported so far, persisted in the state file (by code)
        self._points: dict[str, data_pb2.PointDefinition] = {}
        self._outstations: dict[str, data_pb2.OutstationDefinition] = {}
        self._areas: dict[str, data_pb2.AreaDefinition] = {}
        self._stations: dict[str, data_pb2.StationDefinition] = {}
        self._raised: set[str] = set()

    # ------------------------------------------------------------------ persisted definitions

    def _load_state(self) -> None:
        if self._loaded:
            return
        self._loaded = True
        path = self.settings.state_file
        if not path.exists():
            return
        try:
            doc = json.loads(path.read_text(encoding="utf-8"))
            points = pb.DefinePointsRequest.FromString(base64.b64decode(doc.get("points", "")))
            positioning = pb.DefinePositioningRequest.FromString(base64.b64decode(doc.get("positioning", "")))
        except Exception as e:  # unreadable: the next CDDY/FZDY/RYQY/RYJZ files define everything again
            log.error("状态文件 %s 无法读取，忽略 / state file %s unreadable, ignored: %s", path, path, e)
            return
        self._points = {p.point_code: p for p in points.points}
        self._outstations = {o.outstation_code: o for o in points.outstations}
        self._areas = {a.area_code: a for a in positioning.areas}
        self._stations = {s.station_code: s for s in positioning.stations}
        self._raised = set(doc.get("raised_alarms", []))

    def _save_state(self) -> None:
        points = pb.DefinePointsRequest(points=self._points.values(), outstations=self._outstations.values())
        positioning = pb.DefinePositioningRequest(
            areas=self._areas.values(), stations=self._stations.values()
        )
        doc = {
            "version": _STATE_VERSION,
            "points": base64.b64encode(points.SerializeToString()).decode("ascii"),
            "positioning": base64.b64encode(positioning.SerializeToString()).decode("ascii"),
            "raised_alarms": sorted(self.state.raised_alarms),
        }
        path = self.settings.state_file
        path.parent.mkdir(parents=True, exist_ok=True)
        _write_atomic(path, json.dumps(doc, ensure_ascii=False).encode("utf-8"))

    def definitions(self) -> tuple[list[data_pb2.PointDefinition], list[data_pb2.OutstationDefinition]]:
        """The configured points plus every point and outstation imported from CDDY/FZDY files so far.

        Aliases are left to the client (its persistent alias table keeps each point's alias for good).
        """
        self._load_state()
        configured = [p.definition for p in self.config.points]
        known = {p.point_code for p in configured}
        points = list(configured)
        for p in self._points.values():
            if p.point_code not in known:
                d = data_pb2.PointDefinition()
                d.CopyFrom(p)
                d.alias = 0
                points.append(d)
        outstations = {o.outstation_code: o for o in self.config.outstations}
        for code, o in self._outstations.items():
            outstations.setdefault(code, o)
        return points, list(outstations.values())

    # ------------------------------------------------------------------ lifecycle

    async def start(self, sink: UplinkSink) -> None:
        """Define what earlier runs imported, recover a file queued but not moved, start watching."""
        self._load_state()
        self._sink = sink
        self._stopping = False
        s = self.settings
        for d in (Path(s.folder), s.archive_dir, s.quarantine_dir, s.state_file.parent):
            d.mkdir(parents=True, exist_ok=True)
        config = getattr(sink, "config", None)
        mine = s.mine_code or getattr(getattr(config, "mine", None), "mine_code", "")
        self.state = DeviceState(mine_code=mine)
        points, outstations = self.definitions()
        have = {d.point_code for d in self._sink_definitions()}
        missing = [p for p in points if p.point_code not in have]
        if missing or outstations:
            await self._define(missing, outstations)
        if self._areas or self._stations:
            await sink.define_positioning(self._areas.values(), self._stations.values())
        self._refresh_state()
        if isinstance(sink, TransactionalSink):
            self.state.raised_alarms = set(await sink.get_meta("raised_alarms", []) or [])
            self._pending = dict(await sink.get_meta(PENDING_KEY, {}) or {})
        else:
            self.state.raised_alarms = set(self._raised)
        self._task = asyncio.get_running_loop().create_task(self._run(), name="santong-mtfile")
        log.info(
            "监视投放目录 %s（%d 个测点已定义）/ watching the drop folder %s (%d points defined)",
            s.folder, len(self.state.points), s.folder, len(self.state.points),
        )  # fmt: skip

    async def stop(self) -> None:
        """Stop watching; the file in hand is finished first (handed over whole or not at all), no further one."""
        self._stopping = True
        task, self._task = self._task, None
        if task is not None:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task
        scan, self._scan = self._scan, None
        if scan is not None and not scan.done():
            try:
                await scan
            except Exception:
                log.exception("停止时导入出错 / importing failed while stopping")

    async def _run(self) -> None:
        interval = self.settings.poll_interval_ms / 1000
        while True:
            # Shielded: cancelling the loop (stop) lets the file in hand finish; stop() waits for it.
            self._scan = asyncio.ensure_future(self.scan_once())
            try:
                await asyncio.shield(self._scan)
            except asyncio.CancelledError:
                raise
            except Exception:  # the adapter keeps running whatever one scan met
                log.exception("扫描投放目录出错 / scanning the drop folder failed")
            await asyncio.sleep(interval)

    # ------------------------------------------------------------------ state

    def _sink_definitions(self) -> list[data_pb2.PointDefinition]:
        get = getattr(self._sink, "definitions", None)
        if callable(get):
            try:
                return list(get())
            except TypeError:
                return []
        return []

    def _refresh_state(self) -> None:
        """The validation state: points with the client's aliases (or local ones), outstations, areas, stations."""
        defs = self._sink_definitions()
        if not defs and self._points:  # a sink that keeps no aliases: number the points here, stably
            top = max((p.alias for p in self._points.values()), default=0)
            for p in self._points.values():
                if not p.alias:
                    top += 1
                    p.alias = top
            defs = list(self._points.values())
        raised = self.state.raised_alarms
        self.state = DeviceState(mine_code=self.state.mine_code, raised_alarms=raised)
        self.state.define_points(defs)
        self.state.outstations.update(self._outstations)
        self.state.outstations.update(o.outstation_code for o in self.config.outstations)
        self.state.areas.update(self._areas)
        self.state.stations.update(self._stations)
        for d in defs:  # remember the client's alias in the state file
            mine = self._points.get(d.point_code)
            if mine is not None:
                mine.alias = d.alias

    def _limits(self) -> pb.Limits:
        limits = getattr(self._sink, "limits", None)
        return limits if isinstance(limits, pb.Limits) else default_limits()

    def _batch_size(self) -> int:
        size = int(self._limits().max_batch_points or 10_000)
        config = getattr(self._sink, "config", None)
        configured = getattr(getattr(config, "batch", None), "max_points", None)
        return max(1, min(size, configured)) if isinstance(configured, int) else size

    def _now_ms(self) -> int:
        now = getattr(self._sink, "now_ms", None)
        return int(now()) if callable(now) else int(time.time() * 1000)

    # ------------------------------------------------------------------ scanning

    async def scan_once(self) -> ScanReport:
        """Look at the folder once and import, quarantine or leave each file; returns what happened."""
        if self._sink is None:
            raise RuntimeError("the adapter has not been started")
        report = ScanReport()
        self.stats.scans += 1
        again = True
        await self._reexamine()
        while again:
            folder = Path(self.settings.folder)
            entries, skipped = await asyncio.to_thread(_list_folder, folder)
            self._log_skipped(skipped)
            now = self._clock()
            present = {name for name, _, _ in entries}
            for gone in set(self._tracks) - present:
                del self._tracks[gone]
            version = self._defs_version
            waiting = False
            for name, size, mtime in sorted(entries, key=lambda e: _sort_key(e[0])):
                if self._stopping:
                    return report
                tr = self._tracks.get(name)
                if tr is None or (tr.size, tr.mtime_ns) != (size, mtime):
                    tr = self._tracks[name] = _Track(size, mtime, now, tr.waiting_since if tr else None)
                outcome = await self._consider(folder / name, tr, now)
                if outcome != "gone":
                    getattr(report, outcome).append(name)
                waiting = waiting or outcome == "waiting"
            # a definition file imported in this pass may be what a waiting file needs: look again at once
            again = waiting and self._defs_version != version
        return report

    def _log_skipped(self, names: list[str]) -> None:
        """One log line per file name the adapter does not judge (not silently skipped)."""
        for name in names:
            if name not in self._skipped:
                self._skipped.add(name)
                log.info(
                    "跳过 %s：不是 MT/T 1201 文件名（煤矿编码_类型_yyyyMMddHHmmss.txt），不导入 / skipped %s: not an "
                    "MT/T 1201 file name ({mine code}_{TYPE}_{yyyyMMddHHmmss}.txt), not imported", name, name,
                )  # fmt: skip
        self._skipped.intersection_update(names)

    async def _reexamine(self) -> None:
        """Quarantined incomplete files that have since been completed and are stable go back into the folder."""
        s = self.settings
        found = await asyncio.to_thread(_quarantined_incomplete, s.quarantine_dir)
        now = self._clock()
        present = {path for path, _, _ in found}
        for gone in set(self._quarantine_tracks) - present:
            del self._quarantine_tracks[gone]
        for path, size, mtime in found:
            tr = self._quarantine_tracks.get(path)
            if tr is None or (tr.size, tr.mtime_ns) != (size, mtime):
                tr = self._quarantine_tracks[path] = _Track(size, mtime, now)
            if now - tr.since < s.stable_s or not await asyncio.to_thread(_tail_complete, path, size):
                continue
            name = re.sub(r"(\.txt)\.[0-9]+$", r"\1", path.name)
            target = Path(s.folder) / name

            def back(path: Path = path, target: Path = target) -> bool:
                if target.exists():
                    return False
                os.replace(path, target)
                with contextlib.suppress(FileNotFoundError):
                    os.unlink(path.parent / f"{path.name}{_REASON_SUFFIX}")
                _fsync_dir(target.parent)
                return True

            if await asyncio.to_thread(back):
                del self._quarantine_tracks[path]
                self.stats.reexamined += 1
                log.info(
                    "隔离的不完整文件 %s 现已完整，移回投放目录重新导入 / the quarantined incomplete file %s is now "
                    "complete: moved back into the drop folder to be imported", path.name, path.name,
                )  # fmt: skip

    async def _consider(self, path: Path, tr: _Track, now: float) -> str:
        s = self.settings
        name = path.name
        if not s.rename_convention and now - tr.since < s.stable_s:
            return "incomplete"  # still changing (or just seen): judged once stable for stable_s
        if (
            tr.waiting_since is not None
            and tr.tried_version == self._defs_version
            and now - tr.waiting_since < s.undefined_grace_s
        ):
            return "waiting"  # nothing was defined since the last try: do not parse it again
        complete = await asyncio.to_thread(_tail_complete, path, tr.size)
        if not complete and now - tr.since < s.incomplete_grace_s:
            return "incomplete"
        prepared = await asyncio.to_thread(self._prepare, path)
        if prepared.kind == "gone":
            self._tracks.pop(name, None)
            return "gone"
        if prepared.kind == "incomplete":
            if now - tr.since < s.incomplete_grace_s:
                return "incomplete"
            prepared.kind = "bad"
        if prepared.kind == "recovered":
            await self._move(path, s.archive_dir)
            self._pending.pop(name, None)
            self.stats.recovered += 1
            log.info(
                "文件 %s 在重启前已入队，直接归档，不重复导入 / file %s was queued before the restart: archived, not queued again",
                name, name,
            )  # fmt: skip
            return "imported"
        if prepared.kind == "duplicate":
            await self._move(path, s.archive_dir)
            self.stats.duplicates += 1
            log.warning(
                "文件 %s 与已归档的同名文件内容相同，是重复投递，未导入 / file %s equals the archived file of that name: "
                "a duplicate delivery, not imported", name, name,
            )  # fmt: skip
            return "duplicates"
        must = [f for f in prepared.findings if f.is_must]
        if prepared.kind == "bad" or must:
            if must and all(f.clause_id in REFERENCE_CLAUSES for f in must):
                if tr.waiting_since is None:
                    tr.waiting_since = now
                    log.info(
                        "文件 %s 引用尚未定义的测点或对象，等待其定义文件 / file %s refers to undefined points or objects: "
                        "waiting for their definition file (%s)", name, name, must[0].message_en,
                    )  # fmt: skip
                tr.tried_version = self._defs_version
                if now - tr.waiting_since < s.undefined_grace_s:
                    return "waiting"
            await self._quarantine(path, prepared)
            self._tracks.pop(name, None)
            return "quarantined"
        assert prepared.unit is not None
        try:
            await self._import(prepared.unit, prepared.digest)
        except ValidationError as e:  # the client's own pre-flight disagreed: nothing was queued
            prepared.findings = self.converter._findings(prepared.unit, e.violations)
            await self._quarantine(path, prepared)
            self._tracks.pop(name, None)
            return "quarantined"
        await self._move(path, s.archive_dir)
        self._tracks.pop(name, None)
        self._pending.pop(name, None)  # from now on a file of that name and content is a duplicate delivery
        for f in prepared.findings[:5]:  # SHOULD findings: imported, but worth a look
            log.warning("文件 %s / file %s [%s] %s: %s", name, name, f.clause_id, f.where_en(), f.message_en)
        if len(prepared.findings) > 5:
            log.warning("文件 %s / file %s: %d more findings", name, name, len(prepared.findings) - 5)
        return "imported"

    def _prepare(self, path: Path) -> _Prepared:
        """Read, hash, parse, convert and check one file (runs in a worker thread)."""
        try:
            data = path.read_bytes()
        except FileNotFoundError:
            return _Prepared("gone")
        digest = hashlib.sha256(data).hexdigest()
        name = path.name
        if self._pending.get(name) == digest:
            return _Prepared("recovered", digest, len(data))
        archived = self.settings.archive_dir / name
        if archived.exists() and _sha256_file(archived) == digest:
            return _Prepared("duplicate", digest, len(data))
        try:
            parsed = parse_bytes(name, data)
        except MtFileError as e:
            kind = "incomplete" if e.clause_id == INCOMPLETE_CLAUSE else "bad"
            return _Prepared(kind, digest, len(data), findings=[_finding_of(x) for x in e.errors])
        self.converter.max_batch_points = self._batch_size()
        unit = self.converter.unit(parsed, self.state, name=name)
        findings = self.converter.check(unit, self.state, limits=self._limits(), now_ms=self._now_ms())
        return _Prepared("ok", digest, len(data), unit, findings)

    # ------------------------------------------------------------------ importing

    async def _define(
        self, points: list[data_pb2.PointDefinition], outstations: list[data_pb2.OutstationDefinition]
    ) -> None:
        assert self._sink is not None
        size = max(1, int(self._limits().max_points_per_definition or 10_000))
        if not points:
            await self._sink.define([], outstations)
        for i in range(0, len(points), size):
            await self._sink.define(points[i : i + size], outstations if i == 0 else [])

    async def _import(self, unit: FileUnit, digest: str) -> None:
        """Hand the unit to the sink as a whole: definitions, or uploads in one transaction."""
        sink = self._sink
        assert sink is not None
        if unit.defines:
            if unit.points or unit.outstations:
                await self._define(unit.points, unit.outstations)
            if unit.areas or unit.stations:
                await sink.define_positioning(unit.areas, unit.stations)
            for p in unit.points:  # a redefinition keeps the point's alias (ST-DATA-017)
                old = self._points.get(p.point_code)
                if old is not None and not p.alias:
                    p.alias = old.alias
                self._points[p.point_code] = p
            self._outstations.update((o.outstation_code, o) for o in unit.outstations)
            self._areas.update((a.area_code, a) for a in unit.areas)
            self._stations.update((s.station_code, s) for s in unit.stations)
            self._refresh_state()
            await asyncio.to_thread(self._save_state)
            self._defs_version += 1
            self.stats.definitions_imported += 1
        else:
            uploads = [(u.method, u.request) for u in unit.uploads]
            if isinstance(sink, TransactionalSink):
                pending = {unit.name: digest}
                await sink.submit(uploads, meta={PENDING_KEY: pending})
                self._pending = pending
            else:
                await self._push(sink, uploads)
            for _, request in uploads:
                if request.DESCRIPTOR.name == "ReportAlarmsRequest":
                    self.state.apply(request)
            if any(m == "ReportAlarms" for m, _ in uploads) and not isinstance(sink, TransactionalSink):
                await asyncio.to_thread(self._save_state)
            self.stats.uploads += len(uploads)
            self.stats.observations += unit.observation_count
        self.stats.imported += 1
        log.info(
            "已导入 %s（%s，%d 条记录）/ imported %s (%s, %d records)",
            unit.name, unit.file_type, unit.record_count, unit.name, unit.file_type, unit.record_count,
        )  # fmt: skip

    async def _push(self, sink: UplinkSink, uploads: list[tuple[str, Message]]) -> None:
        """A sink without ``submit``: the ordinary UplinkSink methods, then flush (at least once)."""
        code_of = {a: p.point_code for a, p in self.state.points.items()}
        for method, req in uploads:
            r: Any = req
            if method == "ReportObservations":
                b = r.batch
                base = b.base_time.seconds * 1000 + b.base_time.nanos // 1_000_000
                await sink.observations(
                    (code_of[a], v, base + o, s)
                    for a, v, o, s in zip(b.alias, b.value, b.time_offset_ms, b.status, strict=True)
                )
            elif method == "ReportAlarms":
                await sink.alarms(r.alarms)
            elif method == "ReportOutstationStatus":
                await sink.outstation_statuses(r.statuses)
            elif method == "ReportStatistics":
                await sink.statistics(r.statistics)
            elif method == "ReportPersonnel":
                await sink.personnel(r.records, r.stations)
        await sink.flush()

    # ------------------------------------------------------------------ moving

    async def _move(self, path: Path, folder: Path) -> Path:
        """Atomic rename into ``folder`` (a new name if taken); the folder entry is synced."""

        def move() -> Path:
            target = _unique(folder, path.name)
            os.replace(path, target)
            _fsync_dir(path.parent)
            return target

        return await asyncio.to_thread(move)

    async def _quarantine(self, path: Path, prepared: _Prepared) -> None:
        """Write ``<name>.reason.txt`` into the quarantine folder, then move the file there."""
        folder = self.settings.quarantine_dir
        name = path.name

        def move() -> Path:
            target = _unique(folder, name)
            text = self._reason(name, prepared, _record_lines(path))
            _write_atomic(folder / f"{target.name}.reason.txt", text.encode("utf-8"))
            os.replace(path, target)
            _fsync_dir(path.parent)
            return target

        target = await asyncio.to_thread(move)
        self.stats.quarantined += 1
        must = [f for f in prepared.findings if f.is_must] or prepared.findings
        ids = ", ".join(dict.fromkeys(f.clause_id for f in must)) or "-"
        first = must[0] if must else None
        log.error(
            "文件 %s 已隔离到 %s [%s]：%s / file %s quarantined to %s [%s]: %s",
            name, target, ids, first.message_zh if first else "", name, target, ids,
            first.message_en if first else "",
        )  # fmt: skip

    def _reason(self, name: str, prepared: _Prepared, record_lines: list[int] | None = None) -> str:
        """The reason file: verdict, clauses, and per finding the line, record and field, what, and the fix."""
        lines_of = record_lines or []
        now = datetime.now(UTC)
        findings = [f for f in prepared.findings if f.is_must] or prepared.findings
        lines = [
            "MT/T 1201 文件隔离原因 / why this MT/T 1201 file was quarantined",
            f"文件 / file: {name}",
            f"大小 / size: {prepared.size} bytes    SHA-256: {prepared.digest}",
            f"隔离时间 / quarantined at: {format_time(now)}（北京时间 / China time, UTC+8）= "
            f"{now.astimezone(UTC):%Y-%m-%dT%H:%M:%SZ}",
            "结论 / verdict: 本文件的任何记录都未导入 / nothing from this file was imported",
            f"{_CLAUSES}{', '.join(dict.fromkeys(f.clause_id for f in findings)) or '-'}",
            "",
        ]
        for f in findings[:50]:
            line = lines_of[f.record] if f.record is not None and f.record < len(lines_of) else None
            at = f"第 {line} 行，" if line else ""
            at_en = f"line {line}, " if line else ""
            lines.append(f"[{f.clause_id}] {at}{f.where_zh()} / {at_en}{f.where_en()}")
            lines.append(f"  中文：{f.message_zh}")
            lines.append(f"  English: {f.message_en}")
            c = clause(f.clause_id)
            fix_zh, fix_en = f.fix or (c.fix_holder_zh or c.fix_zh, c.fix_holder_en or c.fix_en)
            if fix_zh:
                lines.append(f"  改法：{fix_zh}")
                lines.append(f"  Fix: {fix_en}")
            if f.path:
                lines.append(f"  path: {f.path}")
        if len(findings) > 50:
            lines.append(f"…… 另有 {len(findings) - 50} 条 / … and {len(findings) - 50} more")
        lines.append("")
        if any(f.clause_id == INCOMPLETE_CLAUSE for f in findings):
            lines.append(
                "不完整的文件留在隔离目录中受监视：一旦以“||”结尾且不再变化，会自动移回投放目录并导入 / an incomplete "
                "file stays watched here: once it ends with '||' and stops changing, it is moved back into the drop "
                "folder and imported"
            )
        lines.append(
            "处理：按上述条款修正文件后，重新放入投放目录 / fix: correct the file as the clauses say and "
            "drop it into the folder again"
        )
        return "\n".join(lines) + "\n"
