"""The HTTP/JSON transport of the mock platform: a Starlette app on uvicorn (httptools + uvloop).

Same operations, semantics and errors as the gRPC transport (ST-IFACE-002): every body is decoded by the one
validation core (``santong.protocols.decode_json``: JSON stage and fast path), then ``Platform.call`` runs the
rules, stores and answers; errors are the JSON form of ``google.rpc.Status`` with a ``google.rpc.BadRequest``
whose reasons are clause IDs (ST-IFACE-003), with the HTTP status of ST-IFACE-015.

Transport guards: content type ``application/json`` (415, ST-IFACE-009); bodies read incrementally and cut off
at ``Limits.max_message_bytes`` (413, ST-PROTO-009); a deadline on the body (408); a deadline and a size cap on
the request head (slow-loris connections are closed, see :func:`guarded_protocol`).

Example::

    app = create_app(platform)
    server = HttpServer(app, port=0)
    port = await server.start()
    ...
    await server.stop()
"""

from __future__ import annotations

import asyncio
import contextlib
import hmac
import json
import logging
import math
from collections.abc import Awaitable, Callable, MutableMapping, Sequence
from typing import TYPE_CHECKING, Any

from google.protobuf import duration_pb2
from google.protobuf.message import Message
from santong.mock_platform._errors import GRPC_CODES, PlatformError, violation
from santong.mock_platform._http_server import PEER_IDENTITIES, HttpServer, guarded_protocol
from santong.mock_platform._methods import DEVICE_HEADER, INSPECTION_HEADER
from santong.mock_platform._openapi import DEVICE_OPERATIONS, Operation, openapi_document
from santong.protocols import (
    ValidationContext,
    ValidationError,
    Violation,
    decode_json,
    message_class,
    must_violations,
    to_dict,
    validate,
)
from santong.protocols.v1 import device_access_pb2
from starlette.applications import Starlette
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

if TYPE_CHECKING:
    from santong.mock_platform._service import Platform

__all__ = [
    "DEVICE_HEADER",
    "INSPECTION_HEADER",
    "HttpServer",
    "create_app",
    "guarded_protocol",
    "status_body",
]

log = logging.getLogger("santong.mock_platform.http")

Scope = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[MutableMapping[str, Any]]]
Send = Callable[[MutableMapping[str, Any]], Awaitable[None]]

BAD_REQUEST_TYPE = "type.googleapis.com/google.rpc.BadRequest"
RETRY_INFO_TYPE = "type.googleapis.com/google.rpc.RetryInfo"
BODY_TIMEOUT_S = 30.0
MAX_WAIT_S = 60.0
HARD_BODY_LIMIT = 64 * 1024 * 1024  # when Limits.max_message_bytes is 0 (no limit): bodies are still bounded

_JSON = b"application/json"
_CLOSE = (b"connection", b"close")
_ACK_RESPONSES = frozenset(
    ("ReportObservationsResponse", "StreamObservationsResponse", "ReportAlarmsResponse", "ReportOutstationStatusResponse",
     "ReportStatisticsResponse", "ReportPersonnelResponse")
)  # fmt: skip
_ACK_STATUS = {v.number: v.name for v in device_access_pb2.AckStatus.DESCRIPTOR.values}


# --------------------------------------------------------------------------- errors as google.rpc.Status JSON


def _duration(seconds: float) -> str:
    """JSON of a google.protobuf.Duration, built as the gRPC transport builds RetryInfo."""
    return duration_pb2.Duration(seconds=int(seconds), nanos=int((seconds % 1) * 1e9)).ToJsonString()


def status_dict(
    code: int, message: str, violations: Sequence[Violation] = (), retry_after_s: float | None = None
) -> dict[str, Any]:
    """The JSON form of a google.rpc.Status with a BadRequest (and RetryInfo) detail."""
    details: list[dict[str, Any]] = []
    if violations:
        details.append(
            {
                "@type": BAD_REQUEST_TYPE,
                "fieldViolations": [
                    {
                        "field": v.path,
                        "description": f"{v.message_zh} / {v.message_en}",
                        "reason": v.clause_id,
                    }
                    for v in violations
                ],
            }
        )
    if retry_after_s is not None:
        details.append({"@type": RETRY_INFO_TYPE, "retryDelay": _duration(max(0.0, retry_after_s))})
    out: dict[str, Any] = {"code": code, "message": message}
    if details:
        out["details"] = details
    return out


