"""Starting the product under test from its manifest's start command, and stopping it."""

from __future__ import annotations

import collections
import contextlib
import importlib.util
import os
import signal
import subprocess
import sys
import threading
import time
from importlib import resources
from pathlib import Path
from typing import IO

from santong.conformance._manifest import Manifest, StartCommand
from santong.conformance._outcomes import ClauseFailure

__all__ = ["CouldNotRun", "ProductLauncher", "ProductProcess"]


class CouldNotRun(Exception):
    """The environment, not the product, stopped a case: raise it to make the run end in COULD NOT RUN.

    Example::

        if not engine_available():
            raise CouldNotRun("没有容器引擎 / no container engine")
    """


#: Modules santong's bundled products import that an installation may lack (installed with --no-deps, or the module
#: uninstalled since), by script: the module and the command that installs it.
BUNDLED_NEEDS: dict[str, tuple[str, str]] = {
    "kj_substation.py": ("pymodbus", "pip install 'santong[modbus]'"),
}


def bundled_product_missing(argv: list[str], cwd: Path) -> str | None:
    """Why one of santong's bundled products cannot start in this interpreter (a module it needs is not installed),
    else None. Its installation, not the product, is then at fault: the run ends in COULD NOT RUN with the fix.

    Example::

        bundled_product_missing([sys.executable, "kj_substation.py"], products)  # "缺少 pymodbus：…" or None
    """
    folder = Path(str(resources.files("santong.conformance").joinpath("products"))).resolve()
    for arg in argv[1:]:
        need = BUNDLED_NEEDS.get(Path(arg).name)
        if need is None or (cwd / arg).resolve().parent != folder:
            continue
        module, fix = need
        if importlib.util.find_spec(module) is None:
            return (
                f"缺少 {module}：请运行 {fix}（参考产品 {Path(arg).name} 需要它）/ {module} is missing: run {fix} "
                f"(the reference product {Path(arg).name} needs it)"
            )
    return None


class ProductProcess:
    """A product started by the runner; its output goes to ``log_path`` and is scanned for the ready line."""

    def __init__(self, spec: StartCommand, argv: list[str], env: dict[str, str], log_path: Path) -> None:
        self.spec, self.argv, self.log_path = spec, argv, log_path
        self._tail: collections.deque[str] = collections.deque(maxlen=20)
        self._ready = threading.Event()
        self._log: IO[str] = log_path.open("a", encoding="utf-8", errors="replace")
        try:
            self.proc = subprocess.Popen(
                argv,
                cwd=spec.cwd,
                env={**os.environ, **env},
                stdin=subprocess.DEVNULL,
                stdout=subprocess.PIPE,
                stderr=subprocess.STDOUT,
                text=True,
                encoding="utf-8",
                errors="replace",
                bufsize=1,
                start_new_session=True,
            )
        except OSError as e:
            self._log.close()
            raise CouldNotRun(
                f"无法启动产品 {argv[0]!r}：{e} / cannot start the product {argv[0]!r}: {e}"
            ) from e
        if spec.ready_line is None:
            self._ready.set()
        self._reader = threading.Thread(target=self._read, name="santong-product-output", daemon=True)
        self._reader.start()

    def _read(self) -> None:
        assert self.proc.stdout is not None
        for line in self.proc.stdout:
            self._log.write(line)
            self._log.flush()
            self._tail.append(line.rstrip("\n"))
            if self.spec.ready_line is not None and self.spec.ready_line.search(line):
                self._ready.set()
        self._log.close()

    @property
    def running(self) -> bool:
        """Whether the process is still alive."""
        return self.proc.poll() is None

    def tail(self) -> list[str]:
        """The last lines of output."""
        return list(self._tail)

    def wait_ready(self, timeout_s: float | None = None) -> None:
        """Wait for the ready line; a failure of ST-PROTO-030 if the product exits first or the timeout passes
        (the product, not the environment, is at fault: santong started it)."""
        deadline = time.monotonic() + (timeout_s if timeout_s is not None else self.spec.ready_timeout_s)
        while not self._ready.wait(0.05):
            if not self.running:
                self._reader.join(1.0)
                if self._ready.is_set():
                    return
                raise ClauseFailure(
                    ["ST-PROTO-030"],
                    f"产品在就绪前退出（退出码 {self.proc.returncode}）/ the product exited before it was ready "
                    f"(exit code {self.proc.returncode}); 最后输出 last output: {' | '.join(self.tail()[-5:]) or '(none)'}",
                )
            if time.monotonic() > deadline:
                raise ClauseFailure(
                    ["ST-PROTO-030"],
                    f"产品在 {self.spec.ready_timeout_s:g} s 内没有输出就绪行 / the product printed no ready line "
                    f"within {self.spec.ready_timeout_s:g} s; 最后输出 last output: {' | '.join(self.tail()[-5:]) or '(none)'}",
                )

    def stop(self, grace_s: float = 5.0) -> int | None:
        """Terminate (then kill) the product's process group; return its exit code."""
        if self.running:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(self.proc.pid, signal.SIGTERM)
            try:
                self.proc.wait(grace_s)
            except subprocess.TimeoutExpired:
                with contextlib.suppress(ProcessLookupError):
                    os.killpg(self.proc.pid, signal.SIGKILL)
                self.proc.wait(grace_s)
        self._reader.join(2.0)
        return self.proc.returncode


