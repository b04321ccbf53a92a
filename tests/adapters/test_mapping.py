"""Tests of the declarative point mapping: golden vectors, round-trip properties, bad input."""

from __future__ import annotations

import doctest
import json
import math
import struct
from itertools import product
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st
from santong.adapters import _blockdecode, _mapping
from santong.adapters._blockdecode import compile_decoder
from santong.adapters._mapping import (
    DATA_TYPES,
    NON_FINITE_CLAUSE,
    ChangeFilter,
    MappingError,
    PointMapping,
    decode,
    encode,
    register_count,
)

VECTORS = json.loads((Path(__file__).parent / "vectors" / "mapping_vectors.json").read_text("utf-8"))
ORDERS = ("big", "little")
NUMERIC = [t for t in DATA_TYPES if t != "string"]
INT_RANGES = {
    "int16": (-(2**15), 2**15 - 1),
    "uint16": (0, 2**16 - 1),
    "int32": (-(2**31), 2**31 - 1),
    "uint32": (0, 2**32 - 1),
    "int64": (-(2**63), 2**63 - 1),
    "uint64": (0, 2**64 - 1),
}


def _cases() -> list[Any]:
    """One pytest param per golden vector case."""
    params = []
    for group in VECTORS["groups"]:
        m = group["mapping"]
        gid = "-".join(f"{k}={v}" for k, v in m.items())
        for i, case in enumerate(group["cases"]):
            params.append(pytest.param(m, case, id=f"{gid}#{i}"))
    return params


def _same(a: object, b: object) -> bool:
    """Equal value and equal type (int stays int, bool stays bool)."""
    return type(a) is type(b) and a == b


# ---------------------------------------------------------------- golden vectors


def test_vectors_cover_every_type_and_order() -> None:
    seen = {
        (g["mapping"]["data_type"], g["mapping"]["byte_order"], g["mapping"]["word_order"])
        for g in VECTORS["groups"]
    }
    assert seen >= set(product(DATA_TYPES, ORDERS, ORDERS))


@pytest.mark.parametrize(("spec", "case"), _cases())
def test_golden_vector(spec: dict[str, Any], case: dict[str, Any]) -> None:
    m = PointMapping(**spec)
    words = [int(w, 16) for w in case["words"]]
    expected = case["expected"]
    got = decode(m, words)
    if m.data_type in ("float32", "float64") or m.scale != 1.0 or m.offset != 0.0:
        assert isinstance(got, float) and got == expected
    else:
        assert _same(got, expected)
    if case.get("roundtrip", True):
        assert encode(m, expected, current=words) == words
        if m.mask is None and not m.shift and m.bit is None:
            assert encode(m, expected) == words


@pytest.mark.parametrize(
    ("byte_order", "word_order", "words"),
    [
        ("big", "big", [0x42F6, 0xE979]),
        ("big", "little", [0xE979, 0x42F6]),
        ("little", "big", [0xF642, 0x79E9]),
        ("little", "little", [0x79E9, 0xF642]),
    ],
)
def test_float32_123_456_anchor(byte_order: str, word_order: str, words: list[int]) -> None:
    m = PointMapping(data_type="float32", byte_order=byte_order, word_order=word_order)  # type: ignore[arg-type]
    assert decode(m, words) == struct.unpack(">f", bytes.fromhex("42F6E979"))[0]
    assert round(decode(m, words), 3) == 123.456  # type: ignore[arg-type]
    assert encode(m, 123.456) == words


def test_int32_minus_two_anchor() -> None:
    assert decode(PointMapping(data_type="int32"), [0xFFFF, 0xFFFE]) == -2
    assert encode(PointMapping(data_type="int32", word_order="little"), -2) == [0xFFFE, 0xFFFF]


def test_module_docstring_examples() -> None:
    for module in (_mapping, _blockdecode):
        result = doctest.testmod(module)
        assert result.attempted > 0 and result.failed == 0


