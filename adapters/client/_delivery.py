"""Delivery of the queued uploads: the loop, unary calls, the StreamObservations window, acks and dead letters.

Over gRPC, observation batches go out on one StreamObservations call with a bounded window: at most ``window``
batches sent and not yet acknowledged. The platform acknowledges a stream's batches in the order they were sent
(ST-PROTO-013), so each acknowledgement must name the oldest batch in flight; anything else (a missing or foreign
acknowledgement) ends the stream and everything not acknowledged is sent again, unchanged, on the next one — the
platform answers DUPLICATE for what it already holds (ST-PROTO-012, -014). A batch leaves the queue only after its
own acknowledgement, and in order (several acknowledgements that arrive together are committed in one
transaction). A failure of the stream (its gRPC status) is read through the one table
(``santong.protocols.STATUS_TABLE``) exactly as a failed unary call, and concerns the oldest batch in flight: the
platform processes a stream in order, so every earlier batch was acknowledged before it failed. After a failed
stream the oldest batch goes alone, unary, until an upload succeeds; then the window opens again. An Ack REJECTED
naming only the rate limit (ST-PROTO-010) is the stream's form of RESOURCE_EXHAUSTED: retried, never dead-lettered.
The stream is paced below the platform's ``max_uploads_per_second`` so that a later batch is never admitted while an
earlier one waits for a token. Every other upload (alarms, statuses, statistics, personnel) and every upload over
HTTP/JSON goes one at a time, unary; the stream is drained before one of them is sent, so the order of production
holds across methods (ST-PROTO-019).

Example::

    delivery = Delivery(client, window=32)
    task = asyncio.create_task(delivery.loop())     # PlatformClient.start() does this
"""

from __future__ import annotations

import asyncio
import dataclasses
import logging
import time
from collections import deque
from typing import TYPE_CHECKING, Any

from santong.adapters.client._failed import ClientFailed
from santong.adapters.client._queue import FirstAttempt, QueuedUpload, stamp
from santong.adapters.client._retry import Disposition
from santong.adapters.client._times import ms_of
from santong.adapters.client._transport import CallError, ObservationStream
from santong.protocols import Violation
from santong.protocols._status import rejection_code
from santong.protocols.v1 import device_access_pb2 as pb

if TYPE_CHECKING:
    from santong.adapters.client._client import PlatformClient

__all__ = ["DEFAULT_WINDOW", "RATE_MARGIN", "Delivery"]

log = logging.getLogger("santong.adapters.client")

#: Batches on a stream sent and not yet acknowledged, at most (the window).
DEFAULT_WINDOW = 32
#: Uploads are paced at this fraction of the platform's Limits.max_uploads_per_second (ST-PROTO-010).
RATE_MARGIN = 0.9
#: Acknowledged batches are deleted from the queue with the next upload's commit, or after this long.
ACK_LINGER_S = 0.05
ACK_DONE = (pb.ACK_STATUS_ACCEPTED, pb.ACK_STATUS_DUPLICATE)
ACK_CONFLICT = pb.AckStatus.Value("ACK_STATUS_CONFLICT")
OBSERVATIONS = "ReportObservations"


@dataclasses.dataclass(slots=True)
class _Sent:
    """One batch in flight on the stream."""

    upload: QueuedUpload
    sent_at: float  # time.time() when it went out (round trip of its acknowledgement)
    sent_mono: float