class ProductLauncher:
    """Starts the product as its manifest says (the ``santong_launcher`` fixture gives one).

    Example::

        proc = santong_launcher.start(grpc_target=mp.grpc_target, http_url=mp.http_url, token=token)
        try:
            ...  # the product now talks to the platform
        finally:
            if proc is not None:
                proc.stop()
    """

    def __init__(self, manifest: Manifest, workdir: Path) -> None:
        # Absolute: the product runs in its manifest's folder, where a relative {workdir} would land in the tree.
        self.manifest, self.workdir = manifest, workdir.resolve()
        self._count = 0

    def hook(
        self, which: str, *, grpc_target: str = "", http_url: str = "", token: str = "", device_id: str = ""
    ) -> None:
        """Run the ``start`` or ``stop`` hook of an external product (manifest ``hooks``), output appended to
        ``hooks.log`` in the work folder. CouldNotRun when it fails or outlasts ``hooks.timeout_s``: the run
        cannot be set up without it (a power switch or maintenance tool that does not answer)."""

        hooks = self.manifest.hooks
        if hooks is None or not getattr(hooks, which):
            raise CouldNotRun(f"产品声明没有 hooks.{which} / the manifest has no hooks.{which}")
        values = {
            "grpc_target": grpc_target,
            "http_url": http_url,
            "token": token,
            "device_id": device_id or self.manifest.identity.device_id,
            "workdir": str(self.workdir),
            "python": sys.executable,
        }
        argv = hooks.render(which, values)
        self.workdir.mkdir(parents=True, exist_ok=True)
        log = self.workdir / "hooks.log"
        try:
            with log.open("a", encoding="utf-8") as out:
                out.write(f"$ {' '.join(argv)}\n")
                out.flush()
                r = subprocess.run(
                    argv,
                    cwd=hooks.cwd,
                    stdout=out,
                    stderr=subprocess.STDOUT,
                    timeout=hooks.timeout_s,
                    check=False,
                )
        except subprocess.TimeoutExpired as e:
            raise CouldNotRun(
                f"hooks.{which} 在 {hooks.timeout_s:.0f} s 内没有结束 / hooks.{which} did not finish within "
                f"{hooks.timeout_s:.0f} s: {' '.join(argv)} (log {log})"
            ) from e
        except OSError as e:
            raise CouldNotRun(f"hooks.{which} 无法运行 / hooks.{which} cannot run: {argv[0]}: {e}") from e
        if r.returncode != 0:
            raise CouldNotRun(
                f"hooks.{which} 以退出码 {r.returncode} 结束 / hooks.{which} exited with {r.returncode}: "
                f"{' '.join(argv)} (log {log})"
            )

    def start(
        self,
        *,
        grpc_target: str = "",
        http_url: str = "",
        token: str = "",
        device_id: str | None = None,
        env: dict[str, str] | None = None,
    ) -> ProductProcess | None:
        """Start and wait until ready; None for ``start: external`` (the vendor started it).

        ``env``: extra environment set by the suite (e.g. ``SANTONG_TLS_CA`` for the TLS case)."""
        spec = self.manifest.start
        if spec is None:
            return None
        self._count += 1
        values = {
            "grpc_target": grpc_target,
            "http_url": http_url,
            "token": token,
            "device_id": device_id or self.manifest.identity.device_id,
            "workdir": str(self.workdir),
            "python": sys.executable,
        }
        argv, spec_env = spec.render(values)
        missing = bundled_product_missing(argv, spec.cwd)
        if missing is not None:
            raise CouldNotRun(missing)
        env = {**(env or {}), **spec_env}
        proc = ProductProcess(spec, argv, env, self.workdir / f"product-{self._count}.log")
        try:
            proc.wait_ready()
        except BaseException:
            proc.stop(1.0)
            raise
        return proc
