"""Who vouches for a report: a trust list signed by a root key, and the one-line answer a mine reads.

Real key files made by `santong keys` in a state folder, a real trust list kept with `santong trust`, reports signed
with those key files, and `santong verify --trust LIST --root ROOT.pub` run as a subprocess: each answer is triggered
by the bad input that causes it, with the line a mine engineer reads and the exit code.
"""

from __future__ import annotations

import datetime as dt
import json
import os
import stat
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from santong.conformance._signing import (
    STATEMENT_V1,
    _statement,
    canonical_json,
    load_private_key,
    sign_report,
    utc_text,
    verify_bytes,
)

ROOT = Path(__file__).resolve().parents[2]
NOW = dt.datetime.now(dt.UTC).replace(microsecond=0)


def _ago(days: float) -> dt.datetime:
    return NOW - dt.timedelta(days=days)


def run(state: Path, *args: str, cwd: Path | None = None) -> subprocess.CompletedProcess[str]:
    """The real `santong` in a subprocess, with its own state folder."""
    env = {**os.environ, "SANTONG_STATE_DIR": str(state), "PYTHONDONTWRITEBYTECODE": "1"}
    return subprocess.run(
        [sys.executable, "-m", "santong", *args],
        capture_output=True,
        text=True,
        cwd=cwd or state.parent,
        env=env,
        timeout=60,
    )


def ok(r: subprocess.CompletedProcess[str], code: int = 0) -> str:
    assert r.returncode == code, (r.returncode, r.stdout, r.stderr)
    assert "Traceback" not in r.stderr, r.stderr
    return r.stdout


def report(
    verdict: str = "PASS",
    *,
    profile: str = "standard",
    product_class: str = "safety_monitoring",
    suite: str = "0.1.0",
    version: int = 2,
    notes: str = "",
) -> dict[str, Any]:
    return {
        "report_version": version,
        "product": {
            "vendor": "示例电子", "model": "KJ70N", "version": "2.3.1", "serial": "SN1",
            "ma_certificate": "MAH230123", "device_id": "KJ70N-0001", "mine_code": "140421000001",
            "product_class": product_class, "transport": "grpc", "features": [],
        },
        "manifest": {"document": {"manifest_version": 1, "notes": notes}, "file": "m.yaml", "file_sha256": "0" * 64,
                     "points_file": None},
        "profile": {"name": profile, "clauses": ["ST-DATA-011"]},
        "versions": {"santong": suite, "suite": suite, "suite_digest": "ab" * 32, "spec": "1.0"},
        "environment": {"python": "3.11"},
        "run": {"started_at": "2026-01-15T02:30:00Z", "duration_s": 1.25},
        "results": {"verdict": verdict, "reasons": [], "cases": []},
    }  # fmt: skip


class World:
    """Keys in a state folder, a trust list signed by the root, and a place for reports."""

    def __init__(self, base: Path) -> None:
        self.base, self.state = base, base / "state"
        self.keys = self.state / "keys"
        self.list = base / "trust.json"
        self.n = 0

    def santong(self, *args: str) -> subprocess.CompletedProcess[str]:
        return run(self.state, *args, cwd=self.base)

    def key(self, name: str) -> Path:
        return self.keys / f"{name}.key"

    def pub(self, name: str) -> Path:
        return self.keys / f"{name}.pub"

    def sign(self, name: str, doc: dict[str, Any], *, at: dt.datetime = NOW, valid_days: int = 365) -> Path:
        self.n += 1
        path = self.base / f"r{self.n}.json"
        path.write_bytes(sign_report(doc, load_private_key(self.key(name)), now=at, valid_days=valid_days))
        return path

    def verify(self, path: Path, *extra: str, trust: Path | None = None) -> subprocess.CompletedProcess[str]:
        return self.santong(
            "verify", str(path), "--trust", str(trust or self.list), "--root", str(self.pub("root")), *extra
        )