@pytest.mark.parametrize(
    ("data_type", "length", "count"),
    [
        ("int16", None, 1),
        ("bool", None, 1),
        ("bits", None, 1),
        ("uint32", None, 2),
        ("float32", None, 2),
        ("int64", None, 4),
        ("float64", None, 4),
        ("string", 7, 7),
    ],
)
def test_register_count(data_type: str, length: int | None, count: int) -> None:
    assert register_count(data_type, length) == count


# ---------------------------------------------------------------- properties

orders = st.sampled_from(ORDERS)


def _float32(x: float) -> float:
    """x rounded to float32."""
    return float(struct.unpack(">f", struct.pack(">f", x))[0])


@st.composite
def typed_values(draw: st.DrawFn, data_type: str) -> object:
    """A value that data_type can hold exactly."""
    if data_type in INT_RANGES:
        lo, hi = INT_RANGES[data_type]
        return draw(st.integers(lo, hi))
    if data_type == "float32":
        return draw(st.floats(width=32, allow_nan=False, allow_infinity=False))
    if data_type == "float64":
        return draw(st.floats(allow_nan=False, allow_infinity=False))
    return draw(st.booleans())


@settings(deadline=None)
@given(
    data=st.data(),
    data_type=st.sampled_from(["bool", *INT_RANGES, "float32", "float64"]),
    bo=orders,
    wo=orders,
)
def test_encode_decode_round_trip(data: st.DataObject, data_type: str, bo: str, wo: str) -> None:
    m = PointMapping(data_type=data_type, byte_order=bo, word_order=wo)  # type: ignore[arg-type]
    value = data.draw(typed_values(data_type))
    words = encode(m, value)  # type: ignore[arg-type]
    assert len(words) == register_count(data_type) and all(0 <= w <= 0xFFFF for w in words)
    assert decode(m, words) == value
    if data_type == "float32":
        assert decode(m, words) == _float32(value)  # type: ignore[arg-type]


@settings(deadline=None)
@given(data=st.data(), data_type=st.sampled_from([*INT_RANGES, "float32", "float64"]), bo=orders, wo=orders)
def test_decode_encode_round_trip_of_any_words(data: st.DataObject, data_type: str, bo: str, wo: str) -> None:
    m = PointMapping(data_type=data_type, byte_order=bo, word_order=wo)  # type: ignore[arg-type]
    n = register_count(data_type)
    words = data.draw(st.lists(st.integers(0, 0xFFFF), min_size=n, max_size=n))
    try:
        value = decode(m, words)
    except MappingError as e:  # only NaN / Inf bit patterns
        assert e.clause_id == NON_FINITE_CLAUSE and data_type.startswith("float")
        return
    assert encode(m, value) == words


@settings(deadline=None)
@given(
    text=st.text(st.characters(codec="utf-8", exclude_characters="\x00"), max_size=6), bo=orders, wo=orders
)
def test_string_round_trip(text: str, bo: str, wo: str) -> None:
    m = PointMapping(data_type="string", length=9, byte_order=bo, word_order=wo)  # type: ignore[arg-type]
    assume(len(text.encode("utf-8")) <= 18)
    assert decode(m, encode(m, text)) == text


@settings(deadline=None)
@given(
    data=st.data(),
    data_type=st.sampled_from(["int16", "uint16", "int32", "uint32"]),
    scale=st.sampled_from([0.1, 0.01, 0.001, 0.5, 2.0, -1.0, 10.0, 1 / 3]),
    offset=st.floats(-1e4, 1e4),
    bo=orders,
    wo=orders,
)
def test_scale_offset_inversion(
    data: st.DataObject, data_type: str, scale: float, offset: float, bo: str, wo: str
) -> None:
    m = PointMapping(data_type=data_type, scale=scale, offset=offset, byte_order=bo, word_order=wo)  # type: ignore[arg-type]
    n = register_count(data_type)
    words = data.draw(st.lists(st.integers(0, 0xFFFF), min_size=n, max_size=n))
    value = decode(m, words)
    assert isinstance(value, float)
    assert encode(m, value) == words
    lo, hi = INT_RANGES[data_type]
    raw = data.draw(st.integers(lo, hi))
    engineering = raw * scale + offset
    assert decode(m, encode(m, engineering)) == pytest.approx(
        engineering, abs=1e-9 * max(1.0, abs(engineering))
    )


