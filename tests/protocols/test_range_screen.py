"""The range screens of the ObservationBatch rule (ST-DATA-021/048): the first screen (one min and one max against
the interval every point's range contains) gives exactly the violations the per-point screen gives, on valid,
invalid, NaN/inf, boundary and unknown-alias batches; and both agree with a point-by-point oracle."""

from __future__ import annotations

import copy
import math

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from santong.protocols import DeviceState, ValidationContext, validate
from santong.protocols.v1 import common_pb2, data_pb2
from santong.protocols.v1 import device_access_pb2 as pb

MINE = "140421000001"
NOW = 1_736_908_200_000
INF = math.inf


def _state(ranges: list[tuple[float, float]], switches: int) -> DeviceState:
    state = DeviceState(mine_code=MINE, last_sequence=0)
    points = [
        data_pb2.PointDefinition(alias=i + 1, point_code=f"{MINE}01MNA{i + 1:04d}A01", sensor_type="A001",
                                 range_low=lo, range_high=hi, value_kind=common_pb2.VALUE_KIND_ANALOG)
        for i, (lo, hi) in enumerate(ranges)
    ]  # fmt: skip
    points += [
        data_pb2.PointDefinition(alias=100 + i, point_code=f"{MINE}01KGS{i + 1:04d}K01", sensor_type="S001",
                                 range_high=1.0, value_kind=common_pb2.VALUE_KIND_SWITCH)
        for i in range(switches)
    ]  # fmt: skip
    state.define_points(points)
    return state


def _per_point_only(state: DeviceState) -> DeviceState:
    """The same state with the first screen always missing: the per-point screen of before decides alone."""
    slow = copy.copy(state)
    slow.max_low, slow.min_high = INF, -INF
    return slow


def _request(aliases: list[int], values: list[float], statuses: list[int]) -> pb.ReportObservationsRequest:
    batch = data_pb2.ObservationBatch(
        sequence=1, alias=aliases, value=values, time_offset_ms=[0] * len(aliases), status=statuses
    )
    batch.base_time.FromMilliseconds(NOW - 1000)
    return pb.ReportObservationsRequest(batch=batch)


RANGES = st.lists(
    st.tuples(st.sampled_from([-10.0, 0.0, 0.5, 1.0]), st.sampled_from([2.0, 4.0, 100.0])),
    min_size=1,
    max_size=4,
)
SPECIAL = [
    math.nan,
    INF,
    -INF,
    -10.0,
    0.0,
    0.5,
    1.0,
    2.0,
    4.0,
    100.0,
    math.nextafter(4.0, INF),
    -0.0,
    1e9,
    -1e9,
]
VALUES = st.one_of(st.sampled_from(SPECIAL), st.floats(allow_nan=True, allow_infinity=True, width=64))
STATUSES = st.sampled_from([0, 8, 16, 128, 8 | 128, 300])


@st.composite
def cases(draw: st.DrawFn) -> tuple[DeviceState, list[int], list[float], list[int]]:
    ranges = draw(RANGES)
    switches = draw(st.integers(0, 2))
    known = list(range(1, len(ranges) + 1)) + [100 + i for i in range(switches)]
    alias = st.sampled_from(known + [77]) if draw(st.booleans()) else st.sampled_from(known)
    n = draw(st.integers(1, 12))
    aliases = [draw(alias) for _ in range(n)]
    values = [draw(VALUES) for _ in range(n)]
    statuses = [draw(STATUSES) for _ in range(n)]
    return _state(ranges, switches), aliases, values, statuses


def _oracle_over_range(
    state: DeviceState, aliases: list[int], values: list[float], statuses: list[int]
) -> list[str]:
    """The paths of ST-DATA-021, point by point from the definitions (at most five are listed). As before the
    first screen: only when some value lies below or above its range are the values not within it listed, NaN
    among them (a batch whose only oddity is NaN gets ST-DATA-018 alone)."""
    if not set(aliases) <= set(state.points):
        return []
    bounds = [
        (-INF, INF) if state.points[a].value_kind == common_pb2.VALUE_KIND_SWITCH
        else (state.points[a].range_low, state.points[a].range_high)
        for a in aliases
    ]  # fmt: skip
    if not any(v < lo or v > hi for v, (lo, hi) in zip(values, bounds, strict=True)):
        return []
    paths = [
        f"$.batch.value[{i}]"
        for i, (a, v, s, (lo, hi)) in enumerate(zip(aliases, values, statuses, bounds, strict=True))
        if a in state.ranges and not s & 8 and not lo <= v <= hi  # switches have no range
    ]
    return paths[:5]


@settings(max_examples=600, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(cases())
def test_first_screen_gives_exactly_the_per_point_violations(case: tuple) -> None:
    state, aliases, values, statuses = case
    req = _request(aliases, values, statuses)
    fast = validate(req, ValidationContext(state=state, now_ms=NOW))
    slow = validate(req, ValidationContext(state=_per_point_only(state), now_ms=NOW))
    assert fast == slow
    assert [v.path for v in fast if v.clause_id == "ST-DATA-021"] == _oracle_over_range(
        state, aliases, values, statuses
    )


def test_boundaries_and_specials_by_hand() -> None:
    state = _state([(0.0, 4.0), (1.0, 100.0)], 1)
    assert (state.max_low, state.min_high) == (1.0, 4.0)
    on_bounds = _request([1, 1, 2, 2, 100], [0.0, 4.0, 1.0, 100.0, 1.0], [0] * 5)
    nan_first = _request([1, 2], [math.nan, 500.0], [0, 0])  # NaN must not hide the 500 from the screen
    nan_later = _request([2, 1, 2], [2.0, math.nan, 500.0], [0, 0, 0])
    infinite = _request([1, 2], [INF, -INF], [0, 0])
    just_over = _request([1], [math.nextafter(4.0, INF)], [0])
    unknown = _request([1, 77], [500.0, 500.0], [0, 0])
    want = {
        "on_bounds": [],
        # once a value hits the screen, the values not within their range are listed, NaN among them (as before)
        "nan_first": ["$.batch.value[0]", "$.batch.value[1]"],
        "nan_later": ["$.batch.value[1]", "$.batch.value[2]"],
        "infinite": ["$.batch.value[0]", "$.batch.value[1]"],
        "just_over": ["$.batch.value[0]"],
        "unknown": [],  # ST-IFACE-004 rejects it; ranges are not judged against undefined points
    }
    for name, req in {"on_bounds": on_bounds, "nan_first": nan_first, "nan_later": nan_later,
                      "infinite": infinite, "just_over": just_over, "unknown": unknown}.items():  # fmt: skip
        fast = validate(req, ValidationContext(state=state, now_ms=NOW))
        assert fast == validate(req, ValidationContext(state=_per_point_only(state), now_ms=NOW)), name
        assert [v.path for v in fast if v.clause_id == "ST-DATA-021"] == want[name], name


def test_disjoint_ranges_always_use_the_per_point_screen() -> None:
    state = _state([(0.0, 1.0), (2.0, 4.0)], 0)
    assert state.max_low > state.min_high  # no value passes the first screen
    req = _request([1, 2], [0.5, 5.0], [0, 0])
    assert [
        v.path
        for v in validate(req, ValidationContext(state=state, now_ms=NOW))
        if v.clause_id == "ST-DATA-021"
    ] == ["$.batch.value[1]"]
