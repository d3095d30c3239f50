"""OpenMetrics exemplars on the latency histogram: a real local runner, its metrics server, a real scrape."""

from __future__ import annotations

import random
import time
import urllib.request
from collections.abc import Iterator

import gevent
import pytest
from locust import User, constant, task
from locust.env import Environment
from prometheus_client.openmetrics.parser import text_string_to_metric_families

from loadkit.stats.controller import controller_for
from loadkit.stats.exemplar_part import recorder_for
from loadkit.stats.prometheus import MetricsServer
from tests.support.web_env import web_environment

LATENCIES_MS = (0.5, 3.0, 20.0, 150.0)


class Traced(User):
    wait_time = constant(0.002)

    @task
    def fire(self) -> None:
        self.environment.events.request.fire(
            request_type="GET",
            name="/traced",
            response_time=random.choice(LATENCIES_MS) * random.uniform(1.0, 1.2),
            response_length=0,
            exception=None,
            context={"trace_id": f"{random.getrandbits(128):032x}"},
        )


@pytest.fixture
def env(monkeypatch: pytest.MonkeyPatch) -> Iterator[Environment]:
    yield from web_environment(monkeypatch, [Traced], ["--trace-context"])


def test_buckets_carry_the_slowest_trace_id_of_their_range(env: Environment) -> None:
    server = MetricsServer(env, "127.0.0.1", 0)
    try:
        assert env.runner is not None
        env.runner.start(2, spawn_rate=100)
        deadline = time.monotonic() + 20
        while env.runner.stats.total.num_requests < 400 and time.monotonic() < deadline:
            gevent.sleep(0.05)
        env.runner.stop()
        request = urllib.request.Request(server.url, headers={"Accept": "application/openmetrics-text; version=1.0.0"})
        text = urllib.request.urlopen(request, timeout=5).read().decode()
    finally:
        server.stop()
    [family] = [f for f in text_string_to_metric_families(text) if f.name == "loadkit_request_latency_seconds"]
    buckets = [s for s in family.samples if s.name.endswith("_bucket")]
    exemplars = {s.labels["le"]: s.exemplar for s in buckets if s.exemplar is not None}
    report = controller_for(env).summary()
    [entry] = [e for e in report["entries"] if e["name"] == "/traced"]
    assert buckets[-1].labels["le"] == "+Inf" and buckets[-1].value == entry["hdr_count"] >= 400
    # each of the four latency classes lands in its own bucket, with an exemplar
    assert len(exemplars) == 4, exemplars
    slowest = recorder_for(env).report()["GET /traced"]["slowest"][0]
    assert exemplars["0.262144"].labels["trace_id"] == slowest["trace_id"]
    assert exemplars["0.262144"].value == pytest.approx(slowest["latency_ms"] / 1000.0, abs=1e-6)
    # cumulative counts from the HDR histogram: the bucket holding the 3 ms class has 1/2 of them
    counts = {s.labels["le"]: s.value for s in buckets}
    assert counts["0.004096"] == pytest.approx(entry["hdr_count"] / 2, rel=0.25)
