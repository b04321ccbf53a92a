"""The Modbus adapter against the real pymodbus simulator (kj-substation profile) on 127.0.0.1, port 0.

Exception codes, timeouts, short frames and a vanished device: each becomes a point status with a logged reason
naming the point and the clause, and the adapter keeps running. Writes go through to the registers.
"""

from __future__ import annotations

import dataclasses
import logging
import os
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any

import pytest
from santong.adapters import MappingError, UnsupportedCommand, load_config
from santong.adapters._runner import override_config, product_config
from santong.adapters.modbus import ModbusAdapter, RegisterSource
from santong.adapters.simulators import load_profile
from santong.adapters.simulators.modbus import ModbusSimulator
from st_waiting import DEADLINE_S, wait_for

os.environ.setdefault("SANTONG_TOKEN", "device-test-token")
PROFILE = load_profile("kj-substation")
CODE = {p.name: p.point_code for p in PROFILE.points}
NAME = {p.point_code: p.name for p in PROFILE.points}
FAST = {"period_ms": "50", "timeout_ms": "200", "reconnect_min_ms": "50", "reconnect_max_ms": "400"}

pytestmark = pytest.mark.timeout(60)


class Sink:
    """An in-memory UplinkSink."""

    def __init__(self) -> None:
        self.obs: list[tuple[Any, ...]] = []
        self.alarms_got: list[Any] = []

    def now_ms(self) -> int:
        return int(time.time() * 1000)

    async def observations(self, items: Any) -> None:
        self.obs.extend(items)

    async def alarms(self, alarms: Any) -> None:
        self.alarms_got.extend(alarms)

    def last(self) -> dict[str, tuple[float, int]]:
        return {c: (v, s) for c, v, _, s in self.obs}


def _adapter(port: int, **settings: str) -> ModbusAdapter:
    config = override_config(
        load_config(product_config("kj-substation")), settings={"port": str(port), **FAST, **settings}
    )
    assert config.adapter is not None
    return ModbusAdapter(config.adapter)


async def _until(cond: Callable[[], bool], timeout: float = DEADLINE_S / 2, show: Any = None) -> None:
    """Wait for cond; on failure say what ``show()`` returns (within the module's 60 s pytest timeout)."""
    try:
        await wait_for(cond, timeout=timeout)
    except AssertionError as e:
        raise AssertionError(f"{e}; now: {show() if show else ''}"[:3000]) from None


@pytest.fixture
async def sim() -> AsyncIterator[ModbusSimulator]:
    s = ModbusSimulator(PROFILE, speed=1)
    await s.start(control=False)
    yield s
    await s.stop()


async def test_values_decode_as_the_profile_says(sim: ModbusSimulator) -> None:
    sim.paused = True  # values frozen …
    await sim._push()  # … and written to the registers now (the update step's own write)
    adapter, sink = _adapter(sim.port), Sink()  # type: ignore[arg-type]
    assert await adapter.connect()
    try:
        assert await adapter.poll_once(sink) == 16
        assert adapter.stats.reads == 2  # values + status words in one read, the switch word in another
        got = sink.last()
        for p in PROFILE.points:
            assert p.modbus is not None
            value, status = got[p.point_code]
            tol = 1e-6 if p.modbus.data_type == "float32" else p.modbus.scale / 2
            assert value == pytest.approx(sim.engine.value(p.name), abs=tol), p.name
            assert status == 0, p.name
        assert got[CODE["FEED_01"]] == (1.0, 0) and got[CODE["SMOKE_01"]] == (0.0, 0)
        assert 100.5 < got[CODE["BARO_01"]][0] < 102.5  # uint32 Pa → kPa
        assert await adapter.poll_once(sink) == 0  # nothing changed: nothing reported
        sim.engine.set_status_bits("CO_01", 128)  # the device's own 测点状态 (sensor fault) comes through
        sim.paused = False

        async def co_status() -> int:
            await adapter.poll_once(sink)
            return sink.last()[CODE["CO_01"]][1]

        await wait_for(lambda: _equals(co_status(), 128), what="CO_01's status word read back")
    finally:
        await adapter.stop()


