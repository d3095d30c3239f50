"""A newcomer's locustfile: plain HttpUser, ``import loadkit`` and loadkit.data.next() (bad-input table)."""

from locust import HttpUser, constant, task

import loadkit


class Buyer(HttpUser):
    wait_time = constant(0.1)

    @task
    def buy(self) -> None:
        row = loadkit.data.next()
        self.client.post("/items", json=row)
