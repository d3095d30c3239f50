"""loadkit.fleet.saturation: when a worker's sample says it is saturated, and why (pure)."""

from __future__ import annotations

from loadkit.fleet.saturation import saturation


def test_saturation_reasons() -> None:
    assert saturation({"cpu_percent": 50, "loop_lag_ms": 5}) is None
    assert saturation({"cpu_percent": 95.0}) == "CPU 95% > 90%"
    assert saturation({"loop_lag_ms": 250.0, "cpu_percent": 99}) == "CPU 99% > 90%, loop lag 250 ms > 100 ms"
