"""Every rule of the validation core, fed good and bad input: each bad input names its clause."""

from __future__ import annotations

import copy
import json
from collections.abc import Callable
from typing import Any

import pytest
from santong.protocols import (
    DeviceState,
    ValidationContext,
    decode_json,
    must_violations,
    timestamp_ms,
    validate,
    validate_json,
)

MINE = "140421000001"
CH4 = f"{MINE}01MNA0010A01"


@pytest.fixture
def session(reference_session: list[tuple[str, dict]]) -> dict[str, dict]:
    out: dict[str, dict] = {}
    for name, body in reference_session:
        out.setdefault(name, body)
    return copy.deepcopy(out)


@pytest.fixture
def ctx(reference_session: list[tuple[str, dict]]) -> ValidationContext:
    """A context after Register + DefinePoints, clock at the first observation."""
    c = ValidationContext(state=DeviceState())
    for name, body in reference_session[:2]:
        c.state.apply(decode_json(body, name))
    c.now_ms = (
        timestamp_ms(decode_json(reference_session[2][1], "ReportObservationsRequest").batch.base_time) + 6000
    )
    return c


def clauses_of(name: str, body: dict, ctx: ValidationContext) -> set[str]:
    msg, vs = validate_json(body, name, ctx)
    return {v.clause_id for v in vs}


def test_reference_session_is_clean(reference_session: list[tuple[str, dict]]) -> None:
    c = ValidationContext(state=DeviceState(), arrival=False)
    for name, body in reference_session:
        msg, vs = validate_json(body, name, c)
        assert vs == [], (name, [str(v) for v in vs])
        assert msg is not None
        c.state.apply(msg)


def _mut(path: str, value: Any) -> Callable[[dict], None]:
    def apply(d: dict) -> None:
        node: Any = d
        parts = path.split(".")
        for p in parts[:-1]:
            node = node[int(p)] if p.isdigit() else node[p]
        last = parts[-1]
        if value is DELETE:
            del node[last]
        elif last.isdigit():
            node[int(last)] = value
        else:
            node[last] = value

    return apply


DELETE = object()

