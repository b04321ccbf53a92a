"""``santong mock serve``: the mock platform as a process.

Prints one JSON line ``{"grpc_port", "http_port", "inspection_token", "pid"}`` once both servers listen, and
exits with 0 after draining on SIGTERM or SIGINT. Exits with 2 and one bilingual line (santong._exit) when it
cannot start: an address it cannot bind, a TLS file that is missing or not a matching PEM certificate and key, a
database it cannot open, a fault plan that is missing or invalid.

Device credentials come from ``--device ID:TOKEN`` (visible to every local user in /proc), or better from
``--devices-file FILE`` (one ``ID:TOKEN`` a line, ``#`` comments) or the environment variable
``SANTONG_MOCK_DEVICES`` (``ID:TOKEN`` pairs separated by commas or white space). A bind to anything but a
loopback address without TLS is refused unless ``--insecure`` is given: inspection, faults (reset included) and
tokens would cross the network in plain text.

Example::

    santong mock serve --grpc-port 0 --http-port 0 --db mock.db --devices-file devices.txt
"""

from __future__ import annotations

import argparse
import contextlib
import sys
from pathlib import Path
from typing import Any

from santong._checks import check_bind, int_range, port
from santong._exit import CommandError

__all__ = ["add_arguments", "run"]

DEVICES_ENV = "SANTONG_MOCK_DEVICES"
PLAN_FORMAT = '{"steps": [{"at_s": 1.0, "op": "fail_next", "args": {…}}]}'


def _device(text: str) -> tuple[str, str]:
    device_id, sep, token = text.partition(":")
    if not sep or not device_id or not token:
        raise argparse.ArgumentTypeError(f"需要 ID:TOKEN / expected ID:TOKEN, got {text!r}")
    return device_id, token


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """Arguments of ``santong mock``."""
    sub = parser.add_subparsers(dest="mock_command", required=True, metavar="ACTION")
    p = sub.add_parser(
        "serve",
        help="运行模拟平台 / run the mock platform",
        description="运行模拟平台 / run the mock platform",
    )
    p.add_argument("--host", default="127.0.0.1", help="监听地址 / address to listen on (default 127.0.0.1)")
    p.add_argument(
        "--grpc-port", type=port, default=50051, help="gRPC 端口，0 由系统分配 / gRPC port, 0: the OS picks"
    )
    p.add_argument(
        "--http-port",
        type=int_range(-1, 65535),
        default=8080,
        help="HTTP 端口，0 由系统分配，-1 不启用 / HTTP port, 0: the OS picks, -1: no HTTP",
    )
    p.add_argument("--db", default=None, help="SQLite 文件（默认内存）/ SQLite file (default: in memory)")
    p.add_argument("--sync", choices=("normal", "full"), default="normal",
                   help="SQLite synchronous：normal 进程崩溃不丢，full 断电也不丢 / normal survives crashes, full also power loss")  # fmt: skip
    p.add_argument(
        "--device",
        type=_device,
        action="append",
        default=[],
        metavar="ID:TOKEN",
        help="设备凭据，可重复 / device credentials (repeatable)",
    )
    p.add_argument(
        "--enrolment",
        type=_enrolment,
        action="append",
        default=[],
        metavar="PREFIX:KEY",
        help="测试设备组注册（可重复）：ID 以 PREFIX 开头的新设备用令牌 HMAC-SHA256(KEY, ID) 认证后自动加入 / group enrolment "
        "of test devices (repeatable): a new device whose ID starts with PREFIX authenticates with the token "
        "HMAC-SHA256(KEY, ID) (hex) and is added",
    )
    p.add_argument(
        "--devices-file",
        default=None,
        metavar="FILE",
        help=f"设备凭据文件，每行 ID:TOKEN（或环境变量 {DEVICES_ENV}）/ device credentials file, one ID:TOKEN a line "
        f"(or the environment variable {DEVICES_ENV})",
    )
    p.add_argument(
        "--insecure",
        action="store_true",
        help="允许不加 TLS 监听非回环地址（明文，仅限隔离网络）/ allow a non-loopback bind without TLS (plain text)",
    )
    p.add_argument(
        "--inspection-token",
        default=None,
        help="检查接口令牌（默认随机，或 SANTONG_INSPECTION_TOKEN）/ inspection token",
    )
    p.add_argument("--tls-cert", default=None, help="服务器证书链 PEM / server certificate chain (PEM)")
    p.add_argument("--tls-key", default=None, help="服务器私钥 PEM / server private key (PEM)")
    p.add_argument(
        "--client-ca", default=None, help="客户端 CA（启用双向 TLS）/ client CA, enables mutual TLS"
    )
    p.add_argument(
        "--heartbeat-interval-ms",
        type=int_range(1, 2**32 - 1),
        default=None,
        help="心跳间隔 / Limits.heartbeat_interval_ms",
    )
    p.add_argument(
        "--offline-after-missed",
        type=int_range(1, 2**32 - 1),
        default=None,
        help="离线前允许错过的心跳数 / Limits.offline_after_missed",
    )
    p.add_argument(
        "--max-uploads-per-second",
        type=int_range(0, 2**32 - 1),
        default=None,
        help="每设备上传速率上限，0 不限 / Limits.max_uploads_per_second, 0: none",
    )
    p.add_argument(
        "--max-message-bytes",
        type=int_range(1, 2**32 - 1),
        default=None,
        help="消息大小上限 / Limits.max_message_bytes",
    )
    p.add_argument(
        "--fault-plan", default=None, help="启动即执行的故障计划 JSON / fault plan (JSON) run at start"
    )
    p.add_argument(
        "--log-level",
        default="WARNING",
        type=str.upper,
        choices=("DEBUG", "INFO", "WARNING", "ERROR", "CRITICAL"),
        help="日志级别 / log level",
    )


