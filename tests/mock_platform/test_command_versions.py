"""The platform never sends a command field the device's session lacks (ST-PROTO-004, ST-DATA-034, ST-PROTO-036):
TEST_EVENT (Command.test_event, interface 1.1) is refused for a 1.0 session when queued — FAILED_PRECONDITION,
Chinese first, naming both versions — and sent to a 1.1 session; one queued before the device registered under
1.0 is dropped at that Register. Real admin API and Commands stream, on real sockets (embedded and `santong mock
serve`)."""

from __future__ import annotations

import json
import secrets
from pathlib import Path

import grpc
import httpx
import pytest
from mpclient import Device, Target
from santong.mock_platform import PlatformConfig, samples
from santong.mock_platform.embedded import BackgroundMockPlatform
from santong.protocols import interface_versions
from santong.protocols.v1 import device_access_pb2 as pb

TARGET_KINDS = ["embedded", "process"]
EVENT = {"type": "TEST_EVENT", "kind": "EXCURSION", "point_code": "X", "value": 1.3, "hold_ms": 3000}


def registered(target: Target, versions: list[str]) -> Device:
    dev = target.new_device(register=False)
    resp = dev.call("Register", samples.register_request(dev.device_id, versions=versions))
    assert resp.negotiated_version == versions[0]
    return dev


def next_command(dev: Device) -> pb.Command:
    """The first command the platform sends the device on a Commands stream."""
    stream = dev.stub.Commands(iter([pb.CommandsRequest()]), metadata=dev.metadata, timeout=10)
    try:
        return next(stream).command
    finally:
        stream.cancel()


def test_test_event_refused_to_a_1_0_session(target: Target) -> None:
    """A device that registered with supported_versions ["1.0"] is not sent TEST_EVENT: the admin call fails
    FAILED_PRECONDITION with a message that names the field and both versions (Chinese first), nothing is queued;
    a command 1.0 has (RESEND_DEFINITIONS) is still sent."""
    dev = registered(target, ["1.0"])
    with pytest.raises(grpc.RpcError) as e:
        target.inspect("send_command", device_id=dev.device_id, **EVENT)
    assert e.value.code() == grpc.StatusCode.FAILED_PRECONDITION
    msg = e.value.details() or ""
    assert "test_event" in msg and "1.0" in msg and "1.1" in msg, msg
    assert "协商的接口版本为 1.0" in msg and "supported_versions" in msg, msg
    assert msg.index("协商") < msg.index("negotiated"), msg  # Chinese first, English beside
    assert target.inspect("commands", device_id=dev.device_id) == []
    c = target.inspect("send_command", device_id=dev.device_id, type="RESEND_DEFINITIONS")
    cmd = next_command(dev)
    assert cmd.command_id == c["command_id"] and cmd.type == pb.COMMAND_TYPE_RESEND_DEFINITIONS


def test_test_event_sent_to_a_1_1_session(target: Target) -> None:
    """The same command to a device that negotiated 1.1 is queued and sent with its payload."""
    assert interface_versions()[0] == "1.1"
    dev = registered(target, ["1.1", "1.0"])
    c = target.inspect("send_command", device_id=dev.device_id, **EVENT)
    cmd = next_command(dev)
    assert cmd.command_id == c["command_id"] and cmd.type == pb.COMMAND_TYPE_TEST_EVENT
    assert cmd.test_event.kind == pb.TEST_EVENT_KIND_EXCURSION and cmd.test_event.point_code == "X"


def test_test_event_queued_before_a_1_0_register_is_dropped(target: Target) -> None:
    """A TEST_EVENT queued while the device had no session (accepted then) is dropped when the device registers
    under 1.0, and logged; the command queued after it is sent."""
    dev = target.new_device(register=False)
    dropped = target.inspect("send_command", device_id=dev.device_id, **EVENT)["command_id"]
    kept = target.inspect("send_command", device_id=dev.device_id, type="RESEND_DEFINITIONS")["command_id"]
    dev.call("Register", samples.register_request(dev.device_id, versions=["1.0"]))
    cmd = next_command(dev)
    assert cmd.command_id == kept, cmd
    [row] = target.inspect("interactions", device_id=dev.device_id, method="command:dropped")
    assert dropped in row["note"] and "test_event" in row["note"] and row["verdict"] == "REJECTED", row
    # Registering again under 1.1 makes TEST_EVENT sendable again.
    dev.call("Register", samples.register_request(dev.device_id, versions=["1.1", "1.0"]))
    c = target.inspect("send_command", device_id=dev.device_id, **EVENT)
    assert next_command(dev).command_id == c["command_id"]


def test_http_admin_refuses_test_event_to_a_1_0_session(tmp_path: Path) -> None:
    """The same refusal through the HTTP admin API (`POST /inspect/send_command`): HTTP 409, the gRPC code
    FAILED_PRECONDITION (9) in the body, the message in Chinese and English, the ST-PROTO-004 violation on
    command.test_event; a device that negotiated 1.1 gets the command queued (200)."""
    token = secrets.token_urlsafe(16)
    with BackgroundMockPlatform(PlatformConfig(inspection_token=token), http_port=0) as bg:
        t = Target("embedded", bg.grpc_target, token)
        try:
            old, new = registered(t, ["1.0"]), registered(t, ["1.1", "1.0"])
            assert bg.http_url is not None
            with httpx.Client(base_url=bg.http_url, headers={"x-santong-inspection-token": token}) as h:
                r = h.post("/inspect/send_command", json={"device_id": old.device_id, **EVENT})
                assert r.status_code == 409, r.text
                body = r.json()
                text = json.dumps(body, ensure_ascii=False)
                assert body["code"] == grpc.StatusCode.FAILED_PRECONDITION.value[0], text
                assert "协商的接口版本为 1.0" in text, text
                assert "negotiated interface version 1.0" in text and "1.1" in text, text
                [v] = body["details"][0]["fieldViolations"]
                assert (v["reason"], v["field"]) == ("ST-PROTO-004", "command.test_event"), v
                assert "属于接口 1.1，会话协商的版本为 1.0" in v["description"], v
                ok = h.post("/inspect/send_command", json={"device_id": new.device_id, **EVENT})
                assert ok.status_code == 200 and ok.json()["type"] == "COMMAND_TYPE_TEST_EVENT", ok.text
            assert t.inspect("commands", device_id=old.device_id) == []
        finally:
            t.close()
