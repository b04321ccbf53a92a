"""ST-DATA-034 on protobuf: the unknown-field check that looks at the few messages of a tree without repeated
messages (an observation batch: request, batch, base_time) gives exactly what the two-size comparison gives, for
unknown fields of every wire type at every level, a known field number sent with the wrong wire type, and none."""

from __future__ import annotations

from typing import Any

import pytest
from google.protobuf.message import Message
from santong.protocols import batch_wire, unknown_field_violations
from santong.protocols._catalogue import load_data, violation
from santong.protocols._codec import _singular_message_fields, _unknown_paths, message_class, message_names
from santong.protocols.v1 import data_pb2
from santong.protocols.v1 import device_access_pb2 as pb


def _by_sizes(msg: Message, data: bytes) -> list[Any]:
    """The check as it was: two sizes computed in C, paths from a fresh parse."""
    size = msg.ByteSize()
    msg.DiscardUnknownFields()
    if msg.ByteSize() == size:
        return []
    paths: list[str] = []
    _unknown_paths(type(msg).FromString(data), "$", paths)
    return [
        violation(
            "ST-DATA-034",
            path,
            f"未知字段（编号 {number}），不属于本接口版本",
            f"unknown field (number {number}), not part of this interface version",
        )
        for path, number in (p.rsplit("#", 1) for p in paths[:5])
    ]


def _varint(n: int) -> bytes:
    out = bytearray()
    while True:
        b, n = n & 0x7F, n >> 7
        out.append(b | (0x80 if n else 0))
        if not n:
            return bytes(out)


EXTRAS = {
    "varint": _varint(999 << 3 | 0) + _varint(7),
    "fixed64": _varint(998 << 3 | 1) + b"\x00" * 8,
    "len": _varint(997 << 3 | 2) + _varint(3) + b"abc",
    "fixed32": _varint(996 << 3 | 5) + b"\x00" * 4,
    "two": _varint(999 << 3 | 0) + _varint(1) + _varint(995 << 3 | 0) + _varint(2),
    "known number, wrong wire type": _varint(1 << 3 | 5) + b"\x01\x00\x00\x00",
    "none": b"",
}


def _with_extra(msg: Message, path: tuple[str, ...], extra: bytes) -> bytes:
    """The encoding of msg with extra bytes appended inside the message at path (field names from msg down)."""
    if not path:
        return msg.SerializeToString() + extra
    name, rest = path[0], path[1:]
    inner = _with_extra(getattr(msg, name), rest, extra)
    outer = type(msg)()
    outer.CopyFrom(msg)
    outer.ClearField(name)
    number = msg.DESCRIPTOR.fields_by_name[name].number
    return outer.SerializeToString() + _varint(number << 3 | 2) + _varint(len(inner)) + inner


def _batch_request(cls: type[Message]) -> Message:
    batch = data_pb2.ObservationBatch(
        sequence=9, alias=[1, 2], value=[0.5, 1.0], time_offset_ms=[0, 5], status=[0, 8]
    )
    batch.base_time.FromMilliseconds(1_736_908_200_000)
    return cls(batch=batch)


PATHS = [(), ("batch",), ("batch", "base_time")]


@pytest.mark.parametrize("cls", [pb.ReportObservationsRequest, pb.StreamObservationsRequest])
@pytest.mark.parametrize("path", PATHS, ids=".".join)
@pytest.mark.parametrize("extra", EXTRAS)
def test_batch_tree_check_equals_the_sizes(cls: type[Message], path: tuple[str, ...], extra: str) -> None:
    assert _singular_message_fields(cls.DESCRIPTOR) is not None  # the fast check applies
    data = _with_extra(_batch_request(cls), path, EXTRAS[extra])
    fast_msg, slow_msg = cls.FromString(data), cls.FromString(data)
    fast = unknown_field_violations(fast_msg, data)
    assert fast == _by_sizes(slow_msg, data)
    assert (
        fast_msg == slow_msg and fast_msg.SerializeToString() == slow_msg.SerializeToString()
    )  # both discarded
    assert bool(fast) == (extra != "none")


def _nested_paths(msg: Message, prefix: tuple[str, ...] = ()) -> list[tuple[str, ...]]:
    out = [prefix]
    for name in _singular_message_fields(msg.DESCRIPTOR) or ():
        out += _nested_paths(getattr(msg, name), (*prefix, name))
    return out


