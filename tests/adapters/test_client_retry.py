"""Back-off timing (pure) and which failures are retried (ST-PROTO-015..017)."""

from __future__ import annotations

import random

import pytest
from santong.adapters.client import (
    RETRYABLE_GRPC,
    RETRYABLE_HTTP,
    Backoff,
    CallError,
    Disposition,
    disposition,
)
from santong.adapters.client._transport import _http_error

GRPC_CODES = [
    "CANCELLED", "UNKNOWN", "INVALID_ARGUMENT", "DEADLINE_EXCEEDED", "NOT_FOUND", "ALREADY_EXISTS", "PERMISSION_DENIED",
    "RESOURCE_EXHAUSTED", "FAILED_PRECONDITION", "ABORTED", "OUT_OF_RANGE", "UNIMPLEMENTED", "INTERNAL", "UNAVAILABLE",
    "DATA_LOSS", "UNAUTHENTICATED",
]  # fmt: skip


def test_ceiling_doubles_from_base_up_to_the_cap() -> None:
    b = Backoff(base_s=0.1, cap_s=30.0)
    assert [b.ceiling(n) for n in range(10)] == pytest.approx(
        [0.1, 0.2, 0.4, 0.8, 1.6, 3.2, 6.4, 12.8, 25.6, 30.0]
    )
    assert b.ceiling(1000) == 30.0
    assert Backoff(base_s=0.25, cap_s=2.0).ceiling(4) == 2.0


def test_full_jitter_is_uniform_between_zero_and_the_ceiling() -> None:
    b = Backoff(base_s=0.1, cap_s=1.0)
    assert b.delay(3, uniform=lambda lo, hi: lo) == 0.0
    assert b.delay(3, uniform=lambda lo, hi: hi) == pytest.approx(0.8)
    assert b.delay(9, uniform=lambda lo, hi: hi) == pytest.approx(1.0)
    rng = random.Random(7)
    samples = [b.delay(2, uniform=rng.uniform) for _ in range(4000)]
    assert 0.0 <= min(samples) < 0.01 and 0.39 < max(samples) <= 0.4
    assert sum(samples) / len(samples) == pytest.approx(0.2, rel=0.05)  # mean of U(0, 0.4)


def test_retry_after_is_a_floor() -> None:
    b = Backoff(base_s=0.1, cap_s=1.0)
    assert b.delay(0, retry_after_s=2.5, uniform=lambda lo, hi: hi) == 2.5  # even above the cap
    assert b.delay(5, retry_after_s=0.01, uniform=lambda lo, hi: hi) == pytest.approx(1.0)


@pytest.mark.parametrize(
    ("kwargs", "words"),
    [({"base_s": 0.05}, "0.1"), ({"cap_s": 31.0}, "30"), ({"base_s": 2.0, "cap_s": 1.0}, "cap_s")],
)
def test_backoff_parameters_obey_the_clause(kwargs: dict, words: str) -> None:
    with pytest.raises(ValueError, match=words):
        Backoff(**kwargs)


@pytest.mark.parametrize("code", GRPC_CODES)
def test_which_grpc_codes_are_retried(code: str) -> None:
    d = disposition(code)
    if code in ("UNAVAILABLE", "RESOURCE_EXHAUSTED", "DEADLINE_EXCEEDED", "ABORTED"):
        assert d is Disposition.RETRY and code in RETRYABLE_GRPC
    elif code in ("UNAUTHENTICATED", "PERMISSION_DENIED"):
        assert d is Disposition.FATAL
    elif code == "FAILED_PRECONDITION":
        assert d is Disposition.REREGISTER
    else:
        assert d is Disposition.DEAD_LETTER and code not in RETRYABLE_GRPC


@pytest.mark.parametrize("status", [400, 401, 403, 404, 409, 413, 415, 429, 500, 501, 502, 503, 504])
def test_which_http_statuses_are_retried(status: int) -> None:
    d = disposition(None, status)
    expected = {429: Disposition.RETRY, 502: Disposition.RETRY, 503: Disposition.RETRY, 504: Disposition.RETRY,
                401: Disposition.FATAL, 403: Disposition.FATAL, 409: Disposition.REREGISTER}.get(status, Disposition.DEAD_LETTER)  # fmt: skip
    assert d is expected
    assert (status in RETRYABLE_HTTP) == (d is Disposition.RETRY)
    # 413 (too large) is RESOURCE_EXHAUSTED but the same body stays too large: not retried over HTTP
    assert CallError("RESOURCE_EXHAUSTED", "x", http_status=413).disposition is Disposition.DEAD_LETTER


class _Resp:
    def __init__(self, status: int, body: object, headers: dict[str, str]) -> None:
        self.status_code, self._body, self.headers, self.reason_phrase = status, body, headers, "R"

    def json(self) -> object:
        if self._body is None:
            raise ValueError("no json")
        return self._body


def test_http_error_bodies_give_code_violations_and_retry_advice() -> None:
    body = {
        "code": 8, "message": "too many",
        "details": [
            {"@type": "type.googleapis.com/google.rpc.BadRequest",
             "fieldViolations": [{"field": "$", "description": "上传过于频繁 / too many uploads", "reason": "ST-PROTO-010"}]},
            {"@type": "type.googleapis.com/google.rpc.RetryInfo", "retryDelay": "0.250s"},
        ],
    }  # fmt: skip
    e = _http_error(_Resp(429, body, {"retry-after": "1"}))
    assert (e.code, e.http_status, e.retry_after_s, e.clause_ids) == (
        "RESOURCE_EXHAUSTED",
        429,
        1.0,
        ["ST-PROTO-010"],
    )
    assert e.violations[0].message_zh == "上传过于频繁" and e.violations[0].message_en == "too many uploads"
    assert e.disposition is Disposition.RETRY
    e = _http_error(_Resp(502, None, {}))  # a proxy's bare 502
    assert (e.code, e.disposition) == ("UNAVAILABLE", Disposition.RETRY)
