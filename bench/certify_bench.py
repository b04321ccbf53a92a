"""Wall time of certifying the reference product: the standard profile (target ≤ 60 s) and the full profile with
every fault scenario (target ≤ 180 s), each a real `santong certify` against the embedded mock platform.

The baseline of each entry is its target; ratio = measured / target (below 1 is within the target).
"""

from __future__ import annotations

import json
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from bench._timing import entry

MANIFEST = Path(__file__).resolve().parents[1] / "conformance" / "products" / "kj-substation.manifest.yaml"
TARGETS = {"standard": 60.0, "full": 180.0}


def certify(profile: str, out: Path) -> tuple[float, str]:
    """Seconds of one `santong certify` of the reference product, and its verdict."""
    t0 = time.perf_counter()
    r = subprocess.run(
        [sys.executable, "-m", "santong", "certify", "--manifest", str(MANIFEST), "--profile", profile,
         "--out", str(out)],
        capture_output=True, text=True, timeout=900,
    )  # fmt: skip
    seconds = time.perf_counter() - t0
    report = out / "report.json"
    if not report.is_file():
        raise RuntimeError(
            f"certify {profile}: exit {r.returncode}, no report\n{r.stdout[-2000:]}{r.stderr[-1000:]}"
        )
    verdict = json.loads(report.read_text(encoding="utf-8"))["report"]["results"]["verdict"]
    if verdict != "PASS":
        raise RuntimeError(
            f"certify {profile}: verdict {verdict} (see {out / 'pytest.log'})\n{r.stdout[-2000:]}"
        )
    return seconds, verdict


def run() -> list[dict]:
    """The two certification timings."""
    results = []
    with tempfile.TemporaryDirectory(prefix="santong-certify-bench-") as tmp:
        for profile, target in TARGETS.items():
            seconds, _ = certify(profile, Path(tmp) / profile)
            results.append(
                entry(
                    f"certify reference product, {profile} profile (wall)",
                    seconds,
                    "s",
                    f"target {target:.0f} s",
                    target,
                )
            )
    return results


if __name__ == "__main__":
    for r in run():
        print(r)
