"""What KJ systems write is read (trailing separators, empty optional fields, GBK/UTF-8, BOM, CRLF/LF); what is
wrong still is not, and each finding names its line."""

from __future__ import annotations

import pytest
from santong.adapters.mtfile import MtChecker, MtFileError, parse_bytes

MINE = "140421000001"
T = "2025-01-15 10:30:00"
HEADER = f"{MINE};示例煤矿;2025-01-15 10:30:05"
NOW = 1736908205000 + 60_000
NAME = f"{MINE}_CDSS_20250115103005.txt"


def body(rows: list[str], *, nl: str = "\r\n", tail: str = "", header_tail: str = "") -> str:
    return nl.join([HEADER + header_tail + "~", *(r + tail + "~" for r in rows), "||"]) + nl


ROWS = [f"{MINE}01MNA0010A{i:02d};甲烷;T{i};0.{i};%CH4;0;{T}" for i in range(1, 6)]


@pytest.mark.parametrize("nl", ["\r\n", "\n", ""])
@pytest.mark.parametrize("enc", ["utf-8", "utf-8-sig", "gbk"])
@pytest.mark.parametrize(("tail", "header_tail"), [("", ""), (";", ""), (";", ";")])
def test_trailing_separators_encodings_and_line_ends_are_read(
    nl: str, enc: str, tail: str, header_tail: str
) -> None:
    plain = parse_bytes(NAME, body(ROWS, nl=nl).encode("utf-8"))
    parsed = parse_bytes(NAME, body(ROWS, nl=nl, tail=tail, header_tail=header_tail).encode(enc))
    assert parsed.columns.point_codes == plain.columns.point_codes
    assert parsed.columns.stamps == plain.columns.stamps
    assert parsed.columns.values == plain.columns.values
    assert MtChecker(now_ms=NOW).check(NAME, body(ROWS, nl=nl, tail=tail).encode(enc)).findings == []


def test_a_trailing_separator_on_some_records_only_is_read_too() -> None:
    rows = [r + (";" if i % 2 else "") for i, r in enumerate(ROWS)]
    parsed = parse_bytes(NAME, body(rows).encode())
    assert parsed.record_count == 5 and parsed.columns.stamps == [T] * 5


def test_two_extra_fields_or_a_missing_one_are_still_wrong_with_their_line() -> None:
    rows = list(ROWS)
    rows[2] = rows[2] + ";;"
    with pytest.raises(MtFileError) as e:
        parse_bytes(NAME, body(rows).encode())
    assert e.value.clause_id == "ST-DATA-042" and e.value.record_index == 3
    report = MtChecker(now_ms=NOW).check(NAME, body(rows).encode())
    assert [(f.clause_id, f.line, f.point_code) for f in report.findings] == [
        ("ST-DATA-042", 4, f"{MINE}01MNA0010A03")
    ]


def test_an_empty_time_with_a_trailing_separator_is_a_time_finding_not_a_count() -> None:
    rows = [*ROWS[:4], f"{MINE}01MNA0010A05;甲烷;T5;0.5;%CH4;0;"]
    report = MtChecker(now_ms=NOW).check(NAME, body(rows, tail=";").encode())
    assert [(f.clause_id, f.line, f.field_zh) for f in report.findings] == [("ST-DATA-044", 6, "数据时间")]


def test_empty_optional_fields_are_read() -> None:
    cddy = (
        f"{HEADER}~\r\n{MINE}01KGS0030K01;01;{MINE}F01;局扇开停;KG;;;;;;;;;;;;开;停;15101局扇;;;;;{T};~\r\n||"
    )
    parsed = parse_bytes(f"{MINE}_CDDY_20250115103000.txt", cddy.encode("gbk"))
    d = parsed.definitions[0]
    assert (d.range_low, d.range_high, d.x, d.related_point_codes) == (0.0, 1.0, 0.0, [])
    assert MtChecker(now_ms=NOW).check(f"{MINE}_CDDY_20250115103000.txt", cddy.encode("gbk")).findings == []


def test_a_record_decades_in_the_future_is_a_time_finding_on_its_line() -> None:
    """Not ST-DATA-045 "cannot be converted" for the whole file: ST-DATA-031 names the record, the rest is judged."""
    rows = list(ROWS)
    rows[3] = rows[3].replace(T, "2065-01-15 10:30:00")
    rows[1] = rows[1].replace(";0.2;", ";9;")  # and a finding of its own elsewhere in the file
    report = MtChecker(now_ms=NOW).check(NAME, body(rows).encode())
    assert sorted((f.clause_id, f.line, f.point_code, f.field_zh) for f in report.findings) == [
        ("ST-DATA-021", 3, f"{MINE}01MNA0010A02", "测点值"),
        ("ST-DATA-031", 5, f"{MINE}01MNA0010A04", "数据时间"),
    ]
    assert any("2065-01-15 10:30:00" in f.message_zh for f in report.findings)
