"""Modbus TCP device simulator: a pymodbus server (SimDevice/SimData API) whose registers follow the profile.

Register memory: one shared block from address 0 to the highest register the profile uses; addresses in between
read 0, addresses beyond it answer exception 2 (illegal address) — as a real device does. Holding and input
registers read the same memory; coils and discrete inputs address its bits (coil ``16 * register + bit``).
Each point is encoded with :mod:`santong.adapters._mapping` (data type, byte order, word order, scale,
offset), i.e. exactly what the Modbus adapter decodes; ``status_address`` holds the point's 测点状态 bits.
A client write (function 5, 6, 15 or 16) over a point's registers holds that point at the written value,
like a set-point command; ``{"cmd": "release"}`` gives it back to its generator.

Faults (``inject_fault(kind, …)`` or ``{"cmd": "fault", "kind": …}``; each takes ``duration`` seconds and/or
``count`` requests, default until cleared):

- ``exception``: answer with an exception code — ``code`` 2 illegal address, 4 device failure, 6 busy (any
  1–11); ``address: [first, last]`` limits it to requests touching those registers (coils: bit addresses);
  ``function`` limits it to one function code.
- ``timeout``: stop answering (requests are read, no response is sent) — the client times out.
- ``short``: send truncated frames: ``keep`` bytes of each response (default: the header and half the PDU);
  ``fix_length: true`` also rewrites the MBAP length to match, so the frame is complete but its PDU is short.
- ``disconnect``: close the TCP connection instead of answering.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from typing import Any, ClassVar

from pymodbus.constants import ExcCodes
from pymodbus.pdu import ExceptionResponse
from pymodbus.pdu.device import ModbusDeviceIdentification
from pymodbus.pdu.register_message import ReadHoldingRegistersRequest
from pymodbus.server import ModbusTcpServer
from pymodbus.server.requesthandler import ServerRequestHandler
from pymodbus.simulator import DataType, SimData, SimDevice
from pymodbus.simulator.simcore import SimCore
from pymodbus.simulator.simruntime import SimRuntime
from pymodbus.simulator.simutils import SimUtils
from santong.adapters._mapping import PointMapping, decode, encode
from santong.adapters.modbus._pdu import HoldingRegistersResponse, InputRegistersResponse
from santong.adapters.simulators._profile import Point, Profile
from santong.adapters.simulators._runtime import BaseSimulator, Fault, FaultError

__all__ = ["ModbusSimulator"]

log = logging.getLogger("santong.simulators.modbus")

_WRITE_FUNCTIONS = {5: "coil", 15: "coil", 6: "register", 16: "register"}
_BIT_FUNCTIONS = {1, 2, 5, 15}


class _Slot:
    """A point's place in the register memory."""

    __slots__ = ("point", "mapping", "first", "count", "status")

    def __init__(self, point: Point) -> None:
        assert point.modbus is not None
        self.point = point
        self.mapping: PointMapping = point.modbus.mapping(point.name)
        self.first = point.modbus.register_address
        self.count = point.modbus.words
        self.status = point.modbus.status_address


