"""Locustfile of the fault tests: steady calls to one bundled target, every outcome logged.

Pick the class on the command line (``locust -f steady.py GrpcSteady``). Each finished call
is appended to ``$FAULT_LOG`` as a JSON line (wall time, ok, error, response time), so a test
can tell what happened before, while and after it broke the target. ``$FAULT_DELAY_MS`` asks
the target to answer that late; ``$FAULT_HTTP_TIMEOUT`` is the HTTP client's timeout (s).
"""

from __future__ import annotations

import json
import os
import time
from typing import Any

from locust import constant_pacing, events, task

from loadkit import GrpcUser, RestUser
from loadkit.gen.demo.v1 import demo_pb2, demo_pb2_grpc

DELAY_MS = os.environ.get("FAULT_DELAY_MS", "0")
_log = open(os.environ["FAULT_LOG"], "a", buffering=1)  # noqa: SIM115  # one line per call, kept open


@events.request.add_listener
def _log_call(request_type: str, name: str, response_time: float, exception: Any, **_kw: Any) -> None:
    entry = {"t": time.time(), "type": request_type, "ok": exception is None, "ms": response_time}
    entry["error"] = None if exception is None else f"{type(exception).__name__}: {exception}"
    _log.write(json.dumps(entry) + "\n")


class GrpcSteady(GrpcUser):
    stub_class = demo_pb2_grpc.DemoStub
    wait_time = constant_pacing(0.05)

    @task
    def get_item(self) -> None:
        self.stub.GetItem(demo_pb2.GetItemRequest(id="1"), metadata=[("x-delay-ms", DELAY_MS)])


class HttpSteady(RestUser):
    wait_time = constant_pacing(0.05)
    network_timeout = float(os.environ.get("FAULT_HTTP_TIMEOUT", "60"))
    connection_timeout = network_timeout

    @task
    def list_items(self) -> None:
        self.rest("GET", "/items", query={"delay_ms": DELAY_MS}, name="/items")
