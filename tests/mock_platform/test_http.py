"""The HTTP/JSON transport over a real uvicorn server on 127.0.0.1 (port 0): every route, every error status with
its clause, the same answers as gRPC, commands, inspection and faults, the OpenAPI document."""

from __future__ import annotations

import json
import secrets
import threading
import time
import uuid
from collections.abc import Iterator
from typing import Any

import grpc
import httpx
import pytest
from google.protobuf import json_format
from google.rpc import status_pb2
from mpclient import Target, status_details
from santong.mock_platform import PlatformConfig, samples
from santong.mock_platform._http import response_body, response_dict, status_dict
from santong.mock_platform._openapi import DEVICE_OPERATIONS, openapi_document
from santong.mock_platform.embedded import BackgroundMockPlatform
from santong.protocols import Violation, default_limits, load_schema, schema_names, to_dict
from santong.protocols.v1 import device_access_pb2 as pb
from st_waiting import DEADLINE_S, wait_until

TIMEOUT = 15.0
GRPC_HTTP = {  # ST-IFACE-015
    grpc.StatusCode.INVALID_ARGUMENT: {400},
    grpc.StatusCode.UNAUTHENTICATED: {401},
    grpc.StatusCode.PERMISSION_DENIED: {403},
    grpc.StatusCode.FAILED_PRECONDITION: {409},
    grpc.StatusCode.RESOURCE_EXHAUSTED: {413, 429},
    grpc.StatusCode.UNAVAILABLE: {503},
}


# --------------------------------------------------------------------------- clients


class HttpDevice:
    """One device speaking HTTP/JSON with its credentials."""

    def __init__(self, api: Api, device_id: str, token: str) -> None:
        self.api, self.device_id, self.token, self.seq = api, device_id, token, 0

    @property
    def headers(self) -> dict[str, str]:
        return {"x-santong-device-id": self.device_id, "authorization": f"Bearer {self.token}"}

    def post(
        self, slug: str, body: Any, *, headers: dict[str, str] | None = None, **kw: Any
    ) -> httpx.Response:
        """POST a message (protobuf → its JSON form), a dict (as JSON) or raw bytes to /v1/device/{slug}."""
        h = self.headers if headers is None else headers
        if isinstance(body, bytes):
            return self.api.client.post(
                f"/v1/device/{slug}", content=body, headers={"content-type": "application/json", **h}, **kw
            )
        doc = to_dict(body) if hasattr(body, "DESCRIPTOR") else body
        return self.api.client.post(f"/v1/device/{slug}", json=doc, headers=h, **kw)

    def register(self) -> httpx.Response:
        r = self.post("register", samples.register_request(self.device_id))
        if r.status_code == 200:
            self.seq = max(self.seq, int(r.json().get("last_acknowledged_sequence", 0)))
        return r

    def next_seq(self) -> int:
        self.seq += 1
        return self.seq

    def report(self, aliases: list[int] | None = None, **kw: Any) -> httpx.Response:
        batch = samples.observation_batch(self.next_seq(), aliases or [1, 2, 3, 4], **kw)
        return self.post("report-observations", pb.ReportObservationsRequest(batch=batch))


class Api:
    """The HTTP side of a running mock platform: devices, inspection, faults."""

    def __init__(self, url: str, inspection_token: str) -> None:
        self.url = url
        self.client = httpx.Client(base_url=url, timeout=TIMEOUT)
        self.admin = {"x-santong-inspection-token": inspection_token}

    def inspect(self, op: str, **args: Any) -> Any:
        r = self.client.post(f"/inspect/{op}", json=args, headers=self.admin)
        assert r.status_code == 200, r.text
        return r.json()

    def fault(self, op: str, **args: Any) -> Any:
        r = self.client.post(f"/faults/{op}", json=args, headers=self.admin)
        assert r.status_code == 200, r.text
        return r.json()

    def new_device(self, *, register: bool = True, define: bool = True) -> HttpDevice:
        dev = HttpDevice(self, f"H-{uuid.uuid4().hex[:12]}", secrets.token_urlsafe(16))
        self.inspect("add_device", device_id=dev.device_id, token=dev.token)
        if register:
            assert dev.register().status_code == 200
            if define:
                r = dev.post("define-points", samples.define_points_request())
                assert r.status_code == 200, r.text
        return dev

    def close(self) -> None:
        self.client.close()


