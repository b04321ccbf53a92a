"""The breaking-change gate: each kind of JSON Schema break is caught, compatible changes pass, and the frozen
v1.0 baseline (buf image + schema copy) catches a proto break and a schema break in a temp copy of the tree."""

from __future__ import annotations

import copy
import importlib.util
import json
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from santong.protocols import load_schema, schema_names

ROOT = Path(__file__).resolve().parents[2]
spec = importlib.util.spec_from_file_location("schema_breaking", ROOT / "scripts" / "schema_breaking.py")
assert spec and spec.loader
sb = importlib.util.module_from_spec(spec)
sys.modules["schema_breaking"] = sb
spec.loader.exec_module(sb)


def _current() -> dict[str, dict]:
    return {f"{n}.schema.json": copy.deepcopy(load_schema(n)) for n in schema_names()}


def test_identical_is_compatible() -> None:
    assert sb.compare_sets(_current(), _current()) == []


def test_adding_an_optional_field_is_compatible() -> None:
    new = _current()
    new["ObservationBatch.schema.json"]["properties"]["quality"] = {"type": "integer"}
    assert sb.compare_sets(_current(), new) == []


@pytest.mark.parametrize(
    "mutate, expect",
    [
        (lambda s: s.pop("Alarm.schema.json"), "message schema removed"),
        (lambda s: s["ObservationBatch.schema.json"]["properties"].pop("status"), "field removed"),
        (
            lambda s: s["ObservationBatch.schema.json"].setdefault("required", []).append("alias"),
            "newly required",
        ),
        (
            lambda s: s["ObservationBatch.schema.json"]["properties"].__setitem__(
                "backfill", {"type": "string"}
            ),
            "type narrowed",
        ),
        (
            lambda s: s["Alarm.schema.json"]["properties"]["anomaly_type"]["enum"].remove(
                "ANOMALY_TYPE_LOW_WARNING"
            ),
            "enum values removed",
        ),
        (
            lambda s: s["ObservationBatch.schema.json"]["properties"]["alias"]["items"].__setitem__(
                "maximum", 65535
            ),
            "tightened",
        ),
        (
            lambda s: s["ObservationBatch.schema.json"]["properties"]["base_time"].__setitem__(
                "pattern", "^x$"
            ),
            "pattern",
        ),
        (
            lambda s: s["ReportObservationsRequest.schema.json"]["$defs"]["ObservationBatch"][
                "properties"
            ].pop("value"),
            "field removed",
        ),
    ],
)
def test_breaking_changes_are_caught(mutate, expect: str) -> None:  # type: ignore[no-untyped-def]
    new = _current()
    mutate(new)
    problems = sb.compare_sets(_current(), new)
    assert any(expect in p for p in problems), problems


def test_against_a_git_revision() -> None:
    head = subprocess.run(["git", "rev-parse", "HEAD"], cwd=ROOT, capture_output=True, text=True)
    if head.returncode != 0:
        pytest.skip("不是 git 检出 / not a git checkout")
    old = sb.schemas_at("HEAD")
    assert "ObservationBatch.schema.json" in old


# --- the frozen baseline (protocols/baseline) -------------------------------------------------------------------

BASELINE = ROOT / "protocols" / "baseline" / "v1.0"
DATA_PROTO = Path("protocols/proto/santong/protocols/v1/data.proto")
needs_buf = pytest.mark.skipif(not sb.BUF.is_file(), reason="buf 未安装（make buf-lint）/ buf not installed")


def _gate(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, str(ROOT / "scripts" / "schema_breaking.py"), *args],
        capture_output=True,
        text=True,
        timeout=120,
    )


@pytest.fixture
def tree(tmp_path: Path) -> Path:
    """A copy of what the gate reads: buf.yaml, the .proto files and the JSON Schemas."""
    src = tmp_path / "src"
    shutil.copytree(ROOT / "protocols" / "proto", src / "protocols" / "proto")
    shutil.copytree(ROOT / "protocols" / "schemas", src / "protocols" / "schemas")
    shutil.copyfile(ROOT / "buf.yaml", src / "buf.yaml")
    return src


def _edit(path: Path, old: str, new: str) -> None:
    text = path.read_text(encoding="utf-8")
    assert old in text, old
    path.write_text(text.replace(old, new, 1), encoding="utf-8")


def test_baseline_v1_0_is_committed_and_intact() -> None:
    assert sb.baselines()[0].name == "v1.0"
    assert (BASELINE / "image.binpb").stat().st_size > 1000
    frozen = {p.name.removesuffix(".schema.json") for p in (BASELINE / "schemas").glob("*.schema.json")}
    assert frozen and frozen <= set(
        schema_names()
    )  # every v1.0 message is still there; new ones are additive
    assert sb.tampered(BASELINE) == []


