"""Configuration documents (manifest, profiles, waivers, credentials): YAML/JSON with line numbers, schema
checks whose errors say what to fix, and the one error type that carries them."""

from __future__ import annotations

import datetime as _dt
import difflib
import json
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from functools import cache
from importlib import resources
from pathlib import Path
from typing import Any

import yaml
from santong.protocols import SantongError

__all__ = [
    "ConfigError",
    "Document",
    "Problem",
    "json_path",
    "load_document",
    "load_schema",
    "schema_problems",
]

Key = str | int


@dataclass(frozen=True, slots=True)
class Problem:
    """One thing wrong with a configuration file: where (file, JSON path, line) and how to fix it."""

    file: str
    path: str
    message_zh: str
    message_en: str
    line: int | None = None

    def __str__(self) -> str:
        where = f"{self.file}:{self.line}" if self.line else self.file
        return f"{where}: {self.path}: {self.message_zh} / {self.message_en}"

    def as_dict(self) -> dict[str, Any]:
        """JSON form."""
        return {
            "file": self.file,
            "path": self.path,
            "line": self.line,
            "message_zh": self.message_zh,
            "message_en": self.message_en,
        }


class ConfigError(SantongError):
    """A manifest, profile, waiver or credentials file that cannot be used; ``problems`` say what to fix."""

    description_zh = "配置文件无效"
    description_en = "invalid configuration file"

    def __init__(self, problems: Iterable[Problem], what_zh: str = "配置", what_en: str = "configuration"):
        self.problems = list(problems)
        head = f"{what_zh}无效，请修正以下 {len(self.problems)} 处 / invalid {what_en}, fix these {len(self.problems)} problem(s):"
        super().__init__("\n".join([head, *(f"  - {p}" for p in self.problems)]))


def json_path(keys: Sequence[Key]) -> str:
    """``$.a.b[0]`` for the key sequence ("a", "b", 0)."""
    out = "$"
    for k in keys:
        out += f"[{k}]" if isinstance(k, int) else f".{k}"
    return out


