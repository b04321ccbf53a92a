"""The one validation core: validate(message) → violations, each naming its clause."""

from __future__ import annotations

from typing import Any

from google.protobuf.message import Message
from santong.protocols._codec import decode_json
from santong.protocols._context import ValidationContext
from santong.protocols._errors import ValidationError, Violation, must_violations
from santong.protocols._rules import Report, rules_for
from santong.protocols._versions import version_violations

__all__ = ["check", "validate", "validate_json"]


def validate(
    message: Message, context: ValidationContext | None = None, *, path: str = "$"
) -> list[Violation]:
    """All violations of a protobuf message, MUST and SHOULD alike. Never raises on message content.

    With ``context.version`` (the spec version negotiated at Register) fields added after that version are
    ST-DATA-034, as unknown as a field number no version has. The message is already decoded: malformed input
    becomes ST-DATA-035 where it is decoded
    (:func:`decode_json`, :func:`~santong.protocols.decode_proto`). A rule that raises is a bug in the rule, and
    the exception propagates (the fuzz tests would otherwise never see it).
    """
    ctx = context or ValidationContext()
    rule = rules_for(message.DESCRIPTOR.name)
    unknown = version_violations(message, ctx.version, path) if ctx.version is not None else []
    if rule is None:
        return unknown
    out = Report()
    out.violations.extend(unknown)
    rule(message, ctx, out, path)
    return out.violations


def validate_json(
    data: bytes | str | dict[str, Any], message_name: str, context: ValidationContext | None = None
) -> tuple[Message | None, list[Violation]]:
    """JSON stage then rules: (message or None, violations)."""
    try:
        msg = decode_json(data, message_name)
    except ValidationError as e:
        return None, e.violations
    return msg, validate(msg, context)


def check(message: Message, context: ValidationContext | None = None) -> list[Violation]:
    """Validate and raise ValidationError on any MUST violation; return the SHOULD warnings."""
    vs = validate(message, context)
    bad = must_violations(vs)
    if bad:
        raise ValidationError(vs)
    return vs
