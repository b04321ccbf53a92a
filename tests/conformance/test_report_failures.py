"""The HTML report's failures-first section, read from the page text (the browser test checks the layout)."""

from __future__ import annotations

from pathlib import Path

import pytest
from cf_fixtures import certify_cases
from santong.conformance._html import clean_message

pytestmark = pytest.mark.timeout(60)

CASES = """
import pytest

@pytest.mark.clause("ST-DATA-011")
def test_live_like(evidence):
    # As the live cases do: the platform's answer kept as a sample, the failure naming the path.
    evidence.sample("ReportObservations REJECTED seq=3", {"code": "INVALID_ARGUMENT", "violations": [
        {"clause_id": "ST-DATA-011", "level": "MUST", "path": "$.points[0].unit",
         "message_zh": "单位 “%” 不是规范单位", "message_en": "unit '%' is not the canonical unit"}]})
    pytest.fail("[ST-DATA-011] 1 个请求违反本条款 / 1 request broke the clause: $.points[0].unit", pytrace=False)

@pytest.mark.clause("ST-PROTO-005")
def test_passes():
    pass
"""


@pytest.fixture(scope="module")
def html(tmp_path_factory: pytest.TempPathFactory) -> str:
    folder = tmp_path_factory.mktemp("failures")
    _, out = certify_cases(folder, CASES, "basic", name="test_report_failures_cases.py")
    return (Path(out) / "report.html").read_text(encoding="utf-8")


def test_failing_clause_first_with_point_rule_and_fix(html: str) -> None:
    box = html.split("<section class='fail-box'>", 1)[1].split("</section>", 1)[0]
    assert html.index("fail-box") < html.index("<h2>产品")
    for text in (
        "ST-DATA-011",
        "标准单位",
        "Canonical unit",
        "14042100000101MNA0010A01",  # $.points[0] of the manifest, by its point code
        "15101 工作面上隅角 T0",
        "单位 “%” 不是规范单位",
        "从数据字典复制单位字符串",  # the catalogue's fix
        "Copy the unit string from the data dictionary",
    ):
        assert text in box, text
    assert "<details" not in box.split("ST-DATA-011", 1)[1].split("</div>", 1)[0]


def test_case_details_open_for_failures_only(html: str) -> None:
    failed = html.split("<code>test_report_failures_cases.py::test_live_like</code>", 1)[0].rsplit(
        "<details", 1
    )[1]
    assert failed.startswith(" open")
    passed = html.split("<code>test_report_failures_cases.py::test_passes</code>", 1)[0].rsplit(
        "<details", 1
    )[1]
    assert not passed.startswith(" open")


@pytest.mark.parametrize(
    ("raw", "clean"),
    [
        ("[ST-X] gap 12 s\nassert 12 < 3\n +  where 12 = max([1, 12])", "[ST-X] gap 12 s"),
        ("AssertionError: [ST-X] bad unit", "[ST-X] bad unit"),
        (
            "[ST-DATA-011 MUST] x\nassert not [Violation(clause_id='ST-DATA-011', path='$.a', message_zh='…')]",
            "[ST-DATA-011 MUST] x",
        ),
        ("AssertionError", ""),
        ("plain text / 纯文本", "plain text / 纯文本"),
    ],
)
def test_clean_message(raw: str, clean: str) -> None:
    assert clean_message(raw) == clean
