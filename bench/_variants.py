"""The variants of bench/instructions.py: what one "call" is in each, run inside callgrind.

Each variant runs ``warmup + calls + 1`` iterations of its loop in one greenlet (one
user: no interleaving, so the same work in the same order every run) and calls
:meth:`Window.tick` first thing in every iteration; the tick of iteration ``warmup``
opens the measured window and the tick of iteration ``warmup + calls`` closes it, so the
window holds exactly ``calls`` whole iterations: the call, its request event and
listeners, and the loop around it (Locust's task loop with ``constant(0)`` for users).

Every call asks the target to answer :data:`DELAY_MS` late (gRPC metadata ``x-delay-ms``, HTTP
``?delay_ms=``), as a real service does: the client then always parks its greenlet and
goes through gevent's hub before the reply is read. Without it, whether a reply is already
there when the client (slowed ~50x by valgrind) first looks depends on the machine's load,
and so did the count: FastHttpUser ±2.1 % over 4 runs without the delay, ±0.24 % with it.

Per-second work is not per-call work, and under valgrind (~50x slower) it would swell
with wall time, so it is stopped before the window: Locust's CPU monitor (every 10 s) and
loadkit's health sampling and loop-lag probe (every 3 s / 50 ms). What each request costs
loadkit's plugin — HDR recording, the facet filter on Locust's stats, the health request
counter — stays in.
"""

from __future__ import annotations

from collections.abc import Callable
from time import perf_counter
from typing import Any

from bench import _callgrind, _variants_h2ws, _variants_otel

#: Messages per streaming call (client-side, server-side or both ways).
STREAM_MESSAGES = 10
#: The targets answer (each message) this late, so that every call waits for its reply (see the docstring).
DELAY_MS = 10
METADATA = (("x-delay-ms", str(DELAY_MS)),)


def set_delay(ms: int) -> None:
    """Make the targets answer ``ms`` late instead (``--delay-ms``: per-second work grows the count with it)."""
    global DELAY_MS, METADATA, PATH
    DELAY_MS, METADATA, PATH = ms, (("x-delay-ms", str(ms)),), f"/health?delay_ms={ms}"


class Window:
    """Opens the measured window at iteration ``warmup``, closes it ``calls`` iterations later."""

    def __init__(self, warmup: int, calls: int) -> None:
        self.open_at = warmup
        self.close_at = warmup + calls
        self.i = 0

    def tick(self) -> bool:
        """Call first in each iteration; False once the window is closed (stop looping)."""
        i = self.i
        self.i = i + 1
        if i == self.open_at:
            _callgrind.start_window()
        elif i == self.close_at:
            _callgrind.end_window()
            return False
        return True


# --- gRPC -----------------------------------------------------------------------------
GRPC_KINDS = ("unary", "server-stream", "client-stream", "bidi")


def _grpc_requests(kind: str) -> tuple[str, Any]:
    """Method name and request (dicts, as grpcurl and ``GrpcClient.call`` take them) of each kind."""
    if kind == "unary":
        return "GetItem", {"id": "1"}
    if kind == "server-stream":
        return "ListItems", {"count": STREAM_MESSAGES}
    if kind == "client-stream":
        return "PutItems", [{"id": str(i), "name": "n"} for i in range(STREAM_MESSAGES)]
    return "Chat", [{"seq": i, "text": "hi"} for i in range(STREAM_MESSAGES)]


def bare_grpc(kind: str, address: str, window: Window) -> None:
    """The floor: the generated stub on a plain channel, the request built from a dict each call."""
    import gevent
    import grpc
    from google.protobuf import json_format

    from loadkit.gen.demo.v1 import demo_pb2, demo_pb2_grpc, types_pb2

    method, body = _grpc_requests(kind)
    parse = json_format.ParseDict

    def loop() -> None:
        channel = grpc.insecure_channel(address)
        stub = demo_pb2_grpc.DemoStub(channel)
        call = getattr(stub, method)
        while window.tick():
            if kind == "unary":
                call(parse(body, demo_pb2.GetItemRequest()), timeout=60, metadata=METADATA)
            elif kind == "server-stream":
                for _ in call(parse(body, demo_pb2.ListItemsRequest()), timeout=60, metadata=METADATA):
                    pass
            elif kind == "client-stream":
                call((parse(m, types_pb2.Item()) for m in body), timeout=60, metadata=METADATA)
            else:
                for _ in call((parse(m, types_pb2.ChatMessage()) for m in body), timeout=60, metadata=METADATA):
                    pass
        channel.close()

    gevent.spawn(loop).get()


