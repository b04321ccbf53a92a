"""Load scenarios: the file format, its JSON Schema, and the checks whose errors name file:line and the fix.

A scenario is YAML (or JSON); see docs/load.md for every key. Example::

    version: 1
    mines: 300                    # 煤矿数
    devices_per_mine: 4           # 每矿设备（分站）数
    points_per_device: 64         # 每台设备测点数
    interval_s: 10                # 上报周期（秒）
    profile: kj-substation        # 模拟器配置：测点类型、量程与取值
    ramp_up_s: 60
    duration_s: 600
    target:
      transport: grpc             # grpc | http
      url: staging.example.cn:443
      tls: true
      credentials_file: devices.yaml
    pass:
      ack_p50_ms: 200
      ack_p99_ms: 1000
      max_error_rate: 0.001
"""

from __future__ import annotations

import json
import os
import re
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from typing import Any

from santong.conformance._documents import ConfigError, Document, Problem, load_document

__all__ = ["SCHEMA", "Credentials", "Scenario", "load_credentials", "load_scenario"]

_URL = r"^(grpc|grpcs|http|https)://[^\s/]+(:[0-9]{1,5})?/?$|^[^\s/:]+:[0-9]{1,5}$"

SCHEMA: dict[str, Any] = {
    "$schema": "https://json-schema.org/draft/2020-12/schema",
    "$id": "https://santong.dev/schemas/load/v1/scenario.schema.json",
    "title": "santong 负载场景 / load scenario",
    "type": "object",
    "additionalProperties": False,
    "required": [
        "version",
        "mines",
        "devices_per_mine",
        "points_per_device",
        "interval_s",
        "duration_s",
        "target",
    ],
    "properties": {
        "$schema": {"type": "string"},
        "version": {"const": 1},
        "name": {"type": "string", "minLength": 1},
        "mines": {"type": "integer", "minimum": 1, "maximum": 999999},
        "devices_per_mine": {"type": "integer", "minimum": 1, "maximum": 999},
        "points_per_device": {"type": "integer", "minimum": 1, "maximum": 999},
        "interval_s": {"type": "number", "minimum": 0.1, "maximum": 3600},
        "profile": {"type": "string", "minLength": 1},
        "ramp_up_s": {"type": "number", "minimum": 0, "maximum": 86400},
        "duration_s": {"type": "number", "exclusiveMinimum": 0, "maximum": 604800},
        "device_prefix": {"type": "string", "pattern": "^[A-Za-z][A-Za-z0-9_.-]{0,15}$"},
        "province_code": {"type": "string", "pattern": "^[0-9]{6}$"},
        "target": {
            "type": "object",
            "additionalProperties": False,
            "required": ["transport", "url"],
            "properties": {
                "transport": {"enum": ["grpc", "http"]},
                "url": {"type": "string", "pattern": _URL},
                "tls": {"type": "boolean"},
                "ca_file": {"type": "string", "minLength": 1},
                "timeout_s": {"type": "number", "exclusiveMinimum": 0, "maximum": 600},
                "credentials_file": {"type": "string", "minLength": 1},
                "mock": {
                    "type": "object",
                    "additionalProperties": False,
                    "required": ["inspection_url"],
                    "properties": {
                        "inspection_url": {
                            "type": "string",
                            "pattern": "^https?://[^\\s/]+(:[0-9]{1,5})?/?$",
                        },
                        "inspection_token": {"type": "string", "minLength": 1},
                    },
                },
            },
            "oneOf": [{"required": ["credentials_file"]}, {"required": ["mock"]}],
        },
        "pass": {
            "type": "object",
            "additionalProperties": False,
            "properties": {
                "ack_p50_ms": {"type": "number", "exclusiveMinimum": 0},
                "ack_p99_ms": {"type": "number", "exclusiveMinimum": 0},
                "max_error_rate": {"type": "number", "minimum": 0, "maximum": 1},
                "store_matches_acks": {"type": "boolean"},
            },
        },
    },
}

_WHAT = ("负载场景", "load scenario")


