"""Benchmark: HTTP/JSON ingest of the shipped ``santong mock serve`` next to a bare Starlette app.

"ours" is the mock platform exactly as the CLI starts it (``python -m santong mock serve``: gRPC and HTTP in one
process, production defaults, a SQLite file in WAL mode with ``synchronous=NORMAL``); the only options given are
the ports, the database file, the devices file and ``--max-uploads-per-second 0`` (the rate limit is a policy, this
measures capacity). Every body is authenticated on its headers, decoded by ``santong.protocols.decode_json``
(strict JSON, schema, fast path), validated by the rules and committed before its acknowledgement.

The baseline is a bare Starlette app on uvicorn (httptools) in one process on the same event loop as the shipped
server, that reads the body, parses it with the same JSON decoder the shipped server uses
(``santong.protocols.loads_strict``) and answers a fixed acknowledgement.

Both are driven, in the same run, by the same raw keep-alive client (asyncio streams, one device per connection,
no pipelining) with the same bodies, in alternating windows (bare, ours, bare, ours …), each window warmed for
the same time; the best window of each is reported: other work on a shared machine then slows both alike
instead of whichever ran at the wrong moment.

Run alone: ``.venv/bin/python -m bench http_bench`` (``python -m bench.http_bench`` prints every window).
"""

from __future__ import annotations

import asyncio
import json
import os
import random
import socket
import sys
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from santong.mock_platform.cli import event_loop_runner

from bench import _servers
from bench._timing import entry

__all__ = ["drive", "run"]

MINE = "140421000001"
POINTS = 1000
CONNECTIONS = 8
SECONDS = 2.0
ROUNDS = 3
WARMUP_S = 0.3
ROOT = Path(__file__).resolve().parent.parent
PATH = "/v1/device/report-observations"
DEVICES = [f"BENCH-{i:02d}" for i in range(CONNECTIONS)]
# The event loop of santong mock serve, and so of the bare server: "uvloop" (or "asyncio" where it is missing).
LOOP = event_loop_runner().__module__.partition(".")[0]
BASELINE = (
    f"bare Starlette on uvicorn (httptools, same event loop as the shipped server: {LOOP}, 1 process): read the body, parse it with the shipped "
    f"decoder (santong.protocols.loads_strict), fixed ack; same raw client, same bodies, {CONNECTIONS} keep-alive "
    f"connections, alternating warmed windows, best of {ROUNDS}"
)


# --------------------------------------------------------------------------- servers (subprocess side)


def _bare_app() -> Any:
    """A bare Starlette app: read the body, parse the JSON with the shipped decoder, answer a fixed ack."""
    from santong.protocols import loads_strict
    from starlette.applications import Starlette
    from starlette.requests import Request
    from starlette.responses import Response
    from starlette.routing import Route

    async def ingest(request: Request) -> Response:
        doc = loads_strict(await request.body())
        seq = doc["batch"]["sequence"]
        body = json.dumps(
            {"ack": {"sequence": str(seq), "status": "ACK_STATUS_ACCEPTED", "accepted": POINTS}}
        )
        return Response(body, media_type="application/json")

    return Starlette(routes=[Route(PATH, ingest, methods=["POST"])])


def _serve_bare() -> None:
    """Subprocess entry: serve the bare app on 127.0.0.1:0 and print {"http_port": …} as the first stdout line."""
    import uvicorn

    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM, socket.IPPROTO_TCP)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind(("127.0.0.1", 0))
    sock.listen(1024)
    port = sock.getsockname()[1]

    async def main() -> None:
        config = uvicorn.Config(
            _bare_app(), http="httptools", loop="none", lifespan="off", log_level="warning", access_log=False
        )
        server = uvicorn.Server(config)
        print(json.dumps({"http_port": port, "pid": os.getpid()}), flush=True)
        await server.serve(sockets=[sock])

    event_loop_runner()(main())  # the loop `santong mock serve` runs on