def status_body(error: PlatformError | ValidationError) -> bytes:
    """The HTTP body of an error: google.rpc.Status JSON (ST-IFACE-003)."""
    if isinstance(error, PlatformError):
        d = status_dict(error.grpc_code, error.message, error.violations, error.retry_after_s)
    else:
        d = status_dict(GRPC_CODES["INVALID_ARGUMENT"], str(error), error.violations)
    return _dumps(d)


def _dumps(d: Any) -> bytes:
    return json.dumps(d, ensure_ascii=False, separators=(",", ":")).encode("utf-8")


def _transport_error(
    code: str, http_status: int, clause_id: str, path: str, zh: str, en: str
) -> PlatformError:
    return PlatformError(code, zh, en, [violation(clause_id, path, zh, en)], http_status=http_status)


# --------------------------------------------------------------------------- responses


def _ack_dict(ack: Any) -> dict[str, Any]:
    """``to_dict`` of an Ack without json_format (the hot path); tests prove it equal to ``to_dict``."""
    d: dict[str, Any] = {}
    if ack.sequence:
        d["sequence"] = str(ack.sequence)
    if ack.status:
        d["status"] = _ACK_STATUS.get(ack.status, ack.status)
    if ack.accepted:
        d["accepted"] = ack.accepted
    if ack.violations:
        vs = []
        for v in ack.violations:
            e = {}
            for name in ("clause_id", "path", "message_zh", "message_en"):
                if x := getattr(v, name):
                    e[name] = x
            vs.append(e)
        d["violations"] = vs
    if ack.HasField("server_time"):
        d["server_time"] = ack.server_time.ToJsonString()
    return d


def response_dict(message: Message) -> dict[str, Any]:
    """The JSON form of a response message (Ack responses on a fast path)."""
    if message.DESCRIPTOR.name in _ACK_RESPONSES:
        ack = message.ack  # type: ignore[attr-defined]
        return {"ack": _ack_dict(ack)} if message.HasField("ack") else {}
    return to_dict(message)


async def _send(
    send: Send,
    status: int,
    body: bytes,
    headers: list[tuple[bytes, bytes]] | None = None,
    close: bool = False,
) -> None:
    h = [(b"content-type", _JSON), (b"content-length", str(len(body)).encode())]
    if headers:
        h.extend(headers)
    if close:
        h.append(_CLOSE)
    await send({"type": "http.response.start", "status": status, "headers": h})
    await send({"type": "http.response.body", "body": body})


async def _send_error(send: Send, error: PlatformError | ValidationError, close: bool = False) -> None:
    headers = []
    status = error.http_status
    if isinstance(error, PlatformError) and error.retry_after_s is not None:
        headers.append((b"retry-after", str(max(0, math.ceil(error.retry_after_s))).encode()))
    await _send(send, status, status_body(error), headers, close)


# --------------------------------------------------------------------------- request parsing


async def _commands_device(platform: Platform, head: _Head, peer: str, send: Send) -> Any:
    """The device of a commands request (credentials, registration, faults), or None after sending the error."""
    try:
        return await platform.open_stream(
            "Commands", device_id=head.device_id, token=head.token, peer=peer, peer_identities=head.identities
        )
    except PlatformError as e:
        await _send_error(send, e)
        return None


class _Head:
    """The headers of a request the transport cares about."""

    __slots__ = ("content_type", "content_length", "device_id", "token", "inspection_token", "identities")

    def __init__(self, scope: Scope) -> None:
        extensions = scope.get("extensions")
        # Names of the verified client certificate under mutual TLS (see guarded_protocol), else None.
        self.identities: list[str] | None = extensions.get(PEER_IDENTITIES) if extensions else None
        self.content_type: bytes | None = None
        self.content_length: int | None = None
        self.device_id: str | None = None
        self.token: str | None = None
        self.inspection_token: str | None = None
        for name, value in scope["headers"]:
            if name == b"content-type":
                self.content_type = value
            elif name == b"content-length":
                try:
                    self.content_length = int(value)
                except ValueError:
                    self.content_length = None
            elif name == b"x-santong-device-id":
                self.device_id = value.decode("latin-1")
            elif name == b"authorization":  # "Bearer <token>": the platform checks the scheme (ST-PROTO-002)
                self.token = value.decode("latin-1")
            elif name == b"x-santong-inspection-token":
                self.inspection_token = value.decode("latin-1")


