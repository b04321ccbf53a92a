"""Platform regression against a URL: `santong mock serve` started as a process is the platform under test.

The suite reaches it only through its public addresses (no inspection API): over gRPC, and over HTTP/JSON when
the ``--url`` value carries the HTTP address after the gRPC one. The test device lives under its own ID prefix
(``SANTONG-TEST-``) and is reused from run to run, as conformance/README.md tells the platform team.
"""

from __future__ import annotations

import json
import secrets
import signal
import subprocess
import sys
import xml.etree.ElementTree as ET
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

pytestmark = pytest.mark.timeout(300)

ROOT = Path(__file__).resolve().parents[2]
MANIFEST = ROOT / "conformance" / "products" / "santong-mock.manifest.yaml"
HTTP_CASES = ("test_http_json_rejected", "test_same_semantics_over_http")


@pytest.fixture(scope="module")
def platform(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, Any]]:
    """`santong mock serve` on ports the OS chose, with one test device; stopped with SIGTERM."""
    tmp = tmp_path_factory.mktemp("url-target")
    device = f"SANTONG-TEST-{secrets.token_hex(3).upper()}"
    token = secrets.token_hex(16)
    p = subprocess.Popen(
        [sys.executable, "-m", "santong", "mock", "serve", "--grpc-port", "0", "--http-port", "0"]
        + ["--db", str(tmp / "mock.db"), "--device", f"{device}:{token}"],
        stdout=subprocess.PIPE,
        stderr=(tmp / "serve.err").open("w"),
        text=True,
    )
    assert p.stdout is not None
    ready = json.loads(p.stdout.readline())
    creds = tmp / "credentials.yaml"
    creds.write_text(f"token: {token}\ndevice_id: {device}\n", encoding="utf-8")
    try:
        yield {
            "tmp": tmp,
            "grpc": f"grpc://127.0.0.1:{ready['grpc_port']}",
            "http": f"http://127.0.0.1:{ready['http_port']}",
            "credentials": creds,
        }
    finally:
        p.send_signal(signal.SIGTERM)
        assert p.wait(timeout=30) == 0
        p.stdout.close()


def _certify(platform: dict[str, Any], url: str, name: str) -> tuple[subprocess.CompletedProcess[str], Path]:
    out = platform["tmp"] / name
    r = subprocess.run(
        [
            sys.executable,
            "-m",
            "santong",
            "certify",
            "--manifest",
            str(MANIFEST),
            "--profile",
            "platform-regression",
        ]
        + ["--url", url, "--credentials", str(platform["credentials"]), "--out", str(out)],
        capture_output=True,
        text=True,
        timeout=240,
    )
    assert "Traceback" not in r.stdout + r.stderr, r.stdout + r.stderr
    return r, out


def _cases(out: Path) -> dict[str, dict[str, Any]]:
    report = json.loads((out / "report.json").read_text(encoding="utf-8"))["report"]
    return {c["id"].rpartition("::")[2]: c for c in report["results"]["cases"]}


def _clauses(out: Path) -> dict[str, dict[str, Any]]:
    report = json.loads((out / "report.json").read_text(encoding="utf-8"))["report"]
    return {c["id"]: c for c in report["results"]["clauses"]}


def test_grpc_and_http_urls_run_the_http_json_cases(platform: dict[str, Any]) -> None:
    r, out = _certify(platform, f"{platform['grpc']},{platform['http']}", "both")
    cases = _cases(out)
    http = {k: c for k, c in cases.items() if k.startswith(HTTP_CASES)}
    assert len(http) == 5, sorted(cases)
    assert all(c["verdict"] == "passed" for c in http.values()), {k: c["message"] for k, c in http.items()}
    clauses = _clauses(out)
    for cid in ("ST-IFACE-015", "ST-IFACE-009", "ST-DATA-030", "ST-DATA-034", "ST-DATA-035", "ST-DATA-036"):
        assert clauses[cid]["state"] == "passed", clauses[cid]
    # The reference device's cases ran over gRPC; nothing could-not-run; JUnit carries the same cases.
    assert cases["test_valid_data_accepted"]["verdict"] == "passed"
    assert not [k for k, c in cases.items() if c["verdict"] == "error"]
    junit = {tc.get("name") for tc in ET.fromstring((out / "junit.xml").read_bytes()).iter("testcase")}
    assert set(http) <= junit


def test_a_grpc_url_alone_says_how_to_add_the_http_address(platform: dict[str, Any]) -> None:
    r, out = _certify(platform, platform["grpc"], "grpc-only")
    http = {k: c for k, c in _cases(out).items() if k.startswith(HTTP_CASES)}
    assert http and all(c["not_applicable"] == "transport" for c in http.values()), http
    assert "grpc://host:50051,http://host:8080" in next(iter(http.values()))["message"]


