"""Simulator profiles (loading, validation errors) and the simulation engine (generators, scenarios, status)."""

from __future__ import annotations

import textwrap

import pytest
from google.protobuf.timestamp_pb2 import Timestamp
from santong.adapters.simulators import ProfileError, bundled_profiles, load_profile, parse_profile
from santong.adapters.simulators._engine import ALARM, OVER_RANGE, POWER_OFF, SENSOR_FAULT, Simulation
from santong.protocols import code_rules, must_violations, sensor_types, to_json, validate_json
from santong.protocols.v1 import common_pb2, data_pb2

# A small valid profile; tests break one thing at a time.
BASE = """\
version: 1
device:
  id: DEV-1
  mine_code: "140421000001"
  outstation_code: "140421000001001"
points:
  - name: CH4
    point_code: "14042100000101MNA001001A01"
    sensor_type: A001
    thresholds: {alarm_high: 1.0, alarm_high_clear: 1.0, power_off_high: 1.5, power_restore_high: 1.0}
    related: [FEED]
    generator: {kind: constant, value: 0.3}
    modbus: {address: 0, type: float32}
  - name: FEED
    point_code: "14042100000101KGS004001K01"
    sensor_type: S004
    generator: {kind: constant, value: 1}
    modbus: {address: 10, type: bool, bit: 0}
"""


def _clock() -> tuple[list[float], Simulation]:
    t = [0.0]
    return t, Simulation(load_profile("kj-substation"), clock=lambda: t[0])


# ------------------------------------------------------------------------------------- the reference product


def test_reference_product_is_bundled_and_has_the_kj_points() -> None:
    assert "kj-substation" in bundled_profiles()
    p = load_profile("kj-substation")
    assert 14 <= len(p.points) <= 20
    types = {pt.sensor_type for pt in p.points}
    assert {"A001", "A003", "A004", "A007", "A008", "A010", "A011", "S001", "S004"} <= types
    methane = {pt.name: pt for pt in p.points if pt.sensor_type == "A001"}
    assert set(methane) == {"CH4_T0", "CH4_T1", "CH4_T2"}
    assert methane["CH4_T1"].thresholds["power_off_high"] == 1.5
    assert methane["CH4_T2"].thresholds["power_off_high"] == 1.0  # return airway: power-off at 1.0 %
    assert {"methane_rise", "fan_stop", "sensor_fault"} <= set(p.scenarios)
    assert all(pt.modbus is not None and pt.opcua is not None and pt.mqtt is not None for pt in p.points)


def test_reference_points_follow_the_dictionary_and_coding_rules() -> None:
    p = load_profile("kj-substation")
    rule = code_rules()["point"].pattern
    dictionary = sensor_types()
    codes = set()
    for pt in p.points:
        m = rule.fullmatch(pt.point_code)
        assert m is not None, pt.point_code
        assert m.group("mine") == p.device.mine_code == "140421000001"
        assert m.group("sensor") == pt.sensor_type
        assert m.group("kind") == ("KG" if dictionary[pt.sensor_type].value_kind == "SWITCH" else "MN")
        assert pt.unit == dictionary[pt.sensor_type].unit
        codes.add(pt.point_code)
    assert len(codes) == len(p.points)


def test_reference_point_definitions_pass_santong_validation() -> None:
    """Each point as a PointDefinition message, through the JSON stage and the rules: no MUST violation."""
    p = load_profile("kj-substation")
    by_name = {pt.name: pt for pt in p.points}
    defined_at = Timestamp(seconds=1736908200)
    for alias, pt in enumerate(p.points, 1):
        msg = data_pb2.PointDefinition(
            alias=alias,
            point_code=pt.point_code,
            system_code=p.device.system_code,
            outstation_code=p.device.outstation_code,
            sensor_type=pt.sensor_type,
            value_kind=common_pb2.VALUE_KIND_SWITCH if pt.is_switch else common_pb2.VALUE_KIND_ANALOG,
            unit=pt.unit,
            range_low=pt.range_low,
            range_high=pt.range_high,
            on_description=pt.on_description,
            off_description=pt.off_description,
            location=pt.location,
            x=pt.x,
            y=pt.y,
            z=pt.z,
            related_point_codes=[by_name[r].point_code for r in pt.related],
            defined_at=defined_at,
            **dict(pt.thresholds),
        )
        _, violations = validate_json(to_json(msg), "PointDefinition")
        assert not must_violations(violations), (pt.name, violations)


