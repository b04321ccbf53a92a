"""The device-access methods, capabilities and header names shared by the platform and both transports."""

from __future__ import annotations

from google.protobuf.message import Message
from santong.protocols.v1 import device_access_pb2, platform_pb2

__all__ = [
    "AUTH_HEADER",
    "CAPABILITIES",
    "DEFINE_METHODS",
    "DEVICE_HEADER",
    "DEVICE_METHODS",
    "INSPECTION_HEADER",
    "METHODS",
    "UPLOAD_METHODS",
    "sequence_of",
]

pb = device_access_pb2

# RPC name → (request class, response class) of every unary method, plus the two streams.
METHODS: dict[str, tuple[type[Message], type[Message]]] = {
    "Register": (pb.RegisterRequest, pb.RegisterResponse),
    "DefinePoints": (pb.DefinePointsRequest, pb.DefinePointsResponse),
    "ReportObservations": (pb.ReportObservationsRequest, pb.ReportObservationsResponse),
    "StreamObservations": (pb.StreamObservationsRequest, pb.StreamObservationsResponse),
    "ReportAlarms": (pb.ReportAlarmsRequest, pb.ReportAlarmsResponse),
    "ReportOutstationStatus": (pb.ReportOutstationStatusRequest, pb.ReportOutstationStatusResponse),
    "ReportStatistics": (pb.ReportStatisticsRequest, pb.ReportStatisticsResponse),
    "DefinePositioning": (pb.DefinePositioningRequest, pb.DefinePositioningResponse),
    "ReportPersonnel": (pb.ReportPersonnelRequest, pb.ReportPersonnelResponse),
    "Heartbeat": (pb.HeartbeatRequest, pb.HeartbeatResponse),
    "Commands": (pb.CommandsRequest, pb.CommandsResponse),
    "GetPlatformInfo": (platform_pb2.GetPlatformInfoRequest, platform_pb2.GetPlatformInfoResponse),
}
DEVICE_METHODS = frozenset(METHODS) - {"GetPlatformInfo"}
UPLOAD_METHODS = frozenset(
    {
        "ReportObservations",
        "StreamObservations",
        "ReportAlarms",
        "ReportOutstationStatus",
        "ReportStatistics",
        "ReportPersonnel",
    }
)
DEFINE_METHODS = frozenset({"DefinePoints", "DefinePositioning"})
CAPABILITIES = (
    "observations.unary", "observations.stream", "alarms", "outstation_status", "statistics", "personnel",
    "commands", "commands.time_sync", "commands.configure", "commands.resend_definitions", "commands.write_point",
    "heartbeat", "replay_dedup", "tls", "mtls",
)  # fmt: skip
AUTH_HEADER = "authorization"
DEVICE_HEADER = "x-santong-device-id"
INSPECTION_HEADER = "x-santong-inspection-token"


def sequence_of(req: Message) -> int:
    """The upload sequence of an upload request (the batch's for observations)."""
    name = req.DESCRIPTOR.name
    if name in ("ReportObservationsRequest", "StreamObservationsRequest"):
        return int(req.batch.sequence)  # type: ignore[attr-defined]
    return int(req.sequence)  # type: ignore[attr-defined]
