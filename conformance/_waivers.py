"""Waivers (豁免): known failures that run as strict xfails until they expire."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from santong.conformance._documents import ConfigError, load_document, schema_problems
from santong.protocols import clauses

__all__ = ["Waiver", "load_waivers"]


@dataclass(frozen=True, slots=True)
class Waiver:
    """One waiver: a clause or a case, who owns it, why, and until when (inclusive)."""

    index: int
    owner: str
    reason: str
    expires: dt.date
    clause: str | None = None
    case: str | None = None

    @property
    def target(self) -> str:
        """The waived clause ID or case ID."""
        return self.clause or self.case or ""

    def expired(self, today: dt.date) -> bool:
        """True after the expiry date."""
        return today > self.expires

    def matches(self, nodeid: str, clause_ids: tuple[str, ...]) -> bool:
        """Whether a case (node ID, cited clauses) is covered by this waiver."""
        if self.clause is not None:
            return self.clause in clause_ids
        case = self.case or ""
        return nodeid == case or nodeid.endswith("/" + case) or nodeid.endswith("::" + case)

    def as_dict(self) -> dict[str, Any]:
        """JSON form."""
        return {
            "clause": self.clause,
            "case": self.case,
            "owner": self.owner,
            "reason": self.reason,
            "expires": self.expires.isoformat(),
        }


def load_waivers(path: str | Path) -> list[Waiver]:
    """Load and validate a waiver file; ConfigError on unknown clauses or malformed entries."""
    doc = load_document(Path(path), "豁免清单", "waiver file")
    problems = schema_problems(doc, "waivers")
    entries = doc.data.get("waivers") if isinstance(doc.data, dict) else None
    out = []
    known = clauses()
    for i, w in enumerate(entries if isinstance(entries, list) else []):
        if not isinstance(w, dict):
            continue
        if isinstance(w.get("clause"), str) and w["clause"] not in known:
            problems.append(
                doc.problem(
                    ["waivers", i, "clause"],
                    f"条款 {w['clause']} 不在条款目录中",
                    f"clause {w['clause']} is not in the catalogue",
                )
            )
            continue
        try:
            expires = dt.date.fromisoformat(str(w.get("expires")))
        except ValueError:
            continue  # reported by the schema
        if problems:
            continue
        out.append(Waiver(i, w["owner"], w["reason"], expires, w.get("clause"), w.get("case")))
    if problems:
        raise ConfigError(problems, "豁免清单", "waiver file")
    return out
