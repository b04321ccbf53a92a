"""OPC UA simulator: an asyncua server whose variables follow the profile.

Address space: the profile's namespace (``opcua.namespace``, e.g. ``urn:santong:simulator:kj-substation``) holds
a folder ``Objects/<device id>`` with one variable per point (the point's ``opcua.node_id``, e.g.
``s=KJ-FZ-001.CH4_T1``, of the point's type) and its status variable (``….Status``, UInt16, the 测点状态 bits).
Each variable has the properties PointCode, SensorType and Unit. Clients address nodes with the namespace
index reported at start-up (``ns=2;s=…``), or look it up from the URI (asyncua: ``get_namespace_index``).
Security: None (test use only).

Values are written with a source timestamp (wall clock) when they or their status change, so subscriptions
see every change. A point whose status has bit 128 (sensor fault) reads with ``BadSensorFailure``.

Faults (``inject_fault("bad_status", …)`` or ``{"cmd": "fault", "kind": "bad_status", …}``): ``status`` is an
OPC UA status code name (default ``BadSensorFailure``; e.g. ``BadCommunicationError``, ``BadNoCommunication``,
``UncertainLastUsableValue``), ``points`` a list of point names (default every point), ``duration`` seconds
and/or nothing (until cleared). The variables keep their last value, with the bad status.
"""

from __future__ import annotations

import contextlib
import logging
from datetime import UTC, datetime
from typing import Any, ClassVar, cast

from asyncua import Server, ua
from santong.adapters.simulators._engine import SENSOR_FAULT
from santong.adapters.simulators._profile import Point, Profile
from santong.adapters.simulators._runtime import BaseSimulator, Fault, FaultError

__all__ = ["OpcuaSimulator"]

log = logging.getLogger("santong.simulators.opcua")

_VARIANT: dict[str, ua.VariantType] = {
    "Double": ua.VariantType.Double,
    "Float": ua.VariantType.Float,
    "Boolean": ua.VariantType.Boolean,
    "Int16": ua.VariantType.Int16,
    "UInt16": ua.VariantType.UInt16,
    "Int32": ua.VariantType.Int32,
    "UInt32": ua.VariantType.UInt32,
}
_LIMITS: dict[str, tuple[int, int]] = {
    "Int16": (-(2**15), 2**15 - 1),
    "UInt16": (0, 2**16 - 1),
    "Int32": (-(2**31), 2**31 - 1),
    "UInt32": (0, 2**32 - 1),
}


def _nid(identifier: str, idx: int) -> ua.NodeId:
    """A string node id in namespace ``idx``."""
    return ua.NodeId(ua.String(identifier), ua.Int16(idx))


def _status_code(name: str) -> ua.StatusCode:
    value = getattr(ua.StatusCodes, name, None)
    if not isinstance(value, int) or name.startswith("_"):
        raise FaultError(
            f"未知的 OPC UA 状态码 {name!r}（如 BadSensorFailure、BadCommunicationError） / unknown OPC UA status "
            f"code {name!r} (e.g. BadSensorFailure, BadCommunicationError)"
        )
    return ua.StatusCode(ua.UInt32(value))


def _typed(point: Point, value: float) -> Any:
    assert point.opcua is not None
    t = point.opcua.data_type
    if t == "Boolean":
        return value >= 0.5
    if t in _LIMITS:
        lo, hi = _LIMITS[t]
        return min(max(round(value), lo), hi)
    return float(value)


