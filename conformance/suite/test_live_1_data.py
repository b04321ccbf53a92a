"""The product on the wire, undisturbed: registration, definitions, every data rule, heartbeat, report interval.

The product runs against the mock platform; these cases read what the platform received in the baseline window
(the ``baseline`` fixture) through its inspection API. The interaction log holds, per request, the verdict and
the clause IDs of every violation and warning the validation core found: the per-clause cases assert there are
none for the product.
"""

from __future__ import annotations

from typing import Any

import pytest
from santong.conformance import Declared, Evidence, Manifest, not_applicable, not_demonstrated
from santong.conformance._live import IDENTITY_CODES, LiveProduct, Snapshot, point_gaps
from santong.protocols import clauses, interface_versions, to_dict

pytestmark = [pytest.mark.subject("product"), pytest.mark.inspection]

#: Core clauses that live traffic can break (the MT/T 1201 text-file grammar cannot: it has cases of its own).
LIVE_CORE = tuple(
    c.id for c in clauses().values() if "core" in c.checked_by and set(c.applies_to) - {"mtfile"}
)
#: Clauses of the JSON form only: they apply to a product that speaks HTTP/JSON.
HTTP_ONLY = tuple(c.id for c in clauses().values() if set(c.applies_to) == {"http"})
IDENTITY_FIELDS = (
    "device_id",
    "vendor",
    "model",
    "firmware_version",
    "serial_number",
    "ma_certificate",
    "product_class",
    "mine_code",
)


def _first(rows: list[dict[str, Any]], method: str, verdict: str = "ACCEPTED") -> dict[str, Any] | None:
    return next((r for r in rows if r["method"] == method and r["verdict"] == verdict), None)


def _no_points(manifest: Manifest) -> None:
    """End a case that needs declared points: not applicable to a personnel-position system, else not shown."""
    if manifest.product_class == "personnel_position":
        not_applicable(
            "product_class",
            "人员定位系统上报人员与区域，不上报测点",
            "a personnel-position system reports persons and areas, not points",
        )
    not_demonstrated("产品未声明测点", "the manifest declares no points")


@pytest.mark.clause("ST-PROTO-030")
def test_product_started(live: LiveProduct, baseline: Snapshot, evidence: Evidence) -> None:
    """The product started from its manifest, printed its ready line, registered and kept running (a product
    that does not is failed by the ``live``/``baseline`` fixtures, naming the platform's first refusal)."""
    live.ensure_running()
    evidence.record("starts", live.starts)
    assert baseline.device is not None and baseline.device.get("registered"), (
        "[ST-PROTO-030] 平台上没有产品的注册 / the platform holds no registration of the product"
    )


@pytest.mark.clause("ST-PROTO-029")
def test_calls_under_own_identity(live: LiveProduct, baseline: Snapshot, evidence: Evidence) -> None:
    """No call reached the platform under a wrong identity: in a product run the product is the only device
    client, so every UNAUTHENTICATED / PERMISSION_DENIED answer in the log (whatever device id it claimed) is its."""
    rows = [
        r
        for r in live.events()
        if r["code"] in IDENTITY_CODES and r["verdict"] != "FAULT" and not r["method"].startswith("fault:")
    ]
    evidence.record("refused_calls", len(rows))
    for r in rows[:3]:
        evidence.sample(
            f"{r['method']} {r['code']}", {"device_id": r["device_id"], "violations": r["violations"][:2]}
        )
    assert not rows, (
        f"[ST-PROTO-029] 平台以 {rows[0]['code']} 拒绝了 {len(rows)} 个调用（第一个：{rows[0]['method']}，设备编号 "
        f"{rows[0]['device_id']!r}，{', '.join(rows[0]['clause_ids'])}）/ the platform refused {len(rows)} calls "
        f"with {rows[0]['code']} (first: {rows[0]['method']} as device {rows[0]['device_id']!r}, "
        f"{', '.join(rows[0]['clause_ids'])}): call under the device's own id and token"
        if rows
        else ""
    )


