"""Platform regression: the suite acts as a reference device against the platform (the mock, or a real URL).

Valid data is accepted; invalid data is rejected with the right code and the broken clause in the BadRequest
detail (one case per rule family, from :data:`santong.conformance._refdevice.BAD_UPLOADS`); replays are
de-duplicated; one acknowledgement per batch, in order, on the stream; GetPlatformInfo, authentication and
registration as specified. Cases marked ``inspection`` need the mock's inspection API and are deselected on the
url target; the rest form the on-site acceptance subset against a real platform. The HTTP/JSON cases run wherever
the platform's HTTP address is known (the mock, or a ``--url`` with an http(s):// address after the gRPC one):
they are in ``test_platform_http.py``. The fixtures ``channel`` and ``ref`` (the reference device) are in
``conftest.py``.
"""

from __future__ import annotations

import json
import time
from typing import Any

import pytest
from santong.conformance import Evidence, Manifest, not_applicable
from santong.conformance._platform import PlatformHandle
from santong.conformance._refdevice import (
    BAD_UPLOADS,
    BadCase,
    CallFailed,
    RefDevice,
    reference_device,
    status_of,
)
from santong.protocols import newest_version, spec_version, to_dict
from santong.protocols.v1 import device_access_pb2 as pb
from santong.protocols.v1 import platform_pb2, platform_pb2_grpc

pytestmark = pytest.mark.subject("platform")


def _count(handle: PlatformHandle, device_id: str) -> dict[str, int] | None:
    if handle.admin is None:
        return None
    counts: dict[str, int] = handle.admin.inspect("counts", device_id=device_id)
    return counts


def _near_now(ts: Any, skew_ms: int) -> bool:
    ms = ts.seconds * 1000 + ts.nanos // 1_000_000
    return abs(ms - time.time() * 1000) <= skew_ms


# ------------------------------------------------------------------------------------------- valid data


@pytest.mark.clause("ST-IFACE-007", "ST-PROTO-026", "ST-IFACE-017")
def test_valid_data_accepted(ref: RefDevice, santong_platform: PlatformHandle, evidence: Evidence) -> None:
    """A valid batch, alarm and heartbeat are accepted whole; every response carries the server time."""
    skew = int(santong_platform.limits.max_clock_skew_ms or 5000)
    assert ref.register_response.HasField("server_time") and _near_now(
        ref.register_response.server_time, skew
    ), (
        "[ST-PROTO-026] RegisterResponse 没有（正确的）server_time / RegisterResponse lacks a plausible server_time"
    )
    before = _count(santong_platform, ref.device_id)
    batch = ref.batch([0.42, 1.0])
    ack = ref.report(batch)
    evidence.sample("ack", ack)
    assert ack.status == pb.ACK_STATUS_ACCEPTED and ack.accepted == 2 and ack.sequence == batch.sequence, (
        f"[ST-IFACE-007] 合规批次未被完整接受 / a valid batch was not accepted whole: {to_dict(ack)}"
    )
    assert ack.HasField("server_time") and _near_now(ack.server_time, skew), (
        "[ST-PROTO-026] Ack 没有 server_time"
    )
    alarm = ref.call(
        "ReportAlarms", pb.ReportAlarmsRequest(sequence=ref.next_sequence, alarms=[ref.alarm()])
    ).ack
    assert alarm.status == pb.ACK_STATUS_ACCEPTED, (
        f"[ST-IFACE-007] 合规报警被拒 / a valid alarm was refused: {to_dict(alarm)}"
    )
    ref.next_sequence += 1
    hb = ref.call("Heartbeat", pb.HeartbeatRequest(last_acknowledged_sequence=ref.next_sequence - 1))
    assert hb.HasField("server_time") and _near_now(hb.server_time, skew), (
        "[ST-IFACE-017] HeartbeatResponse 没有（正确的）server_time / HeartbeatResponse lacks a plausible server_time"
    )
    after = _count(santong_platform, ref.device_id)
    if before is not None and after is not None:
        evidence.record("stored", {k: after[k] - before[k] for k in ("observations", "alarms", "uploads")})
        assert (
            after["observations"] - before["observations"] == 2 and after["alarms"] - before["alarms"] == 1
        ), f"[ST-IFACE-007] 存储的记录数不符 / stored records differ: before {before}, after {after}"


