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
from itertools import accumulate

from loadkit.stats.buckets import bucket, bucket_highest
from loadkit.stats.columns import Columns, joined, pack
from loadkit.stats.facets import is_facet
from loadkit.stats.hdr import TOTAL_KEY, Counts, EntryKey, add_counts

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


def merged(*counts: Mapping[int, int]) -> Counter[int]:
    """Counts added into one ``{value: count}`` (bucketed: :func:`loadkit.stats.hdr.add_counts`)."""
    out: Counter[int] = Counter()
    for more in counts:
        add_counts(out, more)
    return out


class Slot:
    """One slot of a timeline; see the module docstring."""

    __slots__ = ("counts", "failures", "keys", "packed", "parts", "width")

    def __init__(self, width: int) -> None:
        self.width = width
        #: Per entry, workers' packed columns as they came (:meth:`add_columns`, the master's path):
        #: appending costs nothing a sample; they are read together, in numpy, when the slot is computed.
        self.parts: dict[EntryKey, list[Columns]] = {}
        #: Per entry, counts added as a mapping (a local runner's slots, a restored open slot).
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
        parts = self.parts.get(key)
        if parts is None:
            parts = self.parts[key] = []
        parts.append(columns)
        self.failures[key] = self.failures.get(key, 0) + columns[2]

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
        total_failures, in_total = 0, []
        together: dict[EntryKey, Columns] = {}  # each entry's columns as one: the total reads them again
        for key in dict.fromkeys([*self.parts, *self.counts]):
            failures = self.failures.get(key, 0)
            count, *values = self._figures([key], together)
            figures[key] = [count, failures, *values]
            if not is_facet(key[0]):
                total_failures += failures
                in_total.append(key)
        if in_total:
            count, *values = self._figures(in_total, together)
            figures[TOTAL_KEY] = [count, total_failures, *values]
        return figures

    def _figures(self, keys: list[EntryKey], together: dict[EntryKey, Columns]) -> list[int]:
        """``[count, p50, p90, p99, max]`` of these entries' samples together."""
        if not self.parts:  # a local runner's slot: no numpy
            both = merged(*(self.counts[k] for k in keys))
            return [sum(both.values()), *percentiles_us(both)]
        import loadkit.stats.column_math as column_math  # numpy: workers' columns reach a master only

        for key in keys:
            if key not in together:
                together[key] = joined(self._columns(key))
        return column_math.figures([together[key] for key in keys])

    def _columns(self, key: EntryKey) -> list[Columns]:
        """Every sample of an entry as columns (counts added as a mapping packed too)."""
        columns = self.parts.get(key, [])
        if self.counts.get(key):
            columns = [*columns, (*pack(self.counts[key]), 0)]
        return columns

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
        self.parts, self.counts, self.failures = {}, {}, {}

    def open_rows(self) -> list[tuple[EntryKey, list[int], list[int], int]]:
        """An open slot's distributions: ``(entry, values, counts, failures)`` each (for a state file)."""
        rows = []
        for key in dict.fromkeys([*self.parts, *self.counts]):
            if key in self.parts:
                import loadkit.stats.column_math as column_math

                values, counts = column_math.distribution(self._columns(key))
            else:
                ordered = sorted(self.counts[key].items())
                values, counts = [v for v, _ in ordered], [c for _, c in ordered]
            rows.append((key, values, counts, self.failures.get(key, 0)))
        return rows
