"""Threshold alarms of analog points (ST-PROTO-027), shared by every adapter that sees raw values.

:class:`AlarmTracker` compares each new value of a point with the point's thresholds (its PointDefinition) and
keeps one episode per point and kind. Rules, in the point's unit:

==============  ===========================================  ===========================================  ====
kind            raised when                                  cleared when                                 bit
==============  ===========================================  ===========================================  ====
over-limit      ``v >= alarm_high`` or ``v <= alarm_low``    ``v < alarm_high_clear`` and                 1
(anomaly 001)                                                ``v > alarm_low_clear`` (clear thresholds
                                                             default to the alarm thresholds)
power-off       ``v >= power_off_high`` or                   ``v < power_restore_high`` and               2
(anomaly 002)   ``v <= power_off_low``                       ``v > power_restore_low`` (restore
                                                             thresholds default to the power-off ones)
==============  ===========================================  ===========================================  ====

A RAISED :class:`~santong.protocols.v1.data_pb2.Alarm` is produced when an episode starts, a CLEARED one with
the same ``alarm_id``, ``end_time`` and the episode's max/min/avg (ST-DATA-023, -024) when it ends. While an
episode runs the tracker answers its status bit, which the adapter puts into the observation status (the bits a
point has thresholds for are the tracker's to decide: see :meth:`AlarmTracker.managed`). Switch points and
points without thresholds are not tracked. Non-finite values are ignored (ST-DATA-018).

Example::

    tracker = AlarmTracker(p.definition for p in adapter.config.points)
    bits = tracker.update(code, 1.23, sink.now_ms())       # 1 while the over-limit alarm is raised
    status = device_status & ~tracker.managed(code) | bits
    await sink.observations([point.observation(1.23, now, status)])
    if alarms := tracker.drain():
        await sink.alarms(alarms)
"""

from __future__ import annotations

import math
from collections.abc import Iterable
from dataclasses import dataclass, field

from google.protobuf.timestamp_pb2 import Timestamp
from santong.protocols import set_timestamp_ms
from santong.protocols.v1 import common_pb2, data_pb2

__all__ = ["AlarmTracker"]

ALARM = common_pb2.POINT_STATUS_FLAG_ALARM
POWER_OFF = common_pb2.POINT_STATUS_FLAG_POWER_OFF


def _ts(ms: int) -> Timestamp:
    ts = Timestamp()
    set_timestamp_ms(ts, ms)
    return ts


@dataclass(slots=True)
class _Rule:
    """One kind of episode of one point: thresholds, its bit and anomaly type."""

    bit: int
    anomaly: int
    tag: str
    high: float | None
    high_clear: float | None
    low: float | None
    low_clear: float | None

    def raised(self, v: float) -> bool:
        return (self.high is not None and v >= self.high) or (self.low is not None and v <= self.low)

    def cleared(self, v: float) -> bool:
        return (self.high_clear is None or v < self.high_clear) and (
            self.low_clear is None or v > self.low_clear
        )


@dataclass(slots=True)
class _Episode:
    """A running alarm: its message and statistics so far."""

    alarm: data_pb2.Alarm
    start_ms: int
    n: int = 1
    total: float = 0.0
    max_v: float = 0.0
    max_ms: int = 0
    min_v: float = 0.0
    min_ms: int = 0

    def add(self, v: float, t: int) -> None:
        self.n += 1
        self.total += v
        if v > self.max_v:
            self.max_v, self.max_ms = v, t
        if v < self.min_v:
            self.min_v, self.min_ms = v, t


@dataclass(slots=True)
class _Point:
    definition: data_pb2.PointDefinition
    rules: tuple[_Rule, ...]
    mask: int
    bits: int = 0
    open: dict[str, _Episode] = field(default_factory=dict)
    #: No rule is raised strictly between these (the usual reading): with no episode open, nothing to do.
    quiet_low: float = -math.inf
    quiet_high: float = math.inf

    def __post_init__(self) -> None:
        highs = [r.high for r in self.rules if r.high is not None]
        lows = [r.low for r in self.rules if r.low is not None]
        self.quiet_high = min(highs, default=math.inf)
        self.quiet_low = max(lows, default=-math.inf)


def _opt(d: data_pb2.PointDefinition, name: str) -> float | None:
    return float(getattr(d, name)) if d.HasField(name) else None


