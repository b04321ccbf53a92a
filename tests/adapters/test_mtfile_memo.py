"""The CDSS hot path's shortcuts judge exactly as the exact path does.

- ColumnMemo: a CDSS file whose point-code column repeats the last one reuses its aliases, the core's facts
  about them (all defined, no switch, each point's range) and a passed sensor-type check. A checker that has seen
  the column before must report what a fresh one reports, on good and bad files, and never with definitions that
  changed since.
- The column-wise parse: whatever the one-split fast path accepts, the exact record-by-record path reads the same;
  whatever it refuses, the exact path reports (differential, on generated bad fields).
"""

from __future__ import annotations

import math
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from google.protobuf.timestamp_pb2 import Timestamp
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from santong.adapters.mtfile import MtChecker, MtFileError, MtFinding, parse_bytes, write_file
from santong.adapters.mtfile._errors import _FIELDS
from santong.adapters.mtfile._filetypes import SUPPORTED_TYPES
from santong.adapters.mtfile._memo import ColumnMemo
from santong.adapters.mtfile._model import _distinct
from santong.adapters.mtfile._parser import _decode, _header, _split_records, _strip_trailing, parse_file_name
from santong.adapters.mtfile._records import convert_records, count_errors
from santong.adapters.mtfile.converter import DEFINITION_TYPES, MtFileConverter
from santong.protocols import DeviceState
from santong.protocols.v1 import common_pb2, data_pb2

MINE = "140421000001"
AT = datetime(2025, 1, 15, 2, 30, tzinfo=UTC)
T = "2025-01-15 10:30:00"  # China local time of AT
NOW = int(AT.timestamp() * 1000) + 60_000
F = f"{MINE}F01"
# code, sensor type, value kind, unit, high, low, on, off
POINTS = [
    (f"{MINE}01MNA0010A01", "A001", "MN", "%CH4", "4", "0", "", ""),
    (f"{MINE}01MNA0030A02", "A003", "MN", "ppm", "1000", "0", "", ""),
    (f"{MINE}01MNA0080A03", "A008", "MN", "m/s", "15", "0", "", ""),
    (f"{MINE}01KGS0010K01", "S001", "KG", "", "", "", "开", "停"),
    (f"{MINE}01MNA0040A04", "A004", "MN", "%", "25", "0", "", ""),
]
VALUES = ["0.52", "3", "2.5", "1", "20.5"]
THRESHOLDS = ("alarm_high", "alarm_high_clear", "alarm_low", "alarm_low_clear", "power_off_high",
              "power_restore_high", "power_off_low", "power_restore_low")  # fmt: skip


def cddy(at: datetime = AT, **ranges: tuple[str, str]) -> tuple[str, bytes]:
    """The definitions of POINTS; ``ranges``: point suffix (``A01``) → (high, low) instead."""
    rows = []
    for code, sensor, kind, unit, high, low, on, off in POINTS:
        high, low = ranges.get(code[-3:], (high, low))
        rows.append(
            [code, "01", F, sensor, kind, unit, high, low] + [""] * 8 + [on, off, "15101", "", "", "", "", T]
        )
    return write_file(MINE, "示例煤矿", "CDDY", rows, at)


def cdss(rows: list[list[str]], seconds: int = 5) -> tuple[str, bytes]:
    return write_file(MINE, "示例煤矿", "CDSS", rows, AT + timedelta(seconds=seconds))


def base_rows() -> list[list[str]]:
    return [
        [code, sensor, f"15101 {i}", value, unit, "0", T]
        for i, ((code, sensor, _, unit, *_), value) in enumerate(zip(POINTS, VALUES, strict=True))
    ]


def _set(i: int, *changes: int | str) -> list[list[str]]:
    """The base rows, record ``i`` changed: (field index, text) pairs."""
    rows = base_rows()
    for field, text in zip(changes[::2], changes[1::2], strict=True):
        rows[i][int(field)] = str(text)
    return rows


