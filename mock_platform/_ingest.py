"""Database jobs for accepted messages: every upload is one transaction (all or nothing, ST-IFACE-007).

Rows are built on the event loop; the returned job only runs SQL on the database thread.
"""

from __future__ import annotations

import hashlib
import json
import sqlite3
from collections.abc import Callable, Sequence
from typing import Any

from santong.mock_platform._store import OBSERVATION_UPLOAD_COLUMNS
from santong.protocols import Violation, timestamp_ms

__all__ = [
    "DUPLICATE",
    "STORED_BATCH",
    "content_digest",
    "stored_batch_digest",
    "LogRow",
    "clamp_ms",
    "define_job",
    "log_job",
    "log_row",
    "register_job",
    "seq_from_db",
    "seq_to_db",
    "upload_job",
]

DUPLICATE = "duplicate"
#: The ``uploads.digest`` of an observation upload: "the content digest of the batch stored under this row"
#: (``observation_batches.batch``), computed when a replay or conflict needs it, not on every upload. NULL stays
#: "no digest" (rows from before ST-PROTO-031).
STORED_BATCH = b""
_I64 = 1 << 63


def seq_to_db(seq: int) -> int:
    """A uint64 sequence as SQLite's signed INTEGER: as is below 2^63, wrapped (two's complement) above."""
    return seq - (1 << 64) if seq >= _I64 else seq


def seq_from_db(v: int | None) -> int | None:
    """The inverse of :func:`seq_to_db`."""
    return None if v is None else (v + (1 << 64) if v < 0 else v)


def clamp_ms(ms: int) -> int:
    """Milliseconds clamped to SQLite's INTEGER range (protobuf timestamps may lie far outside 0001–9999)."""
    return max(-_I64, min(_I64 - 1, ms))


LogRow = tuple[Any, ...]

_LOG_SQL = (
    "INSERT INTO interactions (time_ms, device_id, method, peer, sequence, verdict, code, clause_ids, violations,"
    " n_records, duration_ms, note) VALUES (?,?,?,?,?,?,?,?,?,?,?,?)"
)

# One accepted observation upload: its uploads, observation_batches and interactions rows (the store's view).
_OBSERVATION_UPLOAD_SQL = (
    f"INSERT INTO observation_uploads ({OBSERVATION_UPLOAD_COLUMNS})"
    f" VALUES ({','.join('?' * (OBSERVATION_UPLOAD_COLUMNS.count(',') + 1))})"
)


def log_row(
    time_ms: int,
    device_id: str,
    method: str,
    peer: str,
    sequence: int | None,
    verdict: str,
    code: str,
    violations: Sequence[Violation] = (),
    n_records: int = 0,
    duration_ms: float = 0.0,
    note: str = "",
) -> LogRow:
    """One interaction-log row."""
    if violations:
        clause_ids = json.dumps(list(dict.fromkeys(v.clause_id for v in violations)))
        vjson = json.dumps([v.as_dict() for v in violations], ensure_ascii=False)
    else:
        clause_ids = vjson = "[]"
    return (
        time_ms,
        device_id,
        method,
        peer,
        None if sequence is None else seq_to_db(sequence),
        verdict,
        code,
        clause_ids,
        vjson,
        n_records,
        round(duration_ms, 3),
        note,
    )


def log_job(
    row: LogRow, extra: Callable[[sqlite3.Connection], None] | None = None
) -> Callable[[sqlite3.Connection], None]:
    """A job writing one log row (and running extra, e.g. a heartbeat time update)."""

    def job(conn: sqlite3.Connection) -> None:
        conn.execute(_LOG_SQL, row)
        if extra is not None:
            extra(conn)

    return job


def _ms(ts: Any) -> int | None:
    return clamp_ms(timestamp_ms(ts)) if (ts.seconds or ts.nanos) else None


def batch_bytes(raw: bytes | None) -> bytes | None:
    """The ObservationBatch bytes inside the encoding of a Report/StreamObservationsRequest, when the request is
    exactly field 1 once (the usual case); else None. Saves re-encoding the batch on the hot path."""
    view = _batch_view(raw)
    return None if view is None else bytes(view)


