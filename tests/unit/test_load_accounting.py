"""Started/late/dropped counts and the fleet merge; malformed counts refused (pure)."""

from __future__ import annotations

import pytest

from loadkit.load.accounting import LATE_AFTER_S, FleetCounters, NodeCounters, check_timeline, check_totals


def test_node_counts_and_fleet_sum() -> None:
    a, b = NodeCounters(), NodeCounters()
    a.on_start(0.0001, 0)
    a.on_start(LATE_AFTER_S * 2, 0)
    b.on_start(1.5, 1)
    b.on_drop(3)
    fleet = FleetCounters()
    fleet.update("a", a.totals(), check_timeline(a.take_timeline()))
    fleet.update("b", b.totals(), check_timeline(b.take_timeline()))
    fleet.update("a", check_totals({"started": 1, "late": 0, "dropped": 0, "max_lateness_s": 0}))  # older: ignored
    summary = fleet.summary(elapsed_s=2.0)
    assert summary["iterations_started"] == 3
    assert summary["iterations_late"] == 2
    assert summary["iterations_dropped"] == 3
    assert summary["late_ratio"] == pytest.approx(2 / 3)
    assert summary["max_lateness_ms"] == pytest.approx(1500)
    assert summary["achieved_rate"] == pytest.approx(1.5)
    assert fleet.per_second() == [(0, 2), (1, 1)]
    assert a.take_timeline() == {}  # taken once


@pytest.mark.parametrize("bad", [None, {"started": -1}, {"late": "x"}, {"dropped": True}])
def test_bad_totals_rejected(bad: object) -> None:
    with pytest.raises(ValueError):
        check_totals(bad)


@pytest.mark.parametrize("bad", [[], {"x": 1}, {"1": -1}, {"1": 1.5}])
def test_bad_timeline_rejected(bad: object) -> None:
    with pytest.raises(ValueError):
        check_timeline(bad)
