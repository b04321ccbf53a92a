"""The MQTT adapter end to end: the MQTT simulator → Debian's mosquitto → MqttAdapter + PlatformClient → the mock platform.

One broker and one publishing simulator for the module (skipped with a one-line reason without mosquitto); each
test runs its own adapter as its own device and client id, so the inspection API separates their data.
"""

# ruff: noqa: E402  (imports after the importorskip of the optional dependency)

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest
import pytest_asyncio

pytest.importorskip(
    "paho.mqtt.client", reason="paho-mqtt 未安装（pip install 'santong[mqtt]'）/ paho-mqtt is not installed"
)

from santong.adapters.mqtt import MqttAdapter
from santong.adapters.simulators import load_profile
from santong.adapters.simulators.mqtt import GARBAGE_VARIANTS, MqttSimulator
from santong.mock_platform.embedded import MockPlatform
from st_waiting import DEADLINE_S

pytestmark = pytest.mark.asyncio(loop_scope="module")

PROFILE = load_profile("kj-substation")
CODE = {p.name: p.point_code for p in PROFILE.points}
ALL = set(CODE.values())


@pytest_asyncio.fixture(scope="module", loop_scope="module")
async def sim(broker: Any) -> AsyncIterator[MqttSimulator]:
    s = MqttSimulator(PROFILE, broker=broker, period=0.2, speed=1)
    await s.start(control=False)
    assert s.connected.is_set()
    yield s
    await s.stop()


@pytest_asyncio.fixture(loop_scope="module", autouse=True)
async def _clean(sim: MqttSimulator) -> AsyncIterator[None]:
    yield
    sim.clear_faults()
    for p in PROFILE.points:
        sim.engine.release(p.name)
        sim.engine.set_status_bits(p.name, 0)
    sim.paused = False


def settings(broker: Any, **extra: Any) -> dict[str, Any]:
    return {
        "host": broker.host, "port": broker.port, "client_id": f"santong-test-{time.monotonic_ns()}",
        "topic": "kjsim/+/data", "timestamp_path": "ts", "timestamp_format": "epoch_ms",
        "quality_path": ".q", "status_path": ".s", "keepalive_s": 5, "reconnect_min_ms": 100,
        "reconnect_max_ms": 500, "report_interval_ms": 0, **extra,
    }  # fmt: skip


def start(
    kit: Any, mp: MockPlatform, tmp_path: Path, broker: Any, **extra: Any
) -> tuple[Any, Any, list[Any]]:
    registry, made = kit.recording(MqttAdapter)
    pts = kit.profile_points(PROFILE, lambda p: {"path": p.mqtt.path})
    cfg = kit.adapter_config(mp, tmp_path, PROFILE, "mqtt", settings(broker, **extra), pts, registry=registry)
    return cfg, registry, made


async def _latest(mp: MockPlatform, device: str) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for o in await mp.platform.inspection.observations(device):
        out[o["point_code"]] = o
    return out


async def _if(coro: Any, pred: Any) -> Any:
    value = await coro
    try:
        return pred(value)
    except (KeyError, TypeError):
        return None


async def _count(mp: MockPlatform, device: str, code: str) -> int:
    return len(await mp.platform.inspection.observations(device, point_code=code))


