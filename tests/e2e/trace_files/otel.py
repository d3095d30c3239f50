"""Locustfile for the --otel e2e test: one iteration = every kind of call, the last one failing.

gRPC from ``LK_GRPC``: the four RPC kinds (stubs and ``client.call``), then a GetItem the target
fails with NOT_FOUND (``x-status``), which ends the task. REST from ``LK_HTTP``: POST then GET of an
item, a ``measure()`` block, then a GET of an item that does not exist (404, expected 200).
"""

from __future__ import annotations

import os

from locust import constant, task

from loadkit import GrpcUser, RestUser, measure
from loadkit.gen.demo.v1 import demo_pb2, demo_pb2_grpc, types_pb2


class Grpc(GrpcUser):
    host = os.environ.get("LK_GRPC", "grpc://127.0.0.1:50051")
    stub_class = demo_pb2_grpc.DemoStub
    wait_time = constant(0.05)

    @task
    def grpc_calls(self) -> None:
        self.stub.GetItem(demo_pb2.GetItemRequest(id="1"))
        for _ in self.stub.ListItems(demo_pb2.ListItemsRequest(count=2)):
            pass
        self.stub.PutItems(types_pb2.Item(id=str(i)) for i in range(2))
        for _ in self.client.call("Chat", [{"text": "a"}]):
            pass
        self.stub.GetItem(demo_pb2.GetItemRequest(id="1"), metadata=[("x-status", "NOT_FOUND")])


class Rest(RestUser):
    host = os.environ.get("LK_HTTP", "http://127.0.0.1:8080")
    wait_time = constant(0.05)

    @task
    def rest_calls(self) -> None:
        item = self.rest("POST", "/items", json={"name": "otel"}, expect=201).data
        self.rest("GET", "/items/{item_id}", item_id=item["id"])
        with measure(self, "compute", "sum") as m:
            m.response_length = sum(range(100))
        self.rest("GET", "/items/{item_id}", item_id="missing")
