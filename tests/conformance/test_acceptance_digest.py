"""Mine acceptance against a URL compares the digests the mine's devices report with their certificate (ST-PROTO-038).

`santong mock serve` started as a process plays the mine's platform; devices register over raw gRPC with their
``firmware_sha256``; `santong certify --profile mine-acceptance --url … --certificate REPORT.json` reads the
registrations through the inspection_token of the credentials file and judges each device of the certified model.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import secrets
import signal
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from santong.conformance._certificates import judge_devices, load_certificates
from santong.conformance._signing import sign_report

pytestmark = pytest.mark.timeout(300)

ROOT = Path(__file__).resolve().parents[2]
MANIFEST = ROOT / "conformance" / "products" / "santong-mock.manifest.yaml"
VENDOR, MODEL = "示例电子", "KJ70N-F16"
CERTIFIED = hashlib.sha256(b"KJ70N firmware 2.3.1").hexdigest()
OTHER = hashlib.sha256(b"KJ70N firmware 2.3.1, patched on site").hexdigest()


def _certificate(path: Path, verdict: str = "PASS", software: list[dict[str, str]] | None = None) -> Path:
    """A signed report of the model (what a lab hands the vendor), with the software it covers."""
    from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

    report = {
        "product": {
            "vendor": VENDOR, "model": MODEL, "version": "2.3.1", "serial": "SN-SAMPLE-1",
            "product_class": "safety_monitoring",
            "software": software if software is not None else [
                {"name": "kj70n-firmware", "sha256": CERTIFIED, "status": "computed"}
            ],
        },
        "profile": {"name": "standard"},
        "results": {"verdict": verdict, "cases": []},
        "manifest": {"identity": {"vendor": VENDOR, "model": MODEL}},
        "versions": {"suite": "0.1.0", "suite_digest": "0" * 64, "spec": "1.0"},
    }  # fmt: skip
    now = dt.datetime.now(dt.UTC)
    path.write_bytes(sign_report(report, Ed25519PrivateKey.generate(), now=now))
    return path


def _row(device_id: str, digest: str | None, model: str = MODEL) -> dict[str, Any]:
    device = {"device_id": device_id, "vendor": VENDOR, "model": model, "firmware_version": "2.3.1"}
    if digest:
        device["firmware_sha256"] = digest
    return {"device_id": device_id, "register_request": {"device": device}}


# ------------------------------------------------------------------------------------------- the rule alone


def test_match_mismatch_missing_and_other_models(tmp_path: Path) -> None:
    certs, problems = load_certificates([_certificate(tmp_path / "kj70n.json")])
    assert not problems and len(certs) == 1
    rows = [
        _row("KJ-MATCH", CERTIFIED),
        _row("KJ-OTHER", OTHER),
        _row("KJ-NONE", None),
        _row("GD-1", OTHER, model="GD4-OTHER"),
        {"device_id": "NEVER", "register_request": None},
    ]
    findings, uncovered = judge_devices(rows, certs)
    by = {f.device_id: f for f in findings}
    assert set(by) == {"KJ-MATCH", "KJ-OTHER", "KJ-NONE"} and uncovered == ["GD-1"]
    assert by["KJ-MATCH"].ok and not by["KJ-OTHER"].ok and not by["KJ-NONE"].ok
    assert (
        OTHER in by["KJ-OTHER"].zh
        and "不在证书" in by["KJ-OTHER"].zh
        and "does not cover" in by["KJ-OTHER"].en
    )
    assert "未上报软件摘要" in by["KJ-NONE"].zh and "reported no software digest" in by["KJ-NONE"].en


def test_a_certificate_without_software_digests_checks_nothing(tmp_path: Path) -> None:
    certs, _ = load_certificates([_certificate(tmp_path / "old.json", software=[])])
    findings, _ = judge_devices([_row("KJ-MATCH", CERTIFIED)], certs)
    assert not findings[0].ok and "未写明软件摘要" in findings[0].zh


@pytest.mark.parametrize("defect", ["altered", "fail", "missing"])
def test_unusable_certificates_are_named(tmp_path: Path, defect: str) -> None:
    path = _certificate(tmp_path / "c.json", verdict="FAIL" if defect == "fail" else "PASS")
    if defect == "altered":
        path.write_bytes(path.read_bytes().replace(CERTIFIED.encode(), OTHER.encode()))
    if defect == "missing":
        path = tmp_path / "nosuch.json"
    certs, problems = load_certificates([path])
    assert not certs and len(problems) == 1
    assert {"altered": "无效", "fail": "不是通过", "missing": "无法读取"}[defect] in problems[0]
    assert str(path) in problems[0]


# ------------------------------------------------------------------------------ against the mock as a process


@pytest.fixture(scope="module")
def mine(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, Any]]:
    """The mine's platform: `santong mock serve` with the suite's test device and three field devices."""
    tmp = tmp_path_factory.mktemp("mine")
    inspection = secrets.token_hex(16)
    devices = {d: secrets.token_hex(16) for d in ("SANTONG-TEST-0001", "KJ-MATCH", "KJ-OTHER", "KJ-NONE")}
    argv = [sys.executable, "-m", "santong", "mock", "serve", "--grpc-port", "0", "--http-port", "0",
            "--db", str(tmp / "mine.db"), "--inspection-token", inspection]  # fmt: skip
    for d, t in devices.items():
        argv += ["--device", f"{d}:{t}"]
    p = subprocess.Popen(argv, stdout=subprocess.PIPE, stderr=(tmp / "serve.err").open("w"), text=True)
    assert p.stdout is not None
    ready = json.loads(p.stdout.readline())
    grpc_url = f"grpc://127.0.0.1:{ready['grpc_port']}"
    creds = tmp / "credentials.yaml"
    creds.write_text(
        f"device_id: SANTONG-TEST-0001\ntoken: {devices['SANTONG-TEST-0001']}\ninspection_token: {inspection}\n",
        encoding="utf-8",
    )
    blind = tmp / "blind.yaml"
    blind.write_text(
        f"device_id: SANTONG-TEST-0001\ntoken: {devices['SANTONG-TEST-0001']}\n", encoding="utf-8"
    )
    try:
        yield {"tmp": tmp, "url": grpc_url, "target": f"127.0.0.1:{ready['grpc_port']}", "devices": devices,
               "credentials": creds, "blind": blind, "cert": _certificate(tmp / "kj70n.report.json"),
               "inspection": inspection}  # fmt: skip
    finally:
        p.send_signal(signal.SIGTERM)
        assert p.wait(timeout=30) == 0
        p.stdout.close()


def _register(mine: dict[str, Any], device_id: str, digest: str | None) -> None:
    """A field device registers with the platform, reporting its software digest (or none)."""
    import grpc
    from santong.conformance._refdevice import RefDevice
    from santong.protocols import interface_versions

    with grpc.insecure_channel(mine["target"]) as ch:
        dev = RefDevice(ch, device_id, mine["devices"][device_id], "140421000001")
        # firmware_sha256 came after interface 1.0: offer the versions newest first (ST-PROTO-004, ST-DATA-034).
        req = dev.register_request(versions=list(interface_versions()))
        req.device.vendor, req.device.model, req.device.firmware_version = VENDOR, MODEL, "2.3.1"
        if digest:
            req.device.firmware_sha256 = digest
        dev.call("Register", req)


def _accept(
    mine: dict[str, Any], name: str, *extra: str, creds: str = "credentials"
) -> tuple[int, str, dict[str, Any]]:
    out = mine["tmp"] / name
    r = subprocess.run(
        [sys.executable, "-m", "santong", "certify", "--manifest", str(MANIFEST), "--profile", "mine-acceptance",
         "--url", mine["url"], "--credentials", str(mine[creds]), "--out", str(out), *extra],
        capture_output=True, text=True, timeout=240,
    )  # fmt: skip
    assert "Traceback" not in r.stdout + r.stderr, r.stdout + r.stderr
    case: dict[str, Any] = {}
    if (out / "report.json").is_file():
        report = json.loads((out / "report.json").read_text(encoding="utf-8"))["report"]
        case = next(
            c
            for c in report["results"]["cases"]
            if c["id"].endswith("test_devices_run_the_certified_software")
        )
    return r.returncode, r.stdout, case


def test_mine_acceptance_judges_the_devices_digests(mine: dict[str, Any]) -> None:
    cert = str(mine["cert"])
    # Only the matching device registered: the clause holds.
    _register(mine, "KJ-MATCH", CERTIFIED)
    code, stdout, case = _accept(mine, "match", "--certificate", cert)
    assert case["verdict"] == "passed", (case, stdout)
    assert code == 0, stdout
    # One device runs other software, one reports nothing: FAIL on ST-PROTO-038, each named, Chinese first.
    _register(mine, "KJ-OTHER", OTHER)
    _register(mine, "KJ-NONE", None)
    code, stdout, case = _accept(mine, "mismatch", "--certificate", cert)
    assert code == 1 and case["verdict"] == "failed", (case, stdout)
    msg = case["message"]
    assert "ST-PROTO-038" in msg and "KJ-OTHER" in msg and OTHER in msg and "KJ-NONE" in msg, msg
    assert "KJ-MATCH" not in msg, msg
    assert msg.index("不能证明运行的是被认证的软件") < msg.index(
        "do not show that they run the certified software"
    )
    assert "ST-PROTO-038" in stdout
    # Without inspection access the clause is not applicable, with the fix; without a certificate, too.
    code, stdout, case = _accept(mine, "blind", "--certificate", cert, creds="blind")
    assert case["verdict"] == "skipped" and "inspection_token" in case["message"], case
    code, stdout, case = _accept(mine, "nocert")
    assert case["verdict"] == "skipped" and "--certificate" in case["message"], case
    assert code == 0, stdout


def test_an_altered_certificate_could_not_run(mine: dict[str, Any]) -> None:
    bad = mine["tmp"] / "altered.json"
    bad.write_bytes(mine["cert"].read_bytes().replace(CERTIFIED.encode(), OTHER.encode()))
    code, stdout, case = _accept(mine, "altered", "--certificate", str(bad))
    assert code == 2 and "无法运行 COULD NOT RUN" in stdout and "altered.json" in stdout, stdout
    assert not case


def test_the_reference_product_reports_the_digest_its_certificate_covers(mine: dict[str, Any]) -> None:
    """kj_substation.py (the reference product, through the adapter SDK's client) registers with the SHA-256 of
    the artefact its manifest declares; a certificate of that model and software accepts it."""
    from santong.conformance import load_manifest
    from st_waiting import wait_until

    manifest = load_manifest(ROOT / "conformance" / "products" / "kj-substation.manifest.yaml")
    digest = manifest.software[0]["sha256"]
    assert (
        digest
        == hashlib.sha256((ROOT / "conformance" / "products" / "kj_substation.py").read_bytes()).hexdigest()
    )
    token = secrets.token_hex(16)
    add = _admin(mine, "add_device", device_id="KJ-FZ-REF", token=token)
    assert add["device_id"] == "KJ-FZ-REF"
    work = mine["tmp"] / "kj"
    product = subprocess.Popen(
        [sys.executable, str(ROOT / "conformance" / "products" / "kj_substation.py"), "--platform", mine["target"],
         "--device-id", "KJ-FZ-REF", "--token", token, "--workdir", str(work), "--scenario", ""],
        stdout=subprocess.DEVNULL, stderr=(mine["tmp"] / "kj.err").open("w"),
    )  # fmt: skip
    try:

        def registered() -> dict[str, Any] | None:
            row = next((d for d in _admin(mine, "devices") if d["device_id"] == "KJ-FZ-REF"), None)
            return row["register_request"]["device"] if row and row.get("register_request") else None

        device = wait_until(registered, what="the reference product's registration")
        assert device["firmware_sha256"] == digest
    finally:
        product.terminate()
        product.wait(timeout=30)
    ident = manifest.identity
    cert = mine["tmp"] / "kj-sim.report.json"
    from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

    report = {
        "product": {"vendor": ident.vendor, "model": ident.model, "version": ident.version, "serial": ident.serial,
                    "product_class": "safety_monitoring", "software": list(manifest.software)},
        "profile": {"name": "standard"}, "results": {"verdict": "PASS", "cases": []}, "manifest": {},
        "versions": {"suite": "0.1.0", "suite_digest": "0" * 64, "spec": "1.0"},
    }  # fmt: skip
    cert.write_bytes(sign_report(report, Ed25519PrivateKey.generate()))
    code, stdout, case = _accept(mine, "reference", "--certificate", str(cert))
    assert case["verdict"] == "passed", (case, stdout)
    devices = case["evidence"]["records"]["devices"]
    assert any(d["device_id"] == "KJ-FZ-REF" and d["ok"] for d in devices), devices


def _admin(mine: dict[str, Any], op: str, **args: Any) -> Any:
    """One call of the mock's inspection channel (the test's side door; the suite reads only `devices`)."""
    from santong.conformance._platform import Admin

    admin = Admin(mine["target"], mine["inspection"])
    try:
        return admin.inspect(op, **args)
    finally:
        admin.close()
