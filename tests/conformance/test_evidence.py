"""Per-case evidence (conformance/_evidence.py): what goes into the report, its limits, what it refuses."""

from __future__ import annotations

import json
import math

import pytest
from santong.conformance._evidence import MAX_SAMPLE_BYTES, MAX_SAMPLES, Evidence
from santong.protocols.v1.device_access_pb2 import HeartbeatRequest


def test_records_are_kept_by_key_and_the_last_write_wins() -> None:
    ev = Evidence()
    ev.record("points", 4)
    ev.record("delays_ms", [100, 200])
    ev.record("points", 5)
    assert ev.as_dict() == {"records": {"points": 5, "delays_ms": [100, 200]}, "samples": []}


@pytest.mark.parametrize("key", ["", 7, None])
def test_a_record_key_is_a_non_empty_string(key: object) -> None:
    ev = Evidence()
    with pytest.raises(TypeError, match=r"^证据的键须为非空字符串 / evidence keys are non-empty strings$"):
        ev.record(key, 1)  # type: ignore[arg-type]
    assert ev.records == {}


@pytest.mark.parametrize("value", [{1, 2}, math.nan, object()])
def test_a_value_that_is_not_json_is_refused_naming_the_key(value: object) -> None:
    ev = Evidence()
    with pytest.raises(
        TypeError, match=r"^证据 delays 须可写成 JSON / evidence delays must be JSON-serialisable: "
    ):
        ev.record("delays", value)
    with pytest.raises(TypeError, match="evidence first must be JSON-serialisable"):
        ev.sample("first", value)
    assert ev.as_dict() == {"records": {}, "samples": []}


def test_a_dict_whose_keys_cannot_be_sorted_is_refused() -> None:
    """The report is canonical JSON (sorted keys): a dict mixing number and text keys cannot be written."""
    with pytest.raises(TypeError, match="evidence mixed must be JSON-serialisable"):
        Evidence().record("mixed", {1: "a", "b": 2})
    ev = Evidence()
    ev.record("numbers", {1: "a", 2: "b"})  # all keys of one type: fine (JSON writes them as text)
    assert ev.records == {"numbers": {1: "a", 2: "b"}}


def test_an_object_that_only_looks_half_like_a_protobuf_message_is_not_converted() -> None:
    """Both DESCRIPTOR and SerializeToString make a protobuf message; one of them alone is just an object."""

    class Half:
        def SerializeToString(self) -> bytes:  # noqa: N802  (the protobuf method name)
            return b""

    class Other:
        DESCRIPTOR = None

    for value in (Half(), Other()):
        with pytest.raises(TypeError, match="must be JSON-serialisable"):
            Evidence().record("x", value)


def test_protobuf_messages_are_kept_in_their_canonical_json_form() -> None:
    ev = Evidence()
    msg = HeartbeatRequest(last_acknowledged_sequence=41, queued_uploads=3)
    ev.record("heartbeat", msg)
    ev.sample("hb", msg)
    expected = {"last_acknowledged_sequence": "41", "queued_uploads": 3}
    assert ev.records["heartbeat"] == expected
    assert ev.samples == [{"name": "hb", "message": expected}]


def test_samples_keep_their_name_and_body_in_order() -> None:
    ev = Evidence()
    ev.sample("first", {"unit": "%CH4"})
    ev.sample(3, [1, 2])  # type: ignore[arg-type]  (a name is written as text)
    assert ev.as_dict() == {
        "records": {},
        "samples": [{"name": "first", "message": {"unit": "%CH4"}}, {"name": "3", "message": [1, 2]}],
    }


def test_at_most_twenty_samples_the_rest_are_counted() -> None:
    ev = Evidence()
    for i in range(MAX_SAMPLES):
        ev.sample(f"s{i}", {"i": i})
    assert "dropped_samples" not in ev.as_dict()  # none dropped: no key
    ev.sample("late", {"i": 99})
    ev.sample("later", {"i": 100})
    d = ev.as_dict()
    assert MAX_SAMPLES == 20 and len(d["samples"]) == 20
    assert [s["name"] for s in d["samples"]] == [f"s{i}" for i in range(20)]
    assert d["dropped_samples"] == 2


def test_a_dropped_sample_must_still_be_json() -> None:
    ev = Evidence()
    for i in range(MAX_SAMPLES):
        ev.sample(f"s{i}", i)
    with pytest.raises(TypeError):
        ev.sample("late", {1, 2})


def _body_of_size(size: int) -> dict[str, str]:
    """A sample body whose JSON (as the evidence measures it: UTF-8, no ASCII escapes) is ``size`` bytes."""
    overhead = len(json.dumps({"t": ""}, ensure_ascii=False).encode("utf-8"))
    body = {"t": "甲" * ((size - overhead) // 3) + "a" * ((size - overhead) % 3)}
    assert len(json.dumps(body, ensure_ascii=False).encode("utf-8")) == size
    return body


def test_a_sample_of_up_to_32_kib_is_kept_whole_a_larger_one_only_by_its_size() -> None:
    """The size is that of the UTF-8 JSON text (a Chinese character is 3 bytes), not of its characters."""
    ev = Evidence()
    ev.sample("fits", _body_of_size(MAX_SAMPLE_BYTES))
    ev.sample("too big", _body_of_size(MAX_SAMPLE_BYTES + 1))
    assert MAX_SAMPLE_BYTES == 32 * 1024
    assert ev.samples[0]["message"] == _body_of_size(MAX_SAMPLE_BYTES)
    assert ev.samples[1] == {
        "name": "too big",
        "message": {"_truncated": True, "bytes": MAX_SAMPLE_BYTES + 1},
    }
    # 11 000 Chinese characters are 33 000 bytes (over the limit) but far fewer characters.
    ev.sample("chinese", {"t": "甲" * 11_000})
    assert ev.samples[2]["message"]["_truncated"] is True
