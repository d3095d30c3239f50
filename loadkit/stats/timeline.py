"""Latency over time: per-interval HDR distributions, exact across workers, bounded in size.

Every node cuts its samples into one-second slots (:data:`BASE_S`, aligned on the epoch) as
they are recorded (:class:`~loadkit.stats.hdr.HdrRecorder`); a slot holds, per entry, a
sparse HDR distribution — ``{value_us: count}`` with each value replaced by the lowest
value of its HdrHistogram bucket (:func:`bucket`, 3 significant digits, the same buckets
as the run's histograms) — and the failures. A worker sends its slots with each report
(:func:`loadkit.stats.slot_codec.encode_slots`); the master adds them into its :class:`Timeline`
(:meth:`Timeline.merge_columns`: kept as they came and counted in bulk every few seconds or
when read, :mod:`loadkit.stats.columns`). Adding bucket counts is exact, so a slot's
p50/p90/p99/max equal those of one histogram fed every sample of that interval on every
worker (:func:`percentiles_us` follows HdrHistogram's own rule, value for value).

Bounded for long runs: the master's slots widen as the run grows — 1 s for the first
:data:`POINTS_PER_WIDTH` slots, then 2 s for as many, then 4 s, … (a one-hour run has
1,215 slots; the report's ``timeline`` of 50 entries stays near 2 MB, see
``bench/hdr_overhead.py``) — and a slot that ended more than :data:`SETTLE_S` ago keeps
only its figures (count, failures, p50, p90, p99, max), not its distribution. A delta that
arrives for a settled slot (a worker stalled longer than that) still adds to its count
and failures and is counted in :attr:`Timeline.late`; its percentiles stay as they were.

Slot times come from each worker's clock: workers on other hosts need synchronised clocks
(NTP) for their slots to line up. Pure: no Locust, no gevent.
"""

from __future__ import annotations

import time
from bisect import bisect_left
from collections import Counter
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from itertools import accumulate
from typing import Any

from loadkit.stats.columns import Columns, count_many, failures_of
from loadkit.stats.facets import is_facet
from loadkit.stats.hdr import TOTAL_KEY, Counts, EntryKey, add_counts, bucket, bucket_highest

BASE_S = 1
SETTLE_S = 20.0
POINTS_PER_WIDTH = 360
#: The figures of a slot, per entry, in this order.
FIGURES = ("count", "failures", "p50", "p90", "p99", "max")
_PCTS = (50.0, 90.0, 99.0)


def percentiles_us(counts: Mapping[int, int], pcts: Iterable[float] = _PCTS) -> list[int]:
    """Values at ``pcts`` and the max, as HdrHistogram's ``get_value_at_percentile`` gives them.

    Its rule: the target count is ``int(pct * total / 100 + 0.5)`` (at least 1); the value
    is the highest equivalent value of the first bucket whose running count reaches it.
    ``counts`` may hold values not yet bucketed (the master adds them as workers sent them):
    buckets are monotonic, so the first value whose running count reaches the target lies in
    that first bucket, and its bucket's highest value is the answer. Sorted, summed and
    searched in C (``sorted``, ``accumulate``, ``bisect``): a master computes every slot.
    """
    pcts = tuple(pcts)
    values = sorted(counts)
    if not values:
        return [0] * (len(pcts) + 1)
    running = list(accumulate(map(counts.__getitem__, values)))
    total = running[-1]
    out = []
    for pct in pcts:
        target = max(int(min(pct, 100.0) * total / 100 + 0.5), 1)
        out.append(bucket_highest(bucket(values[bisect_left(running, target)])))
    out.append(bucket_highest(bucket(values[-1])))
    return out


def slot_of(t: int, start: int) -> tuple[int, int]:
    """``(slot start, width)`` holding base slot ``t`` (epoch s) of a run started at ``start``.

    Phase k has slots of 2**k s, :data:`POINTS_PER_WIDTH` of them, so the count of slots
    grows with the log of the run's length.
    """
    elapsed = max(t - start, 0)
    phase_start, width = 0, BASE_S
    while elapsed >= phase_start + POINTS_PER_WIDTH * width:
        phase_start += POINTS_PER_WIDTH * width
        width *= 2
    return start + phase_start + (elapsed - phase_start) // width * width, width


