"""The mtfile adapter end to end: the MT-file simulator drops files into a folder, the adapter imports them through
the platform client into the embedded mock platform, and everything is checked through the inspection API.

Every file type; a file written slowly; malformed files (each quarantined with a reason naming its clause);
data waiting for its definitions; restarts and a crash between "queued" and "moved" (no duplicates); GBK.
"""

from __future__ import annotations

import asyncio
import collections
import json
from collections.abc import AsyncIterator, Awaitable, Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from santong.adapters import Config, ConfigError, parse_config
from santong.adapters._runner import build_adapter, run_adapter
from santong.adapters.client import PlatformClient
from santong.adapters.mtfile import (
    PENDING_KEY,
    MtFileAdapter,
    format_time,
    parse_path,
    write_file,
)
from santong.adapters.simulators.mtfile import MALFORMED_CLAUSES, MtFileSimulator
from santong.mock_platform._config import PlatformConfig
from santong.mock_platform.embedded import MockPlatform
from st_waiting import DEADLINE_S, wait_for

DEVICE = "KJ70N-0001"
MINE = "140421000001"
YAML = """
platform: {{transport: grpc, target: "{target}", token: secret, timeout_ms: 3000, retry: {{base_ms: 100, cap_ms: 400}}}}
device: {{device_id: {device}, vendor: 示例电子, model: KJ70N, firmware_version: "1.0", serial_number: SN1,
         ma_certificate: MAH230123, product_class: SAFETY_MONITORING}}
mine: {{mine_code: "{mine}", name: 示例煤矿}}
queue: {{path: "{queue}", synchronous: NORMAL}}
batch: {{max_points: 1000, linger_ms: 30}}
adapter:
  kind: mtfile
  settings: {settings}
"""
FAST = {"poll_interval_ms": 40, "incomplete_grace_s": 0.8, "undefined_grace_s": 1.2, "stable_s": 0.2}


def make_config(tmp_path: Path, mp: MockPlatform, **settings: Any) -> Config:
    s = {"folder": str(tmp_path / "drop"), **FAST, **settings}
    text = YAML.format(
        target=mp.grpc_target, device=DEVICE, mine=MINE, queue=tmp_path / "queue.db",
        settings=json.dumps(s, ensure_ascii=False),
    )  # fmt: skip
    return parse_config(text, str(tmp_path / "adapter.yaml"))


@pytest.fixture
async def mp() -> AsyncIterator[MockPlatform]:
    async with MockPlatform(PlatformConfig(devices={DEVICE: "secret"}), http_port=None) as m:
        yield m


class Running:
    """Adapter + platform client started as ``santong adapter run`` does, with handles on both."""

    def __init__(self, config: Config) -> None:
        self.config = config
        adapter = build_adapter(config)
        assert isinstance(adapter, MtFileAdapter)
        self.adapter = adapter
        self.client = PlatformClient(config, write=adapter.write, configure=adapter.configure)

    async def __aenter__(self) -> Running:
        await self.client.define(*self.adapter.definitions())
        await self.client.start()
        await self.adapter.start(self.client)
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.adapter.stop()
        await self.client.stop(drain_timeout_s=5.0)


async def until(
    pred: Callable[[], Awaitable[bool] | bool], timeout: float = DEADLINE_S, what: str = ""
) -> None:
    await wait_for(pred, timeout=timeout, what=what, every=0.03)


def txt(folder: Path) -> list[str]:
    return sorted(p.name for p in folder.glob("*.txt"))


async def counts(mp: MockPlatform) -> dict[str, int]:
    return await mp.platform.inspection.counts(DEVICE)


def archived_observations(archive: Path) -> collections.Counter[tuple[str, int, float, int]]:
    """(point code, time ms, value, status) of every record in the archived CDSS files."""
    out: collections.Counter[tuple[str, int, float, int]] = collections.Counter()
    for p in archive.glob("*_CDSS_*.txt"):
        for o in parse_path(p).observations:
            out[(o.point_code, int(o.time.timestamp() * 1000), o.value, o.status)] += 1
    return out


async def stored_observations(mp: MockPlatform) -> collections.Counter[tuple[str, int, float, int]]:
    obs = await mp.platform.inspection.observations(DEVICE, limit=1_000_000)
    return collections.Counter((o["point_code"], o["time_ms"], o["value"], o["status"] & ~8) for o in obs)


