"""The product manifest (产品声明): what the product is, what it claims, and how the runner starts it."""

from __future__ import annotations

import hashlib
import re
import string
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from santong.conformance._documents import ConfigError, Document, Problem, load_document, load_schema
from santong.conformance._documents import schema_problems as _schema_problems

__all__ = [
    "FEATURES",
    "PLACEHOLDERS",
    "PRODUCT_CLASSES",
    "Hooks",
    "Identity",
    "Manifest",
    "StartCommand",
    "load_manifest",
]

#: Placeholders a start command may use ({python}: the interpreter running the suite, for products in Python).
PLACEHOLDERS = ("grpc_target", "http_url", "device_id", "token", "workdir", "python")


def _enum(*keys: str) -> tuple[str, ...]:
    node: Any = load_schema("manifest")
    for k in keys:
        node = node[k]
    return tuple(node["enum"])


#: Features a manifest may claim (``features:``), also the arguments of the ``feature`` marker.
FEATURES: tuple[str, ...] = _enum("$defs", "feature")
#: Product classes (``product_class:``).
PRODUCT_CLASSES: tuple[str, ...] = _enum("properties", "product_class")


@dataclass(frozen=True, slots=True)
class Identity:
    """Who the product is; bound into the certificate."""

    vendor: str
    model: str
    version: str
    serial: str
    device_id: str
    mine_code: str
    ma_certificate: str = ""


@dataclass(frozen=True, slots=True)
class StartCommand:
    """How the runner starts the product: argv with placeholders, and when it counts as ready."""

    command: tuple[str, ...]
    cwd: Path
    ready_line: re.Pattern[str] | None = None
    ready_timeout_s: float = 30.0
    env: dict[str, str] = field(default_factory=dict)

    def render(self, values: dict[str, str]) -> tuple[list[str], dict[str, str]]:
        """argv and extra environment with the placeholders filled in (every placeholder must be given)."""
        return [a.format_map(values) for a in self.command], {
            k: v.format_map(values) for k, v in self.env.items()
        }


@dataclass(frozen=True, slots=True)
class Hooks:
    """(manifest_version 2) How the runner starts and stops a product it does not start itself (hardware): argv
    with the placeholders of start.command, each finishing within ``timeout_s``."""

    start: tuple[str, ...]
    stop: tuple[str, ...] = ()
    cwd: Path = Path()
    timeout_s: float = 120.0

    def render(self, which: str, values: dict[str, str]) -> list[str]:
        """argv of the ``start`` or ``stop`` hook with the placeholders filled in."""
        return [a.format_map(values) for a in getattr(self, which)]


@dataclass(frozen=True, eq=False)
class Manifest:
    """A validated product manifest. ``document`` is the file's content as loaded (embedded in the report)."""

    path: Path
    document: dict[str, Any]
    identity: Identity
    product_class: str
    transport: str
    report_interval_ms: int
    heartbeat_interval_ms: int
    features: frozenset[str]
    start: StartCommand | None
    points: tuple[dict[str, Any], ...] | None = None
    points_file: Path | None = None
    raw_sha256: str = ""
    #: (manifest_version 2) the software the certificate covers: name, sha256, and status ``computed`` (the runner
    #: hashed the artefact of a product it starts) or ``declared_unverified`` (an external product's declaration).
    software: tuple[dict[str, str], ...] = ()
    #: (manifest_version 2) the product's own back-off cap, ≤ the spec's 30 s (ST-PROTO-017); None: the spec's.
    max_backoff_ms: int | None = None
    #: (manifest_version 2) start/stop hooks of a product the runner does not start (``start: external``).
    hooks: Hooks | None = None

    @property
    def external(self) -> bool:
        """True when the vendor starts the product (``start: external``)."""
        return self.start is None

    def claims(self, feature: str) -> bool:
        """Whether the product claims an optional feature."""
        return feature in self.features

    def embedded(self) -> dict[str, Any]:
        """The manifest as embedded in the report: the document, its file name and hashes, the points file."""
        out: dict[str, Any] = {
            "document": self.document,
            "file": self.path.name,
            "file_sha256": self.raw_sha256,
            "points_file": None,
        }
        if self.points_file is not None:
            data = self.points_file.read_bytes()
            out["points_file"] = {
                "file": self.points_file.name,
                "sha256": hashlib.sha256(data).hexdigest(),
                "bytes": len(data),
            }
        return out


