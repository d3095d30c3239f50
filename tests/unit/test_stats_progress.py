"""loadkit.stats.progress: the line printed while a run goes."""

from __future__ import annotations

import pytest

from loadkit.stats.hdr import Percentiles
from loadkit.stats.progress import progress_line
from loadkit.stats.snapshot import EntryStats, RunSnapshot


def _snapshot(count: int, failures: int, p99: float, load: dict[str, object] | None = None) -> RunSnapshot:
    total = EntryStats("", "Aggregated", count, failures, 0.0, 1.0, 0.1, Percentiles(count, {"p99": p99}, p99))
    return RunSnapshot((), total, {"load": load} if load else {})


def test_closed_model_line_names_elapsed_rate_failures_p99_and_workers() -> None:
    line = progress_line(10.2, 20.0, _snapshot(4210, 21, 12.44), 2)
    assert line == "loadkit: 10s/20s  4,210 reqs  412.7 req/s  21 failures (0.50%)  p99 12.4 ms  2 workers"
    assert "\x1b" not in line and "\r" not in line  # quiet in a CI log


def test_before_any_request_and_without_workers() -> None:
    assert (
        progress_line(0.0, None, _snapshot(0, 0, 0.0), None)
        == "loadkit: 0s  0 reqs  0.0 req/s  0 failures (0.00%)  p99 -"
    )


def test_open_model_line_shows_target_achieved_late_and_dropped() -> None:
    load = {
        "model": "open",
        "target_rate_now": 100.0,
        "achieved_rate_now": 99.84,
        "iterations_late": 3,
        "iterations_dropped": 1,
    }
    line = progress_line(5.0, 30.0, _snapshot(500, 0, 3.0, load), None)
    assert line.endswith("open model: target 100.0 it/s, achieved 99.8 it/s, late 3, dropped 1"), line


def test_a_resumed_master_says_what_its_absence_cost_the_schedule() -> None:
    gap = {"from_s": 7.5, "to_s": 14.9, "iterations_intended": 296, "iterations_dropped": 0}
    load = {"model": "open", "target_rate_now": 40.0, "achieved_rate_now": 40.0, "master_gaps": [gap]}
    line = progress_line(5.0, 12.0, _snapshot(500, 0, 3.0, load), 2)
    assert line.endswith("dropped 0  (master gone 8-15s: 0 of 296 iterations dropped)"), line


def test_a_resumed_run_counts_its_time_from_the_runs_start() -> None:
    """A resumed master's counts are the whole run's: so is the elapsed time its req/s divides by."""
    import io
    import re
    import time

    import gevent

    from loadkit.stats.progress import run_progress

    out = io.StringIO()
    began = time.monotonic()
    greenlet = gevent.spawn(run_progress, lambda: _snapshot(800, 0, 3.0), lambda: 2, 24.0, 0.01, out, already_s=20.0)
    try:
        while not out.getvalue() and time.monotonic() - began < 30:
            gevent.sleep(0.01)
    finally:
        greenlet.kill()
    waited = time.monotonic() - began
    match = re.match(r"loadkit: (\d+)s/24s  800 reqs  ([\d.]+) req/s", out.getvalue())
    assert match, out.getvalue()
    elapsed, rate = int(match[1]), float(match[2])
    assert 20 <= elapsed <= 20 + waited + 1, (elapsed, waited)  # 20 s before this process, not 0
    assert rate <= 40.0 and rate == pytest.approx(800 / elapsed, rel=0.05)