@pytest.mark.clause("ST-DATA-028", "ST-IFACE-001", "ST-IFACE-019", "ST-PROTO-004")
def test_registration_and_identity(
    baseline: Snapshot, santong_declared: Declared, evidence: Evidence
) -> None:
    """The product registers first, as the device the manifest declares, and speaks the negotiated version."""
    dev = baseline.device
    evidence.record("device", {k: v for k, v in (dev or {}).items() if k != "register_request"})
    assert dev is not None and dev.get("registered"), (
        "[ST-IFACE-001] 产品没有成功注册 / the product never registered with the platform"
    )
    reg = dev.get("register_request") or {}
    evidence.sample("register_request", reg)
    got = reg.get("device", {})
    want = to_dict(santong_declared.register)["device"]
    wrong = {k: (got.get(k), want.get(k)) for k in IDENTITY_FIELDS if got.get(k) != want.get(k)}
    assert not wrong, (
        "[ST-IFACE-019] 注册身份与产品声明不符 / the registered identity differs from the manifest: "
        + "; ".join(f"{k}: registered {a!r}, declared {b!r}" for k, (a, b) in wrong.items())
    )
    assert reg.get("mine", {}).get("mine_code") == want.get("mine_code"), (
        f"[ST-DATA-028] RegisterRequest.mine.mine_code {reg.get('mine', {}).get('mine_code')!r} ≠ "
        f"declared {want.get('mine_code')!r}"
    )
    rows = baseline.interactions
    first_ok = next((r for r in rows if r["verdict"] in ("ACCEPTED", "DUPLICATE")), None)
    early = [r for r in rows if r["code"] == "FAILED_PRECONDITION" and "ST-IFACE-001" in r["clause_ids"]]
    evidence.record("calls_before_register", len(early))
    assert first_ok is not None and first_ok["method"] == "Register", (
        f"[ST-IFACE-001] 第一个被接受的调用是 {first_ok and first_ok['method']} 而不是 Register / the first accepted "
        f"call was {first_ok and first_ok['method']}, not Register"
    )
    assert not early, (
        f"[ST-IFACE-001] 注册前调用了 {sorted({r['method'] for r in early})}（FAILED_PRECONDITION）/ called "
        f"{sorted({r['method'] for r in early})} before registering"
    )
    versions = reg.get("supported_versions", [])
    evidence.record("supported_versions", versions)
    evidence.record("negotiated_version", dev.get("negotiated_version"))
    # The mock speaks every version of the interface: the highest one the device offers is negotiated.
    common = [v for v in interface_versions() if v in versions]
    assert common and dev.get("negotiated_version") == common[0], (
        f"[ST-PROTO-004] 设备提供 {versions}，协商结果 {dev.get('negotiated_version')!r}，接口版本 {list(interface_versions())} / "
        f"the device offers {versions}, negotiated {dev.get('negotiated_version')!r}, interface versions "
        f"{list(interface_versions())}"
    )


@pytest.mark.clause("ST-PROTO-024", "ST-IFACE-004")
def test_defined_before_reported(baseline: Snapshot, evidence: Evidence) -> None:
    """After every Register the product defines its points before it reports observations of them."""
    rows = baseline.interactions
    obs_methods = ("ReportObservations", "StreamObservations")
    registers = [r for r in rows if r["method"] == "Register" and r["verdict"] == "ACCEPTED"]
    assert registers, "[ST-PROTO-024] 没有注册 / no Register was accepted"
    problems = []
    for i, reg in enumerate(registers):
        end = registers[i + 1]["id"] if i + 1 < len(registers) else float("inf")
        after = [r for r in rows if reg["id"] < r["id"] < end]
        define = next(
            (r for r in after if r["method"] == "DefinePoints" and r["verdict"] == "ACCEPTED"), None
        )
        report = next((r for r in after if r["method"] in obs_methods), None)
        if report is not None and (define is None or define["id"] > report["id"]):
            problems.append(
                f"注册（{reg['time']}）后先上报了观测值 {report['method']} seq={report['sequence']}，然后才定义测点 / "
                f"after Register at {reg['time']} the product reported {report['method']} seq={report['sequence']} "
                "before an accepted DefinePoints"
            )
    undefined = [r for r in rows if "ST-IFACE-004" in r["clause_ids"]]
    evidence.record("registrations", len(registers))
    evidence.record("undefined_alias_rejections", len(undefined))
    for r in undefined[:3]:
        evidence.sample(f"rejected seq {r['sequence']}", {"violations": r["violations"][:5]})
    assert not problems, "[ST-PROTO-024] " + "; ".join(problems)
    assert not undefined, (
        f"[ST-IFACE-004] {len(undefined)} 个上传引用了未定义的别名 / {len(undefined)} uploads referenced undefined "
        f"aliases: {undefined[0]['violations'][:2]}"
    )


