"""Simulator profiles: one YAML file describes a device, its points, value generators and scenarios.

A profile is loaded with :func:`load_profile` (a path, or the name of a bundled profile such as
``kj-substation``) and validated completely before any simulator starts. Every error names the file, the
line, the key path and the fix, in Chinese and English, e.g.::

    kj.yaml:41: points[2].modbus.type: 未知的数据类型 'float33' … / unknown data type 'float33'; use one of …

Format (``version: 1``; times are *simulated* seconds unless stated; see profiles/kj-substation.yaml)::

    version: 1
    device:                       # who the simulated device is
      id: KJ-FZ-001               # [A-Za-z0-9_.-]+: MQTT topics, OPC UA folder
      name: 安全监控分站 1 号
      vendor: …   model: …   serial: …   firmware: …
      mine_code: "140421000001"   # 煤矿编码 (ST-DATA-001)
      mine_name: 示例煤矿
      system_code: "01"           # 系统编码 (01 safety monitoring)
      outstation_code: "140421000001001"   # 分站编码 = mine code + own code (ST-DATA-005)
      location: 15101 综采工作面
    seed: 20250115                # random generators are reproducible
    time_compression: 1           # simulated seconds per real second (--speed overrides)
    update_period: 0.1            # real seconds between evaluations of the generators
    modbus: {unit_id: 1, byte_order: big, word_order: big}          # defaults for the points
    opcua: {namespace: "urn:santong:simulator:kj-substation", path: /santong/simulator}
    mqtt: {topic: "kjsim/{device}/data", qos: 1, period: 1.0}      # period in real seconds
    points:
      - name: CH4_T1                            # [A-Za-z][A-Za-z0-9_]*, unique
        point_code: "14042100000101MNA001001A02"  # 测点编码 (ST-DATA-002), consistent with the rest
        sensor_type: A001                       # data dictionary code
        unit: "%CH4"                            # canonical unit (default: the dictionary's)
        range: [0, 4]                           # within the dictionary's range (default: it)
        thresholds: {alarm_high: 1.0, alarm_high_clear: 1.0, power_off_high: 1.5, power_restore_high: 1.0}
        location: 15101 工作面 T1
        related: [FEED_01]                      # switch points forced to 0 while this point is powered off
        decimals: 2
        generator: {kind: random_walk, start: 0.3, step: 0.01, min: 0.2, max: 0.45}
        modbus: {address: 2, type: float32, word_order: big, scale: 1, offset: 0, status_address: 100}
        opcua: {node_id: "s=KJ-FZ-001.CH4_T1", type: Double}
        mqtt: {path: data.CH4_T1.v}             # quality and status go next to a final ".v" as ".q", ".s"
    scenarios:
      methane_rise:
        description: …
        timeline:
          - {at: 0, point: CH4_T1, generator: {kind: ramp, end: 1.8, duration: 40}}
          - {at: 50, point: CH4_T1, value: 1.7}       # shorthand for a constant generator
          - {at: 95, point: CH4_T1, restore: true}    # back to the point's own generator
          - {at: 99, point: CO_01, status: 128}      # force status bits (128 sensor fault; 0 clears)

Generators (``noise: x`` adds uniform ±x to any of them):

- ``constant``: ``value``
- ``sine``: ``mean``, ``amplitude``, ``period``, ``phase`` (seconds, default 0)
- ``random_walk``: ``min``, ``max``, ``step`` (largest change per simulated second), ``start`` (default middle),
  ``revert`` (0–1 pull towards ``start`` per second, default 0)
- ``ramp``: ``end``, ``duration``, ``start`` (default: the value when the ramp begins); holds ``end`` afterwards
- ``toggle``: ``on_for``, ``off_for`` (seconds in each state), ``initial`` (1 or 0, default 1) — switch points
- ``steps``: ``steps: [[t, value], …]`` (t ascending, from 0), ``repeat`` (period in seconds, optional)
"""

from __future__ import annotations

import difflib
import math
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from importlib import resources
from pathlib import Path
from typing import Any, Final

import yaml
from santong.adapters._mapping import DATA_TYPES, MappingError, PointMapping, register_count
from santong.protocols import code_rules, sensor_types
from santong.protocols._catalogue import load_data

__all__ = [
    "GENERATOR_KINDS",
    "OPCUA_TYPES",
    "THRESHOLD_KEYS",
    "Device",
    "GeneratorSpec",
    "ModbusSource",
    "MqttSource",
    "OpcuaSource",
    "Point",
    "Profile",
    "ProfileError",
    "Scenario",
    "TimelineEntry",
    "bundled_profiles",
    "load_profile",
    "parse_profile",
]

THRESHOLD_KEYS: Final = (
    "alarm_high",
    "alarm_high_clear",
    "alarm_low",
    "alarm_low_clear",
    "power_off_high",
    "power_restore_high",
    "power_off_low",
    "power_restore_low",
)
GENERATOR_KINDS: Final = ("constant", "sine", "random_walk", "ramp", "toggle", "steps")
OPCUA_TYPES: Final = ("Double", "Float", "Boolean", "Int16", "UInt16", "Int32", "UInt32")
MODBUS_TABLES: Final = ("holding", "input", "coil", "discrete")
_KIND_SEGMENT: Final = {"ANALOG": "MN", "SWITCH": "KG", "ACCUMULATOR": "LJ"}
_NAME_RE: Final = re.compile(r"[A-Za-z][A-Za-z0-9_]{0,63}")
_DEVICE_ID_RE: Final = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.-]{0,63}")
_PATH_RE: Final = re.compile(r"[A-Za-z0-9_$-]+(\.[A-Za-z0-9_$-]+)*")
_NODE_RE: Final = re.compile(r"(s=.+|i=[0-9]+)")


