"""Every command block of README.md and conformance/README.md runs, as written, in a scratch folder.

Placeholders (``<http_port>``, ``<inspection_token>``, ``<grpc_port>``, ``<modbus_port>``) are filled from the
servers the documents start: long-running commands (`santong mock serve`, `santong simulate modbus`, `santong
adapter run`) are started by this test, read until they are ready, and stopped at the end. Commands that cannot
run in a test are in ``SKIP`` with one reason each; the list is printed. Every file a command names exists in the
repository (or is written by an earlier command of the same document).
"""

from __future__ import annotations

import json
import os
import re
import shlex
import signal
import subprocess
import sys
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Any

import pytest
from st_waiting import wait_until

pytestmark = pytest.mark.timeout(900)

ROOT = Path(__file__).resolve().parents[2]
DOCS = ("README.md", "conformance/README.md")
SHELL_LANGS = ("bash", "sh", "shell", "console")

#: Commands (by prefix, after `.venv/bin/` is dropped) that a test cannot run, with the reason.
SKIP = {
    "make demo": "建立 .venv 并认证参考产品（≈ 1.5 min）；tests/cli/test_source_tree_clean.py 在干净副本中运行演示 / "
    "sets up .venv and certifies the reference product; tests/cli/test_source_tree_clean.py runs the demo in a clean copy",
    "make test": "会递归运行本测试 / would run this very test again",
    "santong certify --manifest conformance/products/santong-mock.manifest.yaml --profile mine-acceptance": (
        "远程地址 platform.example / a remote URL (platform.example)"
    ),
}
#: Commands whose documented outcome is a non-zero exit (by prefix).
EXPECT_EXIT = {
    "santong validate protocols/examples/bad/": 1,
    "santong validate --type ObservationBatch protocols/examples/bad/": 1,
}
#: Long-running commands (by prefix): started, read until ready, stopped at the end of the document.
SERVERS = ("santong mock serve", "santong simulate modbus", "santong adapter run")
#: Repository folders a command may read, linked into the scratch folder.
LINKED = ("protocols", "conformance", "adapters", "docs", "scripts", "docker")
PLACEHOLDER = re.compile(r"<([a-z_]+)>")
PATHLIKE = re.compile(
    r"^[\w.@-]+(/[\w.@-]+)*\.(json|jsonl|ya?ml|txt|py|sh|md|key|pub|db)$|^[\w.-]+/[\w./-]*$"
)


@dataclass
class Command:
    doc: str
    line: int
    text: str

    @property
    def key(self) -> str:
        return self.text.removeprefix(".venv/bin/")


def _blocks(doc: str) -> Iterator[tuple[int, str]]:
    lines = (ROOT / doc).read_text(encoding="utf-8").splitlines()
    i = 0
    while i < len(lines):
        m = re.match(r"^```(\w*)\s*$", lines[i])
        if m is None:
            i += 1
            continue
        lang, start = m.group(1), i + 1
        j = start
        while j < len(lines) and not lines[j].startswith("```"):
            j += 1
        if lang in SHELL_LANGS:
            yield start + 1, "\n".join(lines[start:j])
        i = j + 1


def commands(doc: str) -> list[Command]:
    """The commands of a document's shell blocks: continuation lines joined, comments dropped."""
    out = []
    for first_line, text in _blocks(doc):
        pending, at = "", first_line
        for n, raw in enumerate(text.splitlines(), first_line):
            if not pending:
                at = n
            line = raw.rstrip()
            if line.endswith("\\"):
                pending += line[:-1] + " "
                continue
            full = (pending + line).strip()
            pending = ""
            words = shlex.split(full, comments=True)
            if words:
                out.append(Command(doc, at, shlex.join(words)))
    return out


def _prefixed(key: str, table: dict[str, Any] | tuple[str, ...]) -> str | None:
    return next((p for p in table if key.startswith(p)), None)


@dataclass
class Scratch:
    """The folder the commands run in, the servers they started and the values they printed."""

    path: Path
    env: dict[str, str]
    values: dict[str, str] = field(default_factory=dict)
    servers: list[tuple[str, subprocess.Popen[str], IO[str]]] = field(default_factory=list)

    def argv(self, cmd: Command) -> list[str]:
        text = PLACEHOLDER.sub(lambda m: self.values[m.group(1)], cmd.key)
        words = shlex.split(text)
        if words[0] == "santong":
            words = [sys.executable, "-m", "santong", *words[1:]]
        return words

    def start(self, cmd: Command) -> None:
        log = (self.path / f"server-{len(self.servers)}.log").open("w", encoding="utf-8")
        p = subprocess.Popen(
            self.argv(cmd), cwd=self.path, env=self.env, stdout=subprocess.PIPE, stderr=log, text=True
        )
        self.servers.append((cmd.key, p, log))
        assert p.stdout is not None
        if cmd.key.startswith("santong adapter run"):
            # Ready when the platform holds observations from the adapter (the mock's inspection API).
            url = f"http://127.0.0.1:{self.values['http_port']}/inspect/counts"
            req = urllib.request.Request(
                url, headers={"x-santong-inspection-token": self.values["inspection_token"]}
            )

            def observed() -> int:
                assert p.poll() is None, (self.path / f"server-{len(self.servers) - 1}.log").read_text()
                with urllib.request.urlopen(req, timeout=5) as r:
                    return int(json.loads(r.read())["observations"])

            # The documented outage (faults/outage_for, 5 s) may still refuse connections: that is "not yet".
            wait_until(
                observed, timeout=60, what="observations from the documented adapter run", ignore=(OSError,)
            )
            return
        first = p.stdout.readline()
        assert first.strip(), f"{cmd.key}: no ready line ({p.poll()})"
        doc = json.loads(first)
        if cmd.key.startswith("santong mock serve"):
            self.values.update(
                grpc_port=str(doc["grpc_port"]),
                http_port=str(doc["http_port"]),
                inspection_token=doc["inspection_token"],
            )
        else:
            self.values["modbus_port"] = str(doc["port"])

    def learn(self, cmd: Command) -> None:
        """Values a later command of the document refers to: ``<NAME_key_id>`` after `santong keys --name NAME`."""
        words = shlex.split(cmd.key)
        if words[:2] == ["santong", "keys"] and "--name" in words and "--out" in words:
            name = words[words.index("--name") + 1]
            entry = self.path / words[words.index("--out") + 1] / f"{name}.entry.json"
            key_id = json.loads(entry.read_text(encoding="utf-8"))["key_id"]
            self.values[f"{name.replace('-', '_')}_key_id"] = key_id

    def stop_all(self) -> list[tuple[str, int]]:
        codes = []
        for key, p, log in reversed(self.servers):
            if p.poll() is None:
                p.send_signal(signal.SIGTERM)
            try:
                codes.append((key, p.wait(timeout=30)))
            except subprocess.TimeoutExpired:
                p.kill()
                codes.append((key, p.wait()))
            if p.stdout is not None:
                p.stdout.close()
            log.close()
        self.servers.clear()
        return codes


