"""A fixed request rate per user with ``constant_throughput``: 20 users x 5 calls/s = 100 calls/s.

locust -f locustfiles/constant_throughput.py --headless -u 20 -r 20 -t 10s
"""

from __future__ import annotations

import os

from locust import constant_throughput, task

from loadkit import GrpcUser
from loadkit.gen.demo.v1 import demo_pb2, demo_pb2_grpc


class SteadyUser(GrpcUser):
    host = os.environ.get("DEMO_GRPC_HOST", "grpc://127.0.0.1:50051")
    stub_class = demo_pb2_grpc.DemoStub
    wait_time = constant_throughput(5)  # at most 5 task runs per second per user

    @task
    def get_item(self) -> None:
        self.stub.GetItem(demo_pb2.GetItemRequest(id="1"), metadata=[("x-delay-ms", "2")])
