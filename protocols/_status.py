"""Status codes of the interface: one table of every gRPC code and HTTP status, and what a device does on each.

The one copy of the code ↔ number ↔ HTTP tables (ST-IFACE-015) and of the retry classification (ST-PROTO-014,
-015, -016, -035): the platform client, the mock platform and the conformance suite all read it, and
``scripts/generate.py`` renders it into SPEC.md. It imports nothing, so the generator can load it from its file.

Example::

    action("INTERNAL")                                        # Action.RETRY: not acknowledged → resent
    action("INVALID_ARGUMENT", violations=("ST-DATA-031",))   # Action.FINAL: a rejection on content
    action(None, http_status=409)                             # Action.REREGISTER (no code in the body)
    is_outage("DEADLINE_EXCEEDED")                            # True: store and forward, flag new data backfill
"""

from __future__ import annotations

import enum
from collections.abc import Iterable
from dataclasses import dataclass

__all__ = [
    "GRPC_CODE_BY_HTTP",
    "GRPC_CODE_NAMES",
    "GRPC_CODES",
    "HTTP_STATUS",
    "REJECTION_CODES",
    "STATUS_TABLE",
    "Action",
    "StatusRow",
    "action",
    "is_outage",
    "rejection_code",
]


class Action(enum.Enum):
    """What a device does with an upload after a failed call (ST-PROTO-015/016)."""

    #: Keep it queued; wait (full-jitter exponential back-off, at least the retry advice) and resend it unchanged.
    RETRY = "retry"
    #: Keep it queued; register again (and define the points again), then resend it unchanged.
    REREGISTER = "reregister"
    #: A definitive rejection: never resend it unchanged; set it aside (dead letters) with its violations.
    FINAL = "final"
    #: Credentials or identity refused: keep it queued, never dead-letter it; back off long (the cap) and tell
    #: the operator.
    HOLD = "hold"


@dataclass(frozen=True)
class StatusRow:
    """One gRPC code: its number, its HTTP status, the device's action, whether it means an outage."""

    code: str
    number: int
    http_status: int
    action: Action
    outage: bool
    when_zh: str
    when_en: str


_R, _RR, _F, _H = Action.RETRY, Action.REREGISTER, Action.FINAL, Action.HOLD

#: Every gRPC code (google.rpc.Code) in number order.
STATUS_TABLE: tuple[StatusRow, ...] = (
    StatusRow("OK", 0, 200, _F, False, "成功（确认见 Ack 状态）", "success (the Ack status tells the outcome)"),
    StatusRow("CANCELLED", 1, 499, _R, False, "调用被取消", "the call was cancelled"),
    StatusRow("UNKNOWN", 2, 500, _R, False, "未知错误，上传可能未存储", "unknown error; the upload may not be stored"),
    StatusRow("INVALID_ARGUMENT", 3, 400, _F, False, "违反条款（带违例时为最终拒收；无违例时重试）",
              "clause violations (final when it carries violations; retried without)"),
    StatusRow("DEADLINE_EXCEEDED", 4, 504, _R, True, "超时，平台不可达", "timed out: the platform is unreachable"),
    StatusRow("NOT_FOUND", 5, 404, _R, False, "未找到（如代理配置错误）", "not found (e.g. a misrouted proxy)"),
    StatusRow("ALREADY_EXISTS", 6, 409, _F, False, "序号冲突：同一序号已存储了不同内容（ST-PROTO-031）",
              "sequence conflict: other content is stored under this sequence (ST-PROTO-031)"),
    StatusRow("PERMISSION_DENIED", 7, 403, _H, False, "身份与凭据不符", "identity does not match the credentials"),
    StatusRow("RESOURCE_EXHAUSTED", 8, 429, _R, False, "超出频率限制（413 超出大小限制为最终拒收）",
              "rate limit (413, a size limit, is final)"),
    StatusRow("FAILED_PRECONDITION", 9, 409, _RR, False, "未注册或会话失效", "not registered or session expired"),
    StatusRow("ABORTED", 10, 409, _R, False, "并发冲突，可重试", "aborted by concurrency; retry"),
    StatusRow("OUT_OF_RANGE", 11, 400, _R, False, "超出范围（无违例）", "out of range (no violations)"),
    StatusRow("UNIMPLEMENTED", 12, 501, _R, False, "平台未实现该方法", "the platform does not implement the method"),
    StatusRow("INTERNAL", 13, 500, _R, False, "平台内部错误，上传可能未存储", "internal error; the upload may not be stored"),
    StatusRow("UNAVAILABLE", 14, 503, _R, True, "平台暂不可用", "the platform is unavailable"),
    StatusRow("DATA_LOSS", 15, 500, _R, False, "平台数据损坏", "data loss on the platform"),
    StatusRow("UNAUTHENTICATED", 16, 401, _H, False, "缺少或错误的凭据", "credentials missing or wrong"),
)  # fmt: skip

_BY_CODE = {r.code: r for r in STATUS_TABLE}

