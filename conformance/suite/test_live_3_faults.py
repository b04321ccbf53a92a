"""Fault scenarios through the mock's fault API: failing calls, a lost acknowledgement, an outage, a restart.

Each scenario is a module fixture that drives the fault and records what the platform saw; the cases then judge
one clause each. Outage lengths and waits are multiples of the manifest's intervals (at least a few seconds),
so a product that declares short intervals is certified fast — and no scenario is ever left out.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from typing import Any

import pytest
from santong.conformance import CouldNotRun, Declared, Evidence, fail_clauses, not_demonstrated
from santong.conformance._live import UPLOAD_METHODS, LiveProduct, Snapshot, duplicates, now_ms, point_gaps

pytestmark = [pytest.mark.subject("product"), pytest.mark.inspection]

DELIVERED = ("ACCEPTED", "DUPLICATE")
#: The fault API's retry advice on an injected UNAVAILABLE (RetryInfo), which the device must honour (ST-PROTO-017).
RETRY_AFTER_MS = 100
UNAVAILABLE_FAULTS = 6
#: Outages last this many declared report intervals (each point has that many samples to keep and deliver).
OUTAGE_INTERVALS = 6
#: The restart scenario: an outage of this many intervals, the product stopped after STOP_AFTER of them.
RESTART_INTERVALS, STOP_AFTER = 10, 5


def _codes(declared: Declared) -> list[str]:
    return [p.point_code for p in declared.points.points] if declared.points is not None else []


def _faults(rows: list[dict[str, Any]], code: str) -> list[dict[str, Any]]:
    return [
        r for r in rows if r["verdict"] == "FAULT" and r["code"] == code and r["method"] in UPLOAD_METHODS
    ]


def _hole_limit(live: LiveProduct) -> int:
    """The longest stretch (ms) a point may go without a sample: one and a half declared report intervals, plus
    300 ms of scheduling jitter. A single lost sample leaves a hole of two intervals and fails."""
    return int(1.5 * live.report_interval_ms + 300)


def _built_before_failure(live: LiveProduct, start_ms: int) -> int:
    """Data built before this moment (ms) may arrive unflagged although delivered late: the backfill flag is
    decided when a batch is built and a batch already sent once is resent unchanged (ST-PROTO-014 over 020), so
    a live batch whose first attempt failed at the start of the outage keeps backfill=false. A product that
    reports every interval makes its first attempt in the outage within one interval (+1 s for the call)."""
    return start_ms + live.report_interval_ms + 1000


def _outage(live: LiveProduct, seconds: float, during: Any = None, mode: str = "refuse") -> tuple[int, int]:
    """Refuse connections (``reset``: drop them and answer UNAVAILABLE) for ``seconds``, started by a fault plan so
    that the admin call returns first; ``during(t_start_s)`` runs meanwhile. Returns the outage's (start, end) in
    platform milliseconds."""
    since = live.admin.last_interaction_id()
    plan = {"steps": [{"at_s": 0.2, "op": "outage_for", "args": {"seconds": seconds, "mode": mode}}]}
    live.admin.fault("load_plan", plan=plan)
    t0 = time.monotonic() + 0.2
    if during is not None:
        during(t0)
    time.sleep(max(0.0, t0 + seconds + 0.2 - time.monotonic()))
    row = next((r for r in live.events(since) if r["method"] == "fault:outage_for"), None)
    if row is None:
        raise CouldNotRun("故障计划没有触发中断 / the fault plan did not start the outage")
    return int(row["time_ms"]), int(row["time_ms"] + seconds * 1000)


# ------------------------------------------------------------------------------------------------ retries


@dataclass
class RetryRun:
    """Attempts of an upload failing UNAVAILABLE, then one failing INVALID_ARGUMENT."""

    blocked: str | None = None
    unavailable: list[dict[str, Any]] = field(default_factory=list)
    delivered: dict[str, Any] | None = None
    invalid: dict[str, Any] | None = None
    after_invalid: list[dict[str, Any]] = field(default_factory=list)
    #: Further transient codes (full profile): code → (attempts that failed, the delivery after them).
    transient: dict[str, tuple[list[dict[str, Any]], dict[str, Any] | None]] = field(default_factory=dict)
    #: FAILED_PRECONDITION: the refused attempt, and the interaction-log rows after it.
    precondition: dict[str, Any] | None = None
    after_precondition: list[dict[str, Any]] = field(default_factory=list)
    #: The refused upload delivered again (same sequence) after the product registered again.
    precondition_resent: dict[str, Any] | None = None


def _fail_until_delivered(
    live: LiveProduct, code: str, n: int
) -> tuple[list[dict[str, Any]], dict[str, Any] | None]:
    """fail_next(n, code) on uploads; wait until n attempts failed and every upload that failed was delivered
    afterwards under its sequence (a product with several uploads in flight may spread the faults over several
    sequences: each of them must arrive). Returns the failed attempts and the last of those deliveries (None if
    one of them never arrived)."""
    since = live.last_id()
    live.admin.fault("fail_next", n=n, code=code, methods=list(UPLOAD_METHODS))
    got: dict[str, Any] = {"faults": [], "delivered": None}

    def delivered() -> bool:
        rows = live.interactions(since)
        got["faults"] = _faults(rows, code)
        if len(got["faults"]) < n or any(r["sequence"] is None for r in got["faults"]):
            return False
        after: dict[int, dict[str, Any]] = {}
        for r in got["faults"]:
            hit = next(
                (
                    x
                    for x in rows
                    if x["id"] > r["id"] and x["method"] in UPLOAD_METHODS and x["verdict"] in DELIVERED
                    and x["sequence"] == r["sequence"]
                ),
                None,
            )  # fmt: skip
            if hit is None:
                return False
            after[hit["id"]] = hit
        got["delivered"] = after[max(after)]
        return True

    live.wait_for(delivered, live.budget(20, 40.0), f"upload retried after {code}", step_s=0.2, fail=False)
    live.admin.fault("fail_next", n=0)
    return got["faults"], got["delivered"]


@pytest.fixture(scope="module")
def retry_run(live: LiveProduct, baseline: Snapshot, santong_profile: Any) -> RetryRun:
    """fail_next(6, UNAVAILABLE) on uploads, then fail_next(2, INTERNAL), each until every failed upload is
    delivered (full profile: RESOURCE_EXHAUSTED, DEADLINE_EXCEEDED, ABORTED and UNKNOWN too);
    fail_next(1, FAILED_PRECONDITION); fail_next(1, INVALID_ARGUMENT)."""
    run = RetryRun()
    live.require_data(baseline, "ST-PROTO-015")
    run.unavailable, run.delivered = _fail_until_delivered(live, "UNAVAILABLE", UNAVAILABLE_FAULTS)
    # INTERNAL (HTTP 500) leaves an upload unacknowledged like any outage: the status table says retry.
    transient = [("INTERNAL", 2)]
    if santong_profile.name == "full":
        transient += [("RESOURCE_EXHAUSTED", 3), ("DEADLINE_EXCEEDED", 3), ("ABORTED", 2), ("UNKNOWN", 2)]
    for code, n in transient:
        run.transient[code] = _fail_until_delivered(live, code, n)
    since = live.last_id()
    live.admin.fault("fail_next", n=1, code="FAILED_PRECONDITION", methods=list(UPLOAD_METHODS))

    def reregistered() -> bool:
        rows = live.interactions(since)
        run.precondition = next(iter(_faults(rows, "FAILED_PRECONDITION")), None)
        if run.precondition is None:
            return False
        run.after_precondition = [r for r in rows if r["id"] > run.precondition["id"]]
        seq = run.precondition["sequence"]
        run.precondition_resent = next(
            (
                r
                for r in run.after_precondition
                if r["method"] in UPLOAD_METHODS and r["verdict"] in DELIVERED and r["sequence"] == seq
            ),
            None,
        )
        return run.precondition_resent is not None

    live.wait_for(
        reregistered, live.recovery_s, "the refused upload resent after registering again", fail=False
    )
    live.admin.fault("fail_next", n=0)
    since = live.last_id()
    live.admin.fault("fail_next", n=1, code="INVALID_ARGUMENT", methods=list(UPLOAD_METHODS))

    def refused() -> dict[str, Any] | None:
        return next(iter(_faults(live.interactions(since), "INVALID_ARGUMENT")), None)

    run.invalid = live.wait_for(refused, live.budget(10, 10.0), "an upload refused", fail=False)
    live.admin.fault("fail_next", n=0)
    if run.invalid is not None:
        time.sleep(max(3.0, 4 * live.report_s))  # room for a (forbidden) resend after back-off
        run.after_invalid = [r for r in live.interactions(run.invalid["id"]) if r["method"] in UPLOAD_METHODS]
    live.ensure_running()
    return run


def _blocked(run: Any, clause_id: str) -> None:
    """Fail at once when the scenario could not run because no data was ever accepted."""
    if run.blocked is not None:
        pytest.fail(f"[{clause_id}] {run.blocked}", pytrace=False)


def _need_sequences(rows: list[dict[str, Any]]) -> None:
    if rows and any(r["sequence"] is None for r in rows):
        raise CouldNotRun(
            "平台的故障记录没有上传序号，无法判断是否重发 / the platform's fault log carries no upload sequence, so "
            "resends cannot be told apart"
        )


@pytest.mark.clause("ST-PROTO-015", "ST-PROTO-014")
def test_transient_errors_retried(retry_run: RetryRun, evidence: Evidence) -> None:
    """An upload failing with UNAVAILABLE (then INTERNAL) is sent again, unchanged under its sequence, until it is
    delivered. One that never arrives under its sequence was given up, dropped or renumbered: it was not retried
    (ST-PROTO-015) and not resent unchanged (ST-PROTO-014)."""
    _blocked(retry_run, "ST-PROTO-015")
    faults = retry_run.unavailable
    _need_sequences(faults)
    evidence.record("attempts_failed", len(faults))
    evidence.record("sequences", sorted({r["sequence"] for r in faults}))
    if retry_run.delivered:
        evidence.sample("delivered", retry_run.delivered)
    assert len(faults) >= UNAVAILABLE_FAULTS, (
        f"[ST-PROTO-015] 注入 {UNAVAILABLE_FAULTS} 次 UNAVAILABLE 后只见到 {len(faults)} 次上传尝试 / after "
        f"{UNAVAILABLE_FAULTS} injected UNAVAILABLE answers only {len(faults)} upload attempts arrived"
    )
    seqs = sorted({r["sequence"] for r in faults})
    delivered = retry_run.delivered
    if delivered is None:
        fail_clauses(
            ["ST-PROTO-015", "ST-PROTO-014"],
            f"因 UNAVAILABLE 失败的上传 seq={seqs} 没有全部以原序号原样重发送达（被放弃、丢弃或换了序号）",
            f"the uploads that failed with UNAVAILABLE (seq={seqs}) were not all sent again unchanged and delivered "
            "under their sequence (given up, dropped or renumbered)",
        )
    first = faults[0]["sequence"]
    resent = [r for r in faults if r["sequence"] == first]
    assert len(resent) >= 2 or (delivered or {}).get("sequence") == first, (
        f"[ST-PROTO-015] 失败的上传 seq={first} 没有重发 / the failed upload seq={first} was not sent again"
    )
    evidence.record("other_codes", {c: len(f) for c, (f, _) in retry_run.transient.items()})
    for code, (failed, delivered) in retry_run.transient.items():
        lost = sorted({r["sequence"] for r in failed})
        if not failed or delivered is None:
            fail_clauses(
                ["ST-PROTO-015", "ST-PROTO-014"],
                f"{code} 之后上传 seq={lost} 没有以原序号重试送达（状态表：{code} 不是确认，应原样重发）",
                f"after {code} the upload seq={lost} was not retried and delivered under its sequence (the status "
                f"table: {code} is not an acknowledgement, resend it unchanged) — {len(failed)} attempts failed",
            )


@pytest.mark.clause("ST-PROTO-016")
def test_reregisters_after_failed_precondition(retry_run: RetryRun, evidence: Evidence) -> None:
    """After FAILED_PRECONDITION the product registers again before it goes on uploading."""
    _blocked(retry_run, "ST-PROTO-016")
    bad = retry_run.precondition
    if bad is None:
        pytest.fail("[ST-PROTO-016] 产品没有再上传 / the product made no upload to refuse", pytrace=False)
    rows = retry_run.after_precondition
    upload = next((r for r in rows if r["method"] in UPLOAD_METHODS and r["verdict"] in DELIVERED), None)
    register = next((r for r in rows if r["method"] == "Register" and r["verdict"] == "ACCEPTED"), None)
    evidence.sample("refused", bad)
    evidence.record("registered_again", register is not None)
    evidence.record("refused_upload_resent", retry_run.precondition_resent is not None)
    assert upload is not None, (
        "[ST-PROTO-016] FAILED_PRECONDITION 之后产品停止上传 / the product stopped uploading"
    )
    assert register is not None and register["id"] < upload["id"], (
        "[ST-PROTO-016] 收到 FAILED_PRECONDITION 后没有先重新注册就继续上传 / after FAILED_PRECONDITION the product "
        "went on uploading without registering again"
    )
    _need_sequences([bad])
    assert retry_run.precondition_resent is not None, (
        f"[ST-PROTO-016] 被 FAILED_PRECONDITION 拒收的上传 seq={bad['sequence']} 在重新注册后没有原样重发（被丢弃）/ "
        f"the upload refused with FAILED_PRECONDITION (seq={bad['sequence']}) was not sent again unchanged after "
        "registering again (it was dropped); only INVALID_ARGUMENT with violations is final"
    )


@pytest.mark.clause("ST-PROTO-017")
def test_backoff(retry_run: RetryRun, live: LiveProduct, evidence: Evidence) -> None:
    """Retries wait at least the platform's RetryInfo (100 ms) and are not at a fixed interval (jittered
    exponential back-off); none waits longer than the back-off cap the manifest declares (max_backoff_ms, + 1 s
    for the call)."""
    _blocked(retry_run, "ST-PROTO-017")
    faults = retry_run.unavailable
    _need_sequences(faults)
    if len(faults) < 3 or retry_run.delivered is None:
        pytest.fail(
            "[ST-PROTO-017] 重试次数不足，无法判断退避 / too few retries to judge the back-off", pytrace=False
        )
    seq = faults[0]["sequence"]
    times = [r["time_ms"] for r in faults if r["sequence"] == seq]
    if retry_run.delivered["sequence"] == seq:
        times.append(retry_run.delivered["time_ms"])
    gaps = [b - a for a, b in zip(times, times[1:], strict=False)]
    evidence.record("gaps_ms", gaps)
    assert len(gaps) >= 3, (
        f"[ST-PROTO-017] 同一上传只重试了 {len(gaps)} 次 / the same upload was retried {len(gaps)} times"
    )
    short = [g for g in gaps if g < RETRY_AFTER_MS - 20]
    assert not short, (
        f"[ST-PROTO-017] 重试间隔 {short} ms 短于平台给出的 RetryInfo {RETRY_AFTER_MS} ms / retries {short} ms apart, "
        f"sooner than the platform's RetryInfo of {RETRY_AFTER_MS} ms"
    )
    declared = live.manifest.max_backoff_ms
    if declared:
        slow = [g for g in gaps if g > declared + 1000]
        assert not slow, (
            f"[ST-PROTO-017] 重试间隔 {slow} ms 超过产品声明的退避上限 max_backoff_ms={declared} ms / retries {slow} ms "
            f"apart, longer than the declared back-off cap max_backoff_ms={declared} ms"
        )
    assert max(gaps) >= 1.5 * min(gaps), (
        f"[ST-PROTO-017] 重试间隔几乎固定 {gaps} ms，不是指数退避 / retry gaps {gaps} ms are fixed, not an "
        "exponential back-off"
    )


@pytest.mark.clause("ST-PROTO-016")
def test_no_unchanged_resend_after_rejection(retry_run: RetryRun, evidence: Evidence) -> None:
    """An upload refused with INVALID_ARGUMENT is never sent again under its sequence; later uploads go on."""
    _blocked(retry_run, "ST-PROTO-016")
    bad = retry_run.invalid
    if bad is None:
        pytest.fail("[ST-PROTO-016] 产品没有再上传 / the product made no upload to refuse", pytrace=False)
    _need_sequences([bad])
    again = [r for r in retry_run.after_invalid if r["sequence"] == bad["sequence"]]
    later = [
        r for r in retry_run.after_invalid if r["verdict"] in DELIVERED and r["sequence"] != bad["sequence"]
    ]
    evidence.sample("refused", bad)
    evidence.record("resends", len(again))
    evidence.record("later_uploads", len(later))
    assert not again, (
        f"[ST-PROTO-016] 被 INVALID_ARGUMENT 拒收的上传 seq={bad['sequence']} 又原样发送了 {len(again)} 次 / the upload "
        f"refused with INVALID_ARGUMENT (seq={bad['sequence']}) was sent again {len(again)} times"
    )
    assert later, "[ST-PROTO-016] 拒收之后产品停止上传 / the product stopped uploading after the rejection"


# ----------------------------------------------------------------------------------------- withheld ack


@dataclass
class WithheldRun:
    """An upload stored by the platform whose acknowledgement never came."""

    blocked: str | None = None
    sequence: int | None = None
    rows: list[dict[str, Any]] = field(default_factory=list)
    observations: list[dict[str, Any]] = field(default_factory=list)


@pytest.fixture(scope="module")
def withheld_run(live: LiveProduct, baseline: Snapshot, santong_profile: Any) -> WithheldRun:
    """withhold_acks(1): the next upload is stored but never acknowledged; the product must resend it.
    Full profile: then every acknowledgement is delayed by 3.5 s for max(4 s, 4 report intervals)."""
    run = WithheldRun()
    live.require_data(baseline, "ST-PROTO-014")
    since = live.last_id()
    t0 = now_ms()
    live.admin.fault("withhold_acks", n=1)
    row = live.wait_for(
        lambda: next((r for r in live.interactions(since) if r["code"] == "WITHHELD"), None),
        live.budget(10, 10.0),
        "an upload with its acknowledgement withheld",
        fail=False,
    )
    live.admin.fault("withhold_acks", n=0)
    if row is None:
        raise CouldNotRun(
            "产品在等待期间没有上传 / the product made no upload while the acknowledgement was withheld"
        )
    run.sequence = row["sequence"]

    def settled() -> bool:
        rows = live.interactions(since)
        dup = any(r["verdict"] == "DUPLICATE" and r["sequence"] == run.sequence for r in rows)
        later = [r for r in rows if r["verdict"] == "ACCEPTED" and (r["sequence"] or 0) > (run.sequence or 0)]
        return dup or len(later) >= 3

    live.wait_for(settled, live.budget(10, 45.0), "the withheld upload settled", step_s=0.2, fail=False)
    if santong_profile.name == "full":
        live.admin.fault("delay_acks", ms=3500)
        try:
            time.sleep(max(4.0, 4 * live.report_s))
        finally:
            live.admin.fault("delay_acks", ms=0)
        time.sleep(live.budget(3, 4.0))  # the backlog of the slow phase drains
    time.sleep(max(1.0, 2 * live.report_s))
    run.rows = live.interactions(since)
    run.observations = live.observations(since_ms=t0 - 60_000)
    live.ensure_running()
    return run


@pytest.mark.clause("ST-PROTO-014")
def test_unacknowledged_upload_resent(withheld_run: WithheldRun, evidence: Evidence) -> None:
    """The upload whose acknowledgement never came is sent again with the same sequence (the platform answers
    DUPLICATE)."""
    _blocked(withheld_run, "ST-PROTO-014")
    seq = withheld_run.sequence
    dup = [r for r in withheld_run.rows if r["verdict"] == "DUPLICATE" and r["sequence"] == seq]
    evidence.record("withheld_sequence", seq)
    evidence.record("duplicate_answers", len(dup))
    assert dup, (
        f"[ST-PROTO-014] 未获确认的上传 seq={seq} 没有以相同序号重发 / the unacknowledged upload seq={seq} was not "
        "sent again with the same sequence"
    )


@pytest.mark.clause("ST-PROTO-021")
def test_nothing_duplicated_after_lost_ack(withheld_run: WithheldRun, evidence: Evidence) -> None:
    """No observation is stored twice after a lost acknowledgement (a resend under a new sequence would be)."""
    _blocked(withheld_run, "ST-PROTO-021")
    dups = duplicates(withheld_run.observations)
    evidence.record("observations", len(withheld_run.observations))
    evidence.record("stored_twice", len(dups))
    for code, t, seqs in dups[:3]:
        evidence.sample(f"{code} at {t}", {"point_code": code, "time_ms": t, "sequences": seqs})
    assert not dups, (
        f"[ST-PROTO-021] {len(dups)} 个观测值被存储了两次（以新序号重发）/ {len(dups)} observations were stored twice "
        f"(sent again under new sequences), e.g. {dups[0][0]} at {dups[0][1]} in sequences {dups[0][2]}"
    )


# ------------------------------------------------------------------------------------------------ outage


@dataclass
class OutageRun:
    """One outage and what arrived after it."""

    blocked: str | None = None
    mode: str = "refuse"
    start_ms: int = 0
    end_ms: int = 0
    batches: list[dict[str, Any]] = field(default_factory=list)
    observations: list[dict[str, Any]] = field(default_factory=list)
    live_again_ms: int | None = None


def _one_outage(live: LiveProduct, codes: list[str], mode: str) -> OutageRun:
    run = OutageRun(mode=mode)
    seconds = OUTAGE_INTERVALS * live.report_s
    run.start_ms, run.end_ms = _outage(live, seconds, mode=mode)
    limit = _hole_limit(live)

    def caught_up() -> bool:
        obs = live.observations(since_ms=run.start_ms - 5000)
        gaps = point_gaps(obs, run.start_ms - 2000, run.end_ms + 2000, codes)
        fresh = [
            b
            for b in live.batches(since_ms=run.end_ms)
            if not b["backfill"] and b["min_time_ms"] > run.end_ms
        ]
        if fresh and run.live_again_ms is None:
            run.live_again_ms = fresh[0]["received_ms"]
        return bool(fresh) and all(g <= limit for g in gaps.values()) and now_ms() > run.end_ms + 2500

    live.wait_for(caught_up, live.recovery_s, "backlog delivered", step_s=0.25, fail=False)
    run.batches = live.batches(since_ms=run.start_ms - 10_000)
    run.observations = live.observations(since_ms=run.start_ms - 10_000)
    return run


@pytest.fixture(scope="module")
def outage_run(
    live: LiveProduct, baseline: Snapshot, santong_declared: Declared, santong_profile: Any
) -> list[OutageRun]:
    """The platform refuses connections for max(3 s, 4 report intervals); then the backlog must arrive. Full
    profile: a second outage that resets connections and answers UNAVAILABLE instead."""
    live.require_data(baseline, "ST-PROTO-018")
    codes = _codes(santong_declared)
    runs = [_one_outage(live, codes, "refuse")]
    if santong_profile.name == "full":
        runs.append(_one_outage(live, codes, "reset"))
    live.ensure_running()
    return runs


def _outages(runs: list[OutageRun], clause_id: str) -> list[OutageRun]:
    _blocked(runs[0], clause_id)
    return runs


@pytest.mark.feature("backfill")
@pytest.mark.clause("ST-PROTO-018")
def test_outage_data_delivered_later(
    outage_run: list[OutageRun], live: LiveProduct, santong_declared: Declared, evidence: Evidence
) -> None:
    """Data produced while the platform was unreachable is kept and delivered afterwards."""
    for r in _outages(outage_run, "ST-PROTO-018"):
        inside = [o for o in r.observations if r.start_ms + 300 <= o["time_ms"] <= r.end_ms - 300]
        codes = _codes(santong_declared)
        missing = sorted(set(codes) - {o["point_code"] for o in inside})
        limit = _hole_limit(live)
        gaps = point_gaps(r.observations, r.start_ms, r.end_ms, codes)
        holes = {c: g for c, g in gaps.items() if g > limit}
        evidence.record(f"{r.mode} outage_ms", r.end_ms - r.start_ms)
        evidence.record(f"{r.mode} observations_from_the_outage", len(inside))
        evidence.record(f"{r.mode} longest_gap_in_outage_ms", max(gaps.values()) if gaps else None)
        assert inside, (
            f"[ST-PROTO-018] 中断期间（{(r.end_ms - r.start_ms) / 1000:.1f} s）产生的数据一条也没有送达 / nothing produced during "
            f"the {(r.end_ms - r.start_ms) / 1000:.1f} s outage was delivered"
        )
        assert not missing, (
            f"[ST-PROTO-018] {len(missing)} 个测点在中断期间的数据没有送达 / {len(missing)} points have no data from the "
            f"outage: {missing[:5]}"
        )
        assert not holes, (
            f"[ST-PROTO-018] {len(holes)} 个测点在中断期间的数据有缺口（超过申报周期的 1.5 倍 {limit} ms）/ {len(holes)} "
            f"points have holes in the outage's data (over 1.5 declared intervals, {limit} ms): "
            + ", ".join(f"{c} {g} ms" for c, g in sorted(holes.items())[:5])
        )


@pytest.mark.feature("backfill")
@pytest.mark.clause("ST-PROTO-019")
def test_outage_data_in_order(outage_run: list[OutageRun], evidence: Evidence) -> None:
    """Stored data arrives in the order it was produced, with its original timestamps."""
    for r in _outages(outage_run, "ST-PROTO-019"):
        bs = sorted(
            (b for b in r.batches if b["received_ms"] >= r.start_ms - 3000), key=lambda b: b["sequence"]
        )
        back = [b for b in bs if b["received_ms"] >= r.end_ms and b["min_time_ms"] < r.end_ms - 300]
        out_of_order = [
            (a["sequence"], b["sequence"])
            for a, b in zip(bs, bs[1:], strict=False)
            if b["min_time_ms"] < a["min_time_ms"]
        ]
        late_arrival = [
            (a["sequence"], b["sequence"])
            for a, b in zip(bs, bs[1:], strict=False)
            if b["received_ms"] < a["received_ms"]
        ]
        evidence.record(f"{r.mode} batches", len(bs))
        evidence.record(f"{r.mode} delivered_late", len(back))
        evidence.record(f"{r.mode} out_of_order", out_of_order[:10])
        assert back, (
            "[ST-PROTO-019] 中断后没有收到带中断期间原始时间戳的数据 / no data carrying its original timestamps from the "
            "outage arrived after it"
        )
        assert not out_of_order, (
            f"[ST-PROTO-019] 批次的序号顺序与产生顺序不一致 / batches out of production order (sequence pairs) {out_of_order[:5]}"
        )
        assert not late_arrival, (
            f"[ST-PROTO-019] 批次未按序号到达 / batches arrived out of sequence order {late_arrival[:5]}"
        )


@pytest.mark.feature("backfill")
@pytest.mark.clause("ST-PROTO-020")
def test_backfill_flagged(
    outage_run: list[OutageRun], baseline: Snapshot, live: LiveProduct, evidence: Evidence
) -> None:
    """Data built during the outage is flagged backfill; live data (before the outage, and after the backlog) is
    not. A batch built live whose first attempt failed at the start of the outage is resent unchanged, so it
    may arrive unflagged (ST-PROTO-014 over 020: the flag is decided when the batch is built)."""
    for r in _outages(outage_run, "ST-PROTO-020"):
        late = [b for b in r.batches if b["received_ms"] >= r.end_ms and b["max_time_ms"] < r.end_ms - 300]
        first_attempt = _built_before_failure(live, r.start_ms)
        built_live = [b for b in late if b["min_time_ms"] < first_attempt]  # may be unflagged (ST-PROTO-014)
        unflagged = [b for b in late if not b["backfill"] and b["min_time_ms"] >= first_attempt]
        evidence.record(f"{r.mode} late_built_before_first_failure", [b["sequence"] for b in built_live][:5])
        live_flagged = [b for b in baseline.batches if b["backfill"]]
        evidence.record(f"{r.mode} late_batches", len(late))
        evidence.record(f"{r.mode} late_unflagged", [b["sequence"] for b in unflagged][:20])
        evidence.record(f"{r.mode} baseline_flagged", [b["sequence"] for b in live_flagged][:20])
        evidence.record(
            f"{r.mode} live_again_ms_after_outage", (r.live_again_ms - r.end_ms) if r.live_again_ms else None
        )
        if unflagged:
            evidence.sample(f"{r.mode} late but unflagged", unflagged[0])
        assert late, "[ST-PROTO-020] 中断后没有迟到的数据 / no late data after the outage"
        assert not unflagged, (
            f"[ST-PROTO-020] {len(unflagged)}/{len(late)} 个在中断期间产生的批次没有标记 backfill / {len(unflagged)} of "
            f"{len(late)} batches built during the outage were not flagged backfill (e.g. seq "
            f"{unflagged[0]['sequence']})"
        )
        assert not live_flagged, (
            f"[ST-PROTO-020] 实时数据被标记为补传 / live data flagged backfill: seq {[b['sequence'] for b in live_flagged][:5]}"
        )
        assert r.live_again_ms is not None, (
            "[ST-PROTO-020] 积压送完后实时数据仍被标记为补传 / live data still flagged backfill after the backlog was delivered"
        )


@pytest.mark.feature("backfill")
@pytest.mark.clause("ST-PROTO-021")
def test_nothing_lost_or_duplicated(
    outage_run: list[OutageRun], live: LiveProduct, santong_declared: Declared, evidence: Evidence
) -> None:
    """Across the outage every point keeps reporting (no hole longer than 1.5 declared report intervals) and no
    observation is stored twice."""
    for r in _outages(outage_run, "ST-PROTO-021"):
        codes = _codes(santong_declared)
        limit = _hole_limit(live)
        gaps = point_gaps(r.observations, r.start_ms - 2000, r.end_ms + 2000, codes)
        holes = {c: g for c, g in gaps.items() if g > limit}
        dups = duplicates(r.observations)
        evidence.record(f"{r.mode} longest_gap_ms", max(gaps.values()) if gaps else None)
        evidence.record(f"{r.mode} stored_twice", len(dups))
        assert not holes, (
            f"[ST-PROTO-021] {len(holes)} 个测点在中断前后丢失数据（空档超过 {limit} ms）/ {len(holes)} points lost data "
            f"across the outage (holes over {limit} ms): "
            + ", ".join(f"{c} {g} ms" for c, g in sorted(holes.items())[:5])
        )
        assert not dups, (
            f"[ST-PROTO-021] {len(dups)} 个观测值被存储了两次 / {len(dups)} observations stored twice: {dups[:2]}"
        )


# ----------------------------------------------------------------------------------------------- restart


@dataclass
class RestartRun:
    """The product stopped in the middle of an outage and started again."""

    blocked: str | None = None
    start_ms: int = 0
    end_ms: int = 0
    stop_ms: int = 0
    acked_before: int = 0
    rows: list[dict[str, Any]] = field(default_factory=list)
    observations: list[dict[str, Any]] = field(default_factory=list)
    batches: list[dict[str, Any]] = field(default_factory=list)


@pytest.fixture(scope="module")
def restart_run(live: LiveProduct, baseline: Snapshot, santong_declared: Declared) -> RestartRun:
    """An outage of RESTART_INTERVALS declared report intervals; after STOP_AFTER of them — data is queued, none
    of it can have been delivered — the product is stopped (SIGTERM) and started again on its work folder. Once
    the platform is back, every sample produced before the stop must arrive (within the recovery bound of the
    spec: the back-off cap plus two intervals), once and in order."""
    run = RestartRun()
    if not live.can_restart:
        not_demonstrated(
            "产品由厂商启动（start: external），产品声明没有给出启停钩子（hooks.start 与 hooks.stop），测试套件无法重启它",
            "the vendor starts the product (start: external) and the manifest gives no hooks to stop and start it "
            "(hooks.start and hooks.stop): the suite cannot restart it",
        )
    live.require_data(baseline, "ST-PROTO-023")
    live.ensure_running()
    since = live.last_id()
    seconds = RESTART_INTERVALS * live.report_s

    def bounce(t0: float) -> None:
        time.sleep(max(0.0, t0 + STOP_AFTER * live.report_s - time.monotonic()))
        live.ensure_running()
        run.stop_ms = now_ms()
        live.stop()
        live.start()  # blocks until the product is ready again (after the outage)

    run.start_ms, run.end_ms = _outage(live, seconds, bounce)
    rows = live.interactions(since)
    regs = [r["id"] for r in rows if r["method"] == "Register" and r["verdict"] == "ACCEPTED"]
    first_reg = regs[0] if regs else float("inf")
    delivered = [
        r["sequence"] for r in rows if r["verdict"] in DELIVERED and r["sequence"] and r["id"] < first_reg
    ]
    run.acked_before = max([0, *delivered])
    codes = _codes(santong_declared)
    limit = _hole_limit(live)

    def caught_up() -> bool:
        obs = live.observations(since_ms=run.start_ms - 5000)
        gaps = point_gaps(obs, *_restart_window(live, run), codes)
        return all(g <= limit for g in gaps.values())

    live.wait_for(caught_up, live.recovery_s, "backlog delivered after the restart", step_s=0.25, fail=False)
    time.sleep(max(1.0, 2 * live.report_s))  # room for a (forbidden) second copy of the backlog
    run.rows = live.interactions(since)
    run.observations = live.observations(since_ms=run.start_ms - 10_000)
    run.batches = live.batches(since_ms=run.start_ms - 10_000)
    live.ensure_running()
    return run


def _restart_window(live: LiveProduct, run: RestartRun) -> tuple[int, int]:
    """The stretch (ms) whose every sample must arrive: from two intervals before the outage to one interval
    before the stop (the sample being built at the moment of SIGTERM may be lost)."""
    return run.start_ms - 2 * live.report_interval_ms, run.stop_ms - live.report_interval_ms


@pytest.mark.clause("ST-PROTO-023")
def test_restart_resumes_after_last_ack(restart_run: RestartRun, evidence: Evidence) -> None:
    """After registering again the product goes on after the platform's last acknowledged sequence: nothing
    acknowledged is sent again, no sequence goes backwards."""
    _blocked(restart_run, "ST-PROTO-023")
    r = restart_run
    regs = [x for x in r.rows if x["method"] == "Register" and x["verdict"] == "ACCEPTED"]
    evidence.record("registrations", len(regs))
    assert regs, "[ST-PROTO-023] 重启后没有重新注册 / the product did not register again after its restart"
    after = [x for x in r.rows if x["id"] > regs[-1]["id"] and x["method"] in UPLOAD_METHODS]
    backwards = [x for x in after if "ST-PROTO-011" in x["clause_ids"]]
    replays = [x for x in after if x["verdict"] == "DUPLICATE" and (x["sequence"] or 0) <= r.acked_before]
    evidence.record("acknowledged_before_restart", r.acked_before)
    evidence.record("uploads_after", len(after))
    evidence.record("replays_of_acknowledged", [x["sequence"] for x in replays][:20])
    assert not backwards, (
        f"[ST-PROTO-023] 重启后序号倒退，被拒收 {len(backwards)} 次 / after the restart sequences went backwards, "
        f"{len(backwards)} uploads rejected: {backwards[0]['violations'][:1]}"
    )
    assert not replays, (
        f"[ST-PROTO-023] 重启后重发了已确认的上传 / after the restart the product sent acknowledged uploads again: "
        f"seq {[x['sequence'] for x in replays][:5]} (≤ {r.acked_before})"
    )
    assert any(x["verdict"] == "ACCEPTED" for x in after), (
        "[ST-PROTO-023] 重启后没有新上传 / no upload after the restart"
    )


@pytest.mark.clause("ST-PROTO-021")
def test_restart_loses_nothing(
    restart_run: RestartRun, live: LiveProduct, santong_declared: Declared, evidence: Evidence
) -> None:
    """Every sample the product produced before it was stopped mid-outage — queued, not yet delivered — arrives
    after the restart, once and in production order: the queue survives a restart (no hole longer than 1.5
    declared report intervals)."""
    _blocked(restart_run, "ST-PROTO-021")
    r = restart_run
    codes = _codes(santong_declared)
    limit = _hole_limit(live)
    start, end = _restart_window(live, r)
    gaps = point_gaps(r.observations, start, end, codes)
    holes = {c: g for c, g in gaps.items() if g > limit}
    dups = duplicates(r.observations)
    window = sorted(
        (o for o in r.observations if start <= o["time_ms"] <= end),
        key=lambda o: (o["sequence"], o["time_ms"]),
    )
    last: dict[str, int] = {}
    out_of_order = []
    for o in window:
        code = o["point_code"]
        if code in last and o["time_ms"] < last[code]:
            out_of_order.append((code, o["sequence"], o["time_ms"]))
        last[code] = max(last.get(code, 0), int(o["time_ms"]))
    evidence.record("queued_for_ms_before_stop", r.stop_ms - r.start_ms)
    evidence.record("hole_limit_ms", limit)
    evidence.record("longest_gap_ms", max(gaps.values()) if gaps else None)
    evidence.record("stored_twice", len(dups))
    evidence.record("out_of_order", out_of_order[:10])
    assert not holes, (
        f"[ST-PROTO-021] 停止前已排队的数据在重启后丢失（空档超过 {limit} ms）：队列没有持久保存 / data queued before "
        f"the stop was lost across the restart (holes over {limit} ms): the queue did not survive it: "
        + ", ".join(f"{c} hole of {g} ms" for c, g in sorted(holes.items())[:5])
    )
    assert not dups, (
        f"[ST-PROTO-021] 重启后 {len(dups)} 个观测值被存储了两次 / {len(dups)} observations stored twice: {dups[:2]}"
    )
    assert not out_of_order, (
        f"[ST-PROTO-019] 重启后积压数据的序号顺序与产生顺序不一致 / after the restart the backlog arrived out of "
        f"production order: {out_of_order[:5]}"
    )


@pytest.mark.feature("backfill")
@pytest.mark.clause("ST-PROTO-020")
def test_restart_backlog_flagged(restart_run: RestartRun, live: LiveProduct, evidence: Evidence) -> None:
    """Data built during the outage, before the stop, and delivered after the restart is flagged backfill."""
    _blocked(restart_run, "ST-PROTO-020")
    r = restart_run
    first_attempt = _built_before_failure(live, r.start_ms)
    built = [
        b
        for b in r.batches
        if first_attempt <= b["min_time_ms"] and b["max_time_ms"] < r.stop_ms and b["received_ms"] >= r.end_ms
    ]
    unflagged = [b for b in built if not b["backfill"]]
    evidence.record("batches_built_in_outage_before_stop", len(built))
    evidence.record("unflagged", [b["sequence"] for b in unflagged][:20])
    assert built, (
        "[ST-PROTO-021] 重启后没有收到停止前在中断期间产生的数据 / nothing built during the outage before the stop "
        "arrived after the restart"
    )
    assert not unflagged, (
        f"[ST-PROTO-020] 重启后送达的 {len(unflagged)}/{len(built)} 个中断期间批次没有标记 backfill / {len(unflagged)} "
        f"of {len(built)} batches built during the outage and delivered after the restart were not flagged "
        f"backfill (e.g. seq {unflagged[0]['sequence']})"
    )
