"""The client reports the digest of the software it runs at Register (DeviceIdentity.firmware_sha256, ST-PROTO-038):
configured as ``device.firmware_sha256`` or computed from ``device.firmware_file`` — against the real mock platform."""

from __future__ import annotations

import hashlib
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from santong.adapters import ConfigError, parse_config
from santong.adapters.client import PlatformClient
from santong.mock_platform._config import PlatformConfig
from santong.mock_platform.embedded import MockPlatform
from st_waiting import wait_for

DEVICE = "KJ70N-0001"

YAML = """
platform: {{transport: {transport}, {key}: "{target}", token: secret, retry: {{base_ms: 100, cap_ms: 400}}}}
device: {{device_id: {device}, vendor: 示例电子, model: KJ70N, firmware_version: "2.3.1", serial_number: SN1,
         product_class: SAFETY_MONITORING{firmware}}}
mine: {{mine_code: "140421000001", name: 示例煤矿}}
queue: {{path: "{queue}", synchronous: NORMAL}}
"""


def _config(tmp_path: Path, firmware: str, transport: str = "grpc", target: str = "127.0.0.1:1") -> object:
    text = YAML.format(
        transport=transport,
        key="target" if transport == "grpc" else "url",
        target=target,
        device=DEVICE,
        firmware=firmware,
        queue=tmp_path / "q.db",
    )
    return parse_config(text, str(tmp_path / "client.yaml"), base_dir=tmp_path, require_adapter=False)


@pytest.fixture
async def mp() -> AsyncIterator[MockPlatform]:
    async with MockPlatform(PlatformConfig(devices={DEVICE: "secret"})) as m:
        yield m


@pytest.mark.parametrize("transport", ["grpc", "http"])
async def test_register_carries_the_digest_of_the_firmware_file(
    tmp_path: Path, mp: MockPlatform, transport: str
) -> None:
    firmware = tmp_path / "kj70n-2.3.1.bin"
    firmware.write_bytes(b"\x7fELF kj70n 2.3.1" * 1000)
    target = mp.grpc_target if transport == "grpc" else mp.http_url
    cfg = _config(tmp_path, ", firmware_file: kj70n-2.3.1.bin", transport, target)
    client = PlatformClient(cfg)  # type: ignore[arg-type]
    await client.start()
    try:

        async def registered() -> dict[str, object] | None:
            rows = await mp.platform.inspection.devices()
            row = next((r for r in rows if r["device_id"] == DEVICE and r["register_request"]), None)
            return row["register_request"]["device"] if row else None

        device = await wait_for(registered, what="registration")
        assert device["firmware_sha256"] == hashlib.sha256(firmware.read_bytes()).hexdigest()
    finally:
        await client.stop()


def test_a_configured_digest_is_reported_as_given(tmp_path: Path) -> None:
    digest = hashlib.sha256(b"firmware").hexdigest()
    cfg = _config(tmp_path, f", firmware_sha256: {digest}")
    assert cfg.register_request().device.firmware_sha256 == digest  # type: ignore[attr-defined]
    # Nothing configured: nothing reported (the field stays empty, as before).
    assert _config(tmp_path, "").register_request().device.firmware_sha256 == ""  # type: ignore[attr-defined]


@pytest.mark.parametrize(
    ("firmware", "needle"),
    [
        (", firmware_sha256: ABC", "64 lower-case hex"),
        (", firmware_sha256: " + "A" * 64, "64 lower-case hex"),
        (", firmware_file: nosuch.bin", "does not exist"),
        (", firmware_file: fw.bin, firmware_sha256: " + "0" * 64, "differs from the SHA-256"),
    ],
)
def test_bad_firmware_settings_name_the_line_and_the_fix(tmp_path: Path, firmware: str, needle: str) -> None:
    (tmp_path / "fw.bin").write_bytes(b"firmware")
    with pytest.raises(ConfigError) as ei:
        _config(tmp_path, firmware)
    text = "\n".join(str(p) for p in ei.value.problems)
    assert needle in text and "device.firmware_" in text, text
