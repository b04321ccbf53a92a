"""The inspection API: what the platform stored and saw, as JSON-able dicts (read by the conformance suite).

Every query runs on the database thread after every write queued before it, so a test that got an
acknowledgement sees the acknowledged data.
"""

from __future__ import annotations

import json
import sqlite3
import time
from collections.abc import Callable
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

from santong.mock_platform._ingest import seq_from_db, seq_to_db
from santong.protocols import to_dict
from santong.protocols.v1 import data_pb2, device_access_pb2

if TYPE_CHECKING:
    from santong.mock_platform._service import Platform

__all__ = ["INSPECTION_OPS", "Inspection"]

INSPECTION_OPS = (
    "devices", "definitions", "observations", "batches", "uploads", "acknowledged", "alarms", "statuses",
    "statistics", "personnel", "interactions", "commands", "counts", "export", "reset", "add_device",
    "send_command", "faults",
)  # fmt: skip
DEFAULT_LIMIT = 100_000


def iso(ms: int | None) -> str | None:
    """RFC 3339 UTC text of epoch milliseconds (None when absent or outside years 1–9999)."""
    if ms is None:
        return None
    try:
        return datetime.fromtimestamp(ms / 1000, tz=UTC).strftime("%Y-%m-%dT%H:%M:%S.%f")[:-3] + "Z"
    except (OverflowError, ValueError, OSError):
        return None


def message_dict(msg: Any) -> dict[str, Any]:
    """The JSON form of a stored message; one that JSON cannot express (e.g. a timestamp beyond year 9999)
    falls back to its text form."""
    try:
        return to_dict(msg)
    except (ValueError, TypeError, OverflowError):
        from google.protobuf import text_format

        return {"text_format": text_format.MessageToString(msg, as_one_line=True)}


def _where(conds: list[tuple[str, Any]]) -> tuple[str, list[Any]]:
    parts = [c for c, v in conds if v is not None]
    params = [v for c, v in conds if v is not None]
    return (" WHERE " + " AND ".join(parts)) if parts else "", params


def _int(x: Any, name: str) -> int | None:
    from santong.mock_platform._errors import PlatformError

    if x is None or x == "":
        return None
    try:
        return int(x)
    except (TypeError, ValueError) as e:
        raise PlatformError("INVALID_ARGUMENT", f"{name} 须为整数", f"{name} must be an integer") from e


def _bool(x: Any) -> int | None:
    if x is None or x == "":
        return None
    if isinstance(x, str):
        return int(x.lower() in ("1", "true", "yes"))
    return int(bool(x))


