"""A hand encoder of StreamObservationsRequest in the layouts a protobuf parser accepts (canonical, sequence last,
non-minimal and over-long varints, empty, unpacked, split and swapped columns, explicit defaults): the tests of
batch_wire and of the content digest read from it."""

from __future__ import annotations

import struct

from santong.protocols._wire import ALIAS, STATUS, TIME_OFFSET, VALUE

__all__ = ["LAYOUTS", "encode", "varint"]


def varint(n: int, pad: int = 0) -> bytes:
    """n as a varint; ``pad`` extra bytes make it non-minimal (continuation bytes, then a zero byte)."""
    n &= (1 << 64) - 1
    out = bytearray()
    while True:
        b = n & 0x7F
        n >>= 7
        if not n:
            out.append(b)
            break
        out.append(b | 0x80)
    if pad:
        out[-1] |= 0x80
        out += b"\x80" * (pad - 1) + b"\x00"
    return bytes(out)


def _zigzag(n: int) -> int:
    return ((n << 1) ^ (n >> 31)) & 0xFFFFFFFF


def _len_field(field: int, body: bytes) -> bytes:
    return varint(field << 3 | 2) + varint(len(body)) + body


def encode(
    seq: int,
    base_ms: int | None,
    aliases: list[int],
    values: list[float],
    offsets: list[int],
    statuses: list[int],
    backfill: bool,
    layout: str,
) -> bytes:
    """A StreamObservationsRequest in one of several layouts the parser accepts."""
    ts = b""
    if base_ms is not None:
        s, ms = divmod(base_ms, 1000)
        ts = (b"\x08" + varint(s) if s else b"") + (b"\x10" + varint(ms * 1_000_000) if ms else b"")
    pad = 1 if layout == "non-minimal varint" else 0
    cols = {
        ALIAS: b"".join(varint(a, pad) for a in aliases),
        VALUE: b"".join(struct.pack("<d", v) for v in values),
        TIME_OFFSET: b"".join(varint(_zigzag(o)) for o in offsets),
        STATUS: b"".join(varint(s) for s in statuses),
    }
    if layout == "over-long alias":  # 2^32 + a: the parser keeps the low 32 bits
        cols[ALIAS] = b"".join(varint((1 << 32) + a) for a in aliases)
    parts: list[tuple[int, bytes]] = []
    if base_ms is not None:
        parts.append((2, _len_field(2, ts)))
    for f in (ALIAS, VALUE, TIME_OFFSET, STATUS):
        if cols[f] or layout == "empty columns":
            parts.append((f, _len_field(f, cols[f])))
    if layout == "unpacked status":
        parts = [p for p in parts if p[0] != STATUS] + [
            (STATUS, b"".join(b"\x30" + varint(s) for s in statuses))
        ]
    if layout == "split alias" and len(aliases) > 1:
        parts = [p for p in parts if p[0] != ALIAS]
        half = len(aliases) // 2
        parts.insert(1, (ALIAS, _len_field(ALIAS, b"".join(varint(a) for a in aliases[half:]))))
        parts.insert(1, (ALIAS, _len_field(ALIAS, b"".join(varint(a) for a in aliases[:half]))))
    if layout == "columns swapped":
        parts = (
            [p for p in parts if p[0] not in (VALUE, STATUS)]
            + [p for p in parts if p[0] == STATUS]
            + [p for p in parts if p[0] == VALUE]
        )
    head = b"\x08" + varint(seq) if seq else b""
    tail = b"\x38\x01" if backfill else (b"\x38\x00" if layout == "explicit defaults" else b"")
    body = b"".join(p for _, p in parts)
    batch = body + head + tail if layout == "sequence last" else head + body + tail
    return _len_field(1, batch)


LAYOUTS = [
    "canonical", "sequence last", "non-minimal varint", "over-long alias", "empty columns", "unpacked status",
    "split alias", "columns swapped", "explicit defaults",
]  # fmt: skip
