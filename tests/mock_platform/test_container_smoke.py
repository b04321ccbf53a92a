"""Smoke tests of the container path: testcontainers on the local podman engine (skip where none answers)."""

from __future__ import annotations

import urllib.request

import pytest
from containers import (
    BASE_IMAGE,
    MOCK_IMAGE,
    engine_available,
    image_available,
    start_container,
    wait_for_port,
)

_ENGINE_OK, _ENGINE_REASON = engine_available()

pytestmark = pytest.mark.skipif(not _ENGINE_OK, reason=_ENGINE_REASON)

_SERVER = (
    "import http.server as h; print('serving', flush=True); h.test(h.SimpleHTTPRequestHandler, port=8000)"
)


def test_published_port_answers_from_host() -> None:
    """A container's published port answers on the mapped host port (what the mock platform relies on)."""
    ok, reason = image_available(BASE_IMAGE)
    if not ok:
        pytest.skip(reason)
    command = ["python3", "-c", _SERVER]
    with start_container(
        BASE_IMAGE, ports=[8000], command=command, wait_for_log="serving", stop_signal="SIGINT"
    ) as c:
        wait_for_port(c.host, c.ports[8000])
        with urllib.request.urlopen(f"http://{c.host}:{c.ports[8000]}/", timeout=5) as response:
            assert response.status == 200


def test_mock_image_imports_santong_and_grpc() -> None:
    """The mock platform image has santong and grpc installed in its venv."""
    ok, reason = image_available(MOCK_IMAGE)
    if not ok:
        pytest.skip(reason)
    probe = "import santong, grpc; print('ok', grpc.__version__)"
    with start_container(MOCK_IMAGE, entrypoint=["/opt/santong/bin/python", "-c", probe]) as c:
        assert c.wait() == 0, c.logs()
        assert c.logs().startswith("ok "), c.logs()
