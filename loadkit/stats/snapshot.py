"""A frozen picture of a run's numbers: what thresholds, reports and the web UI read.

:func:`take_snapshot` joins Locust's own counters (requests, failures, rps, average) with
loadkit's HDR percentiles, per entry and for the total. Everything downstream
(:mod:`~loadkit.stats.thresholds`, :mod:`~loadkit.stats.reports`) is a pure function of a
:class:`RunSnapshot`, so it is tested without a runner.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

from loadkit.stats.hdr import TOTAL_KEY, HdrRecorder, Percentiles


@dataclass(frozen=True)
class EntryStats:
    """One row: an entry ``(request_type, name)`` or the total (``request_type == ""``)."""

    request_type: str
    name: str
    count: int
    failures: int
    rps: float
    avg_ms: float
    min_ms: float
    percentiles: Percentiles

    @property
    def key(self) -> str:
        """``"TYPE name"``, or just ``"Aggregated"`` for the total."""
        return f"{self.request_type} {self.name}" if self.request_type else self.name

    @property
    def fail_ratio(self) -> float:
        return self.failures / self.count if self.count else 0.0

    def as_dict(self) -> dict[str, Any]:
        return {
            "type": self.request_type,
            "name": self.name,
            "key": self.key,
            "count": self.count,
            "failures": self.failures,
            "fail_ratio": self.fail_ratio,
            "rps": self.rps,
            "avg_ms": self.avg_ms,
            "min_ms": self.min_ms,
            "hdr_count": self.percentiles.count,
            "percentiles_ms": self.percentiles.as_dict(),
        }


@dataclass(frozen=True)
class RunSnapshot:
    """Per-entry rows, the total, and run metadata (start time, duration, users, …)."""

    entries: tuple[EntryStats, ...]
    total: EntryStats
    meta: dict[str, Any] = field(default_factory=dict)


def take_snapshot(
    stats: Any,
    recorder: HdrRecorder,
    meta: dict[str, Any] | None = None,
    extra_percentiles: Iterable[float] = (),
) -> RunSnapshot:
    """Combine Locust's ``RequestStats`` (``runner.stats``) with the HDR ``recorder``.

    ``extra_percentiles`` adds percentiles beyond the standard ones (thresholds may ask
    for ``p75``).
    """
    extra = tuple(extra_percentiles)
    entries = []
    keys = set(stats.entries) | {(name, method) for method, name in recorder.keys()}  # noqa: SIM118
    for name, method in sorted(keys, key=lambda k: (k[1], k[0])):
        entry = stats.entries.get((name, method))
        entries.append(_row(method, name, entry, recorder.percentiles((method, name), extra)))
    total = _row("", TOTAL_KEY[1], stats.total, recorder.percentiles(TOTAL_KEY, extra))
    return RunSnapshot(tuple(entries), total, dict(meta or {}))


def _row(request_type: str, name: str, entry: Any, percentiles: Percentiles) -> EntryStats:
    if entry is None or entry.num_requests == 0:
        count = percentiles.count
        return EntryStats(request_type, name, count, 0, 0.0, 0.0, 0.0, percentiles)
    return EntryStats(
        request_type=request_type,
        name=name,
        count=entry.num_requests,
        failures=entry.num_failures,
        rps=float(entry.total_rps),
        avg_ms=float(entry.avg_response_time),
        min_ms=float(entry.min_response_time or 0.0),
        percentiles=percentiles,
    )
