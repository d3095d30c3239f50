"""A master's numpy arithmetic over packed columns: exactly what HdrHistogram's own code gives."""

from __future__ import annotations

import random

from loadkit.stats import column_math
from loadkit.stats.buckets import HIGHEST_US, bucket
from loadkit.stats.columns import Columns, pack
from loadkit.stats.hdr import new_histogram, record_counts
from loadkit.stats.slot import percentiles_us


def _columns(rng: random.Random, n: int, repeats: bool, huge: bool = False) -> list[Columns]:
    out = []
    for _ in range(n):
        counts: dict[int, int] = {}
        for _ in range(rng.randrange(1, 40)):
            value = bucket(min(int(rng.lognormvariate(7.0, 2.0)), HIGHEST_US))
            more = rng.choice([1, 2, 9, 10**6]) if huge else rng.choice([1, 2, 9]) if repeats else 1
            counts[value] = counts.get(value, 0) + more
        out.append((*pack(counts), 0))
    return out


def _as_dict(columns: list[Columns]) -> dict[int, int]:
    from loadkit.stats.columns import unpack

    out: dict[int, int] = {}
    for values, counts, _ in columns:
        for v, c in unpack(values, counts).items():
            out[v] = out.get(v, 0) + c
    return out


def test_count_into_equals_the_packages_index_arithmetic() -> None:
    rng = random.Random(7)
    for repeats in (False, True):
        columns = _columns(rng, 30, repeats)
        mine, theirs = new_histogram(), new_histogram()
        mine.record_value(5, 2)
        theirs.record_value(5, 2)
        column_math.count_into(mine, columns)
        record_counts(theirs, _as_dict(columns))
        assert list(mine.counts) == list(theirs.counts)
        assert (mine.total_count, mine.get_min_value(), mine.get_max_value()) == (
            theirs.total_count,
            theirs.get_min_value(),
            theirs.get_max_value(),
        )
        assert mine.get_value_at_percentile(99.9) == theirs.get_value_at_percentile(99.9)


def test_figures_follow_hdrhistograms_rule_with_and_without_counts() -> None:
    rng = random.Random(9)
    for repeats, huge in ((False, False), (True, False), (True, True)):  # ones; repeated; summed, not expanded
        for n in (1, 2, 5, 40):
            columns = _columns(rng, n, repeats, huge)
            counts = _as_dict(columns)
            h = new_histogram()
            record_counts(h, counts)
            figures = column_math.figures(columns, (50.0, 90.0, 99.0, 99.99))
            assert figures[0] == sum(counts.values())
            assert figures[1:] == percentiles_us(counts, (50.0, 90.0, 99.0, 99.99))
            assert figures[1:-1] == [h.get_value_at_percentile(p) for p in (50.0, 90.0, 99.0, 99.99)]
    assert column_math.figures([]) == [0, 0, 0, 0, 0]


def test_distribution_adds_a_value_sent_twice() -> None:
    columns = [(*pack({100: 1, 300: 2}), 0), (*pack({100: 1}), 0)]
    assert column_math.distribution(columns) == ([100, 300], [2, 2])
    assert column_math.count_of(columns[0]) == 3 and column_math.count_of(columns[1]) == 1


def test_out_of_range_names_the_problem_and_sums_add_each_column() -> None:
    good = pack({1: 1, HIGHEST_US: 3})
    assert column_math.out_of_range(*good) is None
    assert "beyond" in str(column_math.out_of_range((HIGHEST_US + 1).to_bytes(4, "little"), b""))
    assert "count of 0" in str(column_math.out_of_range(good[0], (0).to_bytes(4, "little") * 2))
    counts = b"".join(n.to_bytes(4, "little") for n in (1, 2, 3, 4, 5, 6))
    assert column_math.sums(counts, [1, 2, 3]) == [1, 5, 15]
