"""The hot-path validator (jsonschema-rs) agrees with the reference jsonschema, on valid and invalid documents."""

from __future__ import annotations

import json
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from protostrategies import messages
from santong.protocols import reference_validator, schema_names, to_dict
from santong.protocols._schemas import validator

JSON_LEAF = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(-(2**70), 2**70),
    st.floats(allow_nan=False, allow_infinity=False),
    st.text(max_size=8),
    st.sampled_from(
        [
            "2025-01-15T02:30:00Z",
            "2025-01-15 10:30:00",
            "2025-01-15T10:30:00+08:00",
            "18446744073709551616",
            "-1",
            "VALUE_KIND_ANALOG",
        ]
    ),
)
JSON_VALUE = st.recursive(
    JSON_LEAF,
    lambda c: st.lists(c, max_size=3) | st.dictionaries(st.text(max_size=5), c, max_size=3),
    max_leaves=6,
)


def _paths(doc: Any, prefix: tuple = ()) -> list[tuple]:
    out = [prefix]
    if isinstance(doc, dict):
        for k, v in doc.items():
            out += _paths(v, (*prefix, k))
    elif isinstance(doc, list):
        for i, v in enumerate(doc):
            out += _paths(v, (*prefix, i))
    return out


@st.composite
def mutated(draw: st.DrawFn, name: str) -> Any:
    doc = json.loads(json.dumps(to_dict(draw(messages(name)))))
    for _ in range(draw(st.integers(1, 3))):
        paths = _paths(doc)
        path = draw(st.sampled_from(paths))
        value = draw(JSON_VALUE)
        if not path:
            if draw(st.booleans()):
                doc = value
            elif isinstance(doc, dict):
                doc[draw(st.text(max_size=6))] = value
            continue
        parent = doc
        for p in path[:-1]:
            parent = parent[p]
        parent[path[-1]] = value
    return doc


NAMES = [
    n
    for n in schema_names()
    if n
    in (
        "ObservationBatch",
        "DefinePointsRequest",
        "ReportAlarmsRequest",
        "RegisterRequest",
        "ReportPersonnelRequest",
        "CommandsResponse",
        "GetPlatformInfoResponse",
    )
]


@pytest.mark.parametrize("name", NAMES)
@settings(
    max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much]
)
@given(data=st.data())
def test_validators_agree(name: str, data: st.DataObject) -> None:
    doc = data.draw(st.one_of(mutated(name), messages(name).map(to_dict)))
    fast = validator(name).is_valid(doc)
    ref = reference_validator(name).is_valid(doc)
    assert fast == ref, (doc, list(reference_validator(name).iter_errors(doc))[:3])


@pytest.mark.parametrize(
    "doc, valid",
    [
        ({"sequence": "1", "base_time": "2025-01-15T02:30:00Z", "alias": [1]}, True),
        ({"base_time": "2025-01-15T02:30:00.123456789Z"}, True),
        ({"base_time": "2025-01-15 10:30:00"}, False),
        ({"base_time": "2025-01-15T10:30:00+08:00"}, False),
        ({"alias": [-1]}, False),
        ({"alias": [2**32]}, False),
        ({"sequence": "-1"}, False),
        ({"sequence": 1.5}, False),
        ({"status": ["0"]}, False),
        ({"unknown": 1}, False),
        ({"backfill": "true"}, False),
    ],
)
def test_known_documents(doc: dict, valid: bool) -> None:
    assert validator("ObservationBatch").is_valid(doc) is valid
    assert reference_validator("ObservationBatch").is_valid(doc) is valid
