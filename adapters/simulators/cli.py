"""``santong simulate modbus|opcua|mqtt|mtfile``: run a device simulator until interrupted.

Each simulator prints one JSON line on standard output once it serves (ports, control port, profile), e.g.::

    $ santong simulate modbus --profile kj-substation --speed 20 --scenario methane_rise
    {"simulator": "modbus", "host": "127.0.0.1", "port": 40517, "control_port": 38211, …}

then runs until SIGINT/SIGTERM, ``--duration`` seconds, or ``{"cmd": "stop"}`` on the control socket (see
santong.adapters.simulators._runtime for the control API). Logs go to standard error.

Exit status (santong._exit): 0 after a clean stop; 2 when it cannot run — an unknown profile or scenario, a port
it cannot bind, an MQTT broker it cannot reach, an output folder it cannot write — with one bilingual line.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import logging
import re
import signal
import sys
import threading
from pathlib import Path
from typing import Any

from santong.adapters.simulators._profile import ProfileError, load_profile

from santong._checks import check_bind, check_connect, int_range, port
from santong._exit import CommandError

__all__ = ["add_arguments", "parse_duration", "run"]

_DURATION = re.compile(r"^\s*([0-9]+(?:\.[0-9]+)?)\s*(ms|s|m|h)?\s*$")


def parse_duration(text: str) -> float:
    """``"5s"``, ``"500ms"``, ``"2m"``, ``"1h"`` or plain seconds → seconds."""
    m = _DURATION.match(str(text))
    if m is None:
        raise argparse.ArgumentTypeError(f"时长无效 / invalid duration {text!r} (e.g. 5s, 500ms, 2m)")
    value = float(m.group(1))
    unit = m.group(2) or "s"
    seconds = value * {"ms": 0.001, "s": 1.0, "m": 60.0, "h": 3600.0}[unit]
    if seconds <= 0:
        raise argparse.ArgumentTypeError(f"时长须大于 0 / the duration must be > 0: {text!r}")
    return seconds


def _broker(text: str) -> tuple[str, int]:
    host, _, port = text.rpartition(":")
    if not host or not port.isdigit() or not 0 < int(port) < 65536:
        raise argparse.ArgumentTypeError(f"应为 HOST:PORT / expected HOST:PORT, got {text!r}")
    return host, int(port)


def _common(p: argparse.ArgumentParser, *, network: bool = True) -> None:
    p.add_argument(
        "--profile",
        default="kj-substation",
        help="档案 YAML 路径或内置档案名 / profile YAML path or bundled name (default: kj-substation)",
    )
    p.add_argument("--speed", type=float, help="时间压缩倍数 / time compression (simulated s per real s)")
    p.add_argument("--seed", type=int, help="随机种子 / random seed (default: the profile's)")
    p.add_argument("--scenario", help="启动时运行的场景 / scenario to start at once, e.g. methane_rise")
    p.add_argument("--duration", type=parse_duration, help="运行多久后退出 / stop after this long (e.g. 30s)")
    p.add_argument("-v", "--verbose", action="store_true", help="详细日志 / verbose logs on stderr")
    if network:
        p.add_argument("--host", default="127.0.0.1", help="监听地址 / address to bind (default 127.0.0.1)")


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """Arguments of ``santong simulate``."""
    sub = parser.add_subparsers(dest="simulator", required=True, metavar="SIMULATOR")
    p = sub.add_parser("modbus", help="Modbus TCP 设备 / a Modbus TCP device (pymodbus server)")
    _common(p)
    p.add_argument("--port", type=port, default=0, help="端口，0 由系统分配 / port, 0 = any free port")
    p.add_argument(
        "--unit-id", type=int_range(0, 247), help="从站号 / unit id 0–247 (default: the profile's)"
    )

    p = sub.add_parser("opcua", help="OPC UA 服务器 / an OPC UA server (asyncua)")
    _common(p)
    p.add_argument("--port", type=port, default=0, help="端口，0 由系统分配 / port, 0 = any free port")

    p = sub.add_parser("mqtt", help="MQTT 设备（厂商 JSON）/ an MQTT device publishing vendor JSON")
    _common(p)
    g = p.add_mutually_exclusive_group(required=True)
    g.add_argument("--broker", type=_broker, metavar="HOST:PORT", help="已有的 broker / an existing broker")
    g.add_argument(
        "--start-broker",
        action="store_true",
        help="自己启动一个 mosquitto（可注入 broker_restart 故障）/ start a mosquitto of its own (allows broker_restart)",
    )
    p.add_argument("--period", type=parse_duration, help="发布周期 / publish period (default: the profile's)")

    p = sub.add_parser("mtfile", help="MT/T 1201 文本文件 / MT/T 1201 text files into a folder")
    _common(p, network=False)
    p.add_argument("--out", type=Path, required=True, help="输出目录 / output folder")
    p.add_argument("--mine", help="煤矿编码 / mine code (default: the profile's), e.g. 140421000001")
    p.add_argument("--mine-name", help="矿井名称 / mine name")
    p.add_argument(
        "--points",
        type=int,
        help="测点数（按分站复制档案测点）/ number of points (profile repeated per outstation)",
    )
    p.add_argument("--every", type=parse_duration, default=5.0, help="CDSS 周期 / CDSS period (default 5s)")
    p.add_argument("--count", type=int_range(0), help="写多少个周期后退出 / stop after this many periods")
    p.add_argument(
        "--malformed",
        action="append",
        default=[],
        metavar="KIND",
        help="另写畸形文件 / also write a malformed file: missing-end, truncated, empty, field-count, bad-encoding, "
        "bad-time, bad-number, bad-status, unknown-type, mine-mismatch, bad-name, gbk, or all (repeatable)",
    )
    p.add_argument("--encoding", choices=("utf-8", "gbk"), default="utf-8", help="文件编码 / file encoding")
    p.add_argument(
        "--slow",
        type=float,
        default=0.0,
        help="每个文件写入耗时（秒），最后才写 || / seconds to write each file, || last",
    )
    p.add_argument(
        "--atomic", action="store_true", help="先写 .part 再改名 / write a .part file, then rename"
    )
    p.add_argument("--stats-every", type=parse_duration, help="TJSJ 统计周期 / TJSJ statistics period")


def _print_line(info: dict[str, Any]) -> None:
    sys.stdout.write(json.dumps(info, ensure_ascii=False) + "\n")
    sys.stdout.flush()


async def _serve(args: argparse.Namespace) -> int:
    profile = load_profile(args.profile)
    kw: dict[str, Any] = {
        "host": args.host,
        "speed": args.speed,
        "seed": args.seed,
        "scenario": args.scenario,
    }
    broker = None
    sim: Any
    if args.simulator in ("modbus", "opcua"):
        check_bind(args.host, args.port, f"{args.simulator} 模拟器 simulator", "--port")
    elif args.broker is not None:
        check_connect(args.broker[0], args.broker[1], "MQTT broker", "--broker")
    if args.simulator == "modbus":
        from santong.adapters.simulators.modbus import ModbusSimulator  # noqa: PLC0415

        sim = ModbusSimulator(profile, port=args.port, unit_id=args.unit_id, **kw)
    elif args.simulator == "opcua":
        from santong.adapters.simulators.opcua import OpcuaSimulator  # noqa: PLC0415

        sim = OpcuaSimulator(profile, port=args.port, **kw)
    else:
        from santong.adapters.simulators.mqtt import MosquittoBroker, MqttSimulator  # noqa: PLC0415

        if args.start_broker:
            broker = MosquittoBroker()
            broker.start()
            sim = MqttSimulator(profile, broker=broker, period=args.period, **kw)
        else:
            host, port = args.broker
            sim = MqttSimulator(profile, broker_host=host, broker_port=port, period=args.period, **kw)
    try:
        await sim.start()
        if args.simulator == "mqtt" and not sim.connected.is_set():
            host, port = args.broker or (getattr(broker, "host", "?"), getattr(broker, "port", "?"))
            raise CommandError(
                f"MQTT broker {host}:{port} 未接受连接（5 s 内）；请检查 broker 与 --broker",
                f"the MQTT broker {host}:{port} did not accept the connection within 5 s; check the broker "
                "and --broker",
            )
        _print_line(sim.info())
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGINT, signal.SIGTERM):
            with contextlib.suppress(NotImplementedError, RuntimeError):
                loop.add_signal_handler(sig, lambda: asyncio.ensure_future(sim.stop()))
        if args.duration is not None:
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(sim.stopped.wait(), args.duration)
        else:
            await sim.stopped.wait()
    finally:
        await sim.stop()
        if broker is not None:
            broker.close()
    return 0


def _run_mtfile(args: argparse.Namespace) -> int:
    from santong.adapters.simulators.mtfile import MALFORMED_KINDS, MtFileSimulator  # noqa: PLC0415

    kinds = list(MALFORMED_KINDS) if "all" in args.malformed else args.malformed
    unknown = [k for k in kinds if k not in MALFORMED_KINDS]
    if unknown:
        raise CommandError(
            f"未知的畸形文件类型 {unknown}，可用：{', '.join(MALFORMED_KINDS)}, all",
            f"unknown malformed kind(s) {unknown}; use: {', '.join(MALFORMED_KINDS)}, all",
        )
    sim = MtFileSimulator(
        args.out,
        profile=args.profile,
        mine_code=args.mine,
        mine_name=args.mine_name,
        points=args.points,
        every=args.every,
        speed=args.speed,
        seed=args.seed,
        scenario=args.scenario,
        encoding=args.encoding,
        slow=args.slow,
        atomic=args.atomic,
        stats_every=args.stats_every,
    )
    stop = threading.Event()
    for sig in (signal.SIGINT, signal.SIGTERM):
        signal.signal(sig, lambda *_: stop.set())
    if args.duration is not None:
        timer = threading.Timer(args.duration, stop.set)
        timer.daemon = True
        timer.start()
    _print_line(sim.info())
    sim.write_definitions()
    for kind in kinds:
        sim.write_malformed(kind)
    sim.run(count=args.count, should_stop=stop.is_set)
    summary: dict[str, int] = {}
    for path in sim.written:
        file_type = path.name.split("_")[1] if path.name.count("_") >= 2 else "?"
        summary[file_type] = summary.get(file_type, 0) + 1
    _print_line(
        {"simulator": "mtfile", "files": len(sim.written), "by_type": summary, "periods": sim.periods}
    )
    return 0


def run(args: argparse.Namespace) -> int:
    """Run the chosen simulator; 0 on a clean stop, 2 on a bad profile or argument."""
    logging.basicConfig(
        level=logging.INFO if args.verbose else logging.WARNING,
        stream=sys.stderr,
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
    )
    if not args.verbose:
        for noisy in ("asyncua", "pymodbus"):
            logging.getLogger(noisy).setLevel(logging.ERROR)
    try:
        if args.simulator == "mtfile":
            return _run_mtfile(args)
        return asyncio.run(_serve(args))
    except (ProfileError, KeyError, ValueError) as e:
        msg = e.args[0] if isinstance(e, KeyError) and e.args else str(e)
        raise CommandError(str(msg)) from e  # the profile's messages are bilingual already
    except OSError as e:
        where = f"{e.filename}: " if e.filename else ""
        raise CommandError(
            f"模拟器无法运行：{where}{e.strerror or e}；请检查路径、权限与端口",
            f"the simulator cannot run: {where}{e.strerror or e}; check the path, permissions and ports",
        ) from e
