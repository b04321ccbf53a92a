"""pymodbus's register read responses (functions 3 and 4), encoded and decoded with one Struct each.

pymodbus 3.16 packs a read response register by register (``result += struct.pack(">H", r)``), unpacks it the same
way, and formats every decoded PDU — all its registers — for a debug line whether or not debug logging is on.
These subclasses change none of the bytes on the wire; they are registered through pymodbus's own hooks: the
client's ``register()`` (the adapter) and the server's ``custom_pdu`` (the simulator).

Example::

    client = AsyncModbusTcpClient(host, port=port)
    for response in RESPONSES:
        client.register(response)
"""

from __future__ import annotations

import struct
from functools import lru_cache

from pymodbus.exceptions import ModbusIOException
from pymodbus.pdu.register_message import ReadHoldingRegistersResponse, ReadInputRegistersResponse

__all__ = ["RESPONSES", "HoldingRegistersResponse", "InputRegistersResponse"]


@lru_cache(maxsize=256)
def _registers(count: int) -> struct.Struct:
    """``count`` big-endian registers."""
    return struct.Struct(f">{count}H")


@lru_cache(maxsize=256)
def _body(count: int) -> struct.Struct:
    """A read response body: the byte count, then ``count`` big-endian registers."""
    return struct.Struct(f">B{count}H")


class HoldingRegistersResponse(ReadHoldingRegistersResponse):
    """Function 3's response: the same bytes as pymodbus's, one Struct call each way."""

    def encode(self) -> bytes:
        """Byte count + registers (struct.error for a register outside 0..65535, as pymodbus)."""
        regs = self.registers
        return _body(len(regs)).pack(2 * len(regs), *regs)

    def decode(self, data: bytes) -> None:
        """Registers from the body; ModbusIOException when the byte count runs past the packet, as pymodbus."""
        if (data_len := int(data[0])) >= len(data):
            raise ModbusIOException(
                f"byte_count {data_len} > length of packet {len(data)}", function_code=self.function_code
            )
        self.registers = list(_registers(data_len // 2).unpack_from(data, 1))

    def __str__(self) -> str:
        """Short: pymodbus formats every decoded PDU for its debug log, enabled or not."""
        return (
            f"{type(self).__name__}(dev_id={self.dev_id}, transaction_id={self.transaction_id}, "
            f"{len(self.registers)} registers)"
        )


class InputRegistersResponse(ReadInputRegistersResponse):
    """Function 4's response (the same encoding)."""

    encode = HoldingRegistersResponse.encode
    decode = HoldingRegistersResponse.decode
    __str__ = HoldingRegistersResponse.__str__


RESPONSES: tuple[type[ReadHoldingRegistersResponse], ...] = (HoldingRegistersResponse, InputRegistersResponse)
