"""End to end: Modbus simulator (kj-substation) → ModbusAdapter → PlatformClient → MockPlatform (embedded, gRPC).

Everything is checked through the mock platform's inspection API: the reference product's definitions, its
observations with the right codes and units, the methane scenario raising and clearing alarms (ST-PROTO-027),
WRITE_POINT, and a platform outage with the adapter restarted in the middle of it: 0 lost, 0 duplicated, in
order, backfill flagged (ST-PROTO-014, -019, -020, -021).
"""

from __future__ import annotations

import asyncio
import dataclasses
import time
from collections.abc import AsyncIterator, Callable, Iterable
from pathlib import Path
from typing import Any

import pytest
from santong.adapters import BatchSettings, Config, RetrySettings, load_config
from santong.adapters._runner import override_config, product_config, run_adapter
from santong.adapters.client import PlatformClient
from santong.adapters.modbus import ModbusAdapter
from santong.adapters.simulators import load_profile
from santong.adapters.simulators.modbus import ModbusSimulator
from santong.mock_platform._config import PlatformConfig
from santong.mock_platform.embedded import MockPlatform
from st_waiting import DEADLINE_S, wait_for

PROFILE = load_profile("kj-substation")
DEVICE = PROFILE.device.id
TOKEN = "kj-substation-e2e-token"
CODE = {p.name: p.point_code for p in PROFILE.points}
BY_CODE = {p.point_code: p for p in PROFILE.points}

pytestmark = pytest.mark.timeout(120)


def _config(tmp_path: Path, mp: MockPlatform, sim: ModbusSimulator, **settings: str) -> Config:
    c = override_config(
        load_config(product_config("kj-substation")),
        platform=f"grpc://{mp.grpc_target}",
        token=TOKEN,
        queue=tmp_path / "queue.db",
        settings={"port": str(sim.port), "period_ms": "100", "timeout_ms": "300", **settings},
    )
    return dataclasses.replace(
        c,
        platform=dataclasses.replace(
            c.platform, timeout_ms=3000, retry=RetrySettings(base_ms=100, cap_ms=400)
        ),
        batch=BatchSettings(max_points=1000, linger_ms=100),
        queue=dataclasses.replace(c.queue, synchronous="NORMAL"),
    )


async def _until(cond: Callable[[], Any], timeout: float = DEADLINE_S, what: str = "condition") -> Any:
    return await wait_for(cond, timeout=timeout, what=what, every=0.05)


@pytest.fixture
async def mp() -> AsyncIterator[MockPlatform]:
    async with MockPlatform(PlatformConfig(devices={DEVICE: TOKEN}), http_port=None) as m:
        yield m


