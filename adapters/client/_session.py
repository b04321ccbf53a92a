"""The session side of the platform client (a collaborator of :class:`PlatformClient`): Register with version
negotiation and resume point (ST-PROTO-004, -023), definitions before any upload (ST-PROTO-024) and the heartbeat
(ST-PROTO-005).

Example::

    session = Session(client)
    await session.register()
    await session.send_definitions()
"""

from __future__ import annotations

import asyncio
import logging
import time
from typing import TYPE_CHECKING

from santong.adapters.client._failed import ClientFailed
from santong.adapters.client._retry import Disposition
from santong.adapters.client._times import ts_of
from santong.adapters.client._transport import CallError
from santong.protocols import (
    ValidationContext,
    default_limits,
    must_violations,
    validate,
    version_violations,
)
from santong.protocols.v1 import device_access_pb2 as pb

if TYPE_CHECKING:
    from santong.adapters.client._client import PlatformClient

__all__ = ["Session"]

log = logging.getLogger("santong.adapters.client")


class Session:
    """Registration, definitions and heartbeat of one client."""

    def __init__(self, client: PlatformClient) -> None:
        self.c = client

    async def _register_once(self, req: pb.RegisterRequest) -> pb.RegisterResponse:
        req.device_time.CopyFrom(ts_of(self.c.now_ms()))
        bad = must_violations(validate(req, ValidationContext(arrival=False)))
        if bad:
            raise ClientFailed(
                "注册请求未通过校验 / the RegisterRequest fails the validation core: "
                + "; ".join(map(str, bad)),
                bad,
            )
        try:
            resp: pb.RegisterResponse = await self.c._call("Register", req)
        except CallError as e:
            if e.disposition is Disposition.RETRY or e.disposition is Disposition.HOLD:
                raise
            raise ClientFailed(
                f"平台拒绝注册（{e.code}，如无共同的规范版本 ST-PROTO-004），客户端停止 / the platform refused Register ({e.code}; e.g. no "
                f"spec version in common, ST-PROTO-004), the client stops: {e}",
                e.violations,
            ) from e
        return resp

    async def register(self) -> None:
        req = self.c.config.register_request()
        # The sequence epoch kept with the counter (ST-PROTO-037); 0 (absent) until a platform gave one.
        req.sequence_epoch = int(await self.c._q(self.c.queue.get_meta, "sequence_epoch", 0) or 0)
        resp = await self._register_once(req)
        counter_lost = resp.last_acknowledged_sequence > 0 and not await self.c._q(
            self.c.queue.registered_before
        )
        if counter_lost and not version_violations(
            pb.RegisterRequest(sequence_epoch=1), resp.negotiated_version
        ):
            # A new queue file for a device the platform knows: its counter was lost. Start a new epoch, counting
            # from 1, instead of continuing a numbering this device no longer holds (ST-PROTO-037).
            req.sequence_epoch = int(resp.sequence_epoch) + 1
            await self.c._q(self.c.queue.set_meta, "sequence_epoch", int(req.sequence_epoch))
            log.warning(
                "序号计数器丢失（平台已确认至 %d）：开始新的序号纪元 %d（ST-PROTO-037）/ sequence counter lost (the platform "
                "acknowledged up to %d): starting sequence epoch %d (ST-PROTO-037)",
                resp.last_acknowledged_sequence,
                req.sequence_epoch,
                resp.last_acknowledged_sequence,
                req.sequence_epoch,
            )
            resp = await self._register_once(req)
            self.c._state.last_sequence = 0
        if resp.sequence_epoch != req.sequence_epoch:  # the epoch in force, declared from now on
            await self.c._q(self.c.queue.set_meta, "sequence_epoch", int(resp.sequence_epoch))
        if resp.HasField("limits"):
            limits = pb.Limits()
            limits.CopyFrom(default_limits())
            for f, v in resp.limits.ListFields():
                setattr(limits, f.name, v)
            self.c.limits = limits
            await self.c._q(self.c.queue.set_meta, "limits", {f.name: v for f, v in limits.ListFields()})
        if resp.negotiated_version not in req.supported_versions:
            raise ClientFailed(
                f"平台协商的版本 {resp.negotiated_version!r} 不在本设备支持的 {list(req.supported_versions)} 之中（ST-PROTO-004）/ "
                f"the platform negotiated version {resp.negotiated_version!r}, not one of {list(req.supported_versions)} (ST-PROTO-004)"
            )
        self.c.session_id, self.c.negotiated_version = resp.session_id, resp.negotiated_version
        last = int(resp.last_acknowledged_sequence)
        dropped = await self.c._q(self.c.queue.resume_after, last)
        if dropped:
            log.info(
                "平台已确认至 %d，丢弃 %d 个已送达的排队上传 / the platform acknowledged up to %d: %d queued uploads dropped (ST-PROTO-023)",
                last,
                dropped,
                last,
                dropped,
            )
            self.c._pending = await self.c._q(self.c.queue.count)
            self.c._backfill_queued = await self.c._q(self.c.queue.backfill_count)
        self.c._state.last_sequence = max(self.c._state.last_sequence, last)
        self.c.registered = True
        self.c._registered_event.set()
        self.c._defs_dirty = bool(self.c._points or self.c._outstations or self.c._areas or self.c._stations)
        self.c.stats.registrations += 1
        log.info(
            "已注册 / registered: session=%s version=%s last_ack=%d",
            self.c.session_id,
            self.c.negotiated_version,
            last,
        )

    async def send_definitions(self) -> None:
        """DefinePoints (in chunks of max_points_per_definition) and DefinePositioning; resolves RESEND waiters."""
        # Cleared before the first await: a define() while these calls run marks the definitions dirty again.
        self.c._defs_dirty = False
        points = self.c.definitions()
        outstations = list(self.c._outstations.values())
        n = max(1, int(self.c.limits.max_points_per_definition or 10_000))
        try:
            if points or outstations:
                for i in range(0, max(len(points), 1), n):
                    req = pb.DefinePointsRequest(
                        points=points[i : i + n], outstations=outstations if i == 0 else []
                    )
                    resp = await self.c._call("DefinePoints", req)
                    for v in resp.violations:
                        log.warning(
                            "测点定义警告 / definition warning [%s] %s: %s", v.clause_id, v.path, v.message_en
                        )
            if self.c._areas or self.c._stations:
                await self.c._call(
                    "DefinePositioning",
                    pb.DefinePositioningRequest(
                        areas=list(self.c._areas.values()), stations=list(self.c._stations.values())
                    ),
                )
        except CallError as e:
            if e.disposition is not Disposition.FINAL:
                self.c._defs_dirty = True
                raise
            # Never resend unchanged (ST-PROTO-016): the uploads of these points will be rejected and dead-lettered.
            log.error(
                "平台拒收测点定义，不再重发 / the platform rejected the definitions, not resent [%s]: %s",
                ", ".join(e.clause_ids),
                e,
            )
            self.resolve_waiters(e)
            return
        except BaseException:
            self.c._defs_dirty = True
            raise
        self.c.stats.definitions_sent += 1
        self.resolve_waiters(None)

    def resolve_waiters(self, error: BaseException | None) -> None:
        waiters, self.c._defs_waiters = self.c._defs_waiters, []
        for fut in waiters:
            if not fut.done():
                if error is None:
                    fut.set_result(None)
                else:
                    fut.set_exception(error)

    async def heartbeat_loop(self) -> None:
        last = time.monotonic()
        while True:
            await self.c._registered_event.wait()
            # Start each heartbeat at most 95 % of the interval after the previous one began, so that the gap
            # the platform sees (call time included) never exceeds the interval (ST-PROTO-005).
            await asyncio.sleep(
                max(0.0, last + 0.95 * self.c.heartbeat_interval_ms() / 1000 - time.monotonic())
            )
            last = time.monotonic()
            if not self.c.registered:
                continue
            req = pb.HeartbeatRequest(
                last_acknowledged_sequence=self.c.queue.last_acknowledged,
                queued_uploads=min(self.c._pending, 2**32 - 1),
            )
            req.device_time.CopyFrom(ts_of(self.c.now_ms()))
            try:
                await self.c._call("Heartbeat", req)
                self.c.stats.heartbeats += 1
            except CallError as e:
                if e.disposition is Disposition.HOLD:
                    self.c.credentials_error = e
                if e.disposition is Disposition.REREGISTER:
                    self.c._lost_registration()
                log.info("心跳失败 / heartbeat failed: %s", e)