def personnel_files(folder: Path, now: datetime) -> list[Path]:
    """RYQY, RYJZ (definitions) and RYSS, JZSS (data): the simulator writes safety monitoring only."""
    t = format_time(now)
    earlier = format_time(now - timedelta(hours=2))
    area1, area2 = f"{MINE}0001", f"{MINE}0003"
    st1, st2 = f"{area1}000001", f"{area2}000012"
    files = [
        ("RYQY", [[area1, "副井井口候车区", "一般区域", "0", t], [area2, "8101综采工作面", "重点区域", "45", t]]),
        ("RYJZ", [[st1, area1, "副井井口", "1000", "800", "0", t], [st2, area2, "8101 机头", "1205", "846", "-320", t]]),
        ("RYSS", [
            [f"{MINE}00012", "张强", "1", earlier, "", area2, earlier, st2, earlier, "综采", "-12.5", "正常", "0", "0",
             f"{st1}&{earlier},{st2}&{earlier}"],
            [f"{MINE}00027", "李明", "2", earlier, t, area1, earlier, st1, earlier, "掘进", "3", "正常", "0", "1", ""],
        ]),
        ("JZSS", [[st1, "0", "2", t], [st2, "1", "9", t]]),
    ]  # fmt: skip
    out = []
    for i, (kind, rows) in enumerate(files):
        name, data = write_file(
            MINE, "示例煤矿", kind, rows, now.replace(microsecond=0) + timedelta(seconds=i)
        )
        (folder / name).write_bytes(data)
        out.append(folder / name)
    return out


# ---------------------------------------------------------------------------------------------------------------
# every file type, through `santong adapter run`'s runner and the entry point


async def test_every_file_type_end_to_end(tmp_path: Path, mp: MockPlatform) -> None:
    cfg = make_config(tmp_path, mp)
    folder = tmp_path / "drop"
    sim = MtFileSimulator(folder, seed=7, stats_every=0.0)
    stop = asyncio.Event()
    runner = asyncio.create_task(
        run_adapter(cfg, stop=stop, install_signal_handlers=False, drain_timeout_s=5)
    )
    try:
        sim.step()  # CDDY, FZDY, CDSS, FZSS
        sim.engine.force("CH4_T1", 1.62)  # past alarm (1.0) and power-off (1.5): two episodes start
        await asyncio.sleep(1.05)  # not synchronisation: TJSJ needs a statistics period of at least a second
        sim.step()  # + YCBJ (starts) + TJSJ
        sim.engine.force("CH4_T1", 0.31)
        sim.step()  # + YCBJ (ends)
        extra = personnel_files(folder, datetime.now(UTC))
        written = sorted(p.name for p in [*sim.written, *extra])
        assert {n.split("_")[1] for n in written} == {
            "CDDY", "FZDY", "CDSS", "FZSS", "YCBJ", "TJSJ", "RYQY", "RYJZ", "RYSS", "JZSS",
        }  # fmt: skip
        await until(lambda: not txt(folder), what="every file imported")
        n_cdss = sum("_CDSS_" in n for n in written)
        await until(
            lambda: _counts_at_least(mp, observations=16 * n_cdss, personnel=2, station_statuses=2),
            what="everything stored",
        )
    finally:
        stop.set()
        assert await asyncio.wait_for(runner, 15) == 0
    archive = folder / "archive"
    assert sorted(p.name for p in archive.glob("*.txt")) == written
    assert not list((folder / "quarantine").iterdir())
    c = await counts(mp)
    assert c["rejected"] == 0 and c["errors"] == 0
    defs = await mp.platform.inspection.definitions(DEVICE)
    assert {d["point_code"] for d in defs["points"]} == {p.point_code for p in sim.profile.points}
    assert {d["outstation_code"] for d in defs["outstations"]} == {code for code, _, _ in sim.stations}
    assert len(defs["areas"]) == 2 and len(defs["stations"]) == 2
    assert sorted({d["alias"] for d in defs["points"]}) == list(range(1, 17))
    # observations: exactly the records of the archived CDSS files
    assert await stored_observations(mp) == archived_observations(archive)
    assert c["outstation_statuses"] == sum("_FZSS_" in n for n in written) * len(sim.stations)
    stats = sum(len(parse_path(p).statistics) for p in archive.glob("*_TJSJ_*.txt"))
    assert stats > 0 and c["statistics"] == stats
    # alarms: each episode raised, then cleared with the same alarm_id
    alarms = await mp.platform.inspection.alarms(DEVICE)
    by_id: dict[str, list[str]] = collections.defaultdict(list)
    for a in alarms:
        by_id[a["alarm_id"]].append(a["state"])
    assert len(by_id) >= 2 and all(v == ["ALARM_STATE_RAISED", "ALARM_STATE_CLEARED"] for v in by_id.values())
    assert {a["anomaly_type"] for a in alarms} >= {"ANOMALY_TYPE_OVER_LIMIT", "ANOMALY_TYPE_POWER_OFF"}
    people = await mp.platform.inspection.personnel(DEVICE)
    assert {r["name"] for r in people["records"]} == {"张强", "李明"}
    assert [len(r.get("track", [])) for r in people["records"]] == [2, 0]
    assert {s["station_code"] for s in people["stations"]} == {f"{MINE}0001000001", f"{MINE}0003000012"}


