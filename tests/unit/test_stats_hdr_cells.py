"""Percentiles from the counts array: equal to the package's own loop, value for value."""

from __future__ import annotations

import random

import pytest

from loadkit.stats.hdr import new_histogram
from loadkit.stats.hdr_cells import percentile_values

LADDER = [0.0, 1.0, 10.0, 25.0, 50.0, 75.0, 90.0, 95.0, 99.0, 99.5, 99.9, 99.99, 99.999, 100.0]


@pytest.mark.parametrize("seed", [1, 2, 3])
def test_percentile_values_equal_the_packages_dict(seed: int) -> None:
    rng = random.Random(seed)
    histogram = new_histogram()
    for _ in range(rng.randint(1, 5000)):
        histogram.record_value(int(rng.lognormvariate(rng.uniform(2, 12), 1.5)) % 3_600_000_000, rng.randint(1, 5))
    wanted = [*LADDER, *(rng.uniform(0, 100) for _ in range(20)), 150.0]
    assert percentile_values(histogram, wanted) == histogram.get_percentile_to_value_dict(wanted)


def test_an_empty_histogram_has_no_percentiles() -> None:
    assert percentile_values(new_histogram(), LADDER) == {} == new_histogram().get_percentile_to_value_dict(LADDER)
