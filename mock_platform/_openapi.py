"""The OpenAPI 3.1 document of the HTTP/JSON transport, generated from the interface's JSON Schemas.

``components/schemas`` holds every message schema of ``santong.protocols`` (their ``#/$defs/X`` references
rewritten to ``#/components/schemas/X``), plus ``google.rpc.Status`` for errors; the operations are the device
RPCs of ``DeviceAccessService`` and ``PlatformService`` with bilingual summaries.

Example::

    doc = openapi_document()
    doc["paths"]["/v1/device/report-observations"]["post"]["operationId"]  # 'ReportObservations'
"""

from __future__ import annotations

import copy
from dataclasses import dataclass
from functools import cache
from typing import Any

from santong.protocols import load_schema, schema_names, spec_version

__all__ = ["DEVICE_OPERATIONS", "ERROR_STATUSES", "Operation", "openapi_document"]


@dataclass(frozen=True, slots=True)
class Operation:
    """One device RPC as an HTTP route: ``POST /v1/device/{slug}``."""

    slug: str
    rpc: str
    request: str
    response: str
    summary_zh: str
    summary_en: str
    clauses: tuple[str, ...] = ()

    @property
    def path(self) -> str:
        """The HTTP path of the operation."""
        return f"/v1/device/{self.slug}"


DEVICE_OPERATIONS: tuple[Operation, ...] = (
    Operation("register", "Register", "RegisterRequest", "RegisterResponse",
              "注册：身份、版本协商，返回限值与间隔", "Open a session: identity, version negotiation, the limits and intervals to use",
              ("ST-IFACE-001", "ST-IFACE-019", "ST-PROTO-004")),
    Operation("define-points", "DefinePoints", "DefinePointsRequest", "DefinePointsResponse",
              "定义（或重新定义）测点与分站；须先于这些测点的观测值", "Define (or redefine) points and outstations; must precede observations of those points",
              ("ST-PROTO-024",)),
    Operation("report-observations", "ReportObservations", "ReportObservationsRequest", "ReportObservationsResponse",
              "上报一个观测批次，得到一个确认", "Report one observation batch; one acknowledgement",
              ("ST-IFACE-006", "ST-PROTO-012")),
    Operation("report-alarms", "ReportAlarms", "ReportAlarmsRequest", "ReportAlarmsResponse",
              "报出与解除报警和异常", "Raise and clear alarms and anomalies", ("ST-IFACE-006",)),
    Operation("report-outstation-status", "ReportOutstationStatus", "ReportOutstationStatusRequest", "ReportOutstationStatusResponse",
              "上报分站运行与供电状态", "Report outstation run and power states", ("ST-IFACE-006",)),
    Operation("report-statistics", "ReportStatistics", "ReportStatisticsRequest", "ReportStatisticsResponse",
              "上报时段统计", "Report statistics over periods", ("ST-IFACE-006",)),
    Operation("define-positioning", "DefinePositioning", "DefinePositioningRequest", "DefinePositioningResponse",
              "定义人员定位区域与基站", "Define personnel areas and base stations"),
    Operation("report-personnel", "ReportPersonnel", "ReportPersonnelRequest", "ReportPersonnelResponse",
              "上报人员位置与基站状态", "Report personnel positions and base-station states", ("ST-IFACE-006",)),
    Operation("heartbeat", "Heartbeat", "HeartbeatRequest", "HeartbeatResponse",
              "保持会话；平台回复其时间", "Keep the session alive; the platform answers with its time", ("ST-IFACE-017", "ST-PROTO-005")),
)  # fmt: skip

# HTTP error statuses of device calls and what they mean (ST-IFACE-015).
ERROR_STATUSES: dict[int, tuple[str, str]] = {
    400: ("违反条款（INVALID_ARGUMENT）", "clause violations (INVALID_ARGUMENT)"),
    401: ("缺少或错误的凭据（UNAUTHENTICATED）", "missing or wrong credentials (UNAUTHENTICATED)"),
    403: (
        "身份与凭据不符（PERMISSION_DENIED）",
        "identity does not match the credentials (PERMISSION_DENIED)",
    ),
    404: ("没有该命令（NOT_FOUND，ST-PROTO-034）", "no such command (NOT_FOUND, ST-PROTO-034)"),
    408: ("请求体未在时限内到达", "the request body did not arrive in time"),
    409: (
        "未注册或版本未协商（FAILED_PRECONDITION），或序号冲突（ALREADY_EXISTS，ST-PROTO-031）；响应体的 code 区分二者",
        "not registered or no negotiated version (FAILED_PRECONDITION), or a sequence conflict (ALREADY_EXISTS, "
        "ST-PROTO-031); the code in the body tells them apart",
    ),
    413: ("超出大小限制（RESOURCE_EXHAUSTED）", "size limit exceeded (RESOURCE_EXHAUSTED)"),
    415: (
        "内容类型不是 application/json（ST-IFACE-009）",
        "content type is not application/json (ST-IFACE-009)",
    ),
    429: (
        "超出频率限制（RESOURCE_EXHAUSTED），见 Retry-After",
        "rate limit exceeded (RESOURCE_EXHAUSTED); see Retry-After",
    ),
    503: (
        "平台暂不可用（UNAVAILABLE），见 Retry-After",
        "platform unavailable (UNAVAILABLE); see Retry-After",
    ),
}