_IGNORED = {"alias", "defined_at", "device_id"}


@pytest.mark.clause("ST-PROTO-024")
def test_definitions_as_declared(
    baseline: Snapshot, santong_declared: Declared, santong_manifest: Manifest, evidence: Evidence
) -> None:
    """The points the platform holds are exactly the manifest's declared points (alias and time aside)."""
    if santong_declared.points is None:
        _no_points(santong_manifest)
    declared = {p.point_code: to_dict(p) for p in santong_declared.points.points}
    stored = {p["point_code"]: p for p in baseline.points}
    evidence.record("declared", len(declared))
    evidence.record("stored", len(stored))
    missing = sorted(set(declared) - set(stored))
    extra = sorted(set(stored) - set(declared))
    differ = []
    for code in sorted(set(declared) & set(stored)):
        a = {k: v for k, v in declared[code].items() if k not in _IGNORED}
        b = {k: v for k, v in stored[code].items() if k not in _IGNORED}
        if a != b:
            keys = sorted(k for k in set(a) | set(b) if a.get(k) != b.get(k))
            differ.append(
                f"{code}: " + ", ".join(f"{k} declared {a.get(k)!r} ≠ defined {b.get(k)!r}" for k in keys)
            )
    if differ:
        evidence.sample("first_difference", {"point_code": differ[0].split(":")[0], "difference": differ[0]})
    assert not (missing or extra or differ), (
        "[ST-PROTO-024] 平台收到的测点定义与产品声明不一致 / the definitions the platform received differ from the "
        f"manifest: missing {missing[:5]}, undeclared {extra[:5]}, different {differ[:3]}"
    )


def _per_clause() -> list[Any]:
    return [pytest.param(c, marks=pytest.mark.clause(c), id=c) for c in LIVE_CORE]


@pytest.mark.parametrize("clause_id", _per_clause())
def test_received_data(
    clause_id: str, baseline: Snapshot, santong_manifest: Manifest, evidence: Evidence
) -> None:
    """No request the product sent in the baseline window broke (or was warned about) the clause."""
    if clause_id in HTTP_ONLY and santong_manifest.transport != "http":
        not_applicable(
            "transport",
            "该条款只适用于 HTTP/JSON，产品使用 gRPC",
            "the clause applies to HTTP/JSON; the product uses gRPC",
        )
    rows = baseline.interactions
    calls = [r for r in rows if not r["method"].startswith(("session:", "command:", "fault:"))]
    hits = [r for r in rows if clause_id in r["clause_ids"]]
    evidence.record("requests", len(calls))
    evidence.record("uploads_accepted", len(baseline.uploads("ACCEPTED")))
    evidence.record("observations", len(baseline.observations))
    evidence.record("requests_with_violations", len(hits))
    assert calls, (
        f"[{clause_id}] 平台没有收到产品的任何请求 / the platform received no request from the product"
    )
    for r in hits[:3]:
        evidence.sample(
            f"{r['method']} {r['verdict']} seq={r['sequence']}",
            {
                "code": r["code"],
                "violations": [v for v in r["violations"] if v.get("clause_id") == clause_id][:5],
            },
        )
    if hits:
        vs = [v for r in hits for v in r["violations"] if v.get("clause_id") == clause_id]
        first = vs[0] if vs else {}
        pytest.fail(
            f"[{clause_id}] {len(hits)} 个请求违反本条款 / {len(hits)} requests broke the clause "
            f"({', '.join(sorted({r['method'] + ' ' + r['verdict'] for r in hits}))}): "
            f"{first.get('path', '')} {first.get('message_en') or first.get('message', '')}",
            pytrace=False,
        )


