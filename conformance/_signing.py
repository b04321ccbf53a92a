"""Canonical JSON, Ed25519 keys, and the signed report (certificate) with its offline verification."""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

__all__ = [
    "FORMAT",
    "DEFAULT_VALIDITY_DAYS",
    "STATEMENT_TYPE",
    "Verification",
    "canonical_json",
    "fingerprint",
    "generate_key_pair",
    "load_private_key",
    "load_public_key",
    "sha256_hex",
    "sign_report",
    "verify_bytes",
]

FORMAT = "santong-report/1"
#: 2 adds ``expires`` (the signed end of validity); statements of type 1 (no expiry) still verify.
STATEMENT_TYPE = "santong-certificate/2"
STATEMENT_V1 = "santong-certificate/1"
STATEMENT_TYPES = (STATEMENT_V1, STATEMENT_TYPE)
#: The signed validity of a certificate unless the signer says otherwise (a trust list may shorten it).
DEFAULT_VALIDITY_DAYS = 365
TIME_FORMAT = "%Y-%m-%dT%H:%M:%SZ"
PRIVATE_NAME = "santong-signing.key"
PUBLIC_NAME = "santong-signing.pub"


def canonical_json(obj: Any) -> bytes:
    """Canonical bytes: sorted keys, UTF-8 (no escapes), no insignificant whitespace, no NaN/Infinity."""
    return json.dumps(obj, sort_keys=True, ensure_ascii=False, separators=(",", ":"), allow_nan=False).encode(
        "utf-8"
    )


def sha256_hex(data: bytes) -> str:
    """Lower-case hex SHA-256."""
    return hashlib.sha256(data).hexdigest()


def _raw_public(key: Any) -> bytes:
    from cryptography.hazmat.primitives import serialization  # noqa: PLC0415

    raw: bytes = key.public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)
    return raw


def fingerprint(public_key: Any) -> str:
    """``ed25519:`` + the first 32 hex digits of SHA-256 over the raw public key."""
    return "ed25519:" + sha256_hex(_raw_public(public_key))[:32]


def generate_key_pair(out_dir: str | Path, *, force: bool = False) -> tuple[Path, Path, str]:
    """Write a new Ed25519 key pair (private key PKCS#8 PEM with mode 0600, public key PEM); return paths and fingerprint."""
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    private, public = out / PRIVATE_NAME, out / PUBLIC_NAME
    return private, public, write_key_pair(private, public, force=force)


def write_key_pair(private: Path, public: Path, *, force: bool = False) -> str:
    """Write a new Ed25519 key pair to these two files (the private one created with mode 0600, never with
    looser rights, and not replaced unless ``force``); the fingerprint."""
    from cryptography.hazmat.primitives import serialization  # noqa: PLC0415
    from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey  # noqa: PLC0415

    key = Ed25519PrivateKey.generate()
    pem = key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    )
    flags = os.O_WRONLY | os.O_CREAT | (os.O_TRUNC if force else os.O_EXCL)
    if force and private.exists():
        private.chmod(0o600)
    fd = os.open(private, flags, 0o600)
    with os.fdopen(fd, "wb") as f:
        f.write(pem)
    private.chmod(0o600)
    public.write_bytes(public_pem(key.public_key()))
    return fingerprint(key.public_key())


def public_pem(public_key: Any) -> bytes:
    """The SubjectPublicKeyInfo PEM of an Ed25519 public key."""
    from cryptography.hazmat.primitives import serialization  # noqa: PLC0415

    data: bytes = public_key.public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
    )
    return data


def public_key_from_hex(text: str) -> Any:
    """An Ed25519 public key from its raw 32 bytes in lower-case hex (ValueError if it is not one)."""
    from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey  # noqa: PLC0415

    raw = _hex(text, 32)
    if raw is None:
        raise ValueError(f"不是 64 位十六进制公钥 / not a 64-hex-digit public key: {text!r}")
    return Ed25519PublicKey.from_public_bytes(raw)


def raw_public_hex(public_key: Any) -> str:
    """The raw 32-byte public key in lower-case hex (as in a certificate and a trust list)."""
    return _raw_public(public_key).hex()


