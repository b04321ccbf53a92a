"""The trust list: who may vouch for a signed report, signed by a root key published separately; and the one-line
answer a mine reads (certified by X until DATE, self-test by vendor Y, signer unknown, key revoked, …).

Self-test versus certification is decided by the signer's ``role`` in the trust list, never by anything the signer
writes into the report. Example::

    tl = load_trust_list(Path("trust.json"), load_public_key("root.pub"))
    answer = judge(verify_bytes(data), tl)
    print(answer.line())
"""

from __future__ import annotations

import datetime as dt
import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from santong.conformance._documents import Document, Problem, schema_problems
from santong.conformance._signing import (
    Verification,
    canonical_json,
    fingerprint,
    parse_utc,
    public_key_from_hex,
    utc_text,
)

__all__ = [
    "ANSWER_CODES",
    "Answer",
    "TrustError",
    "TrustList",
    "changed",
    "judge",
    "load_trust_list",
    "new_list",
    "read_list_document",
    "sign_list",
    "suite_older",
    "write_list",
]

TRUST_FORMAT = "santong-trust-list/1"
ANY = "*"

#: Exit code of `santong verify --trust` per answer (santong._exit: 0 only for a valid certification; 3 is the
#: command's own code for a genuine vendor self-test, which is not a certification).
ANSWER_CODES: dict[str, int] = {
    "certified": 0,
    "self_test": 3,
    "invalid": 1,
    "unknown_signer": 1,
    "revoked_compromised": 1,
    "revoked_retired": 1,
    "signer_not_valid": 1,
    "out_of_scope": 1,
    "expired": 1,
    "old_suite": 1,
    "digest_mismatch": 1,
    "not_pass": 1,
}


class TrustError(Exception):
    """A trust list that cannot be used (unreadable, malformed, unsigned, not signed by the given root)."""

    def __init__(self, zh: str, en: str) -> None:
        super().__init__(f"{zh} / {en}")
        self.zh, self.en = zh, en


def new_list(name: str, *, min_suite_version: str = "0", lifetime_days: int = 365) -> dict[str, Any]:
    """An empty, unsigned trust list document (version 1)."""
    return {
        "format": TRUST_FORMAT,
        "list": {
            "name": name,
            "version": 1,
            "issued": None,
            "min_suite_version": min_suite_version,
            "certificate_lifetime_days": lifetime_days,
            "certifiers": [],
            "revocations": [],
        },
        "signature": None,
    }


def read_list_document(path: Path) -> dict[str, Any]:
    """A trust list file, schema-checked (signature not checked); TrustError says what is wrong."""
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as e:
        raise TrustError(
            f"无法读取信任列表 {path}：{e.strerror or e}，请检查路径",
            f"cannot read the trust list {path}: {e.strerror or e} — check the path",
        ) from e
    except UnicodeDecodeError as e:
        raise TrustError(
            f"信任列表 {path} 不是 UTF-8 文本", f"the trust list {path} is not UTF-8 text"
        ) from e
    try:
        data = json.loads(text)
    except (json.JSONDecodeError, RecursionError) as e:
        raise TrustError(
            f"信任列表 {path} 不是合法 JSON：{e}", f"the trust list {path} is not well-formed JSON: {e}"
        ) from e
    problems = schema_problems(Document(path, data), "trust-list")
    problems += _consistency(Document(path, data)) if not problems else []
    if problems:
        raise TrustError(
            f"信任列表 {path} 无效（trust-list.schema.json）：{'; '.join(f'{p.path} {p.message_zh}' for p in problems)}",
            f"the trust list {path} is invalid: {'; '.join(f'{p.path} {p.message_en}' for p in problems)}",
        )
    result: dict[str, Any] = data
    return result


