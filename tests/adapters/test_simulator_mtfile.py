"""The MT/T 1201 file simulator: a mine of thousands of points, alarms, slow writes and malformed files."""

from __future__ import annotations

import json
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest
from santong.adapters.mtfile import MtFileError, parse_path
from santong.adapters.simulators.mtfile import MALFORMED_CLAUSES, MALFORMED_KINDS, MtFileSimulator
from santong.protocols import code_rules

from santong.cli import main as santong_main


def _by_type(paths: list[Path]) -> dict[str, list[Path]]:
    out: dict[str, list[Path]] = {}
    for p in paths:
        out.setdefault(p.name.split("_")[1], []).append(p)
    return out


def test_a_mine_of_5000_points(tmp_path: Path) -> None:
    sim = MtFileSimulator(tmp_path, points=5000, every=0.05, mine_code="140421000002", mine_name="测试煤矿")
    sim.run(count=2)
    files = _by_type(sim.written)
    assert {t: len(v) for t, v in files.items()} == {"CDDY": 1, "FZDY": 1, "CDSS": 2, "FZSS": 2}
    definitions = parse_path(files["CDDY"][0]).definitions
    assert len(definitions) == 5000
    rule = code_rules()["point"].pattern
    codes = {d.point_code for d in definitions}
    assert len(codes) == 5000
    assert all(rule.fullmatch(c) and c.startswith("140421000002") for c in codes)
    stations = parse_path(files["FZDY"][0]).outstations
    assert len(stations) == 313 and all(s.outstation_code.startswith("140421000002") for s in stations)
    for cdss in files["CDSS"]:
        parsed = parse_path(cdss)
        assert parsed.header.mine_name == "测试煤矿"
        assert {o.point_code for o in parsed.observations} == codes
    assert len(parse_path(files["FZSS"][0]).outstation_statuses) == 313


def test_generated_files_pass_santong_validate(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """The reference product's files (definitions, values, alarms, statistics) pass `santong validate`."""
    # fan_stop: one alarm episode, raised in one YCBJ file and cleared in a later one. (methane_rise at this
    # speed would start its alarm and power-off episodes in the same second: the parser's alarm ids
    # "point@start" would then collide.)
    sim = MtFileSimulator(tmp_path, every=0.1, speed=80, stats_every=0.5)
    sim.engine.start_scenario("fan_stop")
    sim.run(count=16)
    files = _by_type(sim.written)
    assert {"CDDY", "FZDY", "CDSS", "FZSS", "YCBJ", "TJSJ"} <= set(files)
    rc = santong_main(["validate", "--json", *map(str, sim.written)])
    out = capsys.readouterr().out
    assert rc == 0, out


def test_methane_scenario_writes_raised_and_cleared_alarms(tmp_path: Path) -> None:
    sim = MtFileSimulator(tmp_path, every=0.01, speed=100)  # one period = 1 simulated second
    sim.engine.start_scenario("methane_rise")
    sim.run(count=120)
    alarms = [a for p in _by_type(sim.written)["YCBJ"] for a in parse_path(p).alarms]
    ch4 = sim.profile.point("CH4_T1").point_code
    assert {a.point_code for a in alarms} == {ch4}
    kinds = [(a.anomaly_type, a.HasField("end_time")) for a in alarms]
    assert kinds == [(1, False), (2, False), (1, True), (2, True)]  # alarm, power-off raised; then cleared
    raised = {a.alarm_id for a in alarms if not a.HasField("end_time")}
    cleared = {a.alarm_id for a in alarms if a.HasField("end_time")}
    assert raised == cleared  # the same alarm ids close what opened
    assert max(a.max_value for a in alarms) >= 1.5
    statuses = [
        o.status
        for p in _by_type(sim.written)["CDSS"]
        for o in parse_path(p).observations
        if o.point_code == ch4
    ]
    dedup = [s for i, s in enumerate(statuses) if i == 0 or statuses[i - 1] != s]
    assert dedup == [0, 1, 3, 0]


@pytest.mark.parametrize("kind", MALFORMED_KINDS)
def test_malformed_files(tmp_path: Path, kind: str) -> None:
    sim = MtFileSimulator(tmp_path)
    path = sim.write_malformed(kind)
    clause = MALFORMED_CLAUSES[kind]
    if clause is None:  # gbk: legacy encoding, valid
        parsed = parse_path(path)
        assert parsed.encoding == "gbk" and len(parsed.observations) == len(sim.profile.points)
        with pytest.raises(UnicodeDecodeError):
            path.read_bytes().decode("utf-8")
        return
    with pytest.raises(MtFileError) as ei:
        parse_path(path)
    assert ei.value.clause_id == clause, str(ei.value)


def test_slow_write_ends_with_the_final_marker_last(tmp_path: Path) -> None:
    slow = 1.0  # the watcher below must catch the file in this window, however loaded the machine
    sim = MtFileSimulator(tmp_path, points=2000, slow=slow)
    seen_incomplete = threading.Event()
    done = threading.Event()

    def watch() -> None:
        while not done.is_set():
            for p in tmp_path.glob("*_CDDY_*.txt"):
                data = p.read_bytes()
                if data and not data.endswith(b"||"):
                    try:
                        parse_path(p)
                    except MtFileError as e:
                        if e.clause_id == "ST-DATA-041":
                            seen_incomplete.set()
            time.sleep(0.01)

    t = threading.Thread(target=watch)
    t.start()
    try:
        started = time.monotonic()
        sim.write_definitions()
        assert time.monotonic() - started >= slow * 0.9
    finally:
        done.set()
        t.join()
    assert seen_incomplete.is_set()
    assert len(parse_path(sim.written[0]).definitions) == 2000


def test_atomic_write_never_shows_a_partial_file(tmp_path: Path) -> None:
    sim = MtFileSimulator(tmp_path, atomic=True, encoding="gbk")
    sim.run(count=1)
    assert not list(tmp_path.glob(".*.part"))
    for p in sim.written:
        assert p.read_bytes().endswith(b"||")
        assert parse_path(p).encoding == "gbk"


def test_cli(tmp_path: Path) -> None:
    out = tmp_path / "drop"
    proc = subprocess.run(
        [
            sys.executable,
            "-m",
            "santong",
            "simulate",
            "mtfile",
            "--mine",
            "140421000001",
            "--points",
            "1000",
            "--out",
            str(out),
            "--every",
            "100ms",
            "--count",
            "3",
            "--malformed",
            "missing-end",
            "--malformed",
            "unknown-type",
        ],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert proc.returncode == 0, proc.stderr
    first, last = (json.loads(line) for line in proc.stdout.splitlines())
    assert first["points"] == 1000 and first["mine_code"] == "140421000001"
    assert last["by_type"]["CDSS"] == 4 and last["by_type"]["XXSS"] == 1 and last["periods"] == 3
    assert len(list(out.iterdir())) == last["files"]
    bad = subprocess.run(
        [sys.executable, "-m", "santong", "simulate", "mtfile", "--out", str(out), "--malformed", "nope"],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert bad.returncode == 2 and "nope" in bad.stderr