# ----------------------------------------------------------------------------------------- invalid data


def _bad_params() -> list[Any]:
    return [
        pytest.param(c, marks=pytest.mark.clause(c.clause, "ST-IFACE-003"), id=f"{c.clause} {c.name}")
        for c in BAD_UPLOADS
    ]


@pytest.mark.parametrize("case", _bad_params())
def test_invalid_data_rejected(
    case: BadCase, ref: RefDevice, santong_platform: PlatformHandle, evidence: Evidence
) -> None:
    """The platform rejects the message with INVALID_ARGUMENT and names the broken clause; nothing is stored."""
    before = _count(santong_platform, ref.device_id)
    request = case.build(ref)
    evidence.sample("request", request)
    err = ref.expect_error(case.method, request)
    evidence.record("answer", err.as_dict() if err else "accepted")
    assert err is not None, (
        f"[{case.clause}] 违规的 {case.method}（{case.name}）被接受了 / the bad {case.method} ({case.name}) was accepted"
    )
    assert err.code == case.code, (
        f"[{case.clause}] 状态码为 {err.code}，应为 {case.code} / answered {err.code}, expected {case.code}"
    )
    assert case.clause in err.clause_ids, (
        f"[ST-IFACE-003] 错误详情（BadRequest）没有指出条款 {case.clause} / the BadRequest detail does not name "
        f"{case.clause}: {err.clause_ids or err.message}"
    )
    after = _count(santong_platform, ref.device_id)
    if before is not None and after is not None:
        changed = {
            k: after[k] - before[k]
            for k in ("points", "observations", "alarms", "uploads")
            if after[k] != before[k]
        }
        assert not changed, (
            f"[ST-IFACE-007] 被拒收的请求仍存储了数据 / a rejected request stored data: {changed}"
        )


# --------------------------------------------------------------------------------- acks, replays, stream


@pytest.mark.clause("ST-PROTO-012")
def test_replay_deduplicated(ref: RefDevice, santong_platform: PlatformHandle, evidence: Evidence) -> None:
    """A replay of an acknowledged batch is acknowledged DUPLICATE and not stored twice."""
    batch = ref.batch([0.43, 0.0])
    first = ref.report(batch)
    again = ref.call("ReportObservations", pb.ReportObservationsRequest(batch=batch)).ack
    evidence.sample("first", first)
    evidence.sample("replay", again)
    assert first.status == pb.ACK_STATUS_ACCEPTED, (
        f"[ST-PROTO-012] 首次上传未被接受 / first upload not accepted: {to_dict(first)}"
    )
    assert again.status == pb.ACK_STATUS_DUPLICATE and again.sequence == batch.sequence, (
        f"[ST-PROTO-012] 重放应答 {pb.AckStatus.Name(again.status)}，应为 DUPLICATE / the replay was answered "
        f"{pb.AckStatus.Name(again.status)}, expected DUPLICATE"
    )
    if santong_platform.admin is not None:
        stored = santong_platform.admin.inspect(
            "observations", device_id=ref.device_id, sequence=batch.sequence
        )
        evidence.record("stored", len(stored))
        assert len(stored) == 2, (
            f"[ST-PROTO-012] 重放被重复存储 / the replay was stored again: {len(stored)} observations"
        )


