"""The MQTT converter without a broker: path syntax, timestamps, topics, quality/status and every garbage variant."""

from __future__ import annotations

import json
import logging
from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st
from santong.adapters import AdapterConfig, ConfigError, PointConfig, PointMapping, Registry, parse_config
from santong.adapters.mqtt import (
    JsonPath,
    Message,
    MqttAdapter,
    MqttSettings,
    MqttSource,
    MqttUplink,
    PathError,
    parse_time,
    topic_matches,
)
from santong.adapters.mqtt.converter import _render
from santong.adapters.simulators.mqtt import GARBAGE_VARIANTS, garbage_payload
from santong.protocols.v1 import common_pb2, data_pb2

CH4 = "14042100000101MNA001001A01"
CO = "14042100000101MNA003001A04"
SW = "14042100000101KGS004001K03"
NOW = 1_736_908_200_000  # 2025-01-15T02:30:00Z
TOPIC = "kjsim/KJ-FZ-001/data"

# ----------------------------------------------------------------------------------------------- paths

PATH_VECTORS: list[tuple[str, tuple[Any, ...], Any]] = [
    ("data.CH4_T1.v", ("data", "CH4_T1", "v"), 0.32),
    ("values[1].v", ("values", 1, "v"), 2),
    ("values[-1].v", ("values", -1, "v"), 3),
    ('data["CH4.T1"].v', ("data", "CH4.T1", "v"), 0.5),
    ("data['a[0]']", ("data", "a[0]"), "odd"),
    ("[0].ts", (0, "ts"), None),
    ("测点.甲烷", ("测点", "甲烷"), 0.7),
    ("m[0][1]", ("m", 0, 1), 6),
]
DOC = {
    "data": {"CH4_T1": {"v": 0.32}, "CH4.T1": {"v": 0.5}, "a[0]": "odd"},
    "values": [{"v": 1}, {"v": 2}, {"v": 3}],
    "测点": {"甲烷": 0.7},
    "m": [[5, 6]],
}


@pytest.mark.parametrize(("text", "steps", "value"), PATH_VECTORS)
def test_path_vectors(text: str, steps: tuple[Any, ...], value: Any) -> None:
    p = JsonPath.parse(text)
    assert p.steps == steps and not p.relative
    if value is not None:
        assert p.get(DOC) == value
    assert JsonPath.parse(_render(p.steps)).steps == steps


@pytest.mark.parametrize(
    "text", ["", "a..b", "a.", ".", "[x]", "a[1", "a]b", 'a"b', "a[0]b", "[1.5]", '["x"y"]']
)
def test_bad_paths_name_the_position(text: str) -> None:
    with pytest.raises(PathError) as e:
        JsonPath.parse(text)
    assert "data.CH4_T1.v" in e.value.message_en or text == ""


def test_relative_paths_continue_from_the_value_s_parent() -> None:
    base = JsonPath.parse("data.CH4_T1.v")
    assert JsonPath.parse(".q").resolve(base).text == "data.CH4_T1.q"
    assert JsonPath.parse(".meta.ts").resolve(JsonPath.parse("values[2]")).steps == ("values", "meta", "ts")
    assert JsonPath.parse("ts").resolve(base).text == "ts"  # absolute stays
    with pytest.raises(PathError, match="relative"):
        JsonPath.parse(".q", allow_relative=False)


def test_missing_says_where_the_path_stopped() -> None:
    for text, why in [
        ("data.CO.v", "no key 'CO'"),
        ("values[9]", "no item [9]"),
        ("data.CH4_T1.v.x", "not an object"),
        ("data[0]", "not an array"),
    ]:
        with pytest.raises(LookupError, match=why.replace("[", r"\[").replace("]", r"\]")):
            JsonPath.parse(text).get(DOC)


keys = st.text(alphabet=st.characters(blacklist_categories=("Cs",)), min_size=1, max_size=8).filter(
    lambda k: not ('"' in k and "'" in k)
)


@given(st.lists(st.one_of(keys, st.integers(-1000, 1000)), min_size=1, max_size=6))
def test_render_and_parse_round_trip(steps: list[Any]) -> None:
    assert JsonPath.parse(_render(steps)).steps == tuple(steps)


# ----------------------------------------------------------------------------------------------- times and topics


