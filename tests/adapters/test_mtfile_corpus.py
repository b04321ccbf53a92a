"""The MT/T 1201 example corpus (protocols/examples/mt): every folder gives exactly its hand-written findings.

Each folder's ``expected.tsv`` lists (file, 1-based line, point code, clause), written by hand from SPEC.md before
the code that makes it pass. ``bad/`` holds one bad file per MT/T clause, each judged alone.
"""

from __future__ import annotations

from pathlib import Path

import pytest

CORPUS = Path(__file__).resolve().parents[2] / "protocols" / "examples" / "mt"
FOLDERS = sorted(p for p in CORPUS.iterdir() if p.is_dir() and p.name != "bad")
Row = tuple[str, str, str, str]


def expected(path: Path) -> set[Row]:
    rows = set()
    for line in path.read_text(encoding="utf-8").splitlines():
        if line.strip() and not line.startswith("#"):
            file, lineno, point, clause = line.split("\t")
            rows.add((file, lineno, point, clause))
    return rows


def found(folder: Path, prefix: str = "") -> set[Row]:
    from santong.adapters.mtfile import validate_folder  # noqa: PLC0415

    mapping = folder / "site.yaml"
    result = validate_folder(folder, mapping=mapping if mapping.exists() else None)
    return {
        (prefix + f.file, str(f.line) if f.line else "-", f.point_code or "-", f.clause_id)
        for f in result.findings
    }


@pytest.mark.parametrize("folder", FOLDERS, ids=[p.name for p in FOLDERS])
def test_folder_gives_its_hand_written_findings(folder: Path) -> None:
    assert found(folder) == expected(folder / "expected.tsv")


def test_one_bad_file_per_mt_clause() -> None:
    bad = CORPUS / "bad"
    rows: set[Row] = set()
    for sub in sorted(p for p in bad.iterdir() if p.is_dir()):
        rows |= found(sub, prefix=f"{sub.name}/")
    assert rows == expected(bad / "expected.tsv")
    clauses = {f"ST-DATA-0{n}" for n in range(40, 48)}
    assert {r[3] for r in rows} == clauses
