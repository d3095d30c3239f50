"""``GrpcClient``: one channel, the service's timed methods as ``stub``, and ``call()`` by name.

The methods come from a generated stub class, a .proto compiled at runtime, or server
reflection (resolved lazily, at the first call, so a target that is down yields
UNAVAILABLE failures instead of a user that cannot start).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import grpc
from google.protobuf.message import Message

from loadkit.exceptions import ProtoError
from loadkit.users.grpc_calls import REQUEST_TYPE, WRAPPERS, Fire, GrpcCallError, Metadata, Trace
from loadkit.users.grpc_channel import ChannelSpec, open_channel, shared_channels
from loadkit.users.grpc_dicts import DictRequests
from loadkit.users.grpc_methods import MethodSpec
from loadkit.users.grpc_traced import TRACED_WRAPPERS
from loadkit.users.spans import Spans

#: Produces the method specs once a channel exists (reflection needs the channel).
SpecSource = Callable[[grpc.Channel], dict[str, MethodSpec]]


class GrpcStub:
    """The service's methods as attributes, each timed: ``stub.GetItem(request)``."""

    def __init__(self, client: GrpcClient) -> None:
        self._client = client

    def __getattr__(self, method: str) -> Any:
        if method.startswith("_"):
            raise AttributeError(method)
        wrapper = self._client.method(method)
        setattr(self, method, wrapper)
        return wrapper

    def __dir__(self) -> list[str]:
        return sorted(self._client.specs())


class GrpcClient:
    """A channel to one target and the timed methods of one service over it."""

    def __init__(
        self,
        spec: ChannelSpec,
        source: SpecSource,
        fire: Fire,
        *,
        service_name: str = "",
        timeout: float | None = None,
        metadata: Metadata | None = None,
        shared: bool = False,
        on_unknown_method: Callable[[ProtoError], Exception] | None = None,
        trace: Trace = None,
        spans: Spans | None = None,
    ) -> None:
        self.channel_spec = spec
        self._shared = shared
        self.channel: grpc.Channel = shared_channels.acquire(spec) if shared else open_channel(spec)
        self._source = source
        self._fire = fire
        self._service_name = service_name
        self.timeout = timeout
        self.metadata = metadata
        #: Makes each call's trace context (:mod:`loadkit.users.tracing`); None: none sent.
        self.trace = trace
        #: --otel: a CLIENT span per call, propagated instead of ``trace`` (:mod:`loadkit.users.spans`).
        self.spans = spans
        self._specs: dict[str, MethodSpec] | None = None
        #: Turns the ProtoError of an unknown method name into what to raise (GrpcUser: stop the run).
        self._on_unknown_method = on_unknown_method
        self._closed = False
        self.stub = GrpcStub(self)
        #: call(): method name -> (timed callable, request converter, requests stream), so a call
        #: by name costs one lookup.
        self._by_name: dict[str, tuple[Any, Callable[[Any], Any], bool]] = {}

    def specs(self) -> dict[str, MethodSpec]:
        """The service's methods by name (loads them on first use)."""
        if self._specs is None:
            self._specs = self._source(self.channel)
        return self._specs

    def method(self, method: str) -> Any:
        """The timed callable of ``method`` (by name, e.g. "GetItem")."""
        try:
            specs = self.specs()
        except ProtoError as exc:
            raise self._lookup_failed(method, exc) from exc
        spec = specs.get(method)
        if spec is None:
            error = ProtoError(
                f"service {self._service_name or '?'} has no method {method!r}: "
                f"call one of {sorted(specs)} (names are case-sensitive)"
            )
            raise error if self._on_unknown_method is None else self._on_unknown_method(error)
        multicallable = getattr(self.channel, spec.kind)(
            spec.path,
            request_serializer=spec.request_serializer,
            response_deserializer=spec.response_deserializer,
        )
        if self.spans is not None:  # chosen once per method: the untraced wrappers stay as they are
            wrapper: Any = TRACED_WRAPPERS[spec.kind]
            target = self.channel_spec.target
            return wrapper(multicallable, spec.path, self._fire, self.timeout, self.metadata, self.spans, target)
        return WRAPPERS[spec.kind](multicallable, spec.path, self._fire, self.timeout, self.metadata, self.trace)

    def call(self, method: str, request: Any = None, **kwargs: Any) -> Any:
        """Call ``method`` by name with a message or a dict (as grpcurl does); streams take an iterable.

        ``self.client.call("GetItem", {"id": "1"})``; keyword arguments are those of
        the stub methods (``timeout``, ``metadata``, ``name``).
        """
        found = self._by_name.get(method)
        if found is None:  # first call of this method: resolve once (raises for an unknown name)
            wrapper = getattr(self.stub, method)  # an unknown name or a failed lookup raises here
            spec = self.specs()[method]
            found = self._by_name[method] = (wrapper, _converter(spec), spec.kind.startswith("stream"))
        wrapper, to_message, streams = found
        if streams:
            return wrapper(map(to_message, request or ()), **kwargs)
        return wrapper(to_message(request), **kwargs)

    def close(self) -> None:
        """Close (or release the shared) channel; idempotent."""
        if self._closed:
            return
        self._closed = True
        if self._shared:
            shared_channels.release(self.channel_spec)
        else:
            self.channel.close()

    def _lookup_failed(self, method: str, exc: ProtoError) -> Exception:
        cause = exc.__cause__
        if isinstance(cause, grpc.RpcError):
            # Reflection could not reach the server: a failed request, like any other call.
            name = f"/{self._service_name}/{method}"
            error = GrpcCallError.from_rpc_error(cause, name)
            self._fire(
                request_type=REQUEST_TYPE,
                name=name,
                response_time=0.0,
                response_length=0,
                exception=error,
                context={
                    "grpc_status": error.status.name,
                    "messages_sent": 0,
                    "messages_received": 0,
                    "trace_id": None,  # no call was sent
                },
            )
            return error
        return exc


def _converter(spec: MethodSpec) -> Callable[[Any], Any]:
    """What turns one request (a message, or a dict as grpcurl takes it) into the method's message."""
    if spec.request_class is not None:
        return DictRequests(spec.request_class)
    path = spec.path

    def messages_only(request: Any) -> Any:
        if isinstance(request, Message):
            return request
        raise ProtoError(f"{path}: pass a request message (dicts need a .proto or reflection source)")

    return messages_only
