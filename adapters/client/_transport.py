"""Transports of the platform client: gRPC (default) and HTTP/JSON, with one error type and one call shape.

Every device call carries ``x-santong-device-id`` and ``authorization: Bearer <token>`` (ST-PROTO-001). A failed
call raises :class:`CallError` with the gRPC code name, the HTTP status (HTTP only), the violations of the
error's BadRequest detail (clause IDs, ST-IFACE-003) and the platform's retry advice (RetryInfo / Retry-After).

Example::

    transport = GrpcTransport("127.0.0.1:50051", device_id="KJ70N-0001", token="secret")
    response = await transport.call("Register", register_request, timeout_s=10)
    await transport.command_stream(handle)   # until the stream ends; handle(Command) -> CommandResult
    await transport.close()
"""

from __future__ import annotations

import abc
import asyncio
import contextlib
import json
import re
import ssl
from collections.abc import Awaitable, Callable, Iterable
from pathlib import Path
from typing import Any

from google.protobuf import json_format
from google.protobuf.message import Message
from santong.adapters._sdk import AdapterError
from santong.adapters.client._retry import Disposition, disposition
from santong.protocols import GRPC_CODE_BY_HTTP, GRPC_CODE_NAMES, Violation, is_outage, to_dict
from santong.protocols.v1 import device_access_pb2 as pb
from santong.protocols.v1 import platform_pb2

__all__ = ["CallError", "CommandHandler", "GrpcTransport", "HttpTransport", "ObservationStream", "Transport"]

CommandHandler = Callable[[pb.Command], Awaitable[pb.CommandResult]]

RESPONSES: dict[str, type[Message]] = {
    "Register": pb.RegisterResponse,
    "DefinePoints": pb.DefinePointsResponse,
    "ReportObservations": pb.ReportObservationsResponse,
    "ReportAlarms": pb.ReportAlarmsResponse,
    "ReportOutstationStatus": pb.ReportOutstationStatusResponse,
    "ReportStatistics": pb.ReportStatisticsResponse,
    "DefinePositioning": pb.DefinePositioningResponse,
    "ReportPersonnel": pb.ReportPersonnelResponse,
    "Heartbeat": pb.HeartbeatResponse,
    "GetPlatformInfo": platform_pb2.GetPlatformInfoResponse,
}


class CallError(AdapterError):
    """A device call failed: gRPC code name, HTTP status (HTTP only), violations with clause IDs, retry advice.

    ``connection`` is True when no answer came from the platform at all (refused, reset, timed out).
    """

    def __init__(
        self,
        code: str,
        message: str,
        *,
        http_status: int | None = None,
        violations: Iterable[Violation] = (),
        retry_after_s: float | None = None,
        connection: bool = False,
    ) -> None:
        self.code = code
        self.http_status = http_status
        self.retry_after_s = retry_after_s
        self.connection = connection
        self.grpc_code = code
        where = f"HTTP {http_status} " if http_status is not None else ""
        super().__init__(f"{where}{code}: {message}", violations)

    @property
    def disposition(self) -> Disposition:
        """Retry, re-register, final (dead letters) or hold (ST-PROTO-015/016), from the spec's table."""
        return disposition(self.code, self.http_status, self.violations)

    @property
    def outage(self) -> bool:
        """True when the platform could not be reached (no answer, UNAVAILABLE, DEADLINE_EXCEEDED)."""
        return self.connection or is_outage(self.code)

    @property
    def clause_ids(self) -> list[str]:
        """Clause IDs of the violations, in order, without repeats."""
        return list(dict.fromkeys(v.clause_id for v in self.violations))


def _violation(clause_id: str, path: str, description: str) -> Violation:
    zh, _, en = description.partition(" / ")
    return Violation(clause_id, path, zh, en or zh)


class ObservationStream(abc.ABC):
    """One open StreamObservations call: stored ReportObservationsRequest encodings go out (the two requests share
    their one field, ``batch = 1``, so the queue's bytes are sent as they are), acknowledgements come back in order.
    """

    @abc.abstractmethod
    async def send(self, payload: bytes) -> None:
        """Put one batch on the stream; CallError if the stream has failed."""

    @abc.abstractmethod
    async def receive(self) -> pb.Ack | None:
        """The next acknowledgement; None when the platform ended the stream; CallError when it failed."""

    @abc.abstractmethod
    def close(self) -> None:
        """Cancel the call (batches not yet acknowledged stay queued and are sent again)."""


