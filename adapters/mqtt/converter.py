"""Vendor JSON payloads → observations: field selection by path, timestamps, quality, and clear rejections.

**Path syntax** (:class:`JsonPath`)::

    path     := [ "." ] step ( "." key | index )*       a leading "." makes the path relative
    step     := key | index
    key      := one or more characters other than  .  [  ]  "  '
    index    := "[" integer "]"                          array item; negative counts from the end
              | "[" '"' text '"' "]" | "[" "'" text "'" "]"   a key with dots or brackets in it

``data.CH4_T1.v`` → ``doc["data"]["CH4_T1"]["v"]``; ``values[2].v`` → ``doc["values"][2]["v"]``;
``[0].ts`` → the first item of a top-level array; ``data["CH4.T1"].v`` → the key ``CH4.T1``. A relative path
(``.q``) continues from the object holding the point's value: with value path ``data.CH4_T1.v`` it is
``data.CH4_T1.q``.

**Timestamps** (``timestamp_format``): ``epoch_ms`` and ``epoch_s`` (numbers or numeric strings; seconds may
have a fraction), ``iso`` (ISO 8601 / RFC 3339 text; without a zone it is read with ``naive_utc_offset``, e.g.
``+08:00`` for China local time), ``auto`` (numbers ≥ 10¹¹ are ms, smaller ones s; text is ISO). No
timestamp path: the time of arrival (the platform-corrected clock). A missing or unreadable timestamp, or one
outside 2000–2100, falls back to the time of arrival (logged, ST-DATA-030); one more than ``max_future_ms``
ahead would be rejected by the platform (ST-DATA-031) and also falls back.

**Quality and status.** The value at ``status_path`` is the device's 测点状态 bits (an integer 0–255,
ST-DATA-020). The value at ``quality_path`` is looked up, as lower-case text, in the quality map
(:data:`~santong.adapters.mqtt.config.DEFAULT_QUALITY_MAP`: ``0``/``good``/``ok`` → 0, ``1``/``bad`` → 128 …;
an unknown quality counts as 128 and is logged). The quality's bits are added only when the status bits carry
no fault bit (16, 32, 64, 128) already. A value with a fault bit that is missing or no number is reported as
the last good value (or 0) with its status.

**Rejections** — each counted by reason, logged with the topic, the point and the clause; the payload's other
points (and every other message) go on:

================  ===========  ==================================================================
reason            clause       what
================  ===========  ==================================================================
too_large         ST-PROTO-009 payload above ``max_payload_bytes``
empty             ST-DATA-036  zero-length payload
not_utf8          ST-DATA-036  not UTF-8
not_json          ST-DATA-036  not JSON (with the parser's line and column)
wrong_shape       ST-DATA-036  JSON, but no configured value path found (e.g. an array, no ``data``)
missing_field     ST-DATA-035  one point's value path is not in the payload
null_value        ST-DATA-035  the value is null
not_number        ST-DATA-035  the value is no number (``"abc"``, an object …)
not_finite        ST-DATA-018  NaN, Infinity (e.g. ``1e999``)
not_switch        ST-DATA-019  a switch value other than 0 / 1 (true / false)
bad_timestamp     ST-DATA-030  timestamp missing / unreadable / implausible: time of arrival used
future_time       ST-DATA-031  timestamp too far ahead: time of arrival used
bad_status        ST-DATA-020  status bits not an integer 0–255: ignored
unknown_quality   ST-DATA-020  a quality value not in the map: status 128
================  ===========  ==================================================================
"""

from __future__ import annotations

import json
import logging
import math
import re
import time
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from typing import TYPE_CHECKING, Any

from santong.adapters._alarms import AlarmTracker
from santong.adapters._mapping import ChangeFilter
from santong.adapters._sdk import Observation, PointConfig, UplinkConverter
from santong.adapters._support import ProblemLog, apply_mapping
from santong.protocols.v1 import common_pb2

if TYPE_CHECKING:
    from santong.adapters.mqtt.config import MqttSettings

