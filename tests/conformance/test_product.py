"""Starting the product from its manifest: placeholders, ready line, crash and timeout → COULD NOT RUN."""

from __future__ import annotations

import sys
from collections.abc import Callable
from pathlib import Path

import pytest
from santong.conformance import ClauseFailure, CouldNotRun, ProductLauncher, load_manifest

pytestmark = pytest.mark.timeout(60)


def _launcher(
    manifest_file: Callable[..., Path], tmp_path: Path, code: str, **start: object
) -> ProductLauncher:
    m = load_manifest(
        manifest_file(
            start={
                "command": [
                    sys.executable,
                    "-c",
                    code,
                    "{grpc_target}",
                    "{token}",
                    "{device_id}",
                    "{workdir}",
                ],
                **start,
            }
        )
    )
    work = tmp_path / "work"
    work.mkdir(exist_ok=True)
    return ProductLauncher(m, work)


def test_start_with_placeholders_and_ready_line(tmp_path: Path, manifest_file: Callable[..., Path]) -> None:
    code = "import sys, time; print('booting'); print('READY', *sys.argv[1:], flush=True); time.sleep(30)"
    launcher = _launcher(manifest_file, tmp_path, code, ready_line="^READY ")
    proc = launcher.start(grpc_target="127.0.0.1:4242", token="tok")
    assert proc is not None
    try:
        assert proc.running
        assert any("READY 127.0.0.1:4242 tok KJ70N-0001" in line for line in proc.tail())
    finally:
        assert proc.stop(grace_s=2) is not None
    assert not proc.running
    assert "booting" in (tmp_path / "work" / "product-1.log").read_text(encoding="utf-8")


def test_crash_before_ready(tmp_path: Path, manifest_file: Callable[..., Path]) -> None:
    launcher = _launcher(
        manifest_file, tmp_path, "import sys; print('config missing'); sys.exit(3)", ready_line="READY"
    )
    with pytest.raises(ClauseFailure, match=r"ST-PROTO-030.*exit code 3.*config missing"):
        launcher.start()


def test_no_ready_line_in_time(tmp_path: Path, manifest_file: Callable[..., Path]) -> None:
    launcher = _launcher(
        manifest_file, tmp_path, "import time; time.sleep(30)", ready_line="READY", ready_timeout_s=0.5
    )
    with pytest.raises(ClauseFailure, match=r"ST-PROTO-030.*no ready line within 0.5 s"):
        launcher.start()


def test_command_not_found(tmp_path: Path, manifest_file: Callable[..., Path]) -> None:
    m = load_manifest(manifest_file(start={"command": ["/nonexistent/gateway"]}))
    with pytest.raises(CouldNotRun, match="cannot start the product"):
        ProductLauncher(m, tmp_path).start()


def test_external_products_are_not_started(tmp_path: Path, manifest_file: Callable[..., Path]) -> None:
    assert ProductLauncher(load_manifest(manifest_file()), tmp_path).start() is None
