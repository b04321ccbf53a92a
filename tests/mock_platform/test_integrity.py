"""Nothing silently replaced, nobody wedged (issue 12, items 2, 3, 5): sequence conflicts (ST-PROTO-031), sequence
bounds (ST-PROTO-032), the timestamp lower bound (ST-DATA-031) — over gRPC and HTTP/JSON, on real sockets."""

from __future__ import annotations

import contextlib
import hashlib
import json
import secrets
import socket
import sqlite3
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import grpc
import httpx
import pytest
from mpclient import Device, Target, clauses_of
from santong.mock_platform import PlatformConfig, samples
from santong.mock_platform._store import SCHEMA_VERSION
from santong.mock_platform.embedded import BackgroundMockPlatform
from santong.protocols import to_dict
from santong.protocols.v1 import device_access_pb2 as pb
from st_waiting import wait_until
from wire_layouts import varint

ACC, DUP, REJ = pb.ACK_STATUS_ACCEPTED, pb.ACK_STATUS_DUPLICATE, pb.ACK_STATUS_REJECTED
CONFLICT = pb.AckStatus.Value("ACK_STATUS_CONFLICT")
BASE_MS = int(time.time() * 1000) - 5_000  # one fixed time: a replay repeats the content exactly


@pytest.fixture(scope="module")
def bg() -> Iterator[BackgroundMockPlatform]:
    with BackgroundMockPlatform(PlatformConfig(inspection_token=secrets.token_urlsafe(16)), http_port=0) as p:
        yield p


@pytest.fixture
def tgt(bg: BackgroundMockPlatform) -> Iterator[Target]:
    t = Target("embedded", bg.grpc_target, bg.inspection_token, http_url=bg.http_url)
    yield t
    t.close()


def obs(
    seq: int, value: float = 0.5, *, backfill: bool = False, base_ms: int | None = None
) -> pb.ReportObservationsRequest:
    return pb.ReportObservationsRequest(
        batch=samples.observation_batch(
            seq, [1], [value], backfill=backfill, base_ms=BASE_MS if base_ms is None else base_ms
        )
    )


def http_device(tgt: Target, dev: Device) -> httpx.Client:
    assert tgt.http_url is not None
    headers = {"x-santong-device-id": dev.device_id, "authorization": f"Bearer {dev.token}"}
    return httpx.Client(base_url=tgt.http_url, headers=headers, timeout=15.0)


def values(tgt: Target, dev: Device) -> list[float]:
    return [o["value"] for o in tgt.inspect("observations", device_id=dev.device_id, limit=1000)]


# ---------------------------------------------------------------------------- ST-PROTO-031


def test_same_content_is_a_replay_other_content_a_conflict_grpc(tgt: Target) -> None:
    dev = tgt.new_device()
    assert dev.call("ReportObservations", obs(1, 0.5)).ack.status == ACC
    assert dev.call("ReportObservations", obs(1, 0.5)).ack.status == DUP
    # a v1 device that raised the flag on its resend still replays (the flag is no content)
    assert dev.call("ReportObservations", obs(1, 0.5, backfill=True)).ack.status == DUP
    with pytest.raises(grpc.RpcError) as info:
        dev.call("ReportObservations", obs(1, 0.7))
    assert info.value.code() == grpc.StatusCode.ALREADY_EXISTS
    assert clauses_of(info.value) == {"ST-PROTO-031"}
    assert values(tgt, dev) == [0.5]  # the first content stays, the other is not stored
    log = tgt.inspect("interactions", device_id=dev.device_id, verdict="CONFLICT")
    assert [r["sequence"] for r in log] == [1]


def test_conflict_over_http_is_409_already_exists(tgt: Target) -> None:
    dev = tgt.new_device()
    with http_device(tgt, dev) as h:
        r = h.post("/v1/device/report-observations", json=to_dict(obs(1, 0.5)))
        assert r.status_code == 200 and r.json()["ack"]["status"] == "ACK_STATUS_ACCEPTED"
        r = h.post("/v1/device/report-observations", json=to_dict(obs(1, 0.5)))
        assert r.status_code == 200 and r.json()["ack"]["status"] == "ACK_STATUS_DUPLICATE"
        r = h.post("/v1/device/report-observations", json=to_dict(obs(1, 0.9)))
    assert (
        r.status_code == 409 and r.json()["code"] == 6
    )  # ALREADY_EXISTS, told apart from 409 FAILED_PRECONDITION
    assert "ST-PROTO-031" in r.text
    assert values(tgt, dev) == [0.5]


