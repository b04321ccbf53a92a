"""The YAML node-tree binder of the adapter configuration: typed values from YAML nodes, every problem collected
with its file, line and column (and a did-you-mean), instead of stopping at the first (used by _config.py and
_config_checks.py)."""

from __future__ import annotations

import dataclasses
import difflib
import re
import types
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any, Literal, Union, get_args, get_origin, get_type_hints

import yaml
from santong.adapters._settings import (
    ConfigProblem,
)

_BAD: Any = object()
_NULL = "tag:yaml.org,2002:null"
_STR = "tag:yaml.org,2002:str"


def _join(path: str, key: str | int) -> str:
    if isinstance(key, int):
        return f"{path}[{key}]"
    return f"{path}.{key}" if path else key


def _type_name(tp: Any) -> tuple[str, str]:
    """(中文, English) name of a type for messages."""
    origin = get_origin(tp)
    if tp is str:
        return "文本", "text"
    if tp is int:
        return "整数", "an integer"
    if tp is float:
        return "数", "a number"
    if tp is bool:
        return "true 或 false", "true or false"
    if tp is Path:
        return "文件路径", "a file path"
    if origin in (list, tuple, Sequence):
        return "列表", "a list"
    if origin in (dict, Mapping) or dataclasses.is_dataclass(tp):
        return "映射（键: 值）", "a mapping (key: value)"
    return str(tp), str(tp)


