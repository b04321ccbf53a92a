"""`santong validate FILE…`: check JSON payloads and MT/T 1201 files against the 三统一 specification.

Exit status: 0 every file passes; 1 a file fails (a finding against a MUST clause, or a SHOULD one with --strict);
2 a file could not be checked (missing, unreadable, unsupported kind, unknown message type) or a bad option.
"""

from __future__ import annotations

import argparse
import json
import re
import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from santong._exit import FAIL, OK, CommandError, error
from santong.protocols import (
    DeviceState,
    ValidationContext,
    Violation,
    message_names,
    must_violations,
    validate_json,
)
from santong.protocols._catalogue import violation

MT_NAME = re.compile(r"^[0-9A-Za-z]+_[A-Z]{4}_[0-9]+\.txt$", re.IGNORECASE)


@dataclass
class FileResult:
    """The verdict on one file."""

    path: str
    checked: int = 0
    violations: list[Violation] = field(default_factory=list)
    error: str | None = None

    @property
    def passed(self) -> bool:
        return self.error is None and not must_violations(self.violations)

    @property
    def checked_ok(self) -> bool:
        """False when the file could not be checked at all (``error``): no verdict on it."""
        return self.error is None


def add_arguments(p: argparse.ArgumentParser) -> None:
    """Arguments of `santong validate`."""
    p.add_argument(
        "files", nargs="+", type=Path, metavar="FILE", help="*.json, *.jsonl (会话 session), MT/T 1201 *.txt"
    )
    p.add_argument(
        "--type",
        dest="message_type",
        help="消息类型 message type for plain .json files, e.g. ObservationBatch",
    )
    p.add_argument(
        "--strict", action="store_true", help="SHOULD 条款的警告也判为不通过 / fail on SHOULD warnings too"
    )
    p.add_argument("--json", action="store_true", help="以 JSON 输出 / print results as JSON")


def _message_type(path: Path, doc: Any, forced: str | None) -> tuple[str | None, Any]:
    if forced:
        return forced, doc
    if isinstance(doc, dict) and set(doc) == {"type", "message"}:
        return str(doc["type"]), doc["message"]
    parts = path.name.split(".")
    if len(parts) >= 3 and parts[-2] in message_names():
        return parts[-2], doc
    return None, doc


def _validate_session(path: Path, data: bytes, res: FileResult) -> None:
    ctx = ValidationContext(state=DeviceState(), arrival=False)
    for lineno, line in enumerate(data.decode("utf-8", errors="replace").splitlines(), start=1):
        if not line.strip():
            continue
        try:
            doc = json.loads(line)
            name, body = str(doc["type"]), doc["message"]
        except (json.JSONDecodeError, KeyError, TypeError) as e:
            res.violations.append(
                violation(
                    "ST-DATA-036",
                    f"line {lineno}",
                    f'会话行须为 {{"type", "message"}} 对象：{e}',
                    f'a session line must be a {{"type", "message"}} object: {e}',
                )
            )
            continue
        if name not in message_names():
            res.violations.append(
                violation(
                    "ST-DATA-035",
                    f"line {lineno}.type",
                    f"未知消息类型 {name}",
                    f"unknown message type {name}",
                )
            )
            continue
        msg, vs = validate_json(body, name, ctx)
        res.checked += 1
        res.violations.extend(
            Violation(v.clause_id, f"line {lineno}:{v.path}", v.message_zh, v.message_en, v.level) for v in vs
        )
        if msg is not None and not must_violations(vs):
            ctx.state.apply(msg)


