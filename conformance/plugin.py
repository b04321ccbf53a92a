"""santong's pytest plugin (entry point ``pytest11``): inert until a ``--santong-*`` option is given.

Options: ``--santong-manifest FILE`` (required once any option is used), ``--santong-profile NAME``,
``--santong-target {embedded,process,container,url}``, ``--santong-url URL``, ``--santong-credentials FILE``,
``--santong-waivers FILE``, ``--santong-report-dir DIR``, ``--santong-key FILE``, ``--santong-certificate REPORT``
(repeatable).
Markers: ``clause(*ids)`` (required on every case of a run), ``feature(*names)``, ``subject(name)``.
Fixtures: ``evidence``, ``santong_manifest``, ``santong_profile``, ``santong_target``, ``santong_certificates``,
``santong_workdir``, ``santong_declared``, ``santong_launcher``.

Example case::

    @pytest.mark.clause("ST-PROTO-018", "ST-PROTO-021")
    @pytest.mark.feature("backfill")
    def test_outage_is_backfilled(evidence, santong_manifest):
        ...
        evidence.record("delivered", n)

This module imports only pytest and the standard library; the rest loads when a run asks for it.
"""

from __future__ import annotations

from collections.abc import Generator
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pytest

if TYPE_CHECKING:
    from santong.conformance._declared import Declared
    from santong.conformance._evidence import Evidence
    from santong.conformance._manifest import Manifest
    from santong.conformance._product import ProductLauncher
    from santong.conformance._profiles import Profile
    from santong.conformance._session import SantongSession
    from santong.conformance._targets import TargetSettings

__all__ = ["EVIDENCE_KEY", "SESSION_KEY", "active", "session_of"]

OPTIONS = (
    "santong_manifest",
    "santong_profile",
    "santong_target",
    "santong_url",
    "santong_credentials",
    "santong_waivers",
    "santong_report_dir",
    "santong_key",
    "santong_profiles",
    "santong_certificate",
)
TARGET_CHOICES = ("embedded", "process", "container", "url")
SUBJECTS = ("product", "platform")
SESSION_KEY = pytest.StashKey["SantongSession"]()
EVIDENCE_KEY = pytest.StashKey["Evidence"]()
_CLAUSE_PATTERN = r"^ST-(DATA|IFACE|PROTO)-[0-9]{3}$"


def pytest_addoption(parser: pytest.Parser) -> None:
    """The ``--santong-*`` options."""
    g = parser.getgroup(
        "santong", "santong 三统一一致性测试 / conformance (inert unless a --santong option is given)"
    )
    g.addoption("--santong-manifest", metavar="FILE", help="产品声明 product manifest (YAML/JSON); required")
    g.addoption(
        "--santong-profile",
        metavar="NAME",
        help="认证配置 profile: basic 基础, standard 标准, full 完整, mine-acceptance, platform-regression "
        "(default: standard, platform-regression for a platform manifest)",
    )
    g.addoption(
        "--santong-target",
        choices=TARGET_CHOICES,
        help="平台 platform side: embedded (default), process, container, url",
    )
    g.addoption("--santong-url", metavar="URL", help="平台地址 platform URL for --santong-target url")
    g.addoption("--santong-credentials", metavar="FILE", help="平台凭据 credentials file for the url target")
    g.addoption(
        "--santong-waivers", metavar="FILE", help="豁免清单 waiver file: listed cases become strict xfails"
    )
    g.addoption(
        "--santong-report-dir", metavar="DIR", help="报告目录: report.json (signed), report.html, junit.xml"
    )
    g.addoption(
        "--santong-key", metavar="FILE", help="签名私钥 Ed25519 private key (default: an ephemeral key)"
    )
    g.addoption(
        "--santong-profiles",
        metavar="FILE",
        help="认证配置文件 profiles file (schema of conformance/profiles.yaml; default: the bundled one)",
    )
    g.addoption(
        "--santong-coverage",
        choices=("selected", "all"),
        default="selected",
        help="HTML 报告中的 MUST 覆盖：只显示所选配置（默认）或全部配置 / MUST-clause coverage in the HTML report: the "
        "selected profile only (default) or every profile of the product's class",
    )
    g.addoption(
        "--santong-certificate",
        action="append",
        metavar="REPORT",
        help="证书（签名报告，可多次）：mine-acceptance 比对平台上设备上报的软件摘要 / certificate (signed report, "
        "repeatable): mine-acceptance compares the software digests the platform's devices report (ST-PROTO-038)",
    )