@pytest.fixture(scope="module")
def world(tmp_path_factory: pytest.TempPathFactory) -> World:
    w = World(tmp_path_factory.mktemp("trust"))
    for name, org in [("root", "省平台 Provincial platform"), ("lab", "煤科检测中心 Coal Test Lab"),
                      ("vendor", "示例电子 Example Electronics"), ("stolen", "旧实验室 Old Lab"),
                      ("retired", "老检测站 Former Station"), ("stranger", "无名 Nobody"),
                      ("newlab", "新实验室 New Lab")]:  # fmt: skip
        ok(w.santong("keys", "--name", name, "--organisation", org))
    ok(
        w.santong(
            "trust", "create", str(w.list), "--name", "山西煤矿信任列表", "--min-suite-version", "0.1.0"
        )
    )
    since = [
        "--valid-from",
        "2020-01-01",
        "--valid-until",
        (NOW + dt.timedelta(days=900)).strftime("%Y-%m-%d"),
    ]
    for name, role, extra in [
        ("lab", "certifier", ["--profiles", "standard,basic", "--product-classes", "safety_monitoring"]),
        ("vendor", "vendor", []),
        ("stolen", "certifier", []),
        ("retired", "certifier", []),
    ]:
        ok(w.santong("trust", "add", str(w.list), "--entry", str(w.keys / f"{name}.entry.json"), "--role", role,
                     *since, *extra))  # fmt: skip
    ok(w.santong("trust", "add", str(w.list), "--entry", str(w.keys / "newlab.entry.json"), "--role", "certifier",
                 "--valid-from", _ago(3).strftime("%Y-%m-%d")))  # fmt: skip
    ok(w.santong("trust", "revoke", str(w.list), "--public-key", str(w.pub("stolen")), "--reason", "compromised",
                 "--date", utc_text(_ago(10)), "--note", "私钥随笔记本被盗 laptop stolen"))  # fmt: skip
    ok(w.santong("trust", "revoke", str(w.list), "--public-key", str(w.pub("retired")), "--reason", "retired",
                 "--date", utc_text(_ago(10))))  # fmt: skip
    ok(w.santong("trust", "sign", str(w.list), "--key", str(w.key("root"))))
    return w


# --------------------------------------------------------------------------------------------------------- keys


def test_named_key_lives_in_the_state_folder_private_and_is_reused(tmp_path: Path) -> None:
    state, cwd = tmp_path / "state", tmp_path / "work"
    cwd.mkdir()
    out = ok(run(state, "keys", "--name", "检测员 A", "--organisation", "煤科 Lab", cwd=cwd))
    private = Path(out.split("私钥 private key: ")[1].split()[0])
    assert private.parent == state / "keys" and private.is_file()
    other = ok(run(state, "keys", "--name", "检测员 B", "--organisation", "煤科 Lab", cwd=cwd))
    assert str(private) not in other  # names that differ only in Chinese characters do not share a file
    assert stat.S_IMODE(private.stat().st_mode) == 0o600
    assert stat.S_IMODE((state / "keys").stat().st_mode) == 0o700
    assert list(cwd.iterdir()) == []  # nothing in the working folder
    entry = json.loads(out.strip().splitlines()[-1])  # the public entry for a trust list
    assert entry["name"] == "检测员 A" and entry["organisation"] == "煤科 Lab"
    assert entry["key_id"].startswith("ed25519:") and len(entry["public_key"]) == 64
    before = private.read_bytes()
    again = ok(run(state, "keys", "--name", "检测员 A", cwd=cwd))
    assert "reused" in again and private.read_bytes() == before
    assert json.loads(again.strip().splitlines()[-1]) == entry


def test_keys_usage_errors(tmp_path: Path) -> None:
    r = run(tmp_path / "s", "keys")
    assert r.returncode == 2 and "--name NAME" in r.stderr
    r = run(tmp_path / "s", "keys", "--name", "x")
    assert r.returncode == 2 and "needs --organisation" in r.stderr
    assert not (tmp_path / "s" / "keys" / "x.key").exists()


def test_named_key_with_out_goes_to_that_folder(tmp_path: Path) -> None:
    ok(
        run(
            tmp_path / "s", "keys", "--name", "k", "--organisation", "O", "--out", str(tmp_path / "elsewhere")
        )
    )
    assert stat.S_IMODE((tmp_path / "elsewhere" / "k.key").stat().st_mode) == 0o600
    assert not (tmp_path / "s").exists()


# ----------------------------------------------------------------------------------------------- trust commands


