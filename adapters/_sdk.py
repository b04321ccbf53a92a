"""The adapter SDK: the device-side base class, the sink it pushes into, converters, and the adapter registry.

An adapter talks to one kind of device (Modbus, OPC UA, MQTT, MT/T files …) and pushes what it reads into an
:class:`UplinkSink` — in production the :class:`~santong.adapters.client.PlatformClient`, which batches, queues
and delivers to the platform. Adapters are found by ``kind`` through the entry-point group ``santong.adapters``;
the built-in adapters register through the same entry points as third-party ones.

Example (a complete adapter)::

    @dataclass(frozen=True)
    class CounterSettings:
        period_ms: int = 1000

    class CounterAdapter(Adapter[CounterSettings]):
        kind = "counter"
        config_type = CounterSettings

        async def start(self, sink: UplinkSink) -> None:
            self._task = asyncio.create_task(self._run(sink))

        async def _run(self, sink: UplinkSink) -> None:
            n = 0
            while True:
                await sink.observations([(p.point_code, n, None, 0) for p in self.config.points])
                n += 1
                await asyncio.sleep(self.settings.period_ms / 1000)

        async def stop(self) -> None:
            self._task.cancel()

    # pyproject.toml of the vendor's package:
    # [project.entry-points."santong.adapters"]
    # counter = "acme_adapters.counter:CounterAdapter"
"""

from __future__ import annotations

import abc
import dataclasses
import inspect
import math
import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from importlib import metadata
from typing import Any, ClassVar, Generic, Protocol, TypeVar, runtime_checkable

from santong.adapters._mapping import ChangeFilter, PointMapping, decode, encode
from santong.protocols import SantongError
from santong.protocols.v1 import common_pb2, data_pb2

__all__ = [
    "ENTRY_POINT_GROUP",
    "Adapter",
    "AdapterConfig",
    "AdapterError",
    "AdapterLoadError",
    "AdapterNotFound",
    "DownlinkConverter",
    "MappedDownlink",
    "MappedUplink",
    "NoSettings",
    "Observation",
    "PointConfig",
    "Registry",
    "UnsupportedCommand",
    "UplinkConverter",
    "UplinkSink",
    "default_registry",
    "register",
]

ENTRY_POINT_GROUP = "santong.adapters"
KIND_PATTERN = re.compile(r"^[a-z][a-z0-9_-]{0,31}$")

# Status bits (PointStatusFlag) the SDK sets itself.
OVER_RANGE = common_pb2.POINT_STATUS_FLAG_OVER_RANGE

SettingsT = TypeVar("SettingsT")
RawT = TypeVar("RawT")
RequestT = TypeVar("RequestT")

#: One observation as an adapter pushes it: (alias or point_code, value, time in ms since the epoch UTC or None
#: for "now" on the sink's corrected clock, status bitmask of PointStatusFlag values).
Observation = tuple[int | str, float | int | bool, int | None, int]


# --------------------------------------------------------------------------- errors


class AdapterError(SantongError):
    """Base of the adapter SDK's errors."""

    grpc_code = "FAILED_PRECONDITION"
    http_status = 409
    description_zh = "适配器错误"
    description_en = "adapter error"


class UnsupportedCommand(AdapterError):
    """The device does not support this command or point (answered COMMAND_OUTCOME_UNSUPPORTED, ST-IFACE-013).

    Example::

        async def write(self, point_code: str, value: float) -> None:
            if not self.points[point_code].writable:
                raise UnsupportedCommand(f"{point_code} 不可写 / is not writable")
    """

    grpc_code = "UNIMPLEMENTED"
    http_status = 501
    description_zh = "设备不支持该命令"
    description_en = "the device does not support this command"


class AdapterNotFound(AdapterError):
    """No adapter is registered (or declared by an entry point) under this kind."""

    grpc_code = "NOT_FOUND"
    http_status = 404
    description_zh = "未找到适配器"
    description_en = "adapter not found"


class AdapterLoadError(AdapterError):
    """An adapter's entry point is declared but cannot be loaded (module missing, import error, wrong class)."""

    description_zh = "适配器无法加载"
    description_en = "adapter cannot be loaded"


# --------------------------------------------------------------------------- configuration handed to adapters


@dataclass(frozen=True)
class NoSettings:
    """Settings of an adapter that has none (its ``settings:`` section must be empty or absent)."""


