"""The three verdicts of a run and their bilingual names (no imports: the CLI loads it eagerly)."""

__all__ = ["COULD_NOT_RUN", "FAIL", "PASS", "VERDICT_TEXT"]

PASS, FAIL, COULD_NOT_RUN = "PASS", "FAIL", "COULD_NOT_RUN"
VERDICT_TEXT = {PASS: "通过 PASS", FAIL: "不通过 FAIL", COULD_NOT_RUN: "无法运行 COULD NOT RUN"}
