"""The OPC UA converters without a server: the status-code table, value types, grouping, writes, configuration."""

# ruff: noqa: E402  (imports after the importorskip of the optional dependency)

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

pytest.importorskip(
    "asyncua", reason="asyncua 未安装（pip install 'santong[opcua]'）/ asyncua is not installed"
)

from asyncua import ua
from santong.adapters import (
    ConfigError,
    PointConfig,
    PointMapping,
    Registry,
    UnsupportedCommand,
    parse_config,
)
from santong.adapters.opcua import (
    Notification,
    OpcUaAdapter,
    OpcUaDownlink,
    OpcUaSource,
    OpcUaUplink,
    map_status,
)
from santong.adapters.opcua.config import OpcUaSettings, SettingsError, split_node_id
from santong.adapters.opcua.converter import ValueRejected, native_number
from santong.protocols.v1 import common_pb2, data_pb2

CH4 = "14042100000101MNA001001A01"
SW = "14042100000101KGS003001K04"
TEMP = "14042100000101MNA007001A07"
T = 1_736_908_200_000
S = ua.StatusCodes

# (status code, point status bits, value usable, reported)
STATUS_TABLE = [
    (S.Good, 0, True, True),
    (S.GoodClamped, 0, True, True),
    (S.Good | 0x0400, 0, True, True),  # info bits do not matter
    (S.UncertainEngineeringUnitsExceeded, 8, True, True),
    (S.UncertainOverRange, 8, True, True),
    (S.UncertainSensorCalibration, 4, True, True),
    (S.UncertainLastUsableValue, 16, True, True),
    (S.UncertainNoCommunicationLastUsableValue, 16, True, True),
    (S.UncertainInitialValue, 0, True, True),
    (S.Uncertain, 0, True, True),
    (S.BadSensorFailure, 128, False, True),
    (S.BadDeviceFailure, 128, False, True),
    (S.BadCommunicationError, 16, False, True),
    (S.BadNoCommunication, 16, False, True),
    (S.BadNotConnected, 16, False, True),
    (S.BadTimeout, 16, False, True),
    (S.BadShutdown, 16, False, True),
    (S.BadOutOfService, 32, False, True),
    (S.BadNodeIdUnknown, 32, False, True),
    (S.BadUserAccessDenied, 32, False, True),
    (S.BadWaitingForInitialData, 0, False, False),
    (S.Bad, 128, False, True),
    (S.BadInternalError, 128, False, True),
]


@pytest.mark.parametrize(("code", "bits", "usable", "report"), STATUS_TABLE)
def test_status_code_table(code: int, bits: int, usable: bool, report: bool) -> None:
    m = map_status(int(code))
    assert (m.bits, m.usable, m.report) == (bits, usable, report), m.name


@pytest.mark.parametrize(
    ("value", "vt", "number"),
    [(True, ua.VariantType.Boolean, 1.0), (False, ua.VariantType.Boolean, 0.0), (-7, ua.VariantType.Int16, -7.0),
     (65535, ua.VariantType.UInt16, 65535.0), (2**40, ua.VariantType.UInt64, float(2**40)), (0.25, ua.VariantType.Float, 0.25),
     (" 1.5 ", ua.VariantType.String, 1.5)],
)  # fmt: skip
def test_value_types(value: Any, vt: ua.VariantType, number: float) -> None:
    assert native_number(value, vt) == number


@pytest.mark.parametrize(
    ("value", "vt", "reason"),
    [("abc", ua.VariantType.String, "not_number"), (None, None, "not_number"), (b"\x01", ua.VariantType.ByteString, "not_number"),
     ([1, 2], ua.VariantType.Double, "not_number"), (float("nan"), ua.VariantType.Double, "not_finite"),
     (float("inf"), ua.VariantType.Float, "not_finite")],
)  # fmt: skip
def test_values_that_are_no_number(value: Any, vt: Any, reason: str) -> None:
    with pytest.raises(ValueRejected) as e:
        native_number(value, vt)
    assert e.value.reason == reason and e.value.clause_id.startswith("ST-DATA-")