def bare_unary_event(address: str, window: Window) -> None:
    """The unary floor plus what Locust itself adds to every call: one request event into Locust's stats.

    Not in the budgets: it splits a GrpcUser's overhead into Locust's event + stats (this minus
    bare-unary), Locust's task loop (``loop``) and loadkit's own part (the rest).
    """
    import gevent
    import grpc
    from google.protobuf import json_format
    from locust.env import Environment

    from loadkit.gen.demo.v1 import demo_pb2, demo_pb2_grpc

    env = Environment()
    env.create_local_runner().greenlet.kill(block=True)  # Locust's stats listener, no CPU monitor
    fire = env.events.request.fire
    body = {"id": "1"}

    def loop() -> None:
        channel = grpc.insecure_channel(address)
        call = demo_pb2_grpc.DemoStub(channel).GetItem
        while window.tick():
            start = perf_counter()
            response = call(json_format.ParseDict(body, demo_pb2.GetItemRequest()), timeout=60, metadata=METADATA)
            fire(
                request_type="grpc",
                name="/demo.v1.Demo/GetItem",
                response_time=(perf_counter() - start) * 1000.0,
                response_length=response.ByteSize(),
                exception=None,
                context={"grpc_status": "OK", "messages_sent": 1, "messages_received": 1},
            )
        channel.close()

    gevent.spawn(loop).get()


def grpc_user(kind: str, address: str, window: Window, plugin: bool, trace: bool | str = False) -> None:
    """GrpcUser (generated stub), ``self.client.call(method, dict)`` in a task.

    ``trace``: with ``--trace-context`` (a traceparent per call, every one sampled; the ``+trace``
    variants: what trace context costs); False: loadkit's default (off).
    """
    from locust import constant, task
    from locust.exception import StopUser

    from loadkit import GrpcUser
    from loadkit.gen.demo.v1 import demo_pb2_grpc

    method, body = _grpc_requests(kind)
    streams_back = kind in ("server-stream", "bidi")

    class Bench(GrpcUser):
        host = f"grpc://{address}"
        stub_class = demo_pb2_grpc.DemoStub
        wait_time = constant(0)

        @task
        def call(self) -> None:
            if not window.tick():
                raise StopUser()
            result = self.client.call(method, body, metadata=METADATA)
            if streams_back:
                for _ in result:
                    pass

    run_user(Bench, plugin, trace)


def _demo_proto() -> tuple[str, str]:
    """The bundled demo .proto (compiled at runtime by the dict-path variants) and its service."""
    from pathlib import Path

    import loadkit

    return str(Path(loadkit.__file__).parent / "proto" / "demo" / "v1" / "demo.proto"), "demo.v1.Demo"


def bare_proto(address: str, window: Window) -> None:
    """The dict path's floor: the runtime-compiled method on a plain channel, ``ParseDict`` each call.

    The same message classes (the demo .proto compiled at runtime into a private pool) and
    the same request dict as ``proto-unary``; one multi-callable made once, as a hand-written
    loop would.
    """
    import gevent
    import grpc
    from google.protobuf import json_format

    from loadkit.users.grpc_proto import load_proto_service, resolve_proto

    proto, service = _demo_proto()
    spec = load_proto_service(resolve_proto(proto, None, None), service)["GetItem"]
    request_class = spec.request_class
    assert request_class is not None
    _method, body = _grpc_requests("unary")
    parse = json_format.ParseDict

    def loop() -> None:
        channel = grpc.insecure_channel(address)
        call = channel.unary_unary(
            spec.path, request_serializer=spec.request_serializer, response_deserializer=spec.response_deserializer
        )
        while window.tick():
            call(parse(body, request_class()), timeout=60, metadata=METADATA)
        channel.close()

    gevent.spawn(loop).get()