def _placeholder_problems(doc: Document, keys: list[str | int], text: str) -> list[Problem]:
    try:
        parts = list(string.Formatter().parse(text))
    except ValueError as e:
        return [
            doc.problem(
                keys,
                f"占位符写法错误：{e}；字面的花括号请写成 {{{{ 和 }}}}",
                f"malformed placeholder: {e}; write literal braces as {{{{ and }}}}",
            )
        ]
    out = []
    known = ", ".join(f"{{{p}}}" for p in PLACEHOLDERS)
    for _, name, spec, conv in parts:
        if name is None:
            continue
        if name not in PLACEHOLDERS or spec or conv:
            import difflib  # noqa: PLC0415

            close = difflib.get_close_matches(name, PLACEHOLDERS, n=1)
            hint_zh = f"（是否想写 {{{close[0]}}}？）" if close else ""
            hint_en = f" (did you mean {{{close[0]}}}?)" if close else ""
            out.append(
                doc.problem(
                    keys,
                    f"不认识的占位符 {{{name}}}{hint_zh}；可用：{known}",
                    f"unknown placeholder {{{name}}}{hint_en}; available: {known}",
                )
            )
    return out


def _start(doc: Document, base: Path, problems: list[Problem]) -> StartCommand | None:
    spec = doc.data["start"]
    if spec == "external":
        return None
    for i, arg in enumerate(spec["command"]):
        problems += _placeholder_problems(doc, ["start", "command", i], arg)
    for k, v in spec.get("env", {}).items():
        problems += _placeholder_problems(doc, ["start", "env", k], v)
    ready = None
    if "ready_line" in spec:
        try:
            ready = re.compile(spec["ready_line"])
        except re.error as e:
            problems.append(
                doc.problem(
                    ["start", "ready_line"],
                    f"不是合法的正则表达式：{e}",
                    f"not a valid regular expression: {e}",
                )
            )
    cwd = (base / spec["cwd"]).resolve() if "cwd" in spec else base
    if not cwd.is_dir():
        problems.append(
            doc.problem(["start", "cwd"], f"工作目录 {cwd} 不存在", f"working directory {cwd} does not exist")
        )
    return StartCommand(
        command=tuple(spec["command"]),
        cwd=cwd,
        ready_line=ready,
        ready_timeout_s=float(spec.get("ready_timeout_s", 30.0)),
        env=dict(spec.get("env", {})),
    )


def load_manifest(path: str | Path) -> Manifest:
    """Load and validate a manifest; ConfigError lists every problem (file, path, line, what to fix).

    Example::

        m = load_manifest("product.yaml")
        if m.claims("backfill"):
            ...
    """
    path = Path(path)
    doc = load_document(path, "产品声明", "manifest")
    if not isinstance(doc.data, dict):
        raise ConfigError(
            [doc.problem([], "产品声明须为一个映射（键: 值）", "a manifest is a mapping (key: value)")],
            "产品声明",
            "manifest",
        )
    problems = _schema_problems(doc, "manifest")
    if problems:
        raise ConfigError(problems, "产品声明", "manifest")
    d = doc.data
    base = path.resolve().parent
    start = _start(doc, base, problems)
    points_file = None
    if "points_file" in d:
        points_file = (base / d["points_file"]).resolve()
        if not points_file.is_file():
            problems.append(
                doc.problem(
                    ["points_file"],
                    f"测点定义文件 {points_file} 不存在",
                    f"points file {points_file} does not exist",
                )
            )
        elif "_CDDY_" not in points_file.name.upper():
            problems.append(
                doc.problem(
                    ["points_file"],
                    "points_file 须为 MT/T 1201 测点定义文件（{煤矿编码}_CDDY_{时间}.txt）",
                    "points_file must be an MT/T 1201 point definition file ({mine code}_CDDY_{time}.txt)",
                )
            )
    software = _software(doc, base, start is None, problems)
    hooks = _hooks(doc, base, start is None, problems)
    if "max_backoff_ms" in d and d["manifest_version"] < 2:
        problems.append(
            doc.problem(
                ["max_backoff_ms"],
                "max_backoff_ms 需要 manifest_version: 2",
                "max_backoff_ms needs manifest_version: 2",
            )
        )
    if problems:
        raise ConfigError(problems, "产品声明", "manifest")
    ident = d["identity"]
    return Manifest(
        path=path,
        document=d,
        identity=Identity(
            vendor=ident["vendor"],
            model=ident["model"],
            version=ident["version"],
            serial=ident["serial"],
            device_id=ident["device_id"],
            mine_code=ident["mine_code"],
            ma_certificate=ident.get("ma_certificate", ""),
        ),
        product_class=d["product_class"],
        transport=d["transport"],
        report_interval_ms=int(d["report_interval_ms"]),
        heartbeat_interval_ms=int(d["heartbeat_interval_ms"]),
        features=frozenset(d["features"]),
        start=start,
        points=tuple(d["points"]) if "points" in d else None,
        points_file=points_file,
        raw_sha256=hashlib.sha256(path.read_bytes()).hexdigest(),
        software=software,
        max_backoff_ms=int(d["max_backoff_ms"]) if "max_backoff_ms" in d else None,
        hooks=hooks,
    )


