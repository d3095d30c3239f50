"""Distributions as columns, ``values`` and ``counts``, added to a ``Counter`` mostly in C.

A worker's report carries each slot's distribution of each entry as two lists
(:func:`loadkit.stats.slot_codec.encode_slots`); the master adds every one of them to the timeline's
slot (a list of samples, :class:`loadkit.stats.timeline.Timeline`) and to its histograms' counts. A
Python loop that buckets and adds each pair (~0.5 µs a value), called once per entry per slot per
report, was most of what loadkit added to a master's CPU per worker. So for the histograms the
master keeps the columns as they came, in a list per entry, and adds them in bulk when a figure is
read or every couple of seconds (:func:`count_many`):
every value once with one ``Counter.update`` over all of them (counted in C,
``_count_elements``), then only the extra of the counts above 1, picked in C too
(``itertools.compress``): at one-second, microsecond resolution nearly every count is 1.

    >>> from collections import Counter
    >>> into = Counter({100: 1})
    >>> count_many(into, [([100, 250], [2, 1], 0), ([250], [1], 0)])
    >>> dict(into)
    {100: 3, 250: 2}

Values are added as they came (a loadkit worker sends them bucketed; the decoder checked their
range); whoever reads percentiles buckets them (:func:`loadkit.stats.timeline.percentiles_us`,
HdrHistogram's index arithmetic in :func:`loadkit.stats.hdr.record_counts`), so the figures stay
HDR-exact. Pure.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, Sequence
from itertools import chain, compress, repeat
from operator import gt

#: One entry's distribution as it came in a report: ``(values, counts, failures)``.
Columns = tuple[Sequence[int], Sequence[int], int]
#: Expand counts into repeated values (the timeline's sample lists) while they add up to at most
#: this many times the values, plus a little: one-second slots at µs resolution have counts near 1.
EXPAND_RATIO = 4
EXPAND_SLACK = 256


def count_many(into: Counter[int], columns: Iterable[Columns]) -> None:
    """``into[v] += c`` for every pair of every columns (equal lengths, counts > 0: the decoder checked)."""
    batch = list(columns)
    into.update(chain.from_iterable([c[0] for c in batch]))  # + 1 each, in C
    counts = list(chain.from_iterable([c[1] for c in batch]))
    if sum(counts) == len(counts):  # every count is 1 (each is at least 1)
        return
    many = list(map(gt, counts, repeat(1)))
    values = chain.from_iterable([c[0] for c in batch])
    get = into.get
    for value, count in zip(compress(values, many), compress(counts, many), strict=True):
        into[value] = get(value, 0) + count - 1
