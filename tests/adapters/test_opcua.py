"""The OPC UA adapter end to end: the asyncua simulator → OpcUaAdapter + PlatformClient → the embedded mock platform.

One simulator for the whole module (an asyncua server takes ≈ 2 s to start, far more on a busy machine); each
test runs its own adapter as its own device, so the inspection API separates their data. The restart test stops
the server's endpoint (every connection, session and subscription goes) and starts it again on the same port.
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
    "asyncua", reason="asyncua 未安装（pip install 'santong[opcua]'）/ asyncua is not installed"
)

from asyncua import ua
from santong.adapters.opcua import OpcUaAdapter
from santong.adapters.simulators import load_profile
from santong.adapters.simulators.opcua import OpcuaSimulator
from santong.mock_platform.embedded import MockPlatform
from st_waiting import DEADLINE_S

pytestmark = pytest.mark.asyncio(loop_scope="module")

PROFILE = load_profile("kj-substation")
CODE = {p.name: p.point_code for p in PROFILE.points}
EXTRA = "14042100000101MNA001001A99"  # a point whose node does not exist on the server


@pytest_asyncio.fixture(scope="module", loop_scope="module")
async def sim() -> AsyncIterator[OpcuaSimulator]:
    s = OpcuaSimulator(PROFILE, speed=1)
    await s.start(control=False)
    yield s
    await s.stop()


@pytest_asyncio.fixture(loop_scope="module", autouse=True)
async def _clean(sim: OpcuaSimulator) -> AsyncIterator[None]:
    yield
    sim.clear_faults()
    sim.engine.stop_scenarios()
    for p in PROFILE.points:
        sim.engine.release(p.name)
    sim.paused = False


def settings(sim: OpcuaSimulator, **extra: Any) -> dict[str, Any]:
    return {
        "endpoint": sim.endpoint, "namespace": PROFILE.opcua_namespace, "publishing_interval_ms": 50,
        "sampling_interval_ms": 20, "timeout_ms": 2000, "watchdog_ms": 500, "reconnect_min_ms": 200,
        "reconnect_max_ms": 1000, **extra,
    }  # fmt: skip


def points(kit: Any, sim: OpcuaSimulator, *, writable: tuple[str, ...] = ()) -> list[dict[str, Any]]:
    """Every profile point, node ids in all three spellings, plus one point whose node the server lacks."""

    def source(p: Any) -> dict[str, Any]:
        node, status = p.opcua.node_id, p.opcua.status_node_id
        if p.name == "CH4_T2":
            node = f"nsu={PROFILE.opcua_namespace};{node}"  # by namespace URI
        elif p.name == "CO_01":
            node = f"ns={sim.namespace_index};{node}"  # by namespace index
        return {"node_id": node, "status_node_id": status}

    out = kit.profile_points(PROFILE, source)
    for e in out:
        if any(e["point_code"] == CODE[w] for w in writable):
            e["writable"] = True
    out.append({
        "point_code": EXTRA, "location": "不存在的节点 / a node the server lacks", "sensor_type": "A001", "unit": "%CH4",
        "outstation_code": PROFILE.device.outstation_code, "source": {"node_id": "s=KJ-FZ-001.NO_SUCH_NODE"},
    })  # fmt: skip
    return out


def start(
    kit: Any, mp: MockPlatform, tmp_path: Path, sim: OpcuaSimulator, **kw: Any
) -> tuple[Any, Any, list[Any]]:
    registry, made = kit.recording(OpcUaAdapter)
    cfg = kit.adapter_config(
        mp, tmp_path, PROFILE, "opcua", settings(sim), points(kit, sim, **kw), registry=registry
    )
    return cfg, registry, made


async def _latest(mp: MockPlatform, device: str) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for o in await mp.platform.inspection.observations(device):
        out[o["point_code"]] = o
    return out


async def test_end_to_end_values_units_statuses_and_alarms(
    sim: OpcuaSimulator, mock_platform: MockPlatform, kit: Any, tmp_path: Path
) -> None:
    cfg, registry, made = start(kit, mock_platform, tmp_path, sim)
    dev = cfg.device.device_id
    insp = mock_platform.platform.inspection
    sim.paused = True  # values hold still, so the platform's last values must equal the simulator's
    async with kit.run(cfg, registry, made) as adapter:
        assert await adapter.wait_connected(DEADLINE_S)
        every = set(CODE.values()) | {EXTRA}
        got = await kit.eventually(
            lambda: _if(_latest(mock_platform, dev), lambda d: set(d) == every and d), DEADLINE_S
        )
        # definitions as configured, units from the data dictionary
        defs = {d["point_code"]: d for d in (await insp.definitions(dev))["points"]}
        assert set(defs) == every
        assert defs[CODE["CH4_T1"]]["unit"] == "%CH4" and defs[CODE["CO_01"]]["unit"] == "ppm"
        assert (
            defs[CODE["TEMP_01"]]["unit"] == "℃"
            and defs[CODE["FEED_01"]]["value_kind"] == "VALUE_KIND_SWITCH"
        )
        # values and statuses: every node read through the subscription (three node id spellings among them)
        for p in PROFILE.points:
            o = got[p.point_code]
            want = sim.engine.value(p.name)
            assert o["value"] == pytest.approx(want, abs=1e-9), p.name
            assert o["status"] == 0, (p.name, o)
            assert abs(o["time_ms"] - time.time() * 1000) < 60_000 and not o["backfill"]
        assert got[EXTRA]["status"] == 32 and adapter.stats.refused_items == 1  # not polled (node refused)
        # methane past 1.0 and 1.5 %CH4: alarm and power-off bits, RAISED then CLEARED alarms (ST-PROTO-027)
        sim.paused = False
        sim.engine.force("CH4_T1", 1.62)

        async def alarm_state() -> Any:
            o = (await _latest(mock_platform, dev)).get(CODE["CH4_T1"])
            return o if o and o["value"] == pytest.approx(1.62) else None

        o = await kit.eventually(alarm_state, DEADLINE_S)
        assert o["status"] & 3 == 3, o
        feed = await kit.eventually(
            lambda: _if(_latest(mock_platform, dev), lambda d: d[CODE["FEED_01"]]["value"] == 0 and d),
            DEADLINE_S,
        )
        assert feed[CODE["FEED_01"]]["status"] == 0  # the substation cut the feed: a switch at 0, no fault
        sim.engine.force("CH4_T1", 0.4)
        await kit.eventually(
            lambda: _if(
                _latest(mock_platform, dev),
                lambda d: (
                    d[CODE["CH4_T1"]]["value"] == pytest.approx(0.4)
                    and d[CODE["CH4_T1"]]["status"] == 0
                    and d
                ),
            ),
            DEADLINE_S,
        )
        alarms = await kit.eventually(
            lambda: _if(insp.alarms(dev, point_code=CODE["CH4_T1"]), lambda a: len(a) >= 4 and a), DEADLINE_S
        )
        states = {(a["anomaly_type"], a["state"]) for a in alarms}
        assert states == {
            (t, s)
            for t in ("ANOMALY_TYPE_OVER_LIMIT", "ANOMALY_TYPE_POWER_OFF")
            for s in ("ALARM_STATE_RAISED", "ALARM_STATE_CLEARED")
        }
        assert adapter.stats.connects == 1 and adapter.stats.connection_losses == 0
    assert (await insp.counts(dev))["rejected"] == 0


async def test_bad_status_codes_become_point_status(
    sim: OpcuaSimulator,
    mock_platform: MockPlatform,
    kit: Any,
    tmp_path: Path,
    caplog: pytest.LogCaptureFixture,
) -> None:
    cfg, registry, made = start(kit, mock_platform, tmp_path, sim)
    dev = cfg.device.device_id
    faults = {
        "CO_01": ("BadSensorFailure", 128),
        "O2_01": ("BadCommunicationError", 16),
        "CO2_01": ("BadNoCommunication", 16),
        "DUST_01": ("BadOutOfService", 32),
        "WIND_01": ("UncertainEngineeringUnitsExceeded", 8),
        "BARO_01": ("UncertainLastUsableValue", 16),
        "TEMP_01": ("UncertainInitialValue", 0),
        "SMOKE_01": ("BadDeviceFailure", 128),
    }
    caplog.set_level(logging.WARNING, "santong.adapters.opcua")
    async with kit.run(cfg, registry, made) as adapter:
        assert await adapter.wait_connected(DEADLINE_S)
        await kit.eventually(lambda: _if(_latest(mock_platform, dev), lambda d: len(d) == 17), DEADLINE_S)
        sim.paused = True  # values frozen; an update in flight writes these same values
        await sim.apply_now()
        before = {n: sim.engine.value(n) for n in faults}
        t0 = int(time.time() * 1000) - 1
        for name, (status, _) in faults.items():
            sim.inject_bad_status(status, points=[name])
        await sim.apply_now()

        def all_mapped(d: dict[str, Any]) -> bool:
            return all(
                d[CODE[n]]["status"] == bits and d[CODE[n]]["time_ms"] > t0 for n, (_, bits) in faults.items()
            )

        got = await kit.eventually(
            lambda: _if(_latest(mock_platform, dev), lambda d: all_mapped(d) and d), DEADLINE_S
        )
        for n in faults:  # Bad: the last good value; Uncertain: the value as sent — both the same here
            assert got[CODE[n]]["value"] == pytest.approx(before[n]), n
        assert got[CODE["CH4_T1"]]["status"] == 0  # the others untouched
        assert adapter.uplink.uncertain.get(CODE["TEMP_01"])  # counted (and logged) though no bit is set
        text = caplog.text
        assert "BadSensorFailure" in text and "ST-DATA-020" in text and CODE["CO_01"] in text
        # faults cleared: the points are normal again
        sim.clear_faults()
        await sim.apply_now()
        await kit.eventually(
            lambda: _if(
                _latest(mock_platform, dev), lambda d: all(d[CODE[n]]["status"] == 0 for n in faults)
            ),
            DEADLINE_S,
        )
    assert (await mock_platform.platform.inspection.counts(dev))["rejected"] == 0


async def test_write_point_writes_the_node(
    sim: OpcuaSimulator, mock_platform: MockPlatform, kit: Any, tmp_path: Path
) -> None:
    assert sim.server is not None
    fan = sim.server.get_node(sim.node_ids["FAN_01"])
    await fan.set_writable(True)  # the server lets clients write this one node
    cfg, registry, made = start(kit, mock_platform, tmp_path, sim, writable=("FAN_01", "SMOKE_01"))
    dev = cfg.device.device_id
    insp = mock_platform.platform.inspection
    try:
        async with kit.run(cfg, registry, made) as adapter:
            assert await adapter.wait_connected(DEADLINE_S)
            await kit.eventually(lambda: _if(_latest(mock_platform, dev), lambda d: len(d) == 17), DEADLINE_S)
            sim.paused = True
            send = mock_platform.platform.send_command
            send(dev, "WRITE_POINT", point_code=CODE["FAN_01"], value=0.0)
            # CH4_T1: not writable in the configuration; SMOKE_01: writable here, read-only on the server
            send(dev, "WRITE_POINT", point_code=CODE["CH4_T1"], value=0.5)
            send(dev, "WRITE_POINT", point_code=CODE["SMOKE_01"], value=1.0)

            async def outcomes() -> dict[str, str] | None:
                cmds = await insp.commands(dev)
                done = {
                    c["command"]["write_point"]["point_code"]: c["outcome"] for c in cmds if c.get("outcome")
                }
                return done if len(done) == 3 else None

            got = await kit.eventually(outcomes, DEADLINE_S)
            assert got == {
                CODE["FAN_01"]: "COMMAND_OUTCOME_SUCCEEDED",
                CODE["CH4_T1"]: "COMMAND_OUTCOME_UNSUPPORTED",
                CODE["SMOKE_01"]: "COMMAND_OUTCOME_UNSUPPORTED",
            }
            assert (await fan.read_value()) is False  # a Boolean node got a Boolean
            # the subscription reports the written value back to the platform
            await kit.eventually(
                lambda: _if(_latest(mock_platform, dev), lambda d: d[CODE["FAN_01"]]["value"] == 0),
                DEADLINE_S,
            )
            assert adapter.stats.writes == 1
    finally:
        await fan.set_writable(False)
        await fan.write_value(ua.DataValue(ua.Variant(True, ua.VariantType.Boolean)))


async def test_server_restart_reports_fault_then_recovers(
    sim: OpcuaSimulator,
    mock_platform: MockPlatform,
    kit: Any,
    tmp_path: Path,
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.WARNING, "santong.adapters.opcua")
    cfg, registry, made = start(kit, mock_platform, tmp_path, sim)
    dev = cfg.device.device_id
    async with kit.run(cfg, registry, made) as adapter:
        assert await adapter.wait_connected(DEADLINE_S)
        await kit.eventually(lambda: _if(_latest(mock_platform, dev), lambda d: len(d) == 17), DEADLINE_S)
        server = sim.server
        assert server is not None
        port = sim.port
        t_down = int(time.time() * 1000)
        await server.stop()  # the server goes away: connections, sessions and subscriptions with it
        # every point once with the outstation-fault bit 16 (session lost), its last value kept
        lost = await kit.eventually(
            lambda: _if(
                _latest(mock_platform, dev), lambda d: all(o["status"] & 16 for o in d.values()) and d
            ),
            DEADLINE_S,
        )
        assert all(o["time_ms"] >= t_down - 1000 for o in lost.values())  # on the client's synced clock
        assert lost[CODE["FEED_01"]]["value"] in (0.0, 1.0)

        def failed_sessions() -> int:
            return sum("OPC UA session to" in r.getMessage() for r in caplog.records)

        # The adapter retries meanwhile: the lost session, then at least one refused attempt.
        await kit.eventually(lambda: _value(failed_sessions() >= 2), DEADLINE_S)
        # back on the same endpoint, same address space (a full re-init would take seconds)
        server.set_endpoint(sim.endpoint)
        await server.start()
        assert server.bserver is not None and server.bserver.port == port
        await kit.eventually(lambda: _wait_event(adapter.connected), DEADLINE_S)
        assert adapter.stats.connects == 2 and adapter.stats.connection_losses == 1
        # The new subscription's initial values clear the fault; values flow again. (Latest in delivery order,
        # after the lost ones: no window on time_ms, which keeps the source timestamp of an unchanged value.)
        back = await kit.eventually(
            lambda: _if(
                _latest(mock_platform, dev),
                lambda d: all(o["status"] == 0 for c, o in d.items() if c != EXTRA) and d,
            ),
            DEADLINE_S,
        )
        assert back[EXTRA]["status"] == 32
        seqs = await mock_platform.platform.inspection.acknowledged(dev)
        assert seqs == list(range(1, len(seqs) + 1))  # nothing rejected, nothing skipped


# ----------------------------------------------------------------------------------------------- helpers


async def _if(coro: Any, pred: Any) -> Any:
    value = await coro
    try:
        return pred(value)
    except (KeyError, TypeError):
        return None


async def _wait_event(event: asyncio.Event) -> bool:
    return event.is_set()


async def _value(value: Any) -> Any:
    return value