@pytest.fixture
def scratch(tmp_path: Path) -> Iterator[Scratch]:
    """A scratch folder with the repository's data folders linked in; its own state folder; servers stopped."""
    work = tmp_path / "work"
    work.mkdir()
    for name in LINKED:
        (work / name).symlink_to(ROOT / name, target_is_directory=True)
    env = {**os.environ, "SANTONG_STATE_DIR": str(tmp_path / "state"), "NO_COLOR": "1"}
    s = Scratch(work, env)
    try:
        yield s
    finally:
        s.stop_all()


def _names_files(cmd: Command) -> list[str]:
    """The words of a command that name files or folders (not options, URLs, placeholders or JSON)."""
    words = shlex.split(cmd.key)[1:]
    out = []
    for i, w in enumerate(words):
        if w.startswith("-") or "://" in w or "<" in w or w.startswith("{") or "=" in w or ":" in w:
            continue
        if i > 0 and words[i - 1] in ("--out", "--db", "--name", "--organisation", "--profile", "--set"):
            continue
        if PATHLIKE.match(w):
            out.append(w)
    return out


@pytest.mark.parametrize("doc", DOCS)
def test_every_file_an_example_names_exists(doc: str) -> None:
    """Run or skipped, a command names only files of the repository (outputs given with --out excepted)."""
    missing = []
    outputs: set[str] = set()
    for cmd in commands(doc):
        words = shlex.split(cmd.key)
        outputs.update(words[i + 1].rstrip("/") for i, w in enumerate(words[:-1]) if w in ("--out", "--db"))
        if words[:3] == ["santong", "trust", "create"]:
            outputs.add(words[3])  # the list it creates
        for name in _names_files(cmd):
            top = name.rstrip("/").split("/")[0]
            if (
                (ROOT / name).exists()
                or any(name.rstrip("/").startswith(o) for o in outputs)
                or top in outputs
            ):
                continue
            missing.append(f"{doc}:{cmd.line}: {name}")
    assert not missing, "\n".join(missing)


def test_the_skip_list_is_printed_and_used(capsys: pytest.CaptureFixture[str]) -> None:
    """Each skip has one reason; every entry still matches a command of the documents (no stale entries)."""
    keys = [c.key for doc in DOCS for c in commands(doc)]
    lines = ["", "文档中不在测试里运行的命令 / documented commands this test does not run:"]
    for prefix, reason in SKIP.items():
        assert reason.strip(), prefix
        assert any(k.startswith(prefix) for k in keys), f"stale skip entry: {prefix}"
        lines.append(f"  - {prefix} … — {reason}")
    with capsys.disabled():
        print("\n".join(lines))


@pytest.mark.parametrize("doc", DOCS)
def test_every_documented_command_runs(doc: str, scratch: Scratch) -> None:
    ran, skipped = [], []
    for cmd in commands(doc):
        if _prefixed(cmd.key, SKIP) is not None:
            skipped.append(cmd.key)
            continue
        if _prefixed(cmd.key, SERVERS) is not None:
            scratch.start(cmd)
            ran.append(cmd.key)
            continue
        r = subprocess.run(
            scratch.argv(cmd), cwd=scratch.path, env=scratch.env, capture_output=True, text=True, timeout=600
        )
        want = EXPECT_EXIT.get(_prefixed(cmd.key, tuple(EXPECT_EXIT)) or "", 0)
        assert r.returncode == want, (
            f"{doc}:{cmd.line}: {cmd.key}\nexit {r.returncode}\n{r.stdout[-3000:]}\n{r.stderr[-3000:]}"
        )
        assert "Traceback" not in r.stdout + r.stderr, f"{doc}:{cmd.line}: {cmd.key}"
        ran.append(cmd.key)
        scratch.learn(cmd)
    stopped = scratch.stop_all()
    assert all(code == 0 for key, code in stopped if key.startswith("santong mock serve")), stopped
    assert ran, f"{doc}: no command ran"
    print(f"{doc}: ran {len(ran)}, skipped {len(skipped)}")
