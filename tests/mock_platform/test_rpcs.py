"""Every RPC's happy path, against every target: answers, acknowledgements and what the platform stored."""

from __future__ import annotations

import time

import pytest
from mpclient import Target
from santong.mock_platform import samples
from santong.protocols import interface_versions, newest_version
from santong.protocols.v1 import device_access_pb2 as pb
from st_waiting import wait_until


def test_platform_info_without_credentials(target: Target) -> None:
    """ST-IFACE-008: GetPlatformInfo answers without credentials, with versions, limits, capabilities, time."""
    info = target.platform_info()
    # every version of the interface, newest first: v1.0 devices keep negotiating 1.0
    assert info.spec_version == newest_version() and list(info.supported_versions) == list(
        interface_versions()
    )
    assert "1.0" in info.supported_versions and newest_version() != "1.0"
    assert info.limits.max_batch_points > 0 and info.limits.heartbeat_interval_ms > 0
    assert "observations.stream" in info.capabilities and "commands" in info.capabilities
    assert abs(info.server_time.seconds - time.time()) < 5


def test_register_negotiates_and_reports_session(target: Target) -> None:
    """ST-PROTO-004/026: the highest common version, the limits, server time and the resume point."""
    dev = target.new_device(register=False)
    req = samples.register_request(dev.device_id, versions=["0.9", "1.0", "2.0"])
    resp = dev.call("Register", req)
    assert resp.negotiated_version == "1.0"
    assert resp.session_id and resp.limits.max_batch_points == 10_000
    assert resp.last_acknowledged_sequence == 0
    assert abs(resp.server_time.seconds - time.time()) < 5
    [row] = [d for d in target.inspect("devices") if d["device_id"] == dev.device_id]
    assert row["registered"] and row["negotiated_version"] == "1.0" and row["session_id"] == resp.session_id
    assert row["mine_code"] == samples.MINE


def test_define_report_and_inspect_every_kind(target: Target) -> None:
    """Definitions, observations, alarms, outstation states, statistics, positioning and personnel are stored."""
    dev = target.new_device()
    d = dev.call("DefinePositioning", samples.positioning_request())
    assert (d.accepted_areas, d.accepted_stations) == (1, 1)
    acks = [
        dev.report(),
        dev.call("ReportAlarms", samples.alarm_request(dev.next_seq())).ack,
        dev.call("ReportOutstationStatus", samples.outstation_status_request(dev.next_seq())).ack,
        dev.call("ReportStatistics", samples.statistics_request(dev.next_seq())).ack,
        dev.call("ReportPersonnel", samples.personnel_request(dev.next_seq())).ack,
        dev.call("ReportAlarms", samples.alarm_request(dev.next_seq(), clear=True)).ack,
    ]
    assert [a.status for a in acks] == [pb.ACK_STATUS_ACCEPTED] * 6
    assert [a.accepted for a in acks] == [4, 1, 1, 1, 2, 1]
    assert [a.sequence for a in acks] == list(range(1, 7))
    assert all(a.server_time.seconds > 0 for a in acks)  # ST-PROTO-026
    counts = target.inspect("counts", device_id=dev.device_id)
    assert (
        counts["points"] == 4
        and counts["outstations"] == 1
        and counts["areas"] == 1
        and counts["stations"] == 1
    )
    assert counts["observations"] == 4 and counts["alarms"] == 2 and counts["outstation_statuses"] == 1
    assert counts["statistics"] == 1 and counts["personnel"] == 1 and counts["station_statuses"] == 1
    obs = target.inspect("observations", device_id=dev.device_id, point_code=f"{samples.MINE}01MNA0010A01")
    assert [(o["alias"], o["value"], o["backfill"]) for o in obs] == [(1, 0.5, False)]
    alarms = target.inspect("alarms", device_id=dev.device_id)
    assert [a["state"] for a in alarms] == ["ALARM_STATE_RAISED", "ALARM_STATE_CLEARED"]
    assert target.inspect("personnel", device_id=dev.device_id)["records"][0]["card_code"] == samples.CARD
    defs = target.inspect("definitions", device_id=dev.device_id)
    assert sorted(p["alias"] for p in defs["points"]) == [1, 2, 3, 4]
    log = target.inspect("interactions", device_id=dev.device_id)
    methods = [r["method"] for r in log if r["verdict"] == "ACCEPTED"]
    for m in ("Register", "DefinePoints", "DefinePositioning", "ReportObservations", "ReportAlarms",
              "ReportOutstationStatus", "ReportStatistics", "ReportPersonnel"):  # fmt: skip
        assert m in methods


def test_backfill_flag_and_time_queries(target: Target) -> None:
    """The backfill flag is kept; observations can be queried by time."""
    dev = target.new_device()
    now = int(time.time() * 1000)
    dev.report([1], base_ms=now - 3_600_000, backfill=True)
    dev.report([1, 2], base_ms=now - 1000)
    old = target.inspect("observations", device_id=dev.device_id, until_ms=now - 60_000)
    assert [(o["sequence"], o["backfill"]) for o in old] == [(1, True)]
    recent = target.inspect("observations", device_id=dev.device_id, since_ms=now - 60_000)
    assert [o["alias"] for o in recent] == [1, 2] and not any(o["backfill"] for o in recent)
    assert [b["backfill"] for b in target.inspect("batches", device_id=dev.device_id)] == [True, False]