class ModbusSimulator(BaseSimulator):
    """A Modbus TCP device on ``host:port`` (port 0: the OS picks one; see :attr:`port`)."""

    kind: ClassVar[str] = "modbus"
    fault_kinds: ClassVar[tuple[str, ...]] = ("exception", "timeout", "short", "disconnect")

    def __init__(self, profile: Profile, *, port: int = 0, unit_id: int | None = None, **kw: Any) -> None:
        super().__init__(profile, **kw)
        self.requested_port = port
        self.port: int | None = None
        self.unit_id = profile.modbus_unit_id if unit_id is None else unit_id
        self.slots = [_Slot(p) for p in profile.points if p.modbus is not None]
        self.extent = max(profile.modbus_extent(), 1)
        self.server: ModbusTcpServer | None = None
        self._registers: list[int] | None = None
        self._internal_write = False
        self._pending_disconnect = False

    # ------------------------------------------------------------------------------------- lifecycle

    async def _start(self) -> None:
        identity = ModbusDeviceIdentification(
            info_name={
                "VendorName": self.profile.device.vendor,
                "ProductCode": self.profile.device.model,
                "ModelName": self.profile.device.model,
                "MajorMinorRevision": self.profile.device.firmware,
                "ProductName": self.profile.device.name,
            }
        )
        device = SimDevice(
            id=self.unit_id,
            simdata=[SimData(0, count=self.extent, values=0, datatype=DataType.REGISTERS)],
            use_bit_addressing=True,
            action=self._action,
        )
        self.server = _Server(
            device,
            address=(self.host, self.requested_port),
            identity=identity,
            trace_packet=self._trace_packet,
            custom_pdu=[_ReadHoldingRegisters, _ReadInputRegisters],
        )
        core = self.server.context
        assert isinstance(core, SimCore)
        runtime = core.devices[self.unit_id] = _Runtime(device)
        self._registers = runtime.block["x"][2]
        await self.server.serve_forever(background=True)
        listener: Any = self.server.transport
        self.port = listener.sockets[0].getsockname()[1]

    async def _stop(self) -> None:
        if self.server is not None:
            with contextlib.suppress(Exception):
                await self.server.shutdown()
            self.server = None

    def info(self) -> dict[str, Any]:
        return {**super().info(), "port": self.port, "unit_id": self.unit_id, "registers": self.extent}

    # ------------------------------------------------------------------------------------- registers

    @property
    def registers(self) -> list[int]:
        """The live register memory (address 0 first)."""
        if self._registers is None:
            raise RuntimeError("模拟器尚未启动 / the simulator has not started")
        return self._registers

    async def _push(self) -> None:
        regs = self.registers
        engine = self.engine
        for slot in self.slots:
            state = engine.points[slot.point.name]
            try:
                if slot.mapping.data_type == "bool":
                    regs[slot.first] = encode(slot.mapping, state.value >= 0.5, current=[regs[slot.first]])[0]
                else:
                    words = encode(slot.mapping, _clip(slot, state.value))
                    regs[slot.first : slot.first + slot.count] = words
            except ValueError as e:  # value does not fit the register type: keep the last one, say why
                log.warning("%s", e)
            if slot.status is not None:
                regs[slot.status] = state.status & 0xFFFF

    def read_point(self, name: str) -> float | bool | str:
        """Decode a point from the live registers (what a client would read)."""
        for slot in self.slots:
            if slot.point.name == name:
                return decode(slot.mapping, self.registers[slot.first : slot.first + slot.count])
        raise KeyError(f"测点 {name!r} 没有 Modbus 地址 / point {name!r} has no Modbus address")

    # ------------------------------------------------------------------------------------- faults

    def _fault(self, kind: str, params: dict[str, Any], duration: float | None, count: int | None) -> Fault:
        if kind == "exception":
            code = params.get("code", 4)
            try:
                params["code"] = int(ExcCodes(code))
            except (ValueError, TypeError):
                raise FaultError(
                    f"异常码 {code!r} 无效，可用 1–11（2 非法地址、4 设备故障、6 设备忙） / invalid exception code "
                    f"{code!r}; use 1–11 (2 illegal address, 4 device failure, 6 busy)"
                ) from None
            addr = params.get("address")
            if addr is not None:
                if isinstance(addr, int):
                    addr = [addr, addr]
                if (
                    not isinstance(addr, list | tuple)
                    or len(addr) != 2
                    or not all(isinstance(a, int) and a >= 0 for a in addr)
                    or addr[0] > addr[1]
                ):
                    raise FaultError("address 应为 [起始, 结束] / address must be [first, last]")
                params["address"] = list(addr)
            fn = params.get("function")
            if fn is not None and (not isinstance(fn, int) or not 1 <= fn <= 127):
                raise FaultError("function 应为功能码 1..127 / function must be a function code 1..127")
        elif kind == "short":
            keep = params.get("keep")
            if keep is not None and (not isinstance(keep, int) or keep < 0):
                raise FaultError("keep 应为 ≥0 的字节数 / keep must be a byte count >= 0")
            params["fix_length"] = bool(params.get("fix_length", False))
        elif params:
            raise FaultError(
                f"{kind} 只接受 duration 与 count / {kind} takes only duration and count, got {sorted(params)}"
            )
        return self._add_fault(kind, params, duration, count)

    def inject_exception(
        self,
        code: int = 4,
        *,
        address: list[int] | None = None,
        duration: float | None = None,
        count: int | None = None,
    ) -> Fault:
        """Answer requests (touching ``address`` = [first, last] if given) with exception ``code``."""
        params: dict[str, Any] = {"code": code}
        if address is not None:
            params["address"] = address
        return self.inject_fault("exception", duration=duration, count=count, **params)

    def inject_timeout(self, duration: float | None = None, *, count: int | None = None) -> Fault:
        """Stop answering for ``duration`` seconds (or ``count`` requests)."""
        return self.inject_fault("timeout", duration=duration, count=count)

    def inject_short(
        self,
        *,
        keep: int | None = None,
        fix_length: bool = False,
        duration: float | None = None,
        count: int | None = 1,
    ) -> Fault:
        """Send truncated response frames."""
        params: dict[str, Any] = {"fix_length": fix_length}
        if keep is not None:
            params["keep"] = keep
        return self.inject_fault("short", duration=duration, count=count, **params)

    async def _action(
        self,
        function_code: int,
        start_address: int,
        address: int,
        count: int,
        registers: list[int],
        set_values: list[int] | list[bool] | None,
    ) -> ExcCodes | None:
        """pymodbus calls this before each request touches the memory: exception faults, client writes."""
        if self._internal_write or (set_values is None and not self.faults):
            return None
        for f in self.active_faults("exception"):
            fn = f.params.get("function")
            if fn is not None and fn != function_code:
                continue
            rng = f.params.get("address")
            if rng is not None:
                first = address
                last = address + (len(set_values) if set_values else count) - 1
                if function_code in _BIT_FUNCTIONS:
                    # bit requests reach the action with register counts; compare in bit addresses
                    last = address + max(count * 16, 1) - 1 if not set_values else last
                if last < rng[0] or first > rng[1]:
                    continue
            f.use()
            return ExcCodes(f.params["code"])
        if set_values is not None and function_code in _WRITE_FUNCTIONS:
            n = len(set_values)
            asyncio.get_running_loop().call_soon(self._apply_client_write, function_code, address, n)
        return None

    def _apply_client_write(self, function_code: int, address: int, n: int) -> None:
        """After a client write: hold every point whose registers it touched at the decoded value."""
        if function_code in (5, 15):
            first, last = address // 16, (address + n - 1) // 16
        else:
            first, last = address, address + n - 1
        for slot in self.slots:
            if slot.first <= last and slot.first + slot.count - 1 >= first:
                try:
                    value = decode(slot.mapping, self.registers[slot.first : slot.first + slot.count])
                    self.engine.force(slot.point.name, float(value))  # type: ignore[arg-type]
                    log.info("客户端写入 / client write: %s = %s", slot.point.name, value)
                except (ValueError, TypeError) as e:
                    log.warning("客户端写入无法解码 / client write not decodable: %s", e)

    def _trace_packet(self, sending: bool, data: bytes) -> bytes:
        """pymodbus calls this with every frame: timeout, short and disconnect faults act on responses."""
        if not sending or not self.faults:
            return data
        for f in self.active_faults():
            if f.kind == "timeout":
                f.use()
                return b""
            if f.kind == "disconnect":
                f.use()
                self._close_connections()
                return b""
            if f.kind == "short":
                f.use()
                keep = f.params.get("keep")
                if keep is None:
                    keep = 7 + max(1, (len(data) - 7) // 2)
                out = data[: min(keep, len(data) - 1)]
                if f.params.get("fix_length") and len(out) >= 6:
                    out = out[:4] + (len(out) - 6).to_bytes(2, "big") + out[6:]
                return out
        return data

    def _close_connections(self) -> None:
        server = self.server
        if server is None:
            return
        for conn in list(getattr(server, "active_connections", {}).values()):
            transport = getattr(conn, "transport", None)
            if transport is not None:
                transport.abort()


# ----------------------------------------------------------------------------------------- the pymodbus server
# Still pymodbus's ModbusTcpServer, framer, transaction manager, SimCore datastore and PDUs, with the per-read
# cost that is ours trimmed (the simulator answers every poll of a benchmark; 2000 points is 32 reads per poll):


class _Runtime(SimRuntime):
    """pymodbus's device memory; a register *read* inside the leading run of valid registers is checked once, not
    register by register.

    The simulator's memory is one block of valid, writable registers (``SimData(0, count=extent)``; pymodbus
    appends one invalid register after it), so inside that run the per-register type/read-only test of
    :class:`SimRuntime` always passes for a read: the range check and the action (exception faults) decide.
    Writes, bit requests and reads reaching past the run take pymodbus's own path.
    """

    def __init__(self, device: SimDevice) -> None:
        super().__init__(device)
        start, _, _, flags = self.block["x"]
        invalid = SimUtils.RunTimeFlag_TYPE
        self._valid = next((i for i, f in enumerate(flags) if f & invalid == DataType.INVALID), len(flags))
        self._start = start

    async def get_reg_block(
        self, block_id: str, func_code: int, address: int, count: int, values: list[int] | None
    ) -> list[int] | ExcCodes:
        offset = address - self._start
        if values or offset < 0 or offset + count > self._valid or block_id != "x":
            return await super().get_reg_block(block_id, func_code, address, count, values)
        start_address, _, registers, _ = self.block["x"]
        if self.action and (
            result := await self.action(func_code, start_address, address, count, registers, values)
        ):
            return result
        return registers[offset : offset + count]


class _ReadHoldingRegisters(ReadHoldingRegistersRequest):
    """Function 3, answered with :class:`HoldingRegistersResponse` (the same bytes on the wire)."""

    async def datastore_update(self, context: Any, device_id: int) -> Any:
        values = await context.async_getValues(device_id, self.function_code, self.address, self.count)
        if isinstance(values, ExcCodes):
            return ExceptionResponse(self.function_code, values)
        response = HoldingRegistersResponse if self.function_code == 3 else InputRegistersResponse
        return response(registers=values, dev_id=device_id, transaction_id=self.transaction_id)

    def __str__(self) -> str:  # pymodbus formats every decoded request for its debug log, enabled or not
        return f"{type(self).__name__}(dev_id={self.dev_id}, transaction_id={self.transaction_id}, address={self.address}, count={self.count})"


class _ReadInputRegisters(_ReadHoldingRegisters):
    """Function 4."""

    function_code = 4


class _Handler(ServerRequestHandler):
    """One connection: a decoded request is handled in a task created on the loop, where pymodbus goes through
    ``run_coroutine_threadsafe`` (a self-pipe write and one more loop turn per request, from the loop's own thread)."""

    _tasks: ClassVar[set[asyncio.Task[None]]] = set()

    def handle_later(self) -> None:
        task = self.loop.create_task(self.handle_request())
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)


class _Server(ModbusTcpServer):
    """pymodbus's ModbusTcpServer with :class:`_Handler` connections."""

    def callback_new_connection(self) -> _Handler:
        return _Handler(self, self.trace_packet, self.trace_pdu, self.trace_connect)


def _clip(slot: _Slot, value: float) -> float:
    """Keep an integer register value inside its type (a real device saturates instead of wrapping)."""
    m = slot.mapping
    if m.data_type in ("float32", "float64"):
        return value
    bits = {"int16": 16, "uint16": 16, "int32": 32, "uint32": 32, "int64": 64, "uint64": 64}[m.data_type]
    signed = m.data_type.startswith("int")
    lo = -(1 << (bits - 1)) if signed else 0
    hi = (1 << (bits - 1)) - 1 if signed else (1 << bits) - 1
    raw = (value - m.offset) / m.scale
    raw = min(max(raw, lo), hi)
    return raw * m.scale + m.offset
