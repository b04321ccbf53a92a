"""The clause catalogue (protocols/data/clauses.yaml) and the data dictionary and coding rules."""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from functools import cache
from importlib import resources
from typing import Any

import yaml
from santong.protocols._errors import Violation

__all__ = [
    "Clause",
    "build_clauses",
    "violation",
    "CodeRule",
    "SensorType",
    "clause",
    "clauses",
    "code_rules",
    "load_data",
    "sensor_types",
    "spec_version",
]


@cache
def load_data(name: str) -> Any:
    """Load a bundled data file (YAML or JSON) from santong.protocols/data."""
    text = resources.files("santong.protocols").joinpath("data", name).read_text(encoding="utf-8")
    return yaml.safe_load(text)


@dataclass(frozen=True, slots=True)
class Clause:
    """One numbered rule of the specification."""

    id: str
    level: str
    title_zh: str
    title_en: str
    text_zh: str
    text_en: str
    applies_to: tuple[str, ...]
    checked_by: tuple[str, ...]
    fix_zh: str = ""
    fix_en: str = ""
    #: The fix for whoever holds an MT/T file (the mine engineer), where it differs from the vendor's fix.
    fix_holder_zh: str = ""
    fix_holder_en: str = ""
    #: The interface version the clause's subject exists from (a field or command added in it), or "" when it
    #: exists in every version. A product that negotiated an older version (ST-PROTO-004) is not bound by it.
    since: str = ""


@cache
def clauses() -> dict[str, Clause]:
    """Every clause by ID, in catalogue order."""
    return build_clauses(load_data("clauses.yaml"), load_data("versions.json")["versions"])


def build_clauses(catalogue: dict[str, Any], versions: list[str]) -> dict[str, Clause]:
    """The clauses of a catalogue document; ValueError names a ``since`` that is no interface version of
    ``versions`` (versions.json)."""
    out: dict[str, Clause] = {}
    for c in catalogue["clauses"]:
        since = str(c.get("since") or "")
        if since and since not in versions:
            raise ValueError(
                f"条款 {c['id']} 的 since {since!r} 不是接口版本（{', '.join(versions)}）/ clause {c['id']}: since "
                f"{since!r} is not an interface version ({', '.join(versions)})"
            )
        out[c["id"]] = Clause(
            id=c["id"],
            level=c["level"],
            title_zh=c["title_zh"],
            title_en=c["title_en"],
            text_zh=c["text_zh"],
            text_en=c["text_en"],
            applies_to=tuple(c.get("applies_to", ())),
            checked_by=tuple(c.get("checked_by", ())),
            fix_zh=c.get("fix_zh", ""),
            fix_en=c.get("fix_en", ""),
            fix_holder_zh=c.get("fix_holder_zh", ""),
            fix_holder_en=c.get("fix_holder_en", ""),
            since=since,
        )
    return out


def clause(clause_id: str) -> Clause:
    """The clause with this ID; KeyError names unknown IDs."""
    try:
        return clauses()[clause_id]
    except KeyError:
        raise KeyError(f"未知条款 unknown clause ID: {clause_id}") from None


def violation(clause_id: str, path: str, zh: str, en: str) -> Violation:
    """A violation of clause_id at path: the clause title first, the fix last, level from the catalogue."""
    c = clause(clause_id)
    fix_zh = f"。{c.fix_zh}" if c.fix_zh else ""
    fix_en = f". {c.fix_en}" if c.fix_en else ""
    return Violation(clause_id, path, f"{c.title_zh}：{zh}{fix_zh}", f"{c.title_en}: {en}{fix_en}", c.level)


def spec_version() -> str:
    """The version of the specification the catalogue describes."""
    return str(load_data("clauses.yaml")["spec_version"])


@dataclass(frozen=True, slots=True)
class SensorType:
    """One entry of the data dictionary."""

    code: str
    name_zh: str
    name_en: str
    unit: str
    value_kind: str
    range_low: float
    range_high: float
    thresholds: dict[str, float] = field(default_factory=dict)
    regulation: dict[str, float] = field(default_factory=dict)
    legacy: dict[str, str | None] = field(default_factory=dict)
    #: Physical limits (ST-DATA-048): no real reading lies beyond them; ±inf where the quantity has none.
    physical_low: float = float("-inf")
    physical_high: float = float("inf")


@cache
def sensor_types() -> dict[str, SensorType]:
    """The data dictionary by sensor-type code, legacy codes included as aliases."""
    out: dict[str, SensorType] = {}
    for e in load_data("dictionary.yaml")["sensor_types"]:
        low, high = e["range"]
        p_low, p_high = e.get("physical") or (None, None)
        st = SensorType(
            code=e["code"],
            name_zh=e["name_zh"],
            name_en=e["name_en"],
            unit=e["unit"],
            value_kind=e["value_kind"],
            range_low=float(low),
            range_high=float(high),
            thresholds=dict(e.get("thresholds") or {}),
            regulation=dict(e.get("regulation") or {}),
            legacy=dict(e.get("legacy") or {}),
            physical_low=float("-inf") if p_low is None else float(p_low),
            physical_high=float("inf") if p_high is None else float(p_high),
        )
        out[st.code] = st
    for st in list(out.values()):
        for legacy in st.legacy.values():
            if legacy and str(legacy) not in out:
                out[str(legacy)] = st
    return out


@dataclass(frozen=True, slots=True)
class CodeRule:
    """A coding rule (Annex A): the pattern a kind of code must match and the clause it enforces."""

    kind: str
    clause: str
    pattern: re.Pattern[str]
    name_zh: str
    name_en: str
    example: str


@cache
def code_rules() -> dict[str, CodeRule]:
    """The coding rules by kind (mine, point, outstation, card, area, station, system)."""
    data = load_data("coding_rules.yaml")
    return {
        kind: CodeRule(
            kind=kind,
            clause=r["clause"],
            pattern=re.compile(r["pattern"]),
            name_zh=r["name_zh"],
            name_en=r["name_en"],
            example=r["example"],
        )
        for kind, r in data["codes"].items()
    }
