"""Outage and restart: the platform goes down, the adapter process is killed (-9) mid-outage and started again.

Everything the adapter reported durable reaches the platform exactly once, in order, flagged backfill when it was
produced during the outage (ST-PROTO-018..021, -023); the second run stops cleanly on SIGTERM (exit 0).
Checked through the mock platform's inspection API.
"""

from __future__ import annotations

import asyncio
import os
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

from santong.adapters.client._delivery import DEFAULT_WINDOW
from santong.mock_platform._config import PlatformConfig
from santong.mock_platform.embedded import MockPlatform
from santong.protocols import default_limits
from st_waiting import DEADLINE_S, wait_for

DEVICE = "KJ70N-0001"
POINTS = ("14042100000101MNA0030A01", "14042100000101MNA0030A02")  # CO, ppm, range 0–1000: one point per run

ADAPTER = textwrap.dedent(
    """
    import asyncio, dataclasses, logging, sys
    from santong.adapters import Adapter, Registry
    from santong.adapters._runner import run_adapter

    RUN = int(sys.argv[2])

    @dataclasses.dataclass(frozen=True)
    class Settings:
        period_ms: int = 20

    class Counter(Adapter[Settings]):
        kind = "counter"
        config_type = Settings

        async def start(self, sink):
            self.task = asyncio.create_task(self.run(sink))

        async def run(self, sink):
            code, n = self.config.points[RUN].point_code, 0
            while True:
                await sink.observations([(code, float(n), None, 0)])
                await sink.flush()                       # durable in the queue from here on
                print("durable", n, flush=True)
                n += 1
                await asyncio.sleep(self.settings.period_ms / 1000)

        async def stop(self):
            self.task.cancel()

    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s %(message)s")
    registry = Registry(entry_points=())
    registry.register("counter", Counter)
    sys.exit(asyncio.run(run_adapter(sys.argv[1], registry=registry, drain_timeout_s=5.0)))
    """
)

CONFIG = """
platform: {{target: "{target}", token: secret, timeout_ms: 2000, retry: {{base_ms: 100, cap_ms: 300}}}}
device: {{device_id: {device}, vendor: 示例电子, model: KJ70N, firmware_version: "1.0", serial_number: SN1,
         ma_certificate: MAH230123, product_class: SAFETY_MONITORING}}
mine: {{mine_code: "140421000001", name: 示例煤矿}}
queue: {{path: queue.db}}
batch: {{max_points: 100, linger_ms: 20}}
adapter:
  kind: counter
  points:
    - {{point_code: {p0}, location: 回风巷 CO 1}}
    - {{point_code: {p1}, location: 回风巷 CO 2}}
"""


def start(tmp_path: Path, run: int) -> subprocess.Popen[str]:
    err = open(tmp_path / f"run{run}.log", "w")  # noqa: SIM115 - closed with the process
    return subprocess.Popen(
        [sys.executable, str(tmp_path / "adapter.py"), str(tmp_path / "adapter.yaml"), str(run)],
        stdout=subprocess.PIPE, stderr=err, text=True, cwd=tmp_path, env={**os.environ, "PYTHONUNBUFFERED": "1"},
    )  # fmt: skip


async def exited(proc: subprocess.Popen[str], timeout: float = 20.0) -> int:
    """Wait for a process without blocking the event loop (the mock platform runs in it)."""
    return await asyncio.get_running_loop().run_in_executor(None, proc.wait, timeout)


async def durable(proc: subprocess.Popen[str], sink: list[int]) -> None:
    """Collect the 'durable n' lines of a process until its stdout closes."""
    assert proc.stdout is not None
    loop = asyncio.get_running_loop()
    while True:
        line = await loop.run_in_executor(None, proc.stdout.readline)
        if not line:
            return
        if line.startswith("durable"):
            sink.append(int(line.split()[1]))


