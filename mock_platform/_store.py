"""SQLite storage of the mock platform, driven by one writer thread with group commit.

Every database access runs on the one thread, in submission order: reads see every write submitted before
them. Writes submitted while a transaction runs are grouped into the next one (each in its own SAVEPOINT, so a
failing job rolls back alone); a write's future resolves only after COMMIT returned, which is what lets the
platform acknowledge after commit (ST-PROTO-013).

Durability: file databases use WAL. ``synchronous=NORMAL`` (the default) keeps every committed transaction
across a crash or SIGKILL of the process — the WAL frames are in the operating system before COMMIT returns —
and may lose the last transactions only on power loss or an OS crash. ``synchronous=FULL`` adds an fsync per
commit (group commit amortises it) and survives power loss too; choose it with ``--sync full``.
"""

from __future__ import annotations

import asyncio
import collections
import contextlib
import logging
import os
import queue
import sqlite3
import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

__all__ = ["OBSERVATION_UPLOAD_COLUMNS", "SCHEMA", "SCHEMA_VERSION", "Store", "install_schema", "migrate"]

log = logging.getLogger("santong.mock_platform.store")

SCHEMA = """
CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS devices (
    device_id TEXT PRIMARY KEY,
    token_sha256 BLOB,  -- unsalted SHA-256 of databases of schema 1; NULL since (token_hmac)
    token_hmac BLOB,  -- HMAC-SHA256 of the token under meta.token_hmac_secret
    registered INTEGER NOT NULL DEFAULT 0,
    register_request BLOB,
    mine_code TEXT NOT NULL DEFAULT '',
    session_id TEXT NOT NULL DEFAULT '',
    negotiated_version TEXT NOT NULL DEFAULT '',
    registered_ms INTEGER,
    last_heartbeat_ms INTEGER,
    sequence_epoch INTEGER NOT NULL DEFAULT 0  -- ST-PROTO-037
);
CREATE TABLE IF NOT EXISTS points (
    device_id TEXT NOT NULL, alias INTEGER NOT NULL, point_code TEXT NOT NULL,
    definition BLOB NOT NULL, defined_ms INTEGER NOT NULL,
    PRIMARY KEY (device_id, alias)
);
CREATE TABLE IF NOT EXISTS outstations (
    device_id TEXT NOT NULL, outstation_code TEXT NOT NULL, definition BLOB NOT NULL, defined_ms INTEGER NOT NULL,
    PRIMARY KEY (device_id, outstation_code)
);
CREATE TABLE IF NOT EXISTS areas (
    device_id TEXT NOT NULL, area_code TEXT NOT NULL, definition BLOB NOT NULL, defined_ms INTEGER NOT NULL,
    PRIMARY KEY (device_id, area_code)
);
CREATE TABLE IF NOT EXISTS stations (
    device_id TEXT NOT NULL, station_code TEXT NOT NULL, definition BLOB NOT NULL, defined_ms INTEGER NOT NULL,
    PRIMARY KEY (device_id, station_code)
);
-- The acknowledgement register: one row per acknowledged upload of every kind (ST-PROTO-012), with the digest
-- of its content that tells a replay from a conflict (ST-PROTO-031; NULL in databases from before it), per
-- sequence epoch (ST-PROTO-037; the key leads with the sequence, so that a replay of an earlier epoch is found).
CREATE TABLE IF NOT EXISTS uploads (
    device_id TEXT NOT NULL, sequence INTEGER NOT NULL, method TEXT NOT NULL,
    n_records INTEGER NOT NULL, backfill INTEGER NOT NULL, received_ms INTEGER NOT NULL,
    digest BLOB, epoch INTEGER NOT NULL DEFAULT 0,
    PRIMARY KEY (device_id, sequence, epoch)
) WITHOUT ROWID;
-- One row per accepted observation batch; inspection expands them per point.
CREATE TABLE IF NOT EXISTS observation_batches (
    device_id TEXT NOT NULL, sequence INTEGER NOT NULL, base_time_ms INTEGER NOT NULL,
    min_time_ms INTEGER NOT NULL, max_time_ms INTEGER NOT NULL, n_points INTEGER NOT NULL,
    backfill INTEGER NOT NULL, received_ms INTEGER NOT NULL, batch BLOB NOT NULL,
    epoch INTEGER NOT NULL DEFAULT 0
);
CREATE TABLE IF NOT EXISTS alarms (
    id INTEGER PRIMARY KEY, device_id TEXT NOT NULL, sequence INTEGER NOT NULL, alarm_id TEXT NOT NULL,
    point_code TEXT NOT NULL, state INTEGER NOT NULL, start_ms INTEGER NOT NULL, end_ms INTEGER,
    backfill INTEGER NOT NULL, received_ms INTEGER NOT NULL, alarm BLOB NOT NULL
);
CREATE INDEX IF NOT EXISTS alarms_device ON alarms (device_id, alarm_id);
CREATE TABLE IF NOT EXISTS outstation_statuses (
    id INTEGER PRIMARY KEY, device_id TEXT NOT NULL, sequence INTEGER NOT NULL, outstation_code TEXT NOT NULL,
    time_ms INTEGER NOT NULL, backfill INTEGER NOT NULL, received_ms INTEGER NOT NULL, status BLOB NOT NULL
);
CREATE TABLE IF NOT EXISTS statistics (
    id INTEGER PRIMARY KEY, device_id TEXT NOT NULL, sequence INTEGER NOT NULL, point_code TEXT NOT NULL,
    start_ms INTEGER NOT NULL, end_ms INTEGER NOT NULL, backfill INTEGER NOT NULL, received_ms INTEGER NOT NULL,
    statistics BLOB NOT NULL
);
CREATE TABLE IF NOT EXISTS personnel (
    id INTEGER PRIMARY KEY, device_id TEXT NOT NULL, sequence INTEGER NOT NULL, card_code TEXT NOT NULL,
    time_ms INTEGER NOT NULL, backfill INTEGER NOT NULL, received_ms INTEGER NOT NULL, record BLOB NOT NULL
);
CREATE TABLE IF NOT EXISTS station_statuses (
    id INTEGER PRIMARY KEY, device_id TEXT NOT NULL, sequence INTEGER NOT NULL, station_code TEXT NOT NULL,
    time_ms INTEGER NOT NULL, backfill INTEGER NOT NULL, received_ms INTEGER NOT NULL, status BLOB NOT NULL
);
CREATE TABLE IF NOT EXISTS commands (
    command_id TEXT PRIMARY KEY, device_id TEXT NOT NULL, type INTEGER NOT NULL, command BLOB NOT NULL,
    issued_ms INTEGER NOT NULL, sent_ms INTEGER, outcome INTEGER, result_message TEXT, result_ms INTEGER
);
-- Every request with its verdict and the clauses it broke; every injected fault; session events.
CREATE TABLE IF NOT EXISTS interactions (
    id INTEGER PRIMARY KEY AUTOINCREMENT, time_ms INTEGER NOT NULL, device_id TEXT NOT NULL, method TEXT NOT NULL,
    peer TEXT NOT NULL, sequence INTEGER, verdict TEXT NOT NULL, code TEXT NOT NULL, clause_ids TEXT NOT NULL,
    violations TEXT NOT NULL, n_records INTEGER NOT NULL, duration_ms REAL NOT NULL, note TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS interactions_device ON interactions (device_id, id);
"""

