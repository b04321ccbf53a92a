import datetime

from google.protobuf import timestamp_pb2 as _timestamp_pb2
from santong.protocols.v1 import common_pb2 as _common_pb2
from google.protobuf.internal import containers as _containers
from google.protobuf import descriptor as _descriptor
from google.protobuf import message as _message
from collections.abc import Iterable as _Iterable, Mapping as _Mapping
from typing import ClassVar as _ClassVar, Optional as _Optional, Union as _Union

DESCRIPTOR: _descriptor.FileDescriptor

class Mine(_message.Message):
    __slots__ = ("mine_code", "name")
    MINE_CODE_FIELD_NUMBER: _ClassVar[int]
    NAME_FIELD_NUMBER: _ClassVar[int]
    mine_code: str
    name: str
    def __init__(self, mine_code: _Optional[str] = ..., name: _Optional[str] = ...) -> None: ...

class DeviceIdentity(_message.Message):
    __slots__ = ("device_id", "vendor", "model", "firmware_version", "serial_number", "ma_certificate", "product_class", "mine_code", "firmware_sha256")
    DEVICE_ID_FIELD_NUMBER: _ClassVar[int]
    VENDOR_FIELD_NUMBER: _ClassVar[int]
    MODEL_FIELD_NUMBER: _ClassVar[int]
    FIRMWARE_VERSION_FIELD_NUMBER: _ClassVar[int]
    SERIAL_NUMBER_FIELD_NUMBER: _ClassVar[int]
    MA_CERTIFICATE_FIELD_NUMBER: _ClassVar[int]
    PRODUCT_CLASS_FIELD_NUMBER: _ClassVar[int]
    MINE_CODE_FIELD_NUMBER: _ClassVar[int]
    FIRMWARE_SHA256_FIELD_NUMBER: _ClassVar[int]
    device_id: str
    vendor: str
    model: str
    firmware_version: str
    serial_number: str
    ma_certificate: str
    product_class: _common_pb2.ProductClass
    mine_code: str
    firmware_sha256: str
    def __init__(self, device_id: _Optional[str] = ..., vendor: _Optional[str] = ..., model: _Optional[str] = ..., firmware_version: _Optional[str] = ..., serial_number: _Optional[str] = ..., ma_certificate: _Optional[str] = ..., product_class: _Optional[_Union[_common_pb2.ProductClass, str]] = ..., mine_code: _Optional[str] = ..., firmware_sha256: _Optional[str] = ...) -> None: ...

class PointDefinition(_message.Message):
    __slots__ = ("alias", "point_code", "system_code", "outstation_code", "sensor_type", "value_kind", "unit", "range_high", "range_low", "alarm_high", "alarm_high_clear", "alarm_low", "alarm_low_clear", "power_off_high", "power_restore_high", "power_off_low", "power_restore_low", "on_description", "off_description", "location", "x", "y", "z", "related_point_codes", "defined_at")
    ALIAS_FIELD_NUMBER: _ClassVar[int]
    POINT_CODE_FIELD_NUMBER: _ClassVar[int]
    SYSTEM_CODE_FIELD_NUMBER: _ClassVar[int]
    OUTSTATION_CODE_FIELD_NUMBER: _ClassVar[int]
    SENSOR_TYPE_FIELD_NUMBER: _ClassVar[int]
    VALUE_KIND_FIELD_NUMBER: _ClassVar[int]
    UNIT_FIELD_NUMBER: _ClassVar[int]
    RANGE_HIGH_FIELD_NUMBER: _ClassVar[int]
    RANGE_LOW_FIELD_NUMBER: _ClassVar[int]
    ALARM_HIGH_FIELD_NUMBER: _ClassVar[int]
    ALARM_HIGH_CLEAR_FIELD_NUMBER: _ClassVar[int]
    ALARM_LOW_FIELD_NUMBER: _ClassVar[int]
    ALARM_LOW_CLEAR_FIELD_NUMBER: _ClassVar[int]
    POWER_OFF_HIGH_FIELD_NUMBER: _ClassVar[int]
    POWER_RESTORE_HIGH_FIELD_NUMBER: _ClassVar[int]
    POWER_OFF_LOW_FIELD_NUMBER: _ClassVar[int]
    POWER_RESTORE_LOW_FIELD_NUMBER: _ClassVar[int]
    ON_DESCRIPTION_FIELD_NUMBER: _ClassVar[int]
    OFF_DESCRIPTION_FIELD_NUMBER: _ClassVar[int]
    LOCATION_FIELD_NUMBER: _ClassVar[int]
    X_FIELD_NUMBER: _ClassVar[int]
    Y_FIELD_NUMBER: _ClassVar[int]
    Z_FIELD_NUMBER: _ClassVar[int]
    RELATED_POINT_CODES_FIELD_NUMBER: _ClassVar[int]
    DEFINED_AT_FIELD_NUMBER: _ClassVar[int]
    alias: int
    point_code: str
    system_code: str
    outstation_code: str
    sensor_type: str
    value_kind: _common_pb2.ValueKind
    unit: str
    range_high: float
    range_low: float
    alarm_high: float
    alarm_high_clear: float
    alarm_low: float
    alarm_low_clear: float
    power_off_high: float
    power_restore_high: float
    power_off_low: float
    power_restore_low: float
    on_description: str
    off_description: str
    location: str
    x: float
    y: float
    z: float
    related_point_codes: _containers.RepeatedScalarFieldContainer[str]
    defined_at: _timestamp_pb2.Timestamp
    def __init__(self, alias: _Optional[int] = ..., point_code: _Optional[str] = ..., system_code: _Optional[str] = ..., outstation_code: _Optional[str] = ..., sensor_type: _Optional[str] = ..., value_kind: _Optional[_Union[_common_pb2.ValueKind, str]] = ..., unit: _Optional[str] = ..., range_high: _Optional[float] = ..., range_low: _Optional[float] = ..., alarm_high: _Optional[float] = ..., alarm_high_clear: _Optional[float] = ..., alarm_low: _Optional[float] = ..., alarm_low_clear: _Optional[float] = ..., power_off_high: _Optional[float] = ..., power_restore_high: _Optional[float] = ..., power_off_low: _Optional[float] = ..., power_restore_low: _Optional[float] = ..., on_description: _Optional[str] = ..., off_description: _Optional[str] = ..., location: _Optional[str] = ..., x: _Optional[float] = ..., y: _Optional[float] = ..., z: _Optional[float] = ..., related_point_codes: _Optional[_Iterable[str]] = ..., defined_at: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ...) -> None: ...

