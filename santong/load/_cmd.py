"""``santong load SCENARIO --out DIR``: province-scale load on Locust, a verdict and an exit code.

Locust runs in its own processes (it monkey-patches with gevent): a standalone Locust, or a master and
``--workers N`` local workers, or (``--master`` / ``--worker``) parts of a run spread over several machines.
This process only prepares credentials, starts and waits for Locust, and judges the result:

- 0 PASS: every pass criterion of the scenario holds;
- 1 FAIL: a criterion fails (ack latency p50/p99, error rate, or — against the mock — the store does not hold
  exactly what was acknowledged);
- 2 usage or environment error, or the run could not happen (bad scenario, mock unreachable, Locust missing or
  failed, no result files).

Output (``--out``): ``locust.html``, ``locust_stats.csv`` and the other Locust CSVs, ``summary.json`` (the
verdict and its figures), and the Locust logs.
"""

from __future__ import annotations

import argparse
import json
import os
import socket
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

from santong._checks import int_range, port
from santong._exit import FAIL, OK, USAGE, CommandError

__all__ = ["add_arguments", "run"]

LOCUSTFILE = Path(__file__).resolve().with_name("locustfile.py")
RESULTS = "santong-results.json"  # written by the Locust file when the master (or standalone process) quits
EXTRA_WAIT_S = 120.0  # on top of ramp-up + duration + stop timeout before a Locust process counts as hung


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """Arguments of ``santong load``."""
    parser.add_argument(
        "scenario", nargs="?", type=Path, help="场景文件 YAML/JSON / scenario file (docs/load.md)"
    )
    parser.add_argument(
        "--out", type=Path, metavar="DIR", help="结果目录 / folder for the reports (required to run)"
    )
    parser.add_argument("--workers", metavar="N", type=int_range(0, 64), default=0,
                        help="本机 worker 进程数，0 单进程 / local Locust workers (0: one standalone process)")  # fmt: skip
    parser.add_argument("--master", action="store_true",
                        help="只做 master，等待其他机器的 worker / master only: wait for workers on other machines")  # fmt: skip
    parser.add_argument("--expect-workers", metavar="N", type=int_range(1, 10000), default=None,
                        help="--master 等待的 worker 数 / workers a --master waits for")  # fmt: skip
    parser.add_argument("--master-bind-host", metavar="HOST", default="127.0.0.1",
                        help="master 监听地址（多机时 0.0.0.0）/ master address (0.0.0.0 for other machines)")  # fmt: skip
    parser.add_argument("--master-port", metavar="PORT", type=port, default=0,
                        help="master 端口（默认空闲端口；多机常用 5557）/ master port (default: a free one; 5557 across machines)")  # fmt: skip
    parser.add_argument(
        "--worker", action="store_true", help="作为 worker 加入 master / join a master as a worker"
    )
    parser.add_argument(
        "--master-host",
        metavar="HOST",
        default=None,
        help="--worker 要加入的 master 地址 / the master a --worker joins",
    )
    parser.add_argument(
        "--schema", action="store_true", help="打印场景 JSON Schema / print the scenario JSON Schema"
    )


def _config(path: Path) -> Any:
    from santong.conformance._documents import ConfigError
    from santong.load._scenario import load_scenario

    try:
        return load_scenario(path)
    except ConfigError as e:
        raise CommandError(str(e)) from e


def _locust_available() -> None:
    import importlib.util

    if importlib.util.find_spec("locust") is None:
        raise CommandError(
            "santong load 需要 Locust：pip install 'santong[load]'",
            "santong load needs Locust: pip install 'santong[load]'",
        )


def _free_port(host: str) -> int:
    with socket.socket() as s:
        s.bind((host, 0))
        return int(s.getsockname()[1])


# ------------------------------------------------------------------------------------------- the mock platform


