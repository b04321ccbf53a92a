"""The MQTT adapter: a paho-mqtt subscriber turning vendor JSON payloads into observations.

paho's network thread receives; every message is handed to the event loop with its arrival time and parsed
there (:class:`~santong.adapters.mqtt.converter.MqttUplink`: field selection by path, timestamps, quality,
rejections counted and logged with topic, point and clause — a garbage payload never stops the adapter).
Threshold alarms are raised and cleared by the SDK's AlarmTracker (ST-PROTO-027).

**Nothing accepted is lost.** Subscriptions are QoS 1 (``settings.qos``) on a persistent session
(``clean_session: false`` with a stable ``client_id``; MQTT 5: ``session_expiry_s``), and messages are
acknowledged manually, only once their observations are in the platform client's durable queue
(``sink.flush()``), in groups of at most ``ack_max_messages`` or ``ack_max_delay_ms``. If the adapter dies
before that, the broker delivers the messages again. Messages received on a connection that has since dropped
are still reported, but not acknowledged (their packet ids belong to the old connection).

**Reconnects.** paho reconnects by itself with back-off (``reconnect_min_ms`` … ``reconnect_max_ms``); every
(re)connect subscribes again, whether or not the broker kept the session (a restarted broker without
persistence forgets it). While disconnected, every point is reported once with the outstation-fault bit 16
(``fault_on_disconnect``); a point silent for ``stale_after_ms`` likewise. Quiet points are re-reported every
``report_interval_ms`` (ST-PROTO-025).

Example::

    config = load_config("mqtt.yaml")              # adapter.kind: mqtt (see santong.adapters.mqtt.config)
    asyncio.run(run_adapter(config))                # what `santong adapter run mqtt.yaml` does
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import logging
import os
import threading
import time
from dataclasses import dataclass, field
from typing import Any

from santong.adapters._alarms import AlarmTracker
from santong.adapters._sdk import Adapter, AdapterConfig, Observation, UplinkSink
from santong.adapters._support import LatestValues, ProblemLog
from santong.adapters.mqtt.config import MqttSettings, MqttSource
from santong.adapters.mqtt.converter import Message, MqttUplink

__all__ = ["MqttAdapter", "MqttStats"]

log = logging.getLogger("santong.adapters.mqtt")


@dataclass
class MqttStats:
    """Counters of one adapter run (``problems``: rejections by reason, see the converter's table)."""

    connects: int = 0
    disconnects: int = 0
    messages: int = 0
    accepted: int = 0
    rejected: int = 0
    observations: int = 0
    alarms: int = 0
    acked: int = 0
    problems: dict[str, int] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class _Received:
    message: Message
    mid: int
    qos: int
    generation: int


class MqttAdapter(Adapter[MqttSettings]):
    """Points from vendor JSON over MQTT (see the module docstring)."""

    kind = "mqtt"
    config_type = MqttSettings
    point_type = MqttSource

    def __init__(self, config: AdapterConfig[MqttSettings]) -> None:
        """Compile the paths; nothing is connected before :meth:`start`."""
        super().__init__(config)
        s = self.settings
        self.stats = MqttStats()
        self.problems = ProblemLog(log)
        self.tracker = AlarmTracker(p.definition for p in config.points)
        self.uplink = MqttUplink(config.points, s, problems=self.problems, tracker=self.tracker)
        self.latest = LatestValues(s.report_interval_ms)
        self.topics = list(s.topics) or self.uplink.topic_filters()
        self.client_id = s.client_id or self._default_client_id()
        self.connected = asyncio.Event()
        self._generation = 0
        self._lock = threading.Lock()
        self._sink: UplinkSink | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self._queue: asyncio.Queue[_Received | int | None] = asyncio.Queue()
        self._closing = False
        self._client: Any = None
        self._tasks: list[asyncio.Task[None]] = []
        self._unacked: list[_Received] = []
        self._first_unacked: float | None = None

    def _default_client_id(self) -> str:
        """A client id that stays the same across restarts of the same configuration (the broker keeps the session)."""
        h = hashlib.sha1("\n".join(sorted(p.point_code for p in self.config.points)).encode()).hexdigest()[
            :12
        ]
        return f"santong-{h}"

    # ------------------------------------------------------------------ lifecycle

    async def start(self, sink: UplinkSink) -> None:
        """Connect in the background (paho's thread) and start consuming; returns at once."""
        import paho.mqtt.client as mqtt  # noqa: PLC0415  (the mqtt extra)

        if not self.topics:
            log.warning(
                "没有要订阅的主题（settings.topic 或测点的 source.topic）/ nothing to subscribe to: set settings.topic or the points' source.topic"
            )
        self._sink = sink
        self._loop = asyncio.get_running_loop()
        s = self.settings
        v5 = s.protocol == "5"
        client = mqtt.Client(
            callback_api_version=mqtt.CallbackAPIVersion.VERSION2,
            client_id=self.client_id,
            clean_session=None if v5 else s.clean_session,
            protocol=mqtt.MQTTv5 if v5 else mqtt.MQTTv311,
            manual_ack=True,
        )
        if s.username:
            client.username_pw_set(s.username, os.environ.get(s.password_env, "") if s.password_env else None)
        client.reconnect_delay_set(s.reconnect_min_ms / 1000, s.reconnect_max_ms / 1000)  # type: ignore[arg-type]
        client.on_connect = self._on_connect
        client.on_disconnect = self._on_disconnect
        client.on_message = self._on_message
        kwargs: dict[str, Any] = {}
        if v5:
            from paho.mqtt.packettypes import PacketTypes  # noqa: PLC0415
            from paho.mqtt.properties import Properties  # noqa: PLC0415

            props = Properties(PacketTypes.CONNECT)
            props.SessionExpiryInterval = s.session_expiry_s
            kwargs = {"clean_start": s.clean_session, "properties": props}
        client.connect_async(s.host, s.port, keepalive=s.keepalive_s, **kwargs)
        client.loop_start()
        self._client = client
        self._tasks = [
            asyncio.create_task(self._consume(), name="mqtt-consume"),
            asyncio.create_task(self._timer_loop(), name="mqtt-timer"),
        ]

    async def stop(self) -> None:
        """Stop (idempotent): what was received is pushed and, once durable, acknowledged; then disconnect.

        Messages arriving after the stop began are neither pushed nor acknowledged: the broker keeps them for
        the next start (persistent session), so a clean stop neither loses nor duplicates anything.
        """
        client = self._client
        if client is None and not self._tasks:
            return
        with self._lock:
            self._closing = True
        await asyncio.sleep(0)  # hand-overs already scheduled by paho's thread land in the queue first
        self._queue.put_nowait(None)
        tasks, self._tasks = self._tasks, []
        consumer = tasks[0] if tasks else None
        if consumer is not None and not consumer.done():
            with contextlib.suppress(asyncio.TimeoutError, Exception):
                await asyncio.wait_for(asyncio.shield(consumer), 10)
        for t in tasks:
            t.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
        self._client = None
        if client is not None:
            with contextlib.suppress(Exception):
                client.disconnect()
            await asyncio.get_running_loop().run_in_executor(None, client.loop_stop)
        self.connected.clear()

    async def configure(self, report_interval_ms: int, settings: Any) -> None:
        """CONFIGURE: a new report interval for the re-reporting of quiet points (ST-PROTO-025)."""
        if report_interval_ms > 0:
            self.latest.interval_ms = report_interval_ms

    async def wait_connected(self, timeout_s: float) -> bool:
        """True once connected and subscribed (tests and tools)."""
        try:
            await asyncio.wait_for(self.connected.wait(), timeout_s)
        except TimeoutError:
            return False
        return True

    # ------------------------------------------------------------------ paho's thread

    def _call(self, fn: Any, *args: Any) -> None:
        loop = self._loop
        if loop is not None and not loop.is_closed():
            with contextlib.suppress(RuntimeError):
                loop.call_soon_threadsafe(fn, *args)

    def _on_connect(
        self, client: Any, userdata: Any, flags: Any, reason: Any, properties: Any = None
    ) -> None:
        if getattr(reason, "is_failure", False):
            log.warning("MQTT 连接被拒 / the broker refused the connection: %s", reason)
            return
        with self._lock:
            self._generation += 1
        if self.topics:
            client.subscribe([(t, self.settings.qos) for t in self.topics])
        present = bool(getattr(flags, "session_present", False))
        log.info(
            "已连接 MQTT %s:%s（会话%s），订阅 %s / connected to %s:%s (session %s), subscribed to %s",
            self.settings.host, self.settings.port, "保留" if present else "新建", self.topics,
            self.settings.host, self.settings.port, "present" if present else "new", self.topics,
        )  # fmt: skip
        self._call(self._connected, True)

    def _on_disconnect(
        self, client: Any, userdata: Any, flags: Any, reason: Any, properties: Any = None
    ) -> None:
        level = logging.INFO if self._closing else logging.WARNING
        log.log(level, "与 MQTT 代理断开 / disconnected from the MQTT broker: %s", reason)
        self._call(self._connected, False)

    def _on_message(self, client: Any, userdata: Any, msg: Any) -> None:
        sink = self._sink
        now = sink.now_ms() if sink is not None else int(time.time() * 1000)
        with self._lock:  # the check and the hand-over are one step against stop()
            if self._closing:
                return  # not acknowledged: the broker delivers it again after the next start
            received = _Received(
                Message(msg.topic, bytes(msg.payload), now), msg.mid, msg.qos, self._generation
            )
            self._call(self._queue.put_nowait, received)

    # ------------------------------------------------------------------ the event loop

    def _connected(self, up: bool) -> None:
        if self._closing:
            return
        if up:
            self.stats.connects += 1
            self.connected.set()
        elif self.connected.is_set():
            self.stats.disconnects += 1
            self.connected.clear()
            if self.settings.fault_on_disconnect:
                self._queue.put_nowait(-1)  # mark every point once, in order with the messages before it

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

    async def _process(self, group: list[_Received]) -> None:
        obs: list[Observation] = []
        for r in group:
            obs.extend(self.uplink.convert(r.message, r.message.received_ms))
        await self._push(obs)
        u = self.uplink.stats
        self.stats.messages, self.stats.accepted, self.stats.rejected = u.messages, u.accepted, u.rejected
        self.stats.problems = dict(self.problems.counts)

    async def _consume(self) -> None:
        while True:
            timeout = None
            if self._first_unacked is not None:
                timeout = max(
                    0.0, self._first_unacked + self.settings.ack_max_delay_ms / 1000 - time.monotonic()
                )
            try:
                first = await asyncio.wait_for(self._queue.get(), timeout)
            except TimeoutError:
                await self._ack()
                continue
            items = [first]
            while not self._queue.empty():
                items.append(self._queue.get_nowait())
            group: list[_Received] = []
            for item in items:
                if isinstance(item, _Received):
                    group.append(item)
                    continue
                if group:  # the messages before a disconnect (or the stop) first
                    await self._process(group)
                    self._hold(group)
                    group = []
                if item is None:  # stop(): everything received is pushed; acknowledge it once durable
                    await self._ack()
                    return
                assert self._sink is not None
                await self._push(self.uplink.faults(self._sink.now_ms()))
            if group:
                await self._process(group)
                self._hold(group)
            if len(self._unacked) >= self.settings.ack_max_messages:
                await self._ack()

    def _hold(self, group: list[_Received]) -> None:
        held = [r for r in group if r.qos > 0]
        if held:
            self._unacked.extend(held)
            if self._first_unacked is None:
                self._first_unacked = time.monotonic()

    async def _ack(self) -> None:
        """Acknowledge the held messages once their observations are durable (ST-PROTO-018)."""
        held, self._unacked, self._first_unacked = self._unacked, [], None
        if not held:
            return
        assert self._sink is not None
        await self._sink.flush()
        client = self._client
        with self._lock:
            gen = self._generation
        if client is None:
            return
        for r in held:
            if r.generation == gen:
                client.ack(r.mid, r.qos)
                self.stats.acked += 1

    async def _timer_loop(self) -> None:
        stale = self.settings.stale_after_ms / 1000
        while True:
            await asyncio.sleep(1.0)
            if self._sink is None:
                continue
            obs: list[Observation] = []
            if stale:
                obs.extend(self.uplink.faults(self._sink.now_ms(), only_stale=stale))
            if obs:
                await self._push(obs)
            due = self.latest.due()
            if due:
                self.stats.observations += len(due)
                await self._sink.observations(due)
