"""What the manifest declares — identity and points — passes the one validation core, clause by clause."""

from __future__ import annotations

import re
from collections.abc import Sequence
from typing import Any

import pytest
from santong.conformance import Declared, Evidence, Manifest, fail_clauses, not_applicable, not_demonstrated

# Clauses the core checks on a RegisterRequest built from identity:.
IDENTITY_CLAUSES = ("ST-DATA-001", "ST-DATA-028", "ST-DATA-029")
# Clauses the core (JSON stage and rules) checks on a DefinePointsRequest built from points: / points_file:.
POINT_CLAUSES = (
    "ST-DATA-002",
    "ST-DATA-003",
    "ST-DATA-004",
    "ST-DATA-005",
    "ST-DATA-009",
    "ST-DATA-010",
    "ST-DATA-011",
    "ST-DATA-012",
    "ST-DATA-013",
    "ST-DATA-014",
    "ST-DATA-015",
    "ST-DATA-016",
    "ST-DATA-017",
    "ST-DATA-030",
    "ST-DATA-031",
    "ST-DATA-033",
    "ST-DATA-034",
    "ST-DATA-035",
    "ST-DATA-037",
    "ST-PROTO-008",
)
# Clauses of the JSON form: they apply to inline points only.
JSON_STAGE = ("ST-DATA-030", "ST-DATA-034", "ST-DATA-035")
# The grammar of an MT/T 1201 CDDY file given as points_file:.
FILE_CLAUSES = (
    "ST-DATA-040",
    "ST-DATA-041",
    "ST-DATA-042",
    "ST-DATA-043",
    "ST-DATA-044",
    "ST-DATA-045",
    "ST-DATA-046",
    "ST-DATA-047",
)


def _per_clause(ids: tuple[str, ...]) -> list[object]:
    return [pytest.param(c, marks=pytest.mark.clause(c), id=c) for c in ids]


_POINT_PATH = re.compile(r"^\$\.points\[(\d+)\]\.?(.*)$")


def _where(v: Any, points: Sequence[Any]) -> dict[str, Any]:
    """Where a violation is, by point code rather than JSON path: point code, location, field, value, time."""
    m = _POINT_PATH.match(v.path)
    if m is None or int(m.group(1)) >= len(points):
        return {}
    p = points[int(m.group(1))]
    field = m.group(2).split(".")[0].split("[")[0]
    value = getattr(p, field, None) if field else None
    return {
        "point_code": p.point_code,
        "location": p.location,
        "field": field,
        "value": value if isinstance(value, str | int | float | bool) else None,
        "time": p.defined_at.ToJsonString() if p.HasField("defined_at") else None,
    }


def _record(v: Any, points: Sequence[Any] = ()) -> dict[str, Any]:
    """A violation as evidence, with the point it concerns (when its path names one)."""
    return {**v.as_dict(), **_where(v, points)}


def _explain(vs: Sequence[Any], points: Sequence[Any] = ()) -> str:
    """One line per violation, naming the point by its code: ``[ST-DATA-011 MUST] 测点 point 1404… （location）
    unit = 'ppm': …``. Plain text, so that no assertion repr reaches the report."""
    lines = []
    for v in vs:
        w = _where(v, points)
        if w:
            value = f" = {w['value']!r}" if w["value"] is not None else ""
            where = f"测点 point {w['point_code']}（{w['location']}） {w['field']}{value}"
        else:
            where = v.path
        lines.append(f"[{v.clause_id} {v.level}] {where}: {v.message_zh} / {v.message_en}")
    return "\n".join(lines)


@pytest.mark.parametrize("clause_id", _per_clause(IDENTITY_CLAUSES))
def test_declared_identity(clause_id: str, santong_declared: Declared, evidence: Evidence) -> None:
    """The identity the product registers with satisfies the clause."""
    vs = [v for v in santong_declared.register_violations if v.clause_id == clause_id]
    evidence.sample("register_request", santong_declared.register)
    evidence.record("violations", [v.as_dict() for v in vs])
    if vs:
        pytest.fail(_explain(vs), pytrace=False)


@pytest.mark.parametrize("clause_id", _per_clause(POINT_CLAUSES))
def test_declared_points(
    clause_id: str, santong_declared: Declared, santong_manifest: Manifest, evidence: Evidence
) -> None:
    """The declared point definitions satisfy the clause."""
    d = santong_declared
    if d.source == "none":
        if santong_manifest.product_class == "personnel_position":
            not_applicable(
                "product_class",
                "人员定位系统上报人员与区域，不上报测点",
                "a personnel-position system reports persons and areas, not points",
            )
        not_demonstrated(f"产品类别 {santong_manifest.product_class} 未声明测点", "no points declared")
    if clause_id in JSON_STAGE and d.source != "inline":
        not_applicable(
            "transport",
            "JSON 形式的条款只适用于内联（JSON）声明的测点，本产品用 MT/T 1201 CDDY 文件",
            "JSON-form clauses apply to points declared inline (JSON); this product uses an MT/T 1201 CDDY file",
        )
    vs = [v for v in d.points_violations if v.clause_id == clause_id]
    evidence.record("source", d.source)
    evidence.record("violations", [v.as_dict() for v in vs[:50]])
    evidence.record("violation_count", len(vs))
    if d.points is None:
        if vs:
            pytest.fail(_explain(vs), pytrace=False)
        blocker = sorted({v.clause_id for v in d.points_violations})
        fail_clauses(
            blocker,
            f"测点无法解码，{clause_id} 无法判定：先修正 {', '.join(blocker)}",
            f"the points could not be decoded, so {clause_id} cannot be judged: fix {', '.join(blocker)} first",
            cause={
                "key": "points_undecodable",
                "kind": "rejection",
                "root": blocker,
                "zh": f"声明的测点无法解码（{', '.join(blocker)}）",
                "en": f"the declared points could not be decoded ({', '.join(blocker)})",
            },
        )
    points = d.points.points
    evidence.record("violations", [_record(v, points) for v in vs[:50]])
    evidence.record("points", len(points))
    evidence.record("sensor_types", sorted({p.sensor_type for p in points}))
    evidence.sample("first_point", points[0])
    for v in vs[:3]:
        evidence.sample(f"violation {v.path}", _record(v, points))
    if vs:
        pytest.fail(_explain(vs, points), pytrace=False)


@pytest.mark.parametrize("clause_id", _per_clause(FILE_CLAUSES))
def test_points_file_grammar(clause_id: str, santong_declared: Declared, evidence: Evidence) -> None:
    """A points_file is a well-formed MT/T 1201 CDDY file."""
    if not santong_declared.source.startswith("file:"):
        not_applicable(
            "transport",
            "测点为内联（JSON）声明，没有 MT/T 1201 CDDY 文件可查",
            "points are declared inline (JSON): no MT/T 1201 CDDY file to check",
        )
    vs = [v for v in santong_declared.points_violations if v.clause_id == clause_id]
    evidence.record("file", santong_declared.source.removeprefix("file:"))
    evidence.record("violations", [v.as_dict() for v in vs])
    if vs:
        pytest.fail(_explain(vs), pytrace=False)