def _plain(value: Any) -> Any:
    """YAML values → JSON values (dates become ISO strings, keys strings)."""
    if isinstance(value, dict):
        return {str(k): _plain(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_plain(v) for v in value]
    if isinstance(value, _dt.datetime | _dt.date):
        return value.isoformat()
    return value


@dataclass
class Document:
    """A loaded YAML or JSON document, JSON-compatible, that can tell the line of any path."""

    file: Path
    data: Any
    _node: Any = None

    def line(self, keys: Sequence[Key]) -> int | None:
        """1-based line of the value at keys (or of the deepest existing parent)."""
        node = self._node
        if node is None:
            return None
        for k in keys:
            nxt = None
            if isinstance(node, yaml.MappingNode):
                nxt = next((v for kn, v in node.value if getattr(kn, "value", None) == k), None)
            elif isinstance(node, yaml.SequenceNode) and isinstance(k, int) and k < len(node.value):
                nxt = node.value[k]
            if nxt is None:
                break
            node = nxt
        return int(node.start_mark.line) + 1

    def problem(self, keys: Sequence[Key], zh: str, en: str) -> Problem:
        """A problem at keys of this document."""
        return Problem(str(self.file), json_path(keys), zh, en, self.line(keys))


def load_document(path: Path, what_zh: str, what_en: str) -> Document:
    """Read a YAML (or JSON) file; ConfigError when it is missing, unreadable or not well-formed."""
    shown = str(path)
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise ConfigError(
            [
                Problem(
                    shown,
                    "$",
                    f"找不到{what_zh}文件，请检查路径",
                    f"{what_en} file not found; check the path",
                )
            ],
            what_zh,
            what_en,
        ) from None
    except (OSError, UnicodeDecodeError) as e:
        raise ConfigError(
            [
                Problem(
                    shown,
                    "$",
                    f"无法读取（须为 UTF-8 文本）：{e}",
                    f"cannot read it (UTF-8 text expected): {e}",
                )
            ],
            what_zh,
            what_en,
        ) from e
    try:
        node = yaml.compose(text, Loader=yaml.SafeLoader)
        data = yaml.safe_load(text)
    except yaml.YAMLError as e:
        mark = getattr(e, "problem_mark", None)
        line = int(mark.line) + 1 if mark is not None else None
        raise ConfigError(
            [
                Problem(
                    shown,
                    "$",
                    f"不是合法的 YAML/JSON：{e}",
                    f"not well-formed YAML/JSON: {e}",
                    line,
                )
            ],
            what_zh,
            what_en,
        ) from e
    return Document(path, _plain(data), node)


@cache
def load_schema(name: str) -> dict[str, Any]:
    """A bundled JSON Schema of santong.conformance (schemas/NAME.schema.json)."""
    text = (
        resources.files("santong.conformance").joinpath("schemas", f"{name}.schema.json").read_text("utf-8")
    )
    result: dict[str, Any] = json.loads(text)
    return result


@cache
def _validator(name: str) -> Any:
    import jsonschema  # noqa: PLC0415  (lazy: only when a file is checked)

    schema = load_schema(name)
    cls = jsonschema.validators.validator_for(schema)
    cls.check_schema(schema)
    return cls(schema, format_checker=cls.FORMAT_CHECKER)


def _suggest(word: str, choices: Iterable[str]) -> tuple[str, str]:
    close = difflib.get_close_matches(word, list(choices), n=1, cutoff=0.6)
    return (f"（是否想写 {close[0]}？）", f" (did you mean {close[0]}?)") if close else ("", "")


def _leaf(err: Any) -> Any:
    """For a oneOf error, the deepest error of the branch that has the instance's shape (else the error)."""
    if err.validator != "oneOf":
        return err
    branches: dict[int, list[Any]] = {}
    for e in err.context or ():
        branches.setdefault(int(e.schema_path[0]), []).append(e)
    for errors in branches.values():
        if not any(e.validator in ("type", "const") and not e.relative_path for e in errors):
            return _leaf(max(errors, key=lambda e: len(e.relative_path)))
    return err


def _one_of(err: Any) -> tuple[str, str]:
    """Describe a oneOf error that matches no branch's shape: list the allowed shapes."""
    shapes = []
    for sub in err.validator_value:
        if "const" in sub:
            shapes.append(repr(sub["const"]))
        elif sub.get("type") == "object":
            req = ", ".join(sub.get("required", []))
            shapes.append(f"a mapping with {req}" if req else "a mapping")
        elif "type" in sub:
            shapes.append(f"a {sub['type']}")
    allowed = " or ".join(shapes) or "another form"
    return f"形式不对：应为 {allowed}", f"wrong form: must be {allowed}"


def _describe(err: Any) -> tuple[str, str]:
    """A bilingual, fix-oriented message for one jsonschema error."""
    v, val, inst = err.validator, err.validator_value, err.instance
    if v == "required":
        missing = [k for k in val if isinstance(inst, dict) and k not in inst]
        name = missing[0] if missing else "?"
        return f"缺少必填项 {name}", f"required key {name} is missing"
    if v == "additionalProperties":
        allowed = list(err.schema.get("properties", {}))
        extra = [k for k in inst if k not in allowed] if isinstance(inst, dict) else []
        name = extra[0] if extra else "?"
        zh, en = _suggest(name, allowed)
        return (
            f"不认识的键 {name}{zh}；允许的键：{', '.join(allowed)}",
            f"unknown key {name}{en}; allowed keys: {', '.join(allowed)}",
        )
    if v == "enum":
        zh, en = _suggest(str(inst), [str(x) for x in val])
        options = ", ".join(str(x) for x in val)
        return (
            f"取值 {inst!r} 无效{zh}；可选：{options}",
            f"{inst!r} is not allowed{en}; choose one of: {options}",
        )
    if v == "const":
        return f"取值须为 {val!r}（现为 {inst!r}）", f"must be {val!r} (is {inst!r})"
    if v == "type":
        return (
            f"类型错误：应为 {val}，现为 {type(inst).__name__}",
            f"wrong type: {val} expected, got {type(inst).__name__}",
        )
    if v in ("minimum", "maximum", "exclusiveMinimum", "exclusiveMaximum"):
        return f"数值 {inst} 超出允许范围（{v} {val}）", f"{inst} is out of range ({v} {val})"
    if v in ("minLength", "pattern") and isinstance(inst, str):
        if not inst.strip():
            return "不能为空", "must not be empty"
        return f"格式不符：{inst!r} 不匹配 {val}", f"malformed: {inst!r} does not match {val}"
    if v in ("minItems", "minProperties"):
        return "不能为空列表/空对象", "must not be empty"
    if v == "uniqueItems":
        return "列表中有重复项", "the list has duplicates"
    if v == "format":
        return (
            f"格式不符：{inst!r} 不是 {val}（如 2025-12-31）",
            f"malformed: {inst!r} is not a {val} (e.g. 2025-12-31)",
        )
    if v == "oneOf":
        leaf = _leaf(err)
        return _one_of(err) if leaf is err else _describe(leaf)
    if v == "not" and isinstance(inst, dict):
        return "points 与 points_file 只能二选一", "give either points or points_file, not both"
    return f"不符合规范：{err.message}", f"does not conform: {err.message}"


def schema_problems(doc: Document, schema_name: str) -> list[Problem]:
    """Every schema violation of the document, in document order, as problems that say what to fix."""
    errors = sorted(
        _validator(schema_name).iter_errors(doc.data), key=lambda e: list(map(str, e.absolute_path))
    )
    out = []
    for err in errors:
        keys = list(err.absolute_path)
        if err.validator == "else" or (err.validator == "anyOf" and not keys):
            zh, en = (
                "未声明测点：请给出 points（内联测点定义）或 points_file（CDDY 文件）",
                "no points declared: give points (inline definitions) or points_file (a CDDY file)",
            )
        else:
            zh, en = _describe(err)
            leaf = _leaf(err)
            keys = list(leaf.absolute_path)
            if leaf.validator == "additionalProperties" and isinstance(leaf.instance, dict):
                allowed = leaf.schema.get("properties", {})
                keys += [k for k in leaf.instance if k not in allowed][:1]
        out.append(doc.problem(keys, zh, en))
    return out
