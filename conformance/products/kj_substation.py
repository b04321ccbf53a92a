"""Start the reference product for certification: the kj-substation Modbus simulator and its adapter, one process.

The manifest ``kj-substation.manifest.yaml`` (next to this file) runs::

    {python} kj_substation.py --platform {grpc_target} --device-id {device_id} --token {token} --workdir {workdir}

The simulator (``santong simulate modbus --profile kj-substation``) serves on a port the OS picks and runs the
methane scenario (T1 rises past 1.0 %CH4, then falls back) time-compressed by ``--speed``; the adapter
(``santong adapter run kj-substation``) polls it and talks to the platform with the intervals the manifest
declares, keeping its store-and-forward queue in ``{workdir}`` so that a restart resumes it. The runner's ready
line is the client's "registered" log line. SIGTERM stops both cleanly.

``--certification`` (the manifest's start command gives it) enables test events (ST-PROTO-036): a TEST_EVENT
command from the platform is handed to the simulator — an excursion forces the point's value, a switch change its
state, a sensor fault its status bit 128 — for hold_ms, so that it travels the same Modbus path as real data.
"""

from __future__ import annotations

import argparse
import asyncio
import dataclasses
import functools
import logging
import sys
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any


def _args(argv: list[str] | None = None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--platform", required=True, help="grpc target HOST:PORT")
    p.add_argument("--device-id", required=True)
    p.add_argument("--token", required=True)
    p.add_argument("--workdir", required=True, type=Path)
    p.add_argument("--report-ms", type=int, default=1000, help="report interval (unchanged points again)")
    p.add_argument("--poll-ms", type=int, default=200, help="Modbus poll period")
    p.add_argument("--speed", type=float, default=10.0, help="simulator time compression")
    p.add_argument("--scenario", default="methane_rise", help="simulator scenario at start ('' for none)")
    p.add_argument("--certification", action="store_true", help="certification mode: carry out test events")
    return p.parse_args(argv)


async def _main(args: argparse.Namespace) -> int:
    from santong.adapters import BatchSettings, RetrySettings, load_config
    from santong.adapters._runner import override_config, product_config, run_adapter
    from santong.adapters.simulators import load_profile
    from santong.adapters.simulators.modbus import ModbusSimulator

    sim = ModbusSimulator(load_profile("kj-substation"), speed=args.speed, scenario=args.scenario or None)
    await sim.start(control=False)
    try:
        args.workdir.mkdir(parents=True, exist_ok=True)
        config = override_config(
            load_config(product_config("kj-substation")),
            platform=f"grpc://{args.platform}",
            device_id=args.device_id,
            token=args.token,
            queue=args.workdir / "kj-substation-queue.db",
            settings={
                "port": str(sim.port),
                "period_ms": str(args.poll_ms),
                "timeout_ms": "500",
                "report_interval_ms": str(args.report_ms),
            },
        )
        config = dataclasses.replace(
            config,
            platform=dataclasses.replace(
                config.platform, timeout_ms=3000, retry=RetrySettings(base_ms=100, cap_ms=2000)
            ),
            batch=BatchSettings(max_points=1000, linger_ms=max(100, min(500, args.report_ms // 4))),
            # Register carries the SHA-256 of this file: the software the manifest declares and the certificate
            # covers (ST-PROTO-038), so a mine can compare it.
            device=dataclasses.replace(config.device, firmware_file=Path(__file__).resolve()),
        )
        hook = _test_events(sim) if args.certification else None
        return await run_adapter(config, drain_timeout_s=1.0, test_event=hook)
    finally:
        await sim.stop()


def _test_events(sim: Any) -> Callable[[Any], Awaitable[str]]:
    """TEST_EVENT (ST-PROTO-036) → the simulator: hold the event on the point for hold_ms, then release it."""
    from santong.protocols.v1 import device_access_pb2 as pb

    names = {p.point_code: p.name for p in sim.profile.points}
    engine = sim.engine

    async def run(ev: Any) -> str:
        name = names.get(ev.point_code)
        if name is None:
            raise KeyError(f"模拟器没有测点 / the simulator has no point {ev.point_code}")
        if ev.kind in (pb.TEST_EVENT_KIND_EXCURSION, pb.TEST_EVENT_KIND_SWITCH_CHANGE):
            engine.force(name, float(ev.value))
            undo = functools.partial(engine.release, name)
        elif ev.kind == pb.TEST_EVENT_KIND_SENSOR_FAULT:
            engine.set_status_bits(name, 128)
            undo = functools.partial(engine.set_status_bits, name, 0)
        else:
            raise ValueError(f"未知测试事件 / unknown test event kind {ev.kind}")
        asyncio.get_running_loop().call_later(ev.hold_ms / 1000, undo)
        return f"{pb.TestEventKind.Name(ev.kind)} {ev.point_code} for {ev.hold_ms} ms"

    return run


def main(argv: list[str] | None = None) -> int:
    """Run until SIGTERM; the adapter's exit code (2 for a bad configuration)."""
    logging.basicConfig(
        level=logging.INFO, stream=sys.stderr, format="%(asctime)s %(levelname)s %(name)s: %(message)s"
    )
    for noisy in ("pymodbus", "asyncio"):
        logging.getLogger(noisy).setLevel(logging.ERROR)
    args = _args(argv)
    try:
        return asyncio.run(_main(args))
    except Exception as e:  # noqa: BLE001  (a configuration or start-up error: one line, exit 2)
        if isinstance(e, ModuleNotFoundError) and (e.name or "").partition(".")[0] == "pymodbus":
            # The fix comes first: the runner quotes the start of this line in its COULD NOT RUN reasons.
            print(
                "缺少 pymodbus：请运行 pip install 'santong[modbus]' / pymodbus is missing: run pip install "
                "'santong[modbus]' (参考产品是 Modbus 分站 / the reference product is a Modbus substation)",
                file=sys.stderr,
            )
            return 2
        print(
            f"参考产品无法启动 / the reference product cannot start: {type(e).__name__}: {e}", file=sys.stderr
        )
        return 2


if __name__ == "__main__":
    sys.exit(main())
