"""One node's view of the fleet schedule: which iteration it runs next, and when.

Pure. A :class:`NodeSchedule` holds the profile and a list of assignments, each valid
from an iteration index on (a re-split adds one). :meth:`NodeSchedule.next` returns the
next iteration this node owns and its intended start in seconds from the schedule's
origin, so the runtime only sleeps until ``origin + due`` on a monotonic clock.
"""

from __future__ import annotations

import bisect
from dataclasses import dataclass

from loadkit.load.profile import RateProfile
from loadkit.load.split import next_owned


@dataclass(frozen=True)
class Assignment:
    """From iteration ``start`` on, this node owns ``k % slots == slot`` (slot None: nothing)."""

    start: int
    slot: int | None
    slots: int


class NodeSchedule:
    """Iterations of one node, in order; ``next()`` → ``(k, due_seconds)`` or None when over."""

    def __init__(self, profile: RateProfile, first: Assignment) -> None:
        self.profile = profile
        self._assignments: list[Assignment] = [first]
        self._starts: list[int] = [first.start]
        self._k = first.start  # the next candidate index

    def reassign(self, assignment: Assignment) -> None:
        """Apply ``assignment`` from its start index on (earlier ones it overlaps are replaced)."""
        keep = bisect.bisect_left(self._starts, assignment.start)
        self._assignments = [*self._assignments[:keep], assignment]
        self._starts = [a.start for a in self._assignments]

    def rewind(self, k: int) -> None:
        """Consider ``k`` again (it was taken, then a re-split came before it started)."""
        self._k = min(self._k, k)

    def next(self) -> tuple[int, float] | None:
        """The next owned iteration and its intended start, advancing past it; None: no more."""
        while True:
            i = bisect.bisect_right(self._starts, self._k) - 1
            current = self._assignments[max(i, 0)]
            k = max(self._k, current.start)
            following = self._assignments[i + 1].start if i + 1 < len(self._assignments) else None
            if current.slot is not None and current.slots > 0:
                k = next_owned(k, current.slot, current.slots)
            else:
                k = following if following is not None else -1
            if k < 0:
                return None  # nothing owned from here on, until a reassignment
            if following is not None and k >= following:
                self._k = following
                continue
            due = self.profile.due(k)
            if due is None:
                return None
            self._k = k + 1
            return k, due

    @property
    def position(self) -> int:
        return self._k
