"""Hypothesis strategies that build random v1 protobuf messages from their descriptors."""

from __future__ import annotations

from typing import Any

from google.protobuf import descriptor as _d
from google.protobuf.message import Message
from hypothesis import strategies as st
from santong.protocols import message_class

FD = _d.FieldDescriptor
TEXT = st.text(alphabet=st.characters(codec="utf-8", exclude_categories=("Cs",)), max_size=12)
FINITE = st.floats(allow_nan=False, allow_infinity=False, width=64)
INT_RANGES = {
    FD.TYPE_INT32: (-(2**31), 2**31 - 1),
    FD.TYPE_SINT32: (-(2**31), 2**31 - 1),
    FD.TYPE_SFIXED32: (-(2**31), 2**31 - 1),
    FD.TYPE_UINT32: (0, 2**32 - 1),
    FD.TYPE_FIXED32: (0, 2**32 - 1),
    FD.TYPE_INT64: (-(2**63), 2**63 - 1),
    FD.TYPE_SINT64: (-(2**63), 2**63 - 1),
    FD.TYPE_SFIXED64: (-(2**63), 2**63 - 1),
    FD.TYPE_UINT64: (0, 2**64 - 1),
    FD.TYPE_FIXED64: (0, 2**64 - 1),
}
# Timestamps the JSON mapping can express (years 0001–9999).
TS_SECONDS = st.integers(min_value=-62135596800, max_value=253402300799)
TS_NANOS = st.sampled_from([0, 1_000_000, 123_000_000, 999_999_000, 5])


def _scalar(field: _d.FieldDescriptor) -> st.SearchStrategy[Any]:
    t = field.type
    if t in INT_RANGES:
        lo, hi = INT_RANGES[t]
        return st.integers(min_value=lo, max_value=hi)
    if t == FD.TYPE_DOUBLE:
        return FINITE
    if t == FD.TYPE_FLOAT:
        return st.floats(allow_nan=False, allow_infinity=False, width=32)
    if t == FD.TYPE_BOOL:
        return st.booleans()
    if t == FD.TYPE_STRING:
        return TEXT
    if t == FD.TYPE_BYTES:
        return st.binary(max_size=16)
    if t == FD.TYPE_ENUM:
        return st.sampled_from([v.number for v in field.enum_type.values])
    raise TypeError(t)


@st.composite
def _fill(draw: st.DrawFn, cls: type[Message], depth: int) -> Message:
    msg = cls()
    desc = cls.DESCRIPTOR
    chosen_oneofs = {
        o.name: draw(st.sampled_from([None, *[f.name for f in o.fields]]))
        for o in desc.oneofs
        if not o.name.startswith("_")
    }
    for field in desc.fields:
        oneof = field.containing_oneof
        if (
            oneof is not None
            and not oneof.name.startswith("_")
            and chosen_oneofs.get(oneof.name) != field.name
        ):
            continue
        if not draw(st.booleans()):
            continue
        if field.message_type is not None and field.message_type.GetOptions().map_entry:
            for k, v in draw(st.dictionaries(TEXT, TEXT, max_size=3)).items():
                getattr(msg, field.name)[k] = v
        elif field.message_type is not None:
            if field.message_type.full_name == "google.protobuf.Timestamp":
                values = [
                    (draw(TS_SECONDS), draw(TS_NANOS))
                    for _ in range(draw(st.integers(0, 2)) if _repeated(field) else 1)
                ]
                for s, n in values:
                    ts = getattr(msg, field.name).add() if _repeated(field) else getattr(msg, field.name)
                    ts.seconds, ts.nanos = s, n
            elif depth > 0:
                sub_cls = (
                    type(getattr(msg, field.name).add())
                    if _repeated(field)
                    else type(getattr(msg, field.name))
                )
                if _repeated(field):
                    getattr(msg, field.name).pop()
                    for _ in range(draw(st.integers(0, 2))):
                        getattr(msg, field.name).add().CopyFrom(draw(_fill(sub_cls, depth - 1)))
                else:
                    getattr(msg, field.name).CopyFrom(draw(_fill(sub_cls, depth - 1)))
        elif _repeated(field):
            getattr(msg, field.name).extend(draw(st.lists(_scalar(field), max_size=5)))
        else:
            setattr(msg, field.name, draw(_scalar(field)))
    return msg


def _repeated(field: _d.FieldDescriptor) -> bool:
    return bool(field.is_repeated)


def messages(name: str, depth: int = 3) -> st.SearchStrategy[Message]:
    """Random, structurally valid messages of one v1 type."""
    return _fill(message_class(name), depth)