async def test_end_to_end_paths_times_units_statuses_and_alarms(
    sim: MqttSimulator, broker: Any, mock_platform: MockPlatform, kit: Any, tmp_path: Path
) -> None:
    cfg, registry, made = start(kit, mock_platform, tmp_path, broker)
    dev = cfg.device.device_id
    insp = mock_platform.platform.inspection
    async with kit.run(cfg, registry, made) as adapter:
        assert await adapter.wait_connected(DEADLINE_S)
        await kit.eventually(lambda: _if(_latest(mock_platform, dev), lambda d: set(d) == ALL), DEADLINE_S)
        # Values (and the payload's ts) hold still from here: the simulator's update step runs on this event loop,
        # so none is half done. Messages sent before carry older times; the wait below outlasts them.
        sim.paused = True
        ts = int(sim.engine.now.timestamp() * 1000)
        got = await kit.eventually(
            lambda: _if(
                _latest(mock_platform, dev), lambda d: all(o["time_ms"] == ts for o in d.values()) and d
            ),
            DEADLINE_S,
        )
        defs = {d["point_code"]: d for d in (await insp.definitions(dev))["points"]}
        assert set(defs) == ALL
        assert defs[CODE["CH4_T0"]]["unit"] == "%CH4" and defs[CODE["WIND_01"]]["unit"] == "m/s"
        assert (
            defs[CODE["DUST_01"]]["unit"] == "mg/m³"
            and defs[CODE["SMOKE_01"]]["value_kind"] == "VALUE_KIND_SWITCH"
        )
        for p in PROFILE.points:  # the value at data.<name>.v, the time at ts, the status from .s / .q
            o = got[p.point_code]
            assert o["value"] == pytest.approx(sim.engine.value(p.name), abs=1e-9), p.name
            assert o["status"] == 0 and not o["backfill"], (p.name, o)
        # a sensor fault in the payload (s = 128, q = 1) and methane past the alarm and power-off thresholds
        sim.paused = False
        sim.engine.set_status_bits("CO_01", 128)
        sim.engine.force("CH4_T1", 1.62)

        def faulty(d: dict[str, Any]) -> bool:
            ch4 = d[CODE["CH4_T1"]]
            return (
                d[CODE["CO_01"]]["status"] == 128
                and ch4["value"] == pytest.approx(1.62)
                and ch4["status"] & 3 == 3
            )

        await kit.eventually(lambda: _if(_latest(mock_platform, dev), faulty), DEADLINE_S)
        sim.engine.set_status_bits("CO_01", 0)
        sim.engine.force("CH4_T1", 0.4)
        await kit.eventually(
            lambda: _if(
                _latest(mock_platform, dev),
                lambda d: d[CODE["CO_01"]]["status"] == 0 and d[CODE["CH4_T1"]]["status"] == 0,
            ),
            DEADLINE_S,
        )
        alarms = await kit.eventually(
            lambda: _if(insp.alarms(dev, point_code=CODE["CH4_T1"]), lambda a: len(a) >= 4 and a), DEADLINE_S
        )
        assert {a["state"] for a in alarms} == {"ALARM_STATE_RAISED", "ALARM_STATE_CLEARED"}
        assert adapter.stats.rejected == 0 and not adapter.problems.counts
        assert adapter.stats.acked > 0  # QoS 1 messages acknowledged after the durable queue
    assert (await insp.counts(dev))["rejected"] == 0


async def test_garbage_payloads_are_rejected_with_reasons_and_nothing_accepted_is_lost(
    sim: MqttSimulator,
    broker: Any,
    mock_platform: MockPlatform,
    kit: Any,
    tmp_path: Path,
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.WARNING, "santong.adapters.mqtt")
    cfg, registry, made = start(kit, mock_platform, tmp_path, broker, max_payload_bytes=65536)
    dev = cfg.device.device_id
    async with kit.run(cfg, registry, made) as adapter:
        assert await adapter.wait_connected(DEADLINE_S)
        await kit.eventually(lambda: _if(_latest(mock_platform, dev), lambda d: set(d) == ALL), DEADLINE_S)
        for variant in GARBAGE_VARIANTS:
            sim.inject_garbage(variant)
        await kit.eventually(lambda: _ok(adapter.stats.rejected >= 7), DEADLINE_S)
        good_before = adapter.stats.accepted
        # the adapter keeps going: good messages after the garbage are reported
        await kit.eventually(lambda: _ok(adapter.stats.accepted >= good_before + 3), DEADLINE_S)
        p = adapter.problems.counts
        # not_json (it starts with 0xFF: not UTF-8 either), truncated, binary
        assert p["not_utf8"] + p["not_json"] == 3
        assert p["not_json"] >= 1 and p["not_utf8"] >= 1
        assert p["empty"] == 1 and p["wrong_shape"] == 1 and p["too_large"] == 1
        assert p["not_number"] == 1  # bad_value: "v": "abc" at data.CH4_T0.v …
        assert p["missing_field"] == len(ALL) - 1  # … and no other configured point in that payload
        assert adapter.stats.rejected == 7  # every variant: nothing usable in any of them
        text = caplog.text
        for clause in ("ST-DATA-036", "ST-DATA-035", "ST-PROTO-009"):
            assert clause in text, clause
        assert (
            f"topic {PROFILE.topic}" in text and f"point {CODE['CH4_T0']}" in text and "data.CH4_T0.v" in text
        )
    # after a clean stop: one observation per point and accepted vendor message (every one carries every point)
    accepted = adapter.uplink.stats.accepted
    assert await _count(mock_platform, dev, CODE["CH4_T0"]) == accepted
    assert await _count(mock_platform, dev, CODE["FEED_01"]) == accepted
    assert (await mock_platform.platform.inspection.counts(dev))["rejected"] == 0


