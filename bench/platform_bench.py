"""Mock platform ingest throughput over gRPC (validated + persisted, file DB) next to a bare server measured in
the same run, and the mock's peak memory.

"ours" is ``santong mock serve`` exactly as the CLI starts it (gRPC and HTTP in one process on the CLI's event
loop, production defaults, WAL with ``synchronous=NORMAL``); the only options given are the ports, the database
file, the devices file and ``--max-uploads-per-second 0`` (the rate limit is a policy, this measures capacity).
The bare server is a grpc.aio server in one process on the same event loop that parses every message and drops
it (one empty response per stream message, as a streaming protocol needs). Each server runs in its own process
(so the client's CPU is not the server's); the same client sends the same pre-encoded 1000-point batches to
both, warmed the same way, bare and ours alternating, best round of each. The unary figure uses 16 devices
with one call in flight each.

    .venv/bin/python -m bench platform_bench
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import signal
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from santong.mock_platform.cli import event_loop_runner

from bench import _servers
from bench._timing import entry

N_POINTS = 1000
STREAM_SECONDS = 3.0
UNARY_SECONDS = 2.0
UNARY_IN_FLIGHT = 16
ROUNDS = 2  # bare and mock alternate; the best of each counts (the machine is noisy)
DEVICE, TOKEN = "BENCH-0001", "bench-token"
ROOT = Path(__file__).resolve().parent.parent
SERVICE = "/santong.protocols.v1.DeviceAccessService"
# The event loop of santong mock serve, and so of the bare server: "uvloop" (or "asyncio" where it is missing).
LOOP = event_loop_runner().__module__.partition(".")[0]


# ---------------------------------------------------------------------------- servers


async def _bare_server() -> None:
    """A grpc.aio server that parses each request and drops it (run on the shipped server's event loop)."""
    import grpc
    from santong.protocols.v1 import device_access_pb2 as pb

    empty_stream = pb.StreamObservationsResponse().SerializeToString()
    empty_unary = pb.ReportObservationsResponse().SerializeToString()

    async def stream(requests: Any, context: Any) -> Any:
        async for raw in requests:
            pb.StreamObservationsRequest.FromString(raw)
            yield empty_stream

    async def unary(raw: bytes, context: Any) -> bytes:
        pb.ReportObservationsRequest.FromString(raw)
        return empty_unary

    server = grpc.aio.server(options=[("grpc.max_receive_message_length", 16 * 1024 * 1024)])
    server.add_generic_rpc_handlers([grpc.method_handlers_generic_handler("santong.protocols.v1.DeviceAccessService", {
        "StreamObservations": grpc.stream_stream_rpc_method_handler(stream),
        "ReportObservations": grpc.unary_unary_rpc_method_handler(unary),
    })])  # fmt: skip
    port = server.add_insecure_port("127.0.0.1:0")
    await server.start()
    print(json.dumps({"grpc_port": port, "pid": os.getpid()}), flush=True)
    stop = asyncio.Event()
    asyncio.get_running_loop().add_signal_handler(signal.SIGTERM, stop.set)
    await stop.wait()
    await server.stop(0)


def _peak_rss_mib(pid: int) -> float:
    """VmHWM (peak resident set) of a live process, in MiB."""
    with contextlib.suppress(OSError):
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 1024
    return float("nan")


# ---------------------------------------------------------------------------- client


def _varint(n: int) -> bytes:
    out = bytearray()
    while True:
        b = n & 0x7F
        n >>= 7
        if n:
            out.append(b | 0x80)
        else:
            out.append(b)
            return bytes(out)


class Batches:
    """Pre-encoded request bytes: one 1000-point batch body, a fresh sequence per message (field 1 appended)."""

    def __init__(self) -> None:
        from santong.mock_platform import samples

        b = samples.observation_batch(0, list(range(1, N_POINTS + 1)), values=[0.1 + (i % 300) / 100 for i in range(N_POINTS)],
                                      offsets=[i % 5000 for i in range(N_POINTS)], base_ms=int(time.time() * 1000) - 6000)  # fmt: skip
        b.ClearField("sequence")
        self.body = b.SerializeToString()

    def request(self, seq: int) -> bytes:
        """A ReportObservationsRequest / StreamObservationsRequest (same layout) with this sequence."""
        batch = self.body + b"\x08" + _varint(seq)
        return b"\x0a" + _varint(len(batch)) + batch


def _md(i: int = 0) -> tuple[tuple[str, str], ...]:
    """Metadata of bench device i (0: the stream's device; 1..UNARY_IN_FLIGHT: the unary workers')."""
    return (("x-santong-device-id", f"{DEVICE}-{i}"), ("authorization", f"Bearer {TOKEN}"))


async def _prepare(target: str) -> None:
    import grpc
    from santong.mock_platform import samples
    from santong.protocols.v1 import device_access_pb2_grpc as pbg

    points = samples.methane_points_request(N_POINTS)
    async with grpc.aio.insecure_channel(target) as ch:
        stub = pbg.DeviceAccessServiceStub(ch)
        for i in range(UNARY_IN_FLIGHT + 1):
            await stub.Register(samples.register_request(f"{DEVICE}-{i}"), metadata=_md(i), timeout=30)
            await stub.DefinePoints(points, metadata=_md(i), timeout=30)


async def _stream_rate(target: str, batches: Batches, first_seq: int, seconds: float) -> tuple[float, int]:
    """Points/s of one bidi stream over about `seconds`; returns (rate, next sequence)."""
    import grpc

    md = _md(0)
    async with grpc.aio.insecure_channel(
        target, options=[("grpc.max_send_message_length", 16 * 1024 * 1024)]
    ) as ch:
        call = ch.stream_stream(
            f"{SERVICE}/StreamObservations", request_serializer=None, response_deserializer=None
        )(metadata=md)
        # warm-up
        for s in range(first_seq, first_seq + 20):
            await call.write(batches.request(s))
            await call.read()
        seq = first_seq + 20
        sent = 0
        done = asyncio.Event()
        acked = 0

        async def reader() -> None:
            nonlocal acked
            while True:
                r = await call.read()
                if r is grpc.aio.EOF:
                    return
                if len(r) > 40 and b"\x10\x03" in r[:8]:  # status REJECTED: the figure would be meaningless
                    raise RuntimeError("mock rejected a benchmark batch")
                acked += 1
                if done.is_set() and acked == sent:
                    return

        task = asyncio.ensure_future(reader())
        t0 = time.perf_counter()
        while time.perf_counter() - t0 < seconds:
            await call.write(batches.request(seq))
            seq += 1
            sent += 1
        done.set()
        await call.done_writing()
        await task
        elapsed = time.perf_counter() - t0
    return acked * N_POINTS / elapsed, seq


async def _unary_rate(target: str, batches: Batches, first_seq: int, seconds: float) -> float:
    """Points/s of unary ReportObservations: UNARY_IN_FLIGHT devices, one call in flight each."""
    import grpc

    count = 0
    async with grpc.aio.insecure_channel(
        target, options=[("grpc.max_send_message_length", 16 * 1024 * 1024)]
    ) as ch:
        call = ch.unary_unary(
            f"{SERVICE}/ReportObservations", request_serializer=None, response_deserializer=None
        )
        deadline = time.perf_counter() + seconds

        async def worker(i: int) -> None:
            nonlocal count
            md, seq = _md(i), first_seq
            while time.perf_counter() < deadline:
                await call(batches.request(seq), metadata=md, timeout=30)
                seq += 1
                count += 1

        t0 = time.perf_counter()
        await asyncio.gather(*(worker(i) for i in range(1, UNARY_IN_FLIGHT + 1)))
        elapsed = time.perf_counter() - t0
    return count * N_POINTS / elapsed


async def _measure(target: str, mock: bool, batches: Batches) -> dict[str, float]:
    if mock:
        await _prepare(target)
    stream, _ = await _stream_rate(target, batches, 1, STREAM_SECONDS)
    unary = await _unary_rate(target, batches, 1, UNARY_SECONDS)
    return {"stream": stream, "unary": unary}


def _mock_args(db: str) -> list[str]:
    """``santong mock serve`` as a user starts it (HTTP served too, as by default), a database and devices file."""
    devices = os.path.join(os.path.dirname(db), "devices.txt")
    Path(devices).write_text(
        "".join(f"{DEVICE}-{i}:{TOKEN}\n" for i in range(UNARY_IN_FLIGHT + 1)), encoding="utf-8"
    )
    return [sys.executable, "-m", "santong", "mock", "serve", "--grpc-port", "0", "--http-port", "0", "--db", db,
            "--devices-file", devices, "--max-uploads-per-second", "0"]  # fmt: skip


def _round(batches: Batches) -> dict[str, float]:
    proc, info = _servers.start([sys.executable, "-m", "bench.platform_bench", "--bare-server"], cwd=ROOT)
    try:
        bare = asyncio.run(_measure(f"127.0.0.1:{info['grpc_port']}", False, batches))
        bare_rss = _peak_rss_mib(proc.pid)
    finally:
        _servers.stop(proc)
    with tempfile.TemporaryDirectory() as d:
        db = os.path.join(d, "bench.db")
        proc, info = _servers.start(_mock_args(db), cwd=ROOT)
        try:
            mock = asyncio.run(_measure(f"127.0.0.1:{info['grpc_port']}", True, batches))
            rss = _peak_rss_mib(proc.pid)
        finally:
            _servers.stop(proc)
        db_mib = sum(os.path.getsize(os.path.join(d, f)) for f in os.listdir(d)) / 2**20
    return {
        "bare_stream": bare["stream"], "bare_unary": bare["unary"], "bare_rss": bare_rss,
        "stream": mock["stream"], "unary": mock["unary"], "rss": rss, "db_mib": db_mib,
    }  # fmt: skip


def measure(rounds: int = ROUNDS) -> dict[str, float]:
    """Alternate the bare server and the mock (file DB) `rounds` times; best throughput of each, peak memory."""
    batches = Batches()
    results = [_round(batches) for _ in range(rounds)]
    return {k: max(r[k] for r in results) for k in results[0]}


def run() -> list[dict]:
    """Measure and return the entries."""
    m = measure()
    same = f"same event loop as the shipped server ({LOOP}), 1 process; same client, same pre-encoded 1000-pt messages, alternating rounds, best of {ROUNDS}"
    return [
        entry("mock_platform grpc stream ingest (santong mock serve, defaults but --max-uploads-per-second 0; 1000-pt batches, validated + committed, file DB)", m["stream"], "points/s",
              f"bare grpc.aio server: parse each StreamObservationsRequest, answer an empty response per message; {same}", m["bare_stream"]),
        entry("mock_platform grpc unary ReportObservations (santong mock serve, defaults but --max-uploads-per-second 0; 1000-pt, 16 devices x 1 in flight, validated + committed)", m["unary"], "points/s",
              f"bare grpc.aio server: parse each ReportObservationsRequest, answer an empty response; {same}", m["bare_unary"]),
        entry("mock_platform peak RSS during the runs above", m["rss"], "MiB", "bare grpc.aio server peak RSS", m["bare_rss"]),
    ]  # fmt: skip


if __name__ == "__main__":
    if "--bare-server" in sys.argv:
        event_loop_runner()(_bare_server())
    else:
        for e in run():
            print(json.dumps(e, ensure_ascii=False))
