"""What every network simulator shares: the update loop, fault bookkeeping and the JSON-lines control API.

Control API: a TCP socket on 127.0.0.1 (port 0: the OS picks it; the simulator's start-up JSON line reports it as
``control_port``). Send one JSON object per line, get one JSON object per line back::

    {"cmd": "ping"}                                     → {"ok": true, "simulator": "modbus"}
    {"cmd": "status"}                                   → values, status bits, scenarios, faults, sim time
    {"cmd": "scenario", "name": "methane_rise"}         → start a scenario of the profile
    {"cmd": "scenario_stop"}                            → stop scenarios, every point back to its generator
    {"cmd": "set", "point": "CH4_T1", "value": 1.2}     → hold a point at a value
    {"cmd": "release", "point": "CH4_T1"}               → back to its own generator
    {"cmd": "point_status", "point": "CO_01", "bits": 128}   → force status bits (0 clears)
    {"cmd": "speed", "value": 20}                       → time compression
    {"cmd": "pause"} / {"cmd": "resume"}                → freeze the values (a stuck device) / unfreeze
    {"cmd": "fault", "kind": "...", ...}                → inject a fault (kinds per simulator, see its module)
    {"cmd": "clear"}                                    → remove every injected fault
    {"cmd": "stop"}                                     → shut the simulator down

Errors come back as ``{"ok": false, "error": "中文 / English"}``; the connection stays open.
The same operations are Python methods (:meth:`BaseSimulator.handle`, ``inject_fault``, ``clear_faults`` …) for
in-process use; :class:`ControlClient` is a small client for other processes.
"""

from __future__ import annotations

import abc
import asyncio
import contextlib
import json
import logging
import socket
import time
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, ClassVar

from santong.adapters.simulators._engine import Simulation
from santong.adapters.simulators._profile import Profile

__all__ = ["BaseSimulator", "ControlClient", "Fault", "FaultError"]

log = logging.getLogger("santong.simulators")


class FaultError(ValueError):
    """A control request is invalid (unknown command, fault kind or parameter)."""


@dataclass(slots=True)
class Fault:
    """One injected fault: its kind, parameters, and when it ends (time limit and/or a count of uses)."""

    id: int
    kind: str
    params: dict[str, Any]
    until: float | None = None  # time.monotonic() deadline
    remaining: int | None = None  # uses left
    used: int = 0
    created: float = field(default_factory=time.monotonic)

    def active(self, now: float | None = None) -> bool:
        if self.remaining is not None and self.remaining <= 0:
            return False
        return self.until is None or (time.monotonic() if now is None else now) < self.until

    def use(self) -> None:
        self.used += 1
        if self.remaining is not None:
            self.remaining -= 1

    def describe(self) -> dict[str, Any]:
        left = None if self.until is None else max(0.0, self.until - time.monotonic())
        return {
            "id": self.id,
            "kind": self.kind,
            **self.params,
            "seconds_left": left,
            "remaining": self.remaining,
            "used": self.used,
        }


def _num(req: Mapping[str, Any], key: str, default: Any = None, *, positive: bool = False) -> Any:
    v = req.get(key, default)
    if v is None:
        return None
    if isinstance(v, bool) or not isinstance(v, int | float):
        raise FaultError(f"{key} 应为数字 / {key} must be a number, got {v!r}")
    if positive and v <= 0:
        raise FaultError(f"{key} 应大于 0 / {key} must be > 0, got {v!r}")
    return v