_REF_PREFIX = "#/$defs/"
_COMPONENTS = "#/components/schemas/"

_STATUS_SCHEMAS: dict[str, Any] = {
    "Status": {
        "type": "object",
        "description": "google.rpc.Status 的 JSON 形式 / the JSON form of google.rpc.Status (ST-IFACE-003)",
        "required": ["code", "message"],
        "properties": {
            "code": {"type": "integer", "description": "google.rpc.Code"},
            "message": {"type": "string"},
            "details": {"type": "array", "items": {"$ref": f"{_COMPONENTS}StatusDetail"}},
        },
    },
    "StatusDetail": {
        "type": "object",
        "required": ["@type"],
        "properties": {
            "@type": {"type": "string"},
            "fieldViolations": {"type": "array", "items": {"$ref": f"{_COMPONENTS}FieldViolation"}},
            "retryDelay": {"type": "string", "pattern": "^[0-9]+(\\.[0-9]+)?s$"},
        },
    },
    "FieldViolation": {
        "type": "object",
        "description": "google.rpc.BadRequest.FieldViolation；reason 为条款编号 / reason is the clause ID",
        "required": ["field", "description", "reason"],
        "properties": {
            "field": {"type": "string"},
            "description": {"type": "string"},
            "reason": {"type": "string", "pattern": "^ST-[A-Z]+-[0-9]{3}$"},
        },
    },
    "CommandList": {
        "type": "object",
        "description": "待执行的下行命令 / pending downlink commands",
        "additionalProperties": False,
        "properties": {"commands": {"type": "array", "items": {"$ref": f"{_COMPONENTS}Command"}}},
    },
    "CommandResultAck": {
        "type": "object",
        "description": "命令结果已收到 / the command result was received",
        "properties": {"command_id": {"type": "string"}, "accepted": {"type": "boolean"}},
    },
}


def _rewrite(node: Any) -> Any:
    """Copy of a schema node with ``#/$defs/X`` refs pointing at ``#/components/schemas/X``."""
    if isinstance(node, dict):
        out = {}
        for k, v in node.items():
            if k == "$ref" and isinstance(v, str) and v.startswith(_REF_PREFIX):
                out[k] = _COMPONENTS + v[len(_REF_PREFIX) :]
            else:
                out[k] = _rewrite(v)
        return out
    if isinstance(node, list):
        return [_rewrite(v) for v in node]
    return node


def component_schemas() -> dict[str, Any]:
    """Every message schema as an OpenAPI component, refs rewritten, ``$defs`` hoisted."""
    out: dict[str, Any] = {}
    hoisted: dict[str, Any] = {}
    for name in schema_names():
        schema = copy.deepcopy(load_schema(name))
        for key in ("$schema", "$id"):
            schema.pop(key, None)
        for def_name, def_schema in schema.pop("$defs", {}).items():
            hoisted.setdefault(def_name, def_schema)
        out[name] = _rewrite(schema)
    for def_name, def_schema in hoisted.items():
        out.setdefault(def_name, _rewrite(def_schema))
    out.update(copy.deepcopy(_STATUS_SCHEMAS))
    return dict(sorted(out.items()))


def _json(ref: str) -> dict[str, Any]:
    return {"application/json": {"schema": {"$ref": _COMPONENTS + ref}}}


