"""One node's schedule (pure): a joiner's first index, rewind, no slot until a re-split."""

from __future__ import annotations

import pytest

from loadkit.load.profile import RateProfile
from loadkit.load.schedule import Assignment, NodeSchedule
from loadkit.load.split import next_owned


def test_joiner_starts_at_its_first_index_and_rewind() -> None:
    schedule = NodeSchedule(RateProfile.constant(10), Assignment(50, 1, 2))
    first = schedule.next()
    assert first is not None and first[0] == 51 and first[1] == pytest.approx(5.1)
    schedule.rewind(51)
    assert schedule.next() == first
    assert next_owned(52, 1, 2) == 53


def test_no_slot_means_nothing_until_reassigned() -> None:
    schedule = NodeSchedule(RateProfile.constant(10), Assignment(0, None, 0))
    assert schedule.next() is None
    schedule.reassign(Assignment(20, 0, 1))
    assert schedule.next() == (20, pytest.approx(2.0))
