"""GrpcUser vs a bare gevent loop on the same stub vs Locust's example GrpcUser pattern.

    .venv/bin/python -m bench.grpc_user [--users 20] [--seconds 5] [--rounds 3]

Starts ``loadkit target grpc`` itself; every variant runs in its own process with the
same users for the same time. Goals (issue 4): unary GrpcUser ≥ 0.85x the bare loop and
≥ 1.0x the example pattern (its interceptor, written inline below, not imported from
Locust's examples). Also a server-streaming comparison (ListItems, 10 messages).
CPU µs per call is the steadier figure when the target is the bottleneck.
loadkit's plugin (HDR stats) is not attached: this measures the user classes only.
"""

from __future__ import annotations

import os
import time
from typing import Any

from bench._user_bench import NOISE, child_report, run_locust_users, spread
from bench._user_bench import main as bench_main

GROUPS = [
    ("unary GetItem", ["bare", "loadkit", "example"]),
    ("server stream ListItems x10", ["bare-stream", "loadkit-stream"]),
]


def bare(address: str, users: int, seconds: float, stream: bool) -> None:
    """The floor: greenlets calling the generated stub in a loop, one channel each, no events."""
    from loadkit._locust.gevent import init_gevent

    init_gevent()
    import gevent
    import grpc

    from loadkit.gen.demo.v1 import demo_pb2, demo_pb2_grpc

    calls = [0]
    stop = [False]

    def loop() -> None:
        stub = demo_pb2_grpc.DemoStub(grpc.insecure_channel(address))
        get, lst = demo_pb2.GetItemRequest(id="1"), demo_pb2.ListItemsRequest(count=10)
        while not stop[0]:
            if stream:
                for _ in stub.ListItems(lst, timeout=60):
                    pass
            else:
                stub.GetItem(get, timeout=60)
            calls[0] += 1

    greenlets = [gevent.spawn(loop) for _ in range(users)]
    gevent.sleep(1.0)
    start_calls, start, start_cpu = calls[0], time.perf_counter(), os.times()
    gevent.sleep(seconds)
    done, wall, end_cpu = calls[0] - start_calls, time.perf_counter() - start, os.times()
    stop[0] = True
    gevent.killall(greenlets)
    child_report(done, wall, (end_cpu.user + end_cpu.system) - (start_cpu.user + start_cpu.system))


def loadkit_user(address: str, users: int, seconds: float, stream: bool) -> None:
    from locust import constant, task

    from loadkit import GrpcUser
    from loadkit.gen.demo.v1 import demo_pb2, demo_pb2_grpc

    get, lst = demo_pb2.GetItemRequest(id="1"), demo_pb2.ListItemsRequest(count=10)
    calls = [0]

    class Bench(GrpcUser):
        host = f"grpc://{address}"
        stub_class = demo_pb2_grpc.DemoStub
        wait_time = constant(0)

        @task
        def call(self) -> None:
            if stream:
                for _ in self.stub.ListItems(lst):
                    pass
            else:
                self.stub.GetItem(get)
            calls[0] += 1

    run_locust_users(Bench, users, seconds, lambda: calls[0])


def example_user(address: str, users: int, seconds: float) -> None:
    """Locust's examples/grpc/grpc_user.py pattern: a unary interceptor firing the request event."""
    from loadkit._locust.gevent import init_gevent

    init_gevent()
    import grpc
    from locust import User, constant, task

    from loadkit.gen.demo.v1 import demo_pb2, demo_pb2_grpc

    class LocustInterceptor(grpc.UnaryUnaryClientInterceptor):
        def __init__(self, environment: Any) -> None:
            self.env = environment

        def intercept_unary_unary(self, continuation: Any, client_call_details: Any, request: Any) -> Any:
            response = None
            exception = None
            start_perf_counter = time.perf_counter()
            response_length = 0
            try:
                response = continuation(client_call_details, request)
                response_length = response.result().ByteSize()
            except grpc.RpcError as e:
                exception = e
            self.env.events.request.fire(
                request_type="grpc",
                name=client_call_details.method,
                response_time=(time.perf_counter() - start_perf_counter) * 1000,
                response_length=response_length,
                response=response,
                context=None,
                exception=exception,
            )
            return response

    get = demo_pb2.GetItemRequest(id="1")
    calls = [0]

    class ExampleGrpcUser(User):
        abstract = True
        stub_class: Any = None

        def __init__(self, environment: Any) -> None:
            super().__init__(environment)
            channel = grpc.insecure_channel(self.host or "")
            self.stub = self.stub_class(grpc.intercept_channel(channel, LocustInterceptor(environment)))

    class Bench(ExampleGrpcUser):
        host = address
        stub_class = demo_pb2_grpc.DemoStub
        wait_time = constant(0)

        @task
        def call(self) -> None:
            self.stub.GetItem(get)
            calls[0] += 1

    run_locust_users(Bench, users, seconds, lambda: calls[0])


def wrapper_overhead(calls: int = 40_000, rounds: int = 5) -> None:
    """CPU µs per call our unary wrapper adds to a no-I/O multi-callable (median of rounds, min-max).

    Measured without Locust's stats listener (events fired to nobody) and with it (a local
    runner's ``request`` listener), against calling the same fake directly. bench/instructions.py
    gives the noise-free figure (instructions per call).
    """
    from loadkit._locust.gevent import init_gevent

    init_gevent()
    from locust.env import Environment

    from loadkit.gen.demo.v1 import types_pb2
    from loadkit.users.grpc_calls import UnaryUnary

    item = types_pb2.Item(id="1", payload=b"x" * 64)

    def fake(request: Any, timeout: Any, metadata: Any) -> Any:
        return item

    env = Environment()
    bare_fire = env.events.request.fire
    wrapped = UnaryUnary(fake, "/demo.v1.Demo/GetItem", bare_fire, 60.0, None)
    stats_env = Environment()
    stats_env.create_local_runner()  # subscribes Locust's stats to the request event
    with_stats = UnaryUnary(fake, "/demo.v1.Demo/GetItem", stats_env.events.request.fire, 60.0, None)

    def per_call(fn: Any) -> float:
        start = time.process_time()
        for _ in range(calls):
            fn(item)
        return (time.process_time() - start) / calls * 1e6

    rows: dict[str, list[float]] = {"direct": [], "wrapper": [], "stats": []}
    for _ in range(rounds):  # interleaved, so the three share the machine's state
        direct = per_call(lambda r: fake(r, 60.0, None))
        rows["direct"].append(direct)
        rows["wrapper"].append(per_call(wrapped) - direct)
        rows["stats"].append(per_call(with_stats) - direct)
    stats_env.runner.quit()  # type: ignore[union-attr]
    print(
        f"\n== unary wrapper overhead (no I/O, {rounds} rounds of {calls} calls): direct "
        f"{spread(rows['direct'], '.2f')} µs, wrapper +{spread(rows['wrapper'], '.2f')} µs, "
        f"wrapper + Locust stats +{spread(rows['stats'], '.2f')} µs\n{NOISE}"
    )


def child(variant: str, address: str, users: int, seconds: float) -> None:
    if variant.startswith("bare"):
        bare(address, users, seconds, variant.endswith("stream"))
    elif variant.startswith("loadkit"):
        loadkit_user(address, users, seconds, variant.endswith("stream"))
    else:
        example_user(address, users, seconds)


if __name__ == "__main__":
    bench_main("bench.grpc_user", "grpc", GROUPS, child, pairs=[("loadkit", "example")], before=wrapper_overhead)
