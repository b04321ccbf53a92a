"""`santong trust create|add|revoke|policy|sign|inspect LIST`: keep a trust list (conformance/README.md, "Trust").

Exit codes (santong._exit): 0 done; 1 `inspect --root`: the list is unsigned or not signed by that root (do not
use it); 2 usage or environment (file missing or malformed, list already exists, unknown key, bad date).
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
from pathlib import Path
from typing import Any

from santong._exit import FAIL, OK, CommandError

ROLES = ("certifier", "vendor")
REASONS = ("compromised", "retired")


def _time(text: str, *, end_of_day: bool = False) -> str:
    """YYYY-MM-DD or YYYY-MM-DDTHH:MM:SSZ → the canonical UTC text."""
    from santong.conformance._signing import parse_utc, utc_text  # noqa: PLC0415

    try:
        if len(text) == 10:
            day = dt.datetime.strptime(text, "%Y-%m-%d").replace(tzinfo=dt.UTC)
            return utc_text(day + (dt.timedelta(days=1, seconds=-1) if end_of_day else dt.timedelta()))
        return utc_text(parse_utc(text))
    except ValueError:
        raise argparse.ArgumentTypeError(
            f"日期须为 YYYY-MM-DD 或 YYYY-MM-DDTHH:MM:SSZ（UTC）/ a date is YYYY-MM-DD or YYYY-MM-DDTHH:MM:SSZ (UTC): {text!r}"
        ) from None


def _start(text: str) -> str:
    return _time(text)


def _end(text: str) -> str:
    return _time(text, end_of_day=True)


def _days(text: str) -> int:
    try:
        n = int(text)
    except ValueError:
        n = 0
    if n < 1:
        raise argparse.ArgumentTypeError(f"须为正整数（天）/ a positive number of days: {text!r}")
    return n


def _list_arg(text: str) -> list[str]:
    items = [t.strip() for t in text.split(",") if t.strip()]
    if not items:
        raise argparse.ArgumentTypeError(f"至少一项，逗号分隔 / one item or more, comma-separated: {text!r}")
    return items


def add_arguments(p: argparse.ArgumentParser) -> None:
    """Arguments of `santong trust`."""
    sub = p.add_subparsers(
        dest="trust_command", required=True, metavar="ACTION", title="操作 actions", parser_class=type(p)
    )
    c = sub.add_parser("create", help="新建空的信任列表（未签名）/ a new, empty, unsigned trust list")
    c.add_argument("list", type=Path, metavar="LIST")
    c.add_argument("--name", required=True, help="列表名称 the list's name")
    c.add_argument("--min-suite-version", default="0", metavar="V", help="最低可信套件版本 (default 0)")
    c.add_argument(
        "--lifetime-days", type=_days, default=365, metavar="N", help="证书有效期上限（天）(default 365)"
    )
    c.add_argument("--force", action="store_true", help="覆盖已有文件 overwrite an existing file")

    a = sub.add_parser("add", help="加入（或替换）签署者 / add (or replace) a signer")
    a.add_argument("list", type=Path, metavar="LIST")
    a.add_argument("--entry", type=Path, metavar="FILE", help="`santong keys` 给出的条目 the entry file")
    a.add_argument("--public-key", type=Path, metavar="PUB", help="或公钥文件 or a public key (PEM)")
    a.add_argument("--name", help="签署者名称 signer's name (with --public-key; overrides the entry's)")
    a.add_argument("--organisation", "--organization", dest="organisation", help="所属机构 organisation")
    a.add_argument("--role", required=True, choices=ROLES, help="certifier 认证机构 | vendor 厂商（自测）")
    a.add_argument(
        "--profiles", type=_list_arg, default=["*"], help="配置范围 profiles, comma-separated (default *)"
    )
    a.add_argument(
        "--product-classes", type=_list_arg, default=["*"], help="产品类别范围 product classes (default *)"
    )
    a.add_argument("--valid-from", type=_start, metavar="DATE", help="生效 (default: now)")
    a.add_argument("--valid-until", type=_end, metavar="DATE", help="失效 (default: 3 years on)")
    a.add_argument("--replace", action="store_true", help="替换同一密钥的条目 replace the key's entry")

    r = sub.add_parser("revoke", help="吊销密钥 / revoke a key")
    r.add_argument("list", type=Path, metavar="LIST")
    r.add_argument("--key-id", metavar="ID", help="密钥指纹 key ID (ed25519:…)")
    r.add_argument("--public-key", type=Path, metavar="PUB", help="或公钥文件 or its public key (PEM)")
    r.add_argument(
        "--reason",
        required=True,
        choices=REASONS,
        help="compromised 泄露（全部报告作废）| retired 停用（之前签署的仍有效）",
    )
    r.add_argument("--date", type=_start, metavar="DATE", help="自何时起 from when (default: now)")
    r.add_argument("--note", default="", help="说明 a note")

    pol = sub.add_parser("policy", help="修改最低套件版本、证书有效期上限 / set the list's policy")
    pol.add_argument("list", type=Path, metavar="LIST")
    pol.add_argument("--min-suite-version", metavar="V")
    pol.add_argument("--lifetime-days", type=_days, metavar="N")

    s = sub.add_parser("sign", help="用根密钥签署列表 / sign the list with the root key")
    s.add_argument("list", type=Path, metavar="LIST")
    s.add_argument("--key", type=Path, required=True, metavar="ROOT_KEY", help="根私钥 the root private key")

    i = sub.add_parser("inspect", help="显示列表并核验签名 / show the list, check its signature")
    i.add_argument("list", type=Path, metavar="LIST")
    i.add_argument("--root", type=Path, metavar="ROOT_PUB", help="根公钥 the root public key")


def _read(path: Path) -> dict[str, Any]:
    from santong.conformance._trust import TrustError, read_list_document  # noqa: PLC0415

    try:
        return read_list_document(path)
    except TrustError as e:
        raise CommandError(e.zh, e.en) from e


def _write(path: Path, doc: dict[str, Any]) -> None:
    from santong.conformance._trust import write_list  # noqa: PLC0415

    try:
        write_list(path, doc)
    except OSError as e:
        raise CommandError(
            f"无法写入 {path}：{e.strerror or e}", f"cannot write {path}: {e.strerror or e}"
        ) from e


def _public(path: Path) -> Any:
    from santong.conformance._signing import load_public_key  # noqa: PLC0415

    try:
        return load_public_key(path)
    except (OSError, ValueError) as e:
        raise CommandError(f"无法使用公钥 {path}：{e}", f"cannot use the public key {path}: {e}") from e


def _create(args: argparse.Namespace) -> int:
    from santong.conformance._trust import new_list  # noqa: PLC0415

    if args.list.exists() and not args.force:
        raise CommandError(
            f"{args.list} 已存在，未覆盖（加 --force 覆盖）",
            f"{args.list} exists; not overwritten (add --force)",
        )
    _write(
        args.list,
        new_list(args.name, min_suite_version=args.min_suite_version, lifetime_days=args.lifetime_days),
    )
    print(
        f"已新建信任列表 created trust list {args.list}（未签名 unsigned; 下一步 next: santong trust add / sign）"
    )
    return OK


def _entry(args: argparse.Namespace) -> dict[str, Any]:
    from santong.conformance._signing import fingerprint, public_key_from_hex, raw_public_hex  # noqa: PLC0415

    if (args.entry is None) == (args.public_key is None):
        raise CommandError(
            "请给出 --entry 条目文件 或 --public-key 公钥（二选一）",
            "give --entry FILE or --public-key PUB (one of them)",
        )
    if args.entry is not None:
        try:
            base = json.loads(args.entry.read_text(encoding="utf-8"))
            key = public_key_from_hex(base["public_key"])
        except (OSError, ValueError, KeyError, TypeError) as e:
            raise CommandError(
                f"无法使用条目 {args.entry}：{e}（应为 `santong keys` 写出的 *.entry.json）",
                f"cannot use the entry {args.entry}: {e} (expected the *.entry.json that `santong keys` wrote)",
            ) from e
    else:
        base, key = {}, _public(args.public_key)
    name, org = args.name or base.get("name"), args.organisation or base.get("organisation")
    if not name or not org:
        raise CommandError(
            "签署者须有名称和机构：请加 --name 与 --organisation", "a signer needs a name and an organisation"
        )
    return {"name": name, "organisation": org, "public_key": raw_public_hex(key), "key_id": fingerprint(key)}


def _add(args: argparse.Namespace) -> int:
    from santong.conformance._signing import utc_text  # noqa: PLC0415
    from santong.conformance._trust import changed  # noqa: PLC0415

    doc = _read(args.list)
    entry = _entry(args)
    now = dt.datetime.now(dt.UTC)
    entry |= {
        "role": args.role,
        "valid_from": args.valid_from or utc_text(now),
        "valid_until": args.valid_until or utc_text(now + dt.timedelta(days=3 * 365)),
        "scope": {"profiles": args.profiles, "product_classes": args.product_classes},
    }
    if entry["valid_until"] <= entry["valid_from"]:
        raise CommandError("--valid-until 须晚于 --valid-from", "--valid-until must be after --valid-from")
    certifiers = doc["list"]["certifiers"]
    same = [c for c in certifiers if c["key_id"] == entry["key_id"]]
    if same and not args.replace:
        raise CommandError(
            f"密钥 {entry['key_id']} 已在列表中（{same[0]['name']}）；加 --replace 替换",
            f"the key {entry['key_id']} is already listed ({same[0]['name']}); add --replace to replace it",
        )
    changed(doc)
    doc["list"]["certifiers"] = [c for c in certifiers if c["key_id"] != entry["key_id"]] + [entry]
    _write(args.list, doc)
    print(
        f"已加入 added {entry['name']}（{entry['organisation']}）{entry['role']} {entry['key_id']} → {args.list} "
        f"第 {doc['list']['version']} 版 version（未签名 unsigned: santong trust sign）"
    )
    return OK


def _revoke(args: argparse.Namespace) -> int:
    from santong.conformance._signing import fingerprint, utc_text  # noqa: PLC0415
    from santong.conformance._trust import changed  # noqa: PLC0415

    if (args.key_id is None) == (args.public_key is None):
        raise CommandError("请给出 --key-id 或 --public-key（二选一）", "give --key-id or --public-key (one)")
    key_id = args.key_id or fingerprint(_public(args.public_key))
    doc = _read(args.list)
    if not any(c["key_id"] == key_id for c in doc["list"]["certifiers"]):
        raise CommandError(
            f"列表中没有密钥 {key_id}（`santong trust inspect` 查看）",
            f"no key {key_id} in the list (see `santong trust inspect`)",
        )
    changed(doc)
    rev = {"key_id": key_id, "date": args.date or utc_text(dt.datetime.now(dt.UTC)), "reason": args.reason}
    if args.note:
        rev["note"] = args.note
    doc["list"]["revocations"].append(rev)
    _write(args.list, doc)
    print(
        f"已吊销 revoked {key_id}（{args.reason}，自 from {rev['date']}）→ {args.list} 第 {doc['list']['version']} 版 "
        "version（未签名 unsigned: santong trust sign）"
    )
    return OK


def _policy(args: argparse.Namespace) -> int:
    from santong.conformance._trust import changed  # noqa: PLC0415

    doc = _read(args.list)
    if args.min_suite_version is None and args.lifetime_days is None:
        raise CommandError(
            "请给出 --min-suite-version 或 --lifetime-days", "give --min-suite-version or --lifetime-days"
        )
    changed(doc)
    if args.min_suite_version is not None:
        doc["list"]["min_suite_version"] = args.min_suite_version
    if args.lifetime_days is not None:
        doc["list"]["certificate_lifetime_days"] = args.lifetime_days
    _write(args.list, doc)
    print(f"已修改策略 policy set → {args.list} 第 {doc['list']['version']} 版 version（未签名 unsigned）")
    return OK


def _sign(args: argparse.Namespace) -> int:
    from santong.conformance._signing import load_private_key  # noqa: PLC0415
    from santong.conformance._trust import sign_list  # noqa: PLC0415

    doc = _read(args.list)
    try:
        key = load_private_key(args.key)
    except ValueError as e:
        raise CommandError(str(e)) from e
    sign_list(doc, key)
    _write(args.list, doc)
    print(
        f"已签署 signed {args.list}: {doc['list']['name']} 第 {doc['list']['version']} 版 version, "
        f"{doc['list']['issued']}, 根密钥 root {doc['signature']['key_id']}"
    )
    print("  请另行公布根公钥 publish the root public key separately (mines pass it as --root)")
    return OK


def _inspect(args: argparse.Namespace) -> int:
    from santong.conformance._trust import TrustError, load_trust_list  # noqa: PLC0415

    doc = _read(args.list)
    lst = doc["list"]
    print(
        f"信任列表 Trust list: {lst['name']}  第 {lst['version']} 版 version  签发 issued {lst['issued'] or '—'}"
    )
    print(
        f"  最低套件版本 min suite version: {lst['min_suite_version']}   证书有效期上限 certificate lifetime: "
        f"{lst['certificate_lifetime_days']} 天 days"
    )
    for c in lst["certifiers"]:
        role = "认证机构 certifier" if c["role"] == "certifier" else "厂商（自测）vendor (self-test)"
        sc = c["scope"]
        print(
            f"  - {c['name']}（{c['organisation']}）{role} {c['key_id']}  {c['valid_from']} → {c['valid_until']}  "
            f"配置 profiles {','.join(sc['profiles'])}  类别 classes {','.join(sc['product_classes'])}"
        )
    for r in lst["revocations"]:
        print(f"  ✘ 吊销 revoked {r['key_id']} {r['reason']} {r['date']} {r.get('note', '')}".rstrip())
    sig = doc["signature"]
    print(f"  签名 signature: {'未签名 unsigned' if sig is None else '根密钥 root ' + sig['key_id']}")
    if args.root is None:
        return OK
    try:
        tl = load_trust_list(args.list, _public(args.root))
    except TrustError as e:
        print(f"✘ {e.zh} / {e.en}")
        return FAIL
    print(f"✔ 由给定根密钥签署 signed by the given root: {tl.root_key_id}")
    return OK


def run(args: argparse.Namespace) -> int:
    """Dispatch the trust action."""
    actions = {
        "create": _create,
        "add": _add,
        "revoke": _revoke,
        "policy": _policy,
        "sign": _sign,
        "inspect": _inspect,
    }
    return actions[args.trust_command](args)
