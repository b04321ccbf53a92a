"""The drop folder judges a file only once it is stable, re-examines quarantined incomplete files, and says what it
skips (issue 12, item 6). A real writer process writes slowly; waits are on conditions, their deadlines derived
from the configured stability time."""

from __future__ import annotations

import asyncio
import json
import logging
import os
import sys
from collections.abc import AsyncIterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from santong.adapters import AdapterConfig, parse_config
from santong.adapters._runner import build_adapter
from santong.adapters.client import PlatformClient
from santong.adapters.mtfile import MtFileAdapter, MtFileSettings, write_file
from santong.adapters.simulators.mtfile import MtFileSimulator
from santong.mock_platform._config import PlatformConfig
from santong.mock_platform.embedded import MockPlatform
from st_waiting import DEADLINE_S, wait_for

DEVICE = "KJ70N-0002"
MINE = "140421000001"
STABLE_S = 0.3
GRACE_S = 0.4
POLL_MS = 40
#: Every wait below: the stability and grace times the adapter is configured with, many times over, plus slack.
DEADLINE = DEADLINE_S + 20 * (STABLE_S + GRACE_S)

WRITER = r"""
import os, sys, time
path, payload, deadline = sys.argv[1], open(sys.argv[2], "rb").read(), time.monotonic() + float(sys.argv[3])
half = len(payload) // 2
with open(path, "wb") as f:                       # a KJ system writing its export in place, slowly
    f.write(payload[:half]); f.flush(); os.fsync(f.fileno())
    while os.path.exists(path):                   # it stalls past the grace time: the adapter quarantines it
        if time.monotonic() > deadline:
            sys.exit("the file was never moved to quarantine")
        time.sleep(0.01)
    rest = payload[half:]
    for i in range(5):                            # then it writes on through its open handle, slowly
        f.write(rest[i * len(rest) // 5 : (i + 1) * len(rest) // 5]); f.flush(); time.sleep(0.05)
"""


class ListSink:
    """A plain UplinkSink that keeps what it was given."""

    def __init__(self) -> None:
        self.calls: list[tuple[str, Any]] = []

    def now_ms(self) -> int:
        return int(datetime.now(UTC).timestamp() * 1000)

    async def define(self, points: Any, outstations: Any = ()) -> None:
        self.calls.append(("define", [p.point_code for p in points]))

    async def define_positioning(self, areas: Any, stations: Any) -> None:
        self.calls.append(("define_positioning", None))

    async def observations(self, items: Any) -> None:
        self.calls.append(("observations", list(items)))

    async def alarms(self, alarms: Any) -> None:
        self.calls.append(("alarms", list(alarms)))

    async def outstation_statuses(self, statuses: Any) -> None:
        self.calls.append(("outstation_statuses", list(statuses)))

    async def statistics(self, statistics: Any) -> None:
        self.calls.append(("statistics", list(statistics)))

    async def personnel(self, records: Any, stations: Any = ()) -> None:
        self.calls.append(("personnel", None))

    async def flush(self) -> None:
        self.calls.append(("flush", None))


class Clock:
    def __init__(self) -> None:
        self.t = 1000.0

    def __call__(self) -> float:
        return self.t


def unit_adapter(folder: Path, clock: Clock, **settings: Any) -> MtFileAdapter:
    s = MtFileSettings(folder=folder, poll_interval_ms=3_600_000, **settings)
    return MtFileAdapter(AdapterConfig(kind="mtfile", settings=s), clock=clock)


async def started(a: MtFileAdapter) -> None:
    """Start on a plain sink and let the first (empty) background scan finish: the test scans from then on."""
    await a.start(ListSink())
    await wait_for(lambda: a._scan is not None and a._scan.done(), what="the first (empty) scan")


