"""What one load device says: its identity, point definitions and batches, built from a simulator profile.

Device ``index`` of a scenario is device ``index % devices_per_mine + 1`` of mine ``index // devices_per_mine + 1``.
Its points cycle through the profile's points (sensor type, unit, range, thresholds, value generator); point
codes follow the coding rules with the device's own mine code and outstation ``DDD``::

    <mine code> 01 MN|KG <sensor type> <DDD>A|K<NNN>      e.g. 140421000003 01 MN A001 002A017
"""

from __future__ import annotations

import hashlib
import time
from typing import Any

from santong.protocols import spec_version
from santong.protocols.v1 import common_pb2, data_pb2
from santong.protocols.v1 import device_access_pb2 as pb

__all__ = ["DeviceModel", "mock_token"]

_KINDS = {"ANALOG": common_pb2.VALUE_KIND_ANALOG, "SWITCH": common_pb2.VALUE_KIND_SWITCH}


def mock_token(secret: str, device_id: str) -> str:
    """The token ``santong load`` gives a device on the mock platform (derived, so remote workers agree)."""
    return "load-" + hashlib.sha256(f"{secret}\0{device_id}".encode()).hexdigest()[:32]


def _ts(target: Any, ms: int) -> None:
    target.seconds, target.nanos = ms // 1000, (ms % 1000) * 1_000_000


class DeviceModel:
    """Identity, definitions and batches of device ``index`` of a scenario (profile: a simulator Profile)."""

    def __init__(self, scenario: Any, profile: Any, index: int) -> None:
        self.scenario, self.profile, self.index = scenario, profile, index
        self.device_id: str = scenario.device_id(index)
        self.mine_code: str = scenario.mine_code(index)
        self.own = f"{index % scenario.devices_per_mine + 1:03d}"
        self.outstation = f"{self.mine_code}{self.own}"
        n = len(profile.points)
        self.sources = [profile.points[i % n] for i in range(scenario.points_per_device)]
        self.aliases = list(range(1, len(self.sources) + 1))
        self.status = [0] * len(self.sources)
        self.offsets = [0] * len(self.sources)

    def register_request(self) -> pb.RegisterRequest:
        """Register, with the profile's vendor, model and firmware and this device's mine."""
        d = self.profile.device
        req = pb.RegisterRequest(supported_versions=[spec_version()])
        ident = req.device
        ident.device_id, ident.vendor, ident.model = self.device_id, d.vendor, d.model
        ident.firmware_version, ident.serial_number = d.firmware, f"{d.serial}-{self.index + 1}"
        ident.ma_certificate = "MAH230123"
        ident.product_class, ident.mine_code = common_pb2.PRODUCT_CLASS_SAFETY_MONITORING, self.mine_code
        req.mine.mine_code, req.mine.name = self.mine_code, f"负载测试煤矿 load mine {self.mine_code[6:]}"
        _ts(req.device_time, int(time.time() * 1000))
        return req

    def point_code(self, i: int) -> str:
        """Point code of the device's point i (0-based)."""
        p = self.sources[i]
        kind = "KG" if p.is_switch else "MN"
        return f"{self.mine_code}01{kind}{p.sensor_type}{self.own}{'K' if p.is_switch else 'A'}{i + 1:03d}"

    def define_points_request(self) -> pb.DefinePointsRequest:
        """Every point of the device, and its outstation."""
        req = pb.DefinePointsRequest()
        now = int(time.time() * 1000)
        for i, p in enumerate(self.sources):
            d = req.points.add(
                alias=i + 1, point_code=self.point_code(i), system_code="01", outstation_code=self.outstation,
                sensor_type=p.sensor_type, value_kind=_KINDS.get(p.value_kind, common_pb2.VALUE_KIND_ANALOG),
                unit=p.unit, range_low=p.range_low, range_high=p.range_high, location=f"{p.location} #{i + 1}",
                on_description=p.on_description, off_description=p.off_description,
            )  # fmt: skip
            for key, value in p.thresholds.items():
                setattr(d, key, value)
            _ts(d.defined_at, now)
        req.outstations.add(
            outstation_code=self.outstation, location=f"负载测试分站 load outstation {self.own}"
        )
        return req

    def batch(self, sim: Any, sequence: int) -> data_pb2.ObservationBatch:
        """One observation of every point, now, with values from the simulation (``sim``: a Simulation)."""
        sim.update()
        values = [round(sim.value(p.name), p.decimals) for p in self.sources]
        b = data_pb2.ObservationBatch(sequence=sequence)
        _ts(b.base_time, int(time.time() * 1000))
        b.alias.extend(self.aliases)
        b.value.extend(values)
        b.time_offset_ms.extend(self.offsets)
        b.status.extend(sim.status(p.name) for p in self.sources)
        return b
