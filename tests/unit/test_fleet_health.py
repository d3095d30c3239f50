"""The master's health store: latest per worker, history, saturation warnings once per episode; agent polling."""

from __future__ import annotations

import logging

import pytest

from loadkit.fleet import health
from loadkit.fleet.health import HealthStore, poll_agent


def test_store_keeps_latest_and_history_and_warns_once_per_episode(caplog: pytest.LogCaptureFixture) -> None:
    store = HealthStore()
    caplog.set_level(logging.WARNING, logger="loadkit.fleet")
    for cpu in (10, 95, 97, 98, 20, 99, 96):
        store.add("w1", {"cpu_percent": cpu})
    store.add("w2", {"cpu_percent": 1})
    assert store.latest["w1"] == {"cpu_percent": 96}
    assert [s["cpu_percent"] for s in store.history["w1"]] == [10, 95, 97, 98, 20, 99, 96]
    assert store.saturated == {"w1": "CPU 96% > 90%"}
    assert [w for w, _ in store.warnings] == ["w1", "w1"]  # 95+97 (warned once, 98 too), then 99+96
    assert sum("w1 is saturated" in r.getMessage() for r in caplog.records) == 2
    assert set(store.report()["workers"]) == {"w1", "w2"}


def test_no_verdict_from_the_start_up_sample_nor_from_one_sample_alone() -> None:
    store = HealthStore()
    store.add("w1", {"loop_lag_ms": 220.0})  # the first sample covers start-up: never counts
    assert store.saturated == {} and store.warnings == []
    store.add("w1", {"loop_lag_ms": 150.0})  # one saturated sample: not yet
    assert store.saturated == {} and store.warnings == []
    store.add("w1", {"loop_lag_ms": 5.0})  # a calm one breaks the streak
    store.add("w1", {"loop_lag_ms": 130.0})
    assert store.saturated == {} and store.warnings == []
    store.add("w1", {"loop_lag_ms": 140.0})  # two in a row: saturated, one warning
    assert store.saturated == {"w1": "loop lag 140 ms > 100 ms"}
    assert store.warnings == [("w1", "loop lag 140 ms > 100 ms")]


def test_poll_of_an_unreachable_agent_is_an_error_entry() -> None:
    result = poll_agent("http://127.0.0.1:9", timeout=1.0)
    assert "error" in result


def test_a_thousand_workers_keep_a_bounded_history_and_log(caplog: pytest.LogCaptureFixture) -> None:
    """Per-worker history for a few workers and the outliers; one fleet aggregate per interval."""
    store = HealthStore()
    caplog.set_level(logging.WARNING, logger="loadkit.fleet")
    t0 = 1_700_000_000.0
    for round_ in range(5):
        for i in range(1000):
            cpu = 99.0 if i >= 900 else 10.0  # the last 100 saturate
            store.add(f"w{i}", {"time": t0 + 3 * round_ + i / 1000, "cpu_percent": cpu})
    assert len(store.latest) == 1000
    assert len(store.history) == 2 * health.HISTORY_WORKERS  # the first 20, and 20 that saturated
    assert {"w0", "w19", "w900"} <= set(store.history) and "w20" not in store.history
    assert len(store.fleet) == 5 and store.fleet[-1]["saturated"] == 100
    assert store.warnings_total == 100 and len(store.warnings) == 100
    logged = [r.getMessage() for r in caplog.records]
    assert sum("is saturated" in m for m in logged) == health.LOGGED_WARNINGS
    assert sum("more workers are saturated" in m for m in logged) == 1
    report = store.report()
    assert len(report["workers"]) == 40 and report["summary"]["workers"] == 1000
    assert report["warnings_total"] == 100


class _Node:
    def __init__(self, node_id: str, state: str) -> None:
        self.id, self.state = node_id, state


class _Clients:
    def __init__(self) -> None:
        self.all: list[_Node] = []


class _Runner:
    """What ``live_workers`` reads of a master: its worker table (a fake: no sockets needed here)."""

    def __init__(self) -> None:
        self.clients = _Clients()


