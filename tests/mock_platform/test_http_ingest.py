"""The hot path of the HTTP/JSON transport (an observation upload), over a real server on 127.0.0.1: the core
validates a JSON upload from its protobuf encoding (column facts and the device's remembered columns), and what it
remembers never accepts a batch it would reject when judged alone."""

from __future__ import annotations

import asyncio
import re
from typing import Any

import httpx
import pytest
from google.protobuf.timestamp_pb2 import Timestamp
from hypothesis import given, settings
from hypothesis import strategies as st
from mpclient import Target
from santong.mock_platform import samples
from santong.mock_platform._http_json import send_json, timestamp_json
from santong.mock_platform._http_request import Head, read_body
from santong.mock_platform._http_server import HttpServer
from santong.mock_platform.embedded import BackgroundMockPlatform
from santong.protocols.v1 import device_access_pb2 as pb
from st_waiting import wait_for
from test_http import Api, HttpDevice, api, bg, fails, grpc_target  # noqa: F401  (api, bg, grpc_target: fixtures)


def _report(dev: HttpDevice, aliases: list[int], **kw: Any) -> httpx.Response:
    batch = samples.observation_batch(dev.next_seq(), aliases, **kw)
    return dev.post("report-observations", pb.ReportObservationsRequest(batch=batch))


def test_json_upload_is_validated_from_its_encoding(api: Api, bg: BackgroundMockPlatform) -> None:  # noqa: F811
    """An accepted JSON upload reached the core with its encoding: the device's alias and offset columns are
    remembered as encoded (as for protobuf uploads), and the stored batch is the upload's batch."""
    dev = api.new_device()
    offsets = [0, 100, 200, 300]
    r = _report(dev, [1, 2, 3, 4], offsets=offsets)
    assert r.status_code == 200, r.text
    state = bg.platform.devices[dev.device_id].state
    assert state.alias_memo is not None and state.offset_memo is not None
    assert state.offset_memo[1] == offsets
    (stored,) = api.inspect("batches", device_id=dev.device_id)
    assert stored["n_points"] == 4 and stored["sequence"] == 1


@pytest.mark.parametrize(
    ("aliases", "kw", "clause"),
    [
        ([1, 2, 3, 9], {}, "ST-IFACE-004"),  # an undefined alias after an all-defined column was remembered
        ([1, 2, 3, 4], {"values": [0.5, 0.5, 0.5, 0.5]}, "ST-DATA-019"),  # switch 4 neither 0 nor 1
        ([1, 2, 3, 4], {"values": [9.0, 0.5, 0.5, 1.0]}, "ST-DATA-021"),  # over its point's range (a warning)
        ([1, 2, 3, 4], {"status": [0, 0, 0, 256]}, "ST-DATA-020"),  # a status with undefined bits
        ([1, 2, 3, 4], {"offsets": [0, 100, 200, 10**9]}, "ST-DATA-031"),  # far ahead of the platform clock
    ],
)
def test_remembered_columns_never_accept_a_bad_batch(
    api: Api,  # noqa: F811
    aliases: list[int],
    kw: dict[str, Any],
    clause: str,
) -> None:
    """A good batch, then a bad one sharing its columns where it can: judged with its clause (rejected, nothing
    stored; a warning is acknowledged with it); then a good one again is accepted without violations."""
    dev = api.new_device()
    good = {"offsets": [0, 100, 200, 300]}
    assert _report(dev, [1, 2, 3, 4], **good).json()["ack"].get("violations") is None
    r = _report(dev, aliases, **{**good, **kw})
    warning = clause == "ST-DATA-021"
    if warning:
        assert r.status_code == 200 and clause in {v["clause_id"] for v in r.json()["ack"]["violations"]}
    else:
        assert clause in fails(r, 400)
    assert _report(dev, [1, 2, 3, 4], **good).json()["ack"].get("violations") is None
    assert api.inspect("counts", device_id=dev.device_id)["uploads"] == 2 + warning


class _HashCount:
    """Counts the platform's token hashes (Credentials.matches, the real one called through)."""

    def __init__(self, platform: BackgroundMockPlatform) -> None:
        self.creds = platform.platform.credentials
        self.tokens: list[str] = []
        self.real = self.creds.matches

    def __enter__(self) -> list[str]:
        def counted(token: str, expected: bytes | None, *, legacy: bool = False) -> bool:
            self.tokens.append(token)
            return self.real(token, expected, legacy=legacy)

        self.creds.matches = counted  # type: ignore[method-assign]
        return self.tokens

    def __exit__(self, *exc: object) -> None:
        del self.creds.matches


@pytest.mark.parametrize("transport", ["http", "grpc"])
def test_credentials_are_checked_once_per_call(
    api: Api,  # noqa: F811
    bg: BackgroundMockPlatform,  # noqa: F811
    grpc_target: Target,  # noqa: F811
    transport: str,
) -> None:
    """The pre-read gate authenticates a unary call (ST-PROTO-033) and the pre-flight takes the device it found:
    one token hash for a call (over HTTP, on a new connection); wrong credentials are still refused before the
    body is read."""
    dev: Any = api.new_device() if transport == "http" else grpc_target.new_device()
    if transport == "http":
        dev.api = Api(api.url, bg.inspection_token)  # a connection of its own
    try:
        with _HashCount(bg) as hashed:
            if transport == "http":
                assert _report(dev, [1, 2, 3, 4]).status_code == 200
            else:
                batch = samples.observation_batch(1, [1, 2, 3, 4])
                dev.call("ReportObservations", pb.ReportObservationsRequest(batch=batch))
            assert hashed == [dev.token]
        if transport == "http":
            dev.token = "wrong"
            assert "ST-PROTO-002" in fails(_report(dev, [1, 2, 3, 4]), 401)
    finally:
        if transport == "http":
            dev.api.close()


