"""The simulation engine shared by every simulator: generators, scenarios, status bits, alarm episodes.

Time: the engine keeps a *simulated* clock that runs ``speed`` times faster than the real monotonic clock
(``time_compression`` in the profile, ``--speed`` on the command line). Generators and scenario timelines are in
simulated seconds; timestamps that leave the device (MQTT ``ts``, MT-file times, OPC UA source timestamps) are
wall-clock time, so a compressed run never produces timestamps from the future.

Status (测点状态, MT/T 1201 bit mask), evaluated after each update from the point's thresholds:

- 1 报警 alarm: ``value >= alarm_high`` (cleared when ``value < alarm_high_clear``) or ``value < alarm_low``
  (cleared when ``value >= alarm_low_clear``);
- 2 断电 power-off: ``value >= power_off_high`` (restored when ``value < power_restore_high``) or
  ``value <= power_off_low`` (restored when ``value > power_restore_low``); while a point is powered off its
  ``related`` switch points read 0 (the power it cuts);
- 8 超量程 over range: outside ``range``;
- bits forced by a scenario step ``status:`` or a control command (e.g. 128 sensor fault, 4 calibrating).
"""

from __future__ import annotations

import math
import random
import time
import zlib
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Final

from santong.adapters.simulators._profile import GeneratorSpec, Point, Profile, Scenario

__all__ = [
    "ALARM",
    "CALIBRATING",
    "OVER_RANGE",
    "POWER_OFF",
    "SENSOR_FAULT",
    "Episode",
    "Simulation",
]

ALARM: Final = 1
POWER_OFF: Final = 2
CALIBRATING: Final = 4
OVER_RANGE: Final = 8
OUTSTATION_FAULT: Final = 16
SENSOR_FAULT: Final = 128

# 异常类型 (MT/T 1201 YCBJ) of the episodes the engine tracks.
ANOMALY_ALARM: Final = "001"
ANOMALY_POWER_OFF: Final = "002"
ANOMALY_OVER_RANGE: Final = "008"


class _Generator:
    """A running generator: its spec, its own random stream and the simulated time it started."""

    __slots__ = ("spec", "rng", "t0", "x", "start")

    def __init__(self, spec: GeneratorSpec, rng: random.Random, t0: float, current: float | None) -> None:
        self.spec = spec
        self.rng = rng
        self.t0 = t0
        p = spec.params
        self.start = float(p["start"]) if "start" in p else (current if current is not None else 0.0)
        if spec.kind == "random_walk":
            x = current if current is not None else self.start
            self.x = min(max(x, p["min"]), p["max"])
            if "start" not in p:
                self.start = (p["min"] + p["max"]) / 2
        else:
            self.x = self.start

    def value(self, t: float, dt: float) -> float:
        """The value at simulated time ``t``; ``dt`` simulated seconds after the previous call."""
        p = self.spec.params
        k = self.spec.kind
        tt = t - self.t0
        if k == "constant":
            v = float(p["value"])
        elif k == "sine":
            v = p["mean"] + p["amplitude"] * math.sin(2 * math.pi * (tt + p.get("phase", 0.0)) / p["period"])
        elif k == "random_walk":
            if dt > 0:
                x = self.x + self.rng.uniform(-1.0, 1.0) * p["step"] * math.sqrt(dt)
                x += p.get("revert", 0.0) * (self.start - x) * min(dt, 1.0)
                lo, hi = p["min"], p["max"]
                if x < lo:
                    x = min(2 * lo - x, hi)
                elif x > hi:
                    x = max(2 * hi - x, lo)
                self.x = x
            v = self.x
        elif k == "ramp":
            frac = min(max(tt / p["duration"], 0.0), 1.0)
            v = self.start + (p["end"] - self.start) * frac
        elif k == "toggle":
            on, off = p["on_for"], p["off_for"]
            phase = tt % (on + off)
            first_on = p.get("initial", 1) == 1
            v = (1.0 if phase < on else 0.0) if first_on else (0.0 if phase < off else 1.0)
        else:  # steps
            if "repeat" in p:
                tt = tt % p["repeat"]
            v = p["steps"][0][1]
            for at, value in p["steps"]:
                if at > tt:
                    break
                v = value
        if self.spec.noise:
            v += self.rng.uniform(-self.spec.noise, self.spec.noise)
        return float(v)


