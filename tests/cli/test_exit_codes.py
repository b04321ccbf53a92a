"""One error convention for every command (santong._exit): each exit path, triggered by the bad input that causes it.

0 success/PASS · 1 FAIL or a report that must not be trusted · 2 usage/environment error or COULD NOT RUN; one
bilingual line on standard error, the usage of the (sub)command for argparse errors, no traceback without --debug.
Every case runs the real `santong` in a subprocess.
"""

from __future__ import annotations

import os
import socket
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
EX = ROOT / "protocols" / "examples"
BAD = EX / "bad" / "unit.DefinePointsRequest.json"


def santong(
    *args: str, cwd: Path | None = None, timeout: float = 60, state: Path | None = None
) -> subprocess.CompletedProcess[str]:
    """The real command; ``state``: its state folder (SANTONG_STATE_DIR), so that nothing lands in the user's."""
    env = {**os.environ, "PYTHONDONTWRITEBYTECODE": "1"}
    if state is not None:
        env["SANTONG_STATE_DIR"] = str(state)
    return subprocess.run(
        [sys.executable, "-m", "santong", *args],
        capture_output=True,
        text=True,
        cwd=cwd or ROOT,
        timeout=timeout,
        env=env,
    )


def one_error(r: subprocess.CompletedProcess[str], *needles: str) -> None:
    """Exit 2, the bilingual error line naming every needle, and no traceback."""
    assert r.returncode == 2, (r.returncode, r.stdout, r.stderr)
    assert "Traceback" not in r.stderr and "Traceback" not in r.stdout, r.stderr
    lines = [ln for ln in r.stderr.splitlines() if ln.startswith("✘ 错误 error:")]
    assert len(lines) == 1, r.stderr
    assert " / " in lines[0], lines[0]  # Chinese / English
    for n in needles:
        assert n in lines[0], (n, lines[0])


@pytest.fixture
def held_port() -> Iterator[int]:
    """A port some other socket listens on."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        s.listen()
        yield s.getsockname()[1]


@pytest.fixture
def dead_port() -> int:
    """A port nothing listens on (bound, then closed)."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


# ------------------------------------------------------------------------------------------------ argparse, global


def test_usage_error_is_bilingual_with_the_subcommand_usage() -> None:
    r = santong("validate")
    one_error(r, "缺少必需的参数 FILE", "the following arguments are required: FILE")
    assert "用法 usage: santong validate" in r.stderr


def test_unrecognized_argument_shows_the_subcommand_usage_not_the_top_level() -> None:
    r = santong("validate", "--bogus", str(BAD))
    one_error(r, "无法识别的参数 --bogus", "unrecognized arguments: --bogus")
    assert "用法 usage: santong validate" in r.stderr


def test_nested_subcommand_bad_value() -> None:
    r = santong("mock", "serve", "--grpc-port", "x")
    one_error(r, "应为整数", "expected an integer, got 'x'")
    assert "用法 usage: santong mock serve" in r.stderr
    r = santong("simulate", "modbus", "--seed", "x")  # argparse's own message, translated
    one_error(r, "不是整数", "invalid int value: 'x'")
    assert "用法 usage: santong simulate modbus" in r.stderr
    one_error(santong("mock", "serve", "--db"), "需要一个值", "expected one argument")


def test_unknown_command_shows_top_level_usage() -> None:
    r = santong("nosuch")
    one_error(r, "'nosuch'", "invalid choice")
    assert "用法 usage: santong [-h]" in r.stderr


def test_type_error_message_of_an_option_is_said_once() -> None:
    r = santong("simulate", "modbus", "--duration", "0")
    one_error(r, "--duration", "the duration must be > 0")


@pytest.mark.parametrize(
    "argv, needle",
    [
        (("mock", "serve", "--grpc-port", "70000"), "must be from 0 to 65535"),
        (("mock", "serve", "--http-port", "-2"), "must be from -1 to 65535"),
        (("mock", "serve", "--heartbeat-interval-ms", "-5"), "--heartbeat-interval-ms"),
        (("mock", "serve", "--log-level", "nope"), "invalid choice: 'NOPE'"),
        (("simulate", "modbus", "--unit-id", "999"), "must be from 0 to 247"),
        (("simulate", "opcua", "--port", "65536"), "must be from 0 to 65535"),
    ],
)
def test_out_of_range_options_are_usage_errors(argv: tuple[str, ...], needle: str) -> None:
    one_error(santong(*argv), needle)


def test_help_exits_0_and_documents_the_exit_codes() -> None:
    r = santong("validate", "-h")
    assert r.returncode == 0 and "退出码 exit codes" in r.stdout and "显示帮助" in r.stdout