def clauses(r: httpx.Response) -> set[str]:
    """Clause IDs of the BadRequest detail of an error body (google.rpc.Status JSON)."""
    out: set[str] = set()
    for d in r.json().get("details", []):
        if d["@type"].endswith("google.rpc.BadRequest"):
            out.update(v["reason"] for v in d["fieldViolations"])
    return out


def fails(r: httpx.Response, status: int) -> set[str]:
    """Assert an error status with a google.rpc.Status body; return its clause IDs."""
    assert r.status_code == status, (r.status_code, r.text[:500])
    body = r.json()
    assert isinstance(body["code"], int) and body["code"] > 0 and body["message"]
    return clauses(r)


def start_platform(config: PlatformConfig) -> BackgroundMockPlatform:
    """A mock platform (gRPC + HTTP on ports the OS picks) on a background loop."""
    bg = BackgroundMockPlatform(config, http_port=0)
    bg.start()
    return bg


# --------------------------------------------------------------------------- fixtures


@pytest.fixture(scope="module")
def bg() -> Iterator[BackgroundMockPlatform]:
    platform = start_platform(PlatformConfig(inspection_token=secrets.token_urlsafe(16)))
    yield platform
    platform.stop()


@pytest.fixture(scope="module")
def api(bg: BackgroundMockPlatform) -> Iterator[Api]:
    assert bg.http_url is not None and bg.http_url.startswith("http://127.0.0.1:")
    a = Api(bg.http_url, bg.inspection_token)
    yield a
    a.fault("clear")
    a.close()


@pytest.fixture(scope="module")
def strict() -> Iterator[Api]:
    """A platform with small limits: 2 uploads/s, 64 KiB messages, withheld acks held 0.3 s."""
    limits = default_limits()
    limits.max_uploads_per_second = 2
    limits.max_message_bytes = 64 * 1024
    bgp = start_platform(
        PlatformConfig(limits=limits, inspection_token=secrets.token_urlsafe(16), withhold_hold_s=0.3)
    )
    a = Api(bgp.http_url or "", bgp.inspection_token)
    yield a
    a.close()
    bgp.stop()


@pytest.fixture(scope="module")
def grpc_target(bg: BackgroundMockPlatform) -> Iterator[Target]:
    t = Target("embedded", bg.grpc_target, bg.inspection_token)
    yield t
    t.close()


# --------------------------------------------------------------------------- happy paths


def test_platform_info_without_credentials(api: Api) -> None:
    """ST-IFACE-008: GET /v1/platform/info answers without credentials."""
    r = api.client.get("/v1/platform/info")
    assert r.status_code == 200 and r.headers["content-type"] == "application/json"
    info = r.json()
    assert info["spec_version"] in info["supported_versions"]
    assert info["limits"]["max_message_bytes"] == 4 * 1024 * 1024
    assert "observations.unary" in info["capabilities"] and info["server_time"].endswith("Z")


def test_every_device_route(api: Api) -> None:
    """Register, define, every upload kind and heartbeat: 200 with the response's JSON form; all stored."""
    dev = api.new_device(register=False)
    r = dev.register()
    assert (
        r.status_code == 200
        and r.json()["negotiated_version"] == "1.0"
        and r.json()["server_time"].endswith("Z")
    )
    r = dev.post("define-points", samples.define_points_request())
    assert r.json() == {"accepted_points": 4, "accepted_outstations": 1}
    r = dev.post("define-positioning", samples.positioning_request())
    assert r.json() == {"accepted_areas": 1, "accepted_stations": 1}
    uploads = [
        (
            "report-observations",
            pb.ReportObservationsRequest(batch=samples.observation_batch(1, [1, 2, 3, 4])),
            4,
        ),
        ("report-alarms", samples.alarm_request(2, "A-1"), 1),
        ("report-alarms", samples.alarm_request(3, "A-1", clear=True), 1),
        ("report-outstation-status", samples.outstation_status_request(4), 1),
        ("report-statistics", samples.statistics_request(5), 1),
        ("report-personnel", samples.personnel_request(6), 2),
    ]
    for seq, (slug, msg, n) in enumerate(uploads, start=1):
        r = dev.post(slug, msg)
        assert r.status_code == 200, r.text
        ack = r.json()["ack"]
        assert (ack["sequence"], ack["status"], ack["accepted"]) == (str(seq), "ACK_STATUS_ACCEPTED", n), ack
        assert ack["server_time"].endswith("Z")  # ST-PROTO-026
    r = dev.post("heartbeat", pb.HeartbeatRequest(last_acknowledged_sequence=6))
    assert r.status_code == 200 and "server_time" in r.json()  # ST-IFACE-017
    counts = api.inspect("counts", device_id=dev.device_id)
    assert (
        counts["observations"],
        counts["alarms"],
        counts["outstation_statuses"],
        counts["statistics"],
    ) == (4, 2, 1, 1)
    assert (counts["personnel"], counts["station_statuses"], counts["uploads"]) == (1, 1, 6)
    stored = api.client.get(
        "/inspect/observations", params={"device_id": dev.device_id}, headers=api.admin
    ).json()
    assert [o["alias"] for o in stored] == [1, 2, 3, 4]


