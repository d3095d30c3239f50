"""``GrpcUser``: a Locust user whose gRPC calls are timed and reported, for all four RPC kinds.

One channel per user (or one shared per process with ``--grpc-shared-channel``),
opened when the user is created and closed when its greenlet ends.
"""

from __future__ import annotations

import sys
from collections.abc import Sequence
from functools import partial
from pathlib import Path
from typing import Any, ClassVar

from gevent.pool import Group
from locust import User
from locust.env import Environment

from loadkit.exceptions import ConfigError
from loadkit.run.stop import stop_run
from loadkit.users._events import user_fire
from loadkit.users.grpc_channel import ChannelSpec, parse_host
from loadkit.users.grpc_client import GrpcClient, GrpcStub, SpecSource
from loadkit.users.grpc_methods import MethodSpec, specs_from_stub
from loadkit.users.grpc_proto import load_proto_service, reflection_service, resolve_proto
from loadkit.users.spans import spans_for
from loadkit.users.tracing import trace_context_for

#: Default per-call deadline (seconds) when neither the user nor --grpc-timeout sets one.
DEFAULT_TIMEOUT = 60.0


class GrpcUser(User):
    """A Locust user for gRPC services; change one import and get honest gRPC stats.

    From generated code::

        class Demo(GrpcUser):
            host = "grpc://127.0.0.1:50051"
            stub_class = demo_pb2_grpc.DemoStub

            @task
            def get(self):
                self.stub.GetItem(demo_pb2.GetItemRequest(id="1"), metadata=[("x-delay-ms", "5")])

    From a .proto compiled at runtime (``proto`` absolute or relative to the working
    directory or this file; imports resolve from ``proto_include``, by default the root
    matching the file's ``package``)::

        proto = "proto/demo/v1/demo.proto"
        service = "demo.v1.Demo"

    Or with ``service`` alone, through server reflection; then build requests from dicts:
    ``self.client.call("GetItem", {"id": "1"})``.

    Per call: ``timeout=`` (seconds), ``metadata=`` (added to the class's ``metadata``),
    ``name=`` (the stats name). A failed call raises :class:`~loadkit.GrpcCallError`
    after it was recorded; uncaught, it just ends the task. With ``--trace-context`` every call
    sends a fresh W3C ``traceparent`` after that metadata; its trace id is the event's
    ``context["trace_id"]`` (:mod:`loadkit.users.tracing`). With Locust's ``--otel`` every call is a
    CLIENT span whose context is the one sent (:mod:`loadkit.users.spans`).
    """

    abstract = True

    stub_class: ClassVar[type | None] = None
    proto: ClassVar[str | None] = None
    proto_include: ClassVar[str | Sequence[str] | None] = None
    service: ClassVar[str | None] = None
    metadata: ClassVar[Sequence[tuple[str, str]]] = ()
    #: Per-call deadline in seconds; None → ``--grpc-timeout`` (default 60 s).
    timeout: ClassVar[float | None] = None
    channel_options: ClassVar[Sequence[tuple[str, Any]]] = ()
    #: grpcs:// only: PEM files of the root CA (None: system roots) and, for mTLS, the client cert and key.
    root_certificates: ClassVar[str | None] = None
    client_cert: ClassVar[str | None] = None
    client_key: ClassVar[str | None] = None
    #: Share one channel per process and target; None → ``--grpc-shared-channel``.
    shared_channel: ClassVar[bool | None] = None

    client: GrpcClient
    stub: GrpcStub

    def __init__(self, environment: Environment) -> None:
        super().__init__(environment)
        spec = self._channel_spec(self.host)
        options = environment.parsed_options
        timeout = self.timeout if self.timeout is not None else getattr(options, "grpc_timeout", None)
        shared = (
            self.shared_channel if self.shared_channel is not None else getattr(options, "grpc_shared_channel", False)
        )
        spans = spans_for(environment)  # --otel: a span per call, its context propagated
        tracing = None if spans is not None else trace_context_for(environment)
        self.client = GrpcClient(
            spec,
            self._spec_source(spec.target),
            user_fire(self, environment.events.request.fire),  # context() merged into every event
            service_name=self.service or "",
            timeout=DEFAULT_TIMEOUT if timeout is None else (timeout or None),
            metadata=self.metadata,
            shared=bool(shared),
            on_unknown_method=partial(stop_run, environment),
            trace=None if tracing is None else tracing.new,  # a traceparent on every call
            spans=spans,
        )
        self.stub = self.client.stub

    def start(self, group: Group) -> Any:
        greenlet = super().start(group)
        greenlet.link(lambda _g: self.client.close())
        return greenlet

    @classmethod
    def _channel_spec(cls, host: str | None) -> ChannelSpec:
        """The channel this class's users open to ``host`` (the preflight opens the same one)."""
        target, secure = parse_host(host)
        return ChannelSpec(
            target, secure, cls.root_certificates, cls.client_cert, cls.client_key, tuple(cls.channel_options)
        )

    @classmethod
    def _spec_source(cls, target: str) -> SpecSource:
        if cls.stub_class is not None:
            specs = specs_from_stub(cls.stub_class)
            return lambda _channel: specs
        if cls.service is None:
            raise ConfigError(
                f"{cls.__name__} needs stub_class (generated code), or proto + service (a .proto at runtime), "
                "or service alone (server reflection)"
            )
        if cls.proto is not None:
            module_file = getattr(sys.modules.get(cls.__module__), "__file__", None)
            base = Path(module_file).parent if module_file else None
            source = resolve_proto(cls.proto, cls.proto_include, base)
            specs = load_proto_service(source, cls.service)
            return lambda _channel: specs
        return partial(_reflect, target, cls.service)


#: Methods found by reflection, per (target, service): one lookup per process, not per user.
_reflected: dict[tuple[str, str], dict[str, MethodSpec]] = {}


def _reflect(target: str, service: str, channel: Any) -> dict[str, MethodSpec]:
    key = (target, service)
    if key not in _reflected:
        _reflected[key] = reflection_service(channel, service)
    return _reflected[key]