def _batch_view(raw: bytes | None) -> memoryview | None:
    """:func:`batch_bytes` as a view of ``raw`` (no copy: SQLite copies a BLOB parameter as it binds it)."""
    if not raw or raw[0] != 0x0A:
        return None
    length = shift = 0
    i = 1
    while i < len(raw) and i < 11:
        byte = raw[i]
        length |= (byte & 0x7F) << shift
        i += 1
        if not byte & 0x80:
            return memoryview(raw)[i:] if i + length == len(raw) else None
        shift += 7
    return None


_HASH_PIECE = 2047  # hashlib releases the GIL for updates of 2048 bytes and more


def content_digest(req: Any) -> bytes:
    """The digest of an upload's content: what a replay repeats and a conflict does not (ST-PROTO-031).

    Sequence and backfill flag are left out (a replay of a v1 device may raise the flag); observations hash the
    batch alone, so a batch sent unary and replayed on the stream is the same content. Deterministic encoding:
    the same content from another encoder gives the same digest. (Hashing a stream batch's received bytes when
    they are already that encoding was measured: proving it costs about what re-encoding does.)
    """
    target = (
        req.batch
        if req.DESCRIPTOR.name in ("ReportObservationsRequest", "StreamObservationsRequest")
        else req
    )
    seq, backfill = target.sequence, target.backfill
    try:
        target.sequence, target.backfill = 0, False
        data = target.SerializeToString(deterministic=True)
    finally:
        target.sequence, target.backfill = seq, backfill
    h = hashlib.blake2b(target.DESCRIPTOR.name.encode(), digest_size=16)
    # In pieces below hashlib's 2 KiB threshold, so that the GIL stays with the event loop: released for a few
    # microseconds of hashing, it went to the database thread and came back only after its next statement (a
    # context switch each way cost more than the hash). The same digest as one update.
    view = memoryview(data)
    for i in range(0, len(view), _HASH_PIECE):
        h.update(view[i : i + _HASH_PIECE])
    return h.digest()


def stored_batch_digest(batch: bytes) -> bytes:
    """:func:`content_digest` of the observation upload whose batch was stored as ``batch``."""
    from santong.protocols.v1 import data_pb2

    return content_digest(data_pb2.ObservationBatch.FromString(batch))