class ProfileError(ValueError):
    """A profile is invalid: file, line, key path, what is wrong and the fix (中文 / English)."""

    def __init__(self, file: str, line: int | None, path: str, zh: str, en: str) -> None:
        self.file = file
        self.line = line
        self.path = path
        self.message_zh = zh
        self.message_en = en
        where = f"{file}:{line}" if line else file
        super().__init__(f"{where}: {path + ': ' if path else ''}{zh} / {en}")


# ------------------------------------------------------------------------------------------- the model


@dataclass(frozen=True, slots=True)
class GeneratorSpec:
    """A value generator: its kind and validated parameters (see the module docstring)."""

    kind: str
    params: Mapping[str, Any]
    noise: float = 0.0


@dataclass(frozen=True, slots=True)
class ModbusSource:
    """Where a point sits in the Modbus register map."""

    table: str
    address: int
    data_type: str
    byte_order: str
    word_order: str
    scale: float
    offset: float
    bit: int | None
    status_address: int | None

    @property
    def register_address(self) -> int:
        """The 16-bit register holding the point (coils and discrete inputs: address // 16)."""
        return self.address // 16 if self.table in ("coil", "discrete") else self.address

    @property
    def bit_index(self) -> int | None:
        """Bit inside the register for bool points (coils: address % 16)."""
        return self.address % 16 if self.table in ("coil", "discrete") else self.bit

    def mapping(self, name: str = "") -> PointMapping:
        """The santong.adapters mapping that encodes the point into its registers."""
        if self.data_type == "bool":
            return PointMapping(name=name, data_type="bool", bit=self.bit_index)
        return PointMapping(
            name=name,
            data_type=self.data_type,  # type: ignore[arg-type]
            byte_order=self.byte_order,  # type: ignore[arg-type]
            word_order=self.word_order,  # type: ignore[arg-type]
            scale=self.scale,
            offset=self.offset,
        )

    @property
    def words(self) -> int:
        """Registers occupied by the value."""
        return register_count(self.data_type)


@dataclass(frozen=True, slots=True)
class OpcuaSource:
    """The OPC UA variable of a point (identifier in the profile's namespace)."""

    node_id: str
    data_type: str
    status_node_id: str


@dataclass(frozen=True, slots=True)
class MqttSource:
    """Where a point's value sits in the vendor JSON payload."""

    path: str
    topic: str | None = None

    @property
    def quality_path(self) -> str | None:
        """``….q`` next to a final ``.v``."""
        return self.path[:-2] + ".q" if self.path.endswith(".v") else None

    @property
    def status_path(self) -> str | None:
        """``….s`` next to a final ``.v``."""
        return self.path[:-2] + ".s" if self.path.endswith(".v") else None


@dataclass(frozen=True, slots=True)
class Point:
    """One measuring point (测点) of the simulated device."""

    name: str
    point_code: str
    sensor_type: str
    value_kind: str
    unit: str
    range_low: float
    range_high: float
    thresholds: Mapping[str, float]
    location: str
    description: str
    related: tuple[str, ...]
    on_description: str
    off_description: str
    decimals: int
    x: float
    y: float
    z: float
    generator: GeneratorSpec
    modbus: ModbusSource | None
    opcua: OpcuaSource | None
    mqtt: MqttSource | None
    line: int | None = None

    @property
    def is_switch(self) -> bool:
        """A switch (开关量) point: values 0/1."""
        return self.value_kind == "SWITCH"

    @property
    def own_code(self) -> str:
        """The vendor's own code (last segment of the point code)."""
        return self.point_code[20:]


@dataclass(frozen=True, slots=True)
class TimelineEntry:
    """One step of a scenario: at a simulated time, change one point."""

    at: float
    point: str
    generator: GeneratorSpec | None = None
    restore: bool = False
    status: int | None = None


@dataclass(frozen=True, slots=True)
class Scenario:
    """A named, timed sequence of changes (e.g. methane rising past the alarm and power-off thresholds)."""

    name: str
    description: str
    timeline: tuple[TimelineEntry, ...]

    @property
    def duration(self) -> float:
        """Simulated seconds from start to the last step."""
        return max((e.at for e in self.timeline), default=0.0)


@dataclass(frozen=True, slots=True)
class Device:
    """Identity of the simulated device."""

    id: str
    name: str
    vendor: str
    model: str
    serial: str
    firmware: str
    mine_code: str
    mine_name: str
    system_code: str
    outstation_code: str
    location: str


@dataclass(frozen=True, slots=True)
class Profile:
    """A validated simulator profile."""

    source: str
    device: Device
    seed: int
    time_compression: float
    update_period: float
    modbus_unit_id: int
    opcua_namespace: str
    opcua_path: str
    mqtt_topic: str
    mqtt_qos: int
    mqtt_period: float
    points: tuple[Point, ...]
    scenarios: Mapping[str, Scenario] = field(default_factory=dict)

    def point(self, name: str) -> Point:
        """The point called ``name`` (KeyError naming the choices otherwise)."""
        for p in self.points:
            if p.name == name:
                return p
        raise KeyError(f"没有测点 / no point {name!r}; points: {', '.join(p.name for p in self.points)}")

    @property
    def topic(self) -> str:
        """The device's MQTT topic."""
        return self.mqtt_topic.replace("{device}", self.device.id)

    def modbus_extent(self) -> int:
        """Number of registers from address 0 needed to hold every Modbus point and status word."""
        end = 0
        for p in self.points:
            if p.modbus is not None:
                end = max(end, p.modbus.register_address + p.modbus.words)
                if p.modbus.status_address is not None:
                    end = max(end, p.modbus.status_address + 1)
        return end


# ------------------------------------------------------------------------------------------- YAML with lines


