"""Strict decoding in the one core (issue 12, item 5): repeated JSON member names and protobuf fields unknown to the
interface are rejected (ST-DATA-034), whatever decoder the transport uses."""

from __future__ import annotations

import json

import pytest
from santong.protocols import ValidationError, decode_json, decode_proto, loads_strict, to_json
from santong.protocols.v1 import device_access_pb2 as pb


def _batch_json() -> str:
    req = pb.ReportObservationsRequest()
    req.batch.sequence = 7
    req.batch.alias.append(1)
    req.batch.value.append(0.5)
    req.batch.time_offset_ms.append(0)
    req.batch.status.append(0)
    req.batch.base_time.FromMilliseconds(1_800_000_000_000)
    return to_json(req)


@pytest.mark.parametrize(
    "text",
    [
        '{"batch": {"sequence": "7", "sequence": "8"}}',  # nested
        '{"batch": {}, "batch": {}}',  # top level
    ],
)
def test_repeated_member_names_are_rejected_not_last_wins(text: str) -> None:
    assert json.loads(text)  # the stdlib decoder alone keeps the last value silently
    with pytest.raises(ValidationError) as info:
        decode_json(text, "ReportObservationsRequest")
    assert [v.clause_id for v in info.value.violations] == ["ST-DATA-034"]
    with pytest.raises(ValueError, match="batch|sequence"):
        loads_strict(text)


def test_the_decoder_in_use_keeps_unique_documents() -> None:
    text = _batch_json()
    assert decode_json(text, "ReportObservationsRequest").batch.sequence == 7
    assert decode_json(text.encode(), "ReportObservationsRequest").batch.value[0] == 0.5


@pytest.mark.parametrize(
    "suffix, path",
    [
        (b"\xf8\x07\x01", "$"),  # field 127 (varint) at the top level
        (None, "$.batch"),  # field 127 inside the batch
    ],
)
def test_protobuf_fields_unknown_to_the_interface_are_rejected(suffix: bytes | None, path: str) -> None:
    req = pb.ReportObservationsRequest()
    req.batch.sequence = 3
    inner = req.batch.SerializeToString() + b"\xf8\x07\x01"
    data = req.SerializeToString() + suffix if suffix else b"\x0a" + bytes([len(inner)]) + inner
    with pytest.raises(ValidationError) as info:
        decode_proto(data, "ReportObservationsRequest")
    (v,) = info.value.violations
    assert v.clause_id == "ST-DATA-034" and v.path == path and "127" in v.message_en
    assert decode_proto(req.SerializeToString(), "ReportObservationsRequest").batch.sequence == 3