def _inspect(sc: Any, op: str, args: dict[str, Any] | None = None, client: Any = None) -> Any:
    """One operation of the mock's inspection API (GET without args, POST with); CommandError when it fails."""
    import httpx

    headers = {"x-santong-inspection-token": sc.inspection_token}
    url = f"{sc.inspection_url}/inspect/{op}"
    http = client or httpx
    try:
        if args is None:
            r = http.get(url, headers=headers, timeout=30)
        else:
            r = http.post(url, headers=headers, json=args, timeout=30)
    except httpx.HTTPError as e:
        raise CommandError(
            f"无法访问模拟平台检查接口 {url}：{e}；请确认 santong mock serve 在运行、target.mock.inspection_url 正确",
            f"cannot reach the mock's inspection API {url}: {e}; check that santong mock serve runs and "
            "target.mock.inspection_url is right",
        ) from e
    if r.status_code != 200:
        raise CommandError(
            f"模拟平台检查接口 {op} 返回 HTTP {r.status_code}：{r.text[:200]}（检查令牌是否正确？）",
            f"the mock's inspection API {op} answered HTTP {r.status_code}: {r.text[:200]} (right inspection token?)",
        )
    return r.json()


def _prepare_mock(sc: Any) -> dict[str, int]:
    """Credentials for every device (admin op add_device); the store's counts before the run."""
    import httpx

    from santong.load._devices import mock_token

    with httpx.Client() as client:  # one keep-alive connection for every device
        for i in range(sc.devices):
            device_id = sc.device_id(i)
            token = mock_token(sc.inspection_token, device_id)
            _inspect(sc, "add_device", {"device_id": device_id, "token": token}, client)
    counts: dict[str, int] = _inspect(sc, "counts")
    return counts


# ------------------------------------------------------------------------------------------- Locust processes


def _locust(*args: str) -> list[str]:
    return [sys.executable, "-m", "locust", "-f", str(LOCUSTFILE), "--skip-log-setup", *args]


def _env(sc: Any, out: Path | None) -> dict[str, str]:
    env = dict(os.environ)
    env["SANTONG_LOAD_SCENARIO"] = str(sc.path.resolve())
    if sc.inspection_token:
        env["SANTONG_INSPECTION_TOKEN"] = sc.inspection_token
    if out is not None:
        env["SANTONG_LOAD_OUT"] = str(out)
    return env


def _run_args(sc: Any, out: Path, master: bool) -> list[str]:
    """Locust's options for a standalone process or a master (a master ends the test itself: locustfile.py)."""
    stop_timeout = sc.timeout_s + sc.interval_s + 5
    run_time = [] if master else ["-t", f"{max(round(sc.ramp_up_s + sc.duration_s), 1)}s"]
    return [
        "--headless", "-u", str(sc.devices), "-r", f"{sc.spawn_rate:.3f}", *run_time,
        "--stop-timeout", f"{stop_timeout:.0f}", "--html", str(out / "locust.html"), "--only-summary",
        "--exit-code-on-error", "0",
    ]  # fmt: skip


def _wait(procs: list[subprocess.Popen[bytes]], deadline: float) -> None:
    """Wait for every process until the deadline; then stop the rest (ours only) and raise."""
    for p in procs:
        try:
            p.wait(max(deadline - time.monotonic(), 0.1))
        except subprocess.TimeoutExpired:
            for q in procs:
                if q.poll() is None:
                    q.kill()
                    q.wait()
            raise CommandError(
                "Locust 进程未在期限内结束，已终止；见 --out 中的日志",
                "a Locust process did not finish in time and was stopped; see the logs in --out",
            ) from None


def _start(cmd: list[str], env: dict[str, str], log: Path) -> subprocess.Popen[bytes]:
    with open(log, "wb") as f:
        return subprocess.Popen(cmd, env=env, stdout=f, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL)


