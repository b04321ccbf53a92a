"""What the validation core needs to know about a device and the platform's limits."""

from __future__ import annotations

import time
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from santong.protocols._wire import BatchWire
from santong.protocols.v1 import common_pb2, data_pb2, device_access_pb2

__all__ = ["DEFAULT_LIMITS", "DeviceState", "ValidationContext", "default_limits", "timestamp_ms"]

SWITCH = common_pb2.VALUE_KIND_SWITCH


def default_limits() -> device_access_pb2.Limits:
    """The limits of spec v1 (统一协议): batch, message size, clock skew, heartbeat, rate."""
    return device_access_pb2.Limits(
        max_batch_points=10_000,
        max_message_bytes=4 * 1024 * 1024,
        max_clock_skew_ms=5_000,
        heartbeat_interval_ms=30_000,
        offline_after_missed=3,
        max_uploads_per_second=200,
        max_points_per_definition=10_000,
    )


DEFAULT_LIMITS = default_limits()
LIVE_MAX_AGE_MS = 300_000


def timestamp_ms(ts: Any) -> int:
    """Milliseconds since the epoch of a google.protobuf.Timestamp."""
    return int(ts.seconds) * 1000 + int(ts.nanos) // 1_000_000


def set_timestamp_ms(ts: Any, ms: int) -> None:
    """Set a google.protobuf.Timestamp (a message's field, in place) to ms since the epoch: the inverse of
    :func:`timestamp_ms`."""
    ts.seconds, ts.nanos = ms // 1000, ms % 1000 * 1_000_000


@dataclass
class DeviceState:
    """What the platform knows of one device: its definitions, alarms and last sequence.

    The core reads it to validate; call :meth:`apply` after a message was accepted and stored.
    """

    device_id: str = ""
    mine_code: str = ""
    points: dict[int, data_pb2.PointDefinition] = field(default_factory=dict)
    aliases_by_code: dict[str, int] = field(default_factory=dict)
    outstations: set[str] = field(default_factory=set)
    areas: set[str] = field(default_factory=set)
    stations: set[str] = field(default_factory=set)
    raised_alarms: set[str] = field(default_factory=set)
    # The last acknowledged sequence of the current sequence epoch (ST-PROTO-037; 0 until a v1.1 device declares
    # one at Register): a new epoch starts the count again.
    last_sequence: int = 0
    sequence_epoch: int = 0
    # Hot-path caches, rebuilt by apply().
    alias_set: frozenset[int] = frozenset()
    switch_aliases: frozenset[int] = frozenset()
    ranges: dict[int, tuple[float, float]] = field(default_factory=dict)
    lows: dict[int, float] = field(default_factory=dict)
    highs: dict[int, float] = field(default_factory=dict)
    max_low: float = float("inf")
    min_high: float = float("-inf")
    # The core's memo of the last alias column it found all defined, as encoded (ValidationContext.batch_wire):
    # (column bytes, the alias_set it was judged against, no switch alias among them, the aliases). Stale once
    # apply() rebuilds alias_set: compared by identity.
    alias_memo: tuple[bytes, frozenset[int], bool, list[int]] | None = field(
        default=None, compare=False, repr=False
    )
    # ... and of the last time-offset column it read, as encoded: (column bytes, its offsets, their least and
    # greatest). Devices sampling on a fixed schedule send the same offsets batch after batch; the same bytes are
    # the same integers, whatever the definitions.
    offset_memo: tuple[bytes, list[int], tuple[int, int]] | None = field(
        default=None, compare=False, repr=False
    )

    def _rebuild(self) -> None:
        self.alias_set = frozenset(self.points)
        self.switch_aliases = frozenset(a for a, p in self.points.items() if p.value_kind == SWITCH)
        self.ranges = {
            a: (p.range_low, p.range_high) for a, p in self.points.items() if p.value_kind != SWITCH
        }
        inf = float("inf")
        self.lows = {a: self.ranges.get(a, (-inf, inf))[0] for a in self.points}
        self.highs = {a: self.ranges.get(a, (-inf, inf))[1] for a in self.points}
        # The interval every point's range contains (empty when the ranges do not overlap): the core's first screen.
        self.max_low = max(self.lows.values(), default=inf)
        self.min_high = min(self.highs.values(), default=-inf)

    def define_points(self, points: Any) -> None:
        """Record accepted point definitions."""
        for p in points:
            self.points[p.alias] = p
            self.aliases_by_code[p.point_code] = p.alias
        self._rebuild()

    def apply(self, message: Any) -> None:
        """Update the state with an accepted (validated and stored) message."""
        name = message.DESCRIPTOR.name
        if name == "RegisterRequest":
            self.device_id = message.device.device_id or self.device_id
            self.mine_code = message.mine.mine_code or message.device.mine_code or self.mine_code
            if message.sequence_epoch > self.sequence_epoch:  # a new sequence epoch (ST-PROTO-037)
                self.sequence_epoch, self.last_sequence = int(message.sequence_epoch), 0
        elif name == "DefinePointsRequest":
            self.define_points(message.points)
            self.outstations.update(o.outstation_code for o in message.outstations)
        elif name == "DefinePositioningRequest":
            self.areas.update(a.area_code for a in message.areas)
            self.stations.update(s.station_code for s in message.stations)
        elif name == "ReportAlarmsRequest":
            for a in message.alarms:
                if a.state == common_pb2.ALARM_STATE_RAISED:
                    self.raised_alarms.add(a.alarm_id)
                else:
                    self.raised_alarms.discard(a.alarm_id)
        seq = _sequence_of(message)
        if seq is not None and seq > self.last_sequence:
            self.last_sequence = seq


