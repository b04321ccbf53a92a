"""The HTTP/JSON transport against raw sockets: wrong content types, invalid UTF-8, oversize bodies (declared and
chunked), oversize heads, slow-loris heads, stalled bodies, abrupt disconnects. The server keeps serving others and
never answers 5xx."""

from __future__ import annotations

import contextlib
import json
import socket
import sys
import threading
import time
import weakref
from collections.abc import Iterator
from typing import Any

import pytest
from santong.mock_platform._http import HttpServer, create_app
from santong.mock_platform.embedded import BackgroundMockPlatform
from santong.protocols import to_dict
from santong.protocols.v1 import device_access_pb2 as pb
from st_waiting import wait_until
from test_http import Api, HttpDevice, bg  # noqa: F401  (bg: the module's platform fixture)

HEAD_TIMEOUT_S = 1.0
BODY_TIMEOUT_S = 1.0
LIMIT = 4 * 1024 * 1024


class Server:
    """A second HTTP listener of the module's platform, with short head and body deadlines."""

    def __init__(self, platform: BackgroundMockPlatform) -> None:
        self.bg = platform
        self.http = HttpServer(
            create_app(platform.platform, body_timeout_s=BODY_TIMEOUT_S),
            header_timeout_s=HEAD_TIMEOUT_S,
            linger_s=1.0,
        )
        self.port: int = platform.run(self.http.start())
        self.api = Api(f"http://127.0.0.1:{self.port}", platform.inspection_token)

    def connect(self) -> socket.socket:
        return socket.create_connection(("127.0.0.1", self.port), timeout=10)

    def in_flight(self) -> int:
        """Requests the server is handling now (uvicorn's request tasks: from a complete head to the answer)."""
        return len(self.http._server.server_state.tasks)

    def stop(self) -> None:
        self.api.close()
        self.bg.run(self.http.stop())


@pytest.fixture(scope="module")
def server(bg: BackgroundMockPlatform) -> Iterator[Server]:  # noqa: F811
    s = Server(bg)
    yield s
    s.stop()


@pytest.fixture
def dev(server: Server) -> HttpDevice:
    return server.api.new_device()


def head(method: str, path: str, headers: dict[str, str]) -> bytes:
    lines = [f"{method} {path} HTTP/1.1", "host: 127.0.0.1", *(f"{k}: {v}" for k, v in headers.items())]
    return ("\r\n".join(lines) + "\r\n\r\n").encode("latin-1")


_LEFTOVER: weakref.WeakKeyDictionary[socket.socket, bytes] = weakref.WeakKeyDictionary()


def read_response(sock: socket.socket, timeout: float = 10.0) -> tuple[int, dict[str, str], bytes]:
    """Read one HTTP/1.1 response (content-length framed); bytes of the next one are kept for the next call."""
    sock.settimeout(timeout)
    buf = _LEFTOVER.pop(sock, b"")
    while b"\r\n\r\n" not in buf:
        chunk = sock.recv(65536)
        if not chunk:
            raise ConnectionError(f"closed before a response: {buf!r}")
        buf += chunk
    top, rest = buf.split(b"\r\n\r\n", 1)
    lines = top.decode("latin-1").split("\r\n")
    status = int(lines[0].split()[1])
    headers = {k.strip().lower(): v.strip() for k, v in (line.split(":", 1) for line in lines[1:])}
    length = int(headers.get("content-length", "0"))
    while len(rest) < length:
        chunk = sock.recv(65536)
        if not chunk:
            break
        rest += chunk
    if rest[length:]:
        _LEFTOVER[sock] = rest[length:]
    return status, headers, rest[:length]


def closed_within(sock: socket.socket, seconds: float) -> bool:
    """True when the peer closes the connection (EOF or reset) within `seconds`, whatever it sends first."""
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        sock.settimeout(max(0.01, deadline - time.monotonic()))
        try:
            if not sock.recv(65536):
                return True
        except TimeoutError:
            return False
        except ConnectionError:
            return True
    return False


def clause_ids(body: bytes) -> set[str]:
    doc = json.loads(body)
    return {v["reason"] for d in doc.get("details", []) for v in d.get("fieldViolations", [])}


def post(
    sock: socket.socket,
    dev: HttpDevice,
    slug: str,
    body: bytes,
    content_type: str = "application/json",
    **extra: str,
) -> None:
    headers = {**dev.headers, "content-type": content_type, "content-length": str(len(body)), **extra}
    sock.sendall(head("POST", f"/v1/device/{slug}", headers) + body)


def still_serving(server: Server) -> None:
    assert server.api.client.get("/v1/platform/info").status_code == 200


# --------------------------------------------------------------------------- the listening socket


