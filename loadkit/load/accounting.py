"""Counting iterations of an open-model run: started, late, dropped, and the achieved rate.

Pure. Each node keeps a :class:`NodeCounters`; it sends :meth:`NodeCounters.totals`
(cumulative, so a lost or repeated message changes nothing) and the per-second starts
since its last report (:meth:`NodeCounters.take_timeline`). The master keeps a
:class:`FleetCounters`: the latest totals per node, summed, and the per-second starts of
the fleet, from which it reports the achieved rate.

An iteration is **late** when it started more than :data:`LATE_AFTER_S` after its intended
time — below that it is the scheduler's own jitter (measured in ``bench/open_model.py``),
above it the pool was exhausted or the generator was behind. Every iteration's requests
are timed from its intended start whatever its lateness (wrk2's correction). An iteration
that could not start within ``--max-lateness`` is **dropped**: never started, counted.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, field
from typing import Any

#: Lateness above which an iteration counts as late (seconds).
LATE_AFTER_S = 0.010


@dataclass
class NodeCounters:
    """One node's iterations; ``second`` keys are whole seconds from the schedule's origin."""

    started: int = 0
    late: int = 0
    dropped: int = 0
    max_lateness_s: float = 0.0
    _timeline: dict[int, int] = field(default_factory=lambda: defaultdict(int))

    def on_start(self, lateness_s: float, second: int) -> None:
        self.started += 1
        if lateness_s > LATE_AFTER_S:
            self.late += 1
        if lateness_s > self.max_lateness_s:
            self.max_lateness_s = lateness_s
        self._timeline[second] += 1

    def on_drop(self, count: int = 1) -> None:
        self.dropped += count

    def totals(self) -> dict[str, float]:
        return {
            "started": self.started,
            "late": self.late,
            "dropped": self.dropped,
            "max_lateness_s": self.max_lateness_s,
        }

    def take_timeline(self) -> dict[str, int]:
        """Starts per second since the last call (string keys: they travel as msgpack/JSON)."""
        taken = {str(second): count for second, count in self._timeline.items()}
        self._timeline.clear()
        return taken


def check_totals(data: Any) -> dict[str, float]:
    """Validate a node's totals from the wire (ValueError on anything else)."""
    if not isinstance(data, dict):
        raise ValueError(f"totals must be a mapping, got {type(data).__name__}")
    out: dict[str, float] = {}
    for key in ("started", "late", "dropped", "max_lateness_s"):
        value = data.get(key, 0)
        if isinstance(value, bool) or not isinstance(value, int | float) or value < 0 or value != value:
            raise ValueError(f"{key} must be a number >= 0, got {value!r}")
        out[key] = value
    return out


def check_timeline(data: Any) -> dict[int, int]:
    """Validate per-second starts from the wire (ValueError on anything else)."""
    if not isinstance(data, dict) or len(data) > 100_000:
        raise ValueError("timeline must be a mapping of at most 100000 seconds")
    out: dict[int, int] = {}
    for key, value in data.items():
        if isinstance(value, bool) or not isinstance(value, int) or value < 0:
            raise ValueError(f"timeline count must be an int >= 0, got {value!r}")
        out[int(key)] = value  # int() raises ValueError on a non-number key
    return out


class FleetCounters:
    """The fleet's iterations: the latest totals per node plus the fleet's starts per second."""

    def __init__(self) -> None:
        self.nodes: dict[str, dict[str, float]] = {}
        self.timeline: dict[int, int] = defaultdict(int)

    def update(self, node: str, totals: dict[str, float], timeline: dict[int, int] | None = None) -> None:
        previous = self.nodes.get(node)
        if previous is None or totals["started"] + totals["dropped"] >= previous["started"] + previous["dropped"]:
            self.nodes[node] = totals  # cumulative: an older, reordered report never goes back
        for second, count in (timeline or {}).items():
            self.timeline[second] += count

    def reset(self) -> None:
        self.nodes.clear()
        self.timeline.clear()

    def summary(self, elapsed_s: float | None = None, also_dropped: int = 0) -> dict[str, Any]:
        """Fleet totals: started/late/dropped, ratios, max lateness, achieved rate.

        ``also_dropped``: iterations no node counted that were dropped all the same (a share
        nobody ran while the master was gone, :mod:`loadkit.load.restart`).
        """
        started = int(sum(t["started"] for t in self.nodes.values()))
        late = int(sum(t["late"] for t in self.nodes.values()))
        dropped = int(sum(t["dropped"] for t in self.nodes.values())) + also_dropped
        intended = started + dropped
        return {
            "iterations_started": started,
            "iterations_late": late,
            "iterations_dropped": dropped,
            "late_ratio": late / started if started else 0.0,
            "dropped_ratio": dropped / intended if intended else 0.0,
            "max_lateness_ms": max((t["max_lateness_s"] for t in self.nodes.values()), default=0.0) * 1000.0,
            "achieved_rate": started / elapsed_s if elapsed_s else None,
        }

    def per_second(self) -> list[tuple[int, int]]:
        """Starts per whole second of the schedule, in order, with gaps as 0."""
        if not self.timeline:
            return []
        first, last = min(self.timeline), max(self.timeline)
        return [(s, self.timeline.get(s, 0)) for s in range(first, last + 1)]
