"""Every clause checked by the core has a rule, and every rule names a clause of the catalogue."""

from __future__ import annotations

import re
from pathlib import Path

from santong.protocols import RULES, SCHEMA_CLAUSES, clauses

ROOT = Path(__file__).resolve().parents[2]


def _declared() -> set[str]:
    from santong.adapters.mtfile import CLAUSES_CHECKED

    out = set(SCHEMA_CLAUSES) | set(CLAUSES_CHECKED)
    for _fn, ids in RULES.values():
        out |= set(ids)
    return out


def test_core_clauses_have_rules() -> None:
    core = {c.id for c in clauses().values() if "core" in c.checked_by}
    missing = core - _declared()
    assert not missing, f"clauses marked checked_by core with no rule: {sorted(missing)}"


def test_rules_name_known_clauses() -> None:
    unknown = _declared() - set(clauses())
    assert not unknown, unknown


def test_every_clause_cited_in_code_exists() -> None:
    """Clause IDs written anywhere in the code are in the catalogue."""
    pattern = re.compile(r"ST-(?:DATA|IFACE|PROTO)-[0-9]{3}")
    known = set(clauses())
    for folder in ("protocols", "adapters", "mock_platform", "conformance", "santong"):
        for path in (ROOT / folder).rglob("*.py"):
            for cid in pattern.findall(path.read_text(encoding="utf-8")):
                assert cid in known, f"{path.relative_to(ROOT)} cites unknown clause {cid}"


def test_clause_levels_and_pillars() -> None:
    cs = clauses()
    assert len(cs) >= 60
    for pillar in ("DATA", "IFACE", "PROTO"):
        assert any(cid.startswith(f"ST-{pillar}-") for cid in cs)
    assert {c.level for c in cs.values()} <= {"MUST", "SHOULD", "MAY"}
