"""The e2e runs' users: Http2User and WebSocketUser, two of each, on the master's --host.

WS_PATH and WS_TIMEOUT choose the WebSocket route's faults and the reply timeout.
"""

import os

from locust import constant, task

from loadkit import Http2User, WebSocketUser


class H2(Http2User):
    fixed_count = 2
    wait_time = constant(0.02)

    @task
    def health(self) -> None:
        self.rest("GET", "/health")


class Ws(WebSocketUser):
    fixed_count = 2
    path = os.environ.get("WS_PATH", "/ws/echo")
    timeout = float(os.environ.get("WS_TIMEOUT", "5"))
    wait_time = constant(0.02)

    @task
    def echo(self) -> None:
        self.ws.request("hi")
