"""`santong certify --manifest M --profile P --out DIR`: run the suite in-process, then a clear verdict."""

from __future__ import annotations

import argparse
import contextlib
import io
import os
import sys
import traceback
from collections.abc import Iterator
from importlib import resources
from pathlib import Path
from typing import IO, TYPE_CHECKING

from santong.conformance._verdicts import COULD_NOT_RUN, FAIL, PASS, VERDICT_TEXT

from santong import _exit

if TYPE_CHECKING:
    from santong.conformance._progress import Progress

# The verdict → exit code of the one scheme (santong._exit): PASS 0, FAIL 1, COULD NOT RUN 2.
EXIT = {PASS: _exit.OK, FAIL: _exit.FAIL, COULD_NOT_RUN: _exit.USAGE}


def add_arguments(p: argparse.ArgumentParser) -> None:
    """Arguments of `santong certify`."""
    p.add_argument("--manifest", required=True, type=Path, metavar="FILE", help="产品声明 product manifest")
    p.add_argument(
        "--profile",
        required=True,
        metavar="NAME",
        help="认证配置 profile: basic 基础, standard 标准, full 完整, mine-acceptance, platform-regression",
    )
    p.add_argument("--out", required=True, type=Path, metavar="DIR", help="报告目录 folder for the reports")
    p.add_argument(
        "--target",
        choices=("embedded", "process", "container", "url"),
        help="平台 platform side (default embedded; url when --url is given)",
    )
    p.add_argument(
        "--url",
        metavar="URL",
        help="平台地址 platform URL: grpc(s)://host:port, and for the HTTP/JSON cases its http(s):// address after a "
        "comma (grpc://host:50051,http://host:8080)",
    )
    p.add_argument("--credentials", type=Path, metavar="FILE", help="平台凭据 credentials for --url")
    p.add_argument(
        "--key", type=Path, metavar="FILE", help="签名私钥 Ed25519 private key (default: ephemeral)"
    )
    p.add_argument("--waivers", type=Path, metavar="FILE", help="豁免清单 waiver file")
    p.add_argument(
        "--certificate",
        type=Path,
        action="append",
        metavar="REPORT",
        help="证书（签名报告 report.json，可多次，每个型号一个）：mine-acceptance 比对平台上各设备注册时上报的软件摘要 "
        "firmware_sha256 (ST-PROTO-038) / certificate (signed report.json, repeatable, one per model): "
        "mine-acceptance compares the software digest each device on the platform reported at Register",
    )
    p.add_argument(
        "--suite", type=Path, metavar="DIR", help=argparse.SUPPRESS
    )  # a different suite folder (tests)
    p.add_argument(
        "--coverage",
        choices=("selected", "all"),
        default="selected",
        help="HTML 报告中的 MUST 覆盖：所选配置（默认）或全部配置 / MUST coverage in the HTML report: the selected "
        "profile (default) or every profile of the product's class",
    )
    p.add_argument(
        "--profiles",
        type=Path,
        metavar="FILE",
        help="认证配置文件 profiles file (default: the bundled conformance/profiles.yaml)",
    )


def _suite_dir(args: argparse.Namespace) -> Path:
    return args.suite or Path(str(resources.files("santong.conformance").joinpath("suite")))


@contextlib.contextmanager
def _hermetic() -> Iterator[None]:
    """No auto-loaded third-party pytest plugins in a certification run: only santong's (given with -p)."""
    old = os.environ.get("PYTEST_DISABLE_PLUGIN_AUTOLOAD")
    os.environ["PYTEST_DISABLE_PLUGIN_AUTOLOAD"] = "1"
    try:
        yield
    finally:
        if old is None:
            os.environ.pop("PYTEST_DISABLE_PLUGIN_AUTOLOAD", None)
        else:
            os.environ["PYTEST_DISABLE_PLUGIN_AUTOLOAD"] = old


def _could_not_run(out: IO[str], reasons: list[str], log: Path | None = None) -> int:
    out.write("\n" + "─" * 72 + "\n")
    out.write(f"结论 Verdict: {VERDICT_TEXT[COULD_NOT_RUN]}\n")
    for r in reasons:
        out.write(f"  - {r}\n")
    if log is not None:
        out.write(f"  详情 details: {log}\n")
    out.flush()
    return EXIT[COULD_NOT_RUN]


def _final(out: IO[str], args: argparse.Namespace, prog: Progress, log: Path) -> int:
    assert prog.report is not None
    r = prog.report
    res = r["results"]
    v = res["verdict"]
    s = res["summary"]
    out.write("\n" + "─" * 72 + "\n")
    out.write(f"结论 Verdict: {VERDICT_TEXT[v]}\n")
    for reason in res["reasons"][:15]:
        out.write(f"  - {reason['zh']}\n    {reason['en']}\n")
    if len(res["reasons"]) > 15:
        out.write(f"  … +{len(res['reasons']) - 15}\n")
    p = r["product"]
    out.write(f"产品 Product: {p['vendor']} {p['model']} {p['version']} ({p['product_class']})\n")
    from santong.conformance._session import summary_lines  # noqa: PLC0415

    for line in summary_lines(res):
        out.write(line + "\n")
    out.write(
        f"用例 Cases: {s['passed']} 通过 passed, {s['failed']} 失败 failed, {s['error']} 无法运行 error, "
        f"{s['skipped']} 跳过 skipped, {s['waived']} 豁免 waived, {s['deselected']} 未选 deselected, "
        f"{s['warnings']} 警告 warnings\n"
    )
    out.write("报告 Reports:\n")
    for kind in ("json", "html", "junit"):
        if kind in prog.paths:
            out.write(f"  {prog.paths[kind]}\n")
    out.write(f"  {log}  (pytest 输出 output)\n")
    if prog.ephemeral:
        out.write(
            f"签名 Signed: {prog.key_id} — 临时密钥，只证明完整性；正式认证请用 `santong keys` 生成密钥并加 --key / "
            "ephemeral key, integrity only; for a real certificate make a key with `santong keys` and pass --key\n"
        )
    else:
        out.write(f"签名 Signed: {prog.key_id}\n")
    if "json" in prog.paths:
        out.write(f"核验 Verify: santong verify {prog.paths['json']}\n")
    out.flush()
    return EXIT[v]


