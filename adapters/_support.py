"""Helpers for adapters whose devices push data (OPC UA subscriptions, MQTT): re-reporting and problem logs.

:class:`LatestValues` — devices that push only changes may stay silent for minutes; ST-PROTO-025 wants every
point reported at least every report interval (30 s by default for safety monitoring). It remembers what was
last reported per point and hands back, to be stamped "now", those that have been quiet for ``interval_ms``.

:class:`ProblemLog` — bad device data (a garbage payload, a bad value) is counted by reason and logged with the
place (topic, point, node) and the clause it breaks, without letting a flood of garbage flood the log too.

Example::

    latest = LatestValues(interval_ms=30_000)
    latest.note(observations)                    # whatever the adapter just pushed
    await sink.observations(latest.due())        # called every second or so

    problems = ProblemLog(log)
    problems.report("not_json", "ST-DATA-036", "topic kjsim/KJ-FZ-001/data", "不是 JSON", "not JSON")
    problems.counts["not_json"]                  # 1
"""

from __future__ import annotations

import logging
import time
from collections import Counter
from collections.abc import Callable, Iterable

from santong.adapters._mapping import PointMapping
from santong.adapters._sdk import Observation

__all__ = ["DEFAULT_REPORT_INTERVAL_MS", "LatestValues", "ProblemLog", "apply_mapping"]

#: ST-PROTO-025: safety-monitoring points are reported at least every 30 s.
DEFAULT_REPORT_INTERVAL_MS = 30_000


def apply_mapping(mapping: PointMapping | None, raw: float) -> float:
    """A device's native number → engineering value, for devices that send numbers rather than register words.

    Order: ``data_type: bool`` takes bit ``bit`` of the integer (or "raw != 0"); otherwise ``mask`` then
    ``>> shift`` on the integer; then ``raw × scale + offset``. Byte and word order do not apply.

    Example::

        apply_mapping(PointMapping(data_type="int16", scale=0.1), 235)        # 23.5
        apply_mapping(PointMapping(data_type="bool", bit=2), 0b0100)          # 1.0
    """
    if mapping is None:
        return raw
    if mapping.data_type == "bool":
        if mapping.bit is not None:
            return float((int(raw) >> mapping.bit) & 1)
        return 1.0 if raw != 0 else 0.0
    if mapping.mask is not None:
        raw = float((int(raw) & mapping.mask) >> mapping.shift)
    return raw * mapping.scale + mapping.offset


class LatestValues:
    """Per point: the last (value, status) reported and when; ``due()`` re-reports the quiet ones."""

    def __init__(
        self,
        interval_ms: int | None = DEFAULT_REPORT_INTERVAL_MS,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        """``interval_ms`` None or 0 turns re-reporting off."""
        self.interval_ms = interval_ms
        self._clock = clock
        self._last: dict[int | str, tuple[float | int | bool, int, float]] = {}

    def note(self, observations: Iterable[Observation]) -> None:
        """Remember observations that were just pushed."""
        now = self._clock()
        for key, value, _, status in observations:
            self._last[key] = (value, status, now)

    def get(self, key: int | str) -> tuple[float | int | bool, int] | None:
        """The last (value, status) of a point, or None."""
        got = self._last.get(key)
        return None if got is None else (got[0], got[1])

    def due(self) -> list[Observation]:
        """Observations (time None: "now") of the points quiet for the interval; they count as reported."""
        if not self.interval_ms:
            return []
        now = self._clock()
        limit = self.interval_ms / 1000
        out: list[Observation] = []
        for key, (value, status, at) in self._last.items():
            if now - at >= limit:
                out.append((key, value, None, status))
                self._last[key] = (value, status, now)
        return out


class ProblemLog:
    """Counts problems by reason; logs the first ``first`` of each (reason, place), then every ``every``-th."""

    def __init__(self, logger: logging.Logger, *, first: int = 5, every: int = 1000) -> None:
        """Log through ``logger`` at WARNING."""
        self.log = logger
        self.first = first
        self.every = every
        self.counts: Counter[str] = Counter()
        self._seen: Counter[tuple[str, str]] = Counter()

    @property
    def total(self) -> int:
        """Problems counted so far."""
        return sum(self.counts.values())

    def report(self, reason: str, clause_id: str, where: str, zh: str, en: str) -> None:
        """Count one problem and log it (rate-limited per reason and place)."""
        self.counts[reason] += 1
        self._seen[(reason, where)] += 1
        n = self._seen[(reason, where)]
        if n <= self.first or n % self.every == 0:
            more = f" (#{n})" if n > 1 else ""
            self.log.warning("[%s] %s: %s / %s%s", clause_id, where, zh, en, more)
