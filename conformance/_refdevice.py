"""A reference device for the platform-regression cases: raw gRPC stubs, valid messages, and one bad message per
rule family (the table :data:`BAD_UPLOADS`), each with the clause the platform must name in its answer.

Example::

    dev = RefDevice(channel, "REF-1", token, mine_code="140421000001")
    dev.register(); dev.define()
    ack = dev.report(dev.batch([0.42, 1.0]))          # ACCEPTED
    err = dev.expect_error("DefinePoints", bad_request)
    assert err.code == "INVALID_ARGUMENT" and "ST-DATA-011" in err.clause_ids
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from santong.protocols import spec_version
from santong.protocols.v1 import common_pb2, data_pb2, device_access_pb2, device_access_pb2_grpc

__all__ = [
    "BAD_UPLOADS",
    "REUSED_DEVICE_HINT",
    "BadCase",
    "CallFailed",
    "RefDevice",
    "reference_device",
    "set_up_reference",
    "status_of",
]

if TYPE_CHECKING:
    from santong.conformance._manifest import Manifest
    from santong.conformance._platform import PlatformHandle

pb = device_access_pb2


@dataclass
class CallFailed:
    """A failed call as the platform answered it: gRPC code name, message, clause IDs of the BadRequest detail,
    retry advice."""

    code: str
    message: str
    clause_ids: list[str] = field(default_factory=list)
    violations: list[dict[str, str]] = field(default_factory=list)
    retry_after_s: float | None = None

    def as_dict(self) -> dict[str, Any]:
        """Evidence form."""
        return {"code": self.code, "message": self.message[:300], "clause_ids": self.clause_ids,
                "violations": self.violations[:5], "retry_after_s": self.retry_after_s}  # fmt: skip


def status_of(e: Any) -> CallFailed:
    """The google.rpc.Status of a grpc.RpcError: code, BadRequest clause IDs (``reason``), RetryInfo."""
    from google.rpc import error_details_pb2  # noqa: PLC0415
    from grpc_status import rpc_status  # noqa: PLC0415

    out = CallFailed(e.code().name, e.details() or "")
    try:
        st = rpc_status.from_call(e)
    except Exception:  # noqa: BLE001  (a malformed status detail is reported as no detail)
        st = None
    for d in st.details if st is not None else ():
        if d.Is(error_details_pb2.BadRequest.DESCRIPTOR):
            bad = error_details_pb2.BadRequest()
            d.Unpack(bad)
            for v in bad.field_violations:
                clause = v.reason or v.description.split(" ", 1)[0]
                out.violations.append({"clause_id": clause, "field": v.field, "description": v.description})
                if clause not in out.clause_ids:
                    out.clause_ids.append(clause)
        elif d.Is(error_details_pb2.RetryInfo.DESCRIPTOR):
            info = error_details_pb2.RetryInfo()
            d.Unpack(info)
            out.retry_after_s = info.retry_delay.seconds + info.retry_delay.nanos / 1e9
    return out


def _ts(ms: int) -> Any:
    ts = pb.Ack().server_time
    ts.seconds, ts.nanos = ms // 1000, (ms % 1000) * 1_000_000
    return ts


class RefDevice:
    """A well-behaved device speaking raw gRPC: register, define two points, report, heartbeat, alarms."""

    def __init__(
        self, channel: Any, device_id: str, token: str, mine_code: str, timeout_s: float = 10.0
    ) -> None:
        self.channel, self.device_id, self.token, self.mine = channel, device_id, token, mine_code
        self.stub = device_access_pb2_grpc.DeviceAccessServiceStub(channel)
        self.timeout_s = timeout_s
        #: The platform's Limits.max_batch_points (the regression sets it from GetPlatformInfo).
        self.max_batch_points = 10_000
        self.next_sequence = 1
        self.register_response: Any = None

    # ---------------------------------------------------------------------------------------- messages

    @property
    def metadata(self) -> tuple[tuple[str, str], ...]:
        """Authentication metadata (ST-PROTO-001)."""
        return (("x-santong-device-id", self.device_id), ("authorization", f"Bearer {self.token}"))

    def register_request(self, versions: list[str] | None = None) -> Any:
        """A complete RegisterRequest for this device."""
        req = pb.RegisterRequest(
            device=data_pb2.DeviceIdentity(
                device_id=self.device_id,
                vendor="santong 参考设备 / santong reference device",
                model="SANTONG-REF",
                firmware_version="1.0.0",
                serial_number=f"REF-{self.device_id}",
                ma_certificate="MAREF20250001",
                product_class=common_pb2.PRODUCT_CLASS_SAFETY_MONITORING,
                mine_code=self.mine,
            ),
            mine=data_pb2.Mine(mine_code=self.mine, name="santong 回归测试 / santong regression"),
            supported_versions=versions if versions is not None else [spec_version()],
        )
        req.device_time.CopyFrom(_ts(int(time.time() * 1000)))
        return req

    @property
    def codes(self) -> tuple[str, str]:
        """Point codes of the methane and the switch point."""
        return f"{self.mine}01MNA0010A01", f"{self.mine}01KGS0010K01"

    def points(self) -> Any:
        """DefinePoints: methane (alias 1) and an on/off switch (alias 2) with their outstation."""
        outstation = f"{self.mine}F01"
        now = _ts(int(time.time() * 1000))
        methane = data_pb2.PointDefinition(
            alias=1, point_code=self.codes[0], system_code="01", outstation_code=outstation, sensor_type="A001",
            value_kind=common_pb2.VALUE_KIND_ANALOG, unit="%CH4", range_low=0, range_high=4, alarm_high=1.0,
            alarm_high_clear=1.0, power_off_high=1.5, power_restore_high=1.0, location="回归测试 T0",
        )  # fmt: skip
        switch = data_pb2.PointDefinition(
            alias=2, point_code=self.codes[1], system_code="01", outstation_code=outstation, sensor_type="S001",
            value_kind=common_pb2.VALUE_KIND_SWITCH, range_low=0, range_high=1, on_description="开",
            off_description="停", location="回归测试 采煤机",
        )  # fmt: skip
        methane.defined_at.CopyFrom(now)
        switch.defined_at.CopyFrom(now)
        return pb.DefinePointsRequest(
            points=[methane, switch],
            outstations=[data_pb2.OutstationDefinition(outstation_code=outstation, location="回归测试分站")],
        )

    def batch(self, values: list[float] | None = None, sequence: int | None = None, **kw: Any) -> Any:
        """An ObservationBatch of both points, now (sequence: the next one unless given)."""
        values = values if values is not None else [0.42, 1.0]
        b = data_pb2.ObservationBatch(
            sequence=self.next_sequence if sequence is None else sequence,
            alias=kw.get("alias", [1, 2][: len(values)]),
            value=values,
            time_offset_ms=kw.get("time_offset_ms", [0] * len(values)),
            status=kw.get("status", [0] * len(values)),
            backfill=kw.get("backfill", False),
        )
        b.base_time.CopyFrom(_ts(kw.get("base_ms", int(time.time() * 1000))))
        return b

    def alarm(self, **changes: Any) -> Any:
        """A RAISED over-limit alarm of the methane point."""
        now = int(time.time() * 1000)
        a = data_pb2.Alarm(
            alarm_id=f"REF-{now}", point_code=self.codes[0], sensor_type="A001", location="回归测试 T0",
            unit="%CH4", anomaly_type=common_pb2.ANOMALY_TYPE_OVER_LIMIT, state=common_pb2.ALARM_STATE_RAISED,
            max_value=1.2, min_value=1.2, avg_value=1.2,
        )  # fmt: skip
        for t in (a.start_time, a.max_time, a.min_time):
            t.CopyFrom(_ts(now))
        for k, v in changes.items():
            setattr(a, k, v)
        return a

    # ------------------------------------------------------------------------------------------- calls

    def call(self, method: str, request: Any, metadata: Any = None, timeout_s: float | None = None) -> Any:
        """One unary call (grpc.RpcError on failure)."""
        fn = getattr(self.stub, method)
        return fn(
            request,
            metadata=self.metadata if metadata is None else metadata,
            timeout=timeout_s or self.timeout_s,
        )

    def expect_error(self, method: str, request: Any, metadata: Any = None) -> CallFailed | None:
        """The platform's error for a call, or None when it succeeded."""
        import grpc  # noqa: PLC0415

        try:
            self.call(method, request, metadata)
        except grpc.RpcError as e:
            return status_of(e)
        return None

    def register(self) -> Any:
        """Register; the next sequence follows the platform's last acknowledged one (ST-PROTO-023)."""
        self.register_response = self.call("Register", self.register_request())
        self.next_sequence = max(
            self.next_sequence, int(self.register_response.last_acknowledged_sequence) + 1
        )
        return self.register_response

    def define(self) -> Any:
        """Define the two points."""
        return self.call("DefinePoints", self.points())

    def report(self, batch: Any) -> Any:
        """ReportObservations; the Ack. The next sequence moves past an accepted batch."""
        ack = self.call("ReportObservations", pb.ReportObservationsRequest(batch=batch)).ack
        if ack.status == pb.ACK_STATUS_ACCEPTED:
            self.next_sequence = max(self.next_sequence, int(batch.sequence) + 1)
        return ack

    def setup(self) -> RefDevice:
        """Register and define."""
        self.register()
        self.define()
        return self


