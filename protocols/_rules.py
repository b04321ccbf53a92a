"""The rules of the validation core: one function per message type, each naming the clauses it checks.

Every clause whose catalogue entry says ``checked_by: [core]`` is declared by exactly the rules here
(and the observation batch rules in ``_rules_batch.py``, or the JSON schema stage in ``_schemas.py``, or the MT/T
file grammar in ``santong.adapters.mtfile``);
``tests/protocols/test_rules_cover_clauses.py`` keeps the two in step.
"""

from __future__ import annotations

import functools
import math
from collections.abc import Callable, Iterable
from typing import Any

from santong.protocols._catalogue import clause, code_rules, sensor_types, violation
from santong.protocols._context import ValidationContext, timestamp_ms
from santong.protocols._errors import Violation
from santong.protocols.v1 import common_pb2

__all__ = ["RULES", "Report", "rule", "rules_for"]

Rule = Callable[[Any, ValidationContext, "Report", str], None]
RULES: dict[str, tuple[Rule, tuple[str, ...]]] = {}
MAX_LISTED = 5  # at most this many violations of one clause per message are listed one by one

KIND_CODES = {
    "MN": common_pb2.VALUE_KIND_ANALOG,
    "KG": common_pb2.VALUE_KIND_SWITCH,
    "LJ": common_pb2.VALUE_KIND_ACCUMULATOR,
}
KIND_NAMES = {
    common_pb2.VALUE_KIND_ANALOG: "ANALOG",
    common_pb2.VALUE_KIND_SWITCH: "SWITCH",
    common_pb2.VALUE_KIND_ACCUMULATOR: "ACCUMULATOR",
}


def rule(message_name: str, *clause_ids: str) -> Callable[[Rule], Rule]:
    """Register the rule of one message type (by proto name) and the clauses it checks.

    Example::

        @rule("HeartbeatRequest", "ST-DATA-031")
        def _heartbeat(msg, ctx, out, path): ...
    """

    def deco(fn: Rule) -> Rule:
        for cid in clause_ids:
            clause(cid)  # unknown IDs fail at import
        RULES[message_name] = (fn, clause_ids)
        return fn

    return deco


def rules_for(message_name: str) -> Rule | None:
    """The rule registered for a message type, or None."""
    entry = RULES.get(message_name)
    return entry[0] if entry else None


class Report:
    """Collects violations; the level comes from the catalogue and the fix is appended to the message."""

    __slots__ = ("violations", "_counts")

    def __init__(self) -> None:
        self.violations: list[Violation] = []
        self._counts: dict[str, int] = {}

    def add(self, clause_id: str, path: str, zh: str, en: str) -> None:
        """Record one violation of clause_id at path."""
        n = self._counts.get(clause_id, 0) + 1
        self._counts[clause_id] = n
        if n > MAX_LISTED:
            return
        self.violations.append(violation(clause_id, path, zh, en))


# --------------------------------------------------------------------------- shared checks


@functools.lru_cache(maxsize=1 << 16)
def _code_groups(kind: str, value: str) -> dict[str, str] | None:
    """The named groups of a code that matches its coding rule, None otherwise (cached: system, outstation and
    mine codes repeat across a file's definitions). Shared: callers only read it."""
    m = code_rules()[kind].pattern.fullmatch(value)
    return None if m is None else {k: v for k, v in m.groupdict().items() if v is not None}


def _code(kind: str, value: str, out: Report, path: str, mine_code: str = "") -> dict[str, str] | None:
    """Check a code against its coding rule (and its mine part); return the named groups or None."""
    groups = _code_groups(kind, value)
    r = code_rules()[kind]
    if groups is None:
        out.add(
            r.clause,
            path,
            f"{r.name_zh} “{value}” 结构不符（示例 {r.example}）",
            f"{r.name_en} '{value}' is malformed (example {r.example})",
        )
        return None
    if mine_code and "mine" in groups and groups["mine"] != mine_code:
        out.add(
            "ST-DATA-003",
            path,
            f"{r.name_zh} 的煤矿编码部分 {groups['mine']} 与设备所属煤矿 {mine_code} 不一致",
            f"the mine part {groups['mine']} of {r.name_en} differs from the device's mine {mine_code}",
        )
    return groups