class _Map(dict[str, Any]):
    """A mapping that remembers the line of itself and of each key."""

    def __init__(self) -> None:
        super().__init__()
        self.line: int | None = None
        self.lines: dict[str, int] = {}


class _Seq(list[Any]):
    """A sequence that remembers the line of itself and of each item."""

    line: int | None = None
    lines: list[int] = []  # noqa: RUF012 - replaced per instance


class _Loader(yaml.SafeLoader):
    """SafeLoader that keeps line numbers and rejects duplicate keys."""

    file = "<profile>"


def _construct_map(loader: _Loader, node: yaml.MappingNode) -> _Map:
    loader.flatten_mapping(node)
    out = _Map()
    out.line = node.start_mark.line + 1
    for k_node, v_node in node.value:
        key = loader.construct_object(k_node, deep=True)
        if isinstance(key, bool):
            raise ProfileError(
                loader.file,
                k_node.start_mark.line + 1,
                str(k_node.value),
                f"YAML 把键 {k_node.value!r} 读成了布尔值；请给它加引号",
                f"YAML reads the key {k_node.value!r} as a boolean; quote it",
            )
        if not isinstance(key, str):
            key = str(key)
        if key in out:
            raise ProfileError(
                loader.file,
                k_node.start_mark.line + 1,
                key,
                f"键 {key!r} 重复（第 {out.lines[key]} 行已出现），请删除其中一个",
                f"duplicate key {key!r} (already on line {out.lines[key]}); remove one of them",
            )
        out[key] = loader.construct_object(v_node, deep=True)
        out.lines[key] = k_node.start_mark.line + 1
    return out


def _construct_seq(loader: _Loader, node: yaml.SequenceNode) -> _Seq:
    out = _Seq(loader.construct_object(n, deep=True) for n in node.value)
    out.line = node.start_mark.line + 1
    out.lines = [n.start_mark.line + 1 for n in node.value]
    return out


_Loader.add_constructor(yaml.resolver.BaseResolver.DEFAULT_MAPPING_TAG, _construct_map)  # type: ignore[arg-type]
_Loader.add_constructor(yaml.resolver.BaseResolver.DEFAULT_SEQUENCE_TAG, _construct_seq)  # type: ignore[arg-type]


class _Ctx:
    """Where we are in the document: the file, the key path and the best known line."""

    def __init__(self, file: str, path: str = "", line: int | None = None) -> None:
        self.file = file
        self.path = path
        self.line = line

    def at(self, container: Any, key: str | int) -> _Ctx:
        """The context of ``container[key]``."""
        line = self.line
        if isinstance(container, _Map) and isinstance(key, str):
            line = container.lines.get(key, container.line)
        elif isinstance(container, _Seq) and isinstance(key, int) and key < len(container.lines):
            line = container.lines[key]
        path = f"{self.path}[{key}]" if isinstance(key, int) else (f"{self.path}.{key}" if self.path else key)
        return _Ctx(self.file, path, line)

    def fail(self, zh: str, en: str) -> ProfileError:
        return ProfileError(self.file, self.line, self.path, zh, en)


def _keys(ctx: _Ctx, m: Any, allowed: Sequence[str], required: Sequence[str] = ()) -> _Map:
    """Check that ``m`` is a mapping with only ``allowed`` keys and every ``required`` key."""
    if not isinstance(m, dict):
        raise ctx.fail(
            f"应为映射（key: value），实际为 {type(m).__name__}",
            f"expected a mapping, got {type(m).__name__}",
        )
    for key in m:
        if key not in allowed:
            close = difflib.get_close_matches(key, allowed, n=1)
            hint_zh = f"，是否应为 {close[0]!r}？" if close else f"；允许的键：{', '.join(allowed)}"
            hint_en = f"; did you mean {close[0]!r}?" if close else f"; allowed keys: {', '.join(allowed)}"
            raise ctx.at(m, key).fail(f"未知的键 {key!r}{hint_zh}", f"unknown key {key!r}{hint_en}")
    for key in required:
        if key not in m:
            raise ctx.fail(f"缺少必需的键 {key!r}", f"the required key {key!r} is missing")
    return m  # type: ignore[return-value]


def _number(ctx: _Ctx, v: Any, *, positive: bool = False, minimum: float | None = None) -> float:
    if isinstance(v, bool) or not isinstance(v, int | float) or not math.isfinite(v):
        raise ctx.fail(f"应为有限数字，实际为 {v!r}", f"expected a finite number, got {v!r}")
    if positive and v <= 0:
        raise ctx.fail(f"应大于 0，实际为 {v!r}", f"must be greater than 0, got {v!r}")
    if minimum is not None and v < minimum:
        raise ctx.fail(f"应 ≥ {minimum:g}，实际为 {v!r}", f"must be >= {minimum:g}, got {v!r}")
    return float(v)


def _int(ctx: _Ctx, v: Any, lo: int, hi: int) -> int:
    if isinstance(v, bool) or not isinstance(v, int) or not lo <= v <= hi:
        raise ctx.fail(
            f"应为 {lo}..{hi} 的整数，实际为 {v!r}", f"expected an integer in {lo}..{hi}, got {v!r}"
        )
    return v


def _str(ctx: _Ctx, v: Any, *, pattern: re.Pattern[str] | None = None, example: str = "") -> str:
    if isinstance(v, int) and not isinstance(v, bool):
        raise ctx.fail(
            f'应为字符串，实际为数字 {v!r}：编码请加引号，如 "{example or v}"',
            f'expected a string, got the number {v!r}: quote codes, e.g. "{example or v}"',
        )
    if not isinstance(v, str):
        raise ctx.fail(f"应为字符串，实际为 {v!r}", f"expected a string, got {v!r}")
    if pattern is not None and pattern.fullmatch(v) is None:
        ex_zh = f"，例如 {example}" if example else ""
        ex_en = f", e.g. {example}" if example else ""
        raise ctx.fail(
            f"{v!r} 不符合格式 {pattern.pattern}{ex_zh}", f"{v!r} does not match {pattern.pattern}{ex_en}"
        )
    return v


