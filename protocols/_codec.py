"""Codecs between protobuf messages and their JSON form, and message lookup by name."""

from __future__ import annotations

import datetime
import json
import math
from functools import cache
from typing import Any

from google.protobuf import json_format, unknown_fields
from google.protobuf.descriptor import Descriptor
from google.protobuf.message import DecodeError, Message
from santong.protocols._catalogue import violation
from santong.protocols._errors import ValidationError, Violation
from santong.protocols._schemas import json_violations, validator
from santong.protocols.v1 import common_pb2, data_pb2, device_access_pb2, platform_pb2

__all__ = [
    "BatchLists",
    "decode_json",
    "decode_json_encoded",
    "decode_json_lists",
    "decode_proto",
    "loads_strict",
    "message_class",
    "message_names",
    "to_dict",
    "to_json",
    "unknown_field_violations",
]

_MODULES = (common_pb2, data_pb2, device_access_pb2, platform_pb2)


@cache
def _registry() -> dict[str, type[Message]]:
    out: dict[str, type[Message]] = {}
    for mod in _MODULES:
        for name in mod.DESCRIPTOR.message_types_by_name:
            out[name] = getattr(mod, name)
    return out


def message_names() -> tuple[str, ...]:
    """Names of every v1 message."""
    return tuple(sorted(_registry()))


def message_class(name: str) -> type[Message]:
    """The generated class of a v1 message by its proto name (e.g. 'ObservationBatch')."""
    try:
        return _registry()[name]
    except KeyError:
        raise KeyError(f"未知消息类型 unknown message type: {name}") from None


def to_dict(message: Message) -> dict[str, Any]:
    """The canonical JSON form (as a dict) of a message: proto field names, defaults omitted."""
    result: dict[str, Any] = json_format.MessageToDict(message, preserving_proto_field_name=True)
    return result


def to_json(message: Message) -> str:
    """The canonical JSON text of a message."""
    return json.dumps(to_dict(message), ensure_ascii=False, separators=(",", ":"))


#: An observation batch's alias, time_offset_ms and status columns as the Python lists of ints the message was
#: built from (see :func:`decode_json_lists`).
BatchLists = tuple[list[int], list[int], list[int]]


_EPOCH_ORDINAL = datetime.date(1970, 1, 1).toordinal()


def _set_utc(ts: Any, text: str) -> None:
    """``ts.FromJsonString(text)`` for a time the schema has proven to be ``YYYY-MM-DDTHH:MM:SS[.f{1,9}]Z``, without
    strptime (≈ 10× faster); anything ``datetime`` refuses (a 30 February, second 60, year 0) goes to
    ``FromJsonString`` for its own error."""
    try:
        dt = datetime.datetime(int(text[0:4]), int(text[5:7]), int(text[8:10]), int(text[11:13]), int(text[14:16]), int(text[17:19]))  # fmt: skip
    except ValueError:
        ts.FromJsonString(text)
        return
    ts.seconds = (dt.toordinal() - _EPOCH_ORDINAL) * 86400 + dt.hour * 3600 + dt.minute * 60 + dt.second
    ts.nanos = int(text[20:-1].ljust(9, "0")) if len(text) > 20 else 0


def _fast_batch(
    d: dict[str, Any], batch: Any, text: str | None = None, missed: list[tuple[str, str]] | None = None
) -> BatchLists:
    """Build ``batch`` from a batch object whose member names are the schema's (``text``: the JSON text it was
    decoded from, if any; ``missed``: given when the text holds no object but the document and the batch, see
    :func:`_int_column`)."""
    batch.sequence = int(d.get("sequence", 0))
    if "base_time" in d:
        _set_utc(batch.base_time, d["base_time"])
    alias, offsets, status = d.get("alias", []), d.get("time_offset_ms", []), d.get("status", [])
    _int_column(batch, "alias", alias, text, missed)
    batch.value.extend(d.get("value", ()))
    _int_column(batch, "time_offset_ms", offsets, text, missed)
    packed = _packed_small(status, text) if status and text is not None else None
    if packed is None:
        batch.status.extend(status)
    else:  # the packed column as upb reads it (≈ 7 µs where extending by 1,000 ints costs 15)
        batch.MergeFromString(_STATUS_TAG + _varint(len(packed)) + packed)
    batch.backfill = bool(d.get("backfill", False))
    # upb took every element as an int (it refuses floats and bools in integer fields): the lists equal the columns
    return alias, offsets, status