#: gRPC code name → number.
GRPC_CODES: dict[str, int] = {r.code: r.number for r in STATUS_TABLE}
#: gRPC code number → name.
GRPC_CODE_NAMES: dict[int, str] = {r.number: r.code for r in STATUS_TABLE}
#: gRPC code name → the HTTP status the platform answers with (ST-IFACE-015; a size limit answers 413).
HTTP_STATUS: dict[str, int] = {r.code: r.http_status for r in STATUS_TABLE}
#: HTTP status → gRPC code, for an HTTP error whose body names no code (a proxy's answer, say).
GRPC_CODE_BY_HTTP: dict[int, str] = {
    400: "INVALID_ARGUMENT",
    401: "UNAUTHENTICATED",
    403: "PERMISSION_DENIED",
    404: "NOT_FOUND",
    408: "DEADLINE_EXCEEDED",
    409: "FAILED_PRECONDITION",
    413: "RESOURCE_EXHAUSTED",
    415: "INVALID_ARGUMENT",
    429: "RESOURCE_EXHAUSTED",
    499: "CANCELLED",
    500: "INTERNAL",
    501: "UNIMPLEMENTED",
    502: "UNAVAILABLE",
    503: "UNAVAILABLE",
    504: "DEADLINE_EXCEEDED",
}

#: HTTP statuses that are final whatever the body says: 413, the same body stays too large (ST-PROTO-009).
FINAL_HTTP = frozenset({413})


def _code_of(code: str | None, http_status: int | None) -> str:
    if code in _BY_CODE:
        return code  # type: ignore[return-value]
    if http_status is None:
        return "UNKNOWN"
    if http_status in GRPC_CODE_BY_HTTP:
        return GRPC_CODE_BY_HTTP[http_status]
    return "UNAVAILABLE" if http_status >= 500 else "UNKNOWN"


def action(code: str | None, http_status: int | None = None, violations: Iterable[object] = ()) -> Action:
    """The device's action after a failed call: the gRPC code decides (an HTTP error body carries it); an HTTP
    status without a code is read through :data:`GRPC_CODE_BY_HTTP`. INVALID_ARGUMENT is final only with
    violations; a 413 is final."""
    if http_status in FINAL_HTTP:
        return Action.FINAL
    name = _code_of(code, http_status)
    row = _BY_CODE[name]
    if name == "INVALID_ARGUMENT" and not any(True for _ in violations):
        return Action.RETRY
    if name == "OK":
        return Action.RETRY  # an error report with code OK is no acknowledgement
    return row.action


#: An Ack REJECTED (on a stream, where there is no status per batch) that names only these clauses answers a limit
#: that passes, not the content: it means the code a unary call gets, and the device acts on that code's row.
REJECTION_CODES: dict[str, str] = {
    "ST-PROTO-010": "RESOURCE_EXHAUSTED"
}  # the upload rate → retry after back-off


def rejection_code(clause_ids: Iterable[str]) -> str | None:
    """The gRPC code an Ack REJECTED stands for when every violation it carries names one clause of
    :data:`REJECTION_CODES` (``"RESOURCE_EXHAUSTED"`` for the rate limit, ST-PROTO-010); None for a rejection on
    content, which is final."""
    codes = {REJECTION_CODES.get(c) for c in clause_ids}
    return codes.pop() if len(codes) == 1 and None not in codes else None


def is_outage(code: str | None, http_status: int | None = None) -> bool:
    """True when the failure means the platform is unreachable (data produced meanwhile is backfill)."""
    return _BY_CODE[_code_of(code, http_status)].outage


def render_markdown() -> list[str]:
    """The table as Markdown lines (SPEC.md)."""
    zh = {
        Action.RETRY: "重试",
        Action.REREGISTER: "重新注册后重发",
        Action.FINAL: "最终拒收",
        Action.HOLD: "保留并长退避",
    }
    lines = [
        "| gRPC | 编号 No. | HTTP | 设备动作 Device action | 断线 Outage | 含义 Meaning |",
        "|---|---|---|---|---|---|",
    ]
    for r in STATUS_TABLE[1:]:
        act = f"{zh[r.action]} {r.action.value}"
        lines.append(
            f"| {r.code} | {r.number} | {r.http_status} | {act} | {'是 yes' if r.outage else '否 no'} |"
            f" {r.when_zh} / {r.when_en} |"
        )
    lines += [
        "",
        "无状态码的 HTTP 响应按下表解读；其余 5xx 视为 UNAVAILABLE。/ An HTTP error without a code in its body is "
        "read as below; any other 5xx as UNAVAILABLE. 连接失败视为 UNAVAILABLE（断线）/ a failed connection counts "
        "as UNAVAILABLE (outage).",
        "",
        "| HTTP | gRPC |",
        "|---|---|",
        *(f"| {s} | {c} |" for s, c in GRPC_CODE_BY_HTTP.items()),
    ]
    return lines