def point(
    code: str, *, mapping: PointMapping | None = None, writable: bool = False, high: float = 4
) -> PointConfig:
    switch = "KG" in code
    d = data_pb2.PointDefinition(
        point_code=code, value_kind=common_pb2.VALUE_KIND_SWITCH if switch else common_pb2.VALUE_KIND_ANALOG,
        range_low=0, range_high=1 if switch else high, location="x", sensor_type="S003" if switch else "A001",
    )  # fmt: skip
    if code == CH4:
        d.alarm_high, d.alarm_high_clear = 1.0, 1.0
    return PointConfig(definition=d, mapping=mapping, writable=writable, source=OpcUaSource(node_id="s=x"))


def n(
    code: str,
    value: Any,
    status: int = 0,
    *,
    role: str = "value",
    t: int | None = T,
    vt: Any = ua.VariantType.Double,
) -> Notification:
    return Notification(code, role, value, vt, int(status), t, t)  # type: ignore[arg-type]


def test_uplink_groups_value_and_status_bits_and_keeps_the_last_good_value() -> None:
    up = OpcUaUplink([point(CH4), point(SW)])
    # the first values; a status variable before any value reports nothing of its own
    assert up.convert([n(CH4, 0.4), n(SW, True, vt=ua.VariantType.Boolean)], T + 5) == [
        (CH4, 0.4, T, 0),
        (SW, 1.0, T, 0),
    ]
    # value and its status variable in one group: one observation; device bits OR-ed in (calibrating 4)
    assert up.convert([n(CH4, 4, role="status", vt=ua.VariantType.UInt16), n(CH4, 0.5)], T + 5) == [
        (CH4, 0.5, T, 4)
    ]
    assert up.convert([n(CH4, 0, role="status", vt=ua.VariantType.UInt16)], T + 5) == [(CH4, 0.5, T, 0)]
    # bad: the last good value with the mapped bit; back to good: the new value
    assert up.convert([n(CH4, 0.9, S.BadSensorFailure)], T + 5) == [(CH4, 0.5, T, 128)]
    assert up.convert([n(CH4, 0.6)], T + 5) == [(CH4, 0.6, T, 0)]
    # thresholds → alarm bit 1 and a RAISED alarm (ST-PROTO-027)
    assert up.convert([n(CH4, 1.2)], T + 5) == [(CH4, 1.2, T, 1)]
    assert [a.state for a in up.tracker.drain()] == [common_pb2.ALARM_STATE_RAISED]
    # a switch value other than 0 / 1, a non-number: rejected, counted
    assert up.convert([n(SW, 2, vt=ua.VariantType.Int32), n(CH4, "x", vt=ua.VariantType.String)], T + 5) == []
    assert up.problems.counts["not_switch"] == 1 and up.problems.counts["not_number"] == 1
    # session lost: every point, bit 16, last values
    assert up.lost(T + 9) == [(CH4, 1.2, T + 9, 16 | 1), (SW, 1.0, T + 9, 16)]


def test_uplink_times_mapping_and_deadband() -> None:
    m = PointMapping(data_type="int16", scale=0.1, deadband=0.5)
    up = OpcUaUplink([point(TEMP, mapping=m, high=60)], max_future_ms=1000)
    assert up.convert([n(TEMP, 235, vt=ua.VariantType.Int16)], T) == [(TEMP, 23.5, T, 0)]
    assert up.convert([n(TEMP, 238, vt=ua.VariantType.Int16)], T) == []  # within the deadband
    assert up.convert([n(TEMP, 238, S.UncertainLastUsableValue, vt=ua.VariantType.Int16)], T) == [
        (TEMP, 23.8, T, 16)
    ]
    ahead = n(TEMP, 300, t=T + 60_000, vt=ua.VariantType.Int16)  # a device clock a minute fast (ST-DATA-031)
    assert up.convert([ahead], T) == [(TEMP, 30.0, T, 0)]
    assert up.convert([n(TEMP, 400, t=None, vt=ua.VariantType.Int16)], T + 7) == [(TEMP, 40.0, T + 7, 0)]
    server = OpcUaUplink([point(CH4)], timestamps="adapter")
    assert server.convert([n(CH4, 0.1)], T + 3) == [(CH4, 0.1, T + 3, 0)]
    assert up.convert([n(TEMP, 0, S.BadWaitingForInitialData)], T) == []


