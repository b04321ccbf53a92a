"""batch_wire: the core reading column facts from an upload's encoding (ValidationContext.batch_wire: the alias
memo, the one-byte status screen, the values read from their bytes) gives exactly the violations the message's own
columns give — on valid, invalid, NaN/inf, boundary, unknown-alias and switch batches, in every encoding the parser
accepts (canonical, sequence last, unpacked or split columns, non-minimal and over-long varints, empty columns),
on a first batch and on a repeat that hits the memo, and never from a memo of other definitions."""

from __future__ import annotations

import math

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from santong.protocols import (
    DeviceState,
    ValidationContext,
    batch_covered,
    batch_skeleton,
    batch_wire,
    must_violations,
    validate,
)
from santong.protocols.v1 import common_pb2, data_pb2
from santong.protocols.v1 import device_access_pb2 as pb
from wire_layouts import LAYOUTS, encode, varint

MINE = "140421000001"
NOW = 1_736_908_200_000
INF = math.inf


def _state(n_analog: int = 3, n_switch: int = 1) -> DeviceState:
    state = DeviceState(mine_code=MINE, last_sequence=4)
    state.define_points(
        [data_pb2.PointDefinition(alias=i, point_code=f"{MINE}01MNA{i:04d}A01", sensor_type="A001",
                                  range_low=0.0 if i % 2 else 1.0, range_high=4.0, value_kind=common_pb2.VALUE_KIND_ANALOG)
         for i in range(1, n_analog + 1)]
        + [data_pb2.PointDefinition(alias=200 + i, point_code=f"{MINE}01KGS{i:04d}K01", sensor_type="S001",
                                    range_high=1.0, value_kind=common_pb2.VALUE_KIND_SWITCH)
           for i in range(n_switch)]
    )  # fmt: skip
    return state


def _judged(data: bytes, state: DeviceState, *, wire: bool) -> list:
    msg = pb.StreamObservationsRequest.FromString(data)
    ctx = ValidationContext(state=state, now_ms=NOW)
    if wire:
        ctx.batch_wire = batch_wire(data)
    return _spanned(validate(msg, ctx), ctx)


def _spanned(vs: list, ctx: ValidationContext) -> list:
    """The violations, after checking that a batch without a MUST violation has its span (the platform stores a
    batch skeleton's span from it, having no offsets to find it again)."""
    assert must_violations(vs) or ctx.time_span_ms is not None
    return vs


def _same_both_ways(data: bytes, state_factory) -> None:  # noqa: ANN001
    plain = _judged(data, state_factory(), wire=False)
    state = state_factory()
    assert _judged(data, state, wire=True) == plain  # first: judged and remembered
    assert _judged(data, state, wire=True) == plain  # again: from the memo


CASES = {
    "good": dict(aliases=[1, 2, 3, 200], values=[0.5, 1.5, 3.0, 1.0], offsets=[0, 1000, -500, 0], statuses=[0, 0, 0, 0]),
    "unknown aliases": dict(aliases=[1, 9, 4294967295], values=[0.5, 1.0, 1.0], offsets=[0, 0, 0], statuses=[0, 0, 0]),
    "switch value": dict(aliases=[1, 200], values=[0.5, 2.0], offsets=[0, 0], statuses=[0, 0]),
    "status 128 and 8": dict(aliases=[1, 2], values=[0.5, 1.5], offsets=[0, 0], statuses=[128, 8]),
    "status bits": dict(aliases=[1, 2, 3], values=[0.5, 1.5, 1.5], offsets=[0, 0, 0], statuses=[0, 300, 4294967295]),
    "over range": dict(aliases=[1, 2, 3], values=[4.5, 0.5, 150.0], offsets=[0, 0, 0], statuses=[0, 0, 8]),
    "nan and inf": dict(aliases=[1, 2, 3], values=[math.nan, INF, -INF], offsets=[0, 0, 0], statuses=[0, 0, 0]),
    "nan beside over range": dict(aliases=[1, 2, 3], values=[math.nan, 150.0, 1.0], offsets=[0, 0, 0], statuses=[0, 0, 0]),
    "on the bounds": dict(aliases=[1, 2, 3], values=[0.0, 1.0, 4.0], offsets=[0, 0, 0], statuses=[0, 0, 0]),
    "just over": dict(aliases=[1], values=[math.nextafter(4.0, INF)], offsets=[0], statuses=[0]),
    "ahead": dict(aliases=[1, 2], values=[1.0, 1.0], offsets=[0, 600_000], statuses=[0, 0]),
    "int32 edges": dict(aliases=[1, 2, 3], values=[1.0] * 3, offsets=[-2147483648, 2147483647, 0], statuses=[0] * 3),
    "columns differ": dict(aliases=[1, 2], values=[1.0], offsets=[0, 0], statuses=[0, 0]),
    "empty": dict(aliases=[], values=[], offsets=[], statuses=[]),
}  # fmt: skip