@pytest.mark.clause("ST-PROTO-031")
def test_sequence_conflict_refused(
    ref: RefDevice, santong_platform: PlatformHandle, evidence: Evidence
) -> None:
    """Other content under an acknowledged sequence is no replay: ALREADY_EXISTS naming ST-PROTO-031, the first
    content kept, the new one not stored (never answered DUPLICATE, never silently replaced)."""
    batch = ref.batch([0.41, 0.0])
    first = ref.report(batch)
    clash = type(batch)()
    clash.CopyFrom(batch)
    clash.value[0] = 0.44
    err = ref.expect_error("ReportObservations", pb.ReportObservationsRequest(batch=clash))
    evidence.sample("first", first)
    evidence.record("answer", err.as_dict() if err else "accepted")
    assert first.status == pb.ACK_STATUS_ACCEPTED, (
        f"[ST-PROTO-031] 首次上传未被接受 / first upload not accepted: {to_dict(first)}"
    )
    assert err is not None and err.code == "ALREADY_EXISTS" and "ST-PROTO-031" in err.clause_ids, (
        f"[ST-PROTO-031] 同一序号的不同内容应答 {err.as_dict() if err else 'accepted (DUPLICATE)'}，应为 ALREADY_EXISTS / "
        f"other content under the same sequence was answered {err.code if err else 'OK'}, expected ALREADY_EXISTS"
    )
    if santong_platform.admin is not None:
        stored = santong_platform.admin.inspect(
            "observations", device_id=ref.device_id, sequence=batch.sequence
        )
        values = sorted(o["value"] for o in stored)
        evidence.record("stored", values)
        assert values == [0.0, 0.41], (
            f"[ST-PROTO-031] 冲突的内容被存储或替换了首次的内容 / the conflicting content was stored or replaced the "
            f"first: {values}"
        )


@pytest.mark.clause("ST-PROTO-037")
def test_sequence_epochs(
    santong_platform: PlatformHandle, channel: Any, santong_manifest: Manifest, evidence: Evidence
) -> None:
    """A device at the top of the sequence range is not wedged: a new epoch declared at Register counts from 1
    again; a late replay of an earlier epoch's upload is DUPLICATE, not new data; an epoch below the current one is
    refused naming ST-PROTO-037; a 1.0 Register continues the epoch in force."""
    dev = reference_device(santong_platform, channel, santong_manifest)
    dev.setup()
    versions = [newest_version(), spec_version()]

    def register(epoch: int, offered: list[str] = versions) -> Any:
        req = dev.register_request(offered)
        req.sequence_epoch = epoch
        return dev.call("Register", req)

    current = int(register(0).sequence_epoch)  # 0 continues the epoch in force and tells it
    opened = register(current + 1)
    # the first upload of an epoch may be the top of the range
    top = dev.batch([0.41, 0.0], sequence=2**63 - 1)
    at_top = dev.report(top)
    stuck = dev.expect_error("ReportObservations", pb.ReportObservationsRequest(batch=dev.batch(sequence=5)))
    reopened = register(current + 2)
    replay = dev.report(top)  # the earlier epoch's upload again
    fresh = dev.report(dev.batch([0.43, 1.0], sequence=1))
    below = dev.expect_error("Register", _with_epoch(dev.register_request(versions), current + 1))
    v1 = register(0, [spec_version()])
    evidence.record("epochs", {"current": current, "opened": to_dict(opened), "reopened": to_dict(reopened)})
    evidence.record("acks", [pb.AckStatus.Name(a.status) for a in (at_top, replay, fresh)])
    evidence.record("below", below.as_dict() if below else "accepted")
    assert (opened.sequence_epoch, opened.last_acknowledged_sequence) == (current + 1, 0), (
        f"[ST-PROTO-037] 声明纪元 {current + 1} 后应答 {to_dict(opened)}，应开始新纪元（last_acknowledged_sequence 0）/ "
        f"declaring epoch {current + 1} was answered {to_dict(opened)}, expected a new epoch counting from 1"
    )
    assert at_top.status == pb.ACK_STATUS_ACCEPTED and stuck is not None, (
        f"[ST-PROTO-037] 纪元首个上传 {pb.AckStatus.Name(at_top.status)}，其后的小序号 {stuck and stuck.code} / the "
        f"epoch's first upload {pb.AckStatus.Name(at_top.status)}, a lower sequence after it {stuck and stuck.code}"
    )
    assert (reopened.sequence_epoch, reopened.last_acknowledged_sequence) == (current + 2, 0), (
        f"[ST-PROTO-037] 位于序号上限的设备无法开始新纪元 / a device at the top of the range could not start a new "
        f"epoch: {to_dict(reopened)}"
    )
    assert replay.status == pb.ACK_STATUS_DUPLICATE, (
        f"[ST-PROTO-037] 以前纪元的上传被重放时应答 {pb.AckStatus.Name(replay.status)}，应为 DUPLICATE（不作为新数据存储）/ "
        f"a replay of an earlier epoch's upload was answered {pb.AckStatus.Name(replay.status)}, expected DUPLICATE"
    )
    assert fresh.status == pb.ACK_STATUS_ACCEPTED, (
        f"[ST-PROTO-037] 新纪元的序号 1 应答 {pb.AckStatus.Name(fresh.status)} / sequence 1 of the new epoch was "
        f"answered {pb.AckStatus.Name(fresh.status)}"
    )
    assert below is not None and below.code == "INVALID_ARGUMENT" and "ST-PROTO-037" in below.clause_ids, (
        f"[ST-PROTO-037] 低于当前纪元的声明应被拒绝并指出 ST-PROTO-037 / an epoch below the current one must be "
        f"refused naming ST-PROTO-037, got {below and below.as_dict()}"
    )
    assert v1.last_acknowledged_sequence == 1 and not v1.sequence_epoch, (
        f"[ST-PROTO-037] 1.0 版注册应继续生效的纪元 / a 1.0 Register must continue the epoch in force: {to_dict(v1)}"
    )
    if santong_platform.admin is not None:
        stored = [
            (u["epoch"], u["sequence"])
            for u in santong_platform.admin.inspect("uploads", device_id=dev.device_id)
            if u["epoch"] > current
        ]
        evidence.record("stored", stored)
        assert stored == [(current + 1, 2**63 - 1), (current + 2, 1)], (
            f"[ST-PROTO-037] 存储的上传 / stored uploads: {stored}"
        )