@pytest.mark.clause("ST-PROTO-005")
def test_heartbeat_interval(baseline: Snapshot, live: LiveProduct, evidence: Evidence) -> None:
    """Heartbeats never further apart than the interval in force; the product stays online."""
    interval_ms = int(live.heartbeat_s * 1000)
    limit_ms = int(interval_ms * 1.2 + 250)  # measured at the platform: scheduling jitter of both sides
    reg = _first(baseline.interactions, "Register")
    beats = [r["time_ms"] for r in baseline.rows("Heartbeat", "ACCEPTED")]
    evidence.record("interval_ms", interval_ms)
    evidence.record("heartbeats", len(beats))
    assert reg is not None, "[ST-PROTO-005] 没有注册 / no Register was accepted"
    marks = [reg["time_ms"], *beats, baseline.taken_ms]
    gaps = [b - a for a, b in zip(marks, marks[1:], strict=False)]
    evidence.record("gaps_ms", gaps[:200])
    evidence.record("longest_gap_ms", max(gaps))
    assert len(beats) >= 2, (
        f"[ST-PROTO-005] {(baseline.taken_ms - reg['time_ms']) / 1000:.1f} s 内只有 {len(beats)} 次心跳（间隔 {interval_ms} ms）/ "
        f"only {len(beats)} heartbeats in {(baseline.taken_ms - reg['time_ms']) / 1000:.1f} s at an interval of {interval_ms} ms"
    )
    assert max(gaps) <= limit_ms, (
        f"[ST-PROTO-005] 心跳间隔最长 {max(gaps)} ms，超过 {interval_ms} ms / the longest heartbeat gap was "
        f"{max(gaps)} ms, above the interval of {interval_ms} ms"
    )
    offline = [r for r in baseline.interactions if r["method"] == "session:offline"]
    assert not offline and (baseline.device or {}).get("online"), (
        f"[ST-PROTO-005] 心跳缺失，平台判定产品离线 / heartbeats missed: the platform marked the product "
        f"offline: {offline[:1]}"
    )


@pytest.mark.clause("ST-PROTO-025")
def test_report_interval(
    baseline: Snapshot, live: LiveProduct, santong_declared: Declared, evidence: Evidence
) -> None:
    """Every declared point is reported at least once per declared report interval (values unchanged or not)."""
    if santong_declared.points is None:
        _no_points(live.manifest)
    codes = [p.point_code for p in santong_declared.points.points]
    obs = baseline.observations
    assert obs, "[ST-PROTO-025] 平台没有收到任何观测值 / the platform received no observation"
    start = min(o["time_ms"] for o in obs)
    end = baseline.taken_ms - int(max(1000, 1.5 * live.report_s * 1000))
    limit = int(1.5 * live.report_s * 1000 + 1000)
    gaps = point_gaps(obs, start, end, codes)
    evidence.record("report_interval_ms", int(live.report_s * 1000))
    evidence.record("window_ms", end - start)
    evidence.record("longest_gap_ms", max(gaps.values()) if gaps else None)
    late = {c: g for c, g in gaps.items() if g > limit}
    assert not late, (
        f"[ST-PROTO-025] {len(late)} 个测点超过上报周期未上报 / {len(late)} points went longer than the report "
        f"interval ({int(live.report_s * 1000)} ms) without a value: "
        + ", ".join(f"{c} {g} ms" for c, g in sorted(late.items())[:5])
    )
