"""Bad input, against every target: the right status code, the clause in the BadRequest detail, nothing stored."""

from __future__ import annotations

import time

import grpc
import pytest
from mpclient import Target, clauses_of, status_details
from santong.mock_platform import PlatformConfig, samples
from santong.mock_platform.embedded import BackgroundMockPlatform
from santong.protocols import default_limits
from santong.protocols.v1 import device_access_pb2 as pb

C = grpc.StatusCode


def _fails(fn, code: grpc.StatusCode) -> set[str]:  # type: ignore[no-untyped-def]
    with pytest.raises(grpc.RpcError) as info:
        fn()
    assert info.value.code() == code, info.value.details()
    return clauses_of(info.value)


def test_missing_credentials(target: Target) -> None:
    """ST-PROTO-001: no device id or no token → UNAUTHENTICATED naming the clause."""
    dev = target.new_device(register=False)
    req = samples.register_request(dev.device_id)
    assert _fails(lambda: dev.call("Register", req, metadata=()), C.UNAUTHENTICATED) == {"ST-PROTO-001"}
    only_id = (("x-santong-device-id", dev.device_id),)
    assert _fails(lambda: dev.call("Register", req, metadata=only_id), C.UNAUTHENTICATED) == {"ST-PROTO-001"}
    only_token = (("authorization", f"Bearer {dev.token}"),)
    assert _fails(
        lambda: dev.call("Heartbeat", pb.HeartbeatRequest(), metadata=only_token), C.UNAUTHENTICATED
    ) == {"ST-PROTO-001"}


@pytest.mark.parametrize("how", ["wrong", "other-device", "unknown-id", "no-bearer", "empty-bearer"])
def test_wrong_or_forged_credentials(target: Target, how: str) -> None:
    """ST-PROTO-002: wrong, forged or another device's token → UNAUTHENTICATED; nothing stored."""
    dev = target.new_device(register=False)
    other = target.new_device(register=False)
    md = {
        "wrong": ((dev.device_id, f"Bearer {dev.token}x")),
        "other-device": ((dev.device_id, f"Bearer {other.token}")),
        "unknown-id": (("NOPE-" + dev.device_id, f"Bearer {dev.token}")),
        "no-bearer": ((dev.device_id, f"Basic {dev.token}")),
        "empty-bearer": ((dev.device_id, "Bearer ")),
    }[how]
    metadata = (("x-santong-device-id", md[0]), ("authorization", md[1]))
    req = samples.register_request(md[0])
    with pytest.raises(grpc.RpcError) as info:
        dev.call("Register", req, metadata=metadata)
    assert info.value.code() == C.UNAUTHENTICATED
    assert clauses_of(info.value) == {"ST-PROTO-002"}
    assert "exist" not in info.value.details().lower()  # no hint whether the id exists
    assert not [d for d in target.inspect("devices") if d["device_id"] == dev.device_id][0]["registered"]


def test_register_first(target: Target) -> None:
    """ST-IFACE-001: every device call before Register → FAILED_PRECONDITION; nothing stored."""
    dev = target.new_device(register=False)
    calls = {
        "DefinePoints": samples.define_points_request(),
        "ReportObservations": pb.ReportObservationsRequest(batch=samples.observation_batch(1, [1])),
        "ReportAlarms": samples.alarm_request(1),
        "Heartbeat": pb.HeartbeatRequest(),
        "DefinePositioning": samples.positioning_request(),
    }
    for method, req in calls.items():
        assert _fails(lambda m=method, r=req: dev.call(m, r), C.FAILED_PRECONDITION) == {"ST-IFACE-001"}, (
            method
        )
    with pytest.raises(grpc.RpcError) as info:
        dev.stream([samples.observation_batch(1, [1])])
    assert info.value.code() == C.FAILED_PRECONDITION and clauses_of(info.value) == {"ST-IFACE-001"}
    assert target.inspect("counts", device_id=dev.device_id)["uploads"] == 0


def test_identity_must_match_credentials(target: Target) -> None:
    """ST-IFACE-019: Register for another device id → PERMISSION_DENIED, no session."""
    dev = target.new_device(register=False)
    req = samples.register_request("SOMEONE-ELSE")
    assert _fails(lambda: dev.call("Register", req), C.PERMISSION_DENIED) == {"ST-IFACE-019"}
    assert not [d for d in target.inspect("devices") if d["device_id"] == dev.device_id][0]["registered"]


