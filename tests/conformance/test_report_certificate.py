"""The HTML report shows what the certificate binds: its issue date and expiry, and the software digests — each
computed by the runner (verified) or declared by the vendor (unverified) — from the signed statement."""

from __future__ import annotations

import hashlib
import json
import re
from pathlib import Path
from typing import Any

import pytest
from cf_fixtures import write_manifest
from santong.conformance._html import render_html
from santong.conformance._signing import verify_bytes

CASES = """
import pytest

@pytest.mark.clause("ST-DATA-001")
def test_codes():
    pass
"""


def _signed(tmp_path: Path, **manifest: Any) -> bytes:
    (tmp_path / "test_cases.py").write_text(CASES, encoding="utf-8")
    path = write_manifest(tmp_path, **manifest)
    out = tmp_path / "out"
    pytest.main(
        [str(tmp_path), "-q", "-p", "no:cacheprovider", "-p", "no:asyncio", "--rootdir", str(tmp_path)]
        + ["--santong-manifest", str(path), "--santong-report-dir", str(out)]
    )
    data = (out / "report.json").read_bytes()
    assert verify_bytes(data).valid
    return data


def _text(html: str) -> str:
    return re.sub(r"\s+", " ", re.sub(r"<[^>]+>", " ", html))


def test_issue_date_expiry_and_declared_digests(tmp_path: Path) -> None:
    digest = hashlib.sha256(b"gateway firmware 2.3.1").hexdigest()
    signed = _signed(
        tmp_path,
        manifest_version=2,
        software=[{"name": "kj70n-firmware", "sha256": digest}],
        start="external",
    )
    st = json.loads(signed)["certificate"]["statement"]
    text = _text(render_html(signed))
    section = text[text.index("证书 Certificate") :]
    assert f"签发日期 Issued {st['date']}" in section, section[:600]
    assert f"有效期至 Expires {st['expires']}" in section, section[:600]
    assert f"kj70n-firmware: {digest}" in section
    assert "厂商声明，未核实" in section and "declared by the vendor, unverified" in section
    assert "由认证程序从制品文件计算" not in section


def test_computed_digests_and_none_declared(tmp_path: Path) -> None:
    """A computed digest is shown as verified; a report without software says the certificate cannot tell."""
    doc = json.loads(_signed(tmp_path))
    doc["certificate"]["statement"]["product"]["software"] = [
        {"name": "gateway", "sha256": "ab" * 32, "status": "computed"}
    ]
    text = _text(render_html(json.dumps(doc, ensure_ascii=False).encode("utf-8")))
    assert f"gateway: {'ab' * 32}" in text and "computed by the runner from the artefact (verified)" in text
    doc["certificate"]["statement"]["product"].pop("software", None)
    doc["certificate"]["statement"].pop("expires")
    text = _text(render_html(json.dumps(doc, ensure_ascii=False).encode("utf-8")))
    assert "未声明软件摘要" in text and "no software digest declared" in text
    assert "older format, no signed expiry" in text