@settings(deadline=None)
@given(
    data=st.data(),
    data_type=st.sampled_from(["bits", "uint16", "int16", "uint32", "int32", "uint64", "int64"]),
    bo=orders,
    wo=orders,
)
def test_mask_shift_round_trip(data: st.DataObject, data_type: str, bo: str, wo: str) -> None:
    n = register_count(data_type)
    width = 16 * n
    shift = data.draw(st.integers(0, width - 1))
    size = data.draw(st.integers(1, width - shift))
    mask = ((1 << size) - 1) << shift
    m = PointMapping(data_type=data_type, mask=mask, shift=shift, byte_order=bo, word_order=wo)  # type: ignore[arg-type]
    field = data.draw(st.integers(0, (1 << size) - 1))
    current = data.draw(st.lists(st.integers(0, 0xFFFF), min_size=n, max_size=n))
    words = encode(m, field, current=current)
    assert decode(m, words) == field
    untouched = (
        PointMapping(data_type=data_type, mask=((1 << width) - 1) ^ mask, byte_order=bo, word_order=wo)
        if mask != (1 << width) - 1
        else None
    )  # type: ignore[arg-type]
    if untouched is not None:
        assert decode(untouched, words) == decode(untouched, current)
    assert decode(m, encode(m, field)) == field


@settings(deadline=None)
@given(bit=st.integers(0, 15), value=st.booleans(), current=st.integers(0, 0xFFFF), bo=orders)
def test_bool_bit_round_trip_keeps_other_bits(bit: int, value: bool, current: int, bo: str) -> None:
    m = PointMapping(data_type="bool", bit=bit, byte_order=bo)  # type: ignore[arg-type]
    words = encode(m, value, current=[current])
    assert decode(m, words) is value
    plain = PointMapping(data_type="uint16", byte_order=bo)  # type: ignore[arg-type]
    assert (int(decode(plain, words)) ^ int(decode(plain, [current]))) & ~(1 << bit) == 0


@st.composite
def point_mappings(draw: st.DrawFn, bo: str | None = None, wo: str | None = None) -> PointMapping:
    """A random non-string point mapping."""
    data_type = draw(st.sampled_from(NUMERIC))
    kwargs: dict[str, Any] = {
        "data_type": data_type,
        "byte_order": bo or draw(orders),
        "word_order": wo or draw(orders),
    }
    width = 16 * register_count(data_type)
    if data_type == "bool":
        kwargs["bit"] = draw(st.none() | st.integers(0, 15))
    elif data_type == "bits" or (data_type in INT_RANGES and draw(st.booleans())):
        shift = draw(st.integers(0, width - 1))
        kwargs["mask"] = ((1 << draw(st.integers(1, width - shift))) - 1) << shift
        kwargs["shift"] = shift
    if data_type != "bool" and draw(st.booleans()):
        kwargs["scale"] = draw(st.sampled_from([0.1, 0.01, 2.0, -0.5, 1.0]))
        kwargs["offset"] = draw(st.sampled_from([0.0, -40.0, 273.15]))
    return PointMapping(**kwargs)


def _check_block(points: list[tuple[PointMapping, int]], words: list[int]) -> None:
    """compile_decoder(points)(words) equals per-point decode, or both raise MappingError."""
    decoder = compile_decoder(points, block_length=len(words))
    try:
        expected = [decode(m, words[off : off + m.register_count]) for m, off in points]
    except MappingError as e:
        assert e.clause_id == NON_FINITE_CLAUSE
        with pytest.raises(MappingError) as info:
            decoder(words)
        assert info.value.clause_id == NON_FINITE_CLAUSE
        return
    got = decoder(words)
    assert len(got) == len(expected)
    for g, x in zip(got, expected, strict=True):
        assert _same(g, x) or (isinstance(x, float) and isinstance(g, float) and g == x), (g, x, decoder)