def _with_epoch(req: Any, epoch: int) -> Any:
    req.sequence_epoch = epoch
    return req


@pytest.mark.clause("ST-IFACE-006")
def test_stream_one_ack_per_batch_in_order(ref: RefDevice, evidence: Evidence) -> None:
    """On StreamObservations every batch gets exactly one acknowledgement, in order; a bad batch gets REJECTED
    and the stream goes on."""
    seqs = [ref.next_sequence + i for i in range(5)]
    batches = [ref.batch([0.4 + i / 100, float(i % 2)], sequence=s) for i, s in enumerate(seqs)]
    batches[2] = ref.batch([float("inf"), 0.0], sequence=seqs[2])
    requests = [pb.StreamObservationsRequest(batch=b) for b in batches]
    responses = list(
        ref.stub.StreamObservations(iter(requests), metadata=ref.metadata, timeout=ref.timeout_s)
    )
    got = [(r.ack.sequence, pb.AckStatus.Name(r.ack.status)) for r in responses]
    evidence.record("acks", got)
    ref.next_sequence = seqs[-1] + 1
    want = [(s, "ACK_STATUS_REJECTED" if i == 2 else "ACK_STATUS_ACCEPTED") for i, s in enumerate(seqs)]
    assert got == want, (
        f"[ST-IFACE-006] 确认与批次不一一对应 / acknowledgements do not match the batches: {got}, expected {want}"
    )
    assert "ST-DATA-018" in [v.clause_id for v in responses[2].ack.violations], (
        "[ST-IFACE-006] REJECTED 确认没有给出违反的条款 / the REJECTED ack names no clause"
    )


# ------------------------------------------------------------------------------------- info, versions


@pytest.mark.clause("ST-IFACE-008", "ST-PROTO-026")
def test_platform_info(channel: Any, santong_platform: PlatformHandle, evidence: Evidence) -> None:
    """GetPlatformInfo answers without credentials: spec versions, every limit, capabilities, server time."""
    info = platform_pb2_grpc.PlatformServiceStub(channel).GetPlatformInfo(
        platform_pb2.GetPlatformInfoRequest(), timeout=10
    )
    evidence.sample("info", info)
    limits = to_dict(info.limits)
    missing = [f for f in ("max_batch_points", "max_message_bytes", "max_clock_skew_ms", "heartbeat_interval_ms",
                           "offline_after_missed", "max_points_per_definition") if not limits.get(f)]  # fmt: skip
    assert spec_version() in info.supported_versions and info.spec_version in info.supported_versions, (
        f"[ST-IFACE-008] 版本 {info.spec_version!r} / {list(info.supported_versions)} 不含 {spec_version()}"
    )
    assert not missing, f"[ST-IFACE-008] 限值缺失 / limits missing: {missing}"
    assert info.HasField("server_time") and _near_now(
        info.server_time, int(info.limits.max_clock_skew_ms or 5000)
    ), "[ST-PROTO-026] 平台信息没有（正确的）server_time / GetPlatformInfo lacks a plausible server_time"


