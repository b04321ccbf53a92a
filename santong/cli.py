"""The santong command line: one command, subcommands loaded lazily, one error convention (santong._exit)."""

from __future__ import annotations

import argparse
import importlib
import os
import re
import sys
import traceback
from collections.abc import Sequence
from typing import IO, Any, NoReturn

from santong._exit import INTERRUPTED, USAGE, CommandError, error

# subcommand → (module, one-line help). Each module has add_arguments(parser) and run(args) -> int.
SUBCOMMANDS: dict[str, tuple[str, str]] = {
    "validate": (
        "santong._validate_cmd",
        "校验 JSON 报文与 MT/T 1201 文件 / validate JSON payloads and MT/T 1201 files",
    ),
    "demo": ("santong._demo", "演示：主流程 / the main job on the embedded default"),
    "keys": ("santong.conformance._keys_cmd", "生成签名密钥对 / make an Ed25519 key pair for certificates"),
    "verify": ("santong.conformance._verify_cmd", "离线核验签名报告 / verify a signed report offline"),
    "trust": (
        "santong.conformance._trust_cmd",
        "信任列表：谁可为报告担保 / the trust list: who may vouch for a report",
    ),
    "certify": ("santong.conformance._certify_cmd", "认证并签署报告 / certify a product, sign the report"),
    "mock": ("santong.mock_platform.cli", "模拟平台 / the mock platform (santong mock serve)"),
    "simulate": ("santong.adapters.simulators.cli", "设备模拟器 / device simulators"),
    "adapter": (
        "santong.adapters.cli",
        "适配器：运行、校验配置、列出类型 / adapters: run, check a configuration, list kinds",
    ),
    "load": (
        "santong.load._cmd",
        "负载：Locust 省级规模设备负载与结论 / province-scale device load on Locust, a verdict",
    ),
}

EPILOG = (
    "退出码 exit codes: 0 成功/通过 success, PASS · 1 不符合或报告不可信 FAIL, untrusted report · "
    "2 用法或环境错误、无法运行 usage or environment error, COULD NOT RUN"
)

# argparse's English messages → Chinese (the English stays alongside).
_ZH: list[tuple[re.Pattern[str], str]] = [
    (re.compile(r"^the following arguments are required: (.*)$"), r"缺少必需的参数 \1"),
    (re.compile(r"^unrecognized arguments: (.*)$"), r"无法识别的参数 \1"),
    (re.compile(r"^one of the arguments (.*) is required$"), r"须给出其中一个参数 \1"),
    (re.compile(r"^ambiguous option: (\S+) could match (.*)$"), r"选项 \1 有歧义，可能是 \2"),
    (
        re.compile(r"^argument (\S+): invalid choice: (.*) \(choose from (.*)\)$"),
        r"参数 \1 的取值 \2 无效，可选 \3",
    ),
    (re.compile(r"^argument (\S+): invalid int value: (.*)$"), r"参数 \1 的值 \2 不是整数"),
    (re.compile(r"^argument (\S+): invalid float value: (.*)$"), r"参数 \1 的值 \2 不是数值"),
    (re.compile(r"^argument (\S+): invalid (\S+) value: (.*)$"), r"参数 \1 的值 \3 无效（\2）"),
    (re.compile(r"^argument (\S+): expected one argument$"), r"参数 \1 需要一个值"),
    (re.compile(r"^argument (\S+): expected at least one argument$"), r"参数 \1 至少需要一个值"),
    (re.compile(r"^argument (\S+): expected (\S+) arguments?$"), r"参数 \1 需要 \2 个值"),
    (re.compile(r"^argument (\S+): not allowed with argument (\S+)$"), r"参数 \1 不能与 \2 同时使用"),
    (re.compile(r"^argument (\S+): ignored explicit argument (.*)$"), r"参数 \1 不接受值 \2"),
    (re.compile(r"^argument (\S+): (.* / .*)$"), r"参数 \1：\2"),  # an ArgumentTypeError, already bilingual
]


def bilingual(message: str) -> tuple[str, str]:
    """An argparse error message as (Chinese, English)."""
    for pattern, zh in _ZH:
        if pattern.match(message):
            text = pattern.sub(zh, message)
            if " / " in message:  # the type's own message is bilingual: say it once
                return text, ""
            return text, message
    return "命令行参数有误", message


