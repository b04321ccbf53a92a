"""Fault injection: outages, failing calls, delayed or withheld acknowledgements, clock offset, slowness, plans."""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import TYPE_CHECKING, Any

from santong.mock_platform._errors import GRPC_CODES, PlatformError, violation

if TYPE_CHECKING:
    from santong.mock_platform._service import Platform

__all__ = ["FaultInjector", "OUTAGE_MODES"]

OUTAGE_MODES = ("refuse", "reset")
# Methods that need no device credentials are still subject to faults, except the platform's own operations.
FAULT_OPS = (
    "outage_for", "fail_next", "delay_acks", "withhold_acks", "clock_offset", "slow_responses",
    "load_plan", "clear", "status",
)  # fmt: skip


class FaultInjector:
    """Faults the platform injects into device calls; every injected fault goes into the interaction log.

    Example::

        platform.faults.outage_for(2.0, mode="refuse")      # listener closed for 2 s
        platform.faults.fail_next(3, "UNAVAILABLE")          # the next 3 device calls fail
        platform.faults.withhold_acks(1)                     # the next upload is stored, never acknowledged
        await platform.faults.load_plan({"steps": [{"at_s": 0.5, "op": "outage_for", "args": {"seconds": 1}}]})
    """

    def __init__(self, platform: Platform) -> None:
        self._platform = platform
        self.outage_until = 0.0  # time.monotonic()
        self.outage_mode = "refuse"
        self.fail_count = 0
        self.fail_code = "UNAVAILABLE"
        self.fail_methods: frozenset[str] | None = None
        self.ack_delay_ms = 0.0
        self.withhold_count = 0
        self.clock_offset_ms = 0
        self.slow_ms = 0.0
        self._plan_tasks: set[asyncio.Task[None]] = set()
        self._outage_listeners: list[Callable[[float, str], None]] = []

    # ------------------------------------------------------------------ configuration (logged)

    def add_outage_listener(self, fn: Callable[[float, str], None]) -> None:
        """Call fn(seconds, mode) when an outage starts (transports close listeners or reset streams)."""
        self._outage_listeners.append(fn)

    def remove_outage_listener(self, fn: Callable[[float, str], None]) -> None:
        """Stop calling fn on outages."""
        if fn in self._outage_listeners:
            self._outage_listeners.remove(fn)

    def outage_for(self, seconds: float, mode: str = "refuse") -> dict[str, Any]:
        """For `seconds`, refuse connections (listener closed) or reset them (every call UNAVAILABLE)."""
        if mode not in OUTAGE_MODES:
            raise PlatformError(
                "INVALID_ARGUMENT", f"未知的中断模式 {mode}", f"unknown outage mode {mode!r} (refuse|reset)"
            )
        seconds = _non_negative(seconds, "seconds")
        self.outage_until = time.monotonic() + seconds
        self.outage_mode = mode
        self._log("outage_for", f"seconds={seconds} mode={mode}")
        for fn in list(self._outage_listeners):
            fn(seconds, mode)
        return self.status()

    def fail_next(
        self, n: int, code: str = "UNAVAILABLE", methods: Iterable[str] | None = None
    ) -> dict[str, Any]:
        """The next n device calls (optionally only of `methods`) fail with gRPC status `code`."""
        code = str(code).upper()
        if code not in GRPC_CODES or code == "OK":
            raise PlatformError("INVALID_ARGUMENT", f"未知的状态码 {code}", f"unknown status code {code!r}")
        self.fail_count = int(_non_negative(n, "n"))
        self.fail_code = code
        self.fail_methods = frozenset(methods) if methods else None
        self._log("fail_next", f"n={self.fail_count} code={code} methods={sorted(self.fail_methods or [])}")
        return self.status()

    def delay_acks(self, ms: float) -> dict[str, Any]:
        """Delay every acknowledgement (after commit) by ms."""
        self.ack_delay_ms = _non_negative(ms, "ms")
        self._log("delay_acks", f"ms={self.ack_delay_ms}")
        return self.status()

    def withhold_acks(self, n: int) -> dict[str, Any]:
        """Store the next n uploads but never acknowledge them (the device must resend; replays are DUPLICATE)."""
        self.withhold_count = int(_non_negative(n, "n"))
        self._log("withhold_acks", f"n={self.withhold_count}")
        return self.status()

    def clock_offset(self, ms: int) -> dict[str, Any]:
        """Shift the platform clock (server_time, time-sync commands, time checks) by ms."""
        try:
            self.clock_offset_ms = int(ms)
        except (TypeError, ValueError) as e:
            raise PlatformError("INVALID_ARGUMENT", "ms 须为整数", "ms must be an integer") from e
        self._log("clock_offset", f"ms={self.clock_offset_ms}")
        return self.status()

    def slow_responses(self, ms: float) -> dict[str, Any]:
        """Wait ms before handling every device call."""
        self.slow_ms = _non_negative(ms, "ms")
        self._log("slow_responses", f"ms={self.slow_ms}")
        return self.status()

    def clear(self) -> dict[str, Any]:
        """End every fault and cancel running plans."""
        for t in list(self._plan_tasks):
            t.cancel()
        self.outage_until = 0.0
        self.fail_count = 0
        self.fail_methods = None
        self.ack_delay_ms = 0.0
        self.withhold_count = 0
        self.clock_offset_ms = 0
        self.slow_ms = 0.0
        self._log("clear", "")
        return self.status()

    def status(self) -> dict[str, Any]:
        """The faults in force (JSON-able)."""
        left = max(0.0, self.outage_until - time.monotonic())
        return {
            "outage_remaining_s": round(left, 3),
            "outage_mode": self.outage_mode if left else None,
            "fail_next": self.fail_count,
            "fail_code": self.fail_code if self.fail_count else None,
            "fail_methods": sorted(self.fail_methods) if self.fail_methods else None,
            "ack_delay_ms": self.ack_delay_ms,
            "withhold_acks": self.withhold_count,
            "clock_offset_ms": self.clock_offset_ms,
            "slow_ms": self.slow_ms,
            "plans_running": len(self._plan_tasks),
        }

    def load_plan(self, plan: str | Path | dict[str, Any] | list[Any]) -> dict[str, Any]:
        """Run a timed plan: a JSON file or object ``{"steps": [{"at_s": 1.0, "op": "fail_next", "args": {...}}]}``.

        Steps run at their offsets from now, in the background; each is logged when it fires.
        """
        if isinstance(plan, str | Path):
            try:
                doc: Any = json.loads(Path(plan).read_text(encoding="utf-8"))
            except (OSError, ValueError) as e:
                raise PlatformError(
                    "INVALID_ARGUMENT", f"无法读取故障计划：{e}", f"cannot read the fault plan: {e}"
                ) from e
        else:
            doc = plan
        steps = doc.get("steps") if isinstance(doc, dict) else doc
        if not isinstance(steps, list):
            raise PlatformError(
                "INVALID_ARGUMENT", "故障计划须含 steps 列表", "a fault plan needs a list of steps"
            )
        parsed: list[tuple[float, str, dict[str, Any]]] = []
        for i, s in enumerate(steps):
            if (
                not isinstance(s, dict)
                or s.get("op") not in FAULT_OPS
                or s.get("op") in ("load_plan", "status")
            ):
                raise PlatformError("INVALID_ARGUMENT", f"第 {i} 步无效", f"step {i} is invalid: {s!r}")
            args = s.get("args", {})
            if not isinstance(args, dict):
                raise PlatformError(
                    "INVALID_ARGUMENT", f"第 {i} 步的 args 须为对象", f"args of step {i} must be an object"
                )
            parsed.append((_non_negative(s.get("at_s", 0), "at_s"), s["op"], args))
        parsed.sort(key=lambda x: x[0])
        self._log(
            "load_plan",
            json.dumps([{"at_s": a, "op": o, "args": g} for a, o, g in parsed], ensure_ascii=False),
        )
        task = asyncio.get_running_loop().create_task(self._run_plan(parsed))
        self._plan_tasks.add(task)
        task.add_done_callback(self._plan_tasks.discard)
        return self.status()

    async def _run_plan(self, steps: list[tuple[float, str, dict[str, Any]]]) -> None:
        start = time.monotonic()
        for at_s, op, args in steps:
            delay = start + at_s - time.monotonic()
            if delay > 0:
                await asyncio.sleep(delay)
            try:
                self.run(op, args)
            except PlatformError as e:
                self._log("plan_step_failed", f"{op} {args}: {e.message}")

    def run(self, op: str, args: dict[str, Any] | None = None) -> dict[str, Any]:
        """Dispatch one fault operation by name (what the HTTP and admin transports call)."""
        if op not in FAULT_OPS:
            raise PlatformError("NOT_FOUND", f"未知的故障操作 {op}", f"unknown fault operation {op!r}")
        fn = getattr(self, op)
        try:
            result: dict[str, Any] = fn(**(args or {}))
        except TypeError as e:
            raise PlatformError("INVALID_ARGUMENT", f"参数错误：{e}", f"bad arguments: {e}") from e
        return result

    # ------------------------------------------------------------------ applied on each call

    def outage_active(self) -> bool:
        """True while an outage lasts."""
        return self.outage_until > time.monotonic()

    def outage_remaining(self) -> float:
        """Seconds left of the outage (0 when none)."""
        return max(0.0, self.outage_until - time.monotonic())

    async def before_call(
        self, method: str, device_id: str, peer: str, sequence: int | None = None, *, opening: bool = False
    ) -> None:
        """Apply outage, fail-next and slowness to a device call; raise PlatformError when it must fail (see
        :meth:`check_call`)."""
        slow_s = self.check_call(method, device_id, peer, sequence, opening=opening)
        if slow_s:
            await asyncio.sleep(slow_s)

    def check_call(
        self, method: str, device_id: str, peer: str, sequence: int | None = None, *, opening: bool = False
    ) -> float:
        """Apply outage and fail-next to a device call (raise PlatformError when it must fail); the seconds the
        call is to be slowed by (0: none). The stream's hot path calls it without a coroutine per batch.

        ``sequence`` (of an upload) goes into the interaction log with the fault, so that a test can tell
        whether the device later resends that upload (ST-PROTO-014, -016). ``opening``: a StreamObservations
        stream opens — an outage refuses it, but fail_next is kept for the stream's uploads, each of which has a
        sequence (a fault at the opening would carry none)."""
        if self.outage_until and self.outage_active():
            left = self.outage_remaining()
            self._log_fired(
                method, device_id, peer, "UNAVAILABLE", f"outage ({self.outage_mode}), {left:.3f} s left",
                sequence=sequence,
            )  # fmt: skip
            raise PlatformError(
                "UNAVAILABLE",
                "平台中断（故障注入）",
                "platform outage (fault injection)",
                retry_after_s=round(left, 3),
            )
        if (
            self.fail_count
            and (self.fail_methods is None or method in self.fail_methods)
            and not (opening and method == "StreamObservations")
        ):
            self.fail_count -= 1
            code = self.fail_code
            self._log_fired(
                method, device_id, peer, code, f"fail_next, {self.fail_count} left", sequence=sequence
            )
            # An injected INVALID_ARGUMENT is a definitive rejection: it carries a violation, as a real one does
            # (without violations it is no rejection on content, and devices retry it, ST-PROTO-035).
            vs = (
                [
                    violation(
                        "ST-PROTO-016",
                        "$",
                        "注入的最终拒收（故障注入）",
                        "injected final rejection (fault injection)",
                    )
                ]
                if code == "INVALID_ARGUMENT"
                else []
            )
            raise PlatformError(
                code,
                f"注入的故障 {code}",
                f"injected fault {code}",
                vs,
                retry_after_s=0.1 if code in ("UNAVAILABLE", "RESOURCE_EXHAUSTED") else None,
            )
        return self.slow_ms / 1000 if self.slow_ms else 0.0

    def take_withhold(self, method: str, device_id: str, peer: str, sequence: int) -> bool:
        """True when this upload's acknowledgement is to be withheld (counts one down and logs it)."""
        if not self.withhold_count:
            return False
        self.withhold_count -= 1
        self._log_fired(
            method, device_id, peer, "WITHHELD", f"ack of sequence {sequence} withheld", sequence=sequence
        )
        return True

    async def ack_delay(self) -> None:
        """Sleep the configured acknowledgement delay."""
        if self.ack_delay_ms:
            await asyncio.sleep(self.ack_delay_ms / 1000)

    def _log(self, op: str, note: str) -> None:
        self._platform.log_event("", f"fault:{op}", "FAULT", "OK", note)

    def _log_fired(
        self, method: str, device_id: str, peer: str, code: str, note: str, sequence: int | None = None
    ) -> None:
        self._platform.log_event(device_id, method, "FAULT", code, note, peer=peer, sequence=sequence)


def _non_negative(x: Any, name: str) -> float:
    try:
        v = float(x)
    except (TypeError, ValueError) as e:
        raise PlatformError("INVALID_ARGUMENT", f"{name} 须为数", f"{name} must be a number") from e
    if not v >= 0 or v == float("inf"):
        raise PlatformError(
            "INVALID_ARGUMENT", f"{name} 须为非负有限数", f"{name} must be a finite number ≥ 0"
        )
    return v