def run(args: argparse.Namespace) -> int:
    """Run the subcommand: 0 after a clean stop, 2 when the platform cannot start (CommandError)."""
    if args.mock_command == "serve":
        return event_loop_runner()(_serve(args))
    return 2


def event_loop_runner() -> Any:
    """How ``santong mock serve`` runs its event loop: ``uvloop.run`` (libuv: cheaper I/O for HTTP and gRPC
    alike), or ``asyncio.run`` where uvloop is not installed (Windows). The HTTP benchmark's baseline uses the
    same loop."""
    try:
        import uvloop
    except ImportError:  # pragma: no cover - uvloop is a dependency except on Windows
        import asyncio

        return asyncio.run
    return uvloop.run


def _config(args: argparse.Namespace) -> Any:
    import os

    from santong.mock_platform._config import PlatformConfig
    from santong.protocols import default_limits

    limits = default_limits()
    for name in (
        "heartbeat_interval_ms",
        "offline_after_missed",
        "max_uploads_per_second",
        "max_message_bytes",
    ):
        value = getattr(args, name)
        if value is not None:
            setattr(limits, name, value)
    config = PlatformConfig(
        db_path=args.db,
        limits=limits,
        devices=_devices(args),
        synchronous=args.sync.upper(),
        enrolments=dict(getattr(args, "enrolment", None) or []),
    )
    token = args.inspection_token or os.environ.get("SANTONG_INSPECTION_TOKEN")
    if token:
        config.inspection_token = token
    return config


def _pairs(text: str, where_zh: str, where_en: str) -> dict[str, str]:
    out: dict[str, str] = {}
    for n, line in enumerate(text.splitlines(), 1):
        for item in line.split("#", 1)[0].replace(",", " ").split():
            try:
                device_id, token = _device(item)
            except argparse.ArgumentTypeError as e:
                raise CommandError(
                    f"{where_zh} 第 {n} 行的 “{item[:40]}” 不是 ID:TOKEN",
                    f"{where_en}, line {n}: {item[:40]!r} is not ID:TOKEN",
                ) from e
            out[device_id] = token
    return out


def _enrolment(text: str) -> tuple[str, str]:
    prefix, sep, key = text.partition(":")
    if not sep or len(prefix) < 3 or len(key) < 16:
        raise argparse.ArgumentTypeError(
            f"须为 前缀:组密钥（前缀至少 3 个字符，密钥至少 16 个字符）/ expected PREFIX:KEY (a prefix of 3 characters or "
            f"more, a key of 16 or more): {text[:40]!r}"
        )
    return prefix, key