MIN_TS, MAX_TS = -62135596800, 253402300799  # 0001-01-01 … 9999-12-31, what RFC 3339 can write
EARLIEST_S = 946684800  # 2000-01-01T00:00:00Z: the lower bound of ST-DATA-031


def _not_future(ts: Any, ctx: ValidationContext, out: Report, path: str) -> None:
    seconds, nanos = ts.seconds, ts.nanos  # read once (each read goes through upb)
    if seconds == 0 and nanos == 0:
        return
    if not (MIN_TS <= seconds <= MAX_TS and 0 <= nanos < 1_000_000_000):
        out.add(
            "ST-DATA-030",
            path,
            f"时间超出 RFC 3339 可表示范围（seconds={seconds}, nanos={nanos}）",
            f"time outside the RFC 3339 range (seconds={seconds}, nanos={nanos})",
        )
        return
    if seconds < EARLIEST_S:
        out.add(
            "ST-DATA-031",
            path,
            f"时间早于 2000-01-01T00:00:00Z（seconds={seconds}），设备时钟未设置？",
            f"time before 2000-01-01T00:00:00Z (seconds={seconds}): is the device clock unset?",
        )
        return
    ahead = seconds * 1000 + nanos // 1_000_000 - ctx.clock_ms()  # timestamp_ms(ts)
    if ahead > ctx.limits.max_clock_skew_ms:
        out.add(
            "ST-DATA-031",
            path,
            f"时间比平台时间超前 {ahead} ms，超过允许偏差 {ctx.limits.max_clock_skew_ms} ms",
            f"time is {ahead} ms ahead of the platform, beyond the allowed skew of {ctx.limits.max_clock_skew_ms} ms",
        )


#: ST-PROTO-032: sequences stay below 2^63 and jump at most 2^40 past the last acknowledged one.
MAX_SEQUENCE, MAX_SEQUENCE_JUMP = (1 << 63) - 1, 1 << 40


def _sequence(seq: int, ctx: ValidationContext, out: Report, path: str) -> None:
    last = ctx.state.last_sequence
    if seq < 1:
        out.add("ST-PROTO-011", path, "序号必须从 1 开始", "sequence numbers start at 1")
    elif seq > MAX_SEQUENCE or (last and seq - last > MAX_SEQUENCE_JUMP):
        out.add(
            "ST-PROTO-032",
            path,
            f"序号 {seq} 超出范围（须 < 2^63，且比最后确认的 {last} 大不超过 2^40）",
            f"sequence {seq} is out of range (below 2^63, at most 2^40 above the last acknowledged {last})",
        )
    elif seq <= ctx.state.last_sequence:
        out.add(
            "ST-PROTO-011",
            path,
            f"序号 {seq} 不大于已确认的 {ctx.state.last_sequence}（且不是重放）",
            f"sequence {seq} is not above the last acknowledged {ctx.state.last_sequence} (and is no replay)",
        )


def _epoch(epoch: int, ctx: ValidationContext, out: Report, path: str) -> None:
    """ST-PROTO-037: 0 continues the current epoch; otherwise the current one again or a new one above it, within
    the bounds ST-PROTO-032 sets for sequences."""
    current = ctx.state.sequence_epoch
    if not epoch or epoch == current:
        return
    if epoch < current:
        out.add(
            "ST-PROTO-037",
            path,
            f"序号纪元 {epoch} 低于平台当前的纪元 {current}：新纪元须高于当前纪元（或以 0 继续当前纪元）",
            f"sequence epoch {epoch} is below the platform's current epoch {current}: a new epoch is above the "
            "current one (or 0 continues it)",
        )
    elif epoch > MAX_SEQUENCE or epoch - current > MAX_SEQUENCE_JUMP:
        out.add(
            "ST-PROTO-037",
            path,
            f"序号纪元 {epoch} 超出范围（须 < 2^63，且比当前纪元 {current} 大不超过 2^40）",
            f"sequence epoch {epoch} is out of range (below 2^63, at most 2^40 above the current epoch {current})",
        )


def _non_empty(n: int, out: Report, path: str, what_zh: str, what_en: str) -> None:
    if n == 0:
        out.add("ST-IFACE-010", path, f"{what_zh}为空", f"no {what_en}")