def json_content_type(value: bytes | None) -> bool:
    """True for ``application/json`` with no charset or charset utf-8 (ST-IFACE-009)."""
    if value is None:
        return False
    media, *params = value.split(b";")
    if media.strip().lower() != _JSON:
        return False
    for p in params:
        key, _, val = p.strip().partition(b"=")
        if key.strip().lower() == b"charset" and val.strip().strip(b'"').lower() != b"utf-8":
            return False
    return True


class _Disconnected(Exception):
    """The client went away before the body was complete."""


async def read_body(
    receive: Receive, limit: int, declared: int | None, timeout_s: float = BODY_TIMEOUT_S
) -> bytes:
    """The request body, read incrementally: 413 past ``limit`` bytes, 408 past ``timeout_s``.

    Raises PlatformError (413/408) or _Disconnected; never holds more than ``limit`` bytes.
    """
    if declared is not None and declared > limit:
        raise _too_large(declared, limit)
    chunks: list[bytes] = []
    size = 0
    try:
        async with asyncio.timeout(timeout_s):
            while True:
                msg = await receive()
                if msg["type"] == "http.disconnect":
                    raise _Disconnected
                chunk = msg.get("body", b"")
                if chunk:
                    size += len(chunk)
                    if size > limit:
                        raise _too_large(size, limit)
                    chunks.append(chunk)
                if not msg.get("more_body", False):
                    break
    except TimeoutError:
        raise PlatformError(
            "DEADLINE_EXCEEDED",
            f"请求体未在 {timeout_s:g} s 内到达",
            f"the request body did not arrive within {timeout_s:g} s",
            http_status=408,
        ) from None
    return chunks[0] if len(chunks) == 1 else b"".join(chunks)


def _too_large(size: int, limit: int) -> PlatformError:
    return _transport_error(
        "RESOURCE_EXHAUSTED", 413, "ST-PROTO-009", "$",
        f"请求体至少 {size} 字节，超过上限 {limit} 字节", f"the body has at least {size} bytes, above the limit of {limit} bytes",
    )  # fmt: skip


def _peer(scope: Scope) -> str:
    client = scope.get("client")
    if not client:
        return ""
    host, port = client[0], client[1]
    return f"ipv6:[{host}]:{port}" if ":" in host else f"ipv4:{host}:{port}"


# --------------------------------------------------------------------------- endpoints


def _body_limit(platform: Platform) -> int:
    limit = int(platform.limits.max_message_bytes)
    return limit if limit > 0 else HARD_BODY_LIMIT


async def _refuse(
    platform: Platform, method: str, error: PlatformError, head: _Head, peer: str
) -> PlatformError:
    """The error to answer for a request the transport refused: faults and credentials come first (as for
    gRPC's undecodable requests, ``Platform.call_bytes``), then the transport's own error, which is logged."""
    try:
        await platform.open_stream(
            method, device_id=head.device_id, token=head.token, peer=peer, peer_identities=head.identities
        )
    except PlatformError as e:  # already in the interaction log
        return e
    verdict = "REJECTED" if error.violations else "ERROR"
    platform.log_event(
        head.device_id or "",
        method,
        verdict,
        error.code,
        error.message_en,
        peer=peer,
        violations=error.violations,
    )
    return error


def _invalid_json(e: ValidationError) -> PlatformError:
    return PlatformError(
        "INVALID_ARGUMENT", "请求体不是合法的 JSON 消息", "the body is not a valid JSON message", e.violations
    )


def _unsupported_media(content_type: bytes | None) -> PlatformError:
    shown = content_type.decode("latin-1") if content_type else "（无 none）"
    return _transport_error(
        "INVALID_ARGUMENT", 415, "ST-IFACE-009", "$",
        f"内容类型 {shown} 不是 application/json（UTF-8）", f"content type {shown} is not application/json (UTF-8)",
    )  # fmt: skip


