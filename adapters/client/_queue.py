"""The store-and-forward queue: every upload, with its sequence, in SQLite (WAL) before it is sent.

One file holds the per-device sequence counter, the queued uploads in sequence order, the dead letters and the
persistent alias table (ST-DATA-017). An upload is written — sequence allocated and payload committed in one
transaction — before anything is sent, and deleted only when the platform acknowledged it (ACCEPTED or
DUPLICATE); so a crash at any instant loses nothing acknowledged-to-the-adapter and duplicates nothing on the
platform (the platform deduplicates replays of a sequence, ST-PROTO-012). A lock file keeps a second process
from opening the same queue (two writers would hand out the same sequences).

Example::

    with UploadQueue("queue.db") as q:
        seq = q.put("ReportAlarms", ReportAlarmsRequest(alarms=[...]), backfill=False)
        head = q.head()                 # oldest upload: QueuedUpload(sequence=seq, ...)
        q.acknowledge(head.sequence)    # after Ack ACCEPTED / DUPLICATE
"""

from __future__ import annotations

import contextlib
import json
import os
import sqlite3
import threading
import time
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal, NamedTuple

from google.protobuf.message import Message
from santong.adapters._sdk import AdapterError
from santong.protocols import Violation
from santong.protocols.v1 import device_access_pb2 as pb

__all__ = [
    "UPLOAD_METHODS",
    "AliasConflict",
    "DeadLetter",
    "QueueLocked",
    "QueuedUpload",
    "UploadQueue",
    "stamp",
]

#: Upload method → request class. Every upload carries a sequence and a backfill flag.
UPLOAD_METHODS: dict[str, type[Message]] = {
    "ReportObservations": pb.ReportObservationsRequest,
    "ReportAlarms": pb.ReportAlarmsRequest,
    "ReportOutstationStatus": pb.ReportOutstationStatusRequest,
    "ReportStatistics": pb.ReportStatisticsRequest,
    "ReportPersonnel": pb.ReportPersonnelRequest,
}

_SCHEMA = """
CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS uploads (
    sequence INTEGER PRIMARY KEY, method TEXT NOT NULL, payload BLOB NOT NULL, backfill INTEGER NOT NULL,
    attempts INTEGER NOT NULL DEFAULT 0, created_ms INTEGER NOT NULL);
CREATE TABLE IF NOT EXISTS dead_letters (
    id INTEGER PRIMARY KEY AUTOINCREMENT, sequence INTEGER NOT NULL, method TEXT NOT NULL, payload BLOB NOT NULL,
    reason TEXT NOT NULL, violations TEXT NOT NULL, clause_ids TEXT NOT NULL, created_ms INTEGER NOT NULL,
    dead_ms INTEGER NOT NULL);
CREATE TABLE IF NOT EXISTS aliases (point_code TEXT PRIMARY KEY, alias INTEGER NOT NULL UNIQUE);
"""


def _now_ms() -> int:
    return int(time.time() * 1000)


def stamp(request: Message, *, sequence: int | None = None, backfill: bool | None = None) -> Message:
    """Set the sequence and/or backfill flag of an upload request (the batch's for observations); returns it."""
    target: Any = request.batch if isinstance(request, pb.ReportObservationsRequest) else request
    if sequence is not None:
        target.sequence = sequence
    if backfill is not None:
        target.backfill = backfill
    return request


class QueueLocked(AdapterError):
    """Another process has this queue open."""

    description_zh = "队列文件正被另一进程使用"
    description_en = "the queue file is in use by another process"


class AliasConflict(AdapterError):
    """A configured alias contradicts the persistent alias table (the platform would reject it, ST-DATA-017)."""

    grpc_code = "INVALID_ARGUMENT"
    http_status = 400
    description_zh = "别名与已持久化的别名表冲突"
    description_en = "an alias contradicts the persistent alias table"


@dataclass(frozen=True, slots=True)
class QueuedUpload:
    """One upload waiting for its acknowledgement."""

    sequence: int
    method: str
    payload: bytes
    backfill: bool
    attempts: int
    created_ms: int

    def request(self) -> Message:
        """The request message (parsed from the stored payload)."""
        return UPLOAD_METHODS[self.method].FromString(self.payload)


