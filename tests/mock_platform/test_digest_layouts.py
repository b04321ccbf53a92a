"""The content digest (ST-PROTO-031) is one of the content, not of its encoding: the same batch in every layout a
parser accepts gives the same digest, and the digest is the one stored rows hold (pinned). On the platform: a
replay in another encoding is a DUPLICATE, other content a CONFLICT."""

from __future__ import annotations

import math

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from santong.mock_platform import Platform, PlatformConfig, PlatformError, samples
from santong.mock_platform._ingest import batch_bytes, content_digest, stored_batch_digest
from santong.protocols import default_limits
from santong.protocols.v1 import data_pb2
from santong.protocols.v1 import device_access_pb2 as pb
from wire_layouts import LAYOUTS, encode

NOW = 1_736_908_200_000
# content_digest of _golden() as stored rows hold it (commit 2c2c111): their replays must keep matching it.
GOLDEN_DIGEST = "42681eaba987a16fb04123207fc4542d"


def _golden() -> pb.StreamObservationsRequest:
    b = data_pb2.ObservationBatch(
        sequence=7, alias=[1, 2, 300], value=[0.5, 1.0, -2.25], time_offset_ms=[0, 1000, -500], status=[0, 8, 128],
        backfill=True,
    )  # fmt: skip
    b.base_time.FromMilliseconds(1736908198000)
    return pb.StreamObservationsRequest(batch=b)


def _digest(data: bytes) -> bytes:
    return content_digest(pb.StreamObservationsRequest.FromString(data))


def test_the_stored_digest_is_kept_in_every_layout() -> None:
    assert content_digest(_golden()).hex() == GOLDEN_DIGEST
    for layout in LAYOUTS:
        data = encode(
            7, 1736908198000, [1, 2, 300], [0.5, 1.0, -2.25], [0, 1000, -500], [0, 8, 128], True, layout
        )
        assert _digest(data).hex() == GOLDEN_DIGEST, layout


def test_the_digest_of_a_stored_batch_is_the_digest_of_its_upload() -> None:
    """Observation rows store no digest (STORED_BATCH): a replay check computes it from the batch stored as the
    device sent it, in whatever layout, and it must be the upload's."""
    for layout in LAYOUTS:
        data = encode(
            7, 1736908198000, [1, 2, 300], [0.5, 1.0, -2.25], [0, 1000, -500], [0, 8, 128], True, layout
        )
        stored = batch_bytes(data) or pb.StreamObservationsRequest.FromString(data).batch.SerializeToString()
        assert stored_batch_digest(stored).hex() == GOLDEN_DIGEST, layout
    other = encode(
        7, 1736908198000, [1, 2, 300], [0.5, 1.0, -2.5], [0, 1000, -500], [0, 8, 128], True, "canonical"
    )
    assert stored_batch_digest(batch_bytes(other) or b"").hex() != GOLDEN_DIGEST


@st.composite
def batches(draw: st.DrawFn) -> tuple:
    n = draw(st.integers(0, 10))
    aliases = [draw(st.sampled_from([1, 2, 127, 128, 300, 2**21, 2**28, 2**32 - 1])) for _ in range(n)]
    values = [draw(st.floats(allow_nan=True, allow_infinity=True, width=64)) for _ in range(n)]
    offsets = [
        draw(st.integers(-(2**31), 2**31 - 1) | st.sampled_from([0, -1, 63, -64, 64])) for _ in range(n)
    ]
    statuses = [draw(st.sampled_from([0, 8, 127, 128, 300, 2**32 - 1])) for _ in range(n)]
    base = draw(st.sampled_from([NOW, NOW + 1, None, 0, -1000, 1000]))
    return base, aliases, values, offsets, statuses, draw(st.sampled_from(LAYOUTS))


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(batches(), st.integers(0, 2**64 - 1), st.booleans())
def test_the_same_content_in_any_layout_has_one_digest(case: tuple, seq: int, backfill: bool) -> None:
    base, aliases, values, offsets, statuses, layout = case
    want = _digest(encode(1, base, aliases, values, offsets, statuses, False, "canonical"))
    assert _digest(encode(seq, base, aliases, values, offsets, statuses, backfill, layout)) == want


