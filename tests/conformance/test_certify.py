"""`santong certify`: progress, a clear verdict and the report paths; never a traceback, never a pass on error."""

from __future__ import annotations

import re
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

import pytest
from cf_fixtures import CDDY_NAME, CDDY_TEXT, SUITE, example_manifest, mini_profiles
from santong.conformance import generate_key_pair, load_public_key, verify_bytes

from santong.cli import main

pytestmark = pytest.mark.timeout(120)


@pytest.fixture
def declarations_suite(tmp_path: Path) -> Path:
    """The bundled suite's declared-data cases only: these tests use a manifest with ``start: external``, whose
    live cases could not run (the live suite has its own tests in test_selfcheck.py)."""
    suite = tmp_path / "declarations-suite"
    suite.mkdir()
    for name in ("test_declarations.py", "pytest.ini"):
        (suite / name).write_bytes((SUITE / name).read_bytes())
    return suite


@pytest.fixture
def declarations_profiles(tmp_path: Path) -> list[str]:
    """``--profiles FILE`` whose profiles hold exactly the clauses the declarations cases judge (the rest of the
    catalogue would be not demonstrated by this cut-down suite)."""
    import importlib.util

    spec = importlib.util.spec_from_file_location("decl", SUITE / "test_declarations.py")
    assert spec is not None and spec.loader is not None
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    ids = (*mod.IDENTITY_CLAUSES, *mod.POINT_CLAUSES, *mod.FILE_CLAUSES)
    folder = tmp_path / "profiles"
    folder.mkdir()
    return ["--profiles", str(mini_profiles(folder, *ids))]


def _certify(*args: str) -> subprocess.CompletedProcess[str]:
    r = subprocess.run(
        [sys.executable, "-m", "santong", "certify", *args], capture_output=True, text=True, timeout=120
    )
    assert "Traceback" not in r.stdout + r.stderr, r.stdout + r.stderr
    return r


def test_broken_manifest_could_not_run(tmp_path: Path, manifest_file: Callable[..., Path]) -> None:
    d = example_manifest()
    d["transport"] = "grcp"
    d["identity"].pop("model")
    m = manifest_file(d)
    r = _certify("--manifest", str(m), "--profile", "basic", "--out", str(tmp_path / "out"))
    assert r.returncode == 2
    assert "结论 Verdict: 无法运行 COULD NOT RUN" in r.stdout
    assert f"{m}:" in r.stdout and "$.transport" in r.stdout and "did you mean grpc?" in r.stdout
    assert "required key model is missing" in r.stdout
    assert not (tmp_path / "out" / "report.json").exists()


@pytest.mark.parametrize(
    ("extra", "expected"),
    [
        pytest.param(["--profile", "gold"], "unknown profile 'gold'", id="unknown profile"),
        pytest.param(
            ["--profile", "standard", "--target", "url"], "needs a platform URL", id="url without url"
        ),
        pytest.param(
            ["--profile", "standard", "--key", "/nonexistent.key"],
            "cannot read the private key",
            id="bad key",
        ),
        pytest.param(
            ["--profile", "standard", "--waivers", "/nonexistent.yaml"],
            "waiver file file not found",
            id="no waivers",
        ),
    ],
)
def test_bad_arguments_could_not_run(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], extra: list[str], expected: str
) -> None:
    m = tmp_path / "m.yaml"
    m.write_text(
        Path(__file__)
        .parent.joinpath("..", "..", "conformance", "examples", "manifest.example.yaml")
        .resolve()
        .read_text(encoding="utf-8"),
        encoding="utf-8",
    )
    code = main(["certify", "--manifest", str(m), "--out", str(tmp_path / "out"), *extra])
    out = capsys.readouterr().out
    assert code == 2 and "无法运行 COULD NOT RUN" in out and expected in out, out


