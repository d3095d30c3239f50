"""loadkit.load.restart: the schedule in the state file, and what a master's absence cost it (pure)."""

from __future__ import annotations

import json

import pytest

from loadkit.load.profile import RateProfile, Stage
from loadkit.load.restart import FORMAT, Gap, Orphan, ScheduleState, gap_at_resume, orphaned
from loadkit.load.split import Share

RATE_10 = RateProfile.constant(10)


def state(**changes: object) -> ScheduleState:
    values: dict[str, object] = {
        "run": "r1",
        "epoch": 1000.0,
        "written_s": 4.0,
        "from_iteration": 0,
        "shares": {"w1": Share(0, 2, 5), "w2": Share(1, 2, 5), "w3": Share(None, 2, 0)},
        "heard": {"w1": 3.9, "w2": 3.0},
        "nodes": {"w1": {"started": 20.0, "late": 1.0, "dropped": 0.0, "max_lateness_s": 0.02}},
        "timeline": {0: 10, 1: 10},
        "reported": {0: 10},
        "resplits": [{"at_s": -0.5, "workers": 3, "from_iteration": 0}],
        "gaps": [],
    }
    return ScheduleState(**{**values, **changes})  # type: ignore[arg-type]


def test_the_state_survives_the_json_file() -> None:
    kept = state()
    back = ScheduleState.from_json(json.loads(json.dumps(kept.to_json())))
    assert back == kept
    assert back.shares["w3"].slot is None  # a worker with no slot (pool share 0) stays one


@pytest.mark.parametrize(
    "broken",
    [
        None,
        {},
        {"format": FORMAT + 1},
        {**state().to_json(), "epoch": "soon"},
        {**state().to_json(), "shares": {"w1": [0, 2]}},
        {**state().to_json(), "timeline": {"x": 1}},
        {**state().to_json(), "run": ""},
        {**state().to_json(), "from_iteration": -1},
        {key: value for key, value in state().to_json().items() if key != "nodes"},
    ],
)
def test_a_malformed_schedule_is_refused_with_a_reason(broken: object) -> None:
    with pytest.raises(ValueError, match="schedule"):
        ScheduleState.from_json(broken)


def test_an_orphaned_share_counts_its_iterations_from_its_last_counts_to_the_resume() -> None:
    # slot 1 of 2 at 10 it/s, last heard at 3.0 s (iteration 30): odd k in 30..59
    assert orphaned(RATE_10, Orphan("w", 1, 2, 0, 3.0), 60) == 15
    assert orphaned(RATE_10, Orphan("w", 0, 2, 0, 3.0), 60) == 15  # even k in 30..58
    assert orphaned(RATE_10, Orphan("w", 0, 3, 45, 0.0), 60) == 5  # its split began at 45: 45, 48, .., 57
    assert orphaned(RATE_10, Orphan("w", 1, 2, 0, 3.0), 30) == 0  # heard after the resume point
    assert orphaned(RATE_10, Orphan("w", 1, 2, 0, 3.0), 31) == 0  # 30 is not its own
    assert orphaned(RATE_10, Orphan("w", 1, 2, 0, 3.0), 32) == 1


def test_a_ramp_counts_by_the_profiles_own_times() -> None:
    ramp = RateProfile.ramping((Stage(10, 20),))  # 1 it/s per second: k due at sqrt(k)
    # from 4 s (iteration 16) to iteration 36, every slot of 1
    assert orphaned(ramp, Orphan("w", 0, 1, 0, 4.0), 36) == 20


def test_the_gap_of_a_resume_where_every_worker_carried_on_costs_nothing() -> None:
    gap = gap_at_resume(RATE_10, state(), ["w1", "w2", "w3"], 100, 9.7)
    assert gap.carried_on == ["w1", "w2"] and gap.orphans == []  # w3 held no slot
    assert gap.describe(RATE_10) == {
        "from_s": 4.0,
        "to_s": 10.0,  # iteration 100 is due at 10 s
        "iterations_intended": 60,  # 40..99
        "iterations_dropped": 0,
        "carried_on": ["w1", "w2"],
        "not_back": [],
    }


def test_a_share_nobody_ran_is_dropped_until_its_worker_is_heard_again() -> None:
    gap = gap_at_resume(RATE_10, state(), ["w1"], 100, 9.7)
    assert gap.carried_on == ["w1"] and [o.node for o in gap.orphans] == ["w2"]
    assert gap.dropped(RATE_10) == 35  # odd k in 30..99: from w2's last counts (3.0 s)
    assert gap.describe(RATE_10)["not_back"] == ["w2"]
    gap.heard("w1")  # nothing changes for a worker that carried on
    assert gap.dropped(RATE_10) == 35
    gap.heard("w2")  # its own counts arrive: it ran its share after all
    assert gap.dropped(RATE_10) == 0 and gap.carried_on == ["w1", "w2"] and gap.orphans == []


def test_a_worker_never_heard_is_an_orphan_from_the_checkpoint() -> None:
    gap = gap_at_resume(RATE_10, state(heard={}), [], 100, 9.7)
    assert sorted(o.heard_s for o in gap.orphans) == [4.0, 4.0]
    assert gap.dropped(RATE_10) == 60  # both shares, 40..99


def test_a_resume_after_the_profile_ended_counts_up_to_its_end() -> None:
    short = RateProfile.ramping((Stage(0, 10), Stage(5, 10)))
    gap = gap_at_resume(short, state(), [], short.first_due_at_or_after(7.0), 7.0)
    assert isinstance(gap, Gap) and gap.to_s == 7.0
    assert gap.dropped(short) == 5 + 10  # up to 49 (its last): w1's even ones from 39, w2's odd ones from 30
