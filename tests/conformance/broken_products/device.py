"""A small 三统一 device on raw gRPC stubs (HTTP/JSON optional) — correct by default, or with one deliberate defect.

The self-check certifies it once per defect and expects each run to FAIL on the defect's clause (``--defect
none`` must PASS). Two points: methane (alias 1, about 0.4 %CH4) and an on/off switch (alias 4). With
``--test-events`` (certification mode) it carries out TEST_EVENT commands (ST-PROTO-036): an excursion holds the
methane value the command gives, a switch change the switch state, a sensor fault sets status bit 128; without
it, it answers UNSUPPORTED. ``--versions 1.0`` makes it a product of interface 1.0 (supported_versions ["1.0"]),
whose session has no test events at all. Queue, sequence counter and acknowledged sequence persist in ``--workdir``.

    python device.py --target 127.0.0.1:50051 --device D --token T --workdir W --defect heartbeat_when_idle

Defects: wrong_unit, bad_point_code, local_time (HTTP/JSON, timestamps in local time without a zone),
dup_after_reconnect (a failed upload is re-queued under a new sequence), no_backfill, retry_invalid (resends
after INVALID_ARGUMENT), heartbeat_when_idle (sends no heartbeat while uploads are acknowledged: "data is a sign
of life too"), fixed_retry (retries every 20 ms, ignoring RetryInfo), no_clock_sync,
report_before_define, alarm_bit_only (sets the alarm status bit but sends no Alarm: "the bit is the alarm"),
no_resume (forgets its queue and counter on restart), crash (exits mid-run),
exit_at_once, bad_codes_wait_ready (malformed point codes; prints its ready line only once its definitions are
accepted, i.e. never), wrong_identity (uploads under another device's id; exits when its credentials are refused),
impossible_value (methane scaled ×10 000, flagged only over range: thousands of %CH4 with a valid status),
memory_queue (keeps its unsent queue only in memory: lost on every restart), drop_precondition (drops an upload
refused with FAILED_PRECONDITION instead of resending it after registering again), silent_unknown_setting
(answers only the CONFIGURE settings it knows: a command with an unknown setting gets no result at all),
resend_ack_only (answers RESEND_DEFINITIONS SUCCEEDED without defining again: "the definitions have not changed"),
deadline_delivered (waits 1.5 s for an acknowledgement and takes DEADLINE_EXCEEDED for delivered: "the call went
out, the server was only slow"),
give_up_retries (retries a failing upload 3 times, then dead-letters it and goes on with the next one),
internal_final (takes INTERNAL, i.e. HTTP 500, for a final rejection and dead-letters the upload),
ring_buffer (keeps only the 3 newest unsent batches, dropping the oldest: a fixed-size outage buffer),
stalls_offline (one loop samples and sends: while the platform cannot be reached it retries and takes no samples),
newest_first (after an outage sends its backlog newest first, so that the control room sees the present at once;
it numbers each upload when it first sends it, so the sequences on the wire still rise).

The backfill flag is decided when a batch is built (in an outage, or behind a backlog) and never changed: a batch
already sent once is resent unchanged, same sequence, content and flag (ST-PROTO-014). ``--max-backoff-ms`` caps
the retry back-off (the spec's cap is 30 s); ``--slow-backoff`` always waits the upper edge of the permitted
range, min(cap, 100 ms × 2ⁿ): the slowest a product may be.
"""

from __future__ import annotations

import argparse
import asyncio
import base64
import contextlib
import datetime as dt
import json
import os
import random
import signal
import sys
import time
import urllib.error
import urllib.request
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import grpc
from google.protobuf import json_format
from santong.protocols import interface_versions
from santong.protocols.v1 import common_pb2, data_pb2, device_access_pb2, device_access_pb2_grpc