def test_twenty_concurrent_different_payloads_one_accepted_nineteen_conflicts(tgt: Target) -> None:
    """Issue 12, defect 2: 20 concurrent different payloads under one sequence were 1 ACCEPTED + 19 DUPLICATE."""
    dev = tgt.new_device()
    futures = [
        dev.stub.ReportObservations.future(obs(1, i / 100), metadata=dev.metadata, timeout=15)
        for i in range(20)
    ]
    accepted, conflicts = [], 0
    for i, f in enumerate(futures):
        try:
            ack = f.result().ack
            assert ack.status == ACC, ack
            accepted.append(i / 100)
        except grpc.RpcError as e:
            assert e.code() == grpc.StatusCode.ALREADY_EXISTS and clauses_of(e) == {"ST-PROTO-031"}
            conflicts += 1
    assert len(accepted) == 1 and conflicts == 19
    assert values(tgt, dev) == accepted


def test_conflict_on_the_stream_is_an_ack_conflict_and_the_stream_goes_on(tgt: Target) -> None:
    dev = tgt.new_device()
    b1, b2, clash, b3 = (obs(s, v).batch for s, v in ((1, 0.5), (2, 0.6), (1, 0.8), (3, 0.7)))
    acks = dev.stream([b1, b2, b1, clash, b3])
    assert [a.status for a in acks] == [ACC, ACC, DUP, CONFLICT, ACC]
    assert {v.clause_id for v in acks[3].violations} == {"ST-PROTO-031"} and acks[3].accepted == 0
    assert values(tgt, dev) == [0.5, 0.6, 0.7]


def test_a_database_from_before_the_digest_is_migrated_and_stays_readable(tmp_path: Path) -> None:
    """Old databases (no uploads.digest) open; their rows stay, replays of them are still DUPLICATE."""
    db = tmp_path / "old.db"
    token = secrets.token_urlsafe(8)
    cfg = PlatformConfig(db_path=str(db), inspection_token=token)
    with BackgroundMockPlatform(cfg, http_port=None) as p:
        t = Target("embedded", p.grpc_target, token)
        dev = t.new_device()
        assert dev.call("ReportObservations", obs(1, 0.5)).ack.status == ACC
        t.close()
    with sqlite3.connect(db) as conn:  # make it look like a database of schema 1
        conn.execute("ALTER TABLE uploads DROP COLUMN digest")
        conn.execute("UPDATE meta SET value='1' WHERE key='schema_version'")
    with BackgroundMockPlatform(cfg, http_port=None) as p:
        t = Target("embedded", p.grpc_target, token)
        old = Device(t, dev.device_id, dev.token, t.channel())
        old.register()
        assert old.call("ReportObservations", obs(1, 0.9)).ack.status == DUP  # no digest: cannot tell, replay
        assert old.call("ReportObservations", obs(2, 0.6)).ack.status == ACC
        with pytest.raises(grpc.RpcError) as info:
            old.call("ReportObservations", obs(2, 0.1))
        assert info.value.code() == grpc.StatusCode.ALREADY_EXISTS
        assert [o["value"] for o in t.inspect("observations", device_id=dev.device_id)] == [0.5, 0.6]
        t.close()
    with sqlite3.connect(db) as conn:
        assert conn.execute("SELECT value FROM meta WHERE key='schema_version'").fetchone() == (
            str(SCHEMA_VERSION),
        )


# ---------------------------------------------------------------------------- ST-PROTO-032


@pytest.mark.parametrize("seq", [2**64 - 1, 2**63])
def test_an_out_of_range_sequence_is_rejected_and_does_not_wedge_the_device(tgt: Target, seq: int) -> None:
    """Issue 12, defect 3: sequence 2^64-1 was ACCEPTED, then every later upload refused, even after Register."""
    dev = tgt.new_device()
    assert dev.call("ReportObservations", obs(1)).ack.status == ACC
    with pytest.raises(grpc.RpcError) as info:
        dev.call("ReportObservations", obs(seq))
    assert info.value.code() == grpc.StatusCode.INVALID_ARGUMENT and "ST-PROTO-032" in clauses_of(info.value)
    with http_device(tgt, dev) as h:
        r = h.post("/v1/device/report-observations", json=to_dict(obs(seq)))
        assert r.status_code == 400 and "ST-PROTO-032" in r.text
        r = h.post("/v1/device/report-observations", json=to_dict(obs(2 + 2**40)))  # an implausible jump
        assert r.status_code == 400 and "ST-PROTO-032" in r.text
    assert dev.register().last_acknowledged_sequence == 1
    assert dev.call("ReportObservations", obs(2)).ack.status == ACC
    assert tgt.inspect("acknowledged", device_id=dev.device_id) == [1, 2]