class BaseSimulator(abc.ABC):
    """A simulator driven by a profile: update loop, faults and the control API. Subclasses serve a protocol."""

    kind: ClassVar[str] = "base"
    fault_kinds: ClassVar[tuple[str, ...]] = ()

    def __init__(
        self,
        profile: Profile,
        *,
        host: str = "127.0.0.1",
        speed: float | None = None,
        seed: int | None = None,
        scenario: str | None = None,
    ) -> None:
        self.profile = profile
        self.host = host
        self.engine = Simulation(profile, speed=speed, seed=seed)
        if scenario:
            self.engine.start_scenario(scenario)
        self.faults: list[Fault] = []
        self._next_fault = 1
        self._tasks: list[asyncio.Task[Any]] = []
        self._control: asyncio.AbstractServer | None = None
        self.control_port: int | None = None
        self.stopped = asyncio.Event()
        self.started = False
        self.paused = False

    # ------------------------------------------------------------------------------------- lifecycle

    async def start(self, *, control: bool = True) -> BaseSimulator:
        """Start serving, the update loop and (unless ``control=False``) the control socket."""
        await self._start()
        await self._push()
        self._tasks.append(asyncio.create_task(self._update_loop(), name=f"{self.kind}-update"))
        if control:
            self._control = await asyncio.start_server(self._serve_control, self.host, 0)
            self.control_port = self._control.sockets[0].getsockname()[1]
        self.started = True
        return self

    async def stop(self) -> None:
        """Stop everything (idempotent)."""
        if self._control is not None:
            self._control.close()
            with contextlib.suppress(Exception):
                await asyncio.wait_for(self._control.wait_closed(), 1.0)
            self._control = None
        for t in self._tasks:
            t.cancel()
        for t in self._tasks:
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await t
        self._tasks.clear()
        if self.started:
            await self._stop()
        self.started = False
        self.stopped.set()

    async def __aenter__(self) -> BaseSimulator:
        return await self.start()

    async def __aexit__(self, *exc: object) -> None:
        await self.stop()

    @abc.abstractmethod
    async def _start(self) -> None:
        """Start the protocol server (each simulator)."""

    @abc.abstractmethod
    async def _stop(self) -> None:
        """Stop the protocol server (each simulator)."""

    async def _push(self) -> None:  # noqa: B027  (optional hook: simulators without a push step keep it)
        """Publish the engine's current values to the protocol side (registers, nodes …)."""

    def info(self) -> dict[str, Any]:
        """What the start-up JSON line reports."""
        return {
            "simulator": self.kind,
            "profile": self.profile.source,
            "device": self.profile.device.id,
            "host": self.host,
            "control_port": self.control_port,
            "speed": self.engine.speed,
            "scenarios": list(self.profile.scenarios),
        }

    async def _update_loop(self) -> None:
        period = self.profile.update_period
        while True:
            await asyncio.sleep(period)
            try:
                if not self.paused:
                    self.engine.update()
                self._expire_faults()
                await self._push()
            except asyncio.CancelledError:
                raise
            except Exception:  # keep simulating; the log says what went wrong
                log.exception("模拟器更新失败 / simulator update failed")

    # ------------------------------------------------------------------------------------- faults

    def _add_fault(
        self, kind: str, params: dict[str, Any], duration: float | None, count: int | None
    ) -> Fault:
        f = Fault(
            self._next_fault,
            kind,
            params,
            None if duration is None else time.monotonic() + duration,
            None if count is None else int(count),
        )
        self._next_fault += 1
        self.faults.append(f)
        log.info("注入故障 / fault injected: %s", f.describe())
        return f

    def _expire_faults(self) -> None:
        now = time.monotonic()
        self.faults = [f for f in self.faults if f.active(now)]

    def active_faults(self, kind: str | None = None) -> list[Fault]:
        """Faults still in force (optionally of one kind), oldest first."""
        now = time.monotonic()
        return [f for f in self.faults if f.active(now) and (kind is None or f.kind == kind)]

    def inject_fault(self, kind: str, **params: Any) -> Fault:
        """Inject a fault; common parameters: ``duration`` (seconds) and ``count`` (times it applies)."""
        if kind not in self.fault_kinds:
            raise FaultError(
                f"{self.kind} 模拟器没有故障类型 {kind!r}（可用：{', '.join(self.fault_kinds)}） / the {self.kind} "
                f"simulator has no fault kind {kind!r}; use one of: {', '.join(self.fault_kinds)}"
            )
        duration = _num(params, "duration", positive=True)
        count = _num(params, "count", positive=True)
        rest = {k: v for k, v in params.items() if k not in ("duration", "count")}
        return self._fault(kind, rest, duration, count)

    def _fault(self, kind: str, params: dict[str, Any], duration: float | None, count: int | None) -> Fault:
        return self._add_fault(kind, params, duration, count)

    def clear_faults(self) -> int:
        """Remove every injected fault; returns how many were active."""
        n = len(self.active_faults())
        self.faults.clear()
        return n

    # ------------------------------------------------------------------------------------- control

    async def handle(self, req: Mapping[str, Any]) -> dict[str, Any]:
        """Execute one control request (see the module docstring); never raises for a bad request."""
        try:
            return {"ok": True, **(await self._dispatch(req))}
        except (FaultError, KeyError, ValueError, TypeError) as e:
            msg = e.args[0] if isinstance(e, KeyError) and e.args else str(e)
            return {"ok": False, "error": msg}

    async def _dispatch(self, req: Mapping[str, Any]) -> dict[str, Any]:
        if not isinstance(req, Mapping):
            raise FaultError("请求应为 JSON 对象 / a request must be a JSON object")
        cmd = req.get("cmd")
        e = self.engine
        if cmd == "ping":
            return {"simulator": self.kind}
        if cmd == "status":
            return {
                "simulator": self.kind,
                "sim_time": e.sim_time(),
                "speed": e.speed,
                "scenarios": e.running_scenarios,
                "points": e.snapshot(),
                "faults": [f.describe() for f in self.active_faults()],
            }
        if cmd == "scenario":
            sc = e.start_scenario(str(req.get("name")))
            return {"scenario": sc.name, "duration": sc.duration}
        if cmd == "scenario_stop":
            e.stop_scenarios()
            return {}
        if cmd == "set":
            e.force(str(req.get("point")), _num(req, "value"))
            return {}
        if cmd == "release":
            e.release(str(req.get("point")))
            return {}
        if cmd == "point_status":
            e.set_status_bits(str(req.get("point")), int(_num(req, "bits", 0)))
            return {}
        if cmd == "speed":
            e.speed = float(_num(req, "value", positive=True))
            return {"speed": e.speed}
        if cmd in ("pause", "resume"):
            self.paused = cmd == "pause"
            return {"paused": self.paused}
        if cmd == "fault":
            params = {k: v for k, v in req.items() if k not in ("cmd", "kind")}
            f = self.inject_fault(str(req.get("kind")), **params)
            return {"fault": f.describe()}
        if cmd == "clear":
            return {"cleared": self.clear_faults()}
        if cmd == "stop":
            asyncio.get_running_loop().call_soon(lambda: asyncio.ensure_future(self.stop()))
            return {}
        raise FaultError(
            f"未知命令 {cmd!r} / unknown command {cmd!r}; use one of: ping, status, scenario, scenario_stop, set, "
            "release, point_status, speed, pause, resume, fault, clear, stop"
        )

    async def _serve_control(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            while line := await reader.readline():
                if not line.strip():
                    continue
                try:
                    req = json.loads(line)
                except json.JSONDecodeError as err:
                    resp: dict[str, Any] = {"ok": False, "error": f"不是 JSON / not JSON: {err}"}
                else:
                    resp = await self.handle(req)
                writer.write(json.dumps(resp, ensure_ascii=False, default=str).encode("utf-8") + b"\n")
                await writer.drain()
        except (ConnectionError, asyncio.CancelledError):
            pass
        finally:
            writer.close()


class ControlClient:
    """A blocking client for a simulator's control socket (for tests and other processes).

    Example::

        with ControlClient(port) as c:
            c.call("fault", kind="exception", code=2, duration=5)
    """

    def __init__(self, port: int, host: str = "127.0.0.1", timeout: float = 10.0) -> None:
        self._sock = socket.create_connection((host, port), timeout)
        self._file = self._sock.makefile("rwb")

    def call(self, cmd: str, **params: Any) -> dict[str, Any]:
        """Send one command; return the reply (raises FaultError when ``ok`` is false)."""
        self._file.write(json.dumps({"cmd": cmd, **params}).encode("utf-8") + b"\n")
        self._file.flush()
        line = self._file.readline()
        if not line:
            raise ConnectionError("模拟器关闭了控制连接 / the simulator closed the control connection")
        reply: dict[str, Any] = json.loads(line)
        if not reply.get("ok"):
            raise FaultError(reply.get("error", "?"))
        return reply

    def close(self) -> None:
        with contextlib.suppress(OSError):
            self._file.close()
            self._sock.close()

    def __enter__(self) -> ControlClient:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