def _required_text(msg: Any, names: Iterable[str], clause_id: str, out: Report, path: str) -> None:
    for name in names:
        if not getattr(msg, name):
            out.add(clause_id, f"{path}.{name}", f"必填字段 {name} 为空", f"required field {name} is empty")


def _must_be_defined(code: str, known: Any, what_zh: str, what_en: str, out: Report, path: str) -> None:
    """ST-IFACE-018: a reference to a point, outstation, area or station that was never defined."""
    if code not in known:
        out.add("ST-IFACE-018", path, f"{what_zh} {code} 未定义", f"{what_en} {code} is not defined")


_finite = math.isfinite


# --------------------------------------------------------------------------- registration


@rule("RegisterRequest", "ST-DATA-001", "ST-DATA-028", "ST-DATA-029", "ST-PROTO-037")
def _register(msg: Any, ctx: ValidationContext, out: Report, path: str) -> None:
    _epoch(msg.sequence_epoch, ctx, out, f"{path}.sequence_epoch")
    d = msg.device
    _required_text(
        d,
        ("device_id", "vendor", "model", "firmware_version", "serial_number"),
        "ST-DATA-028",
        out,
        f"{path}.device",
    )
    if d.product_class == common_pb2.PRODUCT_CLASS_UNSPECIFIED:
        out.add(
            "ST-DATA-028", f"{path}.device.product_class", "未声明产品类别", "product_class is unspecified"
        )
    mine = msg.mine.mine_code or d.mine_code
    if not mine:
        out.add("ST-DATA-001", f"{path}.mine.mine_code", "缺少煤矿编码", "mine code is missing")
    for p, code in (
        (f"{path}.mine.mine_code", msg.mine.mine_code),
        (f"{path}.device.mine_code", d.mine_code),
    ):
        if code:
            _code("mine", code, out, p)
    if msg.mine.mine_code and d.mine_code and msg.mine.mine_code != d.mine_code:
        out.add(
            "ST-DATA-001",
            f"{path}.device.mine_code",
            f"设备煤矿编码 {d.mine_code} 与 mine.mine_code {msg.mine.mine_code} 不一致",
            f"device mine code {d.mine_code} differs from mine.mine_code {msg.mine.mine_code}",
        )
    if d.ma_certificate:
        _code("ma_certificate", d.ma_certificate, out, f"{path}.device.ma_certificate")
    else:
        out.add("ST-DATA-029", f"{path}.device.ma_certificate", "未提供安标证号", "no MA certificate number")


# --------------------------------------------------------------------------- definitions


