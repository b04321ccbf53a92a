"""Run every benchmark, write bench/results.json and print a table.

Each benchmark says when it starts and when it ends (with its figures and how long it took), as it happens:
`make bench` takes minutes and is never silent for long. ``python -m bench core mtfile`` runs a subset;
``--out FILE`` writes the results elsewhere than bench/results.json.
"""

from __future__ import annotations

import importlib
import json
import sys
import time
from pathlib import Path

MODULES = [
    "bench.core_bench",
    "bench.mapping_bench",
    "bench.mtfile_bench",
    "bench.platform_bench",
    "bench.http_bench",
    "bench.modbus_bench",
    "bench.certify_bench",
    "bench.load_bench",
]


def _say(text: str) -> None:
    print(text, flush=True)


def main() -> int:
    results: list[dict] = []
    failed = []
    args = sys.argv[1:]
    out = Path(__file__).resolve().parent / "results.json"
    if "--out" in args:
        i = args.index("--out")
        if i + 1 >= len(args):
            print("用法 usage: python -m bench [NAME …] [--out FILE]", file=sys.stderr)
            return 2
        out = Path(args[i + 1])
        del args[i : i + 2]
    only = args
    chosen = [n for n in MODULES if not only or any(o in n for o in only)]
    t_all = time.monotonic()
    for i, name in enumerate(chosen, 1):
        _say(f"[{i}/{len(chosen)}] ▶ 开始 start {name}")
        t0 = time.monotonic()
        try:
            mod = importlib.import_module(name)
        except ModuleNotFoundError as e:
            _say(f"[{i}/{len(chosen)}] 跳过 skipped {name}: {e}")
            continue
        try:
            got = mod.run()
        except Exception as e:  # a failing benchmark is reported, the others still run
            failed.append(f"{name}: {e!r}")
            _say(f"[{i}/{len(chosen)}] ✘ 失败 FAILED {name} ({time.monotonic() - t0:.1f} s): {e!r}")
            continue
        results.extend(got)
        _say(f"[{i}/{len(chosen)}] ✔ 完成 done {name} ({time.monotonic() - t0:.1f} s)")
        for r in got:
            _say(f"      {r['name']}: {r['value']:,.0f} {r['unit']} (×{r['ratio']:.3f} {r['baseline_name']})")
    _say(f"全部用时 total {time.monotonic() - t_all:.1f} s\n")
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
