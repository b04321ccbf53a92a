"""Offered load of `santong load` (Locust) on this machine: acknowledged points/s of one Locust worker against a
bare gRPC sink and against the mock platform, and of two workers against each (1 → 2 workers; on 2 shared cores
the second worker competes with the server for CPU, so this cannot show real scaling).

Every run is a real `santong load SCENARIO --workers N` against a server process on 127.0.0.1 (port from the OS),
bounded in time (RAMP_S + DURATION_S), with the capacity model's device shape (POINTS points per batch) and far
more offered load than a worker can send, so the figure is the worker's capacity. Baselines measured in the same
run: a plain synchronous gRPC client (no Locust, no gevent, one thread, one call in flight) against the same sink
for the one-worker entries; the one-worker figures for the two-worker entries.

    .venv/bin/python -m bench load_bench
"""

from __future__ import annotations

import asyncio
import json
import os
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from bench import _servers
from bench._timing import entry

ROOT = Path(__file__).resolve().parent.parent
POINTS = 25  # points per device (one substation), as in docs/load.md
DEVICES = 400
INTERVAL_S = 0.1  # offered: 400 × 25 / 0.1 = 100 k points/s, far beyond one worker
RAMP_S = 2
DURATION_S = 10
SERVICE = "santong.protocols.v1.DeviceAccessService"


# ---------------------------------------------------------------------------- the bare sink


async def _sink() -> None:
    """A grpc.aio server that answers Register, DefinePoints and ReportObservations (ACCEPTED, every point)."""
    import grpc
    from santong.protocols.v1 import device_access_pb2 as pb

    register = pb.RegisterResponse(negotiated_version="1.0").SerializeToString()
    define = pb.DefinePointsResponse().SerializeToString()

    async def report(raw: bytes, context: Any) -> bytes:
        req = pb.ReportObservationsRequest.FromString(raw)
        ack = pb.Ack(
            sequence=req.batch.sequence, status=pb.ACK_STATUS_ACCEPTED, accepted=len(req.batch.alias)
        )
        return pb.ReportObservationsResponse(ack=ack).SerializeToString()

    async def fixed(answer: bytes) -> Any:
        async def handler(raw: bytes, context: Any) -> bytes:
            return answer

        return handler

    server = grpc.aio.server()
    server.add_generic_rpc_handlers([grpc.method_handlers_generic_handler(SERVICE, {
        "Register": grpc.unary_unary_rpc_method_handler(await fixed(register)),
        "DefinePoints": grpc.unary_unary_rpc_method_handler(await fixed(define)),
        "ReportObservations": grpc.unary_unary_rpc_method_handler(report),
    })])  # fmt: skip
    port = server.add_insecure_port("127.0.0.1:0")
    await server.start()
    print(json.dumps({"grpc_port": port, "pid": os.getpid()}), flush=True)
    stop = asyncio.Event()
    asyncio.get_running_loop().add_signal_handler(signal.SIGTERM, stop.set)
    await stop.wait()
    await server.stop(0)


# ---------------------------------------------------------------------------- runs


def _plain_client(port: int, seconds: float = 3.0) -> float:
    """Points/s of a plain synchronous gRPC client (one thread, one call in flight) against the sink."""
    import grpc
    from santong.mock_platform import samples
    from santong.protocols.v1 import device_access_pb2 as pb
    from santong.protocols.v1 import device_access_pb2_grpc as pbg

    md = (("x-santong-device-id", "BENCH-PLAIN"), ("authorization", "Bearer x"))
    with grpc.insecure_channel(f"127.0.0.1:{port}") as ch:
        stub = pbg.DeviceAccessServiceStub(ch)
        aliases = list(range(1, POINTS + 1))
        n, seq, t0 = 0, 1, time.perf_counter()
        while time.perf_counter() - t0 < seconds:
            batch = samples.observation_batch(seq, aliases, switch_aliases=())
            stub.ReportObservations(pb.ReportObservationsRequest(batch=batch), metadata=md, timeout=10)
            n, seq = n + POINTS, seq + 1
        return n / (time.perf_counter() - t0)


