"""The honest run of the fleet-security table: one RestUser taking a test-data row per call."""

from locust import constant, task

import loadkit
from loadkit import RestUser


class Api(RestUser):
    wait_time = constant(0.2)

    @task
    def health(self) -> None:
        loadkit.data.next()  # rows carry a marker the wire capture looks for
        self.rest("GET", "/health")