def test_replay_is_acknowledged_again_not_stored_twice(api: Api) -> None:
    """ST-PROTO-012 over HTTP: the same (device, sequence) again → DUPLICATE, stored once."""
    dev = api.new_device()
    body = pb.ReportObservationsRequest(batch=samples.observation_batch(7, [1, 2]))
    first, again = dev.post("report-observations", body), dev.post("report-observations", body)
    assert first.json()["ack"]["status"] == "ACK_STATUS_ACCEPTED"
    assert again.json()["ack"]["status"] == "ACK_STATUS_DUPLICATE" and again.json()["ack"]["accepted"] == 2
    assert api.inspect("acknowledged", device_id=dev.device_id) == [7]
    assert api.inspect("counts", device_id=dev.device_id)["observations"] == 2


def test_content_type_with_utf8_charset_accepted(api: Api) -> None:
    """ST-IFACE-009: the charset parameter may be given as utf-8 (any case)."""
    dev = api.new_device()
    for ct in ("application/json; charset=UTF-8", "Application/JSON;charset=utf-8", "application/json"):
        body = json.dumps(to_dict(pb.HeartbeatRequest())).encode()
        r = api.client.post("/v1/device/heartbeat", content=body, headers={**dev.headers, "content-type": ct})
        assert r.status_code == 200, (ct, r.text)


# --------------------------------------------------------------------------- errors: status and clause


def test_credentials(api: Api) -> None:
    """ST-PROTO-001 missing → 401; ST-PROTO-002 wrong, forged or another device's token → 401; nothing stored."""
    dev = api.new_device(register=False)
    other = api.new_device(register=False)
    reg = samples.register_request(dev.device_id)
    assert fails(dev.post("register", reg, headers={}), 401) == {"ST-PROTO-001"}
    assert fails(dev.post("register", reg, headers={"x-santong-device-id": dev.device_id}), 401) == {
        "ST-PROTO-001"
    }
    for auth in (f"Bearer {dev.token}x", f"Bearer {other.token}", f"Basic {dev.token}", "Bearer"):
        r = dev.post("register", reg, headers={"x-santong-device-id": dev.device_id, "authorization": auth})
        assert fails(r, 401) == {"ST-PROTO-002"}, auth
        assert "exist" not in r.json()["message"].lower()
    assert not [d for d in api.inspect("devices") if d["device_id"] == dev.device_id][0]["registered"]


def test_permission_and_preconditions(api: Api) -> None:
    """ST-IFACE-019 → 403; ST-IFACE-001 (not registered) and ST-PROTO-004 (no common version) → 409."""
    dev = api.new_device(register=False)
    assert fails(dev.post("register", samples.register_request("SOMEONE-ELSE")), 403) == {"ST-IFACE-019"}
    assert fails(dev.post("register", samples.register_request(dev.device_id, versions=("0.9",))), 409) == {
        "ST-PROTO-004"
    }
    assert fails(dev.post("heartbeat", pb.HeartbeatRequest()), 409) == {"ST-IFACE-001"}
    assert fails(dev.report(), 409) == {"ST-IFACE-001"}
    assert api.inspect("counts", device_id=dev.device_id)["uploads"] == 0


