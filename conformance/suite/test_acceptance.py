"""Mine acceptance: the devices on the mine's platform run the software their certificates cover (ST-PROTO-038).

``santong certify --profile mine-acceptance --url … --credentials … --certificate REPORT.json`` (one certificate per
model): every device registered on the platform whose vendor and model a certificate names must have reported, in
``DeviceIdentity.firmware_sha256`` of its Register, one of the software digests that certificate covers. The
registrations are read from the platform's inspection channel (the mock; an external platform with an
``inspection_token`` in the credentials file) — never a fault, never a write.
"""

from __future__ import annotations

import pytest
from santong.conformance import Evidence, fail_clauses, not_applicable, not_demonstrated
from santong.conformance._certificates import Certificate, judge_devices
from santong.conformance._platform import PlatformHandle

pytestmark = pytest.mark.subject("platform")


@pytest.mark.clause("ST-PROTO-038")
def test_devices_run_the_certified_software(
    santong_platform: PlatformHandle, santong_certificates: tuple[Certificate, ...], evidence: Evidence
) -> None:
    """Each registered device of a certified model reports a digest its certificate covers."""
    if not santong_certificates:
        not_applicable(
            "no_certificate",
            "未给出 --certificate：本次验收不比对设备的软件摘要",
            "no --certificate given: this acceptance does not compare the devices' software digests",
        )
    evidence.record("certificates", [c.as_dict() for c in santong_certificates])
    rows = santong_platform.registrations()
    if rows is None:
        not_applicable(
            "needs_inspection",
            "读取平台上各设备的注册信息需要检查接口：在凭据文件中加上 inspection_token（只读取设备注册信息）",
            "reading the devices' registrations needs the platform's inspection channel: add inspection_token to "
            "the credentials file (only the devices' registrations are read with it)",
        )
    findings, uncovered = judge_devices(rows, santong_certificates)
    evidence.record("devices", [f.as_dict() for f in findings])
    evidence.record("devices_without_certificate", uncovered[:50])
    if not findings:
        models = "; ".join(c.name() for c in santong_certificates)
        not_demonstrated(
            f"平台上没有已注册的、属于所给证书型号（{models}）的设备，无从比对；请确认设备已接入并注册，且厂商与型号与证书一致",
            f"no device registered on the platform is of a certified model ({models}): nothing to compare — check "
            "that the devices are connected and registered, and that their vendor and model match the certificate",
        )
    bad = [f for f in findings if not f.ok]
    if bad:
        n, total = len(bad), len(findings)
        fail_clauses(
            ["ST-PROTO-038"],
            f"{total} 台有证书的设备中有 {n} 台不能证明运行的是被认证的软件："
            + "；".join(f.zh for f in bad[:10]),
            f"{n} of {total} devices of certified models do not show that they run the certified software: "
            + "; ".join(f.en for f in bad[:10]),
        )