@dataclass(frozen=True, eq=False)
class PointConfig:
    """One configured point: its definition for the platform, its value mapping and its adapter-specific source.

    ``definition`` is the PointDefinition sent to the platform (alias 0 until the client assigns one);
    ``mapping`` the declarative value mapping (None when the configuration gives no mapping key); ``source``
    an instance of the adapter's ``point_type`` (the point's ``source:`` section: register address, node id,
    topic and path …); ``given`` the keys the configuration spelled out (so an adapter can insist on one).
    """

    definition: data_pb2.PointDefinition
    mapping: PointMapping | None = None
    source: Any = None
    writable: bool = False
    given: frozenset[str] = frozenset()

    @property
    def point_code(self) -> str:
        """测点编码."""
        return str(self.definition.point_code)

    @property
    def alias(self) -> int:
        """The alias in the configuration (0: assigned by the client)."""
        return int(self.definition.alias)

    @property
    def is_switch(self) -> bool:
        """True for a switch (KG) point: values 0 or 1 (ST-DATA-019)."""
        return bool(self.definition.value_kind == common_pb2.VALUE_KIND_SWITCH)

    def observation(self, value: float | bool, time_ms: int | None = None, status: int = 0) -> Observation:
        """An observation of this point; a value outside its range gets the over-range bit 8 (ST-DATA-021).

        Example::

            await sink.observations([point.observation(1.23), other.observation(True, status=1)])
        """
        v = float(value)
        d = self.definition
        if (
            not self.is_switch
            and math.isfinite(v)
            and d.range_low < d.range_high
            and not d.range_low <= v <= d.range_high
        ):
            status |= OVER_RANGE
        return (self.point_code, v, time_ms, status)


@dataclass(frozen=True, eq=False)
class AdapterConfig(Generic[SettingsT]):
    """The ``adapter:`` section of a configuration: kind, typed settings, points and outstations."""

    kind: str
    settings: SettingsT
    points: tuple[PointConfig, ...] = ()
    outstations: tuple[data_pb2.OutstationDefinition, ...] = ()


# --------------------------------------------------------------------------- the sink and the adapter


@runtime_checkable
class UplinkSink(Protocol):
    """Where an adapter pushes device data. Every method may be awaited from the event loop only.

    Observations are (alias or point_code, value, time_ms or None, status) tuples, pushed in bulk; the sink
    assigns aliases, batches them into columnar ObservationBatches and delivers them in order. Alarms, statuses,
    statistics and personnel records are the protobuf messages of ``santong.protocols.v1``. A thread (paho-mqtt's
    network loop, say) hands data over with ``asyncio.run_coroutine_threadsafe(sink.observations(...), loop)``.

    Example::

        await sink.observations([("14042100000101MNA0010A01", 0.42, None, 0)])
        await sink.alarms([data_pb2.Alarm(alarm_id="a1", point_code=code, state=common_pb2.ALARM_STATE_RAISED, ...)])
        await sink.flush()   # what was pushed so far is now in the durable queue
    """

    def now_ms(self) -> int:
        """Milliseconds since the epoch on the platform-corrected clock (ST-PROTO-007): stamp data with it."""
        ...

    async def define(
        self,
        points: Iterable[data_pb2.PointDefinition],
        outstations: Iterable[data_pb2.OutstationDefinition] = (),
    ) -> None:
        """Define (or redefine) points and outstations at run time, before observing them (ST-PROTO-024)."""
        ...

    async def define_positioning(
        self, areas: Iterable[data_pb2.AreaDefinition], stations: Iterable[data_pb2.StationDefinition]
    ) -> None:
        """Define personnel areas and base stations (before reporting personnel)."""
        ...

    async def observations(self, items: Iterable[Observation]) -> None:
        """Push observations in bulk."""
        ...

    async def alarms(self, alarms: Iterable[data_pb2.Alarm]) -> None:
        """Raise or clear alarms (one upload)."""
        ...

    async def outstation_statuses(self, statuses: Iterable[data_pb2.OutstationStatus]) -> None:
        """Report outstation run and power states (one upload)."""
        ...

    async def statistics(self, statistics: Iterable[data_pb2.Statistics]) -> None:
        """Report statistics over periods (one upload)."""
        ...

    async def personnel(
        self, records: Iterable[data_pb2.PersonnelRecord], stations: Iterable[data_pb2.StationStatus] = ()
    ) -> None:
        """Report personnel positions and base-station states (one upload)."""
        ...

    async def flush(self) -> None:
        """Return once everything pushed so far is in the durable store-and-forward queue."""
        ...


