"""santong.protocols — the 三统一 interface as code: model, schemas, clauses, and the one validation core."""

from santong.protocols._catalogue import (
    Clause,
    CodeRule,
    SensorType,
    clause,
    clauses,
    code_rules,
    sensor_types,
    spec_version,
)
from santong.protocols._codec import (
    decode_json,
    decode_proto,
    loads_strict,
    message_class,
    message_names,
    to_dict,
    to_json,
    unknown_field_violations,
)
from santong.protocols._context import (
    DEFAULT_LIMITS,
    DeviceState,
    ValidationContext,
    default_limits,
    timestamp_ms,
)
from santong.protocols._errors import SantongError, ValidationError, Violation, must_violations
from santong.protocols._rules import RULES
from santong.protocols._schemas import SCHEMA_CLAUSES, load_schema, reference_validator, schema_names
from santong.protocols._status import (
    GRPC_CODE_BY_HTTP,
    GRPC_CODE_NAMES,
    GRPC_CODES,
    HTTP_STATUS,
    STATUS_TABLE,
    Action,
    StatusRow,
    action,
    is_outage,
)
from santong.protocols._validate import check, validate, validate_json
from santong.protocols._versions import interface_versions, newest_version, version_key, version_violations

__all__ = [
    "DEFAULT_LIMITS",
    "GRPC_CODES",
    "GRPC_CODE_BY_HTTP",
    "GRPC_CODE_NAMES",
    "HTTP_STATUS",
    "STATUS_TABLE",
    "Action",
    "StatusRow",
    "action",
    "is_outage",
    "RULES",
    "SCHEMA_CLAUSES",
    "Clause",
    "CodeRule",
    "DeviceState",
    "SantongError",
    "SensorType",
    "ValidationContext",
    "ValidationError",
    "Violation",
    "check",
    "clause",
    "clauses",
    "code_rules",
    "decode_json",
    "decode_proto",
    "interface_versions",
    "newest_version",
    "version_key",
    "version_violations",
    "default_limits",
    "load_schema",
    "loads_strict",
    "reference_validator",
    "message_class",
    "message_names",
    "must_violations",
    "schema_names",
    "sensor_types",
    "spec_version",
    "timestamp_ms",
    "to_dict",
    "to_json",
    "unknown_field_violations",
    "validate",
    "validate_json",
]