@dataclass(frozen=True, slots=True)
class Scenario:
    """A checked load scenario (defaults filled in)."""

    path: Path
    name: str
    mines: int
    devices_per_mine: int
    points_per_device: int
    interval_s: float
    profile: str
    ramp_up_s: float
    duration_s: float
    device_prefix: str
    province_code: str
    transport: str
    url: str
    tls: bool
    ca_file: Path | None
    timeout_s: float
    credentials_file: Path | None
    inspection_url: str | None
    inspection_token: str | None
    ack_p50_ms: float | None
    ack_p99_ms: float | None
    max_error_rate: float
    store_matches_acks: bool

    @property
    def devices(self) -> int:
        """Devices in all (Locust users)."""
        return self.mines * self.devices_per_mine

    @property
    def offered_points_per_s(self) -> float:
        """Points per second the scenario offers once every device runs."""
        return self.devices * self.points_per_device / self.interval_s

    @property
    def spawn_rate(self) -> float:
        """Locust's --spawn-rate (users/s) that starts every device within ramp_up_s."""
        return float(self.devices) if self.ramp_up_s <= 0 else max(self.devices / self.ramp_up_s, 0.001)

    def device_id(self, index: int) -> str:
        """The ID of device ``index`` (0-based): PREFIX-MMMMMM-DDD."""
        mine, dev = divmod(index, self.devices_per_mine)
        return f"{self.device_prefix}-{mine + 1:06d}-{dev + 1:03d}"

    def mine_code(self, index: int) -> str:
        """The 12-digit mine code of device ``index``: province/division code + 6-digit mine serial."""
        return f"{self.province_code}{index // self.devices_per_mine + 1:06d}"

    def as_dict(self) -> dict[str, Any]:
        """JSON form (for the summary; no secrets)."""
        return {
            "name": self.name, "mines": self.mines, "devices_per_mine": self.devices_per_mine,
            "points_per_device": self.points_per_device, "interval_s": self.interval_s, "profile": self.profile,
            "ramp_up_s": self.ramp_up_s, "duration_s": self.duration_s, "transport": self.transport,
            "url": self.url, "devices": self.devices, "offered_points_per_s": round(self.offered_points_per_s, 1),
            "pass": {"ack_p50_ms": self.ack_p50_ms, "ack_p99_ms": self.ack_p99_ms,
                     "max_error_rate": self.max_error_rate, "store_matches_acks": self.store_matches_acks},
        }  # fmt: skip


@cache
def _validator() -> Any:
    import jsonschema

    cls = jsonschema.validators.validator_for(SCHEMA)
    cls.check_schema(SCHEMA)
    return cls(SCHEMA)


def _describe(err: Any) -> tuple[list[Any], str, str]:
    """Where (keys) and a bilingual, fix-oriented message for one jsonschema error."""
    keys, v, val, inst = list(err.absolute_path), err.validator, err.validator_value, err.instance
    if v == "required":
        name = next((k for k in val if isinstance(inst, dict) and k not in inst), "?")
        return (
            keys,
            f"缺少必填项 {name}（见 docs/load.md）",
            f"required key {name} is missing (see docs/load.md)",
        )
    if v == "additionalProperties":
        allowed = list(err.schema.get("properties", {}))
        extra = next((k for k in inst if k not in allowed), "?") if isinstance(inst, dict) else "?"
        return (
            [*keys, extra],
            f"不认识的键 {extra}；允许的键：{', '.join(allowed)}",
            f"unknown key {extra}; allowed keys: {', '.join(allowed)}",
        )
    if v == "oneOf":
        return (
            keys,
            "凭据来源须二选一：credentials_file（预发布平台的设备凭据文件）或 mock（模拟平台检查接口）",
            "give exactly one source of credentials: credentials_file (a staging platform's device credentials) "
            "or mock (the mock platform's inspection API)",
        )
    if v == "enum":
        options = ", ".join(map(str, val))
        return (
            keys,
            f"取值 {inst!r} 无效；可选：{options}",
            f"{inst!r} is not allowed; choose one of: {options}",
        )
    if v == "const":
        return keys, f"取值须为 {val!r}（现为 {inst!r}）", f"must be {val!r} (is {inst!r})"
    if v == "type":
        return (
            keys,
            f"类型错误：应为 {val}，现为 {type(inst).__name__}",
            f"wrong type: {val} expected, got {type(inst).__name__}",
        )
    if v in ("minimum", "maximum", "exclusiveMinimum", "exclusiveMaximum"):
        return keys, f"数值 {inst} 超出允许范围（{v} {val}）", f"{inst} is out of range ({v} {val})"
    if v in ("pattern", "minLength") and isinstance(inst, str) and not inst.strip():
        return keys, "不能为空", "must not be empty"
    if v in ("pattern", "minLength"):
        if keys and keys[-1] == "url":
            return (
                keys,
                f"地址 {inst!r} 格式不符：gRPC 写 host:port 或 grpc://host:port，HTTP 写 http(s)://host:port",
                f"malformed address {inst!r}: gRPC takes host:port or grpc://host:port, HTTP http(s)://host:port",
            )
        return keys, f"格式不符：{inst!r} 不匹配 {val}", f"malformed: {inst!r} does not match {val}"
    return keys, f"不符合规范：{err.message}", f"does not conform: {err.message}"


