"""The proto messages and the JSON Schemas describe the same fields and types, in both directions."""

from __future__ import annotations

import pytest
from google.protobuf.descriptor import FieldDescriptor as FD
from santong.protocols import load_schema, message_class, message_names, schema_names

NUMBER = {FD.TYPE_DOUBLE, FD.TYPE_FLOAT}
INT32 = {FD.TYPE_INT32, FD.TYPE_SINT32, FD.TYPE_SFIXED32, FD.TYPE_UINT32, FD.TYPE_FIXED32}
INT64 = {FD.TYPE_INT64, FD.TYPE_SINT64, FD.TYPE_SFIXED64, FD.TYPE_UINT64, FD.TYPE_FIXED64}


def _deref(schema: dict, node: dict) -> dict:
    ref = node.get("$ref")
    return schema["$defs"][ref.rsplit("/", 1)[1]] if ref else node


def _check_field(schema: dict, field, prop: dict, where: str) -> None:  # type: ignore[no-untyped-def]
    if field.is_repeated and not (field.message_type and field.message_type.GetOptions().map_entry):
        assert prop["type"] == "array", where
        prop = prop["items"]
    t = field.type
    if t == FD.TYPE_MESSAGE:
        mt = field.message_type
        if mt.full_name == "google.protobuf.Timestamp":
            assert prop["type"] == "string" and prop["format"] == "date-time", where
        elif mt.GetOptions().map_entry:
            assert prop["type"] == "object" and "additionalProperties" in prop, where
        else:
            sub = _deref(schema, prop)
            _check_message(schema, mt, sub, f"{where}→{mt.name}")
    elif t == FD.TYPE_ENUM:
        assert prop["enum"] == [v.name for v in field.enum_type.values], where
    elif t in NUMBER:
        assert prop == {"type": "number"}, where
    elif t in INT32:
        assert prop["type"] == "integer", where
    elif t in INT64:
        kinds = sorted(alt["type"] for alt in prop["anyOf"])
        assert kinds == ["integer", "string"], where
    elif t == FD.TYPE_BOOL:
        assert prop == {"type": "boolean"}, where
    elif t == FD.TYPE_STRING:
        assert prop == {"type": "string"}, where
    else:
        pytest.fail(f"unexpected field type at {where}")


def _check_message(schema: dict, desc, node: dict, where: str) -> None:  # type: ignore[no-untyped-def]
    proto_fields = {f.name: f for f in desc.fields}
    props = node["properties"]
    assert node["additionalProperties"] is False, where
    # proto → schema
    missing = set(proto_fields) - set(props)
    assert not missing, f"{where}: proto fields missing from the schema: {missing}"
    # schema → proto
    extra = set(props) - set(proto_fields)
    assert not extra, f"{where}: schema properties with no proto field: {extra}"
    for name, field in proto_fields.items():
        _check_field(schema, field, props[name], f"{where}.{name}")


@pytest.mark.parametrize("name", schema_names())
def test_schema_matches_proto(name: str) -> None:
    schema = load_schema(name)
    assert schema["$schema"] == "https://json-schema.org/draft/2020-12/schema"
    assert schema["$id"].endswith(f"/{name}.schema.json")
    _check_message(schema, message_class(name).DESCRIPTOR, schema, name)


def test_every_top_level_message_has_a_schema() -> None:
    assert set(message_names()) == set(schema_names())


def test_checker_catches_a_drifted_schema() -> None:
    schema = load_schema("ObservationBatch")
    drifted = {**schema, "properties": {k: v for k, v in schema["properties"].items() if k != "status"}}
    with pytest.raises(AssertionError, match="status"):
        _check_message(drifted, message_class("ObservationBatch").DESCRIPTOR, drifted, "ObservationBatch")
    wrong = {**schema, "properties": {**schema["properties"], "backfill": {"type": "string"}}}
    with pytest.raises(AssertionError):
        _check_message(wrong, message_class("ObservationBatch").DESCRIPTOR, wrong, "ObservationBatch")
