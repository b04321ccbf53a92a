import datetime

from google.protobuf import timestamp_pb2 as _timestamp_pb2
from santong.protocols.v1 import device_access_pb2 as _device_access_pb2
from google.protobuf.internal import containers as _containers
from google.protobuf import descriptor as _descriptor
from google.protobuf import message as _message
from collections.abc import Iterable as _Iterable, Mapping as _Mapping
from typing import ClassVar as _ClassVar, Optional as _Optional, Union as _Union

DESCRIPTOR: _descriptor.FileDescriptor

class GetPlatformInfoRequest(_message.Message):
    __slots__ = ()
    def __init__(self) -> None: ...

class GetPlatformInfoResponse(_message.Message):
    __slots__ = ("spec_version", "supported_versions", "limits", "capabilities", "server_time", "platform_name")
    SPEC_VERSION_FIELD_NUMBER: _ClassVar[int]
    SUPPORTED_VERSIONS_FIELD_NUMBER: _ClassVar[int]
    LIMITS_FIELD_NUMBER: _ClassVar[int]
    CAPABILITIES_FIELD_NUMBER: _ClassVar[int]
    SERVER_TIME_FIELD_NUMBER: _ClassVar[int]
    PLATFORM_NAME_FIELD_NUMBER: _ClassVar[int]
    spec_version: str
    supported_versions: _containers.RepeatedScalarFieldContainer[str]
    limits: _device_access_pb2.Limits
    capabilities: _containers.RepeatedScalarFieldContainer[str]
    server_time: _timestamp_pb2.Timestamp
    platform_name: str
    def __init__(self, spec_version: _Optional[str] = ..., supported_versions: _Optional[_Iterable[str]] = ..., limits: _Optional[_Union[_device_access_pb2.Limits, _Mapping]] = ..., capabilities: _Optional[_Iterable[str]] = ..., server_time: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., platform_name: _Optional[str] = ...) -> None: ...
