"""The stall scenario's user: GET /health. Closed model: 20 users x 5/s = 100 req/s intended.

Open model (--arrival-rate 100 --max-users 20): the same task, one per iteration; the
wait_time does not apply.
"""

from locust import HttpUser, constant_throughput, task

import loadkit  # noqa: F401  (inside a Locust process this loads loadkit's plugin: options, listeners)


class Api(HttpUser):
    wait_time = constant_throughput(5)

    @task
    def health(self) -> None:
        self.client.get("/health")
