"""The OPC UA adapter: an asyncua client subscribing to every point's variables and pushing the data changes.

One session, one subscription (publishing interval from the settings), one monitored item per value variable
and per status variable (sampling interval from the point or the settings, server-side queue ``queue_size``
so that quick changes between two publishes are not lost). Each group of notifications becomes one push of
observations (:class:`~santong.adapters.opcua.converter.OpcUaUplink`: status codes mapped to point status,
ST-DATA-020). Threshold alarms are raised and cleared by the SDK's AlarmTracker (ST-PROTO-027).

When the session is lost (server stopped or restarted, network gone) every point is reported once with the
outstation-fault bit 16 and its last value; the adapter reconnects with jittered exponential back-off
(``reconnect_min_ms`` … ``reconnect_max_ms``), resolves namespace URIs again, and subscribes again — the
server's initial values of the new subscription report every point afresh. A point without a data change is
reported again every ``report_interval_ms`` (ST-PROTO-025). WRITE_POINT writes the node of a writable point
(ST-IFACE-013): a node the server will not let us write answers UNSUPPORTED, other failures FAILED.

Example::

    config = load_config("opcua.yaml")            # adapter.kind: opcua (see santong.adapters.opcua.config)
    asyncio.run(run_adapter(config))               # what `santong adapter run opcua.yaml` does
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import random
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from asyncua import Client, ua
from santong.adapters._alarms import AlarmTracker
from santong.adapters._sdk import Adapter, AdapterConfig, Observation, UnsupportedCommand, UplinkSink
from santong.adapters._support import LatestValues, ProblemLog
from santong.adapters.opcua.config import OpcUaSettings, OpcUaSource, split_node_id
from santong.adapters.opcua.converter import BAD_NOT_POLLED, Notification, OpcUaDownlink, OpcUaUplink

__all__ = ["OpcUaAdapter", "OpcUaStats"]

log = logging.getLogger("santong.adapters.opcua")

_LOST = object()
_NOT_WRITABLE = {
    int(ua.StatusCodes.BadNotWritable),
    int(ua.StatusCodes.BadUserAccessDenied),
    int(ua.StatusCodes.BadWriteNotSupported),
}


def _item(
    handle: int, node_id: ua.NodeId, sampling_ms: float, queue_size: int
) -> ua.MonitoredItemCreateRequest:
    """A monitored item on the Value attribute of ``node_id``, reporting, with a server-side queue."""
    params = ua.MonitoringParameters()
    params.ClientHandle = handle
    params.SamplingInterval = sampling_ms
    params.QueueSize = queue_size
    params.DiscardOldest = True
    item = ua.MonitoredItemCreateRequest()
    item.ItemToMonitor = ua.ReadValueId(NodeId=node_id, AttributeId=ua.AttributeIds.Value)
    item.MonitoringMode = ua.MonitoringMode.Reporting
    item.RequestedParameters = params
    return item


def _ms(dt: datetime | None) -> int | None:
    """Epoch milliseconds of an OPC UA DateTime; None for absent or "null" (before 2000) times."""
    if dt is None:
        return None
    try:
        ms = int(dt.timestamp() * 1000)
    except (OverflowError, OSError, ValueError):
        return None
    return ms if ms >= 946_684_800_000 else None


@dataclass
class OpcUaStats:
    """Counters of one adapter run."""

    connects: int = 0
    connection_losses: int = 0
    notifications: int = 0
    observations: int = 0
    alarms: int = 0
    writes: int = 0
    refused_items: int = 0
    problems: dict[str, int] = field(default_factory=dict)


class _Handler:
    """asyncua subscription handler: hands every notification to the adapter's queue, in order."""

    def __init__(self, queue: asyncio.Queue[Any], roles: dict[int, tuple[str, str]]) -> None:
        self.queue = queue
        self.roles = roles

    def datachange_notification(self, node: Any, val: Any, data: Any) -> None:
        item = data.monitored_item
        role = self.roles.get(item.ClientHandle)
        if role is None:
            return
        dv = item.Value
        variant = dv.Value if dv is not None else None
        self.queue.put_nowait(
            Notification(
                point_code=role[0],
                role=role[1],  # type: ignore[arg-type]
                value=variant.Value if variant is not None else None,
                variant_type=variant.VariantType if variant is not None else None,
                status_code=int(dv.StatusCode.value) if dv is not None and dv.StatusCode is not None else 0,
                source_ms=_ms(dv.SourceTimestamp) if dv is not None else None,
                server_ms=_ms(dv.ServerTimestamp) if dv is not None else None,
            )
        )

    def status_change_notification(self, status: Any) -> None:
        code = getattr(getattr(status, "Status", None), "value", 0)
        if code and code >> 30 == 2:  # Bad: the subscription is gone (timeout, shutdown)
            self.queue.put_nowait(_LOST)


