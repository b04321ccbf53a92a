"""The platform client against the real mock platform (gRPC and HTTP/JSON on 127.0.0.1, port 0).

Delivery, dead letters, retries and back-off, re-registration, fatal credentials, rate limits with retry advice,
withheld acknowledgements, commands, time sync, and an outage — checked through the platform's inspection API.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from santong.adapters import ClientConfig, parse_config
from santong.adapters.client import PlatformClient, UploadQueue
from santong.mock_platform._config import PlatformConfig
from santong.mock_platform.embedded import MockPlatform
from santong.protocols import default_limits
from santong.protocols.v1 import common_pb2, data_pb2
from st_waiting import DEADLINE_S, wait_for

DEVICE = "KJ70N-0001"
CH4 = "14042100000101MNA0010A01"
SW = "14042100000101KGS0010K01"
OUT = "140421000001F01"
#: Observations go on a StreamObservations window over gRPC, one by one (ReportObservations) over HTTP/JSON.
OBSERVATION_METHODS = ["ReportObservations", "StreamObservations"]

YAML = """
platform: {{transport: {transport}, {key}: "{target}", token: {token}, timeout_ms: {timeout_ms}, retry: {{base_ms: 100, cap_ms: {cap}}}{tls}}}
device: {{device_id: {device}, vendor: 示例电子, model: KJ70N, firmware_version: "1.0", serial_number: SN1,
         ma_certificate: MAH230123, product_class: SAFETY_MONITORING}}
