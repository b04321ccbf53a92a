"""Sessions: offline after missed heartbeats (ST-PROTO-006), back online on the next call; time sync."""

from __future__ import annotations

import re
import time
from typing import Any

from mp_fixtures import HEARTBEAT_MS, OFFLINE_AFTER
from mpclient import Target
from santong.mock_platform import samples
from santong.protocols.v1 import device_access_pb2 as pb
from st_waiting import wait_until

WINDOW_MS = HEARTBEAT_MS * OFFLINE_AFTER  # what the platform under test is configured with (mp_fixtures)
OFFLINE_NOTE = re.compile(r"no call for (\d+) ms > (\d+) ms")


def _online(target: Target, device_id: str) -> bool:
    """The platform's online verdict, checked against the configured window wherever the timing decides it."""
    before = time.time() * 1000
    [dev] = [d for d in target.inspect("devices") if d["device_id"] == device_id]
    after = time.time() * 1000
    silent_at_most, silent_at_least = after - dev["last_call_ms"], before - dev["last_call_ms"]
    if silent_at_most < WINDOW_MS - 1:  # inspected within the window after the last call: online
        assert dev["online"], (dev, silent_at_most, WINDOW_MS)
    if silent_at_least > WINDOW_MS + 1:  # inspected after the window: offline
        assert not dev["online"], (dev, silent_at_least, WINDOW_MS)
    return bool(dev["online"])


def _events(target: Target, device_id: str) -> list[dict[str, Any]]:
    rows = target.inspect("interactions", device_id=device_id)
    return [r for r in rows if r["verdict"] == "EVENT"]


def test_offline_after_missed_heartbeats_and_back(target: Target) -> None:
    dev = target.new_device()
    for _ in range(3):  # a device keeping its heartbeat interval stays online
        time.sleep(HEARTBEAT_MS / 1000 * 0.8)  # pacing: the device's own heartbeat schedule
        dev.call("Heartbeat", pb.HeartbeatRequest())
        _online(target, dev.device_id)
    # Silent: offline once OFFLINE_AFTER intervals pass without a call, never before (ST-PROTO-006).
    wait_until(lambda: not _online(target, dev.device_id), what="the silent device marked offline")
    offline = wait_until(
        lambda: [e for e in _events(target, dev.device_id) if e["method"] == "session:offline"],
        what="the session:offline event",
    )
    m = OFFLINE_NOTE.search(offline[-1]["note"])
    assert m, offline[-1]
    silent_ms, window_ms = int(m[1]), int(m[2])
    assert window_ms == WINDOW_MS and silent_ms > WINDOW_MS  # the window comes from offline_after_missed
    dev.call("Heartbeat", pb.HeartbeatRequest())
    _online(target, dev.device_id)  # online again (asserted when inspected within the window)
    wait_until(
        lambda: _events(target, dev.device_id)[-1]["method"] == "session:online",
        what="the session:online event after the offline one",
    )


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
