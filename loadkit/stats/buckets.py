"""loadkit's HDR range and buckets, and a packed distribution's type: the bottom of loadkit.stats.

Every part that turns a latency into a bucket agrees on these — the recorder and its histograms
(:mod:`loadkit.stats.hdr`), the worker's packed columns (:mod:`loadkit.stats.columns`) and the
master's numpy arithmetic over them (:mod:`loadkit.stats.column_math`) — so they live in a module
that imports nothing of loadkit's, and those three can use each other without a cycle. Pure.

    >>> bucket(5003), bucket_highest(bucket(5003))
    (5000, 5003)
"""

from __future__ import annotations

#: Smallest and largest recordable values, in microseconds (1 µs .. 1 hour).
LOWEST_US = 1
HIGHEST_US = 3_600 * 1_000_000
SIGNIFICANT_DIGITS = 3
#: 3 significant digits: HdrHistogram's 2048 sub-buckets; values below 2048 µs are exact.
SUB_BUCKET_BITS = 11
#: One entry's distribution as a worker sends it: packed ``(values, counts, failures)``
#: (:mod:`loadkit.stats.columns` packs and reads them).
Columns = tuple[bytes, bytes, int]


def bucket(value_us: int) -> int:
    """The lowest value of ``value_us``'s HdrHistogram bucket (loadkit's range and precision)."""
    shift = value_us.bit_length() - SUB_BUCKET_BITS
    return value_us if shift <= 0 else (value_us >> shift) << shift


def bucket_highest(bucketed_us: int) -> int:
    """The highest value of the bucket whose lowest value is ``bucketed_us`` (HdrHistogram reports that)."""
    shift = bucketed_us.bit_length() - SUB_BUCKET_BITS
    return bucketed_us if shift <= 0 else bucketed_us + (1 << shift) - 1