def test_trust_list_is_signed_schema_checked_and_versioned(world: World, tmp_path: Path) -> None:
    out = ok(world.santong("trust", "inspect", str(world.list), "--root", str(world.pub("root"))))
    assert "signed by the given root" in out and "compromised" in out and "vendor (self-test)" in out
    doc = json.loads(world.list.read_text(encoding="utf-8"))
    assert doc["list"]["version"] == 1 and doc["signature"]["key_id"].startswith("ed25519:")
    # changing a signed list makes the next version, unsigned until signed again
    copy = tmp_path / "t.json"
    copy.write_text(world.list.read_text(encoding="utf-8"), encoding="utf-8")
    ok(world.santong("trust", "policy", str(copy), "--lifetime-days", "30"))
    changed = json.loads(copy.read_text(encoding="utf-8"))
    assert changed["list"]["version"] == 2 and changed["signature"] is None
    r = world.santong("trust", "inspect", str(copy), "--root", str(world.pub("root")))
    assert r.returncode == 1 and "not signed" in r.stdout
    ok(world.santong("trust", "sign", str(copy), "--key", str(world.key("root"))))
    ok(world.santong("trust", "inspect", str(copy), "--root", str(world.pub("root"))))


def test_trust_command_errors(world: World, tmp_path: Path) -> None:
    r = world.santong("trust", "create", str(world.list), "--name", "x")
    assert r.returncode == 2 and "exists" in r.stderr
    r = world.santong("trust", "add", str(world.list), "--entry", str(world.keys / "lab.entry.json"), "--role",
                      "certifier")  # fmt: skip
    assert r.returncode == 2 and "already listed" in r.stderr
    r = world.santong("trust", "revoke", str(world.list), "--public-key", str(world.pub("stranger")), "--reason",
                      "retired")  # fmt: skip
    assert r.returncode == 2 and "no key" in r.stderr
    bad = tmp_path / "bad.json"
    doc = json.loads(world.list.read_text(encoding="utf-8"))
    doc["list"]["certifiers"][0]["role"] = "boss"
    bad.write_text(json.dumps(doc), encoding="utf-8")
    r = world.santong("trust", "inspect", str(bad))
    assert r.returncode == 2 and "$.list.certifiers[0].role" in r.stderr and "trust list" in r.stderr
    r = world.santong("trust", "add", str(world.list), "--entry", str(world.keys / "lab.entry.json"), "--role",
                      "certifier", "--valid-from", "yesterday")  # fmt: skip
    assert r.returncode == 2 and "YYYY-MM-DD" in r.stderr


# ---------------------------------------------------------------------------------------------------- answers


def test_certified_by_a_listed_certifier_in_scope(world: World) -> None:
    out = ok(world.verify(world.sign("lab", report())))
    first = out.splitlines()[0]
    assert first.startswith("✔ 已认证") and "CERTIFIED by lab (煤科检测中心 Coal Test Lab)" in first
    assert "scope: profiles standard, basic; classes safety_monitoring" in first
    assert f"until {utc_text(NOW + dt.timedelta(days=365))}" in first
    doc = json.loads(world.list.read_text(encoding="utf-8"))
    assert f"trust list 山西煤矿信任列表 version 1, issued {doc['list']['issued']}" in out
    assert f"root key {doc['signature']['key_id']}" in out


def test_self_test_by_a_vendor_is_not_a_certification(world: World) -> None:
    # the vendor's manifest says it was certified: the signer's role in the list decides, not what it writes
    out = ok(world.verify(world.sign("vendor", report(notes="已通过实验室认证 certified by the lab"))), 3)
    assert out.splitlines()[0] == (
        f"● 厂商自测：由厂商 vendor（示例电子 Example Electronics）自行测试通过，不是认证，有效期至 "
        f"{utc_text(NOW + dt.timedelta(days=365))} / SELF-TEST by vendor vendor (示例电子 Example Electronics) (not a "
        f"certification), passed, valid until {utc_text(NOW + dt.timedelta(days=365))}"
    )


def test_self_test_presented_as_certification_is_invalid(world: World) -> None:
    """A vendor that writes a certifier claim into its statement and signs it with its own key: the statement no
    longer matches the report (the statement is computed, never taken from the signer)."""
    doc = json.loads(world.sign("vendor", report()).read_bytes())
    st = doc["certificate"]["statement"]
    st["role"], st["certified_by"] = "certifier", "煤科检测中心 Coal Test Lab"
    key = load_private_key(world.key("vendor"))
    doc["certificate"]["signature"] = key.sign(canonical_json(st)).hex()
    forged = world.base / "claims-certified.json"
    forged.write_bytes(canonical_json(doc))
    out = ok(world.verify(forged), 1)
    assert out.startswith("✘ 报告无效") and "INVALID report" in out
    assert "role in the statement does not match the report" in out


def test_tampered_report(world: World) -> None:
    path = world.sign("lab", report("FAIL"))
    doc = json.loads(path.read_bytes())
    doc["report"]["results"]["verdict"] = "PASS"
    path.write_bytes(canonical_json(doc))
    out = ok(world.verify(path), 1)
    assert "INVALID report: altered, damaged or the signature does not match — do not trust it" in out