@pytest.mark.parametrize("layout", LAYOUTS)
@pytest.mark.parametrize("case", CASES)
def test_the_same_violations_from_the_encoding(case: str, layout: str) -> None:
    c = CASES[case]
    for base_ms in (NOW - 2000, None, 1000):  # live, no base_time, before 2000
        data = encode(5, base_ms, c["aliases"], c["values"], c["offsets"], c["statuses"], False, layout)
        _same_both_ways(data, _state)


@pytest.mark.parametrize("wire", [True, False])
@pytest.mark.parametrize("values", [[math.nan, 150.0, 1.0], [150.0, math.nan, 1.0], [1.0, -5.0, math.nan]])
def test_a_nan_hides_no_value_out_of_range(values: list[float], wire: bool) -> None:
    """The range screen from the least and greatest value: NaN among them must not let the others pass unjudged
    (numpy's min and max of the encoded column are NaN then)."""
    data = encode(5, NOW - 2000, [1, 2, 3], values, [0, 0, 0], [0, 0, 0], False, "canonical")
    got = _judged(data, _state(), wire=wire)
    assert {"ST-DATA-018", "ST-DATA-021"} <= {v.clause_id for v in got}, got


def test_layouts_the_walk_takes_and_refuses() -> None:
    c = CASES["good"]
    taken = {
        layout: batch_wire(
            encode(5, NOW, c["aliases"], c["values"], c["offsets"], c["statuses"], False, layout)
        )
        is not None
        for layout in LAYOUTS
    }
    assert taken == {
        "canonical": True, "sequence last": True, "non-minimal varint": True, "over-long alias": True,
        "empty columns": True, "unpacked status": False, "split alias": False, "columns swapped": False,
        "explicit defaults": True,
    }  # fmt: skip
    assert batch_wire(b"") is None
    assert batch_wire(b"\x0a\x05\x1a\x02\x01") is None  # a length beyond the end
    assert batch_wire(b"\x0a\x03\x1a\x81\x00") is None  # a non-minimal length
    assert batch_wire(b"\x0a\x02\x78\x01") is None  # an unknown field (15)
    assert batch_wire(b"\x0a\x00\x08\x01") is None  # something after the batch


def test_a_memo_of_other_definitions_is_not_used() -> None:
    """The memo names the alias set it was judged against: a state whose definitions lack the aliases reports
    them even when handed a memo that says the column is all defined."""
    data = encode(5, NOW - 2000, [1, 2, 3], [1.0] * 3, [0] * 3, [0] * 3, False, "canonical")
    full = _state(3, 0)
    assert _judged(data, full, wire=True) == []
    assert full.alias_memo is not None
    narrow = _state(1, 0)
    narrow.alias_memo = full.alias_memo
    got = _judged(data, narrow, wire=True)
    assert [v.clause_id for v in got] == ["ST-IFACE-004"]
    assert got == _judged(data, _state(1, 0), wire=False)
    redefined = _state(3, 0)
    redefined.alias_memo = full.alias_memo
    redefined.define_points([data_pb2.PointDefinition(alias=3, point_code=f"{MINE}01KGS0003K01", sensor_type="S001",
                                                      range_high=1.0, value_kind=common_pb2.VALUE_KIND_SWITCH)])  # fmt: skip
    # point 3 is a switch now: its value 1.0 is fine, 2.0 would not be; the stale memo (no switch) is not used
    bad = encode(6, NOW - 2000, [1, 2, 3], [1.0, 1.0, 2.0], [0] * 3, [0] * 3, False, "canonical")
    assert [v.clause_id for v in _judged(bad, redefined, wire=True)] == ["ST-DATA-019"]


