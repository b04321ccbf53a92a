"""Certificates a mine accepts its devices against (ST-PROTO-038): ``santong certify --profile mine-acceptance
--certificate REPORT.json`` (repeatable, one per model).

A certificate is a signed santong report; it covers a model (vendor and model) with given software — the SHA-256
digests of ``report.product.software``. :func:`load_certificates` checks each file offline (integrity and
signature, as ``santong verify`` does; who signed it is ``santong verify --trust``'s question) and that its verdict
is PASS. :func:`judge_devices` matches the devices registered on the platform to the certificates by vendor and
model and compares the digest each reported in ``DeviceIdentity.firmware_sha256``.

Example::

    certs, problems = load_certificates([Path("kj70n.report.json")])
    findings, uncovered = judge_devices(registrations, certs)
    bad = [f for f in findings if not f.ok]
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

__all__ = ["Certificate", "DeviceFinding", "judge_devices", "load_certificates"]


@dataclass(frozen=True)
class Certificate:
    """What a signed report certifies: the model, its software digests, who signed it and when."""

    path: Path
    key_id: str
    vendor: str
    model: str
    version: str
    issued: str
    expires: str | None
    software: tuple[dict[str, str], ...] = ()

    @property
    def digests(self) -> set[str]:
        """The SHA-256 digests the certificate covers."""
        return {str(x.get("sha256", "")) for x in self.software if x.get("sha256")}

    def name(self) -> str:
        """``vendor model version`` (for messages)."""
        return f"{self.vendor} {self.model} {self.version}"

    def as_dict(self) -> dict[str, Any]:
        """Evidence form."""
        return {
            "file": self.path.name,
            "key_id": self.key_id,
            "vendor": self.vendor,
            "model": self.model,
            "version": self.version,
            "issued": self.issued,
            "expires": self.expires,
            "software": list(self.software),
        }


def load_certificates(paths: Iterable[str | Path]) -> tuple[list[Certificate], list[str]]:
    """The certificates of the given files, and a bilingual problem for each file that is not one."""
    from santong.conformance._signing import verify_bytes  # noqa: PLC0415
    from santong.conformance._verdicts import PASS  # noqa: PLC0415
    from santong.conformance._verify_cmd import software  # noqa: PLC0415

    certs: list[Certificate] = []
    problems: list[str] = []
    for raw in paths:
        path = Path(raw)
        try:
            data = path.read_bytes()
        except OSError as e:
            problems.append(
                f"无法读取证书 {path}：{e.strerror or e}，请检查路径 / cannot read the certificate {path}: "
                f"{e.strerror or e} — check the path (--certificate)"
            )
            continue
        v = verify_bytes(data)
        if not v.valid:
            why = "; ".join(f"{zh} / {en}" for zh, en in v.problems[:3])
            problems.append(
                f"证书 {path} 无效（被改动、损坏或不是 santong 签名报告），不能用于验收 / the certificate {path} is not "
                f"valid (altered, damaged or not a santong signed report) and cannot be used for acceptance: {why}"
            )
            continue
        st, product = v.statement, v.report.get("product", {})
        if st.get("verdict") != PASS:
            problems.append(
                f"证书 {path} 的结论不是通过（{st.get('verdict')}），不是证书 / the report {path} did not PASS "
                f"({st.get('verdict')}): it certifies nothing"
            )
            continue
        certs.append(
            Certificate(
                path=path,
                key_id=v.key_id,
                vendor=str(product.get("vendor", "")),
                model=str(product.get("model", "")),
                version=str(product.get("version", "")),
                issued=str(st.get("date", "")),
                expires=st.get("expires") if isinstance(st.get("expires"), str) else None,
                software=tuple(software(st)),
            )
        )
    return certs, problems


@dataclass
class DeviceFinding:
    """The judgement of one registered device against the certificate of its model."""

    device_id: str
    vendor: str
    model: str
    firmware_version: str
    reported: str
    certificate: Certificate
    ok: bool
    zh: str = ""
    en: str = ""
    extra: dict[str, Any] = field(default_factory=dict)

    def as_dict(self) -> dict[str, Any]:
        """Evidence form."""
        return {
            "device_id": self.device_id,
            "model": f"{self.vendor} {self.model}",
            "firmware_version": self.firmware_version,
            "reported_sha256": self.reported or None,
            "certificate": self.certificate.path.name,
            "certified_sha256": sorted(self.certificate.digests),
            "ok": self.ok,
        }


def _identity(row: dict[str, Any]) -> dict[str, Any] | None:
    """The DeviceIdentity of a registration row (mock inspection ``devices``: ``register_request.device``)."""
    req = row.get("register_request") or {}
    device = req.get("device") if isinstance(req, dict) else None
    return device if isinstance(device, dict) else None


def judge_devices(
    registrations: Sequence[dict[str, Any]], certificates: Sequence[Certificate]
) -> tuple[list[DeviceFinding], list[str]]:
    """Each registered device of a certified model, judged (ST-PROTO-038); and the IDs of registered devices
    whose model no given certificate covers (not judged)."""
    by_model = {(c.vendor, c.model): c for c in certificates}
    findings: list[DeviceFinding] = []
    uncovered: list[str] = []
    for row in registrations:
        ident = _identity(row)
        if ident is None:
            continue  # never registered: it reported nothing yet
        device_id = str(ident.get("device_id") or row.get("device_id") or "")
        vendor, model = str(ident.get("vendor", "")), str(ident.get("model", ""))
        cert = by_model.get((vendor, model))
        if cert is None:
            uncovered.append(device_id)
            continue
        reported = str(ident.get("firmware_sha256", ""))
        f = DeviceFinding(
            device_id, vendor, model, str(ident.get("firmware_version", "")), reported, cert, ok=False
        )
        covered = ", ".join(sorted(cert.digests)) or "—"
        if not cert.digests:
            f.zh = (
                f"设备 {device_id}（{vendor} {model}）：证书 {cert.path.name} 未写明软件摘要（旧版产品声明），无法核对；请向厂商索取"
                "按 manifest_version 2 声明软件的证书"
            )
            f.en = (
                f"device {device_id} ({vendor} {model}): the certificate {cert.path.name} names no software digest "
                "(an older manifest) and cannot be checked; ask the vendor for a certificate whose manifest (version 2) "
                "declares its software"
            )
        elif not reported:
            f.zh = (
                f"设备 {device_id}（{vendor} {model}，固件 {f.firmware_version or '—'}）注册时未上报软件摘要 "
                f"firmware_sha256，无法证明运行的是证书 {cert.path.name} 所覆盖的软件（{covered}）；该字段需设备在注册时协商接口 1.1"
            )
            f.en = (
                f"device {device_id} ({vendor} {model}, firmware {f.firmware_version or '—'}) reported no software "
                f"digest (firmware_sha256) at Register: nothing shows it runs the software the certificate "
                f"{cert.path.name} covers ({covered}); the field needs interface 1.1 negotiated at Register"
            )
        elif reported not in cert.digests:
            f.zh = (
                f"设备 {device_id}（{vendor} {model}，固件 {f.firmware_version or '—'}）上报的软件摘要 {reported} "
                f"不在证书 {cert.path.name} 所覆盖的软件中（{covered}）：该设备运行的不是被认证的软件"
            )
            f.en = (
                f"device {device_id} ({vendor} {model}, firmware {f.firmware_version or '—'}) reports the software "
                f"digest {reported}, which the certificate {cert.path.name} does not cover ({covered}): it does not "
                "run the certified software"
            )
        else:
            f.ok = True
        findings.append(f)
    return findings, uncovered
