"""hypothesis against every gRPC method: random bytes and random schema-shaped messages.

Never an INTERNAL or UNKNOWN status, the server alive afterwards, and no point acknowledged and then missing from
the store.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import grpc
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from mpclient import Device, Target
from protostrategies import messages
from santong.mock_platform import samples
from santong.protocols.v1 import device_access_pb2 as pb

TARGET_KINDS = ["embedded", "process"]
UNARY = {
    "DeviceAccessService": {
        "Register": "RegisterRequest",
        "DefinePoints": "DefinePointsRequest",
        "ReportObservations": "ReportObservationsRequest",
        "ReportAlarms": "ReportAlarmsRequest",
        "ReportOutstationStatus": "ReportOutstationStatusRequest",
        "ReportStatistics": "ReportStatisticsRequest",
        "DefinePositioning": "DefinePositioningRequest",
        "ReportPersonnel": "ReportPersonnelRequest",
        "Heartbeat": "HeartbeatRequest",
    },
    "PlatformService": {"GetPlatformInfo": "GetPlatformInfoRequest"},
}
STREAMS = {"StreamObservations": "StreamObservationsRequest", "Commands": "CommandsRequest"}
METHODS = [(svc, m, req) for svc, ms in UNARY.items() for m, req in ms.items()]
BAD = {grpc.StatusCode.INTERNAL, grpc.StatusCode.UNKNOWN}
FUZZ = settings(max_examples=25, deadline=None, suppress_health_check=list(HealthCheck))


@pytest.fixture(scope="module")
def fuzz_device(platform_target: Target) -> Iterator[Device]:
    """A registered device with the reference points and positioning defined."""
    dev = platform_target.new_device()
    dev.call("DefinePositioning", samples.positioning_request())
    yield dev
    info = platform_target.platform_info()  # the server is alive after the fuzzing
    assert info.spec_version


def _unary(dev: Device, service: str, method: str) -> Any:
    return dev.ch.unary_unary(
        f"/santong.protocols.v1.{service}/{method}", request_serializer=None, response_deserializer=None
    )


def _check_acks(target: Target, dev: Device, acks: list[pb.Ack], kind: str) -> None:
    """Every ACCEPTED or DUPLICATE upload is stored, with as many records as it was acknowledged for."""
    good = [a for a in acks if a.status in (pb.ACK_STATUS_ACCEPTED, pb.ACK_STATUS_DUPLICATE)]
    if not good:
        return
    stored = {u["sequence"]: u["n_records"] for u in target.inspect("uploads", device_id=dev.device_id)}
    for a in good:
        assert stored.get(a.sequence) == a.accepted, (kind, a)


def _stream_acks(dev: Device, raws: list[bytes]) -> list[pb.Ack] | None:
    """The Acks of one StreamObservations call sending raws (one per message), None when the call ended with a
    status (never INTERNAL or UNKNOWN)."""
    call = dev.ch.stream_stream("/santong.protocols.v1.DeviceAccessService/StreamObservations", request_serializer=None,
                                response_deserializer=pb.StreamObservationsResponse.FromString)  # fmt: skip
    try:
        acks = [r.ack for r in call(iter(raws), metadata=dev.metadata, timeout=10)]
    except grpc.RpcError as e:
        assert e.code() not in BAD, e.details()
        return None
    assert len(acks) == len(raws)
    return acks


def _call(target: Target, dev: Device, service: str, method: str, raw: bytes) -> None:
    try:
        out = _unary(dev, service, method)(raw, metadata=dev.metadata, timeout=10)
    except grpc.RpcError as e:
        assert e.code() not in BAD, (method, e.code(), e.details())
        return
    if method.startswith("Report"):
        resp = getattr(pb, f"{method}Response").FromString(out)
        _check_acks(target, dev, [resp.ack], method)


@pytest.mark.parametrize(("service", "method", "request_name"), METHODS, ids=[m for _, m, _ in METHODS])
@FUZZ
@given(raw=st.binary(max_size=200))
def test_random_bytes(
    platform_target: Target, fuzz_device: Device, service: str, method: str, request_name: str, raw: bytes
) -> None:
    _call(platform_target, fuzz_device, service, method, raw)


@pytest.mark.parametrize(("service", "method", "request_name"), METHODS, ids=[m for _, m, _ in METHODS])
@FUZZ
@given(data=st.data())
def test_random_messages(
    platform_target: Target,
    fuzz_device: Device,
    service: str,
    method: str,
    request_name: str,
    data: st.DataObject,
) -> None:
    msg = data.draw(messages(request_name))
    _call(platform_target, fuzz_device, service, method, msg.SerializeToString())


# Batches close to valid (defined aliases, in-range values, times near now), so that many are accepted.
NEAR_VALID = st.builds(
    lambda seq, aliases, backfill, off: samples.observation_batch(
        seq, aliases, offsets=[off] * len(aliases), backfill=backfill
    ),
    st.integers(min_value=0, max_value=2**64 - 1) | st.integers(min_value=1, max_value=400),
    st.lists(st.sampled_from([1, 2, 3, 4, 5]), min_size=0, max_size=20),
    st.booleans(),
    st.integers(min_value=-400_000, max_value=10_000),
)


@FUZZ
@given(
    batches=st.lists(NEAR_VALID | messages("ObservationBatch"), min_size=1, max_size=6),
    garbage=st.lists(st.binary(max_size=40), max_size=2),
)
def test_random_streams(
    platform_target: Target, fuzz_device: Device, batches: list[Any], garbage: list[bytes]
) -> None:
    """StreamObservations with near-valid, random and undecodable messages: an Ack per message, never a crash."""
    raws = [pb.StreamObservationsRequest(batch=b).SerializeToString() for b in batches] + garbage
    acks = _stream_acks(fuzz_device, raws)
    if acks is None:
        return
    _check_acks(platform_target, fuzz_device, acks, "stream")


@FUZZ
@given(
    raws=st.lists(
        st.binary(max_size=60) | messages("CommandsRequest").map(lambda m: m.SerializeToString()), max_size=4
    )
)
def test_random_command_results(platform_target: Target, fuzz_device: Device, raws: list[bytes]) -> None:
    call = fuzz_device.ch.stream_stream(
        "/santong.protocols.v1.DeviceAccessService/Commands",
        request_serializer=None,
        response_deserializer=None,
    )
    try:
        list(call(iter(raws), metadata=fuzz_device.metadata, timeout=10))
    except grpc.RpcError as e:
        assert e.code() not in BAD, e.details()


@FUZZ
@given(method=st.text(max_size=20), raw=st.binary(max_size=50))
def test_unknown_methods(platform_target: Target, fuzz_device: Device, method: str, raw: bytes) -> None:
    try:
        fuzz_device.ch.unary_unary(
            f"/santong.protocols.v1.DeviceAccessService/X{method}",
            request_serializer=None,
            response_deserializer=None,
        )(raw, timeout=5)
    except grpc.RpcError as e:
        assert e.code() == grpc.StatusCode.UNIMPLEMENTED
    except (ValueError, UnicodeEncodeError):
        pass  # not a valid HTTP/2 path: the client refuses before sending


@FUZZ
@given(
    edits=st.lists(
        st.tuples(
            st.integers(min_value=0, max_value=200),
            st.sampled_from(["flip", "insert", "delete"]),
            st.binary(min_size=1, max_size=3),
        ),
        min_size=1,
        max_size=4,
    ),
    values=st.lists(st.floats(allow_nan=True, allow_infinity=True, width=64), min_size=3, max_size=3),
)
def test_streams_of_a_steady_batch_and_its_mutants(
    platform_target: Target, fuzz_device: Device, edits: list[tuple[int, str, bytes]], values: list[float]
) -> None:
    """The batch judged from its encoding (its columns those of the batch before): a steady batch, then copies of
    it with bytes flipped, inserted or deleted, each followed by the steady batch again. An Ack per message, never
    a crash; what is acknowledged is stored with its count, and a stored batch holds the values sent."""
    seq = fuzz_device.seq = fuzz_device.seq + 100  # sequences of their own, above every other test's
    steady = []
    for i in range(len(edits) + 1):
        b = samples.observation_batch(
            seq + 2 * i, [1, 2, 3], [0.5, 0.6, values[i % 3]], offsets=[0, 100, 200]
        )
        steady.append(pb.StreamObservationsRequest(batch=b).SerializeToString())
    raws = [steady[0]]
    for i, (at, how, blob) in enumerate(edits):
        m = bytearray(steady[i])
        k = at % len(m)
        if how == "flip":
            m[k] ^= blob[0] or 1
        elif how == "insert":
            m[k:k] = blob
        else:
            del m[k : k + len(blob)]
        raws += [bytes(m), steady[i + 1]]
    acks = _stream_acks(fuzz_device, raws)
    if acks is None:
        return
    fuzz_device.seq = max([fuzz_device.seq, *(a.sequence for a in acks if a.sequence < 2**62)])
    _check_acks(platform_target, fuzz_device, acks, "steady stream")
    accepted = {a.sequence for a in acks if a.status == pb.ACK_STATUS_ACCEPTED}
    sent: dict[int, list[float]] = {}
    for raw, a in zip(raws, acks, strict=True):
        if a.status == pb.ACK_STATUS_ACCEPTED and a.sequence in accepted:
            sent[a.sequence] = list(pb.StreamObservationsRequest.FromString(raw).batch.value)
    rows = platform_target.inspect("observations", device_id=fuzz_device.device_id)
    stored: dict[int, list[float]] = {}
    for r in sorted(rows, key=lambda r: (r["sequence"], r.get("index", 0))):
        if r["sequence"] in sent:
            stored.setdefault(r["sequence"], []).append(r["value"])
    for s, vals in sent.items():
        assert _same(stored.get(s, []), vals), (s, stored.get(s), vals)


def _same(a: list[Any], b: list[float]) -> bool:
    """Equal value lists, NaN equal to NaN (inspection may give NaN as a string or None)."""
    import math  # noqa: PLC0415

    def norm(x: Any) -> Any:
        return "nan" if x is None or (isinstance(x, float) and math.isnan(x)) or x == "NaN" else x

    return [norm(x) for x in a] == [norm(x) for x in b]