#: Files whose point-code column equals the base file's (the memo is used) and files whose column differs.
SAME_CODES = {
    "identical": base_rows(),
    "ST-DATA-021 over range": _set(0, 3, "4.5"),
    "over range, flagged 8": _set(0, 3, "4.5", 5, "8"),
    "ST-DATA-048 impossible": _set(4, 3, "150"),
    "ST-DATA-019 switch value": _set(3, 3, "0.5"),
    "ST-DATA-004 type disagrees": _set(0, 1, "A003"),
    "ST-DATA-010 unknown type": _set(0, 1, "XYZ"),
    "a type by its name": _set(0, 1, "甲烷"),
    "ST-DATA-031 ahead": _set(2, 6, "2025-01-15 11:30:00"),
    "ST-DATA-045 bad value": _set(1, 3, "1e3"),
    "ST-DATA-045 bad status": _set(1, 5, "256"),
}
OTHER_CODES = {
    "reordered": base_rows()[::-1],
    "one fewer": base_rows()[:-1],
    "ST-IFACE-004 undefined": [*base_rows(), [f"{MINE}01MNA0010A09", "A001", "x", "0.1", "%CH4", "0", T]],
    "twice over": base_rows() * 2,
}


def checker() -> MtChecker:
    """A checker as ``validate_folder`` makes one for a folder with a CDDY (its points are not synthesised)."""
    return MtChecker(now_ms=NOW, synthesise=DEFINITION_TYPES - {"CDDY"})


def _findings(checker: MtChecker, files: list[tuple[str, bytes]]) -> list[MtFinding]:
    return [checker.check(name, data).findings for name, data in files][-1]


@pytest.mark.parametrize("case", [*SAME_CODES, *OTHER_CODES])
def test_a_checker_that_saw_the_column_judges_like_a_fresh_one(case: str) -> None:
    rows = SAME_CODES.get(case) or OTHER_CODES[case]
    warm = checker()
    # the base file twice: its column is remembered, then recognised (the core's facts worked out)
    seen = _findings(warm, [cddy(), cdss(base_rows(), 5), cdss(base_rows(), 6)])
    assert seen == []
    memo = warm.converter._memo
    assert memo._repeated
    got = _findings(warm, [cdss(rows, 7)])
    want = _findings(checker(), [cddy(), cdss(rows, 7)])
    assert got == want
    clause = case.split()[0]
    if clause.startswith("ST-"):
        assert clause in {f.clause_id for f in got}
    else:
        assert [f for f in got if f.is_must] == []
    if case in SAME_CODES and "045" not in case:
        assert memo._repeated  # judged through the memo, not around it


def test_definitions_that_change_are_never_judged_by_the_memo() -> None:
    """A second CDDY narrows two ranges: the next file with the same column is judged by the new ones."""
    narrow = cddy(AT + timedelta(seconds=1), A01=("1", "0"), A03=("2", "0"))
    rows = base_rows()  # 2.5 m/s is now over the wind point's range; 0.52 % CH4 is not
    warm = checker()
    _findings(warm, [cddy(), cdss(rows, 5), cdss(rows, 6), narrow])
    got = _findings(warm, [cdss(rows, 7)])
    want = _findings(checker(), [cddy(), narrow, cdss(rows, 7)])
    assert got == want
    assert [(f.clause_id, f.line) for f in got] == [("ST-DATA-021", 4)]


def _state(*ranges: tuple[float, float], switch: int | None = None) -> DeviceState:
    state = DeviceState(mine_code=MINE)
    state.define_points(
        [
            data_pb2.PointDefinition(
                alias=i,
                point_code=f"P{i}",
                range_low=low,
                range_high=high,
                value_kind=common_pb2.VALUE_KIND_SWITCH if i == switch else common_pb2.VALUE_KIND_ANALOG,
            )  # fmt: skip
            for i, (low, high) in enumerate(ranges, 1)
        ]
    )
    return state


