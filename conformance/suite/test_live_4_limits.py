"""Over the whole run: the product kept to the platform's limits; and, when claimed, it works over TLS.

On the embedded target the mock announces batch and definition limits below the product's declared point count,
so that honouring Limits (split batches and definitions) is really exercised. The TLS case starts a second,
TLS-only mock platform and a second instance of the product against it (``SANTONG_TLS_CA`` names the CA
certificate the product must trust).
"""

from __future__ import annotations

import secrets
import time
from typing import Any

import pytest
from santong.conformance import CouldNotRun, Declared, Evidence, Manifest, ProductLauncher
from santong.conformance._live import UPLOAD_METHODS, LiveProduct, Snapshot

pytestmark = [pytest.mark.subject("product"), pytest.mark.inspection]


@pytest.mark.clause("ST-PROTO-008")
def test_limits_honoured(live: LiveProduct, baseline: Snapshot, evidence: Evidence) -> None:
    """No batch above Limits.max_batch_points, no DefinePoints above max_points_per_definition, over the whole
    run; nothing refused for a limit."""
    limits = live.handle.limits
    rows = live.interactions()
    batches = live.batches()
    too_big = [b for b in batches if b["n_points"] > int(limits.max_batch_points)]
    refused = [r for r in rows if "ST-PROTO-008" in r["clause_ids"]]
    defines = [r for r in rows if r["method"] == "DefinePoints" and r["verdict"] == "ACCEPTED"]
    evidence.record("max_batch_points", int(limits.max_batch_points))
    evidence.record("max_points_per_definition", int(limits.max_points_per_definition))
    evidence.record("largest_batch", max((b["n_points"] for b in batches), default=0))
    evidence.record("batches", len(batches))
    evidence.record("define_requests", len(defines))
    evidence.record("uploads", sum(1 for r in rows if r["method"] in UPLOAD_METHODS))
    for r in refused[:3]:
        evidence.sample(f"refused {r['method']}", {"violations": r["violations"][:3]})
    assert batches, "[ST-PROTO-008] 平台没有收到任何批次 / the platform stored no batch"
    assert not refused, (
        f"[ST-PROTO-008] {len(refused)} 个请求因超出限值被拒收 / {len(refused)} requests were refused for a limit: "
        f"{refused[0]['method']} {refused[0]['violations'][:1]}"
    )
    assert not too_big, (
        f"[ST-PROTO-008] 批次超过 {limits.max_batch_points} 个观测值 / batches above {limits.max_batch_points} "
        f"observations: {[(b['sequence'], b['n_points']) for b in too_big][:5]}"
    )


@pytest.mark.feature("tls")
@pytest.mark.clause("ST-PROTO-003")
def test_works_over_tls(
    live: LiveProduct,
    baseline: Snapshot,
    santong_manifest: Manifest,
    santong_declared: Declared,
    santong_workdir: Any,
    evidence: Evidence,
) -> None:
    """Against a TLS-only platform (CA in ``SANTONG_TLS_CA``) the product registers, defines its points and
    reports, as over plain TCP."""
    if live.handle.kind != "embedded":
        raise CouldNotRun(
            "TLS 用例需要内嵌模拟平台（--target embedded）/ the TLS case needs the embedded mock (--target embedded)"
        )
    from santong.mock_platform import PlatformConfig  # noqa: PLC0415
    from santong.mock_platform.embedded import BackgroundMockPlatform, TlsFiles  # noqa: PLC0415
    from santong.mock_platform.pki import make_pki  # noqa: PLC0415

    pki = make_pki()
    folder = santong_workdir / "tls"
    folder.mkdir(parents=True, exist_ok=True)
    ca = folder / "ca.pem"
    ca.write_bytes(pki.ca_cert)
    token = secrets.token_hex(16)
    device_id = santong_manifest.identity.device_id
    bg = BackgroundMockPlatform(
        PlatformConfig(devices={device_id: token}, limits=live.handle.limits),
        http_port=0,
        tls=TlsFiles(pki.server_cert, pki.server_key),
    )
    bg.start()
    launcher = ProductLauncher(santong_manifest, folder)
    proc = None
    try:
        proc = launcher.start(
            grpc_target=bg.grpc_target,
            http_url=bg.http_url or "",
            token=token,
            device_id=device_id,
            env={"SANTONG_TLS_CA": str(ca), "SANTONG_TLS": "1"},
        )
        deadline = time.monotonic() + live.budget(10, 15.0)
        counts: dict[str, Any] = {}
        while time.monotonic() < deadline:
            counts = bg.run(bg.platform.inspection.counts(device_id))
            if counts["points"] and counts["batches"]:
                break
            time.sleep(0.2)
        evidence.record("counts_over_tls", {k: counts.get(k) for k in ("points", "batches", "rejected")})
        declared = len(santong_declared.points.points) if santong_declared.points is not None else 0
        assert counts.get("batches"), (
            "[ST-PROTO-003] 通过 TLS 连接时平台没有收到观测值 / over TLS the platform received no observation"
        )
        assert counts.get("points") == declared, (
            f"[ST-PROTO-024] 通过 TLS 定义了 {counts.get('points')} 个测点，声明 {declared} 个 / over TLS "
            f"{counts.get('points')} points were defined, {declared} declared"
        )
    finally:
        if proc is not None:
            proc.stop()
        bg.stop()