def _point(p: Any, ctx: ValidationContext, out: Report, path: str) -> None:
    mine = ctx.state.mine_code
    if p.alias < 1:
        out.add("ST-DATA-017", f"{path}.alias", "别名必须 ≥ 1", "alias must be 1 or greater")
    _required_text(p, ("point_code", "location", "sensor_type"), "ST-DATA-033", out, path)
    groups = _code("point", p.point_code, out, f"{path}.point_code", mine) if p.point_code else None
    if p.system_code:
        _code("system", p.system_code, out, f"{path}.system_code")
    st = sensor_types().get(p.sensor_type)
    if p.sensor_type and st is None:
        out.add(
            "ST-DATA-010",
            f"{path}.sensor_type",
            f"传感器类型 {p.sensor_type} 不在数据字典中",
            f"sensor type {p.sensor_type} is not in the data dictionary",
        )
    if groups:
        if KIND_CODES.get(groups.get("kind", "")) != p.value_kind:
            out.add(
                "ST-DATA-004",
                f"{path}.point_code",
                f"测点编码的数值类型段 {groups.get('kind')} 与定义的 value_kind 不一致",
                f"value-kind segment {groups.get('kind')} disagrees with value_kind",
            )
        seg = groups.get("sensor", "")
        if st is not None and sensor_types().get(ctx.type_segments.get(seg, seg)) is not st:
            out.add(
                "ST-DATA-004",
                f"{path}.point_code",
                f"测点编码的传感器类型段 {seg} 与 sensor_type {p.sensor_type} 不一致",
                f"sensor-type segment {seg} disagrees with sensor_type {p.sensor_type}",
            )
        if p.system_code and groups.get("system") != p.system_code:
            out.add(
                "ST-DATA-004",
                f"{path}.point_code",
                f"测点编码的系统段 {groups.get('system')} 与 system_code {p.system_code} 不一致",
                f"system segment {groups.get('system')} disagrees with system_code {p.system_code}",
            )
    if p.outstation_code:
        _code("outstation", p.outstation_code, out, f"{path}.outstation_code", mine)
    if p.value_kind == common_pb2.VALUE_KIND_UNSPECIFIED or (
        st is not None and KIND_NAMES.get(p.value_kind) != st.value_kind
    ):
        want = st.value_kind if st else "ANALOG/SWITCH/ACCUMULATOR"
        out.add("ST-DATA-012", f"{path}.value_kind", f"数值类型应为 {want}", f"value kind must be {want}")
    if st is not None and p.unit != st.unit:
        out.add(
            "ST-DATA-011",
            f"{path}.unit",
            f"单位 “{p.unit}” 不是 {st.name_zh} 的规范单位 “{st.unit}”",
            f"unit '{p.unit}' is not the canonical unit '{st.unit}' of {st.name_en}",
        )
    lo, hi = p.range_low, p.range_high
    if not (_finite(lo) and _finite(hi)) or lo >= hi:
        out.add(
            "ST-DATA-013",
            f"{path}.range_low",
            f"量程 [{lo}, {hi}] 无效（须低量程 < 高量程）",
            f"range [{lo}, {hi}] is invalid (low must be below high)",
        )
    elif st is not None and (lo < st.range_low or hi > st.range_high):
        out.add(
            "ST-DATA-013",
            f"{path}.range_high",
            f"量程 [{lo}, {hi}] 超出字典范围 [{st.range_low}, {st.range_high}]",
            f"range [{lo}, {hi}] exceeds the dictionary's [{st.range_low}, {st.range_high}]",
        )
    _thresholds(p, out, path)
    if st is not None and st.regulation:
        for name, limit in st.regulation.items():
            if p.HasField(name) and getattr(p, name) > limit:
                out.add(
                    "ST-DATA-015",
                    f"{path}.{name}",
                    f"{name}={getattr(p, name)} 宽于《煤矿安全规程》的 {limit}",
                    f"{name}={getattr(p, name)} is laxer than the regulation value {limit}",
                )
    if p.value_kind == common_pb2.VALUE_KIND_SWITCH and not (p.on_description and p.off_description):
        out.add("ST-DATA-016", path, "开关量测点缺少开/停描述", "switch point lacks on/off descriptions")
    if not (_finite(p.x) and _finite(p.y) and _finite(p.z)):
        out.add("ST-DATA-037", path, "坐标不是有限数", "coordinates are not finite")
    _not_future(p.defined_at, ctx, out, f"{path}.defined_at")


#: Threshold pairs that must be ordered (a ≤ b), and every threshold, in the order violations are listed.
_THRESHOLD_PAIRS = (
    ("alarm_high_clear", "alarm_high"),
    ("alarm_high", "power_off_high"),
    ("power_restore_high", "power_off_high"),
    ("alarm_low", "alarm_low_clear"),
    ("power_off_low", "alarm_low"),
    ("power_off_low", "power_restore_low"),
)
_THRESHOLDS = (
    "alarm_high",
    "alarm_high_clear",
    "alarm_low",
    "alarm_low_clear",
    "power_off_high",
    "power_restore_high",
    "power_off_low",
    "power_restore_low",
)
_THRESHOLD_SET = frozenset(_THRESHOLDS)


def _thresholds(p: Any, out: Report, path: str) -> None:
    # none set (often): eight presence tests cost less than ListFields
    if not any(map(p.HasField, _THRESHOLDS)):
        return
    # the thresholds that are set (optional fields), read in one call
    got = {f.name: v for f, v in p.ListFields() if f.name in _THRESHOLD_SET}
    for a, b in _THRESHOLD_PAIRS:
        va, vb = got.get(a), got.get(b)
        if va is not None and vb is not None and va > vb:
            out.add(
                "ST-DATA-014",
                f"{path}.{a}",
                f"门限顺序错误：{a}={va} 应 ≤ {b}={vb}",
                f"thresholds out of order: {a}={va} must be ≤ {b}={vb}",
            )
    for name in _THRESHOLDS:
        v = got.get(name)
        if v is not None and not (_finite(v) and p.range_low <= v <= p.range_high):
            out.add(
                "ST-DATA-014",
                f"{path}.{name}",
                f"门限 {name}={v} 不在量程 [{p.range_low}, {p.range_high}] 内",
                f"threshold {name}={v} lies outside the range [{p.range_low}, {p.range_high}]",
            )


