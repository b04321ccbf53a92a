"""Spec versions of the interface and the fields each lacks: the per-version half of ST-DATA-034.

The frozen baselines (protocols/baseline/vMAJOR.MINOR) say which fields each released version has;
scripts/generate.py derives protocols/data/versions.json from them: every spec version, oldest first, and per
frozen version the fields the working interface added after it. A field added after the version negotiated at
Register (ST-PROTO-004) is unknown to that session, exactly like a field number no version has: the core reports
it (ST-DATA-034) on both transports alike, because it looks at the decoded message. Under the newest version
every field of the compiled interface is known.

A field that carries its default value is absent in proto3 (the wire and JSON alike may drop it), so only fields
that are set count.

Example::

    vs = version_violations(register_request, "1.0")   # DeviceIdentity.firmware_sha256 set → ST-DATA-034
"""

from __future__ import annotations

from functools import cache
from typing import Any

from google.protobuf.descriptor import Descriptor
from google.protobuf.message import Message
from santong.protocols._catalogue import load_data, violation
from santong.protocols._errors import Violation
from santong.protocols.v1 import common_pb2, data_pb2, device_access_pb2, platform_pb2

__all__ = [
    "interface_versions",
    "introduced_in",
    "newest_version",
    "unknown_fields",
    "version_key",
    "version_violations",
]

_MODULES = (common_pb2, data_pb2, device_access_pb2, platform_pb2)


def version_key(v: str) -> tuple[int, ...] | None:
    """The numeric key of a version string ("1.10" above "1.9", ST-PROTO-004); None when it is no version."""
    parts = v.strip().split(".")
    if len(parts) < 2 or not all(p.isdigit() and len(p) < 9 for p in parts):
        return None
    return tuple(int(p) for p in parts)


@cache
def interface_versions() -> tuple[str, ...]:
    """Every spec version of the interface, newest first (as a device lists them in supported_versions)."""
    versions: list[str] = load_data("versions.json")["versions"]
    return tuple(sorted(versions, key=lambda v: version_key(v) or (), reverse=True))


def newest_version() -> str:
    """The newest spec version: the working interface, every compiled field known."""
    return interface_versions()[0]


def introduced_in(message: str, number: int) -> str:
    """The oldest spec version that has field ``number`` of ``message`` (a full proto name): the first version,
    oldest first, whose ``added_after`` does not list it (the newest when every frozen version lacks it). For a
    field of a message a version lacks altogether, ask about the field that holds the message: only that one is
    listed (a new message is reachable only through a new field)."""
    added: dict[str, dict[str, dict[str, str]]] = load_data("versions.json")["added_after"]
    for v in reversed(interface_versions()):
        if str(number) not in (added.get(v) or {}).get(message, {}):
            return v
    return newest_version()


def unknown_fields(message: Message, version: str | None) -> list[tuple[str, str]]:
    """(path, the version that added it) of every field set in ``message`` that ``version`` lacks — what
    :func:`version_violations` reports, for a sender that must not send such a message (the platform's
    commands to a session of an older version). Example::

        unknown_fields(command_with_test_event, "1.0")   # [("Command.test_event", "1.1")]
    """
    return [
        (where, introduced_in(fd.containing_type.full_name, fd.number))
        for where, fd in _set_unknown(message, version, message.DESCRIPTOR.name)
    ]


def _descriptors() -> dict[str, Descriptor]:
    out: dict[str, Descriptor] = {}

    def walk(d: Descriptor) -> None:
        out[d.full_name] = d
        for n in d.nested_types:
            walk(n)

    for mod in _MODULES:
        for d in mod.DESCRIPTOR.message_types_by_name.values():
            walk(d)
    return out


@cache
def _plan(version: str) -> tuple[dict[str, frozenset[int]], frozenset[str]] | None:
    """(message → field numbers unknown to ``version``, messages from which such a field can be reached), or
    None when ``version`` knows every field (the newest, or a version the core does not know)."""
    added: dict[str, dict[str, str]] = load_data("versions.json")["added_after"].get(version.strip()) or {}
    if not added:
        return None
    unknown = {msg: frozenset(int(n) for n in fields) for msg, fields in added.items()}
    descriptors = _descriptors()
    reach = set(unknown)
    grew = True
    while grew:  # every message holding (at any depth) one that has an unknown field
        grew = False
        for name, d in descriptors.items():
            if name not in reach and any(
                f.message_type is not None and f.message_type.full_name in reach for f in d.fields
            ):
                reach.add(name)
                grew = True
    return unknown, frozenset(reach)


def version_violations(message: Message, version: str | None, path: str = "$") -> list[Violation]:
    """ST-DATA-034: the fields set in ``message`` that ``version`` does not have (added after it). Costs one set
    lookup for a message that cannot hold such a field (every upload of v1.0)."""
    v = (version or "").strip()
    return [
        violation(
            "ST-DATA-034",
            where,
            f"字段 {fd.name}（编号 {fd.number}）不属于协商的接口版本 {v}（在其后加入）；"
            "使用该字段须在 Register 中协商更高的版本",
            f"field {fd.name} (number {fd.number}) is not part of the negotiated interface version "
            f"{v} (added later); negotiate a newer version at Register to use it",
        )
        for where, fd in _set_unknown(message, version, path)
    ]


def _set_unknown(message: Message, version: str | None, path: str) -> list[tuple[str, Any]]:
    """(path, field descriptor) of every field set in ``message`` (at ``path``) that ``version`` lacks."""
    if version is None:
        return []
    plan = _plan(version)
    if plan is None or message.DESCRIPTOR.full_name not in plan[1]:
        return []
    out: list[tuple[str, Any]] = []
    _walk(message, plan[0], plan[1], path, out)
    return out


def _walk(
    msg: Message,
    unknown: dict[str, frozenset[int]],
    reach: frozenset[str],
    path: str,
    out: list[tuple[str, Any]],
) -> None:
    bad = unknown.get(msg.DESCRIPTOR.full_name, frozenset())
    for fd, value in msg.ListFields():
        where = f"{path}.{fd.name}"
        if fd.number in bad:
            out.append((where, fd))
            continue
        sub = fd.message_type
        if sub is None or sub.full_name not in reach and not sub.GetOptions().map_entry:
            continue
        items: Any
        if sub.GetOptions().map_entry:
            vt = sub.fields_by_name["value"].message_type
            if vt is None or vt.full_name not in reach:
                continue
            items = ((f"{where}[{k!r}]", v) for k, v in value.items())
        elif fd.is_repeated:
            items = ((f"{where}[{i}]", v) for i, v in enumerate(value))
        else:
            items = ((where, value),)
        for p, item in items:
            _walk(item, unknown, reach, p, out)
