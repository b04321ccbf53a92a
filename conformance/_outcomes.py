"""How a case says *which* clause its evidence shows, and why a clause could not be judged.

A case's ``clause`` marker says what it checks; what it *found* can name other clauses. Three ways out of a
case besides passing:

- ``fail_clauses(ids, zh, en, cause=…)`` (or ``raise ClauseFailure``): the evidence breaks these clauses — not
  necessarily the ones the case cites (a post-sync rejection may break ST-DATA-023, not ST-DATA-031). A plain
  ``AssertionError`` whose message starts with ``[ST-…-NNN]`` tags names those clauses; without tags it fails
  every cited clause.
- ``not_applicable(reason, zh, en)``: the clause does not apply to this product, for a reason from the closed
  list :data:`NA_REASONS` (documented in SPEC.md). Anything else a case cannot judge is *not demonstrated*.
- ``not_demonstrated(zh, en)``: the case could not judge the clause (the product did not show the behaviour);
  a MUST clause that is not demonstrated blocks PASS.

``cause`` groups failures that share one root (report.json ``results.root_causes``): a key that is the same for
every failure it explains (``product_start``, ``identity:<row id>``, ``rejection:<row id>``), the root clauses,
and a bilingual description. Example::

    from santong.conformance import fail_clauses

    fail_clauses(["ST-DATA-023"], "对时后仍被拒收", "rejected after the clock sync",
                 cause={"key": "rejection:17", "kind": "rejection", "root": ["ST-DATA-023"]})
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from typing import Any, NoReturn

import pytest

__all__ = [
    "NA_REASONS",
    "ClauseFailure",
    "fail_clauses",
    "not_applicable",
    "not_demonstrated",
    "parse_skip",
    "tagged_clauses",
]

#: The closed list of reasons a clause of a profile may be not applicable (不适用), zh and en.
NA_REASONS: dict[str, tuple[str, str]] = {
    "product_class": (
        "该条款不适用于本产品类别（见 profiles.yaml 的类别排除）",
        "the clause does not apply to the product's class (profiles.yaml class exclusions)",
    ),
    "transport": (
        "该条款只适用于产品未使用的传输方式",
        "the clause applies only to a transport the product does not use",
    ),
    "needs_inspection": (
        "判定该条款需要平台的检查接口；目标平台（URL）没有提供。用模拟平台（embedded/process/container）运行即可判定",
        "judging the clause needs the platform's inspection API, which the target URL does not offer; a run "
        "against the mock platform (embedded/process/container) judges it",
    ),
    "platform_restart": (
        "判定该条款需要重启平台后读回数据；测试套件不重启它所连接的平台（模拟平台的持久性由 santong 自身的 kill -9 测试证明）",
        "judging the clause needs the platform restarted and read back; the suite does not restart a platform it "
        "reaches (the mock's durability is proven by santong's own kill -9 tests)",
    ),
    "needs_fresh_device": (
        "判定该条款需要一台从未注册过的新测试设备；凭据文件未给出 enrolment（测试设备前缀与组密钥），目标平台上无法生成",
        "judging the clause needs a fresh test device that never registered; the credentials file gives no "
        "enrolment (test-device prefix and group key), so none can be made on the target platform",
    ),
    "no_certificate": (
        "未给出被验收设备的证书（--certificate 签名报告），无法比对设备上报的软件摘要",
        "no certificate of the devices under acceptance was given (--certificate REPORT.json): the software digests "
        "they report cannot be compared",
    ),
    "subject": (
        "该条款约束的是另一方（平台或产品），在另一方的运行中判定",
        "the clause binds the other side (platform or product) and is judged in that side's run",
    ),
    "interface_version": (
        "条款随更新的接口版本引入（条款目录的 since），产品在 Register 中协商的版本更早（ST-PROTO-004）",
        "the clause came with a newer interface version (the catalogue's since) than the one the product "
        "negotiated at Register (ST-PROTO-004)",
    ),
}

_SKIP_TAG = re.compile(r"^\[N/A:(?P<reason>[a-z_]+)\]\s*")
_CLAUSE_TAGS = re.compile(r"^\s*((?:\[ST-(?:DATA|IFACE|PROTO)-\d{3}\]\s*)+)")
_ONE_TAG = re.compile(r"ST-(?:DATA|IFACE|PROTO)-\d{3}")


class ClauseFailure(AssertionError):
    """A case's evidence breaks ``clause_ids`` (which need not be the clauses the case cites)."""

    def __init__(self, clause_ids: Iterable[str], message: str, cause: dict[str, Any] | None = None) -> None:
        self.clause_ids = tuple(dict.fromkeys(clause_ids))
        self.cause = cause
        super().__init__(f"[{'] ['.join(self.clause_ids)}] {message}" if self.clause_ids else message)


def fail_clauses(
    clause_ids: Iterable[str], zh: str, en: str, cause: dict[str, Any] | None = None
) -> NoReturn:
    """Fail the case on these clauses (bilingual message; ``cause`` groups failures with one root)."""
    raise ClauseFailure(clause_ids, f"{zh} / {en}", cause)


def not_applicable(reason: str, zh: str, en: str) -> NoReturn:
    """End the case: its clauses do not apply, for ``reason`` (a key of :data:`NA_REASONS`)."""
    if reason not in NA_REASONS:
        raise ValueError(f"unknown not-applicable reason {reason!r}; known: {', '.join(NA_REASONS)}")
    pytest.skip(f"[N/A:{reason}] {zh} / {en}")


def not_demonstrated(zh: str, en: str) -> NoReturn:
    """End the case: the product did not show what the clause needs (blocks PASS for a MUST clause)."""
    pytest.skip(f"{zh} / {en}")


def parse_skip(message: str) -> tuple[str | None, str]:
    """(not-applicable reason or None, message without the tag) of a skip message."""
    m = _SKIP_TAG.match(message)
    if m is None or m.group("reason") not in NA_REASONS:
        return None, message
    return m.group("reason"), message[m.end() :]


def tagged_clauses(message: str) -> tuple[str, ...]:
    """Clause IDs in the ``[ST-…]`` tags that open a failure message (empty when it has none)."""
    m = _CLAUSE_TAGS.match(message.removeprefix("AssertionError: ").removeprefix("Failed: "))
    return tuple(dict.fromkeys(_ONE_TAG.findall(m.group(1)))) if m else ()
