from google.protobuf.internal import containers as _containers
from google.protobuf import descriptor as _descriptor
from google.protobuf import message as _message
from collections.abc import Iterable as _Iterable, Mapping as _Mapping
from typing import ClassVar as _ClassVar, Optional as _Optional, Union as _Union

DESCRIPTOR: _descriptor.FileDescriptor

class GetCountersRequest(_message.Message):
    __slots__ = ()
    def __init__(self) -> None: ...

class ResetCountersRequest(_message.Message):
    __slots__ = ()
    def __init__(self) -> None: ...

class Counters(_message.Message):
    __slots__ = ("calls",)
    class CallsEntry(_message.Message):
        __slots__ = ("key", "value")
        KEY_FIELD_NUMBER: _ClassVar[int]
        VALUE_FIELD_NUMBER: _ClassVar[int]
        key: str
        value: int
        def __init__(self, key: _Optional[str] = ..., value: _Optional[int] = ...) -> None: ...
    CALLS_FIELD_NUMBER: _ClassVar[int]
    calls: _containers.ScalarMap[str, int]
    def __init__(self, calls: _Optional[_Mapping[str, int]] = ...) -> None: ...

class GetTracesRequest(_message.Message):
    __slots__ = ()
    def __init__(self) -> None: ...

class TraceRecord(_message.Message):
    __slots__ = ("trace_id", "method", "sampled", "latency_ms")
    TRACE_ID_FIELD_NUMBER: _ClassVar[int]
    METHOD_FIELD_NUMBER: _ClassVar[int]
    SAMPLED_FIELD_NUMBER: _ClassVar[int]
    LATENCY_MS_FIELD_NUMBER: _ClassVar[int]
    trace_id: str
    method: str
    sampled: bool
    latency_ms: float
    def __init__(self, trace_id: _Optional[str] = ..., method: _Optional[str] = ..., sampled: _Optional[bool] = ..., latency_ms: _Optional[float] = ...) -> None: ...

class Traces(_message.Message):
    __slots__ = ("requests", "valid", "invalid", "missing", "sampled", "recent")
    REQUESTS_FIELD_NUMBER: _ClassVar[int]
    VALID_FIELD_NUMBER: _ClassVar[int]
    INVALID_FIELD_NUMBER: _ClassVar[int]
    MISSING_FIELD_NUMBER: _ClassVar[int]
    SAMPLED_FIELD_NUMBER: _ClassVar[int]
    RECENT_FIELD_NUMBER: _ClassVar[int]
    requests: int
    valid: int
    invalid: int
    missing: int
    sampled: int
    recent: _containers.RepeatedCompositeFieldContainer[TraceRecord]
    def __init__(self, requests: _Optional[int] = ..., valid: _Optional[int] = ..., invalid: _Optional[int] = ..., missing: _Optional[int] = ..., sampled: _Optional[int] = ..., recent: _Optional[_Iterable[_Union[TraceRecord, _Mapping]]] = ...) -> None: ...