__all__ = [
    "FAULT_BITS",
    "JsonPath",
    "Message",
    "MqttUplink",
    "PathError",
    "parse_offset",
    "parse_time",
    "topic_matches",
]

log = logging.getLogger("santong.adapters.mqtt")

SENSOR_FAULT = common_pb2.POINT_STATUS_FLAG_SENSOR_FAULT
OUTSTATION_FAULT = common_pb2.POINT_STATUS_FLAG_OUTSTATION_FAULT
#: Status bits that say the value is not a real reading: outstation fault, not polled, paused, sensor fault.
FAULT_BITS = 16 | 32 | 64 | 128
_MIN_MS = 946_684_800_000  # 2000-01-01
_MAX_MS = 4_102_444_800_000  # 2100-01-01
_NUMBER = re.compile(r"^\s*-?(\d+(\.\d*)?|\.\d+)([eE][-+]?\d+)?\s*$")


# ---------------------------------------------------------------------------------------------- paths


class PathError(ValueError):
    """A path that does not follow the syntax (message in 中文 / English)."""

    def __init__(self, message_zh: str, message_en: str) -> None:
        self.message_zh = message_zh
        self.message_en = message_en
        super().__init__(f"{message_zh} / {message_en}")


class Missing(LookupError):
    """A path that does not lead to a value in this document: where it stopped and why (中文 / English)."""

    def __init__(self, message_zh: str, message_en: str) -> None:
        self.message_zh = message_zh
        self.message_en = message_en
        super().__init__(f"{message_zh} / {message_en}")


_KEY_STOP = frozenset(".[]\"'")


