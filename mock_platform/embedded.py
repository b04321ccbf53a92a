"""The mock platform embedded in the running event loop: gRPC (and HTTP/JSON when available) on ports the OS picks.

Example::

    async with MockPlatform(PlatformConfig(devices={"KJ70N-0001": "secret"})) as mp:
        async with grpc.aio.insecure_channel(mp.grpc_target) as channel:
            ...
        print(await mp.platform.inspection.counts())
"""

from __future__ import annotations

import logging
import ssl
from types import TracebackType
from typing import Any

from santong.mock_platform._config import PlatformConfig
from santong.mock_platform._grpc import GrpcServer, TlsFiles
from santong.mock_platform._service import Platform

__all__ = ["BackgroundMockPlatform", "MockPlatform", "TlsFiles"]

log = logging.getLogger("santong.mock_platform")


class MockPlatform:
    """Platform + gRPC server (+ HTTP server) as one async context manager.

    ``grpc_port``/``http_port`` 0 let the OS pick; ``http_port=None`` serves no HTTP. With ``tls`` both servers
    use TLS (mutual TLS when ``tls.client_ca`` is set).
    """

    def __init__(
        self,
        config: PlatformConfig | None = None,
        *,
        host: str = "127.0.0.1",
        grpc_port: int = 0,
        http_port: int | None = 0,
        tls: TlsFiles | None = None,
    ) -> None:
        self.config = config or PlatformConfig()
        self.platform = Platform(self.config)
        self.host = host
        self.tls = tls
        self.grpc = GrpcServer(self.platform, host=host, port=grpc_port, tls=tls)
        self._http_port = http_port
        self.http: Any = None

    @property
    def grpc_target(self) -> str:
        """host:port of the gRPC server."""
        return self.grpc.target

    @property
    def grpc_port(self) -> int:
        """The bound gRPC port."""
        return self.grpc.port

    @property
    def http_port(self) -> int | None:
        """The bound HTTP port (None without HTTP)."""
        return self.http.port if self.http is not None else None

    @property
    def http_url(self) -> str | None:
        """Base URL of the HTTP/JSON API (None without HTTP)."""
        return self.http.url if self.http is not None else None

    @property
    def inspection_token(self) -> str:
        """Token of the inspection and fault APIs (x-santong-inspection-token)."""
        return self.config.inspection_token

    def add_device(self, device_id: str, token: str) -> None:
        """Give a device credentials."""
        self.platform.add_device(device_id, token)

    def _ssl_context(self) -> ssl.SSLContext | None:
        if self.tls is None:
            return None
        import os
        import tempfile

        ctx = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
        with tempfile.TemporaryDirectory() as d:
            cert, key = os.path.join(d, "cert.pem"), os.path.join(d, "key.pem")
            with open(cert, "wb") as f:
                f.write(self.tls.cert_chain)
            with open(key, "wb") as f:
                f.write(self.tls.private_key)
            ctx.load_cert_chain(cert, key)
        if self.tls.client_ca is not None:
            ctx.load_verify_locations(cadata=self.tls.client_ca.decode("ascii"))
            ctx.verify_mode = ssl.CERT_REQUIRED
        return ctx

    async def start(self) -> None:
        """Start the platform and its servers."""
        await self.platform.start()
        try:
            await self.grpc.start()
            if self._http_port is not None:
                try:
                    from santong.mock_platform._http import HttpServer, create_app
                except ImportError as e:  # the HTTP transport is optional
                    log.warning("HTTP/JSON 未启用 / HTTP/JSON not served: %s", e)
                else:
                    self.http = HttpServer(
                        create_app(self.platform),
                        host=self.host,
                        port=self._http_port,
                        ssl_context=self._ssl_context(),
                    )
                    await self.http.start()
        except BaseException:
            await self.stop()
            raise

    async def stop(self, grace: float = 1.0) -> None:
        """Stop the servers (in-flight calls get `grace` seconds), then the platform (queued writes commit)."""
        if self.http is not None:
            await self.http.stop()
        await self.grpc.stop(grace)
        await self.platform.close()

    async def __aenter__(self) -> MockPlatform:
        await self.start()
        return self

    async def __aexit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        await self.stop()


class BackgroundMockPlatform:
    """A :class:`MockPlatform` on its own event loop in a background thread, for synchronous code (pytest
    plugins, sync gRPC clients). ``run(coro)`` runs a coroutine on the platform's loop.

    Example::

        with BackgroundMockPlatform(PlatformConfig(devices={"D1": "t"})) as bg:
            channel = grpc.insecure_channel(bg.grpc_target)
            counts = bg.run(bg.platform.inspection.counts())
    """

    def __init__(self, config: PlatformConfig | None = None, **kwargs: Any) -> None:
        self._config = config
        self._kwargs = kwargs
        self._loop: Any = None
        self._thread: Any = None
        self.mock: MockPlatform | None = None

    def start(self, timeout: float = 30.0) -> None:
        """Start the loop thread and the platform in it."""
        import asyncio
        import threading

        ready = threading.Event()
        self._loop = asyncio.new_event_loop()

        def main() -> None:
            asyncio.set_event_loop(self._loop)
            self._loop.call_soon(ready.set)
            self._loop.run_forever()

        self._thread = threading.Thread(target=main, name="santong-mock-loop", daemon=True)
        self._thread.start()
        ready.wait(timeout)

        async def make() -> MockPlatform:
            mp = MockPlatform(self._config, **self._kwargs)
            await mp.start()
            return mp

        self.mock = self.run(make(), timeout)

    def run(self, coro: Any, timeout: float | None = 60.0) -> Any:
        """Run a coroutine on the platform's loop and return its result."""
        import asyncio

        return asyncio.run_coroutine_threadsafe(coro, self._loop).result(timeout)

    def stop(self, timeout: float = 30.0) -> None:
        """Stop the platform, the loop and the thread."""
        if self._loop is None:
            return
        if self.mock is not None:
            self.run(self.mock.stop(), timeout)
            self.mock = None
        self.run(_cancel_all(), timeout)
        self._loop.call_soon_threadsafe(self._loop.stop)
        self._thread.join(timeout)
        self._loop.close()
        self._loop = None

    @property
    def platform(self) -> Platform:
        """The running platform."""
        assert self.mock is not None
        return self.mock.platform

    @property
    def grpc_target(self) -> str:
        """host:port of the gRPC server."""
        assert self.mock is not None
        return self.mock.grpc_target

    @property
    def http_url(self) -> str | None:
        """Base URL of the HTTP server, if any."""
        assert self.mock is not None
        return self.mock.http_url

    @property
    def inspection_token(self) -> str:
        """Token of the inspection and fault APIs."""
        assert self.mock is not None
        return self.mock.inspection_token

    def add_device(self, device_id: str, token: str) -> None:
        """Give a device credentials (thread-safe)."""
        assert self.mock is not None
        self._loop.call_soon_threadsafe(self.mock.add_device, device_id, token)

    def __enter__(self) -> BackgroundMockPlatform:
        self.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()


async def _cancel_all() -> None:
    """Cancel every other task of the loop and wait for them (as asyncio.run does at its end)."""
    import asyncio

    me = asyncio.current_task()
    tasks = [t for t in asyncio.all_tasks() if t is not me]
    for t in tasks:
        t.cancel()
    await asyncio.gather(*tasks, return_exceptions=True)