@pytest.mark.clause("ST-PROTO-004")
def test_version_negotiation(ref: RefDevice, evidence: Evidence) -> None:
    """The platform picks the highest common version; with none in common it answers FAILED_PRECONDITION."""
    resp = ref.call("Register", ref.register_request(["9.0", spec_version()]))
    evidence.record("negotiated", resp.negotiated_version)
    assert resp.negotiated_version == spec_version(), f"[ST-PROTO-004] 协商出 {resp.negotiated_version!r}"
    err = ref.expect_error("Register", ref.register_request(["0.1"]))
    evidence.record("no_common_version", err.as_dict() if err else "accepted")
    ref.register()  # back to a normal session
    assert err is not None and err.code == "FAILED_PRECONDITION" and "ST-PROTO-004" in err.clause_ids, (
        f"[ST-PROTO-004] 无共同版本时应为 FAILED_PRECONDITION 并指出 ST-PROTO-004 / no common version must give "
        f"FAILED_PRECONDITION naming ST-PROTO-004, got {err and err.as_dict()}"
    )


# ------------------------------------------------------------------------------------ authentication


@pytest.mark.clause("ST-PROTO-001")
def test_missing_credentials(ref: RefDevice, evidence: Evidence) -> None:
    """A device call without the authentication metadata is UNAUTHENTICATED."""
    answers = {
        "none": ref.expect_error("Heartbeat", pb.HeartbeatRequest(), metadata=()),
        "no token": ref.expect_error(
            "Heartbeat", pb.HeartbeatRequest(), metadata=(("x-santong-device-id", ref.device_id),)
        ),
        "no device id": ref.expect_error(
            "Heartbeat", pb.HeartbeatRequest(), metadata=(("authorization", f"Bearer {ref.token}"),)
        ),
    }
    evidence.record("answers", {k: (v.code if v else "OK") for k, v in answers.items()})
    wrong = {
        k: (v.code if v else "OK") for k, v in answers.items() if v is None or v.code != "UNAUTHENTICATED"
    }
    assert not wrong, (
        f"[ST-PROTO-001] 缺少认证元数据时应为 UNAUTHENTICATED / missing credentials must give UNAUTHENTICATED: {wrong}"
    )


@pytest.mark.clause("ST-PROTO-002", "ST-IFACE-019")
def test_forged_credentials(ref: RefDevice, evidence: Evidence) -> None:
    """A wrong or forged token is UNAUTHENTICATED; registering as another device than the credentials' is
    PERMISSION_DENIED."""
    forged = ref.expect_error("Heartbeat", pb.HeartbeatRequest(), metadata=(
        ("x-santong-device-id", ref.device_id), ("authorization", f"Bearer {ref.token[::-1]}x")))  # fmt: skip
    other = ref.register_request()
    other.device.device_id = f"{ref.device_id}-OTHER"
    impostor = ref.expect_error("Register", other)
    evidence.record("forged", forged.as_dict() if forged else "OK")
    evidence.record("other_identity", impostor.as_dict() if impostor else "OK")
    assert forged is not None and forged.code == "UNAUTHENTICATED", (
        f"[ST-PROTO-002] 伪造令牌应为 UNAUTHENTICATED / a forged token must give UNAUTHENTICATED, got {forged and forged.code or 'OK'}"
    )
    assert impostor is not None and impostor.code == "PERMISSION_DENIED", (
        f"[ST-IFACE-019] 以他人身份注册应为 PERMISSION_DENIED / registering as another device must give "
        f"PERMISSION_DENIED, got {impostor and impostor.code or 'OK'}"
    )


