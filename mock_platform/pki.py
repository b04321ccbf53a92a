"""Test certificates made on the spot with ``cryptography``: a CA, a server certificate, device client certificates
(CN = device id, ST-PROTO-003) and forged ones for negative tests. Never for production.

Example::

    pki = make_pki(["KJ70N-0001"])
    tls = TlsFiles(pki.server_cert, pki.server_key, client_ca=pki.ca_cert)
    creds = grpc.ssl_channel_credentials(pki.ca_cert, *pki.clients["KJ70N-0001"][::-1])
"""

from __future__ import annotations

import datetime
import ipaddress
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

__all__ = ["Pki", "forged_client", "issue", "make_pki"]


def _key() -> ec.EllipticCurvePrivateKey:
    return ec.generate_private_key(ec.SECP256R1())


def _pem_key(key: ec.EllipticCurvePrivateKey) -> bytes:
    return key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    )


def _name(cn: str) -> x509.Name:
    return x509.Name(
        [
            x509.NameAttribute(NameOID.ORGANIZATION_NAME, "santong test"),
            x509.NameAttribute(NameOID.COMMON_NAME, cn),
        ]
    )


def issue(
    cn: str,
    issuer_cert: x509.Certificate | None,
    issuer_key: ec.EllipticCurvePrivateKey | None,
    *,
    server_hosts: Iterable[str] = (),
    client: bool = False,
    ca: bool = False,
    days: float = 1.0,
    not_before: datetime.datetime | None = None,
) -> tuple[x509.Certificate, ec.EllipticCurvePrivateKey]:
    """A certificate for cn signed by issuer (self-signed when issuer is None)."""
    key = _key()
    start = not_before or datetime.datetime.now(datetime.UTC) - datetime.timedelta(minutes=5)
    builder = (
        x509.CertificateBuilder()
        .subject_name(_name(cn))
        .issuer_name(issuer_cert.subject if issuer_cert is not None else _name(cn))
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(start)
        .not_valid_after(start + datetime.timedelta(days=days))
        .add_extension(x509.BasicConstraints(ca=ca, path_length=None), critical=True)
    )
    hosts = list(server_hosts)
    if hosts:
        sans: list[x509.GeneralName] = []
        for h in hosts:
            try:
                sans.append(x509.IPAddress(ipaddress.ip_address(h)))
            except ValueError:
                sans.append(x509.DNSName(h))
        builder = builder.add_extension(x509.SubjectAlternativeName(sans), critical=False)
    usages = ([ExtendedKeyUsageOID.SERVER_AUTH] if hosts else []) + (
        [ExtendedKeyUsageOID.CLIENT_AUTH] if client else []
    )
    if usages:
        builder = builder.add_extension(x509.ExtendedKeyUsage(usages), critical=False)
    if ca:
        builder = builder.add_extension(
            x509.KeyUsage(digital_signature=True, key_cert_sign=True, crl_sign=True, content_commitment=False,
                          key_encipherment=False, data_encipherment=False, key_agreement=False, encipher_only=False,
                          decipher_only=False),
            critical=True,
        )  # fmt: skip
    cert = builder.sign(issuer_key if issuer_key is not None else key, hashes.SHA256())
    return cert, key


@dataclass
class Pki:
    """PEM bytes of a test CA, a server certificate for 127.0.0.1/localhost, and client certificates by device id."""

    ca_cert: bytes
    ca_key: bytes
    server_cert: bytes
    server_key: bytes
    clients: dict[str, tuple[bytes, bytes]] = field(default_factory=dict)  # device_id → (cert, key)
    _ca: tuple[x509.Certificate, ec.EllipticCurvePrivateKey] | None = None

    def client(self, device_id: str) -> tuple[bytes, bytes]:
        """(cert, key) PEM of a client certificate with CN = device_id, signed by the CA (made on first use)."""
        if device_id not in self.clients:
            assert self._ca is not None
            cert, key = issue(device_id, *self._ca, client=True)
            self.clients[device_id] = (cert.public_bytes(serialization.Encoding.PEM), _pem_key(key))
        return self.clients[device_id]

    def write(self, directory: str | Path) -> dict[str, Path]:
        """Write ca.pem, server.pem, server.key and <device>.pem/.key; return the paths by name."""
        d = Path(directory)
        d.mkdir(parents=True, exist_ok=True)
        files = {
            "ca": ("ca.pem", self.ca_cert),
            "server_cert": ("server.pem", self.server_cert),
            "server_key": ("server.key", self.server_key),
        }
        out = {}
        for name, (fn, data) in files.items():
            (d / fn).write_bytes(data)
            out[name] = d / fn
        for device_id, (cert, key) in self.clients.items():
            (d / f"{device_id}.pem").write_bytes(cert)
            (d / f"{device_id}.key").write_bytes(key)
            out[f"{device_id}.cert"], out[f"{device_id}.key"] = d / f"{device_id}.pem", d / f"{device_id}.key"
        return out


def make_pki(device_ids: Iterable[str] = (), hosts: Iterable[str] = ("127.0.0.1", "localhost")) -> Pki:
    """A fresh CA, a server certificate for hosts, and a client certificate per device id."""
    ca_cert, ca_key = issue("santong test CA", None, None, ca=True)
    srv_cert, srv_key = issue("santong mock platform", ca_cert, ca_key, server_hosts=hosts)
    pki = Pki(
        ca_cert=ca_cert.public_bytes(serialization.Encoding.PEM),
        ca_key=_pem_key(ca_key),
        server_cert=srv_cert.public_bytes(serialization.Encoding.PEM),
        server_key=_pem_key(srv_key),
        _ca=(ca_cert, ca_key),
    )
    for device_id in device_ids:
        pki.client(device_id)
    return pki


def forged_client(device_id: str) -> tuple[bytes, bytes]:
    """(cert, key) PEM of a self-signed client certificate claiming CN = device_id (not from the CA)."""
    cert, key = issue(device_id, None, None, client=True)
    return cert.public_bytes(serialization.Encoding.PEM), _pem_key(key)
