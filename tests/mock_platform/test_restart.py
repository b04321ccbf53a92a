"""File mode: nothing acknowledged is lost when the process is killed mid-stream (ST-PROTO-013), and device state
(registration, definitions, last sequence, raised alarms) is rebuilt from the store."""

from __future__ import annotations

import signal
import threading
from pathlib import Path

import grpc
from mp_fixtures import serve_args, start_process, stop_process
from mpclient import Device, Target
from santong.mock_platform import samples
from santong.protocols.v1 import device_access_pb2 as pb

DEVICE, TOKEN = "KILL-0001", "kill-token"


def _start(db: Path) -> tuple[object, Target]:
    proc, info = start_process(serve_args(db, "--device", f"{DEVICE}:{TOKEN}"))
    return proc, Target("process", f"127.0.0.1:{info['grpc_port']}", info["inspection_token"])


def test_sigkill_mid_stream_loses_nothing_acknowledged(tmp_path: Path) -> None:
    db = tmp_path / "mock.db"
    proc, t = _start(db)
    dev = Device(t, DEVICE, TOKEN, t.channel())
    dev.register()
    dev.call("DefinePoints", samples.define_points_request())
    assert (
        dev.call("ReportAlarms", samples.alarm_request(1, alarm_id="GAS-1")).ack.status
        == pb.ACK_STATUS_ACCEPTED
    )
    stop = threading.Event()
    sent: dict[int, object] = {}

    def batches():  # type: ignore[no-untyped-def]
        seq = 1
        while not stop.is_set():
            seq += 1
            sent[seq] = b = samples.observation_batch(seq, [1, 2, 3, 4] * 50)
            yield pb.StreamObservationsRequest(batch=b)

    acked: list[int] = [1]
    try:
        for resp in dev.stub.StreamObservations(batches(), metadata=dev.metadata, timeout=30):
            assert resp.ack.status == pb.ACK_STATUS_ACCEPTED
            acked.append(resp.ack.sequence)
            if len(acked) == 150:
                proc.send_signal(signal.SIGKILL)  # type: ignore[attr-defined]
    except grpc.RpcError as e:
        assert e.code() in (
            grpc.StatusCode.UNAVAILABLE,
            grpc.StatusCode.CANCELLED,
            grpc.StatusCode.INTERNAL,
            grpc.StatusCode.UNKNOWN,
        )
    finally:
        stop.set()
        proc.wait(10)  # type: ignore[attr-defined]
        t.close()
    assert len(acked) >= 150

    proc, t = _start(db)
    try:
        stored = set(t.inspect("acknowledged", device_id=DEVICE))
        assert set(acked) <= stored, sorted(set(acked) - stored)[:10]
        dev = Device(t, DEVICE, TOKEN, t.channel())
        # Registration, definitions, last sequence and raised alarms survived: no Register needed to go on.
        last = max(stored)
        assert dev.report([1, 4], seq=last + 1).status == pb.ACK_STATUS_ACCEPTED
        replay = pb.ReportObservationsRequest(batch=sent[acked[-1]])  # the same content (ST-PROTO-031)
        assert dev.call("ReportObservations", replay).ack.status == pb.ACK_STATUS_DUPLICATE
        clear = samples.alarm_request(last + 2, alarm_id="GAS-1", clear=True)
        assert dev.call("ReportAlarms", clear).ack.status == pb.ACK_STATUS_ACCEPTED
        assert dev.register().last_acknowledged_sequence == last + 2
        assert t.inspect("counts", device_id=DEVICE)["observations"] == 200 * (len(stored) - 1) + 2
    finally:
        t.close()
        assert stop_process(proc) == 0  # type: ignore[arg-type]