class Delivery:
    """The delivery loop of one :class:`PlatformClient` (see the module docstring)."""

    def __init__(self, client: PlatformClient, window: int = DEFAULT_WINDOW) -> None:
        """``window``: batches in flight on a stream, at least 1."""
        if window < 1:
            raise ValueError(f"window must be >= 1, got {window}")
        self.c = client
        self.window = window
        #: Batches sent on the current stream and not yet acknowledged, oldest first.
        self.in_flight: deque[_Sent] = deque()
        #: The most batches ever in flight at once (tests check the bound).
        self.max_in_flight = 0
        self._to_ack: list[QueuedUpload] = []
        self._committer: asyncio.Task[None] | None = None
        self._next_send = 0.0
        self._progressed = False
        #: After a stream failed, the oldest batch goes alone (unary) until one upload succeeds: a failure then
        #: concerns exactly that upload, and the window reopens only on a platform that answers.
        self._probe = False
        self._streaming = False  # a stream is open and taking observation batches
        self._claims = (
            0  # uploads claimed for the stream (first attempt recorded at their commit) not yet fetched
        )

    # ------------------------------------------------------------------ the loop

    async def loop(self) -> None:
        """Register, define, deliver; back off after failures as the status table says (runs until cancelled)."""
        c = self.c
        failures = 0
        while True:
            try:
                if not c.registered:
                    await c.session.register()
                elif c._defs_dirty:
                    await c.session.send_definitions()
                else:
                    c._wake.clear()
                    up = await c._q(c.queue.head)
                    if up is None:
                        await c._wake.wait()
                        continue
                    stream = None
                    if up.method == OBSERVATIONS and not self._probe:
                        stream = c._transport.observation_stream()  # type: ignore[union-attr]
                    if stream is not None:
                        await self.stream(stream)
                    else:
                        await self.deliver(up)
                        self._probe = False
                failures = 0
            except asyncio.CancelledError:
                raise
            except CallError as e:
                if self._progressed:  # a stream that delivered before it failed: its back-off starts afresh
                    self._progressed, failures = False, 0
                d = e.disposition
                failures += 1
                c.stats.retries += 1
                if d is Disposition.HOLD:
                    await self.hold(e)
                    continue
                if d is Disposition.REREGISTER:
                    log.warning("平台要求重新注册 / the platform asks to register again (%s)", e)
                    c._lost_registration()
                delay = c.backoff.delay(min(failures - 1, 64), e.retry_after_s, c._uniform)
                log.info(
                    "第 %d 次重试前等待 %.3f s / waiting %.3f s before retry %d: %s",
                    failures, delay, delay, failures, e,
                )  # fmt: skip
                await asyncio.sleep(delay)
            except ClientFailed as e:
                c._fail(e)
                return
            except Exception:
                log.exception("投递循环出错 / delivery loop error")
                failures += 1
                await asyncio.sleep(c.backoff.delay(min(failures - 1, 64), None, c._uniform))

    async def hold(self, e: CallError) -> None:
        """Credentials or identity refused: keep everything queued, tell the operator, back off long (the cap)."""
        self.c.credentials_error = e
        log.error("%s", self.fatal_text(e))
        await asyncio.sleep(max(self.c.backoff.cap_s, e.retry_after_s or 0.0))

    def fatal_text(self, e: CallError) -> str:
        """The operator's message for refused credentials or identity."""
        p, device_id = self.c.config.platform, self.c.config.device.device_id
        where = p.target if p.transport == "grpc" else p.url
        if e.code == "PERMISSION_DENIED":
            return (
                f"平台拒绝该设备身份（ST-IFACE-019）：device.device_id={device_id!r} 与凭据不符，请检查配置 / "
                f"the platform at {where} denied the device identity (ST-IFACE-019): device.device_id does not match the credentials: {e}"
            )
        return (
            f"平台拒绝凭据（ST-PROTO-001/002），数据保留在队列中，稍后重试：请检查 platform.token 与 device.device_id={device_id!r} / "
            f"the platform at {where} rejected the credentials (ST-PROTO-001/002); the data stays queued and the client tries again later: check platform.token and device.device_id: {e}"
        )

    # ------------------------------------------------------------------ commits shared with the producer

    def claim(self) -> bool:
        """For an observation batch about to be committed: True when the stream takes it at once (open, healthy,
        a free slot in the window), so that its first attempt is recorded in the same commit as the batch itself
        (it is live: rules (c) and (e) cannot apply to it). One commit per batch instead of two."""
        c = self.c
        if (
            not self._streaming
            or c.in_outage
            or c._retrying
            or len(self.in_flight) + self._claims >= self.window
        ):
            return False
        self._claims += 1
        return True

    def take_acks(self) -> list[QueuedUpload]:
        """Acknowledged batches not yet deleted, for the caller's next commit (then :meth:`settled`)."""
        ups, self._to_ack = self._to_ack, []
        return ups

    def untake(self, ups: list[QueuedUpload]) -> None:
        """The commit that was to delete ``ups`` failed: they are deleted later."""
        self._to_ack[:0] = ups

    def settled(self, ups: list[QueuedUpload]) -> None:
        """``ups`` (acknowledged) are deleted from the queue."""
        for up in ups:
            self.done(up)
        self.c.stats.acknowledged += len(ups)

    # ------------------------------------------------------------------ first attempts (backfill rules c, e)

    def _late(self, up: QueuedUpload, req: Any) -> bool:
        """Rules (c) and (e) at the first attempt: a live upload behind a retry, or older than the live window."""
        c = self.c
        return not up.backfill and (
            up.sequence in c._retrying or c.now_ms() - upload_time(up, req) > c.config.queue.live_window_ms
        )

    # ------------------------------------------------------------------ unary

    async def deliver(self, up: QueuedUpload) -> None:
        """Send one upload with a unary call and settle it (acknowledged, dead-lettered, or raised for a retry)."""
        c = self.c
        req = up.request()
        seq = up.sequence
        if not up.attempts:  # the flag is final from the first attempt on (ST-PROTO-014 over ST-PROTO-020)
            [first] = await c._q(c.queue.first_attempts_flagged, [(seq, self._late(up, req))])
            if first is None:
                return
            # The flag as stored: another task may have raised it since `up` was read (mark_all_backfill, counted
            # there); counted here only when this attempt raised it, so that every flagged upload counts once.
            c._backfill_queued += first.raised
            if first.backfill and not up.backfill:
                stamp(req, backfill=True)
            up = dataclasses.replace(up, backfill=first.backfill, attempts=1)
        try:
            resp = await c._call(up.method, req)
        except CallError as e:
            if e.disposition is Disposition.FINAL:
                await self.dead(up, e.violations, f"{e.code}: {e}")
                return
            await self._behind_failure([seq])
            raise
        ack = resp.ack
        if ack.sequence != seq or ack.status == pb.ACK_STATUS_UNSPECIFIED:
            c._retrying.add(seq)
            raise CallError(
                "ABORTED",
                f"确认不匹配 / acknowledgement mismatch: sent {seq}, got sequence {ack.sequence} status {ack.status}",
            )
        if ack.status in ACK_DONE:
            await c._q(c.queue.acknowledge, seq)
            self.acknowledged(up, ack)
            return
        await self._refused(up, ack)

    async def _behind_failure(self, seqs: list[int]) -> None:
        """Rule (c): the failed uploads are retried, and those queued behind them and never sent are late."""
        self.c._retrying.update(seqs)
        self.c._backfill_queued += await self.c._q(self.c.queue.mark_all_backfill)

    def acknowledged(self, up: QueuedUpload, ack: pb.Ack) -> None:
        """Bookkeeping of an upload the platform acknowledged (already deleted from the queue)."""
        self.done(up)
        self.c.stats.acknowledged += 1
        if ack.status == pb.ACK_STATUS_DUPLICATE:
            self.c.stats.duplicates += 1

    async def _refused(self, up: QueuedUpload, ack: pb.Ack) -> None:
        """Ack REJECTED or CONFLICT: final, into the dead letters (ST-PROTO-016, -031)."""
        vs = [Violation(v.clause_id, v.path, v.message_zh, v.message_en) for v in ack.violations]
        if ack.status == ACK_CONFLICT:
            seq = up.sequence
            log.error(
                "平台在序号 %d 下已存有不同内容：本设备的序号计数器可能丢失或被复用（ST-PROTO-031）/ the platform holds other "
                "content under sequence %d: this device's sequence counter was lost or reused (ST-PROTO-031)", seq, seq,
            )  # fmt: skip
            await self.dead(up, vs, "Ack CONFLICT")
            return
        await self.dead(up, vs, "Ack REJECTED")

    def done(self, up: QueuedUpload) -> None:
        """An upload left the queue (acknowledged or dead-lettered)."""
        c = self.c
        c._pending = max(0, c._pending - 1)
        if up.backfill:
            c._backfill_queued = max(0, c._backfill_queued - 1)
        c._retrying.discard(up.sequence)

    async def dead(self, up: QueuedUpload, violations: list[Violation], reason: str) -> None:
        """Move an upload to the dead letters: never resent unchanged (ST-PROTO-016)."""
        c = self.c
        await c._q(c.queue.dead_letter, up.sequence, reason, violations)
        self.done(up)
        c.stats.dead_lettered += 1
        ids = ", ".join(dict.fromkeys(v.clause_id for v in violations)) or "-"
        log.error(
            "上传被拒收，已移入死信表，永不重发 / upload rejected, moved to the dead-letter table, never resent (ST-PROTO-016) "
            "seq=%d %s [%s] %s: %s", up.sequence, up.method, ids, reason, "; ".join(map(str, violations[:3])),
        )  # fmt: skip

    # ------------------------------------------------------------------ the stream

    async def stream(self, stream: ObservationStream) -> None:
        """One StreamObservations call: keep up to ``window`` batches in flight; another kind of upload next in the
        queue goes unary once the window has drained, and the stream stays open. Return (after draining) when the
        definitions changed or the registration was lost; raise the CallError when the stream (or such a unary
        call) fails: what is not acknowledged stays queued and is sent again."""
        c = self.c
        self.in_flight.clear()
        reader = asyncio.ensure_future(self._read(stream))
        last_sent = 0
        try:
            while True:
                c._wake.clear()
                if reader.done():
                    reader.result()  # raises the stream's failure
                    return  # ended by the platform with nothing in flight: a new stream next time
                room = self.window - len(self.in_flight)
                blocked = not c.registered or c._defs_dirty
                self._streaming = not blocked
                other: QueuedUpload | None = None
                if room > 0 and not blocked:
                    self._claims = (
                        0  # every batch claimed so far is committed before this read (one FIFO thread)
                    )
                    ups = await c._q(c.queue.pending_after, last_sent, room)
                    batch = []
                    for up in ups:
                        if up.method != OBSERVATIONS:
                            other = up  # another kind of upload is next: drain the window, then send it unary
                            self._streaming = False
                            break
                        batch.append(up)
                    if batch:
                        last_sent = await self._send(stream, batch, reader)
                        continue
                if not self.in_flight:
                    if blocked:
                        return
                    if other is not None:
                        await self.deliver(other)  # in order: everything before it is acknowledged
                        last_sent = other.sequence
                        continue
                    await self._wait(reader, None)  # idle: new data, or the stream ends
                    continue
                oldest = self.in_flight[0]
                await self._wait(reader, oldest.sent_mono + c._timeout_s)
                stuck = not reader.done() and self.in_flight and self.in_flight[0] is oldest
                if stuck and time.monotonic() >= oldest.sent_mono + c._timeout_s:
                    raise CallError(
                        "DEADLINE_EXCEEDED",
                        f"序号 {oldest.upload.sequence} 在 {c._timeout_s:.1f} s 内未得到确认 / no acknowledgement of "
                        f"sequence {oldest.upload.sequence} within {c._timeout_s:.1f} s",
                        connection=True,
                    )
        except CallError as e:
            c._failed_call(e)
            self._probe = True
            if e.disposition is Disposition.FINAL and self.in_flight:  # the stream failed on its oldest batch
                await self.dead(self.in_flight.popleft().upload, e.violations, f"{e.code}: {e}")
            await self._behind_failure([s.upload.sequence for s in self.in_flight])
            raise
        finally:
            self._streaming = False
            reader.cancel()
            stream.close()
            await asyncio.gather(reader, return_exceptions=True)
            await self._commit(linger=False)
            self.in_flight.clear()

    async def _wait(self, reader: asyncio.Future[None], deadline: float | None) -> None:
        """Until something happens (an acknowledgement, new data, the reader ends) or ``deadline`` (monotonic)."""
        if reader.done():
            return
        timeout = None if deadline is None else max(0.0, deadline - time.monotonic())
        waker = asyncio.ensure_future(self.c._wake.wait())
        try:
            await asyncio.wait({waker, reader}, timeout=timeout, return_when=asyncio.FIRST_COMPLETED)
        finally:
            waker.cancel()

    async def _send(
        self, stream: ObservationStream, batch: list[QueuedUpload], reader: asyncio.Future[None]
    ) -> int:
        """Record the first attempts (one transaction), then put the batches on the stream, paced; the last
        sequence sent."""
        c = self.c
        fresh = [(up, up.request()) for up in batch if not up.attempts]
        lates = {up.sequence: self._late(up, req) for up, req in fresh}
        firsts: dict[int, FirstAttempt | None] = {}
        if fresh:
            acks = self.take_acks()
            try:
                got = await c._q(
                    c.queue.first_attempts_flagged,
                    [(up.sequence, lates[up.sequence]) for up, _ in fresh],
                    acknowledge=[a.sequence for a in acks],
                )
            except BaseException:
                self.untake(acks)
                raise
            self.settled(acks)
            firsts = {up.sequence: f for (up, _), f in zip(fresh, got, strict=True)}
        last = batch[-1].sequence
        for up in batch:
            if up.sequence in firsts:
                first = firsts[up.sequence]
                if first is None:
                    continue  # no longer queued
                # The flag as stored and sent (see deliver): counted once, by whoever raised it.
                c._backfill_queued += first.raised
                up = dataclasses.replace(up, backfill=first.backfill, payload=first.payload)
            up = dataclasses.replace(up, attempts=up.attempts + 1)
            await self._pace()
            # In flight before the write returns: its acknowledgement may be read before the write call resumes.
            self.in_flight.append(_Sent(up, time.time(), time.monotonic()))
            self.max_in_flight = max(self.max_in_flight, len(self.in_flight))
            try:
                await stream.send(up.payload)
            except CallError as e:
                raise await self._reader_error(reader, e) from e
        return last

    async def _pace(self) -> None:
        """Stay below the platform's upload rate (ST-PROTO-010): a later batch must never be admitted while an
        earlier one was refused for the rate, or that one could never be stored in order."""
        rate = int(self.c.limits.max_uploads_per_second or 0)
        if not rate:
            return
        now = time.monotonic()
        if self._next_send > now:
            await asyncio.sleep(self._next_send - now)
            now = self._next_send
        self._next_send = max(now, self._next_send) + 1.0 / (RATE_MARGIN * rate)

    @staticmethod
    async def _reader_error(reader: asyncio.Future[None], e: CallError) -> CallError:
        """A write failed because the call ended: the reader has the call's status (code, violations, advice)."""
        try:
            await asyncio.wait_for(asyncio.shield(reader), 2.0)
        except CallError as status:
            return status
        except BaseException:
            return e
        return e

    async def _read(self, stream: ObservationStream) -> None:
        """Match each acknowledgement with the oldest batch in flight; raise CallError on any mismatch."""
        c = self.c
        while True:
            ack = await stream.receive()
            t1 = time.time()
            if ack is None:
                if self.in_flight:
                    raise CallError(
                        "UNAVAILABLE", "平台结束了数据流 / the platform ended the stream", connection=True
                    )
                c._wake.set()
                return
            if not self.in_flight or ack.sequence != self.in_flight[0].upload.sequence or not ack.status:
                expected = self.in_flight[0].upload.sequence if self.in_flight else None
                raise CallError(
                    "ABORTED",
                    f"确认不匹配 / acknowledgement mismatch on the stream: expected sequence {expected}, got "
                    f"{ack.sequence} status {ack.status}",
                )
            sent = self.in_flight[0]
            self._progressed = True
            c._answered(ack.server_time, sent.sent_at, t1)
            if ack.status in ACK_DONE:
                self.in_flight.popleft()
                self._to_ack.append(sent.upload)
                self.c.stats.duplicates += ack.status == pb.ACK_STATUS_DUPLICATE
                if self._committer is None or self._committer.done():
                    self._committer = asyncio.ensure_future(self._commit(linger=True))
            else:
                code = rejection_code(v.clause_id for v in ack.violations)
                if code is not None:  # the rate limit on a stream: retried like RESOURCE_EXHAUSTED
                    vs = [Violation(v.clause_id, v.path, v.message_zh, v.message_en) for v in ack.violations]
                    raise CallError(
                        code, f"sequence {ack.sequence}: {'; '.join(map(str, vs))}", violations=vs
                    )
                self.in_flight.popleft()
                await self._refused(sent.upload, ack)
            c._wake.set()

    async def _commit(self, *, linger: bool) -> None:
        """Delete acknowledged batches from the queue, in order: with the next upload's commit if one comes within
        ACK_LINGER_S (``linger``), else in a transaction of their own."""
        if linger:
            await asyncio.sleep(ACK_LINGER_S)
        ups = self.take_acks()
        if not ups:
            return
        try:
            await self.c._q(self.c.queue.acknowledge_many, [up.sequence for up in ups])
        except BaseException:
            self.untake(ups)
            raise
        self.settled(ups)


def upload_time(up: QueuedUpload, req: Any) -> int:
    """When an upload's oldest record was produced (ms): rule (e) compares it with the live window."""
    if up.method == OBSERVATIONS:
        b = req.batch
        return (ms_of(b.base_time) or up.created_ms) + (min(b.time_offset_ms) if b.time_offset_ms else 0)
    return int(up.created_ms)
