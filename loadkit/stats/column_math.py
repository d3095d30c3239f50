"""A master's arithmetic over packed columns, in numpy: checks, histogram counts, percentiles.

Workers send each slot's distribution as packed columns (:mod:`loadkit.stats.columns`); a master
receives them from every worker every few seconds. Everything here works on many columns at once
— one ``b"".join`` and one ``numpy.frombuffer``, then whole-array operations — so a sample costs
the master no Python object and no pass of the interpreter (the whole merge path, checks to
percentiles: ~400 ns a sample measured, ~780 before; what is left is per entry, not per sample;
``bench/fleet_scale.py`` measures the master against plain Locust's).

Exact, like the code it replaced: the histograms' cells are found with HdrHistogram's own index
arithmetic (:func:`count_into`), and percentiles follow its rule value for value
(:func:`figures`, as :func:`loadkit.stats.slot.percentiles_us`). Only a master's merge path
imports this module (numpy costs ~60 ms and ~14 MB to import: workers never load it). Pure.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np
from hdrh.histogram import HdrHistogram

from loadkit.stats.buckets import HIGHEST_US, bucket, bucket_highest
from loadkit.stats.columns import WIDTH, Columns, joined

U4 = np.dtype("<u4")
#: :func:`figures` expands counts into repeated values while they add up to at most this many times
#: the values, plus a little (one-second slots at µs resolution: counts near 1).
_EXPAND_RATIO = 4
_EXPAND_SLACK = 256
_PCTS = (50.0, 90.0, 99.0)


def arrays(columns: Sequence[Columns]) -> tuple[np.ndarray[Any, Any], np.ndarray[Any, Any] | None]:
    """All values of ``columns`` in one array, and their counts (None: every count is 1)."""
    values, counts, _ = joined(columns)
    return np.frombuffer(values, U4), np.frombuffer(counts, U4) if counts else None


def out_of_range(values: bytes, counts: bytes) -> str | None:
    """What is wrong with the numbers of a report's columns, joined (None: values in range, counts > 0)."""
    if values and int(np.frombuffer(values, U4).max()) > HIGHEST_US:
        return f"a value beyond {HIGHEST_US} µs"
    if counts and int(np.frombuffer(counts, U4).min()) == 0:
        return "a count of 0"
    return None


def sums(counts: bytes, sizes: Sequence[int]) -> list[int]:
    """The sum of each of consecutive counts columns of ``sizes`` numbers (each > 0) joined in ``counts``."""
    starts = np.cumsum([0, *sizes[:-1]])
    return [int(s) for s in np.add.reduceat(np.frombuffer(counts, U4).astype(np.int64), starts)]


def count_of(columns: Columns) -> int:
    """How many samples one entry's columns hold."""
    values, counts, _ = columns
    return len(values) // WIDTH if not counts else int(np.frombuffer(counts, U4).sum(dtype=np.int64))


def count_into(histogram: HdrHistogram, columns: Sequence[Columns]) -> None:
    """``histogram.record_value(value, count)`` for every pair of every columns (values in range: checked).

    HdrHistogram's ``_counts_index_for`` over the whole array, then one ``bincount`` added to its cells.
    """
    values, counts = arrays(columns)
    if not values.size:
        return
    v = values.astype(np.int64)
    unit, half_magnitude = histogram.unit_magnitude, histogram.sub_bucket_half_count_magnitude
    bit_length = np.frexp((v | histogram.sub_bucket_mask).astype(np.float64))[1].astype(np.int64)
    bucket_index = bit_length - (unit + half_magnitude + 1)
    index = ((bucket_index + 1) << half_magnitude) + (v >> (bucket_index + unit)) - histogram.sub_bucket_half_count
    cells = np.ctypeslib.as_array(histogram.counts)
    if counts is None:
        cells += np.bincount(index, minlength=cells.size).astype(np.uint64)
        total = int(values.size)
    else:  # float weights are exact: a report's counts add up to far less than 2**53
        cells += np.bincount(index, weights=counts, minlength=cells.size).astype(np.uint64)
        total = int(counts.sum(dtype=np.int64))
    histogram.total_count += total
    histogram.min_value = min(histogram.min_value, int(values.min()))
    histogram.max_value = max(histogram.max_value, int(values.max()))


def figures(columns: Sequence[Columns], pcts: Sequence[float] = _PCTS) -> list[int]:
    """``[count, *values at pcts, max]`` of every sample in ``columns``, as HdrHistogram reports them.

    Its rule: the target count is ``int(pct * total / 100 + 0.5)`` (at least 1); the value is the
    highest equivalent value of the bucket holding the target-th sample. Without counts the target-th
    sample is picked by ``numpy.partition`` (no full sort); with them, the same after ``numpy.repeat``
    while that stays small (counts near 1, as loadkit's workers send), else by a running sum.
    """
    values, counts = arrays(columns)
    if not values.size:
        return [0] * (len(pcts) + 2)
    if counts is not None and int(counts.sum(dtype=np.int64)) <= _EXPAND_RATIO * values.size + _EXPAND_SLACK:
        values, counts = np.repeat(values, counts), None
    if counts is None:
        total = int(values.size)
        ranks = [max(int(min(p, 100.0) * total / 100 + 0.5), 1) - 1 for p in pcts]
        picked = np.partition(values, [*ranks, total - 1])
        found = [int(picked[r]) for r in ranks]
        highest = int(picked[total - 1])
    else:
        order = np.argsort(values, kind="stable")
        ordered = values[order]
        running = np.cumsum(counts[order], dtype=np.int64)
        total = int(running[-1])
        targets = [max(int(min(p, 100.0) * total / 100 + 0.5), 1) for p in pcts]
        found = [int(ordered[i]) for i in np.searchsorted(running, targets)]
        highest = int(ordered[-1])
    return [total, *(bucket_highest(bucket(v)) for v in found), bucket_highest(bucket(highest))]


def distribution(columns: Sequence[Columns]) -> tuple[list[int], list[int]]:
    """Distinct values, sorted, and the count of each (a slot's distribution for a state file)."""
    values, counts = arrays(columns)
    distinct, where = np.unique(values, return_inverse=True)
    totals = np.bincount(where, weights=counts, minlength=distinct.size)
    return [int(v) for v in distinct], [int(c) for c in totals]