def test_a_first_sequence_may_be_large_but_below_2_63(tgt: Target) -> None:
    """Devices that number uploads by their clock (ms since the epoch) keep working (v1)."""
    dev = tgt.new_device()
    assert dev.call("ReportObservations", obs(1_750_000_000_000)).ack.status == ACC
    assert dev.call("ReportObservations", obs(1_750_000_060_000)).ack.status == ACC


# ---------------------------------------------------------------------------- ST-DATA-031 lower bound


@pytest.mark.parametrize("base_ms", [0, 1_000, -62135596800_000, 946684799_000])
def test_timestamps_before_2000_are_rejected_not_stored(tgt: Target, base_ms: int) -> None:
    dev = tgt.new_device()
    req = obs(1, base_ms=base_ms)
    with pytest.raises(grpc.RpcError) as info:
        dev.call("ReportObservations", req)
    assert info.value.code() == grpc.StatusCode.INVALID_ARGUMENT and "ST-DATA-031" in clauses_of(info.value)
    with http_device(tgt, dev) as h:
        r = h.post("/v1/device/report-observations", json=to_dict(req))
    assert r.status_code == 400 and "ST-DATA-031" in r.text
    alarm = samples.alarm_request(2, start_ms=1_000)
    with pytest.raises(grpc.RpcError) as info:
        dev.call("ReportAlarms", alarm)
    assert "ST-DATA-031" in clauses_of(info.value)
    assert tgt.inspect("acknowledged", device_id=dev.device_id) == []
    assert dev.call("ReportObservations", obs(3)).ack.status == ACC  # the server is up, the device too


# ---------------------------------------------------------------------------- ST-PROTO-033


def _raw_http(url: str, head: bytes, *, timeout_s: float = 5.0) -> bytes:
    """Send a request head (and no body) on a fresh socket; the answer up to the end of its headers + body."""
    host, port = url.removeprefix("http://").rstrip("/").split(":")
    with socket.create_connection((host, int(port)), timeout=timeout_s) as s:
        s.sendall(head)
        got = b""
        while b"\r\n\r\n" not in got:
            chunk = s.recv(65536)
            if not chunk:
                break
            got += chunk
        return got


def test_http_refuses_bad_credentials_before_reading_the_body(tgt: Target) -> None:
    """Issue 12, defect 4: an unauthenticated 3.8 MB POST was read and decoded before its 401. The head alone now
    gets the 401: the body is never sent here, and still the answer comes at once (it used to wait for it)."""
    assert tgt.http_url is not None
    dev = tgt.new_device()
    for auth in (b"Bearer wrong", b""):
        head = (
            b"POST /v1/device/report-observations HTTP/1.1\r\nHost: x\r\ncontent-type: application/json\r\n"
            b"content-length: 3800000\r\nx-santong-device-id: " + dev.device_id.encode() + b"\r\n"
            + (b"authorization: " + auth + b"\r\n" if auth else b"") + b"\r\n"
        )  # fmt: skip
        answer = _raw_http(tgt.http_url, head)
        assert answer.startswith(b"HTTP/1.1 401"), answer[:200]
    assert dev.call("ReportObservations", obs(1)).ack.status == ACC  # the server is up


def test_grpc_refuses_bad_credentials_before_parsing(tgt: Target, bg: BackgroundMockPlatform) -> None:
    """Over gRPC the metadata is checked before the message is parsed: a wrong token never reaches the decoder."""
    dev = tgt.new_device()
    platform = bg.platform
    decoded: list[str] = []
    real = platform.decode

    def spy(method: str, data: bytes) -> Any:
        decoded.append(method)
        return real(method, data)

    platform.decode = spy  # type: ignore[method-assign]
    try:
        big = pb.ReportObservationsRequest(
            batch=samples.observation_batch(1, [1] * 5000, base_ms=BASE_MS, offsets=list(range(5000)))
        )
        wrong = (("x-santong-device-id", dev.device_id), ("authorization", "Bearer wrong"))
        with pytest.raises(grpc.RpcError) as info:
            dev.call("ReportObservations", big, metadata=wrong)
        assert info.value.code() == grpc.StatusCode.UNAUTHENTICATED and "ST-PROTO-002" in clauses_of(
            info.value
        )
        assert decoded == []
        assert dev.call("ReportObservations", obs(1)).ack.status == ACC
        assert decoded == ["ReportObservations"]
    finally:
        del platform.decode