def test_an_unknown_alias_column_is_not_remembered() -> None:
    state = _state()
    data = encode(5, NOW - 2000, [1, 77], [1.0, 1.0], [0, 0], [0, 0], False, "canonical")
    for _ in range(2):
        assert [v.clause_id for v in _judged(data, state, wire=True)] == ["ST-IFACE-004"]
    assert state.alias_memo is None


VALUES = st.one_of(
    st.sampled_from([math.nan, INF, -INF, 0.0, -0.0, 1.0, 4.0, 2.0, 150.0, -1.0]),
    st.floats(allow_nan=True, allow_infinity=True, width=64),
)


@st.composite
def batches(draw: st.DrawFn) -> tuple:
    n = draw(st.integers(0, 12))
    alias = st.sampled_from([1, 2, 3, 200, 77, 300, 4294967295])
    aliases = [draw(alias) for _ in range(n)]
    k = n if draw(st.integers(0, 9)) else draw(st.integers(0, 12))  # sometimes columns differ
    values = [draw(VALUES) for _ in range(k)]
    offsets = [
        draw(st.integers(-(2**31), 2**31 - 1) | st.sampled_from([0, 1000, -1, 600_000])) for _ in range(n)
    ]
    statuses = [draw(st.sampled_from([0, 8, 16, 127, 128, 136, 255, 256, 300, 2**32 - 1])) for _ in range(n)]
    base = draw(st.sampled_from([NOW - 2000, NOW - 400_000, None, 1000, NOW + 60_000]))
    return 5, base, aliases, values, offsets, statuses, draw(st.booleans()), draw(st.sampled_from(LAYOUTS))


@settings(max_examples=400, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(batches())
def test_random_batches_in_every_layout(case: tuple) -> None:
    _same_both_ways(encode(*case), _state)


def test_the_offset_memo_judges_each_batch_by_its_own_base_time_and_bytes() -> None:
    """The memo of the time-offset column holds its integers, never a verdict: the same offsets under a later
    base_time are ahead of the clock; other offsets are read afresh (the memo follows the last column read)."""
    state = _state()
    offsets = [0, 1000, -500]

    def clauses(base_ms: int, offs: list[int]) -> list[str]:
        data = encode(5, base_ms, [1, 2, 3], [1.0] * 3, offs, [0] * 3, False, "canonical")
        got = _judged(data, state, wire=True)
        assert got == _judged(data, _state(), wire=False)
        return [v.clause_id for v in got]

    assert clauses(NOW - 2000, offsets) == []
    assert state.offset_memo is not None and state.offset_memo[2] == (-500, 1000)
    assert clauses(NOW + 600_000, offsets) == ["ST-DATA-031"]  # the same bytes, judged by this base_time
    assert clauses(NOW - 2000, [0, 600_000, 0]) == ["ST-DATA-031"]  # other bytes: read, not remembered ones
    assert state.offset_memo[2] == (0, 600_000)
    assert clauses(NOW - 2000, offsets) == []
    assert clauses(NOW - 2000, [0, 0]) == ["ST-IFACE-005"]  # a short column is never remembered
    assert state.offset_memo[2] == (-500, 1000)


@settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(batches(), min_size=2, max_size=6))
def test_one_device_judged_batch_after_batch_as_each_alone(cases: list[tuple]) -> None:
    """A device's state carries the memos from batch to batch: each batch must still be judged exactly as a
    fresh state judges it without the encoding (offset columns often repeat: here whenever two batches in a row
    have as many points)."""
    state = _state()
    prev = None
    for case in cases:
        case = list(case)
        if prev is not None and len(prev[4]) == len(case[2]) and case[2]:
            case[4] = prev[4]  # the same offsets as the batch before
        data = encode(*case)
        assert _judged(data, state, wire=True) == _judged(data, _state(), wire=False)
        prev = case


