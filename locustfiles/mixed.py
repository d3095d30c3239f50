"""Mixed HTTP + gRPC load in one run: weighted user classes and tagged tasks.

    locust -f locustfiles/mixed.py --headless -u 30 -r 30 -t 10s
    locust -f locustfiles/mixed.py --headless -u 30 -r 30 -t 10s --tags read   # reads only

Each class has its own host ($DEMO_GRPC_HOST / $DEMO_HTTP_HOST), so do not pass --host.
"""

from __future__ import annotations

import os

from locust import between, tag, task

from loadkit import GrpcUser, RestUser, measure
from loadkit.gen.demo.v1 import demo_pb2, demo_pb2_grpc


class GrpcReader(GrpcUser):
    weight = 3
    host = os.environ.get("DEMO_GRPC_HOST", "grpc://127.0.0.1:50051")
    stub_class = demo_pb2_grpc.DemoStub
    wait_time = between(0.01, 0.05)

    @tag("read")
    @task
    def get_item(self) -> None:
        self.stub.GetItem(demo_pb2.GetItemRequest(id="1"))


class HttpWriter(RestUser):
    weight = 1
    host = os.environ.get("DEMO_HTTP_HOST", "http://127.0.0.1:8080")
    wait_time = between(0.01, 0.05)

    @tag("read")
    @task(2)
    def list_items(self) -> None:
        self.rest("GET", "/items")

    @tag("write")
    @task(1)
    def create(self) -> None:
        self.rest("POST", "/items", json={"name": "mixed"}, expect=201)

    @tag("write")
    @task(1)
    def local_work(self) -> None:
        # measure() times code loadkit does not wrap, as one request entry.
        with measure(self, "local", "build payload") as m:
            m.response_length = len(str(list(range(1000))))
