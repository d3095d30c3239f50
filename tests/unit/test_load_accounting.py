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


def test_each_channel_takes_every_start_once() -> None:
    node = NodeCounters()
    for second in (0, 0, 1):
        node.on_start(0.0, second)
    assert node.take_timeline("status") == {"0": 2, "1": 1}
    node.on_start(0.0, 1)
    node.on_start(0.0, 2)
    assert node.take_timeline("status") == {"1": 1, "2": 1}  # only what is new since its last take
    assert node.take_timeline("report") == {"0": 2, "1": 2, "2": 1}  # the other channel: all of it, once
    node.on_start(0.0, 2)
    assert node.take_timeline("report") == {"2": 1} and node.take_timeline("status") == {"2": 1}
    assert sorted(node._timeline) == [2]  # seconds both channels passed are forgotten


def test_a_local_node_with_one_channel_forgets_what_it_took() -> None:
    node = NodeCounters(channels=1)
    node.on_start(0.0, 0)
    node.on_start(0.0, 1)
    assert node.take_timeline() == {"0": 1, "1": 1} and sorted(node._timeline) == [1]
    node.on_start(0.0, 1)
    assert node.take_timeline() == {"1": 1}


def test_a_second_counts_the_larger_channel() -> None:
    """Status messages lost with a dead master, reports re-sent to the new one: neither counts a start twice."""
    fleet = FleetCounters()
    totals = check_totals({"started": 30})
    fleet.update("w1", totals, {0: 10, 1: 4})  # status: second 1's later starts went to a master that died
    fleet.update("w1", totals, {0: 6, 1: 10, 2: 10}, reported=True)  # reports: second 0's last ones not yet
    assert fleet.per_second() == [(0, 10), (1, 10), (2, 10)]
    fleet.reset()
    assert fleet.per_second() == []
