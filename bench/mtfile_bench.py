"""Benchmark: MT/T 1201 CDSS files, records/s, against a bare decode + split of the same bytes (same run).

Two figures on one 100,000-record file (a large mine: 5,000 points, 20 samples each):

- ``adapters.mtfile.parse_cdss``: ``parse_bytes`` alone (grammar checked, columns typed);
- ``adapters.mtfile.parse_validate_cdss``: what the mtfile adapter does before it queues a file — ``parse_bytes``,
  the batches' columns (chunks of the platform's 10,000-point limit), the one validation core on every batch
  (``santong.protocols.validate_batch_columns``, the ObservationBatch rule on the columns) against a device state
  with the 5,000 points defined, and the ObservationBatch messages it queues. Target ≥ 500,000 records/s.

Their baseline: the same bytes decoded and split into records and fields in plain Python (no checks).

And one on a KJ export folder on disk, as ``santong validate DIR`` judges it:

- ``adapters.mtfile.validate_folder``: 1 CDDY (5,000 points) + 100 CDSS files of 5,000 records, end to end —
  listing, reading, decoding, parsing, the definitions first, every CDSS file against them through the one
  validation core, findings placed (none here). Target ≥ 400,000 records/s. Baseline: the same files read,
  decoded and split into records and fields in plain Python, no validation (target ratio ≥ 0.5). Every CDSS file
  lists the 5,000 points in the same order, as a KJ system writes them: the checker reuses what follows from a
  repeated point-code column (aliases, each point's range, a passed sensor-type check), never anything about
  values, statuses or times — files whose readings and times differ from file to file measure the same.

Run: ``python -m bench.mtfile_bench`` (or ``make bench``, which writes bench/results.json).
"""

from __future__ import annotations

import gc
import json
import os
import tempfile
import time
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any

from santong.adapters.mtfile import MtFileConverter, format_time, parse_bytes, validate_folder, write_file
from santong.protocols import DeviceState, sensor_types
from santong.protocols.v1 import common_pb2, data_pb2

from bench._timing import entry

RECORDS = 100_000
POINTS = 5_000  # a large mine: 5,000 points, 20 samples each, one second apart
MINE = "140421000001"
# (dictionary sensor type, unit, name, lowest value, step): readings that stay inside the dictionary's range
_SENSORS = (
    ("A001", "%CH4", "甲烷", 0.02, 0.01),
    ("A003", "ppm", "一氧化碳", 0.0, 0.5),
    ("A004", "%", "氧气", 20.2, 0.01),
    ("A008", "m/s", "风速", 0.8, 0.05),
)


def _code(point: int) -> tuple[str, tuple[str, str, str, float, float]]:
    sensor = _SENSORS[point % len(_SENSORS)]
    return f"{MINE}01MN{sensor[0]}{point:04X}", sensor