def test_workers_that_left_lose_their_latest_sample_so_churn_stays_bounded(monkeypatch: pytest.MonkeyPatch) -> None:
    from locust.runners import STATE_MISSING, STATE_RUNNING

    clock = [1000.0]
    monkeypatch.setattr(health.time, "monotonic", lambda: clock[0])
    runner, store = _Runner(), HealthStore()
    receive = health._Receiver(runner, store)  # type: ignore[arg-type]
    for wave in range(5):  # 5 waves of 100 workers, each replacing the last
        runner.clients.all = [_Node(f"w{wave}-{i}", STATE_RUNNING) for i in range(100)]
        for i in range(100):
            for _ in range(3):
                receive.add(f"w{wave}-{i}", {"cpu_percent": 99.0})
        clock[0] += health.PRUNE_EVERY_S
    receive.add("w4-0", {"cpu_percent": 1.0})
    assert len(store.latest) == 100 and set(store.latest) == {f"w4-{i}" for i in range(100)}
    assert set(store.seen) == set(store.streak) == set(store.latest)
    assert set(store.saturated) <= set(store.latest)
    runner.clients.all[0].state = STATE_MISSING  # no heartbeat: counted as gone too
    clock[0] += health.PRUNE_EVERY_S
    receive.add("w4-1", {"cpu_percent": 1.0})
    assert "w4-0" not in store.latest and len(store.latest) == 99
    assert len(store.history) <= 2 * health.HISTORY_WORKERS  # histories kept were bounded already


def test_ten_hours_of_samples_keep_a_bounded_history_covering_the_whole_run() -> None:
    """A long run: each history holds at most HISTORY samples from the first one on (not the last 50 minutes)."""
    store = HealthStore()
    t0 = 1_700_000_000.0
    samples = 10 * 3600 // 3  # ten hours at the default 3 s interval
    for i in range(samples):
        store.add("w1", {"time": t0 + 3 * i, "cpu_percent": 10.0})
    kept, fleet = list(store.history["w1"]), list(store.fleet)
    assert len(kept) <= health.HISTORY and len(fleet) <= health.HISTORY
    assert kept[0]["time"] == t0 and fleet[0]["time"] == t0  # the start of the run is still there
    assert kept[-1]["time"] > t0 + 9.9 * 3600  # and its end
    assert store.fleet.appended == samples  # one aggregate per FLEET_EVERY_S, thinned or not


def test_samples_ride_in_the_stats_report_and_malformed_ones_are_dropped_with_one_line(
    caplog: pytest.LogCaptureFixture,
) -> None:
    """No message of their own (one fewer per worker every 3 s at the master): in ``report_to_master``."""
    from loadkit.fleet.collectors import Requests

    worker = health.Health(HealthStore(), Requests(counts=None), [])  # type: ignore[arg-type]
    worker.outbox = [{"cpu_percent": 5.0}, {"cpu_percent": 7.0}]
    data: dict[str, object] = {}
    worker.on_report_to_master("w1", data)
    assert data == {health.REPORT_KEY: [{"cpu_percent": 5.0}, {"cpu_percent": 7.0}]} and worker.outbox == []
    worker.on_report_to_master("w1", data := {})
    assert data == {}  # nothing new: nothing added

    runner, store = _Runner(), HealthStore()
    receive = health._Receiver(runner, store)  # type: ignore[arg-type]
    receive.on_worker_report("w1", {health.REPORT_KEY: [{"cpu_percent": 5.0}, {"cpu_percent": 7.0}]})
    assert store.latest["w1"] == {"cpu_percent": 7.0} and len(store.history["w1"]) == 2
    caplog.set_level(logging.WARNING, logger="loadkit.fleet")
    for bad in ([{"cpu_percent": "high"}], "x", [{}] * (health.MAX_PER_REPORT + 1), [{"cpu_percent": 1.0}, 3]):
        receive.on_worker_report("w2", {health.REPORT_KEY: bad})
    assert "w2" not in store.latest  # a report with one bad sample is dropped whole
    assert caplog.text.count("dropped malformed health samples from worker w2") == 1
    receive.on_worker_report("w3", {"stats": []})  # a report without samples: nothing
    assert "w3" not in store.latest
