"""Mutation testing (mutmut 3) of named modules against named fast tests, outside the source tree.

``make mutation`` calls this with the paths and tests the Makefile names. mutmut 3 writes ``mutants/`` into its
current folder and imports the mutated code by the module name its path implies, so the run happens in a fresh
temporary folder (``mktemp -d`` style, never under the repository):

1. the working tree's files (tracked and untracked, not ignored) are copied there, in the repository's layout
   (tests read ``protocols/SPEC.md``, ``conformance/profiles.yaml`` … from there);
2. the installed package layout is built beside it — ``santong/`` plus ``santong/protocols`` … from
   ``[tool.setuptools.package-dir]`` — so that ``mutants/santong`` shadows the editable install;
3. a ``setup.cfg`` ``[mutmut]`` section names what to mutate and which tests to run; ``mutmut run``;
4. the figures (total, killed, survived, …) and every survivor's diff are printed and written to
   ``--out FILE`` if given; with ``--accepted FILE`` (``function hash  justification`` per line: the key the
   report prints beside each survivor) a survivor the file does not justify fails the run (exit 1);
   the folder is removed unless ``--keep``.

Example::

    .venv/bin/python scripts/mutation.py --paths conformance/_results.py \
        --tests tests/conformance/test_verdict_rules.py --out /tmp/mutation.txt
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
import tomllib
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
#: mutmut 3 names a mutant ``module.x_function__mutmut_N`` or ``module.xǁClassǁmethod__mutmut_N``.
MUTANT_NAME = re.compile(r"^(?P<module>.+?)\.x(?:ǁ|_)")
#: Files tests read through the repository layout (cf_fixtures.ROOT): copied next to ``mutants/santong``.
ALSO_COPY = ("protocols", "conformance")


def _package_dirs() -> dict[str, str]:
    """Package → folder, from pyproject's ``[tool.setuptools.package-dir]`` (e.g. santong.protocols → protocols)."""
    doc = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))
    return dict(doc["tool"]["setuptools"]["package-dir"])


def installed_path(repo_path: str, package_dirs: dict[str, str]) -> str:
    """The path of a repository file inside the installed layout: conformance/_results.py →
    santong/conformance/_results.py (the longest folder that maps to a package wins)."""
    best = ""
    target = ""
    for pkg, folder in package_dirs.items():
        prefix = folder.rstrip("/") + "/"
        if repo_path.startswith(prefix) and len(prefix) > len(best):
            best, target = prefix, pkg.replace(".", "/") + "/"
    if not best:
        raise SystemExit(f"{repo_path}: not inside a package folder of pyproject.toml")
    return target + repo_path[len(best) :]


def _tree_files() -> list[str]:
    out = subprocess.run(
        ["git", "ls-files", "--cached", "--others", "--exclude-standard", "-z"],
        cwd=ROOT,
        check=True,
        capture_output=True,
    ).stdout
    return [p for p in out.decode("utf-8").split("\0") if p and (ROOT / p).is_file()]


def build_tree(work: Path) -> None:
    """Copy the working tree into ``work`` and build the installed package layout beside it."""
    for rel in _tree_files():
        dest = work / rel
        dest.parent.mkdir(parents=True, exist_ok=True)
        shutil.copy2(ROOT / rel, dest)
    for pkg, folder in _package_dirs().items():
        target = work / pkg.replace(".", "/")
        if target.resolve() != (work / folder).resolve():
            shutil.copytree(work / folder, target, dirs_exist_ok=True)


def write_config(work: Path, mutate: list[str], tests: list[str]) -> None:
    """The ``[mutmut]`` section (setup.cfg: the copied pyproject.toml has no ``[tool.mutmut]``)."""

    def lines(values: list[str]) -> str:
        return "".join(f"\n    {v}" for v in values)

    (work / "setup.cfg").write_text(
        "[mutmut]\n"
        "source_paths = santong\n"
        f"only_mutate ={lines(mutate)}\n"
        f"also_copy ={lines(list(ALSO_COPY))}\n"
        f"pytest_add_cli_args_test_selection ={lines(tests)}\n",
        encoding="utf-8",
    )


def _mutmut(work: Path, *args: str, capture: bool = False) -> str:
    exe = Path(sys.executable).parent / "mutmut"
    if not exe.exists():
        raise SystemExit(f"{exe} is missing: pip install -e '.[mutation]'")
    env = dict(os.environ, PYTHONDONTWRITEBYTECODE="1")
    r = subprocess.run([str(exe), *args], cwd=work, env=env, text=True, capture_output=capture)
    if r.returncode != 0:
        raise SystemExit(f"mutmut {' '.join(args)} failed:\n{r.stdout}\n{r.stderr}")
    return r.stdout if capture else ""