@rule(
    "DefinePointsRequest",
    "ST-DATA-002", "ST-DATA-003", "ST-DATA-004", "ST-DATA-005", "ST-DATA-009", "ST-DATA-010", "ST-DATA-011",
    "ST-DATA-012", "ST-DATA-013", "ST-DATA-014", "ST-DATA-015", "ST-DATA-016", "ST-DATA-017", "ST-DATA-033",
    "ST-DATA-037", "ST-IFACE-010", "ST-PROTO-008",
)  # fmt: skip
def _define_points(msg: Any, ctx: ValidationContext, out: Report, path: str) -> None:
    _non_empty(
        len(msg.points) + len(msg.outstations), out, path, "测点与分站定义", "point or outstation definitions"
    )
    if len(msg.points) > ctx.limits.max_points_per_definition:
        out.add(
            "ST-PROTO-008",
            f"{path}.points",
            f"一次定义 {len(msg.points)} 个测点，超过上限 {ctx.limits.max_points_per_definition}",
            f"{len(msg.points)} points in one request exceed the limit {ctx.limits.max_points_per_definition}",
        )
        return
    seen_alias: dict[int, str] = {}
    seen_code: set[str] = set()
    for i, p in enumerate(msg.points):
        pp = f"{path}.points[{i}]"
        _point(p, ctx, out, pp)
        if p.alias in seen_alias or p.point_code in seen_code:
            out.add(
                "ST-DATA-017",
                pp,
                f"别名 {p.alias} 或测点编码 {p.point_code} 在请求中重复",
                f"alias {p.alias} or point code {p.point_code} repeats in the request",
            )
        seen_alias[p.alias] = p.point_code
        seen_code.add(p.point_code)
        old = ctx.state.points.get(p.alias)
        if old is not None and old.point_code != p.point_code:
            out.add(
                "ST-DATA-017",
                f"{pp}.alias",
                f"别名 {p.alias} 已属于测点 {old.point_code}",
                f"alias {p.alias} already belongs to point {old.point_code}",
            )
        old_alias = ctx.state.aliases_by_code.get(p.point_code)
        if old_alias is not None and old_alias != p.alias:
            out.add(
                "ST-DATA-017",
                f"{pp}.point_code",
                f"测点 {p.point_code} 已使用别名 {old_alias}",
                f"point {p.point_code} already has alias {old_alias}",
            )
    for i, o in enumerate(msg.outstations):
        op = f"{path}.outstations[{i}]"
        _required_text(o, ("outstation_code", "location"), "ST-DATA-033", out, op)
        if o.outstation_code:
            _code("outstation", o.outstation_code, out, f"{op}.outstation_code", ctx.state.mine_code)
        if not all(_finite(c) for c in (o.x, o.y, o.z)):
            out.add("ST-DATA-037", op, "坐标不是有限数", "coordinates are not finite")


# --------------------------------------------------------------------------- alarms, statuses, statistics


def _period_values(m: Any, out: Report, path: str, start: Any, end: Any) -> None:
    if not (m.min_value <= m.avg_value <= m.max_value):
        out.add(
            "ST-DATA-024",
            path,
            f"最小/平均/最大值不一致：{m.min_value} / {m.avg_value} / {m.max_value}",
            f"min/avg/max are inconsistent: {m.min_value} / {m.avg_value} / {m.max_value}",
        )
    if end.seconds or end.nanos:
        s, e = timestamp_ms(start), timestamp_ms(end)
        for name in ("max_time", "min_time"):
            t = getattr(m, name)
            if (t.seconds or t.nanos) and not s <= timestamp_ms(t) <= e:
                out.add(
                    "ST-DATA-024",
                    f"{path}.{name}",
                    f"{name} 不在统计/报警时段内",
                    f"{name} lies outside the period",
                )