def test_missing_manifest_file(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    code = main(
        ["certify", "--manifest", str(tmp_path / "nope.yaml"), "--profile", "basic", "--out", str(tmp_path)]
    )
    assert code == 2 and "manifest file not found" in capsys.readouterr().out


def test_out_is_not_a_folder(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], manifest_file: Callable[..., Path]
) -> None:
    blocker = tmp_path / "file"
    blocker.write_text("x", encoding="utf-8")
    code = main(
        ["certify", "--manifest", str(manifest_file()), "--profile", "basic", "--out", str(blocker / "out")]
    )
    assert code == 2 and "cannot create the report folder" in capsys.readouterr().out


def test_pass_signed_with_a_key(
    tmp_path: Path,
    manifest_file: Callable[..., Path],
    declarations_suite: Path,
    declarations_profiles: list[str],
) -> None:
    private, public, fp = generate_key_pair(tmp_path / "keys")
    out = tmp_path / "out"
    r = _certify(
        "--manifest", str(manifest_file()), "--profile", "standard", "--out", str(out), "--key", str(private),
        "--suite", str(declarations_suite), *declarations_profiles,
    )  # fmt: skip
    assert r.returncode == 0, r.stdout
    m = re.search(r"\[\s*1/(\d+)\] 通过 PASS", r.stdout)
    assert m is not None and f"[{m.group(1)}/{m.group(1)}]" in r.stdout, r.stdout
    assert "结论 Verdict: 通过 PASS" in r.stdout
    assert f"签名 Signed: {fp}" in r.stdout and "ephemeral" not in r.stdout
    for name in ("report.json", "report.html", "junit.xml", "pytest.log"):
        assert str(out / name) in r.stdout
    v = verify_bytes((out / "report.json").read_bytes(), load_public_key(public))
    assert v.valid and v.trusted_key and v.statement["verdict"] == "PASS" and not v.statement["ephemeral_key"]


def test_fail_on_the_right_clause_with_an_ephemeral_key(
    tmp_path: Path,
    manifest_file: Callable[..., Path],
    capsys: pytest.CaptureFixture[str],
    declarations_suite: Path,
) -> None:
    d = example_manifest()
    d["points"][0]["unit"] = "ppm"
    out = tmp_path / "out"
    code = main(
        ["certify", "--manifest", str(manifest_file(d)), "--profile", "basic", "--out", str(out)]
        + ["--suite", str(declarations_suite)]
    )
    stdout = capsys.readouterr().out
    assert code == 1, stdout
    assert "no --key" in stdout and "ephemeral key, integrity only" in stdout
    assert "失败 FAIL   test_declarations.py::test_declared_points[ST-DATA-011]" in stdout
    assert "unit 'ppm' is not the canonical unit '%CH4'" in stdout
    assert "结论 Verdict: 不通过 FAIL" in stdout
    v = verify_bytes((out / "report.json").read_bytes())
    assert v.valid and v.statement["verdict"] == "FAIL" and v.statement["ephemeral_key"]
    failed = [c for c in v.report["results"]["cases"] if c["verdict"] == "failed"]
    assert [c["clauses"] for c in failed] == [["ST-DATA-011"]]


def test_cddy_points_in_the_full_profile(
    tmp_path: Path,
    manifest_file: Callable[..., Path],
    capsys: pytest.CaptureFixture[str],
    declarations_suite: Path,
    declarations_profiles: list[str],
) -> None:
    (tmp_path / CDDY_NAME).write_text(CDDY_TEXT, encoding="utf-8")
    out = tmp_path / "out"
    code = main(
        [
            "certify",
            "--manifest",
            str(manifest_file(points=None, points_file=CDDY_NAME)),
            "--profile",
            "full",
            "--out",
            str(out),
            "--suite",
            str(declarations_suite),
            *declarations_profiles,
        ]
    )
    stdout = capsys.readouterr().out
    assert code == 0, stdout
    assert "test_points_file_grammar[ST-DATA-041]" in stdout
    r = verify_bytes((out / "report.json").read_bytes()).report
    assert r["manifest"]["points_file"]["file"] == CDDY_NAME


