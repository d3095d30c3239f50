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
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from itertools import accumulate, chain, repeat
from typing import Any

from loadkit.stats.columns import EXPAND_RATIO, EXPAND_SLACK, Columns
from loadkit.stats.facets import is_facet
from loadkit.stats.hdr import TOTAL_KEY, Counts, EntryKey, add_counts, bucket, bucket_highest
from loadkit.stats.slot_codec import parse_key

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


def percentiles_sorted(samples: Sequence[int], pcts: Iterable[float] = _PCTS) -> list[int]:
    """:func:`percentiles_us` of a sorted list holding each sample's value once (the target-th is the answer)."""
    pcts = tuple(pcts)
    if not samples:
        return [0] * (len(pcts) + 1)
    total = len(samples)
    out = [bucket_highest(bucket(samples[max(int(min(p, 100.0) * total / 100 + 0.5), 1) - 1])) for p in pcts]
    out.append(bucket_highest(bucket(samples[-1])))
    return out


@dataclass
class _Slot:
    width: int
    #: Per entry, each sample's value once, as workers' columns bring them (:meth:`add_columns`, the
    #: master's path): extending a list costs a pointer copy a sample, and sorting it when read merges
    #: the workers' sorted runs (timsort, in C) — no dict to grow and hash into.
    samples: dict[EntryKey, list[int]] = field(default_factory=dict)
    #: Per entry, counts added as a mapping (a local runner's slots) or too large to expand.
    counts: dict[EntryKey, Counter[int]] = field(default_factory=dict)
    failures: dict[EntryKey, int] = field(default_factory=dict)
    figures: dict[EntryKey, list[int]] | None = None  # once settled: FIGURES per entry
    saved: list[list[int]] | None = None  # once settled: its rows in a state file, until a late delta

    def add(self, key: EntryKey, counts: Mapping[int, int], failures: int, also: Counts | None = None) -> bool:
        """Add (the bucketed counts to ``also`` too); False when settled (only count and failures could be added)."""
        if self.figures is None:
            into = self.counts.get(key)
            if into is None:
                into = self.counts[key] = Counter()
            add_counts(into, counts, also)
            self.failures[key] = self.failures.get(key, 0) + failures
            return True
        if also is not None:
            add_counts(also, counts)
        self.add_late(key, sum(counts.values()), failures)
        return False

    def add_columns(self, key: EntryKey, columns: Columns) -> None:
        """A worker's columns of one entry (the slot is not settled: the caller checked)."""
        values, counts, failures = columns
        total = sum(counts)
        if total <= EXPAND_RATIO * len(values) + EXPAND_SLACK:
            samples = self.samples.get(key)
            if samples is None:
                samples = self.samples[key] = []
            samples.extend(values if total == len(values) else chain.from_iterable(map(repeat, values, counts)))
        else:  # counts too large to expand (not from a loadkit worker at one-second slots)
            into = self.counts.get(key)
            if into is None:
                into = self.counts[key] = Counter()
            add_counts(into, dict(zip(values, counts, strict=True)))
        self.failures[key] = self.failures.get(key, 0) + failures

    def add_late(self, key: EntryKey, count: int, failures: int) -> None:
        assert self.figures is not None
        self.saved = None
        row = self.figures.setdefault(key, [0, 0, 0, 0, 0, 0])
        total = self.figures.setdefault(TOTAL_KEY, [0, 0, 0, 0, 0, 0])
        for target in (row, total) if not is_facet(key[0]) else (row,):
            target[0] += count
            target[1] += failures

    def compute(self) -> dict[EntryKey, list[int]]:
        if self.figures is not None:
            return self.figures
        figures: dict[EntryKey, list[int]] = {}
        total_failures, in_total, mixed = 0, [], False
        for key in dict.fromkeys([*self.samples, *self.counts]):
            samples, counts = self.samples.get(key, []), self.counts.get(key)
            failures = self.failures.get(key, 0)
            if counts:
                merged = _merged(samples, counts)
                figures[key] = [sum(merged.values()), failures, *percentiles_us(merged)]
            else:
                samples.sort()
                figures[key] = [len(samples), failures, *percentiles_sorted(samples)]
            if not is_facet(key[0]):
                total_failures += failures
                in_total.append(key)
                mixed = mixed or bool(counts)
        if in_total:
            every = list(chain.from_iterable(self.samples.get(k, ()) for k in in_total))
            if mixed:
                merged = _merged(every, *(self.counts[k] for k in in_total if k in self.counts))
                figures[TOTAL_KEY] = [sum(merged.values()), total_failures, *percentiles_us(merged)]
            else:
                every.sort()  # the entries' sorted runs merged
                figures[TOTAL_KEY] = [len(every), total_failures, *percentiles_sorted(every)]
        return figures

    def settle(self) -> None:
        self.figures = self.compute()
        self.samples, self.counts, self.failures = {}, {}, {}


