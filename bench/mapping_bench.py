"""Benchmark: batch decode of a 100-register block (50 float32 points) vs struct.unpack per point."""

from __future__ import annotations

import json
import random
import struct
from collections.abc import Sequence

from santong.adapters._mapping import PointMapping, compile_decoder, encode

from bench._timing import entry, rate

__all__ = ["run"]

BLOCK_REGISTERS = 100
POINTS = 50


def run(seconds: float = 1.0) -> list[dict]:
    """Measure compile_decoder and a naive per-point decode (same points, same words) in the same run."""
    rng = random.Random(20261)
    mappings = [
        PointMapping(name=f"P{i:02d}", data_type="float32", scale=0.1, offset=-40.0) for i in range(POINTS)
    ]
    offsets = [2 * i for i in range(POINTS)]
    words = [w for m in mappings for w in encode(m, rng.uniform(-100.0, 500.0))]
    assert len(words) == BLOCK_REGISTERS

    decoder = compile_decoder(list(zip(mappings, offsets, strict=True)), block_length=BLOCK_REGISTERS)
    params = [(off, m.scale, m.offset) for m, off in zip(mappings, offsets, strict=True)]
    pack, unpack = struct.pack, struct.unpack

    def naive(block: Sequence[int]) -> list[float]:
        out = []
        for off, scale, offset in params:
            (raw,) = unpack(">f", pack(">HH", block[off], block[off + 1]))
            out.append(raw * scale + offset)
        return out

    assert decoder(words) == naive(words)
    fast = rate(lambda: decoder(words), POINTS, seconds)
    base = rate(lambda: naive(words), POINTS, seconds)
    return [
        entry("adapters.mapping.decode", fast, "points/s", "python struct.unpack per point", base),
    ]


if __name__ == "__main__":
    print(json.dumps(run(), indent=2))
