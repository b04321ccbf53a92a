"""The one validation core: validate(message) → violations, each naming its clause."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from google.protobuf.message import Message
from google.protobuf.timestamp_pb2 import Timestamp
from santong.protocols._codec import decode_json
from santong.protocols._context import ValidationContext
from santong.protocols._errors import ValidationError, Violation, must_violations
from santong.protocols._rules import Report, rules_for
from santong.protocols._rules_batch import batch_columns
from santong.protocols._versions import version_violations
from santong.protocols.v1 import data_pb2

__all__ = ["BatchColumns", "check", "validate", "validate_batch_columns", "validate_json"]


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


@dataclass(slots=True)
class BatchColumns:
    """An ObservationBatch as the Python lists an adapter holds before it builds the message (no copy through
    upb containers and back); :meth:`message` builds it.

    Example::

        cols = BatchColumns(7, [1, 2], [0.52, 3.0], [0, 1000], [0, 0], base_time_ms=1736908200000)
        violations = validate_batch_columns(cols, ValidationContext(state=state))
    """

    sequence: int
    alias: Sequence[int]
    value: Sequence[float]
    time_offset_ms: Sequence[int]
    status: Sequence[int]
    base_time_ms: int
    backfill: bool = False

    def message(self) -> Message:
        """The ObservationBatch these columns are."""
        batch = data_pb2.ObservationBatch(
            sequence=self.sequence, alias=self.alias, value=self.value, time_offset_ms=self.time_offset_ms,
            status=self.status, backfill=self.backfill,
        )  # fmt: skip
        batch.base_time.FromMilliseconds(self.base_time_ms)
        return batch


def validate_batch_columns(
    batch: BatchColumns,
    context: ValidationContext | None = None,
    *,
    path: str = "$.batch",
    known: bool | None = None,
    switch_free: bool | None = None,
    bounds: tuple[Sequence[float], Sequence[float]] | None = None,
) -> list[Violation]:
    """The violations ``validate(ReportObservationsRequest(batch=batch.message()))`` gives, by the same rule,
    without building the message (paths as in that request: ``$.batch.value[3]``).

    An adapter that already knows facts about the alias column against ``context.state`` (worked out once for a
    column that repeats) passes them, and the rule skips their scan: ``known`` (every alias defined),
    ``switch_free`` (no switch alias among them), ``bounds`` (each observation's ``state.lows`` and
    ``state.highs`` entry, in alias order; only when every alias is defined)."""
    ctx = context or ValidationContext()
    out = Report()
    base = Timestamp()
    base.FromMilliseconds(batch.base_time_ms)
    batch_columns(
        batch.sequence, batch.alias, batch.value, batch.time_offset_ms, batch.status, base, batch.backfill, ctx,
        out, path, known=known, switch_free=switch_free, bounds=bounds,
    )  # fmt: skip
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
