"""Our JSON Schema breaking-change check: each kind of break is caught, compatible changes pass."""

from __future__ import annotations

import copy
import importlib.util
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
