"""The JSON stage of an observation batch proves its columns instead of running the schema over every item
(protocols/_codec.py, ``_columns_proven``): whatever the document, the violations must be exactly those of the
schema run on the whole document first, as before the proof existed."""

from __future__ import annotations

import copy
import json
import math
import re
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from santong.protocols import ValidationError
from santong.protocols._codec import decode_json_encoded, decode_json_lists
from santong.protocols._schemas import json_violations

GOOD: dict[str, Any] = {
    "sequence": "7",
    "base_time": "2026-01-15T03:10:00Z",
    "alias": [1, 2, 3],
    "value": [0.5, 1, -2.25],
    "time_offset_ms": [0, 1000, 2000],
    "status": [0, 8, 128],
}
BAD_ITEMS = [True, False, 1.5, 1.0, "1", None, [], {}, 2**32, 2**32 - 1, -1, 2**31, -(2**31) - 1, 10**400,
             math.nan, math.inf, -0.0]  # fmt: skip
MESSAGES = ["ReportObservationsRequest", "StreamObservationsRequest", "ObservationBatch"]


def _doc(batch: dict[str, Any], message_name: str) -> dict[str, Any]:
    return batch if message_name == "ObservationBatch" else {"batch": batch}


def _schema_first(doc: dict[str, Any], message_name: str) -> list[tuple[str, str, str]] | None:
    """The verdict of the schema run on the whole document, as the JSON stage did before the proof: its
    violations, or None when the schema accepts the document."""
    vs = json_violations(doc, message_name)
    return [(v.clause_id, v.path, v.message_en) for v in vs] if vs else None


def _verdict(doc: dict[str, Any] | str, message_name: str) -> list[tuple[str, str, str]] | str:
    try:
        decode_json_lists(copy.deepcopy(doc), message_name)
    except ValidationError as e:
        return [(v.clause_id, v.path, v.message_en) for v in e.violations]
    return "decoded"


def _texts(doc: dict[str, Any]) -> list[str]:
    """The document as JSON text, compact (the value column read off the text, _no_literals) and spaced."""
    return [json.dumps(doc, separators=(",", ":")), json.dumps(doc)]


def _check(doc: dict[str, Any], message_name: str) -> None:
    """The verdict on the document, given as a dict and as text, is the schema's."""
    want = _schema_first(doc, message_name)
    got = _verdict(doc, message_name)
    if want is not None:
        assert got == want
    else:  # the schema accepts it: decoded, or not convertible to the message (ST-DATA-035), as before
        assert got == "decoded" or [c for c, _, _ in got] == ["ST-DATA-035"], got
    for text in _texts(doc):
        assert _verdict(text, message_name) == got, text


@pytest.mark.parametrize("message_name", MESSAGES)
@pytest.mark.parametrize("column", ["alias", "value", "time_offset_ms", "status"])
@pytest.mark.parametrize("item", BAD_ITEMS, ids=repr)
@pytest.mark.parametrize("at", [0, 2])
def test_a_bad_item_in_any_column_gets_the_schemas_violations(
    message_name: str, column: str, item: Any, at: int
) -> None:
    batch = copy.deepcopy(GOOD)
    batch[column][at] = item
    _check(_doc(batch, message_name), message_name)


@pytest.mark.parametrize("message_name", MESSAGES)
@pytest.mark.parametrize(
    "change",
    [
        {"alias": "1,2,3"}, {"value": None}, {"status": {}}, {"extra": 1}, {"base_time": "2026-01-15 03:10:00"},
        {"sequence": -1}, {"sequence": "x"}, {"backfill": "yes"}, {"value": [True, "a", None]},
        {"value": [0.5, 1.0]}, {"alias": []}, {"alias": [1, 2, 3, 4]},
    ],
    ids=repr,
)  # fmt: skip
def test_other_members_get_the_schemas_violations(message_name: str, change: dict[str, Any]) -> None:
    _check(_doc({**GOOD, **change}, message_name), message_name)


