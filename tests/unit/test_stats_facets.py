"""Facets (time to first message) get their own entry but never count as a request."""

from __future__ import annotations

from locust.stats import RequestStats

from loadkit.stats.facets import is_facet, keep_out_of_total
from loadkit.stats.hdr import TOTAL_KEY, HdrRecorder


def test_is_facet() -> None:
    assert is_facet("grpc-ttfm")
    assert not is_facet("grpc") and not is_facet("GET")


def test_locust_stats_log_facets_apart_from_the_total() -> None:
    stats = RequestStats()
    keep_out_of_total(stats)
    keep_out_of_total(stats)  # idempotent: no double wrapping
    stats.log_request("grpc", "/m", 10.5, 100)
    stats.log_request("grpc-ttfm", "/m", 2.25, 0)
    assert stats.total.num_requests == 1
    assert stats.get("/m", "grpc").num_requests == 1
    assert stats.get("/m", "grpc-ttfm").num_requests == 1
    assert stats.get("/m", "grpc-ttfm").max_response_time == 2.25


def test_hdr_total_leaves_facets_out_locally_and_when_merged() -> None:
    worker = HdrRecorder()
    worker.record("grpc", "/m", 10.0)
    worker.record("grpc-ttfm", "/m", 2.0)
    assert worker.histogram(TOTAL_KEY).get_total_count() == 1
    master = HdrRecorder()
    master.merge_deltas(worker.take_deltas())
    assert master.histogram(TOTAL_KEY).get_total_count() == 1
    assert master.histogram(("grpc-ttfm", "/m")).get_total_count() == 1
    assert master.percentiles(TOTAL_KEY).values["p50"] > 9.9