@dataclass(slots=True)
class Episode:
    """One alarm, power-off or over-range episode of a point (a YCBJ record)."""

    point: str
    anomaly_type: str
    start: datetime
    end: datetime | None = None
    max_value: float = -math.inf
    max_time: datetime | None = None
    min_value: float = math.inf
    min_time: datetime | None = None
    total: float = 0.0
    count: int = 0

    def add(self, value: float, now: datetime) -> None:
        if value > self.max_value:
            self.max_value, self.max_time = value, now
        if value < self.min_value:
            self.min_value, self.min_time = value, now
        self.total += value
        self.count += 1

    @property
    def average(self) -> float:
        return self.total / self.count if self.count else 0.0

    def copy(self) -> Episode:
        return Episode(
            self.point,
            self.anomaly_type,
            self.start,
            self.end,
            self.max_value,
            self.max_time,
            self.min_value,
            self.min_time,
            self.total,
            self.count,
        )


@dataclass(slots=True)
class _PointState:
    point: Point
    rng: random.Random
    base: _Generator
    gen: _Generator
    value: float = 0.0
    status: int = 0
    forced_bits: int = 0
    alarm: bool = False
    power_off: bool = False
    cut: bool = False  # a related point is powered off: this switch reads 0
    episodes: dict[str, Episode] = field(default_factory=dict)


@dataclass(slots=True)
class _Running:
    scenario: Scenario
    started: float
    next_index: int = 0


def _stable_seed(seed: int, name: str) -> int:
    return (seed * 1_000_003) ^ zlib.crc32(name.encode("utf-8"))