CASES: list[tuple[str, str, Callable[[dict], None]]] = [
    # Register
    ("RegisterRequest", "ST-DATA-001", _mut("mine.mine_code", "99042100000")),
    ("RegisterRequest", "ST-DATA-001", _mut("device.mine_code", "140421000002")),
    ("RegisterRequest", "ST-DATA-028", _mut("device.serial_number", "")),
    ("RegisterRequest", "ST-DATA-028", _mut("device.product_class", "PRODUCT_CLASS_UNSPECIFIED")),
    ("RegisterRequest", "ST-DATA-029", _mut("device.ma_certificate", "安标123")),
    # Definitions
    ("DefinePointsRequest", "ST-DATA-002", _mut("points.0.point_code", "1404210000010MNA0010A01")),
    ("DefinePointsRequest", "ST-DATA-003", _mut("points.0.point_code", "14042100000901MNA0010A01")),
    ("DefinePointsRequest", "ST-DATA-004", _mut("points.0.point_code", "14042100000101KGA0010A01")),
    ("DefinePointsRequest", "ST-DATA-004", _mut("points.0.point_code", "14042100000101MNA0030A01")),
    ("DefinePointsRequest", "ST-DATA-005", _mut("points.0.outstation_code", f"{MINE}F-01")),
    ("DefinePointsRequest", "ST-DATA-009", _mut("points.0.system_code", "1")),
    ("DefinePointsRequest", "ST-DATA-010", _mut("points.0.sensor_type", "Z999")),
    ("DefinePointsRequest", "ST-DATA-011", _mut("points.0.unit", "%")),
    ("DefinePointsRequest", "ST-DATA-012", _mut("points.0.value_kind", "VALUE_KIND_SWITCH")),
    ("DefinePointsRequest", "ST-DATA-013", _mut("points.0.range_low", 5)),
    ("DefinePointsRequest", "ST-DATA-013", _mut("points.0.range_high", 400)),
    ("DefinePointsRequest", "ST-DATA-014", _mut("points.0.alarm_high", 2.0)),
    ("DefinePointsRequest", "ST-DATA-014", _mut("points.0.power_off_high", 9.0)),
    ("DefinePointsRequest", "ST-DATA-015", _mut("points.0.alarm_high", 1.2)),
    ("DefinePointsRequest", "ST-DATA-016", _mut("points.3.on_description", "")),
    ("DefinePointsRequest", "ST-DATA-017", _mut("points.1.alias", 1)),
    ("DefinePointsRequest", "ST-DATA-017", _mut("points.0.alias", 0)),
    ("DefinePointsRequest", "ST-DATA-033", _mut("points.0.location", "")),
    ("DefinePointsRequest", "ST-DATA-031", _mut("points.0.defined_at", "2035-01-01T00:00:00Z")),
    ("DefinePointsRequest", "ST-IFACE-010", lambda d: d.update(points=[], outstations=[])),
    # JSON stage
    ("DefinePointsRequest", "ST-DATA-034", _mut("points.0.pointCode", "x")),
    ("DefinePointsRequest", "ST-DATA-035", _mut("points.0.range_high", "4")),
    ("DefinePointsRequest", "ST-DATA-035", _mut("points.0.value_kind", 1)),
    ("DefinePointsRequest", "ST-DATA-030", _mut("points.0.defined_at", "2025-01-15 10:30:00")),
    # Observations
    ("ReportObservationsRequest", "ST-IFACE-004", _mut("batch.alias.0", 99)),
    ("ReportObservationsRequest", "ST-IFACE-005", _mut("batch.value", [1.0])),
    ("ReportObservationsRequest", "ST-IFACE-005", _mut("batch.base_time", DELETE)),
    (
        "ReportObservationsRequest",
        "ST-IFACE-010",
        lambda d: d["batch"].update(alias=[], value=[], time_offset_ms=[], status=[]),
    ),
    ("ReportObservationsRequest", "ST-PROTO-011", _mut("batch.sequence", "0")),
    ("ReportObservationsRequest", "ST-DATA-019", _mut("batch.value.3", 2)),
    ("ReportObservationsRequest", "ST-DATA-020", _mut("batch.status.0", 256)),
    ("ReportObservationsRequest", "ST-DATA-021", _mut("batch.value.0", 7.5)),
    ("ReportObservationsRequest", "ST-DATA-031", _mut("batch.base_time", "2035-01-15T02:30:00Z")),
    ("ReportObservationsRequest", "ST-DATA-032", _mut("batch.base_time", "2025-01-15T01:00:00Z")),
    ("ReportObservationsRequest", "ST-DATA-030", _mut("batch.base_time", "2025-01-15T10:30:00+08:00")),
    # Alarms
    ("ReportAlarmsRequest", "ST-DATA-022", _mut("alarms.0.anomaly_type", "ANOMALY_TYPE_UNSPECIFIED")),
    ("ReportAlarmsRequest", "ST-DATA-023", _mut("alarms.0.end_time", "2025-01-15T02:30:20Z")),
    ("ReportAlarmsRequest", "ST-DATA-023", _mut("alarms.0.state", "ALARM_STATE_UNSPECIFIED")),
    ("ReportAlarmsRequest", "ST-DATA-024", _mut("alarms.0.min_value", 3.0)),
    ("ReportAlarmsRequest", "ST-IFACE-016", _mut("alarms.0.alarm_id", "")),
    (
        "ReportAlarmsRequest",
        "ST-IFACE-016",
        lambda d: d["alarms"][0].update(state="ALARM_STATE_CLEARED", end_time="2025-01-15T02:30:20Z"),
    ),
    ("ReportAlarmsRequest", "ST-IFACE-018", _mut("alarms.0.point_code", f"{MINE}01MNA0019999")),
    # Outstation status
    ("ReportOutstationStatusRequest", "ST-DATA-025", _mut("statuses.0.run_state", "RUN_STATE_UNSPECIFIED")),
    (
        "ReportOutstationStatusRequest",
        "ST-DATA-025",
        _mut("statuses.0.power_state", "POWER_STATE_UNSPECIFIED"),
    ),
    ("ReportOutstationStatusRequest", "ST-IFACE-018", _mut("statuses.0.outstation_code", f"{MINE}F99")),
]


@pytest.mark.parametrize(
    "name, clause_id, mutate", CASES, ids=[f"{c[0]}-{c[1]}-{i}" for i, c in enumerate(CASES)]
)
def test_bad_input_names_its_clause(
    session: dict[str, dict],
    ctx: ValidationContext,
    name: str,
    clause_id: str,
    mutate: Callable[[dict], None],
) -> None:
    body = session[name]
    assert clause_id not in clauses_of(name, copy.deepcopy(body), ctx), (
        "the good message must not already break the clause"
    )
    mutate(body)
    got = clauses_of(name, body, ctx)
    assert clause_id in got, got


def _statistics(**over: Any) -> dict:
    s = {
        "point_code": CH4,
        "sensor_type": "A001",
        "unit": "%CH4",
        "start_time": "2025-01-15T02:00:00Z",
        "end_time": "2025-01-15T02:30:00Z",
        "max_value": 0.5,
        "max_time": "2025-01-15T02:10:00Z",
        "min_value": 0.1,
        "min_time": "2025-01-15T02:20:00Z",
        "avg_value": 0.3,
    }
    s.update(over)
    return {"sequence": "9", "statistics": [s]}


