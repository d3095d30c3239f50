"""Counting iterations of an open-model run: started, late, dropped, and the achieved rate.

Pure. Each node keeps a :class:`NodeCounters`; it sends :meth:`NodeCounters.totals`
(cumulative, so a lost or repeated message changes nothing) and the per-second starts
since its last message (:meth:`NodeCounters.take_timeline`). The master keeps a
:class:`FleetCounters`: the latest totals per node, summed, and the per-second starts of
the fleet, from which it reports the achieved rate.

A worker sends its per-second starts on two channels, each taking its own deltas from the same
counts: its status messages (every 0.5 s: the live view, and all a SIGKILLed worker's last
seconds that reach the master) and its numbered stats reports (kept until the master's state
file holds them, re-sent to a master that comes back, counted once: nothing lost across a
master restart). Each channel alone counts every start at most once, so the fleet's count of a
second is the larger of the two (:meth:`FleetCounters.per_second`).

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
#: The channels a worker takes per-second starts for (status messages, stats reports).
CHANNELS = 2


@dataclass
class NodeCounters:
    """One node's iterations; ``second`` keys are whole seconds from the schedule's origin."""

    started: int = 0
    late: int = 0
    dropped: int = 0
    max_lateness_s: float = 0.0
    channels: int = CHANNELS  # how many take per-second starts (a local run: 1)
    _timeline: dict[int, int] = field(default_factory=lambda: defaultdict(int))  # cumulative, recent seconds
    #: Per channel: the latest second at its last take (earlier seconds were final) and what it sent of the rest.
    _taken: dict[str, tuple[int, dict[int, int]]] = field(default_factory=dict)

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

    def take_timeline(self, channel: str = "report") -> dict[str, int]:
        """Starts per second since ``channel``'s last call (string keys: they travel as msgpack/JSON).

        A start is counted in the second it happens, and time only goes on: at a take, the
        seconds before the latest one counted are final, so a channel keeps only what it sent
        of the latest one, and seconds every channel has passed are forgotten. Same cost per
        start as one counter.
        """
        floor, sent = self._taken.get(channel, (-1, {}))
        delta = {}
        for second, count in self._timeline.items():
            if second >= floor and count != sent.get(second, 0):
                delta[str(second)] = count - sent.get(second, 0)
        latest = max(self._timeline, default=floor)
        self._taken[channel] = (latest, {s: c for s, c in self._timeline.items() if s >= latest})
        if len(self._taken) >= self.channels:  # every channel took once: what all have passed can go
            low = min(f for f, _ in self._taken.values())
            for second in [s for s in self._timeline if s < low]:
                del self._timeline[second]
        return delta


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
        self.timeline: dict[int, int] = defaultdict(int)  # from the workers' status messages
        self.reported: dict[int, int] = defaultdict(int)  # from their stats reports (module docstring)

    def update(
        self, node: str, totals: dict[str, float], timeline: dict[int, int] | None = None, reported: bool = False
    ) -> None:
        """Take a node's totals and per-second starts (``reported``: from a stats report, else a status)."""
        previous = self.nodes.get(node)
        if previous is None or totals["started"] + totals["dropped"] >= previous["started"] + previous["dropped"]:
            self.nodes[node] = totals  # cumulative: an older, reordered report never goes back
        into = self.reported if reported else self.timeline
        for second, count in (timeline or {}).items():
            into[second] += count

    def reset(self) -> None:
        self.nodes.clear()
        self.timeline.clear()
        self.reported.clear()

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
        """Starts per whole second of the schedule, in order, with gaps as 0 (the larger channel's count)."""
        seconds = [*self.timeline, *self.reported]
        if not seconds:
            return []
        status, reported = self.timeline.get, self.reported.get
        return [(s, max(status(s, 0), reported(s, 0))) for s in range(min(seconds), max(seconds) + 1)]