def _choice(ctx: _Ctx, v: Any, choices: Sequence[Any]) -> Any:
    if v not in choices:
        raise ctx.fail(
            f"{v!r} 不是可选值之一：{', '.join(map(str, choices))}",
            f"{v!r} is not one of: {', '.join(map(str, choices))}",
        )
    return v


# ------------------------------------------------------------------------------------------- sections


def _device(ctx: _Ctx, d: Any) -> Device:
    fields = (
        "id",
        "name",
        "vendor",
        "model",
        "serial",
        "firmware",
        "mine_code",
        "mine_name",
        "system_code",
        "outstation_code",
        "location",
    )
    d = _keys(ctx, d, fields, ("id", "mine_code", "outstation_code"))
    rules = code_rules()
    dev_id = _str(ctx.at(d, "id"), d["id"], pattern=_DEVICE_ID_RE, example="KJ-FZ-001")
    mine = _str(
        ctx.at(d, "mine_code"), d["mine_code"], pattern=rules["mine"].pattern, example=rules["mine"].example
    )
    system = _str(
        ctx.at(d, "system_code"), d.get("system_code", "01"), pattern=rules["system"].pattern, example="01"
    )
    out_ctx = ctx.at(d, "outstation_code")
    outstation = _str(
        out_ctx, d["outstation_code"], pattern=rules["outstation"].pattern, example=mine + "001"
    )
    if not outstation.startswith(mine):
        raise out_ctx.fail(
            f"分站编码 {outstation} 应以煤矿编码 {mine} 开头（ST-DATA-005）",
            f"the outstation code {outstation} must start with the mine code {mine} (ST-DATA-005)",
        )
    text = {k: _str(ctx.at(d, k), d.get(k, "")) for k in ("name", "vendor", "model", "serial", "firmware")}
    return Device(
        id=dev_id,
        mine_code=mine,
        mine_name=_str(ctx.at(d, "mine_name"), d.get("mine_name", "示例煤矿")),
        system_code=system,
        outstation_code=outstation,
        location=_str(ctx.at(d, "location"), d.get("location", "")),
        **text,
    )


_GEN_PARAMS: Final[dict[str, tuple[tuple[str, ...], tuple[str, ...]]]] = {
    # kind: (required, optional)
    "constant": (("value",), ()),
    "sine": (("mean", "amplitude", "period"), ("phase",)),
    "random_walk": (("min", "max", "step"), ("start", "revert")),
    "ramp": (("end", "duration"), ("start",)),
    "toggle": (("on_for", "off_for"), ("initial",)),
    "steps": (("steps",), ("repeat",)),
}


def _generator(ctx: _Ctx, g: Any, *, switch: bool) -> GeneratorSpec:
    if not isinstance(g, dict):
        raise ctx.fail(
            "generator 应为映射，如 {kind: constant, value: 0.3}",
            "generator must be a mapping, e.g. {kind: constant, value: 0.3}",
        )
    kind = _choice(ctx.at(g, "kind"), g.get("kind"), GENERATOR_KINDS)
    required, optional = _GEN_PARAMS[kind]
    g = _keys(ctx, g, ("kind", "noise", *required, *optional), ("kind", *required))
    params: dict[str, Any] = {}
    for key in (*required, *optional):
        if key not in g:
            continue
        c = ctx.at(g, key)
        if key == "steps":
            steps = g[key]
            if not isinstance(steps, list) or not steps:
                raise c.fail(
                    "steps 应为非空列表 [[t, value], …]", "steps must be a non-empty list [[t, value], …]"
                )
            out: list[tuple[float, float]] = []
            for i, s in enumerate(steps):
                ci = c.at(steps, i)
                if not isinstance(s, list) or len(s) != 2:
                    raise ci.fail("每一步应为 [t, value]", "each step must be [t, value]")
                t = _number(ci, s[0], minimum=0)
                if out and t <= out[-1][0]:
                    raise ci.fail("各步的时间 t 必须递增", "step times must increase")
                out.append((t, _number(ci, s[1])))
            params[key] = tuple(out)
        elif key == "initial":
            params[key] = _choice(c, g[key], (0, 1))
        else:
            params[key] = _number(
                c, g[key], positive=key in ("period", "duration", "on_for", "off_for", "repeat")
            )
            if key in ("step", "phase") or key == "revert":
                _number(c, g[key], minimum=0)
    if kind == "random_walk":
        if params["min"] >= params["max"]:
            raise ctx.fail("random_walk 需要 min < max", "random_walk needs min < max")
        start = params.setdefault("start", (params["min"] + params["max"]) / 2)
        if not params["min"] <= start <= params["max"]:
            raise ctx.at(g, "start").fail("start 应在 [min, max] 之内", "start must lie within [min, max]")
        if not 0 <= params.get("revert", 0.0) <= 1:
            raise ctx.at(g, "revert").fail("revert 应在 0..1", "revert must be in 0..1")
    if kind == "steps" and "repeat" in params and params["repeat"] <= params["steps"][-1][0]:
        raise ctx.at(g, "repeat").fail(
            "repeat（周期）应大于最后一步的时间", "repeat (the period) must exceed the last step's time"
        )
    noise = _number(ctx.at(g, "noise"), g.get("noise", 0.0), minimum=0)
    if switch:
        if kind in ("sine", "random_walk", "ramp") or noise:
            raise ctx.fail(
                f"开关量测点不能用 {kind}{' 或 noise' if noise else ''}；请用 constant、toggle 或 steps（取值 0/1）",
                f"a switch point cannot use {kind}{' or noise' if noise else ''}; use constant, toggle or steps "
                "(values 0/1)",
            )
        values = [params["value"]] if kind == "constant" else [v for _, v in params.get("steps", ())]
        if any(v not in (0, 1) for v in values):
            raise ctx.fail("开关量测点的取值只能是 0 或 1", "a switch point's values must be 0 or 1")
    return GeneratorSpec(kind, params, noise)