@pytest.mark.parametrize(
    "over, clause_id",
    [
        (
            {
                "end_time": "2025-01-15T01:00:00Z",
                "max_time": "2025-01-15T00:50:00Z",
                "min_time": "2025-01-15T00:55:00Z",
            },
            "ST-DATA-027",
        ),
        ({"avg_value": 0.9}, "ST-DATA-024"),
        ({"max_time": "2025-01-15T03:10:00Z"}, "ST-DATA-024"),
        ({"point_code": f"{MINE}01MNA0019999"}, "ST-IFACE-018"),
    ],
)
def test_statistics(ctx: ValidationContext, over: dict, clause_id: str) -> None:
    assert clauses_of("ReportStatisticsRequest", _statistics(), ctx) == set()
    assert clause_id in clauses_of("ReportStatisticsRequest", _statistics(**over), ctx)


def _positioning() -> dict:
    return {
        "areas": [{"area_code": f"{MINE}0001", "name": "主井底", "capacity": 50}],
        "stations": [
            {"station_code": f"{MINE}0001000001", "area_code": f"{MINE}0001", "location": "主井底车场"}
        ],
    }


def _personnel(**over: Any) -> dict:
    r = {
        "card_code": f"{MINE}00001",
        "name": "张三",
        "direction": "MINE_DIRECTION_IN",
        "entered_mine_at": "2025-01-15T00:00:00Z",
        "area_code": f"{MINE}0001",
        "station_code": f"{MINE}0001000001",
        "time": "2025-01-15T02:30:00Z",
    }
    r.update(over)
    return {
        "sequence": "10",
        "records": [r],
        "stations": [
            {
                "station_code": f"{MINE}0001000001",
                "run_state": "RUN_STATE_OK",
                "power_state": "POWER_STATE_AC",
                "time": "2025-01-15T02:30:00Z",
            }
        ],
    }


@pytest.mark.parametrize(
    "over, clause_id",
    [
        ({"card_code": f"{MINE}0001"}, "ST-DATA-006"),
        ({"card_code": "14042100000900001"}, "ST-DATA-003"),
        ({"direction": "MINE_DIRECTION_UNSPECIFIED"}, "ST-DATA-026"),
        ({"exited_mine_at": "2025-01-15T02:00:00Z"}, "ST-DATA-026"),
        ({"area_code": f"{MINE}0002"}, "ST-IFACE-018"),
        ({"time": "2035-01-01T00:00:00Z"}, "ST-DATA-031"),
    ],
)
def test_personnel(ctx: ValidationContext, over: dict, clause_id: str) -> None:
    msg, vs = validate_json(_positioning(), "DefinePositioningRequest", ctx)
    assert vs == [] and msg is not None
    ctx.state.apply(msg)
    assert clauses_of("ReportPersonnelRequest", _personnel(), ctx) == set()
    assert clause_id in clauses_of("ReportPersonnelRequest", _personnel(**over), ctx)


@pytest.mark.parametrize(
    "mutate, clause_id",
    [
        (lambda d: d["areas"][0].update(area_code=f"{MINE}001"), "ST-DATA-007"),
        (lambda d: d["stations"][0].update(station_code=f"{MINE}00010001"), "ST-DATA-008"),
        (lambda d: d["stations"][0].update(area_code=f"{MINE}0009"), "ST-IFACE-018"),
    ],
)
def test_positioning(ctx: ValidationContext, mutate: Callable[[dict], None], clause_id: str) -> None:
    d = _positioning()
    mutate(d)
    assert clause_id in clauses_of("DefinePositioningRequest", d, ctx)


def test_station_code_rule_is_a_warning(ctx: ValidationContext) -> None:
    d = _positioning()
    d["stations"][0]["station_code"] = f"{MINE}00010001"
    _, vs = validate_json(d, "DefinePositioningRequest", ctx)
    assert vs and not must_violations(vs)


def test_commands(ctx: ValidationContext) -> None:
    assert (
        clauses_of(
            "CommandsRequest", {"result": {"command_id": "c1", "outcome": "COMMAND_OUTCOME_SUCCEEDED"}}, ctx
        )
        == set()
    )
    assert "ST-IFACE-020" in clauses_of(
        "CommandsRequest", {"result": {"outcome": "COMMAND_OUTCOME_SUCCEEDED"}}, ctx
    )
    assert "ST-IFACE-020" in clauses_of("CommandsRequest", {"result": {"command_id": "c1"}}, ctx)
    assert "ST-IFACE-020" in clauses_of("CommandsResponse", {"command": {"command_id": "c1"}}, ctx)


