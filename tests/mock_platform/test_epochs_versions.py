"""Nobody wedged, nothing replayed as new, fields per negotiated version (issue 12, items 3 and 5): sequence epochs
(ST-PROTO-037) and fields unknown to the version negotiated at Register (ST-DATA-034) — over gRPC and HTTP/JSON, on
real sockets."""

from __future__ import annotations

import secrets
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

ACC, DUP, REJ = pb.ACK_STATUS_ACCEPTED, pb.ACK_STATUS_DUPLICATE, pb.ACK_STATUS_REJECTED
BASE_MS = int(time.time() * 1000) - 5_000  # one fixed time: a replay repeats the content exactly
TOP = 2**63 - 1  # the highest sequence ST-PROTO-032 allows
NEW = ["1.1", "1.0"]  # a device that speaks the interface with sequence epochs


@pytest.fixture(scope="module")
def bg() -> Iterator[BackgroundMockPlatform]:
    with BackgroundMockPlatform(PlatformConfig(inspection_token=secrets.token_urlsafe(16)), http_port=0) as p:
        yield p


@pytest.fixture
def tgt(bg: BackgroundMockPlatform) -> Iterator[Target]:
    t = Target("embedded", bg.grpc_target, bg.inspection_token, http_url=bg.http_url)
    yield t
    t.close()


def obs(seq: int, value: float = 0.5) -> pb.ReportObservationsRequest:
    return pb.ReportObservationsRequest(batch=samples.observation_batch(seq, [1], [value], base_ms=BASE_MS))


def register(versions: list[str], epoch: int = 0, device_id: str = "", **device: str) -> pb.RegisterRequest:
    req = samples.register_request(device_id, versions=versions)
    req.sequence_epoch = epoch
    for k, v in device.items():
        setattr(req.device, k, v)
    return req


def http_device(tgt: Target, dev: Device) -> httpx.Client:
    assert tgt.http_url is not None
    headers = {"x-santong-device-id": dev.device_id, "authorization": f"Bearer {dev.token}"}
    return httpx.Client(base_url=tgt.http_url, headers=headers, timeout=15.0)


def register_over(tgt: Target, dev: Device, transport: str, req: pb.RegisterRequest) -> dict[str, Any]:
    """Register over one transport; the answer as a JSON dict (raises grpc.RpcError / returns the HTTP error)."""
    req.device.device_id = dev.device_id
    if transport == "grpc":
        return to_dict(dev.call("Register", req))
    with http_device(tgt, dev) as h:
        r = h.post("/v1/device/register", json=to_dict(req))
    return {"http_status": r.status_code, **r.json()}


def uploads(tgt: Target, dev: Device) -> list[tuple[int, int]]:
    return [(u["epoch"], u["sequence"]) for u in tgt.inspect("uploads", device_id=dev.device_id)]


def values(tgt: Target, dev: Device) -> list[float]:
    return sorted(o["value"] for o in tgt.inspect("observations", device_id=dev.device_id, limit=1000))


# ---------------------------------------------------------------------------- ST-PROTO-037: the wedge


@pytest.mark.parametrize("transport", ["grpc", "http"])
def test_a_device_at_the_top_of_the_range_recovers_with_a_new_epoch(tgt: Target, transport: str) -> None:
    """Issue 12, defect 3: the top of the range accepted, then every later upload refused, even after Register."""
    dev = tgt.new_device()
    assert dev.call("ReportObservations", obs(TOP, 0.1)).ack.status == ACC
    with http_device(tgt, dev) as h:  # wedged, on both transports
        for seq in (1, TOP):
            r = h.post("/v1/device/report-observations", json=to_dict(obs(seq, 0.2)))
            assert r.status_code in (400, 409) and ("ST-PROTO-011" in r.text or "ST-PROTO-031" in r.text)
    with pytest.raises(grpc.RpcError) as info:
        dev.call("ReportObservations", obs(TOP + 1, 0.2))
    assert "ST-PROTO-032" in clauses_of(info.value)
    assert dev.register().last_acknowledged_sequence == TOP  # registering again (v1.0) does not help
    resp = register_over(tgt, dev, transport, register(NEW, epoch=1))
    assert resp["negotiated_version"] == "1.1" and resp["sequence_epoch"] == "1"
    assert "last_acknowledged_sequence" not in resp  # 0: the new epoch counts from 1
    with http_device(tgt, dev) as h:
        r = h.post("/v1/device/report-observations", json=to_dict(obs(1, 0.3)))
        assert r.status_code == 200 and r.json()["ack"]["status"] == "ACK_STATUS_ACCEPTED"
    assert dev.call("ReportObservations", obs(2, 0.4)).ack.status == ACC
    assert uploads(tgt, dev) == [(0, TOP), (1, 1), (1, 2)]  # nothing acknowledged is lost
    assert values(tgt, dev) == [0.1, 0.3, 0.4]
    [row] = [d for d in tgt.inspect("devices") if d["device_id"] == dev.device_id]
    assert row["sequence_epoch"] == 1 and row["last_sequence"] == 2


