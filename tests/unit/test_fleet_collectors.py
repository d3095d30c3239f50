"""Health collectors: one method each, registered in one place, extensible."""

from __future__ import annotations

import time
from typing import Any

import gevent
import pytest

from loadkit.fleet import collectors as c


def test_worker_collectors_give_every_documented_field() -> None:
    instances = [factory(None) for factory in c.WORKER_COLLECTORS]
    try:
        sample = c.collect_all(instances)
    finally:
        for inst in instances:
            if isinstance(inst, c.LoopLag):
                inst.stop()
    for key in ("cpu_percent", "rss_mb", "net_sent_bps", "net_recv_bps", "loop_lag_ms", "users", "connections"):
        assert key in sample, key
    assert sample["rss_mb"] > 1
    assert sample["users"] == 0


def test_agent_collectors_give_host_fields() -> None:
    sample = c.collect_all([factory(None) for factory in c.AGENT_COLLECTORS])
    for key in ("cpu_percent", "mem_percent", "mem_used_mb", "net_sent_bps"):
        assert key in sample, key


def test_loop_lag_sees_a_blocked_hub() -> None:
    lag = c.LoopLag(interval=0.01)
    try:
        gevent.sleep(0.05)
        lag.collect()
        end = time.perf_counter() + 0.3
        while time.perf_counter() < end:  # a CPU-bound user starving the hub, on purpose
            pass
        gevent.sleep(0.05)
        assert lag.collect()["loop_lag_ms"] >= 150
    finally:
        lag.stop()


def test_requests_counts_requests_and_failures() -> None:
    req = c.Requests()
    req.on_request(exception=None)
    req.on_request(exception=RuntimeError("x"))
    sample = req.collect()
    assert sample["requests"] == 2
    assert sample["rps"] > 0 and sample["fail_per_s"] > 0


def test_requests_read_from_the_hdr_recorder_count_the_same_without_a_listener() -> None:
    from loadkit.stats.hdr import HdrRecorder

    recorder = HdrRecorder()
    req = c.Requests(counts=recorder)
    recorder.on_request("GET", "/a", 1.0)
    recorder.on_request("GET", "/a", 2.0, exception=RuntimeError("x"))
    recorder.on_request("grpc-ttfm", "/s", 0.5)  # a facet: part of a request counted elsewhere
    recorder.on_request("GET-service", "/a", 0.9)  # the open model's service time: a facet too
    recorder.reset()  # Locust's reset-stats empties the histograms, not the health counts
    sample = req.collect()
    assert (sample["requests"], recorder.failures) == (2, 1)
    assert sample["rps"] > 0 and sample["fail_per_s"] > 0


def test_a_failing_collector_costs_only_its_fields() -> None:
    class Broken:
        def collect(self) -> dict[str, float]:
            raise OSError("gone")

    sample = c.collect_all([Broken(), c.ProcessMemory()])
    assert "rss_mb" in sample


def test_register_collector_adds_a_user_collector() -> None:
    class Constant:
        def __init__(self, _env: Any) -> None:
            pass

        def collect(self) -> dict[str, float]:
            return {"answer": 42.0}

    assert c.register_collector("agent", Constant) is Constant
    try:
        assert c.collect_all([f(None) for f in c.AGENT_COLLECTORS])["answer"] == 42.0
    finally:
        c.AGENT_COLLECTORS.remove(Constant)
    with pytest.raises(ValueError, match="unknown collector kind"):
        c.register_collector("target", Constant)  # type: ignore[arg-type]
