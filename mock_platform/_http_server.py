"""The HTTP/JSON server of the mock platform: uvicorn with a guarded protocol (header timeout, lingering close,
client-certificate names for mutual TLS) on a socket made with ``IPPROTO_TCP`` (TCP_NODELAY), and outages that
close and reopen the listener.

Example::

    server = HttpServer(create_app(platform))   # create_app from santong.mock_platform._http
    port = await server.start()
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import math
import socket
import time
from collections.abc import Iterator
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from santong.mock_platform._service import Platform

__all__ = ["BODY_COMPLETE", "CONNECTION_MEMO", "PEER_IDENTITIES", "HttpServer", "guarded_protocol"]

log = logging.getLogger("santong.mock_platform.http")

PEER_IDENTITIES = "santong.peer_identities"  # scope["extensions"] key: CN and SANs of the client certificate
# scope["extensions"] key, present once the whole request body has arrived (uvicorn's receive() returns it at once)
BODY_COMPLETE = "santong.body_complete"
# scope["extensions"] key: a dict that lives as long as the connection (Platform.gate remembers credentials in it)
CONNECTION_MEMO = "santong.connection_memo"


# --------------------------------------------------------------------------- uvicorn: guarded protocol and server


class _LingeringTransport:
    """A transport whose ``close()`` half-closes and reads on for a moment before closing, and whose writes of one
    turn of the event loop go out together.

    A server that closes a socket with unread request bytes in it makes the kernel send RST, and the client may
    lose the answer (a 413 or 415 sent before the body was read). Like nginx's lingering close, this sends FIN
    after the answer, discards what still arrives and closes on the client's FIN, after ``linger_s`` or after
    ``linger_bytes``, whichever comes first.

    uvicorn writes a response's head and its body separately: with TCP_NODELAY that is two sends, two segments and
    two wake-ups of the client for every answer. Writes are collected and sent as one when the response is
    complete (:meth:`flush`, called by the protocol), at the latest at the end of the loop's turn.
    """

    def __init__(self, transport: asyncio.Transport, protocol: Any) -> None:
        self._t = transport
        self._p = protocol
        self.lingering = False
        self._pending: list[bytes] | None = None

    def __getattr__(self, name: str) -> Any:
        return getattr(self._t, name)

    def write(self, data: bytes) -> None:
        if self._pending is None:
            self._pending = [data]
            self._p.loop.call_soon(self.flush)
        else:
            self._pending.append(data)

    def flush(self) -> None:
        """Send what was written since the last flush."""
        pending, self._pending = self._pending, None
        if pending and not self._t.is_closing():
            self._t.write(pending[0] if len(pending) == 1 else b"".join(pending))

    def is_closing(self) -> bool:
        return self.lingering or self._t.is_closing()

    def close(self) -> None:
        self.flush()
        if self.lingering or self._t.is_closing():
            return
        self.lingering = True
        try:
            if self._t.can_write_eof():
                self._t.write_eof()
            self._t.resume_reading()
        except (OSError, RuntimeError, NotImplementedError, AttributeError):
            self._t.close()
            return
        self._p._start_linger()

    def abort(self) -> None:
        self._pending = None
        self._t.abort()


def _certificate_names(transport: asyncio.BaseTransport) -> list[str] | None:
    """CN and subjectAltName values of the verified client certificate of a TLS connection (None without one),
    the names the gRPC transport reads from its auth context (x509_common_name, x509_subject_alternative_name)."""
    ssl_object = transport.get_extra_info("ssl_object")
    cert = ssl_object.getpeercert() if ssl_object is not None else None
    if not cert:
        return None
    names = [value for rdn in cert.get("subject", ()) for key, value in rdn if key == "commonName"]
    names += [value for _kind, value in cert.get("subjectAltName", ())]
    return names


def guarded_protocol(
    header_timeout_s: float = 10.0,
    max_header_bytes: int = 64 * 1024,
    linger_s: float = 2.0,
    linger_bytes: int = 8 * 1024 * 1024,
) -> type[asyncio.Protocol]:
    """uvicorn's httptools protocol with a deadline and a size cap on every request head, and lingering close.

    uvicorn alone waits forever for the rest of a head (slow loris); this protocol closes a connection whose
    head is not complete within ``header_timeout_s`` (408) or grows past ``max_header_bytes`` (431). Closing
    after an early answer is lingering (see :class:`_LingeringTransport`), so that clients get the answer.
    """
    from uvicorn.protocols.http.httptools_impl import HttpToolsProtocol

    class GuardedHttpToolsProtocol(HttpToolsProtocol):
        def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]
            self._head_timer: asyncio.TimerHandle | None = None
            self._head_open = True
            self._head_bytes = 0
            self._lingered = 0
            super().connection_made(transport)
            self._identities = _certificate_names(transport)
            self._memo: dict[str, Any] = {}
            self._real_transport = transport
            self.transport = _LingeringTransport(transport, self)  # type: ignore[assignment]
            self._arm()

        def _arm(self) -> None:
            if self._head_timer is not None:
                self._head_timer.cancel()
            self._head_timer = self.loop.call_later(header_timeout_s, self._head_timeout)

        def _disarm(self) -> None:
            if self._head_timer is not None:
                self._head_timer.cancel()
                self._head_timer = None

        def _head_timeout(self) -> None:
            self._head_timer = None
            if self._head_open and not self.transport.is_closing():
                if self.cycle is None or self.cycle.response_complete:
                    self.transport.write(
                        b"HTTP/1.1 408 Request Timeout\r\ncontent-length: 0\r\nconnection: close\r\n\r\n"
                    )
                self.transport.close()

        def _start_linger(self) -> None:
            self._disarm()
            self._head_timer = self.loop.call_later(linger_s, self._real_transport.close)

        def data_received(self, data: bytes) -> None:
            if self.transport.lingering:  # type: ignore[attr-defined]
                self._lingered += len(data)
                if self._lingered > linger_bytes:
                    self._real_transport.close()
                return
            super().data_received(data)
            if self._head_open and not self.transport.is_closing():  # still inside a head after this chunk
                self._head_bytes += len(data)
                if self._head_bytes > max_header_bytes:
                    self._disarm()
                    self.transport.write(
                        b"HTTP/1.1 431 Request Header Fields Too Large\r\ncontent-length: 0\r\nconnection: close\r\n\r\n"
                    )
                    self.transport.close()
                elif self._head_timer is None:  # a head begun in this chunk: its deadline runs from now
                    self._arm()

        def eof_received(self) -> None:
            if self.transport.lingering:  # type: ignore[attr-defined]
                self._real_transport.close()

        def on_message_begin(self) -> None:
            super().on_message_begin()
            scope: dict[str, Any] = self.scope  # type: ignore[assignment]
            scope["extensions"] = {CONNECTION_MEMO: self._memo}
            if self._identities is not None:
                scope["extensions"][PEER_IDENTITIES] = list(self._identities)
            self._head_open = True
            self._head_bytes = 0
            # The deadline of a head runs from its first byte; armed when a chunk ends inside the head (see
            # data_received), not for every request: most heads arrive whole. The connection's first is armed.
            if self._head_timer is not None:
                self._arm()

        def on_headers_complete(self) -> None:
            self._head_open = False
            self._disarm()
            super().on_headers_complete()

        def on_message_complete(self) -> None:
            super().on_message_complete()
            if self.cycle is not None and not self.cycle.more_body:
                scope: dict[str, Any] = self.scope  # type: ignore[assignment]
                scope.setdefault("extensions", {})[BODY_COMPLETE] = {}

        def on_response_complete(self) -> None:
            self.transport.flush()  # type: ignore[attr-defined]
            super().on_response_complete()

        def connection_lost(self, exc: Exception | None) -> None:
            self._disarm()
            super().connection_lost(exc)

    return GuardedHttpToolsProtocol


class HttpServer:
    """uvicorn serving an app in the running event loop, on ``host:port`` (port 0: the OS picks).

    Example::

        server = HttpServer(create_app(platform))
        port = await server.start()
        await server.stop()
    """

    def __init__(
        self,
        app: Any,
        host: str = "127.0.0.1",
        port: int = 0,
        *,
        ssl_context: Any = None,
        header_timeout_s: float = 10.0,
        linger_s: float = 2.0,
        keep_alive_s: int = 5,
        graceful_s: float = 2.0,
    ) -> None:
        import uvicorn

        self.host = host
        self.port = port
        config = uvicorn.Config(
            app,
            http=guarded_protocol(header_timeout_s, linger_s=linger_s),
            lifespan="off",
            log_level="warning",
            access_log=False,
            timeout_keep_alive=keep_alive_s,
            timeout_graceful_shutdown=int(math.ceil(graceful_s)),
            ssl_context_factory=(lambda _config, _default: ssl_context) if ssl_context is not None else None,
        )
        self._config = config

        class _Server(uvicorn.Server):
            @contextlib.contextmanager
            def capture_signals(self) -> Iterator[None]:  # the embedding process owns its signals
                yield

        self._server = _Server(config)
        self._task: asyncio.Task[None] | None = None
        self._sock: socket.socket | None = None
        self._reopen: asyncio.TimerHandle | None = None
        self._app = app
        state = getattr(app, "state", None)
        self._platform: Platform | None = getattr(state, "platform", None) if state is not None else None

    def _bind(self) -> socket.socket:
        family = socket.AF_INET6 if ":" in self.host else socket.AF_INET
        # IPPROTO_TCP, not 0: asyncio sets TCP_NODELAY only on accepted sockets whose protocol says TCP; with Nagle
        # on, every answer waits for the client's delayed ACK (≈ 40 ms).
        sock = socket.socket(family, socket.SOCK_STREAM, socket.IPPROTO_TCP)
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.bind((self.host, self.port))
        sock.listen(1024)
        sock.setblocking(False)
        return sock

    async def start(self) -> int:
        """Bind, start serving in the background and return the bound port."""
        self._sock = self._bind()
        self.port = self._sock.getsockname()[1]
        self._task = asyncio.get_running_loop().create_task(self._server.serve(sockets=[self._sock]))
        deadline = time.monotonic() + 10
        while not self._server.started:
            if self._task.done():
                self._task.result()
                raise RuntimeError("HTTP server stopped during start-up")
            if time.monotonic() > deadline:
                raise RuntimeError("HTTP server did not start within 10 s")
            await asyncio.sleep(0.005)
        if self._platform is not None:
            self._platform.faults.add_outage_listener(self._on_outage)
        return self.port

    async def stop(self) -> None:
        """Stop accepting, let running requests finish (briefly), close connections."""
        if self._task is None:
            return
        if self._platform is not None:
            self._platform.faults.remove_outage_listener(self._on_outage)
        if self._reopen is not None:
            self._reopen.cancel()
            self._reopen = None
        stopping = getattr(getattr(self._app, "state", None), "stopping", None)
        if stopping is not None:
            stopping.set()
        self._server.should_exit = True
        with contextlib.suppress(asyncio.CancelledError):
            await self._task
        self._task = None

    def _on_outage(self, seconds: float, mode: str) -> None:
        """An injected outage: close idle connections (busy ones after their answer); in "refuse" mode also
        close the listener, so that connecting fails, and open it again on the same port after `seconds`."""
        for conn in list(self._server.server_state.connections):
            conn.shutdown()  # type: ignore[union-attr]
        if mode != "refuse" or not self._server.started:
            return
        for srv in self._server.servers:
            srv.close()
        self._server.servers = []
        if self._reopen is not None:
            self._reopen.cancel()
        self._reopen = asyncio.get_running_loop().call_later(
            seconds, lambda: asyncio.ensure_future(self._listen_again())
        )

    async def _listen_again(self) -> None:
        self._reopen = None
        if self._task is None or self._server.should_exit:
            return
        config, server = self._config, self._server
        try:
            sock = self._bind()
        except OSError:
            log.exception(
                "HTTP 监听端口 %s 无法重新打开 / cannot listen on port %s again", self.port, self.port
            )
            return

        def protocol() -> asyncio.Protocol:
            return config.http_protocol_class(
                config=config, server_state=server.server_state, app_state=server.lifespan.state
            )  # type: ignore[call-arg]

        srv = await asyncio.get_running_loop().create_server(
            protocol, sock=sock, ssl=config.ssl, backlog=config.backlog
        )
        server.servers.append(srv)

    @property
    def url(self) -> str:
        """Base URL, e.g. http://127.0.0.1:8080."""
        scheme = "https" if self._config.is_ssl else "http"
        host = f"[{self.host}]" if ":" in self.host else self.host
        return f"{scheme}://{host}:{self.port}"