def test_a_connection_remembers_the_credentials_it_authenticated(
    api: Api,  # noqa: F811
    bg: BackgroundMockPlatform,  # noqa: F811
) -> None:
    """On one keep-alive connection the credentials authenticated last are not hashed again while the device and
    its token are the same; another token, another device or new credentials for the device are checked (and a
    token that is no longer the device's is refused, ST-PROTO-002)."""
    dev = api.new_device()
    other = api.new_device()
    conn = Api(api.url, bg.inspection_token)
    dev.api = other.api = conn
    try:
        with _HashCount(bg) as hashed:
            for _ in range(3):
                assert _report(dev, [1, 2, 3, 4]).status_code == 200
            assert hashed == [dev.token]
            assert _report(other, [1, 2, 3, 4]).status_code == 200  # another device: checked
            assert _report(dev, [1, 2, 3, 4]).status_code == 200  # the one remembered is the last
            assert hashed == [dev.token, other.token, dev.token]
            right = dev.token
            dev.token = right + "x"  # another token on the connection: checked, refused
            assert "ST-PROTO-002" in fails(_report(dev, [1, 2, 3, 4]), 401)
            dev.token = right
            assert _report(dev, [1, 2, 3, 4]).status_code == 200
            assert hashed[-2:] == [right + "x", right]
            api.inspect("add_device", device_id=dev.device_id, token="renewed-" + right)  # new credentials
            assert "ST-PROTO-002" in fails(_report(dev, [1, 2, 3, 4]), 401)
            assert hashed[-1] == right
            dev.token = "renewed-" + right
            assert _report(dev, [1, 2, 3, 4]).status_code == 200
    finally:
        conn.close()


def test_device_routes_are_found_by_their_exact_path(api: Api) -> None:  # noqa: F811
    """The device RPCs are looked up by path before Starlette's router; every other request still meets it: another
    method (405), a trailing slash (redirected), an unknown path (404), all as google.rpc.Status JSON or a redirect."""
    dev = api.new_device()
    assert _report(dev, [1, 2, 3, 4]).status_code == 200
    assert fails(api.client.get("/v1/device/report-observations"), 405) == set()
    assert fails(api.client.post("/v1/device/report-observation", json={}), 404) == set()
    r = api.client.post("/v1/device/heartbeat/", json={}, headers=dev.headers)
    assert r.status_code == 307 and r.headers["location"].endswith("/v1/device/heartbeat")


@settings(max_examples=400, deadline=None)
@given(
    st.one_of(
        st.integers(-62_135_596_800, 253_402_300_799),
        st.integers(1_700_000_000, 1_700_000_003),
        st.integers(),
    ),
    st.one_of(
        st.sampled_from([0, 1, 999, 1000, 1_000_000, 999_000_000, 999_999_999, 1_000_000_000, -1]),
        st.integers(0, 999_999_999).map(lambda n: n - n % 1_000_000),
        st.integers(-(2**31), 2**31 - 1),
    ),
)
def test_acknowledgement_times_are_written_as_to_json_string_writes_them(seconds: int, nanos: int) -> None:
    """The hot path's server_time text (timestamp_json): ToJsonString's text, or its refusal out of range."""
    ts = Timestamp()
    try:
        ts.seconds, ts.nanos = seconds, nanos
    except ValueError:  # beyond int64 / int32
        return
    try:
        want = ts.ToJsonString()
    except ValueError as e:
        with pytest.raises(ValueError, match=re.escape(str(e))):
            timestamp_json(ts)
        return
    assert timestamp_json(ts) == want
    assert timestamp_json(ts) == want  # remembered second


async def test_a_body_that_came_with_its_head_is_read_without_a_deadline() -> None:
    """The guarded protocol marks a request whose whole body has arrived (``Head.body_complete``), and read_body
    reads it without setting a deadline; a body still on its way is read under the deadline, as before."""
    seen: list[bool] = []

    async def app(scope: Any, receive: Any, send: Any) -> None:
        head = Head(scope)
        seen.append(head.body_complete)
        body = await read_body(receive, 1000, head.content_length, 10.0, complete=head.body_complete)
        await send_json(send, 200, body)

    server = HttpServer(app)
    port = await server.start()
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    try:
        request = b"POST /x HTTP/1.1\r\nhost: h\r\ncontent-length: 5\r\n\r\n"
        writer.write(request + b"hello")
        assert await reader.readuntil(b"\r\n\r\n") and await reader.readexactly(5) == b"hello"
        assert seen == [True]
        writer.write(request)  # the body later, once the app reads
        await wait_for(lambda: len(seen) == 2, what="the second request reaches the app")
        writer.write(b"world")
        assert await reader.readuntil(b"\r\n\r\n") and await reader.readexactly(5) == b"world"
        assert seen == [True, False]
    finally:
        writer.close()
        await server.stop()
