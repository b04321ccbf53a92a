"""Benchmark: MT/T 1201 CDSS parsing (records/s) against a bare decode + split of the same bytes."""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any

from santong.adapters.mtfile import format_time, parse_bytes, write_file

RECORDS = 100_000
POINTS = 5_000  # a large mine: 5,000 points, 20 samples each, one second apart
MINE = "140421000001"
_SENSORS = (
    ("0001", "%CH4", "甲烷"),
    ("0003", "ppm", "一氧化碳"),
    ("0004", "%", "氧气"),
    ("0008", "m/s", "风速"),
)


def make_cdss(records: int = RECORDS, points: int = POINTS) -> tuple[str, bytes]:
    """A realistic CDSS file held in memory: UTF-8, CRLF between records, Chinese locations."""
    start = datetime(2025, 1, 15, 2, 30, tzinfo=UTC)
    stamps = [format_time(start + timedelta(seconds=s)) for s in range(records // points + 1)]
    rows = []
    for i in range(records):
        point = i % points
        sensor, unit, label = _SENSORS[point % len(_SENSORS)]
        rows.append(
            [
                f"{MINE}01MN{sensor}{point:04X}",
                sensor,
                f"{point // 40 + 8101}工作面{label}T{point % 3 + 1}",
                f"{(i * 37 % 1000) / 100:.2f}",
                unit,
                "1" if i % 997 == 0 else "0",
                stamps[i // points],
            ]
        )
    return write_file(MINE, "示范煤矿", "CDSS", rows, start + timedelta(seconds=len(stamps)))


def _best(fn: Callable[[], Any], repeat: int) -> float:
    """Best wall time of ``repeat`` calls; each result is freed outside the timed region."""
    best = float("inf")
    for _ in range(repeat):
        t0 = time.perf_counter()
        result = fn()
        best = min(best, time.perf_counter() - t0)
        del result
    return best


def run(records: int = RECORDS, repeat: int = 5) -> list[dict[str, Any]]:
    """Measure parse_bytes on a generated CDSS file; baseline: ``data.decode().split('~')``."""
    name, data = make_cdss(records)
    parsed = parse_bytes(name, data)
    if len(parsed.observations) != records:
        raise AssertionError(f"parsed {len(parsed.observations)} of {records} records")
    del parsed
    value = records / _best(lambda: parse_bytes(name, data), repeat)
    baseline = records / _best(lambda: data.decode().split("~"), repeat)
    return [
        {
            "name": "adapters.mtfile.parse_cdss",
            "value": round(value),
            "unit": "records/s",
            "baseline_name": "bytes.decode + split('~')",
            "baseline_value": round(baseline),
            "ratio": round(value / baseline, 4),
        }
    ]


if __name__ == "__main__":
    print(json.dumps(run(), ensure_ascii=False, indent=2))
