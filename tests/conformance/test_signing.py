"""Certificates: Ed25519 over canonical JSON; any changed byte of report or signature is detected."""

from __future__ import annotations

import json
import random
import stat
from pathlib import Path
from typing import Any

import pytest
from santong.conformance import (
    canonical_json,
    generate_key_pair,
    load_private_key,
    load_public_key,
    sign_report,
    verify_bytes,
)
from santong.conformance._signing import sha256_hex

from santong.cli import main


def _report(verdict: str = "PASS") -> dict[str, Any]:
    return {
        "report_version": 1,
        "product": {
            "vendor": "示例电子",
            "model": "KJ70N",
            "version": "2.3.1",
            "serial": "SN1",
            "ma_certificate": "MAH230123",
            "device_id": "KJ70N-0001",
            "mine_code": "140421000001",
            "product_class": "safety_monitoring",
            "transport": "grpc",
            "features": ["backfill"],
        },
        "manifest": {
            "document": {"manifest_version": 1, "notes": "测试 ünïcödé"},
            "file": "m.yaml",
            "file_sha256": "0" * 64,
            "points_file": None,
        },
        "profile": {"name": "standard", "clauses": ["ST-DATA-011"]},
        "versions": {"santong": "0.1.0", "suite": "0.1.0", "suite_digest": "ab" * 32, "spec": "1.0"},
        "environment": {"python": "3.11"},
        "run": {"started_at": "2025-01-15T02:30:00Z", "duration_s": 1.25},
        "results": {
            "verdict": verdict,
            "reasons": [],
            "cases": [{"id": "t::a", "verdict": "passed", "duration_s": 0.5}],
        },
    }


@pytest.fixture(scope="module")
def key() -> Any:
    from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

    return Ed25519PrivateKey.generate()


def test_canonical_json() -> None:
    data = canonical_json({"b": 1, "a": {"z": [1.5, "中文"], "y": None}})
    assert data == '{"a":{"y":null,"z":[1.5,"中文"]},"b":1}'.encode()
    with pytest.raises(ValueError):
        canonical_json({"x": float("nan")})


def test_sign_and_verify(key: Any) -> None:
    signed = sign_report(_report(), key)
    assert signed == canonical_json(json.loads(signed))
    v = verify_bytes(signed)
    assert v.valid, v.problems
    st = v.statement
    assert st["verdict"] == "PASS" and st["product"]["serial"] == "SN1"
    assert st["manifest_sha256"] == sha256_hex(canonical_json(_report()["manifest"]))
    assert st["results_sha256"] == sha256_hex(canonical_json(_report()["results"]))
    assert st["suite_version"] == "0.1.0" and st["spec_version"] == "1.0"
    assert v.key_id.startswith("ed25519:")
    assert verify_bytes(signed, key.public_key()).trusted_key


def test_every_flipped_byte_is_detected(key: Any) -> None:
    signed = sign_report(_report(), key)
    rng = random.Random(20250115)
    doc = json.loads(signed)
    sig_at = signed.index(doc["certificate"]["signature"].encode())
    positions = set(rng.sample(range(len(signed)), min(600, len(signed))))
    positions |= set(range(sig_at, sig_at + 128))  # every byte of the signature
    positions |= {0, len(signed) - 1}
    for pos in sorted(positions):
        for flip in (0x01, 0x20, rng.randrange(1, 256)):
            bad = bytearray(signed)
            bad[pos] ^= flip
            assert not verify_bytes(bytes(bad)).valid, (pos, flip, signed[pos - 20 : pos + 20])


def test_reencoded_but_altered_content_is_detected(key: Any) -> None:
    doc = json.loads(sign_report(_report("FAIL"), key))
    doc["report"]["results"]["verdict"] = "PASS"
    v = verify_bytes(canonical_json(doc))
    assert not v.valid and any("results_sha256" in en or "verdict" in en for _, en in v.problems)
    doc = json.loads(sign_report(_report("FAIL"), key))
    doc["certificate"]["statement"]["verdict"] = "PASS"
    doc["report"]["results"]["verdict"] = "PASS"
    v = verify_bytes(canonical_json(doc))
    assert not v.valid and any("invalid signature" in en for _, en in v.problems)


def test_a_report_resigned_with_another_key_fails_the_trusted_key_check(key: Any) -> None:
    from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

    forged = sign_report(_report(), Ed25519PrivateKey.generate())
    assert verify_bytes(forged).valid
    v = verify_bytes(forged, key.public_key())
    assert not v.valid and not v.trusted_key


def test_garbage_is_invalid() -> None:
    for data in (b"", b"{}", b"[1]", b"\xff", b'{"format":"santong-report/1","report":{},"certificate":{}}'):
        assert not verify_bytes(data).valid


def test_keys_command(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["keys", "--out", str(tmp_path / "k")]) == 0
    private, public = tmp_path / "k" / "santong-signing.key", tmp_path / "k" / "santong-signing.pub"
    assert stat.S_IMODE(private.stat().st_mode) == 0o600
    assert "fingerprint" in capsys.readouterr().out
    assert (
        load_public_key(public).public_bytes_raw()
        == load_private_key(private).public_key().public_bytes_raw()
    )
    assert main(["keys", "--out", str(tmp_path / "k")]) == 2  # never overwrites silently (exit 2: usage)
    assert "already exists" in capsys.readouterr().err
    before = private.read_bytes()
    assert main(["keys", "--out", str(tmp_path / "k"), "--force"]) == 0
    assert private.read_bytes() != before and stat.S_IMODE(private.stat().st_mode) == 0o600


def test_verify_command(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    private, public, fp = generate_key_pair(tmp_path)
    report = tmp_path / "report.json"
    report.write_bytes(sign_report(_report(), load_private_key(private)))
    assert main(["verify", str(report), "--public-key", str(public)]) == 0
    out = capsys.readouterr().out
    assert (
        "VALID SIGNATURE" in out
        and "通过 PASS" in out
        and fp in out
        and "matches the given public key" in out
    )

    report.write_bytes(sign_report(_report("FAIL"), load_private_key(private)))
    assert main(["verify", str(report)]) == 1
    assert "不通过 FAIL" in capsys.readouterr().out

    data = bytearray(report.read_bytes())
    data[len(data) // 2] ^= 0x04
    report.write_bytes(bytes(data))
    assert main(["verify", str(report)]) == 1  # a report that must not be trusted
    assert "报告无效 INVALID REPORT" in capsys.readouterr().out

    other, _, _ = generate_key_pair(tmp_path / "other")
    report.write_bytes(sign_report(_report(), load_private_key(other)))
    assert main(["verify", str(report), "--public-key", str(public)]) == 1
    assert "not signed with the given public key" in capsys.readouterr().out
    assert main(["verify", str(tmp_path / "missing.json")]) == 2  # cannot read: usage/environment