@dataclass(frozen=True, slots=True)
class JsonPath:
    """A compiled field path (see the module docstring for the syntax).

    Example::

        >>> JsonPath.parse("data.CH4_T1.v").get({"data": {"CH4_T1": {"v": 0.32}}})
        0.32
        >>> JsonPath.parse("values[-1]").get({"values": [1, 2, 3]})
        3
        >>> JsonPath.parse(".q").resolve(JsonPath.parse("data.CH4_T1.v")).text
        'data.CH4_T1.q'
    """

    text: str
    steps: tuple[str | int, ...]
    relative: bool = False

    @classmethod
    def parse(cls, text: str, *, allow_relative: bool = True) -> JsonPath:
        """Compile ``text``; PathError naming the position and the fix."""

        def fail(at: int, zh: str, en: str) -> PathError:
            return PathError(
                f'路径 {text!r} 第 {at + 1} 个字符处{zh}（示例：data.CH4_T1.v、values[0].v、data["CH4.T1"].v）',
                f'path {text!r} at character {at + 1}: {en} (examples: data.CH4_T1.v, values[0].v, data["CH4.T1"].v)',
            )

        if not isinstance(text, str) or not text:
            raise PathError("路径不能为空", "the path must not be empty")
        i, n = 0, len(text)
        relative = text.startswith(".")
        if relative:
            if not allow_relative:
                raise fail(
                    0,
                    "不能以 . 开头（只有质量、状态、时间路径可以是相对路径）",
                    "must not start with . (only the quality, status and timestamp paths may be relative)",
                )
            i = 1
        steps: list[str | int] = []
        need_step = True
        while i < n:
            c = text[i]
            if c == "[":
                q = text[i + 1 : i + 2]
                if q in ('"', "'"):  # a quoted key: up to the same quote, then ]
                    close = text.find(q, i + 2)
                    if close < 0 or text[close + 1 : close + 2] != "]":
                        raise fail(i, f"的带引号键缺少结尾的 {q}]", f"the quoted key needs a closing {q}]")
                    if close == i + 2:
                        raise fail(i, "的键为空", "has an empty key")
                    steps.append(text[i + 2 : close])
                    end = close + 1
                else:
                    end = text.find("]", i)
                    if end < 0:
                        raise fail(i, "的 [ 没有配对的 ]", "'[' has no matching ']'")
                    inner = text[i + 1 : end]
                    if not re.fullmatch(r"-?\d{1,9}", inner):
                        raise fail(
                            i,
                            f"的 [{inner}] 应为整数下标或带引号的键",
                            f"[{inner}] must be an integer index or a quoted key",
                        )
                    steps.append(int(inner))
                i = end + 1
                need_step = False
            elif c == ".":
                if need_step:
                    raise fail(i, "多了一个 .（空的键）", "has an extra '.' (an empty key)")
                i += 1
                need_step = True
            else:
                if c in _KEY_STOP:
                    raise fail(
                        i,
                        f'不能出现 {c!r}（键中的特殊字符请用 ["…"]）',
                        f'{c!r} is not allowed here (quote keys with special characters: ["…"])',
                    )
                if not need_step:
                    raise fail(i, "的键前缺少 .", "needs a '.' before this key")
                j = i
                while j < n and text[j] not in _KEY_STOP:
                    j += 1
                steps.append(text[i:j])
                i = j
                need_step = False
        if need_step:
            raise fail(n - 1, "以 . 结尾（缺少键）", "ends with '.' (a key is missing)")
        return cls(text, tuple(steps), relative)

    def resolve(self, base: JsonPath) -> JsonPath:
        """This path made absolute: a relative one continues from the parent of ``base``'s last step."""
        if not self.relative:
            return self
        steps = base.steps[:-1] + self.steps
        return JsonPath(_render(steps), steps, False)

    def get(self, doc: Any) -> Any:
        """The value at this path in ``doc``; Missing saying where the path stopped and why."""
        node = doc
        for k, step in enumerate(self.steps):
            where = _where(self.steps[:k])
            where_zh = where if k else "顶层"
            if isinstance(step, int):
                if not isinstance(node, list):
                    raise Missing(
                        f"{where_zh}是{_kind_zh(node)}，不是数组", f"{where} is {_kind(node)}, not an array"
                    )
                if not -len(node) <= step < len(node):
                    raise Missing(
                        f"{where_zh}没有第 [{step}] 项（共 {len(node)} 项）",
                        f"{where} has no item [{step}] ({len(node)} items)",
                    )
                node = node[step]
            else:
                if not isinstance(node, dict):
                    raise Missing(
                        f"{where_zh}是{_kind_zh(node)}，不是对象", f"{where} is {_kind(node)}, not an object"
                    )
                if step not in node:
                    raise Missing(f"{where_zh}没有键 {step!r}", f"{where} has no key {step!r}")
                node = node[step]
        return node


def _render(steps: Iterable[str | int]) -> str:
    """The canonical text of a path: keys with special characters quoted in brackets."""
    out = ""
    for st in steps:
        if isinstance(st, int):
            out += f"[{st}]"
        elif not st or any(c in _KEY_STOP for c in st):
            out += f'["{st}"]' if '"' not in st else f"['{st}']"
        else:
            out += f".{st}" if out else st
    return out


def _where(steps: Iterable[str | int]) -> str:
    out = ""
    for s in steps:
        out += f"[{s}]" if isinstance(s, int) else (f".{s}" if out else s)
    return out or "the top level"


def _kind_zh(node: Any) -> str:
    return {dict: "对象", list: "数组", str: "字符串", bool: "布尔值", type(None): "null"}.get(
        type(node), "数"
    )


def _kind(node: Any) -> str:
    return {dict: "an object", list: "an array", str: "a string", bool: "a boolean", type(None): "null"}.get(
        type(node), "a number"
    )


# ---------------------------------------------------------------------------------------------- topics and times


def topic_matches(topic_filter: str, topic: str) -> bool:
    """True if ``topic`` matches the MQTT ``topic_filter`` (``+`` one level, ``#`` the rest; ``$`` topics apart)."""
    if topic.startswith("$") and topic_filter[:1] in ("+", "#"):
        return False
    f, t = topic_filter.split("/"), topic.split("/")
    for i, part in enumerate(f):
        if part == "#":
            return True
        if i >= len(t) or (part != "+" and part != t[i]):
            return False
    return len(f) == len(t)