@pytest.mark.parametrize(
    ("value", "fmt", "offset", "ms"),
    [
        (NOW, "epoch_ms", 0, NOW),
        (str(NOW), "epoch_ms", 0, NOW),
        (NOW / 1000, "epoch_s", 0, NOW),
        (1_736_908_200.125, "auto", 0, NOW + 125),
        (NOW, "auto", 0, NOW),
        ("2025-01-15T02:30:00Z", "iso", 0, NOW),
        ("2025-01-15T10:30:00+08:00", "auto", 0, NOW),
        ("2025-01-15 10:30:00", "iso", 480, NOW),  # China local time without a zone
        ("2025-01-15T02:30:00.250", "iso", 0, NOW + 250),
    ],
)
def test_timestamp_formats(value: Any, fmt: str, offset: int, ms: int) -> None:
    assert parse_time(value, fmt, offset) == ms


@pytest.mark.parametrize(
    ("value", "fmt"),
    [(NOW, "epoch_s"), ("yesterday", "auto"), ("2025-01-15", "epoch_ms"), (True, "auto"), (None, "auto"),
     (NOW, "iso"), ({"t": 1}, "auto"), (float("inf"), "epoch_ms"), (-5, "epoch_s")],
)  # fmt: skip
def test_unusable_timestamps_say_why(value: Any, fmt: str) -> None:
    with pytest.raises(ValueError):
        parse_time(value, fmt)


@pytest.mark.parametrize(
    ("flt", "topic", "ok"),
    [("kjsim/+/data", "kjsim/KJ-FZ-001/data", True), ("kjsim/#", "kjsim/a/b/c", True), ("kjsim/#", "kjsim", True),
     ("kjsim/+/data", "kjsim/a/b/data", False), ("+/x", "$SYS/x", False), ("#", "$SYS/x", False), ("a/b", "a/b", True),
     ("a/+", "a/b/c", False), ("a/b", "a/b/", False)],
)  # fmt: skip
def test_topic_filters(flt: str, topic: str, ok: bool) -> None:
    assert topic_matches(flt, topic) is ok


# ----------------------------------------------------------------------------------------------- the uplink


def point(code: str, path: str, *, mapping: PointMapping | None = None, **src: Any) -> PointConfig:
    switch = "KG" in code
    d = data_pb2.PointDefinition(
        point_code=code, value_kind=common_pb2.VALUE_KIND_SWITCH if switch else common_pb2.VALUE_KIND_ANALOG,
        range_low=0, range_high=1 if switch else (4 if code == CH4 else 100), location="x", sensor_type="S004" if switch else "A001",
    )  # fmt: skip
    if code == CH4:
        d.alarm_high, d.alarm_high_clear = 1.0, 1.0
    return PointConfig(definition=d, mapping=mapping, source=MqttSource(path=path, **src))


SETTINGS = MqttSettings(
    topic="kjsim/+/data",
    timestamp_path="ts",
    timestamp_format="epoch_ms",
    quality_path=".q",
    status_path=".s",
    max_payload_bytes=65536,
)


def uplink(*points: PointConfig, settings: MqttSettings = SETTINGS) -> MqttUplink:
    pts = points or (point(CH4, "data.CH4_T0.v"), point(CO, "data.CO_01.v"), point(SW, "data.FEED_01.v"))
    return MqttUplink(pts, settings)


def msg(doc: Any, topic: str = TOPIC) -> Message:
    raw = doc if isinstance(doc, bytes) else json.dumps(doc).encode()
    return Message(topic, raw, NOW + 500)


def payload(**data: Any) -> dict[str, Any]:
    return {
        "dev": "KJ-FZ-001",
        "ts": NOW,
        "data": {k: v if isinstance(v, dict) else {"v": v, "q": 0, "s": 0} for k, v in data.items()},
    }


def test_values_times_and_statuses() -> None:
    up = uplink()
    obs = up.convert(msg(payload(CH4_T0=0.42, CO_01=4, FEED_01=True)), NOW + 500)
    assert obs == [(CH4, 0.42, NOW, 0), (CO, 4.0, NOW, 0), (SW, 1.0, NOW, 0)]
    # status bits from .s; quality only when .s carries no fault bit; unknown quality → 128
    obs = up.convert(
        msg(
            payload(
                CH4_T0={"v": 0.5, "q": 1, "s": 16},
                CO_01={"v": 3, "q": 1, "s": 0},
                FEED_01={"v": 0, "q": "weird"},
            )
        ),
        NOW + 500,
    )
    assert [o[3] for o in obs] == [16, 128, 128]
    assert up.problems.counts["unknown_quality"] == 1
    # a faulty sensor without a value: its last good value with the fault bits
    obs = up.convert(msg(payload(CH4_T0={"v": None, "q": 1, "s": 128}, CO_01=5, FEED_01=0)), NOW + 500)
    assert obs[0] == (CH4, 0.42, NOW, 128)  # the last good value (0.5 came with a fault bit)
    assert up.stats.accepted == 3 and up.stats.rejected == 0