async def _read_json(
    platform: Platform,
    method: str,
    message_name: str,
    receive: Receive,
    send: Send,
    head: _Head,
    peer: str,
    timeout_s: float,
) -> tuple[Message, int] | None:
    """Credentials, content type, body and ``decode_json``; on failure the error is sent and None returned.

    Credentials are checked on the headers before a byte of the body is read (ST-PROTO-033): an unauthenticated
    peer gets its 401 and the connection closes, the body unread."""
    try:
        platform.gate(method, head.device_id, head.token, peer, head.identities)
    except PlatformError as e:
        await _send_error(send, e, close=True)
        return None
    if not json_content_type(head.content_type):
        # The unread body must not be parsed as the next request: the connection closes after the answer.
        await _send_error(
            send,
            await _refuse(platform, method, _unsupported_media(head.content_type), head, peer),
            close=True,
        )
        return None
    try:
        body = await read_body(receive, _body_limit(platform), head.content_length, timeout_s)
    except _Disconnected:
        return None
    except PlatformError as e:
        await _send_error(send, await _refuse(platform, method, e, head, peer), close=True)
        return None
    try:
        return decode_json(body, message_name), len(body)
    except ValidationError as e:
        await _send_error(send, await _refuse(platform, method, _invalid_json(e), head, peer))
        return None


class _DeviceCall:
    """ASGI endpoint of one device RPC: guards, ``decode_json``, ``Platform.call``, JSON answer."""

    def __init__(self, platform: Platform, op: Operation, body_timeout_s: float) -> None:
        self.platform = platform
        self.op = op
        self.body_timeout_s = body_timeout_s

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        head = _Head(scope)
        peer = _peer(scope)
        got = await _read_json(
            self.platform, self.op.rpc, self.op.request, receive, send, head, peer, self.body_timeout_s
        )
        if got is None:
            return
        request, size = got
        try:
            response = await self.platform.call(
                self.op.rpc,
                request,
                device_id=head.device_id,
                token=head.token,
                peer=peer,
                size=size,
                peer_identities=head.identities,
            )
        except PlatformError as e:
            await _send_error(send, e)
            return
        await _send(send, 200, _dumps(response_dict(response)))


class _PlatformInfo:
    """``GET /v1/platform/info``: GetPlatformInfo, no credentials (ST-IFACE-008)."""

    def __init__(self, platform: Platform) -> None:
        self.platform = platform

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        head = _Head(scope)
        request = message_class("GetPlatformInfoRequest")()
        try:
            response = await self.platform.call(
                "GetPlatformInfo", request, device_id=head.device_id, token=head.token, peer=_peer(scope)
            )
        except PlatformError as e:
            await _send_error(send, e)
            return
        await _send(send, 200, _dumps(to_dict(response)))


def _wait_seconds(query: bytes) -> float | str:
    """The ``wait`` query parameter in seconds (0 when absent), or the name of what is wrong with the query."""
    from urllib.parse import parse_qsl

    try:
        pairs = parse_qsl(query.decode("latin-1"), keep_blank_values=True, strict_parsing=bool(query))
    except ValueError:
        return "query"
    wait = 0.0
    for key, value in pairs:
        if key != "wait":
            return key
        try:
            wait = float(value)
        except ValueError:
            return "wait"
        if not 0 <= wait <= MAX_WAIT_S:
            return "wait"
    return wait