def _run_locust(sc: Any, args: argparse.Namespace, out: Path) -> float:
    """Run the test (standalone, or a master and its workers); the wall seconds."""
    env = _env(sc, out)
    bound = sc.ramp_up_s + sc.duration_s + sc.timeout_s + sc.interval_s + 5 + EXTRA_WAIT_S
    t0 = time.monotonic()
    procs: list[subprocess.Popen[bytes]] = []
    try:
        if args.workers == 0 and not args.master:
            procs.append(_start(_locust(*_run_args(sc, out, False)), env, out / "locust.log"))
        else:
            host = args.master_bind_host
            mport = args.master_port or _free_port(host)
            expect = args.workers if not args.master else (args.expect_workers or 1)
            master = _locust(*_run_args(sc, out, True), "--master", "--master-bind-host", host, "--master-bind-port",
                             str(mport), "--expect-workers", str(expect), "--expect-workers-max-wait", "120")  # fmt: skip
            procs.append(_start(master, env, out / "master.log"))
            join = "127.0.0.1" if host in ("0.0.0.0", "::", "") else host
            for i in range(args.workers):
                worker = _locust("--worker", "--master-host", join, "--master-port", str(mport))
                procs.append(_start(worker, env, out / f"worker-{i + 1}.log"))
            if args.master:
                print(
                    f"master 等待 {expect} 个 worker / master waits for {expect} worker(s) on {host}:{mport}",
                    flush=True,
                )
        _wait(procs, t0 + bound + 120)
    finally:
        for p in procs:
            if p.poll() is None:
                p.kill()
                p.wait()
    return time.monotonic() - t0


# ------------------------------------------------------------------------------------------- the verdict


def _results(out: Path) -> dict[str, Any]:
    path = out / RESULTS
    if not path.is_file():
        raise CommandError(
            f"Locust 没有写出 {path}：测试未能正常结束，见 --out 中的日志",
            f"Locust wrote no {path}: the test did not end normally; see the logs in --out",
        )
    result: dict[str, Any] = json.loads(path.read_text(encoding="utf-8"))
    workers = result.get("workers", {})
    missing = int(workers.get("expected", 0)) - int(workers.get("reported", 0))
    if missing > 0:
        raise CommandError(
            f"{missing} 个 worker 未报告最终结果（崩溃或失联），无法判定；见 --out 中的日志",
            f"{missing} worker(s) sent no final results (crashed or lost), so the run cannot be judged; "
            "see the logs in --out",
        )
    return result


def judge(sc: Any, results: dict[str, Any], stored: dict[str, int] | None) -> dict[str, Any]:
    """The verdict of a run: each criterion with its figure, limit and outcome.

    ``results`` is what the Locust file wrote (``totals`` and final ``requests`` statistics by name);
    ``stored`` the batches and points the mock stored during the run (None: not checked)."""
    reqs, totals = results.get("requests", {}), results.get("totals", {})
    agg, obs = reqs.get("Aggregated", {}), reqs.get("ReportObservations", {})
    requests, failures = int(agg.get("num_requests", 0)), int(agg.get("num_failures", 0))
    error_rate = failures / requests if requests else 1.0
    checks: list[dict[str, Any]] = []

    def check(name: str, value: Any, limit: Any, ok: bool, zh: str, en: str) -> None:
        checks.append(
            {"criterion": name, "value": value, "limit": limit, "passed": bool(ok), "zh": zh, "en": en}
        )

    check("requests", requests, "> 0", requests > 0 and int(obs.get("num_requests", 0)) > 0,
          f"发出 {requests} 个请求", f"{requests} requests sent")  # fmt: skip
    check("error_rate", round(error_rate, 6), sc.max_error_rate, error_rate <= sc.max_error_rate,
          f"错误率 {failures}/{requests}", f"error rate {failures}/{requests}")  # fmt: skip
    for key, col, limit in (("ack_p50_ms", "p50_ms", sc.ack_p50_ms), ("ack_p99_ms", "p99_ms", sc.ack_p99_ms)):
        if limit is not None:
            v = obs.get(col)
            check(
                key,
                v,
                limit,
                v is not None and v <= limit,
                f"确认时延 {col} {v} ms",
                f"ack latency {col} {v} ms",
            )
    if stored is not None:
        b, p = stored["batches"], stored["points"]
        ab, ap = int(totals.get("batches_acked", 0)), int(totals.get("points_acked", 0))
        check("store_matches_acks", {"stored_batches": b, "acked_batches": ab, "stored_points": p, "acked_points": ap},
              "stored = acknowledged", b == ab and p == ap,
              f"存储 {b} 批 {p} 点，确认 {ab} 批 {ap} 点", f"stored {b} batches {p} points, acknowledged {ab} batches {ap} points")  # fmt: skip
    return {"verdict": "PASS" if all(c["passed"] for c in checks) else "FAIL", "checks": checks}