class Inspection:
    """Queries over everything the platform stored, by device, point and time; counts; export; reset.

    Example::

        obs = await platform.inspection.observations(device_id="KJ70N-0001", point_code="14042100000101MNA0010A01")
        n = (await platform.inspection.counts())["observations"]
    """

    def __init__(self, platform: Platform) -> None:
        self._p = platform

    async def run(self, op: str, args: dict[str, Any] | None = None) -> Any:
        """Dispatch an inspection operation by name (what the HTTP and admin transports call)."""
        from santong.mock_platform._errors import PlatformError

        if op not in INSPECTION_OPS:
            raise PlatformError("NOT_FOUND", f"未知的查询 {op}", f"unknown inspection operation {op!r}")
        args = dict(args or {})
        if op == "add_device":
            fn: Callable[..., Any] = self._p.add_device
        elif op == "send_command":
            fn = self._p.send_command
        elif op == "faults":
            return self._p.faults.status()
        else:
            fn = getattr(self, op)
        try:
            result = fn(**args)
        except TypeError as e:
            raise PlatformError("INVALID_ARGUMENT", f"参数错误：{e}", f"bad arguments: {e}") from e
        if hasattr(result, "__await__"):
            result = await result
        return result

    async def _read(self, fn: Callable[[sqlite3.Connection], Any]) -> Any:
        return await self._p.store.read(fn)

    # ------------------------------------------------------------------ devices and definitions

    async def devices(self) -> list[dict[str, Any]]:
        """Every known device: registration, session, negotiated version, last sequence, liveness."""
        now = int(time.time() * 1000)
        out = []
        for dev in sorted(self._p.devices.values(), key=lambda d: d.device_id):
            identity = None
            if dev.register_request:
                identity = message_dict(device_access_pb2.RegisterRequest.FromString(dev.register_request))
            out.append({
                "device_id": dev.device_id,
                "registered": dev.registered,
                "session_id": dev.session_id,
                "negotiated_version": dev.negotiated_version,
                "mine_code": dev.state.mine_code,
                "registered_at": iso(dev.registered_ms),
                "last_sequence": dev.state.last_sequence,
                "sequence_epoch": dev.state.sequence_epoch,
                "online": self._p.is_online(dev, now),
                "last_call_ms": dev.alive_ms,
                "last_heartbeat_ms": dev.last_heartbeat_ms,
                "points_defined": len(dev.state.points),
                "raised_alarms": sorted(dev.state.raised_alarms),
                "pending_commands": dev.commands.qsize(),
                "register_request": identity,
            })  # fmt: skip
        return out

    async def definitions(self, device_id: str | None = None) -> dict[str, list[dict[str, Any]]]:
        """Point, outstation, area and station definitions as stored (the latest of each)."""

        def q(c: sqlite3.Connection) -> dict[str, list[Any]]:
            w, p = _where([("device_id = ?", device_id)])
            return {
                "points": c.execute(
                    f"SELECT device_id, definition, defined_ms FROM points{w} ORDER BY device_id, alias", p
                ).fetchall(),
                "outstations": c.execute(
                    f"SELECT device_id, definition, defined_ms FROM outstations{w} ORDER BY device_id, outstation_code",
                    p,
                ).fetchall(),
                "areas": c.execute(
                    f"SELECT device_id, definition, defined_ms FROM areas{w} ORDER BY device_id, area_code", p
                ).fetchall(),
                "stations": c.execute(
                    f"SELECT device_id, definition, defined_ms FROM stations{w} ORDER BY device_id, station_code",
                    p,
                ).fetchall(),
            }

        rows = await self._read(q)
        classes = {
            "points": data_pb2.PointDefinition,
            "outstations": data_pb2.OutstationDefinition,
            "areas": data_pb2.AreaDefinition,
            "stations": data_pb2.StationDefinition,
        }
        return {
            k: [
                {"device_id": d, "defined_at": iso(ms), **message_dict(classes[k].FromString(blob))}
                for d, blob, ms in v
            ]
            for k, v in rows.items()
        }

    # ------------------------------------------------------------------ observations

    async def batches(
        self,
        device_id: str | None = None,
        since_ms: Any = None,
        until_ms: Any = None,
        backfill: Any = None,
        limit: Any = None,
    ) -> list[dict[str, Any]]:
        """Accepted observation batches (one row each, without their points)."""
        w, p = _where([
            ("device_id = ?", device_id), ("max_time_ms >= ?", _int(since_ms, "since_ms")),
            ("min_time_ms <= ?", _int(until_ms, "until_ms")), ("backfill = ?", _bool(backfill)),
        ])  # fmt: skip
        lim = _int(limit, "limit") or DEFAULT_LIMIT
        rows = await self._read(lambda c: c.execute(
            "SELECT device_id, sequence, base_time_ms, min_time_ms, max_time_ms, n_points, backfill, received_ms"
            f" FROM observation_batches{w} ORDER BY device_id, sequence LIMIT ?", [*p, lim]).fetchall())  # fmt: skip
        return [
            {"device_id": d, "sequence": seq_from_db(s), "base_time": iso(b), "base_time_ms": b, "min_time_ms": lo, "max_time_ms": hi,
             "n_points": n, "backfill": bool(bf), "received_ms": r}
            for d, s, b, lo, hi, n, bf, r in rows
        ]  # fmt: skip

    async def observations(
        self,
        device_id: str | None = None,
        point_code: str | None = None,
        alias: Any = None,
        since_ms: Any = None,
        until_ms: Any = None,
        sequence: Any = None,
        backfill: Any = None,
        limit: Any = None,
    ) -> list[dict[str, Any]]:
        """Stored observations, one dict per point value, ordered by device, sequence and position in the batch."""
        since, until, seq, lim = (
            _int(since_ms, "since_ms"),
            _int(until_ms, "until_ms"),
            _int(sequence, "sequence"),
            _int(limit, "limit") or DEFAULT_LIMIT,
        )
        want_alias = _int(alias, "alias")
        w, p = _where([
            ("device_id = ?", device_id), ("max_time_ms >= ?", since), ("min_time_ms <= ?", until),
            ("sequence = ?", None if seq is None else seq_to_db(seq)), ("backfill = ?", _bool(backfill)),
        ])  # fmt: skip
        rows = await self._read(lambda c: c.execute(
            f"SELECT device_id, sequence, backfill, batch FROM observation_batches{w} ORDER BY device_id, sequence", p).fetchall())  # fmt: skip
        out: list[dict[str, Any]] = []
        for d, s, bf, blob in rows:
            dev = self._p.devices.get(d)
            codes = {a: pd.point_code for a, pd in dev.state.points.items()} if dev else {}
            b = data_pb2.ObservationBatch.FromString(blob)
            base = b.base_time.seconds * 1000 + b.base_time.nanos // 1_000_000
            wanted = want_alias
            if point_code is not None:
                found = [a for a, c in codes.items() if c == point_code]
                if not found:
                    continue
                wanted = found[0] if wanted is None or wanted == found[0] else -1
            for a, v, o, st in zip(b.alias, b.value, b.time_offset_ms, b.status, strict=False):
                if wanted is not None and a != wanted:
                    continue
                t = base + o
                if (since is not None and t < since) or (until is not None and t > until):
                    continue
                out.append({"device_id": d, "sequence": seq_from_db(s), "alias": a, "point_code": codes.get(a, ""), "value": v,
                            "time_ms": t, "time": iso(t), "status": st, "backfill": bool(bf)})  # fmt: skip
                if len(out) >= lim:
                    return out
        return out

    async def uploads(self, device_id: str | None = None, method: str | None = None) -> list[dict[str, Any]]:
        """The acknowledgement register: every stored upload (device, sequence epoch, sequence, method, records,
        backfill), in that order."""
        w, p = _where([("device_id = ?", device_id), ("method = ?", method)])
        rows = await self._read(lambda c: c.execute(
            f"SELECT device_id, sequence, method, n_records, backfill, received_ms, epoch FROM uploads{w} ORDER BY device_id, sequence", p).fetchall())  # fmt: skip
        out = [
            {
                "device_id": d,
                "epoch": seq_from_db(e),
                "sequence": seq_from_db(s),
                "method": m,
                "n_records": n,
                "backfill": bool(b),
                "received_ms": r,
            }
            for d, s, m, n, b, r, e in rows
        ]
        return sorted(out, key=lambda u: (u["device_id"], u["epoch"], u["sequence"]))

    async def acknowledged(self, device_id: str) -> list[int]:
        """The sequences stored (and so acknowledged, or acknowledgeable on replay) for one device, earlier
        sequence epochs first (ST-PROTO-037)."""
        rows = await self._read(
            lambda c: c.execute(
                "SELECT epoch, sequence FROM uploads WHERE device_id = ?", (device_id,)
            ).fetchall()
        )
        return [s for _, s in sorted((seq_from_db(e) or 0, seq_from_db(s) or 0) for e, s in rows)]

    # ------------------------------------------------------------------ other records

    async def _records(
        self,
        table: str,
        blob_col: str,
        cls: Any,
        key: str,
        conds: list[tuple[str, Any]],
        order: str,
        time_col: str,
        limit: Any,
    ) -> list[dict[str, Any]]:
        w, p = _where(conds)
        lim = _int(limit, "limit") or DEFAULT_LIMIT
        rows = await self._read(lambda c: c.execute(
            f"SELECT device_id, sequence, backfill, received_ms, {time_col}, {blob_col} FROM {table}{w} ORDER BY {order} LIMIT ?", [*p, lim]).fetchall())  # fmt: skip
        return [
            {
                "device_id": d,
                "sequence": seq_from_db(s),
                "backfill": bool(b),
                "received_ms": r,
                f"{key}_ms": t,
                **message_dict(cls.FromString(blob)),
            }
            for d, s, b, r, t, blob in rows
        ]

    async def alarms(self, device_id: str | None = None, point_code: str | None = None, alarm_id: str | None = None,
                     since_ms: Any = None, until_ms: Any = None, limit: Any = None) -> list[dict[str, Any]]:  # fmt: skip
        """Alarm messages in arrival order (a raise and its clear are two entries sharing alarm_id)."""
        conds = [("device_id = ?", device_id), ("point_code = ?", point_code), ("alarm_id = ?", alarm_id),
                 ("start_ms >= ?", _int(since_ms, "since_ms")), ("start_ms <= ?", _int(until_ms, "until_ms"))]  # fmt: skip
        return await self._records("alarms", "alarm", data_pb2.Alarm, "start", conds, "id", "start_ms", limit)

    async def statuses(self, device_id: str | None = None, outstation_code: str | None = None,
                       since_ms: Any = None, until_ms: Any = None, limit: Any = None) -> list[dict[str, Any]]:  # fmt: skip
        """Outstation run/power states in arrival order."""
        conds = [("device_id = ?", device_id), ("outstation_code = ?", outstation_code),
                 ("time_ms >= ?", _int(since_ms, "since_ms")), ("time_ms <= ?", _int(until_ms, "until_ms"))]  # fmt: skip
        return await self._records(
            "outstation_statuses", "status", data_pb2.OutstationStatus, "time", conds, "id", "time_ms", limit
        )

    async def statistics(self, device_id: str | None = None, point_code: str | None = None,
                         since_ms: Any = None, until_ms: Any = None, limit: Any = None) -> list[dict[str, Any]]:  # fmt: skip
        """Statistics records in arrival order."""
        conds = [("device_id = ?", device_id), ("point_code = ?", point_code),
                 ("end_ms >= ?", _int(since_ms, "since_ms")), ("start_ms <= ?", _int(until_ms, "until_ms"))]  # fmt: skip
        return await self._records(
            "statistics", "statistics", data_pb2.Statistics, "start", conds, "id", "start_ms", limit
        )

    async def personnel(self, device_id: str | None = None, card_code: str | None = None, station_code: str | None = None,
                        since_ms: Any = None, until_ms: Any = None, limit: Any = None) -> dict[str, list[dict[str, Any]]]:  # fmt: skip
        """Personnel records and base-station states in arrival order."""
        since, until = _int(since_ms, "since_ms"), _int(until_ms, "until_ms")
        records = await self._records("personnel", "record", data_pb2.PersonnelRecord, "time",
                                      [("device_id = ?", device_id), ("card_code = ?", card_code), ("time_ms >= ?", since), ("time_ms <= ?", until)],
                                      "id", "time_ms", limit)  # fmt: skip
        stations = await self._records("station_statuses", "status", data_pb2.StationStatus, "time",
                                       [("device_id = ?", device_id), ("station_code = ?", station_code), ("time_ms >= ?", since), ("time_ms <= ?", until)],
                                       "id", "time_ms", limit)  # fmt: skip
        return {"records": records, "stations": stations}

    async def interactions(self, device_id: str | None = None, method: str | None = None, verdict: str | None = None,
                           since_id: Any = None, limit: Any = None) -> list[dict[str, Any]]:  # fmt: skip
        """The interaction log: every request with verdict, status code and violated clause IDs; faults; events."""
        w, p = _where(
            [
                ("device_id = ?", device_id),
                ("method = ?", method),
                ("verdict = ?", verdict),
                ("id > ?", _int(since_id, "since_id")),
            ]
        )
        lim = _int(limit, "limit") or DEFAULT_LIMIT
        rows = await self._read(lambda c: c.execute(
            "SELECT id, time_ms, device_id, method, peer, sequence, verdict, code, clause_ids, violations, n_records,"
            f" duration_ms, note FROM interactions{w} ORDER BY id LIMIT ?", [*p, lim]).fetchall())  # fmt: skip
        return [
            {"id": i, "time_ms": t, "time": iso(t), "device_id": d, "method": m, "peer": pe, "sequence": seq_from_db(s), "verdict": v,
             "code": c, "clause_ids": json.loads(ci), "violations": json.loads(vs), "n_records": n, "duration_ms": du, "note": no}
            for i, t, d, m, pe, s, v, c, ci, vs, n, du, no in rows
        ]  # fmt: skip

    async def commands(self, device_id: str | None = None) -> list[dict[str, Any]]:
        """Downlink commands with when they were queued and sent, and the device's result."""
        w, p = _where([("device_id = ?", device_id)])
        rows = await self._read(lambda c: c.execute(
            f"SELECT command_id, device_id, command, issued_ms, sent_ms, outcome, result_message, result_ms FROM commands{w} ORDER BY issued_ms", p).fetchall())  # fmt: skip
        out = []
        for cid, d, blob, issued, sent, outcome, msg, rms in rows:
            out.append({
                "command_id": cid, "device_id": d, "command": message_dict(device_access_pb2.Command.FromString(blob)),
                "issued_ms": issued, "sent_ms": sent,
                "outcome": device_access_pb2.CommandOutcome.Name(outcome) if outcome in device_access_pb2.CommandOutcome.values() else outcome,
                "result_message": msg, "result_ms": rms,
            })  # fmt: skip
        return out

    async def counts(self, device_id: str | None = None) -> dict[str, int]:
        """Counts of everything stored (observations are points, not batches)."""
        w, p = _where([("device_id = ?", device_id)])

        def q(c: sqlite3.Connection) -> dict[str, int]:
            one = lambda sql: int(c.execute(sql, p).fetchone()[0] or 0)  # noqa: E731
            return {
                "points": one(f"SELECT count(*) FROM points{w}"),
                "outstations": one(f"SELECT count(*) FROM outstations{w}"),
                "areas": one(f"SELECT count(*) FROM areas{w}"),
                "stations": one(f"SELECT count(*) FROM stations{w}"),
                "uploads": one(f"SELECT count(*) FROM uploads{w}"),
                "batches": one(f"SELECT count(*) FROM observation_batches{w}"),
                "observations": one(f"SELECT sum(n_points) FROM observation_batches{w}"),
                "alarms": one(f"SELECT count(*) FROM alarms{w}"),
                "outstation_statuses": one(f"SELECT count(*) FROM outstation_statuses{w}"),
                "statistics": one(f"SELECT count(*) FROM statistics{w}"),
                "personnel": one(f"SELECT count(*) FROM personnel{w}"),
                "station_statuses": one(f"SELECT count(*) FROM station_statuses{w}"),
                "commands": one(f"SELECT count(*) FROM commands{w}"),
                "interactions": one(f"SELECT count(*) FROM interactions{w}"),
                "rejected": one(
                    f"SELECT count(*) FROM interactions{w}{' AND' if w else ' WHERE'} verdict = 'REJECTED'"
                ),
                "duplicates": one(
                    f"SELECT count(*) FROM interactions{w}{' AND' if w else ' WHERE'} verdict = 'DUPLICATE'"
                ),
                "errors": one(
                    f"SELECT count(*) FROM interactions{w}{' AND' if w else ' WHERE'} verdict = 'ERROR'"
                ),
                "faults": one(
                    f"SELECT count(*) FROM interactions{w}{' AND' if w else ' WHERE'} verdict = 'FAULT'"
                ),
            }

        result: dict[str, int] = await self._read(q)
        result["devices"] = len(self._p.devices) if device_id is None else int(device_id in self._p.devices)
        return result

    async def export(self, device_id: str | None = None) -> dict[str, Any]:
        """Everything, as one JSON-able document."""
        return {
            "exported_at": iso(self._p.now_ms()),
            "devices": [d for d in await self.devices() if device_id is None or d["device_id"] == device_id],
            "definitions": await self.definitions(device_id),
            "batches": await self.batches(device_id),
            "observations": await self.observations(device_id),
            "uploads": await self.uploads(device_id),
            "alarms": await self.alarms(device_id),
            "statuses": await self.statuses(device_id),
            "statistics": await self.statistics(device_id),
            "personnel": await self.personnel(device_id),
            "commands": await self.commands(device_id),
            "interactions": await self.interactions(device_id),
            "counts": await self.counts(device_id),
            "faults": self._p.faults.status(),
        }

    async def reset(self) -> dict[str, Any]:
        """Forget every device's data and sessions (credentials stay); faults are cleared."""
        from santong.mock_platform._store import DATA_TABLES
        from santong.protocols import DeviceState

        def job(c: sqlite3.Connection) -> None:
            for t in DATA_TABLES:
                c.execute(f"DELETE FROM {t}")
            c.execute("UPDATE devices SET registered=0, register_request=NULL, mine_code='', session_id='', negotiated_version='',"
                      " registered_ms=NULL, last_heartbeat_ms=NULL")  # fmt: skip

        def on_done(_: Any) -> None:
            for dev in self._p.devices.values():
                dev.state = DeviceState(device_id=dev.device_id)
                dev.registered, dev.session_id, dev.negotiated_version = False, "", ""
                dev.registered_ms, dev.register_request, dev.alive_ms, dev.online = None, b"", None, False
                dev.time_sync_pending = False
                while not dev.commands.empty():
                    dev.commands.get_nowait()

        self._p.faults.clear()
        await self._p.store.write(job, on_done)
        self._p.log_event("", "inspection:reset", "EVENT", "OK", "")
        return {"reset": True}
