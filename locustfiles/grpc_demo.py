"""gRPC with generated stubs: all four RPC kinds of the bundled demo service.

Start the target and run::

    loadkit target grpc &
    locust -f locustfiles/grpc_demo.py --headless -u 50 -r 50 -t 10s

``--host grpc://HOST:PORT`` (or $DEMO_GRPC_HOST) points it elsewhere.
"""

from __future__ import annotations

import os

from locust import between, task

from loadkit import GrpcUser
from loadkit.gen.demo.v1 import demo_pb2, demo_pb2_grpc, types_pb2


class DemoUser(GrpcUser):
    host = os.environ.get("DEMO_GRPC_HOST", "grpc://127.0.0.1:50051")
    stub_class = demo_pb2_grpc.DemoStub
    wait_time = between(0.01, 0.05)

    @task(4)
    def get_item(self) -> None:
        self.stub.GetItem(demo_pb2.GetItemRequest(id="42", payload_size=64))

    @task(2)
    def list_items(self) -> None:
        for _item in self.stub.ListItems(demo_pb2.ListItemsRequest(count=10, payload_size=32)):
            pass

    @task(1)
    def put_items(self) -> None:
        self.stub.PutItems(types_pb2.Item(id=str(i)) for i in range(5))

    @task(1)
    def chat(self) -> None:
        replies = self.stub.Chat(types_pb2.ChatMessage(text=f"hello {i}") for i in range(3))
        for _reply in replies:
            pass
