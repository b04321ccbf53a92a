"""Validation-core throughput on 1000-point batches, next to bare parse and the reference jsonschema.

Every entry compares work on the same data: the packed batch (protobuf) with its bare parse; the JSON schema
check (jsonschema-rs) with the reference jsonschema on the same parsed document; the whole JSON path (strict
parse, schema, message, rules) with a strict parse plus the reference jsonschema on the same bytes. All
functions are timed the same way (one untimed call, then interleaved windows, best of 3).
"""

from __future__ import annotations

import json
import random

from santong.protocols import (
    DeviceState,
    ValidationContext,
    decode_json,
    loads_strict,
    reference_validator,
    timestamp_ms,
    to_dict,
    validate,
)
from santong.protocols._schemas import validator
from santong.protocols.v1 import common_pb2, data_pb2, device_access_pb2

from bench._timing import entry, rates

MINE = "140421000001"
N = 1000
SECONDS = 3.0  # per function, split into 3 interleaved windows


def _setup() -> tuple[bytes, ValidationContext, dict]:
    state = DeviceState(mine_code=MINE)
    points = []
    for i in range(1, N + 1):
        points.append(
            data_pb2.PointDefinition(
                alias=i,
                point_code=f"{MINE}01MNA001{i:04d}",
                sensor_type="A001",
                value_kind=common_pb2.VALUE_KIND_ANALOG,
                unit="%CH4",
                range_low=0,
                range_high=4,
                location=f"point {i}",
            )
        )
    state.define_points(points)
    rnd = random.Random(1)
    req = device_access_pb2.ReportObservationsRequest()
    b = req.batch
    b.sequence = 1
    b.base_time.FromJsonString("2025-01-15T02:30:00Z")
    b.alias.extend(range(1, N + 1))
    b.value.extend(round(rnd.uniform(0, 1), 3) for _ in range(N))
    b.time_offset_ms.extend(rnd.randrange(0, 5000) for _ in range(N))
    b.status.extend([0] * N)
    ctx = ValidationContext(state=state, now_ms=timestamp_ms(b.base_time) + 5000)
    return req.SerializeToString(), ctx, to_dict(req)


def run() -> list[dict]:
    """Measure and return the entries (every function timed the same way: interleaved windows, best of 3)."""
    raw, ctx, doc = _setup()
    text = json.dumps(doc, separators=(",", ":")).encode()
    cls = device_access_pb2.ReportObservationsRequest

    def parse() -> None:
        cls.FromString(raw)

    def parse_columns() -> None:
        b = cls.FromString(raw).batch
        b.alias[:], b.value[:], b.time_offset_ms[:], b.status[:]

    def core() -> None:
        m = cls.FromString(raw)
        if validate(m, ctx):
            raise AssertionError("benchmark batch must be valid")

    def json_core() -> None:
        m = decode_json(text, "ReportObservationsRequest")
        if validate(m, ctx):
            raise AssertionError("benchmark batch must be valid")

    ref = reference_validator("ReportObservationsRequest")

    def json_reference() -> None:
        ref.validate(loads_strict(text))

    def reference() -> None:
        ref.validate(doc)

    fast = validator("ReportObservationsRequest")

    def rust_schema() -> None:
        if not fast.is_valid(doc):
            raise AssertionError("benchmark document must be valid")

    r = rates(
        {"parse": parse, "columns": parse_columns, "core": core, "json_core": json_core,
         "json_reference": json_reference, "reference": reference, "rust_schema": rust_schema},
        N,
        seconds=SECONDS,
    )  # fmt: skip
    return [
        entry(
            "protocols.core.packed_batch",
            r["core"],
            "points/s",
            "protobuf parse + columns copied to lists (no validation)",
            r["columns"],
        ),
        entry(
            "protocols.core.packed_batch_vs_lazy_parse",
            r["core"],
            "points/s",
            "protobuf parse only (upb, lazy)",
            r["parse"],
        ),
        entry(
            "protocols.json_stage.jsonschema_rs",
            r["rust_schema"],
            "points/s",
            "reference jsonschema (Draft 2020-12) on the same parsed JSON document, same schema",
            r["reference"],
        ),
        entry(
            "protocols.core.json_batch_vs_jsonschema",
            r["json_core"],
            "points/s",
            "the same JSON bytes: strict parse (loads_strict) + reference jsonschema only; ours does more work on "
            "them (strict parse, schema, message, every rule)",
            r["json_reference"],
        ),
    ]