class Adapter(abc.ABC, Generic[SettingsT]):
    """Base class of every adapter (the device side). Subclass it, set ``kind`` and ``config_type``.

    ``config_type`` is a dataclass built from the configuration's ``adapter.settings`` section (with file and
    line in every error); ``point_type``, when set, a dataclass built from each point's ``source:`` section.
    ``start`` returns once the adapter runs (long work goes into tasks it owns); ``stop`` ends them.

    Example::

        @dataclass(frozen=True)
        class RegisterSource:
            address: int
            unit: int = 1

        class MyModbusAdapter(Adapter[MySettings]):
            kind = "my-modbus"
            config_type = MySettings
            point_type = RegisterSource

            async def start(self, sink: UplinkSink) -> None: ...
            async def stop(self) -> None: ...
            async def write(self, point_code: str, value: float) -> None:
                point = self.points[point_code]
                if not point.writable:
                    raise UnsupportedCommand(f"{point_code} 不可写 / not writable")
                await self._client.write_registers(point.source.address, encode(point.mapping, value))
    """

    kind: ClassVar[str]
    config_type: ClassVar[type[Any]] = NoSettings
    point_type: ClassVar[type[Any] | None] = None

    def __init__(self, config: AdapterConfig[SettingsT]) -> None:
        """Keep the configuration; connect to nothing yet (that is ``start``'s job)."""
        self.config = config
        self.settings: SettingsT = config.settings
        self.points: dict[str, PointConfig] = {p.point_code: p for p in config.points}

    @abc.abstractmethod
    async def start(self, sink: UplinkSink) -> None:
        """Connect to the device and start pushing into ``sink``; return once running."""

    @abc.abstractmethod
    async def stop(self) -> None:
        """Stop pushing and disconnect; idempotent."""

    def definitions(self) -> tuple[list[data_pb2.PointDefinition], list[data_pb2.OutstationDefinition]]:
        """The point and outstation definitions to send at start (default: those of the configuration).

        Example (an adapter that learns its points from the device)::

            def definitions(self):
                return [p.definition for p in self.discovered], []
        """
        return [p.definition for p in self.config.points], list(self.config.outstations)

    async def write(self, point_code: str, value: float) -> None:
        """Write ``value`` to a point (WRITE_POINT, ST-IFACE-013); by default nothing is writable.

        Raise :class:`UnsupportedCommand` when the device or point cannot be written (→ UNSUPPORTED); any other
        exception answers FAILED with its message.
        """
        raise UnsupportedCommand(
            f"{self.kind} 适配器不支持写测点 {point_code} / the {self.kind} adapter cannot write {point_code}"
        )

    async def configure(self, report_interval_ms: int, settings: Mapping[str, str]) -> None:
        """Apply a CONFIGURE command (report interval, free settings); by default nothing to do."""


# --------------------------------------------------------------------------- converters


class UplinkConverter(abc.ABC, Generic[RawT]):
    """Turns one piece of raw device data into observations (device → platform).

    Example::

        class JsonUplink(UplinkConverter[dict]):
            def convert(self, raw: dict, time_ms: int) -> list[Observation]:
                return [(code, float(v), time_ms, 0) for code, v in raw.items()]
    """

    @abc.abstractmethod
    def convert(self, raw: RawT, time_ms: int) -> list[Observation]:
        """Observations of ``raw`` read at ``time_ms`` (possibly none)."""


class DownlinkConverter(abc.ABC, Generic[RequestT]):
    """Turns a platform write (point, engineering value) into a device request (platform → device).

    Example::

        class JsonDownlink(DownlinkConverter[dict]):
            def convert(self, point: PointConfig, value: float) -> dict:
                return {"tag": point.source.tag, "value": value}
    """

    @abc.abstractmethod
    def convert(self, point: PointConfig, value: float) -> RequestT:
        """The device request that writes ``value`` to ``point``."""