def _thresholds(
    ctx: _Ctx, t: Any, st_code: str, defaults: Mapping[str, float], regulation: Mapping[str, float]
) -> dict[str, float]:
    if t is None:
        return dict(defaults)
    t = _keys(ctx, t, THRESHOLD_KEYS)
    out = {k: _number(ctx.at(t, k), v) for k, v in t.items()}
    for key, limit in regulation.items():
        if key in out and out[key] > limit:
            raise ctx.at(t, key).fail(
                f"{key}={out[key]:g} 超过《煤矿安全规程》对 {st_code} 的上限 {limit:g}（ST-DATA-015）；门限只能更严",
                f"{key}={out[key]:g} exceeds the regulation maximum {limit:g} for {st_code} (ST-DATA-015); "
                "a site may only be stricter",
            )
    pairs = (
        ("alarm_high_clear", "alarm_high", "≤"),
        ("power_restore_high", "power_off_high", "≤"),
        ("alarm_low", "alarm_low_clear", "≤"),
        ("power_off_low", "power_restore_low", "≤"),
    )
    for lo, hi, _ in pairs:
        if lo in out and hi in out and out[lo] > out[hi]:
            raise ctx.fail(
                f"门限应满足 {lo} ≤ {hi}（解报/复电在报警/断电的安全一侧）",
                f"thresholds need {lo} <= {hi} (clear/restore on the safe side of alarm/power-off)",
            )
    return out


def _modbus(ctx: _Ctx, m: Any, defaults: Mapping[str, str], switch: bool) -> ModbusSource:
    m = _keys(
        ctx,
        m,
        ("table", "address", "type", "byte_order", "word_order", "scale", "offset", "bit", "status_address"),
        ("address",),
    )
    table = _choice(ctx.at(m, "table"), m.get("table", "holding"), MODBUS_TABLES)
    bits = table in ("coil", "discrete")
    address = _int(ctx.at(m, "address"), m["address"], 0, 65535 * (16 if bits else 1))
    data_type = _choice(ctx.at(m, "type"), m.get("type", "bool" if switch or bits else "uint16"), DATA_TYPES)
    if data_type in ("string", "bits"):
        raise ctx.at(m, "type").fail(
            f"模拟器不支持 {data_type} 测点", f"the simulators do not support {data_type} points"
        )
    if bits and data_type != "bool":
        raise ctx.at(m, "type").fail(f"{table} 只能是 bool", f"a {table} point must be of type bool")
    bit = m.get("bit")
    if bit is not None:
        bit = _int(ctx.at(m, "bit"), bit, 0, 15)
        if data_type != "bool" or bits:
            raise ctx.at(m, "bit").fail(
                "bit 只用于保持/输入寄存器里的 bool 测点",
                "bit is for bool points in holding/input registers only",
            )
    status = m.get("status_address")
    if status is not None:
        status = _int(ctx.at(m, "status_address"), status, 0, 65535)
    src = ModbusSource(
        table=table,
        address=address,
        data_type=data_type,
        byte_order=_choice(
            ctx.at(m, "byte_order"), m.get("byte_order", defaults["byte_order"]), ("big", "little")
        ),
        word_order=_choice(
            ctx.at(m, "word_order"), m.get("word_order", defaults["word_order"]), ("big", "little")
        ),
        scale=_number(ctx.at(m, "scale"), m.get("scale", 1.0)),
        offset=_number(ctx.at(m, "offset"), m.get("offset", 0.0)),
        bit=bit,
        status_address=status,
    )
    if src.register_address + src.words > 65536:
        raise ctx.at(m, "address").fail("地址超出 0..65535", "the registers run past address 65535")
    try:
        src.mapping()
    except MappingError as e:
        raise ctx.fail(e.message_zh, e.message_en) from None
    return src


def _opcua(ctx: _Ctx, o: Any, switch: bool) -> OpcuaSource:
    o = _keys(ctx, o, ("node_id", "type", "status_node_id"), ("node_id",))
    node = _str(ctx.at(o, "node_id"), o["node_id"], pattern=_NODE_RE, example="s=KJ-FZ-001.CH4_T1")
    status = _str(
        ctx.at(o, "status_node_id"),
        o.get("status_node_id", f"{node}.Status" if node.startswith("s=") else ""),
    )
    if status and _NODE_RE.fullmatch(status) is None:
        raise ctx.at(o, "status_node_id").fail("应为 s=… 或 i=…", "must be s=… or i=…")
    dtype = _choice(ctx.at(o, "type"), o.get("type", "Boolean" if switch else "Double"), OPCUA_TYPES)
    return OpcuaSource(node, dtype, status)


def _mqtt(ctx: _Ctx, q: Any) -> MqttSource:
    q = _keys(ctx, q, ("path", "topic"), ("path",))
    path = _str(ctx.at(q, "path"), q["path"], pattern=_PATH_RE, example="data.CH4_T1.v")
    topic = q.get("topic")
    if topic is not None:
        topic = _str(ctx.at(q, "topic"), topic)
        if not topic or "#" in topic or "+" in topic:
            raise ctx.at(q, "topic").fail(
                "主题不能为空，也不能含通配符 # +", "the topic must be non-empty without wildcards # +"
            )
    return MqttSource(path, topic)