class SantongParser(argparse.ArgumentParser):
    """argparse with bilingual errors, help and headings; errors print this (sub)command's usage and exit 2."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        add_help = kwargs.pop("add_help", True)
        kwargs.setdefault("epilog", EPILOG)
        kwargs["add_help"] = False  # our own -h, with bilingual help
        super().__init__(*args, **kwargs)
        self._positionals.title = "位置参数 positional arguments"
        self._optionals.title = "选项 options"
        if add_help:
            self.add_argument(
                "-h",
                "--help",
                action="help",
                default=argparse.SUPPRESS,
                help="显示帮助并退出 / show this help",
            )

    def format_usage(self) -> str:
        return "用法 " + super().format_usage()

    def format_help(self) -> str:
        return "用法 " + super().format_help()

    def error(self, message: str) -> NoReturn:
        self.print_usage(sys.stderr)
        zh, en = bilingual(message)
        text = f"{zh} / {en}" if en else zh
        self.exit(USAGE, f"✘ 错误 error: {text}（`{self.prog} -h` 查看用法 / see `{self.prog} -h`）\n")

    def parse_known_args(  # type: ignore[override]
        self, args: Sequence[str] | None = None, namespace: argparse.Namespace | None = None
    ) -> tuple[argparse.Namespace, list[str]]:
        ns, extras = super().parse_known_args(args, namespace)
        if not hasattr(ns, "_parser"):
            ns._parser = (
                self  # the innermost (sub)command parser: unrecognized arguments are reported with its usage
            )
        return ns, extras

    def parse_args(  # type: ignore[override]
        self, args: Sequence[str] | None = None, namespace: argparse.Namespace | None = None
    ) -> argparse.Namespace:
        ns, extras = self.parse_known_args(args, namespace)
        if extras:
            getattr(ns, "_parser", self).error(f"unrecognized arguments: {' '.join(extras)}")
        return ns


def build_parser(command: str | None = None) -> argparse.ArgumentParser:
    """The argument parser; only the chosen subcommand's module is imported (heavy stacks stay unloaded)."""
    parser = SantongParser(
        prog="santong", description="三统一接口工具集 / 三统一 device-access interface toolkit"
    )
    parser.add_argument(
        "--debug",
        action="store_true",
        help="出错时显示完整的 Python 调用栈 / show the full Python traceback on errors",
    )
    sub = parser.add_subparsers(
        dest="command", required=True, metavar="COMMAND", title="命令 commands", parser_class=SantongParser
    )
    for name, (module, help_text) in SUBCOMMANDS.items():
        p = sub.add_parser(name, help=help_text, description=help_text)
        if name == command:
            mod = importlib.import_module(module)
            mod.add_arguments(p)
            p.set_defaults(_module=mod)
    return parser


def _command(argv: Sequence[str]) -> str | None:
    return next((a for a in argv if not a.startswith("-")), None)


def _quiet_broken_pipe() -> int:
    """The reader of our output went away (``santong validate --json | head``): stop quietly."""
    try:
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())  # no second BrokenPipeError when Python flushes at exit
    except (OSError, ValueError):
        pass
    return USAGE


def _code(e: SystemExit, default: int) -> int:
    if e.code is None:
        return 0
    if isinstance(e.code, int):
        return e.code
    print(e.code, file=sys.stderr)
    return default


def _internal(e: BaseException, debug: bool, stream: IO[str]) -> int:
    if debug:
        traceback.print_exception(e, file=stream)
    return error(
        f"内部错误 {type(e).__name__}: {e}（加 --debug 查看调用栈，并请报告此问题）",
        f"internal error {type(e).__name__}: {e} (rerun with `santong --debug …` for the traceback; please report it)",
        stream=stream,
    )


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of the `santong` command; the exit code (see santong._exit)."""
    argv = list(sys.argv[1:] if argv is None else argv)
    debug = "--debug" in argv  # global: accepted before or after the subcommand
    argv = [a for a in argv if a != "--debug"]
    try:
        args = build_parser(_command(argv)).parse_args(argv)
    except SystemExit as e:  # -h, or a usage error already printed
        return _code(e, USAGE)
    except BrokenPipeError:
        return _quiet_broken_pipe()
    args.debug = debug
    try:
        code = int(args._module.run(args))
        sys.stdout.flush()  # a closed pipe shows here, not as "Exception ignored" at interpreter exit
        return code
    except CommandError as e:
        if args.debug:
            traceback.print_exc()
        return e.report()
    except KeyboardInterrupt:
        print("已中断 / interrupted", file=sys.stderr)
        return INTERRUPTED
    except BrokenPipeError:
        return _quiet_broken_pipe()
    except SystemExit as e:
        return _code(e, USAGE)
    except Exception as e:  # noqa: BLE001  (the promise: a message, never a traceback unless --debug)
        return _internal(e, args.debug, sys.stderr)


if __name__ == "__main__":
    sys.exit(main())
