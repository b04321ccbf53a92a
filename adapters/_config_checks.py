"""Semantic checks of the platform client's sections of an adapter configuration (platform, device, batch,
heartbeat, queue): each problem with the line of the offending key and the fix, through the builder of
:mod:`santong.adapters._config` (which calls :func:`check_client` once the sections are bound).
"""

from __future__ import annotations

import dataclasses
import re
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from santong.adapters._binder import _Builder
    from santong.adapters._settings import ClientConfig, DeviceSettings, PlatformSettings

__all__ = ["check_client"]


def _check_platform(b: _Builder, p: PlatformSettings) -> None:
    n = b.node_for
    if p.transport == "grpc" and not p.target:
        b.problem(
            n("platform"),
            "platform.target",
            "gRPC 传输需要 target",
            "the grpc transport needs target",
            "加上 target: 主机:端口，如 127.0.0.1:50051",
            "add target: host:port, e.g. 127.0.0.1:50051",
        )
    if p.transport == "grpc" and p.target and ":" not in p.target.rsplit("]", 1)[-1]:
        b.problem(
            n("platform.target"),
            "platform.target",
            f"target {p.target!r} 缺少端口",
            f"target {p.target!r} has no port",
            "写成 主机:端口",
            "write host:port",
        )
    if p.transport == "http" and not p.url.startswith(("http://", "https://")):
        b.problem(
            n("platform.url") or n("platform"),
            "platform.url",
            "HTTP 传输需要以 http:// 或 https:// 开头的 url",
            "the http transport needs a url starting with http:// or https://",
            "加上 url: http://主机:端口",
            "add url: http://host:port",
        )
    given = [k for k in ("token", "token_file", "token_env") if getattr(p, k)]
    if len(given) != 1:
        b.problem(
            n("platform"), "platform.token", "须给出且只给出 token、token_file、token_env 之一", "give exactly one of token, token_file, token_env",
            "例如 token_env: SANTONG_TOKEN（令牌放在环境变量中）", "e.g. token_env: SANTONG_TOKEN (the token in an environment variable)",
        )  # fmt: skip
    if p.token_file is not None and not p.token_file.is_file():
        b.problem(
            n("platform.token_file"),
            "platform.token_file",
            f"令牌文件 {p.token_file} 不存在",
            f"token file {p.token_file} does not exist",
            "检查路径（相对路径以配置文件所在目录为准）",
            "check the path (relative paths start at the configuration file's folder)",
        )
    if p.tls is not None:
        for k in ("ca", "cert", "key"):
            f = getattr(p.tls, k)
            if f is not None and not f.is_file():
                b.problem(
                    n(f"platform.tls.{k}"),
                    f"platform.tls.{k}",
                    f"文件 {f} 不存在",
                    f"file {f} does not exist",
                    "检查路径（相对路径以配置文件所在目录为准）",
                    "check the path (relative paths start at the configuration file's folder)",
                )
        if (p.tls.cert is None) != (p.tls.key is None):
            b.problem(
                n("platform.tls"),
                "platform.tls",
                "双向 TLS 需要同时给出 cert 和 key",
                "mutual TLS needs both cert and key",
                "同时填写 cert 与 key，或都删除",
                "give both cert and key, or neither",
            )
    if p.timeout_ms < 100:
        b.problem(
            n("platform.timeout_ms"),
            "platform.timeout_ms",
            "超时过短",
            "timeout too short",
            "设为 ≥ 100 ms，如 10000",
            "set it to >= 100 ms, e.g. 10000",
        )
    r = p.retry
    if r.base_ms < 100:
        b.problem(
            n("platform.retry.base_ms"),
            "platform.retry.base_ms",
            "首次退避上限须 ≥ 100 ms",
            "the first back-off ceiling must be >= 100 ms",
            "设为 100 或更大",
            "set it to 100 or more",
            clause_id="ST-PROTO-017",
        )
    if not r.base_ms <= r.cap_ms <= 30_000:
        b.problem(
            n("platform.retry.cap_ms"),
            "platform.retry.cap_ms",
            "退避上限须在 base_ms 与 30000 ms 之间",
            "the back-off cap must lie between base_ms and 30000 ms",
            "设为 30000 或更小",
            "set it to 30000 or less",
            clause_id="ST-PROTO-017",
        )


