"""protobuf → JSON → schema-valid → protobuf equal, for every v1 message; and the fast batch path."""

from __future__ import annotations

import json

import pytest
from google.protobuf import json_format
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from protostrategies import messages
from santong.protocols import (
    decode_json,
    decode_proto,
    message_names,
    reference_validator,
    schema_names,
    to_dict,
    to_json,
)
from santong.protocols._schemas import validator

TOP_LEVEL = [n for n in message_names() if n in schema_names()]


@pytest.mark.parametrize("name", TOP_LEVEL)
@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(data=st.data())
def test_round_trip(name: str, data: st.DataObject) -> None:
    msg = data.draw(messages(name))
    doc = json.loads(to_json(msg))
    assert validator(name).is_valid(doc), list(validator(name).iter_errors(doc))[:3]
    assert reference_validator(name).is_valid(doc)
    assert decode_json(doc, name) == msg
    assert decode_proto(msg.SerializeToString(), name) == msg


@settings(max_examples=100, deadline=None)
@given(msg=messages("ObservationBatch"))
def test_fast_batch_path_equals_generic_parser(msg) -> None:  # type: ignore[no-untyped-def]
    doc = to_dict(msg)
    generic = type(msg)()
    json_format.ParseDict(doc, generic)
    assert decode_json(doc, "ObservationBatch") == generic == msg
    req = decode_json({"batch": doc}, "ReportObservationsRequest")
    assert req.batch == msg


def test_64_bit_integers_as_strings_and_integers() -> None:
    a = decode_json({"sequence": "18446744073709551615"}, "ObservationBatch")
    b = decode_json({"sequence": 18446744073709551615}, "ObservationBatch")
    assert a.sequence == b.sequence == 2**64 - 1
    assert to_dict(a)["sequence"] == "18446744073709551615"