def _as_schema_2(db: Path, device_id: str, wrapped: int) -> None:
    """Rewrite a database as the platform before ST-PROTO-032 and -037 left it: schema 2 (no epochs), the device's
    upload stored under the wrapped sequence 2^64-1 that platform accepted."""
    with sqlite3.connect(db) as conn:
        conn.executescript(
            """
            CREATE TABLE uploads_v2 (device_id TEXT NOT NULL, sequence INTEGER NOT NULL, method TEXT NOT NULL,
                n_records INTEGER NOT NULL, backfill INTEGER NOT NULL, received_ms INTEGER NOT NULL, digest BLOB,
                PRIMARY KEY (device_id, sequence)) WITHOUT ROWID;
            INSERT INTO uploads_v2 SELECT device_id, sequence, method, n_records, backfill, received_ms, digest
                FROM uploads;
            DROP TABLE uploads;
            ALTER TABLE uploads_v2 RENAME TO uploads;
            DROP INDEX observation_batches_epoch_key;
            ALTER TABLE observation_batches DROP COLUMN epoch;
            CREATE UNIQUE INDEX observation_batches_key ON observation_batches (device_id, sequence);
            ALTER TABLE devices DROP COLUMN sequence_epoch;
            UPDATE meta SET value='2' WHERE key='schema_version';
            """
        )
        conn.execute("UPDATE uploads SET sequence=? WHERE device_id=?", (wrapped, device_id))
        conn.execute("UPDATE observation_batches SET sequence=? WHERE device_id=?", (wrapped, device_id))


def test_the_2_64_wedge_of_an_old_database_recovers_with_a_new_epoch(tmp_path: Path) -> None:
    """The reproduction of issue 12: sequence 2^64-1 accepted (by the platform before ST-PROTO-032), then every
    upload refused, even after registering again. The database migrates (schema 3) and a new epoch recovers."""
    db, token = tmp_path / "old.db", secrets.token_urlsafe(8)
    cfg = PlatformConfig(db_path=str(db), inspection_token=token)
    with BackgroundMockPlatform(cfg, http_port=None) as p:
        t = Target("embedded", p.grpc_target, token)
        dev = t.new_device()
        assert dev.call("ReportObservations", obs(1, 0.1)).ack.status == ACC
        t.close()
    _as_schema_2(db, dev.device_id, wrapped=-1)  # 2^64-1 as SQLite's signed INTEGER
    with BackgroundMockPlatform(cfg, http_port=0) as p:
        t = Target("embedded", p.grpc_target, token, http_url=p.http_url)
        old = Device(t, dev.device_id, dev.token, t.channel())
        assert old.register().last_acknowledged_sequence == 2**64 - 1
        for seq in (2, 2**63 - 1):
            with pytest.raises(grpc.RpcError) as info:
                old.call("ReportObservations", obs(seq, 0.2))
            assert info.value.code() == grpc.StatusCode.INVALID_ARGUMENT
        resp = register_over(t, old, "http", register(NEW, epoch=1))
        assert resp["http_status"] == 200 and resp["sequence_epoch"] == "1"
        assert old.call("ReportObservations", obs(1, 0.3)).ack.status == ACC
        assert (
            old.call("ReportObservations", obs(1, 0.3)).ack.status == DUP
        )  # replays are judged in the epoch
        assert uploads(t, old) == [(0, 2**64 - 1), (1, 1)]
        assert values(t, old) == [0.1, 0.3]
        t.close()
    with BackgroundMockPlatform(cfg, http_port=None) as p:  # the epoch and its count survive a restart
        t = Target("embedded", p.grpc_target, token)
        again = Device(t, dev.device_id, dev.token, t.channel())
        resp = again.call("Register", register(NEW, device_id=dev.device_id))
        assert (resp.sequence_epoch, resp.last_acknowledged_sequence) == (1, 1)
        assert again.call("ReportObservations", obs(2, 0.4)).ack.status == ACC
        t.close()
    with sqlite3.connect(db) as conn:
        assert conn.execute("SELECT value FROM meta WHERE key='schema_version'").fetchone() == (
            str(SCHEMA_VERSION),
        )


