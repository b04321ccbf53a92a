"""The transport-agnostic service layer, called directly: storage, rebuild, inspection, faults, edge cases."""

from __future__ import annotations

import asyncio
import json
from pathlib import Path

import pytest
from google.rpc import error_details_pb2
from santong.mock_platform import Platform, PlatformConfig, PlatformError, samples
from santong.mock_platform._grpc import to_status
from santong.protocols import default_limits
from santong.protocols.v1 import device_access_pb2 as pb
from st_waiting import wait_for

D, T = "SVC-1", "tok"
KW = {"device_id": D, "token": f"Bearer {T}"}


async def _ready(p: Platform) -> None:
    await p.call("Register", samples.register_request(D), **KW)
    await p.call("DefinePoints", samples.define_points_request(), **KW)


def _obs(seq: int, aliases: list[int] | None = None, **kw: object) -> pb.ReportObservationsRequest:
    return pb.ReportObservationsRequest(batch=samples.observation_batch(seq, aliases or [1, 2], **kw))  # type: ignore[arg-type]


async def test_rebuild_after_restart(tmp_path: Path) -> None:
    """A file database gives the next platform every device's state back."""
    db = str(tmp_path / "p.db")
    async with Platform(PlatformConfig(db_path=db, devices={D: T})) as p:
        await _ready(p)
        await p.call("DefinePositioning", samples.positioning_request(), **KW)
        first = _obs(2**63 - 5)  # near the top of the range (ST-PROTO-032)
        await p.call("ReportObservations", first, **KW)
        await p.call("ReportAlarms", samples.alarm_request(2**63 - 3, alarm_id="A9"), **KW)
        p.send_command(D, "RESEND_DEFINITIONS")
    async with Platform(PlatformConfig(db_path=db)) as p:  # credentials come from the store
        dev = p.devices[D]
        assert dev.registered and dev.negotiated_version == "1.0"
        assert dev.state.last_sequence == 2**63 - 3 and dev.state.raised_alarms == {"A9"}
        assert set(dev.state.points) == {1, 2, 3, 4} and dev.state.areas and dev.state.stations
        assert dev.commands.qsize() == 1
        ack = (await p.call("ReportObservations", first, **KW)).ack
        assert ack.status == pb.ACK_STATUS_DUPLICATE and ack.accepted == 2
        assert await p.inspection.acknowledged(D) == [2**63 - 5, 2**63 - 3]
        assert [o["sequence"] for o in await p.inspection.observations(device_id=D)] == [2**63 - 5] * 2


async def test_concurrent_replays_store_once_and_group_commit() -> None:
    async with Platform(PlatformConfig(devices={D: T})) as p:
        await _ready(p)
        reqs = [_obs(s) for s in (1, 2, 3)]  # replays repeat the content (ST-PROTO-031)
        acks = await asyncio.gather(
            *(p.call("ReportObservations", reqs[i % 3], **KW) for i in range(30)), return_exceptions=True
        )
        oks = [a.ack for a in acks if not isinstance(a, BaseException)]
        assert sorted({a.sequence for a in oks if a.status == pb.ACK_STATUS_ACCEPTED}) == [1, 2, 3]
        assert (await p.inspection.counts(D))["observations"] == 6
        other = [a for a in acks if isinstance(a, BaseException)]
        assert all(isinstance(e, PlatformError) and e.clause_ids == ["ST-PROTO-011"] for e in other)
        assert p.store.jobs > p.store.transactions  # writes were grouped


async def test_should_violations_accepted_as_warnings() -> None:
    """SHOULD clauses do not reject: old live data (ST-DATA-032) is stored, the Ack and the log carry the warning."""
    async with Platform(PlatformConfig(devices={D: T})) as p:
        await _ready(p)
        ack = (await p.call("ReportObservations", _obs(1, base_ms=samples._now_ms() - 3_600_000), **KW)).ack
        assert ack.status == pb.ACK_STATUS_ACCEPTED and [v.clause_id for v in ack.violations] == [
            "ST-DATA-032"
        ]
        [row] = await p.inspection.interactions(device_id=D, method="ReportObservations")
        assert row["verdict"] == "ACCEPTED" and row["clause_ids"] == ["ST-DATA-032"]


async def test_cancelled_caller_keeps_state_in_step() -> None:
    """A caller cancelled while its upload commits: the upload is stored and the state knows it (replay → DUPLICATE)."""
    async with Platform(PlatformConfig(devices={D: T})) as p:
        await _ready(p)
        req = _obs(1)
        task = asyncio.ensure_future(p.call("ReportObservations", req, **KW))
        await asyncio.sleep(0)
        await asyncio.sleep(0)
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task
        ack = (await p.call("ReportObservations", req, **KW)).ack
        assert ack.status in (pb.ACK_STATUS_DUPLICATE, pb.ACK_STATUS_ACCEPTED)
        assert (await p.inspection.counts(D))["observations"] == 2


