"""The fleet split (pure): pools and slots, every iteration on exactly one node, exact totals across a re-split."""

from __future__ import annotations

from collections import Counter

import pytest

from loadkit.load.profile import RateProfile, parse_stages
from loadkit.load.schedule import Assignment, NodeSchedule
from loadkit.load.split import largest_remainder, split_fleet


@pytest.mark.parametrize(
    ("total", "weights", "expected"),
    [(20, [1, 1, 1], [7, 7, 6]), (10, [1, 1], [5, 5]), (1, [1, 1, 1], [1, 0, 0]), (7, [3, 1], [5, 2]), (0, [1], [0])],
)
def test_largest_remainder_adds_up(total: int, weights: list[float], expected: list[int]) -> None:
    shares = largest_remainder(total, weights)
    assert shares == expected
    assert sum(shares) == total


def test_split_fleet_pools_and_slots() -> None:
    shares = split_fleet(["w3", "w1", "w2"], 20)
    assert sum(s.pool for s in shares.values()) == 20
    assert sorted(s.slot for s in shares.values()) == [0, 1, 2]  # type: ignore[type-var]
    assert {s.slots for s in shares.values()} == {3}
    small = split_fleet(["a", "b", "c"], 2)  # a worker without a pool user gets no slot
    assert [small[w].slot for w in "abc"] == [0, 1, None]
    assert small["a"].slots == 2


def take(schedule: NodeSchedule, until: int) -> list[int]:
    out = []
    while (nxt := schedule.next()) is not None and nxt[0] < until:
        out.append(nxt[0])
    return out


def test_every_iteration_belongs_to_exactly_one_node() -> None:
    profile = RateProfile.constant(1000)
    shares = split_fleet(["a", "b", "c"], 30)
    owned = Counter()
    for share in shares.values():
        owned.update(take(NodeSchedule(profile, Assignment(0, share.slot, share.slots)), 3000))
    assert sorted(owned) == list(range(3000))
    assert set(owned.values()) == {1}


def test_resplit_from_an_index_keeps_the_total_exact() -> None:
    """Three workers, one leaves at iteration 1000: from there the two survivors cover everything."""
    profile = RateProfile.ramping(parse_stages("5s:400,5s:400"))
    before, after = split_fleet(["a", "b", "c"], 9), split_fleet(["a", "b"], 9)
    owned = Counter()
    for worker in "abc":
        schedule = NodeSchedule(profile, Assignment(0, before[worker].slot, before[worker].slots))
        if worker in after:
            schedule.reassign(Assignment(1000, after[worker].slot, after[worker].slots))
        else:
            schedule.reassign(Assignment(1000, None, 0))
        owned.update(take(schedule, 10**9))
    assert sorted(owned) == list(range(int(profile.total) + 1))[: len(owned)]
    assert set(owned.values()) == {1}
    assert len(owned) == pytest.approx(profile.total, abs=1)