def test_no_traceback_unless_debug(tmp_path: Path) -> None:
    missing = tmp_path / "missing.json"
    assert "Traceback" not in santong("validate", str(missing)).stderr
    for argv in (("--debug", "validate", str(missing)), ("validate", str(missing), "--debug")):
        r = santong(*argv)
        assert r.returncode == 2 and "Traceback" in r.stderr and "file not found" in r.stderr


def test_broken_pipe_is_quiet() -> None:
    """`santong validate --json … | head`: the reader goes away early; no traceback, no 'Exception ignored'."""
    proc = subprocess.Popen(
        [sys.executable, "-m", "santong", "validate", "--json", *[str(BAD)] * 400],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        cwd=ROOT,
    )
    assert proc.stdout is not None and proc.stderr is not None
    proc.stdout.read(64)
    proc.stdout.close()
    err = proc.stderr.read().decode()
    assert proc.wait(60) == 2
    assert "Traceback" not in err and "Exception ignored" not in err and "BrokenPipe" not in err, err


def test_output_closed_before_the_first_line_is_quiet() -> None:
    """A short output into a pipe already closed (flushed at exit): still no traceback, no 'Exception ignored'."""
    buffered = {k: v for k, v in os.environ.items() if k != "PYTHONUNBUFFERED"}  # output held until exit
    proc = subprocess.Popen(
        [sys.executable, "-m", "santong", "validate", str(BAD)],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        cwd=ROOT,
        env=buffered,
    )
    assert proc.stdout is not None and proc.stderr is not None
    proc.stdout.close()  # before the interpreter has even imported santong
    err = proc.stderr.read().decode()
    assert proc.wait(60) == 2
    assert "Traceback" not in err and "Exception ignored" not in err, err


# ------------------------------------------------------------------------------------------------------- validate


def test_validate_missing_file_is_a_usage_error_naming_it(tmp_path: Path) -> None:
    missing = tmp_path / "nosuch.ObservationBatch.json"
    r = santong("validate", str(missing), str(BAD))
    one_error(r, str(missing), "file not found", "找不到文件")
    assert "不通过 FAIL" not in r.stdout and "Errno" not in r.stderr


def test_validate_folder_without_mt_files_is_a_usage_error(tmp_path: Path) -> None:
    (tmp_path / "notes.json").write_text("{}")
    one_error(santong("validate", str(tmp_path)), "no MT/T 1201 files", "没有 MT/T 1201 文件")


def test_validate_unknown_type_option(tmp_path: Path) -> None:
    one_error(
        santong("validate", "--type", "NoSuchMessage", str(BAD)), "NoSuchMessage", "unknown message type"
    )


def test_validate_unsupported_kind_could_not_be_checked(tmp_path: Path) -> None:
    f = tmp_path / "data.csv"
    f.write_text("a,b\n")
    r = santong("validate", str(f))
    one_error(r, "could not be checked")
    assert "无法校验 NOT CHECKED" in r.stdout and "unsupported file kind" in r.stdout


def test_validate_verdicts_0_and_1() -> None:
    assert santong("validate", str(EX / "reference-session.jsonl")).returncode == 0
    r = santong("validate", str(BAD))
    assert r.returncode == 1 and "不通过 FAIL" in r.stdout and r.stderr == ""


# ----------------------------------------------------------------------------------------------------------- demo


def test_demo_with_a_missing_examples_folder_fails(tmp_path: Path) -> None:
    r = santong("demo", "--validate-examples", "--examples", str(tmp_path / "nosuch"))
    one_error(r, "nosuch", "no such examples folder")
    assert "DEMO OK" not in r.stdout


def test_demo_with_no_example_files_fails(tmp_path: Path) -> None:
    r = santong("demo", "--validate-examples", "--examples", str(tmp_path))
    one_error(r, "nothing to check")
    assert "DEMO OK" not in r.stdout


def test_demo_whose_out_is_a_file_cannot_run(tmp_path: Path) -> None:
    blocker = tmp_path / "out"
    blocker.write_text("a file, not a folder")
    r = santong("demo", "--out", str(blocker), state=tmp_path / "state")
    assert r.returncode == 2 and "DEMO FAILED" in r.stdout and "Traceback" not in r.stderr + r.stdout


def test_demo_whose_certification_cannot_run_is_2(tmp_path: Path) -> None:
    r = santong("demo", "--profile", "nosuch", "--out", str(tmp_path / "out"), state=tmp_path / "state")
    assert r.returncode == 2 and "COULD NOT RUN" in r.stdout and "DEMO FAILED" in r.stdout
    assert "DEMO OK" not in r.stdout and "Traceback" not in r.stdout + r.stderr


# ------------------------------------------------------------------------------------------------- keys and verify


