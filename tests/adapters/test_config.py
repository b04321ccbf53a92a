"""Adapter configuration from YAML: typed, validated, every error with file, line and fix (中文 / English)."""

from __future__ import annotations

import asyncio
import dataclasses
from pathlib import Path

import pytest
from santong.adapters import (
    Adapter,
    ConfigError,
    NoSettings,
    Registry,
    UplinkSink,
    load_config,
    parse_config,
)
from santong.protocols.v1 import common_pb2


@dataclasses.dataclass(frozen=True)
class FakeSettings:
    host: str
    port: int = 502
    period_ms: int = 1000


@dataclasses.dataclass(frozen=True)
class FakeSource:
    address: int
    unit: int = 1


class FakeAdapter(Adapter[FakeSettings]):
    kind = "fake"
    config_type = FakeSettings
    point_type = FakeSource

    async def start(self, sink: UplinkSink) -> None:
        await asyncio.sleep(0)

    async def stop(self) -> None:
        await asyncio.sleep(0)


class BareAdapter(Adapter[NoSettings]):
    kind = "bare"

    async def start(self, sink: UplinkSink) -> None: ...

    async def stop(self) -> None: ...


@pytest.fixture
def registry() -> Registry:
    r = Registry(entry_points=())
    r.register("fake", FakeAdapter)
    r.register("bare", BareAdapter)
    return r


GOOD = """\
platform:
  transport: grpc
  target: 127.0.0.1:50051
  token: secret
device:
  device_id: KJ70N-0001
  vendor: 示例电子
  model: KJ70N-F16
  firmware_version: 2.3.1
  serial_number: SN20250001
  ma_certificate: MAH230123
  product_class: SAFETY_MONITORING
mine:
  mine_code: 140421000001
  name: 示例煤矿
queue:
  path: q/queue.db
batch: {max_points: 500, linger_ms: 200}
adapter:
  kind: fake
  settings:
    host: 10.0.0.5
  outstations:
    - {outstation_code: 140421000001F01, location: 回风巷分站}
  points:
    - point_code: 14042100000101MNA0010A01
      location: 15101 上隅角 T0
      outstation_code: 140421000001F01
      data_type: float32
      word_order: little
      deadband: 0.01
      source: {address: 0}
    - point_code: 14042100000101KGS0010K01
      location: 采煤机
      on_description: 开
      off_description: 停
      data_type: bool
      bit: 3
      writable: true
      source: {address: 10, unit: 2}
"""


def parse(text: str, registry: Registry, tmp_path: Path, name: str = "kj70n.yaml") -> object:
    f = tmp_path / name
    f.write_text(text, encoding="utf-8")
    return load_config(f, registry=registry)


def problems(text: str, registry: Registry, tmp_path: Path) -> list:
    with pytest.raises(ConfigError) as ei:
        parse(text, registry, tmp_path)
    return ei.value.problems


def test_good_config_is_typed_with_defaults_from_code_and_dictionary(
    registry: Registry, tmp_path: Path
) -> None:
    c = parse(GOOD, registry, tmp_path)
    assert c.platform.transport == "grpc" and c.platform.bearer_token() == "secret"
    assert c.mine.mine_code == "140421000001"  # a plain YAML number keeps its text
    assert c.queue.path == tmp_path / "q" / "queue.db"  # relative to the file
    assert c.batch.max_points == 500 and c.heartbeat.interval_ms is None
    a = c.adapter
    assert a.kind == "fake" and a.settings == FakeSettings(host="10.0.0.5")
    ch4, sw = a.points
    d = ch4.definition
    assert (d.sensor_type, d.system_code, d.unit, d.value_kind) == (
        "A001",
        "01",
        "%CH4",
        common_pb2.VALUE_KIND_ANALOG,
    )
    assert (d.range_low, d.range_high) == (0.0, 4.0)
    assert d.alarm_high == 1.0 and d.power_off_high == 1.5  # dictionary thresholds when none are given
    assert (
        ch4.mapping.data_type == "float32"
        and ch4.mapping.word_order == "little"
        and ch4.mapping.name == d.point_code
    )
    assert ch4.source == FakeSource(address=0)
    assert (
        sw.is_switch and sw.writable and sw.source == FakeSource(address=10, unit=2) and sw.mapping.bit == 3
    )
    assert (sw.definition.range_low, sw.definition.range_high) == (0.0, 1.0)
    assert a.outstations[0].outstation_code == "140421000001F01"
    assert c.register_request().device.product_class == common_pb2.PRODUCT_CLASS_SAFETY_MONITORING
    assert not c.warnings


