"""The product under test while the suite runs: started from its manifest, watched, stopped; what the platform saw.

:class:`LiveProduct` starts the product against the platform (``santong_launcher``), notices when it dies, and
reads what the platform received through the mock's inspection API. Timers come from the manifest
(``report_interval_ms``, ``heartbeat_interval_ms``): a product that declares short intervals is certified fast,
and no scenario is ever skipped.

Example::

    live = LiveProduct(launcher, handle, manifest)
    live.start()
    rows = live.interactions(since_id=0)
    live.wait_for(lambda: live.batches(), timeout_s=live.budget(5), what="a first batch")
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Any, TypeVar

from santong.conformance._manifest import Manifest
from santong.conformance._outcomes import ClauseFailure
from santong.conformance._platform import Admin, PlatformHandle
from santong.conformance._product import CouldNotRun, ProductLauncher, ProductProcess

__all__ = [
    "IDENTITY_CODES",
    "UPLOAD_METHODS",
    "LiveProduct",
    "Snapshot",
    "duplicates",
    "now_ms",
    "point_gaps",
    "root_cause",
]

T = TypeVar("T")
UPLOAD_METHODS = (
    "ReportObservations",
    "StreamObservations",
    "ReportAlarms",
    "ReportOutstationStatus",
    "ReportStatistics",
    "ReportPersonnel",
)


#: Answers that mean the device called under an identity that is not its own (or without one): ST-PROTO-029.
IDENTITY_CODES = ("UNAUTHENTICATED", "PERMISSION_DENIED")
START_CLAUSE = "ST-PROTO-030"
#: The cap of the back-off clause ST-PROTO-017: no pause between two attempts is longer.
MAX_BACKOFF_MS = 30_000
IDENTITY_CLAUSE = "ST-PROTO-029"


def root_cause(rows: Iterable[dict[str, Any]]) -> dict[str, Any] | None:
    """The first thing the platform refused, as a root cause: a call under a wrong identity (ST-PROTO-029), else
    the first request the validation core rejected (the clauses it names). Only the undisturbed start counts:
    the scan stops at the first injected fault (a clock jump makes correct products' timestamps look wrong)."""
    first_rejection = None
    for r in sorted(rows, key=lambda r: r["id"]):
        if r["method"].startswith("fault:"):
            break
        if r["verdict"] == "FAULT" or r["method"].startswith(("session:", "command:")):
            continue
        if r["code"] in IDENTITY_CODES:
            return {
                "key": f"identity:{r['id']}",
                "kind": "identity",
                "root": [IDENTITY_CLAUSE],
                "zh": f"平台以 {r['code']} 拒绝了产品的 {r['method']} 调用（设备编号 {r['device_id']!r}，{', '.join(r['clause_ids'])}）：产品没有用自己的设备编号和凭据调用",
                "en": f"the platform answered {r['code']} to the product's {r['method']} call (device id "
                f"{r['device_id']!r}, {', '.join(r['clause_ids'])}): the product did not call under its own device "
                "id and credentials",
            }
        if first_rejection is None and r["verdict"] == "REJECTED" and r["clause_ids"]:
            first_rejection = r
    if first_rejection is None:
        return None
    r = first_rejection
    v: dict[str, Any] = next(iter(r.get("violations") or []), {})
    what = f"{v.get('path', '')} {v.get('message_en') or v.get('message', '')}".strip()
    return {
        "key": f"rejection:{r['id']}",
        "kind": "rejection",
        "root": list(r["clause_ids"]),
        "zh": f"平台拒收了产品的第一个 {r['method']}（{', '.join(r['clause_ids'])}）：{v.get('message_zh') or what}",
        "en": f"the platform rejected the product's first {r['method']} ({', '.join(r['clause_ids'])}): {what}",
    }


def bilingual(message: str) -> tuple[str, str]:
    """(zh, en) of a ``中文 / English`` message, without its ``[ST-…]`` tags."""
    import re  # noqa: PLC0415

    text = re.sub(r"^(\[ST-[A-Z]+-\d{3}\]\s*)+", "", message.strip())
    zh, sep, en = text.partition(" / ")
    return (zh, en) if sep else (text, text)


def now_ms() -> int:
    """Wall-clock milliseconds (the mock's clock when no clock fault is in force)."""
    return int(time.time() * 1000)


@dataclass
class Snapshot:
    """What the platform held about the product at one moment (all rows of its device)."""

    taken_ms: int
    device: dict[str, Any] | None
    points: list[dict[str, Any]]
    interactions: list[dict[str, Any]]
    batches: list[dict[str, Any]]
    observations: list[dict[str, Any]]
    alarms: list[dict[str, Any]] = field(default_factory=list)
    window_start_ms: int = 0

    def rows(self, method: str | None = None, verdict: str | None = None) -> list[dict[str, Any]]:
        """Interaction-log rows of the device, filtered."""
        return [
            r
            for r in self.interactions
            if (method is None or r["method"] == method) and (verdict is None or r["verdict"] == verdict)
        ]

    def no_data(self) -> str | None:
        """Why behaviour cannot be shown when the platform accepted no observation batch in the window; else None."""
        if any(b for b in self.batches):
            return None
        rejected = [r for r in self.uploads("REJECTED")]
        why = sorted({c for r in rejected for c in r["clause_ids"]})
        return (
            "平台在基线窗口内没有接受产品的任何观测批次，无法展示该行为 / the platform accepted no observation batch "
            f"from the product in the baseline window, so the behaviour cannot be shown ({len(rejected)} uploads "
            f"rejected, clauses {why[:6]})"
        )

    def uploads(self, verdict: str | None = None) -> list[dict[str, Any]]:
        """Upload rows (every upload method), filtered by verdict."""
        return [
            r
            for r in self.interactions
            if r["method"] in UPLOAD_METHODS and (verdict is None or r["verdict"] == verdict)
        ]


class LiveProduct:
    """The product process plus the platform it talks to."""

    def __init__(self, launcher: ProductLauncher, handle: PlatformHandle, manifest: Manifest) -> None:
        self.launcher, self.handle, self.manifest = launcher, handle, manifest
        self.proc: ProductProcess | None = None
        self.starts = 0
        self._stopping = False
        self._dead: str | None = None
        if handle.admin is None:
            raise CouldNotRun(
                "产品用例需要模拟平台的检查接口 / product cases need the mock platform's inspection API"
            )
        self.admin: Admin = handle.admin
        self.device_id = handle.device_id

    # ------------------------------------------------------------------------------------------ timers

    @property
    def report_s(self) -> float:
        """The declared report interval, seconds."""
        return self.manifest.report_interval_ms / 1000

    @property
    def heartbeat_s(self) -> float:
        """The heartbeat interval in force: the platform's, never above the declared one."""
        declared = self.manifest.heartbeat_interval_ms
        platform = int(self.handle.limits.heartbeat_interval_ms) if self.handle.limits is not None else 0
        return (min(declared, platform) if platform else declared) / 1000

    @property
    def report_interval_ms(self) -> int:
        """The declared report interval, milliseconds."""
        return int(self.manifest.report_interval_ms)

    @property
    def max_backoff_s(self) -> float:
        """The longest pause a product may make between two attempts to reach the platform: the cap of the
        back-off clause (ST-PROTO-017, 30 s), or the product's declared ``max_backoff_ms`` when lower."""
        declared = getattr(self.manifest, "max_backoff_ms", None)
        cap = MAX_BACKOFF_MS if not declared else min(int(declared), MAX_BACKOFF_MS)
        return cap / 1000

    @property
    def recovery_s(self) -> float:
        """The bound of the spec for a product to be back after the platform returns (SPEC.md, 时限 / Time
        bounds): one maximal back-off, then one report or heartbeat interval to deliver, plus 2 s for the calls
        themselves. Waits for recovery end as soon as the condition holds and never before this bound."""
        return self.max_backoff_s + 2 * max(self.report_s, self.heartbeat_s) + 2.0

    def budget(self, intervals: float, floor_s: float = 2.0) -> float:
        """A waiting time of ``intervals`` × the slower of the two intervals, at least ``floor_s``."""
        return max(floor_s, intervals * max(self.report_s, self.heartbeat_s))

    # ---------------------------------------------------------------------------------------- lifecycle

    @property
    def can_restart(self) -> bool:
        """Whether the suite can stop and start the product: it starts it, or the manifest gives stop and start
        hooks (hardware). Without them the restart clauses are not demonstrated."""
        hooks = self.manifest.hooks
        return not self.manifest.external or (hooks is not None and bool(hooks.start and hooks.stop))

    def _start_external(self) -> None:
        """Run hooks.start, then wait until the platform holds the product's registration and definitions (its
        ready condition, the same as a ready line's) within hooks.timeout_s."""
        hooks = self.manifest.hooks
        assert hooks is not None
        self.starts += 1
        since = self.last_id()
        h = self.handle
        self.launcher.hook(
            "start",
            grpc_target=h.grpc_target,
            http_url=h.http_url or "",
            token=h.token,
            device_id=h.device_id,
        )

        def ready() -> bool:
            done = {r["method"] for r in self.interactions(since) if r["verdict"] == "ACCEPTED"}
            return {"Register", "DefinePoints"} <= done

        if not self.wait_for(ready, hooks.timeout_s, "registration and definitions", step_s=0.25, fail=False):
            raise self.start_failure(
                f"[{START_CLAUSE}] hooks.start 之后 {hooks.timeout_s:.0f} s 内产品没有完成注册和测点定义 / the product did "
                f"not register and define its points within {hooks.timeout_s:.0f} s of hooks.start"
            )

    def start(self) -> None:
        """Start the product from the manifest and wait for its ready line (CouldNotRun when it cannot); an
        external product through its hooks."""
        if self.manifest.external and self.manifest.hooks is not None:
            self._stopping = False
            self._start_external()
            return
        if self.manifest.external:
            raise CouldNotRun(
                "产品声明为 start: external：对模拟平台做产品认证需要由测试运行器启动产品，请在 start.command 中给出启动命令 "
                "（占位符 {grpc_target} {token} 等），或给出 hooks.start（manifest_version 2，硬件产品）/ the manifest says start: "
                "external: certifying a product against the mock platform needs the runner to start it — give "
                "start.command (with {grpc_target}, {token}, …) or hooks.start (manifest_version 2, hardware)"
            )
        if self._dead is not None:
            raise self.exit_failure(self._dead)
        self._stopping = False
        self.starts += 1
        h = self.handle
        try:
            self.proc = self.launcher.start(
                grpc_target=h.grpc_target, http_url=h.http_url or "", token=h.token, device_id=h.device_id
            )
        except ClauseFailure as e:
            raise self.start_failure(str(e)) from e

    def start_failure(self, message: str) -> ClauseFailure:
        """The product did not become ready: ST-PROTO-030, with the platform's first refusal as the root."""
        cause = root_cause(self.events())
        if cause is None:
            cause = {
                "key": "product_start",
                "kind": "product_start",
                "root": [START_CLAUSE],
                "zh": "产品没有就绪：" + message.split(" / ")[0].removeprefix(f"[{START_CLAUSE}] "),
                "en": "the product did not become ready: " + message.split(" / ")[-1],
            }
        return ClauseFailure(
            [*cause["root"], START_CLAUSE], message.removeprefix(f"[{START_CLAUSE}] "), cause
        )

    def require_data(self, snap: Snapshot, clause_id: str) -> None:
        """Fail on the root cause when the platform accepted no observation batch: the case cannot judge
        ``clause_id`` (not demonstrated) and the first refusal in the log is why (else: nothing was reported)."""
        why = snap.no_data()
        if why is None:
            return
        cause = root_cause(self.events()) or {
            "key": "no_data",
            "kind": "case",
            "root": ["ST-PROTO-025"],
            "zh": "产品在基线窗口内没有上报任何观测值",
            "en": "the product reported no observation in the baseline window",
        }
        raise ClauseFailure(cause["root"], f"{clause_id} 无法判定 cannot be judged: {why}", cause)

    def stop(self, grace_s: float = 5.0) -> int | None:
        """Stop the product (SIGTERM, then SIGKILL); its exit code."""
        self.died()  # a product that already died stays dead: it is not revived by a restart
        self._stopping = True
        hooks = self.manifest.hooks
        if self.manifest.external and hooks is not None and hooks.stop:
            h = self.handle
            self.launcher.hook(
                "stop",
                grpc_target=h.grpc_target,
                http_url=h.http_url or "",
                token=h.token,
                device_id=h.device_id,
            )
            return None
        if self.proc is None:
            return None
        return self.proc.stop(grace_s)

    def restart(self) -> None:
        """Stop and start again (same work folder: the product keeps its queue)."""
        self.stop()
        self.start()

    def died(self) -> str | None:
        """Why the product is gone, when it exited without being asked to; else None (sticky once dead)."""
        p = self.proc
        if self._dead is not None:
            return self._dead
        if p is None or self._stopping or p.running:
            return None
        p._reader.join(1.0)
        last = " | ".join(p.tail()[-5:]) or "(none)"
        self._dead = (
            f"产品在运行中退出（退出码 {p.proc.returncode}）/ the product exited mid-run (exit code "
            f"{p.proc.returncode}); 最后输出 last output: {last}; 日志 log: {p.log_path}"
        )
        return self._dead

    def ensure_running(self) -> None:
        """A failure of ST-PROTO-030 when the product died (it was started by santong: its exit is its own)."""
        why = self.died()
        if why is not None:
            raise self.exit_failure(why)

    def exit_failure(self, why: str) -> ClauseFailure:
        """The product exited mid-run: ST-PROTO-030, one root cause for every case it stopped (the platform's
        first refusal when there was one: a product that quits after its credentials are refused)."""
        try:
            cause = root_cause(self.events())
        except Exception:  # noqa: BLE001  (the platform may be gone too: the exit is still the product's)
            cause = None
        if cause is None:
            zh, en = bilingual(why)
            cause = {
                "key": "product_exit",
                "kind": "product_exit",
                "root": [START_CLAUSE],
                "zh": zh,
                "en": en,
            }
        return ClauseFailure([*cause["root"], START_CLAUSE], why, cause)

    # ---------------------------------------------------------------------------------------- inspection

    def wait_for(
        self, fn: Callable[[], T], timeout_s: float, what: str, step_s: float = 0.1, fail: bool = True
    ) -> T:
        """Poll ``fn`` until it returns something truthy; AssertionError (or the last value) after the timeout."""
        deadline = time.monotonic() + timeout_s
        while True:
            got = fn()
            if got:
                return got
            self.ensure_running()
            if time.monotonic() > deadline:
                if fail:
                    raise AssertionError(
                        f"{what}：{timeout_s:.1f} s 内未发生 / did not happen within {timeout_s:.1f} s"
                    )
                return got
            time.sleep(step_s)

    def device(self) -> dict[str, Any] | None:
        """The platform's record of the product's device."""
        return self.admin.device(self.device_id)

    def negotiated_version(self) -> str | None:
        """The interface version the platform negotiated with the product at its latest Register (ST-PROTO-004),
        from the inspection record of its session; None before it registered."""
        d = self.device() or {}
        return str(d.get("negotiated_version") or "") or None

    def interactions(self, since_id: int = 0) -> list[dict[str, Any]]:
        """Interaction-log rows of the device after ``since_id``."""
        rows: list[dict[str, Any]] = self.admin.inspect(
            "interactions", device_id=self.device_id, since_id=since_id or None
        )
        return rows

    def events(self, since_id: int = 0) -> list[dict[str, Any]]:
        """Every interaction-log row after ``since_id`` (faults and platform events included)."""
        rows: list[dict[str, Any]] = self.admin.inspect("interactions", since_id=since_id or None)
        return rows

    def batches(self, **kw: Any) -> list[dict[str, Any]]:
        """Stored observation batches of the device, by sequence."""
        rows: list[dict[str, Any]] = self.admin.inspect("batches", device_id=self.device_id, **kw)
        return rows

    def observations(self, **kw: Any) -> list[dict[str, Any]]:
        """Stored observations of the device, by sequence and position."""
        rows: list[dict[str, Any]] = self.admin.inspect("observations", device_id=self.device_id, **kw)
        return rows

    def alarms(self, **kw: Any) -> list[dict[str, Any]]:
        """Stored alarms of the device in arrival order."""
        rows: list[dict[str, Any]] = self.admin.inspect("alarms", device_id=self.device_id, **kw)
        return rows

    def points(self) -> list[dict[str, Any]]:
        """The point definitions the platform holds for the device."""
        defs: dict[str, list[dict[str, Any]]] = self.admin.inspect("definitions", device_id=self.device_id)
        return defs["points"]

    def commands(self) -> list[dict[str, Any]]:
        """Downlink commands of the device with their results."""
        rows: list[dict[str, Any]] = self.admin.inspect("commands", device_id=self.device_id)
        return rows

    def command_result(self, command_id: str, timeout_s: float) -> dict[str, Any] | None:
        """Wait for the device's result of a command; the command row (result_ms set) or None."""

        def answered() -> dict[str, Any] | None:
            return next(
                (c for c in self.commands() if c["command_id"] == command_id and c["result_ms"]), None
            )

        return self.wait_for(answered, timeout_s, f"command {command_id} answered", fail=False)

    def last_id(self) -> int:
        """The newest interaction-log id."""
        return self.admin.last_interaction_id()

    def snapshot(self, since_ms: int | None = None) -> Snapshot:
        """Everything the platform holds about the device now."""
        return Snapshot(
            taken_ms=now_ms(),
            device=self.device(),
            points=self.points(),
            interactions=self.interactions(),
            batches=self.batches(),
            observations=self.observations(since_ms=since_ms),
            alarms=self.alarms(),
        )


def point_gaps(
    observations: Iterable[dict[str, Any]], start_ms: int, end_ms: int, codes: Iterable[str]
) -> dict[str, int]:
    """Per point code: the longest stretch of [start_ms, end_ms] without an observation (ms)."""
    times: dict[str, list[int]] = {c: [] for c in codes}
    for o in observations:
        if o["point_code"] in times and start_ms <= o["time_ms"] <= end_ms:
            times[o["point_code"]].append(int(o["time_ms"]))
    out = {}
    for code, ts in times.items():
        marks = [start_ms, *sorted(set(ts)), end_ms]
        out[code] = max(b - a for a, b in zip(marks, marks[1:], strict=False))
    return out


def duplicates(observations: Iterable[dict[str, Any]]) -> list[tuple[str, int, list[int]]]:
    """Observations stored more than once: (point code, time_ms, the sequences that carry it)."""
    seen: dict[tuple[str, int], list[int]] = {}
    for o in observations:
        seen.setdefault((o["point_code"] or str(o["alias"]), int(o["time_ms"])), []).append(
            int(o["sequence"])
        )
    return [(c, t, s) for (c, t), s in seen.items() if len(s) > 1]