# ---------------------------------------------------------------------------- ST-PROTO-037: replays across epochs


def test_a_replay_of_an_earlier_epoch_is_a_duplicate_not_new_data(tgt: Target) -> None:
    dev = tgt.new_device()
    a, b = obs(1, 0.1), obs(2, 0.2)
    assert [dev.call("ReportObservations", r).ack.status for r in (a, b)] == [ACC, ACC]
    resp = dev.call("Register", register(NEW, epoch=7, device_id=dev.device_id))
    assert (resp.sequence_epoch, resp.last_acknowledged_sequence) == (7, 0)
    # a late resend of epoch 0's sequence 2: acknowledged, not stored as epoch 7's sequence 2
    assert dev.call("ReportObservations", b).ack.status == DUP
    assert uploads(tgt, dev) == [(0, 1), (0, 2)]
    c = obs(1, 0.3)  # new data under a sequence an earlier epoch used: accepted
    assert dev.call("ReportObservations", c).ack.status == ACC
    with http_device(
        tgt, dev
    ) as h:  # epoch 0's sequence 1 again, over HTTP: a replay, though epoch 7 holds other
        r = h.post("/v1/device/report-observations", json=to_dict(a))
        assert r.status_code == 200 and r.json()["ack"]["status"] == "ACK_STATUS_DUPLICATE"
        r = h.post("/v1/device/report-observations", json=to_dict(obs(1, 0.9)))  # a true conflict in epoch 7
        assert r.status_code == 409 and "ST-PROTO-031" in r.text
    acks = dev.stream([b.batch, obs(2, 0.4).batch, obs(2, 0.4).batch])  # on the stream too
    assert [x.status for x in acks] == [DUP, ACC, DUP]
    assert uploads(tgt, dev) == [(0, 1), (0, 2), (7, 1), (7, 2)]
    assert values(tgt, dev) == [0.1, 0.2, 0.3, 0.4]  # each stored once, nothing lost
    notes = [r["note"] for r in tgt.inspect("interactions", device_id=dev.device_id, verdict="DUPLICATE")]
    assert sum("sequence epoch 0, ST-PROTO-037" in n for n in notes) == 3


@pytest.mark.parametrize("transport", ["grpc", "http"])
@pytest.mark.parametrize("epoch", [2, 3 + 2**40 + 1, 2**63, 2**64 - 1])
def test_an_epoch_below_the_current_or_out_of_range_is_refused_and_changes_nothing(
    tgt: Target, transport: str, epoch: int
) -> None:
    dev = tgt.new_device()
    dev.call("Register", register(NEW, epoch=3, device_id=dev.device_id))
    assert dev.call("ReportObservations", obs(1)).ack.status == ACC
    session = tgt.inspect("devices")
    req = register(NEW, epoch=epoch)
    if transport == "grpc":
        with pytest.raises(grpc.RpcError) as info:
            register_over(tgt, dev, transport, req)
        assert info.value.code() == grpc.StatusCode.INVALID_ARGUMENT and "ST-PROTO-037" in clauses_of(
            info.value
        )
    else:
        r = register_over(tgt, dev, transport, req)
        assert r["http_status"] == 400 and "ST-PROTO-037" in str(r)
    [before] = [d for d in session if d["device_id"] == dev.device_id]
    [after] = [d for d in tgt.inspect("devices") if d["device_id"] == dev.device_id]
    assert after["sequence_epoch"] == 3 and after["session_id"] == before["session_id"]
    assert dev.call("ReportObservations", obs(2)).ack.status == ACC  # the session goes on
    assert uploads(tgt, dev) == [(3, 1), (3, 2)]


