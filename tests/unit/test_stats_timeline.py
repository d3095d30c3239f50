"""Latency over time (pure): buckets and percentiles as HdrHistogram's, exact merges, bounds."""

from __future__ import annotations

import math
import random
from typing import Any

import pytest

from loadkit.stats import hdr
from loadkit.stats.buckets import HIGHEST_US, bucket
from loadkit.stats.hdr import TOTAL_KEY, HdrRecorder, new_histogram
from loadkit.stats.slot_codec import decode_slots, encode_slots
from loadkit.stats.timeline import (
    POINTS_PER_WIDTH,
    SETTLE_S,
    Timeline,
    percentiles_us,
    slot_of,
)
from tests.support.wire import u32

T0 = 1_700_000_000


def _values(n: int, seed: int) -> list[int]:
    rng = random.Random(seed)
    return [int(rng.lognormvariate(7.0, 1.3)) for _ in range(n)]


def test_percentiles_equal_hdrhistograms_own() -> None:
    values = _values(20_000, seed=3)
    h, counts = new_histogram(), {}
    for v in values:
        h.record_value(v)
        counts[bucket(v)] = counts.get(bucket(v), 0) + 1
    p50, p90, p99, top = percentiles_us(counts)
    assert [p50, p90, p99] == [h.get_value_at_percentile(p) for p in (50.0, 90.0, 99.0)]
    assert top == h.get_max_value()


def test_worker_slots_merged_on_the_master_equal_one_recorder_fed_everything(monkeypatch: pytest.MonkeyPatch) -> None:
    now = [float(T0)]
    monkeypatch.setattr(hdr, "_clock", lambda: now[0])
    single, workers, master = HdrRecorder(), [HdrRecorder(), HdrRecorder()], Timeline(T0)
    reference = Timeline(T0)
    for i, v in enumerate(_values(12_000, seed=4)):
        now[0] = T0 + i / 1000.0  # 12 one-second slots
        failed = i % 97 == 0
        single.record("GET", f"/e{i % 3}", v / 1000.0, failed)
        workers[i % 2].record("GET", f"/e{i % 3}", v / 1000.0, failed)
        if i % 2500 == 0:  # reports mid-slot, through the wire format
            for w in workers:
                master.merge(decode_slots(encode_slots(w.take_slots()), now=now[0]))
    for w in workers:
        master.merge(decode_slots(encode_slots(w.take_slots()), now=now[0]))
    reference.merge(single.take_slots())
    got, want = master.series(now=now[0]), reference.series(now=now[0])
    assert got == want
    assert len(got["t"]) == 12 and got["w"] == [1] * 12
    assert sum(got["entries"]["Aggregated"]["count"]) == 12_000
    assert sum(got["entries"]["Aggregated"]["failures"]) == len(range(0, 12_000, 97))


def test_settled_slots_keep_their_figures_and_count_late_deltas() -> None:
    tl = Timeline(T0)
    tl.add(T0, ("GET", "/a"), {1000: 9, 5000: 1}, failures=1)
    before = tl.series(now=T0 + 1 + SETTLE_S + 1)
    assert before["entries"]["GET /a"]["p50"] == [1.0] and before["entries"]["GET /a"]["max"] == [5.003]
    tl.add(T0, ("GET", "/a"), {90_000: 5}, failures=2)  # after settling: counted, percentiles unchanged
    after = tl.series(now=T0 + 100)
    assert after["late"] == 1
    assert after["entries"]["GET /a"]["count"] == [15] and after["entries"]["GET /a"]["failures"] == [3]
    assert after["entries"]["GET /a"]["p99"] == before["entries"]["GET /a"]["p99"]
    assert after["entries"]["Aggregated"]["count"] == [15]


