"""One RestUser; the host comes from --host (bad-input table)."""

from locust import constant, task

from loadkit import RestUser


class Api(RestUser):
    wait_time = constant(0.5)

    @task
    def health(self) -> None:
        self.rest("GET", "/health")
