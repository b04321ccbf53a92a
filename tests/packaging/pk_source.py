"""A copy of what a wheel is built from (pyproject.toml, the readme and the mapped package folders), so that
building one writes nothing into the source tree (setuptools puts its ``build/`` beside pyproject.toml) and no
stale ``build/`` or cache of the tree leaks into the wheel."""

from __future__ import annotations

import shutil
import tomllib
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def source_copy(dest: Path) -> Path:
    """pyproject.toml, README.md and the mapped package folders, without caches and run outputs, in ``dest``."""
    config = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))
    ignore = shutil.ignore_patterns(
        "__pycache__", "*.pyc", "*.egg-info", "demo-out", "report", "*.db", "*.db-*", "*.db.lock"
    )
    dest.mkdir()
    for name in ("pyproject.toml", config["project"]["readme"]):
        shutil.copy2(ROOT / name, dest / name)
    for folder in sorted(set(config["tool"]["setuptools"]["package-dir"].values())):
        shutil.copytree(ROOT / folder, dest / folder, ignore=ignore)
    return dest