def test_downlink_types_mapping_and_refusals() -> None:
    down = OpcUaDownlink({SW: ua.VariantType.Boolean, CH4: ua.VariantType.Int16})
    assert down.convert(point(SW, writable=True), 0.0) == ua.Variant(False, ua.VariantType.Boolean)
    scaled = point(CH4, writable=True, mapping=PointMapping(data_type="int16", scale=0.1))
    assert down.convert(scaled, 2.34) == ua.Variant(23, ua.VariantType.Int16)
    assert OpcUaDownlink().convert(point(CH4, writable=True), 1.5) == ua.Variant(1.5, ua.VariantType.Double)
    with pytest.raises(UnsupportedCommand):
        down.convert(point(CH4), 1.0)  # not writable
    with pytest.raises(UnsupportedCommand):
        bit_field = PointMapping(data_type="bool", bit=3)
        down.convert(point(SW, writable=True, mapping=bit_field), 1.0)
    with pytest.raises(ValueError, match="range"):
        down.convert(scaled, 9.0)  # outside the point's range [0, 4]
    with pytest.raises(ValueError, match="ST-DATA-019"):
        down.convert(point(SW, writable=True), 0.5)
    with pytest.raises(ValueError, match="fit"):
        OpcUaDownlink({CH4: ua.VariantType.Byte}).convert(point(CH4, writable=True, high=1000), 300.0)


@pytest.mark.parametrize(
    ("text", "parts"),
    [("ns=2;s=KJ.CH4", (2, None, "s=KJ.CH4")), ("nsu=urn:x:y;s=A;B", (None, "urn:x:y", "s=A;B")), ("i=2258", (None, None, "i=2258")),
     ("g=72962b91-fa75-4ae6-8d28-b404dc7daf63", (None, None, "g=72962b91-fa75-4ae6-8d28-b404dc7daf63")), ("b=AAE=", (None, None, "b=AAE="))],
)  # fmt: skip
def test_node_id_spellings(text: str, parts: tuple[Any, ...]) -> None:
    assert split_node_id(text) == parts


@pytest.mark.parametrize("text", ["", "ns=x;s=a", "s=", "x=1", "ns=2;", "i=abc"])
def test_bad_node_ids(text: str) -> None:
    with pytest.raises(SettingsError):
        split_node_id(text)


CONFIG = """
platform: {{target: "127.0.0.1:1", token: t}}
device: {{device_id: D1, vendor: v, model: m, firmware_version: "1", serial_number: s, product_class: SAFETY_MONITORING}}
mine: {{mine_code: "140421000001"}}
adapter:
  kind: opcua
  settings: {{endpoint: "{endpoint}", publishing_interval_ms: {pub}}}
  points:
    - point_code: "{ch4}"
      location: 上隅角
      source: {{node_id: "{node}"}}
"""


def test_configuration(tmp_path: Path) -> None:
    r = Registry(entry_points=())
    r.register("opcua", OpcUaAdapter)
    cfg = parse_config(
        CONFIG.format(endpoint="opc.tcp://127.0.0.1:4840/x", pub=100, ch4=CH4, node="ns=2;s=X"),
        "o.yaml",
        registry=r,
    )
    assert cfg.adapter is not None and isinstance(cfg.adapter.settings, OpcUaSettings)
    assert cfg.adapter.points[0].source == OpcUaSource(node_id="ns=2;s=X")
    for endpoint, pub, node, key in [
        ("http://x", 100, "s=X", "adapter.settings"),
        ("opc.tcp://h:1/x", 1, "s=X", "adapter.settings"),
        ("opc.tcp://h:1/x", 100, "q=1", "adapter.points[0].source"),
    ]:
        with pytest.raises(ConfigError) as e:
            parse_config(CONFIG.format(endpoint=endpoint, pub=pub, ch4=CH4, node=node), "o.yaml", registry=r)
        assert any(p.path.startswith(key) and p.line > 1 for p in e.value.problems), [
            str(p) for p in e.value.problems
        ]