def test_a_v1_0_device_continues_the_epoch_in_force_exactly_as_before(tgt: Target) -> None:
    """Old devices keep working: a 1.0 Register (no epoch) continues the epoch in force, and its answer carries
    no field of a later version."""
    dev = tgt.new_device()
    dev.call("Register", register(NEW, epoch=2, device_id=dev.device_id))
    assert dev.call("ReportObservations", obs(1)).ack.status == ACC
    resp = register_over(tgt, dev, "grpc", register(["1.0"]))
    assert resp["negotiated_version"] == "1.0" and resp["last_acknowledged_sequence"] == "1"
    assert "sequence_epoch" not in resp
    with http_device(tgt, dev) as h:
        r = h.post("/v1/device/register", json=to_dict(register(["1.0"], device_id=dev.device_id)))
        assert r.status_code == 200 and "sequence_epoch" not in r.json()
        r = h.post("/v1/device/report-observations", json=to_dict(obs(2)))
        assert r.json()["ack"]["status"] == "ACK_STATUS_ACCEPTED"
    assert uploads(tgt, dev) == [(2, 1), (2, 2)]


# ---------------------------------------------------------------------------- ST-DATA-034 per negotiated version

SHA = "ab" * 32


@pytest.mark.parametrize("field", ["firmware_sha256", "sequence_epoch"])
def test_a_field_added_after_1_0_is_refused_under_1_0_on_both_transports(tgt: Target, field: str) -> None:
    dev = tgt.new_device(register=False)
    extra: dict[str, Any] = {"firmware_sha256": SHA} if field == "firmware_sha256" else {}
    req = register(["1.0"], epoch=1 if field == "sequence_epoch" else 0, device_id=dev.device_id, **extra)
    with pytest.raises(grpc.RpcError) as info:
        dev.call("Register", req)
    assert info.value.code() == grpc.StatusCode.INVALID_ARGUMENT and clauses_of(info.value) == {"ST-DATA-034"}
    with http_device(tgt, dev) as h:
        r = h.post("/v1/device/register", json=to_dict(req))
    assert r.status_code == 400 and "ST-DATA-034" in r.text and field in r.text
    assert not [d for d in tgt.inspect("devices") if d["device_id"] == dev.device_id and d["registered"]]
    req.ClearField("supported_versions")
    req.supported_versions.extend(NEW)  # the version that added the field: accepted
    assert dev.call("Register", req).negotiated_version == "1.1"
    with http_device(tgt, dev) as h:
        r = h.post("/v1/device/register", json=to_dict(req))
    assert r.status_code == 200 and r.json()["negotiated_version"] == "1.1"
    [row] = [d for d in tgt.inspect("devices") if d["device_id"] == dev.device_id]
    if field == "firmware_sha256":
        assert row["register_request"]["device"]["firmware_sha256"] == SHA


def _varint(n: int) -> bytes:
    out = b""
    while n >= 0x80:
        out += bytes([n & 0x7F | 0x80])
        n >>= 7
    return out + bytes([n])


def _field(number: int, payload: bytes) -> bytes:
    """A length-delimited protobuf field, encoded by hand (a number a decoder may not know)."""
    return _varint(number << 3 | 2) + _varint(len(payload)) + payload


def test_raw_protobuf_is_judged_by_field_number_against_the_negotiated_version(tgt: Target) -> None:
    """A raw Register whose DeviceIdentity carries field 9 (added after 1.0), via gRPC generic calls: refused under
    1.0, accepted under 1.1; a field number no version has is refused under either."""
    dev = tgt.new_device(register=False)
    call = dev.ch.unary_unary(
        "/santong.protocols.v1.DeviceAccessService/Register",
        request_serializer=None,
        response_deserializer=pb.RegisterResponse.FromString,
    )

    def raw(versions: list[str], device_field: bytes) -> bytes:
        req = register(versions, device_id=dev.device_id)
        device = req.device.SerializeToString() + device_field
        req.ClearField("device")
        return _field(1, device) + req.SerializeToString()

    nine = _field(9, SHA.encode())
    with pytest.raises(grpc.RpcError) as info:
        call(raw(["1.0"], nine), metadata=dev.metadata, timeout=10)
    assert info.value.code() == grpc.StatusCode.INVALID_ARGUMENT and clauses_of(info.value) == {"ST-DATA-034"}
    for versions in (["1.0"], NEW):
        with pytest.raises(grpc.RpcError) as info:
            call(raw(versions, _field(99, b"x")), metadata=dev.metadata, timeout=10)
        assert clauses_of(info.value) == {"ST-DATA-034"}
    assert call(raw(NEW, nine), metadata=dev.metadata, timeout=10).negotiated_version == "1.1"