def test_sequence_must_increase(ctx: ValidationContext, session: dict[str, dict]) -> None:
    ctx.state.last_sequence = 5
    body = session["ReportObservationsRequest"]
    body["batch"]["sequence"] = "5"
    assert "ST-PROTO-011" in clauses_of("ReportObservationsRequest", body, ctx)
    body["batch"]["sequence"] = "6"
    assert "ST-PROTO-011" not in clauses_of("ReportObservationsRequest", body, ctx)


def test_limits(ctx: ValidationContext, session: dict[str, dict]) -> None:
    ctx.limits.max_batch_points = 4
    assert "ST-PROTO-008" in clauses_of(
        "ReportObservationsRequest", session["ReportObservationsRequest"], ctx
    )
    ctx.limits.max_points_per_definition = 2
    assert "ST-PROTO-008" in clauses_of("DefinePointsRequest", session["DefinePointsRequest"], ctx)


def test_non_finite_values(ctx: ValidationContext, session: dict[str, dict]) -> None:
    msg = decode_json(session["ReportObservationsRequest"], "ReportObservationsRequest")
    msg.batch.value[1] = float("nan")
    msg.batch.value[2] = float("inf")
    vs = [v for v in validate(msg, ctx) if v.clause_id == "ST-DATA-018"]
    assert [v.path for v in vs] == ["$.batch.value[1]", "$.batch.value[2]"]


def test_malformed_json_names_its_clause() -> None:
    for raw in (b"{", b"\xff\xfe", b"[1, 2]", b'"x"'):
        _, vs = validate_json(raw, "ObservationBatch")
        assert [v.clause_id for v in vs] == ["ST-DATA-036"], raw


def test_messages_are_bilingual_and_give_the_fix(ctx: ValidationContext, session: dict[str, dict]) -> None:
    body = session["DefinePointsRequest"]
    body["points"][0]["unit"] = "%"
    _, vs = validate_json(body, "DefinePointsRequest", ctx)
    v = next(v for v in vs if v.clause_id == "ST-DATA-011")
    assert "%CH4" in v.message_zh and "%CH4" in v.message_en
    assert v.path == "$.points[0].unit"
    assert json.dumps(v.as_dict(), ensure_ascii=False)


def test_timestamps_outside_rfc3339_range(ctx: ValidationContext, session: dict[str, dict]) -> None:
    msg = decode_json(session["ReportObservationsRequest"], "ReportObservationsRequest")
    msg.batch.base_time.seconds = 253402300800  # year 10000
    assert "ST-DATA-030" in {v.clause_id for v in validate(msg, ctx)}
    d = decode_json(session["DefinePointsRequest"], "DefinePointsRequest")
    d.points[0].defined_at.seconds = -62135596801
    assert "ST-DATA-030" in {v.clause_id for v in validate(d, ctx)}


def _ch4_batch(session: dict[str, dict], value: float, status: int) -> Any:
    msg = decode_json(session["ReportObservationsRequest"], "ReportObservationsRequest")
    assert msg.batch.alias[0] == 1  # alias 1: the methane point A001, range [0, 4], physical [0, 100]
    msg.batch.value[0], msg.batch.status[0] = value, status
    return msg


@pytest.mark.parametrize(
    "value, status, must",
    [
        (4000.0, 0, True),  # ×10 000 scaling bug, normal status
        (4000.0, 8, True),  # the over-range bit does not make an impossible value valid
        (4000.0, 1 | 8, True),  # nor does the alarm bit
        (-0.5, 0, True),  # a negative concentration
        (4000.0, 128, False),  # sensor fault: correct behaviour
        (-0.5, 16, False),  # outstation fault
        (4000.0, 64 | 8, False),  # paused
        (7.5, 8, False),  # over the point's range but physically possible: ST-DATA-021's business only
        (100.0, 8, False),  # the physical limit itself is possible
    ],
)
def test_physically_impossible_value_with_valid_status(
    ctx: ValidationContext, session: dict[str, dict], value: float, status: int, must: bool
) -> None:
    vs = validate(_ch4_batch(session, value, status), ctx)
    hits = [v for v in vs if v.clause_id == "ST-DATA-048"]
    if must:
        assert [v.path for v in hits] == ["$.batch.value[0]"], [str(v) for v in vs]
        assert hits[0].level == "MUST" and must_violations(vs)  # the batch is rejected (SPEC: why)
        assert "%CH4" in hits[0].message_zh and "128" in hits[0].message_en
    else:
        assert hits == [], [str(v) for v in hits]
        assert not must_violations(vs), [str(v) for v in vs]
