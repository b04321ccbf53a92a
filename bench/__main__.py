"""Run every benchmark, write bench/results.json and print a table."""

from __future__ import annotations

import importlib
import json
import sys
from pathlib import Path

MODULES = [
    "bench.core_bench",
    "bench.mapping_bench",
    "bench.mtfile_bench",
    "bench.platform_bench",
    "bench.http_bench",
    "bench.modbus_bench",
    "bench.certify_bench",
]


def main() -> int:
    results: list[dict] = []
    failed = []
    only = sys.argv[1:]
    for name in MODULES:
        if only and not any(o in name for o in only):
            continue
        try:
            mod = importlib.import_module(name)
        except ModuleNotFoundError as e:
            print(f"跳过 skipped {name}: {e}", file=sys.stderr)
            continue
        try:
            results.extend(mod.run())
        except Exception as e:  # a failing benchmark is reported, the others still run
            failed.append(f"{name}: {e!r}")
    out = Path(__file__).resolve().parent / "results.json"
    out.write_text(json.dumps(results, ensure_ascii=False, indent=2) + "\n", encoding="utf-8")
    w = max((len(r["name"]) for r in results), default=10)
    print(f"{'name':<{w}}  {'value':>14}  {'unit':<10} {'baseline':>14}  {'ratio':>7}  baseline name")
    for r in results:
        print(
            f"{r['name']:<{w}}  {r['value']:>14,.0f}  {r['unit']:<10} {r['baseline_value']:>14,.0f}  {r['ratio']:>7.3f}  {r['baseline_name']}"
        )
    print(f"\n写入 written: {out}")
    for f in failed:
        print(f"失败 FAILED {f}", file=sys.stderr)
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
