"""`santong demo`: the main job on the embedded default — certify the reference product and verify the result.

1. ``santong keys``: a signing key pair made on the fly (``demo-out/keys``);
2. ``santong certify``: the reference product (``conformance/products/kj-substation.manifest.yaml``: the Modbus
   simulator of a KJ substation behind the Modbus adapter) against the embedded mock platform, standard profile,
   reports in ``demo-out/report``;
3. ``santong verify``: the signed report, offline, with the demo's public key; the verdict.

``santong demo --validate-examples`` is the earlier demo: the bundled example payloads and files through the one
validation core (good examples pass, those under ``bad/`` fail with their clauses).

Everything is written under ``--out`` (default ``demo-out`` in the current folder); nothing goes into the source
tree. Exit status: 0 DEMO OK; 1 a verdict or a verification not as expected; 2 the demo could not run (bad
option, no examples, a folder that cannot be written, certification COULD NOT RUN).
"""

from __future__ import annotations

import argparse
import shutil
from importlib import resources
from pathlib import Path

from santong._exit import FAIL, OK, USAGE, CommandError
from santong._validate_cmd import print_result, validate_file

REFERENCE = "kj-substation.manifest.yaml"


def add_arguments(p: argparse.ArgumentParser) -> None:
    """Arguments of `santong demo`."""
    p.add_argument(
        "--out", type=Path, default=Path("demo-out"), help="输出目录 output folder (default: demo-out)"
    )
    p.add_argument("--profile", default="standard", help="认证配置 profile (default: standard 标准)")
    p.add_argument(
        "--validate-examples",
        action="store_true",
        help="改为用校验核心检查内置示例 / instead, check the bundled examples with the validation core",
    )
    p.add_argument(
        "--examples", type=Path, help="示例目录 (--validate-examples) folder of examples (default: bundled)"
    )


def reference_manifest() -> Path:
    """The bundled manifest of the reference product."""
    return Path(str(resources.files("santong.conformance").joinpath("products", REFERENCE)))


def _say(text: str) -> None:
    print(text, flush=True)


def _certify(args: argparse.Namespace) -> int:
    from santong.cli import main  # noqa: PLC0415

    out: Path = args.out
    keys, report = out / "keys", out / "report"
    shutil.rmtree(keys, ignore_errors=True)
    shutil.rmtree(report, ignore_errors=True)
    _say(
        "santong 演示 demo：认证参考产品（Modbus 模拟分站 + 适配器）并核验签名报告 / certify the reference product "
        "(a simulated Modbus substation behind the Modbus adapter) and verify the signed report\n"
    )
    _say(f"① santong keys --out {keys}")
    if main(["keys", "--out", str(keys)]) != 0:
        _say("演示失败 DEMO FAILED: 无法生成密钥 / could not make the key pair")
        return USAGE
    manifest = reference_manifest()
    _say(f"\n② santong certify --manifest {manifest} --profile {args.profile} --out {report} --key …")
    certified = main(
        [
            "certify",
            "--manifest",
            str(manifest),
            "--profile",
            args.profile,
            "--out",
            str(report),
            "--key",
            str(keys / "santong-signing.key"),
        ]
    )
    signed = report / "report.json"
    if not signed.is_file():
        _say(f"\n演示失败 DEMO FAILED: 没有生成报告（certify 退出码 {certified}）/ no report was written")
        return USAGE
    _say(f"\n③ santong verify {signed} --public-key {keys / 'santong-signing.pub'}")
    verified = main(["verify", str(signed), "--public-key", str(keys / "santong-signing.pub")])
    _say("")
    if certified == 0 and verified == 0:
        _say(
            f"演示成功 DEMO OK: 参考产品通过 {args.profile} 认证，签名报告核验有效 / the reference product passed "
            f"the {args.profile} profile and the signed report verifies — {report / 'report.html'}"
        )
        return 0
    _say(
        f"演示失败 DEMO FAILED: 认证退出码 certify exit {certified}, 核验退出码 verify exit {verified} — "
        f"{report / 'pytest.log'}"
    )
    return USAGE if certified == USAGE else FAIL


def _validate_examples(args: argparse.Namespace) -> int:
    """Validate every bundled example; exit 0 when each verdict is the expected one."""
    folder = args.examples or Path(str(resources.files("santong.protocols").joinpath("examples")))
    if not folder.is_dir():
        raise CommandError(
            f"示例目录 {folder} 不存在，请检查 --examples",
            f"no such examples folder: {folder} — check --examples",
        )
    files = sorted(p for p in folder.rglob("*") if p.suffix in (".json", ".jsonl", ".txt"))
    if not files:
        raise CommandError(
            f"示例目录 {folder} 中没有 .json/.jsonl/.txt 文件，无可演示",
            f"no .json/.jsonl/.txt files in {folder}: nothing to check",
        )
    print(
        f"santong 演示 demo: 用校验核心检查 {len(files)} 个示例文件 / checking {len(files)} example files\n"
    )
    wrong = []
    for path in files:
        res = validate_file(path)
        expected_pass = "bad" not in path.relative_to(folder).parts
        print_result(res, strict=False)
        if res.passed != expected_pass:
            wrong.append(path.name)
            print(
                f"    ⚠ 预期{'通过' if expected_pass else '不通过'} / expected to {'pass' if expected_pass else 'fail'}"
            )
    print()
    if wrong:
        print(
            f"演示失败 DEMO FAILED: {len(wrong)} 个文件结论与预期不符 / verdicts not as expected: {', '.join(wrong)}"
        )
        return FAIL
    print(
        f"演示成功 DEMO OK: {len(files)} 个文件结论均符合预期（合格样例通过，问题样例被拒绝并指明条款）/ every verdict as expected"
    )
    return OK


def run(args: argparse.Namespace) -> int:
    """Certify and verify the reference product (default), or validate the bundled examples."""
    if args.validate_examples or args.examples is not None:
        return _validate_examples(args)
    return _certify(args)
