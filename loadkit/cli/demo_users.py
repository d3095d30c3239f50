"""The users ``loadkit demo`` runs: every gRPC call kind and a REST CRUD flow.

A module file of the package (not ``__main__``), so the demo's worker processes can load
it as a locustfile. Targets come from ``LOADKIT_DEMO_GRPC_HOST`` / ``LOADKIT_DEMO_HTTP_HOST``,
which ``loadkit demo`` sets to the targets it started.
"""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator

from locust import between, task

from loadkit import GrpcUser, RestUser
from loadkit.gen.demo.v1 import demo_pb2, demo_pb2_grpc, types_pb2


class DemoGrpcUser(GrpcUser):
    """Unary, server-, client- and bidi-streaming calls, mostly reads."""

    weight = 2
    host = os.environ.get("LOADKIT_DEMO_GRPC_HOST", "grpc://127.0.0.1:50051")
    stub_class = demo_pb2_grpc.DemoStub
    wait_time = between(0.02, 0.06)  # paced: the demo shares 2 cores with its targets

    @task(6)
    def get_item(self) -> None:
        self.stub.GetItem(demo_pb2.GetItemRequest(id="1", payload_size=64))

    @task(2)
    def list_items(self) -> None:
        for _item in self.stub.ListItems(demo_pb2.ListItemsRequest(count=10, payload_size=64)):
            pass

    @task(1)
    def put_items(self) -> None:
        items = (types_pb2.Item(id=str(i), name="demo") for i in range(5))
        self.stub.PutItems(items)

    @task(1)
    def chat(self) -> None:
        def messages() -> Iterator[types_pb2.ChatMessage]:
            for seq in range(5):
                yield types_pb2.ChatMessage(seq=seq, text="hello")

        for _reply in self.stub.Chat(messages()):
            pass


class DemoRestUser(RestUser):
    """Log in, then read who it is and create, read and delete items."""

    weight = 1
    host = os.environ.get("LOADKIT_DEMO_HTTP_HOST", "http://127.0.0.1:8080")
    wait_time = between(0.02, 0.06)  # paced: the demo shares 2 cores with its targets

    def on_start(self) -> None:
        token = self.rest("POST", "/login", json={"username": "demo", "password": "demo"}).data["token"]
        self.headers["Authorization"] = f"Bearer {token}"

    @task(3)
    def me(self) -> None:
        self.rest("GET", "/me")

    @task(1)
    def crud(self) -> None:
        item_id = uuid.uuid4().hex
        self.rest("POST", "/items", json={"id": item_id, "name": "demo"}, expect=201)
        self.rest("GET", "/items/{item_id}", item_id=item_id)
        self.rest("DELETE", "/items/{item_id}", item_id=item_id, expect=204)
