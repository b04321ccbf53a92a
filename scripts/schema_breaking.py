"""Interface breaking-change gate: the .proto files (buf breaking) and the JSON Schemas against a frozen baseline.

The baseline of each released interface version is committed under protocols/baseline/vMAJOR.MINOR/:
image.binpb (a buf image of protocols/proto), schemas/*.schema.json (a copy of protocols/schemas/vMAJOR) and
SHA256SUMS. The gate compares the working tree with the newest baseline; a frozen baseline is never regenerated
(its checksums are checked first). An intended break needs a new major version: a new proto package, a new
baseline folder (--freeze vN.0) and an entry in protocols/CHANGELOG.md.

JSON Schema breaks: a removed message schema, a removed property, a newly required property, a narrowed type
(type set no longer a superset, enum values removed, integer bounds tightened, pattern or format changed,
additionalProperties closed).

Usage:
  python scripts/schema_breaking.py                      # buf breaking + schemas against the newest baseline
  python scripts/schema_breaking.py --baseline DIR       # against one baseline folder
  python scripts/schema_breaking.py --against REV        # schemas only, against a git revision
  python scripts/schema_breaking.py --freeze v2.0        # write a new baseline from the working tree
Exit status: 0 compatible, 1 breaking change (or a tampered baseline), 2 cannot run (no buf, no baseline).
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
SCHEMA_DIR = "protocols/schemas/v1"
BASELINES = ROOT / "protocols" / "baseline"
BUF = ROOT / ".buf" / "node_modules" / ".bin" / "buf"
IMAGE = "image.binpb"
SUMS = "SHA256SUMS"
_VERSION = re.compile(r"^v(\d+)\.(\d+)$")


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


def _fail(code: int, zh: str, en: str) -> int:
    print(f"{zh} / {en}", file=sys.stderr)
    return code


def baselines(root: Path = BASELINES) -> list[Path]:
    """Baseline folders (vMAJOR.MINOR), oldest first."""
    found = [p for p in root.glob("v*") if p.is_dir() and _VERSION.match(p.name)]
    return sorted(found, key=lambda p: tuple(int(x) for x in _VERSION.match(p.name).groups()))  # type: ignore[union-attr]


def _major(baseline: Path) -> int:
    m = _VERSION.match(baseline.name)
    if not m:
        raise ValueError(f"not a baseline folder name (vMAJOR.MINOR): {baseline.name}")
    return int(m.group(1))


def _digest(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def _baseline_files(baseline: Path) -> list[Path]:
    return sorted([baseline / IMAGE, *(baseline / "schemas").glob("*.schema.json")])


def tampered(baseline: Path) -> list[str]:
    """Files of a frozen baseline that differ from its SHA256SUMS (empty when intact)."""
    sums = baseline / SUMS
    if not sums.is_file():
        return [f"{SUMS} missing"]
    recorded = {}
    for line in sums.read_text(encoding="utf-8").splitlines():
        if line.strip():
            digest, _, name = line.partition("  ")
            recorded[name] = digest
    actual = {
        p.relative_to(baseline).as_posix(): _digest(p) for p in _baseline_files(baseline) if p.is_file()
    }
    problems = [
        f"{n}: 校验和不符 checksum differs" for n in sorted(recorded) if actual.get(n, "") != recorded[n]
    ]
    problems += [f"{n}: 未登记 not in {SUMS}" for n in sorted(set(actual) - set(recorded))]
    return problems


def load_schema_dir(folder: Path) -> dict[str, dict[str, Any]]:
    """Every *.schema.json document in a folder, keyed by file name."""
    return {p.name: json.loads(p.read_text(encoding="utf-8")) for p in sorted(folder.glob("*.schema.json"))}


def buf_breaking(baseline: Path, source: Path = ROOT, buf: Path = BUF) -> subprocess.CompletedProcess[str]:
    """Run `buf breaking SOURCE --against BASELINE/image.binpb` (SOURCE holds buf.yaml)."""
    return subprocess.run(
        [str(buf), "breaking", str(source), "--against", str(baseline / IMAGE), "--error-format", "text"],
        cwd=source,
        capture_output=True,
        text=True,
        check=False,
    )


def check_baseline(
    baseline: Path, *, source: Path = ROOT, schema_dir: Path | None = None, buf: Path = BUF
) -> int:
    """The whole gate against one baseline: checksums, buf breaking, JSON Schemas. Returns the exit status."""
    if not (baseline / IMAGE).is_file():
        return _fail(2, f"基线缺少 {IMAGE}: {baseline}", f"baseline has no {IMAGE}: {baseline}")
    bad = tampered(baseline)
    if bad:
        for b in bad:
            print(f"基线被改动 baseline modified: {baseline.name}/{b}", file=sys.stderr)
        return _fail(
            1,
            f"基线 {baseline.name} 已冻结，不得重新生成；破坏性变更须发布新主版本",
            f"baseline {baseline.name} is frozen and must not be regenerated; a break needs a new major version",
        )
    if not buf.is_file():
        return _fail(
            2, f"找不到 buf: {buf}（先运行 make buf-lint）", f"buf not found: {buf} (run make buf-lint first)"
        )
    if schema_dir is None:
        schema_dir = source / "protocols" / "schemas" / f"v{_major(baseline)}"
    status = 0
    proc = buf_breaking(baseline, source, buf)
    if proc.returncode != 0:
        for line in (proc.stdout + proc.stderr).splitlines():
            if line.strip():
                print(f"不兼容变更 breaking change (proto): {line}", file=sys.stderr)
        status = 1
    if not schema_dir.is_dir():
        print(f"不兼容变更 breaking change: {schema_dir} 不存在 missing", file=sys.stderr)
        return 1
    problems = compare_sets(load_schema_dir(baseline / "schemas"), load_schema_dir(schema_dir))
    for p in problems:
        print(f"不兼容变更 breaking change (JSON Schema): {p}", file=sys.stderr)
    if status or problems:
        print(
            f"与接口基线 {baseline.name} 不兼容；有意的破坏性变更须新建主版本（新的 proto 包、新的基线目录、"
            "protocols/CHANGELOG.md 条目）/ "
            f"incompatible with interface baseline {baseline.name}; an intended break needs a new major version "
            "(new proto package, new baseline folder, protocols/CHANGELOG.md entry)",
            file=sys.stderr,
        )
        return 1
    print(
        f"接口与基线 {baseline.name} 兼容 / interface compatible with baseline {baseline.name} "
        f"(proto + {len(load_schema_dir(schema_dir))} JSON Schemas)"
    )
    return 0


def freeze(version: str, *, root: Path = BASELINES, source: Path = ROOT, buf: Path = BUF) -> Path:
    """Write a new baseline folder from the working tree; refuses to overwrite an existing one."""
    m = _VERSION.match(version)
    if not m:
        raise ValueError(f"版本须为 vMAJOR.MINOR / version must look like vMAJOR.MINOR: {version!r}")
    target = root / version
    if target.exists():
        raise FileExistsError(f"基线已存在，已冻结 / baseline exists and is frozen: {target}")
    schema_dir = source / "protocols" / "schemas" / f"v{m.group(1)}"
    if not schema_dir.is_dir():
        raise FileNotFoundError(f"没有 JSON Schema 目录 / no JSON Schema folder: {schema_dir}")
    (target / "schemas").mkdir(parents=True)
    subprocess.run([str(buf), "build", str(source), "-o", str(target / IMAGE)], cwd=source, check=True)
    for p in sorted(schema_dir.glob("*.schema.json")):
        shutil.copyfile(p, target / "schemas" / p.name)
    lines = [f"{_digest(p)}  {p.relative_to(target).as_posix()}" for p in _baseline_files(target)]
    (target / SUMS).write_text("\n".join(lines) + "\n", encoding="utf-8")
    return target


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    mode = ap.add_mutually_exclusive_group()
    mode.add_argument(
        "--baseline", type=Path, help="baseline folder (default: the newest under protocols/baseline)"
    )
    mode.add_argument("--against", help="git revision: compare the JSON Schemas only (legacy, tag-based)")
    mode.add_argument(
        "--freeze", metavar="VERSION", help="write protocols/baseline/VERSION from the working tree"
    )
    ap.add_argument(
        "--source", type=Path, default=ROOT, help="folder holding buf.yaml and protocols/ (default: repo)"
    )
    ap.add_argument("--buf", type=Path, default=Path(os.environ.get("BUF", BUF)), help="buf binary")
    args = ap.parse_args(argv)
    source = args.source.resolve()
    if args.freeze:
        try:
            target = freeze(args.freeze, source=source, buf=args.buf)
        except (ValueError, FileExistsError, FileNotFoundError, subprocess.CalledProcessError) as e:
            return _fail(2, "无法冻结基线", f"cannot freeze the baseline: {e}")
        print(
            f"已写入基线 / baseline written: {target.relative_to(ROOT) if target.is_relative_to(ROOT) else target}"
        )
        print("请在 protocols/CHANGELOG.md 中记录此版本 / record this version in protocols/CHANGELOG.md")
        return 0
    if args.against:
        new = load_schema_dir(source / SCHEMA_DIR)
        problems = compare_sets(schemas_at(args.against), new)
        for p in problems:
            print(f"不兼容变更 breaking change: {p}", file=sys.stderr)
        if problems:
            return 1
        print(f"JSON Schema 与 {args.against} 兼容 / compatible with {args.against} ({len(new)} schemas)")
        return 0
    baseline = args.baseline
    if baseline is None:
        found = baselines()
        if not found:
            return _fail(2, f"没有接口基线: {BASELINES}", f"no interface baseline under {BASELINES}")
        baseline = found[-1]
    return check_baseline(baseline.resolve(), source=source, buf=args.buf)


if __name__ == "__main__":
    sys.exit(main())