class MappedUplink(UplinkConverter[Mapping[str, Sequence[int]]]):
    """Register words per point code → observations, through each point's :class:`PointMapping`.

    Applies the mapping (decode), report-on-change or by period (deadband, ``ChangeFilter``) and the
    over-range bit. A point whose words cannot be decoded is reported with the sensor-fault bit 128.

    Example::

        uplink = MappedUplink(adapter.config.points)
        await sink.observations(uplink.convert({"14042100000101MNA0010A01": [0x3F80, 0x0000]}, sink.now_ms()))
    """

    SENSOR_FAULT = common_pb2.POINT_STATUS_FLAG_SENSOR_FAULT

    def __init__(self, points: Iterable[PointConfig]) -> None:
        """Index the points that have a mapping."""
        self.points = {p.point_code: p for p in points if p.mapping is not None}
        self.filter = ChangeFilter()

    def convert(self, raw: Mapping[str, Sequence[int]], time_ms: int) -> list[Observation]:
        """Observations of the points in ``raw`` that should be reported now."""
        out: list[Observation] = []
        for code, words in raw.items():
            point = self.points.get(code)
            if point is None or point.mapping is None:
                continue
            try:
                value = decode(point.mapping, words)
            except ValueError:
                out.append((code, 0.0, time_ms, self.SENSOR_FAULT))
                self.filter.reset(code)
                continue
            if isinstance(value, str):
                continue  # strings are not observation values
            if self.filter.accept_point(code, point.mapping, value, time_ms):
                out.append(point.observation(value, time_ms))
        return out


class MappedDownlink(DownlinkConverter[list[int]]):
    """A write → the register words of the point, through its :class:`PointMapping` (the mapping inverted).

    Example::

        words = MappedDownlink().convert(point, 12.5)
    """

    def convert(self, point: PointConfig, value: float) -> list[int]:
        """Register words that encode ``value``; UnsupportedCommand if the point has no mapping or is read-only."""
        if point.mapping is None or not point.writable:
            raise UnsupportedCommand(
                f"测点 {point.point_code} 不可写 / point {point.point_code} is not writable"
            )
        return encode(point.mapping, value)


# --------------------------------------------------------------------------- registry

# Extras that provide the built-in adapters' dependencies, for the fix in load errors.
_EXTRAS = {"modbus": "modbus", "opcua": "opcua", "mqtt": "mqtt"}


def _check_adapter_class(kind: str, cls: object) -> type[Adapter[Any]]:
    """The class, if it is a concrete Adapter subclass fit to register under ``kind``; else AdapterError."""
    if not isinstance(kind, str) or not KIND_PATTERN.fullmatch(kind):
        raise AdapterError(
            f"适配器类型名 {kind!r} 不合法（小写字母开头，仅含 a-z 0-9 _ -）/ invalid adapter kind {kind!r} (lower-case letter first, then a-z 0-9 _ -)"
        )
    if not (isinstance(cls, type) and issubclass(cls, Adapter)):
        raise AdapterError(
            f"{cls!r} 不是 santong.adapters.Adapter 的子类 / is not a subclass of santong.adapters.Adapter"
        )
    if inspect.isabstract(cls):
        missing = ", ".join(sorted(getattr(cls, "__abstractmethods__", ())))
        raise AdapterError(f"{cls.__qualname__} 缺少方法 {missing} / is abstract: implement {missing}")
    own = getattr(cls, "kind", None)
    if own != kind:
        raise AdapterError(
            f"{cls.__qualname__}.kind 为 {own!r}，与注册名 {kind!r} 不一致 / {cls.__qualname__}.kind is {own!r}, not {kind!r}"
        )
    for attr in ("config_type", "point_type"):
        tp = getattr(cls, attr, None)
        if tp is None and attr == "point_type":
            continue
        if not (isinstance(tp, type) and dataclasses.is_dataclass(tp)):
            raise AdapterError(
                f"{cls.__qualname__}.{attr} 须为 dataclass 类型 / must be a dataclass type, got {tp!r}"
            )
    return cls