SCHEMA_VERSION = 3

#: The columns of the ``observation_uploads`` view: an accepted observation upload's acknowledgement-register row,
#: its batch row and its interaction-log row (``log_``: the log row's own time, device, method, sequence, count).
OBSERVATION_UPLOAD_COLUMNS = (
    "device_id, sequence, method, n_records, backfill, received_ms, digest, epoch,"
    " base_time_ms, min_time_ms, max_time_ms, batch,"
    " log_time_ms, log_device_id, log_method, peer, log_sequence, verdict, code, clause_ids, violations,"
    " log_n_records, duration_ms, note"
)

# Per connection (TEMP: nothing in the database file, no schema version): a view whose one INSERT writes the three
# rows of an observation upload, so that the database thread runs one statement per upload (and hands the GIL
# over once) instead of three. A row the keys refuse (IntegrityError) undoes the whole statement.
TEMP_SCHEMA = f"""
CREATE TEMP VIEW IF NOT EXISTS observation_uploads ({OBSERVATION_UPLOAD_COLUMNS}) AS
    SELECT {", ".join(["NULL"] * (OBSERVATION_UPLOAD_COLUMNS.count(",") + 1))} WHERE 0;
CREATE TEMP TRIGGER IF NOT EXISTS observation_uploads_insert INSTEAD OF INSERT ON observation_uploads BEGIN
    INSERT INTO uploads (device_id, sequence, method, n_records, backfill, received_ms, digest, epoch)
        VALUES (NEW.device_id, NEW.sequence, NEW.method, NEW.n_records, NEW.backfill, NEW.received_ms, NEW.digest,
                NEW.epoch);
    INSERT INTO observation_batches (device_id, sequence, base_time_ms, min_time_ms, max_time_ms, n_points,
            backfill, received_ms, batch, epoch)
        VALUES (NEW.device_id, NEW.sequence, NEW.base_time_ms, NEW.min_time_ms, NEW.max_time_ms, NEW.n_records,
                NEW.backfill, NEW.received_ms, NEW.batch, NEW.epoch);
    INSERT INTO interactions (time_ms, device_id, method, peer, sequence, verdict, code, clause_ids, violations,
            n_records, duration_ms, note)
        VALUES (NEW.log_time_ms, NEW.log_device_id, NEW.log_method, NEW.peer, NEW.log_sequence, NEW.verdict,
                NEW.code, NEW.clause_ids, NEW.violations, NEW.log_n_records, NEW.duration_ms, NEW.note);
END;
"""