class _PollCommands:
    """``GET /v1/device/commands?wait=S``: long-poll the device's pending commands (the Commands stream over HTTP).

    The poll ends early when a command arrives (with every other pending one), when the server stops (empty
    list) or when the client goes away (nothing is taken from the queue then).
    """

    def __init__(self, platform: Platform, stopping: asyncio.Event) -> None:
        self.platform = platform
        self.stopping = stopping

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        head = _Head(scope)
        peer = _peer(scope)
        wait = _wait_seconds(scope.get("query_string", b""))
        p = self.platform
        dev = await _commands_device(p, head, peer, send)
        if dev is None:
            return
        if isinstance(wait, str):
            if wait == "wait":
                v = violation(
                    "ST-DATA-035",
                    "wait",
                    f"wait 须为 0–{MAX_WAIT_S:g} 的数（秒）",
                    f"wait must be a number of seconds in 0–{MAX_WAIT_S:g}",
                )
            else:
                v = violation(
                    "ST-DATA-034",
                    wait,
                    f"未知的查询参数 “{wait}”（只有 wait）",
                    f"unknown query parameter '{wait}' (only wait)",
                )
            err = PlatformError("INVALID_ARGUMENT", "查询参数无效", "invalid query parameters", [v])
            p.log_event(
                dev.device_id,
                "Commands",
                "REJECTED",
                err.code,
                err.message_en,
                peer=peer,
                violations=err.violations,
            )
            await _send_error(send, err)
            return
        commands = await self._collect(dev, wait, receive, peer)
        if commands is None:  # the client left: the commands go back to the queue
            return
        body = _dumps({"commands": [to_dict(c.command) for c in commands]})
        await _send(send, 200, body)

    async def _collect(self, dev: Any, wait: float, receive: Receive, peer: str) -> list[Any] | None:
        p = self.platform
        out = [await p.next_command(dev, peer) for _ in range(dev.commands.qsize())]
        if out or wait <= 0:
            return out
        getter = asyncio.ensure_future(p.next_command(dev, peer))
        gone = asyncio.ensure_future(_until_disconnect(receive))
        stop = asyncio.ensure_future(self.stopping.wait())
        try:
            done, _ = await asyncio.wait(
                {getter, gone, stop}, timeout=wait, return_when=asyncio.FIRST_COMPLETED
            )
        finally:
            gone.cancel()
            stop.cancel()
            if not getter.done():
                getter.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await getter
        if getter.done() and not getter.cancelled():
            out.append(getter.result())
            out += [await p.next_command(dev, peer) for _ in range(dev.commands.qsize())]
        if gone in done:
            for resp in out:
                p.requeue_command(dev, resp.command)
            return None
        return out


async def _until_disconnect(receive: Receive) -> None:
    while (await receive())["type"] != "http.disconnect":
        pass


class _CommandResult:
    """``POST /v1/device/command-results``: one CommandResult (ST-IFACE-011/020)."""

    def __init__(self, platform: Platform, body_timeout_s: float) -> None:
        self.platform = platform
        self.body_timeout_s = body_timeout_s

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        head = _Head(scope)
        peer = _peer(scope)
        got = await _read_json(
            self.platform, "Commands", "CommandResult", receive, send, head, peer, self.body_timeout_s
        )
        if got is None:
            return
        result, _ = got
        p = self.platform
        dev = await _commands_device(p, head, peer, send)
        if dev is None:
            return
        request = message_class("CommandsRequest")(result=result)
        bad = must_violations(
            validate(request, ValidationContext(state=dev.state, limits=p.limits, now_ms=p.now_ms()))
        )
        if bad:
            err = PlatformError(
                "INVALID_ARGUMENT", "命令结果不符合规范", "the command result violates the specification", bad
            )
            p.log_event(
                dev.device_id, "Commands", "REJECTED", err.code, err.message_en, peer=peer, violations=bad
            )
            await _send_error(send, err)
            return
        try:
            await p.command_result(dev, request, peer)
        except PlatformError as e:  # another device's or an unknown command (ST-PROTO-034)
            await _send_error(send, e)
            return
        await _send(send, 200, _dumps({"command_id": result.command_id, "accepted": True}))  # type: ignore[attr-defined]