async def test_platform_down_and_adapter_killed_mid_outage(tmp_path: Path) -> None:
    (tmp_path / "adapter.py").write_text(ADAPTER, encoding="utf-8")
    limits = default_limits()
    limits.max_uploads_per_second = 0  # the backlog drains at full speed
    async with MockPlatform(PlatformConfig(devices={DEVICE: "secret"}, limits=limits), http_port=None) as mp:
        insp = mp.platform.inspection
        (tmp_path / "adapter.yaml").write_text(
            CONFIG.format(target=mp.grpc_target, device=DEVICE, p0=POINTS[0], p1=POINTS[1]), encoding="utf-8"
        )

        async def stored(point: str) -> list[dict]:
            return await insp.observations(DEVICE, point_code=point, limit=1_000_000)

        got1: list[int] = []
        got2: list[int] = []
        run1 = start(tmp_path, 0)
        reader1 = asyncio.ensure_future(durable(run1, got1))
        run2 = None
        try:
            await wait_for(lambda: _at_least(stored(POINTS[0]), 10))
            out_start = int(time.time() * 1000)
            mp.platform.faults.outage_for(
                60.0, mode="refuse"
            )  # ended below, once run 2 has worked through it
            n = len(got1)
            await wait_for(lambda: len(got1) >= n + 5, what="run 1 queueing data mid-outage")
            os.kill(run1.pid, signal.SIGKILL)  # mid-outage, no clean-up at all
            await exited(run1)
            await reader1
            killed = int(time.time() * 1000)
            run2 = start(tmp_path, 1)
            reader2 = asyncio.ensure_future(durable(run2, got2))
            await wait_for(lambda: _true(len(got2) >= 10))  # the restarted adapter queues data mid-outage
            mp.platform.faults.outage_for(0.0, mode="refuse")  # the platform is back
            out_end = int(time.time() * 1000)
            # The backlog of both runs drains, then data is live again (generous: two adapters and the platform
            # share a loaded machine).
            await wait_for(
                lambda: _covers(stored(POINTS[0]), got1), timeout=3 * DEADLINE_S, what="run 1's backlog"
            )
            await wait_for(
                lambda: _live_after(stored(POINTS[1]), out_end + 500),
                timeout=3 * DEADLINE_S,
                what="live data again",
            )
            run2.send_signal(signal.SIGTERM)
            assert await exited(run2) == 0, (tmp_path / "run1.log").read_text()
            await reader2
        finally:
            for p in (run1, run2):
                if p is not None and p.poll() is None:
                    p.kill()
                    p.wait(10)
        log2 = (tmp_path / "run1.log").read_text()
        obs1, obs2 = await stored(POINTS[0]), await stored(POINTS[1])
        v1, v2 = [o["value"] for o in obs1], [o["value"] for o in obs2]
        # 0 lost: every value reported durable arrived; nothing in between is missing; 0 duplicated
        assert v1 == [float(i) for i in range(len(v1))] and set(got1) <= {int(v) for v in v1}, log2
        assert v2 == [float(i) for i in range(len(v2))] and set(got2) <= {int(v) for v in v2}, log2
        assert len(got1) >= 10 and len(got2) >= 10
        # in order: one sequence per upload, run 1's before run 2's
        s1, s2 = [o["sequence"] for o in obs1], [o["sequence"] for o in obs2]
        assert s1 == sorted(set(s1)) and s2 == sorted(set(s2)) and max(s1) < min(s2)
        assert await insp.acknowledged(DEVICE) == sorted(s1 + s2)
        # backfill: produced during the outage → true; before it and once live again → false (ST-PROTO-020)
        assert all(not o["backfill"] for o in obs1 if o["time_ms"] < out_start - 300)
        # Produced during the outage: backfill, except the batches already in flight when the client learnt of it
        # (their first attempt was live and they are resent unchanged, ST-PROTO-014 over 020): those are a prefix
        # of at most one stream window — however long a loaded machine took to notice, never a flag after a flag.
        during1 = [o for o in obs1 if out_start < o["time_ms"] <= killed]
        live1 = [o for o in during1 if not o["backfill"]]
        assert during1 and live1 == during1[: len(live1)], log2
        assert len({o["sequence"] for o in live1}) <= DEFAULT_WINDOW, log2
        during2 = [o for o in obs2 if o["time_ms"] < out_end - 100]
        assert during2 and all(o["backfill"] for o in during2)
        assert not obs2[-1]["backfill"]
        # the restarted client resumed after the platform's last acknowledged sequence (ST-PROTO-023)
        regs = await insp.interactions(DEVICE, method="Register")
        assert sum(r["verdict"] == "ACCEPTED" for r in regs) == 2


async def _true(value: bool) -> bool:
    return value


async def _at_least(rows, n: int) -> bool:  # type: ignore[no-untyped-def]
    return len(await rows) >= n


async def _covers(rows, values: list[int]) -> bool:  # type: ignore[no-untyped-def]
    have = {int(o["value"]) for o in await rows}
    return bool(values) and set(values) <= have


async def _live_after(rows, t_ms: int) -> bool:  # type: ignore[no-untyped-def]
    got = await rows
    return bool(got) and got[-1]["time_ms"] > t_ms and not got[-1]["backfill"]