async def test_a_file_is_judged_only_once_stable_for_stable_s(tmp_path: Path) -> None:
    folder = tmp_path / "drop"
    sim = MtFileSimulator(folder, seed=5, points=20)
    clock = Clock()
    a = unit_adapter(folder, clock, stable_s=5.0)
    await started(a)
    try:
        cddy = sim.write_definitions()
        names = sorted(p.name for p in folder.glob("*.txt"))
        assert names and cddy
        report = await a.scan_once()
        assert sorted(report.incomplete) == names and not report.imported  # just seen: not stable yet
        clock.t += 4.99
        assert not (await a.scan_once()).imported
        # the writer touches one file again: its stability starts over, the other one's does not
        touched = folder / names[0]
        os.utime(touched, ns=(1, 1))
        clock.t += 0.02
        report = await a.scan_once()
        assert report.imported == names[1:] and report.incomplete == names[:1]
        clock.t += 5.0
        assert (await a.scan_once()).imported == names[:1]
    finally:
        await a.stop()


async def test_rename_convention_judges_a_txt_file_at_once(tmp_path: Path) -> None:
    folder = tmp_path / "drop"
    sim = MtFileSimulator(folder, seed=6, points=10)
    a = unit_adapter(folder, Clock(), stable_s=3600, rename_convention=True)
    await started(a)
    try:
        sim.write_definitions()
        report = await a.scan_once()
        assert len(report.imported) == 2 and not report.incomplete
    finally:
        await a.stop()


