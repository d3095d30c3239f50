"""Streaming: server, client and bidi streams, including early stops and time to first message.

    locust -f locustfiles/grpc_streaming.py --headless -u 50 -r 50 -t 10s

Each call is one "grpc" entry, timed over the whole stream; server and bidi streams
also get a "grpc-ttfm" entry (time to first message), usable in thresholds:
``--threshold "grpc-ttfm /demo.v1.Demo/ListItems: p95<50ms"``.
"""

from __future__ import annotations

import os

from locust import between, task

from loadkit import GrpcUser
from loadkit.gen.demo.v1 import demo_pb2, demo_pb2_grpc, types_pb2


class StreamingUser(GrpcUser):
    host = os.environ.get("DEMO_GRPC_HOST", "grpc://127.0.0.1:50051")
    stub_class = demo_pb2_grpc.DemoStub
    wait_time = between(0.01, 0.05)

    @task(2)
    def server_stream(self) -> None:
        for _item in self.stub.ListItems(demo_pb2.ListItemsRequest(count=20, payload_size=64)):
            pass

    @task(1)
    def server_stream_first_three(self) -> None:
        # Stopping early cancels the call: recorded as a user cancel, not a failure.
        with self.stub.ListItems(demo_pb2.ListItemsRequest(count=1000), name="ListItems (first 3)") as items:
            for n, _item in enumerate(items):
                if n == 2:
                    break

    @task(2)
    def client_stream(self) -> None:
        self.stub.PutItems(types_pb2.Item(id=str(i), payload=b"x" * 32) for i in range(20))

    @task(2)
    def bidi(self) -> None:
        for _reply in self.stub.Chat(types_pb2.ChatMessage(text=str(i)) for i in range(10)):
            pass
