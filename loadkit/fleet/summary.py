"""A fleet of any size in a few numbers: aggregates over the workers and the worst offenders.

What the master keeps, shows and exports per worker must stay bounded at 1,000 workers (a
1,000-row table re-sent every 2 s, 1,000 histories in a report, 7,000 Prometheus series are
not): the Fleet tab, ``GET /loadkit/fleet``, the report and ``/metrics`` show
:func:`fleet_summary` (count, saturated workers, min/p50/p90/max of each figure) and the
workers :func:`worst` ranks first — saturated ones, then the highest CPU or loop lag
relative to its limit. Pure: no Locust, no gevent.

    >>> latest = {"w1": {"cpu_percent": 20.0, "loop_lag_ms": 3.0}, "w2": {"cpu_percent": 95.0, "loop_lag_ms": 9.0}}
    >>> worst(latest, saturated={}, limit=1)
    ['w2']
    >>> fleet_summary(latest, saturated={})["cpu_percent"]["max"]
    95.0
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from loadkit.fleet.saturation import CPU_LIMIT, LAG_LIMIT_MS  # the ranking divides by the saturation limits

#: Figures aggregated over the fleet (a sample's other fields stay per worker).
FIGURES = ("cpu_percent", "loop_lag_ms", "rss_mb", "users", "connections", "rps", "fail_per_s")

Sample = Mapping[str, float]


def badness(sample: Sample) -> float:
    """How close a worker is to saturation: its CPU or loop lag over the limit, whichever is worse."""
    return max(float(sample.get("cpu_percent", 0.0)) / CPU_LIMIT, float(sample.get("loop_lag_ms", 0.0)) / LAG_LIMIT_MS)


def worst(latest: Mapping[str, Sample], saturated: Mapping[str, str], limit: int) -> list[str]:
    """Up to ``limit`` worker ids, worst first: saturated ones, then by :func:`badness`, then by id."""
    ranked = sorted(latest, key=lambda w: (w not in saturated, -badness(latest[w]), w))
    return ranked[: max(limit, 0)]


def _quantile(ordered: list[float], q: float) -> float:
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))]


def fleet_summary(latest: Mapping[str, Sample], saturated: Mapping[str, str]) -> dict[str, Any]:
    """``{"workers": n, "saturated": n, FIGURE: {"min", "p50", "p90", "max", "sum"}, ...}`` over the latest samples."""
    out: dict[str, Any] = {"workers": len(latest), "saturated": sum(1 for w in saturated if w in latest)}
    for figure in FIGURES:
        values = sorted(float(s[figure]) for s in latest.values() if figure in s)
        if values:
            out[figure] = {
                "min": values[0],
                "p50": _quantile(values, 0.5),
                "p90": _quantile(values, 0.9),
                "max": values[-1],
                "sum": sum(values),
            }
    return out
