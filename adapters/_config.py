"""Typed adapter configuration from YAML, validated, with errors that give file, line, column and the fix.

The YAML is composed into its node tree first, so that every value keeps its position; dataclasses give the
types; the validation core (``santong.protocols.validate``) checks the identity and the point definitions, and
its violations are mapped back to the line of the offending key. Relative paths are relative to the file.

Example configuration::

    platform:
      transport: grpc                 # grpc | http
      target: 127.0.0.1:50051         # grpc: host:port;  http: url: http://127.0.0.1:8080
      token_env: SANTONG_TOKEN        # or token: ... / token_file: token.txt
      tls: {ca: ca.pem, cert: device.pem, key: device.key}      # optional
      retry: {base_ms: 100, cap_ms: 30000}
    device:
      device_id: KJ70N-0001
      vendor: 示例电子
      model: KJ70N-F16
      firmware_version: 2.3.1
      serial_number: SN20250001
      ma_certificate: MAH230123
      product_class: SAFETY_MONITORING
      firmware_file: kj70n-2.3.1.bin  # its SHA-256 goes to Register (or firmware_sha256: <64 hex>)
    mine: {mine_code: "140421000001", name: 示例煤矿}
    queue: {path: queue.db}
    batch: {max_points: 1000, linger_ms: 1000}
    heartbeat: {interval_ms: 30000}
    adapter:
      kind: modbus
      settings: {host: 127.0.0.1, port: 502}
      outstations: [{outstation_code: "140421000001F01", location: 回风巷分站}]
      points:
        - point_code: 14042100000101MNA0010A01     # sensor type, kind, system, unit, range: from code + dictionary
          location: 15101 工作面上隅角 T0
          outstation_code: "140421000001F01"
          thresholds: {alarm_high: 1.0, alarm_high_clear: 1.0, power_off_high: 1.5, power_restore_high: 1.0}
          data_type: float32                       # PointMapping fields
          word_order: little
          deadband: 0.01
          source: {address: 0}                     # the adapter's point_type
"""

from __future__ import annotations

import dataclasses
import os
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal, get_type_hints

import yaml
from santong.adapters._binder import _BAD, _NULL, _Builder, _join
from santong.adapters._config_checks import check_client
from santong.adapters._mapping import PointMapping
from santong.adapters._sdk import AdapterConfig, AdapterError, PointConfig, Registry, default_registry
from santong.adapters._settings import (
    BatchSettings,
    ClientConfig,
    Config,
    ConfigError,
    ConfigProblem,
    DeviceSettings,
    HeartbeatSettings,
    MineSettings,
    PlatformSettings,
    QueueSettings,
    RetrySettings,
    Thresholds,
    TlsSettings,
    ValueKindName,
)
from santong.protocols import (
    DeviceState,
    ValidationContext,
    code_rules,
    sensor_types,
    validate,
)
from santong.protocols.v1 import common_pb2, data_pb2, device_access_pb2

__all__ = [
    "BatchSettings",
    "ClientConfig",
    "Config",
    "ConfigError",
    "ConfigProblem",
    "DeviceSettings",
    "HeartbeatSettings",
    "MineSettings",
    "PlatformSettings",
    "QueueSettings",
    "RetrySettings",
    "Thresholds",
    "TlsSettings",
    "load_config",
    "parse_config",
]

# --------------------------------------------------------------------------- point specs (bound from YAML)


@dataclass(frozen=True)
class _PointSpec:
    """The definition keys of one configured point (mapping keys and ``source`` are handled beside it)."""

    point_code: str
    location: str
    alias: int = 0
    sensor_type: str = ""
    system_code: str = ""
    value_kind: ValueKindName | None = None
    unit: str | None = None
    outstation_code: str = ""
    range: tuple[float, float] | None = None
    range_low: float | None = None
    range_high: float | None = None
    thresholds: Thresholds | None = None
    on_description: str = ""
    off_description: str = ""
    x: float = 0.0
    y: float = 0.0
    z: float = 0.0
    related_point_codes: tuple[str, ...] = ()
    writable: bool = False


