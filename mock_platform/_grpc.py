"""The gRPC transport: every v1 method over grpc.aio, plus health checking, reflection and the admin channel.

Requests arrive as raw bytes and are parsed by the platform, so malformed protobuf is an INVALID_ARGUMENT naming
ST-DATA-035 rather than gRPC's own INTERNAL. A :class:`PlatformError` becomes a google.rpc.Status whose details
hold a google.rpc.BadRequest (clause ID in ``reason``, ST-IFACE-003) and, with retry advice, a
google.rpc.RetryInfo (ST-PROTO-010).

The admin channel ``/santong.mock.v1.Admin/Inspect`` and ``/Fault`` takes and returns JSON
(``{"op": "...", "args": {...}}``) with metadata ``x-santong-inspection-token``: it gives the inspection and fault
APIs to tests of a platform running as a process or a container (the HTTP app offers the same under
``/inspect`` and ``/faults``).
"""

from __future__ import annotations

import asyncio
import contextlib
import hmac
import json
import logging
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass
from typing import Any

import grpc
from google.protobuf import any_pb2, duration_pb2
from google.rpc import error_details_pb2, status_pb2
from grpc_status import rpc_status
from santong.mock_platform._errors import PlatformError
from santong.mock_platform._service import (
    AUTH_HEADER,
    DEVICE_HEADER,
    INSPECTION_HEADER,
    METHODS,
    Device,
    Platform,
)
from santong.protocols.v1 import device_access_pb2, platform_pb2

__all__ = ["ADMIN_SERVICE", "GrpcServer", "TlsFiles", "to_status"]

log = logging.getLogger("santong.mock_platform.grpc")

DEVICE_SERVICE = device_access_pb2.DESCRIPTOR.services_by_name["DeviceAccessService"].full_name
PLATFORM_SERVICE = platform_pb2.DESCRIPTOR.services_by_name["PlatformService"].full_name
ADMIN_SERVICE = "santong.mock.v1.Admin"
HEALTH_SERVICE = "grpc.health.v1.Health"
STREAM_PIPELINE = 64  # batches of one stream validated and queued while earlier ones commit
_END = object()


@dataclass(frozen=True)
class TlsFiles:
    """PEM contents for TLS: server certificate chain and key; with client_ca, clients must present a certificate
    signed by it (mutual TLS) whose CN (or a SAN) is the device id."""

    cert_chain: bytes
    private_key: bytes
    client_ca: bytes | None = None

    def credentials(self) -> grpc.ServerCredentials:
        """grpc server credentials for these files."""
        return grpc.ssl_server_credentials(
            [(self.private_key, self.cert_chain)],
            root_certificates=self.client_ca,
            require_client_auth=self.client_ca is not None,
        )


def to_status(e: PlatformError) -> grpc.Status:
    """The grpc.Status of a PlatformError: code, bilingual message, BadRequest and RetryInfo details."""
    details = []
    if e.violations:
        bad = error_details_pb2.BadRequest(
            field_violations=[
                error_details_pb2.BadRequest.FieldViolation(
                    field=v.path, description=f"{v.message_zh} / {v.message_en}", reason=v.clause_id
                )
                for v in e.violations
            ]
        )
        a = any_pb2.Any()
        a.Pack(bad)
        details.append(a)
    if e.retry_after_s is not None:
        seconds = max(0.0, e.retry_after_s)
        info = error_details_pb2.RetryInfo(
            retry_delay=duration_pb2.Duration(seconds=int(seconds), nanos=int((seconds % 1) * 1e9))
        )
        a = any_pb2.Any()
        a.Pack(info)
        details.append(a)
    return rpc_status.to_status(status_pb2.Status(code=e.grpc_code, message=e.message, details=details))


def _metadata(context: grpc.aio.ServicerContext) -> dict[str, str]:
    out: dict[str, str] = {}
    for key, value in context.invocation_metadata() or ():
        if isinstance(value, str):
            out[key.lower()] = value
    return out


def _serialize(msg: Any) -> bytes:
    return msg.SerializeToString()  # type: ignore[no-any-return]