def _private_file(path: str) -> None:
    """Create the database file readable by its owner only (0600: it holds token hashes and the data); SQLite
    gives its -wal and -shm files the same mode. An existing file of ours is narrowed to 0600 too."""
    fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o600)
    try:
        if os.fstat(fd).st_uid == os.getuid():
            os.fchmod(fd, 0o600)
    finally:
        os.close(fd)


def migrate(conn: sqlite3.Connection) -> None:
    """Bring a database of an older schema up to date, keeping its data readable.

    Version 2 adds ``uploads.digest`` (ST-PROTO-031; old rows keep NULL and replays of them stay DUPLICATE) and
    ``devices.token_hmac`` (old SHA-256 hashes are upgraded at the device's next successful authentication).
    Version 3 adds the sequence epoch (ST-PROTO-037): ``devices.sequence_epoch``, and ``epoch`` in the keys of
    ``uploads`` and ``observation_batches`` (old rows are epoch 0, where every v1 device stays).
    """
    columns = {r[1] for r in conn.execute("PRAGMA table_info(uploads)")}
    if "digest" not in columns:
        conn.execute("ALTER TABLE uploads ADD COLUMN digest BLOB")
    if "epoch" not in columns:  # a new primary key: rebuild the table, in one transaction
        conn.execute("BEGIN")
        conn.execute(
            "CREATE TABLE uploads_v3 (device_id TEXT NOT NULL, sequence INTEGER NOT NULL, method TEXT NOT NULL,"
            " n_records INTEGER NOT NULL, backfill INTEGER NOT NULL, received_ms INTEGER NOT NULL, digest BLOB,"
            " epoch INTEGER NOT NULL DEFAULT 0, PRIMARY KEY (device_id, sequence, epoch)) WITHOUT ROWID"
        )
        conn.execute(
            "INSERT INTO uploads_v3 (device_id, sequence, method, n_records, backfill, received_ms, digest)"
            " SELECT device_id, sequence, method, n_records, backfill, received_ms, digest FROM uploads"
        )
        conn.execute("DROP TABLE uploads")
        conn.execute("ALTER TABLE uploads_v3 RENAME TO uploads")
        conn.execute("COMMIT")
    devices = {r[1] for r in conn.execute("PRAGMA table_info(devices)")}
    if "token_hmac" not in devices:
        conn.execute("ALTER TABLE devices ADD COLUMN token_hmac BLOB")
    if "sequence_epoch" not in devices:
        conn.execute("ALTER TABLE devices ADD COLUMN sequence_epoch INTEGER NOT NULL DEFAULT 0")
    if "epoch" not in {r[1] for r in conn.execute("PRAGMA table_info(observation_batches)")}:
        conn.execute("ALTER TABLE observation_batches ADD COLUMN epoch INTEGER NOT NULL DEFAULT 0")
    conn.execute("DROP INDEX IF EXISTS observation_batches_key")
    conn.execute(
        "CREATE UNIQUE INDEX IF NOT EXISTS observation_batches_epoch_key"
        " ON observation_batches (device_id, sequence, epoch)"
    )
    conn.execute(
        "INSERT OR IGNORE INTO meta (key, value) VALUES ('schema_version', ?)", (str(SCHEMA_VERSION),)
    )
    conn.execute("UPDATE meta SET value=? WHERE key='schema_version'", (str(SCHEMA_VERSION),))