@dataclass(frozen=True)
class _OutstationSpec:
    outstation_code: str
    location: str = ""
    x: float = 0.0
    y: float = 0.0
    z: float = 0.0


def _definition(spec: _PointSpec, explicit_alias: int) -> data_pb2.PointDefinition:
    """The PointDefinition of a point spec: defaults from the point code and the data dictionary."""
    m = code_rules()["point"].pattern.fullmatch(spec.point_code)
    groups = m.groupdict() if m else {}
    st_code = spec.sensor_type or groups.get("sensor", "")
    st = sensor_types().get(st_code)
    if st is not None and not spec.sensor_type:
        st_code = st.code  # a legacy code in the point code maps to the dictionary code
    kind = spec.value_kind or {"MN": "ANALOG", "KG": "SWITCH", "LJ": "ACCUMULATOR"}.get(
        groups.get("kind", ""), ""
    )
    d = data_pb2.PointDefinition(
        alias=explicit_alias,
        point_code=spec.point_code,
        system_code=spec.system_code or groups.get("system", ""),
        outstation_code=spec.outstation_code,
        sensor_type=st_code,
        value_kind=common_pb2.ValueKind.Value(f"VALUE_KIND_{kind}") if kind else 0,
        unit=spec.unit if spec.unit is not None else (st.unit if st else ""),
        on_description=spec.on_description,
        off_description=spec.off_description,
        location=spec.location,
        x=spec.x,
        y=spec.y,
        z=spec.z,
        related_point_codes=list(spec.related_point_codes),
    )
    if spec.range is not None:
        d.range_low, d.range_high = spec.range
    elif kind == "SWITCH":
        d.range_low, d.range_high = 0.0, 1.0
    elif st is not None:
        d.range_low, d.range_high = st.range_low, st.range_high
    if spec.range_low is not None:
        d.range_low = spec.range_low
    if spec.range_high is not None:
        d.range_high = spec.range_high
    thresholds = (
        dataclasses.asdict(spec.thresholds)
        if spec.thresholds is not None
        else (dict(st.thresholds) if st and kind != "SWITCH" else {})
    )
    for name, value in thresholds.items():
        if value is not None and name in data_pb2.PointDefinition.DESCRIPTOR.fields_by_name:
            setattr(d, name, float(value))
    return d


_THRESHOLD_FIELDS = {f.name for f in dataclasses.fields(Thresholds)}
_MAPPING_FIELDS = tuple(f.name for f in dataclasses.fields(PointMapping) if f.name != "name")
_SPEC_FIELDS = tuple(f.name for f in dataclasses.fields(_PointSpec))


def _build_point(b: _Builder, node: yaml.Node, path: str, point_type: type[Any] | None) -> PointConfig | Any:
    pairs = b.pairs(node, path)
    if pairs is None:
        return _BAD
    known = [*_SPEC_FIELDS, *_MAPPING_FIELDS, "source"]
    for key, (kn, _) in pairs.items():
        if key not in known:
            b.unknown(key, kn, path, known)
    spec_kwargs = b.fields(_PointSpec, {k: v for k, v in pairs.items() if k in _SPEC_FIELDS}, node, path)
    spec = b.construct(_PointSpec, spec_kwargs, node, path, pairs) if spec_kwargs is not None else _BAD
    mapping: Any = None
    map_pairs = {k: v for k, v in pairs.items() if k in _MAPPING_FIELDS}
    if map_pairs:
        hints = get_type_hints(PointMapping)
        mk: dict[str, Any] = {}
        for k, (_, vn) in map_pairs.items():
            v = b.build(hints[k], vn, _join(path, k))
            if v is _BAD:
                mapping = _BAD
            else:
                mk[k] = v
        if mapping is not _BAD:
            mk.setdefault("data_type", "float64")  # mapping keys without data_type: a plain number
            name = spec.point_code if spec is not _BAD else ""
            mapping = b.construct(PointMapping, {**mk, "name": name}, node, path, map_pairs)
    source: Any = None
    if "source" in pairs:
        _, sn = pairs["source"]
        source = (
            b.build_dataclass(point_type, sn, _join(path, "source"))
            if point_type is not None
            else b.value(sn)
        )
    elif point_type is not None:
        source = b.build_dataclass(
            point_type,
            yaml.MappingNode("tag:yaml.org,2002:map", [], node.start_mark, node.end_mark),
            _join(path, "source"),
        )
    if spec is _BAD or mapping is _BAD or source is _BAD:
        return _BAD
    return PointConfig(
        definition=_definition(spec, spec.alias),
        mapping=mapping,
        source=source,
        writable=spec.writable,
        given=frozenset(pairs),
    )


