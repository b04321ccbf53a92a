"""Sessions: offline after missed heartbeats (ST-PROTO-006), back online on the next call; time sync."""

from __future__ import annotations

import time

from mp_fixtures import HEARTBEAT_MS, OFFLINE_AFTER
from mpclient import Target
from santong.mock_platform import samples
from santong.protocols.v1 import device_access_pb2 as pb


def _online(target: Target, device_id: str) -> bool:
    return bool([d for d in target.inspect("devices") if d["device_id"] == device_id][0]["online"])


def test_offline_after_missed_heartbeats_and_back(target: Target) -> None:
    dev = target.new_device()
    window = HEARTBEAT_MS * OFFLINE_AFTER / 1000
    for _ in range(3):  # heartbeats at the interval keep it online
        time.sleep(HEARTBEAT_MS / 1000 * 0.8)
        dev.call("Heartbeat", pb.HeartbeatRequest())
        assert _online(target, dev.device_id)
    time.sleep(window + 0.3)
    assert not _online(target, dev.device_id)
    events = [
        r["method"]
        for r in target.inspect("interactions", device_id=dev.device_id)
        if r["verdict"] == "EVENT"
    ]
    assert events[-1] == "session:offline"
    dev.call("Heartbeat", pb.HeartbeatRequest())
    assert _online(target, dev.device_id)
    events = [
        r["method"]
        for r in target.inspect("interactions", device_id=dev.device_id)
        if r["verdict"] == "EVENT"
    ]
    assert events[-1] == "session:online"


def test_skewed_device_clock_gets_time_sync(target: Target) -> None:
    """A device whose clock is off by more than half the allowed skew gets one TIME_SYNC command."""
    dev = target.new_device(register=False)
    dev.call(
        "Register", samples.register_request(dev.device_id, device_time_ms=int(time.time() * 1000) - 30_000)
    )
    late = pb.HeartbeatRequest()
    late.device_time.FromMilliseconds(int(time.time() * 1000) - 30_000)
    assert dev.call("Heartbeat", late).pending_commands == 1  # not queued twice
    stream = dev.stub.Commands(iter([pb.CommandsRequest()]), metadata=dev.metadata, timeout=5)
    cmd = next(stream).command
    stream.cancel()
    assert cmd.type == pb.COMMAND_TYPE_TIME_SYNC and abs(cmd.time_sync.server_time.seconds - time.time()) < 5


def test_heartbeat_from_the_future_is_rejected_but_synced(target: Target) -> None:
    """ST-DATA-031: a device_time beyond the skew is a violation; the platform still queues a TIME_SYNC."""
    import grpc
    import pytest

    dev = target.new_device()
    ahead = pb.HeartbeatRequest()
    ahead.device_time.FromMilliseconds(int(time.time() * 1000) + 120_000)
    with pytest.raises(grpc.RpcError) as info:
        dev.call("Heartbeat", ahead)
    assert info.value.code() == grpc.StatusCode.INVALID_ARGUMENT
    assert [c["command"]["type"] for c in target.inspect("commands", device_id=dev.device_id)] == [
        "COMMAND_TYPE_TIME_SYNC"
    ]
