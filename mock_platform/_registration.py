"""Registration (a collaborator of :class:`~santong.mock_platform._service.Platform`): platform info, version
negotiation (ST-PROTO-004), Register with its sequence epoch (ST-PROTO-037), heartbeat and definitions.

Every message of a session is validated under the spec version negotiated at its Register: fields added after
that version are unknown to it (ST-DATA-034, :meth:`Platform.context`). The Register request itself is validated
under the version it negotiates.

Example::

    resp = await platform.registration.register(dev, register_request, peer, time.perf_counter())
"""

from __future__ import annotations

import time
import uuid
from collections.abc import Iterable
from typing import TYPE_CHECKING, Any

from google.protobuf.message import Message
from santong.mock_platform._devices import Device
from santong.mock_platform._errors import PlatformError, violation
from santong.mock_platform._ingest import define_job, log_row, register_job
from santong.mock_platform._methods import CAPABILITIES
from santong.protocols import (
    DeviceState,
    ValidationContext,
    Violation,
    must_violations,
    validate,
    version_key,
    version_violations,
)
from santong.protocols.v1 import device_access_pb2, platform_pb2

if TYPE_CHECKING:
    from santong.mock_platform._service import Platform

__all__ = ["Registration", "pb_violations"]

pb = device_access_pb2


def pb_violations(vs: Iterable[Violation]) -> list[device_access_pb2.Violation]:
    """Violations as the protobuf messages of a response."""
    return [
        pb.Violation(clause_id=v.clause_id, path=v.path, message_zh=v.message_zh, message_en=v.message_en)
        for v in vs
    ]


