"""The block decoder and the plain-Python baseline of bench/mapping_bench.py agree (the benchmark compares equals).

The baseline applies the documented transforms (byte and word order, mask and shift, scale, offset) by hand; the
decoder must give the same values on every block, and must refuse what the baseline would pass through (NaN/Inf).
"""

from __future__ import annotations

import math
import struct

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from santong.adapters._blockdecode import compile_decoder
from santong.adapters._mapping import NON_FINITE_CLAUSE, MappingError, PointMapping, decode

from bench.mapping_bench import BLOCK_REGISTERS, baseline_decoder, block_words, mixed_block, uniform_block

BLOCKS = {"mixed": (mixed_block, False), "uniform": (uniform_block, True)}


def _finite_words(points: list[tuple[PointMapping, int]], raw: list[int]) -> list[int]:
    """Random words with every float32 point's exponent kept below all-ones (finite)."""
    words = list(raw)
    for m, off in points:
        if m.data_type == "float32":
            hi = off + 1 if m.word_order == "little" else off  # the word holding sign and exponent
            if words[hi] & 0x7F80 == 0x7F80:
                words[hi] &= 0xFF7F
    return words


@pytest.mark.parametrize("block", sorted(BLOCKS))
def test_decoder_equals_baseline_and_per_point_decode(block: str) -> None:
    make, specialise = BLOCKS[block]
    points = make()
    decoder = compile_decoder(points, block_length=BLOCK_REGISTERS)
    baseline = baseline_decoder(points, BLOCK_REGISTERS, specialise=specialise)
    for seed in range(20):
        words = block_words(points, BLOCK_REGISTERS, seed)
        got = decoder(words)
        assert got == baseline(words)
        per_point = [decode(m, words[off : off + m.register_count]) for m, off in points]
        assert got == per_point and [type(v) for v in got] == [type(v) for v in per_point]


@settings(deadline=None, max_examples=200)
@given(raw=st.lists(st.integers(0, 0xFFFF), min_size=BLOCK_REGISTERS, max_size=BLOCK_REGISTERS))
def test_decoder_equals_baseline_on_any_finite_block(raw: list[int]) -> None:
    points = mixed_block()
    words = _finite_words(points, raw)
    got = compile_decoder(points, block_length=BLOCK_REGISTERS)(words)
    want = baseline_decoder(points, BLOCK_REGISTERS)(words)
    assert len(got) == len(want) == len(points)
    assert (
        got == want
    )  # values; the decoder keeps identity integers as int, the baseline makes floats of them
    assert got == [decode(m, words[off : off + m.register_count]) for m, off in points]


def test_decoder_refuses_nan_the_baseline_passes_through() -> None:
    points = uniform_block()
    words = block_words(points, BLOCK_REGISTERS, 1)
    words[6:8] = struct.unpack(
        "<2H", struct.pack("<f", math.nan)
    )  # point P03, word order CDAB: low word first
    assert any(math.isnan(v) for v in baseline_decoder(points, BLOCK_REGISTERS, specialise=True)(words))
    with pytest.raises(MappingError) as err:
        compile_decoder(points, block_length=BLOCK_REGISTERS)(words)
    assert err.value.clause_id == NON_FINITE_CLAUSE and err.value.point == "P03"


def test_decoder_refuses_a_short_block_and_a_word_out_of_range() -> None:
    points = mixed_block()
    decoder = compile_decoder(points, block_length=BLOCK_REGISTERS)
    words = block_words(points, BLOCK_REGISTERS, 2)
    with pytest.raises(MappingError, match="must have 100 words, got 99"):
        decoder(words[:-1])
    with pytest.raises(MappingError, match="0..65535"):
        decoder([*words[:-1], 0x10000])