def test_memo_facts_are_the_cores_own_and_follow_the_definitions() -> None:
    state = _state((0.0, 4.0), (0.0, 1000.0), (0.0, 1.0), switch=3)
    memo = ColumnMemo()
    codes = ["P2", "P1", "P2"]
    aliases = memo.aliases(codes, state)
    assert aliases == (2, 1, 2)
    assert memo.facts(aliases, 0, 3, state) == {}  # first sight: the core works them out itself
    assert memo.aliases(list(codes), state) is aliases  # an equal column: reused
    facts = memo.facts(aliases, 0, 3, state)
    assert facts == {"known": True, "switch_free": True, "bounds": ((0.0, 0.0, 0.0), (1000.0, 4.0, 1000.0))}
    assert memo.facts(aliases, 1, 3, state)["bounds"] == ((0.0, 0.0), (4.0, 1000.0))
    assert memo.facts((2, 1, 2), 0, 3, state) == {}  # not the memo's column
    # definitions applied since: nothing reused, the new ranges and kinds are the ones used
    state.define_points([data_pb2.PointDefinition(alias=1, point_code="P1", range_low=1.0, range_high=2.0)])
    again = memo.aliases(codes, state)
    assert again == aliases and again is not aliases
    assert memo.facts(again, 0, 3, state) == {}
    assert memo.aliases(codes, state) is again
    assert memo.facts(again, 0, 3, state)["bounds"] == ((0.0, 1.0, 0.0), (1000.0, 2.0, 1000.0))
    switched = memo.aliases(["P3", "P3"], state)
    memo.aliases(["P3", "P3"], state)
    assert memo.facts(switched, 0, 2, state)["switch_free"] is False
    with pytest.raises(KeyError):
        memo.aliases(["P1", "P9"], state)


def test_the_type_check_is_remembered_only_for_the_column_and_texts_it_passed() -> None:
    state = _state((0.0, 4.0), (0.0, 4.0))
    memo = ColumnMemo()
    table = {"P1": "A001", "P2": "A001"}
    codes = ["P1", "P2"]
    memo.aliases(codes, state)
    memo.types_pass(codes, ["A001", "甲烷"], table)
    assert memo.types_passed(codes, ["A001", "甲烷"], table)
    assert not memo.types_passed(codes, ["A001", "A003"], table)  # other texts
    assert not memo.types_passed(codes, ["A001", "甲烷"], dict(table))  # another table
    assert not memo.types_passed(list(codes), ["A001", "甲烷"], table)  # a column the memo did not see
    other = ["P2", "P1"]
    memo.aliases(other, state)
    assert not memo.types_passed(other, ["A001", "甲烷"], table)  # a new column forgets the check


# ---------------------------------------------------------------------------------------------------------
# Column-wise parse (one split of the whole file) against the exact record-by-record path


def _exact(name: str, data: bytes) -> object:
    """The exact path alone: records split one by one, every field read by its kind's reader."""
    spec = SUPPORTED_TYPES["CDSS"]
    text, _ = _decode(name, data)
    records = _split_records(name, text)
    times: dict[str, datetime] = {}
    header, errors = _header(parse_file_name(name), name, records[0], times)
    del records[0]
    rows, indexes, count_errs = count_errors(name, spec, _strip_trailing(records, spec.field_count))
    result, field_errors = convert_records(name, spec, rows, indexes, times, header)
    errors += sorted(count_errs + field_errors, key=lambda e: e.record_index or 0)
    if errors:
        return [(e.clause_id, e.record_index, e.field) for e in errors]
    return result


def _columns(cols: Any) -> tuple[object, ...]:
    """Every column, and the time each record's 数据时间 stands for."""
    names = ("point_codes", "sensor_types", "locations", "values", "units", "statuses", "stamps")
    return (*(getattr(cols, n) for n in names), [cols.times[s] for s in cols.stamps])


codes = st.sampled_from([f"{MINE}01MNA0010A01", f"{MINE}01MNA0030A02", "", " x", "P~1", "a\nb"])
values = st.sampled_from(
    ["0.52", "3", "-1.5", ".5", "5.", "-0", "", "1e3", "+1", "nan", "inf", "1 ", "--1", "0x1"]
)
statuses = st.sampled_from(["0", "1", "8", "255", "256", "-1", "01", "", "x", "1.0", "٣"])
stamps = st.sampled_from([T, "2025-01-15 10:30:01", "2025-02-30 10:00:00", "", "2025-01-15T10:30:00", "x"])
records = st.tuples(
    codes, st.sampled_from(["A001", "甲烷", ""]), st.just("T1"), values, st.just("%"), statuses, stamps
)