async def test_broker_restart_reconnects_resubscribes_and_loses_nothing_accepted(
    sim: MqttSimulator, broker: Any, mock_platform: MockPlatform, kit: Any, tmp_path: Path
) -> None:
    cfg, registry, made = start(kit, mock_platform, tmp_path, broker)
    dev = cfg.device.device_id
    async with kit.run(cfg, registry, made) as adapter:
        assert await adapter.wait_connected(DEADLINE_S)
        await kit.eventually(lambda: _if(_latest(mock_platform, dev), lambda d: set(d) == ALL), DEADLINE_S)
        # kill -9, 1 s down, back on the same port
        await asyncio.get_running_loop().run_in_executor(None, broker.restart, 1.0)
        t_up = int(time.time() * 1000)
        # every point once with the outstation-fault bit 16 while the broker was gone
        await kit.eventually(lambda: _if(_faults(mock_platform, dev), lambda f: set(f) == ALL), DEADLINE_S)
        assert await adapter.wait_connected(DEADLINE_S)
        await kit.eventually(lambda: _ok(adapter.stats.connects >= 2), DEADLINE_S)
        # resubscribed (the restarted broker forgot the session): fresh values, normal status
        await kit.eventually(
            lambda: _if(
                _latest(mock_platform, dev),
                lambda d: all(o["status"] == 0 and o["time_ms"] >= t_up for o in d.values()),
            ),
            DEADLINE_S,
        )
        assert adapter.stats.disconnects == 1
    accepted = adapter.uplink.stats.accepted
    assert await _count(mock_platform, dev, CODE["CH4_T0"]) == accepted + 1  # + the one fault record
    seqs = await mock_platform.platform.inspection.acknowledged(dev)
    assert seqs == list(range(1, len(seqs) + 1))


async def test_persistent_session_delivers_what_was_published_while_away(
    sim: MqttSimulator, broker: Any, mock_platform: MockPlatform, kit: Any, tmp_path: Path
) -> None:
    cfg, registry, made = start(kit, mock_platform, tmp_path, broker)
    dev = cfg.device.device_id
    async with kit.run(cfg, registry, made) as adapter:
        assert await adapter.wait_connected(DEADLINE_S)
        await kit.eventually(lambda: _if(_latest(mock_platform, dev), lambda d: set(d) == ALL), DEADLINE_S)
    first = adapter.uplink.stats.accepted
    published = sim.published
    # The adapter is away; the broker queues its QoS 1 messages (same client id).
    await kit.eventually(lambda: _ok(sim.published - published >= 3), DEADLINE_S)
    missed = sim.published - published
    async with kit.run(cfg, registry, made) as again:
        assert await again.wait_connected(DEADLINE_S)
        await kit.eventually(lambda: _ok(again.uplink.stats.accepted >= missed), DEADLINE_S)
    total = first + again.uplink.stats.accepted
    assert await _count(mock_platform, dev, CODE["CH4_T0"]) == total
    times = [
        o["time_ms"]
        for o in await mock_platform.platform.inspection.observations(dev, point_code=CODE["CH4_T0"])
    ]
    assert times == sorted(times)  # the queued messages came first, in order, with their own timestamps


# ----------------------------------------------------------------------------------------------- helpers


async def _ok(value: bool) -> bool:
    return value


async def _faults(mp: MockPlatform, device: str) -> dict[str, Any]:
    return {o["point_code"]: o for o in await mp.platform.inspection.observations(device) if o["status"] & 16}