@settings(suppress_health_check=[HealthCheck.too_slow], max_examples=200, deadline=None)
@given(data=st.data(), n=st.integers(4, 40))
def test_compile_decoder_matches_decode_random_layout(data: st.DataObject, n: int) -> None:
    words = data.draw(st.lists(st.integers(0, 0xFFFF), min_size=n, max_size=n))
    points = []
    for m in data.draw(st.lists(point_mappings(), max_size=12)):
        points.append((m, data.draw(st.integers(0, n - m.register_count))))
    _check_block(points, words)


@settings(suppress_health_check=[HealthCheck.too_slow], max_examples=200, deadline=None)
@given(data=st.data(), bo=orders, wo=orders, gaps=st.lists(st.integers(0, 3), min_size=1, max_size=15))
def test_compile_decoder_matches_decode_direct_layout(
    data: st.DataObject, bo: str, wo: str, gaps: list[int]
) -> None:
    points, pos = [], 0
    for gap in gaps:
        m = data.draw(point_mappings(bo, wo))
        points.append((m, pos + gap))
        pos += gap + m.register_count
    n = pos + data.draw(st.integers(0, 3))
    words = data.draw(st.lists(st.integers(0, 0xFFFF), min_size=n, max_size=n))
    assert compile_decoder(points, block_length=n).layout == "direct"
    _check_block(points, words)


@pytest.mark.parametrize(("bo", "wo"), list(product(ORDERS, ORDERS)))
def test_compile_decoder_block_of_float32(bo: str, wo: str) -> None:
    values = [i * 1.25 - 7 for i in range(50)]
    m = PointMapping(data_type="float32", byte_order=bo, word_order=wo, scale=0.5, offset=1.0)  # type: ignore[arg-type]
    words = [w for v in values for w in encode(m, v)]
    decoder = compile_decoder([(m, 2 * i) for i in range(50)])
    assert decoder.layout == "direct" and decoder.block_length == 100
    assert decoder(words) == values


def test_compile_decoder_mixed_orders_and_overlap() -> None:
    a = PointMapping(name="a", data_type="float32", word_order="little")
    b = PointMapping(name="b", data_type="uint32", byte_order="little")
    c = PointMapping(name="c", data_type="bool", bit=0)
    decoder = compile_decoder([(b, 2), (a, 0), (c, 3)])
    assert decoder.layout == "permuted"
    words = [0xE979, 0x42F6, 0x3412, 0x7856]
    out = decoder(words)
    assert out[0] == 0x12345678 and round(out[1], 3) == 123.456 and out[2] is False


def test_compile_decoder_rejects_bad_input() -> None:
    m = PointMapping(name="T1", data_type="float32")
    with pytest.raises(MappingError, match="string"):
        compile_decoder([(PointMapping(data_type="string", length=2), 0)])
    with pytest.raises(MappingError, match="block_length"):
        compile_decoder([(m, 4)], block_length=5)
    decoder = compile_decoder([(m, 0)], block_length=4)
    with pytest.raises(MappingError, match="4 words, got 3"):
        decoder([0, 0, 0])
    with pytest.raises(MappingError, match="0..65535"):
        decoder([0, 0, 0, 70000])
    with pytest.raises(MappingError) as info:
        decoder([0x7FC0, 0, 0, 0])
    assert info.value.clause_id == NON_FINITE_CLAUSE and info.value.point == "T1"


def test_compile_decoder_scaled_overflow_is_caught() -> None:
    big = PointMapping(name="big", data_type="float64", scale=1e300)
    words = encode(PointMapping(data_type="float64"), 1e10)
    with pytest.raises(MappingError) as info:
        compile_decoder([(big, 0)])(words)
    assert info.value.clause_id == NON_FINITE_CLAUSE
    # sum overflow alone is not an error: every value is finite
    huge = PointMapping(data_type="float64")
    w = encode(huge, 1.7e308)
    assert compile_decoder([(huge, 0), (huge, 4)])(w + w) == [1.7e308, 1.7e308]


# ---------------------------------------------------------------- bad input


def _both_languages(e: MappingError, *needles: str) -> None:
    """The message is bilingual and names what it is about."""
    text = str(e)
    assert e.message_zh and e.message_en and e.message_zh in text and e.message_en in text
    assert any("\u4e00" <= ch <= "\u9fff" for ch in e.message_zh)
    for needle in needles:
        assert needle in text


