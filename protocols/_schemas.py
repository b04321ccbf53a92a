"""JSON Schemas of the interface (package data) and the JSON stage of the validation core.

JSON mapping rules (spec v1):
- field names exactly as in the .proto (snake_case); unknown fields are rejected (ST-DATA-034);
- timestamps are RFC 3339 strings in UTC with a trailing ``Z`` (ST-DATA-030);
- enums are written as their names; 64-bit integers as decimal strings, JSON integers accepted (ST-DATA-035);
- default values may be omitted; absent and default are the same message.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from functools import cache
from importlib import resources
from typing import Any

import jsonschema
import jsonschema_rs
from santong.protocols._catalogue import violation
from santong.protocols._errors import Violation

__all__ = [
    "SCHEMA_CLAUSES",
    "json_violations",
    "load_schema",
    "reference_validator",
    "schema_names",
    "validator",
]

# The clauses enforced by the JSON stage (declared like the rules in _rules.py).
SCHEMA_CLAUSES = ("ST-DATA-030", "ST-DATA-034", "ST-DATA-035", "ST-DATA-036")


@cache
def schema_names() -> tuple[str, ...]:
    """Names of the messages that have a JSON Schema."""
    folder = resources.files("santong.protocols").joinpath("schemas", "v1")
    return tuple(
        sorted(
            p.name.removesuffix(".schema.json") for p in folder.iterdir() if p.name.endswith(".schema.json")
        )
    )


@cache
def load_schema(message_name: str) -> dict[str, Any]:
    """The JSON Schema (draft 2020-12) of one message, by proto message name."""
    path = resources.files("santong.protocols").joinpath("schemas", "v1", f"{message_name}.schema.json")
    result: dict[str, Any] = json.loads(path.read_text(encoding="utf-8"))
    return result


@cache
def validator(message_name: str) -> Any:
    """The hot-path validator (jsonschema-rs), built once per schema."""
    return jsonschema_rs.Draft202012Validator(load_schema(message_name))


@cache
def reference_validator(message_name: str) -> jsonschema.Draft202012Validator:
    """The reference validator (jsonschema), used by the differential tests and the benchmark."""
    return jsonschema.Draft202012Validator(load_schema(message_name))


def _resolve(schema: dict[str, Any], pointer: list[Any]) -> Any:
    node: Any = schema
    for part in pointer:
        if isinstance(node, dict) and "$ref" in node and part not in node:
            node = _resolve(schema, node["$ref"].removeprefix("#/").split("/"))
        try:
            node = node[int(part)] if isinstance(node, list) else node[part]
        except (KeyError, IndexError, ValueError, TypeError):
            return None
    return node


def _path(instance_path: Any) -> str:
    out = "$"
    for part in instance_path:
        out += f"[{part}]" if isinstance(part, int) else f".{part}"
    return out


def _classify(error: Any, schema: dict[str, Any]) -> Iterator[Violation]:
    schema_path = list(error.schema_path)
    keyword = str(schema_path[-1]) if schema_path else ""
    parent = _resolve(schema, schema_path[:-1]) if schema_path else None
    path = _path(error.instance_path)
    if keyword == "additionalProperties":
        yield violation(
            "ST-DATA-034",
            path,
            f"未知字段：{error.message}（字段名须与 proto 一致）",
            f"unknown field: {error.message} (field names as in the proto)",
        )
    elif isinstance(parent, dict) and parent.get("x-clause") == "ST-DATA-030":
        yield violation(
            "ST-DATA-030",
            path,
            f"时间须为带 Z 的 RFC 3339 UTC 时间：{error.message}",
            f"time must be RFC 3339 UTC with Z: {error.message}",
        )
    else:
        yield violation(
            "ST-DATA-035", path, f"类型或取值不符：{error.message}", f"wrong type or value: {error.message}"
        )


def json_violations(document: Any, message_name: str, *, limit: int = 20) -> list[Violation]:
    """Validate a decoded JSON document against a message's schema; [] when valid."""
    v = validator(message_name)
    if v.is_valid(document):
        return []
    schema = load_schema(message_name)
    out: list[Violation] = []
    for err in v.iter_errors(document):
        out.extend(_classify(err, schema))
        if len(out) >= limit:
            break
    return out
