"""Fault injection against every target: outages, failing calls, clock offset, slowness, timed plans."""

from __future__ import annotations

import time

import grpc
import pytest
from mpclient import Device, Target, status_details
from santong.mock_platform import samples
from santong.protocols.v1 import device_access_pb2 as pb
from st_waiting import DEADLINE_S, wait_until

FAST_RECONNECT = [
    ("grpc.initial_reconnect_backoff_ms", 50),
    ("grpc.min_reconnect_backoff_ms", 50),
    ("grpc.max_reconnect_backoff_ms", 200),
]


def _fresh(target: Target) -> tuple[grpc.Channel, Device]:
    ch = grpc.insecure_channel(target.grpc_target, options=FAST_RECONNECT)
    return ch, target.new_device(channel=ch)


@pytest.mark.parametrize(
    "code", ["UNAVAILABLE", "RESOURCE_EXHAUSTED", "INTERNAL", "INVALID_ARGUMENT", "ABORTED"]
)
def test_fail_next(target: Target, code: str) -> None:
    """The next n device calls fail with the chosen status; nothing of them is stored; each is logged."""
    dev = target.new_device()
    target.fault("fail_next", n=2, code=code)
    for seq in (1, 2):
        with pytest.raises(grpc.RpcError) as info:
            dev.report(seq=seq)
        assert info.value.code() == getattr(grpc.StatusCode, code)
    assert dev.report(seq=1).status == pb.ACK_STATUS_ACCEPTED
    assert dev.stored() == [1]
    fired = target.inspect("interactions", device_id=dev.device_id, verdict="FAULT")
    assert [r["code"] for r in fired] == [code, code]
    if code == "UNAVAILABLE":
        assert status_details(info.value)[1] is not None  # retry advice


def test_fail_next_only_some_methods(target: Target) -> None:
    dev = target.new_device()
    target.fault("fail_next", n=1, code="UNAVAILABLE", methods=["ReportAlarms"])
    assert dev.report().status == pb.ACK_STATUS_ACCEPTED
    with pytest.raises(grpc.RpcError):
        dev.call("ReportAlarms", samples.alarm_request(dev.next_seq()))


def test_fail_next_on_a_stream_hits_an_upload_with_its_sequence(target: Target) -> None:
    """fail_next on StreamObservations fails the stream at an upload, logged with that upload's sequence (a test
    tells resends apart by it, ST-PROTO-014/015) — never at the opening of the stream, which has none."""
    dev = target.new_device()
    target.fault("fail_next", n=1, code="INTERNAL", methods=["StreamObservations"])
    seq = dev.next_seq()
    stream = dev.stub.StreamObservations(
        iter([pb.StreamObservationsRequest(batch=samples.observation_batch(seq, [1]))]),
        metadata=dev.metadata,
        timeout=10,
    )
    with pytest.raises(grpc.RpcError) as info:
        list(stream)
    assert info.value.code() == grpc.StatusCode.INTERNAL
    fired = target.inspect("interactions", device_id=dev.device_id, verdict="FAULT")
    assert [(r["method"], r["code"], r["sequence"]) for r in fired] == [
        ("StreamObservations", "INTERNAL", seq)
    ]
    assert dev.stored() == []
    again = dev.stub.StreamObservations(
        iter([pb.StreamObservationsRequest(batch=samples.observation_batch(seq, [1]))]),
        metadata=dev.metadata,
        timeout=10,
    )
    assert [r.ack.status for r in again] == [pb.ACK_STATUS_ACCEPTED]
    assert dev.stored() == [seq]


def test_outage_refuse_closes_the_listener(target: Target) -> None:
    """outage_for(mode=refuse): connections fail for the duration, then the same port serves again."""
    ch, dev = _fresh(target)
    outage_s = 2.0  # the listener closes moments after outage_for answers: well within this
    try:
        t0 = time.monotonic()
        target.fault("outage_for", seconds=outage_s, mode="refuse")

        def refused() -> bool:
            try:
                dev.report()
            except grpc.RpcError as e:  # a call in flight as the listener closes is CANCELLED: poll on
                assert e.code() in (grpc.StatusCode.UNAVAILABLE, grpc.StatusCode.CANCELLED), e
                return e.code() == grpc.StatusCode.UNAVAILABLE
            return False

        wait_until(refused, timeout=outage_s, what="a call refused during the outage")
        ack = wait_until(  # back once the outage is over, on the same port
            lambda: dev.report(seq=dev.seq),
            timeout=outage_s + DEADLINE_S,
            what="the platform back after the outage",
            ignore=(grpc.RpcError,),
        )
        assert time.monotonic() - t0 >= outage_s * 0.9
        assert ack.status == pb.ACK_STATUS_ACCEPTED
    finally:
        ch.close()
    log = target.inspect("interactions", method="fault:outage_for")
    assert log and "mode=refuse" in log[-1]["note"]