class Simulation:
    """Values, status bits and alarm episodes of every point of a profile, on a compressible clock."""

    def __init__(
        self,
        profile: Profile,
        *,
        speed: float | None = None,
        seed: int | None = None,
        clock: Callable[[], float] = time.monotonic,
        wall: Callable[[], datetime] | None = None,
    ) -> None:
        self.profile = profile
        self.seed = profile.seed if seed is None else seed
        self._clock = clock
        self._wall = wall or (lambda: datetime.now(UTC))
        self._speed = float(speed if speed is not None else profile.time_compression)
        if not self._speed > 0:
            raise ValueError(f"speed 必须大于 0 / speed must be > 0, got {self._speed}")
        self._anchor = clock()
        self._sim_at_anchor = 0.0
        self._last_t = 0.0
        self.updates = 0
        self.points: dict[str, _PointState] = {}
        for p in profile.points:
            rng = random.Random(_stable_seed(self.seed, p.name))
            base = _Generator(p.generator, rng, 0.0, None)
            self.points[p.name] = _PointState(p, rng, base, base)
        self._analog = [s for s in self.points.values() if not s.point.is_switch]
        self._switch = [s for s in self.points.values() if s.point.is_switch]
        self._running: list[_Running] = []
        self._events: list[tuple[str, Episode]] = []
        self.now: datetime = self._wall()
        self.update()

    # ------------------------------------------------------------------------------------- clock

    @property
    def speed(self) -> float:
        """Simulated seconds per real second."""
        return self._speed

    @speed.setter
    def speed(self, value: float) -> None:
        if not value > 0:
            raise ValueError(f"speed 必须大于 0 / speed must be > 0, got {value}")
        now = self._clock()
        self._sim_at_anchor = self.sim_time(now)
        self._anchor = now
        self._speed = float(value)

    def sim_time(self, now: float | None = None) -> float:
        """Simulated seconds since the start."""
        return self._sim_at_anchor + ((self._clock() if now is None else now) - self._anchor) * self._speed

    # ------------------------------------------------------------------------------------- control

    def start_scenario(self, name: str) -> Scenario:
        """Start the named scenario now (several may run at once)."""
        scenario = self.profile.scenarios.get(name)
        if scenario is None:
            raise KeyError(
                f"没有场景 / no scenario {name!r}; scenarios: {', '.join(self.profile.scenarios) or '(none)'}"
            )
        self._running.append(_Running(scenario, self._last_t))
        return scenario

    def stop_scenarios(self) -> None:
        """Stop every running scenario and give every point its own generator and status back."""
        self._running.clear()
        for s in self.points.values():
            self._restore(s)
            s.forced_bits = 0

    @property
    def running_scenarios(self) -> list[str]:
        """Names of the scenarios still running."""
        return [r.scenario.name for r in self._running]

    def _state(self, name: str) -> _PointState:
        s = self.points.get(name)
        if s is None:
            raise KeyError(f"没有测点 / no point {name!r}; points: {', '.join(self.points)}")
        return s

    def force(self, name: str, value: float) -> None:
        """Hold a point at ``value`` until :meth:`release` (or a scenario step) changes it."""
        s = self._state(name)
        if s.point.is_switch and value not in (0, 1):
            raise ValueError(f"开关量只能是 0 或 1 / a switch point takes 0 or 1, got {value!r}")
        s.gen = _Generator(GeneratorSpec("constant", {"value": float(value)}), s.rng, self._last_t, s.value)

    def set_generator(self, name: str, spec: GeneratorSpec) -> None:
        """Give a point a new generator, starting now from its current value."""
        s = self._state(name)
        s.gen = _Generator(spec, s.rng, self._last_t, s.value)

    def release(self, name: str) -> None:
        """Give a point its own generator back."""
        self._restore(self._state(name))

    def set_status_bits(self, name: str, bits: int) -> None:
        """Force status bits on a point (128 sensor fault, 4 calibrating …); 0 clears them."""
        if not 0 <= bits <= 255:
            raise ValueError(f"状态位应为 0..255 / status bits must be 0..255, got {bits}")
        self._state(name).forced_bits = bits

    def _restore(self, s: _PointState) -> None:
        if s.gen is not s.base:
            s.base = _Generator(s.point.generator, s.rng, 0.0, s.value)
            s.gen = s.base

    # ------------------------------------------------------------------------------------- update

    def update(self, now: float | None = None) -> None:
        """Advance to the current time: scenario steps, generator values, status bits, episodes."""
        t = self.sim_time(now)
        dt = max(t - self._last_t, 0.0)
        self._last_t = t
        self.now = self._wall()
        self._run_scenarios(t)
        for s in self._analog:
            p = s.point
            v = round(s.gen.value(t, dt), p.decimals)
            s.value = v
            self._thresholds(s, v)
        cut = {r for s in self._analog if s.power_off for r in s.point.related}
        for s in self._switch:
            v = 1.0 if s.gen.value(t, dt) >= 0.5 else 0.0
            s.cut = s.point.name in cut
            s.value = 0.0 if s.cut else v
            s.status = s.forced_bits
        self.updates += 1

    def _run_scenarios(self, t: float) -> None:
        for run in list(self._running):
            timeline = run.scenario.timeline
            while run.next_index < len(timeline) and timeline[run.next_index].at <= t - run.started:
                step = timeline[run.next_index]
                s = self.points[step.point]
                if step.generator is not None:
                    s.gen = _Generator(step.generator, s.rng, run.started + step.at, s.value)
                elif step.restore:
                    self._restore(s)
                elif step.status is not None:
                    s.forced_bits = step.status
                run.next_index += 1
            if run.next_index >= len(timeline):
                self._running.remove(run)

    def _thresholds(self, s: _PointState, v: float) -> None:
        th = s.point.thresholds
        alarm = s.alarm
        if alarm:
            high_ok = "alarm_high" not in th or v < th.get("alarm_high_clear", th["alarm_high"])
            low_ok = "alarm_low" not in th or v >= th.get("alarm_low_clear", th["alarm_low"])
            alarm = not (high_ok and low_ok)
        else:
            alarm = ("alarm_high" in th and v >= th["alarm_high"]) or (
                "alarm_low" in th and v < th["alarm_low"]
            )
        off = s.power_off
        if off:
            high_ok = "power_off_high" not in th or v < th.get("power_restore_high", th["power_off_high"])
            low_ok = "power_off_low" not in th or v > th.get("power_restore_low", th["power_off_low"])
            off = not (high_ok and low_ok)
        else:
            off = ("power_off_high" in th and v >= th["power_off_high"]) or (
                "power_off_low" in th and v <= th["power_off_low"]
            )
        over = not s.point.range_low <= v <= s.point.range_high
        s.alarm, s.power_off = alarm, off
        s.status = (
            (ALARM if alarm else 0) | (POWER_OFF if off else 0) | (OVER_RANGE if over else 0) | s.forced_bits
        )
        for kind, active in ((ANOMALY_ALARM, alarm), (ANOMALY_POWER_OFF, off), (ANOMALY_OVER_RANGE, over)):
            ep = s.episodes.get(kind)
            if active:
                if ep is None:
                    ep = s.episodes[kind] = Episode(s.point.name, kind, self.now)
                    ep.add(v, self.now)
                    self._events.append(("start", ep.copy()))
                else:
                    ep.add(v, self.now)
            elif ep is not None:
                ep.end = self.now
                del s.episodes[kind]
                self._events.append(("end", ep.copy()))

    # ------------------------------------------------------------------------------------- reading

    def value(self, name: str) -> float:
        """The current value of a point."""
        return self._state(name).value

    def status(self, name: str) -> int:
        """The current status bits of a point."""
        return self._state(name).status

    def snapshot(self) -> dict[str, dict[str, float | int]]:
        """``{point: {"value": v, "status": s}}`` for every point."""
        return {n: {"value": s.value, "status": s.status} for n, s in self.points.items()}

    def drain_events(self) -> list[tuple[str, Episode]]:
        """Episode starts and ends since the last call: ``("start" | "end", episode)``."""
        out, self._events = self._events, []
        return out

    def open_episodes(self) -> list[Episode]:
        """Episodes still running."""
        return [ep.copy() for s in self.points.values() for ep in s.episodes.values()]