def _devices(args: argparse.Namespace) -> dict[str, str]:
    """Device credentials: the environment, then --devices-file, then --device (a later source wins)."""
    import os

    devices: dict[str, str] = {}
    env = os.environ.get(DEVICES_ENV)
    if env:
        devices.update(_pairs(env, f"环境变量 {DEVICES_ENV}", f"the environment variable {DEVICES_ENV}"))
    path = getattr(args, "devices_file", None)
    if path:
        raw = _read(path, "设备凭据文件", "device credentials file", "--devices-file")
        try:
            text = raw.decode("utf-8")
        except UnicodeDecodeError as e:
            raise CommandError(
                f"设备凭据文件 {path} 不是 UTF-8 文本（--devices-file）",
                f"the device credentials file {path} is not UTF-8 text (--devices-file)",
            ) from e
        devices.update(_pairs(text, f"设备凭据文件 {path}", f"the device credentials file {path}"))
    devices.update(dict(args.device))
    return devices


def _check_exposure(args: argparse.Namespace, tls: Any) -> None:
    """Refuse a non-loopback bind without TLS unless --insecure; warn when it is given."""
    import ipaddress

    host = str(args.host).strip("[]")
    try:
        loopback = ipaddress.ip_address(host).is_loopback
    except ValueError:
        loopback = host == "localhost"
    if loopback or tls is not None:
        return
    if not getattr(args, "insecure", False):
        raise CommandError(
            f"拒绝在非回环地址 {args.host} 上不加 TLS 监听：检查接口、故障注入（含 reset）和令牌将以明文经过网络；"
            "请给出 --tls-cert 与 --tls-key，或在隔离网络中明确加 --insecure",
            f"refusing to listen on the non-loopback address {args.host} without TLS: inspection, fault injection "
            "(reset included) and tokens would cross the network in plain text; give --tls-cert and --tls-key, "
            "or add --insecure on an isolated network",
        )
    print(
        f"⚠ 警告 warning: 在 {args.host} 上以明文监听（--insecure）：检查接口、故障注入与令牌对网络可见 / listening on "
        f"{args.host} in plain text (--insecure): inspection, fault injection and tokens are exposed to the network",
        file=sys.stderr,
        flush=True,
    )


def _read(path: str, what_zh: str, what_en: str, option: str) -> bytes:
    try:
        return Path(path).read_bytes()
    except OSError as e:
        raise CommandError(
            f"无法读取{what_zh} {path}（{option}）：{e.strerror or e}，请检查路径",
            f"cannot read the {what_en} {path} ({option}): {e.strerror or e} — check the path",
        ) from e


def _tls(args: argparse.Namespace) -> Any:
    """The TLS files, checked here: readable, PEM, and a key that belongs to the certificate."""
    from cryptography import x509
    from cryptography.hazmat.primitives import serialization
    from santong.mock_platform._grpc import TlsFiles

    if args.tls_cert or args.tls_key:
        if not (args.tls_cert and args.tls_key):
            raise CommandError("--tls-cert 与 --tls-key 须同时给出", "--tls-cert and --tls-key go together")
    elif args.client_ca:
        raise CommandError(
            "--client-ca 需要 --tls-cert 与 --tls-key", "--client-ca needs --tls-cert and --tls-key"
        )
    else:
        return None
    cert = _read(args.tls_cert, "服务器证书", "server certificate", "--tls-cert")
    key = _read(args.tls_key, "服务器私钥", "server private key", "--tls-key")
    ca = _read(args.client_ca, "客户端 CA", "client CA", "--client-ca") if args.client_ca else None
    try:
        chain = x509.load_pem_x509_certificates(cert)
    except ValueError as e:
        raise CommandError(
            f"{args.tls_cert} 不是 PEM 证书（--tls-cert 须为 -----BEGIN CERTIFICATE----- 开头的证书链）",
            f"{args.tls_cert} is not a PEM certificate (--tls-cert needs a -----BEGIN CERTIFICATE----- chain)",
        ) from e
    try:
        private = serialization.load_pem_private_key(key, None)
    except (ValueError, TypeError) as e:
        raise CommandError(
            f"{args.tls_key} 不是未加密的 PEM 私钥（--tls-key）",
            f"{args.tls_key} is not an unencrypted PEM private key (--tls-key)",
        ) from e
    pub = serialization.PublicFormat.SubjectPublicKeyInfo
    if private.public_key().public_bytes(serialization.Encoding.PEM, pub) != chain[
        0
    ].public_key().public_bytes(serialization.Encoding.PEM, pub):
        raise CommandError(
            f"私钥 {args.tls_key} 与证书 {args.tls_cert} 不匹配，请给出同一对证书与私钥",
            f"the key {args.tls_key} does not belong to the certificate {args.tls_cert}: give a matching pair",
        )
    if ca is not None:
        try:
            x509.load_pem_x509_certificates(ca)
        except ValueError as e:
            raise CommandError(
                f"{args.client_ca} 不是 PEM 证书（--client-ca）",
                f"{args.client_ca} is not a PEM certificate (--client-ca)",
            ) from e
    return TlsFiles(cert, key, ca)