def load_private_key(path: str | Path) -> Any:
    """An Ed25519 private key from a PEM file; ValueError says what is wrong."""
    from cryptography.hazmat.primitives import serialization  # noqa: PLC0415
    from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey  # noqa: PLC0415

    try:
        data = Path(path).read_bytes()
    except OSError as e:
        raise ValueError(f"无法读取私钥 cannot read the private key {path}: {e}") from e
    password = os.environ.get("SANTONG_KEY_PASSWORD")
    try:
        key = serialization.load_pem_private_key(data, password.encode() if password else None)
    except (ValueError, TypeError) as e:
        raise ValueError(
            f"{path} 不是可用的 PEM 私钥（加密的私钥请设置 SANTONG_KEY_PASSWORD）/ "
            f"{path} is not a usable PEM private key (set SANTONG_KEY_PASSWORD for an encrypted one): {e}"
        ) from e
    if not isinstance(key, Ed25519PrivateKey):
        raise ValueError(f"{path} 不是 Ed25519 私钥 / {path} is not an Ed25519 private key")
    return key


def load_public_key(path: str | Path) -> Any:
    """An Ed25519 public key from a PEM file (or a private key file, whose public half is used)."""
    from cryptography.hazmat.primitives import serialization  # noqa: PLC0415
    from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey  # noqa: PLC0415

    data = Path(path).read_bytes()
    if b"PRIVATE KEY" in data:
        return load_private_key(path).public_key()
    try:
        key = serialization.load_pem_public_key(data)
    except ValueError as e:
        raise ValueError(f"{path} 不是 PEM 公钥 / {path} is not a PEM public key: {e}") from e
    if not isinstance(key, Ed25519PublicKey):
        raise ValueError(f"{path} 不是 Ed25519 公钥 / {path} is not an Ed25519 public key")
    return key


def utc_text(when: dt.datetime) -> str:
    """``YYYY-MM-DDTHH:MM:SSZ`` in UTC."""
    return when.astimezone(dt.UTC).strftime(TIME_FORMAT)


def parse_utc(text: str) -> dt.datetime:
    """A ``YYYY-MM-DDTHH:MM:SSZ`` text as an aware UTC datetime (ValueError if it is not one)."""
    return dt.datetime.strptime(text, TIME_FORMAT).replace(tzinfo=dt.UTC)


def _statement(
    report: dict[str, Any],
    date: str,
    ephemeral: bool,
    *,
    kind: str = STATEMENT_TYPE,
    expires: str | None = None,
) -> dict[str, Any]:
    results = report["results"]
    st = {
        "type": kind,
        "date": date,
        "ephemeral_key": ephemeral,
        "product": report["product"],
        "profile": report["profile"]["name"],
        "verdict": results["verdict"],
        "manifest_sha256": sha256_hex(canonical_json(report["manifest"])),
        "results_sha256": sha256_hex(canonical_json(results)),
        "report_sha256": sha256_hex(canonical_json(report)),
        "suite_version": report["versions"]["suite"],
        "suite_digest": report["versions"]["suite_digest"],
        "spec_version": report["versions"]["spec"],
    }
    if kind != STATEMENT_V1:
        st["expires"] = expires
    return st


def sign_report(
    report: dict[str, Any],
    private_key: Any,
    *,
    ephemeral: bool = False,
    now: dt.datetime | None = None,
    valid_days: int = DEFAULT_VALIDITY_DAYS,
) -> bytes:
    """The signed report document, as canonical bytes: ``{"format", "report", "certificate"}``.

    The certificate's statement binds product identity, manifest hash, suite and spec versions, results hash,
    report hash, the issue date and the expiry (``valid_days`` after it); the Ed25519 signature covers the
    canonical bytes of the statement. Who the signer is (certifier or vendor) is not in the statement: a trust
    list says it (``santong verify --trust``).
    """
    issued = (now or dt.datetime.now(dt.UTC)).astimezone(dt.UTC).replace(microsecond=0)
    statement = _statement(
        report, utc_text(issued), ephemeral, expires=utc_text(issued + dt.timedelta(days=valid_days))
    )
    signature = private_key.sign(canonical_json(statement))
    doc = {
        "format": FORMAT,
        "report": report,
        "certificate": {
            "algorithm": "Ed25519",
            "public_key": _raw_public(private_key.public_key()).hex(),
            "key_id": fingerprint(private_key.public_key()),
            "statement": statement,
            "signature": signature.hex(),
        },
    }
    return canonical_json(doc)