pb = device_access_pb2
MINE = "140421000001"
METHANE, SWITCH = f"{MINE}01MNA0010A01", f"{MINE}01KGS0010K01"
#: Defects that print the ready line as soon as they are registered, before their (refused) definitions.
READY_AT_REGISTER = {"bad_point_code", "wrong_unit"}
RETRYABLE = {"UNAVAILABLE", "DEADLINE_EXCEEDED", "RESOURCE_EXHAUSTED", "ABORTED", "INTERNAL", "UNKNOWN"}
#: Every --defect this device knows (an unknown name is refused, never run as a correct device).
DEFECTS = (
    "none", "wrong_unit", "bad_point_code", "local_time", "dup_after_reconnect", "no_backfill", "retry_invalid",
    "heartbeat_when_idle", "fixed_retry", "no_clock_sync", "report_before_define", "alarm_bit_only", "no_resume", "crash",
    "exit_at_once", "bad_codes_wait_ready", "wrong_identity", "impossible_value", "memory_queue",
    "drop_precondition", "silent_unknown_setting", "resend_ack_only", "deadline_delivered", "give_up_retries",
    "internal_final", "ring_buffer", "newest_first", "stalls_offline",
)  # fmt: skip
#: silent_unknown_setting: the CONFIGURE settings this device knows.
KNOWN_SETTINGS = {"report_interval_ms", "heartbeat_interval_ms"}
#: ring_buffer's outage buffer: this many unsent batches, the oldest dropped beyond it.
RING = 3
#: give_up_retries: attempts per upload before it is dead-lettered.
GIVE_UP_AFTER = 4
SLUG = {"Register": "register", "DefinePoints": "define-points", "ReportObservations": "report-observations",
        "ReportAlarms": "report-alarms", "Heartbeat": "heartbeat"}  # fmt: skip
HTTP_CODES = {400: "INVALID_ARGUMENT", 401: "UNAUTHENTICATED", 403: "PERMISSION_DENIED", 409: "FAILED_PRECONDITION",
              413: "RESOURCE_EXHAUSTED", 429: "RESOURCE_EXHAUSTED", 502: "UNAVAILABLE", 503: "UNAVAILABLE",
              504: "DEADLINE_EXCEEDED"}  # fmt: skip


class CallError(Exception):
    def __init__(self, code: str, text: str = "", retry_after: float | None = None) -> None:
        super().__init__(f"{code} {text}")
        self.code, self.retry_after = code, retry_after


@dataclass
class Upload:
    seq: int
    method: str
    request: Any
    backfill: bool
    attempts: int = 0


def ts(ms: int) -> Any:
    t = pb.Ack().server_time
    t.seconds, t.nanos = ms // 1000, (ms % 1000) * 1_000_000
    return t


def ms_of(t: Any) -> int | None:
    return t.seconds * 1000 + t.nanos // 1_000_000 if (t.seconds or t.nanos) else None


