"""A GrpcUser whose runtime .proto does not compile (bad-input table)."""

from locust import constant, task

from loadkit import GrpcUser


class Broken(GrpcUser):
    wait_time = constant(0.5)
    proto = "protos/broken.proto"  # relative to this file
    service = "broken.v1.Broken"

    @task
    def get(self) -> None:
        self.client.call("Get", {})