def proto_user(address: str, window: Window, plugin: bool) -> None:
    """GrpcUser from a .proto compiled at runtime, ``self.client.call("GetItem", dict)`` (the README's example)."""
    from locust import constant, task
    from locust.exception import StopUser

    from loadkit import GrpcUser

    proto_file, service_name = _demo_proto()
    method, body = _grpc_requests("unary")

    class Bench(GrpcUser):
        host = f"grpc://{address}"
        proto = proto_file
        service = service_name
        wait_time = constant(0)

        @task
        def call(self) -> None:
            if not window.tick():
                raise StopUser()
            self.client.call(method, body, metadata=METADATA)

    run_user(Bench, plugin)


# --- HTTP -----------------------------------------------------------------------------
PATH = f"/health?delay_ms={DELAY_MS}"


def http_user(flavour: str, url: str, window: Window, plugin: bool, trace: bool | str = False) -> None:
    """GET /health of the bundled HTTP target: FastHttpUser, RestUser or HttpUser (requests).

    ``trace`` as for :func:`grpc_user` (only RestUser sends trace context).
    """
    from locust import FastHttpUser, HttpUser, constant, task
    from locust.exception import StopUser

    from loadkit import RestUser

    class Fast(FastHttpUser):
        host = url
        wait_time = constant(0)

        @task
        def call(self) -> None:
            if not window.tick():
                raise StopUser()
            self.client.get(PATH)

    class Rest(RestUser):
        host = url
        wait_time = constant(0)

        @task
        def call(self) -> None:
            if not window.tick():
                raise StopUser()
            self.rest("GET", PATH)

    class Requests(HttpUser):
        host = url
        wait_time = constant(0)

        @task
        def call(self) -> None:
            if not window.tick():
                raise StopUser()
            self.client.get(PATH)

    run_user({"fasthttp": Fast, "rest": Rest, "httpuser": Requests}[flavour], plugin, trace)


def open_model(url: str, window: Window) -> None:
    """Open-model iterations (plugin on): FastHttpUser's GET as ONE task per iteration, from a pool of one.

    The rate (10^6/s) is far above what one user can do, so every iteration is due before the
    pool's user is free: the scheduler waits for it, hands it the next iteration, and the
    iteration starts late — its request is timed from the intended start and fires a second,
    ``-service`` entry (loadkit.load.node.correct_latency). Saturated, but the same code path every time;
    an on-time schedule would make the path depend on how fast valgrind runs.
    """
    import time

    from gevent.event import Event
    from locust import FastHttpUser, task
    from locust.env import Environment
    from locust.exception import StopUser

    import loadkit
    from loadkit.load.profile import RateProfile
    from loadkit.load.runtime import open_model_for
    from loadkit.load.schedule import Assignment

    done = Event()

    class Fast(FastHttpUser):
        host = url

        @task
        def call(self) -> None:
            if not window.tick():
                done.set()
                raise StopUser()
            self.client.get(PATH)

    env = Environment(user_classes=[Fast], host=url)
    runner = env.create_local_runner()
    runner.greenlet.kill(block=True)
    loadkit.attach(env)
    _stop_periodic(env)
    # The open model's own way to a node scheduler (it also wraps the request event's fire then).
    model = open_model_for(env)
    model.profile, model.run, model.epoch = RateProfile.constant(1e6), "bench", time.time()
    scheduler = model._scheduler(Assignment(0, 0, 1), 1, 3600.0)
    done.wait()
    scheduler.stop()


# --- the request event alone ----------------------------------------------------------
def loop_user(window: Window) -> None:
    """Locust's task loop alone (an empty task, ``constant(0)``): what every iteration of a user costs."""
    from locust import User, constant, task
    from locust.exception import StopUser

    class Loop(User):
        wait_time = constant(0)

        @task
        def call(self) -> None:
            if not window.tick():
                raise StopUser()

    run_user(Loop, False)


def events_user(window: Window, plugin: bool) -> None:
    """Locust's task loop and one request event per iteration, no I/O: the listeners' cost."""
    from locust import User, constant, task
    from locust.exception import StopUser

    class Events(User):
        wait_time = constant(0)

        @task
        def call(self) -> None:
            if not window.tick():
                raise StopUser()
            self.environment.events.request.fire(
                request_type="GET", name="/health", response_time=0.5, response_length=15, exception=None, context={}
            )

    run_user(Events, plugin)


