"""`santong demo`: the main job on the embedded default.

Until certification lands, the demo validates the bundled example payloads and files with the one
validation core and prints a verdict per file; good examples must pass and those under bad/ must fail.
"""

from __future__ import annotations

import argparse
from importlib import resources
from pathlib import Path

from santong._validate_cmd import print_result, validate_file


def add_arguments(p: argparse.ArgumentParser) -> None:
    """Arguments of `santong demo`."""
    p.add_argument("--examples", type=Path, help="示例目录 folder of examples (default: the bundled ones)")


def run(args: argparse.Namespace) -> int:
    """Validate every bundled example; exit 0 when each verdict is the expected one."""
    folder = args.examples or Path(str(resources.files("santong.protocols").joinpath("examples")))
    files = sorted(p for p in folder.rglob("*") if p.suffix in (".json", ".jsonl", ".txt"))
    print(
        f"santong 演示 demo: 用校验核心检查 {len(files)} 个示例文件 / checking {len(files)} example files\n"
    )
    wrong = []
    for path in files:
        res = validate_file(path)
        expected_pass = "bad" not in path.relative_to(folder).parts
        print_result(res, strict=False)
        if res.passed != expected_pass:
            wrong.append(path.name)
            print(
                f"    ⚠ 预期{'通过' if expected_pass else '不通过'} / expected to {'pass' if expected_pass else 'fail'}"
            )
    print()
    if wrong:
        print(
            f"演示失败 DEMO FAILED: {len(wrong)} 个文件结论与预期不符 / verdicts not as expected: {', '.join(wrong)}"
        )
        return 1
    print(
        f"演示成功 DEMO OK: {len(files)} 个文件结论均符合预期（合格样例通过，问题样例被拒绝并指明条款）/ every verdict as expected"
    )
    return 0
