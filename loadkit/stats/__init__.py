"""Exact statistics and pass/fail: HDR histograms, thresholds, reports.

Pure parts (no Locust needed): :mod:`~loadkit.stats.hdr` (recording, deltas, merge),
:mod:`~loadkit.stats.thresholds` (grammar, evaluation), :mod:`~loadkit.stats.reports`
(JSON, JUnit, console). :mod:`~loadkit.stats.controller` wires them to a Locust run.

For a web UI or a script, :func:`summary` gives the current numbers as JSON-able data::

    from loadkit.stats import summary
    data = summary(environment)
    data["total"]["percentiles_ms"]["p99"], data["thresholds"]
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from loadkit.stats.hdr import PERCENTILES, HdrRecorder, Percentiles
from loadkit.stats.thresholds import Threshold, ThresholdResult, evaluate, parse_threshold, parse_thresholds

if TYPE_CHECKING:
    from locust.env import Environment

__all__ = [
    "PERCENTILES",
    "HdrRecorder",
    "Percentiles",
    "Threshold",
    "ThresholdResult",
    "evaluate",
    "parse_threshold",
    "parse_thresholds",
    "summary",
]


def summary(environment: Environment) -> dict[str, Any]:
    """The run's numbers now (or the final ones once the run ended), JSON-able.

    Shape (stable; the web UI renders it)::

        {"schema_version": 1,
         "run": {"start_time", "start_time_iso", "duration_s", "host", "runner", "workers",
                 "user_count", "aborted", "abort_reason", "loadkit_version"},
         "entries": [{"type", "name", "key", "count", "failures", "fail_ratio", "rps",
                      "avg_ms", "min_ms", "hdr_count",
                      "percentiles_ms": {"p50", "p90", "p95", "p99", "p99.9", "p99.99", "max"}}],
         "total": {... same fields, type "" and name "Aggregated"},
         "thresholds": [{"expression", "entry", "metric", "op", "expected", "actual",
                         "unit", "passed" (bool, or None while pending), "note"}],
         "thresholds_passed": bool, "final": bool, "abort_reason": str | None}

    Before the end, threshold results are evaluated on the current numbers, and a
    threshold on an entry without requests yet has ``"passed": None`` (pending).
    """
    from loadkit.stats.controller import controller_for

    return controller_for(environment).summary()
