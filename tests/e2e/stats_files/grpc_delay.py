"""Locustfile: loadkit's GrpcUser against the bundled gRPC target with 5 ms injected on GetItem.

Like http_delay.py, each process appends every GetItem response time it measured to a
file in ``$LK_SAMPLES_DIR`` so the test can compare exact and merged HDR percentiles.
"""

from __future__ import annotations

import os
from typing import Any

from locust import constant, events, task

from loadkit import GrpcUser
from loadkit.gen.demo.v1 import demo_pb2, demo_pb2_grpc

DELAY_MS = 5
GET_ITEM = "/demo.v1.Demo/GetItem"


class DelayedGrpcUser(GrpcUser):
    stub_class = demo_pb2_grpc.DemoStub
    wait_time = constant(0.01)

    @task(3)
    def get_item(self) -> None:
        self.stub.GetItem(demo_pb2.GetItemRequest(id="1"), metadata=[("x-delay-ms", str(DELAY_MS))])

    @task(1)
    def list_items(self) -> None:
        for _item in self.stub.ListItems(demo_pb2.ListItemsRequest(count=3)):
            pass


_samples: list[str] = []


@events.request.add_listener
def _keep(request_type: str, name: str, response_time: float, **_kw: Any) -> None:
    if request_type == "grpc" and name == GET_ITEM:
        _samples.append(repr(response_time))


@events.quitting.add_listener
def _dump(**_kw: Any) -> None:
    folder = os.environ.get("LK_SAMPLES_DIR")
    if folder and _samples:
        with open(os.path.join(folder, f"grpc-samples-{os.getpid()}.txt"), "w") as fh:
            fh.write("\n".join(_samples))
