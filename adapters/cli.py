"""``santong adapter``: run an adapter from its configuration, check a configuration, list adapter kinds.

Example::

    santong adapter run kj70n.yaml          # until SIGTERM; exit 0 stopped, 1 client failed, 2 bad configuration
    santong adapter run kj-substation --platform grpc://127.0.0.1:50051 --token T --set port=5020 --queue q.db
    santong adapter check kj70n.yaml        # validate only: every problem with file:line and the fix
    santong adapter list                    # installed kinds and whether they load

The store-and-forward queue: ``--queue PATH`` (relative to the current folder) if given; else the configuration's
``queue.path`` if it sets one (relative to the configuration file); else — and always for a bundled product — a
file in the state folder (``--state-dir``, default ``$SANTONG_STATE_DIR``, ``$XDG_STATE_HOME/santong`` or
``~/.local/state/santong``) named after the configuration and the device, so that a restart resumes it and nothing
is written into the installed package. Exit status 1 (the client failed for good: the platform refused the device)
is this command's own documented code, besides 0 and 2 (santong._exit).
"""

from __future__ import annotations

import argparse
import asyncio
import logging
import sys
from importlib import resources
from pathlib import Path
from typing import Any

from santong._exit import CommandError
from santong._paths import safe_name, state_dir

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
    p.add_argument(
        "--queue",
        help="队列文件，相对当前目录 / store-and-forward queue file, relative to the current folder (replaces queue.path)",
    )
    p.add_argument(
        "--state-dir",
        type=Path,
        metavar="DIR",
        help="未指定队列时的存放目录 / folder for the queue when none is given "
        "(default $SANTONG_STATE_DIR, $XDG_STATE_HOME/santong or ~/.local/state/santong)",
    )
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


def _config_file(name_or_path: str) -> Path:
    """The configuration file: a path, or a bundled product name (CommandError naming both when neither)."""
    from santong.adapters._runner import bundled_products, product_config

    path = product_config(name_or_path)
    if not path.is_file():
        names = ", ".join(bundled_products()) or "—"
        raise CommandError(
            f"找不到配置文件 {name_or_path}，它也不是内置产品（内置：{names}）；请检查路径",
            f"no configuration file {name_or_path}, nor a bundled product (bundled: {names}) — check the path",
        )
    return path


def _is_bundled(path: Path) -> bool:
    folder = Path(str(resources.files("santong.adapters") / "products")).resolve()
    return path.resolve().is_relative_to(folder)


def queue_path(args: argparse.Namespace, config: Any, config_file: Path) -> Path | None:
    """The queue file to use instead of the configuration's, or None to keep ``queue.path`` from the file."""
    from santong.adapters._config import QueueSettings

    if args.queue:
        return Path(args.queue).expanduser().resolve()
    if not _is_bundled(config_file) and config.queue.path != QueueSettings().path:
        return None  # the configuration file names its queue
    stem = config_file.name
    for suffix in (".adapter.yaml", ".yaml", ".yml"):
        stem = stem.removesuffix(suffix)
    device = args.device_id or config.device.device_id
    folder = (args.state_dir or state_dir()).expanduser().resolve()
    try:
        folder.mkdir(parents=True, exist_ok=True)
    except OSError as e:
        raise CommandError(
            f"无法创建队列目录 {folder}：{e.strerror or e}；请用 --state-dir 或 --queue 指定可写位置",
            f"cannot create the queue folder {folder}: {e.strerror or e}; give a writable --state-dir or --queue",
        ) from e
    return folder / f"{safe_name(stem)}-{safe_name(device)}-queue.db"


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
        try:
            config = load_config(_config_file(args.config))
        except ConfigError as e:
            raise CommandError(str(e)) from e  # every problem with file:line and the fix, both languages
        for w in config.warnings:
            print(f"警告 warning: {w}", file=sys.stderr)
        print(f"配置有效 / configuration OK: {args.config}")
        return 0
    logging.basicConfig(
        level=getattr(logging, args.log_level),
        stream=sys.stderr,
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
    )
    from santong.adapters._runner import override_config, run_adapter

    settings = {}
    for item in args.set:
        key, sep, value = item.partition("=")
        if not sep or not key:
            raise CommandError(f"--set {item}：应为 KEY=VALUE", f"--set {item}: must be KEY=VALUE")
        settings[key.strip()] = value.strip()
    config_file = _config_file(args.config)
    try:
        loaded = load_config(config_file)
        queue = queue_path(args, loaded, config_file)
        config = override_config(
            loaded,
            platform=args.platform,
            device_id=args.device_id,
            token=args.token,
            queue=queue,
            settings=settings,
        )
        logging.getLogger("santong.adapters.runner").info(
            "队列 queue: %s", config.queue.path.resolve() if config.queue.path else "—"
        )
        return asyncio.run(run_adapter(config, drain_timeout_s=args.drain_timeout))
    except ConfigError as e:
        raise CommandError(str(e)) from e
    except AdapterError as e:
        raise CommandError(str(e)) from e