def _errors(statuses: tuple[int, ...]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for status in statuses:
        zh, en = ERROR_STATUSES[status]
        resp: dict[str, Any] = {"description": f"{zh} / {en}", "content": _json("Status")}
        if status in (429, 503):
            resp["headers"] = {
                "Retry-After": {"description": "秒 / seconds", "schema": {"type": "integer", "minimum": 0}}
            }
        out[str(status)] = resp
    return out


_DEVICE_ERRORS = (400, 401, 403, 408, 409, 413, 415, 429, 503)
_DEVICE_HEADER = {
    "name": "x-santong-device-id",
    "in": "header",
    "required": True,
    "description": "设备标识（与令牌一起认证，ST-PROTO-001）/ the device id (authenticated with the token, ST-PROTO-001)",
    "schema": {"type": "string"},
}


@cache
def openapi_document() -> dict[str, Any]:
    """The OpenAPI 3.1 document (built once; callers must not mutate it)."""
    paths: dict[str, Any] = {
        "/v1/platform/info": {
            "get": {
                "operationId": "GetPlatformInfo",
                "summary": "平台信息：规范版本、限值、能力（无需凭据）/ Platform info: spec version, limits, capabilities (no credentials)",
                "description": "ST-IFACE-008",
                "tags": ["platform"],
                "security": [],
                "responses": {
                    "200": {"description": "OK", "content": _json("GetPlatformInfoResponse")},
                    **_errors((429, 503)),
                },
            }
        }
    }
    for op in DEVICE_OPERATIONS:
        paths[op.path] = {
            "post": {
                "operationId": op.rpc,
                "summary": f"{op.summary_zh} / {op.summary_en}",
                "description": f"gRPC: santong.protocols.v1.DeviceAccessService/{op.rpc}. "
                f"请求体为 {op.request} 的 JSON 形式 / the body is the JSON form of {op.request}."
                + (f" 条款 Clauses: {', '.join(op.clauses)}." if op.clauses else ""),
                "tags": ["device"],
                "parameters": [_DEVICE_HEADER],
                "requestBody": {"required": True, "content": _json(op.request)},
                "responses": {
                    "200": {"description": "OK", "content": _json(op.response)},
                    **_errors(_DEVICE_ERRORS),
                },
            }
        }
    paths["/v1/device/commands"] = {
        "get": {
            "operationId": "PollCommands",
            "summary": "长轮询待执行的下行命令 / Long-poll pending downlink commands",
            "description": "最多等待 wait 秒；无命令时返回空列表。每条命令须经 POST /v1/device/command-results 回复（ST-IFACE-011）。"
            " / Waits up to `wait` seconds; an empty list when none is pending. Answer each command with"
            " POST /v1/device/command-results (ST-IFACE-011).",
            "tags": ["device"],
            "parameters": [
                _DEVICE_HEADER,
                {
                    "name": "wait",
                    "in": "query",
                    "required": False,
                    "description": "最长等待秒数 / longest wait in seconds",
                    "schema": {"type": "number", "minimum": 0, "maximum": 60},
                },
            ],
            "responses": {
                "200": {"description": "OK", "content": _json("CommandList")},
                **_errors((400, 401, 409, 429, 503)),
            },
        }
    }
    paths["/v1/device/command-results"] = {
        "post": {
            "operationId": "ReportCommandResult",
            "summary": "回复一条下行命令的执行结果 / Answer one downlink command with its result",
            "description": "请求体为 CommandResult 的 JSON 形式（ST-IFACE-020）/ the body is the JSON form of CommandResult (ST-IFACE-020).",
            "tags": ["device"],
            "parameters": [_DEVICE_HEADER],
            "requestBody": {"required": True, "content": _json("CommandResult")},
            "responses": {
                "200": {"description": "OK", "content": _json("CommandResultAck")},
                **_errors(tuple(sorted((*_DEVICE_ERRORS, 404)))),
            },
        }
    }
    return {
        "openapi": "3.1.0",
        "jsonSchemaDialect": "https://json-schema.org/draft/2020-12/schema",
        "info": {
            "title": "santong 模拟平台 HTTP/JSON 接口 / santong mock platform HTTP/JSON API",
            "version": spec_version(),
            "description": "三统一设备接入接口的 HTTP/JSON 传输：与 gRPC 相同的操作、语义与错误（ST-IFACE-002）。"
            "错误体为 google.rpc.Status 的 JSON 形式，BadRequest 的 reason 为条款编号（ST-IFACE-003）。"
            " / The HTTP/JSON transport of the 三统一 device-access interface: the same operations, semantics and"
            " errors as gRPC (ST-IFACE-002). Error bodies are the JSON form of google.rpc.Status whose BadRequest"
            " reasons are clause IDs (ST-IFACE-003).",
        },
        "tags": [
            {"name": "platform", "description": "平台信息 / platform information"},
            {"name": "device", "description": "设备接口 / device calls (DeviceAccessService)"},
        ],
        "security": [{"deviceToken": []}],
        "paths": paths,
        "components": {
            "schemas": component_schemas(),
            "securitySchemes": {
                "deviceToken": {
                    "type": "http",
                    "scheme": "bearer",
                    "description": "设备令牌（authorization: Bearer …），与 x-santong-device-id 一起使用 / the device token, with x-santong-device-id",
                }
            },
        },
    }