@pytest.mark.parametrize(
    ("slug", "body", "clause"),
    [
        (
            "report-observations",
            {
                "batch": {
                    "sequence": "1",
                    "alias": [1],
                    "value": [0.1],
                    "time_offset_ms": [0],
                    "status": [0],
                    "colour": 1,
                }
            },
            "ST-DATA-034",
        ),
        (
            "report-observations",
            {"batch": {"sequence": "1", "base_time": "2025-01-15T10:30:00+08:00"}},
            "ST-DATA-030",
        ),
        ("define-points", {"points": [{"alias": 1, "value_kind": 1}]}, "ST-DATA-035"),
        ("report-alarms", {"sequence": -1}, "ST-DATA-035"),
        ("heartbeat", b'{"device_time": ', "ST-DATA-036"),
        ("heartbeat", b"[]", "ST-DATA-036"),
        ("heartbeat", b"", "ST-DATA-036"),
        ("heartbeat", b'{"device_time": "\xff\xfe"}', "ST-DATA-036"),
    ],
    ids=[
        "unknown-field",
        "local-time",
        "enum-number",
        "negative-sequence",
        "truncated",
        "array",
        "empty",
        "bad-utf8",
    ],
)
def test_json_stage(api: Api, slug: str, body: Any, clause: str) -> None:
    """The JSON stage of the core (ST-DATA-030/034/035/036) → 400 naming the clause; logged; nothing stored."""
    dev = api.new_device()
    assert clause in fails(dev.post(slug, body), 400)
    log = api.inspect("interactions", device_id=dev.device_id, verdict="REJECTED")
    assert any(clause in row["clause_ids"] for row in log), log
    assert api.inspect("counts", device_id=dev.device_id)["uploads"] == 0


def test_rules_violations(api: Api) -> None:
    """Rules of the core → 400 with the clause and the field path; all or nothing (ST-IFACE-007)."""
    dev = api.new_device()
    r = dev.post(
        "report-observations", pb.ReportObservationsRequest(batch=samples.observation_batch(1, [1, 99]))
    )
    assert fails(r, 400) == {"ST-IFACE-004"}
    assert r.json()["details"][0]["fieldViolations"][0]["field"] == "$.batch.alias"
    bad = samples.define_points_request()
    bad.points[0].unit = "ppm"
    assert "ST-DATA-011" in fails(dev.post("define-points", bad), 400)
    assert "ST-IFACE-010" in fails(dev.post("report-alarms", pb.ReportAlarmsRequest(sequence=2)), 400)
    assert api.inspect("counts", device_id=dev.device_id)["uploads"] == 0


@pytest.mark.parametrize(
    "content_type",
    [
        "text/plain",
        None,
        "application/json; charset=latin-1",
        "application/json; charset=utf8",
        "application/x-www-form-urlencoded",
        "application/jsonx",
    ],
)
def test_wrong_content_type(api: Api, content_type: str | None) -> None:
    """ST-IFACE-009: anything but application/json in UTF-8 → 415 naming the clause; the connection closes."""
    dev = api.new_device()
    headers = dict(dev.headers)
    if content_type is not None:
        headers["content-type"] = content_type
    r = api.client.post("/v1/device/heartbeat", content=b"{}", headers=headers)
    assert fails(r, 415) == {"ST-IFACE-009"}
    assert r.headers.get("connection") == "close"


def test_size_limit(strict: Api) -> None:
    """ST-PROTO-009: a body over Limits.max_message_bytes → 413 (declared length or chunked); nothing stored."""
    dev = strict.new_device()
    big = {"batch": {"sequence": "1", "base_time": "2025-01-15T02:30:00Z", "alias": [1] * 30000}}
    body = json.dumps(big).encode()
    assert len(body) > 64 * 1024
    assert fails(dev.post("report-observations", body), 413) == {"ST-PROTO-009"}

    def chunks() -> Iterator[bytes]:
        for i in range(0, len(body), 4096):
            yield body[i : i + 4096]

    r = strict.client.post(
        "/v1/device/report-observations",
        content=chunks(),
        headers={**dev.headers, "content-type": "application/json"},
    )
    assert fails(r, 413) == {"ST-PROTO-009"}
    assert strict.inspect("counts", device_id=dev.device_id)["uploads"] == 0


def test_rate_limit(strict: Api) -> None:
    """ST-PROTO-010: uploads beyond Limits.max_uploads_per_second → 429 with Retry-After and RetryInfo."""
    dev = strict.new_device()
    statuses = []
    for _ in range(100):  # far more than the bucket holds, however slowly the calls go
        r = dev.report()
        statuses.append(r.status_code)
        if r.status_code == 429:
            break
    assert statuses[0] == 200 and statuses[-1] == 429, statuses
    assert fails(r, 429) == {"ST-PROTO-010"}
    assert int(r.headers["retry-after"]) >= 1
    assert any(d["@type"].endswith("google.rpc.RetryInfo") for d in r.json()["details"])
    wait_until(lambda: dev.report().status_code == 200, what="uploads accepted again once the bucket refills")


