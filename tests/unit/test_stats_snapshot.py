"""take_snapshot: Locust's counters joined with loadkit's HDR percentiles."""

from __future__ import annotations

import pytest
from locust.stats import RequestStats

from loadkit.stats.hdr import HdrRecorder
from loadkit.stats.snapshot import take_snapshot


def _both(stats: RequestStats, rec: HdrRecorder, rtype: str, name: str, ms: float, failed: bool = False) -> None:
    stats.log_request(rtype, name, ms, 10)
    if failed:
        stats.log_error(rtype, name, RuntimeError("boom"))
    rec.record(rtype, name, ms)


def test_rows_join_locust_counts_and_hdr_percentiles() -> None:
    stats, rec = RequestStats(), HdrRecorder()
    for ms in (0.31, 0.42, 0.55, 0.97):
        _both(stats, rec, "grpc", "/demo.v1.Demo/GetItem", ms)
    _both(stats, rec, "GET", "/items", 12.0, failed=True)
    snap = take_snapshot(stats, rec, {"host": "h"}, extra_percentiles=[75.0])
    assert [row.key for row in snap.entries] == ["GET /items", "grpc /demo.v1.Demo/GetItem"]
    grpc = snap.entries[1]
    assert (grpc.count, grpc.failures, grpc.percentiles.count) == (4, 0, 4)
    # Locust keeps whole ms below 100 ms in its buckets; HDR keeps the sub-ms values.
    assert grpc.percentiles.values["p50"] == pytest.approx(0.42, rel=1e-3)
    assert grpc.percentiles.values["p75"] == pytest.approx(0.55, rel=1e-3)
    assert grpc.avg_ms == pytest.approx((0.31 + 0.42 + 0.55 + 0.97) / 4)
    items = snap.entries[0]
    assert (items.failures, items.fail_ratio) == (1, 1.0)
    assert snap.total.key == "Aggregated" and snap.total.count == 5 == snap.total.percentiles.count
    assert snap.meta == {"host": "h"}


def test_an_entry_only_hdr_saw_still_appears() -> None:
    stats, rec = RequestStats(), HdrRecorder()
    rec.record("grpc-ttfm", "/demo.v1.Demo/ListItems", 0.2)
    [row] = take_snapshot(stats, rec).entries
    assert (row.key, row.count, row.failures) == ("grpc-ttfm /demo.v1.Demo/ListItems", 1, 0)
    assert row.as_dict()["percentiles_ms"]["max"] == pytest.approx(0.2, rel=1e-3)


def test_pure_stats_modules_import_neither_locust_nor_gevent() -> None:
    import subprocess
    import sys

    code = (
        "import sys, loadkit.stats, loadkit.stats.reports, loadkit.stats.snapshot;"
        "print('locust' in sys.modules, 'gevent' in sys.modules)"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True, timeout=60)
    assert out.stdout.split() == ["False", "False"]