def _schema_problems(doc: Document) -> list[Problem]:
    errors = sorted(_validator().iter_errors(doc.data), key=lambda e: list(map(str, e.absolute_path)))
    out = []
    for err in errors:
        keys, zh, en = _describe(err)
        out.append(doc.problem(keys, zh, en))
    return out


def load_scenario(path: str | Path) -> Scenario:
    """Load and check a scenario; ConfigError lists every problem (file:line, key path, what to fix)."""
    from santong.adapters.simulators import ProfileError, load_profile

    path = Path(path)
    doc = load_document(path, *_WHAT)
    if not isinstance(doc.data, dict):
        raise ConfigError(
            [doc.problem([], "场景须为一个映射（键: 值）", "a scenario is a mapping (key: value)")], *_WHAT
        )
    problems = _schema_problems(doc)
    if problems:
        raise ConfigError(problems, *_WHAT)
    d, t, p = doc.data, doc.data["target"], doc.data.get("pass", {})
    base = path.resolve().parent
    profile = d.get("profile", "kj-substation")
    try:
        load_profile(profile if "/" not in profile else str((base / profile).resolve()))
    except ProfileError as e:
        problems.append(
            doc.problem(["profile"], f"模拟器配置无法使用：{e}", f"the simulator profile cannot be used: {e}")
        )
    files: dict[str, Path | None] = {}
    for key in ("credentials_file", "ca_file"):
        files[key] = (base / t[key]).resolve() if key in t else None
        f = files[key]
        if f is not None and not f.is_file():
            problems.append(doc.problem(["target", key], f"文件 {f} 不存在，请检查路径（相对于场景文件）",
                                        f"file {f} does not exist; check the path (relative to the scenario)"))  # fmt: skip
    url = str(t["url"])
    scheme = url.split("://", 1)[0] if "://" in url else None
    if t["transport"] == "http" and scheme not in ("http", "https"):
        problems.append(doc.problem(["target", "url"], "HTTP 传输的地址须以 http:// 或 https:// 开头",
                                    "the http transport needs an http:// or https:// address"))  # fmt: skip
    if t["transport"] == "grpc" and scheme in ("http", "https"):
        problems.append(doc.problem(["target", "url"], "gRPC 传输的地址写 host:port 或 grpc://host:port",
                                    "the grpc transport takes host:port or grpc://host:port"))  # fmt: skip
    if "mock" not in t and p.get("store_matches_acks"):
        problems.append(doc.problem(["pass", "store_matches_acks"], "只有以模拟平台为目标（target.mock）时才能核对存储",
                                    "the store can be checked only against the mock platform (target.mock)"))  # fmt: skip
    if problems:
        raise ConfigError(problems, *_WHAT)
    mock = t.get("mock", {})
    token = mock.get("inspection_token") or os.environ.get("SANTONG_INSPECTION_TOKEN")
    if "mock" in t and not token:
        raise ConfigError([doc.problem(["target", "mock"], "缺少检查令牌：写 inspection_token 或设置 SANTONG_INSPECTION_TOKEN",
                                       "no inspection token: give inspection_token or set SANTONG_INSPECTION_TOKEN")], *_WHAT)  # fmt: skip
    return Scenario(
        path=path, name=str(d.get("name", path.stem)), mines=int(d["mines"]),
        devices_per_mine=int(d["devices_per_mine"]), points_per_device=int(d["points_per_device"]),
        interval_s=float(d["interval_s"]), profile=profile, ramp_up_s=float(d.get("ramp_up_s", 0)),
        duration_s=float(d["duration_s"]), device_prefix=str(d.get("device_prefix", "LOAD")),
        province_code=str(d.get("province_code", "140421")), transport=str(t["transport"]), url=url,
        tls=bool(t.get("tls", scheme in ("grpcs", "https"))), ca_file=files["ca_file"],
        timeout_s=float(t.get("timeout_s", 10.0)), credentials_file=files["credentials_file"],
        inspection_url=str(mock["inspection_url"]).rstrip("/") if mock else None, inspection_token=token,
        ack_p50_ms=p.get("ack_p50_ms"), ack_p99_ms=p.get("ack_p99_ms"),
        max_error_rate=float(p.get("max_error_rate", 0.0)),
        store_matches_acks=bool(p.get("store_matches_acks", "mock" in t)),
    )  # fmt: skip


