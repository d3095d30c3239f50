"""The master's health store: latest per worker, history, saturation warnings once per episode; agent polling."""

from __future__ import annotations

import logging

import pytest

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
