"""Fleet aggregates and the worst offenders (pure)."""

from __future__ import annotations

import itertools

from loadkit.fleet.summary import badness, fleet_summary, worst


def _fleet(n: int) -> dict[str, dict[str, float]]:
    return {f"w{i:04d}": {"cpu_percent": float(i % 100), "loop_lag_ms": float(i % 7), "rss_mb": 50.0} for i in range(n)}


def test_worst_puts_saturated_first_then_the_closest_to_a_limit() -> None:
    latest = _fleet(1000)
    latest["w0500"] = {"cpu_percent": 10.0, "loop_lag_ms": 250.0}  # lag 2.5x its limit: worse than any CPU
    ranked = worst(latest, saturated={"w0003": "CPU 95% > 90%"}, limit=5)
    assert ranked[0] == "w0003" and ranked[1] == "w0500"
    assert all(badness(latest[a]) >= badness(latest[b]) for a, b in itertools.pairwise(ranked[1:]))
    assert worst(latest, {}, 0) == [] and len(worst(latest, {}, 5000)) == 1000


def test_fleet_summary_counts_and_spreads() -> None:
    summary = fleet_summary(_fleet(1000), saturated={"w0001": "x", "gone": "y"})
    assert summary["workers"] == 1000 and summary["saturated"] == 1  # a worker no longer reporting is not counted
    cpu = summary["cpu_percent"]
    assert (cpu["min"], cpu["p50"], cpu["max"], cpu["sum"]) == (0.0, 50.0, 99.0, 49_500.0)
    assert "users" not in summary  # no sample had it
    assert fleet_summary({}, {}) == {"workers": 0, "saturated": 0}
