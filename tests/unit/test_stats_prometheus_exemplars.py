"""The latency histogram's bands: the fast count equals the package's recorded iterator (exact)."""

from __future__ import annotations

import random

from loadkit.stats.hdr import new_histogram
from loadkit.stats.prometheus_exemplars import EDGES_US, band_counts


def _by_iterator(histogram: object) -> tuple[list[int], float]:
    """What latency_histograms computed before: the package's own iterator and mean."""
    counts = [0] * len(EDGES_US)
    for item in histogram.get_recorded_iterator():  # type: ignore[attr-defined]
        for i, edge in enumerate(EDGES_US):
            if item.value_iterated_to <= edge:
                counts[i] += item.count_at_value_iterated_to
                break
    return counts, histogram.get_mean_value() * histogram.get_total_count()  # type: ignore[attr-defined]


def test_band_counts_and_sum_equal_the_recorded_iterator() -> None:
    rng = random.Random(7)
    histogram = new_histogram()
    for _ in range(20_000):
        histogram.record_value(int(rng.lognormvariate(8.0, 2.5)) % 3_600_000_000, rng.randint(1, 3))
    for edge in EDGES_US:  # the edges themselves and their neighbours
        for value in (edge - 1, edge, edge + 1):
            histogram.record_value(value)
    counts, sum_us = band_counts(histogram)
    want_counts, want_sum = _by_iterator(histogram)
    assert counts == want_counts
    assert sum_us == want_sum
    assert sum(counts) < histogram.get_total_count()  # some beyond the last edge: in +Inf only


def test_an_empty_histogram_has_empty_bands() -> None:
    assert band_counts(new_histogram()) == ([0] * len(EDGES_US), 0)