def test_reference_modbus_map_has_no_overlaps_and_ends_where_documented() -> None:
    p = load_profile("kj-substation")
    assert p.modbus_extent() == 201  # 0..200: values, status words 100..115, switch word 200
    switch_bits = sorted(pt.modbus.bit_index for pt in p.points if pt.is_switch and pt.modbus)
    assert switch_bits == [0, 1, 2, 3, 4, 5]


# ------------------------------------------------------------------------------------- validation errors


def _err(text: str) -> ProfileError:
    with pytest.raises(ProfileError) as ei:
        parse_profile(textwrap.dedent(text), "p.yaml")
    return ei.value


def test_base_profile_is_valid() -> None:
    p = parse_profile(BASE, "p.yaml")
    assert [pt.name for pt in p.points] == ["CH4", "FEED"]
    assert p.point("FEED").on_description == "有电"  # defaults from the dictionary


@pytest.mark.parametrize(
    ("old", "new", "line", "words"),
    [
        ("    sensor_type: A001\n", "    sensor_type: A001\n    untis: x\n", 10, ["untis", "unit"]),
        ('"14042100000101MNA001001A01"', '"14042100000101MNA003001A01"', 8, ["sensor", "A001"]),
        ('"14042100000101MNA001001A01"', '"14042100000101KGA001001A01"', 8, ["kind", "MN"]),
        ('"14042100000101MNA001001A01"', '"14042100000201MNA001001A01"', 8, ["mine"]),
        ("    sensor_type: A001\n", "    sensor_type: A001\n    unit: '%'\n", 10, ["ST-DATA-011", "%CH4"]),
        ("power_off_high: 1.5", "power_off_high: 2.0", 10, ["ST-DATA-015", "1.5"]),
        ("alarm_high_clear: 1.0", "alarm_high_clear: 1.2", 10, ["alarm_high_clear"]),
        ("{address: 10, type: bool, bit: 0}", "{address: 1, type: bool, bit: 0}", 18, ["register 1", "CH4"]),
        ("{address: 0, type: float32}", "{address: 0, type: float33}", 13, ["float33"]),
        ("related: [FEED]", "related: [FED]", 11, ["FED"]),
        ("sensor_type: S004", "sensor_type: S404", 16, ["S404", "ST-DATA-010"]),
        ("{kind: constant, value: 1}", "{kind: sine, mean: 1, amplitude: 1, period: 5}", 17, ["switch"]),
        ("{kind: constant, value: 1}", "{kind: constant, value: 2}", 17, ["0 or 1"]),
        ('outstation_code: "140421000001001"', 'outstation_code: "140421000002001"', 5, ["ST-DATA-005"]),
        ('mine_code: "140421000001"', "mine_code: 140421000001", 4, ["quote"]),
        (
            "{kind: constant, value: 0.3}",
            "{kind: random_walk, min: 1, max: 0.5, step: 0.1}",
            12,
            ["min < max"],
        ),
    ],
)
def test_errors_name_the_file_line_path_and_fix(old: str, new: str, line: int, words: list[str]) -> None:
    assert old in BASE
    e = _err(BASE.replace(old, new, 1))
    text = str(e)
    assert text.startswith(f"p.yaml:{e.line}: ")
    assert e.line == line, text
    for w in words:
        assert w in text, text
    assert " / " in text  # Chinese / English


def test_duplicate_keys_and_yaml_booleans_are_caught() -> None:
    e = _err(BASE.replace("    sensor_type: A001\n", "    sensor_type: A001\n    sensor_type: A003\n", 1))
    assert "duplicate" in str(e) and e.line == 10
    e = _err(BASE.replace("{kind: constant, value: 1}", "{kind: toggle, on: 5, off: 5}"))
    assert "boolean" in str(e) and "quote" in str(e)


def test_scenario_errors() -> None:
    e = _err(BASE + "scenarios:\n  s1:\n    timeline:\n      - {at: 0, point: CH5, value: 1}\n")
    assert "CH5" in str(e) and "CH4" in str(e) and e.line == 22
    e = _err(BASE + "scenarios:\n  s1:\n    timeline:\n      - {at: 0, point: CH4}\n")
    assert "exactly one" in str(e)
    e = _err(BASE + "scenarios:\n  s1:\n    timeline:\n      - {at: 0, point: FEED, value: 0.5}\n")
    assert "0 or 1" in str(e)