def _scenario(folder: Path, name: str, url: str, mock: dict[str, Any] | None) -> Path:
    if mock is None:
        (folder / "creds.yaml").write_text("token: bench\n", encoding="utf-8")
        source = "  credentials_file: creds.yaml\n"
    else:
        source = (f"  mock:\n    inspection_url: http://127.0.0.1:{mock['http_port']}\n"
                  f"    inspection_token: {mock['inspection_token']}\n")  # fmt: skip
    text = (
        f"version: 1\nname: {name}\nmines: {DEVICES // 4}\ndevices_per_mine: 4\npoints_per_device: {POINTS}\n"
        f"interval_s: {INTERVAL_S}\nramp_up_s: {RAMP_S}\nduration_s: {DURATION_S}\ndevice_prefix: {name}\n"
        f"target:\n  transport: grpc\n  url: '{url}'\n{source}pass:\n  max_error_rate: 1\n"
    )
    path = folder / f"{name}.yaml"
    path.write_text(text, encoding="utf-8")
    return path


def _load(scenario: Path, out: Path, workers: int) -> dict[str, Any]:
    args = [
        sys.executable,
        "-m",
        "santong",
        "load",
        str(scenario),
        "--out",
        str(out),
        "--workers",
        str(workers),
    ]
    r = subprocess.run(args, capture_output=True, text=True, timeout=RAMP_S + DURATION_S + 300, cwd=ROOT)
    summary_file = out / "summary.json"
    if r.returncode not in (0, 1) or not summary_file.is_file():
        raise RuntimeError(f"santong load: exit {r.returncode}\n{r.stdout[-1500:]}{r.stderr[-1500:]}")
    summary: dict[str, Any] = json.loads(summary_file.read_text(encoding="utf-8"))
    return summary


def measure() -> dict[str, float]:
    """Acknowledged points/s: plain client and 1/2 Locust workers against the sink, 1/2 workers against the mock."""
    figures: dict[str, float] = {}
    with tempfile.TemporaryDirectory(prefix="santong-load-bench-") as tmp:
        folder = Path(tmp)
        proc, info = _servers.start([sys.executable, "-m", "bench.load_bench", "--sink"], cwd=ROOT)
        try:
            url = f"127.0.0.1:{info['grpc_port']}"
            figures["plain"] = _plain_client(info["grpc_port"])
            for w in (1, 2):
                s = _load(_scenario(folder, f"SINK{w}", url, None), folder / f"sink-{w}", w)
                figures[f"sink_{w}"] = s["figures"]["acked_points_per_s"]
        finally:
            _servers.stop(proc)
        for w in (1, 2):
            mock_args = [sys.executable, "-m", "santong", "mock", "serve", "--grpc-port", "0", "--http-port", "0",
                         "--max-uploads-per-second", "0", "--db", str(folder / f"mock-{w}.db")]  # fmt: skip
            proc, info = _servers.start(mock_args, cwd=ROOT)
            try:
                url = f"127.0.0.1:{info['grpc_port']}"
                s = _load(_scenario(folder, f"MOCK{w}", url, info), folder / f"mock-{w}", w)
                if s["verdict"] != "PASS":  # the store must hold what was acknowledged, errors none
                    raise RuntimeError(f"load against the mock: {s['checks']}")
                figures[f"mock_{w}"] = s["figures"]["acked_points_per_s"]
            finally:
                _servers.stop(proc)
    return figures


def run() -> list[dict]:
    """Measure and return the entries."""
    m = measure()
    shape = f"{POINTS}-pt batches, {DEVICES} devices"
    return [
        entry(f"santong load, 1 Locust worker -> bare gRPC sink ({shape})", m["sink_1"], "points/s",
              "plain sync gRPC client, no Locust (1 call in flight)", m["plain"]),
        entry(f"santong load, 1 Locust worker -> mock platform (validated + stored, {shape})", m["mock_1"], "points/s",
              "santong load, 1 Locust worker -> bare gRPC sink", m["sink_1"]),
        entry("santong load, 2 Locust workers -> bare gRPC sink (2 cores shared with the sink)", m["sink_2"], "points/s",
              "santong load, 1 Locust worker -> bare gRPC sink", m["sink_1"]),
        entry("santong load, 2 Locust workers -> mock platform (2 cores shared with the mock)", m["mock_2"], "points/s",
              "santong load, 1 Locust worker -> mock platform", m["mock_1"]),
    ]  # fmt: skip


if __name__ == "__main__":
    if "--sink" in sys.argv:
        asyncio.run(_sink())
    else:
        for e in run():
            print(json.dumps(e, ensure_ascii=False))
