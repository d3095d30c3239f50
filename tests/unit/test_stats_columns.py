"""Columns counted in bulk (pure): the same counts as a loop over the pairs, whatever the counts."""

from __future__ import annotations

import random
from collections import Counter

from loadkit.stats.columns import count_many


def _loop(columns: list[tuple[list[int], list[int], int]]) -> dict[int, int]:
    out: dict[int, int] = {}
    for values, counts, _ in columns:
        for v, c in zip(values, counts, strict=True):
            out[v] = out.get(v, 0) + c
    return out


def test_count_many_equals_a_loop_for_ones_repeats_and_huge_counts() -> None:
    rng = random.Random(5)
    columns = []
    for i in range(50):
        values = [rng.randrange(0, 5000) for _ in range(rng.randrange(0, 40))]  # repeats across and within
        if i % 3 == 0:
            counts = [1] * len(values)
        elif i % 3 == 1:
            counts = [rng.randint(1, 4) for _ in values]
        else:
            counts = [rng.choice([1, 10**12]) for _ in values]  # a huge count is added, never expanded
        columns.append((values, counts, min(len(values), 2)))
    into: Counter[int] = Counter({7: 3})
    count_many(into, columns)
    want = _loop(columns)
    want[7] = want.get(7, 0) + 3
    assert dict(into) == want


def test_count_many_of_nothing_changes_nothing() -> None:
    into: Counter[int] = Counter({1: 1})
    count_many(into, [])
    count_many(into, [([], [], 0)])
    assert into == Counter({1: 1})
