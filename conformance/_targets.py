"""Where the platform side of a run lives: the embedded mock, the mock as a process or container, or a URL."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from santong.conformance._documents import ConfigError, load_document, schema_problems

__all__ = ["TARGETS", "Credentials", "TargetSettings", "load_credentials", "split_urls", "url_problem"]

TARGETS = ("embedded", "process", "container", "url")
_SCHEMES = {"grpc": "grpc", "grpcs": "grpc", "http": "http", "https": "http"}


@dataclass(frozen=True, slots=True)
class Credentials:
    """A device ID and token on an external platform (never written to any report)."""

    token: str
    device_id: str | None = None
    ca_file: Path | None = None
    #: Read access to the platform's santong inspection channel (the mock, or a platform that offers it): the
    #: suite reads only the devices' registrations with it (mine acceptance, ST-PROTO-038), never a fault.
    inspection_token: str | None = None
    #: Group enrolment of test devices: any device ID under ``enrolment_prefix`` authenticates with the token
    #: HMAC-SHA256(``enrolment_key``, device ID) — a fresh device for every run that needs one.
    enrolment_prefix: str | None = None
    enrolment_key: str | None = None


def split_urls(url: str | None) -> list[str]:
    """The addresses of a ``--url`` value: one URL, or a gRPC and an HTTP URL separated by a comma
    (``grpc://host:50051,http://host:8080``)."""
    return [u.strip() for u in (url or "").split(",") if u.strip()]


@dataclass(frozen=True, slots=True)
class TargetSettings:
    """The chosen target and, for ``url``, the platform address(es) and credentials.

    ``url`` is one address or a comma-separated gRPC and HTTP pair: the gRPC address serves the reference device,
    the HTTP one the HTTP/JSON cases."""

    kind: str = "embedded"
    url: str | None = None
    credentials: Credentials | None = None

    def _first(self, transport: str) -> str | None:
        return next((u for u in split_urls(self.url) if _SCHEMES.get(urlsplit(u).scheme) == transport), None)

    @property
    def transport(self) -> str | None:
        """``grpc`` when a gRPC address is given, else ``http`` for an HTTP-only URL (None without a URL)."""
        if self._first("grpc"):
            return "grpc"
        return "http" if self._first("http") else None

    @property
    def tls(self) -> bool:
        """Whether the gRPC address (else the HTTP one) asks for TLS (grpcs:// or https://)."""
        u = self._first("grpc") or self._first("http")
        return u is not None and urlsplit(u).scheme in ("grpcs", "https")

    @property
    def grpc_target(self) -> str | None:
        """``host:port`` of the grpc(s):// URL."""
        u = self._first("grpc")
        return urlsplit(u).netloc if u else None

    @property
    def http_url(self) -> str | None:
        """The http(s):// URL without a trailing slash (the HTTP/JSON API's base)."""
        u = self._first("http")
        return u.rstrip("/") if u else None

    def as_dict(self) -> dict[str, Any]:
        """JSON form for the report: no token."""
        return {
            "kind": self.kind,
            "url": self.url,
            "device_id": self.credentials.device_id if self.credentials else None,
        }


def url_problem(url: str) -> str | None:
    """Why a ``--url`` value (one URL, or a gRPC and an HTTP URL separated by a comma) is unusable, or None."""
    urls = split_urls(url)
    if not urls:
        return f"平台地址为空 / the platform URL is empty: {url!r}"
    kinds = [_SCHEMES.get(urlsplit(u).scheme) for u in urls]
    if len(urls) > 2 or len(set(kinds)) != len(kinds):
        return (
            f"平台地址 {url!r}：最多一个 gRPC 地址和一个 HTTP 地址，用逗号分隔 / platform URL {url!r}: at most one gRPC "
            "and one HTTP address, separated by a comma (grpc://host:50051,http://host:8080)"
        )
    for u in urls:
        if (why := _one_url_problem(u)) is not None:
            return why
    return None


def _one_url_problem(url: str) -> str | None:
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
    """Load a credentials file (YAML/JSON: token, device_id?, ca_file?, inspection_token?, enrolment?)."""
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
        inspection_token=d.get("inspection_token"),
        enrolment_prefix=d["enrolment"]["prefix"] if "enrolment" in d else None,
        enrolment_key=d["enrolment"]["key"] if "enrolment" in d else None,
    )