def test_wrong_key_without_a_trust_list(world: World) -> None:
    out = ok(
        world.santong("verify", str(world.sign("lab", report())), "--public-key", str(world.pub("vendor"))), 1
    )
    assert "not signed with the given public key" in out


def test_unknown_signer(world: World) -> None:
    out = ok(world.verify(world.sign("stranger", report())), 1)
    assert out.splitlines()[0].startswith("✘ 签署者未知") and "signer UNKNOWN" in out
    assert "neither a certification nor a registered vendor self-test" in out


def test_revoked_compromised_voids_even_reports_signed_before(world: World) -> None:
    out = ok(world.verify(world.sign("stolen", report(), at=_ago(100))), 1)
    assert "key REVOKED" in out and "compromised" in out and "every report signed with it is void" in out


def test_retired_key_keeps_reports_signed_before_the_date(world: World) -> None:
    out = ok(world.verify(world.sign("retired", report(), at=_ago(20))))
    assert "CERTIFIED by retired" in out.splitlines()[0]
    assert "this report was signed before that and stays valid" in out


def test_retired_key_voids_reports_signed_after_the_date(world: World) -> None:
    out = ok(world.verify(world.sign("retired", report(), at=_ago(5))), 1)
    assert "key RETIRED before signing" in out and f"retired on {utc_text(_ago(10))}" in out


def test_signed_before_the_key_was_valid(world: World) -> None:
    out = ok(world.verify(world.sign("newlab", report(), at=_ago(30))), 1)
    assert "signer key NOT VALID at signing" in out


def test_outside_the_certifiers_scope(world: World) -> None:
    out = ok(world.verify(world.sign("lab", report(profile="full"))), 1)
    assert "OUTSIDE the signer's scope" in out and "this report is profile full" in out
    out = ok(world.verify(world.sign("lab", report(product_class="water_hazard"))), 1)
    assert "OUTSIDE the signer's scope" in out and "class water_hazard" in out


def test_made_by_a_suite_older_than_the_lists_minimum(world: World) -> None:
    out = ok(world.verify(world.sign("lab", report(suite="0.0.9"))), 1)
    assert "suite TOO OLD" in out and "0.0.9" in out and "requires 0.1.0 or later" in out


def test_expired_by_the_signed_expiry(world: World) -> None:
    out = ok(world.verify(world.sign("lab", report(), at=_ago(40), valid_days=30)), 1)
    assert "EXPIRED: the certificate signed by lab" in out and f"expired on {utc_text(_ago(10))}" in out


def test_the_lists_lifetime_policy_ends_a_longer_signed_expiry(world: World) -> None:
    out = ok(world.verify(world.sign("lab", report(), at=_ago(400), valid_days=3650)), 1)
    assert f"expired on {utc_text(_ago(35))}" in out
    out = ok(world.verify(world.sign("lab", report(), at=_ago(10), valid_days=3650)))
    assert f"until {utc_text(_ago(10) + dt.timedelta(days=365))}" in out  # the earlier of the two


def test_a_certification_that_did_not_pass(world: World) -> None:
    out = ok(world.verify(world.sign("lab", report("FAIL"))), 1)
    assert "verdict NOT PASS: the certification by lab" in out and "FAIL" in out


def test_a_forged_trust_list_is_refused(world: World, tmp_path: Path) -> None:
    """The vendor makes its own list naming itself a certifier and signs it with its own key."""
    forged = tmp_path / "forged.json"
    forged.write_text(world.list.read_text(encoding="utf-8"), encoding="utf-8")
    doc = json.loads(forged.read_text(encoding="utf-8"))
    ok(world.santong("trust", "add", str(forged), "--entry", str(world.keys / "stranger.entry.json"), "--role",
                     "certifier"))  # fmt: skip
    ok(world.santong("trust", "sign", str(forged), "--key", str(world.key("stranger"))))
    r = world.verify(world.sign("stranger", report()), trust=forged)
    assert r.returncode == 2 and "CERTIFIED" not in r.stdout, r.stdout
    assert "is not signed by the given root key" in r.stderr and "do not use it" in r.stderr
    # the root-signed list with one byte of meaning changed: the vendor turned into a certifier
    doc["list"]["certifiers"][1]["role"] = "certifier"
    altered = tmp_path / "altered.json"
    altered.write_text(json.dumps(doc, ensure_ascii=False), encoding="utf-8")
    r = world.verify(world.sign("vendor", report()), trust=altered)
    assert r.returncode == 2 and "forged or altered" in r.stderr
    # an unsigned draft
    doc["signature"] = None
    altered.write_text(json.dumps(doc, ensure_ascii=False), encoding="utf-8")
    r = world.verify(world.sign("vendor", report()), trust=altered)
    assert r.returncode == 2 and "not signed (a draft)" in r.stderr