async def _counts_at_least(mp: MockPlatform, **want: int) -> bool:
    c = await counts(mp)
    return all(c[k] >= v for k, v in want.items())


# ---------------------------------------------------------------------------------------------------------------
# completeness, bad input, waiting for definitions


async def test_slowly_written_file_is_imported_only_when_complete(tmp_path: Path, mp: MockPlatform) -> None:
    cfg = make_config(tmp_path, mp)
    folder = tmp_path / "drop"
    sim = MtFileSimulator(folder, seed=3, points=400)  # a 400-point file, written in 10 chunks over 1.2 s
    async with Running(cfg) as run:
        sim.write_definitions()
        await until(lambda: not txt(folder), what="definitions imported")
        sim.slow = 1.2
        writer = asyncio.create_task(asyncio.to_thread(sim.write, "CDSS", sim.realtime_records()))
        await until(lambda: bool(txt(folder)), what="writing started")
        name = txt(folder)[0]
        seen_partial = False
        while not writer.done():
            if not (folder / name).read_bytes().rstrip().endswith(b"||"):
                seen_partial = True
                assert (folder / name).exists() and run.adapter.stats.imported == 2, "imported before '||'"
            await asyncio.sleep(0.02)
        await writer
        assert seen_partial
        await until(lambda: not txt(folder), what="imported once complete")
        await until(lambda: _counts_at_least(mp, observations=400))
        assert (await counts(mp))["observations"] == 400
        assert not list((folder / "quarantine").iterdir())
        assert (folder / "archive" / name).exists()


MALFORMED = [k for k, clause in MALFORMED_CLAUSES.items() if clause is not None]


async def test_malformed_files_are_quarantined_with_a_reason(tmp_path: Path, mp: MockPlatform) -> None:
    cfg = make_config(tmp_path, mp)
    folder = tmp_path / "drop"
    quarantine = folder / "quarantine"
    sim = MtFileSimulator(folder, seed=5)
    async with Running(cfg) as run:
        sim.step()
        await until(lambda: _counts_at_least(mp, observations=16), what="good data first")
        before = await stored_observations(mp)
        bad = {kind: sim.write_malformed(kind).name for kind in MALFORMED}
        await until(lambda: len(list(quarantine.glob("*.reason.txt"))) == len(bad), what="all quarantined")
        assert not txt(folder)
        for kind, name in bad.items():
            clause = MALFORMED_CLAUSES[kind]
            reason = (quarantine / f"{name}.reason.txt").read_text(encoding="utf-8")
            assert (quarantine / name).exists(), kind
            assert f"[{clause}]" in reason and name in reason, (kind, reason)
            assert "nothing from this file was imported" in reason and "未导入" in reason
        field_count = (quarantine / f"{bad['field-count']}.reason.txt").read_text(encoding="utf-8")
        assert "第 1 条记录" in field_count and "record 1" in field_count
        assert "第 2 行" in field_count and "line 2" in field_count  # the header is line 1
        assert (
            "改法：" in field_count and "Fix: " in field_count and "KJ" in field_count
        )  # for the file holder
        number = (quarantine / f"{bad['bad-number']}.reason.txt").read_text(encoding="utf-8")
        assert "字段“测点值”" in number and "field 测点值 (value)" in number
        # the adapter keeps running; what was accepted before is intact; good files still go through
        assert run.adapter._task is not None and not run.adapter._task.done()
        sim.step()
        await until(lambda: _counts_at_least(mp, observations=32), what="good data after the bad files")
        after = await stored_observations(mp)
        assert after - before and not before - after
        assert run.adapter.stats.quarantined == len(bad)
        assert (await counts(mp))["rejected"] == 0