def _ours_args(folder: str) -> list[str]:
    """``santong mock serve`` as a user starts it: production defaults, a database file, a devices file."""
    devices = os.path.join(folder, "devices.txt")
    Path(devices).write_text("".join(f"{d}:{_token(d)}\n" for d in DEVICES), encoding="utf-8")
    return [sys.executable, "-m", "santong", "mock", "serve", "--grpc-port", "0", "--http-port", "0",
            "--db", os.path.join(folder, "bench.db"), "--devices-file", devices,
            "--max-uploads-per-second", "0"]  # fmt: skip


def _token(device_id: str) -> str:
    return f"bench-token-{device_id}"


@contextmanager
def _server(kind: str) -> Iterator[dict[str, Any]]:
    """Start the bare server or the shipped mock in a subprocess; yields its start line (http_port, pid)."""
    env = dict(os.environ, PYTHONPATH=str(ROOT) + os.pathsep + os.environ.get("PYTHONPATH", ""))
    with tempfile.TemporaryDirectory(prefix="santong-http-bench-") as folder:
        args = (
            [sys.executable, "-m", "bench.http_bench", "--serve-bare"]
            if kind == "bare"
            else _ours_args(folder)
        )
        proc, info = _servers.start(args, cwd=folder, env=env)
        try:
            yield info
        finally:
            _servers.stop(proc)


# --------------------------------------------------------------------------- raw keep-alive client


def _request(path: str, body: bytes, headers: dict[str, str]) -> bytes:
    head = f"POST {path} HTTP/1.1\r\nhost: 127.0.0.1\r\ncontent-type: application/json\r\ncontent-length: {len(body)}\r\n"
    head += "".join(f"{k}: {v}\r\n" for k, v in headers.items())
    return head.encode() + b"\r\n" + body


async def _roundtrip(
    reader: asyncio.StreamReader, writer: asyncio.StreamWriter, raw: bytes
) -> tuple[int, bytes]:
    writer.write(raw)
    head = await reader.readuntil(b"\r\n\r\n")
    status = int(head[9:12])
    length = 0
    for line in head.split(b"\r\n")[1:]:
        if line[:15].lower() == b"content-length:":
            length = int(line[15:])
            break
    body = await reader.readexactly(length) if length else b""
    return status, body


class _Device:
    """One connection's device: a sequence counter and a pre-split batch body."""

    def __init__(self, device_id: str, token: str) -> None:
        self.device_id = device_id
        self.headers = {"x-santong-device-id": device_id, "authorization": f"Bearer {token}"}
        self.sequence = 0
        rnd = random.Random(device_id)
        base = datetime.now(UTC).replace(microsecond=0).strftime("%Y-%m-%dT%H:%M:%SZ")
        batch = {
            "sequence": "SEQ",
            "base_time": base,
            "alias": list(range(1, POINTS + 1)),
            "value": [round(rnd.uniform(0, 1), 3) for _ in range(POINTS)],
            "time_offset_ms": [rnd.randrange(0, 1000) for _ in range(POINTS)],
            "status": [0] * POINTS,
        }
        prefix, suffix = json.dumps({"batch": batch}, separators=(",", ":")).split('"SEQ"')
        self._prefix, self._suffix = prefix.encode() + b'"', b'"' + suffix.encode()
        self._head = (
            f"POST {PATH} HTTP/1.1\r\nhost: 127.0.0.1\r\ncontent-type: application/json\r\n"
            + "".join(f"{k}: {v}\r\n" for k, v in self.headers.items())
        ).encode()

    def next_upload(self) -> bytes:
        self.sequence += 1
        body = self._prefix + str(self.sequence).encode() + self._suffix
        return self._head + b"content-length: " + str(len(body)).encode() + b"\r\n\r\n" + body

    def setup_requests(self) -> list[tuple[str, bytes]]:
        """Register and define the device's points (ours only)."""
        register = {
            "device": {
                "device_id": self.device_id, "vendor": "bench", "model": "B1", "firmware_version": "1",
                "serial_number": self.device_id, "ma_certificate": "MAH230123",
                "product_class": "PRODUCT_CLASS_SAFETY_MONITORING", "mine_code": MINE,
            },
            "mine": {"mine_code": MINE, "name": "bench"},
            "supported_versions": ["1.0"],
        }  # fmt: skip
        points = [
            {"alias": i, "point_code": f"{MINE}01MNA001{i:04d}", "system_code": "01", "sensor_type": "A001",
             "value_kind": "VALUE_KIND_ANALOG", "unit": "%CH4", "range_low": 0, "range_high": 4, "location": f"bench {i}"}
            for i in range(1, POINTS + 1)
        ]  # fmt: skip
        return [
            ("/v1/device/register", json.dumps(register).encode()),
            ("/v1/device/define-points", json.dumps({"points": points}).encode()),
        ]