@dataclass(frozen=True, slots=True)
class Credentials:
    """Device tokens: one per device ID, or one shared token."""

    tokens: dict[str, str]
    shared: str | None

    def token(self, device_id: str) -> str | None:
        """The token of one device (None when the file has none for it)."""
        return self.tokens.get(device_id, self.shared)


_ID = re.compile(r"^[A-Za-z0-9_.:-]{1,64}$")


def load_credentials(path: Path, device_ids: list[str]) -> Credentials:
    """A credentials file: ``token: …`` (every device) and/or ``devices: {ID: TOKEN}``; every device needs one."""
    doc = load_document(path, "设备凭据", "device credentials")
    what = ("设备凭据", "device credentials")
    d = doc.data
    if not isinstance(d, dict) or not set(d) <= {"token", "devices"} or not d:
        raise ConfigError([doc.problem([], "凭据文件须为映射，键 token（共用令牌）和/或 devices（ID: 令牌）",
                                       "a credentials file is a mapping with token (shared) and/or devices (ID: TOKEN)")], *what)  # fmt: skip
    problems = []
    shared = d.get("token")
    if shared is not None and (not isinstance(shared, str) or not shared):
        problems.append(doc.problem(["token"], "token 须为非空字符串", "token must be a non-empty string"))
    devices = d.get("devices", {})
    if not isinstance(devices, dict):
        problems.append(
            doc.problem(["devices"], "devices 须为 ID: 令牌 的映射", "devices must map ID: TOKEN")
        )
        devices = {}
    for k, v in devices.items():
        if not _ID.match(str(k)) or not isinstance(v, str) or not v:
            problems.append(doc.problem(["devices", k], "设备 ID 或令牌无效（令牌须为非空字符串）",
                                        "bad device ID or token (a token is a non-empty string)"))  # fmt: skip
    if not problems and shared is None:
        missing = [i for i in device_ids if i not in devices]
        if missing:
            problems.append(doc.problem(["devices"], f"缺少 {len(missing)} 台设备的令牌，如 {missing[0]}；或给出共用的 token",
                                        f"no token for {len(missing)} device(s), e.g. {missing[0]}; or give a shared token"))  # fmt: skip
    if problems:
        raise ConfigError(problems, *what)
    return Credentials({str(k): str(v) for k, v in devices.items()}, shared)


def schema_json() -> str:
    """The scenario JSON Schema as text (``santong load --schema``)."""
    return json.dumps(SCHEMA, ensure_ascii=False, indent=2)