def test_a_broken_suite_could_not_run(tmp_path: Path, manifest_file: Callable[..., Path]) -> None:
    suite = tmp_path / "suite"
    suite.mkdir()
    (suite / "test_broken.py").write_text(
        "import pytest\n\n@pytest.mark.clause('ST-DATA-011')\ndef test_a(:\n    pass\n", encoding="utf-8"
    )
    r = _certify(
        "--manifest",
        str(manifest_file()),
        "--profile",
        "basic",
        "--out",
        str(tmp_path / "out"),
        "--suite",
        str(suite),
    )
    assert r.returncode == 2
    assert "无法运行 COULD NOT RUN" in r.stdout and "test_broken.py" in r.stdout


def test_an_unreachable_platform_could_not_run(
    tmp_path: Path, manifest_file: Callable[..., Path], capsys: pytest.CaptureFixture[str]
) -> None:
    suite = tmp_path / "suite"
    suite.mkdir()
    (suite / "test_live.py").write_text(
        "import pytest\nfrom santong.conformance import CouldNotRun\n\n"
        "@pytest.fixture\ndef platform():\n    raise CouldNotRun('平台无应答 / the platform at grpc://127.0.0.1:9 does not answer')\n\n"
        "@pytest.mark.clause('ST-PROTO-005')\ndef test_heartbeat(platform):\n    pass\n",
        encoding="utf-8",
    )
    code = main(
        [
            "certify",
            "--manifest",
            str(manifest_file()),
            "--profile",
            "basic",
            "--out",
            str(tmp_path / "out"),
            "--suite",
            str(suite),
        ]
    )
    stdout = capsys.readouterr().out
    assert code == 2, stdout
    assert "结论 Verdict: 无法运行 COULD NOT RUN" in stdout and "does not answer" in stdout
    assert "Traceback" not in stdout


def _coverage_rows(html: str) -> list[str]:
    table = html[html.index("MUST-clause coverage") :]
    table = table[: table.index("</table>")]
    return re.findall(r"<code class='muted'>([^<]+)</code>", table)


def test_html_coverage_of_the_selected_profile_unless_asked(
    tmp_path: Path,
    manifest_file: Callable[..., Path],
    capsys: pytest.CaptureFixture[str],
    declarations_suite: Path,
) -> None:
    """Report and HTML show only the selected profile's MUST coverage; `--coverage all` adds what this run shows of
    every other profile of the product's class (selected first, marked), never counting a clause it did not judge
    as passed."""
    html, cov = {}, {}
    for view in ("selected", "all"):
        out = tmp_path / view
        code = main(
            ["certify", "--manifest", str(manifest_file()), "--profile", "basic", "--out", str(out)]
            + ["--suite", str(declarations_suite), "--coverage", view]
        )
        capsys.readouterr()
        assert code in (0, 1)
        html[view] = (out / "report.html").read_text(encoding="utf-8")
        cov[view] = verify_bytes((out / "report.json").read_bytes()).report["results"]["coverage"]
    assert [c["profile"] for c in cov["selected"]] == ["basic"] == _coverage_rows(html["selected"])
    every = [c["profile"] for c in cov["all"]]
    assert every[0] == "basic" and {"standard", "full"} <= set(every), every
    assert _coverage_rows(html["all"]) == every
    assert "所选 selected" in html["all"] and "所选 selected" not in html["selected"]
    basic, full = cov["all"][0], next(c for c in cov["all"] if c["profile"] == "full")
    assert basic == cov["selected"][0]
    # The full profile has MUST clauses a basic run never judged: not demonstrated, so below basic's coverage.
    assert full["must_not_demonstrated"] > 0 and full["must_passed"] <= basic["must_passed"]
    assert full["percent_passed"] < 100.0
    assert main(["certify", "--manifest", str(manifest_file()), "--coverage", "some"]) == 2
