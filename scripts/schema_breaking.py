"""JSON Schema breaking-change check: compare protocols/schemas/v1 with a base git revision.

Breaking: a removed message schema, a removed property, a newly required property, a narrowed type
(type set no longer a superset, enum values removed, integer bounds tightened, pattern or format changed,
additionalProperties closed). Usage: python scripts/schema_breaking.py --against TAG
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
SCHEMA_DIR = "protocols/schemas/v1"


def _types(node: dict[str, Any]) -> set[str]:
    if "anyOf" in node:
        return set().union(*(_types(n) for n in node["anyOf"]))
    t = node.get("type")
    if t is None:
        return {"$ref:" + node["$ref"]} if "$ref" in node else {"any"}
    return set(t) if isinstance(t, list) else {t}


def _compare(old: dict[str, Any], new: dict[str, Any], where: str, out: list[str]) -> None:
    ot, nt = _types(old), _types(new)
    if "any" not in nt and not ot <= nt:
        out.append(f"{where}: 类型收窄 type narrowed {sorted(ot)} → {sorted(nt)}")
        return
    if "enum" in old:
        removed = [v for v in old["enum"] if v not in new.get("enum", old["enum"])]
        if removed or ("enum" in new and "enum" not in old):
            out.append(f"{where}: 枚举值被删除 enum values removed {removed}")
    elif "enum" in new:
        out.append(f"{where}: 新增枚举限制 enum restriction added")
    for key, tighter in (("minimum", lambda a, b: b > a), ("maximum", lambda a, b: b < a)):
        if key in new and (key not in old or tighter(old[key], new[key])):
            out.append(f"{where}: 数值范围收窄 {key} tightened {old.get(key)} → {new[key]}")
    for key in ("pattern", "format"):
        if new.get(key) != old.get(key) and key in new:
            out.append(f"{where}: {key} 改变 changed {old.get(key)!r} → {new[key]!r}")
    if "items" in old and "items" in new:
        _compare(old["items"], new["items"], f"{where}[]", out)
    if "properties" in old:
        _compare_object(old, new, where, out)
    for i, (o, n) in enumerate(zip(old.get("anyOf", []), new.get("anyOf", []), strict=False)):
        _compare(o, n, f"{where}|{i}", out)


def _compare_object(old: dict[str, Any], new: dict[str, Any], where: str, out: list[str]) -> None:
    oprops, nprops = old.get("properties", {}), new.get("properties", {})
    for name in oprops:
        if name not in nprops:
            out.append(f"{where}.{name}: 字段被删除 field removed")
        else:
            _compare(oprops[name], nprops[name], f"{where}.{name}", out)
    added_required = set(new.get("required", [])) - set(old.get("required", []))
    for name in sorted(added_required):
        out.append(f"{where}.{name}: 新增必填字段 newly required field")
    if old.get("additionalProperties", True) is not False and new.get("additionalProperties", True) is False:
        out.append(f"{where}: 不再接受额外字段 additionalProperties closed")


def breaking_changes(old: dict[str, Any], new: dict[str, Any], name: str) -> list[str]:
    """Breaking changes from an old to a new schema document of one message."""
    out: list[str] = []
    _compare(old, new, name, out)
    for def_name, old_def in old.get("$defs", {}).items():
        new_def = new.get("$defs", {}).get(def_name)
        if new_def is None:
            continue  # its use site reports the removal
        _compare(old_def, new_def, f"{name}#{def_name}", out)
    return out


def schemas_at(rev: str) -> dict[str, dict[str, Any]]:
    """Every message schema at a git revision."""
    listing = subprocess.run(
        ["git", "ls-tree", "--name-only", f"{rev}:{SCHEMA_DIR}"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        check=True,
    )
    out = {}
    for fname in listing.stdout.split():
        text = subprocess.run(
            ["git", "show", f"{rev}:{SCHEMA_DIR}/{fname}"],
            cwd=ROOT,
            capture_output=True,
            text=True,
            check=True,
        ).stdout
        out[fname] = json.loads(text)
    return out


def compare_sets(old: dict[str, dict[str, Any]], new: dict[str, dict[str, Any]]) -> list[str]:
    """Breaking changes between two sets of schema documents keyed by file name."""
    problems = []
    for fname, old_doc in sorted(old.items()):
        if fname not in new:
            problems.append(f"{fname}: 消息被删除 message schema removed")
            continue
        problems += breaking_changes(old_doc, new[fname], fname.removesuffix(".schema.json"))
    return problems


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--against", required=True, help="base git revision (the latest release tag)")
    args = ap.parse_args(argv)
    new = {
        p.name: json.loads(p.read_text(encoding="utf-8")) for p in (ROOT / SCHEMA_DIR).glob("*.schema.json")
    }
    problems = compare_sets(schemas_at(args.against), new)
    for p in problems:
        print(f"不兼容变更 breaking change: {p}", file=sys.stderr)
    if problems:
        return 1
    print(f"JSON Schema 与 {args.against} 兼容 / compatible with {args.against} ({len(new)} schemas)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
