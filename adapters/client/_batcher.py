"""Screening and batching of observations: the open batch, sealing into ObservationBatch uploads, linger.

What an adapter pushes is screened at the sink (ST-IFACE-004, ST-DATA-018..021, -035) against a table built once
per definition — point code or alias → (alias, kind, range) — so that the per-point work does not read protobuf
fields. Points are appended to the open batch; a batch of ``min(batch.max_points, Limits.max_batch_points)`` is
sealed at once, a smaller one ``batch.linger_ms`` after its first point (or when another upload must follow it).

Example::

    batcher = Batcher(client)
    batcher.index(definitions)                  # PlatformClient._merge_points does this
    await batcher.observations([("14042100000101MNA0010A01", 0.42, None, 0)])
    await batcher.seal()                        # queued as ReportObservations uploads, in production order
"""

from __future__ import annotations

import asyncio
import logging
import math
import time
from collections.abc import Iterable
from typing import TYPE_CHECKING, Any

from santong.adapters._sdk import Observation
from santong.adapters.client._times import ts_of
from santong.protocols.v1 import common_pb2, data_pb2
from santong.protocols.v1 import device_access_pb2 as pb

if TYPE_CHECKING:
    from santong.adapters.client._client import PlatformClient

__all__ = ["Batcher"]

log = logging.getLogger("santong.adapters.client")

SENSOR_FAULT = common_pb2.POINT_STATUS_FLAG_SENSOR_FAULT
OVER_RANGE = common_pb2.POINT_STATUS_FLAG_OVER_RANGE
MAX_OFFSET_MS = 2**31 - 1
_ANALOG, _RANGED, _SWITCH = 0, 1, 2


