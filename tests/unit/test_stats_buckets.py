"""loadkit.stats.buckets: loadkit's buckets are HdrHistogram's own, at its range and precision."""

from __future__ import annotations

import pytest

from loadkit.stats.buckets import HIGHEST_US, bucket, bucket_highest
from loadkit.stats.hdr import new_histogram


@pytest.mark.parametrize("value", [0, 1, 2047, 2048, 2049, 4095, 4097, 123_456, 9_999_999, HIGHEST_US])
def test_bucket_is_hdrhistograms_lowest_and_highest_equivalent(value: int) -> None:
    h = new_histogram()
    assert bucket(value) == h.get_lowest_equivalent_value(value)
    assert bucket_highest(bucket(value)) == h.get_highest_equivalent_value(value)
