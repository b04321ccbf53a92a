"""The OPC UA simulator (one asyncua server for the whole module: it takes ≈ 2 s to start), read with asyncua's client."""

from __future__ import annotations

import time
from collections.abc import AsyncIterator, Awaitable
from typing import Any

import pytest
import pytest_asyncio
from asyncua import Client, ua
from santong.adapters.simulators import load_profile
from santong.adapters.simulators._engine import ALARM, POWER_OFF
from santong.adapters.simulators.opcua import OpcuaSimulator
from st_waiting import DEADLINE_S, wait_for

pytestmark = pytest.mark.asyncio(loop_scope="module")

PROFILE = load_profile("kj-substation")


@pytest_asyncio.fixture(scope="module", loop_scope="module")
async def sim() -> AsyncIterator[OpcuaSimulator]:
    s = OpcuaSimulator(PROFILE, speed=1)
    await s.start()
    yield s
    await s.stop()


@pytest_asyncio.fixture(scope="module", loop_scope="module")
async def client(sim: OpcuaSimulator) -> AsyncIterator[Client]:
    c = Client(sim.endpoint, timeout=5)
    await c.connect()
    yield c
    await c.disconnect()


@pytest_asyncio.fixture(loop_scope="module", autouse=True)
async def _clean(sim: OpcuaSimulator) -> AsyncIterator[None]:
    yield
    sim.clear_faults()
    sim.engine.stop_scenarios()
    sim.engine.speed = 1
    sim.paused = False


def _node(client: Client, idx: int, point: str, status: bool = False) -> object:
    p = PROFILE.point(point)
    assert p.opcua is not None
    ident = p.opcua.status_node_id if status else p.opcua.node_id
    return client.get_node(f"ns={idx};{ident}")


async def test_variables_follow_the_profile(sim: OpcuaSimulator, client: Client) -> None:
    idx = await client.get_namespace_index(PROFILE.opcua_namespace)
    assert idx == sim.namespace_index
    sim.paused = True  # values frozen; an update in flight writes these same values
    await sim.apply_now()
    for p in PROFILE.points:
        dv = await _node(client, idx, p.name).read_data_value()  # type: ignore[attr-defined]
        assert dv.StatusCode.is_good()
        want = sim.engine.value(p.name)
        if p.is_switch:
            assert dv.Value.VariantType == ua.VariantType.Boolean and dv.Value.Value is (want >= 0.5), p.name
        else:
            assert dv.Value.VariantType == ua.VariantType.Double and dv.Value.Value == pytest.approx(want), (
                p.name
            )
        assert dv.SourceTimestamp is not None
        assert await _node(client, idx, p.name, status=True).read_value() == 0  # type: ignore[attr-defined]
    # browse: Objects/<device>/<point> with a PointCode property
    folder = await client.nodes.objects.get_child([f"{idx}:{PROFILE.device.id}"])
    ch4 = await folder.get_child([f"{idx}:CH4_T1"])
    code = await (await ch4.get_child([f"{idx}:PointCode"])).read_value()
    assert code == PROFILE.point("CH4_T1").point_code


async def test_methane_scenario_through_a_subscription(sim: OpcuaSimulator, client: Client) -> None:
    idx = sim.namespace_index
    assert idx is not None
    changes: list[tuple[str, object]] = []

    class Handler:
        def datachange_notification(self, node: object, val: object, data: object) -> None:
            changes.append((str(node), val))

    nodes: dict[str, Any] = {
        "value": _node(client, idx, "CH4_T1"),
        "status": _node(client, idx, "CH4_T1", status=True),
        "feed": _node(client, idx, "FEED_01"),
    }
    names = {str(n): k for k, n in nodes.items()}
    sub = await client.create_subscription(20, Handler())
    await sub.subscribe_data_change(list(nodes.values()))
    try:
        sim.engine.speed = 20
        sim.engine.start_scenario("methane_rise")
        await wait_for(lambda: not sim.engine.running_scenarios, what="the methane_rise scenario over")

        def seen() -> tuple[list[Any], list[Any], list[Any]]:
            statuses = [v for n, v in changes if names[n] == "status"]
            dedup = [s for i, s in enumerate(statuses) if i == 0 or statuses[i - 1] != s]
            return (
                dedup,
                [v for n, v in changes if names[n] == "value"],
                [v for n, v in changes if names[n] == "feed"],
            )

        def settled() -> bool:  # the last notifications of the scenario's end have arrived
            dedup, values, feeds = seen()
            return dedup[-1:] == [0] and bool(values) and values[-1] < 1.0 and feeds[-1:] == [True]

        await wait_for(settled, what=f"the notifications of the scenario's end (seen {seen()})")
    finally:
        await sub.delete()
    dedup, values, feeds = seen()
    assert dedup[-4:] == [0, ALARM, ALARM | POWER_OFF, 0], dedup
    assert max(values) >= 1.5 and values[-1] < 1.0
    assert False in feeds and feeds[-1] is True