class ObservationBatch(_message.Message):
    __slots__ = ("sequence", "base_time", "alias", "value", "time_offset_ms", "status", "backfill")
    SEQUENCE_FIELD_NUMBER: _ClassVar[int]
    BASE_TIME_FIELD_NUMBER: _ClassVar[int]
    ALIAS_FIELD_NUMBER: _ClassVar[int]
    VALUE_FIELD_NUMBER: _ClassVar[int]
    TIME_OFFSET_MS_FIELD_NUMBER: _ClassVar[int]
    STATUS_FIELD_NUMBER: _ClassVar[int]
    BACKFILL_FIELD_NUMBER: _ClassVar[int]
    sequence: int
    base_time: _timestamp_pb2.Timestamp
    alias: _containers.RepeatedScalarFieldContainer[int]
    value: _containers.RepeatedScalarFieldContainer[float]
    time_offset_ms: _containers.RepeatedScalarFieldContainer[int]
    status: _containers.RepeatedScalarFieldContainer[int]
    backfill: bool
    def __init__(self, sequence: _Optional[int] = ..., base_time: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., alias: _Optional[_Iterable[int]] = ..., value: _Optional[_Iterable[float]] = ..., time_offset_ms: _Optional[_Iterable[int]] = ..., status: _Optional[_Iterable[int]] = ..., backfill: _Optional[bool] = ...) -> None: ...

class Alarm(_message.Message):
    __slots__ = ("alarm_id", "point_code", "sensor_type", "location", "unit", "anomaly_type", "state", "start_time", "end_time", "max_value", "max_time", "min_value", "min_time", "avg_value", "reason", "measures", "recorded_at", "recorded_by")
    ALARM_ID_FIELD_NUMBER: _ClassVar[int]
    POINT_CODE_FIELD_NUMBER: _ClassVar[int]
    SENSOR_TYPE_FIELD_NUMBER: _ClassVar[int]
    LOCATION_FIELD_NUMBER: _ClassVar[int]
    UNIT_FIELD_NUMBER: _ClassVar[int]
    ANOMALY_TYPE_FIELD_NUMBER: _ClassVar[int]
    STATE_FIELD_NUMBER: _ClassVar[int]
    START_TIME_FIELD_NUMBER: _ClassVar[int]
    END_TIME_FIELD_NUMBER: _ClassVar[int]
    MAX_VALUE_FIELD_NUMBER: _ClassVar[int]
    MAX_TIME_FIELD_NUMBER: _ClassVar[int]
    MIN_VALUE_FIELD_NUMBER: _ClassVar[int]
    MIN_TIME_FIELD_NUMBER: _ClassVar[int]
    AVG_VALUE_FIELD_NUMBER: _ClassVar[int]
    REASON_FIELD_NUMBER: _ClassVar[int]
    MEASURES_FIELD_NUMBER: _ClassVar[int]
    RECORDED_AT_FIELD_NUMBER: _ClassVar[int]
    RECORDED_BY_FIELD_NUMBER: _ClassVar[int]
    alarm_id: str
    point_code: str
    sensor_type: str
    location: str
    unit: str
    anomaly_type: _common_pb2.AnomalyType
    state: _common_pb2.AlarmState
    start_time: _timestamp_pb2.Timestamp
    end_time: _timestamp_pb2.Timestamp
    max_value: float
    max_time: _timestamp_pb2.Timestamp
    min_value: float
    min_time: _timestamp_pb2.Timestamp
    avg_value: float
    reason: str
    measures: str
    recorded_at: _timestamp_pb2.Timestamp
    recorded_by: str
    def __init__(self, alarm_id: _Optional[str] = ..., point_code: _Optional[str] = ..., sensor_type: _Optional[str] = ..., location: _Optional[str] = ..., unit: _Optional[str] = ..., anomaly_type: _Optional[_Union[_common_pb2.AnomalyType, str]] = ..., state: _Optional[_Union[_common_pb2.AlarmState, str]] = ..., start_time: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., end_time: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., max_value: _Optional[float] = ..., max_time: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., min_value: _Optional[float] = ..., min_time: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., avg_value: _Optional[float] = ..., reason: _Optional[str] = ..., measures: _Optional[str] = ..., recorded_at: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., recorded_by: _Optional[str] = ...) -> None: ...

