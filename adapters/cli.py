"""``santong adapter``: run an adapter from its configuration, check a configuration, list adapter kinds.

Example::

    santong adapter run kj70n.yaml          # until SIGTERM; exit 0 stopped, 1 client failed, 2 bad configuration
    santong adapter run kj-substation --platform grpc://127.0.0.1:50051 --token T --set port=5020 --queue q.db
    santong adapter check kj70n.yaml        # validate only: every problem with file:line and the fix
    santong adapter list                    # installed kinds and whether they load
"""

from __future__ import annotations

import argparse
import asyncio
import logging
import sys

__all__ = ["add_arguments", "run"]


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """The ``adapter`` subcommands."""
    sub = parser.add_subparsers(dest="adapter_command", required=True, metavar="ACTION")
    p = sub.add_parser("run", help="运行适配器直到 SIGTERM / run an adapter until SIGTERM")
    p.add_argument(
        "config",
        help="配置文件 YAML，或内置产品名（如 kj-substation）/ configuration file (YAML) or a bundled product name",
    )
    p.add_argument("--platform", help="平台地址 / platform: grpc://HOST:PORT or http(s)://HOST:PORT")
    p.add_argument("--device-id", help="设备标识（替换配置中的 device.device_id）/ replaces device.device_id")
    p.add_argument("--token", help="令牌（替换配置中的 token）/ bearer token (replaces the configured one)")
    p.add_argument("--queue", help="队列文件 / store-and-forward queue file (replaces queue.path)")
    p.add_argument(
        "--set",
        action="append",
        default=[],
        metavar="KEY=VALUE",
        help="适配器设置 / an adapter setting, e.g. --set port=5020 (repeatable)",
    )
    p.add_argument("--log-level", default="INFO", choices=("DEBUG", "INFO", "WARNING", "ERROR"))
    p.add_argument(
        "--drain-timeout",
        type=float,
        default=2.0,
        help="停止时等待送达的秒数 / seconds to wait for delivery at stop",
    )
    c = sub.add_parser("check", help="只校验配置 / validate a configuration only")
    c.add_argument("config")
    sub.add_parser("list", help="列出适配器类型 / list adapter kinds")


def run(args: argparse.Namespace) -> int:
    """Run one ``adapter`` subcommand; the exit code."""
    from santong.adapters import AdapterError, ConfigError, default_registry, load_config

    if args.adapter_command == "list":
        for kind, got in default_registry().load_all().items():
            print(
                f"{kind}\t{'OK ' + got.__module__ + '.' + got.__qualname__ if isinstance(got, type) else got}"
            )
        return 0
    if args.adapter_command == "check":
        from santong.adapters._runner import product_config

        try:
            config = load_config(product_config(args.config))
        except ConfigError as e:
            print(e, file=sys.stderr)
            return 2
        for w in config.warnings:
            print(f"警告 warning: {w}", file=sys.stderr)
        print(f"配置有效 / configuration OK: {args.config}")
        return 0
    logging.basicConfig(
        level=getattr(logging, args.log_level),
        stream=sys.stderr,
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
    )
    from santong.adapters._runner import override_config, product_config, run_adapter

    try:
        settings = {}
        for item in args.set:
            key, sep, value = item.partition("=")
            if not sep or not key:
                print(f"错误 error: --set {item}: 应为 KEY=VALUE / must be KEY=VALUE", file=sys.stderr)
                return 2
            settings[key.strip()] = value.strip()
        config = override_config(
            load_config(product_config(args.config)),
            platform=args.platform,
            device_id=args.device_id,
            token=args.token,
            queue=args.queue,
            settings=settings,
        )
        return asyncio.run(run_adapter(config, drain_timeout_s=args.drain_timeout))
    except ConfigError as e:
        print(e, file=sys.stderr)
        return 2
    except AdapterError as e:
        print(f"错误 error: {e}", file=sys.stderr)
        return 2
