"""A report document (the JSON report's shape) with every section the charts and the page draw.

Shared by tests/unit/test_stats_charts.py and test_stats_html.py: one copy.
"""

from __future__ import annotations

from typing import Any

T0 = 1_700_000_000
DOC: dict[str, Any] = {
    "run": {"start_time_iso": "2026-01-01T00:00:00+00:00", "duration_s": 3.0, "host": "http://127.0.0.1:1"},
    "entries": [{"key": "GET /</script><b>x", "count": 10, "failures": 1, "rps": 3.3, "percentiles_ms": {"p50": 1.0}}],
    "total": {"key": "Aggregated", "count": 10, "failures": 1, "rps": 3.3, "percentiles_ms": {"p50": 1.0}},
    "thresholds": [{"expression": "p99<5ms", "op": "<", "expected": 5.0, "unit": "ms", "actual": 2.0, "passed": True}],
    "distribution": {
        "Aggregated": {"percentile": [0.0, 50.0, 90.0, 100.0], "ms": [0.5, 1.0, 2.0, 9.0]},
        "GET /</script><b>x": {"percentile": [0.0, 50.0, 100.0], "ms": [0.5, 1.0, 9.0]},
    },
    "timeline": {
        "start": T0,
        "t": [T0, T0 + 1, T0 + 2],
        "w": [1, 1, 2],
        "late": 0,
        "entries": {
            "Aggregated": {
                "count": [4, 0, 6],
                "failures": [1, 0, 2],
                "p50": [1.0, None, 1.0],
                "p90": [2.0, None, 2.0],
                "p99": [3.0, None, 3.0],
                "max": [9.0, None, 4.0],
            },
        },
    },
    "fleet": {
        "health": {
            "workers": {
                "w1": [
                    {"time": T0 + 1.0, "cpu_percent": 99.0, "loop_lag_ms": 1.0},  # start-up: never counts
                    {"time": T0 + 2.0, "cpu_percent": 95.0, "loop_lag_ms": 1.0},
                    {"time": T0 + 3.0, "cpu_percent": 96.0, "loop_lag_ms": 150.0},
                    {"time": T0 + 4.0, "cpu_percent": 10.0, "loop_lag_ms": 1.0},
                    {"time": T0 + 5.0, "cpu_percent": 99.0, "loop_lag_ms": 1.0},  # once: no verdict
                ],
                "w2": [{"time": T0 + 1.5, "cpu_percent": 5.0, "loop_lag_ms": 2.0}],
            }
        }
    },
}