def test_injected_faults(api: Api) -> None:
    """Outage (reset mode) → 503 + Retry-After; fail_next with a status → its HTTP status; all logged as FAULT."""
    dev = api.new_device()
    api.fault("outage_for", seconds=DEADLINE_S, mode="reset")  # lasts until cleared, however slow the calls
    r = dev.report()
    assert fails(r, 503) == set() and int(r.headers["retry-after"]) >= 1
    assert api.client.get("/v1/platform/info").status_code == 503
    assert api.fault("clear")["outage_remaining_s"] == 0
    assert dev.report().status_code == 200
    for code, status in (
        ("UNAVAILABLE", 503),
        ("RESOURCE_EXHAUSTED", 429),
        ("INVALID_ARGUMENT", 400),
        ("INTERNAL", 500),
    ):
        api.fault("fail_next", n=1, code=code)
        assert dev.report().status_code == status, code
    assert dev.report().status_code == 200
    faults = api.inspect("interactions", device_id=dev.device_id, verdict="FAULT")
    assert len(faults) == 5


def test_outage_refuse_closes_the_port(api: Api) -> None:
    """An outage in "refuse" mode closes the listener: connecting fails until it is over, then all works again."""
    dev = api.new_device()
    outage_s = (
        3.0  # the listener is closed before outage_for answers; the first connect comes well within this
    )
    t0 = time.monotonic()
    api.fault("outage_for", seconds=outage_s, mode="refuse")
    with httpx.Client(base_url=api.url, timeout=2) as fresh, pytest.raises(httpx.ConnectError):
        fresh.get("/v1/platform/info")
    assert time.monotonic() - t0 < outage_s  # the refusal was the outage's, not a late attempt's

    def answers() -> bool:
        with httpx.Client(base_url=api.url, timeout=5) as fresh:
            return fresh.get("/v1/platform/info").status_code == 200

    wait_until(
        answers, timeout=outage_s + DEADLINE_S, what="the port open again", ignore=(httpx.ConnectError,)
    )
    assert time.monotonic() - t0 >= outage_s * 0.9  # not before the outage is over
    assert dev.report().status_code == 200


def test_withheld_ack_then_replay(strict: Api) -> None:
    """A withheld acknowledgement: stored, the call ends 503 after the hold; the replay is DUPLICATE."""
    dev = strict.new_device()
    strict.fault("withhold_acks", n=1)
    body = pb.ReportObservationsRequest(batch=samples.observation_batch(1, [1, 2]))
    assert dev.post("report-observations", body).status_code == 503
    again = wait_until(  # the token bucket (2/s) may need to refill first
        lambda: (r := dev.post("report-observations", body)).status_code != 429 and r,
        what="the replay admitted",
    )
    assert again.status_code == 200 and again.json()["ack"]["status"] == "ACK_STATUS_DUPLICATE"


# --------------------------------------------------------------------------- same answers as gRPC (ST-IFACE-002)


def _cases() -> list[tuple[str, str, Any, bool]]:
    """(name, rpc, request, registered+defined first)."""
    b = samples.observation_batch
    mismatch = b(1, [1, 2])
    del mismatch.value[1]
    bad_unit = samples.define_points_request()
    bad_unit.points[2].unit = "%"
    return [
        ("valid-batch", "ReportObservations", pb.ReportObservationsRequest(batch=b(1, [1, 2, 3, 4])), True),
        ("undefined-alias", "ReportObservations", pb.ReportObservationsRequest(batch=b(1, [1, 42])), True),
        ("columns", "ReportObservations", pb.ReportObservationsRequest(batch=mismatch), True),
        ("sequence-zero", "ReportObservations", pb.ReportObservationsRequest(batch=b(0, [1])), True),
        (
            "future",
            "ReportObservations",
            pb.ReportObservationsRequest(batch=b(1, [1], base_ms=int(time.time() * 1000) + 3_600_000)),
            True,
        ),
        ("switch-value", "ReportObservations", pb.ReportObservationsRequest(batch=b(1, [4], [0.5])), True),
        ("bad-unit", "DefinePoints", bad_unit, True),
        ("alarm", "ReportAlarms", samples.alarm_request(1), True),
        ("clear-unknown-alarm", "ReportAlarms", samples.alarm_request(1, "never", clear=True), True),
        ("empty-alarms", "ReportAlarms", pb.ReportAlarmsRequest(sequence=1), True),
        ("status", "ReportOutstationStatus", samples.outstation_status_request(1), True),
        ("statistics", "ReportStatistics", samples.statistics_request(1), True),
        ("personnel-undefined", "ReportPersonnel", samples.personnel_request(1), True),
        ("heartbeat", "Heartbeat", pb.HeartbeatRequest(), True),
        ("unregistered", "Heartbeat", pb.HeartbeatRequest(), False),
        ("register-versions", "Register", None, False),
    ]