def _violation_path(path: str, points_given: Sequence[frozenset[str]]) -> str:
    """A core violation path ($.points[3].range_low) as a configuration key path (adapter.points[3].range)."""
    p = path[2:] if path.startswith("$.") else ("" if path == "$" else path)
    if p.startswith("device.mine_code"):
        return "mine.mine_code"
    if p.startswith(("device", "mine")):
        return p
    if p.startswith("points["):
        idx = int(p[7 : p.index("]")])
        rest = p[p.index("]") + 2 :] if "]." in p else ""
        head = f"adapter.points[{idx}]"
        given = points_given[idx] if idx < len(points_given) else frozenset()
        fld = rest.split(".")[0] if rest else ""
        if fld in ("range_low", "range_high") and fld not in given and "range" in given:
            return f"{head}.range"
        if fld in _THRESHOLD_FIELDS and fld not in given and "thresholds" in given:
            return f"{head}.thresholds.{fld}"
        if fld == "alias" and "alias" not in given:
            return head
        return f"{head}.{fld}" if fld else head
    if p.startswith("outstations["):
        return f"adapter.{p}"
    return p


def _check_definitions(b: _Builder, c: ClientConfig, adapter: AdapterConfig[Any]) -> None:
    """Aliases and codes unique (ST-DATA-017); then the validation core on identity and definitions."""
    n = b.node_for
    seen_alias: dict[int, int] = {}
    seen_code: dict[str, int] = {}
    for i, p in enumerate(adapter.points):
        if p.alias:
            if p.alias in seen_alias:
                b.problem(
                    n(f"adapter.points[{i}].alias"),
                    f"adapter.points[{i}].alias",
                    f"别名 {p.alias} 与第 {seen_alias[p.alias]} 个测点重复",
                    f"alias {p.alias} repeats that of point #{seen_alias[p.alias]}",
                    "每个测点用不同的别名，或删除 alias 由客户端分配",
                    "give every point its own alias, or drop alias to have the client assign one",
                    clause_id="ST-DATA-017",
                )
            seen_alias.setdefault(p.alias, i)
        if p.point_code in seen_code:
            b.problem(
                n(f"adapter.points[{i}].point_code"),
                f"adapter.points[{i}].point_code",
                f"测点编码 {p.point_code} 与第 {seen_code[p.point_code]} 个测点重复",
                f"point code {p.point_code} repeats that of point #{seen_code[p.point_code]}",
                "每个测点编码只出现一次",
                "list every point code once",
                clause_id="ST-DATA-017",
            )
        seen_code.setdefault(p.point_code, i)
    if not adapter.points and not adapter.outstations:
        return  # the adapter learns its points at run time (mtfile: from CDDY files): nothing to check here
    # Provisional aliases for the core's checks; the client assigns the real ones from its persistent table.
    free = (a for a in range(1, 1 << 31) if a not in seen_alias)
    request = device_access_pb2.DefinePointsRequest(outstations=list(adapter.outstations))
    for p in adapter.points:
        d = request.points.add()
        d.CopyFrom(p.definition)
        if not d.alias:
            d.alias = next(free)
    if len(seen_alias) != sum(1 for p in adapter.points if p.alias):
        return  # duplicate aliases already reported; the core would only repeat them
    state = DeviceState(device_id=c.device.device_id, mine_code=c.mine.mine_code)
    given = [p.given for p in adapter.points]
    for v in validate(request, ValidationContext(state=state, arrival=False)):
        path = _violation_path(v.path, given)
        level: Literal["error", "warning"] = "error" if v.level == "MUST" else "warning"
        b.problem(n(path), path, v.message_zh, v.message_en, level=level, clause_id=v.clause_id)