class OutstationDefinition(_message.Message):
    __slots__ = ("outstation_code", "location", "x", "y", "z")
    OUTSTATION_CODE_FIELD_NUMBER: _ClassVar[int]
    LOCATION_FIELD_NUMBER: _ClassVar[int]
    X_FIELD_NUMBER: _ClassVar[int]
    Y_FIELD_NUMBER: _ClassVar[int]
    Z_FIELD_NUMBER: _ClassVar[int]
    outstation_code: str
    location: str
    x: float
    y: float
    z: float
    def __init__(self, outstation_code: _Optional[str] = ..., location: _Optional[str] = ..., x: _Optional[float] = ..., y: _Optional[float] = ..., z: _Optional[float] = ...) -> None: ...

class OutstationStatus(_message.Message):
    __slots__ = ("outstation_code", "run_state", "power_state", "time")
    OUTSTATION_CODE_FIELD_NUMBER: _ClassVar[int]
    RUN_STATE_FIELD_NUMBER: _ClassVar[int]
    POWER_STATE_FIELD_NUMBER: _ClassVar[int]
    TIME_FIELD_NUMBER: _ClassVar[int]
    outstation_code: str
    run_state: _common_pb2.RunState
    power_state: _common_pb2.PowerState
    time: _timestamp_pb2.Timestamp
    def __init__(self, outstation_code: _Optional[str] = ..., run_state: _Optional[_Union[_common_pb2.RunState, str]] = ..., power_state: _Optional[_Union[_common_pb2.PowerState, str]] = ..., time: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ...) -> None: ...

class Statistics(_message.Message):
    __slots__ = ("point_code", "sensor_type", "location", "unit", "start_time", "end_time", "max_value", "max_time", "min_value", "min_time", "avg_value")
    POINT_CODE_FIELD_NUMBER: _ClassVar[int]
    SENSOR_TYPE_FIELD_NUMBER: _ClassVar[int]
    LOCATION_FIELD_NUMBER: _ClassVar[int]
    UNIT_FIELD_NUMBER: _ClassVar[int]
    START_TIME_FIELD_NUMBER: _ClassVar[int]
    END_TIME_FIELD_NUMBER: _ClassVar[int]
    MAX_VALUE_FIELD_NUMBER: _ClassVar[int]
    MAX_TIME_FIELD_NUMBER: _ClassVar[int]
    MIN_VALUE_FIELD_NUMBER: _ClassVar[int]
    MIN_TIME_FIELD_NUMBER: _ClassVar[int]
    AVG_VALUE_FIELD_NUMBER: _ClassVar[int]
    point_code: str
    sensor_type: str
    location: str
    unit: str
    start_time: _timestamp_pb2.Timestamp
    end_time: _timestamp_pb2.Timestamp
    max_value: float
    max_time: _timestamp_pb2.Timestamp
    min_value: float
    min_time: _timestamp_pb2.Timestamp
    avg_value: float
    def __init__(self, point_code: _Optional[str] = ..., sensor_type: _Optional[str] = ..., location: _Optional[str] = ..., unit: _Optional[str] = ..., start_time: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., end_time: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., max_value: _Optional[float] = ..., max_time: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., min_value: _Optional[float] = ..., min_time: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., avg_value: _Optional[float] = ...) -> None: ...