class _Admin:
    """``/inspect/{op}`` and ``/faults/{op}``: the inspection and fault APIs behind ``x-santong-inspection-token``.

    GET passes the query parameters, POST a JSON object body, as the operation's arguments.
    """

    MUTATING = frozenset({"reset", "add_device", "send_command"})

    def __init__(self, platform: Platform, kind: str, body_timeout_s: float) -> None:
        self.platform = platform
        self.kind = kind
        self.body_timeout_s = body_timeout_s

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        head = _Head(scope)
        expected = self.platform.config.inspection_token.encode("utf-8")
        given = (head.inspection_token or "").encode("latin-1")
        if not hmac.compare_digest(given, expected):
            await _send_error(
                send,
                PlatformError(
                    "UNAUTHENTICATED", "缺少或错误的检查令牌", f"missing or wrong {INSPECTION_HEADER}"
                ),
                close=True,
            )
            return
        op = scope["path_params"].get("op") or "status"
        args: Any
        if scope["method"] == "POST":
            if not json_content_type(head.content_type):
                await _send_error(send, _unsupported_media(head.content_type), close=True)
                return
            try:
                body = await read_body(
                    receive, _body_limit(self.platform), head.content_length, self.body_timeout_s
                )
                args = json.loads(body.decode("utf-8")) if body.strip() else {}
            except _Disconnected:
                return
            except PlatformError as e:
                await _send_error(send, e, close=True)
                return
            except (UnicodeDecodeError, ValueError, RecursionError) as e:
                err = PlatformError(
                    "INVALID_ARGUMENT", "请求体不是合法的 JSON", f"the body is not well-formed JSON: {e}"
                )
                await _send_error(send, err)
                return
            if not isinstance(args, dict):
                await _send_error(
                    send,
                    PlatformError(
                        "INVALID_ARGUMENT", "参数须为 JSON 对象", "arguments must be a JSON object"
                    ),
                )
                return
        else:
            if self.kind == "inspect" and op in self.MUTATING:
                await _send_error(
                    send, PlatformError("INVALID_ARGUMENT", f"{op} 须用 POST", f"{op} needs POST")
                )
                return
            from urllib.parse import parse_qsl

            args = dict(parse_qsl(scope.get("query_string", b"").decode("latin-1")))
        try:
            if self.kind == "faults":
                result = self.platform.faults.run(op, args)
            else:
                result = await self.platform.inspection.run(op, args)
        except PlatformError as e:
            await _send_error(send, e)
            return
        except (
            ValueError,
            TypeError,
            KeyError,
            OverflowError,
        ) as e:  # bad arguments the operation did not catch
            await _send_error(
                send, PlatformError("INVALID_ARGUMENT", f"参数错误：{e}", f"bad arguments: {e}")
            )
            return
        await _send(send, 200, json.dumps(result, ensure_ascii=False, default=str).encode("utf-8"))


def _openapi_endpoint() -> Callable[[Request], Awaitable[Response]]:
    body = _dumps(openapi_document())

    async def openapi(request: Request) -> Response:
        return Response(body, media_type="application/json")

    return openapi


async def _http_exception(request: Request, exc: Exception) -> Response:
    status = getattr(exc, "status_code", 400)
    code = {404: "NOT_FOUND", 405: "UNIMPLEMENTED"}.get(status, "INVALID_ARGUMENT")
    detail = getattr(exc, "detail", "") or ""
    headers = dict(getattr(exc, "headers", None) or {})
    return Response(
        _dumps(status_dict(GRPC_CODES[code], f"{status} {detail}".strip())),
        status,
        headers,
        media_type="application/json",
    )


def create_app(platform: Platform, *, body_timeout_s: float = BODY_TIMEOUT_S) -> Starlette:
    """The Starlette app of the HTTP/JSON transport for `platform` (kept in ``app.state.platform``).

    Routes: ``GET /v1/platform/info``; ``POST /v1/device/{register,define-points,report-observations,…}``;
    ``GET /v1/device/commands?wait=S`` (long poll) and ``POST /v1/device/command-results``; ``GET /openapi.json``;
    ``GET|POST /inspect/{op}`` and ``GET|POST /faults[/{op}]`` behind ``x-santong-inspection-token``.
    A request body that has not fully arrived ``body_timeout_s`` after its head gets 408.
    """
    t = body_timeout_s
    stopping = asyncio.Event()  # set by HttpServer.stop: long polls answer at once
    routes: list[Any] = [
        Route("/openapi.json", _openapi_endpoint(), methods=["GET"]),
        Route("/v1/platform/info", _PlatformInfo(platform), methods=["GET"]),
        Route("/v1/device/commands", _PollCommands(platform, stopping), methods=["GET"]),
        Route("/v1/device/command-results", _CommandResult(platform, t), methods=["POST"]),
    ]
    # The hot route first: the router tries routes in order.
    hot = sorted(DEVICE_OPERATIONS, key=lambda op: op.rpc != "ReportObservations")
    routes[:0] = [Route(op.path, _DeviceCall(platform, op, t), methods=["POST"]) for op in hot]
    routes += [
        Route("/inspect/{op}", _Admin(platform, "inspect", t), methods=["GET", "POST"]),
        Route("/faults", _Admin(platform, "faults", t), methods=["GET"]),
        Route("/faults/{op}", _Admin(platform, "faults", t), methods=["GET", "POST"]),
    ]
    app = Starlette(routes=routes, exception_handlers={HTTPException: _http_exception})
    app.state.platform = platform
    app.state.stopping = stopping
    return app
