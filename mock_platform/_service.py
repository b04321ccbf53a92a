"""The transport-agnostic platform: authentication, sessions, validation, storage, acknowledgements, commands.

Transports (gRPC in ``_grpc.py``, HTTP/JSON in ``_http.py``) turn a request into
``await platform.call(method, message, device_id=..., token=..., peer=...)`` and a
:class:`PlatformError` into their status (gRPC status with a BadRequest detail, ST-IFACE-003; HTTP status per
ST-IFACE-015). Observation streams call :meth:`Platform.stream_ack` per batch: a rejected batch gives an Ack
REJECTED and the stream goes on.

Example::

    async with Platform(PlatformConfig(devices={"KJ70N-0001": "secret"})) as p:
        resp = await p.call("Register", register_request, device_id="KJ70N-0001", token="secret")
"""

from __future__ import annotations

import asyncio
import contextlib
import hmac
import logging
import time
from collections.abc import Awaitable, Callable, Iterable
from typing import Any

from google.protobuf.message import DecodeError, Message
from google.protobuf.timestamp_pb2 import Timestamp
from santong.mock_platform._commands import Commands
from santong.mock_platform._config import PlatformConfig
from santong.mock_platform._credentials import Credentials, enrolment_token, load_secret
from santong.mock_platform._devices import Device
from santong.mock_platform._errors import PlatformError, violation
from santong.mock_platform._faults import FaultInjector
from santong.mock_platform._ingest import (
    log_job,
    log_row,
    seq_from_db,
)
from santong.mock_platform._methods import (
    AUTH_HEADER,
    CAPABILITIES,
    DEFINE_METHODS,
    DEVICE_HEADER,
    DEVICE_METHODS,
    INSPECTION_HEADER,
    METHODS,
    UPLOAD_METHODS,
    sequence_of,
)
from santong.mock_platform._registration import Registration, pb_violations
from santong.mock_platform._store import Store
from santong.mock_platform._uploads import Uploads
from santong.protocols import (
    BatchWire,
    DeviceState,
    ValidationContext,
    Violation,
    batch_skeleton,
    batch_wire,
    set_timestamp_ms,
    unknown_field_violations,
)
from santong.protocols.v1 import data_pb2, device_access_pb2

__all__ = [
    "AUTH_HEADER",
    "CAPABILITIES",
    "DEVICE_HEADER",
    "DEVICE_METHODS",
    "INSPECTION_HEADER",
    "METHODS",
    "UPLOAD_METHODS",
    "Device",
    "Platform",
    "PlatformConfig",
    "PlatformError",
]

log = logging.getLogger("santong.mock_platform")

pb = device_access_pb2
_UPSERT_TOKEN = (
    "INSERT INTO devices (device_id, token_hmac) VALUES (?, ?) "
    "ON CONFLICT(device_id) DO UPDATE SET token_hmac = excluded.token_hmac, token_sha256 = NULL"
)


async def _ready(value: Any) -> Any:
    """An awaitable that is already done (the second phase of a rejected or refused upload)."""
    return value


async def _wrap_ack(
    pending: Awaitable[device_access_pb2.Ack | None],
) -> device_access_pb2.StreamObservationsResponse | None:
    ack = await pending
    return None if ack is None else pb.StreamObservationsResponse(ack=ack)


