"""`santong keys --out DIR`: make an Ed25519 signing key pair for certificates."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path


def add_arguments(p: argparse.ArgumentParser) -> None:
    """Arguments of `santong keys`."""
    p.add_argument("--out", type=Path, required=True, metavar="DIR", help="输出目录 folder for the key pair")
    p.add_argument("--force", action="store_true", help="覆盖已有密钥 overwrite an existing key pair")


def run(args: argparse.Namespace) -> int:
    """Write santong-signing.key (0600) and santong-signing.pub; print the fingerprint."""
    from santong.conformance._signing import PRIVATE_NAME, generate_key_pair  # noqa: PLC0415

    if (args.out / PRIVATE_NAME).exists() and not args.force:
        print(
            f"✘ {args.out / PRIVATE_NAME} 已存在，未覆盖（用 --force 覆盖）/ already exists, not overwritten "
            "(use --force)",
            file=sys.stderr,
        )
        return 1
    try:
        private, public, fp = generate_key_pair(args.out, force=args.force)
    except OSError as e:
        print(f"✘ 无法写入密钥 cannot write the keys: {e}", file=sys.stderr)
        return 1
    print(f"私钥 private key: {private}  (权限 mode 0600 — 妥善保管 keep it secret)")
    print(
        f"公钥 public key:  {public}  (发给煤矿用于核验 give it to mines for `santong verify --public-key`)"
    )
    print(f"指纹 fingerprint: {fp}")
    return 0
