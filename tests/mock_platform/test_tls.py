"""TLS and mutual TLS (ST-PROTO-003) with certificates made at test time."""

from __future__ import annotations

import secrets
from collections.abc import Iterator

import grpc
import pytest
from mpclient import Target, clauses_of
from santong.mock_platform import PlatformConfig
from santong.mock_platform.embedded import BackgroundMockPlatform, TlsFiles
from santong.mock_platform.pki import Pki, forged_client, make_pki
from santong.protocols.v1 import device_access_pb2 as pb


@pytest.fixture(scope="module")
def pki() -> Pki:
    return make_pki(["DEV-A", "DEV-B"])


def _start(pki: Pki, mutual: bool) -> BackgroundMockPlatform:
    tls = TlsFiles(pki.server_cert, pki.server_key, client_ca=pki.ca_cert if mutual else None)
    config = PlatformConfig(
        devices={"DEV-A": "token-a", "DEV-B": "token-b"}, inspection_token=secrets.token_hex(8)
    )
    bg = BackgroundMockPlatform(config, http_port=None, tls=tls)
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


def _heartbeat(
    target: str, creds: grpc.ChannelCredentials, device_id: str, token: str
) -> pb.HeartbeatResponse:
    from santong.mock_platform import samples
    from santong.protocols.v1 import device_access_pb2_grpc as pbg

    md = (("x-santong-device-id", device_id), ("authorization", f"Bearer {token}"))
    with grpc.secure_channel(target, creds) as ch:
        stub = pbg.DeviceAccessServiceStub(ch)
        stub.Register(samples.register_request(device_id), metadata=md, timeout=5)
        return stub.Heartbeat(pb.HeartbeatRequest(), metadata=md, timeout=5)  # type: ignore[no-any-return]


def test_tls_server(tls_platform: BackgroundMockPlatform, pki: Pki) -> None:
    """Server-side TLS: a client trusting the test CA talks; a plaintext client cannot."""
    assert _heartbeat(
        tls_platform.grpc_target, grpc.ssl_channel_credentials(pki.ca_cert), "DEV-A", "token-a"
    ).server_time.seconds
    with grpc.insecure_channel(tls_platform.grpc_target) as ch:
        with pytest.raises(grpc.RpcError) as info:
            ch.unary_unary("/santong.protocols.v1.PlatformService/GetPlatformInfo")(b"", timeout=2)
        assert info.value.code() == grpc.StatusCode.UNAVAILABLE


def test_tls_untrusted_server_certificate(tls_platform: BackgroundMockPlatform) -> None:
    other = make_pki()
    with pytest.raises(grpc.RpcError) as info:
        _heartbeat(tls_platform.grpc_target, grpc.ssl_channel_credentials(other.ca_cert), "DEV-A", "token-a")
    assert info.value.code() == grpc.StatusCode.UNAVAILABLE


def test_mtls_client_certificate_names_the_device(mtls_platform: BackgroundMockPlatform, pki: Pki) -> None:
    """Mutual TLS: the client certificate's CN must be the device id; token and id still checked."""
    cert, key = pki.client("DEV-A")
    creds = grpc.ssl_channel_credentials(pki.ca_cert, private_key=key, certificate_chain=cert)
    assert _heartbeat(mtls_platform.grpc_target, creds, "DEV-A", "token-a").server_time.seconds
    # DEV-A's certificate with DEV-B's (valid) id and token: forged identity.
    with pytest.raises(grpc.RpcError) as info:
        _heartbeat(mtls_platform.grpc_target, creds, "DEV-B", "token-b")
    assert info.value.code() == grpc.StatusCode.UNAUTHENTICATED and clauses_of(info.value) == {"ST-PROTO-002"}


@pytest.mark.parametrize("cert_kind", ["none", "forged"])
def test_mtls_without_a_ca_signed_certificate(
    mtls_platform: BackgroundMockPlatform, pki: Pki, cert_kind: str
) -> None:
    """No client certificate, or a self-signed one claiming the device's CN: the handshake fails."""
    if cert_kind == "none":
        creds = grpc.ssl_channel_credentials(pki.ca_cert)
    else:
        cert, key = forged_client("DEV-A")
        creds = grpc.ssl_channel_credentials(pki.ca_cert, private_key=key, certificate_chain=cert)
    with pytest.raises(grpc.RpcError) as info:
        _heartbeat(mtls_platform.grpc_target, creds, "DEV-A", "token-a")
    assert info.value.code() == grpc.StatusCode.UNAVAILABLE


def test_tls_process(tmp_path, pki: Pki) -> None:  # type: ignore[no-untyped-def]
    """`santong mock serve --tls-cert --tls-key --client-ca` serves mutual TLS."""
    from mp_fixtures import serve_args, start_process, stop_process

    files = pki.write(tmp_path)
    args = serve_args(None, "--tls-cert", str(files["server_cert"]), "--tls-key", str(files["server_key"]),
                      "--client-ca", str(files["ca"]), "--device", "DEV-A:token-a")  # fmt: skip
    proc, info = start_process(args)
    try:
        cert, key = pki.client("DEV-A")
        creds = grpc.ssl_channel_credentials(pki.ca_cert, private_key=key, certificate_chain=cert)
        t = Target("process", f"127.0.0.1:{info['grpc_port']}", info["inspection_token"], credentials=creds)
        try:
            assert t.inspect("counts")["devices"] == 1
            assert _heartbeat(t.grpc_target, creds, "DEV-A", "token-a").server_time.seconds
        finally:
            t.close()
    finally:
        assert stop_process(proc) == 0
