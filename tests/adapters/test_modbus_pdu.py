"""The one-Struct read responses (adapters/modbus/_pdu.py) against pymodbus's own: the same bytes both ways, the
same refusals, and a real client reading the real simulator through them."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from pymodbus.client import AsyncModbusTcpClient
from pymodbus.exceptions import ModbusIOException
from pymodbus.pdu.register_message import ReadHoldingRegistersResponse, ReadInputRegistersResponse
from santong.adapters.modbus._pdu import RESPONSES, HoldingRegistersResponse, InputRegistersResponse
from santong.adapters.simulators import load_profile
from santong.adapters.simulators.modbus import ModbusSimulator

PAIRS = [
    (HoldingRegistersResponse, ReadHoldingRegistersResponse),
    (InputRegistersResponse, ReadInputRegistersResponse),
]


@settings(deadline=None, max_examples=200)
@given(pair=st.sampled_from(PAIRS), registers=st.lists(st.integers(0, 0xFFFF), max_size=125))
def test_encode_and_decode_equal_pymodbus(pair: tuple[type, type], registers: list[int]) -> None:
    ours, theirs = pair
    assert ours.function_code == theirs.function_code
    data = theirs(registers=registers).encode()
    assert ours(registers=registers).encode() == data
    got, want = ours(), theirs()
    got.decode(data)
    want.decode(data)
    assert got.registers == want.registers == registers and isinstance(got.registers, list)


@settings(deadline=None, max_examples=200)
@given(pair=st.sampled_from(PAIRS), data=st.binary(min_size=1, max_size=40))
def test_any_body_decodes_or_fails_as_pymodbus(pair: tuple[type, type], data: bytes) -> None:
    """Odd byte counts, trailing bytes and byte counts past the packet: the same registers or the same error."""
    ours, theirs = pair
    want = theirs()
    try:
        want.decode(data)
    except ModbusIOException as e:
        with pytest.raises(ModbusIOException) as info:
            ours().decode(data)
        assert str(info.value) == str(e)
        return
    got = ours()
    got.decode(data)
    assert got.registers == want.registers


def test_a_register_out_of_range_is_refused_like_pymodbus() -> None:
    for ours, theirs in PAIRS:
        for bad in ([0x10000], [-1]):
            with pytest.raises(Exception) as want:
                theirs(registers=bad).encode()
            with pytest.raises(type(want.value)):
                ours(registers=bad).encode()


def test_str_is_short_and_names_the_response() -> None:
    text = str(HoldingRegistersResponse(registers=list(range(125)), dev_id=3, transaction_id=9))
    assert text == "HoldingRegistersResponse(dev_id=3, transaction_id=9, 125 registers)"


async def test_a_client_with_the_responses_registered_reads_the_simulator() -> None:
    sim = ModbusSimulator(load_profile("kj-substation"), speed=1)
    await sim.start()
    sim.paused = True
    await sim._push()
    client = AsyncModbusTcpClient("127.0.0.1", port=sim.port, timeout=2, retries=0)
    for response in RESPONSES:
        client.register(response)
    try:
        assert await client.connect()
        unit = sim.unit_id
        holding = await client.read_holding_registers(0, count=116, device_id=unit)
        inputs = await client.read_input_registers(0, count=16, device_id=unit)
        assert type(holding) is HoldingRegistersResponse and type(inputs) is InputRegistersResponse
        assert holding.registers == sim.registers[0:116] and inputs.registers == sim.registers[0:16]
        refused = await client.read_holding_registers(sim.extent - 1, count=2, device_id=unit)
        assert refused.isError() and refused.exception_code == 2
    finally:
        client.close()
        await sim.stop()