class AreaDefinition(_message.Message):
    __slots__ = ("area_code", "name", "area_type", "capacity")
    AREA_CODE_FIELD_NUMBER: _ClassVar[int]
    NAME_FIELD_NUMBER: _ClassVar[int]
    AREA_TYPE_FIELD_NUMBER: _ClassVar[int]
    CAPACITY_FIELD_NUMBER: _ClassVar[int]
    area_code: str
    name: str
    area_type: str
    capacity: int
    def __init__(self, area_code: _Optional[str] = ..., name: _Optional[str] = ..., area_type: _Optional[str] = ..., capacity: _Optional[int] = ...) -> None: ...

class StationDefinition(_message.Message):
    __slots__ = ("station_code", "area_code", "location", "x", "y", "z")
    STATION_CODE_FIELD_NUMBER: _ClassVar[int]
    AREA_CODE_FIELD_NUMBER: _ClassVar[int]
    LOCATION_FIELD_NUMBER: _ClassVar[int]
    X_FIELD_NUMBER: _ClassVar[int]
    Y_FIELD_NUMBER: _ClassVar[int]
    Z_FIELD_NUMBER: _ClassVar[int]
    station_code: str
    area_code: str
    location: str
    x: float
    y: float
    z: float
    def __init__(self, station_code: _Optional[str] = ..., area_code: _Optional[str] = ..., location: _Optional[str] = ..., x: _Optional[float] = ..., y: _Optional[float] = ..., z: _Optional[float] = ...) -> None: ...

class StationStatus(_message.Message):
    __slots__ = ("station_code", "run_state", "power_state", "time")
    STATION_CODE_FIELD_NUMBER: _ClassVar[int]
    RUN_STATE_FIELD_NUMBER: _ClassVar[int]
    POWER_STATE_FIELD_NUMBER: _ClassVar[int]
    TIME_FIELD_NUMBER: _ClassVar[int]
    station_code: str
    run_state: _common_pb2.RunState
    power_state: _common_pb2.PowerState
    time: _timestamp_pb2.Timestamp
    def __init__(self, station_code: _Optional[str] = ..., run_state: _Optional[_Union[_common_pb2.RunState, str]] = ..., power_state: _Optional[_Union[_common_pb2.PowerState, str]] = ..., time: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ...) -> None: ...

class TrackPoint(_message.Message):
    __slots__ = ("station_code", "time")
    STATION_CODE_FIELD_NUMBER: _ClassVar[int]
    TIME_FIELD_NUMBER: _ClassVar[int]
    station_code: str
    time: _timestamp_pb2.Timestamp
    def __init__(self, station_code: _Optional[str] = ..., time: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ...) -> None: ...

class PersonnelRecord(_message.Message):
    __slots__ = ("card_code", "name", "direction", "entered_mine_at", "exited_mine_at", "area_code", "entered_area_at", "station_code", "entered_station_at", "work_organization", "distance_m", "work_state", "track", "time")
    CARD_CODE_FIELD_NUMBER: _ClassVar[int]
    NAME_FIELD_NUMBER: _ClassVar[int]
    DIRECTION_FIELD_NUMBER: _ClassVar[int]
    ENTERED_MINE_AT_FIELD_NUMBER: _ClassVar[int]
    EXITED_MINE_AT_FIELD_NUMBER: _ClassVar[int]
    AREA_CODE_FIELD_NUMBER: _ClassVar[int]
    ENTERED_AREA_AT_FIELD_NUMBER: _ClassVar[int]
    STATION_CODE_FIELD_NUMBER: _ClassVar[int]
    ENTERED_STATION_AT_FIELD_NUMBER: _ClassVar[int]
    WORK_ORGANIZATION_FIELD_NUMBER: _ClassVar[int]
    DISTANCE_M_FIELD_NUMBER: _ClassVar[int]
    WORK_STATE_FIELD_NUMBER: _ClassVar[int]
    TRACK_FIELD_NUMBER: _ClassVar[int]
    TIME_FIELD_NUMBER: _ClassVar[int]
    card_code: str
    name: str
    direction: _common_pb2.MineDirection
    entered_mine_at: _timestamp_pb2.Timestamp
    exited_mine_at: _timestamp_pb2.Timestamp
    area_code: str
    entered_area_at: _timestamp_pb2.Timestamp
    station_code: str
    entered_station_at: _timestamp_pb2.Timestamp
    work_organization: str
    distance_m: float
    work_state: str
    track: _containers.RepeatedCompositeFieldContainer[TrackPoint]
    time: _timestamp_pb2.Timestamp
    def __init__(self, card_code: _Optional[str] = ..., name: _Optional[str] = ..., direction: _Optional[_Union[_common_pb2.MineDirection, str]] = ..., entered_mine_at: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., exited_mine_at: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., area_code: _Optional[str] = ..., entered_area_at: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., station_code: _Optional[str] = ..., entered_station_at: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., work_organization: _Optional[str] = ..., distance_m: _Optional[float] = ..., work_state: _Optional[str] = ..., track: _Optional[_Iterable[_Union[TrackPoint, _Mapping]]] = ..., time: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ...) -> None: ...