def test_accepted_connections_have_tcp_nodelay(server: Server) -> None:
    """Every accepted connection has TCP_NODELAY, on the standard asyncio loop too (which sets it only on sockets
    made with IPPROTO_TCP): with Nagle on, each answer would wait for the client's delayed ACK (≈ 40 ms)."""

    async def flags() -> list[int]:
        out = []
        for conn in list(server.http._server.server_state.connections):
            sock = conn.transport.get_extra_info("socket")  # type: ignore[attr-defined]
            out.append(sock.getsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY))
        return out

    with server.connect() as s:
        s.sendall(head("GET", "/v1/platform/info", {}))
        assert read_response(s)[0] == 200
        wait_until(lambda: server.bg.run(flags()), timeout=10, what="the connection is accepted")
        got = server.bg.run(flags())
        assert got and all(got), f"TCP_NODELAY off on accepted connections: {got}"


_TCPI_SEGS_OUT = 136  # offset of tcpi_segs_out (u32) in Linux's struct tcp_info (kernel 4.2 and later)


@pytest.mark.skipif(not hasattr(socket, "TCP_INFO"), reason="TCP_INFO is Linux's")
def test_an_answer_is_one_segment(server: Server) -> None:
    """A response's head and body leave in one send: one TCP segment per answer on the server's socket (the ACK of
    the request rides on it), not two (uvicorn writes the head and the body apart; with TCP_NODELAY each write is a
    segment and a wake-up of the client)."""

    async def segments_out() -> int:
        conns = server.http._server.server_state.connections
        sock = next(
            c.transport.get_extra_info("socket")  # type: ignore[attr-defined]
            for c in conns
            if c.transport.get_extra_info("peername")[1] == s.getsockname()[1]  # type: ignore[attr-defined]
        )
        info = sock.getsockopt(socket.IPPROTO_TCP, socket.TCP_INFO, 256)
        return int.from_bytes(info[_TCPI_SEGS_OUT : _TCPI_SEGS_OUT + 4], sys.byteorder)

    def answers(n: int) -> None:
        for _ in range(n):
            s.sendall(head("GET", "/v1/platform/info", {}))
            status, _, body = read_response(s)
            assert status == 200 and body

    with server.connect() as s:
        answers(40)  # past the quick ACKs of a new connection
        before = server.bg.run(segments_out())
        answers(40)
        sent = server.bg.run(segments_out()) - before
    assert sent < 50, f"{sent} segments for 40 answers"


# --------------------------------------------------------------------------- content type and encoding


def test_wrong_content_type_then_close(server: Server, dev: HttpDevice) -> None:
    """ST-IFACE-009 on the wire: 415 with the clause, the connection closes cleanly (no reset before the answer)."""
    with server.connect() as s:
        post(s, dev, "heartbeat", b"device_time=now", "application/x-www-form-urlencoded")
        status, headers, body = read_response(s)
        assert status == 415 and headers["connection"] == "close" and clause_ids(body) == {"ST-IFACE-009"}
        assert closed_within(s, 3)


def test_invalid_utf8_keeps_the_connection(server: Server, dev: HttpDevice) -> None:
    """Invalid UTF-8 → 400 ST-DATA-036; the keep-alive connection serves the next request."""
    with server.connect() as s:
        post(s, dev, "heartbeat", b'{"device_time": "\xc3\x28"}')
        status, _, body = read_response(s)
        assert status == 400 and clause_ids(body) == {"ST-DATA-036"}
        s.sendall(head("GET", "/v1/platform/info", {}))
        assert read_response(s)[0] == 200


@pytest.mark.parametrize(
    "body",
    [
        b'{"batch": {"sequence": "1", "sequence": "2", "alias": [1], "value": [0.1], "time_offset_ms": [0], "status": [0]}}',
        b'{"batch": {"sequence": "1"}, "batch": {"sequence": "2"}}',
    ],
    ids=["nested", "top-level"],
)
def test_repeated_json_member_is_rejected_on_the_wire(server: Server, dev: HttpDevice, body: bytes) -> None:
    """The decoder the server runs refuses a repeated member name (ST-DATA-034), never keeps the last value."""
    with server.connect() as s:
        post(s, dev, "report-observations", body)
        status, _, answer = read_response(s)
        assert status == 400 and clause_ids(answer) == {"ST-DATA-034"}


def test_malformed_http_is_a_4xx(server: Server) -> None:
    with server.connect() as s:
        s.sendall(b"POST /v1/device/heartbeat HTTP/1.1\r\nhost x\r\n\r\n")
        status, _, _ = read_response(s)
        assert 400 <= status < 500
    still_serving(server)


# --------------------------------------------------------------------------- size limits