def test_alarm_bits_and_alarms_from_thresholds() -> None:
    up = uplink()
    o = up.convert(msg(payload(CH4_T0=1.2, CO_01=4, FEED_01=1)), NOW + 500)
    assert o[0][3] == 1  # over-limit alarm (ST-PROTO-027)
    o = up.convert(msg(payload(CH4_T0=0.4, CO_01=4, FEED_01=1)), NOW + 500)
    assert o[0][3] == 0
    states = [a.state for a in up.tracker.drain()]
    assert states == [common_pb2.ALARM_STATE_RAISED, common_pb2.ALARM_STATE_CLEARED]


def test_time_fallbacks() -> None:
    up = uplink()
    doc = payload(CH4_T0=0.4, CO_01=4, FEED_01=1)
    doc["ts"] = NOW + 60_000  # a minute ahead: the platform would reject it (ST-DATA-031)
    assert up.convert(msg(doc), NOW + 500)[0][2] == NOW + 500
    del doc["ts"]
    assert up.convert(msg(doc), NOW + 600)[0][2] == NOW + 600
    doc["ts"] = "noon"
    assert up.convert(msg(doc), NOW + 700)[0][2] == NOW + 700
    assert up.problems.counts["future_time"] == 3 and up.problems.counts["bad_timestamp"] == 6


def test_mapping_array_paths_numeric_strings_and_deadband() -> None:
    temp = point(
        "14042100000101MNA007001A07",
        "values[2]",
        mapping=PointMapping(data_type="int16", scale=0.1, deadband=0.5),
    )
    bit = point(SW, "word", mapping=PointMapping(data_type="bool", bit=2))
    up = uplink(temp, bit, settings=MqttSettings(topic="v/#"))
    t = "v/1"
    assert up.convert(Message(t, b'{"values": [0, 0, "235"], "word": 4}', NOW), NOW) == [
        ("14042100000101MNA007001A07", 23.5, NOW, 0), (SW, 1.0, NOW, 0)]  # fmt: skip
    assert (
        up.convert(Message(t, b'{"values": [0, 0, 238], "word": 4}', NOW + 1), NOW + 1) == []
    )  # deadband 0.5
    assert up.convert(Message(t, b'{"values": [0, 0, 250], "word": 0}', NOW + 2), NOW + 2) == [
        ("14042100000101MNA007001A07", 25.0, NOW + 2, 0), (SW, 0.0, NOW + 2, 0)]  # fmt: skip
    assert up.convert(Message("other/1", b"{}", NOW), NOW) == []  # not a configured topic


@pytest.mark.parametrize("variant", GARBAGE_VARIANTS)
def test_every_garbage_variant_is_rejected_with_a_reason(
    variant: str, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.WARNING, "santong.adapters.mqtt")
    up = uplink()
    good = msg(payload(CH4_T0=0.4, CO_01=4, FEED_01=1))
    assert len(up.convert(good, NOW + 500)) == 3
    out = up.convert(Message(TOPIC, garbage_payload(variant, point="CH4_T0"), NOW + 600), NOW + 600)
    assert out == [] and up.stats.rejected == 1
    want = {
        "not_json": {"not_utf8"}, "truncated": {"not_json"}, "binary": {"not_utf8", "not_json"}, "empty": {"empty"},
        "wrong_shape": {"wrong_shape"}, "bad_value": {"not_number", "missing_field"}, "oversize": {"too_large"},
    }[variant]  # fmt: skip
    assert set(up.problems.counts) <= want and up.problems.counts, up.problems.counts
    assert f"topic {TOPIC}" in caplog.text and "[ST-" in caplog.text
    assert len(up.convert(good, NOW + 700)) == 3  # and the next good message is fine


@pytest.mark.parametrize(
    ("value", "reason"),
    [
        (None, "null_value"),
        ("abc", "not_number"),
        ({"x": 1}, "not_number"),
        ([1], "not_number"),
        (2, "not_switch"),
    ],
)
def test_bad_values_of_one_point(value: Any, reason: str) -> None:
    up = uplink()
    doc = payload(CH4_T0=0.4, CO_01=4, FEED_01={"v": value, "q": 0})
    got = up.convert(msg(doc), NOW + 500)
    assert [o[0] for o in got] == [CH4, CO]  # the other points go on
    assert up.problems.counts == {reason: 1}