@dataclass
class _Slot:
    width: int
    counts: dict[EntryKey, Counter[int]] = field(default_factory=dict)  # values as added (percentiles_us)
    failures: dict[EntryKey, int] = field(default_factory=dict)
    figures: dict[EntryKey, list[int]] | None = None  # once settled: FIGURES per entry
    #: Workers' columns not yet counted (:mod:`loadkit.stats.columns`): added in bulk by :meth:`fold`.
    pending: dict[EntryKey, list[Columns]] = field(default_factory=dict)
    #: Every entry's counts but the facets', kept as they are added (summing them at each read cost more).
    total: Counter[int] = field(default_factory=Counter)

    def add(self, key: EntryKey, counts: Mapping[int, int], failures: int, also: Counts | None = None) -> bool:
        """Add (the bucketed counts to ``also`` too); False when settled (only count and failures could be added)."""
        if self.figures is None:
            into = self.counts.get(key)
            if into is None:
                into = self.counts[key] = Counter()
            add_counts(into, counts, also)
            if not is_facet(key[0]):
                add_counts(self.total, counts)
            self.failures[key] = self.failures.get(key, 0) + failures
            return True
        if also is not None:
            add_counts(also, counts)
        self.add_late(key, sum(counts.values()), failures)
        return False

    def fold(self) -> None:
        """Count the pending columns into the slot (C-level, one pass per entry)."""
        for key, columns in self.pending.items():
            into = self.counts.get(key)
            if into is None:
                into = self.counts[key] = Counter()
            count_many(into, columns)
            if not is_facet(key[0]):
                count_many(self.total, columns)
            self.failures[key] = self.failures.get(key, 0) + failures_of(columns)
        self.pending = {}

    def add_late(self, key: EntryKey, count: int, failures: int) -> None:
        assert self.figures is not None
        row = self.figures.setdefault(key, [0, 0, 0, 0, 0, 0])
        total = self.figures.setdefault(TOTAL_KEY, [0, 0, 0, 0, 0, 0])
        for target in (row, total) if not is_facet(key[0]) else (row,):
            target[0] += count
            target[1] += failures

    def compute(self) -> dict[EntryKey, list[int]]:
        if self.figures is not None:
            return self.figures
        if self.pending:
            self.fold()
        figures: dict[EntryKey, list[int]] = {}
        total_failures = 0
        for key, counts in self.counts.items():
            failures = self.failures.get(key, 0)
            figures[key] = [sum(counts.values()), failures, *percentiles_us(counts)]
            if not is_facet(key[0]):
                total_failures += failures
        if self.total:
            figures[TOTAL_KEY] = [sum(self.total.values()), total_failures, *percentiles_us(self.total)]
        return figures

    def settle(self) -> None:
        self.figures = self.compute()
        self.counts, self.failures, self.total = {}, {}, Counter()


