"""Downlink commands of the mock platform (a collaborator of :class:`~santong.mock_platform._service.Platform`):
queue, deliver and requeue commands, time sync on skew, record results — only for the device's own commands
(ST-IFACE-011..014, ST-PROTO-034). A command never carries a field the device's session lacks: a field added after
the version negotiated at Register (ST-PROTO-004, ST-DATA-034 — TEST_EVENT under 1.0) refuses the command when it
is queued (FAILED_PRECONDITION), and one queued before the device registered under an older version is dropped
at that Register (:meth:`Commands.drop_unsendable`) instead of sent.

Example::

    platform.commands.send_command("KJ70N-0001", "RESEND_DEFINITIONS")
"""

from __future__ import annotations

import uuid
from typing import TYPE_CHECKING, Any

from santong.mock_platform._devices import Device
from santong.mock_platform._errors import PlatformError, violation
from santong.protocols import must_violations, validate
from santong.protocols._versions import unknown_fields, version_key
from santong.protocols.v1 import device_access_pb2

if TYPE_CHECKING:
    from santong.mock_platform._service import Platform

__all__ = ["Commands"]

pb = device_access_pb2


class Commands:
    """The command side of one platform."""

    def __init__(self, platform: Platform) -> None:
        self.p = platform

    def maybe_time_sync(self, dev: Device, device_time: Any) -> None:
        if not (device_time.seconds or device_time.nanos):
            return
        skew = abs(device_time.seconds * 1000 + device_time.nanos // 1_000_000 - self.p.now_ms())
        threshold = self.p.config.time_sync_threshold_ms
        if threshold is None:
            threshold = self.p.limits.max_clock_skew_ms // 2
        if skew > threshold and not dev.time_sync_pending:
            self.send_command(dev.device_id, "TIME_SYNC", note=f"clock skew {skew} ms")

    def send_command(
        self, device_id: str, type: str | int, *, note: str = "", **payload: Any
    ) -> dict[str, Any]:  # noqa: A002
        """Queue a downlink command for a device: TIME_SYNC, CONFIGURE (report_interval_ms, heartbeat_interval_ms,
        settings), RESEND_DEFINITIONS, WRITE_POINT (point_code, value) or TEST_EVENT (kind EXCURSION / SWITCH_CHANGE /
        SENSOR_FAULT, point_code, value, hold_ms). Returns {"command_id", "type"}."""
        dev = self.p.devices.get(device_id)
        if dev is None:
            raise PlatformError("NOT_FOUND", f"未知设备 {device_id}", f"unknown device {device_id}")
        try:
            ctype = (
                pb.CommandType.Value(
                    f"COMMAND_TYPE_{type}".replace("COMMAND_TYPE_COMMAND_TYPE_", "COMMAND_TYPE_")
                )
                if isinstance(type, str)
                else int(type)
            )
            pb.CommandType.Name(ctype)
        except (ValueError, TypeError) as e:
            raise PlatformError(
                "INVALID_ARGUMENT", f"未知命令类型 {type}", f"unknown command type {type!r}"
            ) from e
        cmd = pb.Command(command_id=uuid.uuid4().hex, type=ctype)  # type: ignore[arg-type]
        cmd.issued_at.CopyFrom(self.p.server_time())
        try:
            if ctype == pb.COMMAND_TYPE_TIME_SYNC:
                cmd.time_sync.SetInParent()
            elif ctype == pb.COMMAND_TYPE_CONFIGURE:
                cmd.configure.report_interval_ms = int(payload.get("report_interval_ms", 0))
                cmd.configure.heartbeat_interval_ms = int(payload.get("heartbeat_interval_ms", 0))
                cmd.configure.settings.update(
                    {str(k): str(v) for k, v in dict(payload.get("settings", {})).items()}
                )
            elif ctype == pb.COMMAND_TYPE_RESEND_DEFINITIONS:
                cmd.resend_definitions.SetInParent()
            elif ctype == pb.COMMAND_TYPE_WRITE_POINT:
                cmd.write_point.point_code = str(payload["point_code"])
                cmd.write_point.value = float(payload["value"])
            elif ctype == pb.COMMAND_TYPE_TEST_EVENT:  # ST-PROTO-036
                kind = str(payload["kind"]).upper()
                ev = cmd.test_event
                ev.kind = pb.TestEventKind.Value(
                    kind if kind.startswith("TEST_EVENT_KIND_") else f"TEST_EVENT_KIND_{kind}"
                )
                ev.point_code = str(payload["point_code"])
                ev.value = float(payload.get("value", 0.0))
                ev.hold_ms = int(payload.get("hold_ms", 0))
            else:
                raise ValueError("unspecified command type")
        except (KeyError, TypeError, ValueError) as e:
            raise PlatformError(
                "INVALID_ARGUMENT", f"命令参数错误：{e}", f"bad command arguments: {e}"
            ) from e
        self._check_version(dev, cmd)
        dev.commands.put_nowait(cmd)
        if ctype == pb.COMMAND_TYPE_TIME_SYNC:
            dev.time_sync_pending = True
        blob, issued = cmd.SerializeToString(), self.p.now_ms()
        self.p.store.write_nowait(
            lambda c: c.execute(
                "INSERT INTO commands (command_id, device_id, type, command, issued_ms) VALUES (?,?,?,?,?)",
                (cmd.command_id, device_id, int(ctype), blob, issued),
            )
        )
        self.p.log_event(
            device_id,
            "command:queued",
            "EVENT",
            "OK",
            f"{pb.CommandType.Name(ctype)} {cmd.command_id} {note}".strip(),
        )
        return {"command_id": cmd.command_id, "type": pb.CommandType.Name(ctype)}

    @staticmethod
    def _check_version(dev: Device, cmd: device_access_pb2.Command) -> None:
        """Refuse a command that carries a field the device's negotiated version lacks (nothing is queued)."""
        version = dev.negotiated_version or None
        missing = unknown_fields(cmd, version)
        if not missing:
            return
        names = ", ".join(p for p, _ in missing)
        since = max((v for _, v in missing), key=lambda v: version_key(v) or ())
        raise PlatformError(
            "FAILED_PRECONDITION",
            f"设备 {dev.device_id} 的会话协商的接口版本为 {version}，该版本没有命令字段 {names}（接口 {since} 起才有）："
            f"平台不发送此命令；设备须在 supported_versions 中列出 {since} 并重新注册",
            f"the session of device {dev.device_id} negotiated interface version {version}, which lacks the command "
            f"field {names} (interface {since} on): the platform does not send this command; the device must list "
            f"{since} in supported_versions and register again",
            [
                violation(
                    "ST-PROTO-004",
                    f"command.{path.partition('.')[2]}",
                    f"命令字段属于接口 {v}，会话协商的版本为 {version}",
                    f"the command field belongs to interface {v}; the session negotiated {version}",
                )
                for path, v in missing
            ],
        )

    def drop_unsendable(self, dev: Device) -> None:
        """At Register: drop the queued commands the newly negotiated version cannot carry (queued before, under
        no session or a newer one), each logged; the others keep their order."""
        keep: list[device_access_pb2.Command] = []
        while not dev.commands.empty():
            cmd = dev.commands.get_nowait()
            missing = unknown_fields(cmd, dev.negotiated_version or None)
            if not missing:
                keep.append(cmd)
                continue
            self.p.log_event(
                dev.device_id,
                "command:dropped",
                "REJECTED",
                "FAILED_PRECONDITION",
                f"{pb.CommandType.Name(cmd.type)} {cmd.command_id} not sent: session version "
                f"{dev.negotiated_version} lacks {', '.join(p for p, _ in missing)}",
            )
        for cmd in keep:
            dev.commands.put_nowait(cmd)

    def time_sync(self, device_id: str) -> dict[str, Any]:
        """Queue a TIME_SYNC command (its server_time is set when it is sent)."""
        return self.send_command(device_id, "TIME_SYNC")

    async def next_command(self, dev: Device, peer: str = "") -> device_access_pb2.CommandsResponse:
        """Wait for the device's next command and mark it sent (TIME_SYNC gets the server time now)."""
        cmd = await dev.commands.get()
        if cmd.type == pb.COMMAND_TYPE_TIME_SYNC:
            dev.time_sync_pending = False
            cmd.time_sync.server_time.CopyFrom(self.p.server_time())
        sent, blob, cid = self.p.now_ms(), cmd.SerializeToString(), cmd.command_id
        self.p.store.write_nowait(
            lambda c: c.execute(
                "UPDATE commands SET sent_ms=?, command=? WHERE command_id=?", (sent, blob, cid)
            )
        )
        self.p.log_event(
            dev.device_id, "Commands", "SENT", "OK", f"{pb.CommandType.Name(cmd.type)} {cid}", peer=peer
        )
        return pb.CommandsResponse(command=cmd)

    def requeue_command(self, dev: Device, cmd: device_access_pb2.Command) -> None:
        """Put back a command the stream could not deliver."""
        dev.commands.put_nowait(cmd)

    async def command_result(
        self, dev: Device, request: device_access_pb2.CommandsRequest, peer: str = "", size: int | None = None
    ) -> None:
        """Record a CommandResult from the device; a malformed one is logged as REJECTED (the stream goes on).
        A result for an unknown command or another device's raises NOT_FOUND / PERMISSION_DENIED (ST-PROTO-034),
        logged, nothing recorded."""
        if not request.HasField("result"):
            self.p.log_event(dev.device_id, "Commands", "EVENT", "OK", "stream opened", peer=peer)
            return
        self.p._alive(dev)
        vs = validate(request, self.p.context(dev))
        r = request.result
        if must_violations(vs):
            self.p.log_event(
                dev.device_id,
                "Commands",
                "REJECTED",
                "INVALID_ARGUMENT",
                "bad command result",
                peer=peer,
                violations=vs,
            )
            return
        when, cid, outcome, text = self.p.now_ms(), r.command_id, int(r.outcome), r.message
        owner = await self.p.store.read(
            lambda c: c.execute("SELECT device_id FROM commands WHERE command_id=?", (cid,)).fetchone()
        )
        if owner is None or owner[0] != dev.device_id:  # ST-PROTO-034: only results for its own commands
            code, zh, en = (
                ("NOT_FOUND", f"没有编号为 {cid} 的命令", f"no command {cid}")
                if owner is None
                else (
                    "PERMISSION_DENIED",
                    f"命令 {cid} 不是发给本设备的",
                    f"command {cid} was not issued to this device",
                )
            )
            err = PlatformError(code, zh, en, [violation("ST-PROTO-034", "result.command_id", zh, en)])
            self.p.log_event(
                dev.device_id,
                "Commands",
                "REJECTED",
                code,
                err.message_en,
                peer=peer,
                violations=err.violations,
            )
            raise err
        self.p.store.write_nowait(
            lambda c: c.execute(
                "UPDATE commands SET outcome=?, result_message=?, result_ms=? WHERE command_id=? AND device_id=?",
                (outcome, text, when, cid, dev.device_id),
            )
        )
        self.p.log_event(
            dev.device_id,
            "Commands",
            "ACCEPTED",
            "OK",
            f"result {cid} {pb.CommandOutcome.Name(outcome) if outcome in pb.CommandOutcome.values() else outcome}",
            peer=peer,
            violations=vs,
        )
