"""MT/T 1201 (KJ) file simulator: a mine's safety-monitoring system dropping text files into a folder.

What it writes into ``out`` (names ``{煤矿编码}_{TYPE}_{yyyyMMddHHmmss}.txt``, China local time, like KJ software):

- once at start: ``CDDY`` (every point's definition) and ``FZDY`` (every outstation);
- every period: ``CDSS`` (every point's value and status) and ``FZSS`` (every outstation's state);
- ``YCBJ`` when an alarm, power-off or over-range episode starts (end time empty) and when it ends;
- ``TJSJ`` (min/max/average per analog point) every ``stats_every`` seconds, when asked.

Points: the profile's (default ``kj-substation``); with ``points=N`` the profile's point set is repeated over
as many outstations as needed (outstation k: own codes ``{k:03d}A01…``, outstation code mine code + ``{k:03d}``)
to make N points — a mine of thousands of points. ``mine_code`` re-codes everything for another mine. Scenarios
run on outstation 1 (its points keep the profile's names). The simulated clock advances ``every`` × speed
simulated seconds per period, so a scenario unfolds over the same files however loaded the machine is.

Writing: like KJ software, in place: the body first, then the final ``||`` (``slow`` seconds later, the body
itself spread over that time) — a reader must import a file only once it ends with ``||``. ``atomic=True``
writes to a hidden ``.part`` file and renames it instead.

Malformed files on request (:data:`MALFORMED_KINDS`, the clause a reader should cite in brackets):
``missing-end`` (no final ``||``, ST-DATA-041), ``truncated`` (cut inside a record, 041), ``empty`` (041),
``field-count`` (a record with a field missing, 042), ``bad-encoding`` (neither UTF-8 nor GBK, 043),
``bad-time`` (044), ``bad-number`` (045), ``bad-status`` (045), ``unknown-type`` (046), ``mine-mismatch``
(header mine code ≠ file name, 047), ``bad-name`` (040) — and ``gbk``: a *valid* file in the legacy GBK
encoding that a robust reader must accept.
"""

from __future__ import annotations

import dataclasses
import math
import os
import time
from collections.abc import Callable, Iterable
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any, Final

from santong.adapters.mtfile import format_time, write_file
from santong.adapters.simulators._engine import (
    ANOMALY_ALARM,
    ANOMALY_OVER_RANGE,
    ANOMALY_POWER_OFF,
    Episode,
    Simulation,
)
from santong.adapters.simulators._profile import THRESHOLD_KEYS, Point, Profile, load_profile
from santong.protocols import code_rules

__all__ = ["MALFORMED_KINDS", "MALFORMED_CLAUSES", "MtFileSimulator", "expand_profile"]

MALFORMED_CLAUSES: Final[dict[str, str | None]] = {
    "missing-end": "ST-DATA-041",
    "truncated": "ST-DATA-041",
    "empty": "ST-DATA-041",
    "field-count": "ST-DATA-042",
    "bad-encoding": "ST-DATA-043",
    "bad-time": "ST-DATA-044",
    "bad-number": "ST-DATA-045",
    "bad-status": "ST-DATA-045",
    "unknown-type": "ST-DATA-046",
    "mine-mismatch": "ST-DATA-047",
    "bad-name": "ST-DATA-040",
    "gbk": None,
}
MALFORMED_KINDS: Final = tuple(MALFORMED_CLAUSES)

_KIND_SEGMENT: Final = {"ANALOG": "MN", "SWITCH": "KG", "ACCUMULATOR": "LJ"}
_ANOMALY_TEXT: Final = {
    ANOMALY_ALARM: "超限报警",
    ANOMALY_POWER_OFF: "断电",
    ANOMALY_OVER_RANGE: "超量程",
}


def _fmt(x: float | None) -> str:
    """A plain decimal number (no exponent, no trailing zeros), empty for None."""
    if x is None:
        return ""
    text = f"{x:.6f}".rstrip("0").rstrip(".")
    return "0" if text in ("-0", "") else text


def _recode(code: str, mine: str) -> str:
    return mine + code[12:]