def _validate_json_file(path: Path, data: bytes, forced: str | None, res: FileResult) -> None:
    try:
        doc = json.loads(data.decode("utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError) as e:
        res.violations.append(
            violation("ST-DATA-036", "$", f"不是合法的 UTF-8 JSON：{e}", f"not well-formed UTF-8 JSON: {e}")
        )
        return
    name, body = _message_type(path, doc, forced)
    if name is None or name not in message_names():
        res.error = (
            f"无法确定消息类型：请把文件命名为 NAME.<消息类型>.json，或用 --type / "
            f"cannot tell the message type: name the file NAME.<MessageType>.json or pass --type ({name or '?'})"
        )
        return
    _, vs = validate_json(body, name, ValidationContext(arrival=False))
    res.checked += 1
    res.violations.extend(vs)


def _validate_mt_file(path: Path, data: bytes, res: FileResult) -> None:
    from santong.adapters.mtfile import validate_mt_file  # noqa: PLC0415  (lazy: adapters are optional here)

    res.checked, vs = validate_mt_file(path.name, data)
    res.violations.extend(vs)


def validate_file(path: Path, forced: str | None = None) -> FileResult:
    """Validate one file of any supported kind."""
    res = FileResult(str(path))
    try:
        data = path.read_bytes()
    except OSError as e:
        res.error = f"无法读取 {path}：{e.strerror or e} / cannot read {path}: {e.strerror or e}"
        return res
    if path.suffix == ".jsonl":
        _validate_session(path, data, res)
    elif path.suffix == ".json":
        _validate_json_file(path, data, forced, res)
    elif MT_NAME.match(path.name) or path.suffix.lower() == ".txt":
        _validate_mt_file(path, data, res)
    else:
        res.error = "不支持的文件类型（.json / .jsonl / MT/T 1201 .txt）/ unsupported file kind (.json, .jsonl, MT/T 1201 .txt)"
    return res


def print_result(res: FileResult, strict: bool, stream: Any = None) -> None:
    """Print the verdict and each violation, Chinese first."""
    stream = stream or sys.stdout
    ok = res.passed and (not strict or not res.violations)
    mark = "✘ 无法校验 NOT CHECKED" if res.error else "✔ 通过 PASS" if ok else "✘ 不通过 FAIL"
    extra = f"（{res.checked} 条消息 messages，{len(res.violations)} 项问题 findings）"
    print(f"{mark}  {res.path} {extra}", file=stream)
    if res.error:
        print(f"    {res.error}", file=stream)
    for v in res.violations:
        tag = "违反 violates" if v.level == "MUST" else "警告 warning"
        print(f"    [{v.clause_id} {v.level}] {tag} @ {v.path}", file=stream)
        print(f"        {v.message_zh}", file=stream)
        print(f"        {v.message_en}", file=stream)


def _check_arguments(args: argparse.Namespace) -> None:
    """Usage errors before any file is read: an unknown --type, files that do not exist or are folders."""
    if args.message_type is not None and args.message_type not in message_names():
        raise CommandError(
            f"未知的消息类型 --type {args.message_type}，可用的见 protocols/SPEC.md（如 ObservationBatch）",
            f"unknown message type --type {args.message_type}; see protocols/SPEC.md (e.g. ObservationBatch)",
        )
    missing = [str(p) for p in args.files if not p.exists()]
    if missing:
        raise CommandError(
            f"找不到文件 {', '.join(missing)}，请检查路径",
            f"file not found: {', '.join(missing)} — check the path",
        )
    folders = [str(p) for p in args.files if p.is_dir()]
    if folders:
        raise CommandError(
            f"{', '.join(folders)} 是目录，请给出其中的文件（如 {folders[0]}/*.json）",
            f"{', '.join(folders)} is a folder: give the files in it (e.g. {folders[0]}/*.json)",
        )


def run(args: argparse.Namespace) -> int:
    """Validate every file; exit 1 if any file fails, 2 if one could not be checked."""
    _check_arguments(args)
    results = [validate_file(p, args.message_type) for p in args.files]
    failed = [r for r in results if not r.passed or (args.strict and r.violations)]
    unchecked = [r for r in results if not r.checked_ok]
    if args.json:
        print(
            json.dumps(
                [
                    {
                        "path": r.path,
                        "passed": r not in failed,
                        "checked": r.checked,
                        "error": r.error,
                        "violations": [v.as_dict() for v in r.violations],
                    }
                    for r in results
                ],
                ensure_ascii=False,
                indent=2,
            )
        )
    else:
        for r in results:
            print_result(r, args.strict)
        print(f"\n结论 Verdict: {len(results) - len(failed)}/{len(results)} 个文件通过 files passed")
    if unchecked:
        return error(
            f"{len(unchecked)} 个文件无法校验（原因见各文件）",
            f"{len(unchecked)} file(s) could not be checked (the reason is given for each)",
        )
    return FAIL if failed else OK