def test_oversize_declared_length_answered_before_the_body(server: Server, dev: HttpDevice) -> None:
    """ST-PROTO-009: Content-Length over the limit → 413 at once, without reading (or waiting for) the body."""
    with server.connect() as s:
        s.sendall(
            head(
                "POST",
                "/v1/device/report-observations",
                {**dev.headers, "content-type": "application/json", "content-length": str(LIMIT + 1)},
            )
        )
        t0 = time.monotonic()
        status, headers, body = read_response(s, timeout=5)
        assert status == 413 and clause_ids(body) == {"ST-PROTO-009"} and headers["connection"] == "close"
        assert time.monotonic() - t0 < BODY_TIMEOUT_S
    still_serving(server)


def test_oversize_body_streamed_gets_its_answer(server: Server, dev: HttpDevice) -> None:
    """A client that sends its whole oversize body still reads the 413 (lingering close, not a reset)."""
    body = b" " * (LIMIT + 200_000)
    with server.connect() as s:
        sender = threading.Thread(target=lambda: _send_quietly(s, head("POST", "/v1/device/report-observations",
                                  {**dev.headers, "content-type": "application/json", "content-length": str(len(body))}) + body))  # fmt: skip
        sender.start()
        status, _, answer = read_response(s)
        sender.join(10)
        assert status == 413 and clause_ids(answer) == {"ST-PROTO-009"}
    still_serving(server)


def _send_quietly(s: socket.socket, data: bytes) -> None:
    with contextlib.suppress(OSError):  # the server may close first: the answer is what counts
        s.sendall(data)


def test_oversize_chunked_body(server: Server, dev: HttpDevice) -> None:
    """ST-PROTO-009 for a chunked body: cut off once the limit is passed (never read unbounded)."""
    piece = b"[" + b"0," * 32_000 + b"0]"
    chunk = f"{len(piece):x}\r\n".encode() + piece + b"\r\n"
    n = LIMIT // len(piece) + 2
    with server.connect() as s:

        def send() -> None:
            _send_quietly(
                s,
                head(
                    "POST",
                    "/v1/device/report-observations",
                    {**dev.headers, "content-type": "application/json", "transfer-encoding": "chunked"},
                )
                + chunk * n
                + b"0\r\n\r\n",
            )

        sender = threading.Thread(target=send)
        sender.start()
        status, _, answer = read_response(s)
        sender.join(10)
        assert status == 413 and clause_ids(answer) == {"ST-PROTO-009"}
    still_serving(server)
    assert server.api.inspect("counts", device_id=dev.device_id)["uploads"] == 0


def test_oversize_head_431(server: Server) -> None:
    with server.connect() as s:
        s.sendall(b"GET /v1/platform/info HTTP/1.1\r\nhost: x\r\n")
        try:
            for i in range(200):
                s.sendall(f"x-filler-{i}: {'y' * 1000}\r\n".encode())
        except OSError:
            pass
        status, _, _ = read_response(s)
        assert status == 431
    still_serving(server)


# --------------------------------------------------------------------------- slow and vanishing clients


def test_slow_loris_heads_are_dropped_and_others_served(server: Server, dev: HttpDevice) -> None:
    """Half-sent heads, then silence: the server keeps serving everyone else and drops the stalled connections."""
    stalled = []
    for i in range(20):
        s = server.connect()
        s.sendall(
            b"POST /v1/device/heartbeat HTTP/1.1\r\nhost: 127.0.0.1\r\nx-santong-device-id: "
            + str(i).encode()
        )
        stalled.append(s)
    first = server.connect()
    first.sendall(b"GET /v1/platform/info HTTP/1.1\r\n")  # only the request line
    stalled.append(first)
    t0 = time.monotonic()
    assert dev.post("heartbeat", pb.HeartbeatRequest()).status_code == 200
    assert time.monotonic() - t0 < HEAD_TIMEOUT_S  # served while the heads hang, not after they are dropped
    for _ in range(4):
        assert dev.post("heartbeat", pb.HeartbeatRequest()).status_code == 200
    try:
        for s in stalled:
            assert closed_within(s, HEAD_TIMEOUT_S + 3), "stalled head not dropped"
    finally:
        for s in stalled:
            s.close()
    still_serving(server)


def test_a_later_head_that_stalls_is_dropped(server: Server) -> None:
    """The head deadline holds for every request of a keep-alive connection, not only its first: a second head
    sent in part, then silence, gets 408 and the connection closes."""
    with server.connect() as s:
        s.sendall(head("GET", "/v1/platform/info", {}))
        assert read_response(s)[0] == 200
        s.sendall(b"GET /v1/platform/info HTTP/1.1\r\nhost: 127.0.0.1\r\n")
        t0 = time.monotonic()
        assert read_response(s, timeout=HEAD_TIMEOUT_S + 5)[0] == 408
        assert time.monotonic() - t0 >= HEAD_TIMEOUT_S * 0.9
        assert closed_within(s, 3)


