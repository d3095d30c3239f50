"""One timeline slot: every sample while it may still change, then only its figures, packed.

A :class:`~loadkit.stats.timeline.Timeline` holds a slot per second (wider as the run grows). While
a slot is open (the last :data:`~loadkit.stats.timeline.SETTLE_S` seconds) it keeps each entry's
samples, so workers' reports add to it exactly and its percentiles are HDR-exact. Once settled it
keeps only :data:`FIGURES` per entry, packed in one ``array`` with its entry keys in a tuple shared
between slots (:meth:`Slot.settle`'s ``intern``): ~75 bytes per entry and slot instead of ~490 for a
dict of lists of int objects. A master holds a settled slot per entry for the whole run, so that is
what its memory grows by over a long run (an hour of 20 entries: 1.9 MB instead of 12.6 MB). Pure.
"""

from __future__ import annotations

from array import array
from bisect import bisect_left
from collections import Counter
from collections.abc import Callable, Iterable, Mapping, Sequence
from itertools import accumulate, chain, repeat

from loadkit.stats.columns import EXPAND_RATIO, EXPAND_SLACK, Columns
from loadkit.stats.facets import is_facet
from loadkit.stats.hdr import TOTAL_KEY, Counts, EntryKey, add_counts, bucket, bucket_highest

#: The figures of a slot, per entry, in this order.
FIGURES = ("count", "failures", "p50", "p90", "p99", "max")
_PCTS = (50.0, 90.0, 99.0)
_N = len(FIGURES)
#: Makes the shared copy of a slot's tuple of entry keys (:meth:`Slot.settle`); by default the tuple itself.
Intern = Callable[[tuple[EntryKey, ...]], tuple[EntryKey, ...]]


def _own(keys: tuple[EntryKey, ...]) -> tuple[EntryKey, ...]:
    return keys


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


def percentiles_sorted(samples: Sequence[int], pcts: Iterable[float] = _PCTS) -> list[int]:
    """:func:`percentiles_us` of a sorted list holding each sample's value once (the target-th is the answer)."""
    pcts = tuple(pcts)
    if not samples:
        return [0] * (len(pcts) + 1)
    total = len(samples)
    out = [bucket_highest(bucket(samples[max(int(min(p, 100.0) * total / 100 + 0.5), 1) - 1])) for p in pcts]
    out.append(bucket_highest(bucket(samples[-1])))
    return out


def merged(samples: Iterable[int], *counts: Mapping[int, int]) -> Counter[int]:
    """Samples (each value once per sample) and counts added into one ``{value: count}``."""
    out = Counter(samples)
    for more in counts:
        add_counts(out, more)
    return out


class Slot:
    """One slot of a timeline; see the module docstring."""

    __slots__ = ("counts", "failures", "keys", "packed", "samples", "width")

    def __init__(self, width: int) -> None:
        self.width = width
        #: Per entry, each sample's value once, as workers' columns bring them (:meth:`add_columns`, the
        #: master's path): extending a list costs a pointer copy a sample, and sorting it when read merges
        #: the workers' sorted runs (timsort, in C) — no dict to grow and hash into.
        self.samples: dict[EntryKey, list[int]] = {}
        #: Per entry, counts added as a mapping (a local runner's slots) or too large to expand.
        self.counts: dict[EntryKey, Counter[int]] = {}
        self.failures: dict[EntryKey, int] = {}
        #: Once settled: its entries (a tuple shared with other slots) and their FIGURES one after the other.
        self.keys: tuple[EntryKey, ...] = ()
        self.packed: array[int] | None = None

    @property
    def settled(self) -> bool:
        return self.packed is not None

    def add(self, key: EntryKey, counts: Mapping[int, int], failures: int, also: Counts | None = None) -> bool:
        """Add (the bucketed counts to ``also`` too); False when settled (only count and failures could be added)."""
        if self.packed is None:
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
        """A settled slot's count and failures grow (a worker's delta arrived late); percentiles stay."""
        assert self.packed is not None
        for target in (key, TOTAL_KEY) if not is_facet(key[0]) else (key,):
            i = self._row(target)
            self.packed[i] += count
            self.packed[i + 1] += failures

    def _row(self, key: EntryKey) -> int:
        """Where ``key``'s figures start in :attr:`packed` (a row of zeros added for a new entry)."""
        assert self.packed is not None
        try:
            return self.keys.index(key) * _N
        except ValueError:
            self.keys = (*self.keys, key)
            self.packed.extend([0] * _N)
            return (len(self.keys) - 1) * _N

    def compute(self) -> dict[EntryKey, list[int]]:
        """FIGURES per entry and for the total (a new dict each call)."""
        packed = self.packed
        if packed is not None:
            return {key: packed[i * _N : (i + 1) * _N].tolist() for i, key in enumerate(self.keys)}
        figures: dict[EntryKey, list[int]] = {}
        total_failures, in_total, mixed = 0, [], False
        for key in dict.fromkeys([*self.samples, *self.counts]):
            samples, counts = self.samples.get(key, []), self.counts.get(key)
            failures = self.failures.get(key, 0)
            if counts:
                both = merged(samples, counts)
                figures[key] = [sum(both.values()), failures, *percentiles_us(both)]
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
                both = merged(every, *(self.counts[k] for k in in_total if k in self.counts))
                figures[TOTAL_KEY] = [sum(both.values()), total_failures, *percentiles_us(both)]
            else:
                every.sort()  # the entries' sorted runs merged
                figures[TOTAL_KEY] = [len(every), total_failures, *percentiles_sorted(every)]
        return figures

    def settle(self, intern: Intern = _own) -> None:
        """Keep only the figures, packed (``intern``: the shared copy of a tuple of entry keys)."""
        self.restore_figures(self.compute(), intern)

    def restore_figures(
        self,
        figures: Mapping[EntryKey, Sequence[int]],
        intern: Intern = _own,
    ) -> None:
        """Become a settled slot with these FIGURES per entry (``ValueError`` when a row is not FIGURES long)."""
        if any(len(row) != _N for row in figures.values()):
            raise ValueError(f"a slot's figures are not {', '.join(FIGURES)}")
        self.keys = intern(tuple(figures))
        self.packed = array("q", [int(value) for key in self.keys for value in figures[key]])
        self.samples, self.counts, self.failures = {}, {}, {}

    def open_rows(self) -> list[tuple[EntryKey, list[int], list[int], int]]:
        """An open slot's distributions: ``(entry, values, counts, failures)`` each (for a state file)."""
        rows = []
        for key in dict.fromkeys([*self.samples, *self.counts]):
            ordered = sorted(merged(self.samples.get(key, ()), self.counts.get(key, {})).items())
            rows.append((key, [v for v, _ in ordered], [c for _, c in ordered], self.failures.get(key, 0)))
        return rows