_POINT_KEYS: Final = (
    "name",
    "point_code",
    "sensor_type",
    "unit",
    "range",
    "thresholds",
    "location",
    "description",
    "related",
    "on_description",
    "off_description",
    "decimals",
    "x",
    "y",
    "z",
    "generator",
    "modbus",
    "opcua",
    "mqtt",
)


def _switch_descriptions() -> dict[str, tuple[str, str]]:
    out = {}
    for e in load_data("dictionary.yaml")["sensor_types"]:
        out[e["code"]] = (e.get("on_description") or "", e.get("off_description") or "")
    return out


def _point(ctx: _Ctx, p: Any, device: Device, modbus_defaults: Mapping[str, str]) -> Point:
    p = _keys(ctx, p, _POINT_KEYS, ("name", "point_code", "sensor_type", "generator"))
    name = _str(ctx.at(p, "name"), p["name"], pattern=_NAME_RE, example="CH4_T1")
    st_ctx = ctx.at(p, "sensor_type")
    st_code = _str(st_ctx, p["sensor_type"], example="A001")
    dictionary = sensor_types()
    st = dictionary.get(st_code)
    if st is None or st.code != st_code:
        close = difflib.get_close_matches(st_code, [c for c, s in dictionary.items() if s.code == c], n=3)
        raise st_ctx.fail(
            f"传感器类型 {st_code!r} 不在数据字典中（ST-DATA-010）{'，是否应为 ' + '、'.join(close) if close else ''}",
            f"sensor type {st_code!r} is not in the data dictionary (ST-DATA-010){'; did you mean ' + ', '.join(close) if close else ''}",
        )
    rule = code_rules()["point"]
    pc_ctx = ctx.at(p, "point_code")
    code = _str(pc_ctx, p["point_code"], pattern=rule.pattern, example=rule.example)
    m = rule.pattern.fullmatch(code)
    assert m is not None
    expected = {
        "mine": device.mine_code,
        "system": device.system_code,
        "kind": _KIND_SEGMENT[st.value_kind],
        "sensor": st_code,
    }
    for seg, want in expected.items():
        if m.group(seg) != want:
            fixed = code.replace(m.group(seg), want, 1) if seg != "kind" else code[:14] + want + code[16:]
            raise pc_ctx.fail(
                f"测点编码的 {seg} 段为 {m.group(seg)!r}，应为 {want!r}（ST-DATA-002/004），如 {fixed}",
                f"the {seg} segment of the point code is {m.group(seg)!r}, expected {want!r} (ST-DATA-002/004), "
                f"e.g. {fixed}",
            )
    unit = _str(ctx.at(p, "unit"), p.get("unit", st.unit))
    if unit != st.unit:
        raise ctx.at(p, "unit").fail(
            f"单位 {unit!r} 不是 {st_code} 的规范单位 {st.unit!r}（ST-DATA-011）",
            f"unit {unit!r} is not the canonical unit {st.unit!r} of {st_code} (ST-DATA-011)",
        )
    rng = p.get("range", [st.range_low, st.range_high])
    r_ctx = ctx.at(p, "range")
    if not isinstance(rng, list) or len(rng) != 2:
        raise r_ctx.fail("range 应为 [低量程, 高量程]", "range must be [low, high]")
    low, high = _number(r_ctx, rng[0]), _number(r_ctx, rng[1])
    if not st.range_low <= low < high <= st.range_high:
        raise r_ctx.fail(
            f"量程 [{low:g}, {high:g}] 应在数据字典 {st_code} 的范围 [{st.range_low:g}, {st.range_high:g}] 之内且低<高（ST-DATA-013）",
            f"range [{low:g}, {high:g}] must lie within {st_code}'s dictionary range [{st.range_low:g}, "
            f"{st.range_high:g}] with low < high (ST-DATA-013)",
        )
    switch = st.value_kind == "SWITCH"
    on_off = _switch_descriptions().get(st_code, ("", ""))
    related = p.get("related", [])
    if not isinstance(related, list) or not all(isinstance(r, str) for r in related):
        raise ctx.at(p, "related").fail("related 应为测点名列表", "related must be a list of point names")
    decimals = _int(ctx.at(p, "decimals"), p.get("decimals", 0 if switch else 2), 0, 6)
    return Point(
        name=name,
        point_code=code,
        sensor_type=st_code,
        value_kind=st.value_kind,
        unit=unit,
        range_low=low,
        range_high=high,
        thresholds=_thresholds(
            ctx.at(p, "thresholds"), p.get("thresholds"), st_code, st.thresholds, st.regulation
        ),
        location=_str(ctx.at(p, "location"), p.get("location", device.location)),
        description=_str(ctx.at(p, "description"), p.get("description", st.name_zh)),
        related=tuple(related),
        on_description=_str(ctx.at(p, "on_description"), p.get("on_description", on_off[0])),
        off_description=_str(ctx.at(p, "off_description"), p.get("off_description", on_off[1])),
        decimals=decimals,
        x=_number(ctx.at(p, "x"), p.get("x", 0.0)),
        y=_number(ctx.at(p, "y"), p.get("y", 0.0)),
        z=_number(ctx.at(p, "z"), p.get("z", 0.0)),
        generator=_generator(ctx.at(p, "generator"), p["generator"], switch=switch),
        modbus=_modbus(ctx.at(p, "modbus"), p["modbus"], modbus_defaults, switch) if "modbus" in p else None,
        opcua=_opcua(ctx.at(p, "opcua"), p["opcua"], switch) if "opcua" in p else None,
        mqtt=_mqtt(ctx.at(p, "mqtt"), p["mqtt"]) if "mqtt" in p else None,
        line=ctx.line,
    )


