"""Fixtures of the live cases: the platform target, the running product, the baseline window.

``santong_platform`` starts (or reaches) the platform the run targets; ``live`` starts the product from its
manifest against it and keeps it running for the whole session (the fault scenarios restart it when they need
to); ``baseline`` waits for a window of undisturbed traffic and keeps what the platform received. A product that
dies mid-run fails ST-PROTO-030 in the case that noticed it (never a pass, never blamed on the environment).
"""

from __future__ import annotations

from collections.abc import Generator, Iterator
from typing import TYPE_CHECKING, Any

import pytest
from santong.conformance import CouldNotRun

if TYPE_CHECKING:
    from santong.conformance import Declared, Manifest, ProductLauncher, TargetSettings
    from santong.conformance._live import LiveProduct, Snapshot
    from santong.conformance._platform import PlatformHandle
    from santong.conformance._refdevice import RefDevice


@pytest.fixture(scope="session")
def santong_platform(
    request: pytest.FixtureRequest,
    santong_target: TargetSettings,
    santong_manifest: Manifest,
    santong_workdir: Any,
    santong_declared: Declared,
) -> Iterator[PlatformHandle]:
    """The platform of the run: embedded mock (default), mock process, mock container, or an external URL.

    A platform that cannot be started or reached stops the run after the case that found out: one reason,
    not the same error repeated by every live case."""
    from santong.conformance._platform import start_platform  # noqa: PLC0415

    n = len(santong_declared.points.points) if santong_declared.points is not None else 0
    try:
        handle = start_platform(santong_target, santong_manifest, santong_workdir, declared_points=n)
    except CouldNotRun as e:
        # shouldfail, as -x does: the remaining cases are not run and the run is not "interrupted" (a Ctrl-C).
        request.session.shouldfail = f"平台不可用 the platform is not available: {e}"
        raise
    try:
        yield handle
    finally:
        handle.stop()


@pytest.fixture(scope="module")
def channel(santong_platform: PlatformHandle) -> Iterator[Any]:
    """One gRPC channel to the platform (the platform cases)."""
    ch = santong_platform.channel()
    yield ch
    ch.close()


@pytest.fixture(scope="module")
def ref(
    request: pytest.FixtureRequest, santong_platform: PlatformHandle, channel: Any, santong_manifest: Manifest
) -> RefDevice:
    """A registered reference device with its two points defined (the platform cases)."""
    from santong.conformance._refdevice import set_up_reference  # noqa: PLC0415

    try:
        return set_up_reference(santong_platform, channel, santong_manifest)
    except CouldNotRun:
        # One reason, once: every later case needs the reference device (as for an unreachable platform).
        request.session.shouldfail = "参考设备不可用 the reference device is not available"
        raise


@pytest.fixture(scope="session")
def live(
    santong_platform: PlatformHandle, santong_launcher: ProductLauncher, santong_manifest: Manifest
) -> Iterator[LiveProduct]:
    """The product, started from its manifest against the platform, running for the whole session."""
    from santong.conformance._live import LiveProduct  # noqa: PLC0415

    product = LiveProduct(santong_launcher, santong_platform, santong_manifest)
    try:
        product.start()
        yield product
    finally:
        product.stop()


@pytest.fixture(scope="session")
def baseline(request: pytest.FixtureRequest, live: LiveProduct) -> Snapshot:
    """An undisturbed window of traffic after registration: max(3 s, 3.5 heartbeats, 4 report intervals).

    The interface version the product negotiated is kept for the verdict: a clause that came with a newer
    version (the catalogue's ``since``) is not applicable to it."""
    from santong.conformance._live import now_ms  # noqa: PLC0415

    t0 = now_ms()

    def registered() -> dict[str, Any] | None:
        d = live.device()
        return d if d and d.get("registered") else None

    import time  # noqa: PLC0415

    if not live.wait_for(registered, live.budget(10, 10.0), "registration", fail=False):
        # Nothing can be judged of a product the platform never registered: one root cause for every case.
        raise live.start_failure(
            "[ST-PROTO-030] 产品输出了就绪行，但平台上没有它的注册 / the product printed its ready line but the "
            "platform holds no registration of it"
        )
    from santong.conformance.plugin import session_of  # noqa: PLC0415

    s = session_of(request.config)
    if s is not None:
        s.negotiated_version = live.negotiated_version()
    window_s = max(3.0, 3.5 * live.heartbeat_s, 4 * live.report_s)
    time.sleep(max(0.0, t0 / 1000 + window_s - time.time()))
    live.ensure_running()
    snap = live.snapshot()
    snap.window_start_ms = t0
    return snap


@pytest.hookimpl(wrapper=True)
def pytest_pyfunc_call(pyfuncitem: pytest.Function) -> Generator[None, Any, Any]:
    """A case that ran while the product died fails ST-PROTO-030 (with the product's last words): santong
    started the product, so its exit is the product's, and one root cause groups every case it stopped."""
    try:
        result = yield
    except CouldNotRun:
        raise
    except Exception as e:
        product: Any = pyfuncitem.funcargs.get("live")
        why = product.died() if product is not None else None
        if why is not None:
            raise product.exit_failure(why) from e
        raise
    alive: Any = pyfuncitem.funcargs.get("live")
    why = alive.died() if alive is not None else None
    if why is not None:
        raise alive.exit_failure(why)
    return result
