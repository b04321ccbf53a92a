"""Fields per negotiated spec version (ST-DATA-034) and the sequence-epoch rule of the core (ST-PROTO-037).

The truth of which fields v1.0 has is the frozen baseline (protocols/baseline/v1.0/image.binpb); the core reads
protocols/data/versions.json, which scripts/generate.py derives from it. These tests read the baseline
themselves, so a stale or hand-edited versions.json fails here."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from google.protobuf import descriptor_pb2
from santong.protocols import (
    DeviceState,
    ValidationContext,
    decode_json,
    interface_versions,
    newest_version,
    to_json,
    validate,
    version_key,
    version_violations,
)
from santong.protocols._versions import introduced_in, unknown_fields
from santong.protocols.v1 import common_pb2, data_pb2, device_access_pb2, platform_pb2

pb = device_access_pb2
ROOT = Path(__file__).resolve().parents[2]
BASELINE = ROOT / "protocols" / "baseline" / "v1.0" / "image.binpb"


def _fields_of_v1_0() -> dict[str, set[int]]:
    fds = descriptor_pb2.FileDescriptorSet.FromString(BASELINE.read_bytes())
    out: dict[str, set[int]] = {}

    def walk(prefix: str, messages: object) -> None:
        for m in messages:  # type: ignore[attr-defined]
            out[f"{prefix}.{m.name}"] = {f.number for f in m.field}
            walk(f"{prefix}.{m.name}", m.nested_type)

    for f in fds.file:
        walk(f.package, f.message_type)
    return out


def _register(**device: str) -> device_access_pb2.RegisterRequest:
    req = pb.RegisterRequest(supported_versions=["1.1", "1.0"])
    req.device.device_id = "KJ70N-0001"
    for k, v in device.items():
        setattr(req.device, k, v)
    return req


def test_versions_newest_first_and_the_working_interface_is_newer_than_the_frozen_one() -> None:
    assert interface_versions() == ("1.1", "1.0") and newest_version() == "1.1"
    assert version_key("1.10") > version_key("1.9") and version_key("x") is None  # type: ignore[operator]


def test_every_field_the_baseline_lacks_is_unknown_under_1_0_and_none_other() -> None:
    """For every message of the compiled interface: setting a field v1.0 lacks is ST-DATA-034 under 1.0, a field it
    has is not (checked against the baseline image, not against versions.json)."""
    v10 = _fields_of_v1_0()
    newer: list[str] = []
    for mod in (common_pb2, data_pb2, device_access_pb2, platform_pb2):
        for d in mod.DESCRIPTOR.message_types_by_name.values():
            if d.full_name not in v10:
                continue  # a new message is reachable only through a new field
            for f in d.fields:
                if f.message_type is not None or f.is_repeated or f.enum_type is not None:
                    continue
                msg = getattr(mod, d.name)()
                value = {f.TYPE_STRING: "x", f.TYPE_BOOL: True, f.TYPE_BYTES: b"x"}.get(f.type, 1)
                setattr(msg, f.name, value)
                unknown = f.number not in v10[d.full_name]
                assert bool(version_violations(msg, "1.0")) == unknown, (d.full_name, f.name)
                assert version_violations(msg, "1.1") == [] and version_violations(msg, None) == []
                if unknown:
                    newer.append(f"{d.name}.{f.name}")
    assert {"DeviceIdentity.firmware_sha256", "RegisterRequest.sequence_epoch"} <= set(newer)


def test_a_field_added_after_1_0_is_refused_under_1_0_and_accepted_under_1_1() -> None:
    req = _register(firmware_sha256="ab" * 32)
    req.sequence_epoch = 2
    under_10 = validate(req, ValidationContext(version="1.0"))
    bad = {(v.clause_id, v.path) for v in under_10 if v.clause_id == "ST-DATA-034"}
    assert bad == {("ST-DATA-034", "$.device.firmware_sha256"), ("ST-DATA-034", "$.sequence_epoch")}
    assert all("1.0" in v.message_en for v in under_10 if v.clause_id == "ST-DATA-034")
    for version in ("1.1", None):
        assert not [
            v for v in validate(req, ValidationContext(version=version)) if v.clause_id == "ST-DATA-034"
        ]
    # the JSON twin: the current schema knows the field, the negotiated version decides (one rule, both transports)
    doc = decode_json(to_json(req), "RegisterRequest")
    assert {
        v.path for v in validate(doc, ValidationContext(version="1.0")) if v.clause_id == "ST-DATA-034"
    } == {
        "$.device.firmware_sha256",
        "$.sequence_epoch",
    }


def test_a_field_at_its_default_is_absent_on_both_transports() -> None:
    req = _register(firmware_sha256="")
    assert version_violations(req, "1.0") == []
    assert "firmware_sha256" not in json.loads(to_json(req))["device"]


def test_messages_that_cannot_hold_a_newer_field_cost_nothing_and_pass() -> None:
    obs = pb.ReportObservationsRequest()
    obs.batch.sequence = 1
    assert version_violations(obs, "1.0") == []
    assert version_violations(obs, "0.9") == [] and version_violations(obs, "7.3") == []  # unknown versions


# ---------------------------------------------------------------------------- ST-PROTO-037 in the core


@pytest.mark.parametrize(
    ("current", "declared", "ok"),
    [
        (0, 0, True),  # a v1.0 device: continues the current epoch
        (5, 0, True),
        (5, 5, True),  # the current epoch again
        (5, 6, True),  # a new epoch
        (0, 2**40, True),  # the largest jump
        (0, 2**40 + 1, False),  # an implausible jump (as ST-PROTO-032 rules for sequences)
        (5, 4, False),  # below the current epoch
        (2**63 - 2, 2**63 - 1, True),
        (2**63 - 1, 2**63, False),  # out of range
        (0, 2**64 - 1, False),
    ],
)
def test_the_declared_epoch(current: int, declared: int, ok: bool) -> None:
    req = _register()
    req.sequence_epoch = declared
    vs = validate(req, ValidationContext(state=DeviceState(sequence_epoch=current)))
    assert ("ST-PROTO-037" in {v.clause_id for v in vs}) is not ok, vs


def test_a_new_epoch_starts_the_count_again_and_zero_keeps_it() -> None:
    state = DeviceState(
        last_sequence=2**63 - 1, sequence_epoch=0
    )  # the top of the range: wedged without epochs
    obs = pb.ReportObservationsRequest()
    obs.batch.sequence = 1
    assert "ST-PROTO-011" in {v.clause_id for v in validate(obs, ValidationContext(state=state))}
    state.apply(_register())  # a v1.0 Register: nothing changes
    assert (state.sequence_epoch, state.last_sequence) == (0, 2**63 - 1)
    req = _register()
    req.sequence_epoch = 1
    state.apply(req)
    assert (state.sequence_epoch, state.last_sequence) == (1, 0)
    assert "ST-PROTO-011" not in {v.clause_id for v in validate(obs, ValidationContext(state=state))}
    state.apply(obs)
    state.apply(_register())  # 0 again: continues epoch 1
    assert (state.sequence_epoch, state.last_sequence) == (1, 1)


def test_unknown_fields_name_the_version_that_added_each() -> None:
    """What a sender must not send to a session of a version (the platform's commands, ST-PROTO-036): every field
    the version lacks, with the version that added it — the same fields as version_violations, against the
    baseline: a field v1.0 has was introduced in 1.0, one it lacks in 1.1."""
    cmd = pb.Command(command_id="c", type=pb.COMMAND_TYPE_TEST_EVENT)
    cmd.test_event.point_code = "X"
    assert unknown_fields(cmd, "1.0") == [("Command.test_event", "1.1")]
    assert unknown_fields(cmd, "1.1") == [] and unknown_fields(cmd, None) == []
    cmd.ClearField("test_event")
    cmd.time_sync.SetInParent()
    assert unknown_fields(cmd, "1.0") == []
    req = _register(firmware_sha256="a" * 64)
    req.sequence_epoch = 2
    assert unknown_fields(req, "1.0") == [
        ("RegisterRequest.device.firmware_sha256", "1.1"),
        ("RegisterRequest.sequence_epoch", "1.1"),
    ]
    v10 = _fields_of_v1_0()
    for mod in (common_pb2, data_pb2, device_access_pb2, platform_pb2):
        for d in mod.DESCRIPTOR.message_types_by_name.values():
            if d.full_name not in v10:
                continue  # a new message is reachable only through a new field (the one unknown_fields names)
            for f in d.fields:
                old = f.number in v10[d.full_name]
                assert introduced_in(d.full_name, f.number) == ("1.0" if old else "1.1"), (
                    d.full_name,
                    f.name,
                )
