"""The error of a platform client that stopped for good."""

from __future__ import annotations

from santong.adapters._sdk import AdapterError

__all__ = ["ClientFailed"]


class ClientFailed(AdapterError):
    """The client stopped for good: Register refused on content or version (ST-PROTO-004, ST-PROTO-016)."""

    grpc_code = "UNAUTHENTICATED"
    http_status = 401
    description_zh = "平台客户端已停止"
    description_en = "the platform client stopped"