class _Builder:
    """Builds typed values from YAML nodes, collecting problems with positions instead of stopping at the first."""

    def __init__(self, file: str, base_dir: Path, loader: yaml.SafeLoader) -> None:
        self.file = file
        self.base_dir = base_dir
        self.loader = loader
        self.problems: list[ConfigProblem] = []
        self.nodes: dict[str, yaml.Node] = {}
        self.keys: dict[str, yaml.Node] = {}

    # ------------------------------------------------------------------ reporting

    def problem(
        self,
        node: yaml.Node | None,
        path: str,
        zh: str,
        en: str,
        fix_zh: str = "",
        fix_en: str = "",
        *,
        level: Literal["error", "warning"] = "error",
        clause_id: str = "",
    ) -> None:
        """Record a problem at a node's position."""
        line, col = (node.start_mark.line + 1, node.start_mark.column + 1) if node is not None else (1, 1)
        self.problems.append(
            ConfigProblem(self.file, line, col, path, zh, en, fix_zh, fix_en, level, clause_id)
        )

    def node_for(self, path: str) -> yaml.Node | None:
        """The node of a key path, or of its nearest recorded parent."""
        p = path
        while p:
            if p in self.nodes:
                return self.nodes[p]
            cut = max(p.rfind("."), p.rfind("["))
            p = p[:cut] if cut > 0 else ""
        return self.nodes.get("")

    # ------------------------------------------------------------------ nodes

    def value(self, node: yaml.Node) -> Any:
        """The plain Python value of a node."""
        return self.loader.construct_object(node, deep=True)

    @staticmethod
    def is_null(node: yaml.Node) -> bool:
        return isinstance(node, yaml.ScalarNode) and node.tag == _NULL

    def pairs(self, node: yaml.Node, path: str) -> dict[str, tuple[yaml.Node, yaml.Node]] | None:
        """key → (key node, value node) of a mapping node; None (with a problem) if it is no mapping."""
        if self.is_null(node):
            return {}
        if not isinstance(node, yaml.MappingNode):
            self.problem(
                node,
                path,
                "此处应为映射（键: 值）",
                "expected a mapping (key: value) here",
                "改为 键: 值 的形式",
                "write it as key: value lines",
            )
            return None
        out: dict[str, tuple[yaml.Node, yaml.Node]] = {}
        for k, v in node.value:
            if not isinstance(k, yaml.ScalarNode):
                self.problem(
                    k, path, "键必须是文本", "keys must be plain text", "删除该键", "remove this key"
                )
                continue
            key = str(k.value)
            if key == "<<":
                self.problem(
                    k,
                    path,
                    "不支持合并键 <<",
                    "merge keys (<<) are not supported",
                    "把内容直接写出",
                    "write the keys out",
                )
                continue
            if key in out:
                self.problem(
                    k,
                    _join(path, key),
                    f"键 {key} 重复",
                    f"duplicate key {key}",
                    "删除重复的一项",
                    "remove one of the two",
                )
                continue
            out[key] = (k, v)
            self.nodes[_join(path, key)] = v
            self.keys[_join(path, key)] = k
        return out

    def unknown(self, key: str, knode: yaml.Node, path: str, known: Sequence[str]) -> None:
        close = difflib.get_close_matches(key, list(known), n=1)
        guess_zh = f"是否应为 {close[0]}？" if close else ""
        guess_en = f"did you mean {close[0]}? " if close else ""
        self.problem(
            knode, _join(path, key), f"未知的键 {key}", f"unknown key {key}",
            f"{guess_zh}可用的键：{', '.join(known)}", f"{guess_en}known keys: {', '.join(known)}",
        )  # fmt: skip

    # ------------------------------------------------------------------ types

    def build(self, tp: Any, node: yaml.Node, path: str) -> Any:
        """A value of type ``tp`` from ``node``, or _BAD after recording a problem."""
        self.nodes.setdefault(path, node)
        origin = get_origin(tp)
        if tp is Any:
            return self.value(node)
        if origin is Union or origin is types.UnionType:
            args = get_args(tp)
            if self.is_null(node) and type(None) in args:
                return None
            others = [a for a in args if a is not type(None)]
            if len(others) == 1:
                return self.build(others[0], node, path)
            for a in others:
                scratch = _Builder(self.file, self.base_dir, self.loader)
                v = scratch.build(a, node, path)
                if v is not _BAD:
                    return v
            self.problem(
                node,
                path,
                "值的类型不对",
                "wrong type of value",
                "参见文档示例",
                "see the documented example",
            )
            return _BAD
        if origin is Literal:
            choices = get_args(tp)
            v = (
                self.value(node)
                if not isinstance(node, yaml.ScalarNode) or node.tag != _STR
                else str(node.value)
            )
            if isinstance(node, yaml.ScalarNode) and node.tag != _STR and str(node.value) in choices:
                v = str(node.value)
            if v in choices:
                return v
            close = difflib.get_close_matches(str(v), [str(c) for c in choices], n=1)
            self.problem(
                node, path, f"取值 {v!r} 无效", f"invalid value {v!r}",
                f"{'是否应为 ' + close[0] + '？' if close else ''}可选：{', '.join(map(str, choices))}",
                f"{'did you mean ' + close[0] + '? ' if close else ''}use one of: {', '.join(map(str, choices))}",
            )  # fmt: skip
            return _BAD
        if isinstance(tp, type) and dataclasses.is_dataclass(tp):
            return self.build_dataclass(tp, node, path)
        if origin in (list, tuple, Sequence):
            return self._sequence(tp, node, path)
        if origin in (dict, Mapping):
            pairs = self.pairs(node, path)
            if pairs is None:
                return _BAD
            vt = get_args(tp)[1] if get_args(tp) else Any
            out = {k: self.build(vt, v, _join(path, k)) for k, (_, v) in pairs.items()}
            return _BAD if any(v is _BAD for v in out.values()) else out
        return self._scalar(tp, node, path)

    def _sequence(self, tp: Any, node: yaml.Node, path: str) -> Any:
        args = get_args(tp)
        if self.is_null(node):
            return ()
        if not isinstance(node, yaml.SequenceNode):
            self.problem(
                node,
                path,
                "此处应为列表",
                "expected a list here",
                "写成 [a, b] 或每行一个 - 项",
                "write [a, b] or one '- item' per line",
            )
            return _BAD
        items = node.value
        if get_origin(tp) is tuple and args and args[-1] is not Ellipsis:
            if len(items) != len(args):
                self.problem(
                    node,
                    path,
                    f"应有 {len(args)} 项，实有 {len(items)} 项",
                    f"expected {len(args)} items, got {len(items)}",
                    f"写成 [{', '.join('…' for _ in args)}]",
                    f"write [{', '.join('…' for _ in args)}]",
                )
                return _BAD
            out = [self.build(a, n, _join(path, i)) for i, (a, n) in enumerate(zip(args, items, strict=True))]
        else:
            it = args[0] if args else Any
            out = [self.build(it, n, _join(path, i)) for i, n in enumerate(items)]
        if any(v is _BAD for v in out):
            return _BAD
        return tuple(out) if get_origin(tp) is tuple else out

    def _scalar(self, tp: Any, node: yaml.Node, path: str) -> Any:
        zh, en = _type_name(tp)
        if not isinstance(node, yaml.ScalarNode) or self.is_null(node):
            self.problem(node, path, f"此处应为{zh}", f"expected {en} here", f"填写{zh}", f"give {en}")
            return _BAD
        if tp is str:
            # A plain scalar that YAML would read as a number keeps its text: 01 stays "01", not 1.
            return str(node.value) if node.tag != _STR else self.value(node)
        v = self.value(node)
        if tp is bool and isinstance(v, bool):
            return v
        if tp is int and isinstance(v, int) and not isinstance(v, bool):
            return v
        if tp is float and isinstance(v, int | float) and not isinstance(v, bool):
            return float(v)
        if tp is Path and isinstance(v, str) and v:
            p = Path(v).expanduser()
            return p if p.is_absolute() else self.base_dir / p
        example = {int: "1000", float: "0.5", bool: "true"}.get(tp, "")
        self.problem(
            node, path, f"此处应为{zh}，实为 {v!r}", f"expected {en} here, got {v!r}",
            f"填写{zh}{'，如 ' + example if example else ''}", f"give {en}{', e.g. ' + example if example else ''}",
        )  # fmt: skip
        return _BAD

    def fields(
        self, cls: type[Any], pairs: Mapping[str, tuple[yaml.Node, yaml.Node]], node: yaml.Node, path: str
    ) -> dict[str, Any] | None:
        """Keyword arguments of dataclass ``cls`` from ``pairs`` (unknown keys are the caller's concern)."""
        hints = get_type_hints(cls)
        fs = {f.name: f for f in dataclasses.fields(cls) if f.init}
        kwargs: dict[str, Any] = {}
        ok = True
        for key, (_, vn) in pairs.items():
            if key not in fs:
                continue
            v = self.build(hints[key], vn, _join(path, key))
            if v is _BAD:
                ok = False
            else:
                kwargs[key] = v
        for name, f in fs.items():
            if (
                name not in pairs
                and f.default is dataclasses.MISSING
                and f.default_factory is dataclasses.MISSING
            ):
                where = f"在 {path} 下" if path else "在文件顶层"
                where_en = f"under {path}" if path else "at the top level"
                self.problem(
                    self.keys.get(path, node),
                    _join(path, name),
                    f"缺少必填键 {name}",
                    f"required key {name} is missing",
                    f"{where}加上 {name}: …",
                    f"add {name}: … {where_en}",
                )
                ok = False
        return kwargs if ok else None

    def build_dataclass(
        self, cls: type[Any], node: yaml.Node, path: str, *, extra: Sequence[str] = ()
    ) -> Any:
        """An instance of dataclass ``cls`` from a mapping node."""
        pairs = self.pairs(node, path)
        if pairs is None:
            return _BAD
        known = [f.name for f in dataclasses.fields(cls) if f.init]
        for key, (kn, _) in pairs.items():
            if key not in known and key not in extra:
                self.unknown(key, kn, path, known)
        kwargs = self.fields(cls, pairs, node, path)
        if kwargs is None:
            return _BAD
        return self.construct(cls, kwargs, node, path, pairs)

    def construct(
        self,
        cls: type[Any],
        kwargs: dict[str, Any],
        node: yaml.Node,
        path: str,
        pairs: Mapping[str, tuple[yaml.Node, yaml.Node]],
    ) -> Any:
        """``cls(**kwargs)``; its own checks (ValueError, TypeError) become a problem at the best-matching key."""
        try:
            return cls(**kwargs)
        except (ValueError, TypeError) as e:
            zh = getattr(e, "message_zh", str(e))
            en = getattr(e, "message_en", str(e))
            at, where = node, path
            hits = [(m.start(), key) for key in pairs if (m := re.search(rf"\b{re.escape(key)}\b", en))]
            if hits:  # the key the message names first is the one to change
                key = min(hits)[1]
                at, where = pairs[key][1], _join(path, key)
            self.problem(at, where, zh, en, "按提示修改该项", "change the value as the message says")
            return _BAD
