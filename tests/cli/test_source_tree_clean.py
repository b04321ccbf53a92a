"""Nothing is written into the source tree: `santong demo` in a clean copy leaves `git status` empty, the adapter's
queue goes to the state folder, outputs are git-ignored, and building a wheel is quiet (no BuildBackendWarning).

The copy is the working tree's tracked files committed into a fresh repository; it is imported through a folder of
symlinks on PYTHONPATH (santong → copy/santong, santong/protocols → copy/protocols, …), so that anything the code
writes next to itself lands in the copy, where git sees it.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import time
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
MAPPED = {
    "protocols": "protocols",
    "adapters": "adapters",
    "mock_platform": "mock_platform",
    "conformance": "conformance",
}


needs_git = pytest.mark.skipif(
    shutil.which("git") is None or not (ROOT / ".git").exists(), reason="不是 git 检出 / not a git checkout"
)


def _git(cwd: Path, *args: str) -> str:
    env = {**os.environ, "GIT_AUTHOR_NAME": "t", "GIT_AUTHOR_EMAIL": "t@t", "GIT_COMMITTER_NAME": "t",
           "GIT_COMMITTER_EMAIL": "t@t"}  # fmt: skip
    return subprocess.run(["git", *args], cwd=cwd, env=env, check=True, capture_output=True, text=True).stdout


def _clean_copy(dst: Path) -> Path:
    """The working tree's files (tracked, and untracked but not ignored), committed into a new repository at dst."""
    files = _git(ROOT, "ls-files", "-z", "--cached", "--others", "--exclude-standard").split("\0")
    for rel in filter(None, files):
        src = ROOT / rel
        if src.is_file():
            (dst / rel).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(src, dst / rel)
    _git(dst, "init", "-q")
    _git(dst, "add", "-A")
    _git(dst, "commit", "-q", "-m", "copy")
    return dst


def _import_root(copy: Path, site: Path) -> dict[str, str]:
    """A folder to put on PYTHONPATH so that `import santong…` loads the copy; the environment for it."""
    pkg = site / "santong"
    pkg.mkdir(parents=True)
    for entry in (copy / "santong").iterdir():
        (pkg / entry.name).symlink_to(entry)
    for name, folder in MAPPED.items():
        (pkg / name).symlink_to(copy / folder, target_is_directory=True)
    # PYTHONSAFEPATH: the current folder (the copy's root, holding santong/) must not shadow the symlink folder.
    # SANTONG_STATE_DIR: whatever the demo keeps in the state folder stays in the test's folder, not the user's.
    return {**os.environ, "PYTHONPATH": str(site), "PYTHONSAFEPATH": "1", "PYTHONDONTWRITEBYTECODE": "1",
            "SANTONG_STATE_DIR": str(site.parent / "state")}  # fmt: skip


@needs_git
@pytest.mark.slow
@pytest.mark.selfcheck
def test_demo_leaves_a_clean_checkout_clean(tmp_path: Path) -> None:
    copy = _clean_copy(tmp_path / "repo")
    env = _import_root(copy, tmp_path / "site")
    where = subprocess.run(
        [sys.executable, "-c", "import santong.conformance, santong.adapters; print(santong.conformance.__file__)"],
        cwd=copy, env=env, capture_output=True, text=True, check=True,
    ).stdout.strip()  # fmt: skip
    assert where.startswith(str(tmp_path / "site")), where  # the copy is what runs, not the editable install
    t0 = time.monotonic()
    r = subprocess.run(
        [sys.executable, "-m", "santong", "demo"],
        cwd=copy,
        env=env,
        capture_output=True,
        text=True,
        timeout=170,
    )
    assert _git(copy, "status", "--porcelain") == ""
    # Everything under --out (relative: the current folder), nothing else — not beside the manifest, the adapter's
    # configuration or the package.
    ignored = [ln for ln in _git(copy, "status", "--porcelain", "--ignored").splitlines() if ln.strip()]
    assert ignored == ["!! demo-out/"], ignored
    assert (copy / "demo-out" / "report" / "work").is_dir()  # the product's {workdir}
    # Last: the demo itself passed (its verdict belongs to the suite; the checks above hold whatever it is).
    assert r.returncode == 0, r.stdout[-3000:] + r.stderr[-3000:]
    assert time.monotonic() - t0 < 150


