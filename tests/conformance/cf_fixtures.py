"""Helpers for the conformance tests: manifests on disk, the pytester plugin, the bundled suite."""

from __future__ import annotations

import copy
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
import yaml

ROOT = Path(__file__).resolve().parents[2]
EXAMPLE_MANIFEST = ROOT / "conformance" / "examples" / "manifest.example.yaml"
SUITE = ROOT / "conformance" / "suite"

# A CDDY file with two valid definitions (MT/T 1201 grammar, dictionary codes).
CDDY_NAME = "140421000001_CDDY_20250115103000.txt"
CDDY_TEXT = (
    "140421000001;示例煤矿;2025-01-15 10:30:00~\r\n"
    "14042100000101MNA0010A01;01;140421000001F01;A001;MN;%CH4;4;0;1.0;1.0;;;1.5;1.0;;;;;15101 工作面 T0;"
    "1203.5;885.2;-412.0;;2025-01-15 10:30:00~\r\n"
    "14042100000101KGS0010K01;01;140421000001F01;S001;KG;;1;0;;;;;;;;;开;停;15101 采煤机;0;0;0;;"
    "2025-01-15 10:30:00~\r\n||"
)


def pytest_configure(config: pytest.Config) -> None:
    """pytester is not loaded by default; tests/ has no __init__.py, so load it here."""
    if not config.pluginmanager.has_plugin("pytester"):
        config.pluginmanager.import_plugin("pytester")


@pytest.fixture(autouse=True, scope="session")
def _preload() -> None:
    """Import what active runs load lazily, once: in-process pytester runs drop modules imported during a run."""
    import importlib

    for name in (
        "santong.conformance._session",
        "santong.conformance._report",
        "santong.conformance._html",
        "santong.conformance._declared",
        "santong.adapters.mtfile",
        "cryptography.hazmat.primitives.asymmetric.ed25519",
        "cryptography.hazmat.primitives.serialization",
        "jsonschema",
    ):
        importlib.import_module(name)


def example_manifest() -> dict[str, Any]:
    """The bundled example manifest as a dict, started externally."""
    d = yaml.safe_load(EXAMPLE_MANIFEST.read_text(encoding="utf-8"))
    d["start"] = "external"
    return d


def write_manifest(
    folder: Path, doc: dict[str, Any] | None = None, name: str = "manifest.yaml", **changes: Any
) -> Path:
    """Write a manifest (the example, with top-level keys changed or, for None values, removed)."""
    d = copy.deepcopy(doc) if doc is not None else example_manifest()
    for k, v in changes.items():
        if v is None:
            d.pop(k, None)
        else:
            d[k] = v
    path = folder / name
    path.write_text(yaml.safe_dump(d, allow_unicode=True, sort_keys=False), encoding="utf-8")
    return path


def certify_cases(
    folder: Path, cases: str, profile: str, *options: str, name: str = "test_cases.py"
) -> tuple[int, Path]:
    """Certify a small suite in-process: ``cases`` (the text of a test module) against the example manifest with
    the santong plugin, under ``profile`` and any further ``--santong-…`` options; (pytest's exit code, the report
    folder)."""
    (folder / name).write_text(cases, encoding="utf-8")
    manifest = write_manifest(folder)
    out = folder / "out"
    code = pytest.main(
        [str(folder), "-q", "-p", "no:cacheprovider", "-p", "no:asyncio", "--rootdir", str(folder),
         "--santong-manifest", str(manifest), "--santong-profile", profile, *options, "--santong-report-dir", str(out)]
    )  # fmt: skip
    return int(code), out


@pytest.fixture
def manifest_file(tmp_path: Path) -> Callable[..., Path]:
    """Write a manifest into tmp_path: ``manifest_file(features=["backfill"])``."""

    def make(doc: dict[str, Any] | None = None, name: str = "manifest.yaml", **changes: Any) -> Path:
        return write_manifest(tmp_path, doc, name, **changes)

    return make


def mini_profiles(folder: Path, *clause_ids: str, requires: tuple[str, ...] = ()) -> Path:
    """A profiles file (``--santong-profiles``) whose basic/standard/full profiles hold exactly ``clause_ids``:
    a small test suite can then be certified without the whole catalogue being not demonstrated."""
    bundled = yaml.safe_load((ROOT / "conformance" / "profiles.yaml").read_text(encoding="utf-8"))
    profiles = {}
    for name, zh in (("basic", "基础"), ("standard", "标准"), ("full", "完整")):
        profiles[name] = {
            "name_zh": zh,
            "name_en": name.title(),
            "aliases": [zh],
            "description_zh": "测试用配置",
            "description_en": "a profile for tests",
            "subjects": ["product"],
            "include": list(clause_ids),
            "requires_features": list(requires),
        }
    classes = {k: {"exclude": v.get("exclude", [])} for k, v in bundled["classes"].items()}
    path = folder / "profiles.yaml"
    path.write_text(
        yaml.safe_dump({"version": 1, "profiles": profiles, "classes": classes}, allow_unicode=True),
        encoding="utf-8",
    )
    return path
