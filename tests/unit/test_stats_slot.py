"""loadkit.stats.slot: open slots HDR-exact; a settled one keeps its figures, packed, and counts late deltas."""

from __future__ import annotations

import pytest

from loadkit.stats.columns import Columns, pack
from loadkit.stats.hdr import TOTAL_KEY, new_histogram
from loadkit.stats.slot import FIGURES, Slot

A, B, FACET = ("GET", "/a"), ("GET", "/b"), ("grpc-ttfm", "/a")


def _c(counts: dict[int, int], failures: int) -> Columns:
    return (*pack(counts), failures)


def test_an_open_slot_computes_what_one_histogram_of_every_sample_gives() -> None:
    slot = Slot(1)
    slot.add_columns(A, _c({100: 1, 2500: 1, 90_000: 1}, 1))
    slot.add_columns(A, _c({150: 3}, 0))  # with counts
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
    slot.add_columns(A, _c({1000: 1, 5000: 1}, 0))
    slot.add_columns(FACET, _c({10: 1}, 0))
    before = slot.compute()
    slot.settle(lambda k: keys.setdefault(k, k))
    assert slot.settled and slot.parts == {} and slot.compute() == before
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


def test_a_local_runners_slot_computes_without_numpy_and_agrees_with_the_columns_path() -> None:
    counts = {5: 2, 7: 1, 100: 1, 2049: 2, 4097: 1, 9_999: 1}
    local, master = Slot(1), Slot(1)
    local.add(A, counts, 1)
    master.add_columns(A, _c(counts, 1))
    assert local.compute() == master.compute()


def test_open_rows_hold_each_entrys_distribution() -> None:
    slot = Slot(1)
    slot.add_columns(A, _c({300: 1, 100: 1}, 2))
    slot.add(A, {100: 1}, 0)
    assert slot.open_rows() == [(A, [100, 300], [2, 1], 2)]
