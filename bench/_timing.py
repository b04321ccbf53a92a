"""Timing helpers shared by the benchmarks."""

from __future__ import annotations

import time
from collections.abc import Callable


def rate(fn: Callable[[], object], items_per_call: int, seconds: float = 1.0, repeats: int = 3) -> float:
    """Best-of-`repeats` items/s of calling fn repeatedly for about `seconds`."""
    best = 0.0
    for _ in range(repeats):
        n = 0
        start = time.perf_counter()
        deadline = start + seconds / repeats
        while True:
            fn()
            n += 1
            now = time.perf_counter()
            if now >= deadline:
                break
        best = max(best, n * items_per_call / (now - start))
    return best


def rates(
    fns: dict[str, Callable[[], object]], items_per_call: int, seconds: float = 1.0, repeats: int = 3
) -> dict[str, float]:
    """Best-of-`repeats` items/s of each function, timed the same way and interleaved: window 1 of every
    function, then window 2 of every function … (other load on a shared machine then slows all alike). Each
    function is called once untimed first (warm-up)."""
    for fn in fns.values():
        fn()
    best = dict.fromkeys(fns, 0.0)
    for _ in range(repeats):
        for name, fn in fns.items():
            best[name] = max(best[name], rate(fn, items_per_call, seconds / repeats, repeats=1))
    return best


def entry(name: str, value: float, unit: str, baseline_name: str, baseline_value: float) -> dict:
    """One result in the bench/results.json format."""
    return {
        "name": name,
        "value": round(value, 1),
        "unit": unit,
        "baseline_name": baseline_name,
        "baseline_value": round(baseline_value, 1),
        "ratio": round(value / baseline_value, 3) if baseline_value else None,
    }