class OpcuaSimulator(BaseSimulator):
    """An OPC UA server on ``opc.tcp://host:port<path>`` (port 0: the OS picks one; see :attr:`endpoint`)."""

    kind: ClassVar[str] = "opcua"
    fault_kinds: ClassVar[tuple[str, ...]] = ("bad_status",)

    def __init__(self, profile: Profile, *, port: int = 0, **kw: Any) -> None:
        super().__init__(profile, **kw)
        self.requested_port = port
        self.port: int | None = None
        self.server: Server | None = None
        self.namespace_index: int | None = None
        self.points = [p for p in profile.points if p.opcua is not None]
        self.node_ids: dict[str, ua.NodeId] = {}
        self.status_node_ids: dict[str, ua.NodeId] = {}
        self._last: dict[str, tuple[Any, int, int]] = {}

    @property
    def endpoint(self) -> str:
        """The endpoint URL clients connect to."""
        return f"opc.tcp://{self.host}:{self.port}{self.profile.opcua_path}"

    def node_id(self, point: str) -> str:
        """The string node id of a point's variable, with the namespace index (``ns=2;s=…``)."""
        return self.node_ids[point].to_string()

    async def _start(self) -> None:
        server = Server()
        await server.init()
        d = self.profile.device
        server.set_server_name(f"santong simulator {d.id}")
        server.set_security_policy([ua.SecurityPolicyType.NoSecurity])
        server.set_endpoint(f"opc.tcp://{self.host}:{self.requested_port}{self.profile.opcua_path}")
        idx = await server.register_namespace(self.profile.opcua_namespace)
        self.namespace_index = idx
        folder = await server.nodes.objects.add_folder(_nid(d.id, idx), ua.QualifiedName(d.id, idx))
        for name, value in (
            ("Vendor", d.vendor),
            ("Model", d.model),
            ("SerialNumber", d.serial),
            ("Firmware", d.firmware),
            ("MineCode", d.mine_code),
            ("OutstationCode", d.outstation_code),
        ):
            await folder.add_property(_nid(f"{d.id}.{name}", idx), ua.QualifiedName(name, idx), value)
        for p in self.points:
            assert p.opcua is not None
            nid = ua.NodeId.from_string(f"ns={idx};{p.opcua.node_id}")
            vt = _VARIANT[p.opcua.data_type]
            var = await folder.add_variable(
                nid, ua.QualifiedName(p.name, idx), ua.Variant(_typed(p, self.engine.value(p.name)), vt)
            )
            self.node_ids[p.name] = nid
            for prop, value in (("PointCode", p.point_code), ("SensorType", p.sensor_type), ("Unit", p.unit)):
                await var.add_property(
                    _nid(f"{p.opcua.node_id[2:]}.{prop}", idx), ua.QualifiedName(prop, idx), value
                )
            if p.opcua.status_node_id:
                sid = ua.NodeId.from_string(f"ns={idx};{p.opcua.status_node_id}")
                await folder.add_variable(
                    sid, ua.QualifiedName(f"{p.name}.Status", idx), ua.Variant(0, ua.VariantType.UInt16)
                )
                self.status_node_ids[p.name] = sid
        await server.start()
        self.server = server
        assert server.bserver is not None
        self.port = server.bserver.port

    async def _stop(self) -> None:
        if self.server is not None:
            with contextlib.suppress(Exception):
                await self.server.stop()
            self.server = None

    def info(self) -> dict[str, Any]:
        return {
            **super().info(),
            "port": self.port,
            "endpoint": self.endpoint,
            "namespace": self.profile.opcua_namespace,
            "namespace_index": self.namespace_index,
        }

    # ------------------------------------------------------------------------------------- values

    def _bad_status(self, point: str) -> int | None:
        for f in self.active_faults("bad_status"):
            pts = f.params.get("points")
            if pts is None or point in pts:
                return int(f.params["code"])
        return None

    async def _push(self) -> None:
        server = self.server
        if server is None:
            return
        now = cast(ua.DateTime, datetime.now(UTC))
        for p in self.points:
            assert p.opcua is not None
            state = self.engine.points[p.name]
            value = _typed(p, state.value)
            code = self._bad_status(p.name)
            if code is None:
                code = ua.StatusCodes.BadSensorFailure if state.status & SENSOR_FAULT else ua.StatusCodes.Good
            key = (value, state.status, code)
            if self._last.get(p.name) == key:
                continue
            self._last[p.name] = key
            dv = ua.DataValue(
                ua.Variant(value, _VARIANT[p.opcua.data_type]),
                ua.StatusCode(ua.UInt32(code)),
                SourceTimestamp=now,
                ServerTimestamp=now,
            )
            await server.write_attribute_value(self.node_ids[p.name], dv)
            sid = self.status_node_ids.get(p.name)
            if sid is not None:
                await server.write_attribute_value(
                    sid,
                    ua.DataValue(
                        ua.Variant(state.status & 0xFFFF, ua.VariantType.UInt16),
                        SourceTimestamp=now,
                        ServerTimestamp=now,
                    ),
                )

    # ------------------------------------------------------------------------------------- faults

    def _fault(self, kind: str, params: dict[str, Any], duration: float | None, count: int | None) -> Fault:
        status = params.pop("status", "BadSensorFailure")
        if not isinstance(status, str):
            raise FaultError("status 应为状态码名称 / status must be a status code name")
        params["status"] = status
        params["code"] = _status_code(status).value
        pts = params.get("points", params.pop("point", None))
        if isinstance(pts, str):
            pts = [pts]
        if pts is not None:
            unknown = [n for n in pts if n not in self.node_ids]
            if not isinstance(pts, list) or unknown:
                raise FaultError(
                    f"没有这些 OPC UA 测点 / no OPC UA points {unknown}; points: {', '.join(self.node_ids)}"
                )
            params["points"] = list(pts)
        if count is not None:
            raise FaultError("bad_status 用 duration，不用 count / bad_status takes duration, not count")
        unknown_keys = set(params) - {"status", "code", "points"}
        if unknown_keys:
            raise FaultError(f"bad_status 不认识 / bad_status does not take {sorted(unknown_keys)}")
        f = self._add_fault(kind, params, duration, None)
        self._last.clear()  # rewrite every node with its new status now and when the fault ends
        return f

    def clear_faults(self) -> int:
        n = super().clear_faults()
        self._last.clear()
        return n

    def _expire_faults(self) -> None:
        before = len(self.faults)
        super()._expire_faults()
        if len(self.faults) != before:
            self._last.clear()

    def inject_bad_status(
        self,
        status: str = "BadSensorFailure",
        *,
        points: list[str] | None = None,
        duration: float | None = None,
    ) -> Fault:
        """Give ``points`` (default all) the bad ``status`` for ``duration`` seconds (default until cleared)."""
        params: dict[str, Any] = {"status": status}
        if points is not None:
            params["points"] = points
        f = self.inject_fault("bad_status", duration=duration, **params)
        return f

    async def apply_now(self) -> None:
        """Write the current values and statuses immediately (instead of at the next update)."""
        await self._push()