@pytest.mark.parametrize(
    "name", [n for n in message_names() if _singular_message_fields(message_class(n).DESCRIPTOR)]
)
def test_every_flat_message_and_level(name: str) -> None:
    """Every message the fast check applies to, an unknown field at each of its levels, and none."""
    cls = message_class(name)
    for path in _nested_paths(cls()):
        for extra in ("varint", "len", "none"):
            data = _with_extra(cls(), path, EXTRAS[extra])
            fast_msg, slow_msg = cls.FromString(data), cls.FromString(data)
            assert unknown_field_violations(fast_msg, data) == _by_sizes(slow_msg, data), (path, extra)


def test_repeated_message_trees_keep_the_sizes() -> None:
    """A message holding repeated messages (alarms) is checked by sizes; unknown fields deep in an item found."""
    assert _singular_message_fields(pb.ReportAlarmsRequest.DESCRIPTOR) is None
    req = pb.ReportAlarmsRequest(sequence=1, alarms=[data_pb2.Alarm(alarm_id="a1")])
    alarm = req.alarms[0].SerializeToString() + EXTRAS["varint"]
    data = pb.ReportAlarmsRequest(sequence=1).SerializeToString() + _varint(
        pb.ReportAlarmsRequest.DESCRIPTOR.fields_by_name["alarms"].number << 3 | 2
    ) + _varint(len(alarm)) + alarm  # fmt: skip
    vs = unknown_field_violations(pb.ReportAlarmsRequest.FromString(data), data)
    assert [v.path for v in vs] == ["$.alarms[0]"]


@pytest.mark.parametrize("cls", [pb.ReportObservationsRequest, pb.StreamObservationsRequest])
@pytest.mark.parametrize("path", PATHS, ids=".".join)
@pytest.mark.parametrize("extra", EXTRAS)
def test_a_batch_walk_that_takes_the_bytes_proves_they_hold_no_unknown_field(
    cls: type[Message], path: tuple[str, ...], extra: str
) -> None:
    """The platform skips the unknown-field check of an observation upload whose encoding batch_wire takes: so it
    must refuse every encoding with an unknown field (or a known number with another wire type) at any level, the
    base_time's content included."""
    data = _with_extra(_batch_request(cls), path, EXTRAS[extra])
    found = unknown_field_violations(cls.FromString(data), data)
    assert bool(found) == (extra != "none")
    if found:
        assert batch_wire(data) is None
    elif not path:  # the canonical order: taken (an extra level re-encodes base_time after the columns)
        assert batch_wire(data) is not None


@pytest.mark.parametrize(
    ("content", "taken"),
    [
        (b"", True),  # the epoch
        (_varint(1 << 3) + _varint(1_736_908_200), True),
        (
            _varint(2 << 3) + _varint(5) + _varint(1 << 3) + _varint(7),
            True,
        ),  # nanos first: still known fields
        (_varint(1 << 3) + _varint(1) + _varint(1 << 3) + _varint(2), False),  # seconds twice
        (_varint(1 << 3) + b"\xff\xff", False),  # a varint running past the end
        (_varint(3 << 3) + _varint(1), False),  # field 3
    ],
)
def test_the_base_time_content_the_walk_takes(content: bytes, taken: bool) -> None:
    batch = _batch_request(pb.StreamObservationsRequest).batch
    batch.ClearField("base_time")
    batch.ClearField("sequence")
    inner = b"\x08\x09\x12" + _varint(len(content)) + content + batch.SerializeToString()  # canonical order
    data = b"\x0a" + _varint(len(inner)) + inner
    assert (batch_wire(data) is not None) == taken


def test_the_fields_the_walk_takes_are_in_every_interface_version() -> None:
    """A taken encoding also needs no version check: none of its fields was added after 1.0."""
    added = load_data("versions.json")["added_after"]
    walked = {"santong.protocols.v1.ObservationBatch", "google.protobuf.Timestamp"}
    walked |= {
        f"santong.protocols.v1.{c.DESCRIPTOR.name}"
        for c in (pb.ReportObservationsRequest, pb.StreamObservationsRequest)
    }
    assert all(walked.isdisjoint(fields) for fields in added.values()), added
