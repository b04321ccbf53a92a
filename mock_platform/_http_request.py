"""Requests of the HTTP/JSON transport: the headers it reads, content type (ST-IFACE-009), the body read
incrementally under a size cap (413, ST-PROTO-009) and a deadline (408), and :func:`read_json`, which checks the
credentials on the headers before a byte of the body is read (ST-PROTO-033) and decodes the body with the one
validation core (``santong.protocols.decode_json``).

Example::

    got = await read_json(platform, "ReportObservations", "ReportObservationsRequest", receive, send,
                          Head(scope), peer_of(scope), BODY_TIMEOUT_S)
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, MutableMapping
from typing import TYPE_CHECKING, Any

from google.protobuf.message import Message
from santong.mock_platform._errors import PlatformError
from santong.mock_platform._http_json import JSON_MEDIA, send_error, transport_error
from santong.mock_platform._http_server import BODY_COMPLETE, CONNECTION_MEMO, PEER_IDENTITIES
from santong.protocols import ValidationError
from santong.protocols._codec import decode_json_encoded

if TYPE_CHECKING:
    from santong.mock_platform._devices import Device
    from santong.mock_platform._service import Platform

__all__ = [
    "BODY_TIMEOUT_S",
    "Disconnected",
    "Head",
    "body_limit",
    "commands_device",
    "json_content_type",
    "peer_of",
    "read_body",
    "read_json",
    "refuse",
    "unsupported_media",
]

Scope = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[MutableMapping[str, Any]]]
Send = Callable[[MutableMapping[str, Any]], Awaitable[None]]

BODY_TIMEOUT_S = 30.0
HARD_BODY_LIMIT = 64 * 1024 * 1024  # when Limits.max_message_bytes is 0 (no limit): bodies are still bounded


# --------------------------------------------------------------------------- request parsing


async def commands_device(platform: Platform, head: Head, peer: str, send: Send) -> Any:
    """The device of a commands request (credentials, registration, faults), or None after sending the error."""
    try:
        return await platform.open_stream(
            "Commands", device_id=head.device_id, token=head.token, peer=peer, peer_identities=head.identities
        )
    except PlatformError as e:
        await send_error(send, e)
        return None


class Head:
    """The headers of a request the transport cares about."""

    __slots__ = (
        "content_type", "content_length", "device_id", "token", "inspection_token", "identities", "body_complete",
        "memo",
    )  # fmt: skip

    def __init__(self, scope: Scope) -> None:
        extensions = scope.get("extensions")
        # Names of the verified client certificate under mutual TLS (see guarded_protocol), else None.
        self.identities: list[str] | None = extensions.get(PEER_IDENTITIES) if extensions else None
        # The whole body has arrived already (guarded_protocol says so): reading it needs no deadline.
        self.body_complete = extensions is not None and BODY_COMPLETE in extensions
        # What the platform remembers for this connection (see guarded_protocol), else None.
        self.memo: dict[str, Any] | None = extensions.get(CONNECTION_MEMO) if extensions else None
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
    if media.strip().lower() != JSON_MEDIA:
        return False
    for p in params:
        key, _, val = p.strip().partition(b"=")
        if key.strip().lower() == b"charset" and val.strip().strip(b'"').lower() != b"utf-8":
            return False
    return True


class Disconnected(Exception):
    """The client went away before the body was complete."""


async def read_body(
    receive: Receive,
    limit: int,
    declared: int | None,
    timeout_s: float = BODY_TIMEOUT_S,
    *,
    complete: bool = False,
) -> bytes:
    """The request body, read incrementally: 413 past ``limit`` bytes, 408 past ``timeout_s``. ``complete``: the
    whole body has arrived (``Head.body_complete``), so that no deadline is set.

    Raises PlatformError (413/408) or Disconnected; never holds more than ``limit`` bytes.
    """
    if declared is not None and declared > limit:
        raise too_large(declared, limit)
    if complete:
        return await _read(receive, limit)
    try:
        async with asyncio.timeout(timeout_s):
            return await _read(receive, limit)
    except TimeoutError:
        raise PlatformError(
            "DEADLINE_EXCEEDED",
            f"请求体未在 {timeout_s:g} s 内到达",
            f"the request body did not arrive within {timeout_s:g} s",
            http_status=408,
        ) from None


async def _read(receive: Receive, limit: int) -> bytes:
    chunks: list[bytes] = []
    size = 0
    while True:
        msg = await receive()
        if msg["type"] == "http.disconnect":
            raise Disconnected
        chunk = msg.get("body", b"")
        if chunk:
            size += len(chunk)
            if size > limit:
                raise too_large(size, limit)
            chunks.append(chunk)
        if not msg.get("more_body", False):
            return chunks[0] if len(chunks) == 1 else b"".join(chunks)


def too_large(size: int, limit: int) -> PlatformError:
    return transport_error(
        "RESOURCE_EXHAUSTED", 413, "ST-PROTO-009", "$",
        f"请求体至少 {size} 字节，超过上限 {limit} 字节", f"the body has at least {size} bytes, above the limit of {limit} bytes",
    )  # fmt: skip


def peer_of(scope: Scope) -> str:
    client = scope.get("client")
    if not client:
        return ""
    host, port = client[0], client[1]
    return f"ipv6:[{host}]:{port}" if ":" in host else f"ipv4:{host}:{port}"


def body_limit(platform: Platform) -> int:
    limit = int(platform.limits.max_message_bytes)
    return limit if limit > 0 else HARD_BODY_LIMIT


async def refuse(
    platform: Platform, method: str, error: PlatformError, head: Head, peer: str
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


def invalid_json(e: ValidationError) -> PlatformError:
    return PlatformError(
        "INVALID_ARGUMENT", "请求体不是合法的 JSON 消息", "the body is not a valid JSON message", e.violations
    )


def unsupported_media(content_type: bytes | None) -> PlatformError:
    shown = content_type.decode("latin-1") if content_type else "（无 none）"
    return transport_error(
        "INVALID_ARGUMENT", 415, "ST-IFACE-009", "$",
        f"内容类型 {shown} 不是 application/json（UTF-8）", f"content type {shown} is not application/json (UTF-8)",
    )  # fmt: skip


async def read_json(
    platform: Platform,
    method: str,
    message_name: str,
    receive: Receive,
    send: Send,
    head: Head,
    peer: str,
    timeout_s: float,
) -> tuple[Message, int, bytes | None, Device | None] | None:
    """Credentials, content type, body and ``decode_json_encoded``: (message, body size, the protobuf encoding of an
    observation upload or None, the device the credentials are of as ``Platform.gate`` returned it); on failure
    the error is sent and None returned.

    Credentials are checked on the headers before a byte of the body is read (ST-PROTO-033): an unauthenticated
    peer gets its 401 and the connection closes, the body unread."""
    try:
        device = platform.gate(method, head.device_id, head.token, peer, head.identities, head.memo)
    except PlatformError as e:
        await send_error(send, e, close=True)
        return None
    if not json_content_type(head.content_type):
        # The unread body must not be parsed as the next request: the connection closes after the answer.
        await send_error(
            send,
            await refuse(platform, method, unsupported_media(head.content_type), head, peer),
            close=True,
        )
        return None
    try:
        body = await read_body(
            receive, body_limit(platform), head.content_length, timeout_s, complete=head.body_complete
        )
    except Disconnected:
        return None
    except PlatformError as e:
        await send_error(send, await refuse(platform, method, e, head, peer), close=True)
        return None
    try:
        # An observation upload's encoding: the core reads column facts from it instead of copying the columns
        # (and remembers a device's alias and offset columns as encoded), the store keeps the batch as encoded.
        message, encoding = decode_json_encoded(body, message_name)
    except ValidationError as e:
        await send_error(send, await refuse(platform, method, invalid_json(e), head, peer))
        return None
    return message, len(body), encoding, device
