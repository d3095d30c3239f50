"""The Prometheus collector and the HDR charts tab on a real local runner (no browser here)."""

from __future__ import annotations

import socket
import time
import urllib.request
from collections.abc import Iterator
from functools import partial

import gevent
import pytest
from locust import User, constant, task
from locust.env import Environment
from prometheus_client import CollectorRegistry, generate_latest
from prometheus_client.parser import text_string_to_metric_families

from loadkit.exceptions import ConfigError
from loadkit.fleet.view import fleet_view
from loadkit.stats.controller import controller_for
from loadkit.stats.prometheus import LoadkitCollector, MetricsServer
from tests.support.web_env import web_environment

Samples = dict[tuple[str, tuple[tuple[str, str], ...]], float]


class Firing(User):
    wait_time = constant(0.005)

    @task
    def fire(self) -> None:
        fire = self.environment.events.request.fire
        fire(request_type="GET", name="/ok", response_time=2.0, response_length=0, exception=None, context={})
        fire(request_type="GET", name="/bad", response_time=7.0, response_length=0, exception=ValueError("boom"))
        fire(request_type="grpc-ttfm", name="/s", response_time=0.5, response_length=0, exception=None)


@pytest.fixture
def env(monkeypatch: pytest.MonkeyPatch) -> Iterator[Environment]:
    yield from web_environment(monkeypatch, [Firing], ["--threshold", "p99<5ms", "--loadkit-health-interval", "0.1"])


def _run_until(env: Environment, requests: int) -> None:
    assert env.runner is not None
    env.runner.start(2, spawn_rate=100)
    deadline = time.monotonic() + 20
    while env.runner.stats.total.num_requests < requests and time.monotonic() < deadline:
        gevent.sleep(0.05)
    env.runner.stop()


def _samples(text: str) -> Samples:
    return {
        (s.name, tuple(sorted(s.labels.items()))): s.value
        for family in text_string_to_metric_families(text)
        for s in family.samples
    }


def test_metrics_follow_prometheus_conventions_and_the_hdr_numbers(env: Environment) -> None:
    _run_until(env, 300)
    registry = CollectorRegistry(auto_describe=False)
    registry.register(LoadkitCollector(env, partial(fleet_view, env)))
    samples = _samples(generate_latest(registry).decode())
    bad = next(e for e in controller_for(env).summary()["entries"] if e["name"] == "/bad")
    get_bad = (("name", "/bad"), ("type", "GET"))
    assert samples[("loadkit_requests_total", get_bad)] == bad["count"] >= 100
    assert samples[("loadkit_request_failures_total", get_bad)] == bad["count"]
    errors = {lab: v for (name, lab), v in samples.items() if name == "loadkit_request_errors_total"}
    assert list(errors.values()) == [bad["count"]] and "boom" in dict(next(iter(errors)))["error"], errors
    p99 = samples[("loadkit_request_duration_seconds", (("name", "/bad"), ("quantile", "0.99"), ("type", "GET")))]
    assert p99 * 1000 == pytest.approx(bad["percentiles_ms"]["p99"]) and 0.0069 < p99 < 0.0071  # seconds
    assert samples[("loadkit_request_duration_seconds_sum", get_bad)] == pytest.approx(bad["count"] * 0.007)
    # A facet (time to first message) is timed, but it is not a request of its own.
    assert not any(name == "loadkit_requests_total" and ("type", "grpc-ttfm") in lab for name, lab in samples)
    assert ("loadkit_request_duration_seconds_count", (("name", "/s"), ("type", "grpc-ttfm"))) in samples
    assert samples[("loadkit_thresholds_passed", ())] == 0.0  # /bad's 7 ms p99 is over 5 ms
    assert samples[("loadkit_users", ())] == 0.0  # stopped
    assert 0.0 <= samples[("loadkit_worker_cpu_ratio", (("worker", "local"),))] < 4.0  # a ratio, not a percent
    # fleet aggregates, whatever the fleet's size (per-worker series: the worst 20 only)
    assert samples[("loadkit_fleet_workers", ())] == 1.0 and samples[("loadkit_fleet_saturated_workers", ())] in (0, 1)
    cpu_max = samples[("loadkit_fleet_cpu_ratio", (("stat", "max"),))]
    assert cpu_max == samples[("loadkit_worker_cpu_ratio", (("worker", "local"),))]


def test_a_server_per_run_serves_its_own_registry_and_a_taken_port_is_one_line(env: Environment) -> None:
    server = MetricsServer(env, "127.0.0.1", 0)
    try:
        _run_until(env, 30)
        assert server.url.startswith("http://127.0.0.1:")
        text = urllib.request.urlopen(server.url, timeout=5).read().decode()
        assert "loadkit_requests_total" in text and "python_gc_objects" not in text  # not the global registry
        with pytest.raises(ConfigError, match=rf"--prometheus-port {server.port}: cannot listen .*give a free port"):
            MetricsServer(env, "127.0.0.1", server.port)
    finally:
        server.stop()
    with pytest.raises(OSError), socket.create_connection(("127.0.0.1", server.port), timeout=2):
        pass


def test_hdr_charts_tab_serves_its_scripts_and_live_chart_data(env: Environment) -> None:
    assert env.web_ui is not None
    assert {"title": "HDR charts", "key": "loadkit-charts"} in env.web_ui.template_args["extended_tabs"]
    _run_until(env, 300)
    client = env.web_ui.app.test_client()
    page = client.get("/").get_data(as_text=True)
    for script in ("uPlot.iife.min.js", "charts.js", "webtab.js"):
        assert f'src="./loadkit/assets/{script}"' in page
        assert client.get(f"/loadkit/assets/{script}").status_code == 200
    assert client.get("/loadkit/assets/..%2Fhtml.py").status_code == 404
    charts = client.get("/loadkit/charts").get_json()["charts"]
    groups = {c["group"] for c in charts}
    assert {"distribution", "latency", "rates", "health"} <= groups
    titles = [c["title"] for c in charts if c["group"] == "latency"]
    assert titles == [
        "Aggregated: latency over time",
        "GET /bad: latency over time",
        "GET /ok: latency over time",
        "grpc-ttfm /s: latency over time",
    ]
    assert client.get("/loadkit/charts").headers["Content-Type"] == "application/json"


def test_grafana_dashboard_queries_only_metrics_loadkit_exposes(env: Environment) -> None:
    """docs/grafana-dashboard.json loads, and each query names a metric a real run serves."""
    import json
    import re
    from pathlib import Path

    dashboard = json.loads((Path(__file__).parents[2] / "docs" / "grafana-dashboard.json").read_text())
    exprs = [t["expr"] for p in dashboard["panels"] for t in p["targets"]]
    assert exprs and all(p["datasource"]["uid"] == "${datasource}" for p in dashboard["panels"])
    _run_until(env, 100)
    registry = CollectorRegistry(auto_describe=False)
    registry.register(LoadkitCollector(env, partial(fleet_view, env)))
    served = {s.name for f in text_string_to_metric_families(generate_latest(registry).decode()) for s in f.samples}
    served |= {
        f"loadkit_open_model_{m}"
        for m in (  # open-model runs only (tested in tests/e2e/test_pictures.py)
            "target_iterations_per_second",
            "achieved_iterations_per_second",
            "iterations_dropped_total",
        )
    }
    for expr in exprs:
        names = set(re.findall(r"\bloadkit_[a-z_]+", expr))
        assert names and names <= served, (expr, names - served)