def test_non_finite_values_are_rejected() -> None:
    up = uplink()
    raw = json.dumps(payload(CH4_T0=0.4, CO_01=4, FEED_01=1)).replace('"v": 0.4', '"v": 1e999').encode()
    assert [o[0] for o in up.convert(msg(raw), NOW)] == [CO, SW]
    raw = raw.replace(b"1e999", b"NaN")
    assert [o[0] for o in up.convert(msg(raw), NOW)] == [CO, SW]
    assert up.problems.counts == {"not_finite": 2}


def test_strict_numbers_and_quality_map() -> None:
    s = replace(SETTINGS, numeric_strings=False, quality_map={"2": 16, "GOOD": 0})
    up = uplink(settings=s)
    doc = payload(CH4_T0={"v": "0.4", "q": 0}, CO_01={"v": 4, "q": 2}, FEED_01={"v": 1, "q": "good"})
    got = up.convert(msg(doc), NOW)
    assert [(o[0], o[3]) for o in got] == [(CO, 16), (SW, 0)] and up.problems.counts == {"not_number": 1}


def test_faults_for_disconnects_and_silence() -> None:
    now = [100.0]
    up = MqttUplink([point(CH4, "data.CH4_T0.v"), point(CO, "data.CO_01.v")], SETTINGS, clock=lambda: now[0])
    up.convert(msg(payload(CH4_T0=0.4, CO_01=4)), NOW)
    assert up.faults(NOW + 1, only_stale=5.0) == []
    now[0] += 6
    assert up.faults(NOW + 2, only_stale=5.0) == [(CH4, 0.4, NOW + 2, 16), (CO, 4.0, NOW + 2, 16)]
    assert up.faults(NOW + 3, only_stale=5.0) == []  # once
    assert len(up.faults(NOW + 4)) == 2  # a disconnect: every point


# ----------------------------------------------------------------------------------------------- configuration

CONFIG = """
platform: {{target: "127.0.0.1:1", token: t}}
device: {{device_id: D1, vendor: v, model: m, firmware_version: "1", serial_number: s, product_class: SAFETY_MONITORING}}
mine: {{mine_code: "140421000001"}}
adapter:
  kind: mqtt
  settings: {{host: 127.0.0.1, port: 1883, topic: "{topic}", quality_path: .q}}
  points:
    - point_code: "{ch4}"
      location: 上隅角
      source: {{path: "{path}"}}
"""


def registry() -> Registry:
    r = Registry(entry_points=())
    r.register("mqtt", MqttAdapter)
    return r


def test_configuration_builds_settings_and_sources(tmp_path: Path) -> None:
    cfg = parse_config(
        CONFIG.format(topic="kjsim/+/data", ch4=CH4, path="data.CH4_T0.v"),
        str(tmp_path / "m.yaml"),
        registry=registry(),
    )
    assert cfg.adapter is not None
    a = MqttAdapter(cfg.adapter)
    assert a.topics == ["kjsim/+/data"] and a.client_id.startswith("santong-")
    assert (
        a.client_id == MqttAdapter(cfg.adapter).client_id
    )  # stable across restarts: the broker keeps the session
    assert isinstance(cfg.adapter, AdapterConfig)


@pytest.mark.parametrize(
    ("topic", "path", "key"),
    [("kjsim/+/data", "data..v", "adapter.points[0].source.path"), ("kjsim/#/data", "data.v", "adapter.settings.topic"),
     ("kjsim/x+/data", "data.v", "adapter.settings.topic"), ("kjsim/+/data", ".v", "adapter.points[0].source.path")],
)  # fmt: skip
def test_configuration_errors_give_file_line_and_key(tmp_path: Path, topic: str, path: str, key: str) -> None:
    with pytest.raises(ConfigError) as e:
        parse_config(
            CONFIG.format(topic=topic, ch4=CH4, path=path), str(tmp_path / "m.yaml"), registry=registry()
        )
    problems = [p for p in e.value.problems if p.path.startswith(key.rsplit(".", 1)[0])]
    assert problems, [str(p) for p in e.value.problems]
    assert problems[0].file.endswith("m.yaml") and problems[0].line > 1
