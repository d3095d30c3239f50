"""The open model across a master restart: the schedule kept in the state file, and the gap's count.

Pure. A master's open model writes a :class:`ScheduleState` into the master's state file (its
own part, ``"load"``; :mod:`loadkit.fleet.resume` writes the file) every ``--report-interval``:
the schedule's ``run`` and ``epoch``, the split in force (who holds which slot, from which
iteration), the workers' cumulative counts and when each was last heard, the per-second starts
and the re-splits. A master restarted with the same command takes the schedule back: the same
``run`` and epoch, so every iteration keeps its intended time, and a re-split from the first
iteration due after the restart.

What happens to the iterations due while the master was gone is decided by the workers, not the
master: a worker's plan holds the epoch, the profile and its share, and its node runs that share
on its own clock (:mod:`loadkit.load.node`), with or without a master. So a worker that lived
through the gap ran its share of it, on time, and counted it (cumulative counts, delivered to
the master that comes back): the gap costs that share nothing. A share whose worker did not come
back (it died too, or rejoins after the resume) was run by nobody from the last counts the master
had of it until the resume's first iteration: those iterations are counted as **dropped**
(:class:`Gap`, :func:`orphaned`) until that worker is heard from again for the same schedule, when
its own counts replace the estimate.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from loadkit.load.profile import RateProfile
from loadkit.load.split import Share, next_owned

#: The load part's format inside the state file; another one is not taken.
FORMAT = 1


@dataclass(frozen=True)
class Orphan:
    """A share held by ``node`` when the master died: iterations ``k % slots == slot`` from ``start``."""

    node: str
    slot: int
    slots: int
    start: int
    heard_s: float  # schedule time of the last counts the master had from it


def orphaned(profile: RateProfile, orphan: Orphan, until: int) -> int:
    """Iterations of ``orphan``'s share due from its last counts up to (excluding) index ``until``.

    ``orphaned(RateProfile.constant(10), Orphan("w", 1, 2, 0, 3.0), 60) == 15`` (odd k in 30..59).
    """
    low = max(orphan.start, profile.first_due_at_or_after(max(orphan.heard_s, 0.0)))
    if orphan.slots <= 0 or until <= low:
        return 0
    first = next_owned(low, orphan.slot, orphan.slots)
    return 0 if first >= until else (until - 1 - first) // orphan.slots + 1


@dataclass
class Gap:
    """One restart: the schedule from the last checkpoint (``from_s``) to the resume's first iteration."""

    from_s: float
    to_s: float
    first: int  # first iteration due at or after from_s
    resumed_from: int  # the resume's re-split takes effect from this iteration
    carried_on: list[str]
    orphans: list[Orphan] = field(default_factory=list)

    def heard(self, node: str) -> None:
        """``node`` counts for this schedule again: it carried on (its counts include its share)."""
        if any(o.node == node for o in self.orphans):
            self.orphans = [o for o in self.orphans if o.node != node]
            self.carried_on = sorted({*self.carried_on, node})

    def dropped(self, profile: RateProfile) -> int:
        return sum(orphaned(profile, o, self.resumed_from) for o in self.orphans)

    def describe(self, profile: RateProfile) -> dict[str, Any]:
        """The report's entry: the window, its iterations, how many nobody ran, who carried on."""
        return {
            "from_s": round(self.from_s, 3),
            "to_s": round(self.to_s, 3),
            "iterations_intended": max(self.resumed_from - self.first, 0),
            "iterations_dropped": self.dropped(profile),
            "carried_on": list(self.carried_on),
            "not_back": sorted(o.node for o in self.orphans),
        }


def gap_at_resume(profile: RateProfile, state: ScheduleState, live: list[str], resumed_from: int, now_s: float) -> Gap:
    """The gap of a resume at schedule time ``now_s`` that re-splits from ``resumed_from`` over ``live``."""
    orphans = [
        Orphan(node, share.slot, share.slots, state.from_iteration, state.heard.get(node, state.written_s))
        for node, share in sorted(state.shares.items())
        if share.slot is not None and node not in live
    ]
    carried = sorted(node for node, share in state.shares.items() if share.slot is not None and node in live)
    first = profile.first_due_at_or_after(max(state.written_s, 0.0))
    due = profile.due(resumed_from)
    return Gap(state.written_s, now_s if due is None else due, first, resumed_from, carried, orphans)


@dataclass
class ScheduleState:
    """What the state file keeps of a master's open model (module docstring)."""

    run: str
    epoch: float
    written_s: float  # schedule time of this checkpoint
    from_iteration: int  # the split in force took effect from this iteration
    shares: dict[str, Share]
    heard: dict[str, float]  # node -> schedule time of its last counts
    nodes: dict[str, dict[str, float]]
    timeline: dict[int, int]  # per-second starts from status messages
    reported: dict[int, int]  # and from stats reports (loadkit.load.accounting)
    resplits: list[dict[str, Any]]
    gaps: list[dict[str, Any]]  # earlier restarts' report entries

    def to_json(self) -> dict[str, Any]:
        return {
            "format": FORMAT,
            "run": self.run,
            "epoch": self.epoch,
            "written_s": self.written_s,
            "from_iteration": self.from_iteration,
            "shares": {n: [-1 if s.slot is None else s.slot, s.slots, s.pool] for n, s in self.shares.items()},
            "heard": dict(self.heard),
            "nodes": {n: dict(t) for n, t in self.nodes.items()},
            "timeline": {str(s): c for s, c in self.timeline.items()},
            "reported": {str(s): c for s, c in self.reported.items()},
            "resplits": list(self.resplits),
            "gaps": list(self.gaps),
        }

    @classmethod
    def from_json(cls, data: Any) -> ScheduleState:
        """Read one back (ValueError naming what is wrong: the master then starts the schedule afresh)."""
        if not isinstance(data, dict) or data.get("format") != FORMAT:
            raise ValueError("not an open-model schedule of this version")
        try:
            shares = {}
            for node, (slot, slots, pool) in data["shares"].items():
                shares[str(node)] = Share(None if int(slot) < 0 else int(slot), int(slots), int(pool))
            state = cls(
                run=str(data["run"]),
                epoch=float(data["epoch"]),
                written_s=float(data["written_s"]),
                from_iteration=int(data["from_iteration"]),
                shares=shares,
                heard={str(n): float(t) for n, t in data["heard"].items()},
                nodes={str(n): {str(k): float(v) for k, v in t.items()} for n, t in data["nodes"].items()},
                timeline={int(s): int(c) for s, c in data["timeline"].items()},
                reported={int(s): int(c) for s, c in data["reported"].items()},
                resplits=[dict(r) for r in data["resplits"]],
                gaps=[dict(g) for g in data["gaps"]],
            )
        except (KeyError, TypeError, ValueError, AttributeError) as exc:
            raise ValueError(f"malformed open-model schedule ({exc!r})") from exc
        if not state.run or state.from_iteration < 0:
            raise ValueError("malformed open-model schedule (no run, or a negative iteration)")
        return state
