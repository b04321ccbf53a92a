"""The observation stream's window against the real mock platform (gRPC on 127.0.0.1, port 0).

What goes over the wire is counted by a transport that wraps the real gRPC one: every batch written on a
StreamObservations call and every acknowledgement read back. The window bounds what is written and not yet
acknowledged; an outage in the middle of a full window loses nothing and stores nothing twice.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from santong.adapters.client import GrpcTransport, PlatformClient
from santong.adapters.client._times import ts_of
from santong.adapters.client._transport import ObservationStream
from santong.mock_platform._config import PlatformConfig
from santong.mock_platform.embedded import MockPlatform
from santong.protocols import default_limits
from santong.protocols.v1 import common_pb2, data_pb2
from santong.protocols.v1 import device_access_pb2 as pb
from st_waiting import DEADLINE_S, wait_for
from test_client_platform import CH4, DEVICE, OUT, config, definitions, values


class CountingTransport(GrpcTransport):
    """The real gRPC transport; counts batches written and acknowledgements read on observation streams."""

    def __init__(self, target: str) -> None:
        super().__init__(target, device_id=DEVICE, token="secret")
        self.outstanding = 0  # written on the current stream, not yet acknowledged
        self.peak = 0
        self.written = 0
        self.acks = 0
        self.streams = 0

    def observation_stream(self) -> ObservationStream:
        self.outstanding = 0
        self.streams += 1
        return _Counted(super().observation_stream(), self)


class _Counted(ObservationStream):
    def __init__(self, inner: ObservationStream, t: CountingTransport) -> None:
        self.inner, self.t = inner, t

    async def send(self, payload: bytes) -> None:
        self.t.outstanding += 1  # counted before the write: its acknowledgement may come back first
        self.t.peak = max(self.t.peak, self.t.outstanding)
        self.t.written += 1
        await self.inner.send(payload)

    async def receive(self) -> pb.Ack | None:
        ack = await self.inner.receive()
        if ack is not None:
            self.t.outstanding -= 1
            self.t.acks += 1
        return ack

    def close(self) -> None:
        self.inner.close()


@pytest.fixture
async def mp() -> AsyncIterator[MockPlatform]:
    async with MockPlatform(
        PlatformConfig(devices={DEVICE: "secret"}, limits=default_limits()), http_port=None
    ) as m:
        yield m


async def start(tmp_path: Path, mp: MockPlatform, window: int) -> tuple[PlatformClient, CountingTransport]:
    transport = CountingTransport(mp.grpc_target)
    # batches of one point, sealed at once: one batch per observation; an acknowledgement (or answer) that never
    # comes is given up after 5 s and the batch resent, as in the field (default 10 s)
    cfg = config(tmp_path, mp, max_points=1, linger=0, cap=300, timeout_ms=5000)
    c = PlatformClient(cfg, transport=transport, window=window)
    await c.define(*definitions())
    await c.start()
    return c, transport


async def test_the_window_bounds_the_batches_in_flight(tmp_path: Path, mp: MockPlatform) -> None:
    window, n = 4, 40
    mp.platform.faults.delay_acks(100)  # acknowledgements come late: the window fills
    c, t = await start(tmp_path, mp, window)
    try:
        for i in range(n):
            await c.observations([(CH4, i / 100, None, 0)])
        await wait_for(lambda: t.outstanding == window, what=f"{window} batches in flight")
        assert await c.wait_delivered(DEADLINE_S)
        assert await c.pending() == 0
    finally:
        await c.stop()
    assert t.peak == window  # full, never beyond
    assert t.acks == t.written == n and t.streams == 1  # nothing resent, one stream
    got = await values(mp)
    assert [v for _, v, _ in got] == [i / 100 for i in range(n)]  # in order, once each
    assert await mp.platform.inspection.acknowledged(DEVICE) == [s for s, _, _ in got]
    assert c.stats.acknowledged == n


async def test_a_window_of_one_is_one_at_a_time(tmp_path: Path, mp: MockPlatform) -> None:
    mp.platform.faults.delay_acks(30)
    c, t = await start(tmp_path, mp, 1)
    try:
        for i in range(8):
            await c.observations([(CH4, i / 100, None, 0)])
        assert await c.wait_delivered(DEADLINE_S)
    finally:
        await c.stop()
    assert t.peak == 1 and t.written == 8
    assert [v for _, v, _ in await values(mp)] == [i / 100 for i in range(8)]


def test_the_window_must_hold_a_batch(tmp_path: Path) -> None:
    from santong.adapters.client._delivery import Delivery

    with pytest.raises(ValueError, match="window must be >= 1"):
        Delivery(None, 0)  # type: ignore[arg-type]


@pytest.mark.parametrize("mode", ["reset", "refuse"])
async def test_an_outage_mid_window_loses_and_duplicates_nothing(
    tmp_path: Path, mp: MockPlatform, mode: str
) -> None:
    window = 8
    faults = mp.platform.faults
    faults.delay_acks(150)  # keep the window full
    c, t = await start(tmp_path, mp, window)
    produced = 0
    stop = asyncio.Event()

    async def produce() -> None:
        nonlocal produced
        while not stop.is_set():
            await c.observations([(CH4, produced / 1000, None, 0)])
            produced += 1
            await asyncio.sleep(0.005)  # pacing, not synchronisation

    producer = asyncio.ensure_future(produce())
    try:
        await wait_for(lambda: t.outstanding >= window // 2, what="a window at least half full")
        in_flight_at_outage = t.outstanding
        faults.outage_for(0.6, mode=mode)
        await wait_for(lambda: not faults.outage_active(), what="the outage over")
        faults.delay_acks(0)
        await wait_for(lambda: t.streams >= 2 and t.acks > 0, what="a second stream")
        stop.set()
        await producer
        assert await c.wait_delivered(DEADLINE_S)
        # every flagged upload counted once and uncounted as it left (a drift flags live data backfill for good)
        assert c._backfill_queued == 0
    finally:
        stop.set()
        await asyncio.gather(producer, return_exceptions=True)
        await c.stop()
    assert in_flight_at_outage >= window // 2 and t.peak <= window
    assert c.stats.retries >= 1 and t.streams >= 2  # the stream failed and was opened again
    assert t.written > produced  # the batches in flight at the outage were sent again
    assert c.stats.dead_lettered == 0
    got = await values(mp)
    assert [v for _, v, _ in got] == [
        i / 1000 for i in range(produced)
    ]  # nothing lost, nothing twice, in order
    seqs = [s for s, _, _ in got]
    assert seqs == sorted(seqs) and len(set(seqs)) == len(seqs)
    assert await mp.platform.inspection.acknowledged(DEVICE) == seqs


async def test_other_uploads_go_between_batches_in_order_on_one_stream(
    tmp_path: Path, mp: MockPlatform
) -> None:
    """An outstation status queued between observation batches waits for the window to drain, goes unary, and
    the stream carries on: the platform stores everything in production order (ST-PROTO-019)."""
    mp.platform.faults.delay_acks(20)
    c, t = await start(tmp_path, mp, 4)
    try:
        for i in range(12):
            await c.observations([(CH4, i / 100, None, 0)])
            if i % 4 == 3:
                await c.outstation_statuses(
                    [
                        data_pb2.OutstationStatus(
                            outstation_code=OUT, run_state=common_pb2.RUN_STATE_OK,
                            power_state=common_pb2.POWER_STATE_AC, time=ts_of(c.now_ms()),
                        )
                    ]
                )  # fmt: skip
        assert await c.wait_delivered(DEADLINE_S)
    finally:
        await c.stop()
    assert t.streams == 1 and t.written == 12  # the statuses went unary, the stream stayed open
    log = await mp.platform.inspection.interactions(DEVICE)
    order = [(r["method"], r["sequence"]) for r in log if r["verdict"] == "ACCEPTED" and r["sequence"]]
    seqs = [s for _, s in order]
    assert seqs == sorted(seqs) == list(range(1, 16))  # 12 batches + 3 statuses, each once, in order
    assert [m for m, _ in order].count("ReportOutstationStatus") == 3
    assert [v for _, v, _ in await values(mp)] == [i / 100 for i in range(12)]


async def test_a_rate_refusal_on_the_stream_is_retried_not_dead_lettered(
    tmp_path: Path, mp: MockPlatform
) -> None:
    """The platform lowers its upload rate below what the client learnt at Register: on the stream the excess
    gets Ack REJECTED naming only ST-PROTO-010, which stands for RESOURCE_EXHAUSTED (retry), never a final refusal:
    every batch is stored, once, in order."""
    c, t = await start(tmp_path, mp, 8)
    try:
        await c.observations([(CH4, 0.0, None, 0)])
        assert await c.wait_delivered(DEADLINE_S)  # registered at 200 uploads/s, the stream open
        mp.platform.limits.max_uploads_per_second = 2
        for i in range(1, 7):
            await c.observations([(CH4, i / 100, None, 0)])
        assert await c.wait_delivered(DEADLINE_S)
    finally:
        await c.stop()
    refused = [
        r
        for r in await mp.platform.inspection.interactions(DEVICE, method="StreamObservations")
        if r["code"] == "RESOURCE_EXHAUSTED"
    ]
    assert refused and c.stats.retries >= 1 and c.stats.dead_lettered == 0
    assert [v for _, v, _ in await values(mp)] == [i / 100 for i in range(7)]


@pytest.mark.parametrize("window", [1, 8])
async def test_uploads_flagged_between_their_read_and_first_attempt_are_counted_once(
    tmp_path: Path, mp: MockPlatform, window: int
) -> None:
    """Rule (b): the client flags new data backfill while flagged uploads are queued, by a count of them. Here
    another task (as behind a failure, mark_all_backfill) raises each upload's flag after the delivery read it
    and before its first attempt, counting it as it does: the upload leaves with the flag as stored, and is
    uncounted as it leaves. With the delivery's stale copy (unflagged) the count never came back to 0 and every
    later batch was flagged backfill."""
    c, t = await start(tmp_path, mp, window)
    real = c.queue.first_attempts_flagged

    def flagged_meanwhile(items: list[tuple[int, bool]], **kw: object) -> object:
        for seq, _ in items:  # the interleaving, made certain: flagged (and counted) just before the attempt
            if c.queue.set_backfill(seq):
                c._backfill_queued += 1
        return real(items, **kw)  # type: ignore[arg-type]

    c.queue.first_attempts_flagged = flagged_meanwhile  # type: ignore[method-assign]
    try:
        for i in range(6):
            await c.observations([(CH4, i / 100, None, 0)])
        assert await c.wait_delivered(DEADLINE_S)
        assert c._backfill_queued == 0  # each counted once, uncounted once
    finally:
        await c.stop()
    batches = await mp.platform.inspection.batches(device_id=DEVICE)
    assert len(batches) == 6 and all(b["backfill"] for b in batches)  # sent with the flag as stored
