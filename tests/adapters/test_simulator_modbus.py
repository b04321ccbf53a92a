"""The Modbus TCP simulator, started for real on 127.0.0.1 and read back with pymodbus's client."""

from __future__ import annotations

import asyncio
import json
import struct
import subprocess
import sys
import time
from collections.abc import AsyncIterator, Awaitable

import pytest
from pymodbus.client import AsyncModbusTcpClient, ModbusTcpClient
from pymodbus.exceptions import ModbusException
from pymodbus.pdu.register_message import ReadHoldingRegistersResponse, ReadInputRegistersResponse
from santong.adapters._mapping import decode
from santong.adapters.simulators import load_profile
from santong.adapters.simulators._engine import ALARM, POWER_OFF
from santong.adapters.simulators._runtime import ControlClient, FaultError
from santong.adapters.simulators.modbus import ModbusSimulator
from st_waiting import wait_for

PROFILE = load_profile("kj-substation")
UNIT = PROFILE.modbus_unit_id


async def _client(sim: ModbusSimulator, timeout: float = 1.0) -> AsyncModbusTcpClient:
    c = AsyncModbusTcpClient("127.0.0.1", port=sim.port, timeout=timeout, retries=0)
    assert await c.connect()
    return c


@pytest.fixture
async def sim() -> AsyncIterator[ModbusSimulator]:
    s = ModbusSimulator(PROFILE, speed=1)
    await s.start()
    yield s
    await s.stop()


def _decode_all(regs: list[int]) -> dict[str, float]:
    out = {}
    for p in PROFILE.points:
        assert p.modbus is not None
        a = p.modbus.register_address
        out[p.name] = float(decode(p.modbus.mapping(p.name), regs[a : a + p.modbus.words]))
    return out


async def _read_map(c: AsyncModbusTcpClient) -> list[int]:
    """Values and status words in one request (one consistent snapshot), then the switch word."""
    block = await c.read_holding_registers(0, count=116, device_id=UNIT)
    switches = await c.read_holding_registers(200, count=1, device_id=UNIT)
    assert not block.isError() and not switches.isError()
    regs = [0] * 201
    regs[0:116] = block.registers
    regs[200] = switches.registers[0]
    return regs


async def test_registers_follow_the_profile(sim: ModbusSimulator) -> None:
    # Freeze the values so that what we read can be compared with the engine exactly, and write them to the
    # registers now (the update step's own write).
    sim.paused = True
    await sim._push()
    c = await _client(sim)
    try:
        regs = await _read_map(c)
        got = _decode_all(regs)
        for p in PROFILE.points:
            assert p.modbus is not None
            want = sim.engine.value(p.name)
            tolerance = max(p.modbus.scale, 1e-5) if p.modbus.data_type != "float32" else 1e-5
            assert got[p.name] == pytest.approx(want, abs=tolerance), p.name
            assert regs[p.modbus.status_address] == sim.engine.status(p.name) == 0
        assert 0.2 <= got["CH4_T1"] <= 0.45 and 20.5 <= got["O2_01"] <= 20.9
        assert got["FEED_01"] == 1 and got["SMOKE_01"] == 0 and got["FAN_01"] == 1
        # the same switch bits as coils (16 * register + bit) and from the input-register table
        coils = await c.read_coils(3200, count=6, device_id=UNIT)
        assert coils.bits[:6] == [
            bool(got[n]) for n in ("SMOKE_01", "SHEARER_01", "FEED_01", "FAN_01", "DOOR_01", "DUCT_01")
        ]
        inputs = await c.read_input_registers(0, count=16, device_id=UNIT)
        assert inputs.registers == regs[0:16]
        # past the end of the map: exception 2, like a real device
        beyond = await c.read_holding_registers(200, count=5, device_id=UNIT)
        assert beyond.isError() and beyond.exception_code == 2
    finally:
        c.close()