class Device:
    def __init__(self, a: argparse.Namespace) -> None:
        self.a, self.defect = a, a.defect
        self.md = (("x-santong-device-id", a.device), ("authorization", f"Bearer {a.token}"))
        self.state_path = a.workdir / "device-state.json"
        self.offset_ms = 0
        self.registered = asyncio.Event()
        self.defined = False
        self.queue: list[Upload] = []
        self.next_seq = 1
        self.last_ack = 0
        self.in_outage = False
        self.hb_ms = 1000
        self.wake = asyncio.Event()
        self.t0 = time.monotonic()
        self.last_delivered = 0.0  # monotonic time of the last acknowledged upload
        self.alarm: dict[str, Any] | None = None
        # Running test events: point code → (kind, value, until on the monotonic clock).
        self.events: dict[str, tuple[int, float, float]] = {}
        self.channel: Any = None
        self.session = ""
        self.stub: Any = None
        self._load()

    # ------------------------------------------------------------------------------------ persistence

    def _load(self) -> None:
        if self.defect == "no_resume" or not self.state_path.exists():
            return
        d = json.loads(self.state_path.read_text())
        self.next_seq, self.last_ack = d["next_seq"], d["last_ack"]
        for seq, method, blob, backfill in d["queue"]:
            cls = pb.ReportObservationsRequest if method == "ReportObservations" else pb.ReportAlarmsRequest
            self.queue.append(Upload(seq, method, cls.FromString(base64.b64decode(blob)), backfill))
        self.in_outage = bool(self.queue)  # a backlog from before the restart: what is built now is late too

    def save(self) -> None:
        if self.defect == "no_resume":
            return
        queue = (
            [] if self.defect == "memory_queue" else self.queue
        )  # the defect: the queue lives in memory only
        d = {"next_seq": self.next_seq, "last_ack": self.last_ack,
             "queue": [[u.seq, u.method, base64.b64encode(u.request.SerializeToString()).decode(), u.backfill] for u in queue]}  # fmt: skip
        tmp = self.state_path.with_suffix(".tmp")
        tmp.write_text(json.dumps(d))
        tmp.replace(self.state_path)

    # ----------------------------------------------------------------------------------------- clock

    def now(self) -> int:
        return int(time.time() * 1000) + self.offset_ms

    def note(self, server: Any, t0: float, t1: float) -> None:
        if self.defect == "no_clock_sync" or server is None or ms_of(server) is None:
            return
        est = int(ms_of(server) - (t0 + t1) * 500)
        if abs(est - self.offset_ms) > 100:
            self.offset_ms = est

    # ----------------------------------------------------------------------------------------- calls

    async def call(self, method: str, req: Any, timeout: float = 3.0) -> Any:
        t0 = time.time()
        if self.a.http and method in SLUG:
            resp = await asyncio.to_thread(self._http, method, req, timeout)
        else:
            try:
                md = self.md
                if self.defect == "wrong_identity" and method.startswith("Report"):
                    md = (("x-santong-device-id", "TINY-0002"), self.md[1])  # another device's id, own token
                resp = await getattr(self.stub, method)(req, metadata=md, timeout=timeout)
            except grpc.aio.AioRpcError as e:
                retry = None
                for k, v in e.trailing_metadata() or ():
                    if k == "grpc-status-details-bin":
                        from google.rpc import error_details_pb2, status_pb2

                        st = status_pb2.Status.FromString(v)
                        for det in st.details:
                            if det.Is(error_details_pb2.RetryInfo.DESCRIPTOR):
                                info = error_details_pb2.RetryInfo()
                                det.Unpack(info)
                                retry = info.retry_delay.seconds + info.retry_delay.nanos / 1e9
                raise CallError(e.code().name, e.details() or "", retry) from e
        self.note(
            getattr(resp, "server_time", None) or (resp.ack.server_time if hasattr(resp, "ack") else None),
            t0,
            time.time(),
        )
        return resp

    def _http(self, method: str, req: Any, timeout: float) -> Any:
        doc = json_format.MessageToDict(req, preserving_proto_field_name=True)
        if self.defect == "local_time" and method == "ReportObservations":
            base = ms_of(req.batch.base_time) or self.now()
            local = dt.datetime.fromtimestamp(base / 1000, dt.timezone(dt.timedelta(hours=8)))
            doc["batch"]["base_time"] = local.strftime("%Y-%m-%d %H:%M:%S")  # 北京时间, no zone
        body = json.dumps(doc).encode()
        headers = {"content-type": "application/json", "x-santong-device-id": self.a.device,
                   "authorization": f"Bearer {self.a.token}"}  # fmt: skip
        r = urllib.request.Request(f"{self.a.http}/v1/device/{SLUG[method]}", body, headers, method="POST")
        try:
            with urllib.request.urlopen(r, timeout=timeout) as resp:
                out = json.loads(resp.read())
        except urllib.error.HTTPError as e:
            retry = e.headers.get("retry-after")
            raise CallError(
                HTTP_CODES.get(e.code, "UNKNOWN"), str(e.code), float(retry) if retry else None
            ) from e
        except OSError as e:
            raise CallError("UNAVAILABLE", str(e)) from e
        resp_cls = getattr(pb, f"{method}Response")
        return json_format.ParseDict(out, resp_cls(), ignore_unknown_fields=True)

    # --------------------------------------------------------------------------------------- session

    def points(self) -> Any:
        unit = "%" if self.defect == "wrong_unit" else "%CH4"
        bad = self.defect in ("bad_point_code", "bad_codes_wait_ready")
        m_code = f"{MINE}01MNA0010-A1" if bad else METHANE
        s_code = f"{MINE}01KGS0010-K1" if bad else SWITCH
        at = ts(self.now() - 1000)
        m = data_pb2.PointDefinition(
            alias=1, point_code=m_code, system_code="01", outstation_code=f"{MINE}F01", sensor_type="A001",
            value_kind=common_pb2.VALUE_KIND_ANALOG, unit=unit, range_low=0, range_high=4, alarm_high=1.0,
            alarm_high_clear=1.0, power_off_high=1.5, power_restore_high=1.0, location="15101 工作面上隅角 T0",
        )  # fmt: skip
        s = data_pb2.PointDefinition(
            alias=4, point_code=s_code, system_code="01", outstation_code=f"{MINE}F01", sensor_type="S001",
            value_kind=common_pb2.VALUE_KIND_SWITCH, range_low=0, range_high=1, on_description="开",
            off_description="停", location="15101 采煤机",
        )  # fmt: skip
        m.defined_at.CopyFrom(at)
        s.defined_at.CopyFrom(at)
        return pb.DefinePointsRequest(points=[m, s])

    async def register(self) -> None:
        req = pb.RegisterRequest(
            device=data_pb2.DeviceIdentity(
                device_id=self.a.device, vendor="santong 自检 / santong self-check", model="TINY-1",
                firmware_version="1.0.0", serial_number="TINY-0001", ma_certificate="MAH230123",
                product_class=common_pb2.PRODUCT_CLASS_SAFETY_MONITORING, mine_code=MINE,
            ),
            mine=data_pb2.Mine(mine_code=MINE), supported_versions=self.a.versions,
        )  # fmt: skip
        req.device_time.CopyFrom(ts(self.now()))
        resp = await self.call("Register", req)
        self.hb_ms = int(resp.limits.heartbeat_interval_ms or 30000)
        last = int(resp.last_acknowledged_sequence)
        if self.defect != "no_resume":
            self.queue = [u for u in self.queue if u.seq > last or not u.seq]  # not u.seq: not sent yet
            self.next_seq = max(self.next_seq, last + 1)
        self.defined = False
        self.registered.set()
        self.session = resp.session_id
        if self.defect in READY_AT_REGISTER:
            print(f"registered: session={resp.session_id} last_ack={last}", flush=True)

    async def define(self) -> None:
        await self.call("DefinePoints", self.points())
        self.defined = True
        if self.defect not in READY_AT_REGISTER:  # the ready line: registered and points defined
            print(f"registered: session={self.session} (points defined)", flush=True)

    # -------------------------------------------------------------------------------------- producing

    def event(self, code: str, kind: int) -> float | None:
        """The value a running test event of this kind holds on the point, else None."""
        ev = self.events.get(code)
        if ev is None or ev[0] != kind:
            return None
        if time.monotonic() >= ev[2]:
            del self.events[code]
            return None
        return ev[1]

    def methane(self) -> float:
        held = self.event(METHANE, pb.TEST_EVENT_KIND_EXCURSION)
        return held if held is not None else round(0.40 + random.uniform(-0.02, 0.02), 3)

    def test_event(self, cmd: Any) -> tuple[int, str]:
        ev = cmd.test_event
        if not self.a.test_events:
            return pb.COMMAND_OUTCOME_UNSUPPORTED, "test events are off (not in certification mode)"
        if ev.point_code not in (METHANE, SWITCH):
            return pb.COMMAND_OUTCOME_FAILED, f"unknown point {ev.point_code}"
        self.events[ev.point_code] = (ev.kind, ev.value, time.monotonic() + ev.hold_ms / 1000)
        return pb.COMMAND_OUTCOME_SUCCEEDED, f"{pb.TestEventKind.Name(ev.kind)} on {ev.point_code}"

    def enqueue(self, method: str, req: Any) -> None:
        backfill = self.defect != "no_backfill" and (self.in_outage or any(u.backfill for u in self.queue))
        seq = 0  # newest_first numbers an upload when it first sends it
        if self.defect != "newest_first":
            seq = self.next_seq
            self.next_seq += 1
        (req.batch if method == "ReportObservations" else req).sequence = seq
        self.queue.append(Upload(seq, method, req, backfill))
        if self.defect == "ring_buffer" and len(self.queue) > RING:
            del self.queue[: len(self.queue) - RING]  # the defect: the oldest unsent data is overwritten
        self.save()
        self.wake.set()

    async def produce(self) -> None:
        period = self.a.report_ms / 1000
        while True:
            if self.defect == "stalls_offline" and self.in_outage:
                await asyncio.sleep(period)  # the defect: sampling waits for the link
                continue
            now, v = self.now(), self.methane()
            status = 0
            alarms = []
            if self.alarm is None and v >= 1.0:
                self.alarm = {"id": f"{METHANE}-OL-{now}", "start": now, "values": [v]}
                alarms.append(self.alarm_msg(common_pb2.ALARM_STATE_RAISED, v, now))
            elif self.alarm is not None and v < 1.0:
                alarms.append(self.alarm_msg(common_pb2.ALARM_STATE_CLEARED, v, now))
                self.alarm = None
            elif self.alarm is not None:
                self.alarm["values"].append(v)
            status = 1 if self.alarm is not None else 0
            switch = self.event(SWITCH, pb.TEST_EVENT_KIND_SWITCH_CHANGE)
            fault = self.event(METHANE, pb.TEST_EVENT_KIND_SENSOR_FAULT) is not None
            if fault:
                status |= 128
            if self.defect == "impossible_value":
                v, status = v * 10_000, status | 8  # a scaling bug: 4 000 %CH4 "over range", still "valid"
            b = data_pb2.ObservationBatch(
                alias=[1, 4],
                value=[v, 1.0 if switch is None else switch],
                time_offset_ms=[0, 0],
                status=[status, 0],
            )
            b.base_time.CopyFrom(ts(now))
            self.enqueue("ReportObservations", pb.ReportObservationsRequest(batch=b))
            if alarms and self.defect != "alarm_bit_only":  # the defect: no Alarm message, only the bit
                self.enqueue("ReportAlarms", pb.ReportAlarmsRequest(alarms=alarms))
            await asyncio.sleep(period)

    def alarm_msg(self, state: int, v: float, now: int) -> Any:
        a = self.alarm or {}
        values = a.get("values", [v])
        m = data_pb2.Alarm(
            alarm_id=a["id"], point_code=METHANE, sensor_type="A001", location="15101 工作面上隅角 T0", unit="%CH4",
            anomaly_type=common_pb2.ANOMALY_TYPE_OVER_LIMIT, state=state,  # type: ignore[arg-type]
            max_value=max(values), min_value=min(values), avg_value=sum(values) / len(values),
        )  # fmt: skip
        for t in (m.start_time, m.max_time, m.min_time):
            t.CopyFrom(ts(a["start"]))
        if state == common_pb2.ALARM_STATE_CLEARED:
            m.end_time.CopyFrom(ts(max(now, a["start"])))
        return m

    # ------------------------------------------------------------------------------------- delivering

    def backoff(self, attempt: int, retry_after: float | None) -> float:
        if self.defect == "fixed_retry":
            return 0.02
        upper = min(self.a.max_backoff_ms / 1000, 0.1 * 2**attempt)  # ST-PROTO-017: [0, min(cap, b × 2ⁿ)]
        if self.a.slow_backoff:
            return max(upper, retry_after or 0.0)  # the slowest permitted: the upper edge every time
        d = random.uniform(0, upper)
        return max(d, retry_after or 0.0)

    def drop(self, up: Upload | None) -> None:
        """Take an upload out of the queue (it may already be gone: ring_buffer overwrites the oldest)."""
        if up is not None and up in self.queue:
            self.queue.remove(up)
        self.save()

    async def deliver(self) -> None:
        failures = 0
        while True:
            up: Upload | None = None
            try:
                if not self.registered.is_set():
                    await self.register()
                if not self.defined and self.defect != "report_before_define":
                    await self.define()
                if not self.queue:
                    self.wake.clear()
                    await self.wake.wait()
                    continue
                up = self.queue[0]
                if self.defect == "newest_first":  # the defect: last in, first out (a sent upload is kept)
                    up = next((u for u in self.queue if u.seq), self.queue[-1])
                    if not up.seq:
                        up.seq, self.next_seq = self.next_seq, self.next_seq + 1
                        (
                            up.request.batch if up.method == "ReportObservations" else up.request
                        ).sequence = up.seq
                        self.save()
                (up.request.batch if up.method == "ReportObservations" else up.request).backfill = up.backfill
                if self.defect == "report_before_define" and not self.defined:
                    self.defined = True  # the defect: report first, define right after (too late)
                    with contextlib.suppress(CallError):
                        await self.call(up.method, up.request)
                    await self.define()
                up.attempts += 1
                # deadline_delivered waits 1.5 s for an acknowledgement ("uploads on a LAN are quick").
                resp = await self.call(
                    up.method, up.request, 1.5 if self.defect == "deadline_delivered" else 3.0
                )
                if resp.ack.status in (pb.ACK_STATUS_ACCEPTED, pb.ACK_STATUS_DUPLICATE):
                    self.last_ack = max(self.last_ack, up.seq)
                    self.last_delivered = time.monotonic()
                self.in_outage = False
                self.drop(up)
                failures = 0
            except CallError as e:
                if e.code in ("UNAUTHENTICATED", "PERMISSION_DENIED"):
                    print(f"credentials refused: {e}", flush=True)
                    sys.exit(1)
                sent = up is not None and self.registered.is_set()  # the failure was the upload's
                if e.code == "DEADLINE_EXCEEDED" and self.defect == "deadline_delivered" and sent:
                    assert up is not None
                    self.last_ack = max(self.last_ack, up.seq)  # the defect: "the call went out"
                    self.drop(up)
                    continue
                if e.code == "FAILED_PRECONDITION":
                    self.registered.clear()
                    if self.defect == "drop_precondition":
                        self.drop(up)  # the defect: refused data dropped instead of resent after registering
                elif e.code == "INTERNAL" and self.defect == "internal_final" and sent:
                    self.drop(up)  # the defect: HTTP 500 / INTERNAL taken for a final rejection
                    continue
                elif e.code in RETRYABLE or (e.code == "INVALID_ARGUMENT" and self.defect == "retry_invalid"):
                    if e.code in ("UNAVAILABLE", "DEADLINE_EXCEEDED"):
                        self.in_outage = True  # built from now on: late; those queued stay unchanged
                    if self.defect == "give_up_retries" and sent and up and up.attempts >= GIVE_UP_AFTER:
                        self.drop(up)  # the defect: a bounded number of retries, then dead-lettered
                        continue
                    if self.defect == "dup_after_reconnect" and sent:
                        assert up is not None
                        self.drop(up)  # re-queued under a new sequence: the defect
                        self.enqueue(up.method, up.request)
                elif sent:
                    self.drop(up)  # rejected: dead-lettered, never resent
                    continue
                failures += 1
                await asyncio.sleep(self.backoff(min(failures - 1, 10), e.retry_after))

    async def heartbeat(self) -> None:
        while True:
            await self.registered.wait()
            await asyncio.sleep(0.9 * self.hb_ms / 1000)
            busy = time.monotonic() - self.last_delivered < self.hb_ms / 1000
            if (self.defect == "heartbeat_when_idle" and busy) or not self.registered.is_set():
                continue
            req = pb.HeartbeatRequest(
                last_acknowledged_sequence=self.last_ack, queued_uploads=len(self.queue)
            )
            req.device_time.CopyFrom(ts(self.now()))
            try:
                await self.call("Heartbeat", req)
            except CallError as e:
                if e.code == "FAILED_PRECONDITION":
                    self.registered.clear()
                    self.wake.set()

    async def commands(self) -> None:
        while True:
            await self.registered.wait()
            out: asyncio.Queue[Any] = asyncio.Queue()
            await out.put(pb.CommandsRequest())

            async def requests(out: asyncio.Queue[Any] = out) -> Any:
                while True:
                    yield await out.get()

            try:
                async for resp in self.stub.Commands(requests(), metadata=self.md):
                    cmd = resp.command
                    outcome, text = pb.COMMAND_OUTCOME_SUCCEEDED, "ok"
                    if cmd.type == pb.COMMAND_TYPE_TIME_SYNC and self.defect != "no_clock_sync":
                        self.offset_ms = ms_of(cmd.time_sync.server_time) - int(time.time() * 1000)
                    elif cmd.type == pb.COMMAND_TYPE_RESEND_DEFINITIONS:
                        if self.defect != "resend_ack_only":  # the defect: "nothing changed, nothing to send"
                            self.defined = False
                            self.wake.set()
                    elif cmd.type == pb.COMMAND_TYPE_CONFIGURE and self.defect == "silent_unknown_setting":
                        if set(cmd.configure.settings) - KNOWN_SETTINGS:
                            continue  # the defect: a setting it does not know is not answered at all
                    elif cmd.type == pb.COMMAND_TYPE_TEST_EVENT:
                        outcome, text = self.test_event(cmd)
                    elif cmd.type == pb.COMMAND_TYPE_WRITE_POINT:
                        outcome, text = pb.COMMAND_OUTCOME_UNSUPPORTED, "read-only device"
                    r = pb.CommandResult(command_id=cmd.command_id, outcome=outcome, message=text)
                    r.device_time.CopyFrom(ts(self.now()))
                    await out.put(pb.CommandsRequest(result=r))
            except grpc.aio.AioRpcError:
                pass
            await asyncio.sleep(0.3)

    async def run(self) -> None:
        options = [("grpc.initial_reconnect_backoff_ms", 100), ("grpc.max_reconnect_backoff_ms", 500)]
        ca_file = os.environ.get("SANTONG_TLS_CA")
        if ca_file:
            creds = grpc.ssl_channel_credentials(Path(ca_file).read_bytes())
            self.channel = grpc.aio.secure_channel(self.a.target, creds, options=options)
        else:
            self.channel = grpc.aio.insecure_channel(self.a.target, options=options)
        self.stub = device_access_pb2_grpc.DeviceAccessServiceStub(self.channel)
        stop = asyncio.Event()
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGTERM, signal.SIGINT):
            loop.add_signal_handler(sig, stop.set)
        tasks = [
            asyncio.create_task(c)
            for c in (self.deliver(), self.heartbeat(), self.commands(), self.produce())
        ]
        if self.defect == "crash":
            loop.call_later(8.0, lambda: (print("segmentation fault (simulated)", flush=True), os._exit(3)))
        await stop.wait()
        for t in tasks:
            t.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
        self.save()
        with contextlib.suppress(Exception):
            await self.channel.close()