@pytest.mark.parametrize("name", [c[0] for c in _cases()])
def test_same_answer_as_grpc(api: Api, grpc_target: Target, name: str) -> None:
    """ST-IFACE-002: the same request in the same state → corresponding status, same clauses, same response."""
    # built now, not at collection: the batches' timestamps must be fresh (ST-DATA-032 warns after 300 s)
    _, rpc, request_msg, ready = next(c for c in _cases() if c[0] == name)
    h = api.new_device(register=ready, define=ready)
    g = grpc_target.new_device(register=ready, define=ready)
    slug = next(op.slug for op in DEVICE_OPERATIONS if op.rpc == rpc)
    if rpc == "Register":
        h_req, g_req = (
            samples.register_request(h.device_id, versions=("2.0",)),
            samples.register_request(g.device_id, versions=("2.0",)),
        )
    else:
        h_req = g_req = request_msg
    r = h.post(slug, h_req)
    try:
        g_resp = g.call(rpc, g_req)
    except grpc.RpcError as e:
        assert r.status_code in GRPC_HTTP[e.code()], (name, r.status_code, e.code())
        g_clauses, _ = status_details(e)
        assert clauses(r) == g_clauses, name
        assert r.json()["code"] == e.code().value[0]
        return
    assert r.status_code == 200, (name, r.text)
    ignore = {"server_time", "session_id"}
    want = {k: v for k, v in to_dict(g_resp).items() if k not in ignore}
    got = {k: v for k, v in r.json().items() if k not in ignore}
    if "ack" in want:
        want["ack"].pop("server_time", None)
        got["ack"].pop("server_time", None)
    assert got == want, name


def test_error_body_is_the_grpc_status_json() -> None:
    """ST-IFACE-003: the HTTP body is the JSON form of the very google.rpc.Status the gRPC transport sends."""
    from santong.mock_platform._errors import PlatformError, violation
    from santong.mock_platform._grpc import to_status

    e = PlatformError(
        "RESOURCE_EXHAUSTED",
        "上传过于频繁",
        "too many uploads",
        [violation("ST-PROTO-010", "$", "太快", "too fast")],
        retry_after_s=0.123,
    )
    md = dict(to_status(e).trailing_metadata)
    st = status_pb2.Status.FromString(md["grpc-status-details-bin"])
    from google.rpc import error_details_pb2  # noqa: F401  (registers the detail types for json_format)

    assert status_dict(e.grpc_code, e.message, e.violations, e.retry_after_s) == json_format.MessageToDict(st)


# --------------------------------------------------------------------------- commands (long poll)