def parse_offset(text: str) -> int:
    """Minutes east of UTC of ``+08:00`` / ``-0530`` / ``Z`` / ``UTC``; ValueError otherwise."""
    s = text.strip().upper()
    if s in ("Z", "UTC", ""):
        return 0
    m = re.fullmatch(r"([+-])(\d{2}):?(\d{2})", s)
    if m is None:
        raise ValueError(f"bad UTC offset {text!r}")
    minutes = int(m.group(2)) * 60 + int(m.group(3))
    if minutes > 14 * 60:
        raise ValueError(f"bad UTC offset {text!r}")
    return minutes if m.group(1) == "+" else -minutes


def parse_time(value: Any, fmt: str, naive_offset_min: int = 0) -> int:
    """Epoch milliseconds of a payload timestamp in format ``fmt``; ValueError saying why not."""
    if isinstance(value, bool) or value is None:
        raise ValueError(f"timestamp {value!r} is neither a number nor text")
    number: float | None = None
    if isinstance(value, int | float) or isinstance(value, str) and _NUMBER.fullmatch(value) and fmt != "iso":
        number = float(value)
    if number is not None:
        if fmt == "iso":
            raise ValueError(f"timestamp {value!r} is a number, not ISO 8601 text")
        if not math.isfinite(number):
            raise ValueError(f"timestamp {value!r} is not finite")
        seconds = fmt == "epoch_s" or (fmt == "auto" and abs(number) < 1e11)
        ms = int(round(number * 1000)) if seconds else int(round(number))
    elif isinstance(value, str):
        if fmt in ("epoch_ms", "epoch_s"):
            raise ValueError(f"timestamp {value!r} is not a number ({fmt})")
        try:
            dt = datetime.fromisoformat(value.strip())
        except ValueError as e:
            raise ValueError(f"timestamp {value!r} is not ISO 8601 text") from e
        if dt.tzinfo is None:
            dt = dt.replace(tzinfo=timezone(timedelta(minutes=naive_offset_min)))
        ms = int(round(dt.timestamp() * 1000))
    else:
        raise ValueError(f"timestamp is {_kind(value)}, not a number or text")
    if not _MIN_MS <= ms < _MAX_MS:
        raise ValueError(f"timestamp {value!r} is outside 2000–2100 (wrong unit?)")
    return ms


def _quality_text(q: Any) -> str:
    if isinstance(q, bool):
        return "true" if q else "false"
    if isinstance(q, float) and q.is_integer():
        return str(int(q))
    return str(q).strip().lower()


# ---------------------------------------------------------------------------------------------- the uplink


@dataclass(frozen=True, slots=True)
class Message:
    """One MQTT message as received: topic, raw payload and the (platform-corrected) time of arrival."""

    topic: str
    payload: bytes
    received_ms: int


@dataclass(frozen=True, slots=True)
class _Source:
    """A point's compiled source: topic filter, paths and timestamp format."""

    point: PointConfig
    topic: str
    value: JsonPath
    timestamp: JsonPath | None
    timestamp_format: str
    quality: JsonPath | None
    status: JsonPath | None


@dataclass(slots=True)
class _State:
    last_value: float | None = None
    reported_status: int | None = None
    last_seen: float | None = None
    stale: bool = False


@dataclass
class UplinkStats:
    """Messages seen, accepted (at least one point reported) and rejected as a whole."""

    messages: int = 0
    accepted: int = 0
    rejected: int = 0
    observations: int = 0