@pytest.mark.parametrize(
    ("kwargs", "needles"),
    [
        ({"data_type": "float16"}, ["data_type", "float32"]),
        ({"data_type": "float32", "scale": 0}, ["scale", "non-zero"]),
        ({"data_type": "float32", "scale": math.inf}, ["scale"]),
        ({"data_type": "float32", "offset": math.nan}, ["offset"]),
        ({"data_type": "int16", "byte_order": "middle"}, ["byte_order", "'big' or 'little'"]),
        ({"data_type": "int32", "word_order": "BIG"}, ["word_order"]),
        ({"data_type": "bits"}, ["mask", "shift=8"]),
        ({"data_type": "float32", "mask": 0xFF}, ["mask", "integer types"]),
        ({"data_type": "int16", "mask": 0x10000}, ["mask", "0xFFFF"]),
        ({"data_type": "uint16", "mask": 0x00F0, "shift": 8}, ["shift", "(4)"]),
        ({"data_type": "int16", "shift": 16}, ["shift"]),
        ({"data_type": "int16", "bit": 3}, ["bit", "bool"]),
        ({"data_type": "bool", "bit": 16}, ["bit", "0..15"]),
        ({"data_type": "bool", "scale": 2}, ["scale/offset"]),
        ({"data_type": "string"}, ["length"]),
        ({"data_type": "string", "length": 2, "encoding": "klingon"}, ["encoding"]),
        ({"data_type": "float32", "length": 4}, ["length", "2"]),
        ({"data_type": "float32", "deadband": -1}, ["deadband"]),
        ({"data_type": "float32", "report": "sometimes"}, ["report"]),
        ({"data_type": "float32", "report": "period"}, ["period_ms"]),
        ({"data_type": "float32", "period_ms": 0}, ["period_ms"]),
    ],
)
def test_invalid_mapping(kwargs: dict[str, Any], needles: list[str]) -> None:
    with pytest.raises(MappingError) as info:
        PointMapping(name="P-01", **kwargs)
    assert info.value.clause_id is None and info.value.point == "P-01"
    assert isinstance(info.value, ValueError)
    _both_languages(info.value, "P-01", *needles)


def test_wrong_word_count() -> None:
    with pytest.raises(MappingError) as info:
        decode(PointMapping(name="T2", data_type="float32"), [0x42F6])
    _both_languages(info.value, "T2", "2 register", "got 1")
    with pytest.raises(MappingError, match="0..65535"):
        decode(PointMapping(data_type="uint16"), [-1])


@pytest.mark.parametrize(
    ("kwargs", "value"),
    [
        ({"data_type": "int16"}, 40000),
        ({"data_type": "uint16"}, -1),
        ({"data_type": "uint32"}, 2**32),
        ({"data_type": "int16", "scale": 0.1}, 3276.8),
        ({"data_type": "int16", "shift": 4}, 2048),
        ({"data_type": "bits", "mask": 0x00F0, "shift": 4}, 16),
        ({"data_type": "bits", "mask": 0x00F0, "shift": 4}, -1),
        ({"data_type": "float32"}, 1e39),
        ({"data_type": "float32", "scale": 1e-30}, 1e10),
        ({"data_type": "string", "length": 1}, "ABC"),
        ({"data_type": "int16", "scale": 0.1}, 2**1100),
        ({"data_type": "float32"}, 2**1100),
        ({"data_type": "uint64"}, 2**64),
    ],
)
def test_encode_out_of_range_names_the_point(kwargs: dict[str, Any], value: object) -> None:
    with pytest.raises(MappingError) as info:
        encode(PointMapping(name="FLOW-3", **kwargs), value)  # type: ignore[arg-type]
    _both_languages(info.value, "FLOW-3")


@pytest.mark.parametrize("value", [math.nan, math.inf, -math.inf, "12", None, True])
def test_encode_rejects_non_numbers(value: object) -> None:
    with pytest.raises(MappingError) as info:
        encode(PointMapping(name="P", data_type="float32"), value)  # type: ignore[arg-type]
    _both_languages(info.value, "P")


