"""The product manifest: a valid one loads; each kind of mistake gives an error that says where and what to fix."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from cf_fixtures import CDDY_NAME, CDDY_TEXT, EXAMPLE_MANIFEST, example_manifest
from santong.conformance import ConfigError, declared, load_manifest
from santong.conformance._documents import load_schema


def _problems(path: Path) -> list[Any]:
    with pytest.raises(ConfigError) as e:
        load_manifest(path)
    return e.value.problems


def test_the_schema_is_draft_2020_12_with_an_id() -> None:
    s = load_schema("manifest")
    assert s["$schema"] == "https://json-schema.org/draft/2020-12/schema"
    assert s["$id"].endswith("/manifest.schema.json")


def test_the_example_loads() -> None:
    m = load_manifest(EXAMPLE_MANIFEST)
    assert m.identity.device_id == "KJ70N-0001" and m.identity.mine_code == "140421000001"
    assert m.product_class == "safety_monitoring" and m.transport == "grpc"
    assert m.claims("backfill") and not m.claims("tls")
    assert m.start is not None and m.start.ready_line is not None
    argv, _ = m.start.render(
        {"grpc_target": "127.0.0.1:1", "http_url": "", "device_id": "D", "token": "T", "workdir": "/w"}
    )
    assert argv[:3] == ["my-gateway", "--platform", "127.0.0.1:1"] and "T" in argv
    emb = m.embedded()
    assert emb["document"]["identity"]["vendor"].startswith("示例电子") and len(emb["file_sha256"]) == 64


def test_json_manifests_load_too(tmp_path: Path) -> None:
    p = tmp_path / "m.json"
    p.write_text(json.dumps(example_manifest(), ensure_ascii=False), encoding="utf-8")
    assert load_manifest(p).external


CASES: list[tuple[str, Callable[[dict[str, Any]], None], str, str]] = [
    (
        "missing identity key",
        lambda d: d["identity"].pop("serial"),
        "$.identity",
        "required key serial is missing",
    ),
    ("empty vendor", lambda d: d["identity"].update(vendor="  "), "$.identity.vendor", "must not be empty"),
    ("unknown top-level key", lambda d: d.update(featurs=[]), "$.featurs", "did you mean features?"),
    (
        "wrong product class",
        lambda d: d.update(product_class="safety-monitoring"),
        "$.product_class",
        "did you mean safety_monitoring?",
    ),
    (
        "unknown feature",
        lambda d: d.update(features=["backfill", "alarm"]),
        "$.features[1]",
        "did you mean alarms?",
    ),
    ("duplicate feature", lambda d: d.update(features=["tls", "tls"]), "$.features", "duplicates"),
    (
        "interval too small",
        lambda d: d.update(heartbeat_interval_ms=5),
        "$.heartbeat_interval_ms",
        "out of range",
    ),
    (
        "interval not an integer",
        lambda d: d.update(report_interval_ms="1s"),
        "$.report_interval_ms",
        "wrong type",
    ),
    ("transport", lambda d: d.update(transport="mqtt"), "$.transport", "choose one of: grpc, http"),
    ("no points", lambda d: d.pop("points"), "$", "no points declared"),
    (
        "points and points_file",
        lambda d: d.update(points_file="x_CDDY_1.txt"),
        "$",
        "either points or points_file",
    ),
    (
        "bad device id",
        lambda d: d["identity"].update(device_id="has space"),
        "$.identity.device_id",
        "malformed",
    ),
    (
        "start neither external nor command",
        lambda d: d.update(start="manual"),
        "$.start",
        "must be 'external' or a mapping with command",
    ),
    (
        "start without command",
        lambda d: d.update(start={"ready_line": "ok"}),
        "$.start",
        "required key command",
    ),
    ("wrong version", lambda d: d.update(manifest_version=3), "$.manifest_version", "choose one of: 1, 2"),
    (
        "hooks in a version 1 manifest",
        lambda d: d.update(manifest_version=1, start="external", hooks={"start": ["pdu", "on"]}),
        "$.hooks",
        "needs manifest_version: 2",
    ),
    (
        "hooks for a product the runner starts",
        lambda d: d.update(manifest_version=2, start={"command": ["gw"]}, hooks={"start": ["pdu", "on"]}),
        "$.hooks",
        "hooks are for a product the runner does not start",
    ),
    (
        "unknown placeholder in a hook",
        lambda d: d.update(manifest_version=2, start="external", hooks={"start": ["tool", "{grpc_addr}"]}),
        "$.hooks.start[1]",
        "did you mean {grpc_target}?",
    ),
    (
        "hooks without start",
        lambda d: d.update(manifest_version=2, start="external", hooks={"stop": ["pdu", "off"]}),
        "$.hooks",
        "required key start",
    ),
    (
        "back-off cap above the spec's",
        lambda d: d.update(manifest_version=2, max_backoff_ms=60_000),
        "$.max_backoff_ms",
        "out of range",
    ),
    (
        "back-off cap in a version 1 manifest",
        lambda d: d.update(manifest_version=1, max_backoff_ms=5000),
        "$.max_backoff_ms",
        "needs manifest_version: 2",
    ),
    (
        "unknown placeholder",
        lambda d: d.update(start={"command": ["gw", "{grpc_addr}"]}),
        "$.start.command[1]",
        "did you mean {grpc_target}?",
    ),
    (
        "broken placeholder",
        lambda d: d.update(start={"command": ["gw", "{oops"]}),
        "$.start.command[1]",
        "literal braces",
    ),
    (
        "placeholder in env",
        lambda d: d.update(start={"command": ["gw"], "env": {"TOKEN": "{tokn}"}}),
        "$.start.env.TOKEN",
        "unknown placeholder {tokn}",
    ),
    (
        "bad ready_line",
        lambda d: d.update(start={"command": ["gw"], "ready_line": "(unclosed"}),
        "$.start.ready_line",
        "not a valid regular expression",
    ),
    (
        "missing cwd",
        lambda d: d.update(start={"command": ["gw"], "cwd": "nowhere"}),
        "$.start.cwd",
        "does not exist",
    ),
    (
        "points file missing",
        lambda d: (d.pop("points"), d.update(points_file="140421000001_CDDY_20250101000000.txt")),
        "$.points_file",
        "does not exist",
    ),
]


@pytest.mark.parametrize(
    ("mistake", "path", "expected"), [pytest.param(c[1], c[2], c[3], id=c[0]) for c in CASES]
)
def test_mistakes_say_what_to_fix(
    manifest_file: Callable[..., Path], mistake: Callable[[dict[str, Any]], None], path: str, expected: str
) -> None:
    d = example_manifest()
    mistake(d)
    problems = _problems(manifest_file(d))
    assert any(p.path == path and expected in p.message_en for p in problems), [str(p) for p in problems]
    assert all(p.file.endswith("manifest.yaml") and p.message_zh for p in problems)


def test_all_problems_at_once_with_lines(tmp_path: Path) -> None:
    p = tmp_path / "m.yaml"
    text = EXAMPLE_MANIFEST.read_text(encoding="utf-8")
    text = text.replace("transport: grpc", "transport: grcp").replace("  serial: SN20250001\n", "")
    p.write_text(text, encoding="utf-8")
    problems = _problems(p)
    assert {x.path for x in problems} == {"$.identity", "$.transport"}
    transport = next(x for x in problems if x.path == "$.transport")
    assert transport.line == next(
        i for i, ln in enumerate(text.splitlines(), 1) if ln.startswith("transport:")
    )
    assert f"{p}:{transport.line}: $.transport" in str(transport)


def test_unreadable_files(tmp_path: Path) -> None:
    (missing,) = _problems(tmp_path / "nope.yaml")
    assert "not found" in missing.message_en
    bad = tmp_path / "bad.yaml"
    bad.write_text("identity: [unclosed\n  - x", encoding="utf-8")
    (syntax,) = _problems(bad)
    assert "not well-formed YAML" in syntax.message_en and syntax.line is not None
    lst = tmp_path / "list.yaml"
    lst.write_text("- 1\n- 2\n", encoding="utf-8")
    (shape,) = _problems(lst)
    assert "mapping" in shape.message_en
    binary = tmp_path / "bin.yaml"
    binary.write_bytes(b"\xff\xfe\x00garbage")
    assert "UTF-8" in _problems(binary)[0].message_en


def test_platform_and_personnel_classes_need_no_points(manifest_file: Callable[..., Path]) -> None:
    for cls in ("platform", "personnel_position"):
        m = load_manifest(manifest_file(product_class=cls, points=None))
        assert m.points is None and m.points_file is None
        assert declared(m).source == "none"


def test_declared_points_are_checked_by_the_core(manifest_file: Callable[..., Path]) -> None:
    d = example_manifest()
    d["points"][0]["unit"] = "ppm"
    d["points"][1]["point_code"] = "14042100000199KGS0010K01"
    got = declared(load_manifest(manifest_file(d)))
    assert got.points is not None
    assert {v.clause_id for v in got.points_violations} >= {"ST-DATA-011", "ST-DATA-004"}
    assert got.violations_of("ST-DATA-011")[0].path == "$.points[0].unit"
    assert not got.register_violations


def test_declared_identity_is_checked_by_the_core(manifest_file: Callable[..., Path]) -> None:
    d = example_manifest()
    d["identity"]["mine_code"] = "99042100000"
    got = declared(load_manifest(manifest_file(d)))
    assert "ST-DATA-001" in {v.clause_id for v in got.register_violations}
    assert "ST-DATA-003" in {v.clause_id for v in got.points_violations}


def test_points_from_a_cddy_file(tmp_path: Path, manifest_file: Callable[..., Path]) -> None:
    (tmp_path / CDDY_NAME).write_text(CDDY_TEXT, encoding="utf-8")
    got = declared(load_manifest(manifest_file(points=None, points_file=CDDY_NAME)))
    assert got.source == f"file:{CDDY_NAME}"
    assert got.points is not None and [p.alias for p in got.points.points] == [1, 2]
    assert not [str(v) for v in got.points_violations if v.level == "MUST"]


def test_a_broken_cddy_file_names_the_grammar_clause(
    tmp_path: Path, manifest_file: Callable[..., Path]
) -> None:
    (tmp_path / CDDY_NAME).write_text(CDDY_TEXT.removesuffix("||"), encoding="utf-8")
    got = declared(load_manifest(manifest_file(points=None, points_file=CDDY_NAME)))
    assert got.points is None
    assert [v.clause_id for v in got.points_violations] == ["ST-DATA-041"]


def test_points_file_must_be_a_cddy_file(tmp_path: Path, manifest_file: Callable[..., Path]) -> None:
    name = "140421000001_CDSS_20250115103000.txt"
    (tmp_path / name).write_text("x", encoding="utf-8")
    (p,) = _problems(manifest_file(points=None, points_file=name))
    assert p.path == "$.points_file" and "CDDY" in p.message_en


def test_declared_backoff_cap_bounds_the_recovery_wait(manifest_file: Callable[..., Path]) -> None:
    """max_backoff_ms (version 2) shortens the suite's recovery bound; absent, the spec's 30 s cap holds."""
    from santong.conformance._live import LiveProduct  # noqa: PLC0415

    class _Handle:
        admin, device_id, limits = object(), "D", None

    fast = load_manifest(manifest_file(manifest_version=2, max_backoff_ms=2000))
    spec = load_manifest(manifest_file())
    assert fast.max_backoff_ms == 2000 and spec.max_backoff_ms is None
    live_fast = LiveProduct(None, _Handle(), fast)  # type: ignore[arg-type]
    live_spec = LiveProduct(None, _Handle(), spec)  # type: ignore[arg-type]
    assert live_fast.max_backoff_s == 2.0 and live_spec.max_backoff_s == 30.0
    assert live_spec.recovery_s - live_fast.recovery_s == 28.0


def test_hardware_example_and_restart_hooks(manifest_file: Callable[..., Path]) -> None:
    """The hardware example loads (start: external with hooks); the suite can restart a product it starts or one
    with start and stop hooks, not an external one without a stop hook (its restart clauses: not demonstrated)."""
    from santong.conformance._live import LiveProduct  # noqa: PLC0415

    class _Handle:
        admin, device_id, limits = object(), "D", None

    example = load_manifest(EXAMPLE_MANIFEST.parent / "hardware.manifest.example.yaml")
    assert example.external and example.hooks is not None and example.hooks.stop == ("pdu", "off", "3")
    no_stop = load_manifest(
        manifest_file(manifest_version=2, start="external", hooks={"start": ["pdu", "on"]})
    )
    started = load_manifest(manifest_file(start={"command": ["gw"]}))

    def can(m: Any) -> bool:
        return LiveProduct(None, _Handle(), m).can_restart  # type: ignore[arg-type]

    assert can(example) and can(started) and not can(no_stop)
