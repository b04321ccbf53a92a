"""`santong verify REPORT [--trust LIST --root ROOT_PUB | --public-key K]`: check a signed report offline and say
who vouches for it."""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any

from santong.conformance._verdicts import PASS, VERDICT_TEXT

from santong._exit import FAIL, OK, CommandError

#: `santong verify --trust`: the report is a genuine vendor self-test that passed — not a certification.
SELF_TEST = 3

# Exit codes (santong._exit; docs/cli.md). With --trust: 0 only for a valid certification (signed by a certifier of
# the list, in scope, not revoked, not expired, suite new enough, PASS); 3 a genuine vendor self-test that passed (not
# a certification; this command's own code); 1 every other answer (altered, signer unknown, key revoked, signer key
# not valid at signing, outside scope, old suite, expired, digest mismatch, not PASS); 2 a file cannot be read, or
# the trust list is malformed, unsigned or not signed by the given root. Without --trust (integrity only): 0 valid
# and PASS; 1 invalid, signed by another key than --public-key, or not PASS; 2 unreadable input.


def add_arguments(p: argparse.ArgumentParser) -> None:
    """Arguments of `santong verify`."""
    p.epilog = (
        "退出码 exit codes — 带 with --trust: 0 有效认证 a valid certification · 3 厂商自测（不是认证）a vendor "
        "self-test, not a certification · 1 其他回答（无效、签署者未知、吊销、超范围、过期、套件过旧、摘要不符、不通过）"
        "any other answer · 2 文件无法读取、信任列表无效或非根密钥签署 unreadable input, a trust list not signed by the "
        "root. 不带 without --trust: 0 完整且通过 intact and PASS · 1 不可信或不通过 untrusted or not PASS · 2 同上 as above"
    )
    p.add_argument("report", type=Path, metavar="REPORT", help="签名报告 the signed report.json")
    who = p.add_mutually_exclusive_group()
    who.add_argument(
        "--trust",
        type=Path,
        metavar="LIST",
        help="信任列表 the trust list (with --root): says who signed — certifier or vendor — and whether it is valid",
    )
    who.add_argument(
        "--public-key",
        type=Path,
        metavar="FILE",
        help="签署者公钥 the signer's public key (PEM); without it (or --trust) only integrity is checked",
    )
    p.add_argument(
        "--expect-digest",
        type=_digest,
        action="append",
        metavar="SHA256",
        help="设备报告的软件摘要（可多次）：须在证书覆盖的软件中 / the software digest a device reports (repeatable): "
        "must be among those the certificate covers",
    )
    p.add_argument(
        "--root",
        type=Path,
        metavar="ROOT_PUB",
        help="根公钥（另行公布）the root public key, published separately, that signed the trust list",
    )


def _digest(text: str) -> str:
    value = text.strip().lower().removeprefix("sha256:")
    if len(value) != 64 or any(c not in "0123456789abcdef" for c in value):
        raise argparse.ArgumentTypeError(f"须为 64 位十六进制 SHA-256 / a SHA-256 of 64 hex digits: {text!r}")
    return value


def software(statement: dict[str, Any]) -> list[dict[str, str]]:
    """The software the certificate covers (empty for a report made before manifests declared it)."""
    items = statement.get("product", {}).get("software", [])
    return [x for x in items if isinstance(x, dict)] if isinstance(items, list) else []


def _software_lines(statement: dict[str, Any]) -> None:
    items = software(statement)
    if not items:
        print("  软件 Software: 未声明摘要 no software digest declared")
    for x in items:
        how = (
            "由认证程序从制品文件计算 computed by the runner from the artefact"
            if x.get("status") == "computed"
            else "声明，未核实 declared, unverified"
        )
        print(f"  软件 Software: {x.get('name')} sha256 {x.get('sha256')}（{how}）")


def _key(path: Path, what_zh: str, what_en: str) -> Any:
    from santong.conformance._signing import load_public_key  # noqa: PLC0415

    try:
        key_text = path.read_bytes()
    except OSError as e:
        raise CommandError(
            f"无法读取{what_zh} {path}：{e.strerror or e}，请检查路径",
            f"cannot read the {what_en} {path}: {e.strerror or e} — check the path",
        ) from e
    if b"PRIVATE KEY" in key_text:
        raise CommandError(
            f"{path} 是私钥，不是公钥：核验只需公布的公钥（.pub）；私钥不应离开其持有者，若已外传请让其更换密钥",
            f"{path} is a private key, not a public key: verifying needs only the published public key (.pub); a "
            "private key must not leave its holder — if it did, ask for a new key",
        )
    try:
        return load_public_key(path)
    except ValueError as e:
        raise CommandError(
            f"无法使用{what_zh} {path}，请给出 `santong keys` 生成的 .pub 文件",
            f"cannot use the {what_en} {path}: give the .pub file made by `santong keys` ({e})",
        ) from e