_OBSERVATION_REQUESTS = ("ReportObservationsRequest", "StreamObservationsRequest")
#: An observation batch's columns: the bulk of an upload.
_COLUMNS = ("alias", "value", "time_offset_ms", "status")
_NUMBER_TYPES = frozenset((int, float))


def _batch_of(doc: dict[str, Any], message_name: str) -> dict[str, Any] | None:
    """The observation batch object of a document (the document itself for an ObservationBatch), or None."""
    if message_name == "ObservationBatch":
        return doc
    if message_name in _OBSERVATION_REQUESTS:
        batch = doc.get("batch")
        return batch if isinstance(batch, dict) else None
    return None


def _columns_proven(doc: dict[str, Any], batch: dict[str, Any], message_name: str) -> bool:
    """The JSON stage of an observation batch in two parts, both exact: the schema on the document with its
    columns emptied (every member but the columns' items), and the items proven by what the decoding does with them
    anyway — upb refuses anything but an int within the field's range in alias/time_offset_ms/status (floats and
    bools included), and the value column is checked to hold only finite numbers (int or float, never bool), which
    is all the schema's validator accepts of its items. True when the emptied document is valid and the columns are
    lists; a column that then fails its proof has the full schema run on the document (:func:`decode_json_lists`),
    so the violations are always the schema's. Costs a few microseconds where the whole schema costs ~80 µs per
    1,000 points."""
    if not all(type(batch.get(c, ())) in (list, tuple) for c in _COLUMNS):
        return False
    empty = {k: ([] if k in _COLUMNS else v) for k, v in batch.items()}
    reduced = empty if message_name == "ObservationBatch" else {**doc, "batch": empty}
    return bool(validator(message_name).is_valid(reduced))


def _numbers(values: Any, bool_free: bool = False) -> bool:
    """Every item a finite JSON number, which is what the schema's validator accepts (bool is an int subclass in
    Python, not a number in JSON; the NaN and Infinity the stdlib decoder reads are not JSON and reach the validator
    as null). False sends the column to the schema, which has the last word. ``bool_free``: the column is known to
    hold no bool (:func:`_no_literals`) and upb took it into a double field (refusing all but ints, floats and
    bools): finiteness is then all that is left to check."""
    if not bool_free and not set(map(type, values)) <= _NUMBER_TYPES:
        return False
    try:
        return math.isfinite(sum(values))
    except OverflowError:  # ints whose sum exceeds a double
        return False


def _no_literals(text: str, member: str = "value", *, last: bool = False) -> bool:
    """Whether a column of an observation batch is written without a ``true`` or ``false`` literal, read off the
    JSON text in ≈ 1.5 µs (a type check of 1,000 items costs ≈ 13): no bool in the column then, as the decoder
    makes bools of those literals only. For a document whose member names are the schema's (the schema or the
    proof, :func:`_columns_proven`, accepted it: one member of this name, in the batch; its only strings a sequence
    and a time, with no quote, colon or bracket) and whose columns before this one upb took (no object or array
    in them): ``"member":[`` then opens the column, the first ``]`` after it closes it unless the column holds an
    array (which upb refuses later), and in between, numbers have no ``t`` or ``f``. False (the full check) when
    the text writes it otherwise (spaces, escapes). ``last``: the column holds only numbers and bools, so that the
    opening is the text's only one: looked for from the end (the status column is written last)."""
    span = _column_span(text, member, last=last)
    return span is not None and text.find("t", *span) < 0 and text.find("f", *span) < 0


def _column_span(text: str, member: str, *, last: bool = False) -> tuple[int, int] | None:
    """Where the items of column ``member`` lie in ``text``: from after the first (``last``: the last)
    ``"member":[`` to the first ``]`` after it; None when the text writes it otherwise. What this span is, and
    when it is the column, is for the callers to know (:func:`_no_literals`, :func:`_int_column`)."""
    opening = f'"{member}":['
    start = text.rfind(opening) if last else text.find(opening)
    if start < 0:
        return None
    start += len(opening)
    end = text.find("]", start)
    return (start, end) if end >= 0 else None