# ------------------------------------------------------------------------------------ bad-message table


@dataclass(frozen=True)
class BadCase:
    """One message that breaks one rule: which call, how to build it, the clause the answer must name."""

    name: str
    clause: str
    method: str
    build: Callable[[RefDevice], Any]
    code: str = "INVALID_ARGUMENT"


def _points(dev: RefDevice, **change: Any) -> Any:
    req = dev.points()
    for k, v in change.items():
        setattr(req.points[0], k, v)
    return req


def _obs(dev: RefDevice, **kw: Any) -> Any:
    values = kw.pop("values", None)
    return pb.ReportObservationsRequest(batch=dev.batch(values, **kw))


def _alarms(dev: RefDevice, **change: Any) -> Any:
    return pb.ReportAlarmsRequest(sequence=dev.next_sequence, alarms=[dev.alarm(**change)])


def _register(dev: RefDevice, **change: Any) -> Any:
    req = dev.register_request()
    for k, v in change.items():
        setattr(req.device, k, v)
    return req


def _swapped_thresholds(dev: RefDevice) -> Any:
    req = dev.points()
    req.points[0].alarm_high, req.points[0].alarm_high_clear = 1.0, 1.2
    return req


def _duplicate_alias(dev: RefDevice) -> Any:
    req = dev.points()
    req.points[1].alias = 1
    return req