def _line_of(text: str, needle: str) -> int:
    for i, line in enumerate(text.splitlines(), 1):
        if needle in line:
            return i
    raise AssertionError(needle)


@pytest.mark.parametrize(
    ("old", "new", "path", "needle", "words"),
    [
        ("  transport: grpc", "  transport: grcp", "platform.transport", "transport: grcp", ["grpc"]),
        ("  target: 127.0.0.1:50051", "  targt: 127.0.0.1:50051", "platform.targt", "targt:", ["target"]),
        (
            "batch: {max_points: 500, linger_ms: 200}",
            "batch: {max_points: many, linger_ms: 200}",
            "batch.max_points",
            "max_points: many",
            ["1000"],
        ),
        (
            "      word_order: little",
            "      word_order: middle",
            "adapter.points[0].word_order",
            "word_order: middle",
            ["big"],
        ),
        ("      bit: 3", "      bit: 30", "adapter.points[1].bit", "bit: 30", ["bit"]),
        (
            "      source: {address: 0}",
            "      source: {adress: 0}",
            "adapter.points[0].source.adress",
            "adress",
            ["address"],
        ),
        (
            "    host: 10.0.0.5",
            "    host: 10.0.0.5\n    port: fifty",
            "adapter.settings.port",
            "port: fifty",
            ["502", "1000"],
        ),
        ("  model: KJ70N-F16\n", "", "device.model", "device:", ["model"]),
    ],
)
def test_error_names_file_line_and_fix(
    registry: Registry, tmp_path: Path, old: str, new: str, path: str, needle: str, words: list[str]
) -> None:
    text = GOOD.replace(old, new)
    assert text != GOOD
    ps = problems(text, registry, tmp_path)
    p = next(p for p in ps if p.path == path)
    assert p.file.endswith("kj70n.yaml")
    assert p.line == _line_of(text, needle)
    assert p.message_zh and p.message_en and (p.fix_zh or p.fix_en)
    rendered = str(p)
    assert f"kj70n.yaml:{p.line}:" in rendered and "修改" in rendered and "fix" in rendered
    if words:
        assert any(w in p.fix_en or w in p.message_en for w in words), rendered


def test_core_violations_map_back_to_the_offending_line(registry: Registry, tmp_path: Path) -> None:
    text = GOOD.replace("      deadband: 0.01\n", '      deadband: 0.01\n      unit: "%"\n')
    ps = problems(text, registry, tmp_path)
    p = next(p for p in ps if p.clause_id == "ST-DATA-011")
    assert p.path == "adapter.points[0].unit" and p.line == _line_of(text, 'unit: "%"')
    # thresholds out of order name the thresholds key
    text = GOOD.replace(
        "      deadband: 0.01\n",
        "      deadband: 0.01\n      thresholds: {alarm_high: 1.0, alarm_high_clear: 1.2, power_off_high: 1.5}\n",
    )
    ps = problems(text, registry, tmp_path)
    p = next(p for p in ps if p.clause_id == "ST-DATA-014")
    assert p.path.startswith("adapter.points[0].thresholds") and p.line == _line_of(text, "thresholds:")
    # a point code of another mine
    text = GOOD.replace("- point_code: 14042100000101MNA0010A01", "- point_code: 14042100000201MNA0010A01")
    ps = problems(text, registry, tmp_path)
    p = next(p for p in ps if p.clause_id == "ST-DATA-003")
    assert p.line == _line_of(text, "14042100000201MNA0010A01")