@pytest.mark.parametrize("n", [499, 500, 501, 1000, 1201])
@pytest.mark.parametrize("where", ["first", "middle", "last"])
def test_long_columns_screened_in_pieces_miss_nothing(n: int, where: str) -> None:
    """The value column's least and greatest value come from pieces of at most 500 (numpy keeps the GIL): a value
    over range or a NaN in any piece, alone or with the other in another piece, is found as without the
    encoding."""
    state = lambda: _state(n_analog=4, n_switch=0)  # noqa: E731
    at = {"first": 0, "middle": n // 2, "last": n - 1}[where]
    other = (at + 500) % n
    aliases = [1 + i % 4 for i in range(n)]
    for bad in (
        [(at, 150.0)],
        [(at, math.nan)],
        [(at, math.nan), (other, -3.0)],
        [(at, 9.0), (other, math.nan)],
    ):
        values = [2.0] * n
        for i, v in bad:
            values[i] = v
        data = encode(5, NOW - 2000, aliases, values, [0] * n, [0] * n, False, "canonical")
        got = _judged(data, state(), wire=True)
        assert got == _judged(data, state(), wire=False)
        assert {f"$.batch.value[{i}]" for i, _ in bad} <= {v.path for v in got}, (bad, got)


def _skeleton_judged(data: bytes, state: DeviceState) -> list | None:
    """The verdict from the batch skeleton (no column parsed) when the state's memos cover the batch, else None."""
    wire = batch_wire(data)
    if wire is None or batch_covered(wire, state) is None:
        return None
    msg = batch_skeleton(wire, pb.StreamObservationsRequest)
    assert msg is not None and not msg.batch.alias and not msg.batch.value
    ctx = ValidationContext(state=state, now_ms=NOW)
    ctx.batch_wire, ctx.batch_skeleton = wire, True
    return _spanned(validate(msg, ctx), ctx)


@pytest.mark.parametrize("layout", LAYOUTS)
@pytest.mark.parametrize("case", CASES)
def test_a_covered_batch_is_judged_from_its_skeleton_as_from_the_whole_request(
    case: str, layout: str
) -> None:
    """Once a batch's alias and offset columns are remembered, the same batch judged from the skeleton (sequence,
    base_time and backfill parsed; the columns read from the bytes and the memos) gets the same violations."""
    c = CASES[case]
    covered = 0
    for base_ms in (NOW - 2000, None, 1000):
        data = encode(5, base_ms, c["aliases"], c["values"], c["offsets"], c["statuses"], True, layout)
        state = _state()
        plain = _judged(data, _state(), wire=False)
        assert _judged(data, state, wire=True) == plain  # judged whole, remembered
        got = _skeleton_judged(data, state)
        if got is not None:
            covered += 1
            assert got == plain
    if case in ("good", "over range", "nan and inf", "switch value", "ahead") and layout == "canonical":
        assert covered == 3  # the usual batch is covered


@st.composite
def steady_device(draw: st.DrawFn) -> list[tuple]:
    """Batches of one device that mostly repeats its alias and offset columns (as a fixed set of points sampled on
    a fixed schedule does), with changing values (NaN, over range, switch values), statuses (sometimes ≥ 128:
    then not covered), base times and backfill flags, and now and then other aliases or offsets."""
    n = draw(st.integers(1, 12))
    layout = draw(
        st.sampled_from(
            ["canonical", "sequence last", "non-minimal varint", "over-long alias", "explicit defaults"]
        )
    )
    aliases = [draw(st.sampled_from([1, 2, 3, 200])) for _ in range(n)]
    offsets = [draw(st.sampled_from([0, 1000, -1, 600_000, -(2**31)])) for _ in range(n)]
    out = []
    for seq in range(5, 5 + draw(st.integers(2, 8))):
        if draw(st.integers(0, 5)) == 0:  # other aliases (now and then an unknown one)
            aliases = [draw(st.sampled_from([1, 2, 3, 200, 77])) for _ in range(n)]
        if draw(st.integers(0, 5)) == 0:
            offsets = [draw(st.sampled_from([0, 1000, -1, 600_000])) for _ in range(n)]
        values = [draw(VALUES) for _ in range(n)]
        statuses = [draw(st.sampled_from([0, 0, 8, 16, 127])) for _ in range(n)]
        if draw(st.integers(0, 5)) == 0:  # one status of two bytes: not covered
            statuses[draw(st.integers(0, n - 1))] = draw(st.sampled_from([128, 300]))
        base = draw(st.sampled_from([NOW - 2000, NOW - 400_000, 1000, NOW + 60_000]))
        out.append((seq, base, aliases, values, offsets, statuses, draw(st.booleans()), layout))
    return out


HITS: list[bool] = []


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(steady_device())
def test_a_device_judged_from_skeletons_batch_after_batch_as_each_alone(cases: list[tuple]) -> None:
    """As the platform does: a batch the memos cover is judged from its skeleton, any other whole (which updates
    the memos); each verdict equals a fresh state's without the encoding."""
    state = _state()
    for case in cases:
        encoded = encode(*case)
        plain = _judged(encoded, _state(), wire=False)
        got = _skeleton_judged(encoded, state)
        HITS.append(got is not None)
        if got is None:
            got = _judged(encoded, state, wire=True)
        assert got == plain


def test_the_skeleton_path_was_taken_often() -> None:
    """(Runs after the test above in this module.) The steady device's batches mostly take the skeleton path:
    the comparison above tested it, not only the whole-request path."""
    if HITS:  # not when the test above was deselected
        assert sum(HITS) > len(HITS) // 5, (sum(HITS), len(HITS))


def test_what_the_memos_do_not_cover() -> None:
    state = _state()
    good = encode(5, NOW - 2000, [1, 2, 3], [1.0, 1.5, 2.0], [0, 10, 20], [0, 0, 0], False, "canonical")
    assert _judged(good, state, wire=True) == []
    wire = batch_wire(good)
    assert wire is not None and batch_covered(wire, state) == 3
    for other in (
        encode(
            5, NOW - 2000, [1, 2, 200], [1.0, 1.5, 1.0], [0, 10, 20], [0, 0, 0], False, "canonical"
        ),  # aliases
        encode(
            5, NOW - 2000, [1, 2, 3], [1.0, 1.5, 2.0], [0, 10, 21], [0, 0, 0], False, "canonical"
        ),  # offsets
        encode(
            5, NOW - 2000, [1, 2, 3], [1.0, 1.5, 2.0], [0, 10, 20], [0, 128, 0], False, "canonical"
        ),  # status
        encode(5, NOW - 2000, [1, 2, 3], [1.0, 1.5], [0, 10, 20], [0, 0, 0], False, "canonical"),  # values
        encode(
            5, NOW - 2000, [1, 2, 3], [1.0, 1.5, 2.0], [0, 10, 20], [128, 0], False, "canonical"
        ),  # 3 bytes, 2
    ):
        w = batch_wire(other)
        assert w is not None and batch_covered(w, state) is None
    # as many status bytes as points, but one status of two bytes: two statuses for three points
    two_byte = encode(5, NOW - 2000, [1, 2, 3], [1.0, 1.5, 2.0], [0, 10, 20], [128, 0], False, "canonical")
    assert [v.clause_id for v in _judged(two_byte, _state(), wire=False)] == ["ST-IFACE-005"]
    state.define_points(
        [data_pb2.PointDefinition(alias=9, point_code=f"{MINE}01MNA0009A01", sensor_type="A001")]
    )
    assert batch_covered(wire, state) is None  # other definitions: judged again
    with pytest.raises(ValueError, match="batch_covered"):  # a skeleton the memos do not cover is refused
        ctx = ValidationContext(state=state, now_ms=NOW)
        ctx.batch_wire, ctx.batch_skeleton = wire, True
        validate(batch_skeleton(wire, pb.StreamObservationsRequest), ctx)  # type: ignore[arg-type]


def test_a_skeleton_whose_fields_do_not_parse_is_none() -> None:
    data = encode(5, NOW - 2000, [1], [1.0], [0], [0], False, "canonical")
    bad = data.replace(b"\x08\x05", b"\x08" + b"\xff" * 10 + b"\x01", 1)  # an 11-byte sequence varint
    bad = bad[:1] + bytes((len(bad) - 2,)) + bad[2:]
    wire = batch_wire(bad)
    assert wire is not None and batch_skeleton(wire, pb.StreamObservationsRequest) is None


@pytest.mark.parametrize("pad", [100, 120, 200, 300])
def test_a_skeleton_of_over_long_varints_is_none_and_the_request_does_not_parse(pad: int) -> None:
    """Varints the walk skips may be of any length: a skeleton of over 127 bytes (or a varint over 10 bytes) is
    never built; the whole request does not parse either (ST-DATA-035 where the platform parses it)."""
    data = encode(5, NOW - 2000, [1], [1.0], [0], [0], False, "canonical")
    inner = data[2:].replace(b"\x08\x05", b"\x08" + b"\x80" * pad + b"\x05", 1)
    bad = b"\x0a" + varint(len(inner)) + inner
    wire = batch_wire(bad)
    assert wire is not None and batch_skeleton(wire, pb.StreamObservationsRequest) is None
    with pytest.raises(Exception):  # noqa: B017, PT011 - upb's DecodeError
        pb.StreamObservationsRequest.FromString(bad)
