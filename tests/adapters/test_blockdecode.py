"""The block decoder's fast finiteness proof (ST-DATA-018) and its native unpack, against per-point decode.

A block of one float type proves its values finite from their sign-and-exponent bytes (two byte searches) and
sums the values only when one of those bytes is 0x7F/0xFF; these tests put NaN, ±inf and the largest finite
values at every place, in every byte and word order, and check the bound on scale and offset that lets the
byte search stand for the values after scaling.
"""

from __future__ import annotations

import copy
import math
import pickle
import struct
from itertools import product

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from santong.adapters._blockdecode import _native, _top_bytes, compile_decoder
from santong.adapters._mapping import NON_FINITE_CLAUSE, MappingError, PointMapping, decode, encode

ORDERS = ("big", "little")
F32_MAX = struct.unpack(">f", bytes.fromhex("7f7fffff"))[0]
SPECIAL = {  # float32 bit patterns: the three non-finite kinds and the finite values whose top byte is 0x7F/0xFF
    "nan": "7fc00000",
    "-nan": "ffc00001",
    "inf": "7f800000",
    "-inf": "ff800000",
    "max": "7f7fffff",
    "-max": "ff7fffff",
    "2**127": "7f000000",
}


def _words(m: PointMapping, pattern: str) -> list[int]:
    """The point's register words holding the raw float32 bit pattern (hex, big-endian)."""
    raw = bytes.fromhex(pattern)
    words = list(struct.unpack(">2H", raw))
    if m.byte_order == "little":
        words = [((w & 0xFF) << 8) | (w >> 8) for w in words]
    if m.word_order == "little":
        words.reverse()
    return words


def _block(m: PointMapping, n: int) -> tuple[list[tuple[PointMapping, int]], list[int]]:
    points = [(PointMapping(name=f"P{i:02d}", **_fields(m)), 2 * i) for i in range(n)]
    words = [w for i in range(n) for w in encode(m, 0.25 * i - 3.0)]
    return points, words


def _fields(m: PointMapping) -> dict[str, object]:
    return {k: getattr(m, k) for k in ("data_type", "byte_order", "word_order", "scale", "offset")}


@pytest.mark.parametrize(("bo", "wo"), list(product(ORDERS, ORDERS)))
@pytest.mark.parametrize("kind", sorted(SPECIAL))
@pytest.mark.parametrize("where", [0, 7, 19])
def test_uniform_float32_block_refuses_every_non_finite_value_anywhere(
    bo: str, wo: str, kind: str, where: int
) -> None:
    m = PointMapping(data_type="float32", byte_order=bo, word_order=wo, scale=0.1, offset=-40.0)  # type: ignore[arg-type]
    points, words = _block(m, 20)
    decoder = compile_decoder(points)
    assert decoder.layout == "direct" and _top_bytes(decoder.struct_format, decoder.mappings) is not None
    words[2 * where : 2 * where + 2] = _words(m, SPECIAL[kind])
    expected = [
        decode(p, words[off : off + 2]) if kind in ("max", "-max", "2**127") else None for p, off in points
    ]
    if kind in (
        "max",
        "-max",
        "2**127",
    ):  # finite, only their top byte is 0x7F/0xFF: the exact check passes them
        assert decoder(words) == expected
        return
    with pytest.raises(MappingError) as info:
        decoder(words)
    assert info.value.clause_id == NON_FINITE_CLAUSE and info.value.point == f"P{where:02d}"


@pytest.mark.parametrize("word_order", ORDERS)
def test_uniform_float64_block_refuses_nan_and_inf_and_passes_the_largest(word_order: str) -> None:
    m = PointMapping(data_type="float64", word_order=word_order)  # type: ignore[arg-type]
    points = [
        (PointMapping(name=f"D{i}", data_type="float64", word_order=word_order), 4 * i) for i in range(6)
    ]  # type: ignore[arg-type]
    decoder = compile_decoder(points)
    assert _top_bytes(decoder.struct_format, decoder.mappings) is not None
    for value in (math.nan, math.inf, -math.inf):
        words = [w for i in range(6) for w in encode(m, float(i))]
        raw = list(struct.unpack(">4H", struct.pack(">d", value)))
        words[12:16] = raw[::-1] if word_order == "little" else raw
        with pytest.raises(MappingError) as info:
            decoder(words)
        assert info.value.clause_id == NON_FINITE_CLAUSE and info.value.point == "D3"
    big = [1.7e308, -1.7e308, 2.0**1010, 1.0, 0.0, -0.0]
    got = decoder([w for v in big for w in encode(m, v)])
    assert got == big and math.copysign(1.0, got[5]) == -1.0


