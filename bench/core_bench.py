"""Validation-core throughput on 1000-point packed batches, next to bare parse and reference jsonschema."""

from __future__ import annotations

import random

from santong.protocols import (
    DeviceState,
    ValidationContext,
    reference_validator,
    timestamp_ms,
    to_dict,
    validate,
)
from santong.protocols._schemas import validator
from santong.protocols.v1 import common_pb2, data_pb2, device_access_pb2

from bench._timing import entry, rate

MINE = "140421000001"
N = 1000


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
    """Measure and return the entries."""
    raw, ctx, doc = _setup()
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

    ref = reference_validator("ReportObservationsRequest")

    def reference() -> None:
        ref.validate(doc)

    fast = validator("ReportObservationsRequest")

    def rust_schema() -> None:
        fast.is_valid(doc)

    bare = rate(parse, N)
    columns = rate(parse_columns, N)
    ours = rate(core, N)
    reference_rate = rate(reference, N, seconds=1.0, repeats=1)
    rs_rate = rate(rust_schema, N)
    return [
        entry(
            "protocols.core.packed_batch",
            ours,
            "points/s",
            "protobuf parse + columns copied to lists (no validation)",
            columns,
        ),
        entry(
            "protocols.core.packed_batch_vs_lazy_parse",
            ours,
            "points/s",
            "protobuf parse only (upb, lazy)",
            bare,
        ),
        entry(
            "protocols.json_stage.jsonschema_rs",
            rs_rate,
            "points/s",
            "reference jsonschema on the JSON form",
            reference_rate,
        ),
        entry(
            "protocols.core.packed_batch_vs_jsonschema",
            ours,
            "points/s",
            "reference jsonschema on the JSON form",
            reference_rate,
        ),
    ]