def _check_cross(ctx: _Ctx, doc: _Map, points: list[Point]) -> None:
    """Uniqueness, related points, Modbus overlaps, OPC UA and MQTT clashes."""
    seq = doc["points"]
    names: dict[str, int] = {}
    codes: dict[str, int] = {}
    by_name = {p.name: p for p in points}
    registers: dict[int, dict[int | None, str]] = {}  # register → {bit (None: whole word): owner}
    nodes: dict[str, str] = {}
    paths: dict[tuple[str | None, str], str] = {}
    for i, p in enumerate(points):
        c = ctx.at(seq, i)
        if p.name in names:
            raise c.fail(
                f"测点名 {p.name!r} 与 points[{names[p.name]}] 重复",
                f"point name {p.name!r} repeats points[{names[p.name]}]",
            )
        names[p.name] = i
        if p.point_code in codes:
            raise c.fail(
                f"测点编码 {p.point_code} 与 points[{codes[p.point_code]}] 重复（ST-DATA-003）",
                f"point code {p.point_code} repeats points[{codes[p.point_code]}] (ST-DATA-003)",
            )
        codes[p.point_code] = i
        for r in p.related:
            if r not in by_name or not by_name[r].is_switch or r == p.name:
                raise c.at(seq[i], "related").fail(
                    f"related 中的 {r!r} 不是本档案中的另一个开关量测点",
                    f"related {r!r} is not another switch point of this profile",
                )
        if p.modbus is not None:
            mb = p.modbus
            bit = mb.bit_index if mb.data_type == "bool" else None
            spans = [(mb.register_address + k, bit) for k in range(mb.words)]
            if mb.status_address is not None:
                spans.append((mb.status_address, None))
            for reg, b in spans:
                users = registers.setdefault(reg, {})
                clash = users.get(None) or (
                    users.get(b) if b is not None else next(iter(users.values()), None)
                )
                if clash is not None:
                    where_zh = f"寄存器 {reg}" + ("" if b is None else f" 位 {b}")
                    where_en = f"register {reg}" + ("" if b is None else f" bit {b}")
                    raise c.at(seq[i], "modbus").fail(
                        f"{where_zh} 已被测点 {clash} 占用", f"{where_en} is already used by point {clash}"
                    )
                users[b] = p.name  # bool points with a bit share a register bit by bit
        if p.opcua is not None:
            for node in (p.opcua.node_id, p.opcua.status_node_id):
                if node and node in nodes:
                    raise c.fail(
                        f"OPC UA 节点 {node} 已被测点 {nodes[node]} 使用",
                        f"OPC UA node {node} is already used by point {nodes[node]}",
                    )
                if node:
                    nodes[node] = p.name
        if p.mqtt is not None:
            key = (p.mqtt.topic, p.mqtt.path)
            if key in paths:
                raise c.fail(
                    f"MQTT 路径 {p.mqtt.path} 已被测点 {paths[key]} 使用",
                    f"MQTT path {p.mqtt.path} is already used by point {paths[key]}",
                )
            paths[key] = p.name


def _scenarios(ctx: _Ctx, s: Any, points: Mapping[str, Point]) -> dict[str, Scenario]:
    if s is None:
        return {}
    if not isinstance(s, dict):
        raise ctx.fail(
            "scenarios 应为 名称: {timeline: […]} 的映射", "scenarios must map names to {timeline: […]}"
        )
    out: dict[str, Scenario] = {}
    for name, body in s.items():
        c = ctx.at(s, name)
        _str(c, name, pattern=_NAME_RE, example="methane_rise")
        body = _keys(c, body, ("description", "timeline"), ("timeline",))
        tl = body["timeline"]
        tctx = c.at(body, "timeline")
        if not isinstance(tl, list) or not tl:
            raise tctx.fail("timeline 应为非空列表", "timeline must be a non-empty list")
        entries: list[TimelineEntry] = []
        for i, e in enumerate(tl):
            ec = tctx.at(tl, i)
            e = _keys(ec, e, ("at", "point", "generator", "value", "restore", "status"), ("at", "point"))
            at = _number(ec.at(e, "at"), e["at"], minimum=0)
            pname = _str(ec.at(e, "point"), e["point"])
            if pname not in points:
                close = difflib.get_close_matches(pname, list(points), n=1)
                raise ec.at(e, "point").fail(
                    f"没有测点 {pname!r}{'，是否应为 ' + repr(close[0]) if close else ''}",
                    f"no point {pname!r}{'; did you mean ' + repr(close[0]) if close else ''}",
                )
            actions = [k for k in ("generator", "value", "restore", "status") if k in e]
            if len(actions) != 1:
                raise ec.fail(
                    "每一步须且只能有 generator、value、restore、status 之一",
                    "each step needs exactly one of generator, value, restore, status",
                )
            switch = points[pname].is_switch
            gen = None
            status = None
            if "generator" in e:
                gen = _generator(ec.at(e, "generator"), e["generator"], switch=switch)
            elif "value" in e:
                v = _number(ec.at(e, "value"), e["value"])
                if switch and v not in (0, 1):
                    raise ec.at(e, "value").fail(
                        "开关量测点的取值只能是 0 或 1", "a switch point's values must be 0 or 1"
                    )
                gen = GeneratorSpec("constant", {"value": v})
            elif "status" in e:
                status = _int(ec.at(e, "status"), e["status"], 0, 255)
            elif e["restore"] is not True:
                raise ec.at(e, "restore").fail("restore 只能写 true", "restore must be true")
            entries.append(TimelineEntry(at, pname, gen, "restore" in e, status))
        entries.sort(key=lambda x: x.at)
        out[name] = Scenario(
            name, _str(c.at(body, "description"), body.get("description", "")), tuple(entries)
        )
    return out


