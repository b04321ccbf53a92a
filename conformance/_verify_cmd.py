"""`santong verify REPORT [--public-key K]`: check a signed report offline and print the verdict."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from santong.conformance._verdicts import PASS, VERDICT_TEXT

#: Exit codes: 0 valid report with verdict PASS, 1 valid report whose verdict is not PASS, 3 invalid report.
EXIT_INVALID = 3


def add_arguments(p: argparse.ArgumentParser) -> None:
    """Arguments of `santong verify`."""
    p.add_argument("report", type=Path, metavar="REPORT", help="签名报告 the signed report.json")
    p.add_argument(
        "--public-key",
        type=Path,
        metavar="FILE",
        help="厂商公钥 the vendor's public key (PEM); without it the embedded key only proves integrity",
    )


def run(args: argparse.Namespace) -> int:
    """Exit 0: valid and PASS; 1: valid, verdict FAIL or COULD NOT RUN; 3: invalid, altered or unreadable."""
    from santong.conformance._signing import load_public_key, verify_bytes  # noqa: PLC0415

    try:
        data = args.report.read_bytes()
    except OSError as e:
        print(f"✘ 无法读取报告 cannot read the report: {e}", file=sys.stderr)
        return EXIT_INVALID
    trusted = None
    if args.public_key is not None:
        try:
            trusted = load_public_key(args.public_key)
        except (OSError, ValueError) as e:
            print(f"✘ 无法读取公钥 cannot read the public key: {e}", file=sys.stderr)
            return EXIT_INVALID
    v = verify_bytes(data, trusted)
    if not v.valid:
        print(f"✘ 报告无效 INVALID REPORT: {args.report}")
        for zh, en in v.problems:
            print(f"    - {zh} / {en}")
        print(
            "  该报告不可信：可能被改动、损坏或不是由该密钥签署。/ Do not trust this report: it was altered, "
            "damaged, or not signed by that key."
        )
        return EXIT_INVALID
    st, product = v.statement, v.report.get("product", {})
    print(f"✔ 签名有效、内容完整 VALID SIGNATURE, report intact: {args.report}")
    print(
        f"  产品 Product:  {product.get('vendor')} {product.get('model')} {product.get('version')} "
        f"(序列号 serial {product.get('serial')}, 安标 MA {product.get('ma_certificate') or '—'})"
    )
    print(
        f"  配置 Profile:  {st['profile']}   规范 spec {st['spec_version']}   套件 suite {st['suite_version']}"
    )
    print(f"  日期 Date:     {st['date']}")
    if v.trusted_key:
        print(f"  签署者 Signer: {v.key_id}（与给定公钥一致 matches the given public key）")
    elif st.get("ephemeral_key"):
        print(
            f"  签署者 Signer: {v.key_id}（临时密钥：只证明完整性，不证明签署者 / ephemeral key: integrity only, "
            "not identity）"
        )
    else:
        print(
            f"  签署者 Signer: {v.key_id}（未给定公钥，请与厂商公布的指纹核对 / no --public-key given: compare "
            "with the fingerprint the vendor publishes）"
        )
    verdict = st["verdict"]
    print(f"  结论 Verdict:  {VERDICT_TEXT.get(verdict, verdict)}")
    return 0 if verdict == PASS else 1
