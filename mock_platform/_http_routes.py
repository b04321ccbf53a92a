"""The endpoints of the HTTP/JSON transport of the mock platform and its Starlette app (:func:`create_app`).

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
from collections.abc import Awaitable, Callable, MutableMapping
from typing import TYPE_CHECKING, Any

from santong.mock_platform._errors import GRPC_CODES, PlatformError, violation
from santong.mock_platform._http_json import dumps, response_body, send_error, send_json, status_dict
from santong.mock_platform._http_request import (
    BODY_TIMEOUT_S,
    Disconnected,
    Head,
    body_limit,
    commands_device,
    json_content_type,
    peer_of,
    read_body,
    read_json,
    unsupported_media,
)
from santong.mock_platform._methods import INSPECTION_HEADER
from santong.mock_platform._openapi import DEVICE_OPERATIONS, Operation, openapi_document
from santong.protocols import message_class, must_violations, to_dict, validate
from starlette.applications import Starlette
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

if TYPE_CHECKING:
    from santong.mock_platform._service import Platform

__all__ = ["MAX_WAIT_S", "create_app"]

Scope = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[MutableMapping[str, Any]]]
Send = Callable[[MutableMapping[str, Any]], Awaitable[None]]

MAX_WAIT_S = 60.0


class _DeviceCall:
    """ASGI endpoint of one device RPC: guards, ``decode_json``, ``Platform.call``, JSON answer."""

    def __init__(self, platform: Platform, op: Operation, body_timeout_s: float) -> None:
        self.platform = platform
        self.op = op
        self.body_timeout_s = body_timeout_s

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        head = Head(scope)
        peer = peer_of(scope)
        got = await read_json(
            self.platform, self.op.rpc, self.op.request, receive, send, head, peer, self.body_timeout_s
        )
        if got is None:
            return
        request, size, raw, device = got
        try:
            response = await self.platform.call(
                self.op.rpc,
                request,
                device_id=head.device_id,
                token=head.token,
                peer=peer,
                size=size,
                peer_identities=head.identities,
                raw=raw,
                device=device,
            )
        except PlatformError as e:
            await send_error(send, e)
            return
        await send_json(send, 200, response_body(response))


class _PlatformInfo:
    """``GET /v1/platform/info``: GetPlatformInfo, no credentials (ST-IFACE-008)."""

    def __init__(self, platform: Platform) -> None:
        self.platform = platform

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        head = Head(scope)
        request = message_class("GetPlatformInfoRequest")()
        try:
            response = await self.platform.call(
                "GetPlatformInfo", request, device_id=head.device_id, token=head.token, peer=peer_of(scope)
            )
        except PlatformError as e:
            await send_error(send, e)
            return
        await send_json(send, 200, dumps(to_dict(response)))


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
        head = Head(scope)
        peer = peer_of(scope)
        wait = _wait_seconds(scope.get("query_string", b""))
        p = self.platform
        dev = await commands_device(p, head, peer, send)
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
            await send_error(send, err)
            return
        commands = await self._collect(dev, wait, receive, peer)
        if commands is None:  # the client left: the commands go back to the queue
            return
        body = dumps({"commands": [to_dict(c.command) for c in commands]})
        await send_json(send, 200, body)

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
        head = Head(scope)
        peer = peer_of(scope)
        got = await read_json(
            self.platform, "Commands", "CommandResult", receive, send, head, peer, self.body_timeout_s
        )
        if got is None:
            return
        result, _, _, _ = got
        p = self.platform
        dev = await commands_device(p, head, peer, send)
        if dev is None:
            return
        request = message_class("CommandsRequest")(result=result)
        bad = must_violations(
            validate(request, p.context(dev))  # under the session's negotiated version (ST-DATA-034)
        )
        if bad:
            err = PlatformError(
                "INVALID_ARGUMENT", "命令结果不符合规范", "the command result violates the specification", bad
            )
            p.log_event(
                dev.device_id, "Commands", "REJECTED", err.code, err.message_en, peer=peer, violations=bad
            )
            await send_error(send, err)
            return
        try:
            await p.command_result(dev, request, peer)
        except PlatformError as e:  # another device's or an unknown command (ST-PROTO-034)
            await send_error(send, e)
            return
        await send_json(send, 200, dumps({"command_id": result.command_id, "accepted": True}))  # type: ignore[attr-defined]


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
        head = Head(scope)
        expected = self.platform.config.inspection_token.encode("utf-8")
        given = (head.inspection_token or "").encode("latin-1")
        if not hmac.compare_digest(given, expected):
            await send_error(
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
                await send_error(send, unsupported_media(head.content_type), close=True)
                return
            try:
                body = await read_body(
                    receive, body_limit(self.platform), head.content_length, self.body_timeout_s
                )
                args = json.loads(body.decode("utf-8")) if body.strip() else {}
            except Disconnected:
                return
            except PlatformError as e:
                await send_error(send, e, close=True)
                return
            except (UnicodeDecodeError, ValueError, RecursionError) as e:
                err = PlatformError(
                    "INVALID_ARGUMENT", "请求体不是合法的 JSON", f"the body is not well-formed JSON: {e}"
                )
                await send_error(send, err)
                return
            if not isinstance(args, dict):
                await send_error(
                    send,
                    PlatformError(
                        "INVALID_ARGUMENT", "参数须为 JSON 对象", "arguments must be a JSON object"
                    ),
                )
                return
        else:
            if self.kind == "inspect" and op in self.MUTATING:
                await send_error(
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
            await send_error(send, e)
            return
        except (
            ValueError,
            TypeError,
            KeyError,
            OverflowError,
        ) as e:  # bad arguments the operation did not catch
            await send_error(send, PlatformError("INVALID_ARGUMENT", f"参数错误：{e}", f"bad arguments: {e}"))
            return
        await send_json(send, 200, json.dumps(result, ensure_ascii=False, default=str).encode("utf-8"))


def _openapi_endpoint() -> Callable[[Request], Awaitable[Response]]:
    body = dumps(openapi_document())

    async def openapi(request: Request) -> Response:
        return Response(body, media_type="application/json")

    return openapi


async def _http_exception(request: Request, exc: Exception) -> Response:
    status = getattr(exc, "status_code", 400)
    code = {404: "NOT_FOUND", 405: "UNIMPLEMENTED"}.get(status, "INVALID_ARGUMENT")
    detail = getattr(exc, "detail", "") or ""
    headers = dict(getattr(exc, "headers", None) or {})
    return Response(
        dumps(status_dict(GRPC_CODES[code], f"{status} {detail}".strip())),
        status,
        headers,
        media_type="application/json",
    )


class _App(Starlette):
    """The Starlette app, with the device RPCs' POST routes looked up by their exact path first: those endpoints
    answer every error themselves, so Starlette's router and exception middleware would only add calls to every
    upload and to each of its ``send``s. Every other request (another method, a path with a trailing slash, a
    ``root_path``) goes through Starlette as before."""

    def __init__(self, device_routes: dict[str, _DeviceCall], **kw: Any) -> None:
        super().__init__(**kw)
        self.device_routes = device_routes

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http" and scope["method"] == "POST" and not scope.get("root_path"):
            endpoint = self.device_routes.get(scope["path"])
            if endpoint is not None:
                await endpoint(scope, receive, send)
                return
        await super().__call__(scope, receive, send)


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
    device_routes = {op.path: _DeviceCall(platform, op, t) for op in DEVICE_OPERATIONS}
    routes[:0] = [Route(path, call, methods=["POST"]) for path, call in device_routes.items()]
    routes += [
        Route("/inspect/{op}", _Admin(platform, "inspect", t), methods=["GET", "POST"]),
        Route("/faults", _Admin(platform, "faults", t), methods=["GET"]),
        Route("/faults/{op}", _Admin(platform, "faults", t), methods=["GET", "POST"]),
    ]
    app = _App(device_routes, routes=routes, exception_handlers={HTTPException: _http_exception})
    app.state.platform = platform
    app.state.stopping = stopping
    return app