class OpcUaAdapter(Adapter[OpcUaSettings]):
    """Points from OPC UA variables through subscriptions (see the module docstring)."""

    kind = "opcua"
    config_type = OpcUaSettings
    point_type = OpcUaSource

    def __init__(self, config: AdapterConfig[OpcUaSettings]) -> None:
        """Prepare the converters; nothing is connected before :meth:`start`."""
        super().__init__(config)
        s = self.settings
        self.stats = OpcUaStats()
        self.problems = ProblemLog(log)
        self.tracker = AlarmTracker(p.definition for p in config.points)
        self.uplink = OpcUaUplink(
            config.points, problems=self.problems, timestamps=s.timestamps, max_future_ms=s.max_future_ms,
            tracker=self.tracker,
        )  # fmt: skip
        self.downlink = OpcUaDownlink()
        self.latest = LatestValues(s.report_interval_ms)
        self.connected = asyncio.Event()
        self.client: Client | None = None
        self._sink: UplinkSink | None = None
        self._node_ids: dict[str, ua.NodeId] = {}
        self._tasks: list[asyncio.Task[None]] = []
        self._queue: asyncio.Queue[Any] = asyncio.Queue()
        self._uniform = random.uniform

    # ------------------------------------------------------------------ lifecycle

    async def start(self, sink: UplinkSink) -> None:
        """Start the session supervisor and the re-report timer; returns at once (connecting goes on)."""
        self._sink = sink
        self._tasks = [
            asyncio.create_task(self._supervise(), name="opcua-session"),
            asyncio.create_task(self._refresh_loop(), name="opcua-refresh"),
        ]

    async def stop(self) -> None:
        """Stop the tasks and close the session (idempotent)."""
        tasks, self._tasks = self._tasks, []
        for t in tasks:
            t.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
        await self._close()
        self.connected.clear()

    async def configure(self, report_interval_ms: int, settings: Any) -> None:
        """CONFIGURE: a new report interval for the re-reporting of quiet points (ST-PROTO-025)."""
        if report_interval_ms > 0:
            self.latest.interval_ms = report_interval_ms

    async def wait_connected(self, timeout_s: float) -> bool:
        """True once subscribed (tests and tools)."""
        try:
            await asyncio.wait_for(self.connected.wait(), timeout_s)
        except TimeoutError:
            return False
        return True

    # ------------------------------------------------------------------ pushing

    async def _push(self, observations: list[Observation]) -> None:
        assert self._sink is not None
        if observations:
            self.latest.note(observations)
            self.stats.observations += len(observations)
            await self._sink.observations(observations)
        alarms = self.tracker.drain()
        if alarms:
            self.stats.alarms += len(alarms)
            await self._sink.alarms(alarms)
        self.stats.problems = dict(self.problems.counts)

    async def _refresh_loop(self) -> None:
        while True:
            await asyncio.sleep(1.0)
            due = self.latest.due()
            if due and self._sink is not None:
                self.stats.observations += len(due)
                await self._sink.observations(due)

    # ------------------------------------------------------------------ the session

    async def _supervise(self) -> None:
        s = self.settings
        failures = 0
        while True:
            try:
                await self._session()
                failures = 0
            except asyncio.CancelledError:
                raise
            except Exception as e:
                failures += 1
                level = logging.WARNING if failures <= 3 or failures % 20 == 0 else logging.DEBUG
                log.log(
                    level, "OPC UA 连接 %s 失败 / OPC UA session to %s failed: %s: %s",
                    s.endpoint, s.endpoint, type(e).__name__, e,
                )  # fmt: skip
            was_connected = self.connected.is_set()
            self.connected.clear()
            await self._close()
            if was_connected or failures == 1:
                self.stats.connection_losses += was_connected
                assert self._sink is not None
                await self._push(self.uplink.lost(self._sink.now_ms()))
            ceiling = min(s.reconnect_max_ms, s.reconnect_min_ms * 2 ** min(failures, 16)) / 1000
            await asyncio.sleep(max(s.reconnect_min_ms / 1000, self._uniform(0, ceiling)))

    async def _close(self) -> None:
        client, self.client = self.client, None
        if client is not None:
            with contextlib.suppress(Exception):
                await asyncio.wait_for(client.disconnect(), self.settings.timeout_ms / 1000)

    async def _resolve(self, client: Client) -> dict[str, tuple[ua.NodeId, ua.NodeId | None]]:
        """Node ids of every point (value, status), namespace URIs looked up on this server."""
        s = self.settings
        namespaces: list[str] | None = None

        async def one(text: str) -> ua.NodeId:
            nonlocal namespaces
            ns, uri, ident = split_node_id(text)
            if ns is None:
                uri = uri or s.namespace or None
                if uri is None:
                    ns = 0
                else:
                    if namespaces is None:
                        namespaces = await client.get_namespace_array()
                    if uri not in namespaces:
                        raise LookupError(
                            f"服务器没有命名空间 {uri} / the server has no namespace {uri}; it has {namespaces}"
                        )
                    ns = namespaces.index(uri)
            return ua.NodeId.from_string(f"ns={ns};{ident}")

        out: dict[str, tuple[ua.NodeId, ua.NodeId | None]] = {}
        for p in self.config.points:
            src: OpcUaSource = p.source
            out[p.point_code] = (
                await one(src.node_id),
                await one(src.status_node_id) if src.status_node_id else None,
            )
        return out

    async def _session(self) -> None:
        s = self.settings
        client = Client(s.endpoint, timeout=s.timeout_ms / 1000, watchdog_intervall=s.watchdog_ms / 1000)
        if s.username:
            client.set_user(s.username)
            client.set_password(os.environ.get(s.password_env, "") if s.password_env else "")
        queue: asyncio.Queue[Any] = asyncio.Queue()
        self._queue = queue

        async def on_lost(exc: Exception) -> None:
            queue.put_nowait(_LOST)

        client.connection_lost_callback = on_lost
        await client.connect()  # a failed connect cleans up after itself
        self.client = client
        nodes = await self._resolve(client)
        self._node_ids = {code: v for code, (v, _) in nodes.items()}
        roles: dict[int, tuple[str, str]] = {}
        sub = await client.create_subscription(s.publishing_interval_ms, _Handler(queue, roles))
        requests: list[tuple[str, str, ua.MonitoredItemCreateRequest]] = []
        for p in self.config.points:
            value_id, status_id = nodes[p.point_code]
            sampling = (
                p.source.sampling_interval_ms
                if p.source.sampling_interval_ms is not None
                else s.sampling_interval_ms
            )
            for role, nid in (("value", value_id), ("status", status_id)):
                if nid is None:
                    continue
                req = _item(len(requests) + 1, nid, float(sampling), s.queue_size)
                roles[len(requests) + 1] = (p.point_code, role)
                requests.append((p.point_code, role, req))
        results = await sub.create_monitored_items([r for _, _, r in requests])
        refused: list[Notification] = []
        for (code, role, _), result in zip(requests, results, strict=True):
            if isinstance(result, ua.StatusCode):
                self.stats.refused_items += 1
                log.error(
                    "测点 %s 的%s节点被服务器拒绝 / the server refused the %s node of point %s: %s",
                    code, "值" if role == "value" else "状态", role, code, result.name,
                )  # fmt: skip
                if role == "value":
                    code_value = int(result.value)
                    if code_value & 0xFFFF0000 not in BAD_NOT_POLLED:
                        code_value = int(ua.StatusCodes.BadNodeIdUnknown)
                    refused.append(Notification(code, "value", None, None, code_value, None, None))
        self.stats.connects += 1
        self.connected.set()
        log.info(
            "OPC UA 已订阅 %d 个测点 / subscribed to %d points at %s", len(self.config.points),
            len(self.config.points), s.endpoint,
        )  # fmt: skip
        assert self._sink is not None
        if refused:
            await self._push(self.uplink.convert(refused, self._sink.now_ms()))
        while True:
            first = await queue.get()
            group = [first]
            while not queue.empty():
                group.append(queue.get_nowait())
            lost = any(n is _LOST for n in group)
            notes = [n for n in group if n is not _LOST]
            if notes:
                self.stats.notifications += len(notes)
                await self._push(self.uplink.convert(notes, self._sink.now_ms()))
            if lost:
                raise ConnectionError("OPC UA 会话中断 / the OPC UA session was lost")

    # ------------------------------------------------------------------ downlink

    async def write(self, point_code: str, value: float) -> None:
        """WRITE_POINT: write the node of a writable point (ST-IFACE-013)."""
        point = self.points.get(point_code)
        if point is None or not point.writable:
            raise UnsupportedCommand(f"测点 {point_code} 不可写 / point {point_code} is not writable")
        client = self.client
        nid = self._node_ids.get(point_code)
        if client is None or nid is None or not self.connected.is_set():
            raise ConnectionError("OPC UA 服务器未连接 / not connected to the OPC UA server")
        node = client.get_node(nid)
        if point_code not in self.downlink.types:
            self.downlink.types[point_code] = await node.read_data_type_as_variant_type()
        variant = self.downlink.convert(point, value)
        try:
            await node.write_value(ua.DataValue(variant))
        except ua.UaStatusCodeError as e:
            if e.code & 0xFFFF0000 in _NOT_WRITABLE:
                raise UnsupportedCommand(
                    f"服务器不允许写测点 {point_code}（{type(e).__name__}）/ the server does not let us write {point_code} ({type(e).__name__})"
                ) from e
            raise
        self.stats.writes += 1
        log.info("写入 / wrote %s = %r (%s)", point_code, variant.Value, variant.VariantType.name)