class Registry:
    """Adapter classes by kind: registered explicitly, or declared by entry points and loaded on first use.

    A failing entry point (module missing, import error, not an Adapter) raises :class:`AdapterLoadError` for
    that kind only; every other kind stays usable. ``register`` checks the class and touches only this registry.

    Example::

        registry = Registry()                      # the installed entry points of group santong.adapters
        registry.register("counter", CounterAdapter)
        cls = registry.get("modbus")               # imports santong.adapters.modbus on first use
        isolated = Registry(entry_points=())       # no entry points at all (tests)
    """

    def __init__(
        self, entry_points: Iterable[metadata.EntryPoint] | None = None, *, group: str = ENTRY_POINT_GROUP
    ) -> None:
        """Use ``entry_points`` as given, or discover the group's installed entry points lazily."""
        self.group = group
        self._given = None if entry_points is None else list(entry_points)
        self._eps: dict[str, metadata.EntryPoint] | None = None
        self._classes: dict[str, type[Adapter[Any]]] = {}
        self._errors: dict[str, AdapterLoadError] = {}

    def _entry_points(self) -> dict[str, metadata.EntryPoint]:
        if self._eps is None:
            eps = self._given if self._given is not None else list(metadata.entry_points(group=self.group))
            self._eps = {}
            for ep in eps:
                self._eps.setdefault(
                    ep.name, ep
                )  # the first declaration of a kind wins, as importlib orders them
        return self._eps

    def register(self, kind: str, cls: type[Adapter[Any]], *, replace: bool = False) -> type[Adapter[Any]]:
        """Register ``cls`` under ``kind`` after checking it; returns the class (usable as a decorator helper).

        Example::

            registry.register("counter", CounterAdapter)
        """
        checked = _check_adapter_class(kind, cls)
        current = self._classes.get(kind)
        if current is not None and current is not checked and not replace:
            raise AdapterError(
                f"类型 {kind!r} 已注册为 {current.__module__}.{current.__qualname__}；如需替换请传 replace=True / "
                f"kind {kind!r} is already registered to {current.__module__}.{current.__qualname__}; pass replace=True to replace it"
            )
        self._classes[kind] = checked
        self._errors.pop(kind, None)
        return checked

    def kinds(self) -> list[str]:
        """Every kind known: registered or declared by an entry point (loaded or not)."""
        return sorted(set(self._classes) | set(self._entry_points()))

    def get(self, kind: str) -> type[Adapter[Any]]:
        """The adapter class of ``kind``; AdapterNotFound or AdapterLoadError with the fix otherwise."""
        cls = self._classes.get(kind)
        if cls is not None:
            return cls
        if kind in self._errors:
            raise self._errors[kind]
        ep = self._entry_points().get(kind)
        if ep is None:
            known = ", ".join(self.kinds()) or "（无 none）"
            raise AdapterNotFound(
                f"没有类型为 {kind!r} 的适配器；已知：{known}。请检查 adapter.kind 的拼写，或安装提供该适配器的包"
                f'（其 pyproject.toml 须在 [project.entry-points."{self.group}"] 中声明 {kind}）/ '
                f"no adapter of kind {kind!r}; known: {known}. Check the spelling of adapter.kind or install the package "
                f'that provides it (it declares {kind} under [project.entry-points."{self.group}"])'
            )
        try:
            loaded = ep.load()
            return self.register(kind, loaded)
        except Exception as e:  # any import-time failure of a plug-in is that plug-in's problem, not ours
            extra = _EXTRAS.get(kind)
            module = ep.value.split(":")[0]
            missing = getattr(e, "name", None) if isinstance(e, ModuleNotFoundError) else None
            if missing and (module == missing or module.startswith(missing + ".")):
                hint_zh = f"模块 {module} 不存在：安装（或升级）提供它的包"
                hint_en = (
                    f"the module {module} does not exist: install (or upgrade) the package that provides it"
                )
            elif missing and extra:
                hint_zh = f"缺少依赖 {missing}：pip install 'santong[{extra}]'"
                hint_en = f"the dependency {missing} is missing: pip install 'santong[{extra}]'"
            else:
                hint_zh = "安装或修复提供该模块的包"
                hint_en = "install or fix the package that provides the module"
            err = AdapterLoadError(
                f"适配器 {kind!r} 的入口 {ep.value} 无法加载（{type(e).__name__}: {e}）；{hint_zh} / "
                f"adapter {kind!r}: entry point {ep.value} cannot be loaded ({type(e).__name__}: {e}); {hint_en}"
            )
            err.__cause__ = e
            self._errors[kind] = err
            raise err from e

    def load_all(self) -> dict[str, type[Adapter[Any]] | AdapterLoadError]:
        """Try every kind; a class or the load error per kind (for ``santong adapter list``)."""
        out: dict[str, type[Adapter[Any]] | AdapterLoadError] = {}
        for kind in self.kinds():
            try:
                out[kind] = self.get(kind)
            except AdapterLoadError as e:
                out[kind] = e
        return out

    def __contains__(self, kind: object) -> bool:
        return isinstance(kind, str) and kind in self.kinds()


_DEFAULT: list[Registry] = []


def default_registry() -> Registry:
    """The process's registry of installed adapters (created on first use from the entry points)."""
    if not _DEFAULT:
        _DEFAULT.append(Registry())
    return _DEFAULT[0]


def register(kind: str, cls: type[Adapter[Any]], *, registry: Registry | None = None) -> type[Adapter[Any]]:
    """Register an adapter class in ``registry`` (default: :func:`default_registry`); see Registry.register.

    Example::

        register("counter", CounterAdapter, registry=my_registry)
    """
    return (registry or default_registry()).register(kind, cls)
