"""``santong mock serve``: the mock platform as a process.

Prints one JSON line ``{"grpc_port", "http_port", "inspection_token", "pid"}`` once both servers listen, and
exits with 0 after draining on SIGTERM or SIGINT.

Example::

    santong mock serve --grpc-port 0 --http-port 0 --db mock.db --device KJ70N-0001:secret
"""

from __future__ import annotations

import argparse
import sys
from typing import Any

__all__ = ["add_arguments", "run"]


def _device(text: str) -> tuple[str, str]:
    device_id, sep, token = text.partition(":")
    if not sep or not device_id or not token:
        raise argparse.ArgumentTypeError(f"需要 ID:TOKEN / expected ID:TOKEN, got {text!r}")
    return device_id, token


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """Arguments of ``santong mock``."""
    sub = parser.add_subparsers(dest="mock_command", required=True, metavar="ACTION")
    p = sub.add_parser(
        "serve",
        help="运行模拟平台 / run the mock platform",
        description="运行模拟平台 / run the mock platform",
    )
    p.add_argument("--host", default="127.0.0.1", help="监听地址 / address to listen on (default 127.0.0.1)")
    p.add_argument(
        "--grpc-port", type=int, default=50051, help="gRPC 端口，0 由系统分配 / gRPC port, 0: the OS picks"
    )
    p.add_argument(
        "--http-port",
        type=int,
        default=8080,
        help="HTTP 端口，0 由系统分配，-1 不启用 / HTTP port, 0: the OS picks, -1: no HTTP",
    )
    p.add_argument("--db", default=None, help="SQLite 文件（默认内存）/ SQLite file (default: in memory)")
    p.add_argument("--sync", choices=("normal", "full"), default="normal",
                   help="SQLite synchronous：normal 进程崩溃不丢，full 断电也不丢 / normal survives crashes, full also power loss")  # fmt: skip
    p.add_argument(
        "--device",
        type=_device,
        action="append",
        default=[],
        metavar="ID:TOKEN",
        help="设备凭据，可重复 / device credentials (repeatable)",
    )
    p.add_argument(
        "--inspection-token",
        default=None,
        help="检查接口令牌（默认随机，或 SANTONG_INSPECTION_TOKEN）/ inspection token",
    )
    p.add_argument("--tls-cert", default=None, help="服务器证书链 PEM / server certificate chain (PEM)")
    p.add_argument("--tls-key", default=None, help="服务器私钥 PEM / server private key (PEM)")
    p.add_argument(
        "--client-ca", default=None, help="客户端 CA（启用双向 TLS）/ client CA, enables mutual TLS"
    )
    p.add_argument(
        "--heartbeat-interval-ms", type=int, default=None, help="心跳间隔 / Limits.heartbeat_interval_ms"
    )
    p.add_argument(
        "--offline-after-missed",
        type=int,
        default=None,
        help="离线前允许错过的心跳数 / Limits.offline_after_missed",
    )
    p.add_argument(
        "--max-uploads-per-second",
        type=int,
        default=None,
        help="每设备上传速率上限，0 不限 / Limits.max_uploads_per_second, 0: none",
    )
    p.add_argument(
        "--max-message-bytes", type=int, default=None, help="消息大小上限 / Limits.max_message_bytes"
    )
    p.add_argument(
        "--fault-plan", default=None, help="启动即执行的故障计划 JSON / fault plan (JSON) run at start"
    )
    p.add_argument("--log-level", default="WARNING", help="日志级别 / log level")


def run(args: argparse.Namespace) -> int:
    """Run the subcommand."""
    if args.mock_command == "serve":
        import asyncio

        return asyncio.run(_serve(args))
    return 2


def _config(args: argparse.Namespace) -> Any:
    import os

    from santong.mock_platform._config import PlatformConfig
    from santong.protocols import default_limits

    limits = default_limits()
    for name in (
        "heartbeat_interval_ms",
        "offline_after_missed",
        "max_uploads_per_second",
        "max_message_bytes",
    ):
        value = getattr(args, name)
        if value is not None:
            setattr(limits, name, value)
    config = PlatformConfig(
        db_path=args.db, limits=limits, devices=dict(args.device), synchronous=args.sync.upper()
    )
    token = args.inspection_token or os.environ.get("SANTONG_INSPECTION_TOKEN")
    if token:
        config.inspection_token = token
    return config


async def _serve(args: argparse.Namespace) -> int:
    import asyncio
    import json
    import logging
    import os
    import signal

    from santong.mock_platform._grpc import TlsFiles
    from santong.mock_platform.embedded import MockPlatform

    logging.basicConfig(
        level=args.log_level.upper(),
        stream=sys.stderr,
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
    )
    tls = None
    if args.tls_cert or args.tls_key:
        if not (args.tls_cert and args.tls_key):
            print(
                "--tls-cert 与 --tls-key 须同时给出 / --tls-cert and --tls-key go together", file=sys.stderr
            )
            return 2
        with open(args.tls_cert, "rb") as c, open(args.tls_key, "rb") as k:
            ca = None
            if args.client_ca:
                with open(args.client_ca, "rb") as f:
                    ca = f.read()
            tls = TlsFiles(c.read(), k.read(), ca)
    elif args.client_ca:
        print(
            "--client-ca 需要 --tls-cert/--tls-key / --client-ca needs --tls-cert/--tls-key", file=sys.stderr
        )
        return 2
    mp = MockPlatform(
        _config(args),
        host=args.host,
        grpc_port=args.grpc_port,
        http_port=None if args.http_port < 0 else args.http_port,
        tls=tls,
    )
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stop.set)
    await mp.start()
    try:
        if args.fault_plan:
            mp.platform.faults.load_plan(args.fault_plan)
        line = {
            "grpc_port": mp.grpc_port,
            "http_port": mp.http_port,
            "inspection_token": mp.inspection_token,
            "pid": os.getpid(),
        }
        print(json.dumps(line), flush=True)
        await stop.wait()
    finally:
        await mp.stop(grace=2.0)
    return 0