async def test_export_reset_and_plan_file(tmp_path: Path) -> None:
    plan = tmp_path / "plan.json"
    plan.write_text(
        json.dumps(
            {
                "steps": [
                    {"at_s": 0, "op": "clock_offset", "args": {"ms": 5000}},
                    {"at_s": 0.05, "op": "fail_next", "args": {"n": 1}},
                ]
            }
        )
    )
    async with Platform(PlatformConfig(devices={D: T})) as p:
        await _ready(p)
        await p.call("ReportObservations", _obs(1), **KW)
        doc = await p.inspection.run("export", {})
        json.dumps(doc)  # JSON-able
        assert doc["counts"]["observations"] == 2 and doc["devices"][0]["registered"]
        p.faults.load_plan(plan)
        await wait_for(
            lambda: p.faults.status()["clock_offset_ms"] == 5000 and p.faults.fail_count == 1,
            what="both steps of the plan applied",
        )
        with pytest.raises(PlatformError) as info:
            await p.call("Heartbeat", pb.HeartbeatRequest(), **KW)
        assert info.value.code == "UNAVAILABLE" and info.value.http_status == 503
        faults = [r["method"] for r in await p.inspection.interactions(verdict="FAULT")]
        assert {"fault:load_plan", "fault:clock_offset", "fault:fail_next", "Heartbeat"} <= set(faults)
        assert await p.inspection.run("reset") == {"reset": True}
        assert (await p.inspection.counts())["observations"] == 0 and p.faults.clock_offset_ms == 0
        with pytest.raises(PlatformError) as info:
            await p.call("Heartbeat", pb.HeartbeatRequest(), **KW)
        assert info.value.code == "FAILED_PRECONDITION" and info.value.http_status == 409  # ST-IFACE-015


async def test_bad_inspection_and_command_requests() -> None:
    async with Platform(PlatformConfig(devices={D: T})) as p:
        for op, args in (("nope", {}), ("observations", {"limit": "x"}), ("observations", {"bogus": 1}),
                         ("send_command", {"device_id": "missing", "type": "TIME_SYNC"}),
                         ("send_command", {"device_id": D, "type": "EXPLODE"}),
                         ("send_command", {"device_id": D, "type": "WRITE_POINT"}),
                         ("add_device", {"device_id": "", "token": "x"})):  # fmt: skip
            with pytest.raises(PlatformError):
                await p.inspection.run(op, args)


def test_error_maps_to_grpc_status_with_details() -> None:
    """ST-IFACE-003: BadRequest with the clause in reason; RetryInfo with the retry advice."""
    from santong.mock_platform._errors import violation

    e = PlatformError(
        "RESOURCE_EXHAUSTED",
        "太快",
        "too fast",
        [violation("ST-PROTO-010", "$", "a", "b")],
        retry_after_s=1.25,
    )
    st = to_status(e)
    from google.rpc import status_pb2

    [(_, raw)] = [m for m in st.trailing_metadata if m[0] == "grpc-status-details-bin"]
    s = status_pb2.Status.FromString(raw)
    bad, retry = error_details_pb2.BadRequest(), error_details_pb2.RetryInfo()
    assert s.details[0].Unpack(bad) and s.details[1].Unpack(retry)
    assert bad.field_violations[0].reason == "ST-PROTO-010" and "a / " in bad.field_violations[0].description
    assert (retry.retry_delay.seconds, retry.retry_delay.nanos) == (1, 250_000_000)
    assert e.http_status == 429 and e.as_dict()["violations"][0]["clause_id"] == "ST-PROTO-010"


def test_every_clause_named_by_the_platform_exists() -> None:
    """The clause IDs the mock platform cites are in the catalogue."""
    import re

    from santong.protocols import clauses

    src = "".join(
        p.read_text(encoding="utf-8") for p in (Path(__file__).parents[2] / "mock_platform").glob("*.py")
    )
    cited = set(re.findall(r"ST-(?:DATA|IFACE|PROTO)-\d{3}", src))
    assert cited and cited <= set(clauses())


