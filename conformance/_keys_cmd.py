"""`santong keys --out DIR`: make an Ed25519 signing key pair for certificates."""

from __future__ import annotations

import argparse
from pathlib import Path

from santong._exit import OK, CommandError


def add_arguments(p: argparse.ArgumentParser) -> None:
    """Arguments of `santong keys`."""
    p.add_argument("--out", type=Path, required=True, metavar="DIR", help="输出目录 folder for the key pair")
    p.add_argument("--force", action="store_true", help="覆盖已有密钥 overwrite an existing key pair")


def run(args: argparse.Namespace) -> int:
    """Write santong-signing.key (0600) and santong-signing.pub; print the fingerprint. Exit 0, or 2 (key exists,
    folder not writable)."""
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