def _consistency(doc: Document) -> list[Problem]:
    out: list[Problem] = []
    lst = doc.data["list"]
    seen: set[str] = set()
    for i, c in enumerate(lst["certifiers"]):
        if fingerprint(public_key_from_hex(c["public_key"])) != c["key_id"]:
            out.append(
                doc.problem(
                    ["list", "certifiers", i, "key_id"],
                    "key_id 与 public_key 不符",
                    "key_id does not match public_key",
                )
            )
        if c["key_id"] in seen:
            out.append(
                doc.problem(["list", "certifiers", i], "同一密钥出现两次", "the same key is listed twice")
            )
        seen.add(c["key_id"])
        if parse_utc(c["valid_until"]) <= parse_utc(c["valid_from"]):
            out.append(
                doc.problem(
                    ["list", "certifiers", i, "valid_until"],
                    "valid_until 须晚于 valid_from",
                    "valid_until must be after valid_from",
                )
            )
    return out


def write_list(path: Path, doc: dict[str, Any]) -> None:
    """Write the list as readable JSON (the signature covers the canonical bytes of ``list``, not the layout)."""
    tmp = path.with_name(path.name + ".tmp")
    tmp.write_text(json.dumps(doc, ensure_ascii=False, indent=2, sort_keys=True) + "\n", encoding="utf-8")
    tmp.replace(path)


def sign_list(doc: dict[str, Any], root_private: Any, *, now: dt.datetime | None = None) -> None:
    """Set ``issued`` and sign ``list`` with the root key (in place)."""
    doc["list"]["issued"] = utc_text(now or dt.datetime.now(dt.UTC))
    doc["signature"] = {
        "algorithm": "Ed25519",
        "key_id": fingerprint(root_private.public_key()),
        "value": root_private.sign(canonical_json(doc["list"])).hex(),
    }


def changed(doc: dict[str, Any]) -> None:
    """A signed list is being modified: the next version, unsigned until `santong trust sign`."""
    if doc["signature"] is not None:
        doc["list"]["version"] += 1
        doc["signature"] = None
        doc["list"]["issued"] = None


@dataclass
class TrustList:
    """A trust list whose signature by the root key was checked."""

    body: dict[str, Any]
    root_key_id: str
    path: Path | None = None

    @property
    def name(self) -> str:
        return str(self.body["name"])

    @property
    def version(self) -> int:
        return int(self.body["version"])

    @property
    def issued(self) -> str:
        return str(self.body["issued"])

    def entry(self, key_id: str) -> dict[str, Any] | None:
        """The certifier or vendor entry of a key."""
        return next((c for c in self.body["certifiers"] if c["key_id"] == key_id), None)

    def revocation(self, key_id: str) -> dict[str, Any] | None:
        """The revocation of a key (a compromise outranks a retirement; else the earliest)."""
        rs = [r for r in self.body["revocations"] if r["key_id"] == key_id]
        rs.sort(key=lambda r: (r["reason"] != "compromised", r["date"]))
        return rs[0] if rs else None

    def describe(self) -> tuple[str, str]:
        """Which list and root were used, for `santong verify`."""
        where = f" ({self.path})" if self.path else ""
        return (
            f"信任列表 {self.name} 第 {self.version} 版，签发于 {self.issued}{where}；根密钥 {self.root_key_id}",
            f"trust list {self.name} version {self.version}, issued {self.issued}{where}; root key {self.root_key_id}",
        )


def load_trust_list(path: Path, root_public: Any) -> TrustList:
    """Read a trust list and check that the root key signed it; TrustError (a forged or unsigned list) otherwise."""
    from cryptography.exceptions import InvalidSignature  # noqa: PLC0415

    doc = read_list_document(path)
    root_id = fingerprint(root_public)
    sig = doc["signature"]
    if sig is None:
        raise TrustError(
            f"信任列表 {path} 未签名（草稿）：请由根密钥持有者运行 santong trust sign 后再用",
            f"the trust list {path} is not signed (a draft): the root key holder must run `santong trust sign` first",
        )
    try:
        if sig["key_id"] != root_id:
            raise InvalidSignature
        root_public.verify(bytes.fromhex(sig["value"]), canonical_json(doc["list"]))
    except InvalidSignature:
        raise TrustError(
            f"信任列表 {path} 不是由给定根密钥 {root_id} 签署（伪造或被改动）：不要使用它，请从平台方另行取得列表与根公钥",
            f"the trust list {path} is not signed by the given root key {root_id} (forged or altered): do not use it; "
            "get the list and the root public key from the platform operator again",
        ) from None
    return TrustList(doc["list"], root_id, path)