# ---------------------------------------------------------------------------- ST-PROTO-034


def test_a_result_for_another_devices_command_is_refused_over_http(tgt: Target) -> None:
    """Issue 12, item 7: a result posted for another device's command ID answered 200 accepted: true."""
    owner, other = tgt.new_device(), tgt.new_device()
    cid = tgt.inspect("send_command", device_id=owner.device_id, type="RESEND_DEFINITIONS")["command_id"]
    result = {"command_id": cid, "outcome": "COMMAND_OUTCOME_SUCCEEDED"}
    with http_device(tgt, other) as h:
        r = h.post("/v1/device/command-results", json=result)
        assert r.status_code == 403 and "ST-PROTO-034" in r.text
        r = h.post("/v1/device/command-results", json={**result, "command_id": "no-such-command"})
        assert r.status_code == 404 and "ST-PROTO-034" in r.text
    done = {c["command_id"]: c for c in tgt.inspect("commands", device_id=owner.device_id)}
    assert done[cid].get("outcome") in (None, "COMMAND_OUTCOME_UNSPECIFIED")  # nothing recorded
    with http_device(tgt, owner) as h:
        r = h.post("/v1/device/command-results", json=result)
    assert r.status_code == 200 and r.json() == {"command_id": cid, "accepted": True}


def test_a_result_for_another_devices_command_is_not_recorded_over_grpc(tgt: Target) -> None:
    owner, other = tgt.new_device(), tgt.new_device()
    cid = tgt.inspect("send_command", device_id=owner.device_id, type="RESEND_DEFINITIONS")["command_id"]
    forged = pb.CommandsRequest(result=pb.CommandResult(command_id=cid, outcome=pb.COMMAND_OUTCOME_SUCCEEDED))
    forged.result.device_time.FromMilliseconds(BASE_MS)
    call = other.stub.Commands(iter([pb.CommandsRequest(), forged]), metadata=other.metadata, timeout=2)
    with contextlib.suppress(grpc.RpcError):  # the stream ends with the requests (or at its deadline)
        list(call)

    def refused() -> bool:
        log = tgt.inspect("interactions", device_id=other.device_id, method="Commands", verdict="REJECTED")
        return any("ST-PROTO-034" in r["clause_ids"] for r in log)

    wait_until(refused, what="the forged result refused with ST-PROTO-034")
    done = {c["command_id"]: c for c in tgt.inspect("commands", device_id=owner.device_id)}
    assert done[cid].get("outcome") in (None, "COMMAND_OUTCOME_UNSPECIFIED")


# ---------------------------------------------------------------------------- credentials at rest


def test_the_database_is_private_and_holds_salted_token_hashes(tmp_path: Path) -> None:
    """Issue 12, item 7: the SQLite file was 0644 with unsalted SHA-256 token hashes."""
    db = tmp_path / "p.db"
    token = secrets.token_urlsafe(8)
    with BackgroundMockPlatform(PlatformConfig(db_path=str(db), inspection_token=token), http_port=None) as p:
        t = Target("embedded", p.grpc_target, token)
        dev = t.new_device()
        assert dev.call("ReportObservations", obs(1)).ack.status == ACC
        for f in (db, Path(f"{db}-wal")):
            assert f.stat().st_mode & 0o777 == 0o600, f
        t.close()
    with sqlite3.connect(db) as conn:
        hmac_, sha = conn.execute(
            "SELECT token_hmac, token_sha256 FROM devices WHERE device_id=?", (dev.device_id,)
        ).fetchone()
    assert sha is None and hmac_ is not None
    assert bytes(hmac_) != hashlib.sha256(dev.token.encode()).digest()
    # the same token in another database hashes differently (a per-database secret)
    db2 = tmp_path / "q.db"
    with BackgroundMockPlatform(
        PlatformConfig(db_path=str(db2), devices={dev.device_id: dev.token}), http_port=None
    ):
        pass
    with sqlite3.connect(db2) as conn:
        (other,) = conn.execute(
            "SELECT token_hmac FROM devices WHERE device_id=?", (dev.device_id,)
        ).fetchone()
    assert bytes(other) != bytes(hmac_)


