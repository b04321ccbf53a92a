"""The adapter SDK: base class, registry and entry points, converters, and a counter adapter run end to end."""

from __future__ import annotations

import asyncio
import dataclasses
import tomllib
from importlib.metadata import EntryPoint
from pathlib import Path

import pytest
from santong.adapters import (
    ENTRY_POINT_GROUP,
    Adapter,
    AdapterConfig,
    AdapterError,
    AdapterLoadError,
    AdapterNotFound,
    MappedDownlink,
    MappedUplink,
    NoSettings,
    PointConfig,
    PointMapping,
    Registry,
    UnsupportedCommand,
    UplinkSink,
    encode,
    parse_config,
    register,
)
from santong.adapters._runner import run_adapter
from santong.adapters.client import PlatformClient
from santong.protocols.v1 import common_pb2, data_pb2
from st_waiting import wait_for

ROOT = Path(__file__).resolve().parents[2]
CH4 = "14042100000101MNA0010A01"
SW = "14042100000101KGS0010K01"


@dataclasses.dataclass(frozen=True)
class CounterSettings:
    period_ms: int = 20


class CounterAdapter(Adapter[CounterSettings]):
    """Pushes a counter to every configured point; WRITE_POINT sets the counter."""

    kind = "counter"
    config_type = CounterSettings

    def __init__(self, config: AdapterConfig[CounterSettings]) -> None:
        super().__init__(config)
        self.n = 0
        self.writes: list[tuple[str, float]] = []
        self._task: asyncio.Task[None] | None = None

    async def start(self, sink: UplinkSink) -> None:
        self._task = asyncio.create_task(self._run(sink))

    async def _run(self, sink: UplinkSink) -> None:
        while True:
            await sink.observations(
                [
                    (p.point_code, self.n % 2 if p.is_switch else (self.n % 40) / 10, None, 0)
                    for p in self.config.points
                ]
            )
            self.n += 1
            await asyncio.sleep(self.settings.period_ms / 1000)

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()

    async def write(self, point_code: str, value: float) -> None:
        if not self.points[point_code].writable:
            raise UnsupportedCommand(f"{point_code} is read-only")
        self.writes.append((point_code, value))


class Abstract(Adapter[NoSettings]):
    kind = "abstract"


class NotDataclassSettings(Adapter[NoSettings]):
    kind = "nodc"
    config_type = dict  # type: ignore[assignment]

    async def start(self, sink: UplinkSink) -> None: ...

    async def stop(self) -> None: ...


def ep(name: str, value: str) -> EntryPoint:
    return EntryPoint(name=name, value=value, group=ENTRY_POINT_GROUP)


# --------------------------------------------------------------------------- registry


def test_register_checks_the_class_and_touches_only_its_registry() -> None:
    a, b = Registry(entry_points=()), Registry(entry_points=())
    assert a.register("counter", CounterAdapter) is CounterAdapter
    assert a.get("counter") is CounterAdapter
    with pytest.raises(AdapterNotFound, match="counter"):
        b.get("counter")
    register("counter", CounterAdapter, registry=b)
    assert b.kinds() == ["counter"]
    bad = [
        ("counter", object, "not a subclass"),
        ("abstract", Abstract, "abstract"),
        ("other", CounterAdapter, "kind is 'counter'"),
        ("Bad Kind", CounterAdapter, "invalid adapter kind"),
        ("nodc", NotDataclassSettings, "dataclass"),
    ]
    for kind, cls, words in bad:
        with pytest.raises(AdapterError, match=words):
            a.register(kind, cls)  # type: ignore[arg-type]

    class Other(CounterAdapter):
        pass

    with pytest.raises(AdapterError, match="already registered"):
        a.register("counter", Other)
    a.register("counter", Other, replace=True)
    assert a.get("counter") is Other