def test_a_nan_payload_is_content() -> None:
    """Two NaNs with other bits are other content."""
    a = encode(5, NOW, [1], [math.nan], [0], [0], False, "canonical")
    i = a.index(b"\x22\x08") + 2
    b = a[:i] + bytes([a[i] ^ 1]) + a[i + 1 :]
    assert _digest(a) != _digest(b)


async def test_a_replay_in_another_encoding_is_a_duplicate_other_content_a_conflict() -> None:
    limits = default_limits()
    limits.max_uploads_per_second = 0
    async with Platform(PlatformConfig(limits=limits, devices={"W-1": "tok"})) as p:
        kw = {"device_id": "W-1", "token": "Bearer tok"}
        await p.call("Register", samples.register_request("W-1"), **kw)
        await p.call("DefinePoints", samples.define_points_request(), **kw)
        dev = await p.open_stream("StreamObservations", **kw)
        cols = ([1, 2], [0.5, 1.5], [0, 100], [0, 0])
        base = p.now_ms() - 1000

        async def send(layout: str, values: list[float] | None = None) -> int:
            data = encode(9, base, cols[0], values or cols[1], cols[2], cols[3], False, layout)
            resp = await (await p.stream_submit_bytes(data, device=dev))
            assert resp is not None
            return resp.ack.status

        assert await send("canonical") == pb.ACK_STATUS_ACCEPTED
        for layout in ("sequence last", "unpacked status", "non-minimal varint", "columns swapped"):
            assert await send(layout) == pb.ACK_STATUS_DUPLICATE, layout
        assert await send("sequence last", [0.5, 1.25]) == pb.ACK_STATUS_CONFLICT
        assert await send("unpacked status", [0.25, 1.5]) == pb.ACK_STATUS_CONFLICT


async def test_a_unary_upload_is_judged_and_stored_as_sent() -> None:
    """ReportObservations as bytes (call_bytes, as gRPC and protobuf-over-HTTP deliver it): the batch stored is
    the one received, a replay in another encoding is a DUPLICATE, other content ALREADY_EXISTS, a bad batch the
    same violations as the parsed message gets."""
    limits = default_limits()
    limits.max_uploads_per_second = 0
    async with Platform(PlatformConfig(limits=limits, devices={"W-2": "tok"})) as p:
        kw = {"device_id": "W-2", "token": "Bearer tok"}
        await p.call("Register", samples.register_request("W-2"), **kw)
        await p.call("DefinePoints", samples.define_points_request(), **kw)
        base = p.now_ms() - 1000
        first = encode(3, base, [1, 2], [0.5, 1.5], [0, 100], [0, 0], False, "sequence last")
        resp = await p.call_bytes("ReportObservations", first, **kw)
        assert resp.ack.status == pb.ACK_STATUS_ACCEPTED  # type: ignore[attr-defined]
        stored = await p.store.read(lambda c: c.execute("SELECT batch FROM observation_batches").fetchall())
        assert [bytes(r[0]) for r in stored] == [first[2:]]  # one length byte: the batch as received
        again = encode(3, base, [1, 2], [0.5, 1.5], [0, 100], [0, 0], True, "unpacked status")
        resp = await p.call_bytes("ReportObservations", again, **kw)
        assert resp.ack.status == pb.ACK_STATUS_DUPLICATE  # type: ignore[attr-defined]
        other = encode(3, base, [1, 2], [0.5, 1.25], [0, 100], [0, 0], False, "canonical")
        with pytest.raises(PlatformError) as e:
            await p.call_bytes("ReportObservations", other, **kw)
        assert e.value.code == "ALREADY_EXISTS"
        bad = encode(4, base, [1, 77], [0.5, 1.5], [0, 100], [0, 300], False, "canonical")
        with pytest.raises(PlatformError) as e:
            await p.call_bytes("ReportObservations", bad, **kw)
        assert sorted(v.clause_id for v in e.value.violations) == ["ST-DATA-020", "ST-IFACE-004"]