def test_a_database_with_sha256_token_hashes_still_authenticates_and_is_upgraded(tmp_path: Path) -> None:
    db = tmp_path / "old.db"
    token = secrets.token_urlsafe(8)
    cfg = PlatformConfig(db_path=str(db), inspection_token=token)
    with BackgroundMockPlatform(cfg, http_port=None) as p:
        t = Target("embedded", p.grpc_target, token)
        dev = t.new_device()
        t.close()
    legacy = hashlib.sha256(dev.token.encode()).digest()
    with sqlite3.connect(db) as conn:  # as a database of schema 1 left it
        conn.execute("UPDATE devices SET token_sha256=?, token_hmac=NULL", (legacy,))
        conn.execute("DELETE FROM meta WHERE key='token_hmac_secret'")
    with BackgroundMockPlatform(cfg, http_port=None) as p:
        t = Target("embedded", p.grpc_target, token)
        again = Device(t, dev.device_id, dev.token, t.channel())
        wrong = Device(t, dev.device_id, "wrong", t.channel())
        with pytest.raises(grpc.RpcError) as info:
            wrong.register()
        assert info.value.code() == grpc.StatusCode.UNAUTHENTICATED
        again.register()
        assert again.call("ReportObservations", obs(1)).ack.status == ACC
        t.close()
    with sqlite3.connect(db) as conn:
        hmac_, sha = conn.execute(
            "SELECT token_hmac, token_sha256 FROM devices WHERE device_id=?", (dev.device_id,)
        ).fetchone()
    assert sha is None and hmac_ is not None and bytes(hmac_) != legacy


# ---------------------------------------------------------------------------- ST-DATA-034 on both transports


def test_repeated_json_members_are_rejected_over_http(tgt: Target) -> None:
    """Issue 12, item 5: duplicate JSON keys were accepted (last wins)."""
    dev = tgt.new_device()
    good = json.dumps(to_dict(obs(1, 0.5)))
    bad = good.replace('"sequence":', '"sequence": "9", "sequence":', 1)
    assert bad != good
    with http_device(tgt, dev) as h:
        r = h.post(
            "/v1/device/report-observations", content=bad, headers={"content-type": "application/json"}
        )
        assert r.status_code == 400 and "ST-DATA-034" in r.text
        r = h.post(
            "/v1/device/report-observations", content=good, headers={"content-type": "application/json"}
        )
        assert r.status_code == 200 and r.json()["ack"]["status"] == "ACK_STATUS_ACCEPTED"
    assert tgt.inspect("acknowledged", device_id=dev.device_id) == [1]


def test_unknown_protobuf_fields_are_rejected_over_grpc_as_json_rejects_them(tgt: Target) -> None:
    """gRPC accepted fields JSON rejected: both now refuse fields unknown to the interface (ST-DATA-034)."""
    dev = tgt.new_device()
    raw = obs(1).SerializeToString() + b"\xf8\x07\x01"  # field 127
    call = dev.ch.unary_unary(
        "/santong.protocols.v1.DeviceAccessService/ReportObservations",
        request_serializer=None,
        response_deserializer=pb.ReportObservationsResponse.FromString,
    )
    with pytest.raises(grpc.RpcError) as info:
        call(raw, metadata=dev.metadata, timeout=10)
    assert info.value.code() == grpc.StatusCode.INVALID_ARGUMENT and clauses_of(info.value) == {"ST-DATA-034"}
    with http_device(tgt, dev) as h:  # the JSON twin of the same message
        doc = to_dict(obs(1))
        doc["extra_field"] = 1
        r = h.post("/v1/device/report-observations", json=doc)
    assert r.status_code == 400 and "ST-DATA-034" in r.text
    stream = dev.ch.stream_stream(
        "/santong.protocols.v1.DeviceAccessService/StreamObservations",
        request_serializer=None,
        response_deserializer=pb.StreamObservationsResponse.FromString,
    )
    bad = pb.StreamObservationsRequest(batch=obs(1).batch).SerializeToString() + b"\xf8\x07\x01"
    good = pb.StreamObservationsRequest(batch=obs(1).batch).SerializeToString()
    acks = [
        r.ack
        for r in stream(
            iter([bad, _in_base_time(obs(2), b"\x18\x01"), good]), metadata=dev.metadata, timeout=10
        )
    ]
    assert [a.status for a in acks] == [REJ, REJ, ACC]
    assert (
        {v.clause_id for v in acks[0].violations}
        == {v.clause_id for v in acks[1].violations}
        == {"ST-DATA-034"}
    )
    assert [v.path for v in acks[1].violations] == ["$.batch.base_time"]
    assert tgt.inspect("acknowledged", device_id=dev.device_id) == [1]