def suite_older(version: str, minimum: str) -> bool:
    """Whether suite ``version`` is older than ``minimum`` (PEP 440; an unparsable version counts as older)."""
    from packaging.version import InvalidVersion, Version  # noqa: PLC0415  (packaging comes with pytest)

    try:
        return Version(version) < Version(minimum)
    except InvalidVersion:
        return True


def _scope_text(scope: dict[str, Any]) -> tuple[str, str]:
    def one(items: list[str], zh_any: str, en_any: str) -> tuple[str, str]:
        return (zh_any, en_any) if ANY in items else (", ".join(items), ", ".join(items))

    pz, pe = one(scope["profiles"], "全部配置", "any profile")
    cz, ce = one(scope["product_classes"], "全部类别", "any product class")
    return f"配置 {pz}；类别 {cz}", f"profiles {pe}; classes {ce}"


def _in(value: str, allowed: list[str]) -> bool:
    return ANY in allowed or value in allowed


@dataclass
class Answer:
    """The one-line answer for a mine, its kind (a key of ANSWER_CODES), and the details behind it."""

    kind: str
    zh: str
    en: str
    expires: str | None = None
    notes: list[tuple[str, str]] = field(default_factory=list)
    entry: dict[str, Any] | None = None

    @property
    def code(self) -> int:
        return ANSWER_CODES[self.kind]

    def line(self) -> str:
        mark = "✔" if self.kind == "certified" else ("●" if self.kind == "self_test" else "✘")
        return f"{mark} {self.zh} / {self.en}"


def effective_expiry(statement: dict[str, Any], lifetime_days: int) -> dt.datetime:
    """The earlier of the signed expiry (certificate type 2) and the issue date plus the list's lifetime."""
    issued = parse_utc(statement["date"])
    ends = issued + dt.timedelta(days=lifetime_days)
    if isinstance(statement.get("expires"), str):
        ends = min(ends, parse_utc(statement["expires"]))
    return ends