@rule("ReportAlarmsRequest", "ST-DATA-022", "ST-DATA-023", "ST-DATA-024", "ST-IFACE-016", "ST-IFACE-018")
def _alarms(msg: Any, ctx: ValidationContext, out: Report, path: str) -> None:
    _sequence(msg.sequence, ctx, out, f"{path}.sequence")
    _non_empty(len(msg.alarms), out, f"{path}.alarms", "报警列表", "alarms")
    raised = set(ctx.state.raised_alarms)
    for i, a in enumerate(msg.alarms):
        ap = f"{path}.alarms[{i}]"
        if not a.alarm_id:
            out.add("ST-IFACE-016", f"{ap}.alarm_id", "alarm_id 为空", "alarm_id is empty")
        _must_be_defined(a.point_code, ctx.state.aliases_by_code, "测点", "point", out, f"{ap}.point_code")
        if a.anomaly_type == common_pb2.ANOMALY_TYPE_UNSPECIFIED:
            out.add(
                "ST-DATA-022",
                f"{ap}.anomaly_type",
                "异常类型未指定（应为 001–010）",
                "anomaly type unspecified (must be 001–010)",
            )
        has_end = a.HasField("end_time")
        if a.state == common_pb2.ALARM_STATE_RAISED:
            if has_end:
                out.add(
                    "ST-DATA-023",
                    f"{ap}.end_time",
                    "报警开始时不应有结束时间",
                    "a raised alarm has no end_time",
                )
            raised.add(a.alarm_id)
        elif a.state == common_pb2.ALARM_STATE_CLEARED:
            if not has_end or timestamp_ms(a.end_time) < timestamp_ms(a.start_time):
                out.add(
                    "ST-DATA-023",
                    f"{ap}.end_time",
                    "解除的报警须有不早于开始时间的结束时间",
                    "a cleared alarm needs an end_time not before start_time",
                )
            if a.alarm_id and a.alarm_id not in raised:
                out.add(
                    "ST-IFACE-016",
                    f"{ap}.alarm_id",
                    f"解除的报警 {a.alarm_id} 未曾报出",
                    f"cleared alarm {a.alarm_id} was never raised",
                )
            raised.discard(a.alarm_id)
        else:
            out.add("ST-DATA-023", f"{ap}.state", "报警状态未指定", "alarm state unspecified")
        if not a.HasField("start_time"):
            out.add("ST-DATA-023", f"{ap}.start_time", "缺少开始时间", "start_time is missing")
        _period_values(a, out, ap, a.start_time, a.end_time)
        for name in ("start_time", "end_time", "recorded_at"):
            _not_future(getattr(a, name), ctx, out, f"{ap}.{name}")


@rule("ReportOutstationStatusRequest", "ST-DATA-025")
def _outstation_status(msg: Any, ctx: ValidationContext, out: Report, path: str) -> None:
    _sequence(msg.sequence, ctx, out, f"{path}.sequence")
    _non_empty(len(msg.statuses), out, f"{path}.statuses", "分站状态列表", "outstation statuses")
    for i, s in enumerate(msg.statuses):
        sp = f"{path}.statuses[{i}]"
        _must_be_defined(
            s.outstation_code, ctx.state.outstations, "分站", "outstation", out, f"{sp}.outstation_code"
        )
        _run_power(s, out, sp)
        _not_future(s.time, ctx, out, f"{sp}.time")


def _run_power(s: Any, out: Report, path: str) -> None:
    if s.run_state == common_pb2.RUN_STATE_UNSPECIFIED:
        out.add("ST-DATA-025", f"{path}.run_state", "运行状态未指定", "run state unspecified")
    if s.power_state == common_pb2.POWER_STATE_UNSPECIFIED:
        out.add("ST-DATA-025", f"{path}.power_state", "供电状态未指定", "power state unspecified")


@rule("ReportStatisticsRequest", "ST-DATA-027")
def _statistics(msg: Any, ctx: ValidationContext, out: Report, path: str) -> None:
    _sequence(msg.sequence, ctx, out, f"{path}.sequence")
    _non_empty(len(msg.statistics), out, f"{path}.statistics", "统计列表", "statistics")
    for i, s in enumerate(msg.statistics):
        sp = f"{path}.statistics[{i}]"
        _must_be_defined(s.point_code, ctx.state.aliases_by_code, "测点", "point", out, f"{sp}.point_code")
        if timestamp_ms(s.start_time) >= timestamp_ms(s.end_time):
            out.add(
                "ST-DATA-027",
                f"{sp}.end_time",
                "统计时段的开始时间须早于结束时间",
                "start_time must precede end_time",
            )
        _period_values(s, out, sp, s.start_time, s.end_time)
        _not_future(s.end_time, ctx, out, f"{sp}.end_time")


