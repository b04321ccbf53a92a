"""Everything checked before a run starts: manifest, profile, features, target, credentials, waivers, key."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from santong.conformance._certificates import Certificate, load_certificates
from santong.conformance._documents import ConfigError
from santong.conformance._manifest import Manifest, load_manifest
from santong.conformance._profiles import Profile, ProfileSet, load_profiles, profiles
from santong.conformance._targets import TargetSettings, load_credentials, url_problem
from santong.conformance._waivers import Waiver, load_waivers

__all__ = ["PreflightError", "Prepared", "RunOptions", "prepare"]


@dataclass(frozen=True)
class RunOptions:
    """What a run was asked to do (the ``--santong-*`` options, or the arguments of ``santong certify``)."""

    manifest: str | Path | None
    profile: str | None = None
    target: str | None = None
    url: str | None = None
    credentials: str | Path | None = None
    waivers: str | Path | None = None
    report_dir: str | Path | None = None
    key: str | Path | None = None
    #: Another profiles file (same schema as conformance/profiles.yaml); default: the bundled one.
    profiles: str | Path | None = None
    #: Certificates (signed reports) the devices on a mine's platform are accepted against (ST-PROTO-038).
    certificates: tuple[str | Path, ...] = ()


@dataclass(frozen=True)
class Prepared:
    """The validated inputs of a run."""

    manifest: Manifest
    profile: Profile
    profile_set: ProfileSet
    target: TargetSettings
    waivers: list[Waiver] = field(default_factory=list)
    report_dir: Path | None = None
    key_path: Path | None = None
    certificates: tuple[Certificate, ...] = ()


class PreflightError(Exception):
    """The run cannot start; ``problems`` say what to fix (each in Chinese and English)."""

    def __init__(self, problems: list[str]) -> None:
        self.problems = problems
        super().__init__("\n".join(problems))


def _profile(ps: ProfileSet, manifest: Manifest, name: str | None, problems: list[str]) -> Profile | None:
    default = "platform-regression" if manifest.product_class == "platform" else "standard"
    try:
        profile = ps.resolve(name or default, manifest.product_class)
    except KeyError as e:
        problems.append(str(e.args[0]))
        return None
    if manifest.product_class == "platform" and "platform" not in profile.subjects:
        problems.append(
            f"配置 {profile.name} 用于认证产品；平台请用 platform-regression 或 mine-acceptance / "
            f"profile {profile.name} certifies products; for a platform use platform-regression or mine-acceptance"
        )
    # A required feature the manifest does not claim is not a set-up problem: the run goes on and its verdict is
    # FAIL (the clauses behind the feature are not demonstrated) — declaring less never helps.
    return profile


def _target(o: RunOptions, problems: list[str]) -> TargetSettings:
    kind = o.target or ("url" if o.url else "embedded")
    if kind == "url":
        if not o.url:
            problems.append(
                "url 目标需要平台地址（--santong-url / --url）/ the url target needs a platform URL"
            )
        elif (why := url_problem(o.url)) is not None:
            problems.append(why)
        if o.credentials is None:
            problems.append("url 目标需要凭据文件 / the url target needs a credentials file")
    elif o.url:
        problems.append(
            f"平台地址只用于 url 目标（当前 {kind}）/ a platform URL is for the url target only (not {kind})"
        )
    creds = None
    if o.credentials is not None:
        try:
            creds = load_credentials(o.credentials)
        except ConfigError as e:
            problems += [str(p) for p in e.problems]
    return TargetSettings(kind, o.url, creds)


def prepare(o: RunOptions) -> Prepared:
    """Validate every input; PreflightError lists all problems at once."""
    if o.manifest is None:
        raise PreflightError(
            [
                "缺少产品声明（--santong-manifest / --manifest）：没有声明就不知道该测什么，运行绝不会“什么都不测”地通过 / "
                "the product manifest is missing (--santong-manifest / --manifest): without the capability "
                "declaration nothing could be selected, and a run never silently tests nothing"
            ]
        )
    try:
        manifest = load_manifest(o.manifest)
    except ConfigError as e:
        raise PreflightError([str(p) for p in e.problems]) from e
    try:
        ps = profiles() if o.profiles is None else load_profiles(o.profiles)
    except ConfigError as e:
        raise PreflightError([str(p) for p in e.problems]) from e
    problems: list[str] = []
    profile = _profile(ps, manifest, o.profile, problems)
    target = _target(o, problems)
    waivers: list[Waiver] = []
    if o.waivers is not None:
        try:
            waivers = load_waivers(o.waivers)
        except ConfigError as e:
            problems += [str(p) for p in e.problems]
    key_path = Path(o.key) if o.key else None
    if key_path is not None:
        from santong.conformance._signing import load_private_key  # noqa: PLC0415

        try:
            load_private_key(key_path)
        except ValueError as e:
            problems.append(str(e))
    certs, cert_problems = load_certificates(o.certificates)
    problems += cert_problems
    report_dir = Path(o.report_dir) if o.report_dir else None
    if report_dir is not None:
        try:
            report_dir.mkdir(parents=True, exist_ok=True)
        except OSError as e:
            problems.append(f"无法创建报告目录 cannot create the report folder {report_dir}: {e}")
    if problems or profile is None:
        raise PreflightError(problems)
    return Prepared(manifest, profile, ps, target, waivers, report_dir, key_path, tuple(certs))
