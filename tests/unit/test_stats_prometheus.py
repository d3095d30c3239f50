"""Prometheus: what a 1,000-worker fleet exports per worker stays bounded; fleet totals always."""

from __future__ import annotations

from typing import Any

from loadkit.stats import prometheus


class _Pool:
    """A data pool's ``summary()`` (the collector reads nothing else of it)."""

    def __init__(self, workers: dict[str, dict[str, int]]) -> None:
        self.workers = workers

    def summary(self) -> dict[str, Any]:
        return {"rows": 10, "available": 5, "outstanding": 5, "rounds": 1, "workers": self.workers}


class _Leasing:
    def __init__(self, pool: _Pool) -> None:
        self.pool = pool


def test_data_rows_per_worker_for_the_busiest_only_and_fleet_totals_for_all() -> None:
    workers = {f"w{i:04d}": {"leased": i, "used": i, "returned": 1, "outstanding": i % 7} for i in range(1000)}
    families = {f.name: f for f in prometheus._data(_Leasing(_Pool(workers)))}
    leased = families["loadkit_data_rows_leased"]
    assert len(leased.samples) == prometheus.WORKER_SERIES
    shown = {s.labels["worker"] for s in leased.samples}
    # the most rows outstanding (6: i % 7 == 6), then the most leased among those
    assert shown == {
        f"w{i:04d}" for i in sorted((i for i in range(1000) if i % 7 == 6), reverse=True)[: prometheus.WORKER_SERIES]
    }
    for key in ("leased", "used", "returned"):
        [total] = families[f"loadkit_fleet_data_rows_{key}"].samples
        assert total.value == sum(w[key] for w in workers.values())
