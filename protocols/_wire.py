"""An observation upload's protobuf encoding walked at its top level, without decoding the columns: where each
field of the batch lies. The core reads column facts from these bytes that would otherwise cost a copy of the
column (ValidationContext.batch_wire).

Example::

    wire = batch_wire(data)  # data: the encoding of a ReportObservationsRequest or StreamObservationsRequest
    if wire is not None:
        aliases = wire.column(ALIAS)  # the packed alias column's bytes
"""

from __future__ import annotations

from typing import NamedTuple

__all__ = [
    "ALIAS",
    "BACKFILL",
    "BASE_TIME",
    "SEQUENCE",
    "STATUS",
    "TIME_OFFSET",
    "VALUE",
    "BatchWire",
    "batch_wire",
]

# ObservationBatch field numbers (data.proto)
SEQUENCE, BASE_TIME, ALIAS, VALUE, TIME_OFFSET, STATUS, BACKFILL = 1, 2, 3, 4, 5, 6, 7
# The one tag byte each field has in the canonical encoding (packed repeated scalars, a LEN Timestamp).
_TAGS = {
    0x08: SEQUENCE,
    0x12: BASE_TIME,
    0x1A: ALIAS,
    0x22: VALUE,
    0x2A: TIME_OFFSET,
    0x32: STATUS,
    0x38: BACKFILL,
}


class BatchWire(NamedTuple):
    """Where an ObservationBatch's fields lie in the encoding ``data`` of the request that carries it: ``spans[f]``
    is (tag start, content start, end) of field number ``f``, or None when absent. Each field occurs at most once
    (a column is exactly its one packed field), with its canonical wire type and tag byte; the content fields
    (base_time, alias, value, time_offset_ms, status) in field order; length prefixes minimal."""

    data: bytes
    spans: tuple[tuple[int, int, int] | None, ...]

    def column(self, field: int) -> bytes:
        """The content bytes of a field (b"" when absent)."""
        s = self.spans[field]
        return b"" if s is None else self.data[s[1] : s[2]]

    def size(self, field: int) -> int:
        """The length of a field's content (0 when absent), without copying it."""
        s = self.spans[field]
        return 0 if s is None else s[2] - s[1]


def batch_wire(data: bytes) -> BatchWire | None:
    """The :class:`BatchWire` of the encoding of a ReportObservationsRequest or StreamObservationsRequest (the
    batch, field 1, once and nothing else), or None when the encoding has any other layout (repeated or unpacked
    columns, fields out of order, unknown fields, non-minimal lengths, malformed): callers then read the parsed
    message, as always. Does not check that the bytes parse (use it on bytes that do); for bytes that parse, a
    result proves that they hold no field unknown to the interface — the request, the batch and its base_time hold
    only their known fields, with their wire types (ST-DATA-034 needs no other look) — and no field added after
    version 1.0."""
    end = len(data)
    if end < 2 or data[0] != 0x0A:
        return None
    i, n = _length(data, 1, end)
    if i < 0 or i + n != end:
        return None
    spans: list[tuple[int, int, int] | None] = [None] * 8
    last = SEQUENCE  # the last content field seen (2–6 come in order; sequence and backfill anywhere)
    while i < end:
        f = _TAGS.get(data[i])
        if f is None or spans[f] is not None:
            return None
        start = i
        i += 1
        if f in (SEQUENCE, BACKFILL):  # a varint
            while i < end and data[i] >= 0x80:
                i += 1
            i += 1
            spans[f] = (start, i, i)
            continue
        if f <= last:
            return None
        last = f
        i, n = _length(data, i, end)
        if i < 0 or (f == BASE_TIME and (i + n > end or not _plain_timestamp(data, i, i + n))):
            return None
        spans[f] = (start, i, i + n)
        i += n
    if i != end:
        return None
    return BatchWire(data, tuple(spans))


def _plain_timestamp(data: bytes, i: int, end: int) -> bool:
    """Whether data[i:end] (a Timestamp's content) holds seconds (field 1) and nanos (field 2) as varints, each at
    most once, and nothing else: then the Timestamp carries no field unknown to the interface."""
    seen = 0
    while i < end:
        tag = data[i]
        if tag not in (0x08, 0x10) or seen & tag:
            return False
        seen |= tag
        i += 1
        while i < end and data[i] >= 0x80:
            i += 1
        i += 1
    return i == end


def _length(data: bytes, i: int, end: int) -> tuple[int, int]:
    """(index after, value) of a minimal varint length prefix at i; (-1, 0) when malformed or not minimal."""
    if i >= end:
        return -1, 0
    c = data[i]
    if c < 0x80:
        return i + 1, c
    n = shift = 0
    while True:
        if i >= end or shift > 28:
            return -1, 0
        c = data[i]
        i += 1
        n |= (c & 0x7F) << shift
        if c < 0x80:
            return (i, n) if c else (-1, 0)
        shift += 7