def test_members_outside_the_batch_are_judged() -> None:
    _check({"batch": GOOD, "batch_id": 3}, "ReportObservationsRequest")
    _check({"batch": [GOOD]}, "ReportObservationsRequest")
    _check({"batch": None}, "ReportObservationsRequest")


def test_a_huge_integer_value_is_refused_not_raised() -> None:
    """An integer too large for a double used to escape the decoder as OverflowError (a 500 on HTTP)."""
    with pytest.raises(ValidationError) as info:
        decode_json_lists({"batch": {**GOOD, "value": [10**400, 1, 2]}}, "ReportObservationsRequest")
    assert [v.clause_id for v in info.value.violations] == ["ST-DATA-035"]


_ITEM = st.one_of(
    st.integers(-(2**40), 2**40), st.floats(allow_nan=True, allow_infinity=True), st.booleans(), st.none(),
    st.text(max_size=2),
)  # fmt: skip


@settings(max_examples=300, deadline=None)
@given(
    st.sampled_from(MESSAGES),
    st.fixed_dictionaries({c: st.lists(_ITEM, min_size=0, max_size=4) for c in ("alias", "value", "time_offset_ms", "status")}),
)  # fmt: skip
def test_random_columns(message_name: str, columns: dict[str, list[Any]]) -> None:
    _check(_doc({**GOOD, **columns}, message_name), message_name)


@settings(max_examples=500, deadline=None)
@given(
    st.integers(0, 10000), st.integers(0, 13), st.integers(0, 32), st.integers(0, 25), st.integers(0, 60),
    st.integers(0, 61), st.one_of(st.none(), st.text("0123456789", min_size=1, max_size=9)),
)  # fmt: skip
def test_base_time_is_read_as_from_json_string_reads_it(
    y: int, mo: int, d: int, h: int, mi: int, s: int, frac: str | None
) -> None:
    """The batch's base time is read without strptime (_set_utc): the same Timestamp, or the same refusal."""
    from google.protobuf.timestamp_pb2 import Timestamp
    from santong.protocols._codec import _set_utc

    text = f"{y:04d}-{mo:02d}-{d:02d}T{h:02d}:{mi:02d}:{s:02d}" + (f".{frac}" if frac else "") + "Z"
    if y > 9999:
        text = "1970-01-01T00:00:00Z"
    want, got = Timestamp(), Timestamp()
    try:
        want.FromJsonString(text)
    except ValueError as e:
        with pytest.raises(ValueError, match=re.escape(str(e))):
            _set_utc(got, text)
        return
    _set_utc(got, text)
    assert (got.seconds, got.nanos) == (want.seconds, want.nanos), text


