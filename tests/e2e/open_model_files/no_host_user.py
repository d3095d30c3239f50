"""A user class whose own host is wrong: it must take the master's --host, as in a closed-model run."""

from locust import HttpUser, task

import loadkit  # noqa: F401  (inside a Locust process this loads loadkit's plugin: options, listeners)


class NoHost(HttpUser):
    host = "http://127.0.0.1:9"  # nothing listens (discard port): the master's -H must win

    @task
    def health(self) -> None:
        self.client.get("/health")