def _merged(samples: Iterable[int], *counts: Mapping[int, int]) -> Counter[int]:
    out = Counter(samples)
    for more in counts:
        add_counts(out, more)
    return out


class Timeline:
    """The master's (or local runner's) slots; see the module docstring::

    tl = Timeline(start=1_700_000_000)
    tl.add(1_700_000_003, ("GET", "/items"), {412: 3, 980: 1}, failures=0)
    tl.series()["entries"]["GET /items"]["p99"]   # ms per slot
    """

    def __init__(self, start: float | None = None) -> None:
        self.start = int(start if start is not None else time.time())
        self._slots: dict[int, _Slot] = {}
        self._key_ids: dict[EntryKey, int] = {}  # entries numbered for the state file (it names each once)
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

        Each entry's samples join the slot's list (:meth:`_Slot.add_columns`); ``also(key)``: a list
        the columns are appended to as well (the master's histograms, ``HdrRecorder.pending_columns``).
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
            for key, columns in entries.items():
                slot.add_columns(key, columns)
                if also is not None:
                    also(key).append(columns)

    def settle(self, now: float | None = None) -> None:
        """Keep only the figures of slots that ended more than :data:`SETTLE_S` ago (all: ``now=inf``)."""
        now = time.time() if now is None else now
        for begin, slot in self._slots.items():
            if slot.figures is None and begin + slot.width + SETTLE_S < now:
                slot.settle()

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

    def state(self) -> dict[str, Any]:
        """The whole timeline, JSON-ready, for a master's state file (:mod:`loadkit.fleet.resume`).

        Entries are named once (``keys``) and numbered in the slots. A settled slot keeps its
        figures only (``[entry, count, failures, p50, p90, p99, max]`` each), made once and kept
        until a late delta changes them (an hour's timeline is rewritten every interval); a slot
        still open keeps its distributions (``[entry, [values], [counts], failures]``), so the
        reports a resumed master gets after the restart add to it exactly. Bounded as the
        report's timeline is (the open slots are the last :data:`SETTLE_S` seconds).
        """
        ids = self._key_ids
        slots: list[list[Any]] = []
        for begin in sorted(self._slots):
            slot = self._slots[begin]
            if slot.figures is not None:
                if slot.saved is None:
                    slot.saved = [[ids.setdefault(k, len(ids)), *row] for k, row in slot.figures.items()]
                slots.append([begin, slot.width, slot.saved, None])
                continue
            open_ = []
            for key in dict.fromkeys([*slot.samples, *slot.counts]):
                counts = _merged(slot.samples.get(key, ()), slot.counts.get(key, {}))
                ordered = sorted(counts.items())
                values, numbers = [v for v, _ in ordered], [c for _, c in ordered]
                open_.append([ids.setdefault(key, len(ids)), values, numbers, slot.failures.get(key, 0)])
            slots.append([begin, slot.width, None, open_])
        return {"start": self.start, "late": self.late, "keys": [_raw(k) for k in ids], "slots": slots}

    def restore(self, saved: Any) -> None:
        """Start again from :meth:`state` (at a resumed run's start); ``ValueError``, nothing kept, when malformed."""
        try:
            keys = [parse_key(k) for k in saved["keys"]]
            restored: dict[int, _Slot] = {}
            for begin, width, figures, open_ in saved["slots"]:
                slot = restored[int(begin)] = _Slot(int(width))
                if figures is not None:
                    slot.figures = {keys[row[0]]: [int(v) for v in row[1:]] for row in figures}
                    if any(len(row) != len(FIGURES) for row in slot.figures.values()):
                        raise ValueError(f"a slot's figures are not {', '.join(FIGURES)}")
                    continue
                for kid, values, numbers, failures in open_:
                    slot.counts[keys[kid]] = Counter({int(v): int(c) for v, c in zip(values, numbers, strict=True)})
                    slot.failures[keys[kid]] = int(failures)
            start, late = int(saved["start"]), int(saved["late"])
        except (KeyError, IndexError, TypeError, ValueError, AttributeError) as exc:
            raise ValueError(f"timeline: not a saved timeline ({exc})") from exc
        self.reset(start)
        self._slots, self.late = restored, late


def _raw(key: EntryKey) -> str:
    return f"{key[0]}\t{key[1]}"


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