def test_keys_refuses_to_overwrite_and_reports_unwritable(tmp_path: Path) -> None:
    assert santong("keys", "--out", str(tmp_path / "k")).returncode == 0
    one_error(santong("keys", "--out", str(tmp_path / "k")), "--force", "already exists")
    blocker = tmp_path / "file"
    blocker.write_text("x")
    one_error(santong("keys", "--out", str(blocker / "k")), "cannot write the keys")


@pytest.fixture(scope="module")
def signed(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path, Path]:
    """A signed report (PASS) with its key pair, made through the real commands' library."""
    from santong.conformance._signing import generate_key_pair, load_private_key, sign_report

    d = tmp_path_factory.mktemp("signed")
    private, public, _ = generate_key_pair(d / "keys")
    report = {
        "report_version": 1,
        "product": {"vendor": "V", "model": "M", "version": "1", "serial": "S", "device_id": "D-1",
                    "mine_code": "140421000001", "product_class": "safety_monitoring", "transport": "grpc"},
        "manifest": {"document": {"manifest_version": 1}, "file": "m.yaml", "file_sha256": "0" * 64},
        "profile": {"name": "standard", "clauses": []},
        "versions": {"santong": "0.1.0", "suite": "0.1.0", "suite_digest": "ab" * 32, "spec": "1.0"},
        "environment": {"python": "3.11"},
        "run": {"started_at": "2025-01-15T02:30:00Z", "duration_s": 1.0},
        "results": {"verdict": "PASS", "reasons": [], "cases": []},
    }  # fmt: skip
    data = sign_report(report, load_private_key(private))
    (d / "report.json").write_bytes(data)
    return d / "report.json", private, public


def test_verify_missing_report(tmp_path: Path) -> None:
    one_error(santong("verify", str(tmp_path / "missing.json")), "missing.json", "cannot read the report")


def test_verify_refuses_a_private_key_as_public_key(signed: tuple[Path, Path, Path]) -> None:
    report, private, _ = signed
    r = santong("verify", str(report), "--public-key", str(private))
    one_error(r, "私钥", "is a private key, not a public key")
    assert "VALID" not in r.stdout


def test_verify_bad_or_missing_public_key(signed: tuple[Path, Path, Path], tmp_path: Path) -> None:
    report, _, _ = signed
    garbage = tmp_path / "g.pub"
    garbage.write_text("not a key")
    one_error(santong("verify", str(report), "--public-key", str(garbage)), "cannot use the public key")
    one_error(
        santong("verify", str(report), "--public-key", str(tmp_path / "no.pub")), "cannot read the public key"
    )