def test_stream_acknowledges_every_batch_in_order(target: Target) -> None:
    """ST-IFACE-006: one acknowledgement per batch on the stream, in order."""
    dev = target.new_device()
    batches = [samples.observation_batch(i, [1, 2, 3, 4] * 25) for i in range(1, 31)]
    acks = dev.stream(batches)
    assert [a.sequence for a in acks] == list(range(1, 31))
    assert {a.status for a in acks} == {pb.ACK_STATUS_ACCEPTED} and {a.accepted for a in acks} == {100}
    assert target.inspect("counts", device_id=dev.device_id)["observations"] == 3000


def test_heartbeat_answers_time_and_pending_commands(target: Target) -> None:
    """ST-IFACE-017: server time and pending command count."""
    dev = target.new_device()
    hb = dev.call("Heartbeat", pb.HeartbeatRequest(last_acknowledged_sequence=0))
    assert abs(hb.server_time.seconds - time.time()) < 5 and hb.pending_commands == 0
    target.inspect("send_command", device_id=dev.device_id, type="RESEND_DEFINITIONS")
    assert dev.call("Heartbeat", pb.HeartbeatRequest()).pending_commands == 1


def test_commands_stream_delivers_and_records_results(target: Target) -> None:
    """Commands reach the device on the Commands stream; its results are recorded."""
    dev = target.new_device()
    c1 = target.inspect("send_command", device_id=dev.device_id, type="CONFIGURE", report_interval_ms=5000)
    c2 = target.inspect(
        "send_command", device_id=dev.device_id, type="WRITE_POINT", point_code="X", value=1.5
    )
    import queue

    outbox: queue.Queue[pb.CommandsRequest | None] = queue.Queue()
    outbox.put(pb.CommandsRequest())

    def requests():  # type: ignore[no-untyped-def]
        while (item := outbox.get()) is not None:
            yield item

    call = dev.stub.Commands(requests(), metadata=dev.metadata, timeout=10)
    got = []
    for resp in call:
        got.append(resp.command)
        outbox.put(
            pb.CommandsRequest(
                result=pb.CommandResult(
                    command_id=resp.command.command_id, outcome=pb.COMMAND_OUTCOME_SUCCEEDED
                )
            )
        )
        if len(got) == 2:
            outbox.put(None)
    assert [c.command_id for c in got] == [c1["command_id"], c2["command_id"]]
    assert got[0].configure.report_interval_ms == 5000 and got[1].write_point.value == 1.5
    wait_until(
        lambda: (
            [c["outcome"] for c in target.inspect("commands", device_id=dev.device_id)]
            == ["COMMAND_OUTCOME_SUCCEEDED"] * 2
        ),
        what="both command results recorded",
    )


def test_health_and_reflection(target: Target) -> None:
    """ST-PROTO-028: grpc.health.v1 answers SERVING; reflection lists the services."""
    from grpc_health.v1 import health_pb2, health_pb2_grpc
    from grpc_reflection.v1alpha import reflection_pb2, reflection_pb2_grpc

    h = health_pb2_grpc.HealthStub(target.channel())
    for service in ("", "santong.protocols.v1.DeviceAccessService"):
        assert (
            h.Check(health_pb2.HealthCheckRequest(service=service), timeout=5).status
            == health_pb2.HealthCheckResponse.SERVING
        )
    r = reflection_pb2_grpc.ServerReflectionStub(target.channel())
    [resp] = list(
        r.ServerReflectionInfo(iter([reflection_pb2.ServerReflectionRequest(list_services="")]), timeout=5)
    )
    names = {s.name for s in resp.list_services_response.service}
    assert {
        "santong.protocols.v1.DeviceAccessService",
        "santong.protocols.v1.PlatformService",
        "grpc.health.v1.Health",
    } <= names


def test_test_event_command_carries_its_payload(target: Target) -> None:
    """ST-PROTO-036: the admin queues a TEST_EVENT with its kind, point, value and hold; a bad kind or a missing
    point is refused and nothing is queued. (The device negotiates 1.1: TEST_EVENT came with it.)"""
    dev = target.new_device(register=False)
    dev.call("Register", samples.register_request(dev.device_id, versions=["1.1", "1.0"]))
    c = target.inspect(
        "send_command", device_id=dev.device_id, type="TEST_EVENT", kind="EXCURSION", point_code="X",
        value=1.3, hold_ms=3000,
    )  # fmt: skip
    row = next(
        r for r in target.inspect("commands", device_id=dev.device_id) if r["command_id"] == c["command_id"]
    )
    ev = row["command"]["test_event"]
    assert row["command"]["type"] == "COMMAND_TYPE_TEST_EVENT"
    assert ev["kind"] == "TEST_EVENT_KIND_EXCURSION" and ev["point_code"] == "X" and ev["value"] == 1.3
    assert int(ev["hold_ms"]) == 3000
    for bad in ({"kind": "METEOR", "point_code": "X"}, {"point_code": "X"}, {"kind": "SENSOR_FAULT"}):
        with pytest.raises(Exception, match="INVALID_ARGUMENT|命令参数错误|bad command"):
            target.inspect("send_command", device_id=dev.device_id, type="TEST_EVENT", **bad)
    assert len(target.inspect("commands", device_id=dev.device_id)) == 1