def test_commands_long_poll_and_results(api: Api) -> None:
    """Commands over HTTP: queued → polled (long poll wakes up) → answered; ST-IFACE-020 on bad results."""
    dev = api.new_device()
    api.client.get(
        "/v1/device/commands", params={"wait": 0}, headers=dev.headers
    )  # drain the time sync of Register, if any
    t0 = time.monotonic()
    r = api.client.get("/v1/device/commands", params={"wait": 0.3}, headers=dev.headers)
    assert r.status_code == 200 and r.json() == {"commands": []} and time.monotonic() - t0 >= 0.25

    timer = threading.Timer(
        0.3, lambda: api.inspect("send_command", device_id=dev.device_id, type="RESEND_DEFINITIONS")
    )
    timer.start()
    wait_s = 30
    t0 = time.monotonic()
    r = api.client.get("/v1/device/commands", params={"wait": wait_s}, headers=dev.headers)
    timer.join()
    assert (
        r.status_code == 200 and time.monotonic() - t0 < wait_s / 2
    )  # woken by the command, not the timeout
    (cmd,) = r.json()["commands"]
    assert cmd["type"] == "COMMAND_TYPE_RESEND_DEFINITIONS" and "resend_definitions" in cmd

    api.inspect("send_command", device_id=dev.device_id, type="TIME_SYNC")
    api.inspect(
        "send_command", device_id=dev.device_id, type="WRITE_POINT", point_code=samples.CH4, value=1.5
    )
    polled = api.client.get("/v1/device/commands", params={"wait": 1}, headers=dev.headers).json()["commands"]
    assert [c["type"] for c in polled] == ["COMMAND_TYPE_TIME_SYNC", "COMMAND_TYPE_WRITE_POINT"]
    assert polled[0]["time_sync"]["server_time"].endswith("Z")

    r = dev.post("command-results", {"command_id": cmd["command_id"], "outcome": "COMMAND_OUTCOME_SUCCEEDED"})
    assert r.status_code == 200 and r.json() == {"command_id": cmd["command_id"], "accepted": True}
    assert fails(dev.post("command-results", {"command_id": cmd["command_id"]}), 400) == {"ST-IFACE-020"}
    assert "ST-DATA-034" in fails(dev.post("command-results", {"command": 1}), 400)
    done = {c["command_id"]: c for c in api.inspect("commands", device_id=dev.device_id)}
    assert done[cmd["command_id"]]["outcome"] == "COMMAND_OUTCOME_SUCCEEDED"

    assert fails(
        api.client.get("/v1/device/commands", params={"wait": "soon"}, headers=dev.headers), 400
    ) == {"ST-DATA-035"}
    assert fails(api.client.get("/v1/device/commands", params={"wait": 600}, headers=dev.headers), 400) == {
        "ST-DATA-035"
    }
    assert fails(
        api.client.get("/v1/device/commands", params={"wait": 1, "since": 3}, headers=dev.headers), 400
    ) == {"ST-DATA-034"}
    assert fails(api.client.get("/v1/device/commands"), 401) == {"ST-PROTO-001"}
    stranger = api.new_device(register=False)
    assert fails(api.client.get("/v1/device/commands", headers=stranger.headers), 409) == {"ST-IFACE-001"}


# --------------------------------------------------------------------------- inspection and fault routes


def test_inspection_and_fault_routes_need_their_token(api: Api) -> None:
    """/inspect and /faults answer only with x-santong-inspection-token (a device token is not enough)."""
    dev = api.new_device()
    for method, path in (
        ("GET", "/inspect/counts"),
        ("POST", "/inspect/reset"),
        ("GET", "/faults"),
        ("POST", "/faults/fail_next"),
    ):
        for headers in ({}, dev.headers, {"x-santong-inspection-token": "wrong"}):
            r = api.client.request(method, path, headers=headers, json={})
            assert r.status_code == 401, (method, path, r.text)
    assert api.client.get("/inspect/counts", headers=api.admin).json()["devices"] >= 1
    assert api.client.get("/faults", headers=api.admin).json()["fail_next"] == 0
    assert api.client.get("/inspect/devices", headers=api.admin).status_code == 200
    assert fails(api.client.get("/inspect/reset", headers=api.admin), 400) == set()  # mutations need POST
    assert fails(api.client.get("/inspect/nothing", headers=api.admin), 404) == set()
    assert (
        fails(api.client.post("/faults/fail_next", json={"n": 1, "code": "BOGUS"}, headers=api.admin), 400)
        == set()
    )
    assert fails(api.client.post("/faults/fail_next", json=[1], headers=api.admin), 400) == set()
    assert (
        fails(
            api.client.post(
                "/faults/fail_next", content=b"{", headers={**api.admin, "content-type": "application/json"}
            ),
            400,
        )
        == set()
    )
    assert (
        fails(api.client.get("/inspect/observations", params={"limit": "many"}, headers=api.admin), 400)
        == set()
    )
    export = api.client.get("/inspect/export", params={"device_id": dev.device_id}, headers=api.admin).json()
    assert export["counts"]["points"] == 4


def test_unknown_routes_and_methods_answer_status_json(api: Api) -> None:
    assert fails(api.client.get("/v1/device/nothing"), 404) == set()
    assert fails(api.client.get("/v1/device/register"), 405) == set()
    assert fails(api.client.put("/v1/platform/info"), 405) == set()


