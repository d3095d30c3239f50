"""Served-call counters shared by both targets, so a test can compare what a load test
reported with what the server saw (keys: "/demo.v1.Demo/GetItem", "GET /items/{item_id}")."""

from __future__ import annotations

import threading
from collections import Counter


class ServedCounters:
    """Thread-safe counts of served calls per key."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._counts: Counter[str] = Counter()

    def increment(self, key: str) -> None:
        with self._lock:
            self._counts[key] += 1

    def snapshot(self) -> dict[str, int]:
        with self._lock:
            return dict(self._counts)

    def reset(self) -> None:
        with self._lock:
            self._counts.clear()
