"""gRPC from a .proto compiled at runtime: point at the file, no code generation step.

    locust -f locustfiles/grpc_runtime_proto.py --headless -u 10 -r 10 -t 10s

``proto`` may be absolute or relative to the working directory (or to this file);
``import "demo/v1/types.proto"`` resolves from the root matching the file's package
(here ``proto/``), or from ``proto_include`` when set.
"""

from __future__ import annotations

import os

from locust import between, task

from loadkit import GrpcUser


class RuntimeProtoUser(GrpcUser):
    host = os.environ.get("DEMO_GRPC_HOST", "grpc://127.0.0.1:50051")
    proto = "../proto/demo/v1/demo.proto"  # relative to this file when not found from the working directory
    service = "demo.v1.Demo"
    wait_time = between(0.01, 0.05)

    @task(3)
    def get_item(self) -> None:
        self.client.call("GetItem", {"id": "3"})

    @task(1)
    def put_items(self) -> None:
        self.client.call("PutItems", [{"id": "a"}, {"id": "b"}])