_TOP_KEYS: Final = (
    "version",
    "device",
    "seed",
    "time_compression",
    "update_period",
    "modbus",
    "opcua",
    "mqtt",
    "points",
    "scenarios",
)


def parse_profile(text: str, file: str = "<profile>") -> Profile:
    """Parse and validate profile YAML text; ``file`` names it in errors."""
    loader = _Loader(text)
    loader.file = file
    try:
        doc = loader.get_single_data()
    except yaml.MarkedYAMLError as e:
        mark = e.problem_mark or e.context_mark
        raise ProfileError(
            file,
            mark.line + 1 if mark else None,
            "",
            f"YAML 语法错误：{e.problem or e}",
            f"YAML syntax error: {e.problem or e}",
        ) from None
    except yaml.YAMLError as e:
        raise ProfileError(file, None, "", f"YAML 错误：{e}", f"YAML error: {e}") from None
    finally:
        loader.dispose()
    ctx = _Ctx(file, "", 1)
    doc = _keys(ctx, doc, _TOP_KEYS, ("version", "device", "points"))
    if doc["version"] != 1:
        raise ctx.at(doc, "version").fail(
            f"不支持的档案版本 {doc['version']!r}，应为 1",
            f"unsupported profile version {doc['version']!r}; use 1",
        )
    device = _device(ctx.at(doc, "device"), doc["device"])
    mb = _keys(ctx.at(doc, "modbus"), doc.get("modbus") or _Map(), ("unit_id", "byte_order", "word_order"))
    mb_ctx = ctx.at(doc, "modbus")
    modbus_defaults = {
        "byte_order": _choice(mb_ctx.at(mb, "byte_order"), mb.get("byte_order", "big"), ("big", "little")),
        "word_order": _choice(mb_ctx.at(mb, "word_order"), mb.get("word_order", "big"), ("big", "little")),
    }
    ua = _keys(ctx.at(doc, "opcua"), doc.get("opcua") or _Map(), ("namespace", "path"))
    mq = _keys(ctx.at(doc, "mqtt"), doc.get("mqtt") or _Map(), ("topic", "qos", "period"))
    mq_ctx = ctx.at(doc, "mqtt")
    pts = doc["points"]
    pctx = ctx.at(doc, "points")
    if not isinstance(pts, list) or not pts:
        raise pctx.fail("points 应为非空列表", "points must be a non-empty list")
    points = [_point(pctx.at(pts, i), p, device, modbus_defaults) for i, p in enumerate(pts)]
    _check_cross(ctx.at(doc, "points"), doc, points)
    by_name = {p.name: p for p in points}
    topic = _str(mq_ctx.at(mq, "topic"), mq.get("topic", "santong-sim/{device}/data"))
    if not topic or "#" in topic or "+" in topic:
        raise mq_ctx.at(mq, "topic").fail(
            "主题不能为空，也不能含通配符 # +", "the topic must be non-empty without wildcards # +"
        )
    return Profile(
        source=file,
        device=device,
        seed=_int(ctx.at(doc, "seed"), doc.get("seed", 1), 0, 2**63 - 1),
        time_compression=_number(
            ctx.at(doc, "time_compression"), doc.get("time_compression", 1.0), positive=True
        ),
        update_period=_number(ctx.at(doc, "update_period"), doc.get("update_period", 0.1), positive=True),
        modbus_unit_id=_int(mb_ctx.at(mb, "unit_id"), mb.get("unit_id", 1), 0, 247),
        opcua_namespace=_str(
            ctx.at(doc, "opcua").at(ua, "namespace"),
            ua.get("namespace", f"urn:santong:simulator:{device.id}"),
        ),
        opcua_path=_str(ctx.at(doc, "opcua").at(ua, "path"), ua.get("path", "/santong/simulator")),
        mqtt_topic=topic,
        mqtt_qos=_choice(mq_ctx.at(mq, "qos"), mq.get("qos", 1), (0, 1, 2)),
        mqtt_period=_number(mq_ctx.at(mq, "period"), mq.get("period", 1.0), positive=True),
        points=tuple(points),
        scenarios=_scenarios(ctx.at(doc, "scenarios"), doc.get("scenarios"), by_name),
    )


def bundled_profiles() -> list[str]:
    """Names of the profiles shipped in santong.adapters.simulators/profiles."""
    folder = resources.files("santong.adapters.simulators").joinpath("profiles")
    return sorted(f.name[:-5] for f in folder.iterdir() if f.name.endswith(".yaml"))


def load_profile(source: str | Path) -> Profile:
    """Load a profile from a path, or a bundled one by name (e.g. ``"kj-substation"``)."""
    path = Path(source)
    if (
        not path.exists()
        and isinstance(source, str)
        and "/" not in source
        and not source.endswith((".yaml", ".yml"))
    ):
        names = bundled_profiles()
        if source not in names:
            raise ProfileError(
                str(source),
                None,
                "",
                f"没有这个档案文件，也不是内置档案（内置：{', '.join(names)}）",
                f"no such profile file, nor a bundled profile (bundled: {', '.join(names)})",
            )
        res = resources.files("santong.adapters.simulators").joinpath("profiles", f"{source}.yaml")
        return parse_profile(res.read_text(encoding="utf-8"), f"{source}.yaml")
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as e:
        raise ProfileError(
            str(path), None, "", f"无法读取：{e.strerror}", f"cannot read: {e.strerror}"
        ) from None
    except UnicodeDecodeError:
        raise ProfileError(str(path), None, "", "档案须为 UTF-8 编码", "the profile must be UTF-8") from None
    return parse_profile(text, str(path))