@pytest.mark.parametrize(
    ("data_type", "words"),
    [("float32", [0x7FC0, 0x0000]), ("float32", [0x7F80, 0]), ("float64", [0xFFF0, 0, 0, 0])],
)
def test_decode_non_finite_cites_clause(data_type: str, words: list[int]) -> None:
    with pytest.raises(MappingError) as info:
        decode(PointMapping(name="CH4", data_type=data_type), words)  # type: ignore[arg-type]
    assert info.value.clause_id == NON_FINITE_CLAUSE
    _both_languages(info.value, NON_FINITE_CLAUSE, "CH4", "not finite")


def test_bad_string_input() -> None:
    m = PointMapping(data_type="string", length=2, encoding="ascii")
    with pytest.raises(MappingError, match="ascii"):
        decode(m, [0xE785, 0xA400])
    with pytest.raises(MappingError, match="NUL"):
        encode(m, "A\x00B")
    with pytest.raises(MappingError):
        encode(m, "煤")
    assert (
        decode(
            PointMapping(data_type="string", length=3, encoding="gbk"),
            encode(PointMapping(data_type="string", length=3, encoding="gbk"), "煤矿"),
        )
        == "煤矿"
    )


def test_mapping_is_frozen_and_normalised() -> None:
    m = PointMapping(data_type="int16", scale=2, offset=1, deadband=1)
    assert isinstance(m.scale, float) and isinstance(m.offset, float) and isinstance(m.deadband, float)
    with pytest.raises(AttributeError):
        m.scale = 3.0  # type: ignore[misc]


# ---------------------------------------------------------------- report filter


def test_change_filter_deadband_and_period() -> None:
    f = ChangeFilter(deadband=0.5)
    assert f.accept("CH4", 1.0, 0)
    assert not f.accept("CH4", 1.4, 10)
    assert not f.accept("CH4", 1.5, 20)  # exactly the deadband: not beyond it
    assert f.accept("CH4", 1.6, 30)
    assert not f.accept("CH4", 1.9, 40)  # compared with the last *reported* value (1.6)
    assert f.accept("CH4", 2.2, 50)  # slow drift is reported once it adds up
    assert not f.accept("CH4", 2.2, 1000, period_ms=1000)
    assert f.accept("CH4", 2.2, 1050, period_ms=1000)
    assert f.accept("CO", 2.2, 1050)  # keys are independent
    assert f.accept("CH4", 2.3, 1060, deadband=0.0)  # per-call override
    assert f.accept("CH4", math.nan, 1070)  # NaN counts as a change
    assert f.accept("CH4", 2.3, 500)  # clock stepped back: report
    f.reset("CH4")
    assert f.accept("CH4", 2.3, 500)


def test_change_filter_bool_and_string() -> None:
    f = ChangeFilter(deadband=10)
    assert f.accept("door", False, 0)
    assert not f.accept("door", False, 1)
    assert f.accept("door", True, 2)
    assert f.accept("mode", "auto", 0)
    assert f.accept("mode", "manual", 1)
    f.reset()
    assert f.accept("door", True, 3)


def test_change_filter_accept_point() -> None:
    f = ChangeFilter()
    periodic = PointMapping(data_type="float32", report="period", period_ms=100)
    assert f.accept_point("a", periodic, 1.0, 0)
    assert not f.accept_point("a", periodic, 5.0, 50)  # change alone does not report a periodic point
    assert f.accept_point("a", periodic, 5.0, 100)
    on_change = PointMapping(data_type="float32", deadband=1.0, period_ms=1000)
    assert f.accept_point("b", on_change, 1.0, 0)
    assert not f.accept_point("b", on_change, 1.5, 10)
    assert f.accept_point("b", on_change, 2.5, 20)
    assert f.accept_point("b", on_change, 2.5, 1020)


def test_change_filter_rejects_bad_deadband() -> None:
    with pytest.raises(MappingError, match="deadband"):
        ChangeFilter(deadband=-0.1)