def active(config: pytest.Config) -> bool:
    """Whether this run uses the santong plugin (any --santong option given)."""
    return any(config.getoption(o, None) is not None for o in OPTIONS)


def session_of(config: pytest.Config) -> SantongSession | None:
    """The active santong session of a run, None when the plugin is inert."""
    return config.stash.get(SESSION_KEY, None)


def pytest_configure(config: pytest.Config) -> None:
    """Register the markers; when asked for, validate manifest, profile and waivers before any test."""
    config.addinivalue_line(
        "markers", "clause(*ids): 三统一条款 the santong clause IDs a case checks, e.g. clause('ST-DATA-011')"
    )
    config.addinivalue_line(
        "markers",
        "feature(*names): 可选功能 optional features a case needs (backfill, alarms, commands.time_sync, "
        "commands.write_point, personnel, tls); deselected when the manifest does not claim them",
    )
    config.addinivalue_line(
        "markers", "subject(name): 被测对象 what a case tests: 'product' (default) or 'platform'"
    )
    config.addinivalue_line(
        "markers",
        "inspection: 用例需要模拟平台的检查/故障接口；对 url 目标（真实平台）不选 / the case reads the mock "
        "platform's inspection or fault API: deselected on the url target (a real platform has none)",
    )
    if active(config):
        from santong.conformance._session import SantongSession  # noqa: PLC0415  (lazy)

        session = SantongSession.from_config(config)
        config.stash[SESSION_KEY] = session
        config.pluginmanager.register(session, "santong-session")


def pytest_unconfigure(config: pytest.Config) -> None:
    """Drop the session plugin."""
    session = config.stash.get(SESSION_KEY, None)
    if session is not None:
        config.pluginmanager.unregister(session)
        del config.stash[SESSION_KEY]


def _marker_problems(item: pytest.Item, is_active: bool) -> list[str]:
    """What is wrong with a case's santong markers (unknown clause IDs, features, subjects)."""
    import re  # noqa: PLC0415

    out: list[str] = []
    cited: list[Any] = [a for m in item.iter_markers("clause") for a in m.args]
    has_clause_marker = any(True for _ in item.iter_markers("clause"))
    if has_clause_marker and not cited:
        out.append(f"{item.nodeid}: clause() 须列出条款编号 / clause() needs at least one clause ID")
    if cited:
        from santong.protocols import clauses  # noqa: PLC0415  (lazy: only when a case cites clauses)

        known = clauses()
        for cid in cited:
            if not isinstance(cid, str) or cid not in known:
                hint = (
                    ""
                    if isinstance(cid, str) and re.match(_CLAUSE_PATTERN, cid)
                    else "（格式 ST-DATA-001 / format ST-DATA-001）"
                )
                out.append(
                    f"{item.nodeid}: 未知条款编号 unknown clause ID {cid!r}{hint} — "
                    "不在 protocols/data/clauses.yaml 中 / not in protocols/data/clauses.yaml"
                )
    elif is_active:
        out.append(
            f"{item.nodeid}: 一致性用例须用 @pytest.mark.clause(...) 标明所检查的条款 / "
            "a conformance case must cite the clauses it checks with @pytest.mark.clause(...)"
        )
    features = [a for m in item.iter_markers("feature") for a in m.args]
    if features:
        from santong.conformance._manifest import FEATURES  # noqa: PLC0415

        for f in features:
            if f not in FEATURES:
                out.append(
                    f"{item.nodeid}: 未知功能 unknown feature {f!r}; 可选 known: {', '.join(FEATURES)}"
                )
    for m in item.iter_markers("subject"):
        if len(m.args) != 1 or m.args[0] not in SUBJECTS:
            out.append(
                f"{item.nodeid}: subject() 须为 'product' 或 'platform' / must be 'product' or 'platform'"
            )
    return out


