"""`santong demo`: the main job on the embedded default — certify the reference product and verify the result.

1. ``santong keys``: the demo's root key and the demo lab's signing key, named keys in the user's state folder
   (``santong-demo-root``, ``santong-demo-lab``), made on the first run and reused afterwards, so that earlier demo
   reports keep verifying;
2. ``santong trust``: the demo's own trust list (``state_dir()/demo/trust-list.json``), signed by the demo root,
   listing the demo lab as a certifier; made once and reused while it still holds the lab's key;
3. ``santong certify``: the reference product (``conformance/products/kj-substation.manifest.yaml``: the Modbus
   simulator of a KJ substation behind the Modbus adapter) against the embedded mock platform, standard profile,
   signed with the demo lab's key, reports in ``demo-out/report``;
4. ``santong verify --trust --root``: the signed report, offline, against the demo trust list: who vouches for it.

``santong demo --validate-examples`` is the earlier demo: the bundled example payloads and files through the one
validation core (good examples pass, those under ``bad/`` fail with their clauses).

Reports are written under ``--out`` (default ``demo-out`` in the current folder), keys and the trust list in the
state folder; nothing goes into the source tree. Exit status: 0 DEMO OK; 1 a verdict or a verification not as expected; 2 the demo could not run (bad
option, no examples, a folder that cannot be written, certification COULD NOT RUN).
"""

from __future__ import annotations

import argparse
import shutil
from importlib import resources
from pathlib import Path

from santong._exit import FAIL, OK, USAGE, CommandError
from santong._paths import state_dir
from santong._validate_cmd import print_result, validate_file

REFERENCE = "kj-substation.manifest.yaml"
ROOT_KEY = "santong-demo-root"
LAB_KEY = "santong-demo-lab"
DEMO_ORG = "santong 演示 demo（非正式认证 not a real certification）"


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


def demo_trust_list() -> Path:
    """The demo's own trust list (in the state folder)."""
    return state_dir() / "demo" / "trust-list.json"


def _trust_list_usable(path: Path, root_pub: Path, lab_key_id: str) -> bool:
    """The demo list exists, is signed by the demo root and lists the demo lab, unrevoked, for a while yet."""
    import datetime as dt  # noqa: PLC0415

    from santong.conformance._signing import load_public_key, parse_utc  # noqa: PLC0415
    from santong.conformance._trust import TrustError, load_trust_list  # noqa: PLC0415

    if not path.is_file():
        return False
    try:
        tl = load_trust_list(path, load_public_key(root_pub))
    except (TrustError, ValueError, OSError):
        return False
    entry = tl.entry(lab_key_id)
    soon = dt.datetime.now(dt.UTC) + dt.timedelta(days=30)
    return entry is not None and tl.revocation(lab_key_id) is None and parse_utc(entry["valid_until"]) > soon


def _certify(args: argparse.Namespace) -> int:
    from santong.cli import main  # noqa: PLC0415
    from santong.conformance._keys_cmd import key_paths  # noqa: PLC0415

    out: Path = args.out
    report = out / "report"
    shutil.rmtree(report, ignore_errors=True)
    _say(
        "santong 演示 demo：认证参考产品（Modbus 模拟分站 + 适配器）并核验签名报告 / certify the reference product "
        "(a simulated Modbus substation behind the Modbus adapter) and verify the signed report\n"
    )
    _say(f"① santong keys --name {ROOT_KEY} / --name {LAB_KEY}（状态目录，重复使用 state folder, reused）")
    for name in (ROOT_KEY, LAB_KEY):
        if main(["keys", "--name", name, "--organisation", DEMO_ORG]) != 0:
            _say("演示失败 DEMO FAILED: 无法生成密钥 / could not make the key pair")
            return USAGE
    root_key, root_pub, _ = key_paths(ROOT_KEY)
    lab_key, _, lab_entry = key_paths(LAB_KEY)
    trust = demo_trust_list()
    from santong.conformance._signing import fingerprint, load_public_key  # noqa: PLC0415

    lab_id = fingerprint(load_public_key(lab_key))
    if _trust_list_usable(trust, root_pub, lab_id):
        _say(f"\n② 演示信任列表 demo trust list: {trust}（沿用 reused）")
    else:
        _say(f"\n② santong trust create/add/sign {trust}")
        trust.parent.mkdir(parents=True, exist_ok=True)
        steps = [
            ["trust", "create", str(trust), "--name", "santong 演示信任列表 demo trust list", "--force"],
            ["trust", "add", str(trust), "--entry", str(lab_entry), "--role", "certifier"],
            ["trust", "sign", str(trust), "--key", str(root_key)],
        ]
        if any(main(step) != 0 for step in steps):
            _say("演示失败 DEMO FAILED: 无法生成演示信任列表 / could not make the demo trust list")
            return USAGE
    manifest = reference_manifest()
    _say(f"\n③ santong certify --manifest {manifest} --profile {args.profile} --out {report} --key {lab_key}")
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
            str(lab_key),
        ]
    )
    signed = report / "report.json"
    if not signed.is_file():
        _say(f"\n演示失败 DEMO FAILED: 没有生成报告（certify 退出码 {certified}）/ no report was written")
        return USAGE
    _say(f"\n④ santong verify {signed} --trust {trust} --root {root_pub}")
    verified = main(["verify", str(signed), "--trust", str(trust), "--root", str(root_pub)])
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
    # examples/mt is the MT/T corpus: each folder has its own expected findings (expected.tsv, checked by
    # tests/adapters/test_mtfile_corpus.py), not a pass/fail verdict per file.
    files = sorted(
        p
        for p in folder.rglob("*")
        if p.suffix in (".json", ".jsonl", ".txt") and p.relative_to(folder).parts[0] != "mt"
    )
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