def summarise(
    work: Path, mutate: list[str], tests: list[str]
) -> tuple[dict[str, int], dict[str, tuple[str, str]], str]:
    """The figures, the mutants not killed (name → status, diff), and a text report with their diffs."""
    _mutmut(work, "export-cicd-stats", capture=True)
    stats = json.loads((work / "mutants" / "mutmut-cicd-stats.json").read_text(encoding="utf-8"))
    listing = _mutmut(work, "results", "--all", "true", capture=True)
    by_status: dict[str, list[str]] = {}
    for line in listing.splitlines():
        name, _, status = line.strip().rpartition(": ")
        if name:
            by_status.setdefault(status, []).append(name)
    per_file: dict[str, dict[str, int]] = {}
    for status, names in by_status.items():
        for n in names:
            m = MUTANT_NAME.match(n)
            module = m.group("module") if m else n
            per_file.setdefault(module, {}).setdefault(status, 0)
            per_file[module][status] += 1
    text = [
        "# Mutation testing (mutmut 3)",
        "",
        "Mutated: " + ", ".join(mutate),
        "Tests: " + " ".join(tests),
        "",
    ]
    text.append("Totals: " + ", ".join(f"{k} {v}" for k, v in stats.items() if isinstance(v, int)))
    text.append("")
    for module, counts in sorted(per_file.items()):
        text.append(f"- {module}: " + ", ".join(f"{k} {v}" for k, v in sorted(counts.items())))
    alive: dict[str, tuple[str, str]] = {}
    for status in sorted(s for s in by_status if s != "killed"):
        text += ["", f"## {status} ({len(by_status[status])})", ""]
        for name, diff in zip(by_status[status], _diffs(work, by_status[status]), strict=True):
            alive[name] = (status, diff)
            text += [f"# {name}  [accepted-list key: {fingerprint(name, diff)}]", diff.rstrip() + "\n"]
    return stats, alive, "\n".join(text) + "\n"


def fingerprint(name: str, diff: str) -> str:
    """A survivor's key in the accepted list, stable when mutmut renumbers the mutants of a function: the mutated
    function and a hash of the changed lines (``santong.conformance._results.x__row 1a2b3c4d5e6f``)."""
    changed = [
        ln.strip() for ln in diff.splitlines() if ln[:1] in ("+", "-") and not ln.startswith(("+++", "---"))
    ]
    digest = hashlib.sha256("\n".join(changed).encode("utf-8")).hexdigest()[:12]
    return f"{re.sub(r'__mutmut_[0-9]+$', '', name)} {digest}"


def read_accepted(path: Path) -> dict[str, str]:
    """Survivors accounted for: ``function hash  one-line justification`` per line (the key :func:`fingerprint`
    gives; ``#`` comments and blank lines are skipped)."""
    out: dict[str, str] = {}
    for n, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1):
        line = line.strip()
        if not line or line.startswith("#"):
            continue
        parts = line.split(maxsplit=2)
        if len(parts) < 3:
            raise SystemExit(f"{path}:{n}: expected `function hash justification`: {line}")
        out[f"{parts[0]} {parts[1]}"] = parts[2]
    return out


def check_accepted(alive: dict[str, tuple[str, str]], accepted: dict[str, str]) -> list[str]:
    """The mutants not killed that the accepted list does not justify; prints them and the stale entries."""
    keys = {name: fingerprint(name, diff) for name, (_, diff) in alive.items()}
    unexplained = [
        f"{keys[n]} <justify here>   # {n} ({status})"
        for n, (status, _) in alive.items()
        if keys[n] not in accepted
    ]
    stale = sorted(set(accepted) - set(keys.values()))
    print(f"survivors justified in the accepted list: {len(alive) - len(unexplained)} of {len(alive)}")
    if stale:
        print("accepted but no longer surviving (remove them from the list):\n  " + "\n  ".join(stale))
    if unexplained:
        print(
            "NOT KILLED AND NOT JUSTIFIED (kill with a test, or justify in the list):\n  "
            + "\n  ".join(unexplained)
        )
    return unexplained


#: One process prints every diff (``mutmut show NAME`` per mutant costs a second of start-up each).
_SHOW = """
import json, sys
from mutmut.mutation.diff_apply import get_diff_for_mutant
for name in json.load(sys.stdin):
    print(json.dumps(get_diff_for_mutant(name)))
"""


def _diffs(work: Path, names: list[str]) -> list[str]:
    r = subprocess.run(
        [sys.executable, "-c", _SHOW], cwd=work, input=json.dumps(names), text=True, capture_output=True
    )
    if r.returncode != 0:
        raise SystemExit(f"reading the mutants' diffs failed:\n{r.stderr}")
    return [json.loads(line) for line in r.stdout.splitlines()]


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--paths", nargs="+", required=True, help="repository paths of the modules to mutate")
    ap.add_argument("--tests", nargs="+", required=True, help="the test files mutmut runs")
    ap.add_argument("--max-children", type=int, default=2, help="parallel mutant runs (default 2)")
    ap.add_argument("--out", type=Path, help="also write the report (figures, survivors' diffs) here")
    ap.add_argument(
        "--keep", action="store_true", help="keep the temporary folder (mutmut browse / show there)"
    )
    ap.add_argument(
        "--accepted",
        type=Path,
        help="survivors accounted for (function, hash, one-line justification); any other survivor fails the run",
    )
    ap.add_argument("mutants", nargs="*", help="only these mutant names (mutmut run NAME …)")
    a = ap.parse_args(argv)
    package_dirs = _package_dirs()
    mutate = [installed_path(p, package_dirs) for p in a.paths]
    work = Path(tempfile.mkdtemp(prefix="santong-mutation-"))
    print(f"mutation testing in {work}", flush=True)
    try:
        build_tree(work)
        write_config(work, mutate, a.tests)
        _mutmut(work, "run", "--max-children", str(a.max_children), *a.mutants)
        stats, alive, text = summarise(work, mutate, a.tests)
        print(text)
        if a.out is not None:
            a.out.write_text(text, encoding="utf-8")
        if not stats.get("total"):
            return 1
        if a.accepted is not None and not a.mutants:
            return 1 if check_accepted(alive, read_accepted(a.accepted)) else 0
        return 0
    finally:
        if a.keep:
            print(f"kept {work} (cd there: mutmut results / mutmut show NAME / mutmut browse)")
        else:
            shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main())
