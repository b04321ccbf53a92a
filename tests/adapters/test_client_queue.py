"""The SQLite store-and-forward queue: order, acknowledgement, dead letters, resume, aliases, crash safety."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest
from santong.adapters.client import AliasConflict, QueueLocked, UploadQueue
from santong.protocols import Violation
from santong.protocols.v1 import data_pb2
from santong.protocols.v1 import device_access_pb2 as pb


def batch(value: float) -> pb.ReportObservationsRequest:
    b = data_pb2.ObservationBatch(alias=[1], value=[value], time_offset_ms=[0], status=[0])
    b.base_time.seconds = 1_800_000_000
    return pb.ReportObservationsRequest(batch=b)


def test_sequences_order_ack_and_persistence(tmp_path: Path) -> None:
    path = tmp_path / "q.db"
    with UploadQueue(path) as q:
        seqs = [q.put("ReportObservations", batch(i), backfill=False) for i in range(5)]
        seqs += q.put_many(
            [("ReportAlarms", pb.ReportAlarmsRequest(alarms=[data_pb2.Alarm(alarm_id="a")]), True)]
        )
        assert seqs == [1, 2, 3, 4, 5, 6]
        head = q.head()
        assert (
            head.sequence == 1 and head.request().batch.sequence == 1 and head.request().batch.value[0] == 0
        )
        assert q.pending()[-1].request().sequence == 6 and q.pending()[-1].backfill
        assert q.acknowledge(1) and not q.acknowledge(1)
        assert q.acknowledge(3)  # out of order acks are allowed; the head stays the lowest
        assert [u.sequence for u in q.pending()] == [2, 4, 5, 6]
        assert q.last_acknowledged == 3 and q.count() == 4 and q.backfill_count() == 1
    with UploadQueue(path) as q:  # reopen: counters and contents survive
        assert q.next_sequence == 7 and q.last_acknowledged == 3
        assert [u.sequence for u in q.pending()] == [2, 4, 5, 6]
        assert q.set_backfill(2) and not q.set_backfill(2)
        assert q.head().request().batch.backfill is True
        assert q.mark_all_backfill() == 2 and q.backfill_count() == 4


def test_dead_letters_keep_the_violations(tmp_path: Path) -> None:
    v = Violation("ST-DATA-018", "$.batch.value[0]", "值不是有限数", "value is not finite")
    with UploadQueue(tmp_path / "q.db") as q:
        q.put("ReportObservations", batch(1), backfill=False)
        assert q.dead_letter(1, "Ack REJECTED", [v]) and q.count() == 0
        seq = q.dead_letter_new("ReportObservations", batch(float("nan")), [v], "pre-flight")
        assert seq == 2 and q.next_sequence == 3  # a dead letter uses up its sequence: gaps are allowed
        d1, d2 = q.dead_letters()
        assert (d1.sequence, d1.reason, d1.clause_ids) == (1, "Ack REJECTED", ("ST-DATA-018",))
        assert d1.violations[0]["path"] == "$.batch.value[0]" and d2.request().batch.sequence == 2


def test_resume_after_registration(tmp_path: Path) -> None:
    with UploadQueue(tmp_path / "fresh.db") as q:
        # Never registered: nothing can have been sent, so a platform that knows sequences up to 10 (the device's
        # old queue file was lost) gets these renumbered above 10, not dropped.
        for i in range(3):
            q.put("ReportObservations", batch(i), backfill=False)
        assert q.resume_after(10) == 0
        assert [
            (u.sequence, u.request().batch.sequence, u.request().batch.value[0]) for u in q.pending()
        ] == [(11, 11, 0), (12, 12, 1), (13, 13, 2)]
        assert q.next_sequence == 14
        # Registered before: queued uploads at or below the platform's last acknowledged one are dropped (ST-PROTO-023).
        assert q.resume_after(12) == 2
        assert [u.sequence for u in q.pending()] == [13]
        assert q.resume_after(100) == 1 and q.next_sequence == 101 and q.last_acknowledged == 100


def test_aliases_are_persistent_and_never_change(tmp_path: Path) -> None:
    path = tmp_path / "q.db"
    with UploadQueue(path) as q:
        assert q.assign_aliases([("P1", 0), ("P2", 5), ("P3", 0)]) == {"P1": 6, "P2": 5, "P3": 7}
    with UploadQueue(path) as q:
        assert q.assign_aliases([("P3", 0), ("P4", 0), ("P1", 6)]) == {"P3": 7, "P4": 8, "P1": 6}
        with pytest.raises(AliasConflict, match="ST-DATA-017"):
            q.assign_aliases([("P1", 9)])
        with pytest.raises(AliasConflict, match="already belongs"):
            q.assign_aliases([("P9", 5)])
        q.set_meta("raised_alarms", ["a1"])
        assert q.get_meta("raised_alarms") == ["a1"] and q.get_meta("missing", 3) == 3


WRITER = textwrap.dedent(
    """
    import sys
    from santong.adapters.client import UploadQueue
    from santong.protocols.v1 import data_pb2, device_access_pb2 as pb

    q = UploadQueue(sys.argv[1], synchronous=sys.argv[2]).open()
    print("open", flush=True)
    i = 0
    while True:
        b = data_pb2.ObservationBatch(alias=[1], value=[float(i)], time_offset_ms=[0], status=[0])
        b.base_time.seconds = 1_800_000_000
        seq = q.put("ReportObservations", pb.ReportObservationsRequest(batch=b), backfill=False)
        print("put", seq, i, flush=True)
        if i % 3 == 2:
            head = q.head()
            q.acknowledge(head.sequence)
            print("ack", head.sequence, flush=True)
        i += 1
    """
)


@pytest.mark.parametrize("synchronous", ["FULL", "NORMAL"])
def test_kill_9_loses_and_duplicates_nothing(tmp_path: Path, synchronous: str) -> None:
    path = tmp_path / "q.db"
    script = tmp_path / "writer.py"
    script.write_text(WRITER, encoding="utf-8")
    proc = subprocess.Popen(
        [sys.executable, str(script), str(path), synchronous], stdout=subprocess.PIPE, text=True
    )
    lines: list[str] = []  # complete lines only: the kill may cut the last one short ("ack 1" of "ack 12")
    try:
        assert proc.stdout is not None
        assert proc.stdout.readline() == "open\n"
        with pytest.raises(QueueLocked):  # one process per queue file
            UploadQueue(path).open()
        puts = 0
        while puts < 300:  # no deadline of its own: pytest-timeout bounds a writer that hangs
            line = proc.stdout.readline()
            assert line.endswith("\n"), f"the writer stopped: {line!r}, exit code {proc.poll()}"
            lines.append(line)
            puts += line.startswith("put ")
        os.kill(proc.pid, signal.SIGKILL)  # mid-write, without any chance to clean up
        lines += proc.stdout.read().splitlines(keepends=True)
    finally:
        proc.kill()
        proc.wait(10)
    lines = [ln.strip() for ln in lines if ln.endswith("\n")]
    put = {int(s): int(v) for kind, s, v in (ln.split() for ln in lines if ln.startswith("put"))}
    acked = {int(ln.split()[1]) for ln in lines if ln.startswith("ack")}
    assert len(put) >= 300
    with UploadQueue(path) as q:  # the kill released the lock
        pending = q.pending()
        seqs = [u.sequence for u in pending]
        assert seqs == sorted(set(seqs))  # in order, no duplicates
        assert not acked & set(seqs)  # acknowledged ones are gone
        confirmed_unacked = set(put) - acked
        missing = confirmed_unacked - set(
            seqs
        )  # only an acknowledgement committed but not yet printed at the kill
        assert missing <= {min(confirmed_unacked)}, (
            missing
        )  # every other put that returned is there: nothing lost
        extra = set(seqs) - set(put)  # at most the one put in flight at the kill
        assert len(extra) <= 1 and all(s == max(put) + 1 for s in extra)
        for u in pending:  # payload intact and consistent with its sequence
            b = u.request().batch
            assert b.sequence == u.sequence and b.value[0] == u.sequence - 1
        assert q.next_sequence == max([*seqs, *put]) + 1
        assert q.last_acknowledged >= max(acked)


def test_an_upload_sent_once_is_frozen_flag_included(tmp_path: Path) -> None:
    """Ruling (a) of ST-PROTO-014/020: the backfill flag may be raised before the first attempt, never after; the
    first attempt is recorded before the upload leaves, so a restart cannot flag it either (rule d)."""
    with UploadQueue(tmp_path / "q.db") as q:
        live, late, behind = (q.put("ReportObservations", batch(v), backfill=False) for v in (0.1, 0.2, 0.3))
        sent = q.first_attempt(live, backfill=False)
        assert sent is not None and not pb.ReportObservationsRequest.FromString(sent).batch.backfill
        # rule (e) before its first attempt: flagged, then frozen
        raised = q.first_attempt(late, backfill=True)
        assert raised is not None and pb.ReportObservationsRequest.FromString(raised).batch.backfill
        assert not q.set_backfill(live)  # sent once: resent unchanged
        assert q.mark_all_backfill() == 1  # only the upload never sent
        assert [(u.sequence, u.backfill, u.attempts) for u in q.pending()] == [
            (live, False, 1), (late, True, 1), (behind, True, 0)
        ]  # fmt: skip
        assert q.head().payload == sent  # byte for byte what went out
        assert q.first_attempt(999, backfill=True) is None


def test_a_first_attempt_reports_the_flag_as_stored_and_who_raised_it(tmp_path: Path) -> None:
    """The client counts flagged uploads (rule b: live data waits behind them) and uncounts one as it leaves the
    queue, by the flag of the upload object it holds. An object read before mark_all_backfill raised the flag
    (behind a failure) is stale: the first attempt reports the flag as stored and whether it raised it itself, so
    that each flagged upload is counted once and uncounted once (a stale one kept live data flagged backfill for
    good: seen in the self-check's demo)."""
    with UploadQueue(tmp_path / "q.db") as q:
        a, b, c, d = (q.put("ReportObservations", batch(v), backfill=False) for v in (0.1, 0.2, 0.3, 0.4))
        stale = {u.sequence: u for u in q.pending()}
        assert not any(u.backfill for u in stale.values())
        q.set_backfill(b)  # raised meanwhile by another task (behind a failure), counted there
        q.set_backfill(c)
        got = q.first_attempts_flagged([(a, False), (b, False), (c, True), (d, True), (999, True)])
        assert [(f.backfill, f.raised) if f else None for f in got] == [
            (False, False), (True, False), (True, False), (True, True), None
        ]  # fmt: skip
        for f in got[:4]:
            assert (
                f is not None
                and pb.ReportObservationsRequest.FromString(f.payload).batch.backfill == f.backfill
            )
        assert q.first_attempts([(a, True)]) == [got[0].payload]  # sent once: frozen, flag and all
