"""The fleet's locustfile: what docker-compose.yml's master and workers run.

Two user classes, one per bundled target, addressed by name so the same file works in
compose (service names) and on one machine (the defaults)::

    DEMO_HTTP_HOST=http://target-http:8080 DEMO_GRPC_HOST=grpc://target-grpc:50051

``Signup`` writes each row of the fleet's test data (``--loadkit-data data/users.csv``,
leased from the master, unique across every worker) to the HTTP target once; ``Browse``
reads over gRPC, with a server stream now and then so time to first message is measured.
On one machine::

    loadkit target http & loadkit target grpc &
    locust -f locustfiles/fleet.py --loadkit-data data/users.csv --headless -u 20 -t 30s
"""

from __future__ import annotations

import os

from locust import constant_pacing, task

import loadkit
from loadkit import GrpcUser, RestUser
from loadkit.gen.demo.v1 import demo_pb2, demo_pb2_grpc


class Signup(RestUser):
    """One POST per data row: the target's ``GET /items`` ``creates`` then shows each row once."""

    # Weights 1:2, not equal: Locust deals users to workers in class order, so with equal weights
    # and an even number of workers each worker would run one class only (2 workers, 8 users:
    # one gets 4 Signup, the other 4 Browse) and half the fleet would never use the data.
    weight = 1
    host = os.environ.get("DEMO_HTTP_HOST", "http://127.0.0.1:8080")
    wait_time = constant_pacing(0.1)

    @task
    def sign_up(self) -> None:
        row = loadkit.data.next()
        self.rest("POST", "/items", json={**row, "id": f"user-{row['id']}"}, expect=201, name="/items")


class Browse(GrpcUser):
    weight = 2
    host = os.environ.get("DEMO_GRPC_HOST", "grpc://127.0.0.1:50051")
    stub_class = demo_pb2_grpc.DemoStub
    wait_time = constant_pacing(0.1)

    @task(4)
    def get_item(self) -> None:
        self.stub.GetItem(demo_pb2.GetItemRequest(id="1"))

    @task(1)
    def list_items(self) -> None:
        for _ in self.stub.ListItems(demo_pb2.ListItemsRequest(count=5)):
            pass