def test_a_scale_that_could_overflow_is_checked_on_the_values() -> None:
    # 1e30 has an ordinary top byte (0x71), but × 1e280 is inf: the byte search cannot stand for the values, so
    # the decoder must not use it for this scale.
    m = PointMapping(name="X", data_type="float32", scale=1e280)
    points = [(m, 0), (PointMapping(name="Y", data_type="float32", scale=1e280), 2)]
    assert _top_bytes(compile_decoder(points).struct_format, (m, m)) is None
    words = encode(PointMapping(data_type="float32"), 1.0) + encode(PointMapping(data_type="float32"), 1e30)
    with pytest.raises(MappingError) as info:
        compile_decoder(points)(words)
    assert info.value.clause_id == NON_FINITE_CLAUSE and info.value.point == "Y"
    # an offset near the largest float is refused the same way
    assert _top_bytes(">ff", (PointMapping(data_type="float32", offset=1.7e308),) * 2) is None
    assert _top_bytes(">ff", (PointMapping(data_type="float32", scale=1e100),) * 2) is not None


def test_top_bytes_only_for_one_float_type_back_to_back() -> None:
    f32, f64 = PointMapping(data_type="float32"), PointMapping(data_type="float64")
    assert _top_bytes("<ff", (f32, f32)) == (3, 4)  # little-endian values: the top byte is the last
    assert _top_bytes(">ff", (f32, f32)) == (0, 4)
    assert _top_bytes(">dd", (f64, f64)) == (0, 8)
    assert _top_bytes("<f2x", (f32,)) is None  # padding
    assert _top_bytes("<fH", (f32, PointMapping(data_type="uint16"))) is None  # an integer
    assert _top_bytes(">fd", (f32, f64)) is None  # two sizes
    assert _top_bytes("<", ()) is None


@settings(deadline=None, max_examples=150)
@given(
    bo=st.sampled_from(ORDERS),
    wo=st.sampled_from(ORDERS),
    scale=st.sampled_from([1.0, 0.1, -2.5, 1e-30]),
    offset=st.sampled_from([0.0, -0.0, -40.0, 1e6]),
    raw=st.lists(
        st.sampled_from([*SPECIAL.values(), "00000000", "80000000", "3f800000", "c2f6e979"]),
        min_size=1,
        max_size=30,
    ),
)
def test_uniform_block_equals_per_point_decode(
    bo: str, wo: str, scale: float, offset: float, raw: list[str]
) -> None:
    fields = {"data_type": "float32", "byte_order": bo, "word_order": wo, "scale": scale, "offset": offset}
    points = [(PointMapping(name=f"P{i}", **fields), 2 * i) for i in range(len(raw))]  # type: ignore[arg-type]
    words = [w for (m, _), r in zip(points, raw, strict=True) for w in _words(m, r)]
    decoder = compile_decoder(points)
    try:
        expected = [decode(m, words[off : off + 2]) for m, off in points]
    except MappingError as e:
        with pytest.raises(MappingError) as info:
            decoder(words)
        assert info.value.clause_id == e.clause_id == NON_FINITE_CLAUSE and info.value.point == e.point
        return
    got = decoder(words)
    assert got == expected
    assert [math.copysign(1.0, v) for v in got] == [math.copysign(1.0, v) for v in expected]  # -0.0 kept


def test_native_unpack_only_where_it_reads_the_same() -> None:
    import sys

    here, there = ("<", ">") if sys.byteorder == "little" else (">", "<")
    assert _native(f"{here}50f").format == "@50f"
    assert _native(f"{here}fhf").format == f"{here}fhf"  # native alignment would pad after h
    assert _native(f"{there}50f").format == f"{there}50f"
    assert _native(f"{here}4xf").format == "@4xf"


def test_decoder_is_a_plain_call_and_survives_copy_and_pickle() -> None:
    points = [
        (PointMapping(name="A", data_type="float32", word_order="little"), 0),
        (PointMapping(data_type="int16"), 2),
    ]
    decoder = compile_decoder(points)
    words = [0xE979, 0x42F6, 0xFF85]
    assert copy.deepcopy(decoder) is decoder and copy.copy(decoder) is decoder
    again = pickle.loads(pickle.dumps(decoder))
    assert again is not decoder and again(words) == decoder(words) == [pytest.approx(123.456, abs=1e-4), -123]
    assert repr(again) == "BlockDecoder(2 points, 3 registers, direct)"
    assert F32_MAX > 3.4e38
