"""The open model's messages and thresholds: validated on receipt, run-level metrics (pure)."""

from __future__ import annotations

import pytest

from loadkit import messages
from loadkit.exceptions import ConfigError
from loadkit.stats.facets import is_facet
from loadkit.stats.hdr import Percentiles
from loadkit.stats.reports import open_model_lines
from loadkit.stats.snapshot import EntryStats, RunSnapshot
from loadkit.stats.thresholds import evaluate, parse_threshold


def test_plan_round_trip() -> None:
    plan = messages.ArrivalPlan("r1", True, 1.0, None, [[10.0, 100.0]], 10.0, 5, 1, 2, 10, "http://127.0.0.1:8080")
    assert messages.ARRIVAL_PLAN.decode(messages.ARRIVAL_PLAN.encode(plan)) == plan
    assert messages.ARRIVAL_PLAN.name.startswith("loadkit:")


@pytest.mark.parametrize(
    "data",
    [
        {"run": "r", "active": True},  # no profile
        {"run": "r", "active": True, "rate": -1.0},
        {"run": "r", "active": True, "rate": 1.0, "slot": 3, "slots": 2},
        {"run": "r", "active": True, "rate": 1.0, "pool": -1},
        {"run": "r", "active": True, "stages": [[1, "x"]]},
        {"run": "r" * 100, "active": False},
        {"run": "r", "active": False, "evil": 1},
        {"run": "r", "active": True, "rate": 1.0, "host": 5},
        {"run": "r", "active": True, "rate": 1.0, "host": "h" * 3000},
    ],
)
def test_bad_plans_are_refused(data: dict[str, object]) -> None:
    with pytest.raises(messages.MessageError):
        messages.ARRIVAL_PLAN.decode(data)


def test_bad_status_is_refused() -> None:
    with pytest.raises(messages.MessageError):
        messages.ARRIVAL_STATUS.decode({"run": "r", "totals": {"started": -1}})
    with pytest.raises(messages.MessageError):
        messages.ARRIVAL_STATUS.decode({"run": "r", "totals": {}, "timeline": {"1": -2}})


def test_run_level_thresholds() -> None:
    load = {"model": "open", "iterations_dropped": 3, "late_ratio": 0.002, "iterations_started": 10}
    snapshot = RunSnapshot((), _empty_total(), {"load": load})
    results = evaluate([parse_threshold("dropped_iterations==0"), parse_threshold("late_ratio<0.01")], snapshot)
    assert [(r.actual, r.passed) for r in results] == [(3.0, False), (0.002, True)]
    closed = RunSnapshot((), _empty_total(), {"load": {"model": "closed"}})
    (result,) = evaluate([parse_threshold("late_ratio<0.01")], closed)
    assert not result.passed and "not an open-model run" in result.note
    with pytest.raises(ConfigError, match="run-level metric"):
        parse_threshold("GET /x: dropped_iterations==0")


def _empty_total() -> EntryStats:
    return EntryStats("", "Aggregated", 0, 0, 0.0, 0.0, 0.0, Percentiles(0, {}, 0.0))


def test_service_entries_are_facets_and_summary_lines() -> None:
    assert is_facet("GET-service") and is_facet("grpc-ttfm") and not is_facet("GET")
    lines = open_model_lines(
        {
            "profile": "constant 100 it/s",
            "max_users": 20,
            "target_rate": 100.0,
            "achieved_rate": 99.5,
            "elapsed_s": 10.0,
            "iterations_started": 995,
            "iterations_late": 3,
            "late_ratio": 0.003,
            "iterations_dropped": 0,
            "max_lateness_ms": 12.5,
        }
    )
    assert "target 100.00 it/s, achieved 99.50 it/s" in lines[0]
    assert "late 3 (0.30%), dropped 0, max lateness 12.5 ms" in lines[1]
