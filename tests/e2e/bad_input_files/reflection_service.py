"""A GrpcUser naming a service the server's reflection does not know (bad-input table)."""

from locust import constant, task

from loadkit import GrpcUser


class Missing(GrpcUser):
    wait_time = constant(0.5)
    service = "demo.v1.Nope"

    @task
    def get(self) -> None:
        self.client.call("GetItem", {"id": "1"})
