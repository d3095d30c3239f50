"""HDR recording, deltas and merging (pure)."""

from __future__ import annotations

import random
import time

import pytest

from loadkit.stats.buckets import HIGHEST_US, bucket
from loadkit.stats.hdr import TOTAL_KEY, HdrRecorder, ms_to_us, new_histogram, record_counts
from loadkit.stats.slot_codec import decode_columns, encode_slots


def _latencies(n: int, seed: int) -> list[float]:
    rng = random.Random(seed)
    return [rng.uniform(0.05, 1.0) if rng.random() < 0.8 else rng.lognormvariate(2.0, 1.5) for _ in range(n)]


def test_ms_to_us_rounds_and_clamps() -> None:
    assert ms_to_us(0.4125) == 412 or ms_to_us(0.4125) == 413
    assert ms_to_us(-1.0) == 0
    assert ms_to_us(10 * 3_600_000.0) == HIGHEST_US


def test_percentiles_match_exact_values_within_precision() -> None:
    values = _latencies(50_000, seed=1)
    rec = HdrRecorder()
    for v in values:
        rec.record("grpc", "/x", v)
    exact = sorted(ms_to_us(v) for v in values)
    pct = rec.percentiles(("grpc", "/x"), extra=[75.0])
    for label, p in [("p50", 50.0), ("p90", 90.0), ("p99", 99.0), ("p99.9", 99.9), ("p75", 75.0)]:
        want = exact[max(int(p * len(exact) / 100 + 0.5), 1) - 1]
        got = pct.values[label] * 1000
        assert want <= got <= want * 1.001 + 1, (label, want, got)
    assert pct.count == len(values)
    assert exact[-1] <= pct.max * 1000 <= exact[-1] * 1.001 + 1


def test_merged_deltas_equal_one_histogram_over_all_samples() -> None:
    values = _latencies(30_000, seed=2)
    single, master = HdrRecorder(), HdrRecorder()
    workers = [HdrRecorder() for _ in range(3)]
    for i, v in enumerate(values):
        name = f"/e{i % 2}"
        single.record("grpc", name, v)
        workers[i % 3].record("grpc", name, v)
        if i % 7000 == 0:  # reports happen mid-run, several times
            for w in workers:
                master.merge_deltas(w.take_deltas())
    for w in workers:
        master.merge_deltas(w.take_deltas())
    assert master.keys() == single.keys() == [("grpc", "/e0"), ("grpc", "/e1")]
    for key in [*single.keys(), TOTAL_KEY]:
        assert master.percentiles(key) == single.percentiles(key)


def _report(master: HdrRecorder, worker: HdrRecorder) -> None:
    """A worker's report reaching the master: its columns wait, then are counted on a read (the controller)."""
    for entries in decode_columns(encode_slots(worker.take_slots()), now=time.time()).values():
        for key, columns in entries.items():
            master.pending_columns(key).append(columns)


def test_merged_slots_equal_one_histogram_over_all_samples() -> None:
    """What the fleet sends: the slots' bucketed counts as packed columns, as a master merges them (HDR-exact)."""
    values = _latencies(30_000, seed=3)
    single, master = HdrRecorder(), HdrRecorder()
    workers = [HdrRecorder() for _ in range(3)]
    for w in workers:
        w.keep_histograms = False  # as on a worker: its slots are its delta
    for i, v in enumerate(values):
        key = ("grpc", f"/e{i % 2}") if i % 5 else ("grpc-ttfm", "/e0")  # a facet: not in the total
        single.record(*key, v, failed=i % 11 == 0)
        workers[i % 3].record(*key, v, failed=i % 11 == 0)
        if i % 7000 == 0:  # reports happen mid-run, several times; reads between them
            for w in workers:
                _report(master, w)
            master.percentiles()
    for w in workers:
        _report(master, w)
    assert master.keys() == single.keys()
    for key in [*single.keys(), TOTAL_KEY]:
        assert master.percentiles(key, extra=[75.0, 99.5]) == single.percentiles(key, extra=[75.0, 99.5])
        assert master.histogram(key).get_min_value() == single.histogram(key).get_min_value()
    assert workers[0].take_deltas() == {}  # a worker keeps no histograms


def test_take_deltas_resets_and_idle_sends_nothing() -> None:
    rec = HdrRecorder()
    assert rec.take_deltas() == {}
    rec.record("GET", "/items", 3.0)
    deltas = rec.take_deltas()
    assert list(deltas) == ["GET\t/items"]
    assert rec.take_deltas() == {}
    assert rec.percentiles().count == 0


def test_malformed_deltas_are_rejected_whole() -> None:
    rec = HdrRecorder()
    good = HdrRecorder()
    good.record("GET", "/a", 1.0)
    payload = {**good.take_deltas(), "GET\t/b": "not-base64!"}
    with pytest.raises(ValueError, match="bad HDR delta"):
        rec.merge_deltas(payload)
    assert rec.percentiles().count == 0
    with pytest.raises(ValueError, match="key"):
        rec.merge_deltas({"no-tab": new_histogram().encode()})
    from hdrh.histogram import HdrHistogram

    wider = HdrHistogram(1, 100 * HIGHEST_US, 3)
    wider.record_value(50 * HIGHEST_US)
    with pytest.raises(ValueError, match="beyond"):
        rec.merge_deltas({"GET\t/a": wider.encode()})
    assert rec.percentiles().count == 0


def test_reset_forgets_everything() -> None:
    rec = HdrRecorder()
    rec.record("GET", "/a", 1.0)
    rec.reset()
    assert rec.keys() == []
    assert rec.percentiles().as_dict()["p99"] == 0.0


def test_record_counts_equals_record_value() -> None:
    rng = random.Random(4)
    counts = {
        bucket(rng.choice([1, 2047, 2048, 2049, 65_535, HIGHEST_US, rng.randrange(HIGHEST_US)])): 3 for _ in range(500)
    }
    slow, fast = new_histogram(), new_histogram()
    for value, count in counts.items():
        slow.record_value(value, count)
    record_counts(fast, counts)
    record_counts(fast, {})
    assert list(fast.counts) == list(slow.counts)
    assert (fast.total_count, fast.min_value, fast.max_value) == (slow.total_count, slow.min_value, slow.max_value)