class Timeline:
    """The master's (or local runner's) slots; see the module docstring::

    tl = Timeline(start=1_700_000_000)
    tl.add(1_700_000_003, ("GET", "/items"), {412: 3, 980: 1}, failures=0)
    tl.series()["entries"]["GET /items"]["p99"]   # ms per slot
    """

    def __init__(self, start: float | None = None) -> None:
        self.start = int(start if start is not None else time.time())
        self._slots: dict[int, _Slot] = {}
        #: Deltas that arrived for an already settled slot (counted, percentiles unchanged).
        self.late = 0

    def reset(self, start: float | None = None) -> None:
        self.__init__(start)  # type: ignore[misc]

    def add(
        self, t: int, key: EntryKey, counts: Mapping[int, int], failures: int = 0, also: Counts | None = None
    ) -> None:
        """Add a base slot's distribution of one entry (``t``: the base slot's epoch second)."""
        begin, width = slot_of(t, self.start)
        slot = self._slots.get(begin)
        if slot is None:
            slot = self._slots[begin] = _Slot(width)
        if not slot.add(key, counts, failures, also):
            self.late += 1

    def merge(
        self,
        slots: Mapping[int, Mapping[EntryKey, tuple[Counts, int]]],
        also: Callable[[EntryKey], Counts] | None = None,
    ) -> None:
        """Add slots as :func:`~loadkit.stats.slot_codec.decode_slots` (or ``HdrRecorder.take_slots``) gives them.

        ``also(key)``: a dict each entry's bucketed counts are added to as well, in the same
        pass (the master's histograms, ``HdrRecorder.merge_target``).
        """
        for t, entries in slots.items():
            for key, (counts, failures) in entries.items():
                self.add(t, key, counts, failures, also(key) if also is not None else None)

    def merge_columns(
        self,
        slots: Mapping[int, Mapping[EntryKey, Columns]],
        also: Callable[[EntryKey], list[Columns]] | None = None,
    ) -> None:
        """:meth:`merge` for :func:`~loadkit.stats.slot_codec.decode_columns` output (a master, each report).

        Each entry's columns are only kept (counted in bulk later, :meth:`_Slot.fold`); ``also(key)``:
        a list they are appended to as well (the master's histograms, ``HdrRecorder.pending_columns``).
        """
        for t, entries in slots.items():
            begin, width = slot_of(t, self.start)
            slot = self._slots.get(begin)
            if slot is None:
                slot = self._slots[begin] = _Slot(width)
            if slot.figures is not None:  # settled: counts and failures only
                for key, columns in entries.items():
                    slot.add_late(key, sum(columns[1]), columns[2])
                    if also is not None:
                        also(key).append(columns)
                self.late += len(entries)
                continue
            pending = slot.pending
            for key, columns in entries.items():
                waiting = pending.get(key)
                if waiting is None:
                    pending[key] = [columns]
                else:
                    waiting.append(columns)
                if also is not None:
                    also(key).append(columns)

    def settle(self, now: float | None = None) -> None:
        """Keep only the figures of slots that ended more than :data:`SETTLE_S` ago (all: ``now=inf``).

        The others count their pending columns (so what waits is a few seconds' worth).
        """
        now = time.time() if now is None else now
        for begin, slot in self._slots.items():
            if slot.figures is None and begin + slot.width + SETTLE_S < now:
                slot.settle()
            elif slot.pending:
                slot.fold()

    def series(self, now: float | None = None) -> dict[str, Any]:
        """Columns for charts and reports, ms with µs precision::

        {"start": epoch s, "t": [slot starts], "w": [widths s], "late": n,
         "entries": {"GET /items": {"count": [...], "failures": [...], "p50": [...], "p90": [...],
                                    "p99": [...], "max": [...]}, "Aggregated": {...}}}

        Percentiles of a slot without requests of that entry are ``None``.
        """
        return series_columns(self.series_parts(now))

    def series_parts(self, now: float | None = None) -> SeriesParts:
        """What :meth:`series` draws from, copied (settles first): the columns can be built later, elsewhere.

        A checkpoint takes these in the gevent loop and builds the columns in a thread
        (:func:`series_columns`), so a one-hour timeline does not stall the loop for a second.
        """
        self.settle(now)
        begins = sorted(self._slots)
        per_slot = [dict(self._slots[b].compute()) for b in begins]
        return SeriesParts(self.start, begins, [self._slots[b].width for b in begins], self.late, per_slot)


@dataclass(frozen=True)
class SeriesParts:
    """A timeline's slots as figures (:meth:`Timeline.series_parts`)."""

    start: int
    begins: list[int]
    widths: list[int]
    late: int
    per_slot: list[dict[EntryKey, list[int]]]


def series_columns(parts: SeriesParts) -> dict[str, Any]:
    """:meth:`Timeline.series` from its parts (pure: a thread may run it)."""
    per_slot = parts.per_slot
    keys = sorted({k for figures in per_slot for k in figures if k != TOTAL_KEY})
    entries: dict[str, dict[str, list[Any]]] = {}
    for key in [*keys, TOTAL_KEY]:
        columns: dict[str, list[Any]] = {name: [] for name in FIGURES}
        for figures in per_slot:
            row = figures.get(key)
            count = row[0] if row else 0
            columns["count"].append(count)
            columns["failures"].append(row[1] if row else 0)
            for i, name in enumerate(FIGURES[2:], start=2):
                columns[name].append(round(row[i] / 1000.0, 3) if row and count and row[i] else None)
        if any(columns["count"]):
            entries[_label(key)] = columns
    return {"start": parts.start, "t": parts.begins, "w": parts.widths, "late": parts.late, "entries": entries}


def _label(key: EntryKey) -> str:
    return f"{key[0]} {key[1]}" if key[0] else key[1]
