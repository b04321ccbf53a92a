from google.protobuf.internal import enum_type_wrapper as _enum_type_wrapper
from google.protobuf import descriptor as _descriptor
from typing import ClassVar as _ClassVar

DESCRIPTOR: _descriptor.FileDescriptor

class ValueKind(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    VALUE_KIND_UNSPECIFIED: _ClassVar[ValueKind]
    VALUE_KIND_ANALOG: _ClassVar[ValueKind]
    VALUE_KIND_SWITCH: _ClassVar[ValueKind]
    VALUE_KIND_ACCUMULATOR: _ClassVar[ValueKind]

class ProductClass(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    PRODUCT_CLASS_UNSPECIFIED: _ClassVar[ProductClass]
    PRODUCT_CLASS_SAFETY_MONITORING: _ClassVar[ProductClass]
    PRODUCT_CLASS_IMPORTANT_EQUIPMENT: _ClassVar[ProductClass]
    PRODUCT_CLASS_PERSONNEL_POSITION: _ClassVar[ProductClass]
    PRODUCT_CLASS_WATER_HAZARD: _ClassVar[ProductClass]
    PRODUCT_CLASS_GROUND_PRESSURE: _ClassVar[ProductClass]
    PRODUCT_CLASS_GAS_DRAINAGE: _ClassVar[ProductClass]

class PointStatusFlag(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    POINT_STATUS_FLAG_UNSPECIFIED: _ClassVar[PointStatusFlag]
    POINT_STATUS_FLAG_ALARM: _ClassVar[PointStatusFlag]
    POINT_STATUS_FLAG_POWER_OFF: _ClassVar[PointStatusFlag]
    POINT_STATUS_FLAG_CALIBRATING: _ClassVar[PointStatusFlag]
    POINT_STATUS_FLAG_OVER_RANGE: _ClassVar[PointStatusFlag]
    POINT_STATUS_FLAG_OUTSTATION_FAULT: _ClassVar[PointStatusFlag]
    POINT_STATUS_FLAG_NOT_POLLED: _ClassVar[PointStatusFlag]
    POINT_STATUS_FLAG_PAUSED: _ClassVar[PointStatusFlag]
    POINT_STATUS_FLAG_SENSOR_FAULT: _ClassVar[PointStatusFlag]

class AnomalyType(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    ANOMALY_TYPE_UNSPECIFIED: _ClassVar[AnomalyType]
    ANOMALY_TYPE_OVER_LIMIT: _ClassVar[AnomalyType]
    ANOMALY_TYPE_POWER_OFF: _ClassVar[AnomalyType]
    ANOMALY_TYPE_FEED: _ClassVar[AnomalyType]
    ANOMALY_TYPE_SENSOR_DISCONNECTED: _ClassVar[AnomalyType]
    ANOMALY_TYPE_STATION_POWER_LOSS: _ClassVar[AnomalyType]
    ANOMALY_TYPE_STATION_UNREACHABLE: _ClassVar[AnomalyType]
    ANOMALY_TYPE_CALIBRATION: _ClassVar[AnomalyType]
    ANOMALY_TYPE_OVER_RANGE: _ClassVar[AnomalyType]
    ANOMALY_TYPE_HIGH_WARNING: _ClassVar[AnomalyType]
    ANOMALY_TYPE_LOW_WARNING: _ClassVar[AnomalyType]

class AlarmState(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    ALARM_STATE_UNSPECIFIED: _ClassVar[AlarmState]
    ALARM_STATE_RAISED: _ClassVar[AlarmState]
    ALARM_STATE_CLEARED: _ClassVar[AlarmState]

class RunState(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    RUN_STATE_UNSPECIFIED: _ClassVar[RunState]
    RUN_STATE_OK: _ClassVar[RunState]
    RUN_STATE_INTERRUPTED: _ClassVar[RunState]
    RUN_STATE_FAULT: _ClassVar[RunState]
    RUN_STATE_UNKNOWN: _ClassVar[RunState]

class PowerState(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    POWER_STATE_UNSPECIFIED: _ClassVar[PowerState]
    POWER_STATE_DC: _ClassVar[PowerState]
    POWER_STATE_AC: _ClassVar[PowerState]
    POWER_STATE_FAULT: _ClassVar[PowerState]

class MineDirection(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    MINE_DIRECTION_UNSPECIFIED: _ClassVar[MineDirection]
    MINE_DIRECTION_IN: _ClassVar[MineDirection]
    MINE_DIRECTION_OUT: _ClassVar[MineDirection]
VALUE_KIND_UNSPECIFIED: ValueKind
VALUE_KIND_ANALOG: ValueKind
VALUE_KIND_SWITCH: ValueKind
VALUE_KIND_ACCUMULATOR: ValueKind
PRODUCT_CLASS_UNSPECIFIED: ProductClass
PRODUCT_CLASS_SAFETY_MONITORING: ProductClass
PRODUCT_CLASS_IMPORTANT_EQUIPMENT: ProductClass
PRODUCT_CLASS_PERSONNEL_POSITION: ProductClass
PRODUCT_CLASS_WATER_HAZARD: ProductClass
PRODUCT_CLASS_GROUND_PRESSURE: ProductClass
PRODUCT_CLASS_GAS_DRAINAGE: ProductClass
POINT_STATUS_FLAG_UNSPECIFIED: PointStatusFlag
POINT_STATUS_FLAG_ALARM: PointStatusFlag
POINT_STATUS_FLAG_POWER_OFF: PointStatusFlag
POINT_STATUS_FLAG_CALIBRATING: PointStatusFlag
POINT_STATUS_FLAG_OVER_RANGE: PointStatusFlag
POINT_STATUS_FLAG_OUTSTATION_FAULT: PointStatusFlag
POINT_STATUS_FLAG_NOT_POLLED: PointStatusFlag
POINT_STATUS_FLAG_PAUSED: PointStatusFlag
POINT_STATUS_FLAG_SENSOR_FAULT: PointStatusFlag
ANOMALY_TYPE_UNSPECIFIED: AnomalyType
ANOMALY_TYPE_OVER_LIMIT: AnomalyType
ANOMALY_TYPE_POWER_OFF: AnomalyType
ANOMALY_TYPE_FEED: AnomalyType
ANOMALY_TYPE_SENSOR_DISCONNECTED: AnomalyType
ANOMALY_TYPE_STATION_POWER_LOSS: AnomalyType
ANOMALY_TYPE_STATION_UNREACHABLE: AnomalyType
ANOMALY_TYPE_CALIBRATION: AnomalyType
ANOMALY_TYPE_OVER_RANGE: AnomalyType
ANOMALY_TYPE_HIGH_WARNING: AnomalyType
ANOMALY_TYPE_LOW_WARNING: AnomalyType
ALARM_STATE_UNSPECIFIED: AlarmState
ALARM_STATE_RAISED: AlarmState
ALARM_STATE_CLEARED: AlarmState
RUN_STATE_UNSPECIFIED: RunState
RUN_STATE_OK: RunState
RUN_STATE_INTERRUPTED: RunState
RUN_STATE_FAULT: RunState
RUN_STATE_UNKNOWN: RunState
POWER_STATE_UNSPECIFIED: PowerState
POWER_STATE_DC: PowerState
POWER_STATE_AC: PowerState
POWER_STATE_FAULT: PowerState
MINE_DIRECTION_UNSPECIFIED: MineDirection
MINE_DIRECTION_IN: MineDirection
MINE_DIRECTION_OUT: MineDirection