async def test_files_with_other_names_are_skipped_with_one_log_line_each(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    folder = tmp_path / "drop"
    folder.mkdir()
    odd = ["readme.md", "export.txt", "140421000001_CDSS_20250115103000.txt.part", ".hidden.txt"]
    for name in odd:
        (folder / name).write_text("x")
    a = unit_adapter(folder, Clock(), stable_s=0)
    with caplog.at_level(logging.INFO, logger="santong.adapters.mtfile"):
        await started(a)
        try:
            await a.scan_once()
            await a.scan_once()
        finally:
            await a.stop()
    lines = [r.getMessage() for r in caplog.records if "skipped" in r.getMessage()]
    assert sorted(line.split("：")[0].removeprefix("跳过 ") for line in lines) == sorted(odd)  # once each
    assert sorted(p.name for p in folder.iterdir() if p.is_file()) == sorted(odd)  # left where they are


# ---------------------------------------------------------------------------------------------------------------
# a real writer process, the real platform client and the embedded mock platform


@pytest.fixture
async def mp() -> AsyncIterator[MockPlatform]:
    async with MockPlatform(PlatformConfig(devices={DEVICE: "secret"}), http_port=None) as m:
        yield m


def config(tmp_path: Path, mp: MockPlatform) -> Any:
    settings = {
        "folder": str(tmp_path / "drop"), "poll_interval_ms": POLL_MS, "stable_s": STABLE_S,
        "incomplete_grace_s": GRACE_S, "undefined_grace_s": 5,
    }  # fmt: skip
    text = f"""
platform: {{transport: grpc, target: "{mp.grpc_target}", token: secret, timeout_ms: 3000}}
device: {{device_id: {DEVICE}, vendor: 示例电子, model: KJ70N, firmware_version: "1.0", serial_number: SN2,
         ma_certificate: MAH230123, product_class: SAFETY_MONITORING}}
mine: {{mine_code: "{MINE}", name: 示例煤矿}}
queue: {{path: "{tmp_path / "queue.db"}"}}
adapter: {{kind: mtfile, settings: {json.dumps(settings, ensure_ascii=False)}}}
"""
    return parse_config(text, str(tmp_path / "adapter.yaml"))


async def test_a_slow_writer_quarantined_mid_write_is_imported_once_complete(
    tmp_path: Path, mp: MockPlatform
) -> None:
    cfg = config(tmp_path, mp)
    folder = tmp_path / "drop"
    quarantine = folder / "quarantine"
    sim = MtFileSimulator(folder, seed=7, points=300)
    adapter = build_adapter(cfg)
    assert isinstance(adapter, MtFileAdapter)
    client = PlatformClient(cfg, write=adapter.write, configure=adapter.configure)
    await client.define(*adapter.definitions())
    await client.start()
    await adapter.start(client)
    try:
        sim.write_definitions()
        await wait_for(lambda: not list(folder.glob("*.txt")), timeout=DEADLINE, what="definitions imported")
        records = sim.realtime_records()
        name, data = write_file(MINE, "示例煤矿", "CDSS", records, datetime.now(UTC))
        payload = tmp_path / "payload.bin"
        payload.write_bytes(data)
        writer = await asyncio.create_subprocess_exec(
            sys.executable, "-c", WRITER, str(folder / name), str(payload), str(DEADLINE)
        )
        reason = quarantine / f"{name}.reason.txt"
        text = await wait_for(
            lambda: reason.exists() and reason.read_text("utf-8"),
            timeout=DEADLINE,
            what="quarantined mid-write",
        )
        assert "ST-DATA-041" in text and "moved back into the drop folder" in text
        assert await asyncio.wait_for(writer.wait(), DEADLINE) == 0
        # the writer finished through its handle, in the quarantine folder: re-examined, moved back, imported
        await wait_for(
            lambda: (folder / "archive" / name).exists(), timeout=DEADLINE, what="imported once complete"
        )
        assert (folder / "archive" / name).read_bytes() == data
        assert not list(quarantine.iterdir()) and adapter.stats.reexamined == 1

        async def stored() -> bool:
            return (await mp.platform.inspection.counts(DEVICE))["observations"] >= len(records)

        await wait_for(stored, timeout=DEADLINE, what="every record stored")
        assert (await mp.platform.inspection.counts(DEVICE))["observations"] == len(records)
    finally:
        await adapter.stop()
        await client.stop(drain_timeout_s=5.0)


def test_stable_s_is_checked(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="stable_s"):
        MtFileSettings(folder=tmp_path, stable_s=-1)


async def test_the_site_mapping_applies_to_the_drop_folder(tmp_path: Path) -> None:
    corpus = (
        Path(__file__).resolve().parents[2] / "protocols" / "examples" / "mt" / "vendor-codes-mapping-gbk"
    )
    folder = tmp_path / "drop"
    folder.mkdir()
    cddy = "140421000001_CDDY_20250115103000.txt"
    without = unit_adapter(folder, Clock(), stable_s=0)
    await started(without)
    try:
        (folder / cddy).write_bytes((corpus / cddy).read_bytes())
        assert (await without.scan_once()).quarantined == [cddy]  # 0001 … are not dictionary types
    finally:
        await without.stop()
    a = unit_adapter(folder, Clock(), stable_s=0, mapping=corpus / "site.yaml")
    await started(a)
    try:
        (folder / cddy).write_bytes((corpus / cddy).read_bytes())
        assert (await a.scan_once()).imported == [cddy]
        points, _ = a.definitions()
        assert [p.sensor_type for p in points] == ["A001", "A003", "S001"]
    finally:
        await a.stop()
    bad = tmp_path / "bad.yaml"
    bad.write_text('version: "1.0"\nsensor_types:\n  0001: A001\n', "utf-8")
    with pytest.raises(ValueError, match="quote"):
        unit_adapter(folder, Clock(), mapping=bad)


async def test_a_file_with_several_errors_is_quarantined_whole_with_each_error_in_its_reason(
    tmp_path: Path,
) -> None:
    folder = tmp_path / "drop"
    folder.mkdir()
    sink = ListSink()
    a = unit_adapter(folder, Clock(), stable_s=0)
    await a.start(sink)
    await wait_for(lambda: a._scan is not None and a._scan.done(), what="the first (empty) scan")
    try:
        row = f"{MINE}01MNA0010A01;甲烷;T1;{{v}};%CH4;0;2025-01-15 10:30:00~"
        body = "\r\n".join(
            [f"{MINE};示例煤矿;2025-01-15 10:30:05~", row.format(v="0.3"), row.format(v="x"),
             row.format(v="0.4"), row.format(v="y"), "||"]
        )  # fmt: skip
        name = f"{MINE}_CDSS_20250115103005.txt"
        (folder / name).write_text(body, encoding="utf-8")
        assert (await a.scan_once()).quarantined == [name]
        reason = (a.settings.quarantine_dir / f"{name}.reason.txt").read_text("utf-8")
        assert "[ST-DATA-045] 第 3 行" in reason and "[ST-DATA-045] 第 5 行" in reason
        assert "nothing from this file was imported" in reason
        assert not [
            c for c in sink.calls if c[0] == "observations"
        ]  # all or nothing: the good records neither
    finally:
        await a.stop()