@dataclass
class Verification:
    """The outcome of verifying a signed report."""

    valid: bool
    problems: list[tuple[str, str]] = field(default_factory=list)
    statement: dict[str, Any] = field(default_factory=dict)
    key_id: str = ""
    trusted_key: bool = False
    report: dict[str, Any] = field(default_factory=dict)


def _fail(v: Verification, zh: str, en: str) -> Verification:
    v.valid = False
    v.problems.append((zh, en))
    return v


def _hex(text: Any, size: int) -> bytes | None:
    if not isinstance(text, str) or len(text) != 2 * size or text != text.lower():
        return None
    try:
        data = bytes.fromhex(text)
    except ValueError:
        return None
    return data if data.hex() == text else None


def verify_bytes(data: bytes, trusted_public_key: Any = None) -> Verification:
    """Check a signed report offline: canonical form, every hash in the statement, the signature, the key."""
    from cryptography.exceptions import InvalidSignature  # noqa: PLC0415
    from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey  # noqa: PLC0415

    v = Verification(valid=True)
    try:
        doc = json.loads(data.decode("utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError, RecursionError) as e:
        return _fail(v, f"不是 UTF-8 JSON 文件：{e}", f"not a UTF-8 JSON file: {e}")
    if not isinstance(doc, dict) or set(doc) != {"format", "report", "certificate"}:
        return _fail(v, "不是 santong 签名报告", "not a santong signed report")
    try:
        canonical = canonical_json(doc)
    except ValueError as e:
        return _fail(v, f"含非法数值：{e}", f"contains invalid numbers: {e}")
    if canonical != data:
        return _fail(
            v,
            "文件不是规范 JSON 形式：内容被改动过",
            "the file is not in canonical JSON form: it was altered",
        )
    if doc["format"] != FORMAT:
        return _fail(v, f"未知格式 {doc['format']!r}", f"unknown format {doc['format']!r}")
    cert, report = doc["certificate"], doc["report"]
    if not isinstance(cert, dict) or not isinstance(report, dict):
        return _fail(v, "证书或报告缺失", "certificate or report missing")
    if (
        set(cert) != {"algorithm", "public_key", "key_id", "statement", "signature"}
        or cert["algorithm"] != "Ed25519"
    ):
        return _fail(v, "证书结构无效", "malformed certificate")
    raw_key, signature = _hex(cert["public_key"], 32), _hex(cert["signature"], 64)
    if raw_key is None or signature is None:
        return _fail(v, "公钥或签名编码无效", "malformed public key or signature encoding")
    public = Ed25519PublicKey.from_public_bytes(raw_key)
    v.key_id, v.statement, v.report = fingerprint(public), cert["statement"], report
    if cert["key_id"] != v.key_id:
        _fail(v, "key_id 与公钥不符", "key_id does not match the public key")
    try:
        public.verify(signature, canonical_json(cert["statement"]))
    except InvalidSignature:
        _fail(
            v,
            "签名无效：声明被改动或不是由该密钥签署",
            "invalid signature: the statement was altered or not signed by this key",
        )
    st = cert["statement"]
    if not isinstance(st, dict) or st.get("type") not in STATEMENT_TYPES:
        return _fail(v, "证书声明的类型未知", "unknown certificate statement type")
    try:
        expected = _statement(
            report,
            str(st.get("date")),
            bool(st.get("ephemeral_key")),
            kind=st["type"],
            expires=st.get("expires") if isinstance(st.get("expires"), str) else None,
        )
        parse_utc(str(st.get("date")))
        if st["type"] != STATEMENT_V1:
            parse_utc(str(st.get("expires")))
    except (KeyError, TypeError, AttributeError, ValueError) as e:
        return _fail(v, f"报告或声明结构无效：{e}", f"malformed report or statement: {e}")
    for key in sorted(set(expected) | set(cert["statement"])):
        if expected.get(key) != cert["statement"].get(key):
            _fail(v, f"声明中的 {key} 与报告内容不符", f"{key} in the statement does not match the report")
    if trusted_public_key is not None:
        v.trusted_key = _raw_public(trusted_public_key) == raw_key
        if not v.trusted_key:
            _fail(v, "报告不是由给定的公钥签署", "the report was not signed with the given public key")
    return v
