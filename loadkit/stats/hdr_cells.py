"""Percentiles read from an HdrHistogram's counts array in C: the package's own rule, not its loop.

``HdrHistogram.get_percentile_to_value_dict`` walks the ~23,000 cells of a loadkit histogram
in Python (~6 ms per entry); a master reads every entry's percentiles for each checkpoint, web
request, Prometheus scrape and threshold check. :func:`percentile_values` sums the cells with
``itertools.accumulate`` and finds each target with ``bisect``: the same targets
(``int(pct * total / 100 + 0.5)``, at least 1), the same cell, the same value (the cell's
highest equivalent value; its lowest for the 0th percentile). Pure.

    >>> from loadkit.stats.hdr import new_histogram
    >>> h = new_histogram()
    >>> h.record_value(1000, 9); h.record_value(5000)
    True
    True
    >>> percentile_values(h, [50.0, 100.0]) == h.get_percentile_to_value_dict([50.0, 100.0])
    True
"""

from __future__ import annotations

from bisect import bisect_left
from collections.abc import Iterable
from itertools import accumulate

from hdrh.histogram import HdrHistogram


def percentile_values(histogram: HdrHistogram, percentiles: Iterable[float]) -> dict[float, int]:
    """``{percentile: value}`` exactly as ``histogram.get_percentile_to_value_dict(percentiles)``."""
    total = histogram.get_total_count()
    wanted = sorted(set(percentiles))
    if total == 0 or not wanted:
        return {}
    running = list(accumulate(histogram.counts[: histogram.counts_len]))
    out: dict[float, int] = {}
    for pct in wanted:
        if pct > 100:
            break  # the package stops at the first percentile beyond 100
        target = max(int(min(pct, 100.0) * total / 100 + 0.5), 1)
        index = bisect_left(running, target)
        if index >= len(running):
            break
        value = histogram.get_value_from_index(index)
        out[pct] = (
            histogram.get_highest_equivalent_value(value) if pct else histogram.get_lowest_equivalent_value(value)
        )
    return out


def distribution(histogram: HdrHistogram, ticks_per_half: int = 5) -> dict[str, list[float]]:
    """The percentile distribution HdrHistogram plots: ``{"percentile": [...], "ms": [...]}``.

    Percentiles step as HdrHistogram's own output does (``ticks_per_half`` per halving of
    the distance to 100 %: 0, 10, …, 50, 55, …, 75, 77.5, …) up to the one of the last
    sample, ``100 * (1 - 1/count)``; then 100 (the max). Plotted against ``1/(1 - p/100)``
    on a log axis, the tail gets as much room as the body.
    """
    count = histogram.get_total_count()
    if count == 0:
        return {"percentile": [], "ms": []}
    ladder, step = [], 0
    while True:
        pct = 100.0 * (1.0 - 0.5 ** (step / ticks_per_half))
        if 1.0 / (1.0 - pct / 100.0) > count:
            break
        ladder.append(round(pct, 6))
        step += 1
    values = percentile_values(histogram, ladder)
    ladder = sorted(values)
    return {
        "percentile": [*ladder, 100.0],
        "ms": [*(values[p] / 1000.0 for p in ladder), histogram.get_max_value() / 1000.0],
    }