class Registration:
    """Sessions of one platform: what it speaks, who registered under which version and epoch."""

    def __init__(self, platform: Platform) -> None:
        self.p = platform
        self.versions = {
            v.strip(): k for v in platform.config.supported_versions if (k := version_key(v)) is not None
        }

    def platform_info(self) -> platform_pb2.GetPlatformInfoResponse:
        versions = sorted(self.versions, key=lambda v: self.versions[v], reverse=True)
        return platform_pb2.GetPlatformInfoResponse(
            spec_version=versions[0] if versions else "",
            supported_versions=versions,
            limits=self.p.limits,
            capabilities=list(CAPABILITIES),
            server_time=self.p.server_time(),
            platform_name=self.p.config.platform_name,
        )

    def negotiate(self, offered: Iterable[str]) -> str | None:
        """The highest version both speak (numerically: 1.10 above 1.9), or None."""
        best: tuple[tuple[int, ...], str] | None = None
        for v in offered:
            k = version_key(v)
            if k is not None and v.strip() in self.versions and (best is None or k > best[0]):
                best = (k, v.strip())
        return best[1] if best else None

    async def register(
        self, dev: Device, req: Any, peer: str, t0: float
    ) -> device_access_pb2.RegisterResponse:
        p = self.p
        if req.device.device_id != dev.device_id:
            raise PlatformError(
                "PERMISSION_DENIED", "身份与凭据不符", "identity does not match the credentials",
                [violation("ST-IFACE-019", "device.device_id", f"“{req.device.device_id}” 不是已认证的设备 {dev.device_id}",
                           f"'{req.device.device_id}' is not the authenticated device {dev.device_id}")],
            )  # fmt: skip
        version = self.negotiate(req.supported_versions)
        if version is None:
            raise PlatformError(
                "FAILED_PRECONDITION", "无共同的规范版本", "no spec version in common",
                [violation("ST-PROTO-004", "supported_versions", f"设备提供 {list(req.supported_versions)}，平台支持 {sorted(self.versions)}",
                           f"the device offers {list(req.supported_versions)}, the platform speaks {sorted(self.versions)}")],
            )  # fmt: skip
        async with dev.lock:  # no upload validates against the epoch being replaced
            now = p.now_ms()
            state = DeviceState(device_id=dev.device_id, sequence_epoch=dev.state.sequence_epoch)
            vs = validate(req, ValidationContext(state=state, limits=p.limits, now_ms=now, version=version))
            if must_violations(
                vs
            ):  # nothing changes: neither the epoch nor an existing session (ST-PROTO-037)
                raise PlatformError(
                    "INVALID_ARGUMENT",
                    "注册请求不符合规范",
                    "the Register request violates the specification",
                    vs,
                )
            session_id = uuid.uuid4().hex
            blob = req.SerializeToString()
            epoch = max(dev.state.sequence_epoch, int(req.sequence_epoch))
            new_epoch = epoch != dev.state.sequence_epoch
            note = f"version={version} session={session_id} epoch={epoch}"
            if new_epoch:
                note += f" new sequence epoch (ST-PROTO-037), was {dev.state.sequence_epoch}"
            row = log_row(
                now, dev.device_id, "Register", peer, None, "ACCEPTED", "OK", vs, 1,
                (time.perf_counter() - t0) * 1000, note,
            )  # fmt: skip
            wall = int(time.time() * 1000)
            mine = req.mine.mine_code or req.device.mine_code
            job = register_job(
                dev.device_id, dev.token_hash, blob, mine, session_id, version, now, wall, epoch, row
            )

            def on_done(_: Any) -> None:
                if new_epoch:  # replays of the earlier epochs' sequences are looked up (Uploads.admit)
                    dev.prior_top = max(dev.prior_top, dev.state.last_sequence)
                dev.state.apply(req)
                dev.registered = True
                dev.session_id, dev.negotiated_version = session_id, version
                p.commands.drop_unsendable(dev)  # nothing queued that this version lacks is sent
                dev.registered_ms, dev.register_request = now, blob
                dev.last_heartbeat_ms = wall
                p._alive(dev)

            await p._commit(dev, job, on_done)
        p.commands.maybe_time_sync(dev, req.device_time)
        resp = pb.RegisterResponse(
            session_id=session_id,
            negotiated_version=version,
            limits=p.limits,
            server_time=p.server_time(),
            last_acknowledged_sequence=dev.state.last_sequence,
            sequence_epoch=dev.state.sequence_epoch,
        )
        if version_violations(resp, version):  # a 1.0 session gets no field of a later version
            resp.ClearField("sequence_epoch")
        return resp

    def heartbeat(self, dev: Device, req: Any, peer: str, t0: float) -> device_access_pb2.HeartbeatResponse:
        p = self.p
        p.commands.maybe_time_sync(dev, req.device_time)
        vs = validate(req, p.context(dev))
        if must_violations(vs):
            raise PlatformError(
                "INVALID_ARGUMENT", "心跳不符合规范", "the heartbeat violates the specification", vs
            )
        wall = int(time.time() * 1000)
        dev.last_heartbeat_ms = wall
        device_id = dev.device_id

        def extra(conn: Any) -> None:
            conn.execute("UPDATE devices SET last_heartbeat_ms=? WHERE device_id=?", (wall, device_id))

        note = f"last_ack={req.last_acknowledged_sequence} queued={req.queued_uploads}"
        p.log_event(
            device_id,
            "Heartbeat",
            "ACCEPTED",
            "OK",
            note,
            peer=peer,
            violations=vs,
            duration_ms=(time.perf_counter() - t0) * 1000,
            extra=extra,
        )
        return pb.HeartbeatResponse(server_time=p.server_time(), pending_commands=dev.commands.qsize())

    async def define(self, dev: Device, method: str, req: Any, peer: str, t0: float) -> Message:
        p = self.p
        async with dev.lock:
            now = p.now_ms()
            vs = validate(req, p.context(dev, now))
            if must_violations(vs):
                raise PlatformError(
                    "INVALID_ARGUMENT", "定义不符合规范", "the definitions violate the specification", vs
                )
            if method == "DefinePoints":
                counts = (len(req.points), len(req.outstations))
            else:
                counts = (len(req.areas), len(req.stations))
            row = log_row(
                now,
                dev.device_id,
                method,
                peer,
                None,
                "ACCEPTED",
                "OK",
                vs,
                sum(counts),
                (time.perf_counter() - t0) * 1000,
            )
            await p._commit(dev, define_job(dev.device_id, req, now, row), lambda _: dev.state.apply(req))
        if method == "DefinePoints":
            return pb.DefinePointsResponse(
                accepted_points=counts[0], accepted_outstations=counts[1], violations=pb_violations(vs)
            )
        return pb.DefinePositioningResponse(
            accepted_areas=counts[0], accepted_stations=counts[1], violations=pb_violations(vs)
        )