# --------------------------------------------------------------------------- personnel


@rule("DefinePositioningRequest", "ST-DATA-007", "ST-DATA-008")
def _positioning(msg: Any, ctx: ValidationContext, out: Report, path: str) -> None:
    _non_empty(len(msg.areas) + len(msg.stations), out, path, "区域与基站定义", "area or station definitions")
    mine = ctx.state.mine_code
    areas = set(ctx.state.areas)
    for i, a in enumerate(msg.areas):
        _code("area", a.area_code, out, f"{path}.areas[{i}].area_code", mine)
        areas.add(a.area_code)
    for i, s in enumerate(msg.stations):
        sp = f"{path}.stations[{i}]"
        _code("station", s.station_code, out, f"{sp}.station_code", mine)
        _must_be_defined(s.area_code, areas, "区域", "area", out, f"{sp}.area_code")


@rule("ReportPersonnelRequest", "ST-DATA-006", "ST-DATA-026")
def _personnel(msg: Any, ctx: ValidationContext, out: Report, path: str) -> None:
    _sequence(msg.sequence, ctx, out, f"{path}.sequence")
    _non_empty(
        len(msg.records) + len(msg.stations), out, path, "人员与基站记录", "personnel or station records"
    )
    st = ctx.state
    for i, r in enumerate(msg.records):
        rp = f"{path}.records[{i}]"
        _code("card", r.card_code, out, f"{rp}.card_code", st.mine_code)
        if r.direction == common_pb2.MINE_DIRECTION_UNSPECIFIED:
            out.add("ST-DATA-026", f"{rp}.direction", "出入井标志未指定", "direction unspecified")
        elif r.HasField("exited_mine_at") != (r.direction == common_pb2.MINE_DIRECTION_OUT):
            out.add(
                "ST-DATA-026",
                f"{rp}.exited_mine_at",
                "出井时刻须且仅须在出井时填写",
                "exited_mine_at is set if and only if direction is OUT",
            )
        if r.area_code:
            _must_be_defined(r.area_code, st.areas, "区域", "area", out, f"{rp}.area_code")
        if r.station_code:
            _must_be_defined(r.station_code, st.stations, "基站", "station", out, f"{rp}.station_code")
        _not_future(r.time, ctx, out, f"{rp}.time")
    for i, s in enumerate(msg.stations):
        sp = f"{path}.stations[{i}]"
        _must_be_defined(s.station_code, st.stations, "基站", "station", out, f"{sp}.station_code")
        _run_power(s, out, sp)
        _not_future(s.time, ctx, out, f"{sp}.time")


# --------------------------------------------------------------------------- commands


@rule("CommandsRequest", "ST-IFACE-020")
def _commands_request(msg: Any, ctx: ValidationContext, out: Report, path: str) -> None:
    if msg.HasField("result"):
        r = msg.result
        if not r.command_id:
            out.add("ST-IFACE-020", f"{path}.result.command_id", "command_id 为空", "command_id is empty")
        if r.outcome == 0:
            out.add("ST-IFACE-020", f"{path}.result.outcome", "命令结果未指定", "outcome unspecified")


@rule("CommandsResponse")
def _commands_response(msg: Any, ctx: ValidationContext, out: Report, path: str) -> None:
    c = msg.command
    if not c.command_id:
        out.add("ST-IFACE-020", f"{path}.command.command_id", "command_id 为空", "command_id is empty")
    if c.type == 0:
        out.add("ST-IFACE-020", f"{path}.command.type", "命令类型未指定", "command type unspecified")


@rule("HeartbeatRequest")
def _heartbeat(msg: Any, ctx: ValidationContext, out: Report, path: str) -> None:
    _not_future(msg.device_time, ctx, out, f"{path}.device_time")


# The observation batch rules (the hot path) live in their own module; importing it registers them.
from santong.protocols import _rules_batch  # noqa: E402, F401  (registers the ObservationBatch rules)
