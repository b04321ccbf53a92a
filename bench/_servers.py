"""Server processes of the benchmarks: started as users start them, read their one-line JSON start line, stopped
with SIGTERM (killed if they do not stop). One copy for every benchmark that starts a server."""

from __future__ import annotations

import json
import signal
import subprocess
from collections.abc import Mapping
from pathlib import Path
from typing import Any


def start(
    args: list[str], *, cwd: str | Path, env: Mapping[str, str] | None = None
) -> tuple[subprocess.Popen[str], dict[str, Any]]:
    """Start ``args``; return the process and the JSON object of its first stdout line (its ports, pid …)."""
    proc = subprocess.Popen(
        args, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True, cwd=cwd, env=env
    )
    assert proc.stdout is not None
    line = proc.stdout.readline()
    if not line:
        code = stop(proc)
        raise RuntimeError(f"server did not start (exit {code}): {args}")
    return proc, json.loads(line)


def stop(proc: subprocess.Popen[str], timeout_s: float = 20.0) -> int | None:
    """SIGTERM, wait up to ``timeout_s``, then kill; the exit code."""
    proc.send_signal(signal.SIGTERM)
    try:
        return proc.wait(timeout_s)
    except subprocess.TimeoutExpired:
        proc.kill()
        return proc.wait(5)
