"""No clause can silently fall out: computed from the catalogue, the profiles and the collected suite.

- Every MUST clause of every profile × product class has a case for the side the profile certifies, whose
  features the profile requires (or a documented not-applicable reason: the class excludes it, it binds the
  other side, or its case ends in a reason from the closed list).
- No suite case cites clauses of different levels (a MUST failure must not hide behind a SHOULD, nor a SHOULD
  failure block as a MUST): each case judges one level, or names the clause in its failure.
- Declaring less never helps: removing any one optional declaration from the reference product's manifest never
  turns a non-PASS into a PASS, for every “one case fails” outcome, through the real selection of a santong run.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
import yaml
from cf_fixtures import ROOT, SUITE
from santong.conformance._manifest import PRODUCT_CLASSES
from santong.conformance._profiles import profiles
from santong.conformance._results import PASS, CaseResult, Deselected, _judges, clause_table, verdict
from santong.protocols import clauses

HERE = Path(__file__).resolve().parent
REFERENCE = ROOT / "conformance" / "products" / "kj-substation.manifest.yaml"
#: Cases that can only end not applicable, with the reason (documented in SPEC.md's closed list).
ONLY_NOT_APPLICABLE = {"ST-PROTO-013": "platform_restart"}


def _collect(tmp: Path, *args: str) -> dict[str, Any]:
    out = tmp / f"collect-{len(list(tmp.glob('collect-*')))}.json"
    env = {
        **os.environ,
        "SC_COLLECT_OUT": str(out),
        "PYTHONPATH": str(HERE),
        "PYTEST_DISABLE_PLUGIN_AUTOLOAD": "1",
    }
    r = subprocess.run(
        [sys.executable, "-m", "pytest", "--collect-only", "-q", "-p", "no:cacheprovider",
         "-p", "santong.conformance.plugin", "-p", "sc_collect_plugin", str(SUITE), *args],
        capture_output=True, text=True, env=env, cwd=tmp, timeout=120,
    )  # fmt: skip
    assert out.is_file(), r.stdout[-2000:] + r.stderr[-2000:]
    data: dict[str, Any] = json.loads(out.read_text(encoding="utf-8"))
    return data


@pytest.fixture(scope="module")
def suite(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    return _collect(tmp_path_factory.mktemp("suite"))


def test_every_must_clause_of_every_profile_has_a_case(suite: dict[str, Any]) -> None:
    items = suite["items"]
    missing: list[str] = []
    for cls in PRODUCT_CLASSES:
        subject = "platform" if cls == "platform" else "product"
        for p in profiles().all_for(cls):
            if subject not in p.subjects:
                continue
            required = set(p.requires_features)
            for cid in p.must_ids():
                if not _judges(subject, cid) or cid in ONLY_NOT_APPLICABLE:
                    continue  # the other side's clause (N/A: subject), or documented N/A
                cases = [
                    i for i in items
                    if cid in i["clauses"] and i["subject"] == subject and set(i["features"]) <= required
                ]  # fmt: skip
                if not cases:
                    missing.append(f"{cls}/{p.name}: {cid}")
    assert not missing, "MUST clauses without a case the profile can run:\n" + "\n".join(missing)


def test_not_applicable_only_cases_exist(suite: dict[str, Any]) -> None:
    for cid in ONLY_NOT_APPLICABLE:
        assert any(cid in i["clauses"] for i in suite["items"]), cid


def test_no_case_mixes_clause_levels(suite: dict[str, Any]) -> None:
    cs = clauses()
    mixed = [
        f"{i['id']}: {i['clauses']}" for i in suite["items"] if len({cs[c].level for c in i["clauses"]}) > 1
    ]
    assert not mixed, "cases citing clauses of several levels:\n" + "\n".join(mixed)


def _variant(tmp: Path, name: str, drop_feature: str | None) -> Path:
    doc = yaml.safe_load(REFERENCE.read_text(encoding="utf-8"))
    doc["start"]["cwd"] = str(REFERENCE.parent)
    for item in doc.get("software", []):  # artefact files are relative to the manifest, which moves
        if "file" in item:
            item["file"] = str(REFERENCE.parent / item["file"])
    if drop_feature is not None:
        doc["features"] = [f for f in doc["features"] if f != drop_feature]
    path = tmp / f"{name}.manifest.yaml"
    path.write_text(yaml.safe_dump(doc, allow_unicode=True, sort_keys=False), encoding="utf-8")
    return path


def _verdict_with(run: dict[str, Any], failing: str | None) -> str:
    p = profiles().resolve(run["profile"], run["product_class"])
    cases = [
        CaseResult(
            c["id"], c["id"], tuple(c["clauses"]), verdict="failed" if c["id"] == failing else "passed"
        )
        for c in run["selected"]
    ]
    held = [
        Deselected(d["id"], tuple(d["clauses"]), d["reason"], tuple(d["features"])) for d in run["deselected"]
    ]
    rows = clause_table(p, "product", cases, held)
    missing = [f for f in p.requires_features if f not in run["features"]]
    return verdict(cases, rows, [], [], missing_features=missing)[0]


@pytest.mark.parametrize("profile", ["standard", "full"])
def test_declaring_less_never_helps(tmp_path: Path, profile: str) -> None:
    base_doc = yaml.safe_load(REFERENCE.read_text(encoding="utf-8"))
    base = _collect(
        tmp_path, "--santong-manifest", str(_variant(tmp_path, "base", None)), "--santong-profile", profile
    )
    assert _verdict_with(base, None) == PASS
    outcomes = {c["id"]: _verdict_with(base, c["id"]) for c in base["selected"]}
    assert any(v != PASS for v in outcomes.values())
    for feature in base_doc["features"]:
        run = _collect(
            tmp_path, "--santong-manifest", str(_variant(tmp_path, f"no-{feature}", feature)),
            "--santong-profile", profile,
        )  # fmt: skip
        assert feature not in run["features"]
        better = [
            case for case, v in outcomes.items()
            if v != PASS and _verdict_with(run, case) == PASS
        ]  # fmt: skip
        assert not better, f"dropping {feature} turns these failures into a PASS: {better[:5]}"
        if feature in profiles().resolve(profile, base_doc["product_class"]).requires_features:
            assert _verdict_with(run, None) != PASS, f"{feature} is required, yet all-pass without it is PASS"