def test_entry_points_load_lazily_and_a_broken_one_breaks_only_itself() -> None:
    r = Registry(
        entry_points=[
            ep("counter", f"{__name__}:CounterAdapter"),
            ep("modbus", "santong.adapters.no_such_module:ModbusAdapter"),
            ep("noattr", f"{__name__}:NoSuchClass"),
            ep("wrong", f"{__name__}:CounterSettings"),
        ]
    )
    assert r.kinds() == ["counter", "modbus", "noattr", "wrong"]
    assert "modbus" in r
    with pytest.raises(AdapterLoadError) as ei:
        r.get("modbus")
    msg = str(ei.value)
    assert "santong.adapters.no_such_module" in msg and "does not exist" in msg and "不存在" in msg
    with pytest.raises(AdapterLoadError, match="AttributeError"):
        r.get("noattr")
    with pytest.raises(AdapterLoadError, match="not a subclass"):
        r.get("wrong")
    assert r.get("counter") is CounterAdapter  # the others did not break the registry
    loaded = r.load_all()
    assert loaded["counter"] is CounterAdapter and isinstance(loaded["modbus"], AdapterLoadError)
    with pytest.raises(AdapterNotFound, match="known: counter, modbus"):
        r.get("opcua")


def test_builtins_are_declared_as_entry_points() -> None:
    table = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))["project"]["entry-points"][
        ENTRY_POINT_GROUP
    ]
    assert table == {
        "modbus": "santong.adapters.modbus:ModbusAdapter",
        "opcua": "santong.adapters.opcua:OpcUaAdapter",
        "mqtt": "santong.adapters.mqtt:MqttAdapter",
        "mtfile": "santong.adapters.mtfile:MtFileAdapter",
    }
    r = Registry(entry_points=[ep(k, v) for k, v in table.items()])
    for kind, got in r.load_all().items():  # loading any of them never crashes the registry
        assert isinstance(got, type | AdapterLoadError), kind


# --------------------------------------------------------------------------- base class and converters


def point(code: str, *, writable: bool = False, mapping: PointMapping | None = None) -> PointConfig:
    kind = common_pb2.VALUE_KIND_SWITCH if "KG" in code else common_pb2.VALUE_KIND_ANALOG
    d = data_pb2.PointDefinition(
        point_code=code, value_kind=kind, range_low=0, range_high=1 if "KG" in code else 4, location="x"
    )
    return PointConfig(definition=d, mapping=mapping, writable=writable)


async def test_adapter_defaults_and_point_helpers() -> None:
    cfg = AdapterConfig(
        kind="counter", settings=CounterSettings(), points=(point(CH4), point(SW, writable=True))
    )
    a = CounterAdapter(cfg)
    points, outstations = a.definitions()
    assert [p.point_code for p in points] == [CH4, SW] and outstations == []
    with pytest.raises(UnsupportedCommand):
        await a.write(CH4, 1.0)
    await a.write(SW, 1.0)
    assert a.writes == [(SW, 1.0)]
    with pytest.raises(UnsupportedCommand, match="cannot write"):
        await Adapter.write(a, SW, 1.0)
    p = cfg.points[0]
    assert p.observation(1.5) == (CH4, 1.5, None, 0)
    assert p.observation(9.0, 5, status=1) == (CH4, 9.0, 5, 1 | 8)  # over range: bit 8 (ST-DATA-021)
    assert cfg.points[1].observation(True) == (SW, 1.0, None, 0)


def test_mapped_converters_decode_filter_and_invert() -> None:
    m = PointMapping(data_type="int16", scale=0.01, deadband=0.05, name=CH4)
    up = MappedUplink([point(CH4, writable=True, mapping=m), point(SW)])
    assert up.convert({CH4: [150]}, 1000) == [(CH4, 1.5, 1000, 0)]
    assert up.convert({CH4: [152]}, 1100) == []  # within the deadband
    assert up.convert({CH4: [900]}, 1200) == [(CH4, 9.0, 1200, 8)]  # over range
    assert up.convert({CH4: []}, 1300) == [(CH4, 0.0, 1300, 128)]  # undecodable → sensor fault
    assert up.convert({SW: [1], "unknown": [1]}, 1400) == []  # no mapping / not configured
    down = MappedDownlink()
    assert down.convert(point(CH4, writable=True, mapping=m), 2.5) == encode(m, 2.5) == [250]
    with pytest.raises(UnsupportedCommand):
        down.convert(point(CH4, mapping=m), 2.5)