@pytest.mark.clause("ST-IFACE-001")
def test_not_registered(
    santong_platform: PlatformHandle, channel: Any, santong_manifest: Manifest, evidence: Evidence
) -> None:
    """A device that has not registered gets FAILED_PRECONDITION naming ST-IFACE-001 (a fresh device: on the
    mock, or under the credentials' enrolment on an external platform)."""
    if not santong_platform.makes_devices:
        not_applicable(
            "needs_fresh_device",
            "凭据文件未给出 enrolment，无法生成从未注册的设备",
            "the credentials file gives no enrolment: no never-registered device can be made",
        )
    dev = reference_device(santong_platform, channel, santong_manifest)
    evidence.record("device_id", dev.device_id)
    err = dev.expect_error("ReportObservations", pb.ReportObservationsRequest(batch=dev.batch()))
    evidence.record("answer", err.as_dict() if err else "accepted")
    assert err is not None and err.code == "FAILED_PRECONDITION" and "ST-IFACE-001" in err.clause_ids, (
        f"[ST-IFACE-001] 未注册即上报应为 FAILED_PRECONDITION / reporting before Register must give "
        f"FAILED_PRECONDITION naming ST-IFACE-001, got {err and err.as_dict()}"
    )


@pytest.mark.clause("ST-PROTO-033")
def test_credentials_judged_before_the_body(ref: RefDevice, evidence: Evidence) -> None:
    """A call with a wrong token is refused on its metadata: UNAUTHENTICATED even when its body is undecodable (a
    platform that read and decoded the body first would answer INVALID_ARGUMENT naming ST-DATA-035)."""
    call = ref.channel.unary_unary(
        "/santong.protocols.v1.DeviceAccessService/ReportObservations",
        request_serializer=None,
        response_deserializer=pb.ReportObservationsResponse.FromString,
    )
    wrong = (("x-santong-device-id", ref.device_id), ("authorization", "Bearer not-the-token"))
    import grpc  # noqa: PLC0415

    try:
        call(b"\xff" * 4096, metadata=wrong, timeout=ref.timeout_s)
        err = None
    except grpc.RpcError as e:
        err = status_of(e)
    evidence.record("answer", err.as_dict() if err else "accepted")
    assert err is not None and err.code == "UNAUTHENTICATED", (
        f"[ST-PROTO-033] 错误令牌加不可解码的请求体应得到 UNAUTHENTICATED（先认证后读取）/ a wrong token with an "
        f"undecodable body must get UNAUTHENTICATED (authenticate before reading), got {err and err.as_dict()}"
    )


@pytest.mark.inspection
@pytest.mark.clause("ST-PROTO-034")
def test_command_result_for_an_unknown_command_refused(
    ref: RefDevice, santong_platform: PlatformHandle, evidence: Evidence
) -> None:
    """A result for a command the platform never issued to this device is refused and not recorded (the interaction
    log shows the rejection naming ST-PROTO-034)."""
    import uuid  # noqa: PLC0415

    import grpc  # noqa: PLC0415

    assert santong_platform.admin is not None
    cid = f"not-issued-{uuid.uuid4().hex[:8]}"
    result = pb.CommandResult(command_id=cid, outcome=pb.COMMAND_OUTCOME_SUCCEEDED)
    result.device_time.FromMilliseconds(int(time.time() * 1000))
    stream = ref.stub.Commands(
        iter([pb.CommandsRequest(), pb.CommandsRequest(result=result)]), metadata=ref.metadata, timeout=3
    )
    try:
        for _ in stream:
            pass
    except grpc.RpcError:
        pass  # the stream ends with its requests or at its deadline; the log is what counts
    deadline = time.monotonic() + 10
    rows: list[Any] = []
    while time.monotonic() < deadline:
        rows = [
            r
            for r in santong_platform.admin.inspect(
                "interactions", device_id=ref.device_id, method="Commands"
            )
            if "ST-PROTO-034" in json.dumps(r.get("clause_ids", ""))
        ]
        if rows:
            break
        time.sleep(0.1)
    evidence.record("rejections", rows[:3])
    assert rows and all(r["verdict"] == "REJECTED" for r in rows), (
        f"[ST-PROTO-034] 对未发出的命令 {cid} 的结果没有被拒绝 / the result for the never-issued command {cid} was "
        "not refused"
    )


# --------------------------------------------------------------------------------------- limits, liveness