class Batcher:
    """The open observation batch of one :class:`PlatformClient` (see the module docstring)."""

    def __init__(self, client: PlatformClient) -> None:
        """Empty; :meth:`index` learns the points."""
        self.c = client
        #: point code or alias → (alias, kind, range low, range high)
        self._screen: dict[Any, tuple[int, int, float, float]] = {}
        self._buf: tuple[list[int], list[float], list[int], list[int]] = ([], [], [], [])
        self._started: float | None = None
        self._event = asyncio.Event()
        self._warned: set[tuple[str, Any]] = set()

    def index(self, definitions: Iterable[data_pb2.PointDefinition]) -> None:
        """Learn (or relearn) points with their aliases."""
        for d in definitions:
            if d.value_kind == common_pb2.VALUE_KIND_SWITCH:
                kind = _SWITCH
            else:
                kind = _RANGED if d.range_low < d.range_high else _ANALOG
            entry = (int(d.alias), kind, float(d.range_low), float(d.range_high))
            self._screen[d.point_code] = entry
            self._screen[int(d.alias)] = entry

    def empty(self) -> bool:
        """True when no observation waits in the open batch."""
        return not self._buf[0]

    def _limit(self) -> int:
        c = self.c
        return max(1, min(c.config.batch.max_points, int(c.limits.max_batch_points or 10_000)))

    def _warn_once(self, key: Any, clause_id: str, zh: str, en: str) -> None:
        if not isinstance(key, str | int):  # an unhashable key (a list) is remembered by its text
            key = repr(key)
        if (clause_id, key) not in self._warned:
            self._warned.add((clause_id, key))
            log.warning("[%s] %s / %s", clause_id, zh, en)

    def _drop(self, key: Any, clause_id: str, zh: str, en: str) -> None:
        self.c.stats.observations_dropped += 1
        self._warn_once(key, clause_id, zh, en)

    def _appenders(self) -> tuple[list[int], Any, Any, Any, Any]:
        """The open batch's alias column and the bound ``append`` of each of its four columns."""
        aliases, values, times, statuses = self._buf
        return aliases, aliases.append, values.append, times.append, statuses.append

    async def observations(self, items: Iterable[Observation]) -> None:
        """Screen and batch (see :meth:`PlatformClient.observations`)."""
        limit = self._limit()
        aliases, add_alias, add_value, add_time, add_status = self._appenders()
        n = len(aliases)
        screen_get, isfinite = self._screen.get, math.isfinite
        now: int | None = None
        for key, value, t, status in items:
            # the usual item — a str or int key, a float value, an int status and time — takes no conversion
            kc = key.__class__
            entry = screen_get(key) if kc is str or kc is int or isinstance(key, str | int) else None
            if entry is None:
                self._drop(key, "ST-IFACE-004", f"测点 {key} 未定义，观测值被丢弃",
                           f"point {key} is not defined; its observations are dropped")  # fmt: skip
                continue
            if value.__class__ is float and status.__class__ is int:
                v, s = value, status
            else:
                try:
                    v = float(value)
                    s = int(status)
                except (TypeError, ValueError):
                    self._drop(key, "ST-DATA-035", f"测点 {key} 的值 {value!r} 不是数",
                               f"value {value!r} of point {key} is not a number")  # fmt: skip
                    continue
            alias, kind, lo, hi = entry
            if not isfinite(v):
                self._warn_once(key, "ST-DATA-018", f"测点 {key} 的值 {v} 不是有限数，改报 0 并置传感器故障位",
                                f"value {v} of point {key} is not finite: reported as 0 with the sensor-fault bit")  # fmt: skip
                v, s = 0.0, s | SENSOR_FAULT
            elif kind == _SWITCH:
                if v != 0.0 and v != 1.0:
                    self._drop(key, "ST-DATA-019", f"开关量 {key} 的值 {v} 不是 0 或 1，被丢弃",
                               f"switch {key} value {v} is neither 0 nor 1: dropped")  # fmt: skip
                    continue
            elif kind == _RANGED and (v < lo or v > hi):
                s |= OVER_RANGE
            if not 0 <= s <= 255:
                self._drop(key, "ST-DATA-020", f"测点 {key} 的状态 {s} 含未定义的位，被丢弃",
                           f"status {s} of point {key} has undefined bits: dropped")  # fmt: skip
                continue
            if t is None:
                if now is None:
                    now = self.c.now_ms()
                t = now
            elif t.__class__ is not int:
                t = int(t)
            add_alias(alias)
            add_value(v)
            add_time(t)
            add_status(s)
            n += 1
            if n >= limit:
                await self.seal()
                aliases, add_alias, add_value, add_time, add_status = (
                    self._appenders()
                )  # others may have pushed
                n = len(aliases)
        if aliases and self._started is None:
            self._started = time.monotonic()
            self._event.set()

    async def seal(self) -> None:
        """Turn the open batch into queued ObservationBatch uploads (in production order)."""
        aliases, values, times, statuses = self._buf
        if not aliases:
            return
        self._buf = ([], [], [], [])
        self._started = None
        lo, hi = min(times), max(times)
        if hi - lo <= MAX_OFFSET_MS:
            chunks = [(0, len(aliases), lo)]
        else:  # offsets are sint32: split where the span would overflow
            chunks, start, base = [], 0, times[0]
            for i, t in enumerate(times):
                if abs(t - base) > MAX_OFFSET_MS:
                    chunks.append((start, i, min(times[start:i])))
                    start, base = i, t
            chunks.append((start, len(aliases), min(times[start:])))
        # Limits may have shrunk since the points were pushed (the first Register answered meanwhile, ST-PROTO-008).
        limit = self._limit()
        chunks = [
            (i, min(i + limit, b), min(times[i : min(i + limit, b)]))
            for a, b, _ in chunks
            for i in range(a, b, limit)
        ]
        for a, b, base in chunks:
            batch = data_pb2.ObservationBatch(
                alias=aliases[a:b],
                value=values[a:b],
                time_offset_ms=[t - base for t in times[a:b]],
                status=statuses[a:b],
            )
            batch.base_time.CopyFrom(ts_of(base))
            await self.c._enqueue(
                "ReportObservations", pb.ReportObservationsRequest(batch=batch), min(times[a:b])
            )

    async def linger_loop(self) -> None:
        """Seal the open batch ``linger`` after its first point (runs until cancelled)."""
        while True:
            self._event.clear()
            started = self._started
            if started is None:
                await self._event.wait()
                continue
            delay = started + self.c._linger_s - time.monotonic()
            if delay > 0:
                await asyncio.sleep(delay)
                continue
            try:
                await self.seal()
            except Exception:
                log.exception("写入队列失败 / writing to the queue failed")
                await asyncio.sleep(1.0)