async def test_methane_scenario_crosses_alarm_then_power_off_then_clears(sim: ModbusSimulator) -> None:
    sim.engine.speed = 20  # the 75 s scenario in ≈ 4 s (slow enough for a loaded machine)
    sim.engine.start_scenario("methane_rise")
    c = await _client(sim)
    seen: list[int] = []
    values: list[float] = []
    feed_while_off: set[bool] = set()
    feed = True
    try:
        deadline = time.monotonic() + 20
        while time.monotonic() < deadline:
            regs = await _read_map(c)
            got = _decode_all(regs)
            status, value, feed = regs[101], got["CH4_T1"], bool(got["FEED_01"])
            values.append(value)
            if status & ALARM:
                assert value >= 1.0
            if status & POWER_OFF:
                assert value >= 1.0  # restored only below 1.0
                feed_while_off.add(feed)
            if not seen or seen[-1] != status:
                seen.append(status)
                if status & POWER_OFF and len(seen) == 3:
                    assert value >= 1.5  # tripped at 1.5
            if len(seen) >= 4 and status == 0 and feed:
                break
            await asyncio.sleep(0.02)
    finally:
        c.close()
    assert seen == [0, ALARM, ALARM | POWER_OFF, 0], seen
    assert False in feed_while_off  # the related feed point lost power while methane was over 1.5 %
    assert feed is True  # and has it back
    assert max(values) >= 1.5 and values[-1] < 1.0


async def test_exception_codes(sim: ModbusSimulator) -> None:
    c = await _client(sim)
    try:
        sim.inject_exception(2, address=[0, 5])
        r = await c.read_holding_registers(0, count=2, device_id=UNIT)
        assert r.isError() and r.exception_code == 2
        ok = await c.read_holding_registers(100, count=2, device_id=UNIT)  # outside the faulty range
        assert not ok.isError()
        sim.clear_faults()
        for code in (4, 6):
            sim.inject_exception(code, count=1)
            r = await c.read_holding_registers(0, count=2, device_id=UNIT)
            assert r.isError() and r.exception_code == code
            r = await c.read_holding_registers(0, count=2, device_id=UNIT)  # count=1: used up
            assert not r.isError()
    finally:
        c.close()


async def test_timeout_then_recovery(sim: ModbusSimulator) -> None:
    c = await _client(sim, timeout=0.3)
    try:
        sim.inject_timeout(count=1)  # the next request goes unanswered, whenever it comes
        t0 = time.monotonic()
        with pytest.raises(ModbusException):
            await c.read_holding_registers(0, count=2, device_id=UNIT)
        assert time.monotonic() - t0 >= 0.25
        assert not sim.active_faults("timeout")  # used up: the device answers again
        if not c.connected:
            await c.connect()
        r = await c.read_holding_registers(0, count=2, device_id=UNIT)
        assert not r.isError()
    finally:
        c.close()


async def test_short_responses(sim: ModbusSimulator) -> None:
    raw_frames: list[bytes] = []

    def trace(sending: bool, data: bytes) -> bytes:
        if not sending:
            raw_frames.append(data)
        return data

    c = AsyncModbusTcpClient("127.0.0.1", port=sim.port, timeout=0.3, retries=0, trace_packet=trace)
    await c.connect()
    try:
        sim.inject_short(count=1)
        with pytest.raises(ModbusException):
            await c.read_holding_registers(0, count=4, device_id=UNIT)
        # the response that came back was a truncated frame: MBAP says 11 bytes follow, fewer did
        assert raw_frames and len(raw_frames[-1]) < 6 + int.from_bytes(raw_frames[-1][4:6], "big")
        c.close()
        await c.connect()
        r = await c.read_holding_registers(0, count=4, device_id=UNIT)
        assert not r.isError() and len(r.registers) == 4
    finally:
        c.close()