def _rules(d: data_pb2.PointDefinition) -> tuple[_Rule, ...]:
    rules = []
    hi, lo = _opt(d, "alarm_high"), _opt(d, "alarm_low")
    if hi is not None or lo is not None:
        hc, lc = _opt(d, "alarm_high_clear"), _opt(d, "alarm_low_clear")
        rules.append(
            _Rule(ALARM, common_pb2.ANOMALY_TYPE_OVER_LIMIT, "OL", hi, hi if hc is None and hi is not None else hc,
                  lo, lo if lc is None and lo is not None else lc)
        )  # fmt: skip
    hi, lo = _opt(d, "power_off_high"), _opt(d, "power_off_low")
    if hi is not None or lo is not None:
        hc, lc = _opt(d, "power_restore_high"), _opt(d, "power_restore_low")
        rules.append(
            _Rule(POWER_OFF, common_pb2.ANOMALY_TYPE_POWER_OFF, "PO", hi, hi if hc is None and hi is not None else hc,
                  lo, lo if lc is None and lo is not None else lc)
        )  # fmt: skip
    return tuple(rules)


class AlarmTracker:
    """Raises and clears threshold alarms per point; see the module docstring for the rules.

    ``alarm_id`` is ``{point_code}-{OL|PO}-{start ms}``: unique per device, shared by the raise and its clear.
    """

    def __init__(self, definitions: Iterable[data_pb2.PointDefinition]) -> None:
        """Index the analog points that have thresholds."""
        self._points: dict[str, _Point] = {}
        self._events: list[data_pb2.Alarm] = []
        for d in definitions:
            if d.value_kind == common_pb2.VALUE_KIND_SWITCH:
                continue
            rules = _rules(d)
            if rules:
                self._points[d.point_code] = _Point(d, rules, sum(r.bit for r in rules))

    def __contains__(self, point_code: object) -> bool:
        return point_code in self._points

    def record(self, point_code: str) -> _Point | None:
        """The tracker's state of one point (None: not tracked). A hot loop may skip :meth:`update` while
        ``not record.open and record.quiet_low < value < record.quiet_high``: update would return ``record.bits``."""
        return self._points.get(point_code)

    def managed(self, point_code: str) -> int:
        """The status bits the tracker decides for this point (0: not tracked)."""
        p = self._points.get(point_code)
        return p.mask if p is not None else 0

    def bits(self, point_code: str) -> int:
        """The status bits of the episodes running now for this point."""
        p = self._points.get(point_code)
        return p.bits if p is not None else 0

    def update(self, point_code: str, value: float, time_ms: int) -> int:
        """Feed one value read at ``time_ms``; returns the point's status bits (alarms queued for :meth:`drain`)."""
        p = self._points.get(point_code)
        if p is None:
            return 0
        v = float(value)
        if not p.open and p.quiet_low < v < p.quiet_high:  # false for NaN
            return p.bits
        if not math.isfinite(v):
            return p.bits
        cleared: list[_Episode] = []
        for rule in p.rules:
            ep = p.open.get(rule.tag)
            if ep is None:
                if rule.raised(v):
                    p.open[rule.tag] = self._raise(p, rule, v, time_ms)
                    p.bits |= rule.bit
            elif rule.cleared(v):
                del p.open[rule.tag]
                p.bits &= ~rule.bit
                cleared.append(ep)
            else:
                ep.add(v, time_ms)
        for ep in reversed(cleared):  # nested episodes end inside out: power-off before over-limit
            self._clear(ep, v, time_ms)
        return p.bits

    def drain(self) -> list[data_pb2.Alarm]:
        """The alarms raised and cleared since the last call, in order."""
        out, self._events = self._events, []
        return out

    def open_alarms(self) -> list[data_pb2.Alarm]:
        """The RAISED alarms of the episodes still running."""
        return [ep.alarm for p in self._points.values() for ep in p.open.values()]

    def _raise(self, p: _Point, rule: _Rule, v: float, t: int) -> _Episode:
        d = p.definition
        a = data_pb2.Alarm(
            alarm_id=f"{d.point_code}-{rule.tag}-{t}",
            point_code=d.point_code,
            sensor_type=d.sensor_type,
            location=d.location,
            unit=d.unit,
            anomaly_type=rule.anomaly,  # type: ignore[arg-type]
            state=common_pb2.ALARM_STATE_RAISED,
            max_value=v,
            min_value=v,
            avg_value=v,
        )
        a.start_time.CopyFrom(_ts(t))
        a.max_time.CopyFrom(_ts(t))
        a.min_time.CopyFrom(_ts(t))
        self._events.append(a)
        return _Episode(a, t, 1, v, v, t, v, t)

    def _clear(self, ep: _Episode, v: float, t: int) -> None:
        t = max(t, ep.start_ms)
        a = data_pb2.Alarm()
        a.CopyFrom(ep.alarm)
        a.state = common_pb2.ALARM_STATE_CLEARED
        a.end_time.CopyFrom(_ts(t))
        a.max_value, a.min_value, a.avg_value = ep.max_v, ep.min_v, ep.total / ep.n
        a.max_time.CopyFrom(_ts(ep.max_ms))
        a.min_time.CopyFrom(_ts(ep.min_ms))
        self._events.append(a)