@pytest.mark.parametrize("versions", [["2.0"], [], ["x.y"], ["1"]])
def test_no_common_version(target: Target, versions: list[str]) -> None:
    """ST-PROTO-004: no version in common → FAILED_PRECONDITION."""
    dev = target.new_device(register=False)
    req = samples.register_request(dev.device_id, versions=versions)
    assert _fails(lambda: dev.call("Register", req), C.FAILED_PRECONDITION) == {"ST-PROTO-004"}


def test_invalid_register(target: Target) -> None:
    """A Register breaking MUST clauses (identity incomplete, bad mine code) → INVALID_ARGUMENT."""
    dev = target.new_device(register=False)
    req = samples.register_request(dev.device_id)
    req.device.vendor = ""
    req.mine.mine_code = req.device.mine_code = "990421000001"
    clauses = _fails(lambda: dev.call("Register", req), C.INVALID_ARGUMENT)
    assert {"ST-DATA-028", "ST-DATA-001"} <= clauses


def test_invalid_definitions_store_nothing(target: Target) -> None:
    """ST-IFACE-007: a DefinePoints with one bad unit stores none of its points."""
    dev = target.new_device(define=False)
    req = samples.define_points_request()
    req.points[2].unit = "mg/m3"
    assert "ST-DATA-011" in _fails(lambda: dev.call("DefinePoints", req), C.INVALID_ARGUMENT)
    assert target.inspect("counts", device_id=dev.device_id)["points"] == 0


@pytest.mark.parametrize(
    ("mutate", "clause"),
    [
        (lambda b: b.alias.append(99), "ST-IFACE-005"),  # columns of unequal length
        (lambda b: b.alias.__setitem__(0, 42), "ST-IFACE-004"),  # undefined alias
        (lambda b: b.value.__setitem__(0, float("nan")), "ST-DATA-018"),
        (lambda b: b.value.__setitem__(3, 0.5), "ST-DATA-019"),  # switch value not 0/1
        (lambda b: b.status.__setitem__(0, 256), "ST-DATA-020"),
        (lambda b: b.base_time.__setattr__("seconds", b.base_time.seconds + 3600), "ST-DATA-031"),
        (lambda b: setattr(b, "sequence", 0), "ST-PROTO-011"),
    ],
)
def test_invalid_batch_rejected_whole(target: Target, mutate, clause: str) -> None:  # type: ignore[no-untyped-def]
    """Each bad observation batch → INVALID_ARGUMENT naming its clause; none of its points is stored."""
    dev = target.new_device()
    batch = samples.observation_batch(dev.next_seq(), [1, 2, 3, 4])
    mutate(batch)
    got = _fails(
        lambda: dev.call("ReportObservations", pb.ReportObservationsRequest(batch=batch)), C.INVALID_ARGUMENT
    )
    assert clause in got
    assert target.inspect("counts", device_id=dev.device_id)["observations"] == 0
    [row] = [r for r in target.inspect("interactions", device_id=dev.device_id, method="ReportObservations")]
    assert row["verdict"] == "REJECTED" and clause in row["clause_ids"]


def test_sequence_must_increase(target: Target) -> None:
    """ST-PROTO-011: a sequence below the last one that was never acknowledged is rejected (not a replay)."""
    dev = target.new_device()
    assert dev.report(seq=5).status == pb.ACK_STATUS_ACCEPTED
    assert _fails(lambda: dev.report(seq=3), C.INVALID_ARGUMENT) == {"ST-PROTO-011"}


def test_references_and_alarm_rules(target: Target) -> None:
    """Alarms on undefined points, clears of unknown alarms, statuses of undefined outstations are rejected."""
    dev = target.new_device()
    alarm = samples.alarm_request(dev.next_seq())
    alarm.alarms[0].point_code = f"{samples.MINE}01MNA0019999"
    assert "ST-IFACE-018" in _fails(lambda: dev.call("ReportAlarms", alarm), C.INVALID_ARGUMENT)
    clear = samples.alarm_request(dev.next_seq(), alarm_id="never-raised", clear=True)
    assert "ST-IFACE-016" in _fails(lambda: dev.call("ReportAlarms", clear), C.INVALID_ARGUMENT)
    st = samples.outstation_status_request(dev.next_seq())
    st.statuses[0].run_state = 0
    assert "ST-DATA-025" in _fails(lambda: dev.call("ReportOutstationStatus", st), C.INVALID_ARGUMENT)
    assert _fails(
        lambda: dev.call("ReportAlarms", pb.ReportAlarmsRequest(sequence=dev.next_seq())), C.INVALID_ARGUMENT
    ) == {"ST-IFACE-010"}