@pytest.mark.parametrize(
    "text",
    [
        '{"batch":{"alias":[1,2],"value":[0.5,true],"time_offset_ms":[0,1],"status":[0,0]}}',
        '{"batch":{"alias":[1,2],"value":[false,0.5],"time_offset_ms":[0,1],"status":[0,0]}}',
        '{"batch":{"value":[0.5,true],"alias":[1,2],"time_offset_ms":[0,1],"status":[0,0],"backfill":false}}',
        '{"batch":{"backfill":true,"alias":[1,2],"value":[1e5,-0.25],"time_offset_ms":[0,1],"status":[0,0]}}',
        '{"batch":{"alias":[1,2],"value":[1,Infinity],"time_offset_ms":[0,1],"status":[0,0]}}',
        '{"batch":{"alias":[1,2],"value":[1,NaN],"time_offset_ms":[0,1],"status":[0,0]}}',
        '{"batch":{"alias":[1,2],"value" : [true,1],"time_offset_ms":[0,1],"status":[0,0]}}',
        '{"batch":{"alias":[1,2],"\\u0076alue":[true,1],"time_offset_ms":[0,1],"status":[0,0]}}',
        '{"batch":{"alias":[1,2],"value":[ true ,1],"time_offset_ms":[0,1],"status":[0,0]}}',
        '{"batch":{"alias":[1,2],"value":[1,2],"time_offset_ms":[0,1],"status":[0,true]}}',
        '{"batch":{"alias":[1,2],"value":[1,2],"time_offset_ms":[0,1],"status":[false,0]}}',
        '{"batch":{"status":[false,0],"alias":[1,2],"value":[1,2],"time_offset_ms":[0,1]}}',
        '{"batch":{"alias":[1,2],"value":[1,2],"time_offset_ms":[0,1],"status":[0,false],"backfill":true}}',
        '{"batch":{"alias":[1,2],"value":[1,2],"time_offset_ms":[0,1],"status":[{"status":[0]},0]}}',
        '{"batch":{"alias":[{"status":[0]},2],"value":[1,2],"time_offset_ms":[0,1],"status":[0,false]}}',
        '{"batch":{"alias":[1,2],"value":[1,2],"time_offset_ms":[0,1],"status":[[0],0]}}',
        '{"batch":{"alias":[1,2],"value":[1,2],"time_offset_ms":[0,1],"status":[127,128]}}',
        '{"batch":{"alias":[1,2],"value":[1,2],"time_offset_ms":[0,1],"status":[255,256]}}',
        '{"batch":{"alias":[1,2],"value":[1,2],"time_offset_ms":[0,1],"status":[0,-1]}}',
        '{"batch":{"alias":[1,2],"value":[1,2],"time_offset_ms":[0,1],"status":[0,1.0]}}',
        '{"batch":{"alias":[1,2],"value":[1,2],"time_offset_ms":[0,1],"status":[0,8,16,32,64]}}',
    ],
)
def test_bools_in_the_value_and_status_columns_are_found_in_any_text(text: str) -> None:
    """A true or false among the values or statuses (read off the text when it is written compactly) gets the
    schema's violations, however the text writes it; a bool elsewhere (backfill) does not hide one or make one up;
    a status column of small ints (packed from the items themselves) decodes as upb decodes it item by item."""
    doc = json.loads(text)
    assert _verdict(text, "ReportObservationsRequest") == _verdict(doc, "ReportObservationsRequest")
    want = _schema_first(doc, "ReportObservationsRequest")
    got = _verdict(text, "ReportObservationsRequest")
    assert got == want if want is not None else got == "decoded" or [c for c, _, _ in got] == ["ST-DATA-035"]
    if got == "decoded":
        msg, _ = decode_json_lists(text, "ReportObservationsRequest")
        assert list(msg.batch.status) == doc["batch"]["status"]  # type: ignore[attr-defined]


def _fresh(text: str, message_name: str = "ReportObservationsRequest") -> tuple[Any, ...]:
    """The verdict on a text with nothing remembered: (message or violations, encoding)."""
    from santong.protocols import _codec

    saved, size = dict(_codec._PACKED), _codec._packed_size
    _codec._PACKED.clear()
    try:
        return _encoded(text, message_name)
    finally:
        _codec._PACKED.clear()
        _codec._PACKED.update(saved)
        _codec._packed_size = size


def _encoded(text: str, message_name: str = "ReportObservationsRequest") -> tuple[Any, ...]:
    try:
        msg, encoding = decode_json_encoded(text, message_name)
    except ValidationError as e:
        return ([(v.clause_id, v.path) for v in e.violations], None)
    return (msg, encoding)


_ALIASES = list(range(1, 101))
_OFFSETS = list(range(0, 10000, 100))


def _report(**batch: Any) -> str:
    full = {"sequence": "1", "base_time": "2026-01-15T03:10:00Z", "alias": _ALIASES, "value": [0.5] * 100,
            "time_offset_ms": _OFFSETS, "status": [0] * 100, **batch}  # fmt: skip
    return json.dumps({"batch": full}, separators=(",", ":"))


