"""Which failures are retried, and how long to wait: exponential back-off with full jitter (ST-PROTO-015..017).

Example::

    backoff = Backoff(base_s=0.1, cap_s=30.0)
    delay = backoff.delay(attempt=3)                      # uniform in [0, min(30, 0.1 × 2³)] = [0, 0.8] s
    delay = backoff.delay(attempt=0, retry_after_s=2.0)   # at least the platform's Retry-After
    disposition("UNAVAILABLE")                            # Disposition.RETRY
    disposition(None, http_status=400)                    # Disposition.DEAD_LETTER
"""

from __future__ import annotations

import enum
import random
from collections.abc import Callable
from dataclasses import dataclass

__all__ = [
    "GRPC_CODE_BY_HTTP",
    "RETRYABLE_GRPC",
    "RETRYABLE_HTTP",
    "Backoff",
    "Disposition",
    "disposition",
]

#: gRPC codes retried (ST-PROTO-015); failed connections are reported as UNAVAILABLE.
RETRYABLE_GRPC = frozenset({"UNAVAILABLE", "RESOURCE_EXHAUSTED", "DEADLINE_EXCEEDED", "ABORTED"})
#: HTTP statuses retried (ST-PROTO-015).
RETRYABLE_HTTP = frozenset({429, 502, 503, 504})

#: The gRPC code of an HTTP status as the platform maps them (ST-IFACE-015), for errors without a JSON body.
GRPC_CODE_BY_HTTP = {
    400: "INVALID_ARGUMENT",
    401: "UNAUTHENTICATED",
    403: "PERMISSION_DENIED",
    404: "NOT_FOUND",
    409: "FAILED_PRECONDITION",
    413: "RESOURCE_EXHAUSTED",
    415: "INVALID_ARGUMENT",
    429: "RESOURCE_EXHAUSTED",
    499: "CANCELLED",
    500: "INTERNAL",
    501: "UNIMPLEMENTED",
    502: "UNAVAILABLE",
    503: "UNAVAILABLE",
    504: "DEADLINE_EXCEEDED",
}


class Disposition(enum.Enum):
    """What the client does after a failed call."""

    #: Wait (back-off) and send the same upload again (ST-PROTO-014/015).
    RETRY = "retry"
    #: Register again, then send the upload again (FAILED_PRECONDITION / 409, ST-PROTO-016).
    REREGISTER = "reregister"
    #: Never send it again: move the upload to the dead-letter table (INVALID_ARGUMENT / 400 and every other
    #: non-retryable error, ST-PROTO-016).
    DEAD_LETTER = "dead_letter"
    #: Stop the client with a clear error: the credentials or identity are wrong (UNAUTHENTICATED / 401,
    #: PERMISSION_DENIED / 403); resending cannot help.
    FATAL = "fatal"


def disposition(code: str | None, http_status: int | None = None) -> Disposition:
    """The disposition of a failure given its gRPC code name and/or HTTP status.

    Over HTTP the status decides (413 is RESOURCE_EXHAUSTED but not retried: the same body stays too large);
    over gRPC the code does.
    """
    if http_status is not None:
        if http_status in RETRYABLE_HTTP:
            return Disposition.RETRY
        if http_status in (401, 403):
            return Disposition.FATAL
        if http_status == 409:
            return Disposition.REREGISTER
        return Disposition.DEAD_LETTER
    if code in RETRYABLE_GRPC:
        return Disposition.RETRY
    if code in ("UNAUTHENTICATED", "PERMISSION_DENIED"):
        return Disposition.FATAL
    if code == "FAILED_PRECONDITION":
        return Disposition.REREGISTER
    return Disposition.DEAD_LETTER


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