good_records = st.tuples(
    st.sampled_from([f"{MINE}01MNA0010A01", f"{MINE}01MNA0030A02", " x"]),
    st.sampled_from(["A001", "甲烷", ""]),
    st.sampled_from(["T1", "", "工作面 1"]),
    st.sampled_from(["0.52", "3", "-1.5", ".5", "5.", "-0", "0"]),
    st.sampled_from(["%", ""]),
    st.sampled_from(["0", "1", "8", "255"]),
    st.sampled_from([T, "2025-01-15 10:30:01"]),
)
mostly_good = st.tuples(
    st.lists(good_records, min_size=1, max_size=8), st.none() | records, st.integers(0, 8)
).map(lambda t: t[0] if t[1] is None else [*t[0][: t[2]], t[1], *t[0][t[2] :]])


@settings(max_examples=400, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    rows=st.one_of(st.lists(records, min_size=1, max_size=8), mostly_good, mostly_good),
    tail=st.sampled_from(["", ";"]),
    nl=st.sampled_from(["\r\n", "\n", ""]),
    encoding=st.sampled_from(["utf-8", "utf-8-sig", "gb18030"]),
    end=st.sampled_from(["", "\r\n", " \n", "\u3000", "\x1c"]),
)
def test_the_fast_parse_reads_and_refuses_what_the_exact_path_does(rows, tail, nl, encoding, end) -> None:
    """UTF-8 (the bytes path), with a BOM, GBK (the text path); line ends; trailing separators; whitespace after
    the end that only the text strips."""
    name = f"{MINE}_CDSS_20250115103005.txt"
    text = nl.join([f"{MINE};矿;2025-01-15 10:30:05~", *(";".join(r) + tail + "~" for r in rows), "||"]) + end
    data = text.encode(encoding)
    exact = _exact(name, data)
    try:
        parsed = parse_bytes(name, data)
    except MtFileError as e:
        assert [(x.clause_id, x.record_index, x.field) for x in e.errors] == exact
        return
    assert not isinstance(exact, list), exact
    assert _columns(parsed.columns) == _columns(exact)
    assert parsed.encoding == ("gbk" if encoding == "gb18030" and not text.isascii() else "utf-8")


def test_the_fast_parse_refuses_a_bad_status_like_the_exact_path() -> None:
    rows = base_rows()
    rows[2][5] = "256"
    name, data = cdss(rows)
    with pytest.raises(MtFileError) as e:
        parse_bytes(name, data)
    assert [(x.clause_id, x.record_index, x.field) for x in e.value.errors] == _exact(name, data)
    assert e.value.clause_id != _FIELDS and e.value.record_index == 3


@pytest.mark.parametrize("xyz", ["", "0", "-0", "0.0", "1.5"])
@pytest.mark.parametrize("threshold", ["", "0"])
def test_columns_every_record_leaves_empty_give_the_same_definitions(xyz: str, threshold: str) -> None:
    """A column no record sets is not passed to the message constructor: the same messages, byte for byte (-0.0
    is a value of its own; a threshold of 0 is set, one left empty is not)."""
    name, data = write_file(MINE, "示例煤矿", "CDDY", [
        [code, "01", F, sensor, kind, unit, high, low] + [threshold] * 8 + [on, off, "15101", xyz, xyz, xyz, "", T]
        for code, sensor, kind, unit, high, low, on, off in POINTS
    ], AT)  # fmt: skip
    got = parse_bytes(name, data).definitions
    at = Timestamp()
    at.FromDatetime(AT)
    thresholds = dict.fromkeys(THRESHOLDS, 0.0) if threshold else {}
    want = [
        data_pb2.PointDefinition(
            point_code=code,
            system_code="01",
            outstation_code=F,
            sensor_type=sensor,
            unit=unit,
            value_kind=common_pb2.VALUE_KIND_SWITCH if kind == "KG" else common_pb2.VALUE_KIND_ANALOG,
            range_high=float(high or 1),
            range_low=float(low or 0),
            on_description=on,
            off_description=off,
            location="15101",
            x=float(xyz or 0),
            y=float(xyz or 0),
            z=float(xyz or 0),
            related_point_codes=[],
            defined_at=at,
            **thresholds,
        )  # fmt: skip
        for code, sensor, kind, unit, high, low, on, off in POINTS
    ]
    assert [d.SerializeToString(deterministic=True) for d in got] == [
        d.SerializeToString(deterministic=True) for d in want
    ]
    assert [math.copysign(1.0, d.x) for d in got] == [-1.0 if xyz == "-0" else 1.0] * len(POINTS)
    assert all(d.HasField("alarm_high") == bool(threshold) for d in got)


