"""The self-check's defect matrix grows with the catalogue (issue: the suite proves its own power).

Computed from the clause catalogue and the profiles: every MUST clause that the product itself is judged on
(``checked_by: product``) in a certification profile (standard or full, any product class) has a defect of the
small device (broken_products/device.py) that the self-check runs and expects to be caught on that clause as the
first root cause (tests/conformance/test_selfcheck.py, `make selfcheck`). A new product clause without a defect
fails here, in `make test`, before anyone runs the matrix.
"""

from __future__ import annotations

import importlib.util
import subprocess
import sys
from pathlib import Path
from types import ModuleType

import pytest
from santong.conformance._manifest import PRODUCT_CLASSES
from santong.conformance._profiles import profiles
from santong.protocols import clauses
from sc_defects import CAUGHT, DEFECTS, MANIFEST_DEFECTS, PRODUCT_START

DEVICE = Path(__file__).resolve().parent / "broken_products" / "device.py"
CERTIFICATION = ("standard", "full")


def _device() -> ModuleType:
    spec = importlib.util.spec_from_file_location("sc_broken_device", DEVICE)
    assert spec is not None and spec.loader is not None
    mod = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = mod  # its dataclasses look themselves up there
    spec.loader.exec_module(mod)
    return mod


def product_must_clauses() -> set[str]:
    """MUST clauses checked by the product in a certification profile of any product class."""
    cat = clauses()
    out: set[str] = set()
    for cls in PRODUCT_CLASSES:
        if cls == "platform":
            continue
        for p in profiles().all_for(cls):
            if p.name in CERTIFICATION:
                out |= {c for c in p.must_ids() if cat[c].level == "MUST" and "product" in cat[c].checked_by}
    return out


def test_the_computation_finds_the_product_clauses() -> None:
    """The computed set is not empty and holds the behaviours everyone agrees a product is judged on."""
    got = product_must_clauses()
    assert {"ST-PROTO-014", "ST-PROTO-015", "ST-PROTO-018", "ST-PROTO-021", "ST-IFACE-011"} <= got, sorted(
        got
    )
    assert all(clauses()[c].level == "MUST" for c in got)


def test_every_product_must_clause_has_a_defect() -> None:
    missing = sorted(product_must_clauses() - set(CAUGHT.values()))
    assert not missing, (
        "MUST clauses judged on the product without a defect in the self-check matrix "
        f"(add one to broken_products/device.py and tests/conformance/sc_defects.py): {missing}"
    )


def test_every_defect_names_a_real_clause_and_a_real_switch() -> None:
    """A defect's clause exists; a --defect name the device does not know is refused (it would run a correct
    device and prove nothing)."""
    cat = clauses()
    assert all(c in cat for c in CAUGHT.values()), sorted(set(CAUGHT.values()) - set(cat))
    known = set(_device().DEFECTS)
    assert set(DEFECTS) | set(PRODUCT_START) <= known, sorted(set(DEFECTS) | set(PRODUCT_START) - known)
    assert not set(MANIFEST_DEFECTS) & known  # made by the manifest, not by a switch


@pytest.mark.parametrize("name", ["no_such_defect", "None", ""])
def test_unknown_defect_switch_is_refused(name: str, tmp_path: Path) -> None:
    r = subprocess.run(
        [sys.executable, str(DEVICE), "--target", "127.0.0.1:1", "--device", "D", "--token", "T",
         "--workdir", str(tmp_path), "--defect", name],
        capture_output=True, text=True, timeout=60,
    )  # fmt: skip
    assert r.returncode == 2 and "invalid choice" in r.stderr, r.stderr
