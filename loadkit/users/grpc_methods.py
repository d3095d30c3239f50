"""What loadkit needs to know about a service's methods, from any of the three sources.

A :class:`MethodSpec` is the full path, the RPC kind and the (de)serialisers of one
method. Generated stubs are read by instantiating the stub class on a recording
channel (so any ``*_pb2_grpc`` stub works, whatever protoc version wrote it); runtime
.proto files and server reflection give a ``ServiceDescriptor`` plus message classes.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from google.protobuf.descriptor import ServiceDescriptor
from google.protobuf.message import Message

from loadkit.exceptions import ProtoError

UNARY_UNARY = "unary_unary"
UNARY_STREAM = "unary_stream"
STREAM_UNARY = "stream_unary"
STREAM_STREAM = "stream_stream"
KINDS = (UNARY_UNARY, UNARY_STREAM, STREAM_UNARY, STREAM_STREAM)


@dataclass(frozen=True)
class MethodSpec:
    """One RPC: ``path`` "/pkg.Service/Method", ``kind`` (one of :data:`KINDS`), codecs."""

    name: str
    path: str
    kind: str
    request_serializer: Callable[[Any], bytes] | None
    response_deserializer: Callable[[bytes], Any] | None
    request_class: type[Message] | None = None


class _RecordingChannel:
    """Stands in for a channel while a generated stub's ``__init__`` declares its methods."""

    def __init__(self) -> None:
        self.specs: dict[str, MethodSpec] = {}

    def _record(self, kind: str) -> Callable[..., Any]:
        def declare(path: str, request_serializer: Any = None, response_deserializer: Any = None, **_kw: Any) -> str:
            name = path.rsplit("/", 1)[-1]
            self.specs[name] = MethodSpec(name, path, kind, request_serializer, response_deserializer)
            return name

        return declare

    def __getattr__(self, kind: str) -> Any:
        if kind in KINDS:
            return self._record(kind)
        raise AttributeError(kind)


def specs_from_stub(stub_class: type) -> dict[str, MethodSpec]:
    """Methods of a generated stub class (``demo_pb2_grpc.DemoStub``), by method name."""
    channel = _RecordingChannel()
    try:
        stub_class(channel)
    except Exception as exc:
        raise ProtoError(
            f"stub_class {stub_class!r} is not a generated gRPC stub ({exc}): "
            "use the *Stub class from a *_pb2_grpc module"
        ) from exc
    if not channel.specs:
        raise ProtoError(f"stub_class {stub_class.__name__} declares no methods: use the *Stub class of a service")
    return {name: _with_request_class(spec) for name, spec in channel.specs.items()}


def _with_request_class(spec: MethodSpec) -> MethodSpec:
    """Add the request class from protobuf's default pool (where generated code registers), for dict requests."""
    from dataclasses import replace

    from google.protobuf import descriptor_pool, message_factory

    service, _, method = spec.path.lstrip("/").rpartition("/")
    try:
        descriptor = descriptor_pool.Default().FindServiceByName(service).FindMethodByName(method)
    except KeyError:
        return spec
    return replace(spec, request_class=message_factory.GetMessageClass(descriptor.input_type))


def specs_from_descriptor(
    service: ServiceDescriptor, message_class: Callable[[Any], type[Message]]
) -> dict[str, MethodSpec]:
    """Methods of a service descriptor; ``message_class`` maps a message descriptor to its class."""
    specs = {}
    for method in service.methods:
        request = message_class(method.input_type)
        response = message_class(method.output_type)
        kind = f"{'stream' if method.client_streaming else 'unary'}_{'stream' if method.server_streaming else 'unary'}"
        specs[method.name] = MethodSpec(
            method.name,
            f"/{service.full_name}/{method.name}",
            kind,
            request.SerializeToString,
            response.FromString,
            request,
        )
    return specs