def judge(
    v: Verification,
    tl: TrustList,
    *,
    now: dt.datetime | None = None,
    expect_digests: list[str] | None = None,
    digests: list[str] | None = None,
) -> Answer:
    """The answer for a verified report against a checked trust list, in the order a mine needs it.

    Integrity first; then who signed (unknown, revoked, outside the key's validity), then what the signer may
    vouch for (scope), the suite, validity in time, the product digest, the verdict; last the signer's role."""
    now = now or dt.datetime.now(dt.UTC)
    if not v.valid:
        return Answer(
            "invalid",
            "报告无效：被改动、损坏或签名不符，不可信",
            "INVALID report: altered, damaged or the signature does not match — do not trust it",
        )
    st = v.statement
    signed_at = parse_utc(st["date"])
    entry = tl.entry(v.key_id)
    if entry is None:
        eph_zh, eph_en = ("（临时密钥）", " (an ephemeral key)") if st.get("ephemeral_key") else ("", "")
        return Answer(
            "unknown_signer",
            f"签署者未知：密钥 {v.key_id}{eph_zh} 不在信任列表中，既不是认证也不是登记的厂商自测",
            f"signer UNKNOWN: key {v.key_id}{eph_en} is not in the trust list — neither a certification nor a "
            "registered vendor self-test",
        )
    who_zh = f"{entry['name']}（{entry['organisation']}）"
    who_en = f"{entry['name']} ({entry['organisation']})"
    ans = Answer("certified", "", "", entry=entry)
    rev = tl.revocation(v.key_id)
    if rev is not None and rev["reason"] == "compromised":
        return Answer(
            "revoked_compromised",
            f"密钥已吊销：{who_zh}的密钥于 {rev['date']} 报告泄露，该密钥签署的所有报告一律无效（无论签署日期）",
            f"key REVOKED: the key of {who_en} was reported compromised on {rev['date']}; every report signed "
            "with it is void, whatever its date",
            entry=entry,
        )
    if rev is not None and signed_at >= parse_utc(rev["date"]):
        return Answer(
            "revoked_retired",
            f"密钥已停用：{who_zh}的密钥于 {rev['date']} 停用，本报告签于 {st['date']}（停用之后），无效",
            f"key RETIRED before signing: the key of {who_en} was retired on {rev['date']} and this report was "
            f"signed on {st['date']}, after that — not valid",
            entry=entry,
        )
    if rev is not None:
        ans.notes.append(
            (
                f"该密钥已于 {rev['date']} 停用；本报告签于停用之前，仍有效",
                f"the key was retired on {rev['date']}; this report was signed before that and stays valid",
            )
        )
    if not parse_utc(entry["valid_from"]) <= signed_at <= parse_utc(entry["valid_until"]):
        return Answer(
            "signer_not_valid",
            f"签署时密钥不在有效期：{who_zh}的密钥有效期 {entry['valid_from']} 至 {entry['valid_until']}，"
            f"本报告签于 {st['date']}",
            f"signer key NOT VALID at signing: the key of {who_en} is valid from {entry['valid_from']} to "
            f"{entry['valid_until']}, this report was signed on {st['date']}",
            entry=entry,
        )
    scope_zh, scope_en = _scope_text(entry["scope"])
    profile, pclass = st["profile"], st["product"].get("product_class", "")
    if not (_in(profile, entry["scope"]["profiles"]) and _in(pclass, entry["scope"]["product_classes"])):
        return Answer(
            "out_of_scope",
            f"超出签署者范围：{who_zh} 只能签署 {scope_zh}，本报告为配置 {profile}、类别 {pclass}",
            f"OUTSIDE the signer's scope: {who_en} may sign {scope_en} only; this report is profile {profile}, "
            f"class {pclass}",
            entry=entry,
        )
    minimum = str(tl.body["min_suite_version"])
    if suite_older(str(st["suite_version"]), minimum):
        return Answer(
            "old_suite",
            f"套件过旧：报告由 santong 套件 {st['suite_version']} 生成，信任列表要求至少 {minimum}，请用新版重新认证",
            f"suite TOO OLD: the report was made by santong suite {st['suite_version']}; the trust list requires "
            f"{minimum} or later — certify again with a current suite",
            entry=entry,
        )
    ends = effective_expiry(st, int(tl.body["certificate_lifetime_days"]))
    ans.expires = utc_text(ends)
    if now > ends:
        return Answer(
            "expired",
            f"已过期：{who_zh} 签署于 {st['date']} 的证书于 {ans.expires} 到期",
            f"EXPIRED: the certificate signed by {who_en} on {st['date']} expired on {ans.expires}",
            expires=ans.expires,
            entry=entry,
        )
    if expect_digests:
        have = set(digests or [])
        missing = [d for d in expect_digests if d not in have]
        if missing:
            shown = ", ".join(sorted(have)) or "无 none"
            return Answer(
                "digest_mismatch",
                f"产品摘要不符：设备软件摘要 {', '.join(missing)} 不在证书所认证的软件中（证书：{shown}），"
                "该设备运行的不是被认证的软件",
                f"product digest MISMATCH: {', '.join(missing)} is not among the software the certificate covers "
                f"({shown}) — the device does not run the certified software",
                expires=ans.expires,
                entry=entry,
            )
    if st["verdict"] != "PASS":
        role_zh = "认证" if entry["role"] == "certifier" else "自测"
        role_en = "certification" if entry["role"] == "certifier" else "self-test"
        return Answer(
            "not_pass",
            f"结论不通过：{who_zh}的{role_zh}结论为 {st['verdict']}",
            f"verdict NOT PASS: the {role_en} by {who_en} ended {st['verdict']}",
            expires=ans.expires,
            entry=entry,
        )
    if entry["role"] != "certifier":
        ans.kind = "self_test"
        ans.zh = f"厂商自测：由厂商 {who_zh}自行测试通过，不是认证，有效期至 {ans.expires}"
        ans.en = f"SELF-TEST by vendor {who_en} (not a certification), passed, valid until {ans.expires}"
        return ans
    ans.zh = f"已认证：由 {who_zh}认证（范围：{scope_zh}），有效期至 {ans.expires}"
    ans.en = f"CERTIFIED by {who_en} (scope: {scope_en}) until {ans.expires}"
    return ans
