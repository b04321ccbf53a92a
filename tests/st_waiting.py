"""Waiting in tests: poll a condition until it holds or a generous deadline passes, never sleep a fixed time.

``wait_until`` (threads) and ``wait_for`` (asyncio) return the first truthy value of ``check()``; past the
deadline they fail with what was asked for and what was last seen. The deadline only bounds a failing test: a
passing test returns as soon as the condition holds, so deadlines are generous (a loaded CI machine is slow).

Example::

    rows = wait_until(lambda: target.inspect("devices"), what="the device list")
    stored = await wait_for(lambda: mp.platform.inspection.acknowledged(DEVICE), what="acks", timeout=30)
"""

from __future__ import annotations

import asyncio
import inspect
import time
from collections.abc import Awaitable, Callable
from typing import Any, TypeVar

__all__ = ["DEADLINE_S", "wait_for", "wait_until"]

T = TypeVar("T")
DEADLINE_S = 30.0  # default deadline: only ever reached by a failing test
POLL_S = 0.02


def _failure(what: str, timeout: float, last: object, error: BaseException | None) -> AssertionError:
    seen = f"last seen: {last!r}"[:2000]
    if error is not None:
        seen += f"; last error: {error!r}"[:1000]
    return AssertionError(f"not within {timeout:g} s: {what or 'condition'} ({seen})")


def wait_until(
    check: Callable[[], T],
    *,
    timeout: float = DEADLINE_S,
    what: str = "",
    every: float = POLL_S,
    ignore: tuple[type[BaseException], ...] = (),
) -> T:
    """Call ``check()`` until it returns something truthy (returned) or ``timeout`` s pass (AssertionError).

    Exceptions listed in ``ignore`` count as "not yet" (e.g. a server still starting refuses connections).
    """
    deadline = time.monotonic() + timeout
    last: object = None
    error: BaseException | None = None
    while True:
        try:
            last = check()
            error = None
        except ignore as e:
            error = e
        else:
            if last:
                return last  # type: ignore[return-value]
        if time.monotonic() > deadline:
            raise _failure(what, timeout, last, error)
        time.sleep(every)


async def wait_for(
    check: Callable[[], T | Awaitable[T]],
    *,
    timeout: float = DEADLINE_S,
    what: str = "",
    every: float = POLL_S,
    ignore: tuple[type[BaseException], ...] = (),
) -> T:
    """Async :func:`wait_until`: ``check()`` may be a plain function or return an awaitable."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    last: Any = None
    error: BaseException | None = None
    while True:
        try:
            last = check()
            if inspect.isawaitable(last):
                last = await last
            error = None
        except ignore as e:
            error = e
        else:
            if last:
                return last  # type: ignore[no-any-return]
        if loop.time() > deadline:
            raise _failure(what, timeout, last, error)
        await asyncio.sleep(every)
