"""loadkit.stats wired to a real in-process Locust runner: summary(), reset, worker payloads."""

from __future__ import annotations

import logging
from collections.abc import Iterator

import pytest
from locust import User, constant, task
from locust.env import Environment

import loadkit
from loadkit import ConfigError
from loadkit.stats import summary
from loadkit.stats.controller import REPORT_KEY, controller_for
from loadkit.stats.hdr import HdrRecorder


class _IdleUser(User):
    wait_time = constant(1)

    @task
    def idle(self) -> None:
        pass


@pytest.fixture
def env() -> Iterator[Environment]:
    environment = Environment(user_classes=[_IdleUser])
    runner = environment.create_local_runner()
    loadkit.attach(environment, threshold=["p99<5ms", "GET /items: fail_ratio==0"])
    try:
        yield environment
    finally:
        runner.quit()


def _fire(env: Environment, rtype: str, name: str, ms: float, failed: bool = False) -> None:
    env.events.request.fire(
        request_type=rtype,
        name=name,
        response_time=ms,
        response_length=0,
        exception=RuntimeError("x") if failed else None,
        context={},
    )


def test_summary_shape_is_stable_and_json_able(env: Environment) -> None:
    import json

    for ms in (0.31, 0.42, 7.5):
        _fire(env, "grpc", "/demo.v1.Demo/GetItem", ms)
    _fire(env, "GET", "/items", 2.0, failed=True)
    data = json.loads(json.dumps(summary(env)))
    assert {"run", "entries", "total", "thresholds", "thresholds_passed", "final"} <= set(data)
    assert list(data["total"]["percentiles_ms"]) == ["p50", "p90", "p95", "p99", "p99.9", "p99.99", "max"]
    rows = {row["key"]: row for row in data["entries"]}
    grpc = rows["grpc /demo.v1.Demo/GetItem"]
    assert grpc["count"] == grpc["hdr_count"] == 3
    assert grpc["percentiles_ms"]["p50"] == pytest.approx(0.42, rel=1e-3)  # sub-ms kept, unlike Locust's buckets
    assert rows["GET /items"]["fail_ratio"] == 1.0
    assert [t["passed"] for t in data["thresholds"]] == [False, False]
    assert data["final"] is False


def test_thresholds_without_requests_are_pending_until_the_end(env: Environment) -> None:
    assert [t["passed"] for t in summary(env)["thresholds"]] == [None, None]
    assert summary(env)["thresholds"][1]["note"] == "no requests yet"
    controller_for(env).finish()  # at the end, an entry without requests fails
    assert [t["passed"] for t in summary(env)["thresholds"]] == [False, False]
    assert summary(env)["final"] is True


def test_reset_stats_forgets_hdr_samples(env: Environment) -> None:
    _fire(env, "GET", "/a", 1.0)
    env.events.reset_stats.fire()
    assert summary(env)["total"]["hdr_count"] == 0
    env.reset_stats = True  # Locust's --reset-stats: forget the ramp-up when spawning completes
    _fire(env, "GET", "/a", 1.0)
    env.events.spawning_complete.fire(user_count=1)
    assert summary(env)["total"]["hdr_count"] == 0


def test_worker_payloads_merge_and_bad_ones_are_dropped(env: Environment, caplog: pytest.LogCaptureFixture) -> None:
    worker = HdrRecorder()
    for ms in (1.0, 2.0, 3.0):
        worker.record("grpc", "/m", ms)
    env.events.worker_report.fire(client_id="w1", data={REPORT_KEY: worker.take_deltas()})
    assert controller_for(env).recorder.percentiles().count == 3
    with caplog.at_level(logging.WARNING, logger="loadkit.stats"):
        env.events.worker_report.fire(client_id="w2", data={REPORT_KEY: {"grpc\t/m": "garbage"}})
        env.events.worker_report.fire(client_id="w3", data={REPORT_KEY: ["not", "a", "mapping"]})
    assert controller_for(env).recorder.percentiles().count == 3
    dropped = [r.message.split(":")[0] for r in caplog.records]
    assert dropped == [f"dropped malformed HDR report from worker {w}" for w in ("w2", "w3")]


def test_attach_rejects_unknown_options_and_bad_thresholds() -> None:
    with pytest.raises(ConfigError, match="unknown loadkit option"):
        loadkit.attach(Environment(user_classes=[_IdleUser]), thresholds=["p99<5ms"])
    with pytest.raises(ConfigError, match="at 'p99x'"):
        loadkit.attach(Environment(user_classes=[_IdleUser]), threshold=["p99x<5ms"])