# --------------------------------------------------------------------------- encoders and the OpenAPI document


def test_ack_fast_path_equals_to_dict() -> None:
    """The hot-path Ack encoder gives exactly to_dict's JSON form."""
    acks = [
        pb.Ack(),
        pb.Ack(sequence=1, status=pb.ACK_STATUS_ACCEPTED, accepted=1000),
        pb.Ack(sequence=2**64 - 1, status=pb.ACK_STATUS_DUPLICATE, accepted=0),
        pb.Ack(
            sequence=5,
            status=pb.ACK_STATUS_REJECTED,
            violations=[
                pb.Violation(
                    clause_id="ST-IFACE-004",
                    path="$.batch.alias",
                    message_zh="未定义",
                    message_en="undefined",
                ),
                pb.Violation(clause_id="ST-DATA-018"),
            ],
        ),
    ]
    for i, ack in enumerate(acks):
        if i % 2:
            ack.server_time.seconds, ack.server_time.nanos = 1_736_908_200, 123_000_000 * i
        elif i:
            ack.server_time.seconds = 1_736_908_200
        for cls in (
            pb.ReportObservationsResponse,
            pb.ReportAlarmsResponse,
            pb.StreamObservationsResponse,
            pb.ReportPersonnelResponse,
        ):
            msg = cls(ack=ack)
            assert response_dict(msg) == to_dict(msg)
            assert (
                response_body(msg)
                == json.dumps(to_dict(msg), ensure_ascii=False, separators=(",", ":")).encode()
            )
    assert response_dict(pb.ReportObservationsResponse()) == to_dict(pb.ReportObservationsResponse())
    assert response_body(pb.ReportObservationsResponse()) == b"{}"
    odd = pb.ReportObservationsResponse(ack=pb.Ack(sequence=2**64 - 1, status=99, accepted=2**32 - 1))
    assert json.loads(response_body(odd)) == to_dict(odd)  # an enum number the descriptor does not name


def test_status_dict_without_violations() -> None:
    assert status_dict(14, "down") == {"code": 14, "message": "down"}
    d = status_dict(3, "bad", [Violation("ST-DATA-011", "$.points[0].unit", "单位", "unit")])
    assert d["details"][0]["fieldViolations"] == [
        {"field": "$.points[0].unit", "description": "单位 / unit", "reason": "ST-DATA-011"}
    ]


def _refs(node: Any) -> Iterator[str]:
    if isinstance(node, dict):
        for k, v in node.items():
            if k == "$ref":
                yield v
            else:
                yield from _refs(v)
    elif isinstance(node, list):
        for v in node:
            yield from _refs(v)


def test_openapi_document(api: Api) -> None:
    """ST-PROTO-028: /openapi.json is OpenAPI 3.1, built from the JSON Schemas, every ref resolvable."""
    import jsonschema

    r = api.client.get("/openapi.json")
    assert r.status_code == 200
    doc = r.json()
    assert doc == json.loads(json.dumps(openapi_document()))
    assert doc["openapi"].startswith("3.1")
    components = doc["components"]["schemas"]
    assert set(schema_names()) <= set(components)
    for ref in _refs(doc):
        assert ref.startswith("#/components/schemas/") and ref.rsplit("/", 1)[1] in components, ref
    for name, schema in components.items():
        jsonschema.Draft202012Validator.check_schema(schema)
        if name in schema_names():
            src = load_schema(name)
            assert set(schema.get("properties", {})) == set(src.get("properties", {})), name
    for op in DEVICE_OPERATIONS:
        post = doc["paths"][op.path]["post"]
        assert post["operationId"] == op.rpc
        assert post["requestBody"]["content"]["application/json"]["schema"]["$ref"].endswith("/" + op.request)
        assert {"200", "400", "401", "409", "413", "415", "429", "503"} <= set(post["responses"])
        assert " / " in post["summary"]  # bilingual
    assert "get" in doc["paths"]["/v1/platform/info"] and "get" in doc["paths"]["/v1/device/commands"]
    rpcs = {op.rpc for op in DEVICE_OPERATIONS} | {"StreamObservations", "Commands"}
    assert rpcs == {m.name for m in pb.DESCRIPTOR.services_by_name["DeviceAccessService"].methods}