async def test_exception_2_marks_only_the_refused_point(
    sim: ModbusSimulator, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO, logger="santong.adapters.modbus")
    adapter, sink = _adapter(sim.port), Sink()  # type: ignore[arg-type]
    await adapter.start(sink)
    try:
        await _until(lambda: len(sink.last()) == 16)
        fault = sim.inject_exception(2, address=[6, 6])  # CO_01's register
        await _until(lambda: sink.last()[CODE["CO_01"]][1] == 128)
        reads = adapter.stats.reads
        await _until(lambda: adapter.stats.reads > reads + 2)  # whole poll cycles with the fault in force
        statuses = {NAME[c]: s for c, (_, s) in sink.last().items()}
        assert statuses.pop("CO_01") == 128 and set(statuses.values()) == {0}  # every other point still reads
        assert adapter.stats.splits >= 1 and len(adapter.plan.blocks) <= 8  # bisected, not one read per point
        warn = [r.getMessage() for r in caplog.records if r.levelno == logging.WARNING]
        assert any(
            CODE["CO_01"] in m and "ST-DATA-020" in m and "exception code 2" in m and "128" in m for m in warn
        )
        assert not any(CODE["CH4_T1"] in m for m in warn)
        fault.remaining = 0  # the device answers again
        await _until(lambda: sink.last()[CODE["CO_01"]][1] == 0)
        assert any("read again" in r.getMessage() and CODE["CO_01"] in r.getMessage() for r in caplog.records)
        assert adapter._task is not None and not adapter._task.done()  # still running
    finally:
        await adapter.stop()


@pytest.mark.parametrize(("code", "bit"), [(4, 128), (6, 16), (11, 16)])
async def test_exception_codes_map_to_point_status(sim: ModbusSimulator, code: int, bit: int) -> None:
    adapter, sink = _adapter(sim.port), Sink()  # type: ignore[arg-type]
    await adapter.start(sink)
    try:
        await _until(lambda: len(sink.last()) == 16)
        sim.inject_exception(code)  # until cleared: however slow the polls, they see it
        await _until(
            lambda: {s for _, s in sink.last().values()} == {bit}, show=lambda: (sink.last(), adapter.stats)
        )
        assert sim.clear_faults() == 1
        await _until(
            lambda: {s for _, s in sink.last().values()} == {0}, show=lambda: (sink.last(), adapter.stats)
        )
    finally:
        await adapter.stop()


async def test_timeout_and_short_frames_mark_the_outstation_and_the_adapter_keeps_running(
    sim: ModbusSimulator, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO, logger="santong.adapters.modbus")
    adapter, sink = _adapter(sim.port), Sink()  # type: ignore[arg-type]
    await adapter.start(sink)
    try:
        await _until(lambda: len(sink.last()) == 16)
        before = dict(sink.last())
        sim.inject_timeout()  # until cleared
        await _until(lambda: {s for _, s in sink.last().values()} == {16})
        faulty = sink.last()
        assert all(
            faulty[c][0] == pytest.approx(before[c][0], abs=0.05) for c in before
        )  # the last good values
        msgs = [r.getMessage() for r in caplog.records if r.levelno == logging.WARNING]
        assert any(
            "timeout" in m and "ST-DATA-020" in m and CODE["CH4_T0"] in m and "outstation fault" in m
            for m in msgs
        )
        assert sim.clear_faults() == 1
        await _until(lambda: {s for _, s in sink.last().values()} == {0})
        failed = adapter.stats.failed_reads
        sim.inject_short(count=1)  # one truncated response: the read times out
        await _until(lambda: adapter.stats.failed_reads > failed)
        reads = adapter.stats.reads
        await _until(lambda: adapter.stats.reads > reads + 2 and {s for _, s in sink.last().values()} == {0})
        assert adapter._task is not None and not adapter._task.done()
    finally:
        await adapter.stop()


