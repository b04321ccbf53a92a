"""Where the platform side of a run lives: the embedded mock, the mock as a process or container, or a URL."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from santong.conformance._documents import ConfigError, load_document, schema_problems

__all__ = ["TARGETS", "Credentials", "TargetSettings", "load_credentials"]

TARGETS = ("embedded", "process", "container", "url")
_SCHEMES = {"grpc": "grpc", "grpcs": "grpc", "http": "http", "https": "http"}


@dataclass(frozen=True, slots=True)
class Credentials:
    """A device ID and token on an external platform (never written to any report)."""

    token: str
    device_id: str | None = None
    ca_file: Path | None = None


@dataclass(frozen=True, slots=True)
class TargetSettings:
    """The chosen target and, for ``url``, the platform address and credentials."""

    kind: str = "embedded"
    url: str | None = None
    credentials: Credentials | None = None

    @property
    def transport(self) -> str | None:
        """``grpc`` or ``http`` from the URL scheme (None without a URL)."""
        return _SCHEMES.get(urlsplit(self.url).scheme) if self.url else None

    @property
    def tls(self) -> bool:
        """Whether the URL asks for TLS (grpcs:// or https://)."""
        return bool(self.url) and urlsplit(self.url or "").scheme in ("grpcs", "https")

    @property
    def grpc_target(self) -> str | None:
        """``host:port`` of a grpc(s):// URL."""
        if self.transport != "grpc" or not self.url:
            return None
        return urlsplit(self.url).netloc

    def as_dict(self) -> dict[str, Any]:
        """JSON form for the report: no token."""
        return {
            "kind": self.kind,
            "url": self.url,
            "device_id": self.credentials.device_id if self.credentials else None,
        }


def url_problem(url: str) -> str | None:
    """Why a platform URL is unusable, or None."""
    parts = urlsplit(url)
    if parts.scheme not in _SCHEMES or not parts.hostname:
        return (
            f"平台地址 {url!r} 无效：应为 grpc://主机:端口、grpcs://、http:// 或 https:// / "
            f"platform URL {url!r} is invalid: use grpc://host:port, grpcs://, http:// or https://"
        )
    try:
        port = parts.port
    except ValueError:
        return f"平台地址 {url!r} 的端口无效 / platform URL {url!r} has an invalid port"
    if parts.scheme.startswith("grpc") and port is None:
        return f"gRPC 地址须带端口 / a gRPC URL needs a port: {url!r}"
    return None


def load_credentials(path: str | Path) -> Credentials:
    """Load a credentials file (YAML/JSON: token, device_id?, ca_file?)."""
    p = Path(path)
    doc = load_document(p, "凭据", "credentials")
    problems = schema_problems(doc, "credentials")
    if not problems and "ca_file" in doc.data and not (p.parent / doc.data["ca_file"]).is_file():
        problems.append(doc.problem(["ca_file"], "CA 文件不存在", "the CA file does not exist"))
    if problems:
        raise ConfigError(problems, "凭据", "credentials")
    d = doc.data
    return Credentials(
        token=d["token"],
        device_id=d.get("device_id"),
        ca_file=(p.parent / d["ca_file"]).resolve() if "ca_file" in d else None,
    )