_STATUS_TAG = b"\x32"  # field 6 (status), length-delimited: a packed column
_TAGS = {"alias": b"\x1a", "time_offset_ms": b"\x2a"}  # fields 3 and 5, packed
#: The packed encodings of alias and time-offset columns as they were written in JSON: (member, the text between
#: the column's brackets) → what upb made of them. A device's alias column is the same text batch after batch, and
#: a device that samples on a fixed schedule repeats its offsets.
_PACKED: dict[tuple[str, str], bytes] = {}
_PACKED_MAX = 8 << 20  # characters and bytes kept at most (texts and encodings): then it starts afresh
_packed_size = 0
_PACKED_MIN = 64  # columns shorter than this are extended item by item


def _int_column(batch: Any, member: str, items: list[Any], text: str | None, missed: Any) -> None:
    """Extend ``batch``'s alias or time-offset column by ``items``, the list decoded from ``text``: from the packed
    encoding remembered for the same column text (≈ 4 µs where extending by 1,000 ints costs 15), else item by item
    (the key is then added to ``missed``, and :func:`_remember` keeps the encoding once the message is serialized).

    Only when the text holds no object but the document and the batch (``missed`` given): ``"member":[`` is then
    the batch's member (strings hold no quote, the schema or the proof accepted the member names) and the first
    ``]`` after it closes the column when the text in between is a remembered one (which holds ints alone, upb
    took them): the same text, the same ints."""
    if missed is not None and text is not None and len(items) >= _PACKED_MIN:
        span = _column_span(text, member)
        if span is not None:
            key = (member, text[span[0] : span[1]])
            packed = _PACKED.get(key)
            if packed is not None:
                batch.MergeFromString(_TAGS[member] + _varint(len(packed)) + packed)
                return
            missed.append(key)
    getattr(batch, member).extend(items)


def _remember(missed: list[tuple[str, str]], batch_encoding: bytes) -> None:
    """Keep the packed columns of a serialized batch (a request's encoding) under the column texts
    :func:`_int_column` did not find."""
    from santong.protocols._wire import ALIAS, TIME_OFFSET, batch_wire

    wire = batch_wire(batch_encoding)
    if wire is None:
        return
    global _packed_size
    for key in missed:
        packed = wire.column(ALIAS if key[0] == "alias" else TIME_OFFSET)
        _packed_size += len(key[1]) + len(packed)
        if _packed_size > _PACKED_MAX:
            _PACKED.clear()
            _packed_size = len(key[1]) + len(packed)
        _PACKED[key] = packed


def _one_object_inside(text: str) -> bool:
    """Whether the text holds exactly two ``{``: a request and its batch, no other object (strings hold none)."""
    first = text.find("{")
    second = text.find("{", first + 1) if first >= 0 else -1
    return second >= 0 and text.find("{", second + 1) < 0


def _varint(n: int) -> bytes:
    out = bytearray()
    while n > 0x7F:
        out.append(n & 0x7F | 0x80)
        n >>= 7
    out.append(n)
    return bytes(out)


def _packed_small(column: list[Any], text: str) -> bytes | None:
    """The packed encoding of the status column when its items are all ints below 128 (the usual one: one byte
    each, the items themselves), or None (upb takes the column item by item then, refusing what it refuses):
    ``bytes`` refuses all but ints (and bools) in 0–255, ``isascii`` 128–255, and bools are ruled out from the
    text (:func:`_no_literals`: the other columns were taken by upb before, so that no column holds an object)."""
    try:
        packed = bytes(column)
    except (TypeError, ValueError):
        return None
    return packed if packed.isascii() and _no_literals(text, "status", last=True) else None


class _DuplicateKey(ValueError):
    """A JSON object names one member twice."""


