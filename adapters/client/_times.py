"""Time helpers of the platform client: protobuf Timestamp ↔ ms, and the oldest record time of an upload (what the
backfill rule (e) of ST-PROTO-020 looks at)."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from santong.protocols import set_timestamp_ms
from santong.protocols.v1 import common_pb2
from santong.protocols.v1 import device_access_pb2 as pb

__all__ = ["ms_of", "oldest", "oldest_of", "ts_of"]


def ts_of(ms: int) -> Any:
    """A google.protobuf.Timestamp of ms since the epoch."""
    ts = pb.Ack().server_time
    set_timestamp_ms(ts, ms)
    return ts


def ms_of(ts: Any) -> int | None:
    """Ms since the epoch of a Timestamp; None when it is unset."""
    if ts is None or (ts.seconds == 0 and ts.nanos == 0):
        return None
    return int(ts.seconds) * 1000 + int(ts.nanos) // 1_000_000


def oldest(times: Iterable[Any], default: int) -> int:
    """The earliest of the set times, or ``default``."""
    got = [m for m in (ms_of(t) for t in times) if m is not None]
    return min(got) if got else default


def oldest_of(req: Any, default: int) -> int:
    """The oldest record time of an upload request (what the backfill rule (e) looks at)."""
    if isinstance(req, pb.ReportObservationsRequest):
        b = req.batch
        base = ms_of(b.base_time)
        return default if base is None else base + (min(b.time_offset_ms) if b.time_offset_ms else 0)
    if isinstance(req, pb.ReportAlarmsRequest):
        return oldest(
            (a.end_time if a.state == common_pb2.ALARM_STATE_CLEARED else a.start_time for a in req.alarms),
            default,
        )
    if isinstance(req, pb.ReportOutstationStatusRequest):
        return oldest((s.time for s in req.statuses), default)
    if isinstance(req, pb.ReportStatisticsRequest):
        return oldest((s.end_time for s in req.statistics), default)
    if isinstance(req, pb.ReportPersonnelRequest):
        return oldest([r.time for r in req.records] + [s.time for s in req.stations], default)
    return default