def test_slots_widen_as_the_run_grows_so_an_hour_has_about_1200() -> None:
    assert slot_of(T0 + 5, T0) == (T0 + 5, 1)
    assert slot_of(T0 + POINTS_PER_WIDTH, T0) == (T0 + POINTS_PER_WIDTH, 2)
    assert slot_of(T0 + POINTS_PER_WIDTH + 3, T0) == (T0 + POINTS_PER_WIDTH + 2, 2)
    assert slot_of(T0 - 10, T0) == (T0, 1)  # a worker clock behind the master's
    starts = {slot_of(T0 + s, T0)[0] for s in range(3600)}
    assert 1100 < len(starts) < 1300


def test_facets_stay_out_of_the_total() -> None:
    tl = Timeline(T0)
    tl.add(T0, ("grpc", "/s"), {1000: 2})
    tl.add(T0, ("grpc-ttfm", "/s"), {10: 2})
    series = tl.series(now=T0)
    assert series["entries"]["Aggregated"]["count"] == [2] and series["entries"]["Aggregated"]["p50"] == [1.0]


@pytest.mark.parametrize(
    "payload",
    [
        "nope",
        [[T0, {"GET\t/a": [u32([1, 2]), u32([1]), 0]}]],  # lengths differ
        [[T0, {"GET\t/a": [u32([HIGHEST_US + 1]), b"", 0]}]],  # value out of range
        [[T0, {"GET\t/a": [u32([1]), u32([0]), 0]}]],  # zero count
        [[T0, {"GET\t/a": [u32([1]), u32([1]), 2]}]],  # more failures than requests
        [[T0, {"GET\t/a": [u32([1, 2]), u32([1, 1]), 3]}]],  # the same, counts summed
        [[T0, {"GET\t/a": [b"", b"", 0]}]],  # an entry without samples
        [[T0, {"GET\t/a": [u32([1])[:3], b"", 0]}]],  # not whole uint32s
        [[T0, {"no-tab": [u32([1]), b"", 0]}]],
        [[T0 + 10 * 86_400, {"GET\t/a": [u32([1]), b"", 0]}]],  # far from now
        [["1700000000", {}]],
        [[T0, {"GET\t/a": [[1], [1], 0]}]],  # lists: not packed
    ],
)
def test_malformed_payloads_are_refused(payload: object) -> None:
    with pytest.raises(ValueError, match="timeline"):
        decode_slots(payload, now=T0)


def test_percentiles_of_an_empty_slot_are_none_and_inf_settles_all() -> None:
    tl = Timeline(T0)
    tl.add(T0, ("GET", "/a"), {100: 1})
    tl.add(T0 + 2, ("GET", "/b"), {100: 1})
    series = tl.series(now=math.inf)
    assert series["entries"]["GET /a"]["p50"] == [0.1, None]
    assert series["entries"]["GET /b"]["count"] == [0, 1]
    assert TOTAL_KEY[1] in series["entries"]


def test_a_report_too_big_in_all_is_refused_before_anything_is_merged(monkeypatch: pytest.MonkeyPatch) -> None:
    from loadkit.stats import slot_codec

    monkeypatch.setattr(slot_codec, "MAX_REPORT_BUCKETS", 5)
    payload = [[T0 + i, {"GET\t/a": [u32([1, 2]), u32([1, 1]), 0]}] for i in range(3)]
    with pytest.raises(ValueError, match="more than 5 buckets"):
        decode_slots(payload, now=T0)


def test_decode_sums_repeated_values_and_adding_buckets_them() -> None:
    """A hostile report repeating a value adds its counts (a dict would keep the last one)."""
    payload = [[T0, {"GET\t/a": [u32([5000, 5000, 5001]), u32([2, 3, 4]), 1]}]]
    decoded = decode_slots(payload, now=T0)
    assert decoded == {T0: {("GET", "/a"): ({5000: 5, 5001: 4}, 1)}}
    tl, also = Timeline(start=T0), {}
    tl.merge(decoded, also=lambda key: also)
    assert also == {bucket(5000): 9} and tl.series()["entries"]["GET /a"]["count"] == [9]