mine: {{mine_code: "140421000001", name: 示例煤矿}}
queue: {{path: "{queue}", synchronous: NORMAL}}
batch: {{max_points: {max_points}, linger_ms: {linger}}}
heartbeat: {{interval_ms: {heartbeat}}}
"""


def config(
    tmp_path: Path,
    mp: MockPlatform,
    *,
    transport: str = "grpc",
    token: str = "secret",
    cap: int = 400,
    linger: int = 30,
    max_points: int = 100,
    heartbeat: int = 30_000,
    queue: str = "q.db",
    tls: dict[str, Path] | None = None,
    timeout_ms: int = 3000,
) -> ClientConfig:
    target = mp.grpc_target if transport == "grpc" else mp.http_url
    key = "target" if transport == "grpc" else "url"
    text = YAML.format(
        transport=transport,
        key=key,
        target=target,
        token=token,
        cap=cap,
        device=DEVICE,
        queue=tmp_path / queue,
        max_points=max_points,
        linger=linger,
        heartbeat=heartbeat,
        timeout_ms=timeout_ms,
        tls=", tls: {" + ", ".join(f'{k}: "{v}"' for k, v in tls.items()) + "}" if tls else "",
    )
    return parse_config(text, str(tmp_path / "client.yaml"), require_adapter=False)


def definitions() -> tuple[list[data_pb2.PointDefinition], list[data_pb2.OutstationDefinition]]:
    ch4 = data_pb2.PointDefinition(
        point_code=CH4, system_code="01", outstation_code=OUT, sensor_type="A001", value_kind=common_pb2.VALUE_KIND_ANALOG,
        unit="%CH4", range_low=0, range_high=4, alarm_high=1.0, alarm_high_clear=1.0, power_off_high=1.5, power_restore_high=1.0,
        location="15101 上隅角 T0",
    )  # fmt: skip
    sw = data_pb2.PointDefinition(
        point_code=SW, system_code="01", sensor_type="S001", value_kind=common_pb2.VALUE_KIND_SWITCH, range_low=0, range_high=1,
        on_description="开", off_description="停", location="采煤机",
    )  # fmt: skip
    return [ch4, sw], [data_pb2.OutstationDefinition(outstation_code=OUT, location="回风巷分站")]


@pytest.fixture
async def mp() -> AsyncIterator[MockPlatform]:
    limits = default_limits()
    async with MockPlatform(
        PlatformConfig(devices={DEVICE: "secret"}, limits=limits, withhold_hold_s=0.3)
    ) as m:
        yield m


async def started(cfg: ClientConfig, **kwargs: object) -> PlatformClient:
    c = PlatformClient(cfg, **kwargs)  # type: ignore[arg-type]
    await c.define(*definitions())
    await c.start()
    return c


async def values(mp: MockPlatform) -> list[tuple[int, float, bool]]:
    """(sequence, value, backfill) of every stored CH4 observation, in store order."""
    return [
        (o["sequence"], o["value"], o["backfill"])
        for o in await mp.platform.inspection.observations(DEVICE, point_code=CH4, limit=1_000_000)
    ]


@pytest.mark.parametrize("transport", ["grpc", "http"])
async def test_delivers_in_order_with_heartbeats(tmp_path: Path, mp: MockPlatform, transport: str) -> None:
    c = await started(config(tmp_path, mp, transport=transport, heartbeat=100))
    try:
        for i in range(40):
            await c.observations([(CH4, i / 10, None, 0), (SW, i % 2, None, 0)])
            if i % 10 == 0:
                await asyncio.sleep(0.04)  # pacing (several batches), not synchronisation
        assert await c.wait_delivered(DEADLINE_S)
        await wait_for(lambda: c.stats.heartbeats >= 1, what="a heartbeat (interval 100 ms)")
    finally:
        await c.stop()
    got = await values(mp)
    assert [v for _, v, _ in got] == [i / 10 for i in range(40)]  # in order, exactly once
    assert not any(bf for *_, bf in got)
    seqs = await mp.platform.inspection.acknowledged(DEVICE)
    assert seqs == list(range(1, len(seqs) + 1))
    over = [
        o
        for o in await mp.platform.inspection.observations(DEVICE, point_code=CH4, limit=1000)
        if o["value"] > 4
    ]
    assert over == []
    defs = await mp.platform.inspection.definitions(DEVICE)
    assert {(p["point_code"], p["alias"]) for p in defs["points"]} == {(CH4, 1), (SW, 2)}
    beats = await mp.platform.inspection.interactions(DEVICE, method="Heartbeat")
    assert beats and all(b["verdict"] == "ACCEPTED" for b in beats)


async def test_invalid_argument_and_preflight_rejections_go_to_dead_letters(
    tmp_path: Path, mp: MockPlatform, caplog: pytest.LogCaptureFixture
) -> None:
    c = await started(config(tmp_path, mp))
    try:
        # The stream is open first: a refusal then concerns the batch sent on it (a call refused as it opens,
        # before any batch is in flight, concerns no upload: it is retried).
        await c.observations([(CH4, 0.05, None, 0)])
        assert await c.wait_delivered(DEADLINE_S)
        mp.platform.faults.fail_next(1, "INVALID_ARGUMENT", methods=OBSERVATION_METHODS)
        await c.observations([(CH4, 0.1, None, 0)])
        await c.flush()
        await wait_for(lambda: _dead(c, 1), what="one dead letter")
        # the validation core rejects a batch from 60 s in the future before it is sent (ST-DATA-031)
        await c.observations([(CH4, 0.2, c.now_ms() + 60_000, 0)])
        await c.flush()
        # screened at the sink: unknown point, switch value 0.5, NaN → 0 with the sensor-fault bit
        await c.observations(
            [
                ("14042100000101MNA0010A99", 1.0, None, 0),
                (SW, 0.5, None, 0),
                (CH4, float("nan"), None, 0),
                (CH4, 0.3, None, 0),
            ]
        )
        assert await c.wait_delivered(DEADLINE_S)
        dead = await c.dead_letters()
    finally:
        await c.stop()
    assert [d.reason.split(":")[0] for d in dead] == ["INVALID_ARGUMENT", "pre-flight"]
    assert "ST-DATA-031" in dead[1].clause_ids
    assert c.stats.observations_dropped == 2
    got = await values(mp)
    assert [v for _, v, _ in got] == [0.05, 0.0, 0.3]  # the good batches only; rejected ones are never resent
    obs = await mp.platform.inspection.observations(DEVICE, point_code=CH4, limit=10)
    assert [o["status"] for o in obs] == [0, 128, 0]  # NaN → 0 with the sensor-fault bit
    log = await mp.platform.inspection.interactions(DEVICE, method="StreamObservations")
    assert any(r["verdict"] == "ACCEPTED" for r in log)  # the stream was used
    assert [r["sequence"] for r in log if r["verdict"] != "FAULT"].count(dead[0].sequence) == 0
    assert "ST-PROTO-016" in caplog.text and "ST-DATA-031" in caplog.text


async def test_the_screen_converts_or_drops_what_is_not_the_usual_item(
    tmp_path: Path, mp: MockPlatform
) -> None:
    """The usual item (str key, float value, int status and time) takes the screen's fast path; anything else is
    converted as float()/int() would or dropped with its clause, as before the fast path."""
    c = await started(config(tmp_path, mp))
    try:
        await c.observations(
            [
                (CH4, 1, None, False),  # int value, bool status: 1.0, 0
                (CH4, "0.25", None, 0),  # a numeric string: 0.25
                (CH4, None, None, 0),  # not a number: dropped (ST-DATA-035)
                (CH4, 0.5, None, 300),  # undefined status bits: dropped (ST-DATA-020)
                (CH4, 5.0, None, 0),  # over the range 0..4: bit 8 (ST-DATA-021)
                (1.5, 0.3, None, 0),  # a float key is no point code or alias: dropped (ST-IFACE-004)
                ([CH4], 0.3, None, 0),  # nor is an unhashable one
                (CH4, 0.35, float(c.now_ms()), 0),  # a float time: int
            ]
        )
        await c.flush()
        assert await c.wait_delivered(DEADLINE_S)
    finally:
        await c.stop()
    assert c.stats.observations_dropped == 4
    obs = await mp.platform.inspection.observations(DEVICE, point_code=CH4, limit=10)
    assert [(o["value"], o["status"]) for o in obs] == [(1.0, 0), (0.25, 0), (5.0, 8), (0.35, 0)]


async def _dead(c: PlatformClient, n: int) -> bool:
    return len(await c.dead_letters()) >= n


RETRIED = (
    "UNAVAILABLE",
    "DEADLINE_EXCEEDED",
    "ABORTED",
    "INTERNAL",
    "UNKNOWN",
    "RESOURCE_EXHAUSTED",
    "CANCELLED",
)


@pytest.mark.parametrize("transport", ["grpc", "http"])
async def test_retryable_errors_are_retried_with_backoff_and_resent_unchanged(
    tmp_path: Path, mp: MockPlatform, transport: str
) -> None:
    """Every failure that is not final is retried (INTERNAL and UNKNOWN used to be dead-lettered, issue 12; over
    HTTP they are 500); the resend is unchanged, backfill flag included: the first attempt was live (ST-PROTO-014
    over ST-PROTO-020)."""
    c = await started(config(tmp_path, mp, cap=200, transport=transport))
    try:
        await c.observations([(CH4, 0.1, None, 0)])
        assert await c.wait_delivered(DEADLINE_S)
        for code in RETRIED:
            mp.platform.faults.fail_next(2, code, methods=OBSERVATION_METHODS)
            t0 = time.monotonic()
            await c.observations([(CH4, 0.2, None, 0)])
            assert await c.wait_delivered(DEADLINE_S)
            assert time.monotonic() - t0 < 3
    finally:
        await c.stop()
    assert c.stats.retries >= 2 * len(RETRIED) and c.stats.dead_lettered == 0
    got = await values(mp)
    assert [(v, bf) for _, v, bf in got] == [(0.1, False)] + [(0.2, False)] * len(RETRIED)


async def test_failed_precondition_registers_again_then_resends(tmp_path: Path, mp: MockPlatform) -> None:
    c = await started(config(tmp_path, mp))
    try:
        await c.observations([(CH4, 0.1, None, 0)])
        assert await c.wait_delivered(DEADLINE_S)
        mp.platform.faults.fail_next(1, "FAILED_PRECONDITION", methods=OBSERVATION_METHODS)
        await c.observations([(CH4, 0.2, None, 0)])
        assert await c.wait_delivered(DEADLINE_S)
    finally:
        await c.stop()
    assert c.stats.registrations == 2 and c.stats.definitions_sent == 2
    assert [v for _, v, _ in await values(mp)] == [0.1, 0.2]


@pytest.mark.parametrize("transport", ["grpc", "http"])
async def test_wrong_credentials_keep_the_data_queued_and_back_off(
    tmp_path: Path, mp: MockPlatform, transport: str, caplog: pytest.LogCaptureFixture
) -> None:
    """UNAUTHENTICATED keeps the data queued (never dead-lettered), backs off long, tells the operator; once the
    credentials are fixed on the platform side the same data is delivered (ST-PROTO-015/016)."""
    c = await started(config(tmp_path, mp, transport=transport, token="wrong"))
    try:
        await c.observations([(CH4, 0.1, None, 0)])
        await c.flush()
        await wait_for(lambda: c.credentials_error is not None, what="credentials refused")
        assert c.error is None and await c.pending() == 1 and await c.dead_letters() == []
        assert "ST-PROTO-001/002" in caplog.text and "platform.token" in caplog.text
        assert await mp.platform.inspection.acknowledged(DEVICE) == []
        mp.platform.add_device(DEVICE, "wrong")  # the operator fixes it: the same upload goes through
        assert await c.wait_delivered(DEADLINE_S)
    finally:
        await c.stop()
    assert [v for _, v, _ in await values(mp)] == [0.1] and c.credentials_error is None


@pytest.mark.parametrize("transport", ["grpc", "http"])
async def test_rate_limit_retry_advice_is_honoured(tmp_path: Path, transport: str) -> None:
    """One by one (HTTP) the client meets the limit and honours the retry advice; on the stream (gRPC) it paces
    itself below the limit it learnt at Register, so that no batch is refused for the rate while a later one is
    admitted (ST-PROTO-010)."""
    limits = default_limits()
    limits.max_uploads_per_second = 5
    async with MockPlatform(PlatformConfig(devices={DEVICE: "secret"}, limits=limits)) as mp:
        c = await started(config(tmp_path, mp, linger=0, cap=100, transport=transport))
        try:
            for i in range(12):
                await c.observations([(CH4, i / 10, None, 0)])
                await c.flush()
            assert await c.wait_delivered(DEADLINE_S)
        finally:
            await c.stop()
        assert [v for _, v, _ in await values(mp)] == [i / 10 for i in range(12)]
        assert c.stats.dead_lettered == 0
        limited = [
            r
            for m in OBSERVATION_METHODS
            for r in await mp.platform.inspection.interactions(DEVICE, method=m)
            if r["code"] == "RESOURCE_EXHAUSTED"
        ]
        if transport == "http":
            assert limited and c.stats.retries >= len(limited)
        else:
            assert limited == []


async def test_withheld_acknowledgement_is_resent_and_acknowledged_as_duplicate(
    tmp_path: Path, mp: MockPlatform
) -> None:
    c = await started(config(tmp_path, mp))
    try:
        mp.platform.faults.withhold_acks(1)
        await c.observations([(CH4, 0.1, None, 0)])
        assert await c.wait_delivered(DEADLINE_S)
    finally:
        await c.stop()
    assert c.stats.duplicates == 1
    got = await values(mp)
    assert [(v, bf) for _, v, bf in got] == [(0.1, False)]  # stored once, as first sent (ST-PROTO-012)


async def test_commands_time_sync_configure_resend_and_write(tmp_path: Path, mp: MockPlatform) -> None:
    writes: list[tuple[str, float]] = []

    async def write(code: str, value: float) -> None:
        if code == CH4:
            raise RuntimeError("actuator jammed")
        writes.append((code, value))

    c = await started(config(tmp_path, mp, heartbeat=200), write=write)
    try:
        await c.observations([(CH4, 0.1, None, 0)])
        assert await c.wait_delivered(DEADLINE_S)
        mp.platform.faults.clock_offset(20_000)  # the platform's clock runs 20 s ahead
        p = mp.platform
        ids = [
            p.send_command(DEVICE, "TIME_SYNC")["command_id"],
            p.send_command(DEVICE, "CONFIGURE", heartbeat_interval_ms=150, report_interval_ms=10)[
                "command_id"
            ],
            p.send_command(DEVICE, "RESEND_DEFINITIONS")["command_id"],
            p.send_command(DEVICE, "WRITE_POINT", point_code=SW, value=1)["command_id"],
            p.send_command(DEVICE, "WRITE_POINT", point_code=CH4, value=1)["command_id"],
        ]

        async def answered() -> bool:
            return all(x.get("outcome") for x in await p.inspection.commands(DEVICE))

        await wait_for(answered, what="every command answered")
        assert abs(c.clock_offset_ms - 20_000) < 500  # ST-IFACE-012
        await c.observations([(CH4, 0.2, None, 0)])
        assert await c.wait_delivered(DEADLINE_S)
    finally:
        await c.stop()
    outcome = {x["command_id"]: x["outcome"] for x in await p.inspection.commands(DEVICE)}
    assert [outcome[i] for i in ids] == ["COMMAND_OUTCOME_SUCCEEDED"] * 4 + ["COMMAND_OUTCOME_FAILED"]
    assert writes == [(SW, 1.0)] and c.heartbeat_interval_ms() == 150
    assert c.stats.definitions_sent == 2  # after Register and on RESEND_DEFINITIONS (ST-IFACE-014)
    obs = await p.inspection.observations(DEVICE, point_code=CH4, limit=10)
    assert obs[-1]["time_ms"] - obs[0]["time_ms"] > 15_000  # stamped on the corrected clock


async def test_outage_store_and_forward_in_order_and_flagged(tmp_path: Path, mp: MockPlatform) -> None:
    outage_s = 1.2
    # A call that merely runs slow on a loaded machine must not count as a failure (rule (c) would rightly make
    # the data late): the outage here is refused connections, which fail at once whatever the call timeout.
    c = await started(config(tmp_path, mp, cap=300, linger=20, timeout_ms=int(DEADLINE_S * 1000)))
    times: dict[int, int] = {}
    faults = mp.platform.faults
    try:
        n = 0

        async def produce_one() -> None:
            nonlocal n
            times[n] = c.now_ms()
            await c.observations([(CH4, n / 1000, times[n], 0)])  # within CH4's physical limits
            n += 1

        for _ in range(30):  # live data, every one acknowledged before the outage
            await produce_one()
            await asyncio.sleep(0.01)  # pacing, not synchronisation
        assert await c.wait_delivered(DEADLINE_S)
        before = n
        faults.outage_for(outage_s, mode="refuse")
        while faults.outage_active():  # produced while the platform is out
            await produce_one()
            await asyncio.sleep(0.01)
        during = range(before, n)

        async def live_again() -> bool:
            """Produce one more; true once an upload produced after the outage is stored live."""
            await produce_one()
            got = await values(mp)
            return bool(got) and got[-1][1] >= during[-1] / 1000 and not got[-1][2]

        await wait_for(live_again, what="live data after the backlog drained", every=0.01)
        assert await c.wait_delivered(DEADLINE_S)
    finally:
        await c.stop()
    got = await values(mp)
    assert [v for _, v, _ in got] == [i / 1000 for i in range(n)]  # 0 lost, 0 duplicated, in order
    seqs = [s for s, _, _ in got]
    assert seqs == sorted(seqs)
    flag = {round(v * 1000): bf for _, v, bf in got}
    # ST-PROTO-020, with ST-PROTO-014 first: only the batches in flight when the outage began (their first attempt
    # was live; at most the stream's window) are resent unflagged; everything else produced during it is backfill.
    seq_of = {round(v * 1000): s for s, v, _ in got}
    live = [i for i in during if not flag[i]]
    assert len(during) >= 2 and live == list(during)[: len(live)]
    assert len({seq_of[i] for i in live}) <= c.delivery.window
    assert not any(flag[i] for i in range(before))  # acknowledged before the outage: live
    assert not flag[n - 1]  # live again at the end


@pytest.mark.parametrize("transport", ["grpc", "http"])
async def test_mutual_tls(tmp_path: Path, transport: str) -> None:
    from santong.mock_platform.embedded import TlsFiles
    from santong.mock_platform.pki import make_pki

    pki = make_pki([DEVICE])
    files = pki.write(tmp_path / "pki")
    tls = TlsFiles(cert_chain=pki.server_cert, private_key=pki.server_key, client_ca=pki.ca_cert)
    async with MockPlatform(PlatformConfig(devices={DEVICE: "secret"}), tls=tls) as mp:
        assert transport == "grpc" or mp.http_url.startswith("https://")
        paths = {"ca": files["ca"], "cert": files[f"{DEVICE}.cert"], "key": files[f"{DEVICE}.key"]}
        c = await started(config(tmp_path, mp, transport=transport, tls=paths))
        try:
            await c.observations([(CH4, 0.5, None, 0)])
            assert await c.wait_delivered(DEADLINE_S)
        finally:
            await c.stop()
        assert [v for _, v, _ in await values(mp)] == [0.5]


def test_http_batch_json_equals_the_canonical_json() -> None:
    from santong.adapters.client._transport import request_json
    from santong.protocols import to_dict
    from santong.protocols.v1 import device_access_pb2 as pb

    b = data_pb2.ObservationBatch(
        sequence=7, alias=[1, 2], value=[0.5, 1.0], time_offset_ms=[0, -5], status=[0, 8], backfill=True
    )
    b.base_time.FromMilliseconds(1_800_000_000_123)
    for backfill in (True, False):
        b.backfill = backfill
        req = pb.ReportObservationsRequest(batch=b)
        assert request_json(req) == to_dict(req)


async def test_everything_still_queued_at_start_is_backfill(tmp_path: Path, mp: MockPlatform) -> None:
    """Rule (d): an upload the queue still holds when the client starts is late, so it is flagged backfill even
    though no outage, retry or old record (rules (a)–(c), (e)) applies to it (ST-PROTO-020)."""
    c = await started(config(tmp_path, mp, token="wrong"))  # held at Register: nothing is ever sent
    try:
        await c.observations([(CH4, 0.1, None, 0)])
        await c.observations([(CH4, 0.2, None, 0)])
        await c.flush()
        await wait_for(lambda: c.credentials_error is not None, what="credentials refused")
    finally:
        await c.stop()
    with UploadQueue(tmp_path / "q.db") as q:  # queued as live: only rule (d) can flag them
        assert q.count() >= 1 and q.backfill_count() == 0
    c = await started(config(tmp_path, mp))
    try:
        assert await c.wait_delivered(DEADLINE_S)
        await c.observations([(CH4, 0.3, None, 0)])  # produced with an empty queue: live
        assert await c.wait_delivered(DEADLINE_S)
    finally:
        await c.stop()
    assert [(v, bf) for _, v, bf in await values(mp)] == [(0.1, True), (0.2, True), (0.3, False)]


async def test_test_events_only_in_certification_mode(tmp_path: Path, mp: MockPlatform) -> None:
    """TEST_EVENT (ST-PROTO-036): without a test_event hook (production) UNSUPPORTED and nothing happens; with
    one (certification mode) the hook gets the event and the answer is SUCCEEDED; an undefined point FAILED."""
    p = mp.platform
    events: list[tuple[int, str, float, int]] = []

    async def test_event(ev: object) -> str:
        events.append((ev.kind, ev.point_code, ev.value, ev.hold_ms))  # type: ignore[attr-defined]
        return "started"

    async def run(**kwargs: object) -> list[str]:
        c = await started(config(tmp_path / str(len(kwargs)), mp), **kwargs)
        try:
            await c.observations([(CH4, 0.1, None, 0)])
            assert await c.wait_delivered(DEADLINE_S)
            ids = [
                p.send_command(
                    DEVICE, "TEST_EVENT", kind="EXCURSION", point_code=CH4, value=1.3, hold_ms=500
                )["command_id"],
                p.send_command(
                    DEVICE, "TEST_EVENT", kind="SENSOR_FAULT", point_code="14042100000101MNA0010A99"
                )["command_id"],
            ]

            async def answered() -> bool:
                rows = {x["command_id"]: x for x in await p.inspection.commands(DEVICE)}
                return all(rows[i].get("outcome") for i in ids)

            await wait_for(answered, what="both test events answered")
        finally:
            await c.stop()
        rows = {x["command_id"]: x for x in await p.inspection.commands(DEVICE)}
        return [rows[i]["outcome"] for i in ids]

    assert await run() == ["COMMAND_OUTCOME_UNSUPPORTED", "COMMAND_OUTCOME_UNSUPPORTED"]
    assert events == []
    assert await run(test_event=test_event) == ["COMMAND_OUTCOME_SUCCEEDED", "COMMAND_OUTCOME_FAILED"]
    assert events == [(1, CH4, 1.3, 500)]