def _empty_location(dev: RefDevice) -> Any:
    req = dev.points()
    req.points[0].location = ""
    return req


def _switch_without_descriptions(dev: RefDevice) -> Any:
    req = dev.points()
    req.points[1].ClearField("on_description")
    req.points[1].ClearField("off_description")
    return req


def _cleared_without_end(dev: RefDevice) -> Any:
    return _alarms(dev, state=common_pb2.ALARM_STATE_CLEARED)


def _iso(ms: int) -> str:
    return time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(ms // 1000)) + f".{ms % 1000:03d}Z"


def _json(name: str, doc: dict[str, Any]) -> Any:
    from santong.protocols import decode_json  # noqa: PLC0415

    return decode_json(doc, name)


def _outstation_unspecified(dev: RefDevice) -> Any:
    return _json(
        "ReportOutstationStatusRequest",
        {"sequence": str(dev.next_sequence), "statuses": [{"outstation_code": f"{dev.mine}F01",
         "run_state": "RUN_STATE_UNSPECIFIED", "power_state": "POWER_STATE_AC", "time": _iso(int(time.time() * 1000))}]},
    )  # fmt: skip


def _statistics_backwards(dev: RefDevice) -> Any:
    now = int(time.time() * 1000)
    return _json(
        "ReportStatisticsRequest",
        {"sequence": str(dev.next_sequence), "statistics": [{"point_code": dev.codes[0], "sensor_type": "A001",
         "unit": "%CH4", "start_time": _iso(now - 60_000), "end_time": _iso(now - 120_000), "max_value": 0.5,
         "max_time": _iso(now - 90_000), "min_value": 0.1, "min_time": _iso(now - 90_000), "avg_value": 0.3}]},
    )  # fmt: skip


def _personnel(dev: RefDevice, **change: Any) -> Any:
    now = int(time.time() * 1000)
    record = {"card_code": f"{dev.mine}00001", "name": "回归测试", "direction": "MINE_DIRECTION_IN",
              "entered_mine_at": _iso(now - 3_600_000), "area_code": f"{dev.mine}0001",
              "station_code": f"{dev.mine}0001000001", "time": _iso(now)}  # fmt: skip
    record.update(change)
    return _json("ReportPersonnelRequest", {"sequence": str(dev.next_sequence), "records": [record]})


def _bad_area(dev: RefDevice) -> Any:
    return _json(
        "DefinePositioningRequest", {"areas": [{"area_code": f"{dev.mine}001", "name": "回归测试区域"}]}
    )


def _over_batch_limit(dev: RefDevice) -> Any:
    n = dev.max_batch_points + 1
    return _obs(dev, values=[0.42] * n, alias=[1] * n, time_offset_ms=list(range(n)), status=[0] * n)


#: One bad message per core rule family → the clause the platform must name (with INVALID_ARGUMENT).
BAD_UPLOADS: tuple[BadCase, ...] = (
    BadCase("mine code format", "ST-DATA-001", "Register", lambda d: _register(d, mine_code="14042100000")),
    BadCase("identity incomplete", "ST-DATA-028", "Register", lambda d: _register(d, vendor="")),
    BadCase("point code structure", "ST-DATA-002", "DefinePoints", lambda d: _points(d, point_code=f"{d.mine}01MNA0010A0-1")),
    BadCase("mine part of codes", "ST-DATA-003", "DefinePoints", lambda d: _points(d, point_code="14042200000101MNA0010A01")),
    BadCase("code vs definition", "ST-DATA-004", "DefinePoints", lambda d: _points(d, point_code=f"{d.mine}01MNA0030A01")),
    BadCase("outstation code", "ST-DATA-005", "DefinePoints", lambda d: _points(d, outstation_code=f"{d.mine}F-01")),
    BadCase("system code", "ST-DATA-009", "DefinePoints", lambda d: _points(d, system_code="1")),
    BadCase("unknown sensor type", "ST-DATA-010", "DefinePoints", lambda d: _points(d, sensor_type="Z999")),
    BadCase("unit synonym", "ST-DATA-011", "DefinePoints", lambda d: _points(d, unit="%")),
    BadCase("value kind", "ST-DATA-012", "DefinePoints", lambda d: _points(d, value_kind=common_pb2.VALUE_KIND_ACCUMULATOR)),
    BadCase("range swapped", "ST-DATA-013", "DefinePoints", lambda d: _points(d, range_low=4, range_high=0)),
    BadCase("thresholds disordered", "ST-DATA-014", "DefinePoints", _swapped_thresholds),
    BadCase("switch descriptions", "ST-DATA-016", "DefinePoints", _switch_without_descriptions),
    BadCase("duplicate alias", "ST-DATA-017", "DefinePoints", _duplicate_alias),
    BadCase("empty location", "ST-DATA-033", "DefinePoints", _empty_location),
    BadCase("non-finite value", "ST-DATA-018", "ReportObservations", lambda d: _obs(d, values=[math.nan, 1.0])),
    BadCase("switch value", "ST-DATA-019", "ReportObservations", lambda d: _obs(d, values=[0.4, 0.5])),
    BadCase("status bits", "ST-DATA-020", "ReportObservations", lambda d: _obs(d, status=[0, 4096])),
    BadCase("impossible value, valid status", "ST-DATA-048", "ReportObservations", lambda d: _obs(d, values=[4000.0, 1.0], status=[8, 0])),
    BadCase("future timestamp", "ST-DATA-031", "ReportObservations", lambda d: _obs(d, base_ms=int(time.time() * 1000) + 600_000)),
    BadCase("undefined alias", "ST-IFACE-004", "ReportObservations", lambda d: _obs(d, alias=[1, 9])),
    BadCase("columns of unequal length", "ST-IFACE-005", "ReportObservations", lambda d: _obs(d, time_offset_ms=[0])),
    BadCase("empty upload", "ST-IFACE-010", "ReportObservations", lambda d: _obs(d, values=[], alias=[], time_offset_ms=[], status=[])),
    BadCase("sequence zero", "ST-PROTO-011", "ReportObservations", lambda d: _obs(d, sequence=0)),
    BadCase("sequence out of range", "ST-PROTO-032", "ReportObservations", lambda d: _obs(d, sequence=2**64 - 1)),
    BadCase("anomaly type", "ST-DATA-022", "ReportAlarms", lambda d: _alarms(d, anomaly_type=common_pb2.ANOMALY_TYPE_UNSPECIFIED)),
    BadCase("cleared without end time", "ST-DATA-023", "ReportAlarms", _cleared_without_end),
    BadCase("alarm values inconsistent", "ST-DATA-024", "ReportAlarms", lambda d: _alarms(d, max_value=0.5, min_value=1.2)),
    BadCase("alarm id missing", "ST-IFACE-016", "ReportAlarms", lambda d: _alarms(d, alarm_id="")),
    BadCase("alarm of an undefined point", "ST-IFACE-018", "ReportAlarms", lambda d: _alarms(d, point_code=f"{d.mine}01MNA0010A09")),
    BadCase("outstation state unspecified", "ST-DATA-025", "ReportOutstationStatus", _outstation_unspecified),
    BadCase("statistics period backwards", "ST-DATA-027", "ReportStatistics", _statistics_backwards),
    BadCase("personnel card code", "ST-DATA-006", "ReportPersonnel", lambda d: _personnel(d, card_code=f"{d.mine}0001")),
    BadCase("personnel direction", "ST-DATA-026", "ReportPersonnel", lambda d: _personnel(d, direction="MINE_DIRECTION_UNSPECIFIED")),
    BadCase("area code format", "ST-DATA-007", "DefinePositioning", _bad_area),
    BadCase("batch over the limit", "ST-PROTO-008", "ReportObservations", _over_batch_limit),
)  # fmt: skip


# ------------------------------------------------------------------------------ the run's reference device

#: Why a reused test device may be refused (definitions or sequences of an earlier run), and the fix.
REUSED_DEVICE_HINT = (
    "测试设备 {device} 是凭据文件中被重复使用的设备，平台可能还保留着以前运行（或其他版本）留下的测点定义与序号，因而拒收（如 ST-DATA-017）。"
    "请每次运行使用新设备：在凭据文件中加上 enrolment（测试设备前缀与组密钥），或换一个从未使用过的 device_id；见 conformance/README.md"
    "“平台回归” / the test device {device} is the credentials file's reused device: the platform may keep point "
    "definitions and sequences of an earlier run (or another version) and refuse these (e.g. ST-DATA-017). Use a "
    "fresh device per run: add `enrolment` (test-device prefix and group key) to the credentials file, or give a "
    'device_id never used before; see conformance/README.md, "Platform regression"'
)


def reference_device(
    handle: PlatformHandle, channel: Any, manifest: Manifest, fresh: bool = True
) -> RefDevice:
    """A reference device: a fresh one on the mock or under the credentials' enrolment, else the credentials'
    device (reused from run to run)."""
    if handle.makes_devices and fresh:
        device_id, token = handle.new_device("SANTONG-REF")
    else:
        device_id, token = handle.device_id, handle.token
    return RefDevice(channel, device_id, token, manifest.identity.mine_code)


def set_up_reference(handle: PlatformHandle, channel: Any, manifest: Manifest) -> RefDevice:
    """A registered reference device with its two points defined, honouring the platform's batch limit;
    CouldNotRun with the reason (and, for a reused device, the fresh-device hint) when the platform refuses."""
    import grpc  # noqa: PLC0415
    from santong.conformance._product import CouldNotRun  # noqa: PLC0415

    dev = reference_device(handle, channel, manifest)
    if handle.limits is not None and handle.limits.max_batch_points:
        dev.max_batch_points = int(handle.limits.max_batch_points)
    try:
        return dev.setup()
    except grpc.RpcError as e:
        st = status_of(e)
        hint = "" if handle.makes_devices else f" — {REUSED_DEVICE_HINT.format(device=dev.device_id)}"
        raise CouldNotRun(
            f"参考设备无法注册或定义测点 / the reference device could not register and define its points on "
            f"{handle.grpc_target}: {st.code} {st.message} {st.clause_ids}{hint}"
        ) from e
