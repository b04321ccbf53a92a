"""CDSS columns (or observations) → columnar ObservationBatches."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import UTC, datetime
from typing import Final

from santong.adapters.mtfile._model import _MS, _SINT32_MAX, Observation, ObservationColumns
from santong.protocols.v1 import data_pb2

# ---------------------------------------------------------------------------------------------------------
# Columnar batches


def to_batch(
    observations: Sequence[Observation] | ObservationColumns,
    alias_of: Mapping[str, int],
    sequence: int,
    *,
    backfill: bool = False,
    start: int = 0,
    stop: int | None = None,
) -> data_pb2.ObservationBatch:
    """Pack observations (a list, or columns) into an ObservationBatch: base_time = earliest time, offsets in ms.

    ``start``/``stop`` pick a slice of the records (one batch of a large file). Example:
    ``to_batch(parsed.columns, {"14042100000101MN00010A01": 1}, sequence=7)``.
    """
    if isinstance(observations, ObservationColumns):
        return _columns_batch(observations, alias_of, sequence, backfill, start, stop)
    observations = observations[start:stop]
    batch = data_pb2.ObservationBatch(sequence=sequence, backfill=backfill)
    if not observations:
        return batch
    stamps = [o.time for o in observations]
    base = min(stamps)
    offsets = {t: (t - base) // _MS for t in set(stamps)}
    if max(offsets.values()) > _SINT32_MAX:
        raise _span_error()
    try:
        aliases = [alias_of[o.point_code] for o in observations]
    except KeyError as e:
        raise _alias_error(e.args[0]) from None
    batch.base_time.FromDatetime(base)
    batch.alias.extend(aliases)
    batch.value.extend([o.value for o in observations])
    batch.time_offset_ms.extend(list(map(offsets.__getitem__, stamps)))
    batch.status.extend([o.status for o in observations])
    return batch


def _span_error() -> ValueError:
    return ValueError(
        "一批观测的时间跨度超过 24.8 天（int32 毫秒），请分成多批 / the observations span more than "
        "24.8 days (int32 milliseconds); split them into several batches"
    )


def _alias_error(code: str) -> ValueError:
    return ValueError(
        f"测点 {code} 没有别名：请先发送它的测点定义（CDDY） / point {code} has no alias: "
        "send its definition (CDDY) first"
    )


_EPOCH: Final = datetime(1970, 1, 1, tzinfo=UTC)


def _columns_batch(
    cols: ObservationColumns,
    alias_of: Mapping[str, int],
    sequence: int,
    backfill: bool,
    start: int,
    stop: int | None,
) -> data_pb2.ObservationBatch:
    """The columnar batch straight from the columns: one time conversion per distinct 数据时间."""
    batch = data_pb2.ObservationBatch(sequence=sequence, backfill=backfill)
    whole = start == 0 and (stop is None or stop >= len(cols.point_codes))
    stamps = cols.stamps if whole else cols.stamps[start:stop]
    if not stamps:
        return batch
    times = cols.times
    ms = {s: (times[s] - _EPOCH) // _MS for s in set(stamps)}
    base = min(ms.values())
    if max(ms.values()) - base > _SINT32_MAX:
        raise _span_error()
    codes = cols.point_codes if whole else cols.point_codes[start:stop]
    try:
        aliases = list(map(alias_of.__getitem__, codes))
    except KeyError as e:
        raise _alias_error(e.args[0]) from None
    offsets = {s: t - base for s, t in ms.items()}
    batch.base_time.FromMilliseconds(base)
    batch.alias.extend(aliases)
    batch.value.extend(cols.values if whole else cols.values[start:stop])
    batch.time_offset_ms.extend(list(map(offsets.__getitem__, stamps)))
    batch.status.extend(cols.statuses if whole else cols.statuses[start:stop])
    return batch