def _check_identity(b: _Builder, c: ClientConfig) -> None:
    for v in validate(c.register_request(), ValidationContext(arrival=False)):
        path = _violation_path(v.path, [])
        level: Literal["error", "warning"] = "error" if v.level == "MUST" else "warning"
        b.problem(b.node_for(path), path, v.message_zh, v.message_en, level=level, clause_id=v.clause_id)


# --------------------------------------------------------------------------- entry points

_TOP = ("platform", "device", "mine", "queue", "batch", "heartbeat", "adapter")
_ADAPTER_KEYS = ("kind", "settings", "points", "outstations")


def parse_config(
    text: str,
    file: str = "<config>",
    *,
    base_dir: Path | None = None,
    registry: Registry | None = None,
    require_adapter: bool = True,
) -> Config:
    """Parse and validate a configuration from YAML text; ConfigError lists every problem with its line.

    ``registry`` resolves ``adapter.kind`` (default: the installed adapters); ``require_adapter=False`` accepts a
    file without an ``adapter`` section (a client-only configuration).
    """
    base = base_dir if base_dir is not None else Path(file).resolve().parent
    try:
        loader = yaml.SafeLoader(text)
        try:
            root = loader.get_single_node()
        finally:
            loader.dispose()
    except yaml.MarkedYAMLError as e:
        mark = e.problem_mark or e.context_mark
        line, col = (mark.line + 1, mark.column + 1) if mark else (1, 1)
        raise ConfigError(
            [
                ConfigProblem(
                    file,
                    line,
                    col,
                    "",
                    f"YAML 语法错误：{e.problem or e}",
                    f"YAML syntax error: {e.problem or e}",
                    "检查缩进、冒号和引号",
                    "check indentation, colons and quotes",
                )
            ]
        ) from e
    except yaml.YAMLError as e:
        raise ConfigError([ConfigProblem(file, 1, 1, "", f"YAML 错误：{e}", f"YAML error: {e}")]) from e
    b = _Builder(file, base, loader)
    if root is None:
        raise ConfigError(
            [
                ConfigProblem(
                    file,
                    1,
                    1,
                    "",
                    "配置文件为空",
                    "the configuration file is empty",
                    "参见 santong.adapters._config 的示例",
                    "see the example in santong.adapters._config",
                )
            ]
        )
    b.nodes[""] = root
    top = b.pairs(root, "")
    if top is None:
        raise ConfigError(b.problems)
    for key, (kn, _) in top.items():
        if key not in _TOP:
            b.unknown(key, kn, "", _TOP)
    client_kwargs = b.fields(ClientConfig, {k: v for k, v in top.items() if k in _TOP}, root, "")
    client = b.construct(ClientConfig, client_kwargs, root, "", top) if client_kwargs is not None else _BAD
    if client is not _BAD:
        check_client(b, client)
        _check_identity(b, client)
    adapter: AdapterConfig[Any] | None = None
    if "adapter" in top:
        adapter = _build_adapter(b, top["adapter"][1], registry or default_registry())
    elif require_adapter:
        b.problem(
            root,
            "adapter",
            "缺少 adapter 部分",
            "the adapter section is missing",
            "加上 adapter: {kind: …, points: […]}",
            "add adapter: {kind: …, points: […]}",
        )
    if adapter is not None and client is not _BAD:
        _check_definitions(b, client, adapter)
    errors = [p for p in b.problems if p.level == "error"]
    if errors or client is _BAD:
        raise ConfigError(errors or b.problems)
    warnings = tuple(p for p in b.problems if p.level == "warning")
    return Config(
        **{f.name: getattr(client, f.name) for f in dataclasses.fields(ClientConfig)},
        adapter=adapter,
        source=file,
        warnings=warnings,
    )


