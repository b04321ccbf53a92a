"""`santong validate DIR`: a KJ export folder as a mine has it — summary, verdict, --json, --mapping, bad input."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

from santong.cli import main

CORPUS = Path(__file__).resolve().parents[2] / "protocols" / "examples" / "mt"
VENDOR = CORPUS / "vendor-codes-mapping-gbk"


def run(capsys: pytest.CaptureFixture[str], *args: str) -> tuple[int, str, str]:
    code = main(["validate", *args])
    out = capsys.readouterr()
    return code, out.out, out.err


def test_folder_summary_names_file_line_point_field_clause_and_fix(
    capsys: pytest.CaptureFixture[str],
) -> None:
    code, out, _ = run(capsys, str(CORPUS / "names-gbk-crlf"))
    assert code == 1
    assert "2 个 MT/T 文件 files，12 条记录 records" in out
    assert "跳过 skipped: expected.tsv" in out  # not silently
    assert "140421000001_CDSS_20250115103005.txt:7 [14042100000101MNA0010A01] 数据时间 (data time)" in out
    assert "ST-DATA-031  MUST            1" in out  # per clause, with the first example
    assert "改法 Fix: 该记录的时间晚于当前时间" in out
    assert out.rstrip().endswith("结论 Verdict: 不通过 FAIL — 0/2 个文件通过 files passed")


def test_definitions_are_read_first_whatever_the_names_sort_to(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    for f in (CORPUS / "names-gbk-crlf").glob("*.txt"):
        shutil.copy(f, tmp_path / f.name)
    # the CDSS file generated earlier than its CDDY: still judged after the definitions
    (tmp_path / "140421000001_CDDY_20250115103000.txt").rename(
        tmp_path / "140421000001_CDDY_20250115110000.txt"
    )
    _, out, _ = run(capsys, "--json", str(tmp_path))
    doc = json.loads(out)[0]
    assert [f["type"] for f in doc["files"]] == ["CDDY", "CDSS"]
    assert "ST-IFACE-004" not in doc["per_clause"]


def test_mapping_turns_vendor_codes_into_dictionary_types(capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = run(capsys, "--json", str(VENDOR))
    assert code == 1 and json.loads(out)[0]["per_clause"]["ST-DATA-010"] == 3
    code, out, _ = run(capsys, "--json", "--mapping", str(VENDOR / "site.yaml"), str(VENDOR))
    doc = json.loads(out)[0]
    assert code == 0 and doc["passed"] and doc["per_clause"] == {"ST-DATA-021": 1}
    f = doc["findings"][0]
    assert (f["file"], f["line"], f["point_code"], f["field_zh"], f["level"]) == (
        "140421000001_CDSS_20250115103005.txt", 5, "14042100000101MN00030A02", "测点值", "SHOULD"
    )  # fmt: skip
    assert f["fix_zh"] and f["fix_en"]
    code, _, _ = run(capsys, "--strict", "--mapping", str(VENDOR / "site.yaml"), str(VENDOR))
    assert code == 1  # the SHOULD finding fails under --strict


def test_mapping_applies_to_single_files_too(capsys: pytest.CaptureFixture[str]) -> None:
    cddy = str(VENDOR / "140421000001_CDDY_20250115103000.txt")
    assert run(capsys, cddy)[0] == 1
    assert run(capsys, "--mapping", str(VENDOR / "site.yaml"), cddy)[0] == 0


@pytest.mark.parametrize(
    ("text", "needle"),
    [('version: "1.0"\nsensor_types:\n  0001: A001\n', "quote the code"), ("version: [\n", "not UTF-8 YAML")],
)
def test_a_bad_mapping_is_a_usage_error_naming_the_fix(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], text: str, needle: str
) -> None:
    site = tmp_path / "site.yaml"
    site.write_text(text, "utf-8")
    code, _, err = run(capsys, "--mapping", str(site), str(VENDOR))
    assert code == 2 and needle in err and "Traceback" not in err


def test_folders_and_files_are_not_mixed(capsys: pytest.CaptureFixture[str]) -> None:
    code, _, err = run(capsys, str(VENDOR), str(VENDOR / "140421000001_CDDY_20250115103000.txt"))
    assert code == 2 and "separate runs" in err


def test_bad_files_in_a_folder_are_findings_not_a_crash(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    for sub in sorted((CORPUS / "bad").iterdir()):
        if sub.is_dir():
            for f in sub.iterdir():
                shutil.copy(
                    f, tmp_path / f"{f.name}" if not (tmp_path / f.name).exists() else tmp_path / f"x{f.name}"
                )
    code, out, _ = run(capsys, "--json", str(tmp_path))
    doc = json.loads(out)[0]
    assert code == 1 and not doc["passed"]
    assert {"ST-DATA-040", "ST-DATA-046"} <= set(doc["per_clause"])


def test_a_file_with_several_grammar_errors_lists_each_on_its_line(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    row = "14042100000101MNA0010A01;甲烷;T1;{v};%CH4;0;{t}~"
    lines = [
        "140421000001;示例煤矿;2025-01-15 10:30:05~",
        row.format(v="0.3", t="2025-01-15 10:30:00"),
        row.format(v="abc", t="2025-01-15 10:30:00"),
        row.format(v="0.3", t="2025-01-15 10:30:00"),
        row.format(v="0.3", t="2025/01/15 10:30"),
        "||",
    ]
    (tmp_path / "140421000001_CDSS_20250115103005.txt").write_text("\r\n".join(lines), encoding="utf-8")
    (tmp_path / "140421000001_FZSS_20250115103005.txt").write_bytes(b"\xff\xfe\xfa\xfb" * 8 + b"||")
    code, out, _ = run(capsys, "--json", str(tmp_path))
    doc = json.loads(out)[0]
    found = [
        (f["file"][13:17], f["line"], f["point_code"], f["field_zh"], f["clause_id"]) for f in doc["findings"]
    ]
    assert code == 1 and found == [
        ("CDSS", 3, "14042100000101MNA0010A01", "测点值", "ST-DATA-045"),
        ("CDSS", 5, "14042100000101MNA0010A01", "数据时间", "ST-DATA-044"),
        ("FZSS", 1, "", "", "ST-DATA-043"),  # a file that cannot be read: one finding
    ]
    assert all(f["fix_zh"] and f["fix_en"] for f in doc["findings"])