def _hooks(doc: Document, base: Path, external: bool, problems: list[Problem]) -> Hooks | None:
    """The start/stop hooks of an external product (manifest_version 2)."""
    d = doc.data
    if "hooks" not in d:
        return None
    spec = d["hooks"]
    if d["manifest_version"] < 2:
        problems.append(
            doc.problem(["hooks"], "hooks 需要 manifest_version: 2", "hooks needs manifest_version: 2")
        )
        return None
    if not external:
        problems.append(
            doc.problem(
                ["hooks"],
                "hooks 只用于运行器不启动的产品（start: external）；由运行器启动的产品用 start.command",
                "hooks are for a product the runner does not start (start: external); a product the runner starts "
                "uses start.command",
            )
        )
        return None
    for which in ("start", "stop"):
        for i, arg in enumerate(spec.get(which, [])):
            problems.extend(_placeholder_problems(doc, ["hooks", which, i], arg))
    cwd = (base / spec["cwd"]).resolve() if "cwd" in spec else base
    if not cwd.is_dir():
        problems.append(
            doc.problem(["hooks", "cwd"], f"工作目录 {cwd} 不存在", f"working directory {cwd} does not exist")
        )
    return Hooks(
        start=tuple(spec["start"]),
        stop=tuple(spec.get("stop", ())),
        cwd=cwd,
        timeout_s=float(spec.get("timeout_s", 120.0)),
    )


def _software(
    doc: Document, base: Path, external: bool, problems: list[Problem]
) -> tuple[dict[str, str], ...]:
    """The software digests: computed from the artefact files of a product the runner starts, else declared."""
    d = doc.data
    if "software" not in d:
        return ()
    if d["manifest_version"] < 2:
        problems.append(
            doc.problem(
                ["software"], "software 需要 manifest_version: 2", "software needs manifest_version: 2"
            )
        )
        return ()
    out = []
    for i, item in enumerate(d["software"]):
        digest = item.get("sha256")
        if "file" in item:
            artefact = (base / item["file"]).resolve()
            try:
                computed = hashlib.sha256(artefact.read_bytes()).hexdigest()
            except OSError as e:
                problems.append(
                    doc.problem(
                        ["software", i, "file"],
                        f"无法读取制品文件 {artefact}：{e.strerror or e}",
                        f"cannot read the artefact file {artefact}: {e.strerror or e}",
                    )
                )
                continue
            if digest is not None and digest != computed:
                problems.append(
                    doc.problem(
                        ["software", i, "sha256"],
                        f"声明的 sha256 与制品文件 {artefact.name} 的实际摘要 {computed} 不符",
                        f"the declared sha256 does not match the artefact file {artefact.name} ({computed})",
                    )
                )
                continue
            digest = computed
        status = "declared_unverified" if external or "file" not in item else "computed"
        out.append({"name": item["name"], "sha256": str(digest), "status": status})
    return tuple(out)
