"""Durability, several rounds: stream to `santong mock serve`, SIGKILL it at a random moment, restart it on the same
database; every acknowledged batch is there (ST-PROTO-013) and a replay of the tail is stored once, answered
DUPLICATE (ST-PROTO-012). The seed of the random kill moments is printed in every failure message."""

from __future__ import annotations

import os
import random
import signal
import subprocess
import threading
from collections.abc import Iterator
from pathlib import Path

import grpc
import pytest
from mp_fixtures import serve_args, start_process, stop_process
from mpclient import Device, Target
from santong.mock_platform import samples
from santong.protocols.v1 import data_pb2
from santong.protocols.v1 import device_access_pb2 as pb
from st_waiting import DEADLINE_S

DEVICE, TOKEN = "DURABLE-0001", "durable-token"
ROUNDS = 5
POINTS = [1, 2, 3, 4] * 50  # 200 observations a batch
TAIL = 8  # replayed after each restart: up to TAIL stored batches and TAIL sent after them
KILLED = (
    grpc.StatusCode.UNAVAILABLE,
    grpc.StatusCode.CANCELLED,
    grpc.StatusCode.INTERNAL,
    grpc.StatusCode.UNKNOWN,
)

pytestmark = pytest.mark.timeout(240)


def _start(db: Path) -> tuple[subprocess.Popen[str], Target, Device]:
    # No upload rate limit: the stream runs as fast as the platform commits (ST-PROTO-010 is tested elsewhere).
    proc, info = start_process(
        serve_args(db, "--device", f"{DEVICE}:{TOKEN}", "--max-uploads-per-second", "0")
    )
    t = Target("process", f"127.0.0.1:{info['grpc_port']}", info["inspection_token"])
    return proc, t, Device(t, DEVICE, TOKEN, t.channel())


def _stream_until_killed(
    proc: subprocess.Popen[str],
    dev: Device,
    first: int,
    sent: dict[int, data_pb2.ObservationBatch],
    delay_s: float,
) -> list[int]:
    """Stream batches first, first+1 … until the server dies: SIGKILL ``delay_s`` after the first ack. Acked seqs."""
    stop = threading.Event()
    killer = threading.Timer(delay_s, lambda: proc.send_signal(signal.SIGKILL))

    def batches() -> Iterator[pb.StreamObservationsRequest]:
        seq = first
        while not stop.is_set():
            sent[seq] = samples.observation_batch(seq, POINTS)
            yield pb.StreamObservationsRequest(batch=sent[seq])
            seq += 1

    acked: list[int] = []
    try:
        for resp in dev.stub.StreamObservations(batches(), metadata=dev.metadata, timeout=DEADLINE_S):
            assert resp.ack.status == pb.ACK_STATUS_ACCEPTED, resp.ack
            acked.append(resp.ack.sequence)
            if len(acked) == 1:
                killer.start()  # a random moment: not tied to an ack, a commit or a read
        raise AssertionError(f"the stream ended without the kill ({len(acked)} acks)")
    except grpc.RpcError as e:
        assert e.code() in KILLED, e
    finally:
        stop.set()
        killer.cancel()
        proc.wait(DEADLINE_S)
    assert proc.returncode == -signal.SIGKILL, proc.returncode
    return acked


def test_sigkill_at_random_moments_loses_nothing_acknowledged_and_replays_are_duplicates(
    tmp_path: Path,
) -> None:
    seed = int(os.environ.get("SANTONG_DURABILITY_SEED", random.randrange(2**32)))
    rng = random.Random(seed)
    db = tmp_path / "mock.db"
    proc, t, dev = _start(db)
    dev.register()
    dev.call("DefinePoints", samples.define_points_request())
    sent: dict[int, data_pb2.ObservationBatch] = {}
    acked_all: set[int] = set()
    next_seq = 1
    try:
        for rnd in range(ROUNDS):
            delay = rng.uniform(0.0, 0.4)
            where = f"seed {seed}, round {rnd + 1}/{ROUNDS}, kill {delay:.3f} s after the first ack"
            acked = _stream_until_killed(proc, dev, next_seq, sent, delay)
            assert acked == list(range(next_seq, next_seq + len(acked))), where  # in order, one by one
            acked_all.update(acked)
            t.close()

            proc, t, dev = _start(db)
            stored = t.inspect("acknowledged", device_id=DEVICE)
            assert stored == sorted(set(stored)), where  # each once
            missing = acked_all - set(stored)
            assert not missing, f"{where}: acknowledged but lost {sorted(missing)[:10]}"
            last = max(stored)
            assert last <= max(sent) and stored == list(range(1, last + 1)), where  # no gap
            assert dev.register().last_acknowledged_sequence == last, where
            # Replay the tail, as a device that never saw the last acks would: the stored ones are DUPLICATE, the
            # rest (sent, but not committed before the kill) are accepted now.
            tail = list(range(max(1, last - TAIL + 1), min(max(sent), last + TAIL) + 1))
            acks = dev.stream([sent[s] for s in tail], timeout=DEADLINE_S)
            assert [a.sequence for a in acks] == tail, where
            for a in acks:
                expected = pb.ACK_STATUS_DUPLICATE if a.sequence <= last else pb.ACK_STATUS_ACCEPTED
                assert (a.status, a.accepted) == (expected, len(POINTS)), (where, a)
            acked_all.update(tail)
            next_seq = tail[-1] + 1
            stored = t.inspect("acknowledged", device_id=DEVICE)
            assert stored == list(range(1, next_seq)), where
            counts = t.inspect("counts", device_id=DEVICE)
            assert counts["observations"] == len(POINTS) * len(stored), (where, counts)  # replays stored once
    finally:
        t.close()
        if proc.poll() is None:
            assert stop_process(proc) == 0