def _build_adapter(b: _Builder, node: yaml.Node, registry: Registry) -> AdapterConfig[Any] | None:
    pairs = b.pairs(node, "adapter")
    if pairs is None:
        return None
    for key, (kn, _) in pairs.items():
        if key not in _ADAPTER_KEYS:
            b.unknown(key, kn, "adapter", _ADAPTER_KEYS)
    if "kind" not in pairs:
        b.problem(
            node,
            "adapter.kind",
            "缺少 adapter.kind",
            "adapter.kind is missing",
            f"加上 kind: …（已知：{', '.join(registry.kinds())}）",
            f"add kind: … (known: {', '.join(registry.kinds())})",
        )
        return None
    kind = b.build(str, pairs["kind"][1], "adapter.kind")
    cls = None
    if kind is not _BAD:
        try:
            cls = registry.get(kind)
        except AdapterError as e:
            b.problem(pairs["kind"][1], "adapter.kind", str(e), str(e), "见上 / see above")
    settings: Any = _BAD
    if cls is not None:
        sn = pairs.get("settings", (None, yaml.ScalarNode(_NULL, "", node.start_mark, node.end_mark)))[1]
        settings = b.build_dataclass(cls.config_type, sn, "adapter.settings")
    points: list[PointConfig] = []
    ok = True
    if "points" in pairs:
        pn = pairs["points"][1]
        if isinstance(pn, yaml.SequenceNode):
            for i, item in enumerate(pn.value):
                b.nodes[f"adapter.points[{i}]"] = item
                p = _build_point(b, item, f"adapter.points[{i}]", cls.point_type if cls is not None else None)
                if p is _BAD:
                    ok = False
                else:
                    points.append(p)
        elif not b.is_null(pn):
            b.problem(
                pn,
                "adapter.points",
                "points 应为列表",
                "points must be a list",
                "每个测点写成一个 - 项",
                "write each point as a '- ' item",
            )
            ok = False
    outstations: list[data_pb2.OutstationDefinition] = []
    if "outstations" in pairs:
        specs = b.build(tuple[_OutstationSpec, ...], pairs["outstations"][1], "adapter.outstations")
        if specs is _BAD:
            ok = False
        else:
            outstations = [data_pb2.OutstationDefinition(**dataclasses.asdict(s)) for s in specs]
    if cls is None or settings is _BAD or not ok:
        return None
    return AdapterConfig(kind=kind, settings=settings, points=tuple(points), outstations=tuple(outstations))


def load_config(
    path: str | os.PathLike[str], *, registry: Registry | None = None, require_adapter: bool = True
) -> Config:
    """Load and validate a configuration file (UTF-8 YAML); ConfigError lists every problem with file and line.

    Example::

        try:
            config = load_config("kj70n.yaml")
        except ConfigError as e:
            for p in e.problems:
                print(p)          # kj70n.yaml:12:5: adapter.points[0].unit: … ；修改：… / …; fix: …
    """
    p = Path(path)
    try:
        text = p.read_text(encoding="utf-8")
    except OSError as e:
        raise ConfigError(
            [
                ConfigProblem(
                    str(p),
                    1,
                    1,
                    "",
                    f"无法读取配置文件：{e}",
                    f"cannot read the configuration file: {e}",
                    "检查路径和权限",
                    "check the path and permissions",
                )
            ]
        ) from e
    except UnicodeDecodeError as e:
        raise ConfigError(
            [
                ConfigProblem(
                    str(p),
                    1,
                    1,
                    "",
                    "配置文件不是 UTF-8 编码",
                    "the configuration file is not UTF-8",
                    "以 UTF-8 保存",
                    "save it as UTF-8",
                )
            ]
        ) from e
    return parse_config(
        text, str(p), base_dir=p.resolve().parent, registry=registry, require_adapter=require_adapter
    )
