"""Benchmark: HTTP/JSON ingest (1000-point ReportObservations bodies) next to a bare Starlette app.

Both servers run as subprocesses (uvicorn, httptools + uvloop) and are driven, in the same run, by the same raw
keep-alive client (asyncio streams, one device per connection, no pipelining). "ours" is the real mock platform
app: every body is schema-checked and decoded by ``santong.protocols.decode_json``, validated by the rules and
persisted before its acknowledgement; "bare" parses the JSON and drops it.

The two are measured in alternating windows, several rounds, and the best window of each is reported: other
work on a shared machine then slows both alike instead of whichever ran at the wrong moment.

Run alone: ``.venv/bin/python -m bench http_bench`` (``python -m bench.http_bench`` prints every window).
"""

from __future__ import annotations

import asyncio
import json
import os
import random
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

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


# --------------------------------------------------------------------------- servers (subprocess side)


def _bare_app() -> Any:
    """A bare Starlette app: read the body, parse the JSON, drop it, answer a fixed acknowledgement."""
    from starlette.applications import Starlette
    from starlette.requests import Request
    from starlette.responses import Response
    from starlette.routing import Route

    async def ingest(request: Request) -> Response:
        doc = json.loads(await request.body())
        seq = doc["batch"]["sequence"]
        body = json.dumps(
            {"ack": {"sequence": str(seq), "status": "ACK_STATUS_ACCEPTED", "accepted": POINTS}}
        )
        return Response(body, media_type="application/json")

    return Starlette(routes=[Route(PATH, ingest, methods=["POST"])])


async def _ours_app(db_path: str) -> tuple[Any, dict[str, Any]]:
    """The real app on a platform with a SQLite file (WAL) and one device per connection provisioned."""
    import secrets

    from santong.mock_platform import Platform, PlatformConfig
    from santong.mock_platform._http import create_app
    from santong.protocols import default_limits

    tokens = {f"BENCH-{i:02d}": secrets.token_urlsafe(16) for i in range(CONNECTIONS)}
    limits = default_limits()
    limits.max_uploads_per_second = (
        0  # the rate limit is a policy; this measures capacity (as platform_bench)
    )
    platform = Platform(PlatformConfig(db_path=db_path, devices=tokens, limits=limits))
    await platform.start()
    return create_app(platform), {"tokens": tokens, "_platform": platform}


def _serve(kind: str) -> None:
    """Subprocess entry: serve `kind` on 127.0.0.1:0 and print {"port": …} as the first stdout line."""
    import uvicorn

    sock = socket.socket()
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind(("127.0.0.1", 0))
    sock.listen(2048)  # connections queue until uvicorn starts accepting
    port = sock.getsockname()[1]

    import tempfile

    tmp = tempfile.mkdtemp(prefix="santong-http-bench-")

    async def main() -> None:
        extra: dict[str, Any] = {}
        if kind == "bare":
            app: Any = _bare_app()
            http: Any = "httptools"
        else:
            from santong.mock_platform._http import guarded_protocol

            app, extra = await _ours_app(os.path.join(tmp, "bench.db"))
            http = guarded_protocol()
        config = uvicorn.Config(
            app, http=http, loop="uvloop", lifespan="off", log_level="warning", access_log=False
        )
        server = uvicorn.Server(config)
        info = {"port": port, **{k: v for k, v in extra.items() if not k.startswith("_")}}
        print(json.dumps(info), flush=True)
        await server.serve(sockets=[sock])

    import shutil

    import uvloop

    try:
        uvloop.run(main())
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


@contextmanager
def _server(kind: str) -> Iterator[dict[str, Any]]:
    env = dict(os.environ, PYTHONPATH=str(ROOT) + os.pathsep + os.environ.get("PYTHONPATH", ""))
    proc = subprocess.Popen(
        [sys.executable, "-m", "bench.http_bench", "--serve", kind],
        stdout=subprocess.PIPE,
        cwd=ROOT,
        env=env,
        text=True,
    )
    try:
        assert proc.stdout is not None
        line = proc.stdout.readline()
        if not line:
            raise RuntimeError(f"{kind} server did not start (exit {proc.wait(5)})")
        yield json.loads(line)
    finally:
        proc.terminate()
        try:
            proc.wait(10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


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
        bare = [_Device(f"BARE-{i:02d}", "t") for i in range(CONNECTIONS)]
        ours = [_Device(d, t) for d, t in ours_info["tokens"].items()]

        async def main() -> dict[str, list[float]]:
            out: dict[str, list[float]] = {"bare": [], "ours": []}
            for i in range(rounds):
                out["bare"].append(await drive(bare_info["port"], bare, seconds))
                out["ours"].append(await drive(ours_info["port"], ours, seconds, setup=i == 0))
            return out

        return uvloop.run(main())


def run(seconds: float = SECONDS, rounds: int = ROUNDS) -> list[dict]:
    """HTTP/JSON ingest of the real app next to the bare app: best window of each (the machine is shared)."""
    figures = measure(seconds, rounds)
    return [
        entry(
            "mock_platform.http.ingest_json",
            max(figures["ours"]),
            "points/s",
            f"bare Starlette on uvicorn (httptools+uvloop), parse JSON and drop; same raw client, {CONNECTIONS} connections",
            max(figures["bare"]),
        )
    ]


if __name__ == "__main__":
    if len(sys.argv) == 3 and sys.argv[1] == "--serve":
        _serve(sys.argv[2])
    else:
        print(json.dumps(measure()))
