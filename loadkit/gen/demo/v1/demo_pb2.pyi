from loadkit.gen.demo.v1 import types_pb2 as _types_pb2
from google.protobuf.internal import containers as _containers
from google.protobuf import descriptor as _descriptor
from google.protobuf import message as _message
from collections.abc import Iterable as _Iterable
from typing import ClassVar as _ClassVar, Optional as _Optional

DESCRIPTOR: _descriptor.FileDescriptor

class GetItemRequest(_message.Message):
    __slots__ = ("id", "payload_size")
    ID_FIELD_NUMBER: _ClassVar[int]
    PAYLOAD_SIZE_FIELD_NUMBER: _ClassVar[int]
    id: str
    payload_size: int
    def __init__(self, id: _Optional[str] = ..., payload_size: _Optional[int] = ...) -> None: ...

class ListItemsRequest(_message.Message):
    __slots__ = ("count", "payload_size")
    COUNT_FIELD_NUMBER: _ClassVar[int]
    PAYLOAD_SIZE_FIELD_NUMBER: _ClassVar[int]
    count: int
    payload_size: int
    def __init__(self, count: _Optional[int] = ..., payload_size: _Optional[int] = ...) -> None: ...

class PutItemsSummary(_message.Message):
    __slots__ = ("received", "total_bytes", "ids")
    RECEIVED_FIELD_NUMBER: _ClassVar[int]
    TOTAL_BYTES_FIELD_NUMBER: _ClassVar[int]
    IDS_FIELD_NUMBER: _ClassVar[int]
    received: int
    total_bytes: int
    ids: _containers.RepeatedScalarFieldContainer[str]
    def __init__(self, received: _Optional[int] = ..., total_bytes: _Optional[int] = ..., ids: _Optional[_Iterable[str]] = ...) -> None: ...
