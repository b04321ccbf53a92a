"""JSON bodies of the HTTP/JSON transport: errors as ``google.rpc.Status`` (with ``BadRequest`` and ``RetryInfo``
details, ST-IFACE-003), acknowledgements without ``json_format`` on the hot path, and the ASGI answer helpers.

Example::

    await send_json(send, 200, dumps(response_dict(response)))
    await send_error(send, PlatformError("UNAUTHENTICATED", "凭据无效", "invalid credentials"), close=True)
"""

from __future__ import annotations

import datetime
import json
import math
from collections.abc import Awaitable, Callable, MutableMapping, Sequence
from typing import Any

from google.protobuf import duration_pb2
from google.protobuf.message import Message
from santong.mock_platform._errors import GRPC_CODES, PlatformError, violation
from santong.protocols import ValidationError, Violation, to_dict
from santong.protocols.v1 import device_access_pb2

__all__ = [
    "dumps",
    "response_body",
    "response_dict",
    "send_error",
    "send_json",
    "status_body",
    "status_dict",
    "timestamp_json",
    "transport_error",
]

Send = Callable[[MutableMapping[str, Any]], Awaitable[None]]

BAD_REQUEST_TYPE = "type.googleapis.com/google.rpc.BadRequest"
RETRY_INFO_TYPE = "type.googleapis.com/google.rpc.RetryInfo"

JSON_MEDIA = b"application/json"
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
    return dumps(d)


def dumps(d: Any) -> bytes:
    return json.dumps(d, ensure_ascii=False, separators=(",", ":")).encode("utf-8")


def transport_error(
    code: str, http_status: int, clause_id: str, path: str, zh: str, en: str
) -> PlatformError:
    return PlatformError(code, zh, en, [violation(clause_id, path, zh, en)], http_status=http_status)


# --------------------------------------------------------------------------- responses


_EPOCH = datetime.datetime(1970, 1, 1)
_MIN_S, _MAX_S = -62_135_596_800, 253_402_300_799  # 0001-01-01T00:00:00Z, 9999-12-31T23:59:59Z
_second: tuple[int, str] = (0, "1970-01-01T00:00:00")  # the last whole second written, and its text


def timestamp_json(ts: Any) -> str:
    """``ts.ToJsonString()`` (a google.protobuf.Timestamp): the same text, its whole-second part remembered
    (acknowledgements of one second share it); out of range, ToJsonString's own error."""
    seconds, nanos = ts.seconds, ts.nanos
    if not (_MIN_S <= seconds <= _MAX_S and 0 <= nanos < 1_000_000_000):
        return str(ts.ToJsonString())
    global _second
    memo = _second
    if memo[0] != seconds:
        memo = _second = (seconds, (_EPOCH + datetime.timedelta(seconds=seconds)).isoformat())
    if not nanos:
        return memo[1] + "Z"
    if not nanos % 1_000_000:
        return f"{memo[1]}.{nanos // 1_000_000:03d}Z"
    if not nanos % 1000:
        return f"{memo[1]}.{nanos // 1000:06d}Z"
    return f"{memo[1]}.{nanos:09d}Z"


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


def response_body(message: Message) -> bytes:
    """``dumps(response_dict(message))``: an acknowledgement without violations (every accepted upload) written
    straight to bytes, the same bytes (tests compare them)."""
    if message.DESCRIPTOR.name in _ACK_RESPONSES and message.HasField("ack"):  # type: ignore[attr-defined]
        ack = message.ack  # type: ignore[attr-defined]
        if not ack.violations and (not ack.status or ack.status in _ACK_STATUS):
            parts = []
            if ack.sequence:
                parts.append(f'"sequence":"{ack.sequence}"')
            if ack.status:
                parts.append(f'"status":"{_ACK_STATUS[ack.status]}"')
            if ack.accepted:
                parts.append(f'"accepted":{ack.accepted}')
            if ack.HasField("server_time"):
                parts.append(f'"server_time":"{timestamp_json(ack.server_time)}"')
            return ('{"ack":{' + ",".join(parts) + "}}").encode()
    return dumps(response_dict(message))


async def send_json(
    send: Send,
    status: int,
    body: bytes,
    headers: list[tuple[bytes, bytes]] | None = None,
    close: bool = False,
) -> None:
    h = [(b"content-type", JSON_MEDIA), (b"content-length", str(len(body)).encode())]
    if headers:
        h.extend(headers)
    if close:
        h.append(_CLOSE)
    await send({"type": "http.response.start", "status": status, "headers": h})
    await send({"type": "http.response.body", "body": body})


async def send_error(send: Send, error: PlatformError | ValidationError, close: bool = False) -> None:
    headers = []
    status = error.http_status
    if isinstance(error, PlatformError) and error.retry_after_s is not None:
        headers.append((b"retry-after", str(max(0, math.ceil(error.retry_after_s))).encode()))
    await send_json(send, status, status_body(error), headers, close)
