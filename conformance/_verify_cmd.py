"""`santong verify REPORT [--public-key K]`: check a signed report offline and print the verdict."""

from __future__ import annotations

import argparse
from pathlib import Path

from santong.conformance._verdicts import PASS, VERDICT_TEXT

from santong._exit import FAIL, OK, CommandError

# Exit codes (santong._exit): 0 valid report with verdict PASS; 1 a report that must not be trusted (altered,
# damaged, signed by another key) or a valid report whose verdict is not PASS; 2 the report or key file cannot be
# read, or the key given as --public-key is not a public key.


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
    """Exit 0: valid and PASS; 1: invalid, or valid with verdict FAIL / COULD NOT RUN; 2: unreadable input."""
    from santong.conformance._signing import load_public_key, verify_bytes  # noqa: PLC0415

    try:
        data = args.report.read_bytes()
    except OSError as e:
        raise CommandError(
            f"无法读取报告 {args.report}：{e.strerror or e}，请检查路径",
            f"cannot read the report {args.report}: {e.strerror or e} — check the path",
        ) from e
    trusted = None
    if args.public_key is not None:
        try:
            key_text = args.public_key.read_bytes()
        except OSError as e:
            raise CommandError(
                f"无法读取公钥 {args.public_key}：{e.strerror or e}，请检查路径",
                f"cannot read the public key {args.public_key}: {e.strerror or e} — check the path",
            ) from e
        if b"PRIVATE KEY" in key_text:
            raise CommandError(
                f"{args.public_key} 是私钥，不是公钥：核验只需厂商公布的公钥（santong-signing.pub）；"
                "私钥不应离开厂商，若已外传请让厂商更换密钥",
                f"{args.public_key} is a private key, not a public key: verifying needs only the vendor's public "
                "key (santong-signing.pub); a private key must not leave the vendor — if it did, ask for a new key",
            )
        try:
            trusted = load_public_key(args.public_key)
        except ValueError as e:
            raise CommandError(
                f"无法使用公钥 {args.public_key}，请给出 `santong keys` 生成的 .pub 文件",
                f"cannot use the public key {args.public_key}: give the .pub file made by `santong keys` ({e})",
            ) from e
    v = verify_bytes(data, trusted)
    if not v.valid:
        print(f"✘ 报告无效 INVALID REPORT: {args.report}")
        for zh, en in v.problems:
            print(f"    - {zh} / {en}")
        print(
            "  该报告不可信：可能被改动、损坏或不是由该密钥签署。/ Do not trust this report: it was altered, "
            "damaged, or not signed by that key."
        )
        return FAIL
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
    return OK if verdict == PASS else FAIL