def _check_firmware(b: _Builder, d: DeviceSettings) -> None:
    """device.firmware_sha256 is 64 lower-case hex digits; device.firmware_file exists; both given: they agree."""
    n = b.node_for
    if d.firmware_sha256 and not re.fullmatch(r"[0-9a-f]{64}", d.firmware_sha256):
        b.problem(
            n("device.firmware_sha256"), "device.firmware_sha256",
            "firmware_sha256 须为 64 位小写十六进制 SHA-256", "firmware_sha256 must be a SHA-256 of 64 lower-case hex digits",
            "如 sha256sum 固件文件 的输出，或改用 firmware_file: 固件文件", "e.g. the output of sha256sum FIRMWARE, or use firmware_file: FIRMWARE",
            clause_id="ST-PROTO-038",
        )  # fmt: skip
        return
    if d.firmware_file is not None:
        if not d.firmware_file.is_file():
            b.problem(
                n("device.firmware_file"), "device.firmware_file",
                f"固件文件 {d.firmware_file} 不存在", f"firmware file {d.firmware_file} does not exist",
                "检查路径（相对路径以配置文件所在目录为准）", "check the path (relative paths start at the configuration file's folder)",
            )  # fmt: skip
        elif (
            d.firmware_sha256
            and d.software_digest() != dataclasses.replace(d, firmware_sha256="").software_digest()
        ):
            b.problem(
                n("device.firmware_sha256"), "device.firmware_sha256",
                f"firmware_sha256 与固件文件 {d.firmware_file} 的 SHA-256 不一致", f"firmware_sha256 differs from the SHA-256 of {d.firmware_file}",
                "删除 firmware_sha256（由文件计算），或更新它", "remove firmware_sha256 (computed from the file), or update it",
                clause_id="ST-PROTO-038",
            )  # fmt: skip


def check_client(b: _Builder, c: ClientConfig) -> None:
    """Every semantic check of the client's sections."""
    n = b.node_for
    _check_platform(b, c.platform)
    _check_firmware(b, c.device)
    if not 1 <= c.batch.max_points <= 10_000:
        b.problem(
            n("batch.max_points"),
            "batch.max_points",
            "每批点数须在 1–10000 之间",
            "points per batch must be 1–10000",
            "如 1000",
            "e.g. 1000",
            clause_id="ST-PROTO-008",
        )
    if c.batch.linger_ms < 0:
        b.problem(
            n("batch.linger_ms"),
            "batch.linger_ms",
            "linger_ms 不能为负",
            "linger_ms cannot be negative",
            "如 1000",
            "e.g. 1000",
        )
    hb = c.heartbeat.interval_ms
    if hb is not None and not 100 <= hb <= 30_000:
        b.problem(
            n("heartbeat.interval_ms"),
            "heartbeat.interval_ms",
            "心跳间隔须在 100–30000 ms 之间",
            "the heartbeat interval must be 100–30000 ms",
            "删除该项（使用平台给出的间隔）或设为 30000 以内",
            "remove it (use the platform's interval) or set it to at most 30000",
            clause_id="ST-PROTO-005",
        )
    if not 1_000 <= c.queue.live_window_ms <= 300_000:
        b.problem(
            n("queue.live_window_ms"),
            "queue.live_window_ms",
            "实时窗口须在 1000–300000 ms 之间",
            "the live window must be 1000–300000 ms",
            "如 60000",
            "e.g. 60000",
            clause_id="ST-DATA-032",
        )
