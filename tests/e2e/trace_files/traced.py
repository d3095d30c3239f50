"""Locustfile for the trace e2e test: gRPC (all four kinds) and REST calls with mixed server delays.

Targets from ``LK_GRPC`` (``grpc://HOST:PORT``) and ``LK_HTTP`` (``http://HOST:PORT``); each call
asks its target for a delay of 0, 5, 30 or 120 ms, so each entry has several latency bands.
With ``LK_TRACE_LOG`` set, every request's trace id and response time (as the request event
had them) go to ``LK_TRACE_LOG.PID``, one ``type trace_id ms`` line each (a stream's ``grpc-ttfm``
entry shares its call's trace id).
"""

from __future__ import annotations

import os
import random

from locust import constant, events, task

from loadkit import GrpcUser, RestUser
from loadkit.gen.demo.v1 import demo_pb2, demo_pb2_grpc, types_pb2

DELAYS = ("0", "5", "30", "120")


class Grpc(GrpcUser):
    host = os.environ.get("LK_GRPC", "grpc://127.0.0.1:50051")
    stub_class = demo_pb2_grpc.DemoStub
    wait_time = constant(0.01)

    def _delay(self) -> list[tuple[str, str]]:
        return [("x-delay-ms", random.choice(DELAYS))]

    @task(3)
    def unary(self) -> None:
        self.stub.GetItem(demo_pb2.GetItemRequest(id="1"), metadata=self._delay())

    @task
    def server_stream(self) -> None:
        for _ in self.stub.ListItems(demo_pb2.ListItemsRequest(count=2), metadata=self._delay()):
            pass

    @task
    def client_stream(self) -> None:
        self.stub.PutItems((types_pb2.Item(id=str(i)) for i in range(2)), metadata=self._delay())

    @task
    def bidi(self) -> None:
        for _ in self.client.call("Chat", [{"text": "a"}], metadata=self._delay()):
            pass


class Rest(RestUser):
    host = os.environ.get("LK_HTTP", "http://127.0.0.1:8080")
    wait_time = constant(0.01)

    @task
    def health(self) -> None:
        self.rest("GET", "/health", query={"delay_ms": random.choice(DELAYS)})


@events.init.add_listener
def _log_requests(environment, **_kw):  # type: ignore[no-untyped-def]
    path = os.environ.get("LK_TRACE_LOG")
    if not path:
        return
    log = open(f"{path}.{os.getpid()}", "a", buffering=1)  # noqa: SIM115  (open for the process's life)

    def on_request(request_type, response_time, context=None, **_kw):  # type: ignore[no-untyped-def]
        trace_id = (context or {}).get("trace_id")
        if trace_id:
            log.write(f"{request_type} {trace_id} {response_time!r}\n")

    environment.events.request.add_listener(on_request)