def _sequence_of(message: Any) -> int | None:
    name = message.DESCRIPTOR.name
    if name in ("ReportObservationsRequest", "StreamObservationsRequest"):
        return int(message.batch.sequence)
    if name == "ObservationBatch":
        return int(message.sequence)
    if name in (
        "ReportAlarmsRequest",
        "ReportOutstationStatusRequest",
        "ReportStatisticsRequest",
        "ReportPersonnelRequest",
    ):
        return int(message.sequence)
    return None


@dataclass
class ValidationContext:
    """Device state, limits and the server clock used by one validation."""

    state: DeviceState = field(default_factory=DeviceState)
    limits: device_access_pb2.Limits = field(default_factory=default_limits)
    now_ms: int | None = None
    # False when validating recorded files offline: the age-at-arrival rule (ST-DATA-032) does not apply.
    arrival: bool = True
    # MT/T files only (santong validate, the mtfile adapter; never certification): a site mapping's type codes as
    # the point codes' sensor-type segment holds them → dictionary code (ST-DATA-004).
    type_segments: Mapping[str, str] = field(default_factory=dict)
    # The spec version negotiated at Register (ST-PROTO-004): fields added after it are unknown (ST-DATA-034).
    # None: the newest, every compiled field known.
    version: str | None = None
    # Set by the ObservationBatch rule: (earliest, latest) observation time in ms of the batch it judged (None
    # until then, or when base_time is out of range), so that the platform stores the span without a second pass.
    # Always set for a batch with no MUST violation (the platform stores a batch skeleton's span from it).
    time_span_ms: tuple[int, int] | None = None
    # The alias, time_offset_ms and status columns of the one observation batch being validated, as lists equal to
    # the message's (santong.protocols.decode_json_lists returns them): the batch rule reads them instead of copying
    # the message's columns. None: copied from the message.
    batch_lists: tuple[list[int], list[int], list[int]] | None = None
    # The encoding of the one observation upload being validated, walked (santong.protocols.batch_wire on the bytes
    # the message was parsed from): the batch rule reads column facts from it instead of copying columns. None: it
    # reads the message.
    batch_wire: BatchWire | None = None
    # True when the message is santong.protocols.batch_skeleton(batch_wire): its batch holds no column, the rule
    # reads them all from batch_wire and the state's memos. The caller found santong.protocols.batch_covered(
    # batch_wire, state) with nothing applied to the state since (the rule checks only that the memos still stand).
    batch_skeleton: bool = False

    def clock_ms(self) -> int:
        """The server time in ms (fixed when now_ms is given, for reproducible tests)."""
        return self.now_ms if self.now_ms is not None else int(time.time() * 1000)
