"""Thinned: a history that covers the whole run in bounded memory."""

from __future__ import annotations

import itertools

import pytest

from loadkit.fleet.history import Thinned


def test_the_docstring_example() -> None:
    h: Thinned[int] = Thinned(4)
    for i in range(10):
        h.append(i)
    assert list(h) == [0, 4, 8] and h.appended == 10 and h.stride == 4


@pytest.mark.parametrize("n", [1, 399, 400, 401, 12_000, 100_003])
def test_at_most_cap_items_evenly_spread_from_the_first(n: int) -> None:
    h: Thinned[int] = Thinned(400)
    for i in range(n):
        h.append(i)
    items = list(h)
    assert len(items) <= 400 and items[0] == 0
    assert len(items) >= min(n, 200)  # never thinner than half the cap
    gaps = {b - a for a, b in itertools.pairwise(items)}
    assert gaps <= {h.stride}  # evenly spaced: one in `stride`
    assert n - 1 - items[-1] < h.stride  # the newest stretch is covered too


def test_cap_must_be_even() -> None:
    with pytest.raises(ValueError, match="even number"):
        Thinned(5)