def _product_lines(v: Any) -> None:
    st, product = v.statement, v.report.get("product", {})
    print(
        f"  产品 Product:  {product.get('vendor')} {product.get('model')} {product.get('version')} "
        f"(序列号 serial {product.get('serial')}, 安标 MA {product.get('ma_certificate') or '—'})"
    )
    print(
        f"  配置 Profile:  {st['profile']}   类别 class {product.get('product_class')}   规范 spec "
        f"{st['spec_version']}   套件 suite {st['suite_version']}"
    )


def _with_trust(args: argparse.Namespace, data: bytes) -> int:
    from santong.conformance._signing import verify_bytes  # noqa: PLC0415
    from santong.conformance._trust import TrustError, judge, load_trust_list  # noqa: PLC0415

    if args.root is None:
        raise CommandError(
            "--trust 需要 --root 根公钥（由平台方另行公布），否则无法确认信任列表本身可信",
            "--trust needs --root ROOT_PUB (published separately by the platform operator); without it the trust "
            "list itself cannot be trusted",
        )
    root = _key(args.root, "根公钥", "root public key")
    try:
        tl = load_trust_list(args.trust, root)
    except TrustError as e:
        raise CommandError(e.zh, e.en) from e
    v = verify_bytes(data)
    digests = [x.get("sha256", "") for x in software(v.statement)] if v.valid else []
    answer = judge(v, tl, expect_digests=args.expect_digest, digests=digests)
    print(answer.line())
    print(f"  报告 Report:   {args.report}")
    if v.valid:
        _product_lines(v)
        st = v.statement
        expiry = f"   到期 expires {answer.expires}" if answer.expires else ""
        print(f"  签发 Issued:   {st['date']}{expiry}")
        _software_lines(st)
        entry = answer.entry
        who = (
            f"（{entry['name']}，{entry['organisation']}，{entry['role']}）"
            if entry
            else "（不在列表 not listed）"
        )
        print(f"  签署者 Signer: {v.key_id}{who}")
        print(f"  结论 Verdict:  {VERDICT_TEXT.get(st['verdict'], st['verdict'])}")
    else:
        for zh, en in v.problems:
            print(f"    - {zh} / {en}")
    for zh, en in answer.notes:
        print(f"  注意 Note:     {zh} / {en}")
    zh, en = tl.describe()
    print(f"  依据 Based on: {zh} / {en}")
    return SELF_TEST if answer.kind == "self_test" else answer.code


def run(args: argparse.Namespace) -> int:
    """With --trust: 0 certified, 3 vendor self-test, 1 any other answer, 2 unusable input. Without: 0 valid and
    PASS; 1 invalid, or valid with verdict FAIL / COULD NOT RUN; 2 unreadable input."""
    from santong.conformance._signing import verify_bytes  # noqa: PLC0415

    try:
        data = args.report.read_bytes()
    except OSError as e:
        raise CommandError(
            f"无法读取报告 {args.report}：{e.strerror or e}，请检查路径",
            f"cannot read the report {args.report}: {e.strerror or e} — check the path",
        ) from e
    if args.trust is not None:
        return _with_trust(args, data)
    if args.root is not None:
        raise CommandError("--root 只与 --trust 一起使用", "--root goes with --trust LIST")
    trusted = None
    if args.public_key is not None:
        trusted = _key(args.public_key, "公钥", "public key")
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
    st = v.statement
    print(f"✔ 签名有效、内容完整 VALID SIGNATURE, report intact: {args.report}")
    _product_lines(v)
    print(
        f"  日期 Date:     {st['date']}"
        + (f"   签名到期 signed expiry {st['expires']}" if st.get("expires") else "")
    )
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
    _software_lines(st)
    verdict = st["verdict"]
    print(f"  结论 Verdict:  {VERDICT_TEXT.get(verdict, verdict)}")
    have = {x.get("sha256") for x in software(st)}
    missing = [d for d in args.expect_digest or [] if d not in have]
    if missing:
        print(
            f"✘ 产品摘要不符：{', '.join(missing)} 不在证书所覆盖的软件中，该设备运行的不是被认证的软件 / product digest "
            f"MISMATCH: {', '.join(missing)} is not among the software the certificate covers — the device does not "
            "run the certified software"
        )
        return FAIL
    print(
        "  未给信任列表：不能说明这是认证还是厂商自测；用 --trust LIST --root ROOT.pub 判断 / no trust list: this "
        "does not say whether it is a certification or a vendor self-test — use --trust LIST --root ROOT.pub"
    )
    return OK if verdict == PASS else FAIL