def test_changelog_records_every_baseline() -> None:
    log = (ROOT / "protocols" / "CHANGELOG.md").read_text(encoding="utf-8")
    headings = set(re.findall(r"^## (v\d+\.\d+)\b", log, re.M))
    assert {b.name for b in sb.baselines()} <= headings


@needs_buf
def test_working_tree_is_compatible_with_the_baseline() -> None:
    r = _gate()
    assert r.returncode == 0, r.stderr
    assert "v1.0" in r.stdout


@needs_buf
def test_additive_change_passes(tree: Path) -> None:
    _edit(tree / DATA_PROTO, "  bool backfill = 7;\n}", "  bool backfill = 7;\n  uint32 quality = 8;\n}")
    schema = tree / "protocols/schemas/v1/ObservationBatch.schema.json"
    doc = json.loads(schema.read_text(encoding="utf-8"))
    doc["properties"]["quality"] = {"type": "integer", "minimum": 0}
    schema.write_text(json.dumps(doc), encoding="utf-8")
    r = _gate("--source", str(tree))
    assert r.returncode == 0, r.stderr


@needs_buf
@pytest.mark.parametrize(
    "old, new, expect",
    [
        ("  bool backfill = 7;\n", "", "backfill"),  # field removed
        ("bool backfill = 7;", "bool backfill = 9;", "backfill"),  # field renumbered
        ("repeated double value = 4;", "repeated float value = 4;", "value"),  # type changed
    ],
)
def test_proto_break_is_caught_by_buf(tree: Path, old: str, new: str, expect: str) -> None:
    _edit(tree / DATA_PROTO, old, new)
    r = _gate("--source", str(tree))
    assert r.returncode == 1, r.stdout + r.stderr
    assert "(proto)" in r.stderr and expect in r.stderr
    assert "v1.0" in r.stderr and "CHANGELOG" in r.stderr


@needs_buf
def test_schema_break_is_caught(tree: Path) -> None:
    schema = tree / "protocols/schemas/v1/ObservationBatch.schema.json"
    doc = json.loads(schema.read_text(encoding="utf-8"))
    doc.setdefault("required", []).append("sequence")
    schema.write_text(json.dumps(doc), encoding="utf-8")
    r = _gate("--source", str(tree))
    assert r.returncode == 1, r.stdout + r.stderr
    assert "(JSON Schema)" in r.stderr and "newly required" in r.stderr
    assert "(proto)" not in r.stderr


@needs_buf
def test_removed_schema_file_is_caught(tree: Path) -> None:
    (tree / "protocols/schemas/v1/Alarm.schema.json").unlink()
    r = _gate("--source", str(tree))
    assert r.returncode == 1
    assert "Alarm.schema.json" in r.stderr and "message schema removed" in r.stderr


def test_edited_baseline_is_refused(tmp_path: Path) -> None:
    copy_ = tmp_path / "v1.0"
    shutil.copytree(BASELINE, copy_)
    target = copy_ / "schemas" / "ObservationBatch.schema.json"
    target.write_text(
        target.read_text(encoding="utf-8").replace('"backfill"', '"backfill2"'), encoding="utf-8"
    )
    r = _gate("--baseline", str(copy_))
    assert r.returncode == 1
    assert "frozen" in r.stderr and "ObservationBatch.schema.json" in r.stderr


def test_freeze_refuses_to_overwrite_a_baseline() -> None:
    r = _gate("--freeze", "v1.0")
    assert r.returncode == 2
    assert "frozen" in r.stderr
    assert sb.tampered(BASELINE) == []


def test_freeze_rejects_a_bad_version_name() -> None:
    r = _gate("--freeze", "1.0")
    assert r.returncode == 2 and "vMAJOR.MINOR" in r.stderr


def test_generate_does_not_write_the_baseline() -> None:
    # scripts/generate.py reads the frozen baselines (protocols/data/versions.json is derived from them) but never
    # writes one: no output lies under protocols/baseline.
    import importlib.util  # noqa: PLC0415

    spec = importlib.util.spec_from_file_location("santong_generate", ROOT / "scripts" / "generate.py")
    assert spec is not None and spec.loader is not None
    gen = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(gen)
    outputs = list(gen.expected_files())
    assert outputs and ROOT / "protocols" / "data" / "versions.json" in outputs
    assert not [p for p in outputs if (ROOT / "protocols" / "baseline") in p.parents]