def expand_profile(
    profile: Profile, *, points: int | None = None, mine_code: str | None = None, mine_name: str | None = None
) -> tuple[Profile, dict[str, str], list[tuple[str, str, Point]]]:
    """Re-code ``profile`` for ``mine_code`` and repeat its points over outstations up to ``points`` points.

    Returns the new profile, point name → outstation code, and the outstations as (code, location, first point).
    """
    mine = mine_code or profile.device.mine_code
    rule = code_rules()["mine"]
    if rule.pattern.fullmatch(mine) is None:
        raise ValueError(
            f"煤矿编码 {mine!r} 无效（ST-DATA-001），如 {rule.example} / invalid mine code {mine!r}"
        )
    d = profile.device
    device = dataclasses.replace(
        d,
        mine_code=mine,
        mine_name=mine_name or d.mine_name,
        outstation_code=_recode(d.outstation_code, mine),
    )
    template = profile.points
    if points is None:
        pts = [dataclasses.replace(p, point_code=_recode(p.point_code, mine)) for p in template]
        station_of = {p.name: device.outstation_code for p in pts}
        expanded = dataclasses.replace(profile, device=device, points=tuple(pts))
        return expanded, station_of, [(device.outstation_code, d.location, pts[0])]
    if points < 1:
        raise ValueError("points 应 ≥ 1 / points must be >= 1")
    n_stations = math.ceil(points / len(template))
    width = 3 if n_stations <= 999 else 4
    template_station = d.outstation_code[12:]
    out: list[Point] = []
    station_of = {}
    stations: list[tuple[str, str, Point]] = []
    for k in range(1, n_stations + 1):
        own_station = f"{k:0{width}d}"
        station = mine + own_station
        names = {p.name: (p.name if k == 1 else f"{p.name}_{own_station}") for p in template}
        first: Point | None = None
        for ch, p in enumerate(template, 1):
            if len(out) >= points:
                break
            own = p.own_code
            if own.startswith(template_station) and len(own_station + own[len(template_station) :]) <= 8:
                own = own_station + own[len(template_station) :]  # 001A01 → 002A01 …
            else:
                own = f"{own_station}{'K' if p.is_switch else 'A'}{ch:02d}"
            code = f"{mine}{d.system_code}{_KIND_SEGMENT[p.value_kind]}{p.sensor_type}{own}"
            q = dataclasses.replace(
                p,
                name=names[p.name],
                point_code=code,
                location=p.location if k == 1 else f"{p.location}（{own_station} 分站）",
                related=tuple(names[r] for r in p.related),
                x=p.x + 50.0 * (k - 1),
                modbus=None,
                opcua=None,
                mqtt=None,
            )
            out.append(q)
            station_of[q.name] = station
            first = first or q
        assert first is not None
        stations.append((station, d.location if k == 1 else f"{d.location}（{own_station} 分站）", first))
    present = set(station_of)
    out = [
        q
        if set(q.related) <= present
        else dataclasses.replace(q, related=tuple(r for r in q.related if r in present))
        for q in out
    ]  # the last outstation may be cut short
    expanded = dataclasses.replace(profile, device=device, points=tuple(out))
    return expanded, station_of, stations


@dataclasses.dataclass(slots=True)
class _Stats:
    start: datetime
    max_value: float = -math.inf
    max_time: datetime | None = None
    min_value: float = math.inf
    min_time: datetime | None = None
    total: float = 0.0
    count: int = 0


