"""The report: one JSON document (signed), JUnit XML and a bilingual HTML page, written side by side."""

from __future__ import annotations

import os
import platform
import xml.etree.ElementTree as ET
from importlib import metadata
from pathlib import Path
from typing import TYPE_CHECKING, Any

from santong.conformance._results import root_causes
from santong.conformance._signing import fingerprint, load_private_key, sign_report
from santong.protocols import spec_version

if TYPE_CHECKING:
    from santong.conformance._session import SantongSession

__all__ = ["REPORT_VERSION", "build_report", "junit_xml", "package_version", "write_reports"]

#: 2: clause states (passed/failed/not_applicable/not_demonstrated/waived/error), root_causes, coverage rows (the
#: selected profile's; every profile's of the class with --coverage all, selected first).
REPORT_VERSION = 2


def package_version(name: str) -> str | None:
    """An installed distribution's version, None if absent."""
    try:
        return metadata.version(name)
    except metadata.PackageNotFoundError:
        return None


def _environment() -> dict[str, Any]:
    import pytest  # noqa: PLC0415

    return {
        "python": platform.python_version(),
        "implementation": platform.python_implementation(),
        "os": platform.system(),
        "os_release": platform.release(),
        "machine": platform.machine(),
        "pytest": pytest.__version__,
        "packages": {
            n: package_version(n) for n in ("santong", "protobuf", "grpcio", "cryptography", "jsonschema")
        },
    }


def build_report(s: SantongSession) -> dict[str, Any]:
    """The report document of a finished session (not yet signed)."""
    v, reasons, cases = s.results()
    rows = s.clause_rows()
    counts = {
        k: 0 for k in ("passed", "failed", "error", "skipped", "waived", "xfailed", "xpassed", "not_run")
    }
    for c in cases:
        counts[c.verdict] = counts.get(c.verdict, 0) + 1
    counts["deselected"] = len(s.deselected)
    counts["warnings"] = sum(1 for c in cases if c.verdict in ("failed", "xpassed") and not c.blocking)
    counts["deselected_other_subject"] = sum(1 for d in s.deselected if d.reason == "other_subject")
    m = s.manifest
    ident = m.identity
    return {
        "report_version": REPORT_VERSION,
        "product": {
            "vendor": ident.vendor,
            "model": ident.model,
            "version": ident.version,
            "serial": ident.serial,
            "ma_certificate": ident.ma_certificate,
            "device_id": ident.device_id,
            "mine_code": ident.mine_code,
            "product_class": m.product_class,
            "transport": m.transport,
            "features": sorted(m.features),
            **({"software": [dict(x) for x in m.software]} if m.software else {}),
        },
        "manifest": m.embedded(),
        "profile": s.profile.as_dict(),
        "versions": {
            "santong": package_version("santong") or "0+unknown",
            "suite": package_version("santong") or "0+unknown",
            "suite_digest": s.suite_digest(),
            "spec": spec_version(),
        },
        "environment": _environment(),
        "run": {
            "started_at": s.started_at.strftime("%Y-%m-%dT%H:%M:%SZ"),
            "duration_s": round(s.elapsed_s(), 3),
            "target": s.target.as_dict(),
            "negotiated_version": s.negotiated_version,
        },
        "results": {
            "verdict": v,
            "reasons": [r.as_dict() for r in reasons],
            "summary": counts,
            "cases": [c.as_dict() for c in cases],
            "deselected": [d.as_dict() for d in s.deselected if d.reason != "other_subject"],
            "collection_errors": list(s.collection_errors),
            "clauses": [r.as_dict() for r in rows],
            "root_causes": root_causes(cases, rows),
            "coverage": s.coverage_rows(),
            "waivers": s.waiver_rows(),
        },
    }


def junit_xml(report: dict[str, Any]) -> bytes:
    """JUnit XML of the cases, each with its clauses as properties."""
    res = report["results"]
    cases = res["cases"]
    s = res["summary"]
    suite = ET.Element(
        "testsuite",
        name="santong-conformance",
        tests=str(len(cases)),
        failures=str(s["failed"] + s["xpassed"]),
        errors=str(s["error"]),
        skipped=str(s["skipped"] + s["waived"] + s["xfailed"]),
        time=f"{sum(c['duration_s'] for c in cases):.3f}",
        timestamp=report["run"]["started_at"],
    )
    props = ET.SubElement(suite, "properties")
    for k, v in (
        ("verdict", res["verdict"]),
        ("profile", report["profile"]["name"]),
        (
            "product",
            f"{report['product']['vendor']} {report['product']['model']} {report['product']['version']}",
        ),
        ("spec_version", report["versions"]["spec"]),
        ("suite_version", report["versions"]["suite"]),
    ):
        ET.SubElement(props, "property", name=k, value=str(v))
    for c in cases:
        file_part, _, name = c["id"].rpartition("::")
        el = ET.SubElement(
            suite,
            "testcase",
            classname=file_part.replace("/", ".").removesuffix(".py"),
            name=name,
            time=f"{c['duration_s']:.3f}",
        )
        cp = ET.SubElement(el, "properties")
        for cid in c["clauses"]:
            ET.SubElement(cp, "property", name="clause", value=cid)
        if c["verdict"] in ("failed", "xpassed"):
            kind = "santong.clause" if c["blocking"] else "santong.warning"
            ET.SubElement(el, "failure", message=c["message"][:500], type=kind).text = c["message"]
        elif c["verdict"] == "error":
            ET.SubElement(el, "error", message=c["message"][:500]).text = c["message"]
        elif c["verdict"] in ("skipped", "waived", "xfailed", "not_run"):
            ET.SubElement(el, "skipped", message=f"{c['verdict']}: {c['message']}"[:500])
    ET.indent(suite)
    data: bytes = ET.tostring(suite, encoding="utf-8", xml_declaration=True)
    return data


def _write(path: Path, data: bytes) -> None:
    tmp = path.with_name(path.name + ".tmp")
    tmp.write_bytes(data)
    os.replace(tmp, path)


def write_reports(
    report: dict[str, Any], out_dir: Path, key_path: Path | None, *, all_coverage: bool = False
) -> tuple[dict[str, Path], str, bool]:
    """Sign and write report.json, junit.xml, report.html; return the paths, the key ID and whether it was ephemeral.
    ``all_coverage``: the HTML shows the MUST coverage of every profile, not only the selected one."""
    from santong.conformance._html import render_html  # noqa: PLC0415

    if key_path is not None:
        key, ephemeral = load_private_key(key_path), False
    else:
        from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey  # noqa: PLC0415

        key, ephemeral = Ed25519PrivateKey.generate(), True
    signed = sign_report(report, key, ephemeral=ephemeral)
    out_dir.mkdir(parents=True, exist_ok=True)
    paths = {"json": out_dir / "report.json", "html": out_dir / "report.html", "junit": out_dir / "junit.xml"}
    _write(paths["json"], signed)
    _write(paths["junit"], junit_xml(report))
    _write(paths["html"], render_html(signed, all_coverage=all_coverage).encode("utf-8"))
    return paths, fingerprint(key.public_key()), ephemeral
