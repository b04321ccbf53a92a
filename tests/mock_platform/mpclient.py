"""Synchronous test clients for a mock platform target (embedded in a thread, a process or a container)."""

from __future__ import annotations

import json
import secrets
import uuid
from dataclasses import dataclass, field
from typing import Any

import grpc
from google.rpc import error_details_pb2
from grpc_status import rpc_status
from santong.mock_platform import samples
from santong.protocols.v1 import device_access_pb2 as pb
from santong.protocols.v1 import device_access_pb2_grpc as pbg
from santong.protocols.v1 import platform_pb2, platform_pb2_grpc

TIMEOUT = 10.0


def status_details(err: grpc.RpcError) -> tuple[set[str], float | None]:
    """(clause IDs of the BadRequest detail, RetryInfo delay in s) of a failed call."""
    st = rpc_status.from_call(err)  # type: ignore[arg-type]
    clauses: set[str] = set()
    delay = None
    if st is None:
        return clauses, delay
    for d in st.details:
        if d.Is(error_details_pb2.BadRequest.DESCRIPTOR):
            bad = error_details_pb2.BadRequest()
            d.Unpack(bad)
            clauses.update(v.reason for v in bad.field_violations)
        elif d.Is(error_details_pb2.RetryInfo.DESCRIPTOR):
            info = error_details_pb2.RetryInfo()
            d.Unpack(info)
            delay = info.retry_delay.seconds + info.retry_delay.nanos / 1e9
    return clauses, delay


def clauses_of(err: grpc.RpcError) -> set[str]:
    """Clause IDs named by a failed call's BadRequest detail."""
    return status_details(err)[0]


@dataclass
class Target:
    """Where a mock platform listens, and how to inspect it and inject faults (the admin channel)."""

    kind: str
    grpc_target: str
    inspection_token: str
    http_url: str | None = None
    credentials: grpc.ChannelCredentials | None = None
    _channel: grpc.Channel | None = field(default=None, repr=False)

    def channel(self) -> grpc.Channel:
        """A shared channel to the target."""
        if self._channel is None:
            self._channel = self.new_channel()
        return self._channel

    def new_channel(self) -> grpc.Channel:
        """A fresh channel (own connection)."""
        if self.credentials is not None:
            return grpc.secure_channel(self.grpc_target, self.credentials)
        return grpc.insecure_channel(self.grpc_target)

    def close(self) -> None:
        if self._channel is not None:
            self._channel.close()
            self._channel = None

    def _admin(self, kind: str, op: str, args: dict[str, Any]) -> Any:
        method = self.channel().unary_unary(
            f"/santong.mock.v1.Admin/{kind}", request_serializer=None, response_deserializer=None
        )
        raw = method(
            json.dumps({"op": op, "args": args}).encode(),
            metadata=(("x-santong-inspection-token", self.inspection_token),),
            timeout=TIMEOUT,
        )
        return json.loads(raw)

    def inspect(self, op: str, **args: Any) -> Any:
        """Run an inspection operation (devices, observations, counts, interactions …)."""
        return self._admin("Inspect", op, args)

    def fault(self, op: str, **args: Any) -> Any:
        """Run a fault operation (outage_for, fail_next, withhold_acks …)."""
        return self._admin("Fault", op, args)

    def platform_info(self) -> platform_pb2.GetPlatformInfoResponse:
        return platform_pb2_grpc.PlatformServiceStub(self.channel()).GetPlatformInfo(
            platform_pb2.GetPlatformInfoRequest(), timeout=TIMEOUT
        )

    def new_device(
        self, *, register: bool = True, define: bool = True, channel: grpc.Channel | None = None
    ) -> Device:
        """A device with fresh credentials, registered and with the reference points defined unless told not to."""
        device_id = f"T-{uuid.uuid4().hex[:12]}"
        token = secrets.token_urlsafe(16)
        self.inspect("add_device", device_id=device_id, token=token)
        dev = Device(self, device_id, token, channel or self.channel())
        if register:
            dev.register()
            if define:
                dev.call("DefinePoints", samples.define_points_request())
        return dev


@dataclass
class Device:
    """One device speaking to the target over gRPC with its credentials."""

    target: Target
    device_id: str
    token: str
    ch: grpc.Channel
    seq: int = 0

    @property
    def metadata(self) -> tuple[tuple[str, str], ...]:
        return (("x-santong-device-id", self.device_id), ("authorization", f"Bearer {self.token}"))

    @property
    def stub(self) -> pbg.DeviceAccessServiceStub:
        return pbg.DeviceAccessServiceStub(self.ch)

    def call(self, method: str, request: Any, *, metadata: Any = None, timeout: float = TIMEOUT) -> Any:
        """Call a unary method with this device's credentials (or the given metadata)."""
        return getattr(self.stub, method)(
            request, metadata=self.metadata if metadata is None else metadata, timeout=timeout
        )

    def register(self) -> pb.RegisterResponse:
        resp = self.call("Register", samples.register_request(self.device_id))
        self.seq = max(self.seq, resp.last_acknowledged_sequence)
        return resp

    def next_seq(self) -> int:
        self.seq += 1
        return self.seq

    def report(self, aliases: list[int] | None = None, seq: int | None = None, **kw: Any) -> pb.Ack:
        """ReportObservations of one batch; returns the Ack."""
        batch = samples.observation_batch(
            seq if seq is not None else self.next_seq(), aliases or [1, 2, 3, 4], **kw
        )
        return self.call("ReportObservations", pb.ReportObservationsRequest(batch=batch)).ack

    def stream(self, batches: list[Any], timeout: float = TIMEOUT) -> list[pb.Ack]:
        """Send batches on one StreamObservations stream; return the acknowledgements in order."""
        reqs = (pb.StreamObservationsRequest(batch=b) for b in batches)
        return [r.ack for r in self.stub.StreamObservations(reqs, metadata=self.metadata, timeout=timeout)]

    def stored(self) -> list[int]:
        """Sequences the platform stored for this device."""
        return list(self.target.inspect("acknowledged", device_id=self.device_id))