@dataclass(frozen=True, slots=True)
class DeadLetter:
    """An upload that must never be sent again unchanged (ST-PROTO-016), with why."""

    id: int
    sequence: int
    method: str
    payload: bytes
    reason: str
    violations: tuple[dict[str, str], ...]
    clause_ids: tuple[str, ...]
    created_ms: int
    dead_ms: int

    def request(self) -> Message:
        """The request message."""
        return UPLOAD_METHODS[self.method].FromString(self.payload)


class FirstAttempt(NamedTuple):
    """An upload leaving for the first time: the payload to send, its backfill flag as stored (and sent), and
    whether this attempt raised the flag (false → true)."""

    payload: bytes
    backfill: bool
    raised: bool


class UploadQueue:
    """The SQLite (WAL) store-and-forward queue of one device. Thread-safe; one process per file."""

    def __init__(
        self, path: str | os.PathLike[str], *, synchronous: Literal["NORMAL", "FULL"] = "FULL"
    ) -> None:
        """Remember where; ``open`` (or ``with``) creates the file and takes the lock."""
        self.path = Path(path)
        self.synchronous = synchronous
        self._conn: sqlite3.Connection | None = None
        self._lock = threading.RLock()
        self._lock_fd: int | None = None
        self._next = 1
        self._last_ack = 0

    # ------------------------------------------------------------------ lifecycle

    def open(self) -> UploadQueue:
        """Create or open the file, take the process lock, recover the counters."""
        with self._lock:
            if self._conn is not None:
                return self
            self.path.parent.mkdir(parents=True, exist_ok=True)
            self._take_lock()
            try:
                conn = sqlite3.connect(self.path, isolation_level=None, check_same_thread=False, timeout=30.0)
                conn.execute("PRAGMA journal_mode=WAL")
                conn.execute(f"PRAGMA synchronous={self.synchronous}")
                conn.executescript(_SCHEMA)
                self._conn = conn
                self._next = int(self._meta("next_sequence", "1"))
                self._last_ack = int(self._meta("last_acknowledged", "0"))
                top = conn.execute("SELECT max(sequence) FROM uploads").fetchone()[0]
                if top is not None and top >= self._next:  # never hand out a sequence twice
                    self._next = int(top) + 1
            except BaseException:
                self._release_lock()
                raise
        return self

    def _take_lock(self) -> None:
        try:
            import fcntl
        except ImportError:  # pragma: no cover - not POSIX: no cross-process guard
            return
        fd = os.open(f"{self.path}.lock", os.O_RDWR | os.O_CREAT, 0o644)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError as e:
            os.close(fd)
            raise QueueLocked(
                f"队列 {self.path} 正被另一进程使用；同一队列只能由一个适配器进程打开 / the queue {self.path} is in use by "
                "another process; one adapter process per queue file"
            ) from e
        self._lock_fd = fd

    def _release_lock(self) -> None:
        if self._lock_fd is not None:
            os.close(self._lock_fd)  # closing the descriptor drops the flock
            self._lock_fd = None

    def close(self) -> None:
        """Checkpoint the WAL into the database file, close, release the lock."""
        with self._lock:
            if self._conn is None:
                return
            with contextlib.suppress(sqlite3.Error):
                self._conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
            self._conn.close()
            self._conn = None
            self._release_lock()

    def __enter__(self) -> UploadQueue:
        return self.open()

    def __exit__(self, *exc: object) -> None:
        self.close()

    @property
    def conn(self) -> sqlite3.Connection:
        if self._conn is None:
            raise RuntimeError("queue is not open")
        return self._conn

    def _meta(self, key: str, default: str) -> str:
        row = self.conn.execute("SELECT value FROM meta WHERE key=?", (key,)).fetchone()
        return str(row[0]) if row else default

    def _set_meta(self, key: str, value: str) -> None:
        self.conn.execute(
            "INSERT INTO meta (key, value) VALUES (?, ?) ON CONFLICT(key) DO UPDATE SET value=excluded.value",
            (key, value),
        )

    def _tx(self) -> _Tx:
        return _Tx(self.conn)

    # ------------------------------------------------------------------ counters and metadata

    @property
    def next_sequence(self) -> int:
        """The sequence the next upload gets."""
        return self._next

    @property
    def last_acknowledged(self) -> int:
        """The highest sequence acknowledged so far (as far as this device knows)."""
        return self._last_ack

    def registered_before(self) -> bool:
        """Whether a Register was ever recorded in this file (:meth:`resume_after`). False for a new file: for a
        device the platform already knows, its sequence counter was lost (ST-PROTO-037)."""
        with self._lock:
            return self._meta("registered", "") != ""

    def get_meta(self, key: str, default: Any = None) -> Any:
        """A JSON value kept with the queue (e.g. the raised alarm IDs)."""
        with self._lock:
            raw = self._meta(f"x:{key}", "")
        return json.loads(raw) if raw else default

    def set_meta(self, key: str, value: Any) -> None:
        """Keep a JSON value with the queue."""
        with self._lock, self._tx():
            self._set_meta(f"x:{key}", json.dumps(value, ensure_ascii=False))

    # ------------------------------------------------------------------ producing

    def put(
        self,
        method: str,
        request: Message,
        *,
        backfill: bool,
        created_ms: int | None = None,
        meta: Mapping[str, Any] | None = None,
        attempted: bool = False,
        acknowledge: Sequence[int] = (),
    ) -> int:
        """Allocate the next sequence, stamp it (and the backfill flag) into ``request``, commit; return it.

        ``attempted``: its first attempt starts now (it is frozen from this commit on, ST-PROTO-014);
        ``acknowledge``: acknowledged sequences deleted in the same transaction (one commit instead of two)."""
        return self.put_many(
            [(method, request, backfill)], created_ms=created_ms, meta=meta, attempted=attempted,
            acknowledge=acknowledge,
        )[0]  # fmt: skip

    def put_many(
        self,
        items: Sequence[tuple[str, Message, bool]],
        *,
        created_ms: int | None = None,
        meta: Mapping[str, Any] | None = None,
        attempted: bool = False,
        acknowledge: Sequence[int] = (),
    ) -> list[int]:
        """Several uploads in one transaction, in order; ``meta`` JSON values are committed with them (``attempted``
        and ``acknowledge`` as in :meth:`put`)."""
        now = created_ms if created_ms is not None else _now_ms()
        with self._lock:
            seqs: list[int] = []
            rows = []
            nxt = self._next
            for method, request, backfill in items:
                if method not in UPLOAD_METHODS:
                    raise ValueError(f"not an upload method: {method}")
                stamp(request, sequence=nxt, backfill=backfill)
                rows.append((nxt, method, request.SerializeToString(), int(backfill), int(attempted), now))
                seqs.append(nxt)
                nxt += 1
            with self._tx():
                self._delete_acknowledged(acknowledge)
                self.conn.executemany(
                    "INSERT INTO uploads (sequence, method, payload, backfill, attempts, created_ms) VALUES (?,?,?,?,?,?)",
                    rows,
                )
                self._set_meta("next_sequence", str(nxt))
                for k, v in (meta or {}).items():
                    self._set_meta(f"x:{k}", json.dumps(v, ensure_ascii=False))
            self._acknowledged(acknowledge)
            self._next = nxt
            return seqs

    def dead_letter_new(
        self,
        method: str,
        request: Message,
        violations: Iterable[Violation],
        reason: str,
        *,
        created_ms: int | None = None,
    ) -> int:
        """An upload the validation core rejected before sending: allocate its sequence, store it as dead."""
        now = _now_ms()
        with self._lock:
            seq = self._next
            stamp(request, sequence=seq)
            vs = [v.as_dict() for v in violations]
            with self._tx():
                self._insert_dead(
                    seq, method, request.SerializeToString(), reason, vs, created_ms or now, now
                )
                self._set_meta("next_sequence", str(seq + 1))
            self._next = seq + 1
            return seq

    def _insert_dead(
        self,
        seq: int,
        method: str,
        payload: bytes,
        reason: str,
        vs: list[dict[str, str]],
        created: int,
        now: int,
    ) -> None:
        ids = list(dict.fromkeys(v["clause_id"] for v in vs))
        self.conn.execute(
            "INSERT INTO dead_letters (sequence, method, payload, reason, violations, clause_ids, created_ms, dead_ms) VALUES (?,?,?,?,?,?,?,?)",
            (seq, method, payload, reason, json.dumps(vs, ensure_ascii=False), json.dumps(ids), created, now),
        )

    # ------------------------------------------------------------------ consuming

    def head(self) -> QueuedUpload | None:
        """The oldest queued upload (lowest sequence), or None."""
        got = self.pending(1)
        return got[0] if got else None

    def pending(self, limit: int | None = None) -> list[QueuedUpload]:
        """Queued uploads in sequence order."""
        with self._lock:
            rows = self.conn.execute(
                "SELECT sequence, method, payload, backfill, attempts, created_ms FROM uploads ORDER BY sequence LIMIT ?",
                (-1 if limit is None else limit,),
            ).fetchall()
        return [QueuedUpload(int(s), m, bytes(p), bool(b), int(a), int(c)) for s, m, p, b, a, c in rows]

    def pending_after(self, sequence: int, limit: int) -> list[QueuedUpload]:
        """Up to ``limit`` queued uploads with a sequence above ``sequence``, in sequence order (the next ones to put
        on a stream behind those already sent)."""
        with self._lock:
            rows = self.conn.execute(
                "SELECT sequence, method, payload, backfill, attempts, created_ms FROM uploads WHERE sequence > ?"
                " ORDER BY sequence LIMIT ?",
                (sequence, limit),
            ).fetchall()
        return [QueuedUpload(int(s), m, bytes(p), bool(b), int(a), int(c)) for s, m, p, b, a, c in rows]

    def count(self) -> int:
        """Number of queued uploads."""
        with self._lock:
            return int(self.conn.execute("SELECT count(*) FROM uploads").fetchone()[0])

    def backfill_count(self) -> int:
        """Number of queued uploads flagged backfill."""
        with self._lock:
            return int(self.conn.execute("SELECT count(*) FROM uploads WHERE backfill=1").fetchone()[0])

    def mark_attempt(self, sequence: int) -> None:
        """Count one more delivery attempt."""
        with self._lock, self._tx():
            self.conn.execute("UPDATE uploads SET attempts = attempts + 1 WHERE sequence=?", (sequence,))

    def first_attempt(self, sequence: int, *, backfill: bool) -> bytes | None:
        """Record that ``sequence`` is about to be sent for the first time, raising its backfill flag first if
        ``backfill``; one transaction. Returns the payload to send (None if it is no longer queued). From now on
        the upload is frozen: resent unchanged (ST-PROTO-014)."""
        return self.first_attempts([(sequence, backfill)])[0]

    def first_attempts(
        self, items: Sequence[tuple[int, bool]], *, acknowledge: Sequence[int] = ()
    ) -> list[bytes | None]:
        """:meth:`first_attempt` for several uploads about to leave together (a stream window), in one transaction
        (with the deletion of the ``acknowledge`` sequences): for each (sequence, backfill) the payload to send, None
        if it is no longer queued."""
        return [
            None if a is None else a.payload
            for a in self.first_attempts_flagged(items, acknowledge=acknowledge)
        ]

    def first_attempts_flagged(
        self, items: Sequence[tuple[int, bool]], *, acknowledge: Sequence[int] = ()
    ) -> list[FirstAttempt | None]:
        """:meth:`first_attempts` with each upload's backfill flag as it leaves (the queue's: another task may have
        raised it since the caller read the upload, :meth:`mark_all_backfill`) and whether this call raised it."""
        out: list[FirstAttempt | None] = []
        with self._lock:
            with self._tx():
                self._delete_acknowledged(acknowledge)
                out = [self._first_attempt(sequence, backfill) for sequence, backfill in items]
            self._acknowledged(acknowledge)
        return out

    def _first_attempt(self, sequence: int, backfill: bool) -> FirstAttempt | None:
        """Inside a transaction: count the attempt (raising the flag first if asked); what leaves."""
        row = self.conn.execute(
            "SELECT method, payload, backfill, attempts FROM uploads WHERE sequence=?", (sequence,)
        ).fetchone()
        if row is None:
            return None
        payload = bytes(row[1])
        if backfill and not row[2] and not row[3]:
            req = UPLOAD_METHODS[row[0]].FromString(payload)
            stamp(req, backfill=True)
            payload = req.SerializeToString()
            self.conn.execute(
                "UPDATE uploads SET payload=?, backfill=1, attempts=attempts+1 WHERE sequence=?",
                (payload, sequence),
            )
            return FirstAttempt(payload, True, True)
        self.conn.execute("UPDATE uploads SET attempts=attempts+1 WHERE sequence=?", (sequence,))
        return FirstAttempt(payload, bool(row[2]), False)

    def set_backfill(self, sequence: int) -> bool:
        """Flag one queued upload backfill (false → true only) if it was never sent; True if it changed. An upload
        sent once is resent unchanged, flag included (ST-PROTO-014 over ST-PROTO-020)."""
        with self._lock:
            row = self.conn.execute(
                "SELECT method, payload, backfill, attempts FROM uploads WHERE sequence=?", (sequence,)
            ).fetchone()
            if row is None or row[2] or row[3]:
                return False
            req = UPLOAD_METHODS[row[0]].FromString(row[1])
            stamp(req, backfill=True)
            with self._tx():
                self.conn.execute(
                    "UPDATE uploads SET payload=?, backfill=1 WHERE sequence=?",
                    (req.SerializeToString(), sequence),
                )
            return True

    def mark_all_backfill(self) -> int:
        """Flag every queued upload never sent yet backfill (after a restart or behind a failure: they are late);
        how many changed. Uploads sent once keep their flag (ST-PROTO-014)."""
        with self._lock:
            seqs = [
                int(r[0])
                for r in self.conn.execute(
                    "SELECT sequence FROM uploads WHERE backfill=0 AND attempts=0 ORDER BY sequence"
                )
            ]
        return sum(self.set_backfill(s) for s in seqs)

    def acknowledge(self, sequence: int) -> bool:
        """The platform acknowledged ``sequence`` (ACCEPTED or DUPLICATE): delete it; True if it was queued."""
        with self._lock:
            with self._tx():
                gone = self.conn.execute("DELETE FROM uploads WHERE sequence=?", (sequence,)).rowcount
                if sequence > self._last_ack:
                    self._set_meta("last_acknowledged", str(sequence))
            self._last_ack = max(self._last_ack, sequence)
            return bool(gone)

    def acknowledge_many(self, sequences: Sequence[int]) -> int:
        """Several acknowledgements (in order, from a stream) in one transaction; how many were queued."""
        if not sequences:
            return 0
        with self._lock:
            with self._tx():
                gone = self._delete_acknowledged(sequences)
            self._acknowledged(sequences)
            return gone

    def _delete_acknowledged(self, sequences: Sequence[int]) -> int:
        """Inside a transaction: delete acknowledged uploads, raise ``last_acknowledged``; how many were queued."""
        if not sequences:
            return 0
        gone = self.conn.executemany(
            "DELETE FROM uploads WHERE sequence=?", [(s,) for s in sequences]
        ).rowcount
        top = max(sequences)
        if top > self._last_ack:
            self._set_meta("last_acknowledged", str(top))
        return int(gone)

    def _acknowledged(self, sequences: Sequence[int]) -> None:
        """After the commit of :meth:`_delete_acknowledged`: the counter in memory follows the file."""
        self._last_ack = max(self._last_ack, max(sequences, default=0))

    def dead_letter(self, sequence: int, reason: str, violations: Iterable[Violation] = ()) -> bool:
        """Move a queued upload to the dead-letter table (never sent again, ST-PROTO-016); True if it was queued."""
        now = _now_ms()
        vs = [v.as_dict() for v in violations]
        with self._lock:
            row = self.conn.execute(
                "SELECT method, payload, created_ms FROM uploads WHERE sequence=?", (sequence,)
            ).fetchone()
            if row is None:
                return False
            with self._tx():
                self._insert_dead(sequence, row[0], bytes(row[1]), reason, vs, int(row[2]), now)
                self.conn.execute("DELETE FROM uploads WHERE sequence=?", (sequence,))
            return True

    def resume_after(self, last_acknowledged: int) -> int:
        """After Register (ST-PROTO-023): drop queued uploads with sequence ≤ ``last_acknowledged`` (the platform
        has them) and make every new sequence greater; returns how many were dropped.

        Exception: before this queue's first registration nothing in it can have been sent, so a platform that
        knows higher sequences (the device's earlier queue file was lost) gets those uploads renumbered above
        ``last_acknowledged``, in order, instead of dropped — dropping them would lose data never delivered.
        """
        with self._lock:
            first = self._meta("registered", "") == ""
            dropped = 0
            with self._tx():
                if first:
                    self._renumber_above(last_acknowledged)
                else:
                    dropped = self.conn.execute(
                        "DELETE FROM uploads WHERE sequence <= ?", (last_acknowledged,)
                    ).rowcount
                    if last_acknowledged >= self._next:
                        self._set_meta("next_sequence", str(last_acknowledged + 1))
                if last_acknowledged > self._last_ack:
                    self._set_meta("last_acknowledged", str(last_acknowledged))
                self._set_meta("registered", "1")
            self._next = max(self._next, last_acknowledged + 1)
            self._last_ack = max(self._last_ack, last_acknowledged)
            return int(dropped)

    def _renumber_above(self, floor: int) -> None:
        rows = self.conn.execute(
            "SELECT sequence, method, payload FROM uploads WHERE sequence <= ? ORDER BY sequence", (floor,)
        ).fetchall()
        if not rows:
            if floor >= self._next:
                self._set_meta("next_sequence", str(floor + 1))
            return
        rest = self.conn.execute(
            "SELECT sequence, method, payload FROM uploads WHERE sequence > ? ORDER BY sequence", (floor,)
        ).fetchall()
        self.conn.execute("CREATE TEMP TABLE IF NOT EXISTS _moved AS SELECT * FROM uploads WHERE 0")
        self.conn.execute("INSERT INTO temp._moved SELECT * FROM uploads")
        self.conn.execute("DELETE FROM uploads")
        nxt = floor + 1
        for seq, method, payload in [*rows, *rest]:
            req = UPLOAD_METHODS[method].FromString(payload)
            stamp(req, sequence=nxt)
            self.conn.execute(
                "INSERT INTO uploads (sequence, method, payload, backfill, attempts, created_ms)"
                " SELECT ?, method, ?, backfill, attempts, created_ms FROM temp._moved WHERE sequence=?",
                (nxt, req.SerializeToString(), seq),
            )
            nxt += 1
        self.conn.execute("DROP TABLE temp._moved")
        self._set_meta("next_sequence", str(nxt))
        self._next = nxt

    def dead_letters(self) -> list[DeadLetter]:
        """Every dead letter, oldest first."""
        with self._lock:
            rows = self.conn.execute(
                "SELECT id, sequence, method, payload, reason, violations, clause_ids, created_ms, dead_ms FROM dead_letters ORDER BY id"
            ).fetchall()
        return [
            DeadLetter(
                int(i), int(s), m, bytes(p), r, tuple(json.loads(v)), tuple(json.loads(c)), int(cm), int(dm)
            )
            for i, s, m, p, r, v, c, cm, dm in rows
        ]

    # ------------------------------------------------------------------ aliases (ST-DATA-017)

    def aliases(self) -> dict[str, int]:
        """The persistent point code → alias table."""
        with self._lock:
            return {str(c): int(a) for c, a in self.conn.execute("SELECT point_code, alias FROM aliases")}

    def assign_aliases(self, wanted: Iterable[tuple[str, int]]) -> dict[str, int]:
        """Aliases for (point_code, requested alias or 0): the persisted one, the requested one, or a new one
        above every alias ever used. AliasConflict if a request contradicts the table. Returns code → alias."""
        with self._lock:
            table = self.aliases()
            used = {a: c for c, a in table.items()}
            out: dict[str, int] = {}
            new: dict[str, int] = {}
            wanted = list(wanted)
            for code, alias in wanted:
                have = table.get(code)
                if alias:
                    if have is not None and have != alias:
                        raise AliasConflict(
                            f"测点 {code} 已使用别名 {have}，配置中却为 {alias}；别名一经使用不可更改 / point {code} has used "
                            f"alias {have} but the configuration says {alias}; an alias never changes (ST-DATA-017). Remove "
                            "alias from the configuration or restore the old value"
                        )
                    owner = used.get(alias)
                    if owner is not None and owner != code:
                        raise AliasConflict(
                            f"别名 {alias} 已属于测点 {owner}，不能再给 {code} / alias {alias} already belongs to point {owner}, "
                            f"not {code} (ST-DATA-017)"
                        )
                    out[code] = alias
                    used[alias] = code
                    if have is None:
                        new[code] = alias
                elif have is not None:
                    out[code] = have
            top = max(used, default=0)
            for code, _ in wanted:
                if code not in out:
                    top += 1
                    out[code] = new[code] = top
            if new:
                with self._tx():
                    self.conn.executemany(
                        "INSERT INTO aliases (point_code, alias) VALUES (?, ?)", list(new.items())
                    )
            return out


class _Tx:
    """BEGIN IMMEDIATE … COMMIT (ROLLBACK on error) on an autocommit connection."""

    def __init__(self, conn: sqlite3.Connection) -> None:
        self.conn = conn

    def __enter__(self) -> None:
        self.conn.execute("BEGIN IMMEDIATE")

    def __exit__(self, exc_type: object, *exc: object) -> None:
        self.conn.execute("ROLLBACK" if exc_type is not None else "COMMIT")