class Transport(abc.ABC):
    """One way of talking to the platform."""

    def observation_stream(self) -> ObservationStream | None:
        """A new StreamObservations call, or None when this transport has no streams (uploads go one by one)."""
        return None

    @abc.abstractmethod
    async def call(self, method: str, request: Message, timeout_s: float) -> Any:
        """The response of a unary device call (``method`` as named in DeviceAccessService)."""

    @abc.abstractmethod
    async def command_stream(self, handle: CommandHandler) -> None:
        """Receive downlink commands and answer each with ``handle``'s result, until the stream ends or fails."""

    @abc.abstractmethod
    async def close(self) -> None:
        """Release connections."""


# --------------------------------------------------------------------------- gRPC


class GrpcTransport(Transport):
    """gRPC (grpc.aio) with the generated ``santong.protocols.v1`` stubs; TLS and mutual TLS optional."""

    def __init__(
        self,
        target: str,
        *,
        device_id: str,
        token: str,
        ca: Path | None = None,
        cert: Path | None = None,
        key: Path | None = None,
        server_name: str | None = None,
        reconnect_max_ms: int = 30_000,
    ) -> None:
        """Remember the endpoint; the channel is created on first use, inside the running event loop."""
        self.target = target
        self.metadata = (("x-santong-device-id", device_id), ("authorization", f"Bearer {token}"))
        self._tls = (ca, cert, key) if (ca or cert or key) else None
        self._server_name = server_name
        self._reconnect_max_ms = reconnect_max_ms
        self._channel: Any = None
        self._stub: Any = None
        self._stream_method: Any = None

    def _ensure(self) -> Any:
        if self._stub is None:
            import grpc
            from santong.protocols.v1 import device_access_pb2_grpc

            # Reconnect quickly after an outage: the client's own back-off paces the calls.
            options: list[tuple[str, Any]] = [
                ("grpc.initial_reconnect_backoff_ms", 100),
                ("grpc.min_reconnect_backoff_ms", 100),
                ("grpc.max_reconnect_backoff_ms", max(100, self._reconnect_max_ms)),
                ("grpc.keepalive_time_ms", 20_000),
                ("grpc.max_receive_message_length", 64 * 1024 * 1024),
            ]
            if self._tls is not None:
                ca, cert, key = (p.read_bytes() if p else None for p in self._tls)
                creds = grpc.ssl_channel_credentials(
                    root_certificates=ca, private_key=key, certificate_chain=cert
                )
                if self._server_name:
                    options.append(("grpc.ssl_target_name_override", self._server_name))
                self._channel = grpc.aio.secure_channel(self.target, creds, options=options)
            else:
                self._channel = grpc.aio.insecure_channel(self.target, options=options)
            self._stub = device_access_pb2_grpc.DeviceAccessServiceStub(self._channel)
        return self._stub

    async def call(self, method: str, request: Message, timeout_s: float) -> Any:
        """One unary call; CallError on failure."""
        import grpc

        stub = self._ensure()
        try:
            return await getattr(stub, method)(request, metadata=self.metadata, timeout=timeout_s)
        except grpc.aio.AioRpcError as e:
            raise _grpc_error(e) from e

    def observation_stream(self) -> ObservationStream:
        """A StreamObservations call sending the queue's encodings unchanged (no parse, no re-serialisation)."""
        self._ensure()
        if self._stream_method is None:
            self._stream_method = self._channel.stream_stream(
                STREAM_OBSERVATIONS, request_serializer=None,
                response_deserializer=pb.StreamObservationsResponse.FromString,
            )  # fmt: skip
        return _GrpcObservationStream(self._stream_method(metadata=self.metadata))

    async def command_stream(self, handle: CommandHandler) -> None:
        """The Commands stream: open it with an empty request, answer each command on the same stream."""
        import grpc

        stub = self._ensure()
        call = stub.Commands(metadata=self.metadata)
        try:
            await call.write(pb.CommandsRequest())
            while True:
                resp = await call.read()
                if resp is grpc.aio.EOF:
                    return
                result = await handle(resp.command)
                await call.write(pb.CommandsRequest(result=result))
        except grpc.aio.AioRpcError as e:
            raise _grpc_error(e) from e
        finally:
            call.cancel()

    async def close(self) -> None:
        """Close the channel."""
        if self._channel is not None:
            await self._channel.close()
            self._channel = self._stub = self._stream_method = None


STREAM_OBSERVATIONS = "/santong.protocols.v1.DeviceAccessService/StreamObservations"


#: What grpc.aio reports when a write meets a call the platform has just ended: the write's failure replaces the
#: platform's status (FAILED_PRECONDITION, say), which is lost.
_CORE_WRITE_FAILURE = "Internal error from Core"


def _stream_error(e: Any) -> CallError:
    """The CallError of a failed stream; a status lost to a racing write counts as a lost session (the strictest
    retryable reading: register again, then resend — harmless if the session was in fact fine)."""
    err = _grpc_error(e)
    if err.code == "INTERNAL" and (e.details() or "") == _CORE_WRITE_FAILURE:
        return CallError(
            "FAILED_PRECONDITION",
            "数据流已被平台结束，其状态在并发写入中丢失，重新注册后重发 / the platform ended the stream and its status was "
            f"lost to a racing write ({_CORE_WRITE_FAILURE}): registering again, then resending",
        )
    return err