def make_cdss(records: int = RECORDS, points: int = POINTS) -> tuple[str, bytes]:
    """A realistic CDSS file held in memory: UTF-8, CRLF between records, Chinese locations."""
    start = datetime.now(UTC).replace(microsecond=0) - timedelta(seconds=records // points + 5)
    stamps = [format_time(start + timedelta(seconds=s)) for s in range(records // points + 1)]
    rows = []
    for i in range(records):
        point = i % points
        code, (sensor, unit, label, low, step) = _code(point)
        rows.append(
            [
                code,
                sensor,
                f"{point // 40 + 8101}工作面{label}T{point % 3 + 1}",
                f"{low + (i * 37 % 60) * step:.2f}",
                unit,
                "1" if i % 997 == 0 else "0",
                stamps[i // points],
            ]
        )
    return write_file(MINE, "示范煤矿", "CDSS", rows, start + timedelta(seconds=len(stamps)))


def make_cddy(points: int = POINTS) -> tuple[str, bytes]:
    """The CDDY file that defines every point of :func:`make_cdss` (dictionary units and ranges)."""
    at = datetime.now(UTC).replace(microsecond=0) - timedelta(minutes=10)
    rows = []
    for point in range(points):
        code, (sensor, unit, label, _, _) = _code(point)
        st = sensor_types()[sensor]
        location = f"{point // 40 + 8101}工作面{label}T{point % 3 + 1}"
        rows.append(
            [code, "01", f"{MINE}F{point // 64:02d}", sensor, "MN", unit, f"{st.range_high:g}", f"{st.range_low:g}"]
            + [""] * 8 + ["", "", location, "", "", "", "", format_time(at)]
        )  # fmt: skip
    return write_file(MINE, "示范煤矿", "CDDY", rows, at)


def make_folder(folder: str, files: int = 100, records: int = 5_000) -> int:
    """1 CDDY + ``files`` CDSS files of ``records`` records each, one second apart; returns the record count."""
    name, data = make_cddy()
    with open(os.path.join(folder, name), "wb") as f:
        f.write(data)
    total = POINTS
    base = datetime.now(UTC).replace(microsecond=0) - timedelta(seconds=files + 5)
    _, template = make_cdss(records)
    for i in range(files):
        # the same records under a new name (the generation time in the name differs): parsing is not cached
        stamp = base + timedelta(seconds=i)
        cdss = f"{MINE}_CDSS_{(stamp + timedelta(hours=8)):%Y%m%d%H%M%S}.txt"
        with open(os.path.join(folder, cdss), "wb") as f:
            f.write(template)
        total += records
    return total


def _plain_split(folder: str) -> int:
    """The baseline: every file read, decoded and split into records and fields in plain Python."""
    n = 0
    for item in os.scandir(folder):
        with open(item.path, "rb") as f:
            text = f.read().decode("utf-8")
        rows = [r.split(";") for r in text.split("~")]
        n += len(rows)
    return n


def run_folder(repeat: int = 5) -> list[dict[str, Any]]:
    """``validate_folder`` on 1 CDDY + 100 CDSS files of 5,000 records, and the plain-split baseline."""
    with tempfile.TemporaryDirectory(prefix="santong-bench-mt-") as folder:
        total = make_folder(folder)
        report = validate_folder(folder)
        if report.findings or report.records != total:
            raise AssertionError(f"{report.records} records of {total}, findings {report.findings[:3]}")
        if (
            _plain_split(folder) != total + 2 * 101
        ):  # each of the 101 files: its records, header and "||" piece
            raise AssertionError("the baseline does not read every file")
        t_base = t_full = float("inf")
        for _ in range(repeat):
            t_base = min(t_base, _best(lambda: _plain_split(folder), 1))  # interleaved: same machine state
            t_full = min(t_full, _best(lambda: validate_folder(folder), 1))
    return [
        entry(
            "adapters.mtfile.validate_folder",
            total / t_full,
            "records/s",
            "read + decode + split into fields (plain Python)",
            total / t_base,
        )
    ]


def defined_state(points: int = POINTS) -> DeviceState:
    """A device state with every point of :func:`make_cdss` defined (dictionary ranges)."""
    state = DeviceState(mine_code=MINE)
    defs = []
    for point in range(points):
        code, (sensor, unit, _, _, _) = _code(point)
        st = sensor_types()[sensor]
        defs.append(
            data_pb2.PointDefinition(
                alias=point + 1,
                point_code=code,
                sensor_type=sensor,
                unit=unit,
                value_kind=common_pb2.VALUE_KIND_ANALOG,
                range_low=st.range_low,
                range_high=st.range_high,
            )  # fmt: skip
        )
    state.define_points(defs)
    return state


def _best(fn: Callable[[], Any], repeat: int) -> float:
    """Best wall time of ``repeat`` calls; each result is freed (and collected) outside the timed region.

    The cyclic garbage collector is off inside the timed region, for the baseline as for santong's code (which
    turns it off itself while it parses and checks a file): with it on, the baseline's per-record lists alone
    trigger enough collections to cost it ~40 % more time, and the ratio would measure a collector setting,
    not the work.
    """
    best = float("inf")
    for _ in range(repeat):
        gc.collect()
        gc_was_enabled = gc.isenabled()
        gc.disable()
        try:
            t0 = time.perf_counter()
            result = fn()
            best = min(best, time.perf_counter() - t0)
        finally:
            if gc_was_enabled:
                gc.enable()
        del result
    return best


def run(records: int = RECORDS, repeat: int = 15) -> list[dict[str, Any]]:
    """Parse alone, and parse + batches + core validation; baseline ``data.decode().split('~')`` in the same run."""
    name, data = make_cdss(records)
    state = defined_state()
    converter = MtFileConverter(max_batch_points=10_000)

    def parse_and_validate() -> tuple[Any, Any]:
        parsed = parse_bytes(name, data)
        unit = converter.unit(parsed, state, name=name)
        findings = converter.check(unit, state)
        if findings or unit.observation_count != records:
            raise AssertionError(f"{unit.observation_count} observations, findings {findings[:3]}")
        requests = [
            u.request for u in unit.uploads
        ]  # the messages the adapter queues (built from the columns)
        return parsed, unit, requests  # freed outside the timed region, like the parse-only result

    if len(parse_bytes(name, data).columns) != records:
        raise AssertionError("the parse lost records")
    parse_and_validate()
    # Interleaved, best of `repeat` each: the baseline sees the same machine state as the values.
    t_base = t_parse = t_full = float("inf")
    for _ in range(repeat):
        t_base = min(t_base, _best(lambda: [r.split(";") for r in data.decode().split("~")], 1))
        t_parse = min(t_parse, _best(lambda: parse_bytes(name, data), 1))
        t_full = min(t_full, _best(parse_and_validate, 1))
    baseline = records / t_base
    return [
        entry(
            "adapters.mtfile.parse_cdss",
            records / t_parse,
            "records/s",
            "decode + split into fields (plain Python)",
            baseline,
        ),
        entry(
            "adapters.mtfile.parse_validate_cdss",
            records / t_full,
            "records/s",
            "decode + split into fields (plain Python)",
            baseline,
        ),
        *run_folder(),
    ]


if __name__ == "__main__":
    print(json.dumps(run(), ensure_ascii=False, indent=2))