def test_message_size_limit(target: Target) -> None:
    """ST-PROTO-009: a message over max_message_bytes → RESOURCE_EXHAUSTED naming the clause; nothing stored."""
    dev = target.new_device()
    limit = target.platform_info().limits.max_message_bytes
    n = limit // 9 + 1000  # ≥ 9 bytes per point in the packed columns
    batch = samples.observation_batch(dev.next_seq(), [1] * n, values=[0.123456789] * n)
    req = pb.ReportObservationsRequest(batch=batch)
    assert req.ByteSize() > limit
    assert _fails(lambda: dev.call("ReportObservations", req), C.RESOURCE_EXHAUSTED) == {"ST-PROTO-009"}
    # Far beyond: gRPC's own cap answers, still RESOURCE_EXHAUSTED.
    huge = pb.ReportObservationsRequest(
        batch=samples.observation_batch(dev.next_seq(), [1] * (3 * n), values=[0.1] * (3 * n))
    )
    _fails(lambda: dev.call("ReportObservations", huge), C.RESOURCE_EXHAUSTED)
    assert target.inspect("counts", device_id=dev.device_id)["uploads"] == 0


def test_batch_point_limit(target: Target) -> None:
    """ST-PROTO-008: more than max_batch_points observations → rejected as a whole."""
    dev = target.new_device()
    n = target.platform_info().limits.max_batch_points + 1
    batch = samples.observation_batch(dev.next_seq(), [1] * n)
    assert _fails(
        lambda: dev.call("ReportObservations", pb.ReportObservationsRequest(batch=batch)), C.INVALID_ARGUMENT
    ) == {"ST-PROTO-008"}


def test_rate_limit_with_retry_advice(target: Target) -> None:
    """ST-PROTO-010: uploads beyond max_uploads_per_second → RESOURCE_EXHAUSTED with RetryInfo; the rest stored."""
    dev = target.new_device()
    rate = target.platform_info().limits.max_uploads_per_second
    n = rate * 3
    batches = [pb.ReportObservationsRequest(batch=samples.observation_batch(i, [1])) for i in range(1, n + 1)]
    t0 = time.monotonic()
    futures = [dev.stub.ReportObservations.future(b, metadata=dev.metadata, timeout=30) for b in batches]
    results: list[object] = []
    for f in futures:
        try:
            results.append(f.result())
        except grpc.RpcError as e:
            results.append(e)
    elapsed = time.monotonic() - t0
    accepted = sum(1 for r in results if not isinstance(r, grpc.RpcError))
    assert accepted <= rate * (1 + elapsed) + 1  # the bucket: a burst of `rate`, then `rate` per second
    limited = [r for r in results if isinstance(r, grpc.RpcError) and r.code() == C.RESOURCE_EXHAUSTED]
    if (
        n > rate * (1 + elapsed) + 1
    ):  # more than the bucket can have let through (derived, not a fixed window)
        assert limited, "no upload was rate limited"
    for r in limited[:5]:
        clauses, delay = status_details(r)
        assert clauses == {"ST-PROTO-010"} and delay is not None and 0 < delay <= 1.0
    # Concurrent uploads may overtake each other; the rest were accepted or rejected for their order only.
    others = {r.code() for r in results if isinstance(r, grpc.RpcError)} - {C.RESOURCE_EXHAUSTED}
    assert others <= {C.INVALID_ARGUMENT}
    assert len(dev.stored()) == accepted


def test_rate_limit_low_limit() -> None:
    """A platform allowing 5 uploads per second: the sixth of a quick burst gets RESOURCE_EXHAUSTED + RetryInfo."""
    limits = default_limits()
    limits.max_uploads_per_second = 5
    with BackgroundMockPlatform(PlatformConfig(limits=limits, inspection_token="t"), http_port=None) as bg:
        target = Target("embedded", bg.grpc_target, "t")
        try:
            dev = target.new_device()
            codes = []
            for seq in range(1, 9):
                try:
                    dev.report(seq=seq)
                    codes.append("OK")
                except grpc.RpcError as e:
                    codes.append(e.code().name)
                    clauses, delay = status_details(e)
                    assert clauses == {"ST-PROTO-010"} and delay is not None and 0 < delay <= 0.2
            assert codes[:5] == ["OK"] * 5 and "RESOURCE_EXHAUSTED" in codes[5:]
        finally:
            target.close()