@needs_git
def test_outputs_are_git_ignored() -> None:
    paths = ["demo-out/report/report.json", "conformance/products/demo-out/x", "report/report.json", "reports/a.json",
             "keys/santong-signing.key", "q.db", "kj-substation-queue.db.lock", "a/b/queue.db-wal", "x.db-shm"]  # fmt: skip
    r = subprocess.run(
        ["git", "check-ignore", "--no-index", *paths], cwd=ROOT, capture_output=True, text=True
    )
    assert sorted(r.stdout.split()) == sorted(paths), r.stdout


@needs_git
def test_no_queue_database_is_tracked() -> None:
    tracked = _git(ROOT, "ls-files").split()
    assert not [p for p in tracked if p.endswith((".db", ".db.lock", ".db-wal", ".db-shm"))]


def test_adapter_queue_goes_to_the_state_folder(tmp_path: Path) -> None:
    """`santong adapter run kj-substation` (a bundled product) writes its queue under SANTONG_STATE_DIR."""
    env = {**os.environ, "SANTONG_STATE_DIR": str(tmp_path / "state"), "PYTHONDONTWRITEBYTECODE": "1"}
    mock = subprocess.Popen(
        [sys.executable, "-m", "santong", "mock", "serve", "--grpc-port", "0", "--http-port", "-1",
         "--device", "KJ-FZ-001:tok"],
        stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True, cwd=tmp_path,
    )  # fmt: skip
    try:
        assert mock.stdout is not None
        port = json.loads(mock.stdout.readline())["grpc_port"]
        before = set((ROOT / "adapters" / "products").iterdir())
        adapter = subprocess.Popen(
            [sys.executable, "-m", "santong", "adapter", "run", "kj-substation", "--platform",
             f"grpc://127.0.0.1:{port}", "--token", "tok", "--set", "port=1"],
            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True, cwd=tmp_path, env=env,
        )  # fmt: skip
        queue = tmp_path / "state" / "kj-substation-KJ-FZ-001-queue.db"
        deadline = time.monotonic() + 60
        while not queue.exists() and adapter.poll() is None and time.monotonic() < deadline:
            time.sleep(0.1)
        adapter.terminate()
        try:
            _, err = adapter.communicate(timeout=60)
        except subprocess.TimeoutExpired:  # this test is about where the queue lands, not how fast it stops
            adapter.kill()
            _, err = adapter.communicate(timeout=60)
        assert queue.exists(), err[-3000:]
        assert f"队列 queue: {queue}" in err
        assert set((ROOT / "adapters" / "products").iterdir()) == before
        assert not list(tmp_path.glob("*.db"))  # not in the current folder either
    finally:
        mock.terminate()
        mock.wait(30)


def test_adapter_queue_option_is_relative_to_the_current_folder(tmp_path: Path) -> None:
    """--queue q.db is resolved against the current folder (checked by `adapter run` before anything runs)."""
    from santong.adapters import load_config
    from santong.adapters._runner import product_config
    from santong.adapters.cli import queue_path

    config_file = product_config("kj-substation")
    config = load_config(config_file)
    old = Path.cwd()
    os.chdir(tmp_path)
    try:
        ns = argparse.Namespace(queue="q.db", device_id=None, state_dir=None)
        assert queue_path(ns, config, config_file) == tmp_path.resolve() / "q.db"
        ns = argparse.Namespace(queue=None, device_id="D-9", state_dir=tmp_path / "s")
        assert (
            queue_path(ns, config, config_file) == (tmp_path / "s").resolve() / "kj-substation-D-9-queue.db"
        )
    finally:
        os.chdir(old)


@needs_git
@pytest.mark.slow
def test_building_a_wheel_is_quiet(tmp_path: Path) -> None:
    """No setuptools BuildBackendWarning ('Package … is absent from the packages configuration')."""
    copy = _clean_copy(tmp_path / "repo")
    r = subprocess.run(
        [sys.executable, "-m", "pip", "wheel", "--no-deps", "--no-build-isolation", "--no-cache-dir", "-q", "-w",
         str(tmp_path / "wheel"), str(copy)],
        capture_output=True, text=True, timeout=300, cwd=tmp_path,
    )  # fmt: skip
    assert r.returncode == 0, r.stderr[-3000:]
    assert "BuildBackendWarning" not in r.stderr and "absent from the `packages`" not in r.stderr, r.stderr[
        :3000
    ]