def test_trust_needs_a_root_and_excludes_public_key(world: World) -> None:
    path = world.sign("lab", report())
    r = world.santong("verify", str(path), "--trust", str(world.list))
    assert r.returncode == 2 and "--trust needs --root" in r.stderr
    r = world.santong("verify", str(path), "--trust", str(world.list), "--public-key", str(world.pub("lab")))
    assert r.returncode == 2
    r = world.verify(path, trust=world.base / "missing.json")
    assert r.returncode == 2 and "cannot read the trust list" in r.stderr


@pytest.mark.parametrize("report_version", [1, 2])
def test_old_reports_and_statements_still_verify(world: World, report_version: int) -> None:
    """A report_version 1 or 2 report under a type-1 statement (no signed expiry): intact, and judged by the list's
    lifetime policy alone."""
    doc = report(version=report_version)
    key = load_private_key(world.key("lab"))
    date = utc_text(_ago(2))
    st = _statement(doc, date, False, kind=STATEMENT_V1)
    assert "expires" not in st
    from santong.conformance._signing import FORMAT, fingerprint, raw_public_hex

    signed = {
        "format": FORMAT,
        "report": doc,
        "certificate": {"algorithm": "Ed25519", "public_key": raw_public_hex(key.public_key()),
                        "key_id": fingerprint(key.public_key()), "statement": st,
                        "signature": key.sign(canonical_json(st)).hex()},
    }  # fmt: skip
    path = world.base / f"old-v{report_version}.json"
    path.write_bytes(canonical_json(signed))
    assert verify_bytes(path.read_bytes()).valid
    ok(world.santong("verify", str(path)))  # integrity only, as before
    out = ok(world.verify(path))
    assert f"until {utc_text(_ago(2) + dt.timedelta(days=365))}" in out


@pytest.mark.slow
@pytest.mark.selfcheck
def test_demo_reuses_its_key_and_trust_list_so_older_reports_still_verify(tmp_path: Path) -> None:
    state = tmp_path / "state"
    first = ok(run(state, "demo", "--profile", "basic", "--out", str(tmp_path / "d1")))
    assert "DEMO OK" in first and "CERTIFIED by santong-demo-lab" in first
    key = state / "keys" / "santong-demo-lab.key"
    trust = state / "demo" / "trust-list.json"
    assert stat.S_IMODE(key.stat().st_mode) == 0o600
    key_bytes, list_bytes = key.read_bytes(), trust.read_bytes()
    second = ok(run(state, "demo", "--profile", "basic", "--out", str(tmp_path / "d2")))
    assert "DEMO OK" in second and "reused" in second
    assert key.read_bytes() == key_bytes and trust.read_bytes() == list_bytes
    old = ok(run(state, "verify", str(tmp_path / "d1" / "report" / "report.json"), "--trust", str(trust), "--root",
                 str(state / "keys" / "santong-demo-root.pub")))  # fmt: skip
    assert "CERTIFIED by santong-demo-lab" in old
    # the reference product's software, hashed by the runner, is what the certificate binds
    artefact = ROOT / "conformance" / "products" / "kj_substation.py"
    digest = __import__("hashlib").sha256(artefact.read_bytes()).hexdigest()
    assert f"kj-substation sha256 {digest}" in old and "computed by the runner" in old
    ok(run(state, "verify", str(tmp_path / "d2" / "report" / "report.json"), "--trust", str(trust), "--root",
           str(state / "keys" / "santong-demo-root.pub"), "--expect-digest", digest))  # fmt: skip


# ------------------------------------------------------------------------------ the product the certificate binds


def _manifest(folder: Path, **changes: Any) -> Path:
    from cf_fixtures import write_manifest

    return write_manifest(folder, **changes)