@pytest.mark.clause("ST-PROTO-009")
def test_message_size_limit(ref: RefDevice, santong_platform: PlatformHandle, evidence: Evidence) -> None:
    """A message over max_message_bytes gets RESOURCE_EXHAUSTED and nothing is stored."""
    limit = int(santong_platform.limits.max_message_bytes or 4 * 1024 * 1024)
    req = ref.points()
    req.points[0].location = "x" * (limit + 1024)
    err = ref.expect_error("DefinePoints", req)
    evidence.record("limit_bytes", limit)
    evidence.record("answer", err.as_dict() if err else "accepted")
    assert err is not None and err.code == "RESOURCE_EXHAUSTED", (
        f"[ST-PROTO-009] {req.ByteSize()} 字节的消息应得到 RESOURCE_EXHAUSTED / a message of {req.ByteSize()} bytes "
        f"must get RESOURCE_EXHAUSTED, got {err and err.code or 'OK'}"
    )


@pytest.mark.clause("ST-PROTO-010")
def test_upload_rate_limit(ref: RefDevice, santong_platform: PlatformHandle, evidence: Evidence) -> None:
    """More uploads per second than max_uploads_per_second: the excess gets RESOURCE_EXHAUSTED with RetryInfo."""
    import grpc  # noqa: PLC0415

    rate = int(santong_platform.limits.max_uploads_per_second or 0)
    if not rate:
        pytest.skip("平台未设上传速率上限 / the platform announces no upload rate limit")
    n = 2 * rate + 50
    futures = []
    for i in range(n):
        req = pb.ReportObservationsRequest(batch=ref.batch([0.4, 0.0], sequence=ref.next_sequence + i))
        futures.append(ref.stub.ReportObservations.future(req, metadata=ref.metadata, timeout=30))
    limited: list[CallFailed] = []
    for f in futures:
        try:
            f.result()
        except grpc.RpcError as e:
            st = status_of(e)
            if st.code == "RESOURCE_EXHAUSTED":
                limited.append(st)
    ref.next_sequence += n
    evidence.record("uploads", n)
    evidence.record("limited", len(limited))
    if limited:
        evidence.record("first", limited[0].as_dict())
    assert limited, (
        f"[ST-PROTO-010] {n} 次并发上传都没有被限速 / none of {n} concurrent uploads was rate-limited"
    )
    assert all(s.retry_after_s is not None for s in limited), (
        "[ST-PROTO-010] 限速应答没有重试建议（RetryInfo）/ rate-limit answers lack RetryInfo"
    )
    time.sleep(1.0)  # let the bucket refill for the cases after this one


@pytest.mark.inspection
@pytest.mark.clause("ST-PROTO-006")
def test_offline_detection(
    santong_platform: PlatformHandle, channel: Any, santong_manifest: Manifest, evidence: Evidence
) -> None:
    """A device silent for offline_after_missed heartbeats is marked offline; its next call brings it back."""
    assert santong_platform.admin is not None
    dev = reference_device(santong_platform, channel, santong_manifest).setup()
    limits = santong_platform.limits
    window_s = int(limits.heartbeat_interval_ms) * max(1, int(limits.offline_after_missed)) / 1000
    if window_s > 120:
        pytest.skip(
            f"离线判定窗口 {window_s:.0f} s 过长 / the offline window of {window_s:.0f} s is too long to wait for"
        )
    admin = santong_platform.admin

    def online() -> bool:
        return bool((admin.device(dev.device_id) or {}).get("online"))

    assert online(), "[ST-PROTO-006] 注册后设备不在线 / the device is not online after Register"
    deadline = time.monotonic() + window_s + max(2.0, window_s / 2)
    went_offline = None
    while time.monotonic() < deadline:
        if not online():
            went_offline = time.monotonic()
            break
        time.sleep(0.1)
    evidence.record("offline_window_s", window_s)
    assert went_offline is not None, (
        f"[ST-PROTO-006] 设备静默 {window_s + max(2.0, window_s / 2):.1f} s 仍被视为在线 / the device was still online after "
        f"{window_s + max(2.0, window_s / 2):.1f} s of silence"
    )
    dev.call("Heartbeat", pb.HeartbeatRequest())
    assert online(), (
        "[ST-PROTO-006] 心跳后设备没有恢复在线 / the device did not come back online after a heartbeat"
    )


