"""The latency histogram with OpenMetrics exemplars: from a Grafana panel to the slow request's trace.

OpenMetrics allows exemplars on histogram buckets and counters, not on a summary's quantiles
(``loadkit_request_duration_seconds``), so the exemplars ride on a histogram of the same
latencies, one series per entry::

    loadkit_request_latency_seconds_bucket{type,name,le} count # {trace_id="..."} 0.1234 1733350000.123

Buckets are the exemplar bands' edges (powers of 4 in µs, 256 µs to 67 s, then +Inf); counts
come from the merged HDR histogram (its 3 significant digits), and each bucket carries the
slowest exemplar of its range (:mod:`loadkit.stats.exemplars`). Exemplars appear only in the
OpenMetrics exposition (a scraper sending ``Accept: application/openmetrics-text``, as
Prometheus does with exemplar storage on); the classic text format leaves them out.
"""

from __future__ import annotations

from bisect import bisect_left
from collections.abc import Iterator
from itertools import compress
from typing import Any

from hdrh.histogram import HdrHistogram
from prometheus_client.core import HistogramMetricFamily, Metric
from prometheus_client.samples import Exemplar as PromExemplar

from loadkit.stats.buckets import bucket_highest
from loadkit.stats.exemplars import Exemplar, ExemplarSet

#: Bucket upper bounds in µs: 4**4 (256 µs) to 4**13 (67 s).
EDGES_US = tuple(4**b for b in range(4, 14))


def latency_histograms(recorder: Any, exemplars: dict[tuple[str, str], ExemplarSet]) -> Iterator[Metric]:
    """The ``loadkit_request_latency_seconds`` family from an HDR recorder and the run's exemplar sets."""
    family = HistogramMetricFamily(
        "loadkit_request_latency_seconds",
        "Response time per entry (merged HDR counts), with the slowest request of each bucket as an exemplar",
        labels=["type", "name"],
    )
    entry_keys = recorder.keys()  # HdrRecorder.keys(): entries with samples, sorted
    for key in entry_keys:
        histogram = recorder.histogram(key)
        counts, sum_us = band_counts(histogram)
        kept = exemplars.get(key)
        candidates = kept.all() if kept is not None else []
        buckets: list[Any] = []
        cumulative, low = 0, 0.0
        for edge, count in zip(EDGES_US, counts, strict=True):
            cumulative += count
            buckets.append(_bucket(f"{edge / 1e6:g}", cumulative, candidates, low, edge / 1000.0))
            low = edge / 1000.0
        total = histogram.get_total_count()
        buckets.append(_bucket("+Inf", total, candidates, low, float("inf")))
        family.add_metric([key[0], key[1]], buckets, sum_value=sum_us / 1e6)
    yield family


def band_counts(histogram: HdrHistogram) -> tuple[list[int], int]:
    """Counts per band of :data:`EDGES_US` and the sum in µs, as the package's recorded iterator gives them.

    A bucket counts in the first band whose edge its highest value does not pass (beyond the last
    edge: in +Inf only); the sum adds each bucket's median value times its count, as
    ``get_mean_value`` does. The package's iterator costs ~20 µs of Python per bucket (6 s a
    scrape at 100 workers); here the non-empty cells are found in C (``compress``) and each
    costs a few operations (loadkit's histograms: unit 1 µs, 2,048 sub-buckets).
    """
    cells = histogram.counts[: histogram.counts_len]
    half_magnitude, half = histogram.sub_bucket_half_count_magnitude, histogram.sub_bucket_half_count
    unit = histogram.unit_magnitude
    counts = [0] * len(EDGES_US)
    sum_us = 0
    for index, count in zip(compress(range(len(cells)), cells), compress(cells, cells), strict=True):
        bucket_index = (index >> half_magnitude) - 1
        sub_bucket = (index & (half - 1)) + half
        if bucket_index < 0:
            sub_bucket, bucket_index = sub_bucket - half, 0
        lowest = sub_bucket << (bucket_index + unit)
        highest = bucket_highest(lowest)
        sum_us += count * (lowest + ((highest - lowest + 1) >> 1))
        band = bisect_left(EDGES_US, highest)
        if band < len(counts):
            counts[band] += count
    return counts, sum_us


def _bucket(le: str, count: int, candidates: list[Exemplar], low_ms: float, high_ms: float) -> tuple[Any, ...]:
    inside = [e for e in candidates if low_ms < e.latency_ms <= high_ms]
    if not inside:
        return (le, float(count))
    slowest = max(inside, key=lambda e: (e.latency_ms, e.trace_id))
    return (le, float(count), PromExemplar({"trace_id": slowest.trace_id}, slowest.latency_ms / 1000.0, slowest.time))