class GrpcServer:
    """A grpc.aio server for a :class:`Platform`; restarts itself on the same port after injected outages.

    Example::

        server = GrpcServer(platform, host="127.0.0.1", port=0)
        port = await server.start()
        ...
        await server.stop()
    """

    def __init__(
        self, platform: Platform, host: str = "127.0.0.1", port: int = 0, tls: TlsFiles | None = None
    ) -> None:
        self.platform = platform
        self.host = host
        self.port = port
        self.tls = tls
        self._server: grpc.aio.Server | None = None
        self._outage_gen = 0
        self._restart: asyncio.Task[None] | None = None
        self._stopped = False
        self._streams: set[asyncio.Event] = set()
        platform.faults.add_outage_listener(self._on_outage)

    @property
    def target(self) -> str:
        """host:port to dial (127.0.0.1 when bound to every interface)."""
        host = "127.0.0.1" if self.host in ("0.0.0.0", "", "::") else self.host
        return f"{host}:{self.port}"

    # ------------------------------------------------------------------ lifecycle

    def _build(self) -> grpc.aio.Server:
        limits = self.platform.limits
        # gRPC's own cap is twice the spec limit, so that a moderately oversized message gets our ST-PROTO-009
        # answer; beyond that gRPC answers RESOURCE_EXHAUSTED itself.
        cap = max(2 * int(limits.max_message_bytes or 4 * 1024 * 1024), 1024 * 1024)
        server = grpc.aio.server(
            options=[
                ("grpc.max_receive_message_length", cap),
                ("grpc.max_send_message_length", 64 * 1024 * 1024),
                ("grpc.so_reuseport", 0),
                ("grpc.keepalive_permit_without_calls", 1),
                ("grpc.http2.min_ping_interval_without_data_ms", 1000),
            ]
        )
        server.add_generic_rpc_handlers(self._handlers())
        from grpc_health.v1 import health_pb2, health_pb2_grpc
        from grpc_health.v1.health import aio as health_aio
        from grpc_reflection.v1alpha import reflection

        health = health_aio.HealthServicer()
        health_pb2_grpc.add_HealthServicer_to_server(health, server)
        for name in ("", DEVICE_SERVICE, PLATFORM_SERVICE):
            asyncio.get_running_loop().create_task(health.set(name, health_pb2.HealthCheckResponse.SERVING))
        reflection.enable_server_reflection(
            (DEVICE_SERVICE, PLATFORM_SERVICE, HEALTH_SERVICE, reflection.SERVICE_NAME), server
        )
        address = f"{self.host}:{self.port}"
        bound = (
            server.add_secure_port(address, self.tls.credentials())
            if self.tls
            else server.add_insecure_port(address)
        )
        if not bound:
            raise OSError(f"cannot bind gRPC to {address}")
        self.port = bound
        return server

    async def start(self) -> int:
        """Bind (port 0: the OS picks) and start; return the port."""
        self._stopped = False
        self._server = self._build()
        await self._server.start()
        return self.port

    async def stop(self, grace: float | None = 1.0) -> None:
        """Stop serving; in-flight calls get `grace` seconds to finish."""
        self._stopped = True
        self.platform.faults.remove_outage_listener(self._on_outage)
        if self._restart is not None:
            self._restart.cancel()
        if self._server is not None:
            await self._server.stop(grace)
            self._server = None

    def _on_outage(self, seconds: float, mode: str) -> None:
        self._outage_gen += 1
        for ev in list(self._streams):
            ev.set()
        if self._restart is not None:
            self._restart.cancel()
        self._restart = asyncio.get_running_loop().create_task(self._outage(self._outage_gen, seconds, mode))

    async def _outage(self, gen: int, seconds: float, mode: str) -> None:
        """refuse: close the listener for the outage; reset: drop every connection, then answer UNAVAILABLE."""
        old, self._server = self._server, None
        if old is not None:
            await old.stop(0)
        if mode == "refuse":
            await asyncio.sleep(seconds)
        if gen != self._outage_gen or self._stopped:
            return
        for attempt in range(50):
            try:
                self._server = self._build()
                await self._server.start()
                return
            except (OSError, RuntimeError) as e:  # the port may linger for a moment
                log.warning("restart after outage failed (%s), attempt %d", e, attempt)
                self._server = None
                await asyncio.sleep(0.05)

    async def wait_for_termination(self) -> None:
        """Block until the server stops."""
        while not self._stopped:
            server = self._server
            if server is None:
                await asyncio.sleep(0.05)
            else:
                await server.wait_for_termination(timeout=0.5)

    # ------------------------------------------------------------------ handlers

    def _handlers(self) -> list[grpc.GenericRpcHandler]:
        device: dict[str, grpc.RpcMethodHandler] = {}
        for name in METHODS:
            if name == "GetPlatformInfo":
                continue
            if name == "StreamObservations":
                device[name] = grpc.stream_stream_rpc_method_handler(
                    self._stream_observations, None, _serialize
                )
            elif name == "Commands":
                device[name] = grpc.stream_stream_rpc_method_handler(self._commands, None, _serialize)
            else:
                device[name] = grpc.unary_unary_rpc_method_handler(self._unary(name), None, _serialize)
        platform = {
            "GetPlatformInfo": grpc.unary_unary_rpc_method_handler(
                self._unary("GetPlatformInfo"), None, _serialize
            )
        }
        admin = {
            "Inspect": grpc.unary_unary_rpc_method_handler(self._admin("inspect"), None, None),
            "Fault": grpc.unary_unary_rpc_method_handler(self._admin("fault"), None, None),
        }
        return [
            grpc.method_handlers_generic_handler(DEVICE_SERVICE, device),
            grpc.method_handlers_generic_handler(PLATFORM_SERVICE, platform),
            grpc.method_handlers_generic_handler(ADMIN_SERVICE, admin),
        ]

    def _identities(self, context: grpc.aio.ServicerContext) -> list[str] | None:
        if self.tls is None or self.tls.client_ca is None:
            return None
        auth = context.auth_context() or {}
        names = list(auth.get("x509_common_name", ())) + list(auth.get("x509_subject_alternative_name", ()))
        return [n.decode("utf-8", "replace") if isinstance(n, bytes) else str(n) for n in names]

    def _unary(self, method: str) -> Callable[[bytes, grpc.aio.ServicerContext], Any]:
        platform = self.platform

        async def handler(data: bytes, context: grpc.aio.ServicerContext) -> Any:
            md = _metadata(context)
            try:
                return await platform.call_bytes(
                    method, data, device_id=md.get(DEVICE_HEADER), token=md.get(AUTH_HEADER), peer=context.peer(),
                    peer_identities=self._identities(context),
                )  # fmt: skip
            except PlatformError as e:
                await context.abort_with_status(to_status(e))

        handler.__name__ = method
        return handler

    async def _stream_observations(
        self, requests: AsyncIterator[bytes], context: grpc.aio.ServicerContext
    ) -> AsyncIterator[Any]:
        """Pipelined: a reader validates and queues batches for storage while earlier ones commit; the
        acknowledgements go out in order, each after its own commit."""
        platform = self.platform
        md = _metadata(context)
        peer = context.peer()
        try:
            dev = await platform.open_stream("StreamObservations", device_id=md.get(DEVICE_HEADER), token=md.get(AUTH_HEADER),
                                             peer=peer, peer_identities=self._identities(context))  # fmt: skip
        except PlatformError as e:
            await context.abort_with_status(to_status(e))
            return
        pending: asyncio.Queue[Any] = asyncio.Queue(maxsize=STREAM_PIPELINE)

        async def pump() -> None:
            try:
                async for data in requests:
                    await pending.put(await platform.stream_submit_bytes(data, device=dev, peer=peer))
                await pending.put(_END)
            except PlatformError as e:
                await pending.put(e)
            except asyncio.CancelledError:
                raise
            except Exception as e:  # the client went away mid-read
                log.debug("stream read ended: %r", e)
                await pending.put(_END)

        reader = asyncio.ensure_future(pump())
        try:
            while True:
                item = await pending.get()
                if item is _END:
                    break
                if isinstance(item, PlatformError):
                    await context.abort_with_status(to_status(item))
                try:
                    resp = await item
                except PlatformError as e:
                    await context.abort_with_status(to_status(e))
                if resp is not None:
                    yield resp
        finally:
            reader.cancel()
            while not pending.empty():  # batches submitted but never acknowledged: stored, ack not awaited
                item = pending.get_nowait()
                if hasattr(item, "close"):
                    item.close()

    async def _commands(
        self, requests: AsyncIterator[bytes], context: grpc.aio.ServicerContext
    ) -> AsyncIterator[Any]:
        platform = self.platform
        md = _metadata(context)
        peer = context.peer()
        try:
            dev = await platform.open_stream("Commands", device_id=md.get(DEVICE_HEADER), token=md.get(AUTH_HEADER),
                                             peer=peer, peer_identities=self._identities(context))  # fmt: skip
        except PlatformError as e:
            await context.abort_with_status(to_status(e))
            return
        outage = asyncio.Event()
        self._streams.add(outage)
        dev.command_streams += 1
        reader = asyncio.ensure_future(self._read_results(dev, requests, peer))
        stop = asyncio.ensure_future(outage.wait())
        getter: asyncio.Future[Any] | None = None
        try:
            while True:
                getter = asyncio.ensure_future(platform.next_command(dev, peer))
                done, _ = await asyncio.wait({getter, reader, stop}, return_when=asyncio.FIRST_COMPLETED)
                if getter in done:
                    yield getter.result()
                    continue
                await _cancel(getter, lambda r: platform.requeue_command(dev, r.command))
                if stop in done:
                    await context.abort_with_status(
                        to_status(
                            PlatformError(
                                "UNAVAILABLE", "平台中断（故障注入）", "platform outage (fault injection)"
                            )
                        )
                    )
                exc = reader.exception()
                if isinstance(exc, PlatformError):
                    await context.abort_with_status(to_status(exc))
                return  # the device closed its side
        finally:
            dev.command_streams -= 1
            self._streams.discard(outage)
            for t in (reader, stop):
                t.cancel()
            if getter is not None and not getter.done():
                getter.cancel()

    async def _read_results(self, dev: Device, requests: AsyncIterator[bytes], peer: str) -> None:
        platform = self.platform
        async for data in requests:
            try:
                msg = platform.decode("Commands", data)
            except PlatformError as e:
                platform.log_event(
                    dev.device_id,
                    "Commands",
                    "REJECTED",
                    e.code,
                    "undecodable command result",
                    peer=peer,
                    violations=e.violations,
                )
                continue
            with contextlib.suppress(PlatformError):  # logged; the stream goes on (no per-result answer)
                await platform.command_result(dev, msg, peer)  # type: ignore[arg-type]

    # ------------------------------------------------------------------ admin channel (JSON)

    def _admin(self, kind: str) -> Callable[[bytes, grpc.aio.ServicerContext], Any]:
        platform = self.platform

        async def handler(data: bytes, context: grpc.aio.ServicerContext) -> bytes:
            md = _metadata(context)
            token = md.get(INSPECTION_HEADER, "")
            if not hmac.compare_digest(
                token.encode("utf-8", "replace"), platform.config.inspection_token.encode()
            ):
                await context.abort(
                    grpc.StatusCode.UNAUTHENTICATED, "检查令牌无效 / invalid inspection token"
                )
            try:
                doc = json.loads(data.decode("utf-8") or "{}")
                op, args = str(doc["op"]), doc.get("args") or {}
                if not isinstance(args, dict):
                    raise TypeError("args must be an object")
            except (ValueError, KeyError, TypeError, UnicodeDecodeError) as e:
                await context.abort(
                    grpc.StatusCode.INVALID_ARGUMENT,
                    f"请求须为 {{op, args}} JSON / request must be JSON {{op, args}}: {e}",
                )
            try:
                if kind == "inspect":
                    result = await platform.inspection.run(op, args)
                else:
                    result = platform.faults.run(op, args)
            except PlatformError as e:
                await context.abort_with_status(to_status(e))
            return json.dumps(result, ensure_ascii=False, default=str).encode("utf-8")

        return handler


async def _cancel(task: asyncio.Future[Any], on_result: Callable[[Any], None]) -> None:
    """Cancel a task; if it had already produced a result, hand that to on_result."""
    if not task.done():
        task.cancel()
    with contextlib.suppress(asyncio.CancelledError, Exception):
        await task
    if task.done() and not task.cancelled() and task.exception() is None:
        on_result(task.result())
