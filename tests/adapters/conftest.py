"""Shared fixtures of the adapter tests: a throwaway mosquitto, the embedded mock platform, adapter configurations.

``broker`` (module scope): Debian's mosquitto on a free port on 127.0.0.1 (``scripts/mosquitto.sh install``
installs it; without it the test skips with a one-line reason). ``mock_platform`` (module scope, module event
loop): the embedded :class:`MockPlatform` (gRPC on port 0) for end-to-end tests, inspected through
``mock_platform.platform.inspection``. :func:`adapter_config` builds a whole configuration (platform, device,
queue, adapter) for a device on it; :func:`run` runs it through ``run_adapter`` and hands back the adapter.
"""

from __future__ import annotations

import asyncio
import contextlib
import secrets
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator, Mapping, Sequence
from pathlib import Path
from typing import Any

import pytest
import pytest_asyncio
import yaml
from santong.adapters import Adapter, Config, Registry, parse_config
from santong.adapters._runner import run_adapter
from santong.adapters.simulators import Profile
from santong.mock_platform._config import PlatformConfig
from santong.mock_platform.embedded import MockPlatform
from st_waiting import DEADLINE_S, wait_for

NO_MOSQUITTO = "没有 mosquitto（运行 scripts/mosquitto.sh install）/ mosquitto is missing: run scripts/mosquitto.sh install"


@pytest.fixture(scope="module")
def broker() -> Iterator[Any]:
    """A throwaway mosquitto (MosquittoBroker) for the module; skipped where mosquitto is not installed."""
    from santong.adapters.simulators.mqtt import MosquittoBroker

    if MosquittoBroker.find_binary() is None:
        pytest.skip(NO_MOSQUITTO)
    with MosquittoBroker() as b:
        yield b


@pytest_asyncio.fixture(scope="module", loop_scope="module")
async def mock_platform() -> AsyncIterator[MockPlatform]:
    """The embedded mock platform (gRPC only) on the module's event loop."""
    async with MockPlatform(PlatformConfig(), http_port=None) as mp:
        yield mp


def profile_points(
    profile: Profile, source: Callable[[Any], Mapping[str, Any] | None]
) -> list[dict[str, Any]]:
    """Point entries of a configuration for every profile point ``source(point)`` gives a source for."""
    out = []
    for p in profile.points:
        src = source(p)
        if src is None:
            continue
        entry: dict[str, Any] = {
            "point_code": p.point_code,
            "location": p.location,
            "outstation_code": profile.device.outstation_code,
            "sensor_type": p.sensor_type,
            "range": [p.range_low, p.range_high],
        }
        if p.is_switch:
            entry["on_description"], entry["off_description"] = p.on_description, p.off_description
        else:
            entry["unit"] = p.unit
            if p.thresholds:
                entry["thresholds"] = dict(p.thresholds)
        entry["source"] = dict(src)
        out.append(entry)
    return out


def adapter_config(
    mp: MockPlatform,
    tmp_path: Path,
    profile: Profile,
    kind: str,
    settings: Mapping[str, Any],
    points: Sequence[Mapping[str, Any]],
    *,
    registry: Registry | None = None,
    device_id: str | None = None,
) -> Config:
    """A validated configuration of ``kind`` for a new device on ``mp`` (its own credentials and queue file)."""
    device_id = device_id or f"{kind.upper()}-{secrets.token_hex(4)}"
    token = secrets.token_urlsafe(12)
    mp.add_device(device_id, token)
    doc = {
        "platform": {"target": mp.grpc_target, "token": token, "timeout_ms": 3000, "retry": {"base_ms": 100, "cap_ms": 500}},
        "device": {
            "device_id": device_id, "vendor": profile.device.vendor, "model": profile.device.model,
            "firmware_version": profile.device.firmware, "serial_number": profile.device.serial,
            "ma_certificate": "MASIM20250001", "product_class": "SAFETY_MONITORING",
        },
        "mine": {"mine_code": profile.device.mine_code, "name": profile.device.mine_name},
        "queue": {"path": str(tmp_path / f"{device_id}.db"), "synchronous": "NORMAL"},
        "batch": {"max_points": 1000, "linger_ms": 50},
        "adapter": {
            "kind": kind,
            "settings": dict(settings),
            "outstations": [{"outstation_code": profile.device.outstation_code, "location": profile.device.location}],
            "points": [dict(p) for p in points],
        },
    }  # fmt: skip
    text = yaml.safe_dump(doc, allow_unicode=True, sort_keys=False)
    return parse_config(text, str(tmp_path / f"{device_id}.yaml"), registry=registry)


def recording(cls: type[Adapter[Any]]) -> tuple[Registry, list[Adapter[Any]]]:
    """A registry whose ``cls.kind`` builds a subclass of ``cls`` that records its instances."""
    made: list[Adapter[Any]] = []

    class Recorded(cls):  # type: ignore[valid-type, misc]
        def __init__(self, config: Any) -> None:
            super().__init__(config)
            made.append(self)

    Recorded.__qualname__ = f"Recorded{cls.__name__}"
    registry = Registry(entry_points=())
    registry.register(cls.kind, Recorded)
    return registry, made


@contextlib.asynccontextmanager
async def run(config: Config, registry: Registry, made: list[Adapter[Any]]) -> AsyncIterator[Adapter[Any]]:
    """Run the configuration through ``run_adapter`` (adapter + PlatformClient); yield the adapter; stop cleanly."""
    stop = asyncio.Event()
    before = len(made)
    task = asyncio.create_task(
        run_adapter(config, registry=registry, stop=stop, install_signal_handlers=False)
    )
    await wait_for(
        lambda: len(made) > before or task.done(), what="the adapter made by run_adapter", every=0.01
    )
    if task.done():
        task.result()  # raise what went wrong
    try:
        yield made[-1]
    finally:
        stop.set()
        code = await asyncio.wait_for(task, DEADLINE_S)
        assert code == 0, "run_adapter failed"


async def eventually(
    check: Callable[[], Awaitable[Any]], timeout: float = DEADLINE_S, every: float = 0.05
) -> Any:
    """Await ``check()`` until it returns something truthy (returned) or ``timeout`` passes (AssertionError)."""
    return await wait_for(check, timeout=timeout, every=every)


def latest_by_point(observations: Sequence[Mapping[str, Any]]) -> dict[str, Mapping[str, Any]]:
    """The last stored observation of every point (inspection rows are in delivery order)."""
    out: dict[str, Mapping[str, Any]] = {}
    for o in observations:
        out[o["point_code"]] = o
    return out


class Kit:
    """The helpers above, for test modules (conftest modules cannot be imported by name): the ``kit`` fixture."""

    profile_points = staticmethod(profile_points)
    adapter_config = staticmethod(adapter_config)
    recording = staticmethod(recording)
    run = staticmethod(run)
    eventually = staticmethod(eventually)
    latest_by_point = staticmethod(latest_by_point)


@pytest.fixture(scope="session")
def kit() -> type[Kit]:
    """Helpers for end-to-end adapter tests (see :class:`Kit`)."""
    return Kit
