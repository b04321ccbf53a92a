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


#: The rulings of ST-PROTO-014/015/016: only a rejection on content (INVALID_ARGUMENT with violations) and a
#: sequence conflict are final; credentials keep the data queued; FAILED_PRECONDITION re-registers; the rest retries.
EXPECTED_GRPC = {"INVALID_ARGUMENT": Disposition.FINAL, "ALREADY_EXISTS": Disposition.FINAL,
                 "UNAUTHENTICATED": Disposition.HOLD, "PERMISSION_DENIED": Disposition.HOLD,
                 "FAILED_PRECONDITION": Disposition.REREGISTER}  # fmt: skip


@pytest.mark.parametrize("code", GRPC_CODES)
def test_which_grpc_codes_are_retried(code: str) -> None:
    d = disposition(code, violations=["ST-DATA-031"])
    assert d is EXPECTED_GRPC.get(code, Disposition.RETRY)
    assert (code in RETRYABLE_GRPC) == (d is Disposition.RETRY)


@pytest.mark.parametrize(
    "code", ["INTERNAL", "UNKNOWN", "DATA_LOSS", "CANCELLED", "UNIMPLEMENTED", "NOT_FOUND"]
)
def test_errors_without_an_acknowledgement_are_never_final(code: str) -> None:
    """Issue 12, defect 1: INTERNAL and UNKNOWN went to the dead letters though the platform may have stored the
    upload; an upload without an acknowledgement is resent (ST-PROTO-014)."""
    assert disposition(code) is Disposition.RETRY
    assert CallError(code, "x").disposition is Disposition.RETRY


def test_invalid_argument_is_final_only_with_violations() -> None:
    assert disposition("INVALID_ARGUMENT") is Disposition.RETRY
    assert disposition("INVALID_ARGUMENT", 400, ["v"]) is Disposition.FINAL


@pytest.mark.parametrize(
    "status", [400, 401, 403, 404, 408, 409, 413, 415, 429, 500, 501, 502, 503, 504, 507]
)
def test_which_http_statuses_are_retried(status: int) -> None:
    d = disposition(None, status, ["v"])
    expected = {400: Disposition.FINAL, 415: Disposition.FINAL, 413: Disposition.FINAL, 401: Disposition.HOLD,
                403: Disposition.HOLD, 409: Disposition.REREGISTER}.get(status, Disposition.RETRY)  # fmt: skip
    assert d is expected
    assert (status in RETRYABLE_HTTP) == (d is Disposition.RETRY)
    # 413 (too large) is RESOURCE_EXHAUSTED but the same body stays too large: final over HTTP
    assert CallError("RESOURCE_EXHAUSTED", "x", http_status=413).disposition is Disposition.FINAL


def test_the_code_in_an_http_error_body_decides_between_codes_sharing_409() -> None:
    assert CallError("ALREADY_EXISTS", "x", http_status=409).disposition is Disposition.FINAL
    assert CallError("ABORTED", "x", http_status=409).disposition is Disposition.RETRY
    assert CallError("FAILED_PRECONDITION", "x", http_status=409).disposition is Disposition.REREGISTER


def test_an_ack_rejected_for_the_rate_alone_stands_for_resource_exhausted() -> None:
    """On a stream there is no status per batch: an Ack REJECTED naming only ST-PROTO-010 is the rate limit
    (retried, like RESOURCE_EXHAUSTED); any other clause in it makes it a rejection on content (final)."""
    from santong.protocols._status import rejection_code

    assert rejection_code(["ST-PROTO-010"]) == rejection_code(["ST-PROTO-010"] * 2) == "RESOURCE_EXHAUSTED"
    assert disposition(rejection_code(["ST-PROTO-010"]), violations=["ST-PROTO-010"]) is Disposition.RETRY
    assert rejection_code(["ST-PROTO-010", "ST-DATA-018"]) is None
    assert rejection_code(["ST-DATA-018"]) is None and rejection_code([]) is None


def test_outage_codes() -> None:
    assert CallError("UNAVAILABLE", "x").outage and CallError("DEADLINE_EXCEEDED", "x").outage
    assert CallError("INTERNAL", "x", connection=True).outage
    assert not CallError("INTERNAL", "x").outage and not CallError("RESOURCE_EXHAUSTED", "x").outage
    assert CallError("UNAVAILABLE", "x", http_status=502).outage


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