def test_remembered_columns_decode_as_item_by_item() -> None:
    """A column text met again is built from its remembered encoding: the same message and encoding as decoded
    item by item, for the alias and offset columns, whatever else the batch holds."""
    first = _report()
    assert _encoded(first) == _fresh(first)
    for text in [_report(sequence="2"), _report(value=[1.0] * 100), _report(time_offset_ms=_OFFSETS[::-1])]:
        got = _encoded(text)
        assert got == _fresh(text) and got[1] is not None


@pytest.mark.parametrize(
    "text",
    [
        # the batch's alias member escaped, a literal "alias":[…] (remembered) inside its column: never trusted
        _report().replace('"alias":[', '"\\u0061lias":[{"alias":[' + ",".join(map(str, _ALIASES)) + "]},", 1),
        _report().replace(
            '"time_offset_ms":[',
            '"\\u0074ime_offset_ms":[{"time_offset_ms":[' + ",".join(map(str, _OFFSETS)) + "]},",
            1,
        ),  # fmt: skip
        _report().replace('"alias":[', '"alias":[[1],', 1),  # an array inside the column
        _report().replace('"alias":[1,', '"alias":[1.0,', 1),
        _report().replace('"alias":[1,', '"alias":[true,', 1),
        _report().replace('"alias":[1,', '"alias":[-1,', 1),
        _report().replace('"time_offset_ms":[0,', '"time_offset_ms":[2147483648,', 1),
        _report().replace('"alias":[', '"alias" : [', 1),
    ],
)
def test_a_remembered_column_text_is_never_trusted_elsewhere(text: str) -> None:
    """With the columns of a good batch remembered, a document that writes their text where it is not the batch's
    column, or writes the column otherwise, gets the verdict it gets with nothing remembered (the schema's)."""
    _encoded(_report())  # remember the good columns
    got, want = _encoded(text), _fresh(text)
    assert got == want
    doc = json.loads(text)
    if isinstance(want[0], list):
        assert want[0] == [
            (v.clause_id, v.path) for v in json_violations(doc, "ReportObservationsRequest")
        ] or [c for c, _ in want[0]] == ["ST-DATA-035"]


@settings(max_examples=200, deadline=None)
@given(
    st.lists(st.sampled_from([_ALIASES, _ALIASES[:64], list(range(64)), [*_ALIASES[:-1], True], [*_ALIASES[:-1], 1.5]]),
             min_size=1, max_size=4),
    st.sampled_from([_OFFSETS, _OFFSETS[::-1], [0] * 100, [-1] * 100, [*_OFFSETS[:-1], "x"]]),
)  # fmt: skip
def test_random_recurring_columns(aliases: list[list[Any]], offsets: list[Any]) -> None:
    """Batches whose columns recur (and some that are not ints): each decoded as with nothing remembered."""
    for a in aliases:
        n = len(a)
        text = _report(alias=a, value=[0.5] * n, time_offset_ms=(offsets * 2)[:n], status=[0] * n)
        assert _encoded(text) == _fresh(text), text[:200]


def test_a_column_text_is_remembered_for_its_own_member() -> None:
    """An alias column (uint32) remembered does not stand for the same text in the offset column (int32)."""
    big = list(range(2**31, 2**31 + 100))
    good = _report(alias=big)
    assert _encoded(good) == _fresh(good)
    bad = _report(alias=big, time_offset_ms=big)
    assert _encoded(bad) == _fresh(bad) and _encoded(bad)[1] is None


def test_remembered_columns_are_bounded(monkeypatch: pytest.MonkeyPatch) -> None:
    """What is remembered stays under its bound (texts and encodings): past it, it starts afresh."""
    from santong.protocols import _codec

    monkeypatch.setattr(_codec, "_PACKED_MAX", 20_000)
    for i in range(40):
        text = _report(alias=[i + a for a in _ALIASES])
        assert _encoded(text) == _fresh(text)
        held = sum(len(k[1]) + len(v) for k, v in _codec._PACKED.items())
        assert 0 < held <= 20_000 and held == _codec._packed_size
