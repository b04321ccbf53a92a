"""Replays, streams with rejected batches, withheld and delayed acknowledgements — against every target."""

from __future__ import annotations

import time

import grpc
import pytest
from mpclient import Target
from santong.mock_platform import samples
from santong.protocols.v1 import device_access_pb2 as pb

ACC, DUP, REJ = pb.ACK_STATUS_ACCEPTED, pb.ACK_STATUS_DUPLICATE, pb.ACK_STATUS_REJECTED


def test_unary_replay_is_duplicate_and_stored_once(target: Target) -> None:
    """ST-PROTO-012: the replay of an acknowledged sequence is acknowledged DUPLICATE and not stored twice."""
    dev = target.new_device()
    req = pb.ReportObservationsRequest(batch=samples.observation_batch(1, [1, 2, 3]))
    first = dev.call("ReportObservations", req).ack
    again = dev.call(
        "ReportObservations", req
    ).ack  # the same content (ST-PROTO-031 tells it from a conflict)
    assert (first.status, again.status) == (ACC, DUP)
    assert again.accepted == first.accepted == 3 and again.sequence == 1
    alarm = samples.alarm_request(2)
    assert dev.call("ReportAlarms", alarm).ack.status == ACC
    assert dev.call("ReportAlarms", alarm).ack.status == DUP
    counts = target.inspect("counts", device_id=dev.device_id)
    assert counts["observations"] == 3 and counts["alarms"] == 1 and counts["duplicates"] == 2
    assert dev.register().last_acknowledged_sequence == 2  # resume point after re-registering


def test_stream_rejected_batch_in_the_middle_keeps_going(target: Target) -> None:
    """A rejected batch gets an Ack REJECTED with its clause; the stream goes on and acks stay in order."""
    dev = target.new_device()
    batches = [samples.observation_batch(i, [1, 2, 3, 4]) for i in range(1, 8)]
    batches[2].alias[0] = 77  # undefined alias
    batches[4].CopyFrom(batches[1])  # a true replay of an acknowledged batch: same sequence, same content
    acks = dev.stream(batches)
    assert [a.sequence for a in acks] == [1, 2, 3, 4, 2, 6, 7]
    assert [a.status for a in acks] == [ACC, ACC, REJ, ACC, DUP, ACC, ACC]
    assert {v.clause_id for v in acks[2].violations} == {"ST-IFACE-004"} and acks[2].accepted == 0
    assert dev.stored() == [1, 2, 4, 6, 7]
    assert target.inspect("counts", device_id=dev.device_id)["observations"] == 20


def test_stream_undecodable_message_is_rejected_not_fatal(target: Target) -> None:
    """Garbage on the stream gives an Ack REJECTED naming ST-DATA-035; later batches are still acknowledged."""
    dev = target.new_device()
    call = dev.ch.stream_stream("/santong.protocols.v1.DeviceAccessService/StreamObservations", request_serializer=None,
                                response_deserializer=pb.StreamObservationsResponse.FromString)  # fmt: skip
    good = pb.StreamObservationsRequest(batch=samples.observation_batch(1, [1])).SerializeToString()
    acks = [r.ack for r in call(iter([b"\xff\xff\xff", good]), metadata=dev.metadata, timeout=10)]
    assert [a.status for a in acks] == [REJ, ACC]
    assert {v.clause_id for v in acks[0].violations} == {"ST-DATA-035"}


def test_stream_over_rate_limit_rejects_excess(target: Target) -> None:
    """ST-PROTO-010 on a stream: the excess batches are REJECTED (to be resent), the stream goes on."""
    dev = target.new_device()
    rate = target.platform_info().limits.max_uploads_per_second
    t0 = time.monotonic()
    acks = dev.stream([samples.observation_batch(i, [1]) for i in range(1, 3 * rate)])
    elapsed = time.monotonic() - t0
    rejected = [a for a in acks if a.status == REJ]
    assert len(acks) - len(rejected) <= rate * (1 + elapsed) + 1
    if len(acks) > rate * (1 + elapsed) + 1:  # more than the bucket can have let through: some were rejected
        assert rejected
    assert all({v.clause_id for v in a.violations} == {"ST-PROTO-010"} for a in rejected)
    assert len(dev.stored()) == len(acks) - len(rejected)


def test_withheld_ack_unary_then_replay(target: Target) -> None:
    """A withheld acknowledgement: the upload is stored, the device times out, resends and gets DUPLICATE."""
    dev = target.new_device()
    target.fault("withhold_acks", n=1)
    req = pb.ReportObservationsRequest(batch=samples.observation_batch(1, [1, 2]))
    with pytest.raises(grpc.RpcError) as info:
        dev.call("ReportObservations", req, timeout=0.5)
    assert info.value.code() == grpc.StatusCode.DEADLINE_EXCEEDED
    assert dev.call("ReportObservations", req).ack.status == DUP
    assert dev.stored() == [1]
    log = target.inspect("interactions", device_id=dev.device_id, verdict="FAULT")
    assert [r["code"] for r in log] == ["WITHHELD"]


def test_withheld_ack_on_stream(target: Target) -> None:
    """On a stream the withheld batch gets no Ack; the others do, in order."""
    dev = target.new_device()
    target.fault("withhold_acks", n=1)
    batches = [samples.observation_batch(i, [1]) for i in (1, 2, 3)]
    acks = dev.stream(batches)
    assert [a.sequence for a in acks] == [2, 3]
    assert dev.stored() == [1, 2, 3]
    assert dev.stream(batches[:1])[0].status == DUP


def test_delayed_acks(target: Target) -> None:
    """delay_acks holds every acknowledgement after commit."""
    dev = target.new_device()
    target.fault("delay_acks", ms=300)
    t0 = time.perf_counter()
    assert dev.report().status == ACC
    assert time.perf_counter() - t0 >= 0.29
