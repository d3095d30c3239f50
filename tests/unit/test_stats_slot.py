"""loadkit.stats.slot: open slots HDR-exact; a settled one keeps its figures, packed, and counts late deltas."""

from __future__ import annotations

import pytest

from loadkit.stats.hdr import TOTAL_KEY, new_histogram
from loadkit.stats.slot import FIGURES, Slot, percentiles_sorted, percentiles_us

A, B, FACET = ("GET", "/a"), ("GET", "/b"), ("grpc-ttfm", "/a")


def test_an_open_slot_computes_what_one_histogram_of_every_sample_gives() -> None:
    slot = Slot(1)
    slot.add_columns(A, ([100, 2500, 90_000], [1, 1, 1], 1))
    slot.add_columns(A, ([150], [3], 0))  # expanded into samples
    slot.add(B, {70: 2}, 0)  # counts: the mixed path
    h = new_histogram()
    for value, count in ((100, 1), (2500, 1), (90_000, 1), (150, 3), (70, 2)):
        h.record_value(value, count)
    figures = slot.compute()
    want = [h.get_value_at_percentile(p) for p in (50, 90, 99)] + [h.get_highest_equivalent_value(h.get_max_value())]
    assert figures[TOTAL_KEY] == [8, 1, *want]
    assert figures[A][:2] == [6, 1] and figures[B][:2] == [2, 0]


def test_a_settled_slot_keeps_its_figures_packed_and_shares_its_keys() -> None:
    keys: dict[tuple, tuple] = {}
    slot = Slot(1)
    slot.add_columns(A, ([1000, 5000], [1, 1], 0))
    slot.add_columns(FACET, ([10], [1], 0))
    before = slot.compute()
    slot.settle(lambda k: keys.setdefault(k, k))
    assert slot.settled and slot.samples == {} and slot.compute() == before
    assert slot.keys is next(iter(keys.values()))  # the shared tuple, not its own
    slot.add_late(A, 3, 1)
    slot.add_late(FACET, 2, 0)  # a facet is not in the total
    slot.add_late(B, 1, 0)  # a new entry gets a row
    after = slot.compute()
    assert after[A][:2] == [5, 1] and after[A][2:] == before[A][2:]
    assert after[TOTAL_KEY][:2] == [6, 1] and after[FACET][0] == 3 and after[B] == [1, 0, 0, 0, 0, 0]


def test_restored_figures_must_have_every_figure() -> None:
    with pytest.raises(ValueError, match="figures"):
        Slot(1).restore_figures({A: [1, 2, 3]})
    slot = Slot(2)
    slot.restore_figures({A: list(range(len(FIGURES)))})
    assert slot.compute() == {A: [0, 1, 2, 3, 4, 5]}


def test_sorted_samples_give_the_same_percentiles_as_counts() -> None:
    samples = sorted([5, 5, 7, 100, 2049, 2049, 4097, 9_999])
    counts = {v: samples.count(v) for v in set(samples)}
    assert percentiles_sorted(samples) == percentiles_us(counts)


def test_open_rows_hold_each_entrys_distribution() -> None:
    slot = Slot(1)
    slot.add_columns(A, ([300, 100], [1, 1], 2))
    slot.add(A, {100: 1}, 0)
    assert slot.open_rows() == [(A, [100, 300], [2, 1], 2)]
