"""Started/late/dropped counts, fleet merge, and the open-model options (pure)."""

from __future__ import annotations

import argparse

import pytest

from loadkit.exceptions import ConfigError
from loadkit.load.accounting import LATE_AFTER_S, FleetCounters, NodeCounters, check_timeline, check_totals
from loadkit.load.settings import DEFAULT_MAX_LATENESS_S, from_options


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


def options(**values: object) -> argparse.Namespace:
    base = {"arrival_rate": None, "arrival_stages": None, "max_users": None, "max_lateness": None, "num_users": None}
    return argparse.Namespace(**{**base, **values})


def test_settings() -> None:
    assert from_options(options()) is None
    settings = from_options(options(arrival_rate="250", max_users="40"))
    assert settings is not None and settings.rate == 250 and settings.max_users == 40
    assert settings.max_lateness_s == DEFAULT_MAX_LATENESS_S
    ramp = from_options(options(arrival_stages="10s:30,10s:0", max_lateness="2.5"))
    assert ramp is not None and ramp.max_users == 30 and ramp.max_lateness_s == 2.5  # pool default: peak x 1 s
    assert from_options(options(arrival_rate="5", num_users=10)) is not None  # -u only refused on the CLI


@pytest.mark.parametrize(
    ("values", "match"),
    [
        ({"arrival_rate": "0"}, "--arrival-rate '0' must be a number > 0"),
        ({"arrival_rate": "-3"}, "--arrival-rate '-3'"),
        ({"arrival_stages": "10s:0"}, "never has a rate above 0"),
        ({"arrival_stages": "10s"}, "missing ':'"),
        ({"arrival_rate": "10", "arrival_stages": "1s:1"}, "both given"),
        ({"arrival_rate": "10", "num_users": 5}, "with -u/--users 5"),
        ({"arrival_rate": "10", "max_users": "0"}, "--max-users 0 must be a whole number >= 1"),
        ({"max_users": "5"}, "add --arrival-rate"),
        ({"arrival_rate": "10", "max_lateness": "-1"}, "--max-lateness"),
    ],
)
def test_bad_settings_one_line(values: dict[str, object], match: str) -> None:
    with pytest.raises(ConfigError, match=match) as info:
        from_options(options(**values), check_users=True)
    assert "\n" not in str(info.value)
