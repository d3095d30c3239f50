"""In-memory state of the HTTP target: items, sessions and served-call counters.

Pure and thread-safe, so it is testable without a server. Items are free-form JSON
objects keyed by their ``id``; every write is counted per id so a test can check that
each row of a data set arrived exactly once (``writes`` and ``duplicate_creates``).
"""

from __future__ import annotations

import secrets
import threading
import uuid
from collections import Counter
from typing import Any

from loadkit.targets.counters import ServedCounters


class ItemStore:
    """Items by id, with a count of creates per id."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._items: dict[str, dict[str, Any]] = {}
        self._creates: Counter[str] = Counter()

    def create(self, fields: dict[str, Any]) -> dict[str, Any]:
        """Store ``fields`` (``id`` is generated when missing); a second create of an id replaces it."""
        item = dict(fields)
        given = item.get("id")
        item_id = uuid.uuid4().hex if given is None or given == "" else str(given)
        item["id"] = item_id
        with self._lock:
            self._items[item_id] = item
            self._creates[item_id] += 1
        return item

    def get(self, item_id: str) -> dict[str, Any] | None:
        with self._lock:
            return self._items.get(item_id)

    def replace(self, item_id: str, fields: dict[str, Any]) -> dict[str, Any] | None:
        """Replace an existing item; ``None`` when there is none."""
        with self._lock:
            if item_id not in self._items:
                return None
            item = {**fields, "id": item_id}
            self._items[item_id] = item
            return item

    def delete(self, item_id: str) -> bool:
        with self._lock:
            return self._items.pop(item_id, None) is not None

    def listing(self) -> dict[str, Any]:
        """All items, plus how often each id was created and how many creates were repeats."""
        with self._lock:
            return {
                "items": list(self._items.values()),
                "count": len(self._items),
                "creates": dict(self._creates),
                "duplicate_creates": sum(n - 1 for n in self._creates.values()),
            }

    def clear(self) -> None:
        with self._lock:
            self._items.clear()
            self._creates.clear()


class Sessions:
    """Bearer tokens handed out by ``POST /login``."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._users: dict[str, str] = {}

    def login(self, username: str) -> str:
        token = secrets.token_urlsafe(16)
        with self._lock:
            self._users[token] = username
        return token

    def user(self, token: str) -> str | None:
        with self._lock:
            return self._users.get(token)


#: Counts keyed by ``"METHOD /route/{template}"``.
RouteCounters = ServedCounters
