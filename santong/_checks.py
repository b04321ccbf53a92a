"""Checks shared by the commands that serve or read: bind an address, before a server library fails with a traceback."""

from __future__ import annotations

import argparse
import socket
from collections.abc import Callable

from santong._exit import CommandError

__all__ = ["check_bind", "check_connect", "int_range", "port"]


def check_bind(host: str, port: int, what: str, option: str) -> None:
    """Bind ``host:port`` once (no SO_REUSEPORT): an address in use or not ours becomes one clear line (CommandError).

    ``what`` names the server (``"gRPC"``), ``option`` the option that sets the port (``"--grpc-port"``).
    Example::

        check_bind(args.host, args.port, "Modbus", "--port")
    """
    try:
        infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM, flags=socket.AI_PASSIVE)
    except OSError as e:
        raise CommandError(
            f"无法解析监听地址 {host}（--host）：{e.strerror or e}",
            f"cannot resolve the address {host} (--host): {e.strerror or e}",
        ) from e
    family, kind, proto, _, addr = infos[0]
    with socket.socket(family, kind, proto) as sock:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            sock.bind(addr)
        except OSError as e:
            raise CommandError(
                f"无法监听 {host}:{port}（{what}）：{e.strerror or e}；请换一个端口（{option} 0 由系统分配）或地址",
                f"cannot listen on {host}:{port} ({what}): {e.strerror or e}; choose another port "
                f"({option} 0 lets the OS pick) or address",
            ) from e


def check_connect(host: str, port: int, what: str, option: str, timeout_s: float = 3.0) -> None:
    """Open (and close) a TCP connection to ``host:port``: nothing listening becomes one clear line (CommandError).

    Example::

        check_connect("127.0.0.1", 1883, "MQTT broker", "--broker")
    """
    try:
        with socket.create_connection((host, port), timeout_s):
            pass
    except OSError as e:
        reason = e.strerror or str(e) or type(e).__name__
        raise CommandError(
            f"无法连接 {what} {host}:{port}（{option}）：{reason}；请确认它已启动、地址与端口正确",
            f"cannot connect to the {what} {host}:{port} ({option}): {reason}; check that it runs and the "
            "address and port are right",
        ) from e


def int_range(lo: int, hi: int | None = None) -> Callable[[str], int]:
    """An argparse ``type``: an integer in ``[lo, hi]`` (bilingual message otherwise).

    Example::

        p.add_argument("--unit-id", type=int_range(0, 247))
    """

    def parse(text: str) -> int:
        try:
            value = int(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"应为整数 / expected an integer, got {text!r}") from None
        if value < lo or (hi is not None and value > hi):
            zh = f"应在 {lo} 到 {hi} 之间" if hi is not None else f"应 ≥ {lo}"
            en = f"must be from {lo} to {hi}" if hi is not None else f"must be >= {lo}"
            raise argparse.ArgumentTypeError(f"{zh} / {en}, got {value}")
        return value

    parse.__name__ = "int"
    return parse


#: An argparse ``type`` for a TCP port: 0 (the OS picks) to 65535.
port = int_range(0, 65535)
