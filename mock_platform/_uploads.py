"""Upload admission (a collaborator of :class:`~santong.mock_platform._service.Platform`): rate limit, replay or
conflict (ST-PROTO-012, -031), validation, submission to the store, acknowledgement after commit (ST-PROTO-013).

Example::

    ack = await platform.uploads.upload(dev, "ReportObservations", request, peer, time.perf_counter(), stream=False)
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Awaitable
from typing import TYPE_CHECKING, Any

from santong.mock_platform._devices import Bucket, Device
from santong.mock_platform._errors import PlatformError, violation
from santong.mock_platform._ingest import (
    DUPLICATE,
    STORED_BATCH,
    content_digest,
    log_row,
    seq_from_db,
    seq_to_db,
    stored_batch_digest,
    upload_job,
)
from santong.mock_platform._methods import sequence_of
from santong.protocols import BatchWire, Violation, batch_covered, batch_wire, must_violations, validate
from santong.protocols.v1 import device_access_pb2

if TYPE_CHECKING:
    from santong.mock_platform._service import Platform

__all__ = ["Uploads"]

log = logging.getLogger("santong.mock_platform")
pb = device_access_pb2
ACK_CONFLICT = pb.AckStatus.Value("ACK_STATUS_CONFLICT")
_OBSERVATIONS = frozenset({"ReportObservations", "StreamObservations"})
#: A stored upload: method, records, content digest (None before ST-PROTO-031), sequence epoch (ST-PROTO-037).
Prior = tuple[str, int, bytes | None, int]


def _stored_digest(digest: bytes | None, batch: bytes | None) -> bytes | None:
    """An ``uploads.digest`` as the content digest it stands for (None: a row from before ST-PROTO-031)."""
    if digest is None:
        return None
    if bytes(digest) == STORED_BATCH:
        return stored_batch_digest(bytes(batch)) if batch is not None else None
    return bytes(digest)


async def _ready(value: Any) -> Any:
    """An awaitable that is already done (the second phase of a rejected or refused upload)."""
    return value


class Uploads:
    """The upload path of one platform."""

    def __init__(self, platform: Platform) -> None:
        self.p = platform

    def rate_limit(self, dev: Device) -> None:
        rate = self.p.limits.max_uploads_per_second
        if not rate:
            return
        if dev.bucket is None or dev.bucket.rate != rate:
            dev.bucket = Bucket(float(rate))
        wait = dev.bucket.take()
        if wait:
            raise PlatformError(
                "RESOURCE_EXHAUSTED", "上传过于频繁", "too many uploads",
                [violation("ST-PROTO-010", "$", f"每秒上传超过 {rate} 次，请 {wait:.3f} 秒后重试", f"more than {rate} uploads per second; retry after {wait:.3f} s")],
                retry_after_s=round(max(wait, 0.001), 3),
            )  # fmt: skip

    async def upload(
        self,
        dev: Device,
        method: str,
        req: Any,
        peer: str,
        t0: float,
        *,
        stream: bool,
        raw: bytes | None = None,
    ) -> device_access_pb2.Ack | None:
        """Validate, store and acknowledge one upload; None when the acknowledgement is withheld. ``raw``: the
        protobuf encoding ``req`` was parsed from, if any."""
        return await (await self.admit(dev, method, req, peer, t0, stream=stream, raw=raw))

    async def admit(
        self,
        dev: Device,
        method: str,
        req: Any,
        peer: str,
        t0: float,
        *,
        stream: bool,
        raw: bytes | None = None,
        wire: BatchWire | None = None,
        seq: int | None = None,
        skeleton: bool = False,
    ) -> Awaitable[device_access_pb2.Ack | None]:
        """First phase of an upload, under the device lock: rate limit, replay check, validation, submission to
        the store. Returns the second phase, an awaitable of the Ack that resolves only after the commit
        (ST-PROTO-013), so that a stream can read and validate the next batch while this one commits.

        The device state follows at submission (the next batch validates against it); should the commit fail,
        it is rolled back and the device gets UNAVAILABLE, so that its resend is accepted.

        ``skeleton``: ``req`` is the :func:`~santong.protocols.batch_skeleton` of ``wire`` (of ``raw``); the batch is
        judged from the encoding when the device's memos cover its columns, else the whole request is parsed here.
        """
        if seq is None:
            seq = sequence_of(req)
        if self.p.limits.max_uploads_per_second:
            try:
                self.rate_limit(dev)
            except PlatformError as e:
                if not stream:
                    raise
                self.p._log_error(dev.device_id, method, peer, seq, e, t0)
                return _ready(self.p._ack(seq, pb.ACK_STATUS_REJECTED, 0, e.violations))
        if wire is None and raw is not None and method in _OBSERVATIONS:
            wire = batch_wire(raw)
        # An observation batch's digest is computed only when a replay check needs it; its row stores
        # STORED_BATCH (the digest of the batch stored beside it). Other uploads store theirs.
        lazy = method in _OBSERVATIONS
        digest = None if lazy else content_digest(req)
        async with dev.lock:
            state = dev.state
            epoch = state.sequence_epoch
            replay = 0 < seq <= state.last_sequence or 0 < seq <= dev.prior_top
            points = None
            if skeleton:
                assert wire is not None and raw is not None
                # Judged from the encoding when the memos cover every column (nothing awaited from here to the
                # judgement: the state stays as checked); a replay's digest needs the whole request.
                points = None if replay else batch_covered(wire, state)
                if points is None:
                    try:
                        req = self.p.decode(method, raw, wire=wire)
                    except PlatformError as e:
                        if not stream:
                            raise
                        self.p._log_error(dev.device_id, method, peer, None, e, t0)
                        return _ready(self.p._ack(0, pb.ACK_STATUS_REJECTED, 0, e.violations))
            # A replay or a conflict (checked before the core, which rejects seq ≤ last)? Or a late replay of an
            # earlier sequence epoch's upload (ST-PROTO-037: never stored as new data)?
            if replay:
                priors = await self.prior_uploads(dev.device_id, seq)
                digest = digest or content_digest(req)
                mine = next((u for u in priors if u[3] == epoch), None)
                earlier = next((u for u in priors if u[3] != epoch and u[2] == digest), None)
                if mine is not None:
                    if mine[2] is not None and mine[2] != digest:
                        if earlier is not None:
                            return self.duplicate(dev, method, seq, earlier, peer, t0)
                        return self.conflict(dev, method, seq, mine, peer, t0, stream=stream)
                    return self.duplicate(dev, method, seq, mine, peer, t0)
                if earlier is not None:
                    return self.duplicate(dev, method, seq, earlier, peer, t0)
            now = self.p.now_ms()
            ctx = self.p.context(dev, now)
            ctx.batch_wire = wire  # the encoding req was parsed from: column facts, no copies
            ctx.batch_skeleton = points is not None
            vs = validate(req, ctx)
            if vs and must_violations(vs):
                err = PlatformError(
                    "INVALID_ARGUMENT",
                    "上传不符合规范，未存储任何记录",
                    "the upload violates the specification; nothing was stored",
                    vs,
                )
                if not stream:
                    raise err
                self.p._log_error(dev.device_id, method, peer, seq, err, t0)
                return _ready(self.p._ack(seq, pb.ACK_STATUS_REJECTED, 0, vs))
            row = log_row(
                now,
                dev.device_id,
                method,
                peer,
                seq,
                "ACCEPTED",
                "OK",
                vs,
                0,
                (time.perf_counter() - t0) * 1000,
            )
            stored = STORED_BATCH if lazy else digest
            job, n = upload_job(
                dev.device_id, method, req, now, row, raw, stored, epoch, ctx.time_span_ms, points=points
            )
            prev_seq = state.last_sequence
            prev_raised = set(state.raised_alarms) if method == "ReportAlarms" else None

            def undo(_: BaseException) -> None:
                if state.last_sequence == seq:
                    state.last_sequence = prev_seq
                if prev_raised is not None:
                    state.raised_alarms = prev_raised

            fut = self.p.store.submit(job, on_error=undo)
            state.apply(req)
        assert fut is not None
        return self.acknowledge(
            dev, method, req, seq, n, vs, fut, peer, t0, digest=digest, stream=stream,
            skeleton_of=raw if points is not None else None,
        )  # fmt: skip

    async def acknowledge(
        self,
        dev: Device,
        method: str,
        req: Any,
        seq: int,
        n: int,
        vs: list[Violation],
        fut: asyncio.Future[Any],
        peer: str,
        t0: float,
        *,
        digest: bytes | None = None,
        stream: bool = False,
        skeleton_of: bytes | None = None,
    ) -> device_access_pb2.Ack | None:
        """Second phase of an upload: wait for the commit, then acknowledge (or withhold, or delay).
        ``skeleton_of``: the encoding when ``req`` is its batch skeleton (a digest needs the whole request)."""
        try:
            result = await fut
        except asyncio.CancelledError:
            raise
        except Exception as e:
            log.exception("store write failed")
            raise PlatformError(
                "UNAVAILABLE", "存储暂不可用", "storage unavailable; retry", retry_after_s=1.0
            ) from e
        if result == DUPLICATE:  # a concurrent replay (or conflict) committed first
            epoch = dev.state.sequence_epoch
            prior = next((u for u in await self.prior_uploads(dev.device_id, seq) if u[3] == epoch), None)
            prior = prior or (method, 0, None, epoch)
            if skeleton_of is not None:
                req = self.p.decode(method, skeleton_of)
            if prior[2] is not None and prior[2] != (digest or content_digest(req)):
                return await self.conflict(dev, method, seq, prior, peer, t0, stream=stream)
            return await self.duplicate(dev, method, seq, prior, peer, t0)
        if self.p.faults.withhold_count and self.p.faults.take_withhold(method, dev.device_id, peer, seq):
            return None
        if self.p.faults.ack_delay_ms:
            await self.p.faults.ack_delay()
        return self.p._ack(seq, pb.ACK_STATUS_ACCEPTED, n, vs)

    async def prior_uploads(self, device_id: str, seq: int) -> list[Prior]:
        """(method, records, content digest or None for rows from before ST-PROTO-031, sequence epoch) of the
        uploads stored under a sequence, one per epoch (ST-PROTO-037)."""
        rows = await self.p.store.read(
            lambda c: c.execute(
                "SELECT u.method, u.n_records, u.digest, u.epoch, b.batch FROM uploads u"
                " LEFT JOIN observation_batches b ON u.digest = x'' AND b.device_id = u.device_id"
                " AND b.sequence = u.sequence AND b.epoch = u.epoch"
                " WHERE u.device_id=? AND u.sequence=?",
                (device_id, seq_to_db(seq)),
            ).fetchall()
        )
        return [(r[0], int(r[1]), _stored_digest(r[2], r[4]), seq_from_db(int(r[3])) or 0) for r in rows]

    async def conflict(
        self,
        dev: Device,
        method: str,
        seq: int,
        prior: Prior,
        peer: str,
        t0: float,
        *,
        stream: bool,
    ) -> device_access_pb2.Ack:
        """Other content under a stored sequence (ST-PROTO-031): nothing stored; ALREADY_EXISTS / 409 on a unary
        call, an Ack CONFLICT on a stream."""
        vs = [
            violation(
                "ST-PROTO-031", "sequence",
                f"序号 {seq} 已存储了不同的内容（首次由 {prior[0]} 存储）：设备的序号计数器丢失或被复用",
                f"sequence {seq} is already stored with other content (first by {prior[0]}): the device's sequence "
                "counter was lost or reused",
            )
        ]  # fmt: skip
        err = PlatformError(
            "ALREADY_EXISTS", "序号冲突，未存储任何记录", "sequence conflict; nothing was stored", vs
        )
        if not stream:
            raise err  # logged by the caller, verdict CONFLICT
        self.p._log_error(dev.device_id, method, peer, seq, err, t0)
        return self.p._ack(seq, ACK_CONFLICT, 0, vs)

    async def duplicate(
        self, dev: Device, method: str, seq: int, prior: Prior, peer: str, t0: float
    ) -> device_access_pb2.Ack | None:
        self.p.log_event(
            dev.device_id, method, "DUPLICATE", "OK", f"replay of sequence {seq} (first stored by {prior[0]}"
            + ("" if prior[3] == dev.state.sequence_epoch else f" in sequence epoch {prior[3]}, ST-PROTO-037") + ")",
            peer=peer, sequence=seq, n_records=prior[1], duration_ms=(time.perf_counter() - t0) * 1000,
        )  # fmt: skip
        if self.p.faults.withhold_count and self.p.faults.take_withhold(method, dev.device_id, peer, seq):
            return None
        if self.p.faults.ack_delay_ms:
            await self.p.faults.ack_delay()
        return self.p._ack(seq, pb.ACK_STATUS_DUPLICATE, prior[1], ())