# --- shared ---------------------------------------------------------------------------
def run_user(user_class: type, plugin: bool, trace: bool | str = False) -> None:
    """Run one user of ``user_class`` in a local runner's environment until its task stops it.

    ``trace=True`` runs it with ``--trace-context``, ``"otel"`` with ``--otel`` (:mod:`bench._variants_otel`);
    otherwise loadkit's defaults apply: both off.
    """
    from locust.env import Environment

    from loadkit import config

    options = _variants_otel.options() if trace == "otel" else (config.defaults(trace_context=True) if trace else None)
    env = Environment(user_classes=[user_class], host=getattr(user_class, "host", None), parsed_options=options)
    runner = env.create_local_runner()  # subscribes Locust's stats to the request event, as in any run
    runner.greenlet.kill(block=True)  # its CPU monitor: per second, not per call
    if plugin:
        import loadkit

        loadkit.attach(env)
        _stop_periodic(env)
    elif trace == "otel":
        _variants_otel.install(env)
    user = user_class(env)
    user.start(runner.user_greenlets).get()


def _stop_periodic(env: Any) -> None:
    """End loadkit's health sampling and loop-lag probe (per-second work; see the module docstring)."""
    from loadkit.fleet.health import HEALTH_STATE
    from loadkit.run.context import run_context

    health = run_context(env)[HEALTH_STATE]
    assert health is not None
    health.stop()


VARIANTS: dict[str, tuple[str, Callable[[dict[str, str], Window], None]]] = {}
"""name -> (target kind it needs, runner(addresses, window)); filled below."""

for _kind in GRPC_KINDS:
    VARIANTS[f"bare-{_kind}"] = ("grpc", lambda a, w, k=_kind: bare_grpc(k, a["grpc"], w))
    VARIANTS[f"grpc-{_kind}"] = ("grpc", lambda a, w, k=_kind: grpc_user(k, a["grpc"], w, False))
    VARIANTS[f"grpc-{_kind}+plugin"] = ("grpc", lambda a, w, k=_kind: grpc_user(k, a["grpc"], w, True))
for _flavour in ("fasthttp", "rest", "httpuser"):
    VARIANTS[_flavour] = ("http", lambda a, w, f=_flavour: http_user(f, a["http"], w, False))
VARIANTS["bare-proto-unary"] = ("grpc", lambda a, w: bare_proto(a["grpc"], w))
VARIANTS["proto-unary"] = ("grpc", lambda a, w: proto_user(a["grpc"], w, False))
VARIANTS["proto-unary+plugin"] = ("grpc", lambda a, w: proto_user(a["grpc"], w, True))
# Trace context on (--trace-context; the variants above run loadkit's default, off): what it costs.
VARIANTS["grpc-unary+trace"] = ("grpc", lambda a, w: grpc_user("unary", a["grpc"], w, False, trace=True))
VARIANTS["grpc-unary+plugin+trace"] = ("grpc", lambda a, w: grpc_user("unary", a["grpc"], w, True, trace=True))
VARIANTS["grpc-bidi+trace"] = ("grpc", lambda a, w: grpc_user("bidi", a["grpc"], w, False, trace=True))
VARIANTS["rest+trace"] = ("http", lambda a, w: http_user("rest", a["http"], w, False, trace=True))
VARIANTS["fasthttp+plugin"] = ("http", lambda a, w: http_user("fasthttp", a["http"], w, True))
VARIANTS["open-fasthttp+plugin"] = ("http", lambda a, w: open_model(a["http"], w))
VARIANTS["bare-unary+event"] = ("grpc", lambda a, w: bare_unary_event(a["grpc"], w))  # not in ORDER
VARIANTS["loop"] = ("", lambda a, w: loop_user(w))
VARIANTS["events"] = ("", lambda a, w: events_user(w, False))
VARIANTS["events+plugin"] = ("", lambda a, w: events_user(w, True))
_variants_h2ws.register(VARIANTS, run_user)
_variants_otel.register(VARIANTS, grpc_user, http_user)
