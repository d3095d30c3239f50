"""The open model in one process (library mode, local runner) against the real HTTP target.

Checks what the e2e tests cannot see from outside: one iteration = one task with Locust's
own weights and TaskSets, ``on_start`` once per pool user, ``wait_time`` ignored, the pool
never above ``max_users``, late iterations corrected with the service time kept apart, and
the open-model thresholds. Cost: ~10 s.
"""

from __future__ import annotations

from collections import Counter
from typing import Any, ClassVar

import pytest
from locust import HttpUser, TaskSet, constant, task

from loadkit import LoadTest, measure
from loadkit.exceptions import ConfigError

SEEN: Counter[str] = Counter()


class Browse(TaskSet):
    @task
    def inner(self) -> None:
        SEEN["nested"] += 1
        self.client.get("/health", name="nested")
        self.interrupt()


class Web(HttpUser):
    wait_time = constant(60)  # would stall a closed-model user: the open model ignores it
    tasks: ClassVar[Any] = {Browse: 1}
    starts: ClassVar[list[int]] = []

    def on_start(self) -> None:
        SEEN["on_start"] += 1

    @task(3)
    def heavy(self) -> None:
        SEEN["heavy"] += 1
        self.client.get("/health", name="heavy")

    @task(1)
    def light(self) -> None:
        SEEN["light"] += 1
        with measure(self, "calc", "light"):
            pass


def test_one_task_per_iteration_with_weights(http_target: Any) -> None:
    """Each iteration runs exactly one task, chosen by weight; every intended iteration is accounted for.

    Rate accuracy is test_open_model.py's: on a busy 2-core machine this one process (users,
    target client and scheduler) can fall seconds behind its schedule — iterations then start
    late or are dropped, never early — which says nothing about which task each one runs.
    """
    SEEN.clear()
    result = LoadTest([Web], host=http_target.url, arrival_rate=200, max_users=20, run_time=4).run()
    load = result.snapshot.meta["load"]
    started = load["iterations_started"]
    assert started > 100, load
    assert started + load["iterations_dropped"] <= load["target_iterations"] + 1, repr(load)  # never ahead
    assert SEEN["heavy"] + SEEN["light"] + SEEN["nested"] == started  # one task per iteration
    assert SEEN["heavy"] / started == pytest.approx(3 / 5, abs=0.07)  # {Browse: 1, heavy: 3, light: 1}
    assert 1 <= SEEN["on_start"] <= 20  # once per pool user, never above max_users
    # the uncorrected time is kept apart for the requests of late iterations only
    service = sum(row.count for row in result.snapshot.entries if row.request_type.endswith("-service"))
    assert service <= load["iterations_late"]
    keys = {row.key for row in result.snapshot.entries}
    assert {"GET heavy", "GET nested", "calc light"} <= keys
    # facets stay out of the total; an iteration in flight when the run ends has no event
    assert started - 20 <= result.total.count <= started


class Slow(HttpUser):
    @task
    def slow(self) -> None:
        self.client.get("/health?delay_ms=200", name="slow")


def test_late_iterations_are_timed_from_their_intended_start(http_target: Any) -> None:
    """1 pool user, 20 it/s, 200 ms each: the 4th iteration waits ~150 ms for the user, and so on."""
    result = LoadTest(
        [Slow],
        host=http_target.url,
        arrival_rate=20,
        max_users=1,
        max_lateness=1,
        run_time=4,
        thresholds=["late_ratio<0.01", "dropped_iterations==0"],
    ).run()
    load = result.snapshot.meta["load"]
    assert load["iterations_late"] > 0 and load["iterations_dropped"] > 0
    assert [r.passed for r in result.thresholds] == [False, False]
    assert result.exit_code == 99
    corrected, service = result.percentiles["GET slow"], result.percentiles["GET-service slow"]
    assert service["p50"] >= 190  # the target's 200 ms delay
    assert corrected["max"] > 800  # waited up to --max-lateness (1 s) for the one user
    assert corrected["p50"] > 2 * service["p50"]


class BrokenStart(HttpUser):
    def on_start(self) -> None:
        raise RuntimeError("login refused")  # every pool user fails before its first iteration

    @task
    def never(self) -> None:
        self.client.get("/health", name="never")


def test_a_pool_whose_users_fail_on_start_drops_and_counts_every_iteration(http_target: Any) -> None:
    """Users that fail in on_start leave the pool; replacements come 1 s apart (no hot loop), and
    the iterations nobody took are counted as dropped when the schedule ends: none vanish."""
    result = LoadTest(
        [BrokenStart],
        host=http_target.url,
        arrival_rate=20,
        max_users=2,
        max_lateness=0.5,
        run_time=3,
        thresholds=["dropped_iterations==0"],
    ).run()
    load = result.snapshot.meta["load"]
    assert load["iterations_started"] == 0
    # dropped: every iteration more than max_lateness (0.5 s) overdue when the run ended
    assert load["iterations_dropped"] == pytest.approx(20 * (load["elapsed_s"] - 0.5), abs=3)
    assert [r.passed for r in result.thresholds] == [False]


def test_bad_open_model_arguments() -> None:
    with pytest.raises(ConfigError, match="with -u/--users 3"):
        LoadTest([Slow], users=3, arrival_rate=10)
    with pytest.raises(ConfigError, match="--max-users 0"):
        LoadTest([Slow], arrival_rate=10, max_users=0)
    with pytest.raises(ConfigError, match="--arrival-stages"):
        LoadTest([Slow], arrival_stages="10s")
