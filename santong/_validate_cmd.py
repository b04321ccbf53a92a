"""`santong validate FILE|DIR…`: check JSON payloads and MT/T 1201 files against the 三统一 specification.

A folder is judged as a mine has it (the KJ export folder): every MT/T file in it, definitions (CDDY, FZDY …)
before real-time data, real-time records against the definitions found; a summary table gives the files, records,
findings per clause with a first example, and the verdict. ``--mapping site.yaml`` names the mine's own
sensor-type codes (MT/T files only; certification never takes one).

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
        "files",
        nargs="+",
        type=Path,
        metavar="FILE|DIR",
        help="*.json, *.jsonl (会话 session), MT/T 1201 *.txt, 或 KJ 导出目录 or a KJ export folder",
    )
    p.add_argument(
        "--mapping",
        type=Path,
        metavar="SITE.yaml",
        help="现场映射：本矿 KJ 系统的传感器类型代码 → 字典代码（仅 MT/T 文件）/ site mapping of the mine's own "
        "sensor-type codes (MT/T files only; schema protocols/data/site_mapping.schema.json)",
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


def _validate_mt_file(path: Path, data: bytes, res: FileResult, mapping: Any = None) -> None:
    from santong.adapters.mtfile import validate_mt_file  # noqa: PLC0415  (lazy: adapters are optional here)

    res.checked, vs = validate_mt_file(path.name, data, mapping=mapping)
    res.violations.extend(vs)


def validate_file(path: Path, forced: str | None = None, mapping: Any = None) -> FileResult:
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
        _validate_mt_file(path, data, res, mapping)
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


def _check_arguments(args: argparse.Namespace) -> Any:
    """Usage errors before any file is read: an unknown --type, missing files, a bad --mapping (returned loaded)."""
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
    if args.mapping is None:
        return None
    from santong.adapters.mtfile import SiteMappingError, load_site_mapping  # noqa: PLC0415

    try:
        return load_site_mapping(args.mapping)
    except SiteMappingError as e:
        zh, _, en = str(e).partition(" / ")
        raise CommandError(zh, en or zh) from None


def _print_folder(report: Any, strict: bool, stream: Any = None) -> None:
    """The folder's summary: files, records, findings per clause with a first example, then every finding."""
    stream = stream or sys.stdout
    out = lambda text="": print(text, file=stream)  # noqa: E731
    out(
        f"目录 Folder: {report.folder}（{len(report.files)} 个 MT/T 文件 files，{report.records} 条记录 records）"
    )
    for name in report.skipped:
        out(f"    跳过 skipped: {name}（不是 MT/T 文件 .txt / not an MT/T .txt file）")
    for r in report.files:
        ok = r.passed and (not strict or not r.findings)
        mark = "✔ 通过 PASS" if ok else "✘ 不通过 FAIL"
        out(
            f"  {mark}  {r.file}（{r.file_type or '?'}，{r.records} 条记录 records，{len(r.findings)} 项问题 findings）"
        )
    findings = report.findings
    if findings:
        out()
        out("  按条款 Per clause          数量 count  首例 first example")
        first: dict[str, Any] = {}
        for f in findings:
            first.setdefault(f.clause_id, f)
        for clause_id, n in report.per_clause().items():
            f = first[clause_id]
            out(f"  {clause_id:<12} {f.level:<6}  {n:>9}  {f.where()}")
        out()
        for f in findings:
            tag = "违反 violates" if f.is_must else "警告 warning"
            out(f"  [{f.clause_id} {f.level}] {tag} @ {f.where()}")
            out(f"      {f.message_zh}")
            out(f"      {f.message_en}")
            out(f"      改法 Fix: {f.fix_zh}")
            out(f"      {f.fix_en}")


def _folder_json(report: Any, strict: bool) -> dict[str, Any]:
    return {
        "folder": report.folder,
        "passed": report.passed and (not strict or not report.findings),
        "records": report.records,
        "files": [
            {"file": r.file, "type": r.file_type, "records": r.records, "passed": r.passed}
            for r in report.files
        ],
        "skipped": report.skipped,
        "per_clause": report.per_clause(),
        "findings": [f.as_dict() for f in report.findings],
    }


def _run_folders(args: argparse.Namespace, mapping: Any) -> int:
    from santong.adapters.mtfile import validate_folder  # noqa: PLC0415

    reports = [validate_folder(p, mapping=mapping) for p in args.files]
    empty = [r.folder for r in reports if not r.files]
    if empty:
        raise CommandError(
            f"目录 {', '.join(empty)} 中没有 MT/T 1201 文件（*.txt），无可校验",
            f"no MT/T 1201 files (*.txt) in {', '.join(empty)}: nothing to check",
        )
    failed = [r for r in reports if not r.passed or (args.strict and r.findings)]
    if args.json:
        print(json.dumps([_folder_json(r, args.strict) for r in reports], ensure_ascii=False, indent=2))
    else:
        for r in reports:
            _print_folder(r, args.strict)
        files = sum(len(r.files) for r in reports)
        bad = sum(not f.passed or (args.strict and bool(f.findings)) for r in reports for f in r.files)
        verdict = "不通过 FAIL" if failed else "通过 PASS"
        print(f"\n结论 Verdict: {verdict} — {files - bad}/{files} 个文件通过 files passed")
    return FAIL if failed else OK


def run(args: argparse.Namespace) -> int:
    """Validate every file; exit 1 if any file fails, 2 if one could not be checked."""
    mapping = _check_arguments(args)
    folders = [p for p in args.files if p.is_dir()]
    if folders and len(folders) != len(args.files):
        raise CommandError(
            "请分别校验目录和单个文件（一次只给目录，或只给文件）",
            "validate folders and single files in separate runs (give only folders, or only files)",
        )
    if folders:
        return _run_folders(args, mapping)
    results = [validate_file(p, args.message_type, mapping) for p in args.files]
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
