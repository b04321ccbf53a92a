"""The content digest (ST-PROTO-031) hashed from the stream message's own bytes when they are the deterministic
encoding, re-encoded otherwise: the same digest either way, in every layout a parser accepts, and the same digest
as before this path existed (stored rows keep matching their replays). On the platform: a replay in another
encoding is a DUPLICATE, other content a CONFLICT."""

from __future__ import annotations

import math

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from santong.mock_platform import Platform, PlatformConfig, samples
from santong.mock_platform._ingest import _canonical_pieces, content_digest
from santong.protocols import batch_wire, default_limits
from santong.protocols.v1 import data_pb2
from santong.protocols.v1 import device_access_pb2 as pb
from wire_layouts import LAYOUTS, encode

NOW = 1_736_908_200_000
# content_digest of GOLDEN as computed before the digest could be read from the wire (commit 2c2c111): rows stored
# then hold it, and their replays must still match it.
GOLDEN_DIGEST = "42681eaba987a16fb04123207fc4542d"


def _golden() -> pb.StreamObservationsRequest:
    b = data_pb2.ObservationBatch(
        sequence=7, alias=[1, 2, 300], value=[0.5, 1.0, -2.25], time_offset_ms=[0, 1000, -500], status=[0, 8, 128],
        backfill=True,
    )  # fmt: skip
    b.base_time.FromMilliseconds(1736908198000)
    return pb.StreamObservationsRequest(batch=b)


def test_the_digest_of_before_is_kept() -> None:
    req = _golden()
    data = req.SerializeToString()
    wire = batch_wire(data)
    assert wire is not None and _canonical_pieces(req.batch, wire) is not None  # hashed from the bytes
    assert content_digest(req, wire).hex() == GOLDEN_DIGEST
    assert content_digest(req).hex() == GOLDEN_DIGEST
    seq_last = encode(
        7, 1736908198000, [1, 2, 300], [0.5, 1.0, -2.25], [0, 1000, -500], [0, 8, 128], True, "sequence last"
    )
    assert content_digest(req, batch_wire(seq_last)).hex() == GOLDEN_DIGEST


def _digests(data: bytes) -> tuple[bytes, bytes, bool]:
    req = pb.StreamObservationsRequest.FromString(data)
    wire = batch_wire(data)
    fast = wire is not None and _canonical_pieces(req.batch, wire) is not None
    return content_digest(req), content_digest(req, wire), fast


def test_which_layouts_are_hashed_as_they_are() -> None:
    args = (5, NOW, [1, 2, 300], [0.5, math.nan, -0.0], [0, 1000, -500], [0, 8, 128], False)
    fast = {}
    for layout in LAYOUTS:
        plain, by_wire, fast[layout] = _digests(encode(*args, layout))
        assert plain == by_wire, layout
    assert fast == {
        "canonical": True, "sequence last": True, "explicit defaults": True,  # sequence and backfill are left out
        "empty columns": True,  # none is empty here
        "non-minimal varint": False, "over-long alias": False, "unpacked status": False, "split alias": False,
        "columns swapped": False,
    }  # fmt: skip
    plain, by_wire, fast_empty = _digests(encode(5, NOW, [], [], [], [], False, "empty columns"))
    assert (
        plain == by_wire and not fast_empty
    )  # an empty packed column is omitted from the canonical encoding


@st.composite
def batches(draw: st.DrawFn) -> bytes:
    n = draw(st.integers(0, 10))
    aliases = [draw(st.sampled_from([1, 2, 127, 128, 300, 2**21, 2**28, 2**32 - 1])) for _ in range(n)]
    values = [draw(st.floats(allow_nan=True, allow_infinity=True, width=64)) for _ in range(n)]
    offsets = [
        draw(st.integers(-(2**31), 2**31 - 1) | st.sampled_from([0, -1, 63, -64, 64])) for _ in range(n)
    ]
    statuses = [draw(st.sampled_from([0, 8, 127, 128, 300, 2**32 - 1])) for _ in range(n)]
    base = draw(st.sampled_from([NOW, NOW + 1, None, 0, -1000, 1000]))
    layout = draw(st.sampled_from(LAYOUTS))
    return encode(
        draw(st.integers(0, 2**64 - 1)), base, aliases, values, offsets, statuses, draw(st.booleans()), layout
    )


@settings(max_examples=400, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(batches())
def test_the_same_digest_from_the_bytes(data: bytes) -> None:
    plain, by_wire, _ = _digests(data)
    assert by_wire == plain


def test_a_nan_payload_is_content() -> None:
    """Two NaNs with other bits are other content, from the bytes as from the re-encoding."""
    a = encode(5, NOW, [1], [math.nan], [0], [0], False, "canonical")
    i = a.index(b"\x22\x08") + 2
    b = a[:i] + bytes([a[i] ^ 1]) + a[i + 1 :]
    da, db = _digests(a), _digests(b)
    assert da[2] and db[2] and da[0] == da[1] and db[0] == db[1] and da[0] != db[0]


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