def _report(sc: Any, out: Path, result: dict[str, Any], figures: dict[str, Any]) -> None:
    print("─" * 72)
    print(f"结论 Verdict: {result['verdict']}  ({sc.name}: {sc.devices} devices × {sc.points_per_device} points / "
          f"{sc.interval_s:g} s, {sc.transport})")  # fmt: skip
    for c in result["checks"]:
        print(f"  {'✔' if c['passed'] else '✘'} {c['criterion']}: {c['zh']} / {c['en']} (limit {c['limit']})")
    print(f"  上报点速率 offered {figures['offered_points_per_s']:,.0f} points/s, "
          f"确认 acknowledged {figures['acked_points_per_s']:,.0f} points/s")  # fmt: skip
    print(f"报告 Reports: {out / 'summary.json'}, {out / 'locust.html'}, {out / 'locust_stats.csv'}")


def run(args: argparse.Namespace) -> int:
    """Run the subcommand; the exit code (0 PASS, 1 FAIL, 2 usage/environment/could not run)."""
    if args.schema:
        from santong.load._scenario import schema_json

        print(schema_json())
        return OK
    if args.scenario is None:
        raise CommandError("缺少场景文件 SCENARIO", "the scenario file SCENARIO is missing")
    sc = _config(args.scenario)
    _locust_available()
    if args.worker:
        if not args.master_host:
            raise CommandError("--worker 需要 --master-host", "--worker needs --master-host")
        cmd = _locust(
            "--worker", "--master-host", args.master_host, "--master-port", str(args.master_port or 5557)
        )
        return USAGE if subprocess.call(cmd, env=_env(sc, None)) not in (0, 1) else OK
    if args.out is None:
        raise CommandError("缺少 --out 结果目录", "--out DIR is missing (where the reports go)")
    if args.master and args.workers:
        raise CommandError("--master 与 --workers 不能同用", "--master and --workers do not go together")
    if sc.credentials_file is not None:
        from santong.conformance._documents import ConfigError
        from santong.load._scenario import load_credentials

        try:
            load_credentials(sc.credentials_file, [sc.device_id(i) for i in range(sc.devices)])
        except ConfigError as e:
            raise CommandError(str(e)) from e
    out = args.out.resolve()
    try:
        out.mkdir(parents=True, exist_ok=True)
    except OSError as e:
        raise CommandError(f"无法创建结果目录 {out}：{e}", f"cannot create the folder {out}: {e}") from e
    for name in (RESULTS, "locust_stats.csv", "summary.json"):
        (out / name).unlink(missing_ok=True)  # a previous run's files never pass for this one's
    before = _prepare_mock(sc) if sc.inspection_url else None
    wall = _run_locust(sc, args, out)
    results = _results(out)
    totals = results.get("totals", {})
    stored = None
    if before is not None:
        after = _inspect(sc, "counts")
        stored = {"batches": after["batches"] - before["batches"],
                  "points": after["observations"] - before["observations"]}  # fmt: skip
    result = judge(sc, results, stored if sc.store_matches_acks else None)
    obs = results.get("requests", {}).get("ReportObservations", {})
    figures = {
        "wall_s": round(wall, 1),
        "offered_points_per_s": round(sc.offered_points_per_s, 1),
        # acknowledged points over the window from the first to the last report (ramp-up included)
        "acked_points_per_s": round(
            int(totals.get("points_acked", 0)) / max(float(obs.get("window_s") or 0), 1e-9), 1
        ),
        "window_s": obs.get("window_s"),
        "devices_started": int(totals.get("devices_started", 0)),
        "reports": int(obs.get("num_requests", 0)),
        "ack_p50_ms": obs.get("p50_ms"),
        "ack_p99_ms": obs.get("p99_ms"),
        "totals": totals,
        "stored": stored,
    }
    summary = {"tool": "santong load", "scenario": sc.as_dict(), "verdict": result["verdict"],
               "checks": result["checks"], "figures": figures,
               "workers": args.workers if not args.master else args.expect_workers}  # fmt: skip
    (out / "summary.json").write_text(
        json.dumps(summary, ensure_ascii=False, indent=2) + "\n", encoding="utf-8"
    )
    _report(sc, out, result, figures)
    return OK if result["verdict"] == "PASS" else FAIL