async def test_reference_product_end_to_end(tmp_path: Path, mp: MockPlatform) -> None:
    sim = ModbusSimulator(PROFILE, speed=20)
    await sim.start(control=False)
    insp = mp.platform.inspection
    stop = asyncio.Event()
    runner = asyncio.create_task(
        run_adapter(_config(tmp_path, mp, sim), stop=stop, install_signal_handlers=False, drain_timeout_s=3.0)
    )
    try:
        # ---- definitions, as the profile says
        defs = await _until(lambda: _defs(insp), what="16 definitions stored")
        assert set(defs) == set(CODE.values())
        for code, d in defs.items():
            p = BY_CODE[code]
            assert (d.get("sensor_type"), d.get("unit", ""), d.get("location")) == (
                p.sensor_type,
                p.unit,
                p.location,
            )
            assert (d.get("range_low", 0), d.get("range_high", 0)) == (p.range_low, p.range_high)
            for k, v in p.thresholds.items():
                assert d[k] == v, (p.name, k)
        outstations = (await insp.definitions(DEVICE))["outstations"]
        assert [o["outstation_code"] for o in outstations] == [PROFILE.device.outstation_code]

        # ---- observations of every point, with the right codes, units and values
        await _until(lambda: _seen(insp, set(CODE.values())), what="observations of all 16 points")
        for o in await insp.observations(device_id=DEVICE):
            p = BY_CODE[o["point_code"]]
            assert p.range_low <= o["value"] <= p.range_high, o
            if p.is_switch:
                assert o["value"] in (0.0, 1.0)
            assert o["status"] == 0 and not o["backfill"], o

        # ---- methane rises past 1.0 % (alarm) and 1.5 % (power-off), then falls back (clear)
        t0 = int(time.time() * 1000)
        sim.engine.start_scenario("methane_rise")
        ch4 = CODE["CH4_T1"]

        async def cleared() -> list[dict[str, Any]]:
            got = await insp.alarms(device_id=DEVICE, point_code=ch4)
            return got if sum(a["state"] == "ALARM_STATE_CLEARED" for a in got) == 2 else []

        alarms = await _until(cleared, what="the methane alarms raised and cleared")
        assert [(a["anomaly_type"], a["state"]) for a in alarms] == [
            ("ANOMALY_TYPE_OVER_LIMIT", "ALARM_STATE_RAISED"),
            ("ANOMALY_TYPE_POWER_OFF", "ALARM_STATE_RAISED"),
            ("ANOMALY_TYPE_POWER_OFF", "ALARM_STATE_CLEARED"),
            ("ANOMALY_TYPE_OVER_LIMIT", "ALARM_STATE_CLEARED"),
        ]
        raised, clear = alarms[0], alarms[3]
        assert (
            raised["alarm_id"] == clear["alarm_id"]
            and raised["unit"] == "%CH4"
            and raised["sensor_type"] == "A001"
        )
        assert clear["max_value"] >= 1.5 and clear["min_value"] >= 1.0 and "end_time" in clear
        obs = [o for o in await insp.observations(device_id=DEVICE, point_code=ch4) if o["time_ms"] >= t0]
        for o in obs:  # the alarm bit 1 and the power-off bit 2 follow the thresholds (ST-PROTO-027)
            if o["value"] >= 1.5:
                assert o["status"] & 3 == 3, o
            elif o["value"] < 1.0:
                assert o["status"] & 1 == 0, o
        assert any(o["status"] & 1 for o in obs) and obs[-1]["status"] == 0
        feed = [o["value"] for o in await insp.observations(device_id=DEVICE, point_code=CODE["FEED_01"])]
        assert 0.0 in feed  # the device cut the feed at 1.5 % and the adapter reported it

        # ---- WRITE_POINT: remote power-off of the feed switch; a read-only point answers UNSUPPORTED
        mp.platform.send_command(DEVICE, "WRITE_POINT", point_code=CODE["FEED_01"], value=0)
        mp.platform.send_command(DEVICE, "WRITE_POINT", point_code=CODE["CH4_T0"], value=0.5)

        async def answered() -> list[dict[str, Any]]:
            got = await insp.commands(DEVICE)
            return got if len(got) == 2 and all(c["result_ms"] for c in got) else []

        commands = await _until(answered, what="both commands answered")
        assert [c["outcome"] for c in commands] == [
            "COMMAND_OUTCOME_SUCCEEDED",
            "COMMAND_OUTCOME_UNSUPPORTED",
        ]
        assert sim.read_point("FEED_01") is False
    finally:
        stop.set()
        code = await asyncio.wait_for(runner, 15)
        await sim.stop()
    assert code == 0
    counts = await insp.counts(DEVICE)
    assert counts["rejected"] == 0 and counts["errors"] == 0, counts


class Recorder:
    """An UplinkSink in front of the client that records every observation the adapter pushed, in order."""

    def __init__(self, client: PlatformClient, pushed: list[tuple[str, float, int, int]]) -> None:
        self.client = client
        self.pushed = pushed

    def now_ms(self) -> int:
        return self.client.now_ms()

    async def observations(self, items: Iterable[Any]) -> None:
        items = list(items)
        self.pushed += [(c, float(v), int(t), int(s)) for c, v, t, s in items]
        await self.client.observations(items)

    async def alarms(self, alarms: Iterable[Any]) -> None:
        await self.client.alarms(alarms)


