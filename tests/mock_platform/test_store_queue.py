"""The store's queue: jobs submitted in one turn of the event loop travel to the database thread together, in
order, split into transactions of at most MAX_GROUP; each waiter resolves after its transaction's commit; a job
queued from another thread is not lost."""

from __future__ import annotations

import asyncio
import sqlite3
import threading
from pathlib import Path

from santong.mock_platform._store import MAX_GROUP, Store
from st_waiting import wait_for


async def test_one_turns_jobs_run_in_order_in_groups_and_resolve_after_commit(tmp_path: Path) -> None:
    db = tmp_path / "q.db"
    store = Store(str(db))
    await store.open()
    try:
        await store.write(lambda c: c.execute("CREATE TABLE t (i INTEGER PRIMARY KEY)"))
        before = store.transactions
        n = 2 * MAX_GROUP + 7

        def insert(i: int) -> object:
            return lambda c: (c.execute("INSERT INTO t VALUES (?)", (i,)), i)[1]

        futs = [store.submit(insert(i)) for i in range(n)]  # one turn of the loop: nothing awaited in between
        store.write_nowait(insert(n))
        seen = []
        for fut in futs:
            assert fut is not None
            seen.append(await fut)
            # resolved: committed, so another connection sees it
            with sqlite3.connect(db) as other:
                assert other.execute("SELECT count(*) FROM t WHERE i = ?", (seen[-1],)).fetchone() == (1,)
        assert seen == list(range(n))
        assert store.transactions - before >= 3  # at most MAX_GROUP jobs per transaction
        rows = await store.read(lambda c: [r[0] for r in c.execute("SELECT i FROM t ORDER BY rowid")])
        assert rows == list(range(n + 1))  # the order of submission
    finally:
        await store.close()


async def test_a_job_queued_from_another_thread_runs(tmp_path: Path) -> None:
    store = Store(str(tmp_path / "t.db"))
    await store.open()
    try:
        await store.write(lambda c: c.execute("CREATE TABLE t (i INTEGER)"))
        worker = threading.Thread(
            target=store.write_nowait, args=(lambda c: c.execute("INSERT INTO t VALUES (1)"),)
        )
        worker.start()
        await asyncio.to_thread(worker.join)

        async def count() -> int:
            return int(await store.read(lambda c: c.execute("SELECT count(*) FROM t").fetchone()[0]))

        assert await wait_for(count, what="the other thread's row") == 1
    finally:
        await store.close()


async def test_close_runs_what_was_queued_in_the_same_turn(tmp_path: Path) -> None:
    db = tmp_path / "c.db"
    store = Store(str(db))
    await store.open()
    await store.write(lambda c: c.execute("CREATE TABLE t (i INTEGER)"))
    store.write_nowait(lambda c: c.execute("INSERT INTO t VALUES (1)"))
    await store.close()  # no await in between: the job was still waiting for the end of the turn
    with sqlite3.connect(db) as conn:
        assert conn.execute("SELECT count(*) FROM t").fetchone() == (1,)


async def test_a_job_that_fails_leaves_nothing_and_the_others_of_its_transaction_commit(
    tmp_path: Path,
) -> None:
    """Each job is atomic within its group's transaction: one that raises after writing (a duplicate key, or any
    error) leaves no row behind, its waiter gets the error, and the jobs before and after it commit — also when
    the group ran first without per-job savepoints and had to run again."""
    db = tmp_path / "f.db"
    store = Store(str(db))
    await store.open()
    try:
        await store.write(lambda c: c.execute("CREATE TABLE t (i INTEGER PRIMARY KEY, note TEXT)"))
        await store.write(lambda c: c.execute("INSERT INTO t VALUES (100, 'old')"))

        def insert(i: int) -> object:
            return lambda c: (c.execute("INSERT INTO t VALUES (?, 'new')", (i,)), i)[1]

        def half_then_duplicate(c: sqlite3.Connection) -> None:
            c.execute("INSERT INTO t VALUES (7, 'half')")  # written, then the job fails: must not stay
            c.execute("INSERT INTO t VALUES (100, 'dup')")

        def half_then_raise(c: sqlite3.Connection) -> None:
            c.execute("INSERT INTO t VALUES (8, 'half')")
            raise ValueError("a job's own failure")

        before = store.transactions
        futs = [store.submit(insert(1)), store.submit(half_then_duplicate), store.submit(insert(2)),
                store.submit(half_then_raise), store.submit(insert(3))]  # fmt: skip
        results = await asyncio.gather(*(f for f in futs if f is not None), return_exceptions=True)
        assert store.transactions - before == 1  # one turn, one group
        assert results[0] == 1 and results[2] == 2 and results[4] == 3
        assert isinstance(results[1], sqlite3.IntegrityError)
        assert isinstance(results[3], ValueError)
        with sqlite3.connect(db) as other:
            rows = other.execute("SELECT i, note FROM t ORDER BY i").fetchall()
        assert rows == [(1, "new"), (2, "new"), (3, "new"), (100, "old")]
        # the next group, with no failure, still commits everything
        assert await store.write(insert(4)) == 4
    finally:
        await store.close()
