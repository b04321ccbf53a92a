"""The Modbus TCP adapter: polls a device with pymodbus, pushes observations and threshold alarms into the sink.

Each period (``settings.period_ms``, fixed rate, missed periods skipped) the adapter runs the reads of its
:class:`~santong.adapters.modbus.converter.ReadPlan` (coalesced: see the converter), converts them with
:class:`~santong.adapters.modbus.converter.ModbusUplink` and pushes what changed. It never stops on a device
error:

- an exception response or a timeout marks the points of that read with a status bit (16 分站故障 when the
  outstation does not answer, 128 传感器故障 when it answers with exception 1–4; table in the converter,
  ST-DATA-020) and logs one line naming the points, the read, the reason and the clause; recovery is logged too;
- exception 2 or 3 on a read that merges several ranges: the device may refuse the unused registers of a gap, so
  that read is bisected and both halves read at once, until only the refused range stands alone (for the
  adapter's lifetime);
- after a timeout the rest of that poll is skipped (one timeout per poll, not one per read); a lost or refused
  connection is retried with jittered exponential back-off (``reconnect_min_ms`` … ``reconnect_max_ms``).

WRITE_POINT (ST-IFACE-013): :meth:`ModbusAdapter.write` encodes the value with the point's mapping (read-modify-
write for points sharing a register) and writes with function 5, 6 or 16; UnsupportedCommand for points not
``writable`` and for input registers / discrete inputs.

Example::

    config = load_config("kj-substation.adapter.yaml")
    adapter = ModbusAdapter(config.adapter)
    await adapter.start(client)          # client: a started PlatformClient (or any UplinkSink)
    ...
    await adapter.stop()
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import random
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from pymodbus.client import AsyncModbusTcpClient
from pymodbus.exceptions import ConnectionException, ModbusException, ModbusIOException
from santong.adapters._sdk import Adapter, AdapterConfig, AdapterError, UnsupportedCommand, UplinkSink
from santong.adapters.modbus._pdu import RESPONSES
from santong.adapters.modbus.config import ModbusSettings, RegisterSource
from santong.adapters.modbus.converter import (
    STATUS_CLAUSE,
    BlockResult,
    Failure,
    ModbusDownlink,
    ModbusUplink,
    ReadBlock,
    ReadPlan,
)

__all__ = ["ModbusAdapter", "ModbusStats"]

log = logging.getLogger("santong.adapters.modbus")

_STATUS_NAMES = {16: ("分站故障", "outstation fault"), 128: ("传感器故障", "sensor fault")}
_READ = {
    "holding": "read_holding_registers",
    "input": "read_input_registers",
    "coil": "read_coils",
    "discrete": "read_discrete_inputs",
}


@dataclass
class ModbusStats:
    """Counters of one adapter run."""

    polls: int = 0
    reads: int = 0
    failed_reads: int = 0
    observations: int = 0
    alarms: int = 0
    connects: int = 0
    connect_failures: int = 0
    splits: int = 0
    writes: int = 0


class ModbusAdapter(Adapter[ModbusSettings]):
    """Modbus TCP through pymodbus's AsyncModbusTcpClient (see the module docstring).

    Example configuration::

        adapter:
          kind: modbus
          settings: {host: 10.0.0.7, port: 502, unit_id: 1, period_ms: 1000}
          points:
            - {point_code: "14042100000101MNA001001A01", location: T0, data_type: float32,
               source: {address: 0, status_address: 100}}
    """

    kind = "modbus"
    config_type = ModbusSettings
    point_type = RegisterSource

    def __init__(self, config: AdapterConfig[ModbusSettings]) -> None:
        """Plan the reads (AdapterError naming the point if one cannot be read); connect to nothing yet."""
        super().__init__(config)
        s = self.settings
        self.plan = ReadPlan.build(
            config.points,
            default_unit=s.unit_id,
            max_gap=s.max_gap,
            max_registers=s.max_registers,
            max_bits=s.max_bits,
        )
        self.uplink = ModbusUplink(self.plan, report_interval_ms=s.report_interval_ms)
        self.downlink = ModbusDownlink(s.unit_id)
        self.stats = ModbusStats()
        self.period_s = s.period_ms / 1000
        self._client: AsyncModbusTcpClient | None = None
        self._lock = asyncio.Lock()
        self._task: asyncio.Task[None] | None = None
        self._sink: UplinkSink | None = None
        self._logged: dict[str, tuple[int | str, int]] = {}
        self._rng = random.Random()

    # ------------------------------------------------------------------ lifecycle

    async def start(self, sink: UplinkSink) -> None:
        """Start polling into ``sink`` (returns at once; an unreachable device is retried, never fatal)."""
        if self._task is not None:
            return
        self._sink = sink
        self._task = asyncio.create_task(self._run(sink), name="santong-modbus-poll")

    async def stop(self) -> None:
        """Stop polling and close the connection; idempotent."""
        task, self._task = self._task, None
        if task is not None:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task
        await self._close()

    @property
    def connected(self) -> bool:
        """True while the TCP connection to the device is up."""
        return self._client is not None and bool(self._client.connected)

    async def connect(self) -> bool:
        """(Re)connect now; False if the device refuses or cannot be reached (the poll loop does this itself)."""
        return await self._connect()

    async def _connect(self) -> bool:
        await self._close()
        s = self.settings
        client = AsyncModbusTcpClient(
            s.host,
            port=s.port,
            timeout=s.timeout_ms / 1000,
            retries=0,
            reconnect_delay=0,
            name="santong-modbus",
        )
        for response in RESPONSES:  # the same bytes, decoded with one Struct call (see _pdu)
            client.register(response)
        try:
            ok = bool(await client.connect())
        except (OSError, ModbusException):
            ok = False
        if not ok:
            client.close()
            self.stats.connect_failures += 1
            return False
        self._client = client
        self.stats.connects += 1
        log.info("已连接 Modbus 设备 / connected to the Modbus device %s:%d", s.host, s.port)
        return True

    async def _close(self) -> None:
        client, self._client = self._client, None
        if client is not None:
            client.close()

    def _backoff(self, failures: int) -> float:
        s = self.settings
        ceiling = min(s.reconnect_max_ms, s.reconnect_min_ms * 2 ** min(failures, 30)) / 1000
        return self._rng.uniform(s.reconnect_min_ms / 1000, max(ceiling, s.reconnect_min_ms / 1000))

    async def _run(self, sink: UplinkSink) -> None:
        loop = asyncio.get_running_loop()
        failures = 0
        due = loop.time()
        while True:
            try:
                if not self.connected:
                    if not await self._connect():
                        s = self.settings
                        reason = Failure(
                            "connection", f"{s.host}:{s.port} 拒绝或不可达 / refused or unreachable"
                        )
                        await self._push(sink, {b: reason for b in self.plan.blocks}, sink.now_ms())
                        failures += 1
                        await asyncio.sleep(self._backoff(failures))
                        due = loop.time()
                        continue
                    failures = 0
                await self.poll_once(sink)
            except asyncio.CancelledError:
                raise
            except Exception:  # the adapter keeps running; the log says what went wrong
                log.exception("Modbus 轮询出错，继续运行 / Modbus poll failed; the adapter keeps running")
            due += self.period_s
            now = loop.time()
            if due < now:  # overran: skip the missed periods instead of bursting
                due = now
            await asyncio.sleep(due - now)

    # ------------------------------------------------------------------ polling

    async def poll_once(self, sink: UplinkSink) -> int:
        """Read every block once, push the observations and alarms; returns the number of observations."""
        time_ms = sink.now_ms()
        async with self._lock:
            results = await self._read_all()
        self.stats.polls += 1
        return await self._push(sink, results, time_ms)

    async def _push(self, sink: UplinkSink, results: Mapping[ReadBlock, BlockResult], time_ms: int) -> int:
        obs = self.uplink.convert(results, time_ms)
        self._log_faults()
        for w in self.uplink.warnings:
            log.warning("%s", w)
        self.uplink.warnings.clear()
        if obs:
            await sink.observations(obs)
            self.stats.observations += len(obs)
        alarms = self.uplink.drain_alarms()
        if alarms:
            await sink.alarms(alarms)
            self.stats.alarms += len(alarms)
        return len(obs)

    async def _read_all(self) -> dict[ReadBlock, BlockResult]:
        results: dict[ReadBlock, BlockResult] = {}
        while True:
            plan = self.plan
            split = False
            for block in plan.blocks:
                if block in results:
                    continue
                res = await self._read(block)
                if isinstance(res, Failure) and res.code in (2, 3) and plan.splittable(block):
                    zh, en = res.describe()
                    log.info(
                        "设备以%s拒绝合并读取 %s，将其一分为二 / the device refused the merged read %s with %s: "
                        "splitting it in two (for the adapter's lifetime)",
                        zh, block.describe(), block.describe(), en,
                    )  # fmt: skip
                    self.plan = plan.bisect(block)
                    self.uplink.replan(self.plan)
                    self.stats.splits += 1
                    split = True
                    break
                results[block] = res
                if isinstance(res, Failure) and res.code in ("timeout", "connection"):
                    for b in plan.blocks:  # one timeout per poll is enough: the rest would wait as long
                        results.setdefault(b, res)
                    break
            if not split:
                return results

    async def _read(self, block: ReadBlock) -> BlockResult:
        client = self._client
        self.stats.reads += 1
        if client is None or not client.connected:
            self.stats.failed_reads += 1
            return Failure("connection", "未连接 / not connected")
        fn = getattr(client, _READ[block.table])
        try:
            async with asyncio.timeout(
                2 * self.settings.timeout_ms / 1000 + 1
            ):  # no task per read (wait_for)
                rr = await fn(block.address, count=block.count, device_id=block.unit_id)
        except (TimeoutError, ModbusIOException) as e:
            failure = Failure("timeout", str(e) or "timeout")
        except ConnectionException as e:
            await self._close()
            failure = Failure("connection", str(e))
        except (ModbusException, ValueError, IndexError) as e:
            failure = Failure("frame", f"{type(e).__name__}: {e}")
        else:
            if rr.isError():
                failure = Failure(int(getattr(rr, "exception_code", 0) or 4), str(rr))
            else:
                data: Any = rr.bits[: block.count] if block.is_bits else rr.registers
                if len(data) >= block.count:
                    return data  # type: ignore[no-any-return]
                failure = Failure("frame", f"{len(data)} / {block.count}")
        self.stats.failed_reads += 1
        if failure.code in ("timeout", "frame"):
            # a late or truncated answer leaves the TCP stream and the client's transaction ids out of step:
            # start the next poll on a fresh connection rather than read stale bytes
            await self._close()
        return failure

    def _log_faults(self) -> None:
        """One line per new failure (naming its points and the clause), one per recovery."""
        faults = self.uplink.faults
        new: dict[tuple[int | str, int, str], list[str]] = {}
        for code, (bits, failure) in faults.items():
            key = (failure.code, bits)
            if self._logged.get(code) != key:
                self._logged[code] = key
                new.setdefault((failure.code, bits, failure.message), []).append(code)
        for (fcode, bits, message), codes in new.items():
            zh, en = Failure(fcode, message).describe()
            sz, se = _STATUS_NAMES.get(bits, (str(bits), str(bits)))
            log.warning(
                "[%s] 测点 %s 读取失败：%s → 状态位 %d %s；适配器继续运行 / point(s) %s: read failed: %s (%s) → "
                "status bit %d %s; the adapter keeps running",
                STATUS_CLAUSE, ", ".join(codes), zh, bits, sz, ", ".join(codes), en, message, bits, se,
            )  # fmt: skip
        back = [c for c in self._logged if c not in faults]
        for c in back:
            del self._logged[c]
        if back:
            log.info("测点 %s 恢复读取 / point(s) %s read again", ", ".join(back), ", ".join(back))

    # ------------------------------------------------------------------ commands

    async def write(self, point_code: str, value: float) -> None:
        """WRITE_POINT: encode and write (UnsupportedCommand when not writable; AdapterError on a device error)."""
        point = self.points.get(point_code)
        if point is None:
            raise UnsupportedCommand(f"没有测点 {point_code} / no point {point_code}")
        self.downlink.convert(
            point, value, [0] * (point.mapping.register_count if point.mapping else 1)
        )  # check
        async with self._lock:
            client = self._client
            if client is None or not client.connected:
                raise AdapterError(
                    f"Modbus 设备未连接，无法写 {point_code} / the Modbus device is not connected"
                )
            src: RegisterSource = point.source
            current = None
            unit = self.downlink.default_unit if src.unit_id is None else src.unit_id
            try:
                if self.downlink.needs_current(point):
                    assert point.mapping is not None
                    rr = await client.read_holding_registers(
                        src.address, count=point.mapping.register_count, device_id=unit
                    )
                    if rr.isError():
                        raise AdapterError(
                            f"读取 {point_code} 当前值失败 / reading {point_code} before the write failed: {rr}"
                        )
                    current = rr.registers
                req = self.downlink.convert(point, value, current)
                if req.function == 5:
                    wr = await client.write_coil(req.address, bool(req.values[0]), device_id=req.unit_id)
                elif req.function == 6:
                    wr = await client.write_register(req.address, req.values[0], device_id=req.unit_id)
                else:
                    wr = await client.write_registers(req.address, list(req.values), device_id=req.unit_id)
            except ModbusException as e:
                raise AdapterError(f"写 {point_code} 失败 / writing {point_code} failed: {e}") from e
            if wr.isError():
                code = getattr(wr, "exception_code", 0)
                zh, en = Failure(int(code or 4), "").describe()
                raise AdapterError(
                    f"写 {point_code} 被设备拒绝：{zh} / the device refused the write to {point_code}: {en}"
                )
        self.stats.writes += 1
        self.uplink.filter.reset(point_code)
        log.info("已写入 / written: %s = %s", point_code, value)

    async def configure(self, report_interval_ms: int, settings: Mapping[str, str]) -> None:
        """CONFIGURE: a report interval for unchanged points (ST-PROTO-025); ``settings["period_ms"]`` the poll period."""
        if report_interval_ms > 0:
            self.uplink.report_interval_ms = report_interval_ms
        if "period_ms" in settings:
            period = int(settings["period_ms"])
            if not 10 <= period <= 86_400_000:
                raise ValueError(
                    f"period_ms 应在 10..86400000 / period_ms must be 10..86400000, got {period}"
                )
            self.period_s = period / 1000
