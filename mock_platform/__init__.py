"""santong.mock_platform — a strict reference implementation of the platform side of the 三统一 interface.

Embedded::

    from santong.mock_platform import MockPlatform, PlatformConfig

    async with MockPlatform(PlatformConfig(devices={"KJ70N-0001": "secret"})) as mp:
        channel = grpc.aio.insecure_channel(mp.grpc_target)
        ...
        stored = await mp.platform.inspection.observations(device_id="KJ70N-0001")

As a process: ``santong mock serve --grpc-port 0 --http-port 0 [--db FILE]``.
"""

from santong.mock_platform._config import PlatformConfig
from santong.mock_platform._errors import PlatformError
from santong.mock_platform._faults import FaultInjector
from santong.mock_platform._inspection import Inspection
from santong.mock_platform._service import Platform

__all__ = ["FaultInjector", "Inspection", "MockPlatform", "Platform", "PlatformConfig", "PlatformError"]


def __getattr__(name: str) -> object:
    if name == "MockPlatform":  # grpc servers load only when asked for
        from santong.mock_platform.embedded import MockPlatform

        return MockPlatform
    raise AttributeError(name)