class _GrpcObservationStream(ObservationStream):
    def __init__(self, call: Any) -> None:
        self._call = call

    async def send(self, payload: bytes) -> None:
        import grpc

        try:
            await self._call.write(payload)
        except grpc.aio.AioRpcError as e:
            raise _stream_error(e) from e
        except Exception as e:  # written after the call ended: its status tells why
            raise await self._ended(e) from e

    async def receive(self) -> pb.Ack | None:
        import grpc

        try:
            resp = await self._call.read()
        except grpc.aio.AioRpcError as e:
            raise _stream_error(e) from e
        if resp is grpc.aio.EOF:
            return None
        return resp.ack  # type: ignore[no-any-return]

    async def _ended(self, e: BaseException) -> CallError:
        import grpc

        try:
            code = await asyncio.wait_for(self._call.code(), 1.0)
            details = await self._call.details()
        except Exception:
            return CallError("UNAVAILABLE", f"{type(e).__name__}: {e}", connection=True)
        if code == grpc.StatusCode.OK:
            return CallError("UNAVAILABLE", "stream ended by the platform", connection=True)
        return CallError("UNAVAILABLE" if code == grpc.StatusCode.CANCELLED else code.name, details or "",
                         connection=code in (grpc.StatusCode.CANCELLED, grpc.StatusCode.UNAVAILABLE))  # fmt: skip

    def close(self) -> None:
        self._call.cancel()


_TRANSPORT_MARKERS = (
    "RST_STREAM",
    "GOAWAY",
    "Stream removed",
    "Socket closed",
    "Connection reset",
    "Broken pipe",
)


def _grpc_error(e: Any) -> CallError:
    from google.rpc import error_details_pb2, status_pb2

    code = e.code().name
    violations: list[Violation] = []
    retry: float | None = None
    detailed = False
    for k, v in e.trailing_metadata() or ():
        if k != "grpc-status-details-bin":
            continue
        detailed = True
        try:
            status = status_pb2.Status.FromString(v)
        except Exception:  # a malformed detail is no reason to lose the code
            continue
        for d in status.details:
            if d.Is(error_details_pb2.BadRequest.DESCRIPTOR):
                br = error_details_pb2.BadRequest()
                d.Unpack(br)
                violations += [_violation(fv.reason, fv.field, fv.description) for fv in br.field_violations]
            elif d.Is(error_details_pb2.RetryInfo.DESCRIPTOR):
                ri = error_details_pb2.RetryInfo()
                d.Unpack(ri)
                retry = ri.retry_delay.seconds + ri.retry_delay.nanos / 1e9
    text = e.details() or ""
    if code == "CANCELLED" or (
        code in ("INTERNAL", "UNKNOWN") and not detailed and any(m in text for m in _TRANSPORT_MARKERS)
    ):
        # We never cancel a call we wait for: a cancellation (or a torn stream) comes from the connection, and the
        # platform may or may not have the upload — a failed connection, retried (ST-PROTO-015).
        return CallError("UNAVAILABLE", f"{code}: {text}", connection=True)
    connection = code in ("UNAVAILABLE", "DEADLINE_EXCEEDED") and not detailed
    return CallError(
        code, e.details() or "", violations=violations, retry_after_s=retry, connection=connection
    )


# --------------------------------------------------------------------------- HTTP/JSON


def _slug(method: str) -> str:
    return re.sub(r"(?<!^)(?=[A-Z])", "-", method).lower()


def _ts_json(ts: Any) -> str:
    return str(ts.ToJsonString())


def request_json(request: Message) -> dict[str, Any]:
    """The JSON form of a request (ObservationBatch built directly: json_format is slow on the hot path)."""
    if isinstance(request, pb.ReportObservationsRequest):
        b = request.batch
        d: dict[str, Any] = {"sequence": str(b.sequence)}
        if b.HasField("base_time"):
            d["base_time"] = _ts_json(b.base_time)
        for name in ("alias", "value", "time_offset_ms", "status"):
            col = list(getattr(b, name))
            if col:
                d[name] = col
        if b.backfill:
            d["backfill"] = True
        return {"batch": d}
    return to_dict(request)