def upload_job(
    device_id: str,
    method: str,
    req: Any,
    now_ms: int,
    log: LogRow,
    raw: bytes | None = None,
    digest: bytes | None = None,
    epoch: int = 0,
    time_span_ms: tuple[int, int] | None = None,
    *,
    points: int | None = None,
) -> tuple[Callable[[sqlite3.Connection], Any], int]:
    """(job, number of records) for an accepted upload; the job returns DUPLICATE when the sequence is already
    stored in this sequence epoch (a concurrent replay or conflict: the caller compares digests). ``raw`` is the
    request's protobuf encoding, if at hand (the batch is stored as the device sent it); ``digest`` its
    :func:`content_digest`; ``epoch`` the device's sequence epoch (ST-PROTO-037); ``time_span_ms`` an observation
    batch's (earliest, latest) observation time as the core found it (``ValidationContext.time_span_ms``),
    computed here when not given; ``points`` its number of points when ``req`` is a batch skeleton (no columns:
    ``raw`` holds them, and ``time_span_ms`` must be given)."""
    name = req.DESCRIPTOR.name
    if name in _OBSERVATION_REQUESTS:
        return _observation_job(
            device_id, method, req.batch, now_ms, log, raw, digest, epoch, time_span_ms, points
        )
    ep = seq_to_db(epoch)
    inserts: list[tuple[str, list[tuple[Any, ...]]]] = []
    if name == "ReportAlarmsRequest":
        seq, backfill = seq_to_db(int(req.sequence)), int(req.backfill)
        n = len(req.alarms)
        inserts.append((
            "INSERT INTO alarms (device_id, sequence, alarm_id, point_code, state, start_ms, end_ms, backfill,"
            " received_ms, alarm) VALUES (?,?,?,?,?,?,?,?,?,?)",
            [(device_id, seq, a.alarm_id, a.point_code, int(a.state), _ms(a.start_time) or 0, _ms(a.end_time),
              backfill, now_ms, a.SerializeToString()) for a in req.alarms],
        ))  # fmt: skip
    elif name == "ReportOutstationStatusRequest":
        seq, backfill = seq_to_db(int(req.sequence)), int(req.backfill)
        n = len(req.statuses)
        inserts.append((
            "INSERT INTO outstation_statuses (device_id, sequence, outstation_code, time_ms, backfill, received_ms,"
            " status) VALUES (?,?,?,?,?,?,?)",
            [(device_id, seq, s.outstation_code, _ms(s.time) or 0, backfill, now_ms, s.SerializeToString()) for s in req.statuses],
        ))  # fmt: skip
    elif name == "ReportStatisticsRequest":
        seq, backfill = seq_to_db(int(req.sequence)), int(req.backfill)
        n = len(req.statistics)
        inserts.append((
            "INSERT INTO statistics (device_id, sequence, point_code, start_ms, end_ms, backfill, received_ms,"
            " statistics) VALUES (?,?,?,?,?,?,?,?)",
            [(device_id, seq, s.point_code, _ms(s.start_time) or 0, _ms(s.end_time) or 0, backfill, now_ms,
              s.SerializeToString()) for s in req.statistics],
        ))  # fmt: skip
    elif name == "ReportPersonnelRequest":
        seq, backfill = seq_to_db(int(req.sequence)), int(req.backfill)
        n = len(req.records) + len(req.stations)
        inserts.append((
            "INSERT INTO personnel (device_id, sequence, card_code, time_ms, backfill, received_ms, record)"
            " VALUES (?,?,?,?,?,?,?)",
            [(device_id, seq, r.card_code, _ms(r.time) or 0, backfill, now_ms, r.SerializeToString()) for r in req.records],
        ))  # fmt: skip
        inserts.append((
            "INSERT INTO station_statuses (device_id, sequence, station_code, time_ms, backfill, received_ms, status)"
            " VALUES (?,?,?,?,?,?,?)",
            [(device_id, seq, s.station_code, _ms(s.time) or 0, backfill, now_ms, s.SerializeToString()) for s in req.stations],
        ))  # fmt: skip
    else:
        raise TypeError(f"not an upload: {name}")
    upload = (device_id, seq, method, n, backfill, now_ms, digest, ep)

    def job(conn: sqlite3.Connection) -> Any:
        try:
            conn.execute(
                "INSERT INTO uploads (device_id, sequence, method, n_records, backfill, received_ms, digest, epoch)"
                " VALUES (?,?,?,?,?,?,?,?)",
                upload,
            )
        except sqlite3.IntegrityError:
            return DUPLICATE
        for sql, rows in inserts:
            if len(rows) == 1:
                conn.execute(sql, rows[0])
            elif rows:
                conn.executemany(sql, rows)
        conn.execute(_LOG_SQL, log)
        return n

    return job, n


_OBSERVATION_REQUESTS = frozenset({"ReportObservationsRequest", "StreamObservationsRequest"})


