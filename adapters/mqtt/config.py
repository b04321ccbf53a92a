"""Configuration of the MQTT adapter: ``adapter.settings`` (:class:`MqttSettings`) and each point's ``source``.

Example (the vendor JSON of santong's MQTT simulator)::

    adapter:
      kind: mqtt
      settings:
        host: 127.0.0.1
        port: 1883
        client_id: santong-kj70n-0001            # stable: the broker keeps our session and QoS 1 messages
        topic: kjsim/KJ-FZ-001/data              # the points' default topic (filters with + and # allowed)
        timestamp_path: ts                       # {"ts": 1736908200000, …}
        timestamp_format: epoch_ms               # epoch_ms | epoch_s | iso | auto
        quality_path: .q                         # relative: next to each point's value
        status_path: .s
      points:
        - point_code: "14042100000101MNA001001A02"
          location: 15101 工作面 T1
          source: {path: data.CH4_T1.v}
        - point_code: "14042100000101MNA007001A07"
          location: 15101 工作面
          scale: 0.1                             # mapping keys: scale, offset, bit, mask, shift, deadband …
          source: {path: "values[3]", topic: vendor/+/temperature, timestamp_path: time, timestamp_format: iso}

**Path syntax** (see :class:`~santong.adapters.mqtt.converter.JsonPath`): keys separated by dots
(``data.CH4_T1.v``), array items by index in brackets (``values[0]``, ``[-1]`` is the last), keys that contain
dots or brackets quoted in brackets (``data["CH4.T1"].v``). A path that starts with a dot (``.q``) is relative:
it continues from the object that holds the point's value (``data.CH4_T1.v`` → ``data.CH4_T1.q``).
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Literal

from santong.adapters.mqtt.converter import JsonPath, PathError, parse_offset

__all__ = ["DEFAULT_QUALITY_MAP", "MqttSettings", "MqttSource", "SettingsError", "TimestampFormat"]

TimestampFormat = Literal["epoch_ms", "epoch_s", "iso", "auto"]

#: Quality values (as lower-case text: 0 → "0", true → "true") → status bits; others count as bad (128).
DEFAULT_QUALITY_MAP: Mapping[str, int] = {
    "0": 0, "good": 0, "ok": 0, "normal": 0, "192": 0, "true": 0,
    "1": 128, "bad": 128, "fault": 128, "false": 128,
    "uncertain": 0,
}  # fmt: skip

_TOPIC_FILTER = re.compile(r"^(?:[^#+]*|\+)(?:/(?:[^#+/]*|\+))*(?:/#)?$|^#$")


class SettingsError(ValueError):
    """A settings or source value is invalid (the configuration loader reports it with file and line)."""

    def __init__(self, message_zh: str, message_en: str) -> None:
        self.message_zh = message_zh
        self.message_en = message_en
        super().__init__(f"{message_zh} / {message_en}")


def _check_path(name: str, text: str | None, *, relative: bool = True) -> None:
    if text is None or text == "":
        return
    try:
        JsonPath.parse(text, allow_relative=relative)
    except PathError as e:
        raise SettingsError(f"{name}: {e.message_zh}", f"{name}: {e.message_en}") from e


def check_topic_filter(name: str, topic: str) -> None:
    """SettingsError unless ``topic`` is a valid MQTT topic filter (``+`` a whole level, ``#`` last)."""
    if (
        not topic
        or len(topic.encode("utf-8")) > 65535
        or "\x00" in topic
        or not _TOPIC_FILTER.fullmatch(topic)
    ):
        raise SettingsError(
            f"{name} {topic!r} 不是合法的 MQTT 主题过滤器（+ 占一整级，# 只能在最后）",
            f"{name} {topic!r} is not a valid MQTT topic filter (+ takes a whole level, # only at the end)",
        )


def _range(name: str, value: int, low: int, high: int) -> None:
    if not isinstance(value, int) or isinstance(value, bool) or not low <= value <= high:
        raise SettingsError(
            f"{name} 须在 {low}–{high} 之间，当前为 {value!r}", f"{name} must be {low}–{high}, got {value!r}"
        )


@dataclass(frozen=True)
class MqttSettings:
    """The broker, the subscriptions and the defaults of every point's source.

    ``client_id`` should stay the same across restarts: with ``clean_session: false`` (MQTT 3.1.1) or a
    ``session_expiry_s`` (MQTT 5) the broker keeps the subscriptions and queues QoS 1 messages while the adapter
    is away. Messages are acknowledged only after their observations are in the durable store-and-forward
    queue (at least every ``ack_max_messages`` messages or ``ack_max_delay_ms``), so a crash loses nothing the
    broker delivered. ``topics``: the subscriptions (default: every point's topic filter).
    ``stale_after_ms``: a point without a new value for this long is reported with the outstation-fault bit 16
    (0: never); ``fault_on_disconnect`` does the same for every point when the broker connection drops.
    ``report_interval_ms``: a quiet point is reported again with its last value (ST-PROTO-025).
    """

    host: str = "127.0.0.1"
    port: int = 1883
    client_id: str = ""
    username: str = ""
    password_env: str = ""
    protocol: Literal["3.1.1", "5"] = "3.1.1"
    clean_session: bool = False
    session_expiry_s: int = 86_400
    keepalive_s: int = 30
    qos: int = 1
    topic: str = ""
    topics: tuple[str, ...] = ()
    timestamp_path: str = ""
    timestamp_format: TimestampFormat = "auto"
    naive_utc_offset: str = "+00:00"
    quality_path: str = ""
    status_path: str = ""
    quality_map: dict[str, int] = field(default_factory=dict)
    numeric_strings: bool = True
    max_payload_bytes: int = 1_048_576
    max_future_ms: int = 4_000
    reconnect_min_ms: int = 200
    reconnect_max_ms: int = 10_000
    ack_max_messages: int = 10
    ack_max_delay_ms: int = 200
    report_interval_ms: int = 30_000
    stale_after_ms: int = 0
    fault_on_disconnect: bool = True

    def __post_init__(self) -> None:
        """Check every field (SettingsError names the field and the fix)."""
        if not self.host:
            raise SettingsError("host 不能为空", "host must not be empty")
        _range("port", self.port, 1, 65535)
        _range("keepalive_s", self.keepalive_s, 1, 65535)
        _range("qos", self.qos, 0, 2)
        _range("session_expiry_s", self.session_expiry_s, 0, 2**32 - 1)
        _range("max_payload_bytes", self.max_payload_bytes, 1, 256 * 1024 * 1024)
        _range("max_future_ms", self.max_future_ms, 0, 3_600_000)
        _range("reconnect_min_ms", self.reconnect_min_ms, 10, 3_600_000)
        _range("reconnect_max_ms", self.reconnect_max_ms, self.reconnect_min_ms, 3_600_000)
        _range("ack_max_messages", self.ack_max_messages, 1, 65535)
        _range("ack_max_delay_ms", self.ack_max_delay_ms, 1, 60_000)
        _range("report_interval_ms", self.report_interval_ms, 0, 86_400_000)
        _range("stale_after_ms", self.stale_after_ms, 0, 86_400_000)
        if len(self.client_id.encode("utf-8")) > 65535:
            raise SettingsError("client_id 太长", "client_id is too long")
        if self.password_env and not self.username:
            raise SettingsError("给了 password_env 却没有 username", "password_env is given without username")
        for t in ([self.topic] if self.topic else []) + list(self.topics):
            check_topic_filter("topic", t)
        _check_path("timestamp_path", self.timestamp_path)
        _check_path("quality_path", self.quality_path)
        _check_path("status_path", self.status_path)
        try:
            parse_offset(self.naive_utc_offset)
        except ValueError as e:
            raise SettingsError(
                f"naive_utc_offset {self.naive_utc_offset!r} 应如 +08:00",
                f"naive_utc_offset {self.naive_utc_offset!r} must look like +08:00",
            ) from e
        for k, v in self.quality_map.items():
            if not isinstance(v, int) or isinstance(v, bool) or not 0 <= v <= 255:
                raise SettingsError(
                    f"quality_map[{k!r}] 须为 0–255 的状态位（ST-DATA-020）",
                    f"quality_map[{k!r}] must be status bits 0–255 (ST-DATA-020)",
                )

    def quality_bits(self) -> dict[str, int]:
        """The quality map in force: the defaults, overridden by ``quality_map`` (keys lower-cased)."""
        return {**DEFAULT_QUALITY_MAP, **{k.lower(): v for k, v in self.quality_map.items()}}


@dataclass(frozen=True)
class MqttSource:
    """Where a point's value is: the topic filter it arrives on and its path in the JSON payload.

    ``topic`` defaults to ``settings.topic``; ``timestamp_path`` / ``timestamp_format``, ``quality_path`` and
    ``status_path`` default to the settings' (an empty ``timestamp_path``: the time of arrival).
    """

    path: str
    topic: str = ""
    timestamp_path: str | None = None
    timestamp_format: TimestampFormat | None = None
    quality_path: str | None = None
    status_path: str | None = None

    def __post_init__(self) -> None:
        """Check the paths and the topic filter."""
        _check_path("path", self.path, relative=False)
        _check_path("timestamp_path", self.timestamp_path)
        _check_path("quality_path", self.quality_path)
        _check_path("status_path", self.status_path)
        if self.topic:
            check_topic_filter("topic", self.topic)