def test_outage_reset_ends_streams_and_answers_unavailable(target: Target) -> None:
    """outage_for(mode=reset): open streams are cut, calls get UNAVAILABLE with retry advice, then service resumes."""
    ch, dev = _fresh(target)
    try:
        import queue

        outbox: queue.Queue[pb.StreamObservationsRequest | None] = queue.Queue()
        outbox.put(pb.StreamObservationsRequest(batch=samples.observation_batch(dev.next_seq(), [1])))

        def reqs():  # type: ignore[no-untyped-def]
            while (r := outbox.get()) is not None:
                yield r

        stream = dev.stub.StreamObservations(reqs(), metadata=dev.metadata, timeout=10)
        assert next(stream).ack.status == pb.ACK_STATUS_ACCEPTED
        target.fault("outage_for", seconds=DEADLINE_S, mode="reset")  # lasts until cleared below
        with pytest.raises(grpc.RpcError) as info:
            next(stream)
        assert info.value.code() in (grpc.StatusCode.UNAVAILABLE, grpc.StatusCode.CANCELLED)
        outbox.put(None)
        with pytest.raises(grpc.RpcError) as info:
            dev.report(seq=dev.seq + 1)
        assert info.value.code() == grpc.StatusCode.UNAVAILABLE
        # The reset restarts the listener (the admin service's too): clear once it answers again.
        wait_until(
            lambda: target.fault("clear") is not None, what="the fault cleared", ignore=(grpc.RpcError,)
        )
        ack = wait_until(  # the listener may still be coming back from the reset
            lambda: dev.report(seq=dev.seq + 1), what="service resumed", ignore=(grpc.RpcError,)
        )
        assert ack.status == pb.ACK_STATUS_ACCEPTED
    finally:
        ch.close()


def test_clock_offset_and_time_sync(target: Target) -> None:
    """An injected clock offset shows in server_time and in the TIME_SYNC command a skewed device gets."""
    dev = target.new_device()
    target.fault("clock_offset", ms=60_000)
    hb = dev.call("Heartbeat", pb.HeartbeatRequest())
    assert 55 < hb.server_time.seconds - time.time() < 65
    reg = dev.call(
        "Register", samples.register_request(dev.device_id)
    )  # device clock now 60 s behind the platform's
    assert 55 < reg.server_time.seconds - time.time() < 65
    assert dev.call("Heartbeat", pb.HeartbeatRequest()).pending_commands == 1
    stream = dev.stub.Commands(iter([pb.CommandsRequest()]), metadata=dev.metadata, timeout=5)
    cmd = next(stream).command
    stream.cancel()
    assert cmd.type == pb.COMMAND_TYPE_TIME_SYNC
    assert 55 < cmd.time_sync.server_time.seconds - time.time() < 65
    assert [r["note"] for r in target.inspect("interactions", method="fault:clock_offset")][-1] == "ms=60000"


def test_slow_responses(target: Target) -> None:
    dev = target.new_device()
    target.fault("slow_responses", ms=250)
    t0 = time.perf_counter()
    dev.call("Heartbeat", pb.HeartbeatRequest())
    assert time.perf_counter() - t0 >= 0.24


def test_timed_plan(target: Target) -> None:
    """A plan's steps fire at their offsets, each logged."""
    dev = target.new_device()
    at_s = 0.3
    target.fault(
        "load_plan", plan={"steps": [{"at_s": at_s, "op": "fail_next", "args": {"n": 1, "code": "ABORTED"}}]}
    )
    wait_until(lambda: target.fault("status")["fail_next"] == 1, what="the plan's step fired")
    rows = target.inspect("interactions", verdict="FAULT")
    loaded = [r["time_ms"] for r in rows if r["method"] == "fault:load_plan"][-1]
    fired = [r["time_ms"] for r in rows if r["method"] == "fault:fail_next"][-1]
    assert fired - loaded >= at_s * 1000 - 1  # at its offset, not before
    with pytest.raises(grpc.RpcError) as info:
        dev.report()
    assert info.value.code() == grpc.StatusCode.ABORTED
    assert target.fault("status")["fail_next"] == 0


def test_bad_fault_requests(target: Target) -> None:
    for op, args in (("outage_for", {"seconds": -1}), ("fail_next", {"n": 1, "code": "NOPE"}), ("outage_for", {"seconds": 1, "mode": "x"}),
                     ("load_plan", {"plan": {"steps": [{"op": "explode"}]}}), ("nope", {})):  # fmt: skip
        with pytest.raises(grpc.RpcError) as info:
            target.fault(op, **args)
        assert info.value.code() in (grpc.StatusCode.INVALID_ARGUMENT, grpc.StatusCode.NOT_FOUND)


def test_admin_channel_needs_the_inspection_token(target: Target) -> None:
    bad = Target(target.kind, target.grpc_target, "wrong")
    try:
        with pytest.raises(grpc.RpcError) as info:
            bad.inspect("counts")
        assert info.value.code() == grpc.StatusCode.UNAUTHENTICATED
    finally:
        bad.close()