async def test_cdss_waits_for_its_definitions(tmp_path: Path, mp: MockPlatform) -> None:
    """Decision: data about undefined points waits for the CDDY (grace period), then is quarantined (ST-IFACE-004)."""
    cfg = make_config(tmp_path, mp)
    folder = tmp_path / "drop"
    sim = MtFileSimulator(folder, seed=9)
    async with Running(cfg) as run:
        early = sim.write("CDSS", sim.realtime_records())  # dropped before its definitions
        await until(lambda: run.adapter.stats.scans >= 3)
        assert early.exists() and (await counts(mp))["observations"] == 0
        sim.write_definitions()
        await until(lambda: not txt(folder), what="definitions, then the waiting file")
        await until(lambda: _counts_at_least(mp, observations=16))
        # a point that is never defined: quarantined once the grace period is over
        rows = sim.realtime_records()
        rows[0][0] = rows[0][0][:-3] + "Z99"
        name, data = write_file(MINE, "示例煤矿", "CDSS", rows, datetime.now(UTC) + timedelta(seconds=30))
        (folder / name).write_bytes(data)
        await until(
            lambda: (folder / "quarantine" / name).exists(), what="quarantined after the grace period"
        )
        reason = (folder / "quarantine" / f"{name}.reason.txt").read_text(encoding="utf-8")
        assert "[ST-IFACE-004]" in reason and rows[0][0] in reason and "第 1 条记录" in reason
        assert (await counts(mp))["observations"] == 16


async def test_gbk_files_are_imported(tmp_path: Path, mp: MockPlatform) -> None:
    cfg = make_config(tmp_path, mp)
    folder = tmp_path / "drop"
    sim = MtFileSimulator(folder, seed=11, encoding="gbk")
    async with Running(cfg):
        paths = sim.step()
        with pytest.raises(UnicodeDecodeError):
            paths[0].read_bytes().decode("utf-8")  # legacy Windows KJ software: GBK
        assert parse_path(paths[0]).encoding == "gbk"
        await until(lambda: _counts_at_least(mp, observations=16, outstation_statuses=1))
    defs = await mp.platform.inspection.definitions(DEVICE)
    locations = {d["point_code"]: d["location"] for d in defs["points"]}
    assert locations == {p.point_code: p.location for p in sim.profile.points}
    assert any("工作面" in loc for loc in locations.values())
    assert await stored_observations(mp) == archived_observations(folder / "archive")


async def test_duplicate_delivery_is_not_imported_twice(tmp_path: Path, mp: MockPlatform) -> None:
    cfg = make_config(tmp_path, mp)
    folder = tmp_path / "drop"
    sim = MtFileSimulator(folder, seed=13)
    async with Running(cfg) as run:
        paths = sim.step()
        cdss = next(p for p in paths if "_CDSS_" in p.name)
        data = cdss.read_bytes()
        await until(lambda: not txt(folder))
        cdss.write_bytes(data)  # the KJ system sends the same file again
        await until(lambda: run.adapter.stats.duplicates == 1)
        await run.client.wait_delivered(DEADLINE_S)
    assert (await counts(mp))["observations"] == 16
    assert len(list((folder / "archive").glob(f"{cdss.name}*"))) == 2


# ---------------------------------------------------------------------------------------------------------------
# restarts: no duplicates


