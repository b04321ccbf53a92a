"""`pip install santong` is enough to certify (issue 9): the wheel, installed without extras into a fresh venv.

One venv per module: the wheel is built from a copy of the source folders (a stale ``build/`` in the tree cannot
leak into it), installed with pip (dependencies from the pip cache or the configured index), and then used as a
user would use it: certify a small product written with the SDK (sdk_product/), run ``santong demo``, and
certify the reference product with pymodbus removed (a clear error naming the fix, never a traceback).
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path

import pytest
from pk_source import source_copy

pytestmark = pytest.mark.slow

ROOT = Path(__file__).resolve().parents[2]
PRODUCT = Path(__file__).resolve().parent / "sdk_product"
FIX = "pip install 'santong[modbus]'"


@dataclass(frozen=True)
class Venv:
    root: Path
    env: dict[str, str]

    @property
    def python(self) -> str:
        return str(self.root / "bin" / "python")

    def run(self, *argv: str, cwd: Path, timeout: float = 240) -> subprocess.CompletedProcess[str]:
        """A command of the venv (``santong``, ``pip`` …) or its python (``-c``, ``-m``), output captured."""
        exe = self.python if argv[0].startswith("-") else str(self.root / "bin" / argv[0])
        args = [exe, *(argv if argv[0].startswith("-") else argv[1:])]
        return subprocess.run(
            args, cwd=cwd, env=self.env, capture_output=True, text=True, encoding="utf-8", timeout=timeout
        )


def _clean_env(venv: Path) -> dict[str, str]:
    """This process's environment minus what would let the repository or the dev venv leak in."""
    drop = ("PYTHONPATH", "PYTHONHOME", "PYTHONSTARTUP", "VIRTUAL_ENV", "PYTEST_ADDOPTS", "PYTEST_PLUGINS")
    env = {k: v for k, v in os.environ.items() if k not in drop and not k.startswith("PYTEST_")}
    env["PATH"] = f"{venv / 'bin'}{os.pathsep}{env.get('PATH', '')}"
    env["VIRTUAL_ENV"] = str(venv)
    return env


@pytest.fixture(scope="module")
def venv(tmp_path_factory: pytest.TempPathFactory) -> Venv:
    """santong from its wheel in a fresh venv (no --system-site-packages), installed without extras."""
    base = tmp_path_factory.mktemp("install")
    t0 = time.monotonic()
    src = source_copy(base / "src")
    wheels = base / "wheels"
    pip_wheel = [sys.executable, "-m", "pip", "wheel", "--no-deps", "--no-build-isolation", "-q", "-w"]
    built = subprocess.run(
        [*pip_wheel, str(wheels), str(src)], cwd=base, capture_output=True, text=True, timeout=300
    )
    assert built.returncode == 0, built.stdout + built.stderr
    wheel = next(wheels.glob("santong-*.whl"))
    root = base / "venv"
    made = subprocess.run(
        [sys.executable, "-m", "venv", str(root)], cwd=base, capture_output=True, text=True, timeout=120
    )
    assert made.returncode == 0, made.stdout + made.stderr
    v = Venv(root, _clean_env(root))
    r = v.run("-m", "pip", "install", "-q", "--disable-pip-version-check", str(wheel), cwd=base, timeout=240)
    assert r.returncode == 0, r.stdout + r.stderr
    print(f"wheel built and installed in {time.monotonic() - t0:.1f} s")
    return v


def test_installed_without_extras_holds_what_certify_needs(venv: Venv, tmp_path: Path) -> None:
    probe = (
        "import importlib.util as u, santong;"
        "print(santong.__file__);"
        "print(*[m for m in ('pytest', 'pymodbus', 'asyncua', 'paho', 'pytest_asyncio', 'hypothesis')"
        " if u.find_spec(m) is not None])"
    )
    r = venv.run("-c", probe, cwd=tmp_path)
    assert r.returncode == 0, r.stderr
    where, found = r.stdout.splitlines()
    assert Path(where).is_relative_to(venv.root), where  # the wheel's santong, not the repository's
    # Runtime dependencies are there; the extras (opcua, mqtt) and the dev tools are not.
    assert found.split() == ["pytest", "pymodbus"], found
    check = venv.run("pip", "check", cwd=tmp_path)
    assert check.returncode == 0, check.stdout + check.stderr