@pytest.mark.parametrize(
    "entry",
    [
        [u32([1]), u32([0]), 0],
        [u32([HIGHEST_US + 1]), b"", 0],
        [u32([1]), u32([1]), 2],
        [u32([1]), b"", 2],
        [u32([1]), b"", -1],
        [u32([1]), b"", True],
    ],
)
def test_decode_refuses_values_out_of_range(entry: list[Any]) -> None:
    with pytest.raises(ValueError, match="out of range"):
        decode_slots([[T0, {"GET\t/a": entry}]], now=T0)


def test_a_timeline_survives_a_state_file_and_later_deltas_add_exactly() -> None:
    import json

    key = ("GET", "/items")
    first, later = _values(400, 1), _values(400, 2)
    whole = Timeline(T0)  # one master that never went away
    before = Timeline(T0)  # the master that dies: its state file, then a new master
    for i, v in enumerate(first):
        for tl in (whole, before):
            tl.add(T0 + i % 50, key, {bucket(v): 1}, failures=i % 7 == 0)
    before.settle(now=T0 + 40)  # early slots settled, the last ones still open
    saved = json.loads(json.dumps(before.state()))
    again = Timeline()
    again.restore(saved)
    assert again.start == T0
    for i, v in enumerate(later):  # the kept reports: into the open slots
        for tl in (whole, again):
            tl.add(T0 + 35 + i % 15, key, {bucket(v): 1})
    whole.settle(now=T0 + 40)
    assert again.series(now=math.inf) == whole.series(now=math.inf)


@pytest.mark.parametrize(
    "saved",
    [
        {},
        {"start": T0, "late": 0, "keys": ["\tx"], "slots": [[T0, 1, [[0, 1, 2]], None]]},
        {"keys": [], "slots": [[T0, 1, [[3]], None]]},
        "x",
    ],
)
def test_a_bad_saved_timeline_is_refused_whole(saved: Any) -> None:
    timeline = Timeline(T0)
    timeline.add(T0, ("GET", "/"), {100: 1})
    with pytest.raises(ValueError, match="timeline"):
        timeline.restore(saved)
    assert timeline.series()["entries"]["GET /"]["count"] == [1]


def test_a_late_delta_reaches_the_next_state_of_a_settled_slot() -> None:
    timeline = Timeline(T0)
    timeline.add(T0, ("GET", "/"), {100: 1})
    timeline.settle(now=math.inf)
    first = timeline.state()
    assert timeline.state()["slots"][0][2] == first["slots"][0][2]  # made again from the packed figures
    timeline.add(T0, ("GET", "/"), {100: 2})  # late: counted, percentiles kept
    again = Timeline()
    again.restore(timeline.state())
    assert again.series()["entries"]["GET /"]["count"] == [3]


def test_an_hour_of_settled_slots_keeps_packed_figures_only() -> None:
    """Bounded for long runs: a settled slot costs < 150 bytes per entry (lists of int objects: ~500)."""
    import tracemalloc

    start = 1_700_000_000
    entries = [("grpc", f"/svc/M{i}") for i in range(5)]
    tracemalloc.start()
    try:
        timeline = Timeline(start=start)
        base = tracemalloc.get_traced_memory()[0]
        for t in range(start, start + 3600, 3):  # a worker's report every 3 s, decoded as the master does
            slots = {s: {k: ({1000 + 7 * s % 5000: 2, 90_000 + s: 1}, 0) for k in entries} for s in range(t, t + 3)}
            timeline.merge(decode_slots(encode_slots(slots), now=t))
            timeline.settle(now=t)
        timeline.settle(now=float("inf"))
        used = tracemalloc.get_traced_memory()[0] - base
    finally:
        tracemalloc.stop()
    series = timeline.series()
    assert len(series["t"]) == 1215 and series["entries"]["grpc /svc/M3"]["count"][0] == 3
    assert series["entries"]["Aggregated"]["count"][-1] == 5 * 3 * 8  # 8 s slots at the end of the hour
    assert used / (1215 * 6) < 150, f"{used / (1215 * 6):.0f} bytes per entry and slot"