def test_platform_client_is_an_uplink_sink(tmp_path: Path) -> None:
    cfg = parse_config(
        CLIENT_YAML.format(target="127.0.0.1:1", queue=tmp_path / "q.db"),
        str(tmp_path / "c.yaml"),
        require_adapter=False,
    )
    assert isinstance(PlatformClient(cfg), UplinkSink)


# --------------------------------------------------------------------------- end to end through the runner

CLIENT_YAML = """
platform: {{target: "{target}", token: secret, retry: {{base_ms: 100, cap_ms: 500}}}}
device: {{device_id: KJ70N-0001, vendor: 示例电子, model: KJ70N, firmware_version: "1.0", serial_number: SN1,
         ma_certificate: MAH230123, product_class: SAFETY_MONITORING}}
mine: {{mine_code: "140421000001", name: 示例煤矿}}
queue: {{path: "{queue}"}}
batch: {{max_points: 100, linger_ms: 50}}
"""

ADAPTER_YAML = """
adapter:
  kind: counter
  settings: {period_ms: 20}
  outstations: [{outstation_code: 140421000001F01, location: 分站}]
  points:
    - {point_code: 14042100000101MNA0010A01, location: 上隅角, outstation_code: 140421000001F01}
    - {point_code: 14042100000101KGS0010K01, location: 采煤机, on_description: 开, off_description: 停, writable: true}
"""


async def test_counter_adapter_runs_through_the_runner_into_the_mock_platform(tmp_path: Path) -> None:
    from santong.mock_platform._config import PlatformConfig
    from santong.mock_platform.embedded import MockPlatform

    registry = Registry(entry_points=())
    registry.register("counter", CounterAdapter)
    async with MockPlatform(PlatformConfig(devices={"KJ70N-0001": "secret"}), http_port=None) as mp:
        text = CLIENT_YAML.format(target=mp.grpc_target, queue=tmp_path / "q.db") + ADAPTER_YAML
        cfg = parse_config(text, str(tmp_path / "a.yaml"), registry=registry)
        stop = asyncio.Event()
        task = asyncio.create_task(
            run_adapter(cfg, registry=registry, stop=stop, install_signal_handlers=False)
        )
        insp = mp.platform.inspection

        async def batches() -> bool:
            return len(await insp.batches("KJ70N-0001")) >= 3

        await wait_for(batches, what="three batches stored")
        mp.platform.send_command("KJ70N-0001", "WRITE_POINT", point_code=SW, value=1.0)
        mp.platform.send_command("KJ70N-0001", "WRITE_POINT", point_code=CH4, value=1.0)

        async def answered() -> list[dict[str, object]]:
            cmds = await insp.commands("KJ70N-0001")
            return cmds if len(cmds) == 2 and all(c.get("outcome") for c in cmds) else []

        cmds = await wait_for(answered, what="both commands answered")
        stop.set()
        assert await asyncio.wait_for(task, 10) == 0
        outcomes = {c["command"]["write_point"]["point_code"]: c["outcome"] for c in cmds}
        assert outcomes == {SW: "COMMAND_OUTCOME_SUCCEEDED", CH4: "COMMAND_OUTCOME_UNSUPPORTED"}
        defs = await insp.definitions("KJ70N-0001")
        assert sorted((p["point_code"], p["alias"]) for p in defs["points"]) == [(SW, 2), (CH4, 1)]
        obs = await insp.observations("KJ70N-0001", point_code=CH4, limit=100_000)
        assert obs and all(not o["backfill"] for o in obs)
        seqs = await insp.acknowledged("KJ70N-0001")
        assert seqs == list(range(1, len(seqs) + 1))  # clean stop: everything delivered, in order