class MtFileSimulator:
    """Writes MT/T 1201 files for a mine into ``out`` (see the module docstring)."""

    def __init__(
        self,
        out: str | os.PathLike[str],
        *,
        profile: Profile | str | None = None,
        mine_code: str | None = None,
        mine_name: str | None = None,
        points: int | None = None,
        every: float = 5.0,
        speed: float | None = None,
        seed: int | None = None,
        scenario: str | None = None,
        encoding: str = "utf-8",
        slow: float = 0.0,
        atomic: bool = False,
        stats_every: float | None = None,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        base = load_profile(profile or "kj-substation") if not isinstance(profile, Profile) else profile
        self.profile, self.station_of, self.stations = expand_profile(
            base, points=points, mine_code=mine_code, mine_name=mine_name
        )
        if encoding not in ("utf-8", "gbk"):
            raise ValueError(f"encoding 须为 utf-8 或 gbk / encoding must be utf-8 or gbk, not {encoding!r}")
        if every <= 0:
            raise ValueError("every 应大于 0 / every must be > 0")
        self.out = Path(out)
        self.out.mkdir(parents=True, exist_ok=True)
        self.every = every
        self.encoding = encoding
        self.slow = slow
        self.atomic = atomic
        self.stats_every = stats_every
        self._sleep = sleep
        # The simulated clock advances by one period per step (``every`` × speed simulated seconds), however long
        # writing takes: a loaded machine writes the same files, only later. Times in the files are wall-clock.
        self._ticks = 0.0
        self.engine = Simulation(self.profile, speed=speed, seed=seed, clock=lambda: self._ticks)
        if scenario:
            self.engine.start_scenario(scenario)
        self.written: list[Path] = []
        self._names: set[str] = set()
        self.periods = 0
        self._defined = False
        self._stats: dict[str, _Stats] = {}
        self._stats_started = time.monotonic()
        self._last_stamp: datetime | None = None

    @property
    def mine_code(self) -> str:
        return self.profile.device.mine_code

    @property
    def mine_name(self) -> str:
        return self.profile.device.mine_name

    # ------------------------------------------------------------------------------------- records

    def _now(self) -> datetime:
        return self.engine.now

    def definition_records(self) -> list[list[str]]:
        """CDDY: one record per point."""
        t = format_time(self._now())
        by_name = {p.name: p for p in self.profile.points}
        rows = []
        for p in self.profile.points:
            th = p.thresholds
            rows.append(
                [
                    p.point_code,
                    self.profile.device.system_code,
                    self.station_of[p.name],
                    p.sensor_type,
                    _KIND_SEGMENT[p.value_kind],
                    p.unit,
                    _fmt(p.range_high),
                    _fmt(p.range_low),
                    *(_fmt(th.get(k)) for k in THRESHOLD_KEYS),
                    p.on_description,
                    p.off_description,
                    p.location,
                    _fmt(p.x),
                    _fmt(p.y),
                    _fmt(p.z),
                    ",".join(by_name[r].point_code for r in p.related),
                    t,
                ]
            )
        return rows

    def outstation_records(self) -> list[list[str]]:
        """FZDY: one record per outstation."""
        return [
            [code, loc, _fmt(first.x), _fmt(first.y), _fmt(first.z)] for code, loc, first in self.stations
        ]

    def realtime_records(self) -> list[list[str]]:
        """CDSS: every point's current value and status."""
        t = format_time(self._now())
        rows = []
        for p in self.profile.points:
            s = self.engine.points[p.name]
            value = str(int(s.value)) if p.is_switch else f"{s.value:.{p.decimals}f}"
            rows.append([p.point_code, p.sensor_type, p.location, value, p.unit, str(s.status), t])
        return rows

    def outstation_status_records(self) -> list[list[str]]:
        """FZSS: every outstation communicating normally on AC power."""
        t = format_time(self._now())
        return [[code, "0", "2", t] for code, _, _ in self.stations]

    def alarm_records(self, events: Iterable[tuple[str, Episode]]) -> list[list[str]]:
        """YCBJ: one record per episode start (no end time) or end."""
        t = format_time(self._now())
        by_name = {p.name: p for p in self.profile.points}
        rows = []
        for what, ep in events:
            p = by_name[ep.point]
            text = _ANOMALY_TEXT.get(ep.anomaly_type, "异常")
            rows.append(
                [
                    p.point_code,
                    p.sensor_type,
                    p.location,
                    p.unit,
                    ep.anomaly_type,
                    format_time(ep.start),
                    format_time(ep.end) if ep.end is not None and what == "end" else "",
                    f"{ep.max_value:.{p.decimals}f}",
                    format_time(ep.max_time or ep.start),
                    f"{ep.min_value:.{p.decimals}f}",
                    format_time(ep.min_time or ep.start),
                    f"{ep.average:.{p.decimals}f}",
                    f"{p.description}{text}",
                    "" if what == "start" else "已自动解除",
                    t,
                    "KJ",
                    t,
                ]
            )
        return rows

    def _accumulate(self) -> None:
        now = self._now()
        for p in self.profile.points:
            if p.is_switch:
                continue
            v = self.engine.points[p.name].value
            st = self._stats.get(p.name)
            if st is None:
                st = self._stats[p.name] = _Stats(now)
            if v > st.max_value:
                st.max_value, st.max_time = v, now
            if v < st.min_value:
                st.min_value, st.min_time = v, now
            st.total += v
            st.count += 1

    def statistics_records(self) -> list[list[str]]:
        """TJSJ: min/max/average per analog point since the last statistics file (and reset)."""
        now = self._now()
        t = format_time(now)
        rows = []
        by_name = {p.name: p for p in self.profile.points}
        for name, st in self._stats.items():
            p = by_name[name]
            d = p.decimals
            rows.append(
                [
                    p.point_code,
                    p.sensor_type,
                    p.location,
                    p.unit,
                    format_time(st.start),
                    t,
                    f"{st.max_value:.{d}f}",
                    format_time(st.max_time or now),
                    f"{st.min_value:.{d}f}",
                    format_time(st.min_time or now),
                    f"{st.total / max(st.count, 1):.{d}f}",
                    t,
                ]
            )
        self._stats.clear()
        return rows

    # ------------------------------------------------------------------------------------- writing

    def _stamp(self, file_type: str) -> datetime:
        """A generation time whose file name is not taken yet (KJ software writes one file per type per second)."""
        at = self._now().replace(microsecond=0)
        for _ in range(3600):
            name = f"{self.mine_code}_{file_type}_{format_time(at).replace('-', '').replace(' ', '').replace(':', '')}.txt"
            if name not in self._names and not (self.out / name).exists():  # a reader may have moved it
                return at
            at += timedelta(seconds=1)
        raise RuntimeError("文件名用尽 / ran out of file names")

    def _store(self, name: str, data: bytes, *, complete: bool = True) -> Path:
        """Write like KJ software: body, then the final '||' (slowly when asked), or atomically."""
        path = self.out / name
        if self.atomic:
            tmp = self.out / f".{name}.part"
            tmp.write_bytes(data)
            os.replace(tmp, path)
        else:
            body, end = (data[:-2], data[-2:]) if complete and data.endswith(b"||") else (data, b"")
            with open(path, "wb") as f:
                if self.slow > 0 and body:
                    chunks = max(1, min(10, len(body) // 1024))
                    size = math.ceil(len(body) / chunks)
                    for i in range(0, len(body), size):
                        f.write(body[i : i + size])
                        f.flush()
                        self._sleep(self.slow / (chunks + 1))
                    self._sleep(self.slow / (chunks + 1))
                else:
                    f.write(body)
                    f.flush()
                f.write(end)
        self.written.append(path)
        self._names.add(name)
        return path

    def _encode(
        self, file_type: str, records: list[list[str]], at: datetime, encoding: str
    ) -> tuple[str, bytes]:
        name, data = write_file(self.mine_code, self.mine_name, file_type, records, at, "utf-8")
        if encoding == "gbk":
            # GB18030 is byte-identical to GBK for every GBK character and also covers the few canonical units
            # GBK lacks (mg/m³, m³/min): what legacy Windows KJ software (code page 936) writes, minus its "?"s.
            data = data.decode("utf-8").encode("gb18030")
        return name, data

    def write(self, file_type: str, records: list[list[str]]) -> Path:
        """Write one well-formed file of ``file_type``."""
        name, data = self._encode(file_type, records, self._stamp(file_type), self.encoding)
        return self._store(name, data)

    def write_definitions(self) -> list[Path]:
        """CDDY and FZDY."""
        self._defined = True
        return [self.write("CDDY", self.definition_records()), self.write("FZDY", self.outstation_records())]

    def step(self) -> list[Path]:
        """One period: update the values, write CDSS, FZSS, YCBJ (when episodes changed), TJSJ (when due)."""
        paths = [] if self._defined else self.write_definitions()
        self._ticks += self.every
        self.engine.update()
        self._accumulate()
        paths.append(self.write("CDSS", self.realtime_records()))
        paths.append(self.write("FZSS", self.outstation_status_records()))
        events = self.engine.drain_events()
        if events:
            paths.append(self.write("YCBJ", self.alarm_records(events)))
        if self.stats_every is not None and time.monotonic() - self._stats_started >= self.stats_every:
            first = min((st.start for st in self._stats.values()), default=self._now())
            if self._now().replace(microsecond=0) > first.replace(microsecond=0):  # start < end (ST-DATA-027)
                self._stats_started = time.monotonic()
                paths.append(self.write("TJSJ", self.statistics_records()))
        self.periods += 1
        return paths

    def run(
        self,
        count: int | None = None,
        should_stop: Callable[[], bool] = lambda: False,
        on_files: Callable[[list[Path]], None] | None = None,
    ) -> None:
        """Write ``count`` periods (None: until ``should_stop()``), one every ``every`` real seconds."""
        next_at = time.monotonic()
        done = 0
        while (count is None or done < count) and not should_stop():
            files = self.step()
            if on_files is not None:
                on_files(files)
            done += 1
            if count is not None and done >= count:
                break
            next_at += self.every
            while not should_stop():
                left = next_at - time.monotonic()
                if left <= 0:
                    break
                self._sleep(min(left, 0.2))

    # ------------------------------------------------------------------------------------- malformed

    def write_malformed(self, kind: str) -> Path:
        """Write one malformed (or, for ``gbk``, legacy-encoded) file of the given kind."""
        if kind not in MALFORMED_CLAUSES:
            raise ValueError(
                f"未知的畸形文件类型 {kind!r} / unknown malformed kind {kind!r}; use one of {', '.join(MALFORMED_KINDS)}"
            )
        self.engine.update()
        records = self.realtime_records()
        at = self._stamp("CDSS")
        name, data = write_file(self.mine_code, self.mine_name, "CDSS", records, at, "utf-8")
        text = data.decode("utf-8")
        lines = text.split("\r\n")  # header, records…, "||"
        if kind == "gbk":
            name, data = self._encode("CDSS", records, at, "gbk")
            return self._store(name, data)
        if kind in ("missing-end", "truncated", "empty"):
            if kind == "missing-end":
                body = text[:-2].encode("utf-8")
            elif kind == "truncated":
                cut = text[: len(text) // 2]
                body = cut.rstrip("~\r\n|").encode("utf-8")
            else:
                body = b""
            return self._store(name, body, complete=False)
        if kind == "field-count":
            fields = lines[1].split(";")
            del fields[2]  # the location
            lines[1] = ";".join(fields)
        elif kind in ("bad-number", "bad-time", "bad-status"):
            fields = lines[1].rstrip("~").split(";")
            if kind == "bad-number":
                fields[3] = fields[3].replace(".", "O", 1) if "." in fields[3] else fields[3] + "O"
            elif kind == "bad-time":
                fields[6] = "2025-13-45 25:61:00"
            else:
                fields[5] = "abc"
            lines[1] = ";".join(fields) + "~"
        elif kind == "mine-mismatch":
            other = self.mine_code[:-1] + ("2" if self.mine_code[-1] != "2" else "3")
            lines[0] = other + lines[0][len(self.mine_code) :]
        elif kind == "unknown-type":
            name = name.replace("_CDSS_", "_XXSS_")
        elif kind == "bad-name":
            name = name.replace(f"{self.mine_code}_", f"{self.mine_code[:6]}_", 1)
        data = "\r\n".join(lines).encode("utf-8")
        if kind == "bad-encoding":
            fields = lines[1].split(";")
            raw = "\r\n".join(lines).encode("utf-8")
            loc = fields[2].encode("utf-8")
            data = raw.replace(loc, b"\x80\xff\xfe" + loc, 1)
        return self._store(name, data)

    def info(self) -> dict[str, Any]:
        """What the start-up JSON line reports."""
        return {
            "simulator": "mtfile",
            "out": str(self.out),
            "mine_code": self.mine_code,
            "points": len(self.profile.points),
            "outstations": len(self.stations),
            "every": self.every,
            "encoding": self.encoding,
            "speed": self.engine.speed,
        }