@pytest.mark.parametrize("missed", [1, 3])
async def test_offline_window_is_offline_after_missed_heartbeat_intervals(missed: int) -> None:
    """ST-PROTO-006: online up to offline_after_missed × heartbeat_interval_ms after the last call, offline after."""
    limits = default_limits()
    limits.heartbeat_interval_ms, limits.offline_after_missed = 10_000, missed  # the monitor never fires here
    hb = limits.heartbeat_interval_ms
    async with Platform(PlatformConfig(devices={D: T}, limits=limits)) as p:
        await p.call("Register", samples.register_request(D), **KW)
        dev = p.devices[D]
        assert dev.alive_ms is not None
        last = dev.alive_ms
        assert p.offline_window_ms() == missed * hb
        for k in range(missed):  # each interval short of the last missed one: still online
            assert p.is_online(dev, last + k * hb + hb // 2), (k, missed)
        assert p.is_online(dev, last + missed * hb)  # the boundary itself: online
        assert not p.is_online(dev, last + missed * hb + 1)  # one ms past it: offline
        assert not p.is_online(dev, last + (missed + 1) * hb)
        [row] = [d for d in await p.inspection.devices() if d["device_id"] == D]
        assert row["online"] and row["last_call_ms"] == last


async def test_replay_the_store_already_holds_is_a_duplicate_at_the_store_level(tmp_path: Path) -> None:
    """The store's unique (device, sequence) catches a replay the in-memory state does not know of: DUPLICATE,
    stored once (ST-PROTO-012); other content under that sequence is a conflict, not stored (ST-PROTO-031)."""
    async with Platform(PlatformConfig(db_path=str(tmp_path / "p.db"), devices={D: T})) as p:
        await _ready(p)
        req = _obs(1)
        first = (await p.call("ReportObservations", req, **KW)).ack
        assert first.status == pb.ACK_STATUS_ACCEPTED and first.accepted == 2
        # The in-memory replay check (seq <= last_sequence) is passed by: the device state forgets sequence 1, as
        # after a commit whose outcome the platform did not see. Only the store can still tell.
        p.devices[D].state.last_sequence = 0
        ack = (await p.call("ReportObservations", req, **KW)).ack
        assert ack.status == pb.ACK_STATUS_DUPLICATE and ack.sequence == 1 and ack.accepted == 2
        p.devices[D].state.last_sequence = 0
        changed = _obs(1, aliases=[1])  # same sequence, different content: refused, the first version is kept
        with pytest.raises(PlatformError) as info:
            await p.call("ReportObservations", changed, **KW)
        assert info.value.code == "ALREADY_EXISTS" and info.value.clause_ids == ["ST-PROTO-031"]
        assert p.devices[D].state.last_sequence == 1
        assert await p.inspection.acknowledged(D) == [1]
        obs = await p.inspection.observations(device_id=D)
        assert [(o["sequence"], o["alias"]) for o in obs] == [(1, 1), (1, 2)]
        rows = await p.inspection.interactions(device_id=D, method="ReportObservations")
        assert [r["verdict"] for r in rows] == ["ACCEPTED", "DUPLICATE", "CONFLICT"]
        nxt = (await p.call("ReportObservations", _obs(2), **KW)).ack  # the device carries on
        assert nxt.status == pb.ACK_STATUS_ACCEPTED and await p.inspection.acknowledged(D) == [1, 2]


async def test_a_sequence_committed_meanwhile_is_told_from_a_batch_judged_from_its_encoding() -> None:
    """A stream batch judged from its encoding (its skeleton: no column parsed) whose sequence turns out to be
    stored already when its job runs (the state had not seen it: here the state is set back by hand) is a
    duplicate when its content is the stored one and a conflict when not: the digest is of the whole request,
    not of the skeleton."""
    async with Platform(PlatformConfig(devices={D: T})) as p:
        await _ready(p)
        dev = await p.open_stream("StreamObservations", **KW)

        def msg(seq: int, values: list[float]) -> bytes:
            b = _obs(seq, [1, 2, 3], values=values, offsets=[0, 10, 20]).batch
            return pb.StreamObservationsRequest(batch=b).SerializeToString()

        async def send(data: bytes) -> pb.Ack:
            resp = await p.stream_ack_bytes(data, device=dev)
            assert resp is not None
            return resp.ack

        assert (
            await send(msg(1, [0.5, 0.6, 7.0]))
        ).status == pb.ACK_STATUS_ACCEPTED  # judged whole, remembered
        second = msg(2, [0.7, 0.8, 9.0])
        assert (await send(second)).status == pb.ACK_STATUS_ACCEPTED  # judged from its encoding
        dev.state.last_sequence = 1  # as if sequence 2 had been committed by another call meanwhile
        assert (await send(second)).status == pb.ACK_STATUS_DUPLICATE
        dev.state.last_sequence = 1
        clash = await send(msg(2, [0.7, 0.8, 9.5]))
        assert clash.status == pb.ACK_STATUS_CONFLICT
        assert {v.clause_id for v in clash.violations} == {"ST-PROTO-031"}
        assert [b["sequence"] for b in await p.inspection.batches(device_id=D)] == [1, 2]


async def test_stored_time_span_is_the_batchs_earliest_and_latest_observation() -> None:
    """The span the core found while judging the batch is what the store keeps (no second pass over the
    offsets), and the same as the offsets give: min and max, not first and last; a negative offset included."""
    import sqlite3  # noqa: PLC0415
    import time  # noqa: PLC0415

    from santong.mock_platform._ingest import log_row, upload_job  # noqa: PLC0415
    from santong.mock_platform._store import install_schema  # noqa: PLC0415

    base = int(time.time() * 1000) - 5000
    offsets = [300, -50, 1200, 0]
    async with Platform(PlatformConfig(devices={D: T})) as p:
        await _ready(p)
        req = _obs(1, [1, 2, 3, 1], base_ms=base, offsets=offsets)
        await p.call("ReportObservations", req, **KW)
        [stored] = await p.inspection.batches(device_id=D)
        assert (stored["min_time_ms"], stored["max_time_ms"]) == (base - 50, base + 1200)
    # Without the core's span (a caller that did not validate), the job finds the same from the offsets.
    conn = sqlite3.connect(":memory:")
    install_schema(conn)
    job, n = upload_job(
        D, "ReportObservations", req, 0, log_row(0, D, "ReportObservations", "", 1, "ACCEPTED", "OK")
    )
    assert job(conn) == n == 4
    assert conn.execute("SELECT min_time_ms, max_time_ms FROM observation_batches").fetchall() == [
        (base - 50, base + 1200)
    ]


def test_an_observation_upload_is_one_statement_that_writes_three_rows_or_none() -> None:
    """The observation upload's job writes its register, batch and log rows through one INSERT on the store's view
    (with the values given: nothing dropped or swapped between the 24 columns); a second upload of the same sequence
    and epoch is refused as DUPLICATE with none of its rows written, another epoch is stored beside it."""
    import sqlite3  # noqa: PLC0415
    import time  # noqa: PLC0415

    from santong.mock_platform._ingest import DUPLICATE, log_row, upload_job  # noqa: PLC0415
    from santong.mock_platform._store import install_schema  # noqa: PLC0415

    base = int(time.time() * 1000) - 5000
    req = _obs(3, [1, 2], base_ms=base, offsets=[0, 40])
    raw = req.SerializeToString()
    conn = sqlite3.connect(":memory:", isolation_level=None)
    install_schema(conn)
    log = log_row(77, D, "ReportObservations", "ipv4:1.2.3.4:5", 3, "ACCEPTED", "OK", (), 0, 1.25, "n")
    job, n = upload_job(D, "ReportObservations", req, 55, log, raw, b"dg", 2, (base + 1, base + 41))
    assert job(conn) == n == 2
    assert conn.execute("SELECT * FROM uploads").fetchall() == [
        (D, 3, "ReportObservations", 2, 0, 55, b"dg", 2)
    ]
    assert conn.execute("SELECT * FROM observation_batches").fetchall() == [
        (D, 3, base, base + 1, base + 41, 2, 0, 55, raw[2:], 2)
    ]
    assert conn.execute("SELECT * FROM interactions").fetchall() == [
        (1, 77, D, "ReportObservations", "ipv4:1.2.3.4:5", 3, "ACCEPTED", "OK", "[]", "[]", 0, 1.25, "n")
    ]
    again, _ = upload_job(D, "ReportObservations", req, 56, log, raw, b"other", 2)
    assert again(conn) == DUPLICATE
    counts = [
        conn.execute(f"SELECT count(*) FROM {t}").fetchone()[0]
        for t in ("uploads", "observation_batches", "interactions")
    ]
    assert counts == [1, 1, 1]  # nothing of the refused upload, not even its log row
    other_epoch, _ = upload_job(D, "ReportObservations", req, 57, log, raw, b"dg", 3)
    assert other_epoch(conn) == 2
    assert conn.execute("SELECT epoch FROM observation_batches ORDER BY epoch").fetchall() == [(2,), (3,)]


def test_content_digest_hashed_in_pieces_is_the_digest_of_the_whole_encoding() -> None:
    """A batch far above hashlib's 2 KiB GIL threshold, hashed piece by piece: the digest of its whole
    deterministic encoding (sequence and backfill left out), and a replay that only raises backfill keeps it."""
    import hashlib  # noqa: PLC0415

    from santong.mock_platform._ingest import content_digest  # noqa: PLC0415

    req = _obs(7, list(range(1, 1001)), values=[i / 7 for i in range(1000)], offsets=list(range(1000)))
    bare = pb.ReportObservationsRequest()
    bare.CopyFrom(req)
    bare.batch.sequence = 0
    data = bare.batch.SerializeToString(deterministic=True)
    assert len(data) > 3 * 2048
    want = hashlib.blake2b(b"ObservationBatch", digest_size=16)
    want.update(data)
    assert content_digest(req) == want.digest()
    assert req.batch.sequence == 7  # left as it was
    replay = pb.StreamObservationsRequest()
    replay.batch.CopyFrom(req.batch)
    replay.batch.backfill = True
    assert content_digest(replay) == want.digest()
    req.batch.value[999] += 1
    assert content_digest(req) != want.digest()
