"""The platform client: register, define, batch, queue, deliver, heartbeat, time sync, downlink commands.

:class:`PlatformClient` is the :class:`~santong.adapters.UplinkSink` an adapter pushes into. Everything it uploads
goes through the store-and-forward queue (:class:`UploadQueue`, SQLite WAL): sequence allocated and payload
committed *before* sending, deleted only on an acknowledgement ACCEPTED or DUPLICATE (ST-PROTO-014, -021), sent
and deleted in sequence order (ST-PROTO-019): over gRPC observation batches go on a StreamObservations window of at
most ``window`` unacknowledged batches, everything else one at a time (``_delivery.py``). After Register it resumes
after ``last_acknowledged_sequence`` (ST-PROTO-023) and sends every definition before any upload (ST-PROTO-024).

**Backfill rule (ST-PROTO-020: data delivered late is flagged backfill = true; live data is not).** An upload
carries ``backfill = true`` when at least one of these holds:

(a) it was produced while the client was *in outage*: the last call to the platform failed with UNAVAILABLE or
    DEADLINE_EXCEEDED or did not connect at all, and no call has succeeded since;
(b) it was produced while older backfill uploads were still queued (it waits behind the backlog);
(c) an attempt to send it, or an upload queued ahead of it, failed with a retryable error (it waits behind an
    outage or a retry, so it is late);
(d) it was still queued when the client started (it survived an outage or a restart of the adapter);
(e) when it is first sent, its oldest record is older than ``queue.live_window_ms`` (default 60 s; the core
    rejects unflagged data older than 300 s, ST-DATA-032).

(a), (b) are decided when the upload is produced; (c)–(e) may raise the flag of an upload *not yet sent*. From its
first attempt on an upload is frozen: it is resent unchanged — same sequence, same records, same flag
(ST-PROTO-014 over ST-PROTO-020). A live upload whose first attempt failed at the start of an outage is resent
unflagged. The first attempt is recorded in the queue before the upload leaves (``attempts``) — for a batch the
stream takes at once, in the very commit that queues it.

Failures follow the spec's one table (``santong.protocols.STATUS_TABLE``, ST-PROTO-015/016/035): only
INVALID_ARGUMENT carrying violations, a 413, an Ack REJECTED and a sequence conflict (ALREADY_EXISTS / 409, Ack
CONFLICT, ST-PROTO-031) are final → the dead-letter table with their violations, never resent unchanged.
FAILED_PRECONDITION → register again (and define again), then resend the same upload. UNAUTHENTICATED /
PERMISSION_DENIED → the data stays queued, an operator-facing error is logged, the client backs off long (the
cap) and tries again. Everything else — UNAVAILABLE, DEADLINE_EXCEEDED, RESOURCE_EXHAUSTED, ABORTED, INTERNAL,
UNKNOWN, CANCELLED, HTTP 5xx/429/408, failed connections — is retried after full-jitter exponential back-off
honouring Retry-After / RetryInfo; UNAVAILABLE, DEADLINE_EXCEEDED and failed connections mean an outage.

Example::

    config = load_config("kj70n.yaml")
    client = PlatformClient(config, write=adapter.write)
    await client.define(*adapter.definitions())
    async with client:                       # start(): queue, register, define, deliver, heartbeat, commands
        await client.observations([("14042100000101MNA0010A01", 0.42, None, 0)])
        await client.flush()                 # durable in the queue
        await client.wait_delivered(10.0)    # acknowledged by the platform
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import functools
import logging
import random
import time
from collections import deque
from collections.abc import Awaitable, Callable, Iterable, Mapping
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import Any, TypeVar

from google.protobuf.message import Message
from santong.adapters._sdk import AdapterError, Observation
from santong.adapters._settings import ClientConfig
from santong.adapters.client._batcher import Batcher
from santong.adapters.client._commands import Downlink
from santong.adapters.client._delivery import DEFAULT_WINDOW, Delivery
from santong.adapters.client._failed import ClientFailed
from santong.adapters.client._queue import DeadLetter, UploadQueue, stamp
from santong.adapters.client._retry import Backoff
from santong.adapters.client._session import Session
from santong.adapters.client._times import ms_of, oldest, oldest_of
from santong.adapters.client._transport import CallError, GrpcTransport, HttpTransport, Transport
from santong.protocols import (
    DeviceState,
    ValidationContext,
    ValidationError,
    default_limits,
    must_violations,
    validate,
)
from santong.protocols.v1 import common_pb2, data_pb2
from santong.protocols.v1 import device_access_pb2 as pb

__all__ = ["ClientFailed", "ClientStats", "ConfigureHandler", "PlatformClient", "WriteHandler"]

log = logging.getLogger("santong.adapters.client")

T = TypeVar("T")
WriteHandler = Callable[[str, float], Awaitable[None]]
ConfigureHandler = Callable[[int, Mapping[str, str]], Awaitable[None]]

ACK_DONE = (pb.ACK_STATUS_ACCEPTED, pb.ACK_STATUS_DUPLICATE)
ACK_CONFLICT = pb.AckStatus.Value("ACK_STATUS_CONFLICT")
#: Queue commits of sealed uploads the producer does not wait for, at most.
COMMITS_IN_FLIGHT = 4


@dataclass
class ClientStats:
    """Counters of one client run."""

    uploads_queued: int = 0
    acknowledged: int = 0
    duplicates: int = 0
    dead_lettered: int = 0
    retries: int = 0
    observations_dropped: int = 0
    registrations: int = 0
    definitions_sent: int = 0
    heartbeats: int = 0
    commands: int = 0


class PlatformClient:
    """The platform client and the adapters' :class:`~santong.adapters.UplinkSink` (see the module docstring).

    ``write`` executes WRITE_POINT commands (usually ``adapter.write``), ``configure`` CONFIGURE commands
    (``adapter.configure``), ``test_event`` TEST_EVENT commands (ST-PROTO-036; given only in certification mode:
    without it they are answered UNSUPPORTED); ``transport`` replaces the one the configuration names (tests).
    """

    def __init__(
        self,
        config: ClientConfig,
        *,
        write: WriteHandler | None = None,
        configure: ConfigureHandler | None = None,
        test_event: Callable[[Any], Awaitable[str]] | None = None,
        transport: Transport | None = None,
        uniform: Callable[[float, float], float] = random.uniform,
        window: int = DEFAULT_WINDOW,
    ) -> None:
        """Prepare; nothing is opened before :meth:`start`. ``window``: observation batches in flight on the
        stream (gRPC), at most."""
        self.config = config
        r = config.platform.retry
        self.backoff = Backoff(base_s=r.base_ms / 1000, cap_s=r.cap_ms / 1000)
        self.queue = UploadQueue(config.queue.path, synchronous=config.queue.synchronous)
        self.stats = ClientStats()
        self.limits = default_limits()
        self.registered = False
        self.session_id = ""
        self.negotiated_version = ""
        self.clock_offset_ms = 0
        self.in_outage = False
        self._write = write
        self._configure = configure
        self._test_event = test_event
        self._transport = transport
        self._uniform = uniform
        self._timeout_s = config.platform.timeout_ms / 1000
        self._linger_s = config.batch.linger_ms / 1000
        self._heartbeat_ms = config.heartbeat.interval_ms
        self._rtt_ms = 0.0
        self._executor: ThreadPoolExecutor | None = None
        self._commits: deque[asyncio.Future[int]] = deque()
        self._started = False
        self._stopping = False
        self._tasks: list[asyncio.Task[None]] = []
        self._fatal: BaseException | None = None
        self._failed = asyncio.Event()
        self._wake = asyncio.Event()
        self._registered_event = asyncio.Event()
        # definitions
        self._staged: list[tuple[list[data_pb2.PointDefinition], list[data_pb2.OutstationDefinition]]] = []
        self._points: dict[str, data_pb2.PointDefinition] = {}
        self._outstations: dict[str, data_pb2.OutstationDefinition] = {}
        self._areas: dict[str, data_pb2.AreaDefinition] = {}
        self._stations: dict[str, data_pb2.StationDefinition] = {}
        self._alias_of: dict[str, int] = {}
        self._by_alias: dict[int, data_pb2.PointDefinition] = {}
        self._state = DeviceState(device_id=config.device.device_id, mine_code=config.mine.mine_code)
        self._defs_dirty = False
        self._defs_waiters: list[asyncio.Future[None]] = []
        # delivery bookkeeping
        self._pending = 0
        self._backfill_queued = 0
        self._retrying: set[int] = set()
        #: The last refusal of the credentials (UNAUTHENTICATED / PERMISSION_DENIED), None once a call succeeds.
        self.credentials_error: CallError | None = None
        self.downlink = Downlink(self)
        self.session = Session(self)
        self.delivery = Delivery(self, window)
        self.batcher = Batcher(self)

    # ------------------------------------------------------------------ lifecycle

    async def _q(self, fn: Callable[..., T], *args: Any, **kwargs: Any) -> T:
        """Run a queue operation on the queue's own thread (FIFO: submission order is commit order)."""
        assert self._executor is not None
        return await asyncio.get_running_loop().run_in_executor(
            self._executor, functools.partial(fn, *args, **kwargs)
        )

    def _make_transport(self) -> Transport:
        p = self.config.platform
        tls = p.tls
        ca, cert, key = (tls.ca, tls.cert, tls.key) if tls else (None, None, None)
        if p.transport == "http":
            return HttpTransport(
                p.url,
                device_id=self.config.device.device_id,
                token=p.bearer_token(),
                ca=ca,
                cert=cert,
                key=key,
                timeout_s=self._timeout_s,
            )
        return GrpcTransport(
            p.target, device_id=self.config.device.device_id, token=p.bearer_token(), ca=ca, cert=cert, key=key,
            server_name=tls.server_name if tls else None, reconnect_max_ms=p.retry.cap_ms,
        )  # fmt: skip

    async def start(self) -> None:
        """Open the queue, flag what it still holds as backfill (rule d), start delivering."""
        if self._started:
            return
        self._executor = ThreadPoolExecutor(max_workers=1, thread_name_prefix="santong-queue")
        try:
            await self._q(self.queue.open)
        except BaseException:
            self._executor.shutdown(wait=False)
            self._executor = None
            raise
        self._started = True
        try:
            flagged = await self._q(self.queue.mark_all_backfill)
            self._pending = await self._q(self.queue.count)
            self._backfill_queued = await self._q(self.queue.backfill_count)
            self._state.raised_alarms = set(await self._q(self.queue.get_meta, "raised_alarms", []))
            self._state.last_sequence = self.queue.last_acknowledged
            if self._pending:
                log.info(
                    "队列中有 %d 个未确认的上传（%d 个新标记为补传）/ %d unacknowledged uploads queued (%d newly flagged backfill)",
                    self._pending, flagged, self._pending, flagged,
                )  # fmt: skip
            staged, self._staged = self._staged, []
            for points, outstations in staged:
                await self._merge_points(points, outstations)
            # The platform's batch limit from the last session: batches sealed before this session's Register (a
            # restart during an outage) must already respect it (ST-PROTO-008).
            saved = await self._q(self.queue.get_meta, "limits", {})
            if saved.get("max_batch_points"):
                self.limits.max_batch_points = int(saved["max_batch_points"])
        except BaseException:
            await self._q(self.queue.close)
            self._executor.shutdown(wait=True)
            self._executor = None
            self._started = False
            raise
        if self._transport is None:
            self._transport = self._make_transport()
        loop = asyncio.get_running_loop()
        for name, coro in (
            ("deliver", self.delivery.loop()),
            ("linger", self.batcher.linger_loop()),
            ("heartbeat", self.session.heartbeat_loop()),
            ("commands", self.downlink.loop()),
        ):
            self._tasks.append(loop.create_task(coro, name=f"santong-client-{name}"))

    async def stop(self, *, drain_timeout_s: float = 0.0) -> None:
        """Seal the open batch into the queue, optionally wait for delivery, stop tasks, close the queue.

        Nothing is lost: whatever is not acknowledged stays in the queue file for the next start.
        """
        if not self._started or self._stopping:
            return
        try:
            await self.flush()
        except Exception:
            log.exception("停止时写入队列失败 / sealing the open batch at stop failed")
        if drain_timeout_s > 0 and self._fatal is None:
            await self.wait_delivered(drain_timeout_s)
        self._stopping = True
        for t in self._tasks:
            t.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)
        self._tasks.clear()
        for fut in self._defs_waiters:
            if not fut.done():
                fut.set_exception(ClientFailed("客户端已停止 / the client stopped"))
        self._defs_waiters.clear()
        if self._transport is not None:
            with contextlib.suppress(Exception):
                await self._transport.close()
        await self._q(self.queue.close)
        assert self._executor is not None
        self._executor.shutdown(wait=True)
        self._executor = None
        self._started = False

    async def __aenter__(self) -> PlatformClient:
        await self.start()
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.stop()

    @property
    def error(self) -> BaseException | None:
        """Why the client stopped for good, or None."""
        return self._fatal

    async def wait_failed(self) -> BaseException:
        """Return once the client has failed for good (the runner waits on this besides SIGTERM)."""
        await self._failed.wait()
        assert self._fatal is not None
        return self._fatal

    def _fail(self, exc: BaseException) -> None:
        if self._fatal is None:
            self._fatal = exc
            log.error("%s", exc)
        self._failed.set()

    # ------------------------------------------------------------------ clock (ST-PROTO-007)

    def now_ms(self) -> int:
        """Milliseconds since the epoch on the platform-corrected clock."""
        return int(time.time() * 1000) + self.clock_offset_ms

    def _note_server_time(self, ts: Any, t0: float, t1: float) -> None:
        """Estimate the offset from a response's server_time; step the clock only on a real drift."""
        server = ms_of(ts)
        if server is None:
            return
        rtt = (t1 - t0) * 1000
        if rtt > 2000:  # too slow an exchange says little about the offset
            return
        self._rtt_ms = rtt
        estimate = int(round(server - (t0 + t1) * 500))
        # The platform stamps its answer somewhere inside the round trip: differences below it are noise.
        if abs(estimate - self.clock_offset_ms) > max(2 * rtt, 100):
            log.info(
                "时钟偏差 %d ms → %d ms / clock offset %d ms → %d ms (ST-PROTO-007)",
                self.clock_offset_ms,
                estimate,
                self.clock_offset_ms,
                estimate,
            )
            self.clock_offset_ms = estimate

    # ------------------------------------------------------------------ definitions

    async def define(
        self,
        points: Iterable[data_pb2.PointDefinition],
        outstations: Iterable[data_pb2.OutstationDefinition] = (),
    ) -> None:
        """Define or redefine points and outstations (aliases from the persistent table, ST-DATA-017).

        Checked by the validation core first: ValidationError (nothing defined) on a MUST violation. Sent to the
        platform by the delivery loop before any further upload (ST-PROTO-024). Allowed before :meth:`start`.
        """
        points, outstations = list(points), list(outstations)
        if not points and not outstations:
            return  # nothing to define yet (an adapter that learns its points at run time)
        if not self._started:
            self._staged.append((points, outstations))
            return
        await self._merge_points(points, outstations)

    async def _merge_points(
        self, points: list[data_pb2.PointDefinition], outstations: list[data_pb2.OutstationDefinition]
    ) -> None:
        aliases = await self._q(self.queue.assign_aliases, [(p.point_code, int(p.alias)) for p in points])
        defs = []
        for p in points:
            d = data_pb2.PointDefinition()
            d.CopyFrom(p)
            d.alias = aliases[p.point_code]
            defs.append(d)
        req = pb.DefinePointsRequest(points=defs, outstations=outstations)
        vs = validate(req, self._context())
        bad = must_violations(vs)
        if bad:
            log.error(
                "测点定义未通过校验，未定义 / definitions rejected by the validation core, nothing defined: %s",
                "; ".join(map(str, bad[:5])),
            )
            raise ValidationError(vs)
        for v in vs:
            log.warning("测点定义 / definition: %s", v)
        self._state.apply(req)
        for d in defs:
            self._points[d.point_code] = d
            self._alias_of[d.point_code] = d.alias
            self._by_alias[d.alias] = d
        self.batcher.index(defs)
        for o in outstations:
            self._outstations[o.outstation_code] = o
        self._defs_dirty = True
        self._wake.set()

    async def define_positioning(
        self, areas: Iterable[data_pb2.AreaDefinition], stations: Iterable[data_pb2.StationDefinition]
    ) -> None:
        """Define personnel areas and base stations (sent before further uploads)."""
        req = pb.DefinePositioningRequest(areas=list(areas), stations=list(stations))
        vs = validate(req, self._context())
        if must_violations(vs):
            raise ValidationError(vs)
        self._state.apply(req)
        self._areas.update((a.area_code, a) for a in req.areas)
        self._stations.update((s.station_code, s) for s in req.stations)
        self._defs_dirty = True
        self._wake.set()

    def definitions(self) -> list[data_pb2.PointDefinition]:
        """The point definitions with their aliases, in alias order."""
        return sorted(self._points.values(), key=lambda d: d.alias)

    def _context(self) -> ValidationContext:
        return ValidationContext(state=self._state, limits=self.limits, now_ms=self.now_ms())

    # ------------------------------------------------------------------ uplink: observations

    async def observations(self, items: Iterable[Observation]) -> None:
        """Screen and batch observations; a full batch is sealed into the queue at once, others after linger.

        Unknown points (ST-IFACE-004) and switch values other than 0/1 (ST-DATA-019) or statuses beyond 255
        (ST-DATA-020) are dropped with a log line; a non-finite value becomes 0 with the sensor-fault bit 128
        (ST-DATA-018); a value outside the range gets the over-range bit 8 (ST-DATA-021).
        """
        await self.batcher.observations(items)

    async def _seal(self) -> None:
        """Turn the open batch into queued uploads (before any other upload, so that order holds)."""
        await self.batcher.seal()

    async def flush(self) -> None:
        """Return once everything pushed so far is committed to the queue file."""
        await self.batcher.seal()
        while self._commits:
            await self._commits.popleft()
        if self._executor is not None:
            await self._q(lambda: None)  # the queue thread is FIFO: earlier commits are done

    # ------------------------------------------------------------------ uplink: other uploads

    async def alarms(self, alarms: Iterable[data_pb2.Alarm]) -> None:
        """Raise or clear alarms (one upload, after the observations pushed before it)."""
        req = pb.ReportAlarmsRequest(alarms=list(alarms))
        if req.alarms:
            await self._seal()
            first = oldest(
                (
                    a.end_time if a.state == common_pb2.ALARM_STATE_CLEARED else a.start_time
                    for a in req.alarms
                ),
                self.now_ms(),
            )
            await self._enqueue("ReportAlarms", req, first, alarms=True)

    async def outstation_statuses(self, statuses: Iterable[data_pb2.OutstationStatus]) -> None:
        """Report outstation run and power states (one upload)."""
        req = pb.ReportOutstationStatusRequest(statuses=list(statuses))
        if req.statuses:
            await self._seal()
            await self._enqueue(
                "ReportOutstationStatus", req, oldest((s.time for s in req.statuses), self.now_ms())
            )

    async def statistics(self, statistics: Iterable[data_pb2.Statistics]) -> None:
        """Report statistics over periods (one upload)."""
        req = pb.ReportStatisticsRequest(statistics=list(statistics))
        if req.statistics:
            await self._seal()
            await self._enqueue(
                "ReportStatistics", req, oldest((s.end_time for s in req.statistics), self.now_ms())
            )

    async def personnel(
        self, records: Iterable[data_pb2.PersonnelRecord], stations: Iterable[data_pb2.StationStatus] = ()
    ) -> None:
        """Report personnel positions and base-station states (one upload)."""
        req = pb.ReportPersonnelRequest(records=list(records), stations=list(stations))
        if req.records or req.stations:
            await self._seal()
            first = oldest([r.time for r in req.records] + [s.time for s in req.stations], self.now_ms())
            await self._enqueue("ReportPersonnel", req, first)

    async def submit(
        self, uploads: Iterable[tuple[str, Message]], *, meta: Mapping[str, Any] | None = None
    ) -> list[int]:
        """Queue several uploads as one unit — all committed in one transaction with ``meta``, or none.

        For importers that must never half-import (the mtfile adapter: one file = one unit, its name in ``meta``).
        Every upload is checked by the core first; a MUST violation raises ValidationError and nothing is queued.
        Returns the sequences. Example::

            await client.submit([("ReportObservations", pb.ReportObservationsRequest(batch=b))],
                                meta={"mtfile:pending": {name: digest}})
        """
        if not self._started:
            raise AdapterError("客户端尚未启动 / the client has not been started")
        items = list(uploads)
        await self._seal()  # what was pushed before stays before
        state = dataclasses.replace(self._state, raised_alarms=set(self._state.raised_alarms))
        ctx = ValidationContext(state=state, limits=self.limits, now_ms=self.now_ms())
        seq = max(self.queue.next_sequence, self._state.last_sequence + 1)
        queued: list[tuple[str, Message, bool]] = []
        alarms = False
        for method, request in items:
            backfill = (queued and queued[-1][2]) or self._decide_backfill(oldest_of(request, self.now_ms()))
            stamp(request, sequence=seq, backfill=bool(backfill))
            vs = validate(request, ctx)
            if must_violations(vs):
                raise ValidationError(vs)
            if method == "ReportAlarms":
                state.apply(request)
                alarms = True
            queued.append((method, request, bool(backfill)))
            seq += 1
        all_meta = dict(meta or {})
        if alarms:
            all_meta["raised_alarms"] = sorted(state.raised_alarms)
        seqs = await self._q(self.queue.put_many, queued, meta=all_meta)
        if alarms:
            self._state.raised_alarms = state.raised_alarms
        self._pending += len(seqs)
        self._backfill_queued += sum(b for _, _, b in queued)
        self.stats.uploads_queued += len(seqs)
        if seqs:
            self._wake.set()
        return seqs

    async def get_meta(self, key: str, default: Any = None) -> Any:
        """A JSON value kept in the queue file (e.g. what an importer committed with :meth:`submit`)."""
        return await self._q(self.queue.get_meta, key, default)

    async def set_meta(self, key: str, value: Any) -> None:
        """Keep a JSON value in the queue file."""
        await self._q(self.queue.set_meta, key, value)

    def _decide_backfill(self, oldest_ms: int) -> bool:
        """Rules (a), (b) and (e) of the module docstring, at production time."""
        return (
            self.in_outage
            or self._backfill_queued > 0
            or self.now_ms() - oldest_ms > self.config.queue.live_window_ms
        )

    async def _enqueue(self, method: str, request: Message, oldest_ms: int, *, alarms: bool = False) -> None:
        """Pre-flight with the core, then commit to the queue (or to the dead letters if the core rejects it)."""
        if not self._started:
            raise AdapterError("客户端尚未启动 / the client has not been started")
        backfill = self._decide_backfill(oldest_ms)
        stamp(
            request, sequence=max(self.queue.next_sequence, self._state.last_sequence + 1), backfill=backfill
        )
        vs = validate(request, self._context())
        bad = must_violations(vs)
        if bad:
            seq = await self._q(
                self.queue.dead_letter_new, method, request, vs, "pre-flight: rejected by the validation core"
            )
            self.stats.dead_lettered += 1
            ids = ", ".join(dict.fromkeys(v.clause_id for v in bad))
            log.error(
                "上传未通过校验核心，已移入死信表，不发送 / upload rejected by the validation core, dead-lettered, not sent "
                "(ST-PROTO-016) seq=%d %s [%s]: %s", seq, method, ids, "; ".join(map(str, bad[:3])),
            )  # fmt: skip
            return
        meta = None
        if alarms:
            self._state.apply(request)
            meta = {"raised_alarms": sorted(self._state.raised_alarms)}
        # A batch the stream takes at once has its first attempt recorded in this commit; acknowledged batches
        # are deleted in it too (one commit per batch).
        attempted = method == "ReportObservations" and self.delivery.claim()
        acks = self.delivery.take_acks()
        assert self._executor is not None
        fut = asyncio.get_running_loop().run_in_executor(
            self._executor,
            functools.partial(self.queue.put, method, request, backfill=backfill, meta=meta, attempted=attempted,
                              acknowledge=[a.sequence for a in acks]),
        )  # fmt: skip

        def committed(f: asyncio.Future[int]) -> None:
            if f.cancelled() or f.exception() is not None:
                self.delivery.untake(acks)
                return
            self.delivery.settled(acks)
            self._pending += 1
            self._backfill_queued += backfill
            self.stats.uploads_queued += 1
            self._wake.set()

        fut.add_done_callback(committed)
        # The producer does not wait for the disk: a few commits stay in flight (the queue thread is FIFO, so
        # they land in production order); flush() waits for all, and a failed commit raises here or there.
        self._commits.append(fut)
        while self._commits and (len(self._commits) > COMMITS_IN_FLIGHT or self._commits[0].done()):
            await self._commits.popleft()

    # ------------------------------------------------------------------ calls

    async def _call(self, method: str, request: Message) -> Any:
        """One call; tracks the outage state and the clock offset."""
        assert self._transport is not None
        t0 = time.time()
        try:
            resp = await self._transport.call(method, request, self._timeout_s)
        except CallError as e:
            self._failed_call(e)
            raise
        ts = resp.ack.server_time if hasattr(resp, "ack") else getattr(resp, "server_time", None)
        self._answered(ts, t0, time.time())
        return resp

    def _failed_call(self, e: CallError) -> None:
        """A call (or a stream) failed: an outage starts when the platform could not be reached."""
        if e.outage:
            if not self.in_outage:
                log.warning(
                    "平台不可达，数据缓存待续传 / platform unreachable, storing and forwarding (ST-PROTO-018): %s",
                    e,
                )
            self.in_outage = True

    def _answered(self, server_time: Any, t0: float, t1: float) -> None:
        """The platform answered (a response, or an acknowledgement on a stream): no outage, credentials good,
        and its time tells the clock offset."""
        if self.credentials_error is not None:
            log.info("平台已接受凭据 / the platform accepts the credentials again")
            self.credentials_error = None
        if self.in_outage:
            log.info(
                "平台已恢复，开始续传 / platform reachable again, forwarding the backlog (%d queued)",
                self._pending,
            )
            self.in_outage = False
        self._note_server_time(server_time, t0, t1)

    # ------------------------------------------------------------------ delivery

    async def _hold(self, e: CallError) -> None:
        """Credentials or identity refused: keep everything queued, tell the operator, back off long."""
        await self.delivery.hold(e)

    def _lost_registration(self) -> None:
        self.registered = False
        self._registered_event.clear()
        self._wake.set()

    async def dead_letters(self) -> list[DeadLetter]:
        """The dead-letter table (uploads never to be sent again, with their violations)."""
        return await self._q(self.queue.dead_letters)

    async def pending(self) -> int:
        """Uploads in the queue, not yet acknowledged."""
        return await self._q(self.queue.count)

    async def wait_delivered(self, timeout_s: float) -> bool:
        """Seal the open batch and wait until the queue is empty; False on timeout (or failure)."""
        await self.flush()
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline and self._fatal is None:
            if self._pending == 0 and self.batcher.empty() and await self._q(self.queue.count) == 0:
                return True
            await asyncio.sleep(0.02)
        return False

    # ------------------------------------------------------------------ heartbeat (ST-PROTO-005)

    def heartbeat_interval_ms(self) -> int:
        """The interval in use: the configured or commanded one, never above the platform's."""
        platform = int(self.limits.heartbeat_interval_ms or 30_000)
        own = self._heartbeat_ms
        return max(100, min(own, platform) if own else platform)