def test_certify_a_product_written_with_the_sdk(venv: Venv, tmp_path: Path) -> None:
    product = tmp_path / "product"
    shutil.copytree(PRODUCT, product)
    out = tmp_path / "out"
    t0 = time.monotonic()
    r = venv.run(
        "santong",
        "certify",
        "--manifest",
        str(product / "tiny.manifest.yaml"),
        "--profile",
        "basic",
        "--out",
        str(out),
        cwd=tmp_path,
        timeout=240,
    )
    print(f"certify: {time.monotonic() - t0:.1f} s")
    log = out / "pytest.log"
    assert r.returncode == 0, r.stdout + r.stderr + (log.read_text(encoding="utf-8") if log.is_file() else "")
    assert "Traceback" not in r.stderr, r.stderr
    report = out / "report.json"
    assert report.is_file()
    v = venv.run("santong", "verify", str(report), cwd=tmp_path)
    assert v.returncode == 0, v.stdout + v.stderr
    assert "PASS" in v.stdout, v.stdout  # the verdict the signed report holds


@pytest.mark.selfcheck
def test_demo_certifies_the_reference_product(venv: Venv, tmp_path: Path) -> None:
    t0 = time.monotonic()
    r = venv.run("santong", "demo", "--profile", "basic", "--out", str(tmp_path / "demo"), cwd=tmp_path)
    print(f"demo: {time.monotonic() - t0:.1f} s")
    assert r.returncode == 0, r.stdout + r.stderr
    assert "DEMO OK" in r.stdout, r.stdout
    assert (tmp_path / "demo" / "report" / "report.json").is_file()


def test_reference_product_without_pymodbus_names_the_fix(venv: Venv, tmp_path: Path) -> None:
    gone = venv.run("-m", "pip", "uninstall", "-y", "-q", "pymodbus", cwd=tmp_path)
    assert gone.returncode == 0, gone.stdout + gone.stderr
    try:
        where = venv.run(
            "-c",
            "from importlib import resources;"
            "print(resources.files('santong.conformance') / 'products' / 'kj-substation.manifest.yaml')",
            cwd=tmp_path,
        )
        assert where.returncode == 0, where.stderr
        out = tmp_path / "out"
        r = venv.run(
            "santong",
            "certify",
            "--manifest",
            where.stdout.strip(),
            "--profile",
            "basic",
            "--out",
            str(out),
            cwd=tmp_path,
            timeout=120,
        )
        assert r.returncode == 2, r.stdout + r.stderr  # COULD NOT RUN: the environment, not the product
        assert "COULD NOT RUN" in r.stdout, r.stdout
        assert FIX in r.stdout, r.stdout  # the fix is on the screen, in the reasons
        assert "Traceback" not in r.stdout + r.stderr
        # Started by hand (not by certify), the reference product says the same and exits 2.
        script = Path(where.stdout.strip()).with_name("kj_substation.py")
        argv = [
            "--platform",
            "127.0.0.1:1",
            "--device-id",
            "D",
            "--token",
            "T",
            "--workdir",
            str(tmp_path / "w"),
        ]
        by_hand = venv.run("-X", "utf8", str(script), *argv, cwd=tmp_path, timeout=60)
        assert by_hand.returncode == 2, by_hand.stdout + by_hand.stderr
        assert FIX in by_hand.stderr and "Traceback" not in by_hand.stderr, by_hand.stderr
    finally:
        back = venv.run(
            "-m", "pip", "install", "-q", "--disable-pip-version-check", "pymodbus>=3.16,<4", cwd=tmp_path
        )
        assert back.returncode == 0, back.stdout + back.stderr