def _in_base_time(req: pb.ReportObservationsRequest, extra: bytes) -> bytes:
    """The canonical encoding of the request as a stream message, with extra bytes inside its base_time."""
    batch = pb.StreamObservationsRequest(batch=req.batch).batch
    ts = batch.base_time.SerializeToString() + extra
    batch.ClearField("base_time")
    seq = batch.SerializeToString()[:2]  # sequence (field 1, one byte) comes first, base_time (field 2) next
    assert seq[0] == 0x08
    inner = seq + b"\x12" + bytes([len(ts)]) + ts + batch.SerializeToString()[2:]
    return b"\x0a" + varint(len(inner)) + inner


def _batch(seq: int, values: list[float], base_ms: int) -> bytes:
    """A stream message of points 1, 2, 3 at fixed offsets (the same alias and offset columns every batch)."""
    b = samples.observation_batch(seq, [1, 2, 3], values, offsets=[0, 500, 1000], base_ms=base_ms)
    return pb.StreamObservationsRequest(batch=b).SerializeToString()


def test_batches_judged_from_their_encoding_on_a_stream(tgt: Target, monkeypatch: pytest.MonkeyPatch) -> None:
    """A stream whose batches repeat their alias and offset columns is judged from the encoding after the first
    batch (no column parsed): accepted batches are stored as sent and read back whole; a value over range is
    found at its index (ST-DATA-021, a SHOULD: accepted with it); a replay is a duplicate and other content under
    a stored sequence a conflict (both need the whole request); a column that does not parse is ST-DATA-035;
    nothing of a rejected batch is stored."""
    from santong.mock_platform import _uploads  # noqa: PLC0415

    covered: list[int | None] = []

    def counted(wire: Any, state: Any) -> int | None:
        covered.append(_uploads_covered(wire, state))
        return covered[-1]

    _uploads_covered = _uploads.batch_covered
    monkeypatch.setattr(
        _uploads, "batch_covered", counted
    )  # the platform runs in this process: count its calls
    dev = tgt.new_device()
    live = int(time.time() * 1000) - 2000  # live data: judged on its values alone (no ST-DATA-032)
    stream = dev.ch.stream_stream(
        "/santong.protocols.v1.DeviceAccessService/StreamObservations",
        request_serializer=None,
        response_deserializer=pb.StreamObservationsResponse.FromString,
    )
    good1, good2 = _batch(1, [0.5, 1.5, 20.0], live), _batch(2, [0.6, 1.6, 21.0], live)
    over = _batch(3, [0.7, 9.5, 22.0], live)  # point 2 (0–4 %CH4) over range, status without bit 8
    conflict = _batch(2, [0.9, 1.9, 29.0], live)
    broken = bytearray(_batch(4, [0.7, 1.7, 23.0], live))
    at = broken.index(b"\x1a\x03\x01\x02\x03")  # the alias column: three one-byte varints
    broken[at + 4] = 0x83  # its last varint now runs past the column's end
    good4 = _batch(4, [0.8, 1.8, 24.0], live)
    msgs = [good1, good2, over, good2, conflict, bytes(broken), good4]
    acks = [r.ack for r in stream(iter(msgs), metadata=dev.metadata, timeout=20)]
    assert [a.status for a in acks] == [ACC, ACC, ACC, DUP, CONFLICT, REJ, ACC]
    assert [a.accepted for a in acks] == [3, 3, 3, 3, 0, 0, 3]
    assert [(v.clause_id, v.path) for v in acks[2].violations] == [("ST-DATA-021", "$.batch.value[1]")]
    assert {v.clause_id for v in acks[5].violations} == {"ST-DATA-035"}
    assert covered == [
        None,
        3,
        3,
        None,
        3,
    ]  # first, 2 and 3 from the encoding, the broken one parsed (replays: not asked)
    assert tgt.inspect("acknowledged", device_id=dev.device_id) == [1, 2, 3, 4]
    rows = tgt.inspect("observations", device_id=dev.device_id)
    got = sorted((r["sequence"], r["alias"], r["value"]) for r in rows)
    assert got == [(s, a, v) for s, vals in ((1, [0.5, 1.5, 20.0]), (2, [0.6, 1.6, 21.0]), (3, [0.7, 9.5, 22.0]), (4, [0.8, 1.8, 24.0]))
                   for a, v in zip([1, 2, 3], vals, strict=True)]  # fmt: skip
