"""gRPC through server reflection: no generated code, requests as dicts (as grpcurl/ghz do).

(Not named grpc_reflection.py: locust puts this folder on sys.path, where that name
would shadow the grpcio-reflection package.)

locust -f locustfiles/grpc_via_reflection.py --headless -u 10 -r 10 -t 10s --host grpc://127.0.0.1:50051
"""

from __future__ import annotations

import os

from locust import between, task

from loadkit import GrpcUser


class ReflectionUser(GrpcUser):
    host = os.environ.get("DEMO_GRPC_HOST", "grpc://127.0.0.1:50051")
    service = "demo.v1.Demo"  # no stub_class, no proto: the server describes itself
    wait_time = between(0.01, 0.05)

    @task(3)
    def get_item(self) -> None:
        self.client.call("GetItem", {"id": "7", "payload_size": 16})

    @task(1)
    def list_items(self) -> None:
        for _item in self.client.call("ListItems", {"count": 5}):
            pass