async def test_read_responses_are_pymodbus_bytes_up_to_the_end_of_the_map(sim: ModbusSimulator) -> None:
    """The simulator encodes read responses itself and checks a read inside its memory once: the frames must be
    the bytes pymodbus's own response classes make, the last register readable, one more refused (exception 2),
    and an exception fault still answered on the fast path."""
    sim.paused = True
    await sim._push()
    end = sim.extent
    reader, writer = await asyncio.open_connection("127.0.0.1", sim.port)

    async def ask(tid: int, fc: int, address: int, count: int) -> bytes:
        writer.write(struct.pack(">HHHBBHH", tid, 0, 6, UNIT, fc, address, count))
        head = await asyncio.wait_for(reader.readexactly(7), 5)
        assert struct.unpack(">HHHB", head)[0::3] == (tid, UNIT)
        return await asyncio.wait_for(reader.readexactly(int.from_bytes(head[4:6], "big") - 1), 5)

    try:
        for tid, (fc, address, count) in enumerate(
            [(3, 0, 125), (4, 0, 16), (3, end - 3, 3), (4, end - 1, 1)], 1
        ):
            response = ReadHoldingRegistersResponse if fc == 3 else ReadInputRegistersResponse
            want = response(registers=sim.registers[address : address + count]).encode()
            assert await ask(tid, fc, address, count) == bytes([fc]) + want
        assert await ask(10, 3, end - 3, 4) == bytes([0x83, 2])  # one register past the map
        assert await ask(11, 4, end, 1) == bytes([0x84, 2])
        sim.inject_exception(6, address=[end - 1, end - 1])
        assert await ask(12, 3, end - 2, 2) == bytes([0x83, 6])
        assert await ask(13, 3, 0, 2) == bytes([3, 4]) + struct.pack(">2H", *sim.registers[0:2])
    finally:
        writer.close()


async def test_client_write_holds_the_point(sim: ModbusSimulator) -> None:
    c = await _client(sim)
    try:
        r = await c.write_register(7, 1500, device_id=UNIT)  # O2_01: uint16, scale 0.01 → 15.00 %
        assert not r.isError()
        await wait_for(
            lambda: sim.engine.value("O2_01") == pytest.approx(15.0), what="the written value held"
        )
        assert sim.engine.status("O2_01") & ALARM  # below 20 %

        async def status_word() -> int:
            status = await c.read_holding_registers(104, count=1, device_id=UNIT)
            return int(status.registers[0])

        await wait_for(lambda: _has_bits(status_word(), ALARM), what="O2_01's status word with the alarm bit")
        assert (await sim.handle({"cmd": "release", "point": "O2_01"}))["ok"]
    finally:
        c.close()


def test_cli_and_control_socket() -> None:
    """`santong simulate modbus` as a process; faults injected through its JSON-lines control socket."""
    proc = subprocess.Popen(
        [sys.executable, "-m", "santong", "simulate", "modbus", "--speed", "10", "--duration", "60"],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        assert proc.stdout is not None
        info = json.loads(proc.stdout.readline())
        assert info["simulator"] == "modbus" and info["port"] > 0 and info["control_port"] > 0
        client = ModbusTcpClient("127.0.0.1", port=info["port"], timeout=1, retries=0)
        assert client.connect()
        with ControlClient(info["control_port"]) as ctl:
            assert ctl.call("ping")["simulator"] == "modbus"
            fault = ctl.call("fault", kind="exception", code=2, address=[0, 3], duration=30)["fault"]
            assert fault["code"] == 2
            r = client.read_holding_registers(2, count=2, device_id=UNIT)
            assert r.isError() and r.exception_code == 2
            assert ctl.call("clear")["cleared"] == 1
            assert not client.read_holding_registers(2, count=2, device_id=UNIT).isError()
            with pytest.raises(FaultError, match="unknown command"):
                ctl.call("explode")
            with pytest.raises(FaultError, match="exception code"):
                ctl.call("fault", kind="exception", code=99)
            status = ctl.call("status")
            assert set(status["points"]) == {p.name for p in PROFILE.points}
            ctl.call("stop")
        client.close()
        assert proc.wait(10) == 0
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
        for stream in (proc.stdout, proc.stderr):
            if stream is not None:
                stream.close()


async def _has_bits(value: Awaitable[int], bits: int) -> bool:
    return bool(await value & bits)