@pytest.hookimpl(wrapper=True)
def pytest_make_collect_report(
    collector: pytest.Collector,
) -> Generator[None, pytest.CollectReport, pytest.CollectReport]:
    """Fail the collection of a module whose cases cite unknown clause IDs (or, in a run, cite none)."""
    rep = yield
    if rep.passed and rep.result:
        is_active = session_of(collector.config) is not None
        problems: list[str] = []
        for node in rep.result:
            if isinstance(node, pytest.Item) and (
                is_active
                or any(True for _ in node.iter_markers("clause"))
                or any(True for _ in node.iter_markers("feature"))
            ):
                problems += _marker_problems(node, is_active)
        if problems:
            rep.outcome = "failed"
            rep.longrepr = "\n".join(["santong 条款标记错误 / santong marker errors:", *problems])
            rep.result = []
    return rep


# ----------------------------------------------------------------------------------------------- fixtures


def _session(request: pytest.FixtureRequest) -> SantongSession:
    s = session_of(request.config)
    if s is None:
        pytest.fail(
            "这个用例需要 santong 运行环境：请加 --santong-manifest FILE（或用 santong certify）/ "
            "this case needs a santong run: pass --santong-manifest FILE (or use santong certify)",
            pytrace=False,
        )
    return s


@pytest.fixture
def evidence(request: pytest.FixtureRequest) -> Evidence:
    """Per-case evidence for the report: ``evidence.record(key, value)``, ``evidence.sample(name, message)``."""
    from santong.conformance._evidence import Evidence  # noqa: PLC0415

    ev = Evidence()
    request.node.stash[EVIDENCE_KEY] = ev
    return ev


@pytest.fixture(scope="session")
def santong_manifest(request: pytest.FixtureRequest) -> Manifest:
    """The validated product manifest of the run."""
    return _session(request).manifest


@pytest.fixture(scope="session")
def santong_profile(request: pytest.FixtureRequest) -> Profile:
    """The profile of the run, resolved for the manifest's product class."""
    return _session(request).profile


@pytest.fixture(scope="session")
def santong_target(request: pytest.FixtureRequest) -> TargetSettings:
    """Target kind, URL and credentials of the run."""
    return _session(request).target


@pytest.fixture(scope="session")
def santong_certificates(request: pytest.FixtureRequest) -> tuple[Any, ...]:
    """The certificates (``Certificate``) the mine's devices are accepted against (``--santong-certificate``)."""
    return _session(request).certificates


@pytest.fixture(scope="session")
def santong_workdir(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A scratch folder for the run (product logs, databases): REPORT_DIR/work when reports are written."""
    s = _session(request)
    if s.report_dir is None:
        return tmp_path_factory.mktemp("santong")
    import shutil  # noqa: PLC0415

    work = s.report_dir / "work"
    shutil.rmtree(work, ignore_errors=True)
    work.mkdir(parents=True)
    return work


@pytest.fixture(scope="session")
def santong_declared(request: pytest.FixtureRequest) -> Declared:
    """The manifest's identity and points as messages, with the validation core's findings."""
    from santong.conformance._declared import declared  # noqa: PLC0415

    return declared(_session(request).manifest)


@pytest.fixture(scope="session")
def santong_launcher(request: pytest.FixtureRequest, santong_workdir: Path) -> ProductLauncher:
    """Starts the product from the manifest's start command (``.start(grpc_target=…, http_url=…, token=…)``)."""
    from santong.conformance._product import ProductLauncher  # noqa: PLC0415

    return ProductLauncher(_session(request).manifest, santong_workdir)