async def _start(
    config: Config, pushed: list[tuple[str, float, int, int]]
) -> tuple[ModbusAdapter, PlatformClient]:
    assert config.adapter is not None
    adapter = ModbusAdapter(config.adapter)
    client = PlatformClient(config, write=adapter.write)
    await client.define(*adapter.definitions())
    await client.start()
    await adapter.start(Recorder(client, pushed))
    return adapter, client


async def test_outage_and_restart_lose_and_duplicate_nothing(tmp_path: Path, mp: MockPlatform) -> None:
    sim = ModbusSimulator(PROFILE, speed=5)
    await sim.start(control=False)
    insp = mp.platform.inspection
    config = _config(tmp_path, mp, sim, report_interval_ms="300")  # every point at least every 0.3 s
    pushed: list[tuple[str, float, int, int]] = []
    try:
        adapter, client = await _start(config, pushed)
        await _until(lambda: _seen(insp, set(CODE.values())), what="live observations")
        cycle = len(CODE)  # at least every point once per report interval

        def more(n: int) -> Callable[[], Any]:
            """A condition: n more observations pushed than now."""
            target = len(pushed) + n

            async def check() -> bool:
                return len(pushed) >= target

            return check

        # The listener is closed until it is reopened below (outage_for 0 s): the outage spans both adapter runs
        # however slowly they go. (Not "reset": its retry advice would be the whole planned outage.)
        mp.platform.faults.outage_for(4 * DEADLINE_S, mode="refuse")
        # The listener closes a moment later; data delivered meanwhile is rightly live. From the client's first
        # failed call on, everything is late.
        await wait_for(lambda: client.in_outage, what="the client noticing the outage")
        before_outage = int(time.time() * 1000)
        await _until(more(3 * cycle), what="data produced during the outage")
        await adapter.stop()  # the adapter stops in the middle of the outage …
        await client.stop()
        assert await _queued(config) > 0
        adapter, client = await _start(config, pushed)  # … and starts again on the same queue file
        await _until(more(3 * cycle), what="data produced after the restart")
        outage_end = int(time.time() * 1000)
        mp.platform.faults.outage_for(0.0, mode="refuse")  # the platform is back
        await _until(more(cycle), what="data produced after the outage")
        await adapter.stop()
        await client.flush()
        assert await client.wait_delivered(DEADLINE_S), "backlog not delivered after the outage"
        await client.stop()
    finally:
        await sim.stop()
    stored = [
        (o["point_code"], o["value"], o["time_ms"], o["status"])
        for o in await insp.observations(device_id=DEVICE)
    ]
    assert len(pushed) > 100
    assert stored == pushed  # nothing lost, nothing duplicated, same order
    uploads = await insp.uploads(DEVICE)
    seqs = [u["sequence"] for u in uploads]
    assert seqs == sorted(set(seqs))
    batches = await insp.batches(DEVICE)
    during = [b for b in batches if before_outage + 100 <= b["min_time_ms"] <= outage_end - 100]
    assert during and all(b["backfill"] for b in during)  # produced while the platform was away: backfill
    assert not any(b["backfill"] for b in batches if b["max_time_ms"] < before_outage - 500)  # live data: not
    counts = await insp.counts(DEVICE)
    assert counts["rejected"] == 0 and counts["observations"] == len(pushed), counts


async def _queued(config: Config) -> int:
    from santong.adapters.client import UploadQueue

    q = UploadQueue(config.queue.path)
    q.open()
    try:
        return q.count()
    finally:
        q.close()


async def _defs(insp: Any) -> dict[str, dict[str, Any]]:
    points = (await insp.definitions(DEVICE))["points"]
    return {p["point_code"]: p for p in points} if len(points) == 16 else {}


async def _seen(insp: Any, codes: set[str]) -> bool:
    return {o["point_code"] for o in await insp.observations(device_id=DEVICE)} >= codes
