"""santong.conformance — certify a product (or a platform) against the 三统一 interface.

A pytest plugin (``santong.conformance.plugin``, inert until a ``--santong-*`` option is given), the product
manifest, profiles, waivers, reports (canonical JSON, JUnit XML, bilingual HTML) and Ed25519 certificates.
Names below load lazily so that importing the plugin stays light.

Example::

    from santong.conformance import load_manifest, verify_bytes

    m = load_manifest("product.yaml")
    v = verify_bytes(open("report.json", "rb").read())
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from santong.conformance._declared import Declared, declared, register_request
    from santong.conformance._documents import ConfigError, Problem
    from santong.conformance._evidence import Evidence
    from santong.conformance._manifest import (
        FEATURES,
        PLACEHOLDERS,
        PRODUCT_CLASSES,
        Identity,
        Manifest,
        StartCommand,
        load_manifest,
    )
    from santong.conformance._outcomes import ClauseFailure, fail_clauses, not_applicable, not_demonstrated
    from santong.conformance._preflight import PreflightError, Prepared, RunOptions, prepare
    from santong.conformance._product import CouldNotRun, ProductLauncher, ProductProcess
    from santong.conformance._profiles import Profile, ProfileSet, load_profiles, profiles
    from santong.conformance._signing import (
        Verification,
        canonical_json,
        fingerprint,
        generate_key_pair,
        load_private_key,
        load_public_key,
        sign_report,
        verify_bytes,
    )
    from santong.conformance._targets import Credentials, TargetSettings
    from santong.conformance._waivers import Waiver, load_waivers

_EXPORTS = {
    "Declared": "_declared",
    "declared": "_declared",
    "register_request": "_declared",
    "ConfigError": "_documents",
    "Problem": "_documents",
    "Evidence": "_evidence",
    "ClauseFailure": "_outcomes",
    "fail_clauses": "_outcomes",
    "not_applicable": "_outcomes",
    "not_demonstrated": "_outcomes",
    "FEATURES": "_manifest",
    "PLACEHOLDERS": "_manifest",
    "PRODUCT_CLASSES": "_manifest",
    "Identity": "_manifest",
    "Manifest": "_manifest",
    "StartCommand": "_manifest",
    "load_manifest": "_manifest",
    "PreflightError": "_preflight",
    "Prepared": "_preflight",
    "RunOptions": "_preflight",
    "prepare": "_preflight",
    "CouldNotRun": "_product",
    "ProductLauncher": "_product",
    "ProductProcess": "_product",
    "Profile": "_profiles",
    "ProfileSet": "_profiles",
    "load_profiles": "_profiles",
    "profiles": "_profiles",
    "Verification": "_signing",
    "canonical_json": "_signing",
    "fingerprint": "_signing",
    "generate_key_pair": "_signing",
    "load_private_key": "_signing",
    "load_public_key": "_signing",
    "sign_report": "_signing",
    "verify_bytes": "_signing",
    "Credentials": "_targets",
    "TargetSettings": "_targets",
    "Waiver": "_waivers",
    "load_waivers": "_waivers",
}

__all__ = [
    "ClauseFailure",
    "ConfigError",
    "CouldNotRun",
    "Credentials",
    "Declared",
    "Evidence",
    "fail_clauses",
    "not_applicable",
    "not_demonstrated",
    "FEATURES",
    "Identity",
    "Manifest",
    "PLACEHOLDERS",
    "PRODUCT_CLASSES",
    "PreflightError",
    "Prepared",
    "Problem",
    "ProductLauncher",
    "ProductProcess",
    "Profile",
    "ProfileSet",
    "RunOptions",
    "StartCommand",
    "TargetSettings",
    "Verification",
    "Waiver",
    "canonical_json",
    "declared",
    "fingerprint",
    "generate_key_pair",
    "load_manifest",
    "load_private_key",
    "load_profiles",
    "load_public_key",
    "load_waivers",
    "prepare",
    "profiles",
    "register_request",
    "sign_report",
    "verify_bytes",
]


def __getattr__(name: str) -> Any:
    module = _EXPORTS.get(name)
    if module is None:
        raise AttributeError(f"module 'santong.conformance' has no attribute {name!r}")
    value = getattr(importlib.import_module(f"santong.conformance.{module}"), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return __all__
