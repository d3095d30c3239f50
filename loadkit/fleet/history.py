"""A history that covers the whole run in bounded memory: it thins itself as it fills.

A ``deque(maxlen=N)`` of samples taken every few seconds keeps growing for ``N`` samples (at
3 s and N = 1,000: 50 minutes), then forgets the start of the run. :class:`Thinned` holds at
most ``cap`` items spread evenly over everything appended: when it is full, every other item
goes, and from then on only every second (then fourth, …) item appended is kept, as
:mod:`loadkit.stats.timeline` widens its slots. So a long run reaches its bound early (at
``cap`` items) and stays between ``cap / 2`` and ``cap``; an hour of 3-second health samples
at ``cap`` 360 keeps one every 12 s, the first minutes included. Pure: no Locust, no gevent::

    h = Thinned(4)
    for i in range(10):
        h.append(i)
    list(h)   # [0, 4, 8]: every 4th, from the first
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Generic, TypeVar

T = TypeVar("T")


class Thinned(Generic[T]):
    """At most ``cap`` items (an even number, at least 2) evenly spread over all appended; see the module docstring."""

    __slots__ = ("_items", "_seen", "cap", "stride")

    def __init__(self, cap: int) -> None:
        if cap < 2 or cap % 2:
            raise ValueError(f"Thinned cap must be an even number of at least 2, got {cap}")
        self.cap = cap
        #: Keep one appended item in ``stride`` (doubles at each thinning).
        self.stride = 1
        self._seen = 0
        self._items: list[T] = []

    def append(self, item: T) -> None:
        seen, self._seen = self._seen, self._seen + 1
        if seen % self.stride:
            return
        self._items.append(item)
        if len(self._items) >= self.cap:
            del self._items[1::2]  # keeps the items appended at multiples of the doubled stride
            self.stride *= 2

    @property
    def appended(self) -> int:
        """Items appended in all, kept or not."""
        return self._seen

    def __iter__(self) -> Iterator[T]:
        return iter(self._items)

    def __len__(self) -> int:
        return len(self._items)

    def __getitem__(self, index: int) -> T:
        return self._items[index]

    def __bool__(self) -> bool:
        return bool(self._items)
