"""The santong command line: one command, subcommands loaded lazily."""

from __future__ import annotations

import argparse
import importlib
import sys
from collections.abc import Sequence

# subcommand → (module, one-line help). Each module has add_arguments(parser) and run(args) -> int.
SUBCOMMANDS: dict[str, tuple[str, str]] = {
    "validate": (
        "santong._validate_cmd",
        "校验 JSON 报文与 MT/T 1201 文件 / validate JSON payloads and MT/T 1201 files",
    ),
    "demo": ("santong._demo", "演示：主流程 / the main job on the embedded default"),
    "keys": ("santong.conformance._keys_cmd", "生成签名密钥对 / make an Ed25519 key pair for certificates"),
    "verify": ("santong.conformance._verify_cmd", "离线核验签名报告 / verify a signed report offline"),
    "certify": ("santong.conformance._certify_cmd", "认证并签署报告 / certify a product, sign the report"),
    "mock": ("santong.mock_platform.cli", "模拟平台 / the mock platform (santong mock serve)"),
    "simulate": ("santong.adapters.simulators.cli", "设备模拟器 / device simulators"),
    "adapter": (
        "santong.adapters.cli",
        "适配器：运行、校验配置、列出类型 / adapters: run, check a configuration, list kinds",
    ),
}


def build_parser(command: str | None = None) -> argparse.ArgumentParser:
    """The argument parser; only the chosen subcommand's module is imported (heavy stacks stay unloaded)."""
    parser = argparse.ArgumentParser(
        prog="santong", description="三统一接口工具集 / 三统一 device-access interface toolkit"
    )
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    for name, (module, help_text) in SUBCOMMANDS.items():
        p = sub.add_parser(name, help=help_text, description=help_text)
        if name == command:
            mod = importlib.import_module(module)
            mod.add_arguments(p)
            p.set_defaults(_module=mod)
    return parser


def _command(argv: Sequence[str]) -> str | None:
    return next((a for a in argv if not a.startswith("-")), None)


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of the `santong` command."""
    argv = list(sys.argv[1:] if argv is None else argv)
    args = build_parser(_command(argv)).parse_args(argv)
    try:
        return int(args._module.run(args))
    except KeyboardInterrupt:
        print("已中断 / interrupted", file=sys.stderr)
        return 130


if __name__ == "__main__":
    sys.exit(main())
