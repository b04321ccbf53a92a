"""The core never raises on arbitrary input: raw bytes, arbitrary JSON, random schema-shaped messages."""

from __future__ import annotations

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from protostrategies import messages
from santong.protocols import (
    DeviceState,
    ValidationContext,
    ValidationError,
    decode_proto,
    validate,
    validate_json,
)

NAMES = [
    "RegisterRequest",
    "DefinePointsRequest",
    "ReportObservationsRequest",
    "ReportAlarmsRequest",
    "ReportOutstationStatusRequest",
    "ReportStatisticsRequest",
    "DefinePositioningRequest",
    "ReportPersonnelRequest",
    "HeartbeatRequest",
    "CommandsRequest",
]
JSON = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats() | st.text(),
    lambda c: st.lists(c, max_size=4) | st.dictionaries(st.text(max_size=8), c, max_size=4),
    max_leaves=12,
)


@pytest.mark.parametrize("name", NAMES)
@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(raw=st.binary(max_size=300))
def test_raw_bytes(name: str, raw: bytes) -> None:
    _, vs = validate_json(raw, name)
    assert isinstance(vs, list)
    try:
        msg = decode_proto(raw, name)
    except ValidationError as e:
        assert e.violations[0].clause_id in ("ST-DATA-035", "ST-DATA-034")  # malformed, or unknown fields
        return
    assert isinstance(validate(msg), list)


@pytest.mark.parametrize("name", NAMES)
@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(doc=JSON)
def test_arbitrary_json(name: str, doc: object) -> None:
    _, vs = validate_json(doc if isinstance(doc, dict) else str(doc), name)
    assert isinstance(vs, list)


@pytest.mark.parametrize("name", NAMES)
@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(data=st.data())
def test_schema_shaped_messages(name: str, data: st.DataObject) -> None:
    msg = data.draw(messages(name))
    state = DeviceState(mine_code="140421000001")
    assert isinstance(validate(msg, ValidationContext(state=state)), list)


class RuleBug(Exception):
    """Marks the exception a deliberately broken rule raises."""


@pytest.mark.parametrize("error", [ValueError, TypeError, OverflowError, KeyError, RuleBug])
def test_a_rule_that_raises_is_not_hidden_as_a_violation(
    monkeypatch: pytest.MonkeyPatch, error: type[Exception]
) -> None:
    """Only decoding errors become ST-DATA-035; a crashing rule propagates, so the fuzz tests above fail on it."""
    from santong.protocols import _rules
    from santong.protocols.v1 import device_access_pb2 as pb

    def broken(msg: object, ctx: object, out: object, path: str) -> None:
        raise error("rule bug")

    monkeypatch.setitem(_rules.RULES, "HeartbeatRequest", (broken, ()))
    with pytest.raises(error, match="rule bug"):
        validate(pb.HeartbeatRequest())
    with pytest.raises(error, match="rule bug"):  # the fuzz test itself fails on the broken rule
        test_raw_bytes.hypothesis.inner_test("HeartbeatRequest", b"")  # type: ignore[attr-defined]
    with pytest.raises(error, match="rule bug"):
        validate_json(b"{}", "HeartbeatRequest")