def _unique_members(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    """json.loads' object hook: a dict, or _DuplicateKey when a member name repeats (ST-DATA-034; the stdlib
    decoder would keep the last value silently). Runs once per JSON object: columnar batches have few."""
    d = dict(pairs)
    if len(d) != len(pairs):
        seen: set[str] = set()
        raise _DuplicateKey(next(k for k, _ in pairs if k in seen or seen.add(k)))  # type: ignore[func-returns-value]
    return d


def loads_strict(text: str | bytes) -> Any:
    """``json.loads`` that refuses repeated member names (raises :class:`ValueError` naming the member)."""
    return json.loads(text, object_pairs_hook=_unique_members)


def decode_json(data: bytes | str | dict[str, Any], message_name: str) -> Message:
    """Parse a JSON document into a message after schema validation (the JSON stage of the core).

    Raises ValidationError naming ST-DATA-030/034/035/036 on malformed or non-conforming JSON.
    """
    return decode_json_lists(data, message_name)[0]


def decode_json_lists(
    data: bytes | str | dict[str, Any], message_name: str
) -> tuple[Message, BatchLists | None]:
    """:func:`decode_json`, and for an observation upload (ReportObservationsRequest, StreamObservationsRequest)
    the integer columns of its batch as the lists they were decoded into, equal to the message's: give them to the
    core as ``ValidationContext.batch_lists`` and it reads them instead of copying the message's columns back out
    (the violations are the same). None for other messages."""
    msg, lists, _ = _decode(data, message_name, False)
    return msg, lists


def decode_json_encoded(
    data: bytes | str | dict[str, Any], message_name: str
) -> tuple[Message, bytes | None]:
    """:func:`decode_json`, and for an observation upload (ReportObservationsRequest, StreamObservationsRequest)
    its protobuf encoding (None for other messages): give it to the core as ``ValidationContext.batch_wire``
    (``batch_wire(encoding)``), and store the batch as encoded. Decoding remembers the encoding of the alias and
    time-offset columns it meets (a device's columns recur batch after batch) and builds them from it next time."""
    msg, _, encoding = _decode(data, message_name, True)
    return msg, encoding


def _decode(
    data: bytes | str | dict[str, Any], message_name: str, encode: bool
) -> tuple[Message, BatchLists | None, bytes | None]:
    cls = message_class(message_name)
    text: str | None = None
    if isinstance(data, dict):
        doc: Any = data
    else:
        try:
            text = data.decode("utf-8") if isinstance(data, bytes | bytearray) else data
            doc = json.loads(text, object_pairs_hook=_unique_members)
        except _DuplicateKey as e:
            raise ValidationError(
                [
                    violation(
                        "ST-DATA-034",
                        "$",
                        f"JSON 对象中的成员 “{e}” 重复出现",
                        f"the member '{e}' appears twice in a JSON object",
                    )
                ]
            ) from e
        except (UnicodeDecodeError, json.JSONDecodeError, RecursionError) as e:
            raise ValidationError(
                [
                    violation(
                        "ST-DATA-036", "$", f"不是合法的 UTF-8 JSON：{e}", f"not well-formed UTF-8 JSON: {e}"
                    )
                ]
            ) from e
    if not isinstance(doc, dict):
        raise ValidationError(
            [
                violation(
                    "ST-DATA-036",
                    "$",
                    "JSON 顶层须为对象",
                    "the top level of the JSON document must be an object",
                )
            ]
        )
    batch = _batch_of(doc, message_name)
    proven = batch is not None and _columns_proven(doc, batch, message_name)
    if not proven:
        violations = json_violations(doc, message_name)
        if violations:
            raise ValidationError(violations)
    msg = cls()
    lists: BatchLists | None = None
    encoding: bytes | None = None
    missed: list[tuple[str, str]] | None = None
    if message_name in _OBSERVATION_REQUESTS and text is not None and _one_object_inside(text):
        missed = []
    try:
        if batch is not None:
            target = msg if message_name == "ObservationBatch" else msg.batch  # type: ignore[attr-defined]
            lists = _fast_batch(batch, target, text, missed)
            if message_name == "ObservationBatch":
                lists = None
        elif message_name not in _OBSERVATION_REQUESTS:
            json_format.ParseDict(doc, msg)
    except (json_format.ParseError, ValueError, TypeError, OverflowError) as e:
        # A column the schema was not run on: its verdict, as if it had run first (the same violations)
        if proven and (violations := json_violations(doc, message_name)):
            raise ValidationError(violations) from None
        raise ValidationError(
            [
                violation(
                    "ST-DATA-035",
                    "$",
                    f"无法转换为 {message_name}：{e}",
                    f"cannot convert to {message_name}: {e}",
                )
            ]
        ) from e
    if proven and not _numbers(
        batch.get("value", ()),  # type: ignore[union-attr]
        bool_free=text is not None and _no_literals(text, "value"),
    ):
        violations = json_violations(doc, message_name)
        if violations:
            raise ValidationError(violations)
    if encode and message_name in _OBSERVATION_REQUESTS:
        encoding = msg.SerializeToString()
        if missed:
            _remember(missed, encoding)
    return msg, lists, encoding


def decode_proto(data: bytes, message_name: str) -> Message:
    """Parse protobuf bytes; malformed bytes raise ValidationError (ST-DATA-035), fields unknown to this version
    of the interface ValidationError (ST-DATA-034), as JSON does."""
    msg = message_class(message_name)()
    try:
        msg.ParseFromString(data)
    except (DecodeError, ValueError, RuntimeError) as e:
        raise ValidationError(
            [violation("ST-DATA-035", "$", f"protobuf 解码失败：{e}", f"protobuf decoding failed: {e}")]
        ) from e
    unknown = unknown_field_violations(msg, data)
    if unknown:
        raise ValidationError(unknown)
    return msg


@cache
def _singular_message_fields(
    descriptor: Descriptor, outer: tuple[Descriptor, ...] = ()
) -> tuple[str, ...] | None:
    """The names of a message's singular message fields when no message of its tree is repeated (or a map, or
    recursive): then a handful of messages can hold unknown fields, and :func:`_carries_unknown` visits them all.
    None otherwise."""
    if descriptor in outer:
        return None
    names = []
    for fd in descriptor.fields:
        if fd.message_type is None:
            continue
        if fd.is_repeated or _singular_message_fields(fd.message_type, (*outer, descriptor)) is None:
            return None
        names.append(fd.name)
    return tuple(names)


def _carries_unknown(msg: Message) -> bool:
    """Whether ``msg`` or a message it holds has unknown fields (a message whose tree has no repeated messages)."""
    if len(unknown_fields.UnknownFieldSet(msg)):
        return True
    return any(
        msg.HasField(name) and _carries_unknown(getattr(msg, name))
        for name in _singular_message_fields(msg.DESCRIPTOR) or ()
    )


def unknown_field_violations(msg: Message, data: bytes) -> list[Violation]:
    """ST-DATA-034 for protobuf: fields the parsed ``msg`` (from ``data``) does not know. Cheap when there are
    none: a message tree without repeated messages (an observation batch) has its few messages' unknown-field sets
    looked at; any other compares two sizes computed in C. Drops the unknown fields from ``msg`` when there are,
    and names their paths from a fresh parse of ``data``."""
    if _singular_message_fields(msg.DESCRIPTOR) is not None:
        if not _carries_unknown(msg):
            return []
        msg.DiscardUnknownFields()
    else:
        size = msg.ByteSize()
        msg.DiscardUnknownFields()
        if msg.ByteSize() == size:
            return []
    fresh = type(msg).FromString(data)
    paths: list[str] = []
    _unknown_paths(fresh, "$", paths)
    return [
        violation(
            "ST-DATA-034",
            path,
            f"未知字段（编号 {number}），不属于本接口版本",
            f"unknown field (number {number}), not part of this interface version",
        )
        for path, number in (p.rsplit("#", 1) for p in paths[:5])
    ]


def _unknown_paths(msg: Message, path: str, out: list[str]) -> None:
    out.extend(f"{path}#{f.field_number}" for f in unknown_fields.UnknownFieldSet(msg))
    for fd, value in msg.ListFields():
        if fd.message_type is None or fd.message_type.GetOptions().map_entry:
            continue
        if fd.is_repeated:
            for i, item in enumerate(value):
                _unknown_paths(item, f"{path}.{fd.name}[{i}]", out)
        else:
            _unknown_paths(value, f"{path}.{fd.name}", out)
