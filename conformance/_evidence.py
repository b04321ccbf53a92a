"""Per-case evidence: counts, values and sample messages that go into the report."""

from __future__ import annotations

import json
from typing import Any

__all__ = ["Evidence"]

MAX_SAMPLES = 20
MAX_SAMPLE_BYTES = 32 * 1024


def _jsonable(value: Any, what: str) -> Any:
    if hasattr(value, "DESCRIPTOR") and hasattr(value, "SerializeToString"):  # a protobuf message
        from santong.protocols import to_dict  # noqa: PLC0415  (lazy: protobuf only when used)

        value = to_dict(value)
    try:
        json.dumps(value, ensure_ascii=False, allow_nan=False, sort_keys=True)
    except (TypeError, ValueError) as e:
        raise TypeError(f"证据 {what} 须可写成 JSON / evidence {what} must be JSON-serialisable: {e}") from e
    return value


class Evidence:
    """What a case saw, for the report. The ``evidence`` fixture gives one per case.

    Example::

        @pytest.mark.clause("ST-PROTO-021")
        def test_no_duplicates(evidence, stored):
            evidence.record("observations", len(stored))
            evidence.sample("first", stored[0])          # a dict or a protobuf message
            assert len({o.key for o in stored}) == len(stored)
    """

    def __init__(self) -> None:
        self.records: dict[str, Any] = {}
        self.samples: list[dict[str, Any]] = []
        self.dropped_samples = 0

    def record(self, key: str, value: Any) -> None:
        """Record a value (JSON-serialisable: numbers, strings, lists, dicts); the last write wins."""
        if not isinstance(key, str) or not key:
            raise TypeError("证据的键须为非空字符串 / evidence keys are non-empty strings")
        self.records[key] = _jsonable(value, key)

    def sample(self, name: str, message: Any) -> None:
        """Keep a sample message (a dict or a protobuf message); at most 20 per case, each ≤ 32 KiB."""
        body = _jsonable(message, name)
        if len(self.samples) >= MAX_SAMPLES:
            self.dropped_samples += 1
            return
        size = len(json.dumps(body, ensure_ascii=False).encode("utf-8"))
        if size > MAX_SAMPLE_BYTES:
            body = {"_truncated": True, "bytes": size}
        self.samples.append({"name": str(name), "message": body})

    def as_dict(self) -> dict[str, Any]:
        """JSON form for the report."""
        out: dict[str, Any] = {"records": self.records, "samples": self.samples}
        if self.dropped_samples:
            out["dropped_samples"] = self.dropped_samples
        return out
