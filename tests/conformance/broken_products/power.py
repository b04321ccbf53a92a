"""A simulated power switch for the self-check's hardware variant (manifest ``start: external`` with ``hooks``).

``on`` starts the device program given after ``--`` detached from this process (as power to a bench device would)
and returns at once; ``off`` stops it (SIGTERM, then SIGKILL) and returns when it is gone. The device's pid is kept
in ``--pidfile``::

    python power.py on --pidfile W/device.pid --log W/device.log -- python device.py --target ...
    python power.py off --pidfile W/device.pid
"""

from __future__ import annotations

import argparse
import os
import signal
import subprocess
import sys
import time
from pathlib import Path


def main() -> int:
    p = argparse.ArgumentParser()
    p.add_argument("action", choices=["on", "off"])
    p.add_argument("--pidfile", required=True, type=Path)
    p.add_argument("--log", type=Path)
    args = sys.argv[1:]
    cut = args.index("--") if "--" in args else len(args)
    a = p.parse_args(args[:cut])
    if a.action == "on":
        argv = args[cut + 1 :]
        out = a.log.open("ab") if a.log else subprocess.DEVNULL
        proc = subprocess.Popen(argv, stdout=out, stderr=subprocess.STDOUT, start_new_session=True)
        a.pidfile.write_text(str(proc.pid))
        return 0
    if not a.pidfile.exists():
        return 0
    pid = int(a.pidfile.read_text())
    a.pidfile.unlink()
    try:
        os.kill(pid, signal.SIGTERM)
    except ProcessLookupError:
        return 0
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        try:
            os.kill(pid, 0)
        except ProcessLookupError:
            return 0
        time.sleep(0.05)  # polling the process table: no event to wait on for a non-child
    os.kill(pid, signal.SIGKILL)
    return 0


if __name__ == "__main__":
    sys.exit(main())
