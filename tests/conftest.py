"""Shared fixtures for every santong test."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
EXAMPLES = ROOT / "protocols" / "examples"


@pytest.fixture(scope="session")
def reference_session() -> list[tuple[str, dict]]:
    """The bundled valid session: (message type, JSON body) pairs in order."""
    out = []
    for line in (EXAMPLES / "reference-session.jsonl").read_text(encoding="utf-8").splitlines():
        d = json.loads(line)
        out.append((d["type"], d["message"]))
    return out