@pytest.mark.parametrize("chunk", [10_000, 2])
def test_accepted_definitions_are_the_judged_ones_with_their_aliases(chunk: int) -> None:
    """What the checker then knows: every good definition as read, numbered 1… in file order (the judged requests
    applied as they are); a bad one stays undefined and the others keep their numbers."""
    name, data = cddy()
    read = parse_bytes(name, data).definitions
    c = checker()
    c.limits.max_points_per_definition = chunk
    assert c.check(name, data).findings == []
    assert sorted(c.state.points) == [1, 2, 3, 4, 5]
    for alias, d in enumerate(read, 1):
        want = data_pb2.PointDefinition()
        want.CopyFrom(d)
        want.alias = alias
        assert c.state.points[alias] == want and c.state.aliases_by_code[d.point_code] == alias
    assert c.state.ranges[1] == (0.0, 4.0) and c.state.switch_aliases == {4}
    bad = checker()
    bad.limits.max_points_per_definition = chunk
    name, data = cddy(A02=("99999", "0"))  # beyond the dictionary's CO range: ST-DATA-013, MUST
    assert [(f.clause_id, f.line) for f in bad.check(name, data).findings] == [("ST-DATA-013", 3)]
    assert sorted(bad.state.points) == [1, 3, 4, 5]
    assert POINTS[1][0] not in bad.state.aliases_by_code
    assert bad.state.aliases_by_code[POINTS[2][0]] == 3


def test_distinct_items_of_a_column() -> None:
    assert _distinct([]) == set()
    assert _distinct(["a", "a", "a"]) == {"a"}
    assert _distinct(["a", "b", "a"]) == {"a", "b"}
    assert _distinct([T, "2025-01-15 10:30:01", T]) == {T, "2025-01-15 10:30:01"}


def test_columns_are_compared_exactly_even_with_separators_inside_texts() -> None:
    """Columns are compared by their ;-joined texts only where that string stands for the column: texts holding a
    ';' (no file field can, a hand-built column could) are compared text by text."""
    state = DeviceState(mine_code=MINE)
    state.define_points(
        [data_pb2.PointDefinition(alias=i, point_code=c) for i, c in enumerate(["a;b", "c", "a", "b;c"], 1)]
    )
    memo = ColumnMemo()
    assert memo.aliases(["a;b", "c"], state) == (1, 2)
    assert memo.aliases(["a", "b;c"], state) == (3, 4)  # the same joined string, another column
    assert memo.aliases(["a", "b;c"], state) == (3, 4)
    assert memo.aliases(["a", "c"], state) == (3, 2)
    codes = ["a", "c"]
    memo.aliases(codes, state)
    memo.types_pass(codes, ["x;y", "z"], {})
    table = memo._types[0] if memo._types else None
    assert memo.types_passed(codes, ["x;y", "z"], table)
    assert not memo.types_passed(codes, ["x", "y;z"], table)
    memo.types_pass(codes, ["x", "y"], table)
    assert memo.types_passed(codes, ["x", "y"], table) and not memo.types_passed(
        codes, ["x", "y", "z"], table
    )