async def test_restart_mid_stream_no_duplicates(tmp_path: Path, mp: MockPlatform) -> None:
    cfg = make_config(tmp_path, mp)
    folder = tmp_path / "drop"
    sim = MtFileSimulator(folder, seed=17, every=0.08, points=64)
    writer = asyncio.create_task(asyncio.to_thread(sim.run, 40))
    async with Running(cfg):  # stopped mid-stream: as soon as the first files are in
        await until(lambda: _counts_at_least(mp, observations=1), what="the first files imported")
    mid = (await counts(mp))["observations"]
    aliases = {
        d["point_code"]: d["alias"] for d in (await mp.platform.inspection.definitions(DEVICE))["points"]
    }
    await until(lambda: bool(txt(folder)) or writer.done(), what="files piling up while the adapter is down")
    async with Running(cfg) as second:
        await writer
        sim.write_definitions()  # the KJ system sends its definitions again: same points, same aliases
        await until(lambda: not txt(folder), what="backlog imported")
        await second.client.wait_delivered(DEADLINE_S)
    again = {
        d["point_code"]: d["alias"] for d in (await mp.platform.inspection.definitions(DEVICE))["points"]
    }
    assert again == aliases and len(aliases) == 64
    assert 0 < mid < 64 * 40
    archive = folder / "archive"
    assert len(list(archive.glob("*_CDSS_*.txt"))) == 40
    stored = await stored_observations(mp)
    assert stored == archived_observations(archive)
    assert sum(stored.values()) == 64 * 40
    uploads = await mp.platform.inspection.uploads(DEVICE)
    seqs = [u["sequence"] for u in uploads]
    assert len(seqs) == len(set(seqs)) and seqs == sorted(seqs)
    c = await counts(mp)
    assert c["observations"] == 64 * 40 and c["rejected"] == 0


class Crash(BaseException):
    """The process dies: nothing after this point runs."""


async def test_crash_between_queued_and_moved_does_not_duplicate(
    tmp_path: Path, mp: MockPlatform, monkeypatch: pytest.MonkeyPatch
) -> None:
    cfg = make_config(tmp_path, mp)
    folder = tmp_path / "drop"
    sim = MtFileSimulator(folder, seed=19)
    original = MtFileAdapter._move

    async def crash_on_data(self: MtFileAdapter, path: Path, target: Path) -> Path:
        if "_CDSS_" in path.name:
            raise Crash(path.name)
        return await original(self, path, target)

    monkeypatch.setattr(MtFileAdapter, "_move", crash_on_data)
    first = Running(cfg)
    await first.__aenter__()
    sim.step()
    await until(lambda: first.adapter._task is not None and first.adapter._task.done(), what="the crash")
    cdss = next(folder.glob("*_CDSS_*.txt"))  # queued, not moved
    assert await first.client.get_meta(PENDING_KEY) == {cdss.name: first.adapter._pending[cdss.name]}
    assert isinstance(first.adapter._task.exception(), Crash)
    await first.client.stop()  # the process is gone; its queue file stays
    monkeypatch.setattr(MtFileAdapter, "_move", original)
    async with Running(cfg) as second:
        await until(lambda: not txt(folder), what="recovered")
        await second.client.wait_delivered(DEADLINE_S)
        assert second.adapter.stats.recovered == 1 and second.adapter.stats.imported >= 1
    assert (folder / "archive" / cdss.name).exists()
    stored = await stored_observations(mp)
    assert stored == archived_observations(folder / "archive") and sum(stored.values()) == 16


# ---------------------------------------------------------------------------------------------------------------
# configuration


def test_settings_errors_name_the_line(tmp_path: Path) -> None:
    text = YAML.format(
        target="127.0.0.1:1", device=DEVICE, mine=MINE, queue=tmp_path / "q.db",
        settings=json.dumps({"folder": "drop", "poll_interval_ms": 0}),
    )  # fmt: skip
    with pytest.raises(ConfigError) as info:
        parse_config(text, str(tmp_path / "adapter.yaml"))
    problem = info.value.problems[0]
    line = next(i for i, t in enumerate(text.splitlines(), 1) if "poll_interval_ms" in t)
    assert problem.path == "adapter.settings.poll_interval_ms" and problem.line == line
    assert "poll_interval_ms" in problem.message_en
    cfg = parse_config(
        text.replace('"poll_interval_ms": 0', '"poll_interval_ms": 500'), str(tmp_path / "a.yaml")
    )
    assert cfg.adapter is not None and cfg.adapter.settings.folder == tmp_path / "drop"
    assert cfg.adapter.settings.archive_dir == tmp_path / "drop" / "archive"
