"""HTTP/JSON over TLS and mutual TLS (ST-PROTO-003), certificates made at test time: the same checks as gRPC."""

from __future__ import annotations

import secrets
import ssl
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from santong.mock_platform import PlatformConfig, samples
from santong.mock_platform.embedded import BackgroundMockPlatform, TlsFiles
from santong.mock_platform.pki import Pki, forged_client, make_pki
from santong.protocols import to_dict

DEVICES = {"DEV-A": "token-a", "DEV-B": "token-b"}


@pytest.fixture(scope="module")
def pki() -> Pki:
    return make_pki(DEVICES)


def _start(pki: Pki, mutual: bool) -> BackgroundMockPlatform:
    tls = TlsFiles(pki.server_cert, pki.server_key, client_ca=pki.ca_cert if mutual else None)
    bg = BackgroundMockPlatform(
        PlatformConfig(devices=dict(DEVICES), inspection_token=secrets.token_hex(8)), tls=tls
    )
    bg.start()
    return bg


@pytest.fixture(scope="module")
def tls_platform(pki: Pki) -> Iterator[BackgroundMockPlatform]:
    bg = _start(pki, mutual=False)
    yield bg
    bg.stop()


@pytest.fixture(scope="module")
def mtls_platform(pki: Pki) -> Iterator[BackgroundMockPlatform]:
    bg = _start(pki, mutual=True)
    yield bg
    bg.stop()


def _context(pki: Pki, tmp: Path, client: tuple[bytes, bytes] | None = None) -> ssl.SSLContext:
    ctx = ssl.create_default_context(cadata=pki.ca_cert.decode("ascii"))
    if client is not None:
        cert, key = tmp / "client.pem", tmp / "client.key"
        cert.write_bytes(client[0])
        key.write_bytes(client[1])
        ctx.load_cert_chain(cert, key)
    return ctx


def _register(url: str, ctx: ssl.SSLContext, device_id: str) -> httpx.Response:
    headers = {"x-santong-device-id": device_id, "authorization": f"Bearer {DEVICES[device_id]}"}
    with httpx.Client(base_url=url, verify=ctx, timeout=10) as c:
        return c.post(
            "/v1/device/register", json=to_dict(samples.register_request(device_id)), headers=headers
        )


def test_https(tls_platform: BackgroundMockPlatform, pki: Pki, tmp_path: Path) -> None:
    """Server TLS: a client trusting the test CA gets answers; plain HTTP gets none."""
    url = tls_platform.http_url
    assert url is not None and url.startswith("https://127.0.0.1:")
    assert _register(url, _context(pki, tmp_path), "DEV-A").status_code == 200
    with httpx.Client(timeout=5) as c, pytest.raises(httpx.HTTPError):
        c.get(url.replace("https://", "http://") + "/v1/platform/info")


def test_mutual_tls_identity(mtls_platform: BackgroundMockPlatform, pki: Pki, tmp_path: Path) -> None:
    """mTLS: the certificate's CN must be x-santong-device-id (else 401 ST-PROTO-002); no or forged cert: no TLS."""
    url = mtls_platform.http_url
    assert url is not None
    assert _register(url, _context(pki, tmp_path, pki.client("DEV-A")), "DEV-A").status_code == 200
    r = _register(url, _context(pki, tmp_path, pki.client("DEV-B")), "DEV-A")
    assert r.status_code == 401
    assert {v["reason"] for d in r.json()["details"] for v in d["fieldViolations"]} == {"ST-PROTO-002"}
    for client in (None, forged_client("DEV-A")):
        with pytest.raises(httpx.HTTPError):
            _register(url, _context(pki, tmp_path, client), "DEV-A")