def test_yaml_syntax_and_missing_files() -> None:
    e = _err("version: 1\ndevice: [\n")
    assert "YAML" in str(e) and e.line is not None
    with pytest.raises(ProfileError, match="bundled"):
        load_profile("no-such-profile")


# ------------------------------------------------------------------------------------- the engine


def test_methane_rise_alarms_trips_power_off_and_clears() -> None:
    t, sim = _clock()
    sim.start_scenario("methane_rise")
    seen: list[tuple[int, float, float]] = []
    for _ in range(900):
        t[0] += 0.1
        sim.update()
        state = (sim.status("CH4_T1"), sim.value("FEED_01"), sim.value("SHEARER_01"))
        if not seen or seen[-1] != state:
            seen.append(state)
            if state[0] & ALARM and not seen[-2][0] & ALARM:
                assert sim.value("CH4_T1") >= 1.0
            if state[0] & POWER_OFF:
                assert sim.value("CH4_T1") >= 1.5
    assert [s[0] for s in seen] == [0, ALARM, ALARM | POWER_OFF, 0]
    assert seen[2][1:] == (0.0, 0.0)  # feed and shearer cut while powered off
    assert seen[3][1:] == (1.0, 1.0)
    assert sim.value("CH4_T1") < 1.0 and sim.running_scenarios == []
    events = [(what, ep.anomaly_type) for what, ep in sim.drain_events()]
    assert events == [("start", "001"), ("start", "002"), ("end", "001"), ("end", "002")]


def test_time_compression() -> None:
    t = [0.0]
    sim = Simulation(load_profile("kj-substation"), clock=lambda: t[0], speed=20)
    t[0] = 1.0
    assert sim.sim_time() == pytest.approx(20.0)
    sim.speed = 2
    t[0] = 2.0
    assert sim.sim_time() == pytest.approx(22.0)


def test_generators() -> None:
    doc = BASE.replace(
        "{kind: constant, value: 1}", "{kind: toggle, on_for: 3, off_for: 2, initial: 1}"
    ).replace(
        "{kind: constant, value: 0.3}", "{kind: steps, steps: [[0, 0.1], [2, 0.5], [4, 0.2]], repeat: 6}"
    )
    t = [0.0]
    sim = Simulation(parse_profile(doc), clock=lambda: t[0])
    out = []
    for i in range(13):
        t[0] = i + 0.5
        sim.update()
        out.append((sim.value("CH4"), sim.value("FEED")))
    assert [v for v, _ in out[:7]] == [0.1, 0.1, 0.5, 0.5, 0.2, 0.2, 0.1]
    assert [f for _, f in out[:6]] == [1, 1, 1, 0, 0, 1]

    t2, sim2 = _clock()
    lo, hi = 0.20, 0.45  # CH4_T1's random walk bounds
    for _ in range(2000):
        t2[0] += 0.5
        sim2.update()
        assert lo <= sim2.value("CH4_T1") <= hi
        assert 20.5 <= sim2.value("O2_01") <= 20.9  # sine 20.7 ± 0.1, noise 0.02
    sim2.set_generator(
        "CH4_T1", type(sim2.profile.point("CH4_T1").generator)("ramp", {"end": 2.0, "duration": 10})
    )
    t2[0] += 5
    sim2.update()
    assert 1.0 < sim2.value("CH4_T1") < 1.3


def test_same_seed_same_values_and_overrides() -> None:
    a, b = _clock(), _clock()
    for t, sim in (a, b):
        for _ in range(50):
            t[0] += 1
            sim.update()
    assert a[1].snapshot() == b[1].snapshot()
    t, sim = a
    sim.force("TEMP_01", 70.0)
    sim.set_status_bits("CO_01", SENSOR_FAULT)
    t[0] += 1
    sim.update()
    assert sim.status("TEMP_01") == ALARM | OVER_RANGE and sim.status("CO_01") == SENSOR_FAULT
    sim.release("TEMP_01")
    sim.set_status_bits("CO_01", 0)
    t[0] += 1
    sim.update()
    assert sim.status("TEMP_01") == 0 and sim.status("CO_01") == 0
    with pytest.raises(KeyError, match="no scenario"):
        sim.start_scenario("nope")