def test_manifest_v2_software_computed_for_a_started_product(tmp_path: Path) -> None:
    from santong.conformance import load_manifest

    artefact = tmp_path / "gateway.bin"
    artefact.write_bytes(b"\x7fELF firmware 2.3.1")
    digest = __import__("hashlib").sha256(artefact.read_bytes()).hexdigest()
    m = load_manifest(_manifest(tmp_path, manifest_version=2, start={"command": ["gw"]},
                                software=[{"name": "gateway", "file": "gateway.bin"}]))  # fmt: skip
    assert m.software == ({"name": "gateway", "sha256": digest, "status": "computed"},)
    # an external (hardware) product: what it declares is recorded as declared, unverified
    m = load_manifest(
        _manifest(tmp_path, manifest_version=2, software=[{"name": "firmware", "sha256": "c" * 64}])
    )
    assert m.external and m.software == (
        {"name": "firmware", "sha256": "c" * 64, "status": "declared_unverified"},
    )
    # version 1 manifests are still read, without software
    assert load_manifest(_manifest(tmp_path)).software == ()


@pytest.mark.parametrize(
    ("changes", "path", "needle"),
    [
        ({"manifest_version": 1, "software": [{"name": "fw", "sha256": "c" * 64}]}, "$.software",
         "software needs manifest_version: 2"),
        ({"manifest_version": 2, "start": {"command": ["gw"]}, "software": [{"name": "fw", "file": "gone.bin"}]},
         "$.software[0].file", "cannot read the artefact file"),
        ({"manifest_version": 2, "start": {"command": ["gw"]},
          "software": [{"name": "fw", "file": "fw.bin", "sha256": "d" * 64}]},
         "$.software[0].sha256", "does not match the artefact file fw.bin"),
        ({"manifest_version": 2, "software": [{"name": "fw", "sha256": "NOT-HEX"}]}, "$.software[0].sha256", ""),
        ({"manifest_version": 2, "software": [{"name": "fw"}]}, "$.software[0]", ""),
    ],
)  # fmt: skip
def test_bad_software_declarations(tmp_path: Path, changes: dict[str, Any], path: str, needle: str) -> None:
    from santong.conformance import ConfigError, load_manifest

    (tmp_path / "fw.bin").write_bytes(b"firmware")
    with pytest.raises(ConfigError) as e:
        load_manifest(_manifest(tmp_path, **changes))
    assert any(p.path == path and needle in p.message_en for p in e.value.problems), e.value.problems


def _with_software(*items: tuple[str, str, str]) -> dict[str, Any]:
    doc = report()
    doc["product"]["software"] = [{"name": n, "sha256": d, "status": s} for n, d, s in items]
    return doc


def test_expect_digest_matches_the_certified_software(world: World) -> None:
    path = world.sign("lab", _with_software(("gateway", "a" * 64, "computed")))
    out = ok(world.verify(path, "--expect-digest", "A" * 64))  # case and a sha256: prefix do not matter
    assert (
        "CERTIFIED by lab" in out and f"gateway sha256 {'a' * 64}" in out and "computed by the runner" in out
    )
    ok(world.santong("verify", str(path), "--expect-digest", "sha256:" + "a" * 64))


def test_product_digest_mismatch(world: World) -> None:
    path = world.sign("lab", _with_software(("firmware", "a" * 64, "declared_unverified")))
    out = ok(world.verify(path, "--expect-digest", "b" * 64), 1)
    assert out.splitlines()[0].startswith("✘ 产品摘要不符") and "product digest MISMATCH" in out
    assert "the device does not run the certified software" in out and "declared, unverified" in out
    out = ok(world.santong("verify", str(path), "--expect-digest", "b" * 64), 1)  # by hand, without a list
    assert "product digest MISMATCH" in out
    # a report made before manifests declared software covers no digest at all
    out = ok(world.verify(world.sign("lab", report()), "--expect-digest", "b" * 64), 1)
    assert "product digest MISMATCH" in out and "none" in out
    r = world.santong("verify", str(path), "--expect-digest", "xyz")
    assert r.returncode == 2 and "64 hex digits" in r.stderr


def test_register_carries_an_optional_firmware_digest() -> None:
    """DeviceIdentity.firmware_sha256 (field 9, additive): in the proto message and in the JSON Schema."""
    from santong.protocols.v1 import data_pb2

    ident = data_pb2.DeviceIdentity(device_id="KJ70N-0001", firmware_sha256="a" * 64)
    assert data_pb2.DeviceIdentity.FromString(ident.SerializeToString()).firmware_sha256 == "a" * 64
    assert data_pb2.DeviceIdentity.DESCRIPTOR.fields_by_name["firmware_sha256"].number == 9
    schema = json.loads(
        (ROOT / "protocols" / "schemas" / "v1" / "DeviceIdentity.schema.json").read_text("utf-8")
    )
    assert "firmware_sha256" in schema["properties"]