@pytest.mark.inspection
@pytest.mark.clause("ST-IFACE-020")
def test_invalid_command_result_rejected(
    ref: RefDevice, santong_platform: PlatformHandle, evidence: Evidence
) -> None:
    """A command result without a command_id is refused (logged REJECTED naming ST-IFACE-020), not stored."""
    assert santong_platform.admin is not None
    admin = santong_platform.admin
    since = admin.last_interaction_id()
    bad = pb.CommandsRequest(result=pb.CommandResult(outcome=pb.COMMAND_OUTCOME_SUCCEEDED, message="no id"))
    replies = ref.stub.Commands(iter([bad]), metadata=ref.metadata, timeout=ref.timeout_s)
    deadline = time.monotonic() + ref.timeout_s
    rows: list[dict[str, Any]] = []
    try:
        while time.monotonic() < deadline:
            rows = [
                r
                for r in admin.inspect("interactions", device_id=ref.device_id, since_id=since)
                if r["method"] == "Commands" and r["verdict"] in ("REJECTED", "ACCEPTED")
            ]
            if rows:
                break
            time.sleep(0.05)
    finally:
        replies.cancel()
    evidence.record("rows", [{k: r[k] for k in ("verdict", "code", "clause_ids")} for r in rows])
    assert rows, "[ST-IFACE-020] 平台没有处理命令结果 / the platform did not process the command result"
    assert rows[0]["verdict"] == "REJECTED" and "ST-IFACE-020" in rows[0]["clause_ids"], (
        f"[ST-IFACE-020] 缺少 command_id 的命令结果应被拒收并指出 ST-IFACE-020 / a command result without a "
        f"command_id must be rejected naming ST-IFACE-020: {rows[0]['verdict']} {rows[0]['clause_ids']}"
    )


@pytest.mark.clause("ST-PROTO-013")
def test_acknowledged_after_durable_storage(santong_platform: PlatformHandle) -> None:
    """Acknowledgement only after durable storage needs the platform restarted between an ack and a read-back;
    the suite does not restart a platform it reaches (the mock's own durability is tested by santong's
    kill -9 tests)."""
    not_applicable(
        "platform_restart",
        "判定该条款需要在确认之后重启平台再读回数据，测试套件不会重启它所连接的平台",
        "judging the clause needs the platform restarted between an acknowledgement and a read-back, which the "
        "suite does not do to a platform it reaches",
    )


@pytest.mark.clause("ST-PROTO-028")
def test_discoverable(channel: Any, evidence: Evidence) -> None:
    """gRPC health checking answers SERVING and server reflection lists the device service."""
    import grpc  # noqa: PLC0415
    from grpc_health.v1 import health_pb2, health_pb2_grpc  # noqa: PLC0415
    from grpc_reflection.v1alpha import reflection_pb2, reflection_pb2_grpc  # noqa: PLC0415

    try:
        health = health_pb2_grpc.HealthStub(channel).Check(health_pb2.HealthCheckRequest(), timeout=5)
        status = health_pb2.HealthCheckResponse.ServingStatus.Name(health.status)
    except grpc.RpcError as e:
        status = e.code().name
    try:
        stub = reflection_pb2_grpc.ServerReflectionStub(channel)
        replies = stub.ServerReflectionInfo(
            iter([reflection_pb2.ServerReflectionRequest(list_services="")]), timeout=5
        )
        services = [s.name for r in replies for s in r.list_services_response.service]
    except grpc.RpcError as e:
        services = [f"error {e.code().name}"]
    evidence.record("health", status)
    evidence.record("services", services)
    assert status == "SERVING", f"[ST-PROTO-028] 健康检查 / health check: {status}"
    assert any(s.endswith("DeviceAccessService") for s in services), (
        f"[ST-PROTO-028] 反射 / reflection lists {services}"
    )


@pytest.mark.clause("ST-PROTO-003")
def test_transport_security(santong_platform: PlatformHandle, evidence: Evidence) -> None:
    """A production platform is reached over TLS (grpcs://)."""
    evidence.record("tls", santong_platform.tls)
    if santong_platform.kind != "url":
        pytest.skip(
            "模拟平台默认不启用 TLS；本条款针对真实平台地址 / the mock serves plain TCP; this clause is for a real platform URL"
        )
    assert santong_platform.tls, (
        "[ST-PROTO-003] 平台地址未使用 TLS（grpcs://）/ the platform URL does not use TLS (grpcs://)"
    )