def test_silent_connection_is_dropped(server: Server) -> None:
    """A connection that never sends a byte is closed after the head deadline too."""
    with server.connect() as s:
        assert closed_within(s, HEAD_TIMEOUT_S + 3)


def test_stalled_body_408(server: Server, dev: HttpDevice) -> None:
    """A body that stops arriving → 408 after the body deadline, then the connection closes; nothing stored."""
    with server.connect() as s:
        s.sendall(
            head(
                "POST",
                "/v1/device/report-observations",
                {**dev.headers, "content-type": "application/json", "content-length": "500"},
            )
            + b'{"batch": '
        )
        t0 = time.monotonic()
        status, headers, _ = read_response(s, timeout=BODY_TIMEOUT_S + 5)
        assert status == 408 and headers["connection"] == "close"
        assert BODY_TIMEOUT_S * 0.9 <= time.monotonic() - t0 < BODY_TIMEOUT_S + 3
        assert closed_within(s, 5)
    assert server.api.inspect("counts", device_id=dev.device_id)["uploads"] == 0


@pytest.mark.parametrize("how", ["close", "reset"])
def test_abrupt_disconnect_mid_body(server: Server, dev: HttpDevice, how: str) -> None:
    """The client vanishes half-way through a body: nothing stored, nothing answered, the server goes on."""
    before = server.api.inspect("counts")["interactions"]
    batch = json.dumps(to_dict(pb.ReportObservationsRequest())).encode()
    s = server.connect()
    s.sendall(
        head(
            "POST",
            "/v1/device/report-observations",
            {**dev.headers, "content-type": "application/json", "content-length": "100000"},
        )
        + batch
        + b" " * 5000
    )
    wait_until(server.in_flight, what="the server reading the body")
    if how == "reset":
        s.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, b"\x01\x00\x00\x00\x00\x00\x00\x00")
    s.close()
    wait_until(lambda: server.in_flight() == 0, what="the server done with the vanished client's request")
    still_serving(server)
    assert dev.report().status_code == 200
    assert server.api.inspect("counts", device_id=dev.device_id)["uploads"] == 1
    rows = server.api.inspect("interactions", since_id=0)[before:]
    assert all(not str(r["code"]).startswith(("INTERNAL", "UNKNOWN")) for r in rows)


def test_disconnect_during_long_poll_loses_no_command(server: Server, dev: HttpDevice) -> None:
    """A long poll whose client vanished takes no command with it: the next poll gets it."""
    server.api.client.get("/v1/device/commands", params={"wait": 0}, headers=dev.headers)  # drain
    s = server.connect()
    s.sendall(head("GET", "/v1/device/commands?wait=20", dev.headers))
    wait_until(server.in_flight, what="the long poll waiting")
    s.close()
    wait_until(lambda: server.in_flight() == 0, what="the long poll ended by the disconnect")
    sent = server.api.inspect("send_command", device_id=dev.device_id, type="RESEND_DEFINITIONS")
    r = server.api.client.get("/v1/device/commands", params={"wait": 2}, headers=dev.headers)
    assert [c["command_id"] for c in r.json()["commands"]] == [sent["command_id"]]


def test_pipelined_requests(server: Server, dev: HttpDevice) -> None:
    """Two requests in one write are answered in order on the same connection."""
    body = json.dumps(to_dict(pb.HeartbeatRequest())).encode()
    one = (
        head(
            "POST",
            "/v1/device/heartbeat",
            {**dev.headers, "content-type": "application/json", "content-length": str(len(body))},
        )
        + body
    )
    with server.connect() as s:
        s.sendall(one + head("GET", "/v1/platform/info", {}))
        answers: list[Any] = [read_response(s), read_response(s)]
        assert [a[0] for a in answers] == [200, 200]
        assert "pending_commands" in json.loads(answers[0][2]) or "server_time" in json.loads(answers[0][2])
        assert "spec_version" in json.loads(answers[1][2])


def test_server_stop_ends_long_polls(bg: BackgroundMockPlatform, dev: HttpDevice) -> None:  # noqa: F811
    """Stopping the HTTP server answers a waiting long poll at once (empty list) instead of holding the stop."""
    other = Server(bg)
    try:
        with other.connect() as s:
            s.sendall(head("GET", "/v1/device/commands?wait=30", dev.headers))
            wait_until(other.in_flight, what="the long poll waiting")
            t0 = time.monotonic()
            other.stop()
            status, _, body = read_response(s, timeout=5)
            assert status == 200 and json.loads(body) == {"commands": []}
            assert time.monotonic() - t0 < 2
    finally:
        other.api.close()
