"""A worker's slots on the wire (pure): the master's bulk checks and its columns path stay HDR-exact."""

from __future__ import annotations

import random
from typing import Any

import msgpack
import pytest

from loadkit.stats import hdr
from loadkit.stats.columns import unpack
from loadkit.stats.hdr import TOTAL_KEY, HdrRecorder
from loadkit.stats.slot_codec import decode_columns, decode_slots, encode_slots
from loadkit.stats.timeline import Timeline
from tests.support.wire import packed, u32

T0 = 1_700_000_000


def test_columns_path_equals_one_recorder_fed_every_sample(monkeypatch: pytest.MonkeyPatch) -> None:
    """What a master does per report (decode_columns, merge_columns, counted later): the same
    histograms and timeline as one recorder that saw every sample (percentiles, max, counts)."""
    now = [float(T0)]
    monkeypatch.setattr(hdr, "_clock", lambda: now[0])
    rng = random.Random(11)
    single, single_tl = HdrRecorder(), Timeline(T0)
    workers = [HdrRecorder() for _ in range(5)]
    master, master_tl = HdrRecorder(), Timeline(T0)
    for w in workers:
        w.keep_histograms = False
    for i in range(40_000):
        now[0] = T0 + i / 2000.0  # 20 one-second slots
        value, failed = rng.lognormvariate(3.0, 0.9), rng.random() < 0.02
        name = f"/e{i % 4}"
        single.record("GET", name, value, failed)
        workers[i % 5].record("GET", name, value, failed)
        if i % 3001 == 0:  # reports mid-slot, through msgpack as Locust sends them; reads in between
            for w in workers:
                payload = msgpack.unpackb(msgpack.packb(encode_slots(w.take_slots())), strict_map_key=False)
                master_tl.merge_columns(decode_columns(payload, now=now[0]), also=master.pending_columns)
            if i % 9003 == 0:
                master.percentiles()
                master_tl.settle(now=now[0])
    for w in workers:
        master_tl.merge_columns(decode_columns(encode_slots(w.take_slots()), now=now[0]), also=master.pending_columns)
    single_tl.merge(single.take_slots())
    assert master.keys() == single.keys()
    for key in [*single.keys(), TOTAL_KEY]:
        assert master.percentiles(key, extra=[75.0]) == single.percentiles(key, extra=[75.0])
        assert master.histogram(key).get_min_value() == single.histogram(key).get_min_value()
    assert master_tl.series(now=now[0]) == single_tl.series(now=now[0])
    assert master_tl.series(now=float("inf")) == single_tl.series(now=float("inf"))


def test_values_not_bucketed_by_the_sender_give_the_bucketed_figures() -> None:
    """A sender that does not bucket (not a loadkit worker): the figures are those of the buckets."""
    raw = packed([[T0, {"GET\t/a": [[5000, 5001, 5003, 70_001], [1, 2, 1, 1], 0]}]])
    bucketed = packed([[T0, {"GET\t/a": [[5000, 5000, 5002, 70_000], [1, 2, 1, 1], 0]}]])
    a, b = Timeline(T0), Timeline(T0)
    ra, rb = HdrRecorder(), HdrRecorder()
    a.merge_columns(decode_columns(raw, now=T0), also=ra.pending_columns)
    b.merge_columns(decode_columns(bucketed, now=T0), also=rb.pending_columns)
    assert a.series(now=T0) == b.series(now=T0)
    assert ra.percentiles(("GET", "/a")) == rb.percentiles(("GET", "/a"))


def test_the_same_second_twice_in_one_report_adds_up_and_settled_slots_count_late() -> None:
    payload = [[T0, {"GET\t/a": [u32([1000]), u32([2]), 1]}], [T0, {"GET\t/a": [u32([1000, 3000]), b"", 0]}]]
    decoded = decode_columns(payload, now=T0)
    assert decoded[T0] == {("GET", "/a"): (u32([1000, 1000, 3000]), u32([2, 1, 1]), 1)}
    tl = Timeline(T0)
    tl.merge_columns(decoded)
    tl.settle(now=T0 + 100)
    tl.merge_columns(decode_columns(packed([[T0, {"GET\t/a": [[9000], [5], 2]}]]), now=T0))  # after settling
    series = tl.series(now=T0 + 100)
    assert series["entries"]["GET /a"]["count"] == [9] and series["entries"]["GET /a"]["failures"] == [3]
    assert series["late"] == 1


@pytest.mark.parametrize(
    ("entry", "message"),
    [
        ([u32([1, 2]), u32([1]), 0], "differ in length"),
        ([[1], [1], 0], "packed uint32"),
        ([u32([1])[:3], b"", 0], "packed uint32"),
        ([u32([1]), b"", -1], "out of range"),
        ([u32([1]), b"", 2], "out of range"),
        ([u32([1]), u32([1])], "is not \\[values, counts, failures\\]"),
        ("x", "is not \\[values, counts, failures\\]"),
    ],
)
def test_a_bad_entry_among_good_ones_is_named_and_nothing_decoded(entry: Any, message: str) -> None:
    good = [u32([100]), b"", 0]
    payload = [[T0, {"GET\t/ok": good, "GET\t/bad": entry, "GET\t/ok2": good}]]
    with pytest.raises(ValueError, match=f"/bad.*{message}"):
        decode_columns(payload, now=T0)


def test_decode_slots_and_decode_columns_agree() -> None:
    payload = packed([[T0 + s, {f"GET\t/e{e}": [[100 + e, 2000 + s], [1, 3], 1] for e in range(3)}] for s in range(3)])
    columns = decode_columns(payload, now=T0)
    slots = decode_slots(payload, now=T0)
    assert {t: {k: (unpack(v, c), f) for k, (v, c, f) in e.items()} for t, e in columns.items()} == slots
    assert slots[T0][("GET", "/e1")] == ({101: 1, 2000: 3}, 1)


def test_huge_counts_give_the_same_figures_as_the_dict_path() -> None:
    """A sender with huge counts (not a loadkit worker): counted, never expanded; figures as Timeline.merge's."""
    payload = packed(
        [
            [T0, {"GET\t/a": [[1000, 2000], [4 * 10**9, 1], 0], "GET\t/b": [[500, 700, 9000], [1, 1, 1], 1]}],
            [T0 + 1, {"GET\t/a": [[3000], [1], 0]}],
        ]
    )
    by_columns, by_dicts = Timeline(T0), Timeline(T0)
    by_columns.merge_columns(decode_columns(payload, now=T0))
    by_dicts.merge(decode_slots(payload, now=T0))
    assert by_columns.series(now=T0) == by_dicts.series(now=T0)
    assert by_columns.series(now=T0)["entries"]["Aggregated"]["count"] == [4 * 10**9 + 4, 1]
