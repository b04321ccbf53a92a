"""The product's behaviour: alarms on methane, answering downlink commands, following the platform clock.

The clock scenario moves the mock platform's clock through the fault API (``clock_offset``) and sends TIME_SYNC;
the product must follow the platform clock within Limits.max_clock_skew_ms, in both directions. Every wait is a
multiple of the intervals the manifest declares.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from typing import Any

import pytest
from santong.conformance import Declared, Evidence, fail_clauses, not_applicable, not_demonstrated
from santong.conformance._live import LiveProduct, Snapshot, now_ms
from santong.conformance._results import interface_version_reason
from santong.protocols import clause, to_dict
from santong.protocols.v1 import common_pb2

pytestmark = [pytest.mark.subject("product"), pytest.mark.inspection]

ALARM_BIT = 1
OVER_LIMIT = "ANOMALY_TYPE_OVER_LIMIT"
RAISED, CLEARED = "ALARM_STATE_RAISED", "ALARM_STATE_CLEARED"


# ------------------------------------------------------------------------------------------------- alarms


def _methane_points(declared: Declared) -> dict[str, tuple[float, float]]:
    """Points with an alarm threshold (methane A001 first): code → (alarm_high, alarm_high_clear)."""
    out = {}
    points = declared.points.points if declared.points is not None else []
    for p in sorted(points, key=lambda p: p.sensor_type != "A001"):
        d = to_dict(p)
        if "alarm_high" in d:
            out[p.point_code] = (float(d["alarm_high"]), float(d.get("alarm_high_clear", d["alarm_high"])))
    return out


def _episodes(obs: list[dict[str, Any]], high: float, clear: float) -> list[tuple[int, int | None]]:
    """(first time ≥ high, first later time < clear or None) of every alarm episode in the values."""
    out: list[tuple[int, int | None]] = []
    start: int | None = None
    for o in sorted(obs, key=lambda o: o["time_ms"]):
        if start is None and o["value"] >= high:
            start = o["time_ms"]
        elif start is not None and o["value"] < clear:
            out.append((start, o["time_ms"]))
            start = None
    if start is not None:
        out.append((start, None))
    return out


def _test_event(live: LiveProduct, clause_id: str, **event: Any) -> dict[str, Any]:
    """Send a TEST_EVENT command (ST-PROTO-036) and wait for its result (one report interval + the command
    bound); fail the clause when the device did not carry it out.

    A product whose negotiated interface version has no test events (ST-PROTO-036 came with a newer one, the
    catalogue's ``since``) is sent none — its session cannot carry the command: ST-PROTO-036 is not applicable to
    it, and a case that needs the event to provoke the behaviour of ``clause_id`` ends not demonstrated."""
    negotiated = live.negotiated_version()
    why = interface_version_reason("ST-PROTO-036", negotiated)
    if why is not None:
        if clause_id == "ST-PROTO-036":
            not_applicable("interface_version", why.zh, why.en)
        since = clause("ST-PROTO-036").since
        not_demonstrated(
            f"需要测试事件（接口 {since}，ST-PROTO-036）才能引发 {clause_id} 的行为，产品协商的接口版本为 {negotiated}："
            f"在 supported_versions 中列出 {since} 并实现 TEST_EVENT",
            f"needs test events (interface {since}, ST-PROTO-036) to provoke the behaviour of {clause_id}; the "
            f"product negotiated interface {negotiated}: list {since} in supported_versions and implement TEST_EVENT",
        )
    cid = live.admin.command(live.device_id, "TEST_EVENT", **event)["command_id"]
    row = live.command_result(cid, live.budget(4, 8.0))
    outcome = (row or {}).get("outcome")
    if outcome not in ("COMMAND_OUTCOME_SUCCEEDED", 1):
        fail_clauses(
            ["ST-PROTO-036"],
            f"设备没有执行测试事件 {event.get('kind')}（结果 {outcome or '无'}：{(row or {}).get('result_message', '')}）；"
            "产品声明中的启动命令须使产品处于认证模式",
            f"the device did not carry out the test event {event.get('kind')} (result {outcome or 'none'}: "
            f"{(row or {}).get('result_message', '')}); the manifest's start command must put the product in "
            f"certification mode (judging {clause_id})",
        )
    assert row is not None
    return row


@pytest.mark.feature("alarms")
@pytest.mark.clause("ST-PROTO-027", "ST-PROTO-036")
def test_methane_alarm_raised_and_cleared(
    live: LiveProduct, baseline: Snapshot, santong_declared: Declared, evidence: Evidence
) -> None:
    """A TEST_EVENT excursion (ST-PROTO-036) takes the first point with an alarm threshold (methane first) to
    1.3 × its threshold for three report intervals (at least 2 s): the product raises an over-limit alarm and
    sets status bit 1; when the value falls back below the clear threshold it clears the alarm with the same
    alarm_id and clears the bit — each within the bounds of the spec (one report interval + 1.5 s)."""
    points = _methane_points(santong_declared)
    if not points:
        not_demonstrated(
            "产品没有声明带报警门限（alarm_high）的测点，无法展示报警行为",
            "the manifest declares no point with an alarm threshold (alarm_high): alarm behaviour cannot be shown",
        )
    live.require_data(baseline, "ST-PROTO-027")
    code = next(iter(points))
    high, clear = points[code]
    hold_ms = max(2000, 3 * live.report_interval_ms)
    settle_ms = int(live.report_s * 1000 + 1500)  # time for the CLEARED alarm to follow the falling value
    t0 = now_ms()
    row = _test_event(
        live, "ST-PROTO-027", kind="EXCURSION", point_code=code, value=round(high * 1.3, 3), hold_ms=hold_ms
    )
    evidence.sample("test event", row)

    def complete() -> bool:
        obs = [o for o in live.observations(since_ms=t0) if o["point_code"] == code]
        return any(end is not None and now_ms() > end + settle_ms for _, end in _episodes(obs, high, clear))

    wait_s = (hold_ms + 2 * settle_ms) / 1000 + live.budget(4, 8.0)
    done = live.wait_for(complete, wait_s, "methane alarm episode", step_s=0.25, fail=False)
    obs = live.observations()
    alarms = live.alarms()
    by_code = {c: [o for o in obs if o["point_code"] == c] for c in points}
    if not done and not any(o["value"] >= high and o["time_ms"] >= t0 for o in by_code[code]):
        fail_clauses(
            ["ST-PROTO-036"],
            f"测试事件已确认，但 {wait_s:.0f} s 内 {code} 的值没有达到报警门限 {high}",
            f"the test event was acknowledged but {code} did not reach its alarm threshold {high} within "
            f"{wait_s:.0f} s",
        )
    tol_ms = int(live.report_s * 1000 + 1500)
    problems: list[str] = []
    checked = 0
    for code, (high, clear) in points.items():
        mine = [a for a in alarms if a.get("point_code") == code and a.get("anomaly_type") == OVER_LIMIT]
        for o in by_code[code]:
            if o["value"] >= high and not o["status"] & ALARM_BIT:
                problems.append(
                    f"{code} {o['time']} value {o['value']} ≥ {high} without status bit 1 (status {o['status']})"
                )
            elif o["value"] < clear and o["status"] & ALARM_BIT:
                problems.append(f"{code} {o['time']} value {o['value']} < {clear} still has status bit 1")
        for start, end in _episodes(by_code[code], high, clear):
            checked += 1
            raised = [a for a in mine if a["state"] == RAISED and abs(a["start_ms"] - start) <= tol_ms]
            if not raised:
                problems.append(
                    f"{code}: value ≥ {high} at {start} but no RAISED over-limit alarm (anomaly 001)"
                )
                continue
            if end is None or end > now_ms() - settle_ms:  # still running, or its clear is on the way
                continue
            ids = {a["alarm_id"] for a in raised}
            if not any(a["state"] == CLEARED and a["alarm_id"] in ids for a in mine):
                problems.append(
                    f"{code}: value < {clear} at {end} but no CLEARED alarm with alarm_id {sorted(ids)}"
                )
        for a in mine[:2]:
            evidence.sample(f"{a['state']} {code}", a)
    evidence.record("methane_points", sorted(points))
    evidence.record("episodes", checked)
    evidence.record("alarms", len(alarms))
    assert not problems, (
        f"[ST-PROTO-027] {len(problems)} 处报警行为不符 / alarm behaviour wrong: " + "; ".join(problems[:4])
    )
    assert checked, "[ST-PROTO-027] 没有完整的报警过程 / no alarm episode to check"


SENSOR_FAULT_BIT = 128


@pytest.mark.clause("ST-PROTO-036")
def test_sensor_fault_event_reported(
    live: LiveProduct, baseline: Snapshot, santong_declared: Declared, evidence: Evidence
) -> None:
    """A TEST_EVENT SENSOR_FAULT on the first analog point: its observations carry status bit 128 within one
    report interval + 1.5 s of the command, and lose it again once the hold is over (within the same bound)."""
    points = santong_declared.points.points if santong_declared.points is not None else []
    codes = [p.point_code for p in points if p.value_kind == common_pb2.VALUE_KIND_ANALOG]
    if not codes:
        not_demonstrated(
            "产品没有声明模拟量测点，无法展示传感器故障",
            "the manifest declares no analog point: a sensor fault cannot be shown",
        )
    live.require_data(baseline, "ST-PROTO-036")
    code = codes[0]
    hold_ms = max(2000, 3 * live.report_interval_ms)
    bound_ms = live.report_interval_ms + 1500
    t0 = now_ms()
    evidence.sample(
        "test event", _test_event(live, "ST-PROTO-036", kind="SENSOR_FAULT", point_code=code, hold_ms=hold_ms)
    )

    def seen() -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
        obs = sorted(
            (o for o in live.observations(since_ms=t0 - 1000) if o["point_code"] == code),
            key=lambda o: o["time_ms"],
        )
        faulted = [o for o in obs if o["status"] & SENSOR_FAULT_BIT]
        after = [o for o in obs if faulted and o["time_ms"] > faulted[-1]["time_ms"]]
        return faulted, after

    live.wait_for(
        lambda: all(seen()), (hold_ms + 2 * bound_ms) / 1000 + 2.0, "sensor fault and recovery", fail=False
    )
    faulted, after = seen()
    evidence.record("point", code)
    evidence.record("faulted_observations", len(faulted))
    assert faulted and faulted[0]["time_ms"] <= t0 + bound_ms, (
        f"[ST-PROTO-036] 测试事件 SENSOR_FAULT 之后 {bound_ms} ms 内 {code} 没有带传感器故障位 128 的观测 / no observation of "
        f"{code} carried the sensor-fault bit 128 within {bound_ms} ms of the SENSOR_FAULT test event"
    )
    assert after and after[0]["time_ms"] <= t0 + hold_ms + 2 * bound_ms, (
        f"[ST-PROTO-036] 保持 {hold_ms} ms 之后 {code} 没有恢复正常（仍带状态位 128）/ {code} did not recover after the "
        f"{hold_ms} ms hold (still status bit 128)"
    )


# ----------------------------------------------------------------------------------------------- commands


def _send(live: LiveProduct, kind: str, **payload: Any) -> tuple[str, dict[str, Any] | None]:
    cid = live.admin.command(live.device_id, kind, **payload)["command_id"]
    return cid, live.command_result(cid, live.budget(4, 8.0))


@pytest.mark.clause("ST-IFACE-014")
def test_resend_definitions(live: LiveProduct, baseline: Snapshot, evidence: Evidence) -> None:
    """RESEND_DEFINITIONS: the product defines its points again and answers SUCCEEDED."""
    since = live.last_id()
    cid, row = _send(live, "RESEND_DEFINITIONS")
    evidence.sample("command", row or {"command_id": cid, "result": None})
    assert row is not None, (
        f"[ST-IFACE-014] RESEND_DEFINITIONS 没有应答 / RESEND_DEFINITIONS {cid} was not answered"
    )
    defined = live.wait_for(
        lambda: [
            r
            for r in live.interactions(since)
            if r["method"] == "DefinePoints" and r["verdict"] == "ACCEPTED"
        ],
        live.budget(2, 3.0),
        "DefinePoints",
        fail=False,
    )
    evidence.record("outcome", row["outcome"])
    evidence.record("define_points_after", len(defined or []))
    assert row["outcome"] == "COMMAND_OUTCOME_SUCCEEDED", (
        f"[ST-IFACE-014] RESEND_DEFINITIONS 结果为 {row['outcome']} / answered {row['outcome']}: {row['result_message']}"
    )
    assert defined, "[ST-IFACE-014] 应答后没有重新定义测点 / no DefinePoints followed the command"


@pytest.mark.clause("ST-IFACE-011", "ST-IFACE-020")
def test_every_command_answered(live: LiveProduct, baseline: Snapshot, evidence: Evidence) -> None:
    """Every command gets a CommandResult (CONFIGURE with the intervals already in force, and an unknown setting)."""
    hb = int(live.heartbeat_s * 1000)
    sent = [
        _send(
            live, "CONFIGURE", report_interval_ms=live.manifest.report_interval_ms, heartbeat_interval_ms=hb
        ),
        _send(live, "CONFIGURE", settings={"santong.conformance.probe": "1"}),
    ]
    for cid, row in sent:
        evidence.sample(f"command {cid}", row or {"command_id": cid, "result": None})
    missing = [cid for cid, row in sent if row is None]
    assert not missing, f"[ST-IFACE-011] {len(missing)} 个命令没有应答 / commands not answered: {missing}"
    bad = [r for r in live.interactions() if r["method"] == "Commands" and r["verdict"] == "REJECTED"]
    assert not bad, f"[ST-IFACE-020] 命令结果不完整 / malformed command results: {bad[0]['violations'][:2]}"


@pytest.mark.feature("commands.write_point")
@pytest.mark.clause("ST-IFACE-013")
def test_write_point(
    live: LiveProduct, baseline: Snapshot, santong_declared: Declared, evidence: Evidence
) -> None:
    """WRITE_POINT of a switch point's current value: answered for every point, executed for at least one."""
    switches = [
        p.point_code
        for p in (santong_declared.points.points if santong_declared.points else [])
        if p.value_kind == common_pb2.VALUE_KIND_SWITCH
    ]
    if not switches:
        pytest.skip("没有开关量测点 / no switch point is declared")
    last: dict[str, float] = {}
    for o in live.observations():
        last[o["point_code"]] = o["value"]
    sent = [
        (
            code,
            live.admin.command(live.device_id, "WRITE_POINT", point_code=code, value=last.get(code, 0.0))[
                "command_id"
            ],
        )
        for code in switches
    ]
    rows = {code: live.command_result(cid, live.budget(4, 8.0)) for code, cid in sent}
    outcomes = {code: (row or {}).get("outcome") for code, row in rows.items()}
    evidence.record("outcomes", outcomes)
    assert all(rows.values()), (
        f"[ST-IFACE-013] WRITE_POINT 没有应答 / not answered: {[c for c, r in rows.items() if not r]}"
    )
    assert "COMMAND_OUTCOME_SUCCEEDED" in outcomes.values(), (
        f"[ST-IFACE-013] 产品声明支持写测点，但没有一个开关量写成功 / the product claims WRITE_POINT but executed none: {outcomes}"
    )


# -------------------------------------------------------------------------------------------------- clock


@dataclass
class ClockPhase:
    """One clock jump: what the product did about it."""

    offset_ms: int
    started_ms: int
    corrected_after_ms: int | None = None
    time_sync: dict[str, Any] | None = None
    late_rejections: list[dict[str, Any]] = field(default_factory=list)
    sample: dict[str, Any] | None = None


def _phase(live: LiveProduct, offset_ms: int, grace_s: float, watch_s: float) -> ClockPhase:
    skew = int(live.handle.limits.max_clock_skew_ms or 5000)
    lateness = int(live.report_s * 1000 + 1500)
    seq0 = int((live.device() or {}).get("last_sequence") or 0)
    live.admin.fault("clock_offset", ms=offset_ms)
    phase = ClockPhase(offset_ms, now_ms())
    cid = live.admin.command(live.device_id, "TIME_SYNC")["command_id"]
    platform_start = phase.started_ms + offset_ms

    def agreed() -> dict[str, Any] | None:
        # Uploads after the jump (sequence beyond the last one before it) whose timestamps agree with the new clock.
        for b in reversed(live.batches(since_ms=platform_start - 60_000)):
            fresh = b["sequence"] > seq0 and not b["backfill"]
            if fresh and b["received_ms"] - skew - lateness <= b["max_time_ms"] <= b["received_ms"] + skew:
                return b
        return None

    got = live.wait_for(agreed, grace_s, "clock corrected", step_s=0.1, fail=False)
    if got:
        phase.corrected_after_ms = now_ms() - phase.started_ms
        phase.sample = got
    phase.time_sync = live.command_result(cid, 1.0) or next(
        (c for c in live.commands() if c["command_id"] == cid), None
    )
    settled = live.last_id()
    time.sleep(watch_s)
    phase.late_rejections = [
        r
        for r in live.interactions(settled)
        if r["verdict"] == "REJECTED" and "ST-DATA-031" in r["clause_ids"]
    ]
    return phase


@dataclass
class ClockRun:
    """Both clock jumps, or why they could not be shown."""

    phases: list[ClockPhase] = field(default_factory=list)
    blocked: str | None = None


@pytest.fixture(scope="module")
def clock_run(live: LiveProduct, baseline: Snapshot) -> ClockRun:
    """The platform clock jumps back by 4 × max skew (at least 20 s), then forward again; TIME_SYNC after each."""
    live.require_data(baseline, "ST-PROTO-007")
    skew = int(live.handle.limits.max_clock_skew_ms or 5000)
    jump = max(4 * skew, 20_000)
    grace_s = live.budget(3, 3.0)
    watch_s = max(1.5, 2 * live.report_s)
    phases = []
    try:
        phases.append(_phase(live, -jump, grace_s, watch_s))
        phases.append(_phase(live, 0, grace_s, watch_s))
    finally:
        live.admin.fault("clock_offset", ms=0)
    live.ensure_running()
    return ClockRun(phases)


def _phases(run: ClockRun, clause_id: str) -> list[ClockPhase]:
    if run.blocked is not None:
        pytest.fail(f"[{clause_id}] {run.blocked}", pytrace=False)
    return run.phases


def _phase_dict(p: ClockPhase) -> dict[str, Any]:
    return {
        "platform_offset_ms": p.offset_ms,
        "corrected_after_ms": p.corrected_after_ms,
        "time_sync_outcome": (p.time_sync or {}).get("outcome"),
        "rejections_after_grace": len(p.late_rejections),
    }


@pytest.mark.clause("ST-PROTO-007")
def test_clock_follows_platform(clock_run: ClockRun, live: LiveProduct, evidence: Evidence) -> None:
    """After the platform clock jumps (back, then forward) the product's timestamps agree with it again within
    the allowed skew, within three intervals."""
    phases = _phases(clock_run, "ST-PROTO-007")
    evidence.record("phases", [_phase_dict(p) for p in phases])
    for p in phases:
        if p.sample:
            evidence.sample(f"batch after offset {p.offset_ms} ms", p.sample)
    late = [p.offset_ms for p in phases if p.corrected_after_ms is None]
    grace = live.budget(3, 3.0)
    assert not late, (
        f"[ST-PROTO-007] 平台时钟偏移改为 {late} ms 后，产品时间戳未在 {grace:.1f} s 内与平台时钟一致 / after the "
        f"platform clock offset changed to {late} ms the product's timestamps did not agree with it within {grace:.1f} s"
    )


@pytest.mark.clause("ST-DATA-031")
def test_no_future_timestamps_after_sync(clock_run: ClockRun, evidence: Evidence) -> None:
    """Once synchronised, no upload carries a timestamp ahead of the platform clock (beyond the skew)."""
    phases = _phases(clock_run, "ST-DATA-031")
    rows = [r for p in phases for r in p.late_rejections]
    evidence.record("rejections", len(rows))
    for r in rows[:3]:
        evidence.sample(f"{r['method']} seq={r['sequence']}", {"violations": r["violations"][:3]})
    if rows:
        # Name what the evidence shows: a post-sync rejection may break another clause than ST-DATA-031.
        named = sorted({c for r in rows for c in r["clause_ids"]}) or ["ST-DATA-031"]
        fail_clauses(
            named,
            f"对时后仍有 {len(rows)} 个上传被拒收（{', '.join(named)}）",
            f"{len(rows)} uploads were still rejected after the time sync ({', '.join(named)})",
        )


@pytest.mark.feature("commands.time_sync")
@pytest.mark.clause("ST-IFACE-012")
def test_time_sync_executed(clock_run: ClockRun, evidence: Evidence) -> None:
    """Both TIME_SYNC commands were executed (SUCCEEDED)."""
    phases = _phases(clock_run, "ST-IFACE-012")
    outcomes = [(p.time_sync or {}).get("outcome") for p in phases]
    evidence.record("outcomes", outcomes)
    assert all(o == "COMMAND_OUTCOME_SUCCEEDED" for o in outcomes), (
        f"[ST-IFACE-012] TIME_SYNC 结果 / TIME_SYNC outcomes: {outcomes}"
    )
