"""Downlink commands of the platform client (a collaborator of :class:`PlatformClient`, ST-IFACE-011..014):
keep the command stream open while registered, execute TIME_SYNC, CONFIGURE, RESEND_DEFINITIONS and WRITE_POINT,
answer every command with a result.

Example::

    downlink = Downlink(client)
    task = asyncio.create_task(downlink.loop())
"""

from __future__ import annotations

import asyncio
import logging
import time
from typing import TYPE_CHECKING

from santong.adapters._sdk import UnsupportedCommand
from santong.adapters.client._retry import Disposition
from santong.adapters.client._times import ms_of, ts_of
from santong.adapters.client._transport import CallError
from santong.protocols import must_violations, validate
from santong.protocols.v1 import device_access_pb2 as pb

if TYPE_CHECKING:
    from santong.adapters.client._client import PlatformClient

__all__ = ["Downlink"]

log = logging.getLogger("santong.adapters.client")


class Downlink:
    """The command side of one client."""

    def __init__(self, client: PlatformClient) -> None:
        self.c = client

    async def loop(self) -> None:
        failures = 0
        while True:
            await self.c._registered_event.wait()
            assert self.c._transport is not None
            try:
                await self.c._transport.command_stream(self.handle)
                failures = 0
            except CallError as e:
                if e.code == "UNIMPLEMENTED":
                    log.warning("平台不提供下行命令 / the platform offers no Commands stream: %s", e)
                    return
                if e.disposition is Disposition.HOLD:
                    await self.c._hold(e)
                    continue
                if e.disposition is Disposition.REREGISTER:
                    self.c._lost_registration()
                failures += 1
            await asyncio.sleep(self.c.backoff.delay(min(failures, 64), None, self.c._uniform))

    async def handle(self, cmd: pb.Command) -> pb.CommandResult:
        """Execute one command and build its result (every command gets one, ST-IFACE-011)."""
        self.c.stats.commands += 1
        try:
            message = await self.execute(cmd)
            outcome = pb.COMMAND_OUTCOME_SUCCEEDED
        except UnsupportedCommand as e:
            outcome, message = pb.COMMAND_OUTCOME_UNSUPPORTED, str(e)
        except Exception as e:  # a device error answers FAILED; the stream goes on
            outcome, message = pb.COMMAND_OUTCOME_FAILED, f"{type(e).__name__}: {e}"
        result = pb.CommandResult(command_id=cmd.command_id, outcome=outcome, message=message[:1000])
        result.device_time.CopyFrom(ts_of(self.c.now_ms()))
        for v in must_violations(validate(pb.CommandsRequest(result=result), self.c._context())):
            log.warning("命令结果 / command result: %s", v)
        log.info(
            "命令 %s %s → %s %s",
            cmd.command_id,
            pb.CommandType.Name(cmd.type),
            pb.CommandOutcome.Name(outcome),
            message,
        )
        return result

    async def execute(self, cmd: pb.Command) -> str:
        kind = cmd.type
        if kind == pb.COMMAND_TYPE_TIME_SYNC:
            server = ms_of(cmd.time_sync.server_time) or ms_of(cmd.issued_at)
            if server is None:
                raise ValueError("TIME_SYNC 缺少 server_time / TIME_SYNC without server_time")
            before = self.c.clock_offset_ms
            self.c.clock_offset_ms = int(round(server + self.c._rtt_ms / 2 - time.time() * 1000))
            return f"clock offset {before} → {self.c.clock_offset_ms} ms"
        if kind == pb.COMMAND_TYPE_CONFIGURE:
            c = cmd.configure
            if c.heartbeat_interval_ms:
                self.c._heartbeat_ms = int(c.heartbeat_interval_ms)
            if c.report_interval_ms:
                self.c._linger_s = min(self.c.config.batch.linger_ms, int(c.report_interval_ms)) / 1000
            if self.c._configure is not None:
                await self.c._configure(int(c.report_interval_ms), dict(c.settings))
            return f"heartbeat {self.c.heartbeat_interval_ms()} ms, linger {int(self.c._linger_s * 1000)} ms"
        if kind == pb.COMMAND_TYPE_RESEND_DEFINITIONS:
            fut: asyncio.Future[None] = asyncio.get_running_loop().create_future()
            self.c._defs_waiters.append(fut)
            self.c._defs_dirty = True
            self.c._wake.set()
            await asyncio.wait_for(fut, timeout=max(30.0, 3 * self.c._timeout_s))
            return f"{len(self.c._points)} points, {len(self.c._outstations)} outstations sent again"
        if kind == pb.COMMAND_TYPE_WRITE_POINT:
            code, value = cmd.write_point.point_code, cmd.write_point.value
            if self.c._write is None:
                raise UnsupportedCommand("设备不支持写测点 / the device cannot write points")
            if code not in self.c._points:
                raise KeyError(f"未定义的测点 / undefined point {code}")
            await self.c._write(code, value)
            return f"{code} = {value}"
        if kind == pb.COMMAND_TYPE_TEST_EVENT:
            if self.c._test_event is None:
                raise UnsupportedCommand(
                    "测试事件只在认证模式下执行 / test events run only in certification mode (ST-PROTO-036)"
                )
            if cmd.test_event.point_code not in self.c._points:
                raise KeyError(f"未定义的测点 / undefined point {cmd.test_event.point_code}")
            return await self.c._test_event(cmd.test_event)
        raise UnsupportedCommand(f"不支持的命令类型 / unsupported command type {kind}")
