"""`santong keys --name NAME --organisation ORG`: a named Ed25519 signing key in the user's state folder, made once
and reused; prints the public entry to add to a trust list. `santong keys --out DIR` writes a key pair into DIR.

Named keys live in ``state_dir()/keys`` (``$SANTONG_STATE_DIR`` → ``$XDG_STATE_HOME/santong`` →
``~/.local/state/santong``; folder 0700): ``NAME.key`` (0600), ``NAME.pub`` and ``NAME.entry.json`` (name,
organisation, public key, key ID — what `santong trust add --entry` takes). Never in the working tree.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
from pathlib import Path
from typing import Any

from santong._exit import OK, CommandError
from santong._paths import safe_name, state_dir


def add_arguments(p: argparse.ArgumentParser) -> None:
    """Arguments of `santong keys`."""
    p.add_argument(
        "--name",
        metavar="NAME",
        help="密钥名称（签署者名称）a name for the key (the signer's name); kept in the state folder and reused",
    )
    p.add_argument(
        "--organisation",
        "--organization",
        dest="organisation",
        metavar="ORG",
        help="所属机构 the signer's organisation (for the trust-list entry)",
    )
    p.add_argument(
        "--out",
        type=Path,
        metavar="DIR",
        help="改为写入此目录 write the key pair into this folder instead of the state folder",
    )
    p.add_argument("--force", action="store_true", help="覆盖已有密钥 replace an existing key pair")


def key_dir() -> Path:
    """The folder of named keys (not created here)."""
    return state_dir() / "keys"


def key_paths(name: str, folder: Path | None = None) -> tuple[Path, Path, Path]:
    """(private key, public key, entry) files of a named key."""
    stem = safe_name(name)
    if stem != name:  # 检测员甲 and 检测员乙 must not share a file
        stem = f"{stem}-{hashlib.sha256(name.encode('utf-8')).hexdigest()[:8]}"
    base = (folder or key_dir()) / stem
    return base.with_suffix(".key"), base.with_suffix(".pub"), base.with_name(base.name + ".entry.json")


def public_entry(name: str, organisation: str, public_key: Any) -> dict[str, str]:
    """The entry to add to a trust list (`santong trust add --entry`)."""
    from santong.conformance._signing import fingerprint, raw_public_hex  # noqa: PLC0415

    return {
        "name": name,
        "organisation": organisation,
        "public_key": raw_public_hex(public_key),
        "key_id": fingerprint(public_key),
    }


def ensure_named_key(
    name: str, organisation: str | None, folder: Path | None = None, *, force: bool = False
) -> tuple[Path, Path, dict[str, str], bool]:
    """The named key, made if missing (or if ``force``); (private, public, entry, made). CommandError (exit 2)
    when it cannot be written or read."""
    from santong.conformance._signing import load_private_key, write_key_pair  # noqa: PLC0415

    private, public, entry_file = key_paths(name, folder)
    made = force or not private.exists()
    try:
        private.parent.mkdir(parents=True, exist_ok=True)
        if folder is None:
            os.chmod(private.parent, 0o700)
        if made:
            if not organisation:
                raise CommandError(
                    f"新密钥 {name} 需要 --organisation（所属机构，写入信任列表条目）",
                    f"a new key {name} needs --organisation (the signer's organisation, for its trust-list entry)",
                )
            write_key_pair(private, public, force=force)
        key = load_private_key(private)
    except OSError as e:
        raise CommandError(
            f"无法写入或读取密钥 {private}：{e.strerror or e}，请检查状态目录的权限（或用 --out 指定目录）",
            f"cannot write or read the key {private}: {e.strerror or e} — check the state folder's rights "
            "(or choose a folder with --out)",
        ) from e
    except ValueError as e:
        raise CommandError(str(e)) from e
    old: dict[str, Any] = {}
    if entry_file.is_file() and not made:
        try:
            old = json.loads(entry_file.read_text(encoding="utf-8"))
        except (OSError, ValueError):
            old = {}
    org = organisation or str(old.get("organisation") or "")
    if not org:
        raise CommandError(
            f"密钥 {name} 没有记录所属机构，请加 --organisation",
            f"the key {name} has no organisation on record; add --organisation",
        )
    entry = public_entry(name, org, key.public_key())
    entry_file.write_text(json.dumps(entry, ensure_ascii=False, indent=2) + "\n", encoding="utf-8")
    return private, public, entry, made


def _legacy(args: argparse.Namespace) -> int:
    from santong.conformance._signing import PRIVATE_NAME, generate_key_pair  # noqa: PLC0415

    if (args.out / PRIVATE_NAME).exists() and not args.force:
        raise CommandError(
            f"{args.out / PRIVATE_NAME} 已存在，未覆盖；确需换新密钥请加 --force",
            f"{args.out / PRIVATE_NAME} already exists and was not overwritten; add --force to replace it",
        )
    try:
        private, public, fp = generate_key_pair(args.out, force=args.force)
    except OSError as e:
        raise CommandError(
            f"无法写入密钥到 {args.out}：{e.strerror or e}，请换一个可写的目录",
            f"cannot write the keys to {args.out}: {e.strerror or e} — choose a writable folder",
        ) from e
    print(f"私钥 private key: {private}  (权限 mode 0600 — 妥善保管 keep it secret)")
    print(
        f"公钥 public key:  {public}  (发给煤矿用于核验 give it to mines for `santong verify --public-key`)"
    )
    print(f"指纹 fingerprint: {fp}")
    return OK


def run(args: argparse.Namespace) -> int:
    """A named key (made once, then reused) or, with only --out, a key pair in that folder. Exit 0, or 2 (no
    --name and no --out, a new key without --organisation, key exists in --out, folder not writable)."""
    if args.name is None:
        if args.out is None:
            raise CommandError(
                "请给出 --name 名称 --organisation 机构（密钥存于状态目录并重复使用），或 --out 目录",
                "give --name NAME --organisation ORG (the key is kept in the state folder and reused), or --out DIR",
            )
        return _legacy(args)
    private, public, entry, made = ensure_named_key(args.name, args.organisation, args.out, force=args.force)
    state = "已生成 made" if made else "已存在，沿用 exists, reused"
    print(f"密钥 key {args.name}: {state}")
    print(f"私钥 private key: {private}  (权限 mode 0600 — 妥善保管 keep it secret; 用于 for certify --key)")
    print(f"公钥 public key:  {public}")
    print(f"指纹 fingerprint: {entry['key_id']}")
    _, _, entry_file = key_paths(args.name, args.out)
    print(
        f"信任列表条目 trust-list entry ({entry_file}) — 交给列表维护者 give it to the list's keeper: "
        f"santong trust add LIST --entry {entry_file} --role certifier|vendor"
    )
    print(json.dumps(entry, ensure_ascii=False))
    return OK