def _observation_job(
    device_id: str,
    method: str,
    b: Any,
    now_ms: int,
    log: LogRow,
    raw: bytes | None,
    digest: bytes | None,
    epoch: int,
    time_span_ms: tuple[int, int] | None,
    points: int | None = None,
) -> tuple[Callable[[sqlite3.Connection], Any], int]:
    """:func:`upload_job` of an observation batch ``b``: its acknowledgement-register row, its batch row and its
    log row in one statement (the ``observation_uploads`` view of the store: one hand-over of the GIL, not three)."""
    if points is not None and (raw is None or time_span_ms is None):
        raise ValueError("a batch skeleton is stored from its encoding, with the span the core found")
    n = len(b.alias) if points is None else points
    base = timestamp_ms(b.base_time)
    if time_span_ms is None:
        offs = b.time_offset_ms[:]  # a list (faster than list()): builtins run far faster on it
        time_span_ms = (base + min(offs), base + max(offs)) if offs else (base, base)
    earliest, latest = time_span_ms
    params = (
        device_id, seq_to_db(b.sequence), method, n, int(b.backfill), now_ms, digest, seq_to_db(epoch),
        clamp_ms(base), clamp_ms(earliest), clamp_ms(latest), _batch_view(raw) or b.SerializeToString(), *log,
    )  # fmt: skip

    def job(conn: sqlite3.Connection) -> Any:
        try:
            conn.execute(_OBSERVATION_UPLOAD_SQL, params)
        except sqlite3.IntegrityError:  # the sequence is stored in this epoch already
            return DUPLICATE
        return n

    return job, n


def register_job(
    device_id: str,
    token_hmac: bytes | None,
    request: bytes,
    mine_code: str,
    session_id: str,
    version: str,
    now_ms: int,
    wall_ms: int,
    epoch: int,
    log: LogRow,
) -> Callable[[sqlite3.Connection], None]:
    """The job storing a registration: session, negotiated version, sequence epoch (ST-PROTO-037)."""
    row = (device_id, token_hmac, request, mine_code, session_id, version, now_ms, wall_ms, seq_to_db(epoch))

    def job(conn: sqlite3.Connection) -> None:
        conn.execute(
            "INSERT INTO devices (device_id, token_hmac, registered, register_request, mine_code, session_id,"
            " negotiated_version, registered_ms, last_heartbeat_ms, sequence_epoch) VALUES (?,?,1,?,?,?,?,?,?,?)"
            " ON CONFLICT(device_id) DO UPDATE SET registered=1, register_request=excluded.register_request,"
            " mine_code=excluded.mine_code, session_id=excluded.session_id,"
            " negotiated_version=excluded.negotiated_version, registered_ms=excluded.registered_ms,"
            " last_heartbeat_ms=excluded.last_heartbeat_ms, sequence_epoch=excluded.sequence_epoch",
            row,
        )
        conn.execute(_LOG_SQL, log)

    return job


def define_job(device_id: str, req: Any, now_ms: int, log: LogRow) -> Callable[[sqlite3.Connection], None]:
    """The job storing accepted definitions (points, outstations, areas, stations); redefinition replaces."""
    name = req.DESCRIPTOR.name
    inserts: list[tuple[str, list[tuple[Any, ...]]]] = []
    if name == "DefinePointsRequest":
        inserts.append((
            "INSERT OR REPLACE INTO points (device_id, alias, point_code, definition, defined_ms) VALUES (?,?,?,?,?)",
            [(device_id, p.alias, p.point_code, p.SerializeToString(), now_ms) for p in req.points],
        ))  # fmt: skip
        inserts.append((
            "INSERT OR REPLACE INTO outstations (device_id, outstation_code, definition, defined_ms) VALUES (?,?,?,?)",
            [(device_id, o.outstation_code, o.SerializeToString(), now_ms) for o in req.outstations],
        ))  # fmt: skip
    elif name == "DefinePositioningRequest":
        inserts.append((
            "INSERT OR REPLACE INTO areas (device_id, area_code, definition, defined_ms) VALUES (?,?,?,?)",
            [(device_id, a.area_code, a.SerializeToString(), now_ms) for a in req.areas],
        ))  # fmt: skip
        inserts.append((
            "INSERT OR REPLACE INTO stations (device_id, station_code, definition, defined_ms) VALUES (?,?,?,?)",
            [(device_id, s.station_code, s.SerializeToString(), now_ms) for s in req.stations],
        ))  # fmt: skip
    else:
        raise TypeError(f"not a definition: {name}")

    def job(conn: sqlite3.Connection) -> None:
        for sql, rows in inserts:
            if rows:
                conn.executemany(sql, rows)
        conn.execute(_LOG_SQL, log)

    return job
