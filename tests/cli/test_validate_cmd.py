"""`santong validate` and `santong demo` through the real command line."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from santong.cli import main

ROOT = Path(__file__).resolve().parents[2]
EX = ROOT / "protocols" / "examples"
MT_BAD = ROOT / "tests" / "adapters" / "mtfiles" / "bad"


def test_good_session_and_mt_files_pass(capsys: pytest.CaptureFixture[str]) -> None:
    files = [EX / "reference-session.jsonl", *sorted(EX.glob("*.txt"))]
    assert main(["validate", *map(str, files)]) == 0
    out = capsys.readouterr().out
    assert out.count("✔ 通过 PASS") == len(files)
    assert f"{len(files)}/{len(files)}" in out


@pytest.mark.parametrize(
    "name, clause",
    [("bad/unit.DefinePointsRequest.json", "ST-DATA-011"), ("bad/local-time.ObservationBatch.json", "ST-DATA-030"),
     ("bad/unknown-field.ObservationBatch.json", "ST-DATA-034"), ("bad/columns.ObservationBatch.json", "ST-IFACE-005"),
     ("bad/truncated/140421000001_CDSS_20250115103005.txt", "ST-DATA-041"), ("bad/wrong-unit/140421000001_CDSS_20250115103010.txt", "ST-DATA-011")],
)  # fmt: skip
def test_bad_files_fail_naming_the_clause(capsys: pytest.CaptureFixture[str], name: str, clause: str) -> None:
    assert main(["validate", str(EX / name)]) == 1
    out = capsys.readouterr().out
    assert "✘ 不通过 FAIL" in out and clause in out


@pytest.mark.parametrize("folder", sorted(p.name for p in MT_BAD.iterdir()) if MT_BAD.exists() else [])
def test_every_malformed_mt_file_names_its_clause(capsys: pytest.CaptureFixture[str], folder: str) -> None:
    files = list((MT_BAD / folder).glob("*"))
    assert main(["validate", "--json", *map(str, files)]) == 1
    result = json.loads(capsys.readouterr().out)
    expected = f"ST-DATA-{folder[:3]}"
    assert all(not r["passed"] for r in result)
    assert expected in {v["clause_id"] for r in result for v in r["violations"]}


def test_type_option_and_unknown_type(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    doc = tmp_path / "batch.json"
    doc.write_text(
        '{"sequence": "1", "base_time": "2025-01-15T02:30:00Z", "alias": [1], "value": [0.1], "time_offset_ms": [0], "status": [0]}'
    )
    assert main(["validate", str(doc)]) == 2  # could not be checked: a usage error
    assert "无法确定消息类型" in capsys.readouterr().out
    assert main(["validate", "--type", "ObservationBatch", str(doc)]) == 1  # alias 1 is not defined
    assert "ST-IFACE-004" in capsys.readouterr().out


def test_garbage_never_crashes(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    for name, data in (
        ("x.ObservationBatch.json", b"\xff\x00{"),
        ("s.jsonl", b"{}\n[1]\nnot json\n"),
        ("140421000001_CDSS_20250115103000.txt", b"\x00" * 10),
    ):
        (tmp_path / name).write_bytes(data)
        assert main(["validate", str(tmp_path / name)]) == 1
    assert main(["validate", str(tmp_path / "missing.json")]) == 2  # a missing file is a usage error
    capsys.readouterr()


def test_demo_and_console_script(tmp_path: Path) -> None:
    exe = shutil.which("santong", path=str(Path(sys.executable).parent))
    assert exe, "the santong console script is installed"
    done = subprocess.run([exe, "demo", "--validate-examples"], capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stdout + done.stderr
    assert (
        "演示成功 DEMO OK" in done.stdout
    )  # the real demo (certification) runs in tests/conformance/test_selfcheck.py
    # a demo whose bad example passes must fail
    ex = tmp_path / "ex"
    shutil.copytree(EX, ex)
    shutil.copy(EX / "reference-session.jsonl", ex / "bad" / "sneaky.jsonl")
    done = subprocess.run(
        [exe, "demo", "--validate-examples", "--examples", str(ex)],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 1 and "sneaky.jsonl" in done.stdout


def test_subcommands_load_lazily() -> None:
    """`santong mock serve` must run where pytest is absent (the container image): only its module loads."""
    code = "import sys; from santong.cli import build_parser; build_parser('mock'); print(sorted(m for m in ('pytest', 'santong.conformance._certify_cmd') if m in sys.modules))"
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
    assert done.stdout.strip() == "[]", done.stdout + done.stderr


def test_large_cdss_file_is_checked_in_batches_within_the_limit(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    from datetime import UTC, datetime

    from santong.adapters.mtfile import write_file

    t = "2025-01-15 10:30:00"
    records = [
        [f"14042100000101MNA001{i:04d}", "A001", f"point {i}", "0.3", "%CH4", "0", t] for i in range(25_000)
    ]
    name, data = write_file(
        "140421000001", "示例煤矿", "CDSS", records, datetime(2025, 1, 15, 2, 30, tzinfo=UTC)
    )
    (tmp_path / name).write_bytes(data)
    assert main(["validate", "--json", str(tmp_path / name)]) == 0
    result = json.loads(capsys.readouterr().out)
    assert result[0]["checked"] == 25_000 and result[0]["violations"] == []