async def test_bad_status_faults(sim: OpcuaSimulator, client: Client) -> None:
    idx = sim.namespace_index
    ch4, co, o2 = (_node(client, idx, n) for n in ("CH4_T0", "CO_01", "O2_01"))  # type: ignore[arg-type]
    r1 = await sim.handle(
        {"cmd": "fault", "kind": "bad_status", "status": "BadSensorFailure", "points": ["CH4_T0"]}
    )
    r2 = await sim.handle(
        {"cmd": "fault", "kind": "bad_status", "status": "BadCommunicationError", "point": "CO_01"}
    )
    assert r1["ok"] and r2["ok"]
    await sim.apply_now()
    dv = await ch4.read_data_value(raise_on_bad_status=False)  # type: ignore[attr-defined]
    assert dv.StatusCode.value == ua.StatusCodes.BadSensorFailure
    dv = await co.read_data_value(raise_on_bad_status=False)  # type: ignore[attr-defined]
    assert dv.StatusCode.value == ua.StatusCodes.BadCommunicationError
    with pytest.raises(ua.UaStatusCodeError):
        await co.read_value()  # type: ignore[attr-defined]
    assert (await o2.read_data_value()).StatusCode.is_good()  # type: ignore[attr-defined]
    bad = await sim.handle({"cmd": "fault", "kind": "bad_status", "status": "BadNonsense"})
    assert not bad["ok"] and "BadNonsense" in bad["error"]
    sim.clear_faults()
    await sim.apply_now()
    assert (await ch4.read_data_value()).StatusCode.is_good()  # type: ignore[attr-defined]
    # a fault with a duration ends by itself
    duration = 1.0
    t0 = time.monotonic()
    sim.inject_bad_status("BadNoCommunication", points=["O2_01"], duration=duration)
    await sim.apply_now()
    dv = await o2.read_data_value(raise_on_bad_status=False)  # type: ignore[attr-defined]
    read_within = time.monotonic() - t0 < duration  # a read later than that (a loaded machine) proves nothing
    assert dv.StatusCode.value == ua.StatusCodes.BadNoCommunication or not read_within, dv.StatusCode

    async def good() -> bool:
        dv = await o2.read_data_value(raise_on_bad_status=False)  # type: ignore[attr-defined]
        return bool(dv.StatusCode.is_good())

    await wait_for(good, timeout=duration + DEADLINE_S, what="the fault ended by itself")
    assert time.monotonic() - t0 >= duration * 0.9


async def test_sensor_fault_status_bit_reads_bad(sim: OpcuaSimulator, client: Client) -> None:
    idx = sim.namespace_index
    sim.engine.start_scenario("sensor_fault")

    async def co_status() -> int:
        dv = await _node(client, idx, "CO_01").read_data_value(raise_on_bad_status=False)  # type: ignore[arg-type, attr-defined]
        return int(dv.StatusCode.value)

    await wait_for(
        lambda: _is(co_status(), ua.StatusCodes.BadSensorFailure), what="CO_01 reading BadSensorFailure"
    )
    assert await _node(client, idx, "CO_01", status=True).read_value() == 128  # type: ignore[arg-type, attr-defined]


async def _is(value: Awaitable[object], expected: object) -> bool:
    return await value == expected