class Platform:
    """The mock platform's behaviour, independent of the transport.

    Attributes: ``config``, ``limits``, ``store``, ``faults`` (:class:`FaultInjector`), ``inspection``
    (:class:`~santong.mock_platform._inspection.Inspection`), ``devices`` (device_id → :class:`Device`).
    """

    def __init__(self, config: PlatformConfig | None = None) -> None:
        from santong.mock_platform._inspection import Inspection

        self.config = config or PlatformConfig()
        self.limits = device_access_pb2.Limits()
        self.limits.CopyFrom(self.config.limits)
        self.store = Store(self.config.db_path, self.config.synchronous)
        self.faults = FaultInjector(self)
        self.inspection = Inspection(self)
        self.uploads = Uploads(self)
        self.commands = Commands(self)
        self.devices: dict[str, Device] = {}
        self.credentials = Credentials()
        self._tokens: dict[str, str] = {}  # given before the store's secret is known: hashed again at start
        self._monitor: asyncio.Task[None] | None = None
        self._started = False
        self.registration = Registration(self)
        for device_id, token in self.config.devices.items():
            self._set_credentials(device_id, token)

    # ------------------------------------------------------------------ lifecycle

    async def start(self) -> None:
        """Open the store, rebuild device states from it, start the offline monitor."""
        if self._started:
            return
        await self.store.open()
        self.credentials.secret = await self.store.read(load_secret)
        for device_id, token in self._tokens.items():
            self._set_credentials(device_id, token)
        self._tokens.clear()
        await self._rebuild()
        for device_id, token in self.config.devices.items():
            self.add_device(device_id, token)
        self._persist_credentials()
        self._monitor = asyncio.get_running_loop().create_task(
            self._monitor_loop(), name="santong-mock-monitor"
        )
        self._started = True
        self.log_event("", "platform:start", "EVENT", "OK", f"db={self.config.db_path or ':memory:'}")

    async def close(self) -> None:
        """Stop background work, let queued writes commit, close the store."""
        if not self._started:
            return
        self._started = False
        self.faults.clear()
        if self._monitor is not None:
            self._monitor.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._monitor
        self.log_event("", "platform:stop", "EVENT", "OK", "")
        await self.store.close()

    async def __aenter__(self) -> Platform:
        await self.start()
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.close()

    def now_ms(self) -> int:
        """The platform clock in ms since the epoch (including configured and injected offsets)."""
        return int(time.time() * 1000) + self.config.clock_offset_ms + self.faults.clock_offset_ms

    def server_time(self) -> Any:
        """The platform clock as a google.protobuf.Timestamp."""
        ts = Timestamp()
        set_timestamp_ms(ts, self.now_ms())
        return ts

    # ------------------------------------------------------------------ devices and credentials

    def _set_credentials(self, device_id: str, token: str) -> Device:
        dev = self.devices.get(device_id)
        if dev is None:
            dev = self.devices[device_id] = Device(
                device_id=device_id, state=DeviceState(device_id=device_id)
            )
        dev.token_hash, dev.legacy_sha256 = self.credentials.digest(token), None
        if self.store._thread is None:
            self._tokens[device_id] = token
        return dev

    def add_device(self, device_id: str, token: str) -> dict[str, Any]:
        """Give a device credentials (or new ones); stored so that a file database keeps them."""
        if not device_id or not isinstance(device_id, str) or not isinstance(token, str) or not token:
            raise PlatformError(
                "INVALID_ARGUMENT", "设备标识与令牌不可为空", "device_id and token must be non-empty strings"
            )
        dev = self._set_credentials(device_id, token)
        if self.store._thread is not None:
            digest = dev.token_hash

            def job(conn: Any) -> None:
                conn.execute(_UPSERT_TOKEN, (device_id, digest))

            self.store.write_nowait(job)
        return {"device_id": device_id}

    def _persist_credentials(self) -> None:
        """Store the credentials given before the store was open (add_device before start)."""
        rows = [(d.device_id, d.token_hash) for d in self.devices.values() if d.token_hash is not None]

        def job(conn: Any) -> None:
            conn.executemany(_UPSERT_TOKEN, rows)

        self.store.write_nowait(job)

    async def _rebuild(self) -> None:
        """Rebuild every device's state (credentials, session, definitions, alarms, last sequence) from the store."""

        def load(conn: Any) -> dict[str, Any]:
            return {
                "devices": conn.execute(
                    "SELECT device_id, token_hmac, registered, register_request, session_id, negotiated_version,"
                    " registered_ms, last_heartbeat_ms, token_sha256, sequence_epoch FROM devices"
                ).fetchall(),
                "points": conn.execute(
                    "SELECT device_id, definition FROM points ORDER BY device_id, alias"
                ).fetchall(),
                "outstations": conn.execute("SELECT device_id, outstation_code FROM outstations").fetchall(),
                "areas": conn.execute("SELECT device_id, area_code FROM areas").fetchall(),
                "stations": conn.execute("SELECT device_id, station_code FROM stations").fetchall(),
                # Per sequence epoch (ST-PROTO-037); wrapped sequences (≥ 2^63, stored negative: databases from
                # before ST-PROTO-032) are above every plain one.
                "seqs": conn.execute(
                    "SELECT device_id, epoch, coalesce(max(CASE WHEN sequence < 0 THEN sequence END), max(sequence))"
                    " FROM uploads GROUP BY device_id, epoch"
                ).fetchall(),
                "alarms": conn.execute(
                    "SELECT device_id, alarm_id, state FROM alarms WHERE id IN (SELECT max(id) FROM alarms GROUP BY device_id, alarm_id)"
                ).fetchall(),
                "commands": conn.execute(
                    "SELECT device_id, command FROM commands WHERE sent_ms IS NULL ORDER BY issued_ms"
                ).fetchall(),
            }

        data = await self.store.read(load)
        rows = data["devices"]
        for device_id, digest, registered, reg, session_id, version, reg_ms, hb_ms, legacy, epoch in rows:
            dev = self.devices.get(device_id) or Device(
                device_id=device_id, state=DeviceState(device_id=device_id)
            )
            self.devices[device_id] = dev
            if dev.token_hash is None:
                if digest is not None:
                    dev.token_hash = bytes(digest)
                elif legacy is not None:
                    dev.legacy_sha256 = bytes(legacy)
            dev.registered = bool(registered)
            dev.session_id, dev.negotiated_version = session_id, version
            dev.registered_ms, dev.last_heartbeat_ms = reg_ms, hb_ms
            if reg:
                dev.register_request = bytes(reg)
                dev.state.apply(pb.RegisterRequest.FromString(dev.register_request))
            dev.state.sequence_epoch = seq_from_db(int(epoch or 0)) or 0
        by_device: dict[str, list[data_pb2.PointDefinition]] = {}
        for device_id, blob in data["points"]:
            by_device.setdefault(device_id, []).append(data_pb2.PointDefinition.FromString(blob))
        for device_id, points in by_device.items():
            self._device(device_id).state.define_points(points)
        for device_id, code in data["outstations"]:
            self._device(device_id).state.outstations.add(code)
        for device_id, code in data["areas"]:
            self._device(device_id).state.areas.add(code)
        for device_id, code in data["stations"]:
            self._device(device_id).state.stations.add(code)
        for device_id, epoch, seq in data["seqs"]:
            dev, top = self._device(device_id), seq_from_db(int(seq)) or 0
            if (seq_from_db(int(epoch)) or 0) == dev.state.sequence_epoch:
                dev.state.last_sequence = top
            else:  # an earlier epoch: its replays are looked up (ST-PROTO-037)
                dev.prior_top = max(dev.prior_top, top)
        for device_id, alarm_id, state in data["alarms"]:
            if state == 1:
                self._device(device_id).state.raised_alarms.add(alarm_id)
        for device_id, blob in data["commands"]:
            self._device(device_id).commands.put_nowait(pb.Command.FromString(blob))

    def _device(self, device_id: str) -> Device:
        dev = self.devices.get(device_id)
        if dev is None:
            dev = self.devices[device_id] = Device(
                device_id=device_id, state=DeviceState(device_id=device_id)
            )
        return dev

    def authenticate(
        self, device_id: str | None, token: str | None, peer_identities: Iterable[str] | None = None
    ) -> Device:
        """The device whose credentials these are; UNAUTHENTICATED otherwise (ST-PROTO-001/002).

        ``token`` may be the bare token or the whole ``Bearer <token>`` header value. ``peer_identities`` are
        the client-certificate names under mutual TLS; the device id must be one of them (ST-PROTO-003).
        """
        if not device_id or not token:
            missing = [n for n, v in ((DEVICE_HEADER, device_id), (AUTH_HEADER, token)) if not v]
            raise PlatformError(
                "UNAUTHENTICATED", "缺少认证元数据", "authentication metadata missing",
                [violation("ST-PROTO-001", f"metadata.{m}", f"缺少 {m}", f"{m} is missing") for m in missing],
            )  # fmt: skip
        raw = token.strip()
        if raw[:7].lower() == "bearer ":
            raw = raw[7:].strip()
        elif " " in raw:  # another scheme (Basic …) is no bearer token
            raw = ""
        dev = self.devices.get(device_id)
        if dev is None and self._enrolled(device_id, raw):
            self.add_device(device_id, raw)
            dev = self.devices.get(device_id)
        legacy = dev is not None and dev.token_hash is None and dev.legacy_sha256 is not None
        expected = (dev.legacy_sha256 if legacy else dev.token_hash) if dev is not None else None
        # Always compare, even for unknown ids, so that timing reveals nothing (ST-PROTO-002).
        ok = self.credentials.matches(raw, expected, legacy=legacy)
        if ok and legacy and dev is not None:  # a database from before the HMAC: upgrade this device's hash
            self.add_device(device_id, raw)
        if ok and peer_identities is not None and self.config.require_client_cert_cn:
            ok = device_id in set(peer_identities)
        if not ok or dev is None:
            raise PlatformError(
                "UNAUTHENTICATED", "凭据无效", "invalid credentials",
                [violation("ST-PROTO-002", f"metadata.{AUTH_HEADER}", "令牌错误、伪造或不属于该设备", "the token is wrong, forged or issued to another device")],
            )  # fmt: skip
        return dev

    def _enrolled(self, device_id: str, token: str) -> bool:
        """Whether an unknown device belongs to a group enrolment (ID prefix, token derived from the group key)."""
        return any(
            device_id.startswith(prefix) and len(device_id) > len(prefix)
            and hmac.compare_digest(token.encode("utf-8", "surrogatepass"), enrolment_token(key, device_id).encode())
            for prefix, key in self.config.enrolments.items()
        )  # fmt: skip

    def gate(
        self,
        method: str,
        device_id: str | None,
        token: str | None,
        peer: str = "",
        peer_identities: Iterable[str] | None = None,
        memo: dict[str, Any] | None = None,
    ) -> Device | None:
        """The pre-read gate (ST-PROTO-033): authenticate a device call on its headers / metadata alone, before
        the transport reads or decodes its body. Raises (and logs) UNAUTHENTICATED; a call that passes goes on
        to the full pre-flight (faults, registration), given the device returned here, so that its credentials are
        checked once. During an injected outage the outage answers first, as it does for every call: None then,
        and for calls that are not a device's. ``memo``: a dict the transport keeps for one connection (its peer
        identities fixed): the credentials it authenticated last are taken again without hashing the token, while
        the device and its credentials are the ones they were."""
        if method not in DEVICE_METHODS or (self.faults.outage_until and self.faults.outage_active()):
            return None
        given = b""
        if memo is not None:
            given = (token or "").encode("utf-8", "surrogatepass")
            last: tuple[str, bytes, Device, bytes] | None = memo.get("credentials")
            if last is not None:
                known_id, known_token, known, known_hash = last
                if (
                    known_id == device_id
                    and hmac.compare_digest(known_token, given)
                    and known.token_hash is known_hash
                    and self.devices.get(known_id) is known
                ):
                    return known
        try:
            dev = self.authenticate(device_id, token, peer_identities)
        except PlatformError as e:
            self._log_error(device_id or "", method, peer, None, e, time.perf_counter())
            raise
        if memo is not None and dev.token_hash is not None:
            memo["credentials"] = (device_id, given, dev, dev.token_hash)
        return dev

    # ------------------------------------------------------------------ interaction log

    def log_event(
        self,
        device_id: str,
        method: str,
        verdict: str,
        code: str,
        note: str,
        *,
        peer: str = "",
        sequence: int | None = None,
        violations: Iterable[Violation] = (),
        n_records: int = 0,
        duration_ms: float = 0.0,
        extra: Callable[[Any], None] | None = None,
    ) -> None:
        """Append one row to the interaction log (asynchronously, in order with every other write)."""
        row = log_row(
            self.now_ms(),
            device_id,
            method,
            peer,
            sequence,
            verdict,
            code,
            list(violations),
            n_records,
            duration_ms,
            note,
        )
        self.store.write_nowait(log_job(row, extra))

    def _log_error(
        self, device_id: str, method: str, peer: str, seq: int | None, e: PlatformError, t0: float
    ) -> None:
        if e.code == "ALREADY_EXISTS":
            verdict = "CONFLICT"  # ST-PROTO-031
        elif e.code in ("INVALID_ARGUMENT", "RESOURCE_EXHAUSTED") and e.violations:
            verdict = "REJECTED"
        else:
            verdict = "ERROR"
        self.log_event(
            device_id, method, verdict, e.code, e.message_en, peer=peer, sequence=seq, violations=e.violations,
            duration_ms=(time.perf_counter() - t0) * 1000,
        )  # fmt: skip

    # ------------------------------------------------------------------ calls

    def decode(self, method: str, data: bytes, *, wire: BatchWire | None = None) -> Message:
        """Parse the protobuf request of a method; malformed bytes → INVALID_ARGUMENT naming ST-DATA-035. ``wire``:
        the :func:`~santong.protocols.batch_wire` of ``data``, which proves it holds no unknown field."""
        spec = METHODS.get(method)
        if spec is None:
            raise PlatformError("UNIMPLEMENTED", f"未知方法 {method}", f"unknown method {method}")
        msg = spec[0]()
        try:
            msg.ParseFromString(data)
        except (DecodeError, ValueError, RuntimeError) as e:
            raise PlatformError(
                "INVALID_ARGUMENT", "protobuf 解码失败", "protobuf decoding failed",
                [violation("ST-DATA-035", "$", f"protobuf 解码失败：{e}", f"protobuf decoding failed: {e}")],
            ) from e  # fmt: skip
        unknown = (
            None if wire is not None else unknown_field_violations(msg, data)
        )  # ST-DATA-034, both transports
        if unknown:
            raise PlatformError("INVALID_ARGUMENT", "含未知字段", "unknown fields", unknown)
        return msg

    async def call_bytes(
        self,
        method: str,
        data: bytes,
        *,
        device_id: str | None,
        token: str | None,
        peer: str = "",
        peer_identities: Iterable[str] | None = None,
    ) -> Message:
        """Like :meth:`call` on the protobuf encoding of the request: credentials (the metadata) are checked before
        parsing (ST-PROTO-033), then the size."""
        t0 = time.perf_counter()
        gated = self.gate(method, device_id, token, peer, peer_identities)
        try:
            self._check_size(len(data))
            msg = self.decode(method, data)
        except PlatformError as e:
            # Faults and credentials come first, as for a parsed request.
            await self._preflight(method, device_id, token, peer, peer_identities)
            self._log_error(device_id or "", method, peer, None, e, t0)
            raise
        return await self.call(
            method,
            msg,
            device_id=device_id,
            token=token,
            peer=peer,
            size=len(data),
            peer_identities=peer_identities,
            raw=data,
            device=gated,
        )

    async def _preflight(
        self,
        method: str,
        device_id: str | None,
        token: str | None,
        peer: str,
        peer_identities: Iterable[str] | None,
        sequence: int | None = None,
        *,
        opening: bool = False,
        device: Device | None = None,
    ) -> Device | None:
        """Faults, then credentials, then registration; returns the device (None for GetPlatformInfo). ``device``:
        the one :meth:`gate` returned for these credentials (they are not checked again)."""
        try:
            await self.faults.before_call(method, device_id or "", peer, sequence, opening=opening)
            if method not in DEVICE_METHODS:
                return None
            dev = device if device is not None else self.authenticate(device_id, token, peer_identities)
            if method != "Register" and not dev.registered:
                raise PlatformError(
                    "FAILED_PRECONDITION", "设备尚未注册", "the device has not registered",
                    [violation("ST-IFACE-001", "$", "须先成功调用 Register", "call Register successfully first")],
                )  # fmt: skip
            self._alive(dev)
            return dev
        except PlatformError as e:
            if e.code != "UNAVAILABLE" or not self.faults.outage_active():
                self._log_error(device_id or "", method, peer, None, e, time.perf_counter())
            raise

    def _check_size(self, size: int | None) -> None:
        limit = self.limits.max_message_bytes
        if size is not None and limit and size > limit:
            raise PlatformError(
                "RESOURCE_EXHAUSTED", "消息过大", "message too large",
                [violation("ST-PROTO-009", "$", f"消息 {size} 字节，超过上限 {limit}", f"message of {size} bytes exceeds the limit of {limit}")],
                http_status=413,
            )  # fmt: skip

    async def call(
        self,
        method: str,
        request: Message,
        *,
        device_id: str | None,
        token: str | None,
        peer: str = "",
        size: int | None = None,
        peer_identities: Iterable[str] | None = None,
        raw: bytes | None = None,
        device: Device | None = None,
    ) -> Message:
        """Handle one unary call; return its response message or raise :class:`PlatformError`. ``raw``:
        the protobuf encoding ``request`` was parsed from, or (HTTP/JSON) serialized to (an observation batch is
        stored as encoded, and the core reads column facts from it); ``device``: what :meth:`gate` returned for
        these credentials."""
        spec = METHODS.get(method)
        if spec is None or method in ("StreamObservations", "Commands"):
            raise PlatformError("UNIMPLEMENTED", f"{method} 不是一元方法", f"{method} is not a unary method")
        if not isinstance(request, spec[0]):
            raise PlatformError(
                "INVALID_ARGUMENT", "请求类型错误", f"{method} expects {spec[0].DESCRIPTOR.name}"
            )
        t0 = time.perf_counter()
        seq = sequence_of(request) if method in UPLOAD_METHODS else None
        dev = await self._preflight(method, device_id, token, peer, peer_identities, seq, device=device)
        if dev is None:
            self.log_event(
                device_id or "",
                method,
                "ACCEPTED",
                "OK",
                "",
                peer=peer,
                duration_ms=(time.perf_counter() - t0) * 1000,
            )
            return self.registration.platform_info()
        try:
            self._check_size(size if size is not None else request.ByteSize())
            if method == "Register":
                return await self.registration.register(dev, request, peer, t0)
            if method == "Heartbeat":
                return self.registration.heartbeat(dev, request, peer, t0)
            if method in DEFINE_METHODS:
                return await self.registration.define(dev, method, request, peer, t0)
            ack = await self.uploads.upload(dev, method, request, peer, t0, stream=False, raw=raw)
            if ack is None:  # withheld: hang like a platform that never answers
                await asyncio.sleep(self.config.withhold_hold_s)
                raise PlatformError(
                    "UNAVAILABLE", "确认被扣留（故障注入）", "acknowledgement withheld (fault injection)"
                )
            return spec[1](ack=ack)
        except PlatformError as e:
            self._log_error(dev.device_id, method, peer, seq, e, t0)
            raise

    async def open_stream(
        self,
        method: str,
        *,
        device_id: str | None,
        token: str | None,
        peer: str = "",
        peer_identities: Iterable[str] | None = None,
    ) -> Device:
        """Check faults, credentials and registration when a stream opens (StreamObservations, Commands)."""
        dev = await self._preflight(method, device_id, token, peer, peer_identities, opening=True)
        assert dev is not None
        return dev

    async def stream_ack(
        self,
        request: device_access_pb2.StreamObservationsRequest,
        *,
        device_id: str | None,
        token: str | None,
        peer: str = "",
        size: int | None = None,
        peer_identities: Iterable[str] | None = None,
        device: Device | None = None,
    ) -> device_access_pb2.StreamObservationsResponse | None:
        """Handle one batch of a StreamObservations stream: the response (Ack ACCEPTED, DUPLICATE or REJECTED), or
        None when the acknowledgement is withheld. Faults and credential errors raise PlatformError (ending the
        stream); pass ``device`` (from :meth:`open_stream`) to skip re-authentication per batch."""
        pending = await self.stream_submit(
            request,
            device_id=device_id,
            token=token,
            peer=peer,
            size=size,
            peer_identities=peer_identities,
            device=device,
        )
        return await pending

    async def stream_submit(
        self,
        request: device_access_pb2.StreamObservationsRequest,
        *,
        device_id: str | None = None,
        token: str | None = None,
        peer: str = "",
        size: int | None = None,
        peer_identities: Iterable[str] | None = None,
        device: Device | None = None,
        raw: bytes | None = None,
        wire: BatchWire | None = None,
        skeleton: bool = False,
    ) -> Awaitable[device_access_pb2.StreamObservationsResponse | None]:
        """:meth:`stream_ack` in two steps for pipelining: returns once the batch is validated and queued for
        storage; awaiting the result gives the response after the commit. Await results in submission order.
        ``raw``: the encoding ``request`` was parsed from; ``wire``: its :func:`~santong.protocols.batch_wire`;
        ``skeleton``: ``request`` is the :func:`~santong.protocols.batch_skeleton` of ``wire``.

        Example::

            pending = [await platform.stream_submit(m, device=dev) for m in batches]
            responses = [await p for p in pending]
        """
        t0 = time.perf_counter()
        method = "StreamObservations"
        seq = sequence_of(request)
        if device is None:
            dev = await self._preflight(method, device_id, token, peer, peer_identities, seq)
            assert dev is not None
        else:
            dev = device
            slow_s = self.faults.check_call(method, dev.device_id, peer, seq)
            if slow_s:
                await asyncio.sleep(slow_s)
            self._alive(dev)
        try:
            self._check_size(size)
        except PlatformError as e:
            self._log_error(dev.device_id, method, peer, seq, e, t0)
            return _ready(
                pb.StreamObservationsResponse(ack=self._ack(seq, pb.ACK_STATUS_REJECTED, 0, e.violations))
            )
        return _wrap_ack(
            await self.uploads.admit(
                dev, method, request, peer, t0, stream=True, raw=raw, wire=wire, seq=seq, skeleton=skeleton
            )
        )

    async def stream_submit_bytes(
        self, data: bytes, *, device: Device, peer: str = ""
    ) -> Awaitable[device_access_pb2.StreamObservationsResponse | None]:
        """:meth:`stream_submit` on the protobuf encoding of one stream message (undecodable → Ack REJECTED)."""
        wire = batch_wire(data)
        # Only the batch's sequence, base_time and backfill parsed, when the walk took the bytes: the columns stay in
        # them (the upload path parses the whole request should the device's memos not cover them).
        msg = batch_skeleton(wire, pb.StreamObservationsRequest) if wire is not None else None
        skeleton = msg is not None
        try:
            if msg is None:
                msg = self.decode("StreamObservations", data, wire=wire)
        except PlatformError as e:
            await self.faults.before_call("StreamObservations", device.device_id, peer)
            self._log_error(device.device_id, "StreamObservations", peer, None, e, time.perf_counter())
            return _ready(
                pb.StreamObservationsResponse(ack=self._ack(0, pb.ACK_STATUS_REJECTED, 0, e.violations))
            )
        return await self.stream_submit(
            msg,  # type: ignore[arg-type]
            peer=peer, size=len(data), device=device, raw=data, wire=wire, skeleton=skeleton,
        )  # fmt: skip

    async def stream_ack_bytes(
        self, data: bytes, *, device: Device, peer: str = ""
    ) -> device_access_pb2.StreamObservationsResponse | None:
        """:meth:`stream_ack` on the protobuf encoding of one stream message (undecodable → Ack REJECTED)."""
        return await (await self.stream_submit_bytes(data, device=device, peer=peer))

    # ------------------------------------------------------------------ operations

    def context(self, dev: Device, now_ms: int | None = None) -> ValidationContext:
        """What the core validates a device's message against: its state, the limits, the platform clock and the
        spec version negotiated at its Register (fields added after it are unknown, ST-DATA-034)."""
        return ValidationContext(
            state=dev.state,
            limits=self.limits,
            now_ms=self.now_ms() if now_ms is None else now_ms,
            version=dev.negotiated_version or None,
        )

    def _alive(self, dev: Device) -> None:
        dev.alive_ms = int(time.time() * 1000)
        if dev.registered and not dev.online:
            dev.online = True
            self.log_event(dev.device_id, "session:online", "EVENT", "OK", "ST-PROTO-006")

    def _ack(self, seq: int, status: int, accepted: int, vs: Iterable[Violation]) -> device_access_pb2.Ack:
        ack = pb.Ack()  # filled in place: keyword arguments and a Timestamp of its own cost twice as much
        ack.sequence, ack.status, ack.accepted = seq, status, accepted
        set_timestamp_ms(ack.server_time, self.now_ms())
        if vs:
            ack.violations.extend(pb_violations(vs))
        return ack

    async def _commit(self, dev: Device, job: Callable[[Any], Any], on_done: Callable[[Any], None]) -> Any:
        """Run a write job; the in-memory state follows via on_done even if the caller is cancelled meanwhile."""
        fut = self.store.submit(job, on_done=on_done)
        assert fut is not None
        try:
            return await asyncio.shield(fut)
        except asyncio.CancelledError:
            # Keep the device lock until the commit landed, so that no call validates against stale state.
            with contextlib.suppress(BaseException):
                await fut
            raise
        except Exception as e:
            log.exception("store write failed")
            raise PlatformError(
                "UNAVAILABLE", "存储暂不可用", "storage unavailable; retry", retry_after_s=1.0
            ) from e

    # ------------------------------------------------------------------ commands (see _commands.Commands)

    def send_command(
        self, device_id: str, type: str | int, *, note: str = "", **payload: Any
    ) -> dict[str, Any]:  # noqa: A002
        """Queue a downlink command for a device (:meth:`Commands.send_command`)."""
        return self.commands.send_command(device_id, type, note=note, **payload)

    def time_sync(self, device_id: str) -> dict[str, Any]:
        """Queue a TIME_SYNC command."""
        return self.commands.time_sync(device_id)

    async def next_command(self, dev: Device, peer: str = "") -> device_access_pb2.CommandsResponse:
        """The next command for a device, waiting for one."""
        return await self.commands.next_command(dev, peer)

    def requeue_command(self, dev: Device, cmd: device_access_pb2.Command) -> None:
        """Put back a command that was taken but not delivered."""
        self.commands.requeue_command(dev, cmd)

    async def command_result(
        self, dev: Device, request: device_access_pb2.CommandsRequest, peer: str = "", size: int | None = None
    ) -> None:
        """Record a device's command result (:meth:`Commands.command_result`, ST-PROTO-034)."""
        await self.commands.command_result(dev, request, peer, size)

    # ------------------------------------------------------------------ liveness (ST-PROTO-006)

    def offline_window_ms(self) -> int:
        """No call for this long marks a device offline: offline_after_missed × heartbeat_interval_ms."""
        return int(self.limits.heartbeat_interval_ms) * max(1, int(self.limits.offline_after_missed))

    def is_online(self, dev: Device, now_wall_ms: int | None = None) -> bool:
        """Whether a registered device called within the offline window."""
        if not dev.registered or dev.alive_ms is None:
            return False
        now = now_wall_ms if now_wall_ms is not None else int(time.time() * 1000)
        return now - dev.alive_ms <= self.offline_window_ms()

    async def _monitor_loop(self) -> None:
        while True:
            window = self.offline_window_ms()
            await asyncio.sleep(max(0.01, min(1.0, window / 8000)))
            now = int(time.time() * 1000)
            for dev in list(self.devices.values()):
                if dev.online and not self.is_online(dev, now):
                    dev.online = False
                    self.log_event(
                        dev.device_id,
                        "session:offline",
                        "EVENT",
                        "OK",
                        f"no call for {now - (dev.alive_ms or now)} ms > {window} ms (ST-PROTO-006)",
                    )