def test_the_test_device_is_reused_from_run_to_run(platform: dict[str, Any]) -> None:
    """Two more runs with the same device: nothing could not run (no "the device must be fresh")."""
    for i in (1, 2):
        _, out = _certify(platform, f"{platform['grpc']},{platform['http']}", f"reuse-{i}")
        cases = _cases(out)
        assert not [k for k, c in cases.items() if c["verdict"] == "error"], i
        assert cases["test_valid_data_accepted"]["verdict"] == "passed", cases["test_valid_data_accepted"]
        assert all(c["verdict"] == "passed" for k, c in cases.items() if k.startswith(HTTP_CASES))


def test_an_http_url_alone_could_not_run_once_with_the_fix(platform: dict[str, Any]) -> None:
    r, out = _certify(platform, platform["http"], "http-only")
    assert r.returncode == 2, r.stdout
    assert r.stdout.count("错误 ERROR") == 1
    assert "grpc://host:50051,http://host:8080" in r.stdout


@pytest.mark.parametrize(
    "url",
    [
        "grpc://127.0.0.1:1,grpc://127.0.0.1:2",
        "http://127.0.0.1:1,https://127.0.0.1:2",
        "grpc://127.0.0.1:1,ftp://x",
        "grpc://127.0.0.1:1,http://a,http://b",
        " , ",
    ],
)
def test_bad_url_lists_are_usage_errors(platform: dict[str, Any], url: str) -> None:
    r, _ = _certify(platform, url, "bad-url")
    assert r.returncode == 2 and "无法运行 COULD NOT RUN" in r.stdout, r.stdout
    assert "平台地址" in r.stdout and "platform URL" in r.stdout


# ------------------------------------------------------------------ fresh test devices by group enrolment


ENROLMENT_KEY = "staging-enrolment-key-0001"


@pytest.fixture(scope="module")
def staging(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, Any]]:
    """`santong mock serve --enrolment SANTONG-TEST-:KEY` with a database file, as a staging platform in CI."""
    tmp = tmp_path_factory.mktemp("staging")
    device, token = "SANTONG-TEST-0001", secrets.token_hex(16)
    p = subprocess.Popen(
        [sys.executable, "-m", "santong", "mock", "serve", "--grpc-port", "0", "--http-port", "0"]
        + ["--db", str(tmp / "staging.db"), "--device", f"{device}:{token}"]
        + ["--enrolment", f"SANTONG-TEST-:{ENROLMENT_KEY}"],
        stdout=subprocess.PIPE,
        stderr=(tmp / "serve.err").open("w"),
        text=True,
    )
    assert p.stdout is not None
    ready = json.loads(p.stdout.readline())
    creds = tmp / "credentials.yaml"
    creds.write_text(
        f"token: {token}\ndevice_id: {device}\nenrolment: {{prefix: SANTONG-TEST-, key: {ENROLMENT_KEY}}}\n",
        encoding="utf-8",
    )
    plain = tmp / "plain.yaml"
    plain.write_text(f"token: {token}\ndevice_id: {device}\n", encoding="utf-8")
    try:
        yield {
            "tmp": tmp,
            "grpc": f"grpc://127.0.0.1:{ready['grpc_port']}",
            "http": f"http://127.0.0.1:{ready['http_port']}",
            "target": f"127.0.0.1:{ready['grpc_port']}",
            "credentials": creds,
            "plain": plain,
            "device": device,
            "token": token,
        }
    finally:
        p.send_signal(signal.SIGTERM)
        assert p.wait(timeout=30) == 0
        p.stdout.close()


def _heartbeat(target: str, device_id: str, token: str) -> str:
    """The gRPC code name of a Heartbeat with these credentials (OK, FAILED_PRECONDITION, UNAUTHENTICATED …)."""
    import grpc
    from santong.protocols.v1 import device_access_pb2, device_access_pb2_grpc

    with grpc.insecure_channel(target) as ch:
        stub = device_access_pb2_grpc.DeviceAccessServiceStub(ch)
        md = (("x-santong-device-id", device_id), ("authorization", f"Bearer {token}"))
        try:
            stub.Heartbeat(device_access_pb2.HeartbeatRequest(), metadata=md, timeout=10)
        except grpc.RpcError as e:
            return str(e.code().name)
    return "OK"