def _check_db(path: str | None) -> None:
    """The SQLite file opens (its folder exists and is writable, it is a database)."""
    if path is None:
        return
    import sqlite3

    try:
        con = sqlite3.connect(path)
        try:
            con.execute("PRAGMA schema_version").fetchone()
        finally:
            con.close()
    except sqlite3.Error as e:
        raise CommandError(
            f"无法打开数据库 {path}（--db）：{e}；请确认目录存在、可写，且该文件是 SQLite 数据库",
            f"cannot open the database {path} (--db): {e}; check that its folder exists and is writable and "
            "that the file is an SQLite database",
        ) from e


def _check_plan(path: str | None) -> None:
    if path is None:
        return
    import json

    text = _read(path, "故障计划", "fault plan", "--fault-plan")
    try:
        json.loads(text.decode("utf-8"))
    except (UnicodeDecodeError, ValueError) as e:
        raise CommandError(
            f"故障计划 {path} 不是合法的 JSON：{e}",
            f"the fault plan {path} is not valid JSON: {e}",
        ) from e


async def _serve(args: argparse.Namespace) -> int:
    import asyncio
    import gc
    import json
    import logging
    import os
    import signal

    from santong.mock_platform._errors import PlatformError
    from santong.mock_platform.embedded import MockPlatform

    logging.basicConfig(
        level=args.log_level.upper(),
        stream=sys.stderr,
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
    )
    tls = _tls(args)
    _check_exposure(args, tls)
    _devices(args)  # a bad credentials file or variable is a usage error before anything listens
    _check_plan(args.fault_plan)
    _check_db(args.db)
    check_bind(args.host, args.grpc_port, "gRPC", "--grpc-port")
    if args.http_port >= 0:
        check_bind(args.host, args.http_port, "HTTP", "--http-port")
    mp = MockPlatform(
        _config(args),
        host=args.host,
        grpc_port=args.grpc_port,
        http_port=None if args.http_port < 0 else args.http_port,
        tls=tls,
    )
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stop.set)
    try:
        await mp.start()
    except (OSError, RuntimeError) as e:  # lost a race for the port after the check, or TLS refused by gRPC
        raise CommandError(
            f"模拟平台无法启动：{e}；请检查 --host、端口与 TLS 文件",
            f"the mock platform cannot start: {e}; check --host, the ports and the TLS files",
        ) from e
    try:
        if args.fault_plan:
            try:
                mp.platform.faults.load_plan(args.fault_plan)
            except PlatformError as e:
                raise CommandError(
                    f"故障计划 {args.fault_plan} 无效：{e.message_zh}（格式 {PLAN_FORMAT}）",
                    f"invalid fault plan {args.fault_plan}: {e.message_en} (format {PLAN_FORMAT})",
                ) from e
        # What start-up built (modules, descriptors, the servers) lives as long as the process: kept out of the
        # collector's way, its full collections walk only what serving allocates (≈ 3 % of a streamed upload's
        # event-loop CPU, measured).
        gc.collect()
        gc.freeze()
        line = {
            "grpc_port": mp.grpc_port,
            "http_port": mp.http_port,
            "inspection_token": mp.inspection_token,
            "pid": os.getpid(),
        }
        print(json.dumps(line), flush=True)
        await stop.wait()
    finally:
        with contextlib.suppress(Exception):
            await mp.stop(grace=2.0)
    return 0