async def test_reconnects_with_back_off_after_the_device_restarts(sim: ModbusSimulator) -> None:
    adapter, sink = _adapter(sim.port), Sink()  # type: ignore[arg-type]
    await adapter.start(sink)
    port = sim.port
    try:
        await _until(lambda: len(sink.last()) == 16)
        t_down = time.monotonic()
        await sim.stop()
        await _until(lambda: {s for _, s in sink.last().values()} == {16})
        await _until(lambda: adapter.stats.connect_failures >= 2)  # retried …
        # … with back-off, not a busy loop: at most one attempt per reconnect_min_ms
        min_s = int(FAST["reconnect_min_ms"]) / 1000
        assert adapter.stats.connect_failures <= (time.monotonic() - t_down) / min_s + 1
        again = ModbusSimulator(PROFILE, speed=1, port=port)  # type: ignore[arg-type]
        await again.start(control=False)
        try:
            await _until(lambda: {s for _, s in sink.last().values()} == {0})
            assert adapter.stats.connects == 2
        finally:
            await again.stop()
    finally:
        await adapter.stop()


async def test_write_point(sim: ModbusSimulator) -> None:
    adapter, sink = _adapter(sim.port), Sink()  # type: ignore[arg-type]
    await adapter.start(sink)
    try:
        await _until(lambda: len(sink.last()) == 16)
        feed = CODE["FEED_01"]
        await adapter.write(feed, 0)  # remote power-off: bit 2 of register 200, the other bits untouched
        await _until(lambda: sim.read_point("FEED_01") is False and sink.last()[feed][0] == 0.0)
        assert sim.read_point("FAN_01") is True and sim.read_point("DUCT_01") is True
        await adapter.write(feed, 1)
        await _until(lambda: sink.last()[feed][0] == 1.0)
        with pytest.raises(UnsupportedCommand):
            await adapter.write(CODE["CH4_T1"], 0.5)  # not writable
        with pytest.raises(UnsupportedCommand):
            await adapter.write("14042100000101MNA001001A99", 0.5)  # no such point
        with pytest.raises(MappingError):
            await adapter.write(feed, 0.5)
        assert adapter.stats.writes == 2
    finally:
        await adapter.stop()


async def test_coils_input_registers_and_writable_registers(sim: ModbusSimulator) -> None:
    """The same device read through other tables: coils 3200+bit, input registers; a writable register point."""
    config = override_config(
        load_config(product_config("kj-substation")), settings={"port": str(sim.port), **FAST}
    )
    assert config.adapter is not None
    points = []
    for p in config.adapter.points:
        src = p.source
        name = NAME[p.point_code]
        if p.is_switch:  # coil 16 * 200 + bit, no mapping needed
            bit = p.mapping.bit  # type: ignore[union-attr]
            p = dataclasses.replace(
                p, mapping=None, source=RegisterSource(3200 + bit, "coil", status_address=src.status_address)
            )
        elif name == "TEMP_01":
            p = dataclasses.replace(p, writable=True)
        elif name == "CO_01":
            p = dataclasses.replace(
                p, source=RegisterSource(src.address, "input", status_address=src.status_address)
            )
        points.append(p)
    adapter = ModbusAdapter(dataclasses.replace(config.adapter, points=tuple(points)))
    assert sorted((b.table, b.address, b.count) for b in adapter.plan.blocks) == [
        ("coil", 3200, 6), ("holding", 0, 116), ("input", 6, 1), ("input", 103, 1),
    ]  # fmt: skip
    sim.paused = True  # values frozen …
    await sim._push()  # … and written to the registers now (the update step's own write)
    sink = Sink()
    assert await adapter.connect()
    try:
        await adapter.poll_once(sink)
        got = sink.last()
        for p in PROFILE.points:
            assert got[p.point_code][0] == pytest.approx(sim.engine.value(p.name), abs=0.01), p.name
        await adapter.write(CODE["TEMP_01"], 24.7)  # int16 × 0.1: function 6 with 247
        assert sim.registers[10] == 247
        with pytest.raises(UnsupportedCommand):
            await adapter.write(CODE["CO_01"], 5)  # input registers are read-only
    finally:
        await adapter.stop()


async def _equals(value: Awaitable[object], expected: object) -> bool:
    return await value == expected