def test_duplicates_yaml_errors_and_identity(registry: Registry, tmp_path: Path) -> None:
    text = GOOD.replace(
        "      source: {address: 10, unit: 2}", "      source: {address: 10, unit: 2}\n      alias: 7"
    ).replace("      source: {address: 0}", "      source: {address: 0}\n      alias: 7")
    ps = problems(text, registry, tmp_path)
    p = next(p for p in ps if p.clause_id == "ST-DATA-017")
    assert p.path == "adapter.points[1].alias" and p.line == len(text.splitlines())
    text = GOOD.replace("  name: 示例煤矿", "  name: 示例煤矿\n  name: again")
    assert any(
        "duplicate key" in p.message_en and p.line == _line_of(text, "name: again")
        for p in problems(text, registry, tmp_path)
    )
    text = GOOD.replace("  token: secret", "  token: [unclosed")
    (p,) = problems(text, registry, tmp_path)
    assert "YAML" in p.message_en and p.line >= _line_of(text, "[unclosed")
    text = GOOD.replace("  serial_number: SN20250001", '  serial_number: ""')
    p = next(p for p in problems(text, registry, tmp_path) if p.clause_id == "ST-DATA-028")
    assert p.path == "device.serial_number" and p.line == _line_of(text, 'serial_number: ""')


def test_platform_and_adapter_section_checks(registry: Registry, tmp_path: Path) -> None:
    text = GOOD.replace("  token: secret", "  token_file: missing.txt")
    p = next(p for p in problems(text, registry, tmp_path) if p.path == "platform.token_file")
    assert p.line == _line_of(text, "token_file") and "missing.txt" in p.message_en
    text = GOOD.replace("  token: secret", "  token: secret\n  token_env: TOKEN")
    assert any(p.path == "platform.token" for p in problems(text, registry, tmp_path))
    text = GOOD.replace("  target: 127.0.0.1:50051\n", "  retry: {base_ms: 50}\n")
    ps = problems(text, registry, tmp_path)
    assert {p.path for p in ps} >= {"platform.target", "platform.retry.base_ms"}
    assert next(p for p in ps if p.path == "platform.retry.base_ms").clause_id == "ST-PROTO-017"
    text = GOOD.replace("  kind: fake", "  kind: fak")
    p = next(p for p in problems(text, registry, tmp_path) if p.path == "adapter.kind")
    assert p.line == _line_of(text, "kind: fak") and "fake" in p.message_en
    text = GOOD.replace("  kind: fake", "  kind: bare")  # bare has no settings and no point_type
    p = next(p for p in problems(text, registry, tmp_path) if p.path == "adapter.settings.host")
    assert "unknown key host" in p.message_en


def test_should_violations_are_warnings_and_client_only_config(registry: Registry, tmp_path: Path) -> None:
    text = GOOD.replace("  ma_certificate: MAH230123\n", "")
    c = parse(text, registry, tmp_path)
    assert [w.clause_id for w in c.warnings] == ["ST-DATA-029"]
    client_only = GOOD.split("adapter:")[0]
    c = parse_config(client_only, str(tmp_path / "c.yaml"), require_adapter=False, registry=registry)
    assert c.adapter is None
    with pytest.raises(ConfigError) as ei:
        parse_config(client_only, str(tmp_path / "c.yaml"), registry=registry)
    assert ei.value.problems[0].path == "adapter"


def test_cli_check_reports_file_and_line(tmp_path: Path) -> None:
    import subprocess
    import sys

    f = tmp_path / "bad.yaml"
    f.write_text(GOOD.replace("  kind: fake", "  kind: no-such-kind"), encoding="utf-8")
    r = subprocess.run(
        [sys.executable, "-m", "santong", "adapter", "check", str(f)],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert r.returncode == 2
    assert f"bad.yaml:{_line_of(GOOD, 'kind: fake')}:" in r.stderr and "no-such-kind" in r.stderr
