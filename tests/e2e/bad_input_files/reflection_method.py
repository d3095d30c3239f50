"""A GrpcUser calling a method its (reflected) service does not have (bad-input table)."""

from locust import constant, task

from loadkit import GrpcUser


class Typo(GrpcUser):
    wait_time = constant(0.5)
    service = "demo.v1.Demo"

    @task
    def get(self) -> None:
        self.client.call("GetIten", {"id": "1"})