def main() -> int:
    p = argparse.ArgumentParser()
    p.add_argument("--target", required=True)
    p.add_argument("--http", default="")
    p.add_argument("--device", required=True)
    p.add_argument("--token", required=True)
    p.add_argument("--workdir", required=True, type=Path)
    p.add_argument("--report-ms", type=int, default=1000)
    p.add_argument("--defect", default="none", choices=DEFECTS)
    p.add_argument("--max-backoff-ms", type=int, default=2000, help="back-off cap (the spec's: 30000)")
    p.add_argument("--slow-backoff", action="store_true")
    p.add_argument(
        "--test-events", action="store_true", help="certification mode: carry out TEST_EVENT commands"
    )
    p.add_argument(
        "--versions",
        type=lambda s: [v.strip() for v in s.split(",") if v.strip()],
        default=list(interface_versions()),
        help="supported_versions of its Register, comma-separated (default: every interface version; "
        "1.0: a product of interface 1.0, which has no TEST_EVENT)",
    )
    a = p.parse_args()
    if a.defect == "exit_at_once":
        print("cannot open /dev/ttyS9: no such device", flush=True)
        return 1
    if a.defect != "local_time":
        a.http = ""
    a.workdir.mkdir(parents=True, exist_ok=True)
    asyncio.run(Device(a).run())
    return 0


if __name__ == "__main__":
    sys.exit(main())
