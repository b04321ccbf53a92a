"""Regenerate (or check) every generated artefact of santong.protocols.

Generated here, never edited by hand:
- protocols/v1/*_pb2.py, *_pb2.pyi, *_pb2_grpc.py   (grpcio-tools, pinned in pyproject.toml)
- protocols/schemas/v1/*.schema.json                  (JSON Schema 2020-12, from the proto descriptors)
- protocols/SPEC.md                                   (from protocols/data/clauses.yaml, verdict.md, the
                                                       not-applicable reasons of santong.conformance and the
                                                       MT/T field tables of santong.adapters.mtfile)
- protocols/data/versions.json                        (the spec versions and, per frozen baseline under
                                                       protocols/baseline, the fields added after it: the
                                                       per-version unknown-field rule of ST-DATA-034)

Usage: python scripts/generate.py [--check]
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
from pathlib import Path

import yaml
from google.protobuf import descriptor_pb2

ROOT = Path(__file__).resolve().parent.parent
PROTO_ROOT = ROOT / "protocols" / "proto"
PROTO_DIR = PROTO_ROOT / "santong" / "protocols" / "v1"
PY_OUT = ROOT / "protocols" / "v1"
SCHEMA_OUT = ROOT / "protocols" / "schemas" / "v1"
SPEC_OUT = ROOT / "protocols" / "SPEC.md"
VERSIONS_OUT = ROOT / "protocols" / "data" / "versions.json"
BASELINES = ROOT / "protocols" / "baseline"
VERDICT = ROOT / "protocols" / "data" / "verdict.md"


def na_reasons() -> dict[str, tuple[str, str]]:
    """The closed list of not-applicable reasons (owned by santong.conformance._outcomes)."""
    from santong.conformance._outcomes import NA_REASONS  # noqa: PLC0415

    return NA_REASONS


def status_table() -> list[str]:
    """The status table (every gRPC code and HTTP status → the device's action), owned by santong.protocols."""
    from santong.protocols._status import render_markdown  # noqa: PLC0415

    return render_markdown()


CLAUSES = ROOT / "protocols" / "data" / "clauses.yaml"
PACKAGE = "santong.protocols.v1"
SCHEMA_BASE = "https://santong.dev/schemas/v1/"

# JSON mapping of 64-bit integers: decimal strings (canonical proto3 JSON), JSON integers accepted on input.
UINT64_MAX = 2**64 - 1
INT64_MIN, INT64_MAX = -(2**63), 2**63 - 1
TIMESTAMP_PATTERN = r"^[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9]{2}:[0-9]{2}:[0-9]{2}(\.[0-9]{1,9})?Z$"
# Clauses that structural schema keywords enforce (read back by the validation core via "x-clause").
CLAUSE_TIMESTAMP = "ST-DATA-030"
FDP = descriptor_pb2.FieldDescriptorProto


def run_protoc(out: Path) -> Path:
    """Run the pinned protoc (grpcio-tools) into `out`; return the descriptor set path."""
    import grpc_tools  # noqa: PLC0415
    from grpc_tools import protoc  # noqa: PLC0415  (dev dependency)

    include = Path(grpc_tools.__file__).parent / "_proto"
    protos = sorted(str(p.relative_to(PROTO_ROOT)) for p in PROTO_DIR.glob("*.proto"))
    dset = out / "descriptors.binpb"
    args = [
        "protoc",
        f"-I{PROTO_ROOT}",
        f"-I{include}",
        f"--python_out={out}",
        f"--pyi_out={out}",
        f"--grpc_python_out={out}",
        f"--descriptor_set_out={dset}",
        "--include_imports",
        "--include_source_info",
        *protos,
    ]
    if protoc.main(args) != 0:
        raise SystemExit("protoc failed / protoc 失败")
    return dset


def scalar_schema(field: descriptor_pb2.FieldDescriptorProto) -> dict:
    t = field.type
    if t in (FDP.TYPE_DOUBLE, FDP.TYPE_FLOAT):
        return {"type": "number"}
    if t in (FDP.TYPE_INT32, FDP.TYPE_SINT32, FDP.TYPE_SFIXED32):
        return {"type": "integer", "minimum": -(2**31), "maximum": 2**31 - 1}
    if t in (FDP.TYPE_UINT32, FDP.TYPE_FIXED32):
        return {"type": "integer", "minimum": 0, "maximum": 2**32 - 1}
    if t in (FDP.TYPE_UINT64, FDP.TYPE_FIXED64):
        return {
            "anyOf": [
                {"type": "string", "pattern": "^[0-9]{1,20}$"},
                {"type": "integer", "minimum": 0, "maximum": UINT64_MAX},
            ]
        }
    if t in (FDP.TYPE_INT64, FDP.TYPE_SINT64, FDP.TYPE_SFIXED64):
        return {
            "anyOf": [
                {"type": "string", "pattern": "^-?[0-9]{1,19}$"},
                {"type": "integer", "minimum": INT64_MIN, "maximum": INT64_MAX},
            ]
        }
    if t == FDP.TYPE_BOOL:
        return {"type": "boolean"}
    if t == FDP.TYPE_STRING:
        return {"type": "string"}
    if t == FDP.TYPE_BYTES:
        return {"type": "string", "contentEncoding": "base64"}
    raise ValueError(f"unsupported field type {t}")


class SchemaBuilder:
    """Builds one self-contained JSON Schema per message from a FileDescriptorSet."""

    def __init__(self, fds: descriptor_pb2.FileDescriptorSet) -> None:
        self.messages: dict[str, descriptor_pb2.DescriptorProto] = {}
        self.enums: dict[str, descriptor_pb2.EnumDescriptorProto] = {}
        self.comments: dict[str, str] = {}
        for f in fds.file:
            self._index(f.package, f.message_type, f.enum_type)
            if f.package == PACKAGE:
                self._comments(f)

    def _index(self, prefix: str, messages, enums) -> None:  # type: ignore[no-untyped-def]
        for e in enums:
            self.enums[f".{prefix}.{e.name}"] = e
        for m in messages:
            full = f".{prefix}.{m.name}"
            self.messages[full] = m
            self._index(f"{prefix}.{m.name}", m.nested_type, m.enum_type)

    def _comments(self, f: descriptor_pb2.FileDescriptorProto) -> None:
        for loc in f.source_code_info.location:
            # path [4, i] = message_type[i]
            if len(loc.path) == 2 and loc.path[0] == 4 and loc.leading_comments:
                self.comments[f".{f.package}.{f.message_type[loc.path[1]].name}"] = " ".join(
                    loc.leading_comments.split()
                )

    def field_schema(self, field: descriptor_pb2.FieldDescriptorProto, defs: dict) -> dict:
        if field.type == FDP.TYPE_MESSAGE:
            if field.type_name == ".google.protobuf.Timestamp":
                item: dict = {
                    "type": "string",
                    "format": "date-time",
                    "pattern": TIMESTAMP_PATTERN,
                    "x-clause": CLAUSE_TIMESTAMP,
                }
            else:
                msg = self.messages[field.type_name]
                if msg.options.map_entry:
                    value_field = msg.field[1]
                    return {"type": "object", "additionalProperties": self.field_schema(value_field, defs)}
                name = field.type_name.rsplit(".", 1)[1]
                if name not in defs:
                    defs[name] = {}
                    defs[name] = self.message_schema(field.type_name, defs)
                item = {"$ref": f"#/$defs/{name}"}
        elif field.type == FDP.TYPE_ENUM:
            enum = self.enums[field.type_name]
            item = {"type": "string", "enum": [v.name for v in enum.value]}
        else:
            item = scalar_schema(field)
        if field.label == FDP.LABEL_REPEATED:
            return {"type": "array", "items": item}
        return item

    def message_schema(self, full_name: str, defs: dict) -> dict:
        msg = self.messages[full_name]
        props = {f.name: self.field_schema(f, defs) for f in msg.field}
        schema: dict = {"type": "object", "additionalProperties": False, "properties": props}
        if full_name in self.comments:
            schema["description"] = self.comments[full_name]
        groups: dict[int, list[str]] = {}
        for f in msg.field:
            if f.HasField("oneof_index") and not f.proto3_optional:
                groups.setdefault(f.oneof_index, []).append(f.name)
        pairs = [
            {"required": [a, b]}
            for names in groups.values()
            for i, a in enumerate(names)
            for b in names[i + 1 :]
        ]
        if pairs:
            schema["not"] = {"anyOf": pairs}
        return schema

    def document(self, full_name: str) -> dict:
        defs: dict = {}
        body = self.message_schema(full_name, defs)
        name = full_name.rsplit(".", 1)[1]
        doc = {
            "$schema": "https://json-schema.org/draft/2020-12/schema",
            "$id": f"{SCHEMA_BASE}{name}.schema.json",
            "title": f"{PACKAGE}.{name}",
            **body,
        }
        if defs:
            doc["$defs"] = dict(sorted(defs.items()))
        return doc

    def all_documents(self) -> dict[str, str]:
        out = {}
        for full, msg in sorted(self.messages.items()):
            if not full.startswith(f".{PACKAGE}.") or msg.options.map_entry or full.count(".") != 4:
                continue
            name = full.rsplit(".", 1)[1]
            out[f"{name}.schema.json"] = json.dumps(self.document(full), ensure_ascii=False, indent=2) + "\n"
        return out


LEVEL_ZH = {"MUST": "必须", "SHOULD": "应当", "MAY": "可以"}
PILLAR = {
    "DATA": ("统一数据", "Unified data"),
    "IFACE": ("统一接口", "Unified interface"),
    "PROTO": ("统一协议", "Unified protocol"),
}
CHECK_ZH = {"core": "校验核心", "platform": "平台行为", "product": "产品行为"}


def render_spec(catalogue: dict) -> str:
    clauses = catalogue["clauses"]
    lines = [
        "<!-- Generated from protocols/data/clauses.yaml by scripts/generate.py. Do not edit. -->",
        f"# 三统一接口规范 / santong interface specification v{catalogue['spec_version']}",
        "",
        catalogue["intro_zh"].strip(),
        "",
        catalogue["intro_en"].strip(),
        "",
        "| 级别 Level | 含义 Meaning |",
        "|---|---|",
        "| MUST 必须 | 不满足即不合格 / failing it fails certification |",
        "| SHOULD 应当 | 不满足记为警告 / failing it is a warning |",
        "| MAY 可以 | 可选能力 / optional capability |",
        "",
        VERDICT.read_text(encoding="utf-8").strip(),
        "",
        "不适用原因（封闭清单）/ Not-applicable reasons (closed list):",
        "",
        "| 原因 Reason | 含义 Meaning |",
        "|---|---|",
        *(f"| `{k}` | {zh} / {en} |" for k, (zh, en) in na_reasons().items()),
        "",
    ]
    for key, (zh, en) in PILLAR.items():
        group = [c for c in clauses if c["id"].startswith(f"ST-{key}-")]
        lines += [f"## {zh} / {en} ({len(group)})", ""]
        for c in group:
            checked = ", ".join(f"{CHECK_ZH[k]} {k}" for k in c["checked_by"])
            lines += [
                f"### {c['id']} · {c['level']} {LEVEL_ZH[c['level']]} · {c['title_zh']} / {c['title_en']}",
                "",
                c["text_zh"].strip(),
                "",
                c["text_en"].strip(),
                "",
                f"- 适用于 Applies to: {', '.join(c['applies_to'])}",
                f"- 检查方式 Checked by: {checked}",
                *(
                    [
                        f"- 自接口版本 Since interface version: {c['since']}（协商了更早版本的产品不适用 / not "
                        "applicable to a product that negotiated an older version）"
                    ]
                    if c.get("since")
                    else []
                ),
                "",
            ]
    lines += [
        "## 附录 状态表 / Annex: status table (ST-PROTO-035)",
        "",
        "每个 gRPC 状态码的 HTTP 状态、设备动作以及是否表示断线（ST-IFACE-015、ST-PROTO-014/015/016）。带违例的"
        " INVALID_ARGUMENT 和 HTTP 413 为最终拒收，无违例的 INVALID_ARGUMENT 重试。/ The HTTP status of every gRPC code,"
        " the device's action and whether it means an outage (ST-IFACE-015, ST-PROTO-014/015/016). INVALID_ARGUMENT"
        " with violations and HTTP 413 are final; INVALID_ARGUMENT without violations is retried.",
        "",
        *status_table(),
        "",
    ]
    lines += mt_section()
    return "\n".join(lines).rstrip() + "\n"


def mt_section() -> list[str]:
    """The MT/T 1201 file layouts, from the field tables the parser reads with (santong.adapters.mtfile)."""
    from santong.adapters.mtfile._spec import render  # noqa: PLC0415

    return render()


def _fields(fds: descriptor_pb2.FileDescriptorSet) -> dict[str, dict[int, str]]:
    """Message full name → {field number: field name} of the santong messages of a descriptor set."""
    out: dict[str, dict[int, str]] = {}

    def walk(prefix: str, messages) -> None:  # type: ignore[no-untyped-def]
        for m in messages:
            name = f"{prefix}.{m.name}"
            out[name] = {f.number: f.name for f in m.field}
            walk(name, m.nested_type)

    for f in fds.file:
        if f.package == PACKAGE:
            walk(f.package, f.message_type)
    return out


def versions_document(fds: descriptor_pb2.FileDescriptorSet) -> str:
    """protocols/data/versions.json: every spec version, oldest first, and for each frozen baseline the fields the
    working interface added after it. The working interface is the newest baseline when it has no field that
    baseline lacks, else the next minor version (additive changes, protocols/CHANGELOG.md)."""
    current = _fields(fds)
    frozen: list[tuple[tuple[int, int], dict[str, dict[str, str]]]] = []
    for folder in BASELINES.glob("v*"):
        parts = folder.name[1:].split(".")
        if not (folder / "image.binpb").is_file() or len(parts) != 2 or not all(p.isdigit() for p in parts):
            continue
        old = _fields(descriptor_pb2.FileDescriptorSet.FromString((folder / "image.binpb").read_bytes()))
        added = {
            msg: {str(n): name for n, name in sorted(fields.items()) if n not in old.get(msg, {})}
            for msg, fields in sorted(current.items())
            if msg in old
        }
        frozen.append(((int(parts[0]), int(parts[1])), {m: f for m, f in added.items() if f}))
    frozen.sort()
    versions = [f"{major}.{minor}" for (major, minor), _ in frozen]
    if not frozen:
        versions.append("1.0")
    elif frozen[-1][1]:
        major, minor = frozen[-1][0]
        versions.append(f"{major}.{minor + 1}")
    doc = {
        "$comment": "Generated by scripts/generate.py from protocols/baseline and protocols/proto; never edit.",
        "versions": versions,
        "added_after": {f"{major}.{minor}": added for (major, minor), added in frozen},
    }
    return json.dumps(doc, ensure_ascii=False, indent=2) + "\n"


def expected_files() -> dict[Path, bytes]:
    files: dict[Path, bytes] = {}
    with tempfile.TemporaryDirectory() as tmp:
        out = Path(tmp)
        dset = run_protoc(out)
        for p in sorted((out / "santong" / "protocols" / "v1").iterdir()):
            files[PY_OUT / p.name] = p.read_bytes()
        fds = descriptor_pb2.FileDescriptorSet.FromString(dset.read_bytes())
    for name, text in SchemaBuilder(fds).all_documents().items():
        files[SCHEMA_OUT / name] = text.encode()
    files[VERSIONS_OUT] = versions_document(fds).encode()
    catalogue = yaml.safe_load(CLAUSES.read_text(encoding="utf-8"))
    files[SPEC_OUT] = render_spec(catalogue).encode()
    return files


def generated_on_disk() -> set[Path]:
    found = set(PY_OUT.glob("*_pb2*.py")) | set(PY_OUT.glob("*_pb2*.pyi")) | set(SCHEMA_OUT.glob("*.json"))
    if SPEC_OUT.exists():
        found.add(SPEC_OUT)
    if VERSIONS_OUT.exists():
        found.add(VERSIONS_OUT)
    return found


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--check", action="store_true", help="fail if anything generated is stale")
    args = ap.parse_args(argv)
    files = expected_files()
    stale = sorted(
        str(p.relative_to(ROOT)) for p, data in files.items() if not p.exists() or p.read_bytes() != data
    )
    extra = sorted(str(p.relative_to(ROOT)) for p in generated_on_disk() - set(files))
    if args.check:
        if stale or extra:
            for s in stale:
                print(f"生成文件已过期 stale generated file: {s}", file=sys.stderr)
            for s in extra:
                print(f"多余的生成文件 generated file with no source: {s}", file=sys.stderr)
            print("运行 make generate 并提交 / run `make generate` and commit", file=sys.stderr)
            return 1
        print(f"生成文件均为最新 / {len(files)} generated files up to date")
        return 0
    for p, data in files.items():
        p.parent.mkdir(parents=True, exist_ok=True)
        if not p.exists() or p.read_bytes() != data:
            p.write_bytes(data)
    for s in extra:
        (ROOT / s).unlink()
    print(f"已生成 / generated {len(files)} files ({len(stale)} changed, {len(extra)} removed)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