def test_enrolment_admits_only_the_derived_token_under_the_prefix(staging: dict[str, Any]) -> None:
    from santong.mock_platform._credentials import enrolment_token

    fresh = f"SANTONG-TEST-{secrets.token_hex(4).upper()}"
    t = staging["target"]
    assert _heartbeat(t, fresh, "wrong-token") == "UNAUTHENTICATED"
    assert _heartbeat(t, fresh, enrolment_token("another-group-key-000", fresh)) == "UNAUTHENTICATED"
    assert _heartbeat(t, "KJ-OUTSIDE-1", enrolment_token(ENROLMENT_KEY, "KJ-OUTSIDE-1")) == "UNAUTHENTICATED"
    assert (
        _heartbeat(t, "SANTONG-TEST-", enrolment_token(ENROLMENT_KEY, "SANTONG-TEST-")) == "UNAUTHENTICATED"
    )
    # The derived token authenticates (the device is known now; it has not registered yet).
    assert _heartbeat(t, fresh, enrolment_token(ENROLMENT_KEY, fresh)) == "FAILED_PRECONDITION"


def _regress(staging: dict[str, Any], name: str, creds: str = "credentials") -> tuple[int, str, Path]:
    out = staging["tmp"] / name
    r = subprocess.run(
        [
            sys.executable,
            "-m",
            "santong",
            "certify",
            "--manifest",
            str(MANIFEST),
            "--profile",
            "platform-regression",
        ]
        + [
            "--url",
            f"{staging['grpc']},{staging['http']}",
            "--credentials",
            str(staging[creds]),
            "--out",
            str(out),
        ],
        capture_output=True,
        text=True,
        timeout=240,
    )
    assert "Traceback" not in r.stdout + r.stderr, r.stdout + r.stderr
    return r.returncode, r.stdout, out


def test_platform_regression_twice_in_a_row_with_fresh_devices(staging: dict[str, Any]) -> None:
    """CI runs the profile on every push against one staging URL: each run makes its own devices under the
    prefix (the not-registered case runs too), nothing to clean up between runs."""
    seen: list[str] = []
    for i in (1, 2):
        code, stdout, out = _regress(staging, f"ci-{i}")
        cases = _cases(out)
        assert not [k for k, c in cases.items() if c["verdict"] == "error"], (i, stdout)
        assert cases["test_not_registered"]["verdict"] == "passed", cases["test_not_registered"]
        assert cases["test_valid_data_accepted"]["verdict"] == "passed", cases["test_valid_data_accepted"]
        assert code != 2, stdout  # never COULD NOT RUN (a warning or another clause may still FAIL it)
        seen.append(json.dumps(cases["test_not_registered"]["evidence"], ensure_ascii=False))
    assert seen[0] != seen[1]  # two runs, two fresh devices
    assert all("SANTONG-TEST-" in s for s in seen), seen


def test_without_enrolment_the_fresh_device_case_says_how(staging: dict[str, Any]) -> None:
    code, stdout, out = _regress(staging, "plain", creds="plain")
    case = _cases(out)["test_not_registered"]
    assert case["not_applicable"] == "needs_fresh_device", case
    assert "enrolment" in stdout and "ST-IFACE-001" in stdout, stdout


def test_a_reused_device_with_other_definitions_could_not_run_with_the_hint(staging: dict[str, Any]) -> None:
    """A reused device defined earlier with another alias ↔ code table (by another version of the suite, say):
    the refusal (ST-DATA-017) stops the run once, with the fix — never 36 bare COULD NOT RUN lines."""
    import grpc
    from santong.conformance._refdevice import RefDevice
    from santong.mock_platform._credentials import enrolment_token

    device = f"SANTONG-TEST-OLD-{secrets.token_hex(3).upper()}"
    token = enrolment_token(ENROLMENT_KEY, device)
    with grpc.insecure_channel(staging["target"]) as ch:
        dev = RefDevice(ch, device, token, "140421000001")
        dev.register()
        points = dev.points()
        for p in points.points:
            p.alias = 3 - p.alias  # the two points' aliases the other way round
        dev.call("DefinePoints", points)
    stale = staging["tmp"] / "stale.yaml"
    stale.write_text(f"token: {token}\ndevice_id: {device}\n", encoding="utf-8")
    staging["stale"] = stale
    code, stdout, out = _regress(staging, "stale", creds="stale")
    assert code == 2, stdout
    assert "ST-DATA-017" in stdout and "enrolment" in stdout, stdout
    assert stdout.count("错误 ERROR") == 1 and "运行已停止" in stdout, stdout  # stopped once, not ×36
    assert f"测试设备 {device} 是凭据文件中被重复使用的设备" in stdout, stdout