def install_schema(conn: sqlite3.Connection) -> None:
    """Create or upgrade the schema on a connection, and the connection's own (TEMP) view for observation uploads."""
    conn.executescript(SCHEMA)
    migrate(conn)
    conn.executescript(TEMP_SCHEMA)


DATA_TABLES = (
    "points", "outstations", "areas", "stations", "uploads", "observation_batches", "alarms",
    "outstation_statuses", "statistics", "personnel", "station_statuses", "commands", "interactions",
)  # fmt: skip

MAX_GROUP = 256  # jobs per transaction


@dataclass(eq=False)
class _Job:
    fn: Callable[[sqlite3.Connection], Any]
    future: asyncio.Future[Any] | None
    on_done: Callable[[Any], None] | None = None
    write: bool = True
    on_error: Callable[[BaseException], None] | None = None
    result: Any = None
    error: BaseException | None = field(default=None)


class Store:
    """The SQLite database (a file or ``None`` for memory) behind one thread.

    Example::

        store = Store("mock.db")
        await store.open()
        n = await store.read(lambda c: c.execute("SELECT count(*) FROM uploads").fetchone()[0])
    """

    def __init__(self, path: str | None, synchronous: str = "NORMAL") -> None:
        if synchronous.upper() not in ("NORMAL", "FULL", "OFF", "EXTRA"):
            raise ValueError(f"synchronous must be NORMAL or FULL, not {synchronous!r}")
        self.path = path
        self.synchronous = synchronous.upper()
        # Jobs reach the database thread in lists: those submitted in one turn of the event loop travel together,
        # so that the thread is woken once per turn, not once per job (each wake-up took the GIL from the loop).
        self._q: queue.SimpleQueue[list[_Job] | None] = queue.SimpleQueue()
        self._pending: list[_Job] = []
        self._loop_thread = 0
        self._thread: threading.Thread | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self.transactions = 0
        self.jobs = 0

    @property
    def in_memory(self) -> bool:
        """True for a ``:memory:`` database."""
        return self.path is None or self.path == ":memory:"

    async def open(self) -> None:
        """Start the database thread and create the schema."""
        self._loop = asyncio.get_running_loop()
        self._loop_thread = threading.get_ident()
        ready: asyncio.Future[None] = self._loop.create_future()
        self._thread = threading.Thread(target=self._run, args=(ready,), name="santong-mock-db", daemon=True)
        self._thread.start()
        await ready

    async def close(self) -> None:
        """Finish every queued job, then stop the thread and close the database."""
        if self._thread is None:
            return
        self._flush()
        self._q.put(None)
        await asyncio.to_thread(self._thread.join)
        self._thread = None

    def submit(
        self,
        fn: Callable[[sqlite3.Connection], Any],
        *,
        write: bool = True,
        on_done: Callable[[Any], None] | None = None,
        on_error: Callable[[BaseException], None] | None = None,
        wait: bool = True,
    ) -> asyncio.Future[Any] | None:
        """Queue fn(conn); its future resolves after the commit. on_done(result) or on_error(exception) runs on
        the loop even if the awaiting task was cancelled (so in-memory state always follows the database)."""
        if self._thread is None or self._loop is None:
            raise RuntimeError("store is not open")
        fut = self._loop.create_future() if wait else None
        self._enqueue(_Job(fn, fut, on_done, write, on_error))
        return fut

    def _enqueue(self, job: _Job) -> None:
        loop = self._loop
        assert loop is not None
        if threading.get_ident() != self._loop_thread:
            # not on the loop's thread: the loop takes it (in the order such jobs arrive)
            loop.call_soon_threadsafe(self._enqueue, job)
            return
        if not self._pending:
            loop.call_soon(self._flush)
        self._pending.append(job)

    def _flush(self) -> None:
        """Hand the jobs submitted since the last flush to the database thread, in order."""
        if self._pending:
            jobs, self._pending = self._pending, []
            self._q.put(jobs)

    async def write(
        self, fn: Callable[[sqlite3.Connection], Any], on_done: Callable[[Any], None] | None = None
    ) -> Any:
        """Run a write job and wait for its commit."""
        fut = self.submit(fn, on_done=on_done)
        assert fut is not None
        return await fut

    def write_nowait(self, fn: Callable[[sqlite3.Connection], Any]) -> None:
        """Queue a write nobody waits for (interaction log rows); order is still kept."""
        if self._thread is not None:
            self._enqueue(_Job(fn, None, None, True))

    async def read(self, fn: Callable[[sqlite3.Connection], Any]) -> Any:
        """Run a read job after every job queued before it."""
        fut = self.submit(fn, write=False)
        assert fut is not None
        return await fut

    # ------------------------------------------------------------------ the database thread

    def _connect(self) -> sqlite3.Connection:
        if not self.in_memory:
            _private_file(str(self.path))
        conn = sqlite3.connect(self.path or ":memory:", isolation_level=None, check_same_thread=False)
        if not self.in_memory:
            conn.execute("PRAGMA journal_mode=WAL")
            conn.execute(f"PRAGMA synchronous={self.synchronous}")
            conn.execute("PRAGMA wal_autocheckpoint=4000")
        conn.execute("PRAGMA foreign_keys=OFF")
        conn.execute("PRAGMA cache_size=-32000")
        install_schema(conn)
        return conn

    def _run(self, ready: asyncio.Future[None]) -> None:
        loop = self._loop
        assert loop is not None
        try:
            conn = self._connect()
        except BaseException as e:  # report the failure to open() instead of dying silently
            loop.call_soon_threadsafe(_set_exception, ready, e)
            return
        loop.call_soon_threadsafe(_set_result, ready, None)
        backlog: collections.deque[_Job] = collections.deque()
        stop = False
        while backlog or not stop:
            if not backlog:
                first = self._q.get()
                if first is None:
                    break
                backlog.extend(first)
            while len(backlog) < MAX_GROUP and not stop:
                try:
                    more = self._q.get_nowait()
                except queue.Empty:
                    break
                if more is None:
                    stop = True
                else:
                    backlog.extend(more)
            group = [backlog.popleft() for _ in range(min(MAX_GROUP, len(backlog)))]
            self._execute(conn, group)
            # One wake-up of the loop per transaction (not per job): every job of the group finishes there, in order.
            with contextlib.suppress(RuntimeError):  # the loop is closed: nobody waits any more
                loop.call_soon_threadsafe(_finish_group, group)
        conn.close()

    def _execute(self, conn: sqlite3.Connection, group: list[_Job]) -> None:
        """One transaction for the group. Each job is atomic: one that raises leaves nothing behind and the others
        commit. The group first runs without a savepoint per job (two statements fewer per job, and as many fewer
        hand-overs of the GIL: ≈ 13 µs of an upload's ≈ 70 on this thread); should a job raise, that attempt is
        rolled back whole and the group runs again, each job under its own savepoint. Jobs only touch the
        connection, so running one twice after a rollback is running it once."""
        self.transactions += 1
        self.jobs += len(group)
        try:
            conn.execute("BEGIN")
        except sqlite3.Error as e:
            for job in group:
                job.error = e
            return
        if not self._run_plain(conn, group):
            with contextlib.suppress(sqlite3.Error):  # an I/O error may have rolled it back already
                conn.execute("ROLLBACK")
            try:
                conn.execute("BEGIN")
            except sqlite3.Error as e:
                for job in group:
                    job.result, job.error = None, e
                return
            self._run_isolated(conn, group)
        try:
            conn.execute("COMMIT")
        except sqlite3.Error as e:  # nothing of the group is durable: fail every write
            log.exception("commit failed")
            with contextlib.suppress(sqlite3.Error):
                conn.execute("ROLLBACK")
            for job in group:
                if job.write and job.error is None:
                    job.error = e

    @staticmethod
    def _run_plain(conn: sqlite3.Connection, group: list[_Job]) -> bool:
        """Run every job in the open transaction; False as soon as one raises (the caller rolls back)."""
        for job in group:
            try:
                job.result = job.fn(conn)
            except BaseException:
                return False
        return True

    @staticmethod
    def _run_isolated(conn: sqlite3.Connection, group: list[_Job]) -> None:
        """Run every job in the open transaction, a write under its own savepoint: one that raises is undone."""
        for job in group:
            job.result, job.error = None, None
            if job.write:
                conn.execute("SAVEPOINT job")
                try:
                    job.result = job.fn(conn)
                    conn.execute("RELEASE job")
                except BaseException as e:
                    job.error = e
                    conn.execute("ROLLBACK TO job")
                    conn.execute("RELEASE job")
            else:
                try:
                    job.result = job.fn(conn)
                except BaseException as e:
                    job.error = e


def _set_result(fut: asyncio.Future[Any], value: Any) -> None:
    if not fut.done():
        fut.set_result(value)


def _set_exception(fut: asyncio.Future[Any], e: BaseException) -> None:
    if not fut.done():
        fut.set_exception(e)


def _finish_group(group: list[_Job]) -> None:
    for job in group:
        try:
            _finish(job)
        except Exception:  # one waiter's failure must not keep the others of its transaction waiting
            log.exception("finishing a store job failed")


def _finish(job: _Job) -> None:
    if job.error is None and job.on_done is not None:
        try:
            job.on_done(job.result)
        except Exception as e:  # state update failed: report it to the waiter
            log.exception("on_done failed")
            job.error = e
    if job.error is not None and job.on_error is not None:
        try:
            job.on_error(job.error)
        except Exception:
            log.exception("on_error failed")
    fut = job.future
    if fut is None or fut.done():
        if job.error is not None and fut is None and not isinstance(job.error, sqlite3.IntegrityError):
            log.error("store job failed: %r", job.error)
        return
    if job.error is not None:
        fut.set_exception(job.error)
    else:
        fut.set_result(job.result)