class MqttUplink(UplinkConverter[Message]):
    """One vendor JSON message → observations of the configured points on its topic (see the module docstring).

    Example::

        up = MqttUplink(adapter.config.points, adapter.settings)
        obs = up.convert(Message("kjsim/KJ-FZ-001/data", payload, now_ms), now_ms)
    """

    def __init__(
        self,
        points: Iterable[PointConfig],
        settings: MqttSettings,
        *,
        problems: ProblemLog | None = None,
        tracker: AlarmTracker | None = None,
        clock: Any = time.monotonic,
    ) -> None:
        """Compile every point's source against the settings' defaults."""
        points = list(points)
        self.settings = settings
        self.problems = problems or ProblemLog(log)
        self.tracker = tracker if tracker is not None else AlarmTracker(p.definition for p in points)
        self.filter = ChangeFilter()
        self.stats = UplinkStats()
        self.quality_map: Mapping[str, int] = settings.quality_bits()
        self.naive_offset = parse_offset(settings.naive_utc_offset)
        self._clock = clock
        self.sources: list[_Source] = []
        for p in points:
            src = p.source
            value = JsonPath.parse(src.path, allow_relative=False)

            def opt(own: str | None, default: str, value: JsonPath = value) -> JsonPath | None:
                text = own if own is not None else default
                return JsonPath.parse(text).resolve(value) if text else None

            self.sources.append(
                _Source(
                    point=p,
                    topic=src.topic or settings.topic,
                    value=value,
                    timestamp=opt(src.timestamp_path, settings.timestamp_path),
                    timestamp_format=src.timestamp_format or settings.timestamp_format,
                    quality=opt(src.quality_path, settings.quality_path),
                    status=opt(src.status_path, settings.status_path),
                )
            )
        self.state: dict[str, _State] = {s.point.point_code: _State() for s in self.sources}
        self._usable = 0
        self._by_topic: dict[str, list[_Source]] = {}

    def topic_filters(self) -> list[str]:
        """The distinct topic filters of the points (the default subscriptions)."""
        return sorted({s.topic for s in self.sources if s.topic})

    def sources_for(self, topic: str) -> list[_Source]:
        """The points whose topic filter matches ``topic`` (cached per topic)."""
        got = self._by_topic.get(topic)
        if got is None:
            got = [s for s in self.sources if s.topic and topic_matches(s.topic, topic)]
            if len(self._by_topic) > 10_000:
                self._by_topic.clear()
            self._by_topic[topic] = got
        return got

    # ------------------------------------------------------------------ the message

    def _reject(self, reason: str, clause: str, topic: str, zh: str, en: str) -> list[Observation]:
        self.stats.rejected += 1
        self.problems.report(reason, clause, f"topic {topic}", f"报文被拒收：{zh}", f"payload rejected: {en}")
        return []

    def decode(self, msg: Message) -> Any:
        """The JSON document of a message, or None after counting and logging why it is rejected."""
        size = len(msg.payload)
        if size > self.settings.max_payload_bytes:
            self._reject("too_large", "ST-PROTO-009", msg.topic, f"{size} 字节，超过上限 {self.settings.max_payload_bytes}",
                         f"{size} bytes, above max_payload_bytes {self.settings.max_payload_bytes}")  # fmt: skip
            return None
        if size == 0:
            self._reject("empty", "ST-DATA-036", msg.topic, "空报文", "empty payload")
            return None
        try:
            text = msg.payload.decode("utf-8-sig")
        except UnicodeDecodeError as e:
            self._reject(
                "not_utf8",
                "ST-DATA-036",
                msg.topic,
                f"不是 UTF-8（第 {e.start} 字节）",
                f"not UTF-8 (byte {e.start})",
            )
            return None
        try:
            return json.loads(text)
        except ValueError as e:
            line, col = getattr(e, "lineno", 0), getattr(e, "colno", 0)
            why = getattr(e, "msg", str(e))
            self._reject("not_json", "ST-DATA-036", msg.topic, f"不是 JSON（第 {line} 行第 {col} 列：{why}）",
                         f"not JSON (line {line} column {col}: {why})")  # fmt: skip
            return None

    def convert(self, raw: Message, time_ms: int) -> list[Observation]:
        """Observations of the points on the message's topic (possibly none: rejections are counted and logged)."""
        self.stats.messages += 1
        sources = self.sources_for(raw.topic)
        if not sources:
            self.problems.counts["unconfigured_topic"] += 1
            log.debug("主题 %s 上没有配置测点 / no point is configured on topic %s", raw.topic, raw.topic)
            return []
        doc = self.decode(raw)
        if doc is None:
            return []
        values: list[tuple[_Source, Any]] = []
        missing: list[tuple[_Source, Missing]] = []
        for s in sources:
            try:
                values.append((s, s.value.get(doc)))
            except Missing as gone:
                missing.append((s, gone))
        if not values:
            src, why = missing[0]
            return self._reject(
                "wrong_shape", "ST-DATA-036", raw.topic,
                f"顶层是{_kind_zh(doc)}，找不到任何测点的值（{src.value.text}：{why.message_zh}）",
                f"the top level is {_kind(doc)} and no point's value is in it ({src.value.text}: {why.message_en})",
            )  # fmt: skip
        for s, why in missing:
            self.problems.report(
                "missing_field", "ST-DATA-035", f"topic {raw.topic} point {s.point.point_code}",
                f"缺少字段 {s.value.text}（{why.message_zh}）", f"field {s.value.text} is missing ({why.message_en})",
            )  # fmt: skip
        out: list[Observation] = []
        self._usable = 0
        for s, v in values:
            obs = self._point(s, doc, v, raw.topic, time_ms)
            if obs is not None:
                out.append(obs)
        if self._usable:
            self.stats.accepted += 1
            self.stats.observations += len(out)
        else:  # every point's value was unusable (each reason logged above)
            self.stats.rejected += 1
        return out

    # ------------------------------------------------------------------ one point

    def _time(self, s: _Source, doc: Any, where: str, now_ms: int) -> int:
        if s.timestamp is None:
            return now_ms
        try:
            t = parse_time(s.timestamp.get(doc), s.timestamp_format, self.naive_offset)
        except Missing as e:
            self.problems.report("bad_timestamp", "ST-DATA-030", where, f"没有时间戳 {s.timestamp.text}（{e.message_zh}），改用接收时间",
                                 f"no timestamp {s.timestamp.text} ({e.message_en}); the time of arrival is used")  # fmt: skip
            return now_ms
        except ValueError as e:
            self.problems.report("bad_timestamp", "ST-DATA-030", where, f"时间戳 {s.timestamp.text} 无法使用（{e}），改用接收时间",
                                 f"timestamp {s.timestamp.text} unusable ({e}); the time of arrival is used")  # fmt: skip
            return now_ms
        if t > now_ms + self.settings.max_future_ms:
            self.problems.report("future_time", "ST-DATA-031", where, f"时间戳比平台校正时钟快 {t - now_ms} ms，改用接收时间",
                                 f"timestamp is {t - now_ms} ms ahead of the platform-corrected clock; the time of arrival is used")  # fmt: skip
            return now_ms
        return t

    def _status(self, s: _Source, doc: Any, where: str) -> int:
        bits = 0
        if s.status is not None:
            try:
                raw = s.status.get(doc)
            except Missing:
                raw = None
            if raw is not None:
                if (
                    isinstance(raw, bool)
                    or not isinstance(raw, int | float)
                    or raw != int(raw)
                    or not 0 <= raw <= 255
                ):
                    self.problems.report("bad_status", "ST-DATA-020", where, f"状态 {raw!r} 不是 0–255 的整数，忽略",
                                         f"status {raw!r} is not an integer 0–255: ignored")  # fmt: skip
                else:
                    bits = int(raw)
        if s.quality is not None and not bits & FAULT_BITS:
            try:
                q = s.quality.get(doc)
            except Missing:
                q = None
            if q is not None:
                got = self.quality_map.get(_quality_text(q))
                if got is None:
                    self.problems.report("unknown_quality", "ST-DATA-020", where, f"未知的质量值 {q!r}，按传感器故障（128）",
                                         f"unknown quality {q!r}: reported as sensor fault (128)")  # fmt: skip
                    got = SENSOR_FAULT
                bits |= got
        return bits

    def _number(self, v: Any, s: _Source, where: str) -> float | None:
        p = s.point
        if v is None:
            reason, clause, zh, en = "null_value", "ST-DATA-035", "值为 null", "the value is null"
        elif isinstance(v, bool):
            return 1.0 if v else 0.0
        elif isinstance(v, int | float) or (
            isinstance(v, str) and self.settings.numeric_strings and _NUMBER.fullmatch(v)
        ):
            x = float(v)
            if not math.isfinite(x):
                reason, clause, zh, en = (
                    "not_finite",
                    "ST-DATA-018",
                    f"值 {v!r} 不是有限数",
                    f"value {v!r} is not finite",
                )
            else:
                x = apply_mapping(p.mapping, x)
                if not math.isfinite(x):
                    reason, clause, zh, en = (
                        "not_finite",
                        "ST-DATA-018",
                        f"换算后 {x} 不是有限数",
                        f"{x} after scaling is not finite",
                    )
                elif p.is_switch and x not in (0.0, 1.0):
                    reason, clause, zh, en = (
                        "not_switch",
                        "ST-DATA-019",
                        f"开关量的值 {v!r} 不是 0 或 1",
                        f"switch value {v!r} is neither 0 nor 1",
                    )
                else:
                    return x
        else:
            shown = json.dumps(v, ensure_ascii=False)[:40]
            reason, clause, zh, en = (
                "not_number",
                "ST-DATA-035",
                f"{s.value.text} 的值 {shown} 不是数",
                f"value {shown} at {s.value.text} is not a number",
            )
        self.problems.report(reason, clause, where, zh, en)
        return None

    def _point(self, s: _Source, doc: Any, v: Any, topic: str, now_ms: int) -> Observation | None:
        p = s.point
        code = p.point_code
        where = f"topic {topic} point {code}"
        st = self.state[code]
        bits = self._status(s, doc, where)
        fault = bool(bits & FAULT_BITS)
        if fault and (v is None or isinstance(v, dict | list | str) and not _NUMBER.fullmatch(str(v))):
            value = None  # a faulty sensor's missing value is no data error
        else:
            value = self._number(v, s, where)
            if value is None:
                return None
        self._usable += 1
        t = self._time(s, doc, where, now_ms)
        st.last_seen = self._clock()
        st.stale = False
        managed = self.tracker.managed(code)
        if managed:
            alarm_bits = (
                self.tracker.update(code, value, t)
                if value is not None and not fault
                else self.tracker.bits(code)
            )
            bits = (bits & ~managed) | alarm_bits
        if value is None or fault:
            self.filter.reset(code)
            if value is None:
                value = st.last_value if st.last_value is not None else 0.0
        else:
            st.last_value = value
            if p.mapping is not None:
                fresh = self.filter.accept_point(code, p.mapping, value, t)
                if not fresh and st.reported_status == bits:
                    return None
        st.reported_status = bits
        return p.observation(value, t, bits)

    # ------------------------------------------------------------------ silence and disconnects

    def faults(self, time_ms: int, *, only_stale: float | None = None) -> list[Observation]:
        """Points with the outstation-fault bit 16 and their last value: all of them (broker connection lost),
        or (``only_stale`` seconds) those without a value for that long — each once until a value comes."""
        out: list[Observation] = []
        now = self._clock()
        for s in self.sources:
            code = s.point.point_code
            st = self.state[code]
            if only_stale is not None and (
                st.stale or st.last_seen is None or now - st.last_seen < only_stale
            ):
                continue
            st.stale = True
            self.filter.reset(code)
            bits = OUTSTATION_FAULT | self.tracker.bits(code)
            st.reported_status = bits
            out.append(
                s.point.observation(st.last_value if st.last_value is not None else 0.0, time_ms, bits)
            )
        return out