@pytest.mark.parametrize("where", [0, 2, 4, "only"])
@pytest.mark.parametrize("code", ["", "a\nb", "\r\nx"])
def test_an_empty_point_code_or_a_line_break_in_one_leaves_the_fast_parse(
    where: int | str, code: str
) -> None:
    """First, middle, last or only record: the fast parse reads what the exact path reads, or refuses alike."""
    rows = base_rows()[:1] if where == "only" else base_rows()
    rows[0 if where == "only" else int(where)][0] = code
    name = f"{MINE}_CDSS_20250115103005.txt"  # by hand: the writer refuses a line break in a field
    data = "\r\n".join([f"{MINE};矿;2025-01-15 10:30:05~", *(";".join(r) + "~" for r in rows), "||"]).encode()
    exact = _exact(name, data)
    try:
        parsed = parse_bytes(name, data)
    except MtFileError as e:
        assert [(x.clause_id, x.record_index, x.field) for x in e.errors] == exact
        assert code == ""
        return
    assert _columns(parsed.columns) == _columns(exact)


def test_a_redefined_sensor_type_is_judged_against_the_new_definition() -> None:
    """The converter's table of defined types follows define_points on the same state (same dict, changed)."""
    state = DeviceState(mine_code=MINE)
    code = POINTS[0][0]
    state.define_points(
        [data_pb2.PointDefinition(alias=1, point_code=code, sensor_type="A001", range_high=4.0,
                                  value_kind=common_pb2.VALUE_KIND_ANALOG)]
    )  # fmt: skip
    converter = MtFileConverter()
    name, data = cdss([base_rows()[0]])

    def clauses() -> list[str]:
        unit = converter.unit(parse_bytes(name, data), state, name=name)
        return [f.clause_id for f in converter.check(unit, state, now_ms=NOW)]

    assert clauses() == [] and clauses() == []
    state.define_points(
        [data_pb2.PointDefinition(alias=1, point_code=code, sensor_type="A003", range_high=1000.0,
                                  value_kind=common_pb2.VALUE_KIND_ANALOG)]
    )  # fmt: skip
    assert clauses() == ["ST-DATA-004"]


def test_types_resolved_once_per_distinct_text_keep_order_and_objects() -> None:
    """Definitions whose type text is a name or alias become copies with the dictionary code; the others stay the
    very objects read (an unknown text too: the core names it)."""
    texts = ["甲烷", "A003", "XYZ", "瓦斯", "甲烷", ""]
    items = [data_pb2.PointDefinition(point_code=f"P{i}", sensor_type=t) for i, t in enumerate(texts)]
    got = MtFileConverter()._resolved(items)
    assert [d.sensor_type for d in got] == ["A001", "A003", "XYZ", "A001", "A001", ""]
    assert [d.point_code for d in got] == [f"P{i}" for i in range(len(texts))]
    assert [g is i for g, i in zip(got, items, strict=True)] == [False, True, True, False, False, True]
    assert [d.sensor_type for d in items] == texts  # what was read is not changed
    plain = [data_pb2.PointDefinition(point_code="P", sensor_type="A001")]
    assert MtFileConverter()._resolved(plain)[0] is plain[0]


@pytest.mark.parametrize(
    "case", ["identical", "ST-DATA-021 over range", "ST-DATA-048 impossible", "ST-DATA-019 switch value"]
)
def test_without_definitions_a_repeated_column_judges_like_a_fresh_checker(case: str) -> None:
    """A CDSS export alone: its points are defined from the dictionary by the first file; later files with the
    same column are judged through the memo as a checker that defines them from that file."""
    warm = MtChecker(now_ms=NOW)
    assert _findings(warm, [cdss(base_rows(), 5), cdss(base_rows(), 6)]) == []
    assert warm.converter._memo._repeated
    got = _findings(warm, [cdss(SAME_CODES[case], 7)])
    cold = MtChecker(now_ms=NOW)
    cold.check(*cdss(base_rows(), 5))
    want = _findings(cold, [cdss(SAME_CODES[case], 7)])
    assert got == want
    if case == "identical":
        assert got == []
    else:
        assert case.split()[0] in {f.clause_id for f in got}
