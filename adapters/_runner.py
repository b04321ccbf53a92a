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
import logging
import os
import signal
from typing import Any

from santong.adapters._config import Config, load_config
from santong.adapters._sdk import Adapter, Registry, default_registry

__all__ = ["build_adapter", "run_adapter"]

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
) -> int:
    """Run until ``stop`` is set (or SIGTERM/SIGINT) or the client fails for good; 0 when stopped, 1 on failure.

    Raises ConfigError, AdapterError (unknown kind, load errors, alias conflicts) before anything runs.
    """
    from santong.adapters.client import PlatformClient

    if not isinstance(config, Config):
        config = load_config(config, registry=registry)
    for w in config.warnings:
        log.warning("%s", w)
    adapter = build_adapter(config, registry)
    client = PlatformClient(config, write=adapter.write, configure=adapter.configure)
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
    await client.start()
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
