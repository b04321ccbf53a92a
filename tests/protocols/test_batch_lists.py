"""decode_json_lists: the integer columns the JSON decoder hands the core (ValidationContext.batch_lists) give
exactly the violations the message's own columns give, on valid and invalid batches alike."""

from __future__ import annotations

import dataclasses
import json
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from santong.protocols import DeviceState, ValidationContext, ValidationError, decode_json_lists, validate
from santong.protocols.v1 import common_pb2, data_pb2

MINE = "140421000001"
NOW = 1_736_908_200_000
BASE = "2025-01-15T02:29:58Z"  # NOW - 2 s


def _state() -> DeviceState:
    state = DeviceState(mine_code=MINE, last_sequence=4)
    state.define_points(
        [
            data_pb2.PointDefinition(alias=1, point_code=f"{MINE}01MNA0010A01", sensor_type="A001", range_high=4.0,
                                     value_kind=common_pb2.VALUE_KIND_ANALOG),
            data_pb2.PointDefinition(alias=2, point_code=f"{MINE}01KGS0010K01", sensor_type="S001", range_high=1.0,
                                     value_kind=common_pb2.VALUE_KIND_SWITCH),
            data_pb2.PointDefinition(alias=3, point_code=f"{MINE}01MNA0020A01", sensor_type="A001", range_low=1.0,
                                     range_high=2.0, value_kind=common_pb2.VALUE_KIND_ANALOG),
        ]
    )  # fmt: skip
    return state


GOOD: dict[str, Any] = {
    "sequence": "5",
    "base_time": BASE,
    "alias": [1, 2, 3],
    "value": [0.5, 1, 1.5],
    "time_offset_ms": [0, 1000, -500],
    "status": [0, 0, 0],
}
CASES = {
    "good": {},
    "int values": {"value": [3, 0, 2]},
    "sequence not above the last": {"sequence": 3},
    "empty": {"alias": [], "value": [], "time_offset_ms": [], "status": []},
    "columns differ": {"value": [0.5]},
    "alias undefined": {"alias": [1, 9, 4294967295]},
    "switch value": {"value": [0.5, 2, 1.5]},
    "status bits": {"status": [0, 300, 4294967295]},
    "over range": {"value": [4.5, 1, 0.5], "status": [0, 0, 8]},
    "impossible": {"value": [150, 1, 1.5]},
    "ahead": {"time_offset_ms": [0, 600_000, 0]},
    "before 2000": {"base_time": "1970-01-01T00:00:01Z"},
    "old, not backfill": {"base_time": "2025-01-15T01:00:00Z"},
    "old, backfill": {"base_time": "2025-01-15T01:00:00Z", "backfill": True},
    "no base_time": {"base_time": None},
    "offsets at the int32 edges": {"time_offset_ms": [-2147483648, 2147483647, 0]},
}


def _body(batch: dict[str, Any]) -> bytes:
    return json.dumps({"batch": {k: v for k, v in batch.items() if v is not None}}).encode()


def _both(body: bytes, name: str = "ReportObservationsRequest") -> tuple[list[Any], list[Any], Any]:
    msg, lists = decode_json_lists(body, name)
    plain = validate(msg, ValidationContext(state=_state(), now_ms=NOW))
    ctx = ValidationContext(state=_state(), now_ms=NOW)
    ctx.batch_lists = lists
    return plain, validate(msg, ctx), lists


@pytest.mark.parametrize("case", CASES)
def test_decoded_lists_give_the_same_violations(case: str) -> None:
    plain, by_lists, lists = _both(_body({**GOOD, **CASES[case]}))
    assert lists is not None
    assert by_lists == plain
    assert (plain == []) == (case in ("good", "int values", "old, backfill"))


def test_lists_are_the_message_columns_and_other_messages_have_none() -> None:
    for name in ("ReportObservationsRequest", "StreamObservationsRequest"):
        msg, lists = decode_json_lists(_body(GOOD), name)
        assert lists is not None
        b = msg.batch  # type: ignore[attr-defined]
        assert lists == (b.alias[:], b.time_offset_ms[:], b.status[:])
        assert all(type(x) is int for col in lists for x in col)
    assert decode_json_lists(b"{}", "HeartbeatRequest")[1] is None
    assert decode_json_lists(b"{}", "ReportObservationsRequest")[1] is None  # no batch


def test_a_float_or_bool_in_an_integer_column_never_reaches_the_core() -> None:
    for bad in ({"alias": [1.0, 2, 3]}, {"status": [0, True, 0]}, {"time_offset_ms": [0, 0, 1.5]}):
        with pytest.raises(ValidationError):
            decode_json_lists(_body({**GOOD, **bad}), "ReportObservationsRequest")


INT32 = st.integers(-(2**31), 2**31 - 1)
UINT32 = st.integers(0, 2**32 - 1)


@st.composite
def batches(draw: st.DrawFn) -> dict[str, Any]:
    n = draw(st.integers(1, 8))
    alias = st.one_of(st.sampled_from([1, 2, 3]), UINT32)
    value = st.one_of(st.integers(-1000, 1000), st.floats(allow_nan=False, allow_infinity=False))
    return {
        **GOOD,
        "sequence": draw(st.integers(0, 10)),
        "alias": [draw(alias) for _ in range(n)],
        "value": [draw(value) for _ in range(n)],
        "time_offset_ms": [draw(st.one_of(st.integers(-5000, 5000), INT32)) for _ in range(n)],
        "status": [draw(st.one_of(st.sampled_from([0, 8, 128, 300]), UINT32)) for _ in range(n)],
        "backfill": draw(st.booleans()),
    }


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(batches())
def test_random_batches(batch: dict[str, Any]) -> None:
    plain, by_lists, _ = _both(_body(batch))
    assert by_lists == plain


def test_lists_of_another_length_are_not_used() -> None:
    msg, lists = decode_json_lists(_body(GOOD), "ReportObservationsRequest")
    assert lists is not None
    ctx = ValidationContext(state=_state(), now_ms=NOW)
    ctx.batch_lists = ([1], [0], [0])  # not this batch's: the rule copies the message's columns instead
    assert validate(msg, ctx) == validate(msg, ValidationContext(state=_state(), now_ms=NOW))
    assert dataclasses.fields(ctx)  # a plain dataclass: nothing else to reset
