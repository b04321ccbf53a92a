"""Run an adapter: configuration → adapter class from the registry → platform client, until SIGTERM.

Example::

    exit_code = asyncio.run(run_adapter("kj70n.yaml"))        # what `santong adapter run kj70n.yaml` does

On SIGTERM or SIGINT the adapter stops pushing, the open batch is sealed into the queue, the client gets
``drain_timeout_s`` to deliver what is queued, and the queue file is checkpointed and closed: whatever was not
acknowledged is delivered after the next start (ST-PROTO-021).
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import logging
import os
import signal
import types
import typing
from collections.abc import Awaitable, Callable, Mapping
from importlib import resources
from pathlib import Path
from typing import Any, Literal, get_args, get_origin

from santong.adapters._config import Config, ConfigError, ConfigProblem, load_config
from santong.adapters._sdk import Adapter, Registry, default_registry

__all__ = ["build_adapter", "bundled_products", "override_config", "product_config", "run_adapter"]

_PRODUCT_SUFFIX = ".adapter.yaml"


def bundled_products() -> list[str]:
    """Names of the bundled reference-product configurations (package data ``products/NAME.adapter.yaml``)."""
    folder = resources.files("santong.adapters") / "products"
    return sorted(
        p.name[: -len(_PRODUCT_SUFFIX)] for p in folder.iterdir() if p.name.endswith(_PRODUCT_SUFFIX)
    )


def product_config(name_or_path: str | os.PathLike[str]) -> Path:
    """A configuration file: an existing path as given, else the bundled product of that name.

    Example::

        product_config("kj-substation")      # …/santong/adapters/products/kj-substation.adapter.yaml
    """
    p = Path(name_or_path)
    if p.exists() or p.suffix in (".yaml", ".yml"):
        return p
    bundled = resources.files("santong.adapters") / "products" / f"{p.name}{_PRODUCT_SUFFIX}"
    return Path(str(bundled)) if bundled.is_file() else p


def _problem(path: str, zh: str, en: str, fix_zh: str = "", fix_en: str = "") -> ConfigProblem:
    return ConfigProblem("<命令行 command line>", 0, 0, path, zh, en, fix_zh, fix_en)


def _typed(tp: Any, text: str) -> Any:
    """``text`` as a value of the settings field type ``tp`` (ValueError if it is not one)."""
    if get_origin(tp) in (typing.Union, types.UnionType):
        args = [a for a in get_args(tp) if a is not type(None)]
        if text.lower() in ("none", "null", "") and len(args) < len(get_args(tp)):
            return None
        tp = args[0]
    if get_origin(tp) is Literal:
        if text not in map(str, get_args(tp)):
            raise ValueError(f"use one of {', '.join(map(str, get_args(tp)))}")
        return next(a for a in get_args(tp) if str(a) == text)
    if tp is bool:
        if text.lower() not in ("true", "false", "1", "0", "yes", "no"):
            raise ValueError("use true or false")
        return text.lower() in ("true", "1", "yes")
    if tp in (int, float, str):
        return tp(text)
    if tp is Path:
        return Path(text)
    raise ValueError(f"a {tp} cannot be set from the command line")


def override_config(
    config: Config,
    *,
    platform: str | None = None,
    device_id: str | None = None,
    token: str | None = None,
    queue: str | os.PathLike[str] | None = None,
    settings: Mapping[str, str] | None = None,
) -> Config:
    """The configuration with command-line values in place of the file's (ConfigError naming the option).

    ``platform``: ``grpc://HOST:PORT`` (or bare ``HOST:PORT``) or ``http(s)://HOST:PORT``; ``settings``: adapter
    settings as text (``{"port": "5020"}``), converted to the settings' field types and checked by them.

    Example::

        config = override_config(load_config(product_config("kj-substation")),
                                 platform="grpc://127.0.0.1:50051", token="t", settings={"port": "5020"})
    """
    from santong.protocols import ValidationContext, must_violations, validate

    problems: list[ConfigProblem] = []
    p = config.platform
    if platform:
        if platform.startswith(("http://", "https://")):
            p = dataclasses.replace(p, transport="http", url=platform)
        else:
            target = platform.removeprefix("grpc://").rstrip("/")
            if ":" not in target.rsplit("]", 1)[-1]:
                problems.append(_problem("platform.target", f"--platform {platform} 缺少端口", f"--platform {platform} has no port",
                                         "写成 grpc://主机:端口", "write grpc://HOST:PORT"))  # fmt: skip
            p = dataclasses.replace(p, transport="grpc", target=target)
    if token is not None:
        p = dataclasses.replace(p, token=token, token_file=None, token_env="")
    device = config.device if device_id is None else dataclasses.replace(config.device, device_id=device_id)
    q = config.queue if queue is None else dataclasses.replace(config.queue, path=Path(queue))
    adapter = config.adapter
    if settings and adapter is not None:
        st = adapter.settings
        hints = typing.get_type_hints(type(st)) if dataclasses.is_dataclass(st) else {}
        changes: dict[str, Any] = {}
        for key, text in settings.items():
            if key not in hints:
                problems.append(_problem(f"adapter.settings.{key}", f"未知的设置 {key}", f"unknown setting {key}",
                                         f"可用：{', '.join(hints)}", f"known: {', '.join(hints)}"))  # fmt: skip
                continue
            try:
                changes[key] = _typed(hints[key], text)
            except ValueError as e:
                problems.append(_problem(f"adapter.settings.{key}", f"--set {key}={text} 无效：{e}",
                                         f"--set {key}={text} is invalid: {e}"))  # fmt: skip
        if changes and not problems:
            try:
                adapter = dataclasses.replace(adapter, settings=dataclasses.replace(st, **changes))
            except (ValueError, TypeError) as e:
                problems.append(_problem("adapter.settings", "--set 的值无效", str(e)))
    if problems:
        raise ConfigError(problems)
    out = dataclasses.replace(config, platform=p, device=device, queue=q, adapter=adapter)
    if device_id is not None:
        for v in must_violations(validate(out.register_request(), ValidationContext(arrival=False))):
            problems.append(_problem("device.device_id", v.message_zh, v.message_en))
    if problems:
        raise ConfigError(problems)
    return out


log = logging.getLogger("santong.adapters.runner")


def build_adapter(config: Config, registry: Registry | None = None) -> Adapter[Any]:
    """An instance of the configured adapter kind (AdapterNotFound / AdapterLoadError with the fix)."""
    if config.adapter is None:
        raise ValueError("the configuration has no adapter section")
    cls = (registry or default_registry()).get(config.adapter.kind)
    return cls(config.adapter)


async def run_adapter(
    config: Config | str | os.PathLike[str],
    *,
    registry: Registry | None = None,
    stop: asyncio.Event | None = None,
    install_signal_handlers: bool = True,
    drain_timeout_s: float = 2.0,
    test_event: Callable[[Any], Awaitable[str]] | None = None,
) -> int:
    """Run until ``stop`` is set (or SIGTERM/SIGINT) or the client fails for good; 0 when stopped, 1 on failure.

    Raises ConfigError, AdapterError (unknown kind, load errors, alias conflicts) before anything runs.
    ``test_event`` carries out TEST_EVENT commands (certification mode, ST-PROTO-036); without it they are
    answered UNSUPPORTED.
    """
    from santong.adapters.client import PlatformClient

    if not isinstance(config, Config):
        config = load_config(config, registry=registry)
    for w in config.warnings:
        log.warning("%s", w)
    adapter = build_adapter(config, registry)
    client = PlatformClient(config, write=adapter.write, configure=adapter.configure, test_event=test_event)
    points, outstations = adapter.definitions()
    await client.define(points, outstations)
    stop = stop or asyncio.Event()
    loop = asyncio.get_running_loop()
    signals: list[signal.Signals] = []
    if install_signal_handlers:
        for sig in (signal.SIGTERM, signal.SIGINT):
            with contextlib.suppress(NotImplementedError, RuntimeError, ValueError):
                loop.add_signal_handler(sig, stop.set)
                signals.append(sig)
    try:
        await client.start()
    except BaseException:
        for sig in signals:
            loop.remove_signal_handler(sig)
        raise
    code = 0
    try:
        await adapter.start(client)
        kind = config.adapter.kind if config.adapter else "?"
        log.info("适配器 %s 运行中 / adapter %s running (device %s)", kind, kind, config.device.device_id)
        failed = asyncio.ensure_future(client.wait_failed())
        stopped = asyncio.ensure_future(stop.wait())
        done, pending = await asyncio.wait({failed, stopped}, return_when=asyncio.FIRST_COMPLETED)
        for t in pending:
            t.cancel()
        if failed in done:
            code = 1
    finally:
        try:
            await adapter.stop()
        except Exception:
            log.exception("适配器停止出错 / the adapter failed to stop cleanly")
        await client.stop(drain_timeout_s=drain_timeout_s if code == 0 else 0.0)
        for sig in signals:
            loop.remove_signal_handler(sig)
        log.info("已停止，队列已写入磁盘 / stopped; the queue file is closed: %s", client.stats)
    return code
