"""Which failures are retried, and how long to wait: exponential back-off with full jitter (ST-PROTO-015..017).

The classification is the one table of ``santong.protocols`` (:data:`~santong.protocols.STATUS_TABLE`): every gRPC
code and HTTP status → retry / re-register / final / hold, and whether it means an outage. This module only adds
the back-off.

Example::

    backoff = Backoff(base_s=0.1, cap_s=30.0)
    delay = backoff.delay(attempt=3)                      # uniform in [0, min(30, 0.1 × 2³)] = [0, 0.8] s
    delay = backoff.delay(attempt=0, retry_after_s=2.0)   # at least the platform's Retry-After
    disposition("INTERNAL")                               # Disposition.RETRY: not acknowledged, resent
    disposition("INVALID_ARGUMENT", violations=[v])       # Disposition.FINAL: dead letters
"""

from __future__ import annotations

import random
from collections.abc import Callable, Iterable
from dataclasses import dataclass

from santong.protocols import STATUS_TABLE, Action, action

__all__ = [
    "RETRYABLE_GRPC",
    "RETRYABLE_HTTP",
    "Backoff",
    "Disposition",
    "disposition",
]

#: What the client does after a failed call (the spec's :class:`~santong.protocols.Action`).
Disposition = Action

#: gRPC codes retried (ST-PROTO-015), from the spec's table; failed connections count as UNAVAILABLE.
RETRYABLE_GRPC = frozenset(r.code for r in STATUS_TABLE if r.action is Action.RETRY and r.code != "OK")
#: HTTP statuses (without a code in the body) retried (ST-PROTO-015).
RETRYABLE_HTTP = frozenset(
    s for s in (*range(400, 452), *range(499, 600)) if action(None, s, ("violation",)) is Action.RETRY
)


def disposition(
    code: str | None, http_status: int | None = None, violations: Iterable[object] = ()
) -> Action:
    """The action after a failure given its gRPC code name (an HTTP error body carries it), HTTP status and
    violations: the spec's table (:func:`santong.protocols.action`)."""
    return action(code, http_status, violations)


@dataclass(frozen=True)
class Backoff:
    """Full-jitter exponential back-off: before retry n (from 0) wait U(0, min(cap, base × factor^n)) seconds,
    and at least the platform's Retry-After / RetryInfo when it gives one (ST-PROTO-017)."""

    base_s: float = 0.1
    cap_s: float = 30.0
    factor: float = 2.0

    def __post_init__(self) -> None:
        if not self.base_s >= 0.1 - 1e-12:
            raise ValueError(f"base_s must be >= 0.1 (ST-PROTO-017), got {self.base_s}")
        if not self.base_s <= self.cap_s <= 30.0:
            raise ValueError(f"cap_s must lie in [base_s, 30] (ST-PROTO-017), got {self.cap_s}")
        if self.factor < 1.0:
            raise ValueError(f"factor must be >= 1, got {self.factor}")

    def ceiling(self, attempt: int) -> float:
        """The upper bound of the wait before retry ``attempt`` (0-based)."""
        if attempt < 0:
            raise ValueError("attempt must be >= 0")
        if attempt > 64:  # base × 2⁶⁴ is beyond any cap; avoid float overflow
            return self.cap_s
        return float(min(self.cap_s, self.base_s * self.factor**attempt))

    def delay(
        self,
        attempt: int,
        retry_after_s: float | None = None,
        uniform: Callable[[float, float], float] = random.uniform,
    ) -> float:
        """The wait before retry ``attempt``: jittered, never below ``retry_after_s``."""
        d = uniform(0.0, self.ceiling(attempt))
        if retry_after_s is not None and retry_after_s > d:
            d = float(retry_after_s)
        return d