def _certify(args: argparse.Namespace, out: IO[str]) -> int:
    import pytest  # noqa: PLC0415  (lazy: `santong --help` stays light)
    from santong.conformance._preflight import PreflightError, RunOptions, prepare  # noqa: PLC0415
    from santong.conformance._progress import Progress  # noqa: PLC0415
    from santong.conformance._signing import verify_bytes  # noqa: PLC0415

    out_dir: Path = args.out
    options = RunOptions(
        manifest=args.manifest,
        profile=args.profile,
        target=args.target,
        url=args.url,
        credentials=args.credentials,
        waivers=args.waivers,
        report_dir=out_dir,
        key=args.key,
        profiles=args.profiles,
        certificates=tuple(args.certificate or ()),
    )
    try:
        prepared = prepare(options)
    except PreflightError as e:
        return _could_not_run(
            out, ["无法开始运行，请先修正 / cannot start the run, fix these first:", *e.problems]
        )
    m, prof = prepared.manifest, prepared.profile
    out.write(
        f"santong certify — {m.identity.vendor} {m.identity.model} {m.identity.version} ({m.product_class})\n"
    )
    out.write(
        f"配置 Profile: {prof.name} {prof.name_zh} / {prof.name_en}（{len(prof.clause_ids)} 条款 clauses）· "
        f"目标 target: {prepared.target.kind} · 功能 features: {', '.join(sorted(m.features)) or '—'}\n"
    )
    if args.key is None:
        out.write(
            "未提供 --key：报告将用临时密钥签名（只证明完整性）/ no --key: the report will be signed with an "
            "ephemeral key (integrity only)\n"
        )
    suite = _suite_dir(args)
    ini = suite / "pytest.ini"
    pytest_args = [
        str(suite),
        *(["-c", str(ini)] if ini.is_file() else []),
        "--rootdir",
        str(suite),
        "-p",
        "no:cacheprovider",
        "-p",
        "santong.conformance.plugin",
        "--santong-manifest",
        str(args.manifest),
        "--santong-profile",
        prof.name,
        "--santong-target",
        prepared.target.kind,
        "--santong-report-dir",
        str(out_dir),
        "-rA",
        # No assertion rewriting: a failing case's message is its own text, never pytest's `assert 12 < 3` /
        # `where …` explanation with Python reprs (reports are read by mine engineers and certifiers).
        "--assert=plain",
    ]
    for flag, value in (
        ("--santong-url", args.url),
        ("--santong-credentials", args.credentials),
        ("--santong-key", args.key),
        ("--santong-waivers", args.waivers),
        ("--santong-profiles", args.profiles),
    ):
        if value is not None:
            pytest_args += [flag, str(value)]
    pytest_args += ["--santong-coverage", args.coverage]
    for cert in args.certificate or ():
        pytest_args += ["--santong-certificate", str(cert)]
    log = out_dir / "pytest.log"
    prog = Progress(out)
    with (
        log.open("w", encoding="utf-8") as f,
        contextlib.redirect_stdout(f),
        contextlib.redirect_stderr(f),
        _hermetic(),
    ):
        code = pytest.main(pytest_args, plugins=[prog])
    if prog.report is None:
        tail = [ln for ln in log.read_text(encoding="utf-8", errors="replace").splitlines() if ln.strip()][
            -8:
        ]
        return _could_not_run(out, [f"pytest 退出码 exit status {int(code)}", *tail], log)
    if "json" in prog.paths:
        check = verify_bytes(prog.paths["json"].read_bytes())
        if not check.valid:
            return _could_not_run(
                out,
                [
                    "写出的报告未通过自检 / the written report failed its own check",
                    *(f"{zh} / {en}" for zh, en in check.problems),
                ],
                log,
            )
    return _final(out, args, prog, log)


def run(args: argparse.Namespace) -> int:
    """Exit 0 PASS, 1 FAIL, 2 COULD NOT RUN — never a traceback, never a pass on error."""
    out = sys.stdout
    try:
        try:
            args.out.mkdir(parents=True, exist_ok=True)
        except OSError as e:
            return _could_not_run(out, [f"无法创建报告目录 cannot create the report folder {args.out}: {e}"])
        return _certify(args, out)
    except KeyboardInterrupt:
        raise
    except BaseException as e:  # noqa: BLE001  (the promise: a verdict, never a traceback)
        log = None
        with contextlib.suppress(OSError):
            log = args.out / "certify-error.log"
            buf = io.StringIO()
            traceback.print_exc(file=buf)
            log.write_text(buf.getvalue(), encoding="utf-8")
        return _could_not_run(out, [f"内部错误 internal error: {type(e).__name__}: {e}"], log)
