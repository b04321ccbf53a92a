"""What a manifest declares, as interface messages, checked by the one validation core."""

from __future__ import annotations

from dataclasses import dataclass
from functools import cache
from typing import Any

from santong.conformance._manifest import Manifest
from santong.protocols import (
    DeviceState,
    ValidationContext,
    Violation,
    spec_version,
    validate,
    validate_json,
)
from santong.protocols.v1 import common_pb2, data_pb2, device_access_pb2

__all__ = ["Declared", "declared", "register_request"]


def register_request(manifest: Manifest) -> device_access_pb2.RegisterRequest:
    """The RegisterRequest the manifest's identity implies (no device_time: it is not a live message)."""
    i = manifest.identity
    return device_access_pb2.RegisterRequest(
        device=data_pb2.DeviceIdentity(
            device_id=i.device_id,
            vendor=i.vendor,
            model=i.model,
            firmware_version=i.version,
            serial_number=i.serial,
            ma_certificate=i.ma_certificate,
            product_class=common_pb2.ProductClass.Value(f"PRODUCT_CLASS_{manifest.product_class.upper()}")
            if manifest.product_class != "platform"
            else common_pb2.PRODUCT_CLASS_UNSPECIFIED,
            mine_code=i.mine_code,
        ),
        mine=data_pb2.Mine(mine_code=i.mine_code),
        supported_versions=[spec_version()],
    )


@dataclass(frozen=True)
class Declared:
    """The declared identity and points and every violation the core finds in them."""

    register: device_access_pb2.RegisterRequest
    register_violations: tuple[Violation, ...]
    points: device_access_pb2.DefinePointsRequest | None
    points_violations: tuple[Violation, ...]
    source: str

    def violations_of(self, clause_id: str) -> list[Violation]:
        """Violations of one clause, identity and points together."""
        return [v for v in (*self.register_violations, *self.points_violations) if v.clause_id == clause_id]


def _points_from_file(
    manifest: Manifest,
) -> tuple[device_access_pb2.DefinePointsRequest | None, list[Violation]]:
    from santong.adapters.mtfile import MtFileError, parse_path  # noqa: PLC0415  (lazy: adapters load on use)
    from santong.protocols._catalogue import violation  # noqa: PLC0415

    assert manifest.points_file is not None
    try:
        parsed = parse_path(manifest.points_file)
    except MtFileError as e:
        return None, [violation(e.clause_id, manifest.points_file.name, str(e), str(e))]
    if parsed.file_type != "CDDY":
        v = violation(
            "ST-DATA-046",
            manifest.points_file.name,
            f"文件类型为 {parsed.file_type}，应为 CDDY",
            f"the file type is {parsed.file_type}, CDDY expected",
        )
        return None, [v]
    req = device_access_pb2.DefinePointsRequest()
    for alias, p in enumerate(parsed.definitions, start=1):
        q = req.points.add()
        q.CopyFrom(p)
        q.alias = q.alias or alias  # CDDY files carry no aliases; the adapter numbers points in file order
    return req, []


@cache
def _declared(manifest: Manifest) -> Declared:
    state = DeviceState(device_id=manifest.identity.device_id, mine_code=manifest.identity.mine_code)
    ctx = ValidationContext(state=state, arrival=False)
    reg = register_request(manifest)
    reg_vs = validate(reg, ctx)
    points: Any = None
    if manifest.points is not None:
        points, pts_vs = validate_json({"points": list(manifest.points)}, "DefinePointsRequest", ctx)
        source = "inline"
    elif manifest.points_file is not None:
        points, pts_vs = _points_from_file(manifest)
        if points is not None:
            pts_vs = validate(points, ctx)
        source = f"file:{manifest.points_file.name}"
    else:
        pts_vs, source = [], "none"
    return Declared(reg, tuple(reg_vs), points, tuple(pts_vs), source)


def declared(manifest: Manifest) -> Declared:
    """The manifest's identity and points as messages, validated once per manifest."""
    return _declared(manifest)