class HttpTransport(Transport):
    """HTTP/JSON through httpx: ``POST /v1/device/<operation>``, commands by long poll."""

    POLL_WAIT_S = 20.0

    def __init__(
        self,
        url: str,
        *,
        device_id: str,
        token: str,
        ca: Path | None = None,
        cert: Path | None = None,
        key: Path | None = None,
        timeout_s: float = 10.0,
    ) -> None:
        """Remember the endpoint; the HTTP client is created on first use."""
        self.url = url.rstrip("/")
        self.headers = {"x-santong-device-id": device_id, "authorization": f"Bearer {token}"}
        self._tls = (ca, cert, key)
        self._timeout_s = timeout_s
        self._client: Any = None

    def _ensure(self) -> Any:
        if self._client is None:
            try:
                import httpx
            except ImportError as e:  # pragma: no cover - depends on the environment
                raise AdapterError(
                    "HTTP 传输需要 httpx：pip install httpx / the http transport needs httpx: pip install httpx"
                ) from e
            ca, cert, key = self._tls
            verify: Any = True
            if ca is not None or cert is not None:
                ctx = ssl.create_default_context(cafile=str(ca) if ca else None)
                if cert is not None:
                    ctx.load_cert_chain(str(cert), str(key) if key else None)
                verify = ctx
            self._client = httpx.AsyncClient(
                base_url=self.url, headers=self.headers, verify=verify, timeout=self._timeout_s,
                limits=httpx.Limits(max_keepalive_connections=4, max_connections=8),
            )  # fmt: skip
        return self._client

    async def call(self, method: str, request: Message, timeout_s: float) -> Any:
        """One request; CallError on an error status or a failed connection."""
        client = self._ensure()
        body = json.dumps(request_json(request), ensure_ascii=False, separators=(",", ":")).encode("utf-8")
        resp = await self._send(
            client, "POST", f"/v1/device/{_slug(method)}", content=body, timeout=timeout_s
        )
        return json_format.ParseDict(resp.json(), RESPONSES[method](), ignore_unknown_fields=True)

    async def _send(self, client: Any, verb: str, path: str, **kwargs: Any) -> Any:
        import httpx

        headers = {"content-type": "application/json"} if verb == "POST" else {}
        try:
            resp = await client.request(verb, path, headers=headers, **kwargs)
        except httpx.TimeoutException as e:
            raise CallError("DEADLINE_EXCEEDED", f"{type(e).__name__}: {e}", connection=True) from e
        except httpx.TransportError as e:
            raise CallError("UNAVAILABLE", f"{type(e).__name__}: {e}", connection=True) from e
        if resp.status_code != 200:
            raise _http_error(resp)
        return resp

    async def command_stream(self, handle: CommandHandler) -> None:
        """Long-poll ``GET /v1/device/commands``; answer each with ``POST /v1/device/command-results``."""
        client = self._ensure()
        while True:
            resp = await self._send(
                client,
                "GET",
                "/v1/device/commands",
                params={"wait": self.POLL_WAIT_S},
                timeout=self.POLL_WAIT_S + self._timeout_s,
            )
            for item in resp.json().get("commands", ()):
                cmd = json_format.ParseDict(item, pb.Command(), ignore_unknown_fields=True)
                result = await handle(cmd)
                body = json.dumps(to_dict(result), ensure_ascii=False).encode("utf-8")
                await self._send(
                    client, "POST", "/v1/device/command-results", content=body, timeout=self._timeout_s
                )

    async def close(self) -> None:
        """Close the HTTP client."""
        if self._client is not None:
            await self._client.aclose()
            self._client = None


def _http_error(resp: Any) -> CallError:
    status = int(resp.status_code)
    code = GRPC_CODE_BY_HTTP.get(status) or ("UNAVAILABLE" if status >= 500 else "UNKNOWN")
    message = resp.reason_phrase or ""
    violations: list[Violation] = []
    retry: float | None = None
    try:
        body = resp.json()
    except ValueError:
        body = None
    if isinstance(body, dict):
        if isinstance(body.get("code"), int):
            code = GRPC_CODE_NAMES.get(body["code"], code)
        message = str(body.get("message", message))
        for d in body.get("details", ()) or ():
            kind = str(d.get("@type", ""))
            if kind.endswith("google.rpc.BadRequest"):
                for fv in d.get("fieldViolations", d.get("field_violations", ())):
                    violations.append(
                        _violation(
                            str(fv.get("reason", "")),
                            str(fv.get("field", "")),
                            str(fv.get("description", "")),
                        )
                    )
            elif kind.endswith("google.rpc.RetryInfo"):
                delay = str(d.get("retryDelay", d.get("retry_delay", "")))
                if delay.endswith("s"):
                    with contextlib.suppress(ValueError):
                        retry = float(delay[:-1])
    header = resp.headers.get("retry-after")
    if header:
        with contextlib.suppress(
            ValueError
        ):  # an HTTP date is rare from the platform; the back-off still applies
            retry = max(retry or 0.0, float(header))
    return CallError(code, message, http_status=status, violations=violations, retry_after_s=retry)