async def drive(port: int, devices: list[_Device], seconds: float = SECONDS, setup: bool = False) -> float:
    """Points/s acknowledged by the server at `port`, one keep-alive connection per device."""
    conns = [await asyncio.open_connection("127.0.0.1", port) for _ in devices]
    for (reader, writer), dev in zip(conns, devices, strict=True):
        writer.transport.set_write_buffer_limits(high=1 << 20)
        if setup:
            for path, body in dev.setup_requests():
                status, answer = await _roundtrip(reader, writer, _request(path, body, dev.headers))
                if status != 200:
                    raise RuntimeError(f"setup {path} → {status}: {answer[:300]!r}")
    counted = 0
    measuring = False
    stop = False

    async def worker(reader: asyncio.StreamReader, writer: asyncio.StreamWriter, dev: _Device) -> None:
        nonlocal counted
        while not stop:
            status, answer = await _roundtrip(reader, writer, dev.next_upload())
            if status != 200 or b"ACK_STATUS_ACCEPTED" not in answer:
                raise RuntimeError(f"upload → {status}: {answer[:300]!r}")
            if measuring:
                counted += POINTS

    tasks = [asyncio.create_task(worker(r, w, d)) for (r, w), d in zip(conns, devices, strict=True)]
    try:
        await asyncio.sleep(WARMUP_S)
        measuring = True
        start = time.perf_counter()
        await asyncio.sleep(seconds)
        measuring = False
        elapsed = time.perf_counter() - start
        points = counted
        stop = True
        await asyncio.gather(*tasks)
    finally:
        for t in tasks:
            t.cancel()
        for _, w in conns:
            w.close()
    return points / elapsed


def measure(seconds: float = SECONDS, rounds: int = ROUNDS) -> dict[str, list[float]]:
    """Points/s of both servers, measured in alternating windows (bare, ours, bare, ours …) with one client."""
    import uvloop

    with _server("bare") as bare_info, _server("ours") as ours_info:
        bare = [_Device(d, _token(d)) for d in DEVICES]
        ours = [_Device(d, _token(d)) for d in DEVICES]

        async def main() -> dict[str, list[float]]:
            out: dict[str, list[float]] = {"bare": [], "ours": []}
            for i in range(rounds):
                out["bare"].append(await drive(bare_info["http_port"], bare, seconds))
                out["ours"].append(await drive(ours_info["http_port"], ours, seconds, setup=i == 0))
            return out

        return uvloop.run(main())


def run(seconds: float = SECONDS, rounds: int = ROUNDS) -> list[dict]:
    """HTTP/JSON ingest of the shipped mock next to the bare app: best window of each (the machine is shared)."""
    figures = measure(seconds, rounds)
    return [
        entry(
            "mock_platform.http.ingest_json (santong mock serve, defaults but --max-uploads-per-second 0; 1000-pt batches, validated + committed, file DB)",
            max(figures["ours"]),
            "points/s",
            BASELINE,
            max(figures["bare"]),
        )
    ]


if __name__ == "__main__":
    if sys.argv[1:] == ["--serve-bare"]:
        _serve_bare()
    else:
        print(json.dumps(measure()))
