"""validate_batch_columns: the ObservationBatch rule on Python lists gives what validate gives on the message."""

from __future__ import annotations

import dataclasses

import pytest
from santong.protocols import BatchColumns, DeviceState, ValidationContext, validate, validate_batch_columns
from santong.protocols.v1 import common_pb2, data_pb2
from santong.protocols.v1 import device_access_pb2 as pb

MINE = "140421000001"
NOW = 1_736_908_200_000


def _state() -> DeviceState:
    state = DeviceState(mine_code=MINE, last_sequence=4)
    state.define_points(
        [
            data_pb2.PointDefinition(alias=1, point_code=f"{MINE}01MNA0010A01", sensor_type="A001", range_high=4.0,
                                     value_kind=common_pb2.VALUE_KIND_ANALOG),
            data_pb2.PointDefinition(alias=2, point_code=f"{MINE}01KGS0010K01", sensor_type="S001", range_high=1.0,
                                     value_kind=common_pb2.VALUE_KIND_SWITCH),
        ]
    )  # fmt: skip
    return state


GOOD = BatchColumns(5, [1, 2], [0.5, 1.0], [0, 1000], [0, 0], NOW - 2000)
CASES = {
    "good": {},
    "ST-PROTO-011 sequence not above the last": {"sequence": 3},
    "ST-IFACE-010 empty": {"alias": [], "value": [], "time_offset_ms": [], "status": []},
    "ST-IFACE-005 columns differ": {"value": [0.5]},
    "ST-IFACE-004 undefined alias": {"alias": [1, 9]},
    "ST-DATA-018 not finite": {"value": [float("nan"), 1.0]},
    "ST-DATA-019 switch value": {"value": [0.5, 0.5]},
    "ST-DATA-020 status bits": {"status": [0, 300]},
    "ST-DATA-021 over range": {"value": [4.5, 1.0]},
    "ST-DATA-048 impossible": {"value": [150.0, 1.0]},
    "ST-DATA-031 ahead": {"base_time_ms": NOW + 60_000},
    "ST-DATA-031 before 2000": {"base_time_ms": 1_000},
    "ST-DATA-032 old, not backfill": {"base_time_ms": NOW - 3_600_000},
}


@pytest.mark.parametrize("case", CASES)
def test_columns_and_message_give_the_same_violations(case: str) -> None:
    cols = dataclasses.replace(GOOD, **CASES[case])
    ctx = ValidationContext(state=_state(), now_ms=NOW)
    by_message = validate(pb.ReportObservationsRequest(batch=cols.message()), ctx)
    by_columns = validate_batch_columns(cols, ctx)
    assert by_columns == by_message
    want = case.split()[0]
    if want == "good":
        assert by_columns == []
    else:
        assert want in {v.clause_id for v in by_columns}


@pytest.mark.parametrize("case", CASES)
def test_facts_the_caller_knows_give_the_same_violations(case: str) -> None:
    """known, switch_free and bounds as an adapter works them out for a repeated alias column (the state's own
    sets and range tables): the rule skips those scans and finds the same."""
    cols = dataclasses.replace(GOOD, **CASES[case])
    state = _state()
    ctx = ValidationContext(state=state, now_ms=NOW)
    known = state.alias_set.issuperset(cols.alias)
    facts = {"known": known, "switch_free": state.switch_aliases.isdisjoint(cols.alias)}
    if known:
        facts["bounds"] = ([state.lows[a] for a in cols.alias], [state.highs[a] for a in cols.alias])
    assert validate_batch_columns(cols, ctx, **facts) == validate_batch_columns(cols, ctx)


def test_bounds_are_each_observations_own() -> None:
    """Two analog points of different ranges: the screen misses, the bounds decide per observation."""
    state = _state()
    state.define_points(
        [data_pb2.PointDefinition(alias=3, point_code=f"{MINE}01MNA0030A03", sensor_type="A003", range_high=1000.0,
                                  value_kind=common_pb2.VALUE_KIND_ANALOG)]
    )  # fmt: skip
    ctx = ValidationContext(state=state, now_ms=NOW)
    cols = BatchColumns(5, [3, 1, 3], [500.0, 4.5, 3.0], [0, 0, 0], [0, 0, 0], NOW - 2000)
    bounds = ([state.lows[a] for a in cols.alias], [state.highs[a] for a in cols.alias])
    got = validate_batch_columns(cols, ctx, known=True, switch_free=True, bounds=bounds)
    assert got == validate_batch_columns(cols, ctx)
    assert [(v.clause_id, v.path) for v in got] == [("ST-DATA-021", "$.batch.value[1]")]