def test_verify_untrusted_report_is_1(signed: tuple[Path, Path, Path], tmp_path: Path) -> None:
    report, _, public = signed
    data = bytearray(report.read_bytes())
    data[len(data) // 2] ^= 0x04
    altered = tmp_path / "altered.json"
    altered.write_bytes(bytes(data))
    r = santong("verify", str(altered), "--public-key", str(public))
    assert r.returncode == 1 and "INVALID REPORT" in r.stdout


# ---------------------------------------------------------------------------------------------------- mock serve


def serve(*extra: str) -> subprocess.CompletedProcess[str]:
    return santong("mock", "serve", "--grpc-port", "0", "--http-port", "-1", *extra, timeout=60)


@pytest.mark.parametrize(
    "content, needle",
    [("{not json", "not valid JSON"), ('{"steps": [{"op": "nosuch"}]}', "invalid fault plan")],
)
def test_mock_bad_fault_plan(tmp_path: Path, content: str, needle: str) -> None:
    plan = tmp_path / "plan.json"
    plan.write_text(content)
    r = serve("--fault-plan", str(plan))
    one_error(r, needle, str(plan))
    assert r.stdout == ""  # no ready line: it never served


def test_mock_missing_fault_plan(tmp_path: Path) -> None:
    one_error(serve("--fault-plan", str(tmp_path / "nope.json")), "cannot read the fault plan", "nope.json")


def test_mock_bad_tls_files(tmp_path: Path) -> None:
    from santong.mock_platform.pki import make_pki

    garbage = tmp_path / "garbage.pem"
    garbage.write_text("garbage")
    one_error(serve("--tls-cert", str(garbage), "--tls-key", str(garbage)), "not a PEM certificate")
    files = make_pki().write(tmp_path / "pki")
    other = make_pki().write(tmp_path / "other")
    one_error(serve("--tls-cert", str(files["server_cert"]), "--tls-key", str(garbage)), "private key")
    one_error(
        serve("--tls-cert", str(files["server_cert"]), "--tls-key", str(other["server_key"])),
        "does not belong to the certificate",
    )
    one_error(
        serve("--tls-cert", str(tmp_path / "no.pem"), "--tls-key", str(garbage)), "cannot read", "no.pem"
    )
    one_error(serve("--tls-cert", str(files["server_cert"])), "go together")


@pytest.mark.parametrize("where", ["folder", "missing-folder", "not-a-database"])
def test_mock_database_it_cannot_open(tmp_path: Path, where: str) -> None:
    db = {
        "folder": tmp_path,
        "missing-folder": tmp_path / "no" / "m.db",
        "not-a-database": tmp_path / "x.db",
    }[where]
    if where == "not-a-database":
        db.write_text("this is not SQLite, this is text that is long enough to have a header" * 4)
    one_error(serve("--db", str(db)), "cannot open the database", str(db))


def test_mock_address_it_cannot_bind(held_port: int) -> None:
    one_error(serve("--grpc-port", str(held_port)), "cannot listen", str(held_port), "--grpc-port")
    r = santong("mock", "serve", "--grpc-port", "0", "--http-port", str(held_port))
    one_error(r, "cannot listen", "HTTP", "--http-port")
    one_error(
        serve("--host", "192.0.2.1", "--insecure"), "cannot listen", "192.0.2.1"
    )  # TEST-NET-1: not an address of ours (--insecure: past the plain-text refusal, to the bind)
    one_error(serve("--host", "192.0.2.1"), "--insecure", "TLS")  # refused before any bind


# ------------------------------------------------------------------------------------------------------- simulate


def test_simulate_mqtt_broker_that_is_not_there(dead_port: int) -> None:
    r = santong("simulate", "mqtt", "--broker", f"127.0.0.1:{dead_port}", "--duration", "2s")
    one_error(r, "MQTT broker", f"127.0.0.1:{dead_port}", "--broker")
    assert r.stdout == ""


def test_simulate_port_it_cannot_bind(held_port: int) -> None:
    r = santong("simulate", "modbus", "--port", str(held_port), "--duration", "1s")
    one_error(r, "cannot listen", str(held_port))


def test_simulate_unknown_profile_and_scenario() -> None:
    one_error(santong("simulate", "modbus", "--profile", "nosuch", "--duration", "1s"), "nosuch")
    one_error(santong("simulate", "modbus", "--scenario", "nosuch", "--duration", "1s"), "nosuch")


def test_simulate_mtfile_unwritable_out(tmp_path: Path) -> None:
    blocker = tmp_path / "file"
    blocker.write_text("x")
    r = santong("simulate", "mtfile", "--out", str(blocker / "sub"), "--count", "1")
    one_error(r, "simulator cannot run")


# -------------------------------------------------------------------------------------------------------- adapter


def test_adapter_config_that_does_not_exist() -> None:
    one_error(santong("adapter", "check", "nosuch"), "nosuch", "kj-substation")
    one_error(santong("adapter", "run", "nosuch"), "nosuch", "bundled")


def test_adapter_bad_options(tmp_path: Path) -> None:
    one_error(santong("adapter", "run", "kj-substation", "--set", "x"), "KEY=VALUE")
    r = santong(
        "adapter", "run", "kj-substation", "--platform", "grpc://127.0.0.1", "--state-dir", str(tmp_path)
    )
    assert r.returncode == 2 and "has no port" in r.stderr and "Traceback" not in r.stderr


def test_adapter_state_folder_it_cannot_create(tmp_path: Path) -> None:
    blocker = tmp_path / "file"
    blocker.write_text("x")
    r = santong(
        "adapter",
        "run",
        "kj-substation",
        "--platform",
        "grpc://127.0.0.1:1",
        "--state-dir",
        str(blocker / "s"),
    )
    one_error(r, "cannot create the queue folder", "--state-dir")


def test_adapter_bad_configuration_lists_problems(tmp_path: Path) -> None:
    cfg = tmp_path / "bad.yaml"
    cfg.write_text("platform: {transport: carrier-pigeon}\n")
    r = santong("adapter", "check", str(cfg))
    assert r.returncode == 2 and "✘ 错误 error:" in r.stderr and "bad.yaml:1" in r.stderr


# -------------------------------------------------------------------------------------------------------- certify


def test_certify_that_cannot_run_is_2(tmp_path: Path) -> None:
    r = santong(
        "certify",
        "--manifest",
        str(tmp_path / "nosuch.yaml"),
        "--profile",
        "standard",
        "--out",
        str(tmp_path / "r"),
    )
    assert r.returncode == 2 and "COULD NOT RUN" in r.stdout and "Traceback" not in r.stdout + r.stderr


def test_the_readme_table_is_the_scheme_in_code() -> None:
    from santong import _exit

    assert (_exit.OK, _exit.FAIL, _exit.USAGE) == (0, 1, 2)
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    for code in (_exit.OK, _exit.FAIL, _exit.USAGE):
        assert f"| {code} |" in readme, code
