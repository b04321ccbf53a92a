"""Packaging: the mapped package list equals the folders with __init__.py; a wheel builds; no bare imports."""

from __future__ import annotations

import ast
import subprocess
import sys
import tomllib
import zipfile
from pathlib import Path

import pytest
from pk_source import source_copy

ROOT = Path(__file__).resolve().parents[2]
MAPPED = {
    "santong": "santong",
    "santong.protocols": "protocols",
    "santong.adapters": "adapters",
    "santong.mock_platform": "mock_platform",
    "santong.conformance": "conformance",
}
TOP = set(MAPPED.values()) - {"santong"}


def _config() -> dict:
    return tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))


def test_package_dir_map() -> None:
    assert _config()["tool"]["setuptools"]["package-dir"] == MAPPED


def test_package_list_equals_folders_with_init() -> None:
    found = set()
    for top, pkg in ((v, k) for k, v in MAPPED.items()):
        for init in (ROOT / top).rglob("__init__.py"):
            rel = init.parent.relative_to(ROOT / top)
            found.add(".".join([pkg, *rel.parts]) if rel.parts else pkg)
    assert set(_config()["tool"]["setuptools"]["packages"]) == found


def test_no_bare_imports_of_the_mapped_folders() -> None:
    bad = []
    for top in TOP:
        for path in (ROOT / top).rglob("*.py"):
            for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
                names = (
                    [a.name for a in node.names]
                    if isinstance(node, ast.Import)
                    else [node.module or ""]
                    if isinstance(node, ast.ImportFrom) and node.level == 0
                    else []
                )
                bad += [f"{path.relative_to(ROOT)}: import {n}" for n in names if n.split(".")[0] in TOP]
    assert not bad, bad


@pytest.mark.slow
def test_wheel_builds_and_holds_the_package_data(tmp_path: Path) -> None:
    subprocess.run(
        [
            sys.executable,
            "-m",
            "pip",
            "wheel",
            "--no-deps",
            "--no-build-isolation",
            "-q",
            "-w",
            str(tmp_path),
            str(
                source_copy(tmp_path / "src")
            ),  # built from the tree itself, setuptools writes build/ into it
        ],
        check=True,
        cwd=tmp_path,
    )
    wheel = next(tmp_path.glob("santong-*.whl"))
    names = set(zipfile.ZipFile(wheel).namelist())
    for must in (
        "santong/cli.py",
        "santong/protocols/v1/data_pb2.py",
        "santong/protocols/schemas/v1/ObservationBatch.schema.json",
        "santong/protocols/data/clauses.yaml",
        "santong/protocols/SPEC.md",
        "santong/adapters/__init__.py",
        "santong/mock_platform/__init__.py",
        "santong/conformance/__init__.py",
    ):
        assert must in names, must
    assert not any(n.startswith(("adapters/", "protocols/", "tests/")) for n in names)
