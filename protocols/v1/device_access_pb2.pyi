import datetime

from google.protobuf import timestamp_pb2 as _timestamp_pb2
from santong.protocols.v1 import data_pb2 as _data_pb2
from google.protobuf.internal import containers as _containers
from google.protobuf.internal import enum_type_wrapper as _enum_type_wrapper
from google.protobuf import descriptor as _descriptor
from google.protobuf import message as _message
from collections.abc import Iterable as _Iterable, Mapping as _Mapping
from typing import ClassVar as _ClassVar, Optional as _Optional, Union as _Union

DESCRIPTOR: _descriptor.FileDescriptor

class AckStatus(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    ACK_STATUS_UNSPECIFIED: _ClassVar[AckStatus]
    ACK_STATUS_ACCEPTED: _ClassVar[AckStatus]
    ACK_STATUS_DUPLICATE: _ClassVar[AckStatus]
    ACK_STATUS_REJECTED: _ClassVar[AckStatus]
    ACK_STATUS_CONFLICT: _ClassVar[AckStatus]

class CommandType(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    COMMAND_TYPE_UNSPECIFIED: _ClassVar[CommandType]
    COMMAND_TYPE_TIME_SYNC: _ClassVar[CommandType]
    COMMAND_TYPE_CONFIGURE: _ClassVar[CommandType]
    COMMAND_TYPE_RESEND_DEFINITIONS: _ClassVar[CommandType]
    COMMAND_TYPE_WRITE_POINT: _ClassVar[CommandType]
    COMMAND_TYPE_TEST_EVENT: _ClassVar[CommandType]

class TestEventKind(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    TEST_EVENT_KIND_UNSPECIFIED: _ClassVar[TestEventKind]
    TEST_EVENT_KIND_EXCURSION: _ClassVar[TestEventKind]
    TEST_EVENT_KIND_SWITCH_CHANGE: _ClassVar[TestEventKind]
    TEST_EVENT_KIND_SENSOR_FAULT: _ClassVar[TestEventKind]

class CommandOutcome(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    COMMAND_OUTCOME_UNSPECIFIED: _ClassVar[CommandOutcome]
    COMMAND_OUTCOME_SUCCEEDED: _ClassVar[CommandOutcome]
    COMMAND_OUTCOME_FAILED: _ClassVar[CommandOutcome]
    COMMAND_OUTCOME_UNSUPPORTED: _ClassVar[CommandOutcome]
ACK_STATUS_UNSPECIFIED: AckStatus
ACK_STATUS_ACCEPTED: AckStatus
ACK_STATUS_DUPLICATE: AckStatus
ACK_STATUS_REJECTED: AckStatus
ACK_STATUS_CONFLICT: AckStatus
COMMAND_TYPE_UNSPECIFIED: CommandType
COMMAND_TYPE_TIME_SYNC: CommandType
COMMAND_TYPE_CONFIGURE: CommandType
COMMAND_TYPE_RESEND_DEFINITIONS: CommandType
COMMAND_TYPE_WRITE_POINT: CommandType
COMMAND_TYPE_TEST_EVENT: CommandType
TEST_EVENT_KIND_UNSPECIFIED: TestEventKind
TEST_EVENT_KIND_EXCURSION: TestEventKind
TEST_EVENT_KIND_SWITCH_CHANGE: TestEventKind
TEST_EVENT_KIND_SENSOR_FAULT: TestEventKind
COMMAND_OUTCOME_UNSPECIFIED: CommandOutcome
COMMAND_OUTCOME_SUCCEEDED: CommandOutcome
COMMAND_OUTCOME_FAILED: CommandOutcome
COMMAND_OUTCOME_UNSUPPORTED: CommandOutcome

class Violation(_message.Message):
    __slots__ = ("clause_id", "path", "message_zh", "message_en")
    CLAUSE_ID_FIELD_NUMBER: _ClassVar[int]
    PATH_FIELD_NUMBER: _ClassVar[int]
    MESSAGE_ZH_FIELD_NUMBER: _ClassVar[int]
    MESSAGE_EN_FIELD_NUMBER: _ClassVar[int]
    clause_id: str
    path: str
    message_zh: str
    message_en: str
    def __init__(self, clause_id: _Optional[str] = ..., path: _Optional[str] = ..., message_zh: _Optional[str] = ..., message_en: _Optional[str] = ...) -> None: ...

class Ack(_message.Message):
    __slots__ = ("sequence", "status", "accepted", "violations", "server_time")
    SEQUENCE_FIELD_NUMBER: _ClassVar[int]
    STATUS_FIELD_NUMBER: _ClassVar[int]
    ACCEPTED_FIELD_NUMBER: _ClassVar[int]
    VIOLATIONS_FIELD_NUMBER: _ClassVar[int]
    SERVER_TIME_FIELD_NUMBER: _ClassVar[int]
    sequence: int
    status: AckStatus
    accepted: int
    violations: _containers.RepeatedCompositeFieldContainer[Violation]
    server_time: _timestamp_pb2.Timestamp
    def __init__(self, sequence: _Optional[int] = ..., status: _Optional[_Union[AckStatus, str]] = ..., accepted: _Optional[int] = ..., violations: _Optional[_Iterable[_Union[Violation, _Mapping]]] = ..., server_time: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ...) -> None: ...

class Limits(_message.Message):
    __slots__ = ("max_batch_points", "max_message_bytes", "max_clock_skew_ms", "heartbeat_interval_ms", "offline_after_missed", "max_uploads_per_second", "max_points_per_definition")
    MAX_BATCH_POINTS_FIELD_NUMBER: _ClassVar[int]
    MAX_MESSAGE_BYTES_FIELD_NUMBER: _ClassVar[int]
    MAX_CLOCK_SKEW_MS_FIELD_NUMBER: _ClassVar[int]
    HEARTBEAT_INTERVAL_MS_FIELD_NUMBER: _ClassVar[int]
    OFFLINE_AFTER_MISSED_FIELD_NUMBER: _ClassVar[int]
    MAX_UPLOADS_PER_SECOND_FIELD_NUMBER: _ClassVar[int]
    MAX_POINTS_PER_DEFINITION_FIELD_NUMBER: _ClassVar[int]
    max_batch_points: int
    max_message_bytes: int
    max_clock_skew_ms: int
    heartbeat_interval_ms: int
    offline_after_missed: int
    max_uploads_per_second: int
    max_points_per_definition: int
    def __init__(self, max_batch_points: _Optional[int] = ..., max_message_bytes: _Optional[int] = ..., max_clock_skew_ms: _Optional[int] = ..., heartbeat_interval_ms: _Optional[int] = ..., offline_after_missed: _Optional[int] = ..., max_uploads_per_second: _Optional[int] = ..., max_points_per_definition: _Optional[int] = ...) -> None: ...

class RegisterRequest(_message.Message):
    __slots__ = ("device", "mine", "supported_versions", "device_time", "sequence_epoch")
    DEVICE_FIELD_NUMBER: _ClassVar[int]
    MINE_FIELD_NUMBER: _ClassVar[int]
    SUPPORTED_VERSIONS_FIELD_NUMBER: _ClassVar[int]
    DEVICE_TIME_FIELD_NUMBER: _ClassVar[int]
    SEQUENCE_EPOCH_FIELD_NUMBER: _ClassVar[int]
    device: _data_pb2.DeviceIdentity
    mine: _data_pb2.Mine
    supported_versions: _containers.RepeatedScalarFieldContainer[str]
    device_time: _timestamp_pb2.Timestamp
    sequence_epoch: int
    def __init__(self, device: _Optional[_Union[_data_pb2.DeviceIdentity, _Mapping]] = ..., mine: _Optional[_Union[_data_pb2.Mine, _Mapping]] = ..., supported_versions: _Optional[_Iterable[str]] = ..., device_time: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., sequence_epoch: _Optional[int] = ...) -> None: ...

class RegisterResponse(_message.Message):
    __slots__ = ("session_id", "negotiated_version", "limits", "server_time", "last_acknowledged_sequence", "sequence_epoch")
    SESSION_ID_FIELD_NUMBER: _ClassVar[int]
    NEGOTIATED_VERSION_FIELD_NUMBER: _ClassVar[int]
    LIMITS_FIELD_NUMBER: _ClassVar[int]
    SERVER_TIME_FIELD_NUMBER: _ClassVar[int]
    LAST_ACKNOWLEDGED_SEQUENCE_FIELD_NUMBER: _ClassVar[int]
    SEQUENCE_EPOCH_FIELD_NUMBER: _ClassVar[int]
    session_id: str
    negotiated_version: str
    limits: Limits
    server_time: _timestamp_pb2.Timestamp
    last_acknowledged_sequence: int
    sequence_epoch: int
    def __init__(self, session_id: _Optional[str] = ..., negotiated_version: _Optional[str] = ..., limits: _Optional[_Union[Limits, _Mapping]] = ..., server_time: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., last_acknowledged_sequence: _Optional[int] = ..., sequence_epoch: _Optional[int] = ...) -> None: ...

class DefinePointsRequest(_message.Message):
    __slots__ = ("points", "outstations")
    POINTS_FIELD_NUMBER: _ClassVar[int]
    OUTSTATIONS_FIELD_NUMBER: _ClassVar[int]
    points: _containers.RepeatedCompositeFieldContainer[_data_pb2.PointDefinition]
    outstations: _containers.RepeatedCompositeFieldContainer[_data_pb2.OutstationDefinition]
    def __init__(self, points: _Optional[_Iterable[_Union[_data_pb2.PointDefinition, _Mapping]]] = ..., outstations: _Optional[_Iterable[_Union[_data_pb2.OutstationDefinition, _Mapping]]] = ...) -> None: ...

class DefinePointsResponse(_message.Message):
    __slots__ = ("accepted_points", "accepted_outstations", "violations")
    ACCEPTED_POINTS_FIELD_NUMBER: _ClassVar[int]
    ACCEPTED_OUTSTATIONS_FIELD_NUMBER: _ClassVar[int]
    VIOLATIONS_FIELD_NUMBER: _ClassVar[int]
    accepted_points: int
    accepted_outstations: int
    violations: _containers.RepeatedCompositeFieldContainer[Violation]
    def __init__(self, accepted_points: _Optional[int] = ..., accepted_outstations: _Optional[int] = ..., violations: _Optional[_Iterable[_Union[Violation, _Mapping]]] = ...) -> None: ...

class ReportObservationsRequest(_message.Message):
    __slots__ = ("batch",)
    BATCH_FIELD_NUMBER: _ClassVar[int]
    batch: _data_pb2.ObservationBatch
    def __init__(self, batch: _Optional[_Union[_data_pb2.ObservationBatch, _Mapping]] = ...) -> None: ...

class ReportObservationsResponse(_message.Message):
    __slots__ = ("ack",)
    ACK_FIELD_NUMBER: _ClassVar[int]
    ack: Ack
    def __init__(self, ack: _Optional[_Union[Ack, _Mapping]] = ...) -> None: ...

class StreamObservationsRequest(_message.Message):
    __slots__ = ("batch",)
    BATCH_FIELD_NUMBER: _ClassVar[int]
    batch: _data_pb2.ObservationBatch
    def __init__(self, batch: _Optional[_Union[_data_pb2.ObservationBatch, _Mapping]] = ...) -> None: ...

class StreamObservationsResponse(_message.Message):
    __slots__ = ("ack",)
    ACK_FIELD_NUMBER: _ClassVar[int]
    ack: Ack
    def __init__(self, ack: _Optional[_Union[Ack, _Mapping]] = ...) -> None: ...

class ReportAlarmsRequest(_message.Message):
    __slots__ = ("sequence", "alarms", "backfill")
    SEQUENCE_FIELD_NUMBER: _ClassVar[int]
    ALARMS_FIELD_NUMBER: _ClassVar[int]
    BACKFILL_FIELD_NUMBER: _ClassVar[int]
    sequence: int
    alarms: _containers.RepeatedCompositeFieldContainer[_data_pb2.Alarm]
    backfill: bool
    def __init__(self, sequence: _Optional[int] = ..., alarms: _Optional[_Iterable[_Union[_data_pb2.Alarm, _Mapping]]] = ..., backfill: _Optional[bool] = ...) -> None: ...

class ReportAlarmsResponse(_message.Message):
    __slots__ = ("ack",)
    ACK_FIELD_NUMBER: _ClassVar[int]
    ack: Ack
    def __init__(self, ack: _Optional[_Union[Ack, _Mapping]] = ...) -> None: ...

class ReportOutstationStatusRequest(_message.Message):
    __slots__ = ("sequence", "statuses", "backfill")
    SEQUENCE_FIELD_NUMBER: _ClassVar[int]
    STATUSES_FIELD_NUMBER: _ClassVar[int]
    BACKFILL_FIELD_NUMBER: _ClassVar[int]
    sequence: int
    statuses: _containers.RepeatedCompositeFieldContainer[_data_pb2.OutstationStatus]
    backfill: bool
    def __init__(self, sequence: _Optional[int] = ..., statuses: _Optional[_Iterable[_Union[_data_pb2.OutstationStatus, _Mapping]]] = ..., backfill: _Optional[bool] = ...) -> None: ...

class ReportOutstationStatusResponse(_message.Message):
    __slots__ = ("ack",)
    ACK_FIELD_NUMBER: _ClassVar[int]
    ack: Ack
    def __init__(self, ack: _Optional[_Union[Ack, _Mapping]] = ...) -> None: ...

class ReportStatisticsRequest(_message.Message):
    __slots__ = ("sequence", "statistics", "backfill")
    SEQUENCE_FIELD_NUMBER: _ClassVar[int]
    STATISTICS_FIELD_NUMBER: _ClassVar[int]
    BACKFILL_FIELD_NUMBER: _ClassVar[int]
    sequence: int
    statistics: _containers.RepeatedCompositeFieldContainer[_data_pb2.Statistics]
    backfill: bool
    def __init__(self, sequence: _Optional[int] = ..., statistics: _Optional[_Iterable[_Union[_data_pb2.Statistics, _Mapping]]] = ..., backfill: _Optional[bool] = ...) -> None: ...

class ReportStatisticsResponse(_message.Message):
    __slots__ = ("ack",)
    ACK_FIELD_NUMBER: _ClassVar[int]
    ack: Ack
    def __init__(self, ack: _Optional[_Union[Ack, _Mapping]] = ...) -> None: ...

class DefinePositioningRequest(_message.Message):
    __slots__ = ("areas", "stations")
    AREAS_FIELD_NUMBER: _ClassVar[int]
    STATIONS_FIELD_NUMBER: _ClassVar[int]
    areas: _containers.RepeatedCompositeFieldContainer[_data_pb2.AreaDefinition]
    stations: _containers.RepeatedCompositeFieldContainer[_data_pb2.StationDefinition]
    def __init__(self, areas: _Optional[_Iterable[_Union[_data_pb2.AreaDefinition, _Mapping]]] = ..., stations: _Optional[_Iterable[_Union[_data_pb2.StationDefinition, _Mapping]]] = ...) -> None: ...

class DefinePositioningResponse(_message.Message):
    __slots__ = ("accepted_areas", "accepted_stations", "violations")
    ACCEPTED_AREAS_FIELD_NUMBER: _ClassVar[int]
    ACCEPTED_STATIONS_FIELD_NUMBER: _ClassVar[int]
    VIOLATIONS_FIELD_NUMBER: _ClassVar[int]
    accepted_areas: int
    accepted_stations: int
    violations: _containers.RepeatedCompositeFieldContainer[Violation]
    def __init__(self, accepted_areas: _Optional[int] = ..., accepted_stations: _Optional[int] = ..., violations: _Optional[_Iterable[_Union[Violation, _Mapping]]] = ...) -> None: ...

class ReportPersonnelRequest(_message.Message):
    __slots__ = ("sequence", "records", "stations", "backfill")
    SEQUENCE_FIELD_NUMBER: _ClassVar[int]
    RECORDS_FIELD_NUMBER: _ClassVar[int]
    STATIONS_FIELD_NUMBER: _ClassVar[int]
    BACKFILL_FIELD_NUMBER: _ClassVar[int]
    sequence: int
    records: _containers.RepeatedCompositeFieldContainer[_data_pb2.PersonnelRecord]
    stations: _containers.RepeatedCompositeFieldContainer[_data_pb2.StationStatus]
    backfill: bool
    def __init__(self, sequence: _Optional[int] = ..., records: _Optional[_Iterable[_Union[_data_pb2.PersonnelRecord, _Mapping]]] = ..., stations: _Optional[_Iterable[_Union[_data_pb2.StationStatus, _Mapping]]] = ..., backfill: _Optional[bool] = ...) -> None: ...

class ReportPersonnelResponse(_message.Message):
    __slots__ = ("ack",)
    ACK_FIELD_NUMBER: _ClassVar[int]
    ack: Ack
    def __init__(self, ack: _Optional[_Union[Ack, _Mapping]] = ...) -> None: ...

class HeartbeatRequest(_message.Message):
    __slots__ = ("device_time", "last_acknowledged_sequence", "queued_uploads")
    DEVICE_TIME_FIELD_NUMBER: _ClassVar[int]
    LAST_ACKNOWLEDGED_SEQUENCE_FIELD_NUMBER: _ClassVar[int]
    QUEUED_UPLOADS_FIELD_NUMBER: _ClassVar[int]
    device_time: _timestamp_pb2.Timestamp
    last_acknowledged_sequence: int
    queued_uploads: int
    def __init__(self, device_time: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., last_acknowledged_sequence: _Optional[int] = ..., queued_uploads: _Optional[int] = ...) -> None: ...

class HeartbeatResponse(_message.Message):
    __slots__ = ("server_time", "pending_commands")
    SERVER_TIME_FIELD_NUMBER: _ClassVar[int]
    PENDING_COMMANDS_FIELD_NUMBER: _ClassVar[int]
    server_time: _timestamp_pb2.Timestamp
    pending_commands: int
    def __init__(self, server_time: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., pending_commands: _Optional[int] = ...) -> None: ...

class TimeSync(_message.Message):
    __slots__ = ("server_time",)
    SERVER_TIME_FIELD_NUMBER: _ClassVar[int]
    server_time: _timestamp_pb2.Timestamp
    def __init__(self, server_time: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ...) -> None: ...

class Configure(_message.Message):
    __slots__ = ("report_interval_ms", "heartbeat_interval_ms", "settings")
    class SettingsEntry(_message.Message):
        __slots__ = ("key", "value")
        KEY_FIELD_NUMBER: _ClassVar[int]
        VALUE_FIELD_NUMBER: _ClassVar[int]
        key: str
        value: str
        def __init__(self, key: _Optional[str] = ..., value: _Optional[str] = ...) -> None: ...
    REPORT_INTERVAL_MS_FIELD_NUMBER: _ClassVar[int]
    HEARTBEAT_INTERVAL_MS_FIELD_NUMBER: _ClassVar[int]
    SETTINGS_FIELD_NUMBER: _ClassVar[int]
    report_interval_ms: int
    heartbeat_interval_ms: int
    settings: _containers.ScalarMap[str, str]
    def __init__(self, report_interval_ms: _Optional[int] = ..., heartbeat_interval_ms: _Optional[int] = ..., settings: _Optional[_Mapping[str, str]] = ...) -> None: ...

class ResendDefinitions(_message.Message):
    __slots__ = ()
    def __init__(self) -> None: ...

class WritePoint(_message.Message):
    __slots__ = ("point_code", "value")
    POINT_CODE_FIELD_NUMBER: _ClassVar[int]
    VALUE_FIELD_NUMBER: _ClassVar[int]
    point_code: str
    value: float
    def __init__(self, point_code: _Optional[str] = ..., value: _Optional[float] = ...) -> None: ...

class TestEvent(_message.Message):
    __slots__ = ("kind", "point_code", "value", "hold_ms")
    KIND_FIELD_NUMBER: _ClassVar[int]
    POINT_CODE_FIELD_NUMBER: _ClassVar[int]
    VALUE_FIELD_NUMBER: _ClassVar[int]
    HOLD_MS_FIELD_NUMBER: _ClassVar[int]
    kind: TestEventKind
    point_code: str
    value: float
    hold_ms: int
    def __init__(self, kind: _Optional[_Union[TestEventKind, str]] = ..., point_code: _Optional[str] = ..., value: _Optional[float] = ..., hold_ms: _Optional[int] = ...) -> None: ...

class Command(_message.Message):
    __slots__ = ("command_id", "type", "issued_at", "time_sync", "configure", "resend_definitions", "write_point", "test_event")
    COMMAND_ID_FIELD_NUMBER: _ClassVar[int]
    TYPE_FIELD_NUMBER: _ClassVar[int]
    ISSUED_AT_FIELD_NUMBER: _ClassVar[int]
    TIME_SYNC_FIELD_NUMBER: _ClassVar[int]
    CONFIGURE_FIELD_NUMBER: _ClassVar[int]
    RESEND_DEFINITIONS_FIELD_NUMBER: _ClassVar[int]
    WRITE_POINT_FIELD_NUMBER: _ClassVar[int]
    TEST_EVENT_FIELD_NUMBER: _ClassVar[int]
    command_id: str
    type: CommandType
    issued_at: _timestamp_pb2.Timestamp
    time_sync: TimeSync
    configure: Configure
    resend_definitions: ResendDefinitions
    write_point: WritePoint
    test_event: TestEvent
    def __init__(self, command_id: _Optional[str] = ..., type: _Optional[_Union[CommandType, str]] = ..., issued_at: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., time_sync: _Optional[_Union[TimeSync, _Mapping]] = ..., configure: _Optional[_Union[Configure, _Mapping]] = ..., resend_definitions: _Optional[_Union[ResendDefinitions, _Mapping]] = ..., write_point: _Optional[_Union[WritePoint, _Mapping]] = ..., test_event: _Optional[_Union[TestEvent, _Mapping]] = ...) -> None: ...

class CommandResult(_message.Message):
    __slots__ = ("command_id", "outcome", "message", "device_time")
    COMMAND_ID_FIELD_NUMBER: _ClassVar[int]
    OUTCOME_FIELD_NUMBER: _ClassVar[int]
    MESSAGE_FIELD_NUMBER: _ClassVar[int]
    DEVICE_TIME_FIELD_NUMBER: _ClassVar[int]
    command_id: str
    outcome: CommandOutcome
    message: str
    device_time: _timestamp_pb2.Timestamp
    def __init__(self, command_id: _Optional[str] = ..., outcome: _Optional[_Union[CommandOutcome, str]] = ..., message: _Optional[str] = ..., device_time: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ...) -> None: ...

class CommandsRequest(_message.Message):
    __slots__ = ("result",)
    RESULT_FIELD_NUMBER: _ClassVar[int]
    result: CommandResult
    def __init__(self, result: _Optional[_Union[CommandResult, _Mapping]] = ...) -> None: ...

class CommandsResponse(_message.Message):
    __slots__ = ("command",)
    COMMAND_FIELD_NUMBER: _ClassVar[int]
    command: Command
    def __init__(self, command: _Optional[_Union[Command, _Mapping]] = ...) -> None: ...
