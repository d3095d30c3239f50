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

from collections.abc import Iterator
from typing import Any

from prometheus_client.core import HistogramMetricFamily, Metric
from prometheus_client.samples import Exemplar as PromExemplar

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
        counts = [0] * len(EDGES_US)
        for item in histogram.get_recorded_iterator():
            for i, edge in enumerate(EDGES_US):
                if item.value_iterated_to <= edge:
                    counts[i] += item.count_at_value_iterated_to
                    break
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
        family.add_metric([key[0], key[1]], buckets, sum_value=histogram.get_mean_value() * total / 1e6)
    yield family


def _bucket(le: str, count: int, candidates: list[Exemplar], low_ms: float, high_ms: float) -> tuple[Any, ...]:
    inside = [e for e in candidates if low_ms < e.latency_ms <= high_ms]
    if not inside:
        return (le, float(count))
    slowest = max(inside, key=lambda e: (e.latency_ms, e.trace_id))
    return (le, float(count), PromExemplar({"trace_id": slowest.trace_id}, slowest.latency_ms / 1000.0, slowest.time))
